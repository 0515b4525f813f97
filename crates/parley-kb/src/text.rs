//! Text helpers shared by chunking, indexing and answering: the English analyzer (so the
//! index and the answer extractor agree on what a "term" is), the token estimator and the
//! sentence splitter. Kept in one place because a change to any of them changes retrieval,
//! and [`ANALYZER_VERSION`] must then be bumped so existing indexes are rebuilt.

use std::cell::RefCell;

use tantivy::tokenizer::{
    AsciiFoldingFilter, LowerCaser, RemoveLongFilter, Stemmer, StopWordFilter, TextAnalyzer, Token,
    TokenFilter, TokenStream, Tokenizer,
};

/// The name the analyzer is registered under in every index.
pub const ANALYZER_NAME: &str = "parley_en";

/// Bumped whenever the analyzer's output changes (stop words, filters, stemmer). It is part of
/// the index's version marker, so an index built by an older analyzer is rebuilt on open.
pub const ANALYZER_VERSION: u32 = 4;

/// Words dropped before stemming: a general English stop list (NLTK's function words,
/// pronouns and auxiliaries) plus the filler customers wrap around a question ("can you tell me…",
/// "something", "still", "please"). They carry no topic, and a filler word that the
/// knowledge base happens not to contain would otherwise count as an unmatched, highly
/// specific term and sink the answer confidence. Contraction tails (`don't` → `don`, `t`)
/// are here too because the tokenizer splits on the apostrophe. Not tuned to any dataset.
#[rustfmt::skip]
const STOP_WORDS: &[&str] = &[
    // Articles, conjunctions, prepositions, quantifiers (NLTK's English list).
    "a", "an", "the", "and", "but", "or", "nor", "if", "as", "at", "by", "for", "from", "in",
    "into", "of", "on", "onto", "to", "with", "about", "so", "than", "then", "because", "while",
    "against", "between", "during", "before", "after", "above", "below", "up", "down", "out",
    "off", "over", "under", "further", "once", "all", "both", "each", "few", "more", "most",
    "other", "own", "same", "only", "now", "through", "until",
    // Pronouns and determiners.
    "i", "me", "my", "mine", "myself", "you", "your", "yours", "yourself", "we", "us", "our",
    "ours", "he", "him", "his", "she", "her", "hers", "it", "its", "itself", "they", "them",
    "their", "theirs", "this", "that", "these", "those", "there", "here", "such", "some",
    "any", "someone", "somebody", "anyone", "anybody", "everyone",
    // Question words.
    "how", "what", "when", "where", "which", "who", "whom", "whose", "why",
    // Auxiliaries and modals.
    "am", "is", "are", "was", "were", "be", "been", "being", "do", "does", "did", "doing",
    "done", "have", "has", "had", "having", "can", "could", "will", "would", "shall",
    "should", "may", "might", "must",
    // Question filler.
    "get", "gets", "got", "getting", "gotten", "want", "wanted", "wants", "need", "needs",
    "like", "know", "tell", "let", "please", "thanks", "thank", "hi", "hello", "hey", "ok",
    "okay", "much", "many", "something", "anything", "thing", "things", "stuff", "way",
    "really", "still", "just", "also", "ever", "even", "yet", "already", "actually", "possible",
    "able", "happen", "happens", "too", "very", "not", "no", "yes", "again",
    // Contraction tails.
    "s", "t", "d", "ll", "m", "re", "ve", "don", "doesn", "didn", "isn", "aren", "wasn",
    "weren", "won", "wouldn", "couldn", "shouldn", "haven", "hasn", "hadn",
];

/// Irregular and derived forms the Snowball stemmer does not bring together, mapped to a
/// form that stems like the rest of their family ("paid" → "pay", "delivery" → "deliver",
/// whose stems are otherwise `paid`/`pay` and `deliveri`/`deliv`). General English, applied
/// before stemming to documents and questions alike.
fn base_form(word: &str) -> Option<&'static str> {
    Some(match word {
        "paid" => "pay",
        "sent" => "send",
        "bought" => "buy",
        "brought" => "bring",
        "sold" => "sell",
        "lost" => "lose",
        "broke" | "broken" => "break",
        "came" => "come",
        "gave" | "given" => "give",
        "took" | "taken" => "take",
        "made" => "make",
        "chose" | "chosen" => "choose",
        "spent" => "spend",
        "kept" => "keep",
        "found" => "find",
        "held" => "hold",
        "told" => "tell",
        "wrote" | "written" => "write",
        "went" | "gone" => "go",
        "thought" => "think",
        "left" => "leave",
        "ran" => "run",
        "delivery" | "deliveries" => "deliver",
        "recovery" => "recover",
        "discovery" => "discover",
        _ => return None,
    })
}

/// The analyzer every text field of the index uses and the answer extractor reuses:
/// split on non-alphanumerics (adding the joined form of hyphenated words), drop tokens over 40 bytes, lower-case, fold accents, drop
/// [`STOP_WORDS`], map [`base_form`], then apply the Snowball English stemmer.
pub fn english_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(CompoundTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .filter(StopWordFilter::remove(
            STOP_WORDS.iter().map(|word| (*word).to_owned()),
        ))
        .filter(BaseForms)
        .filter(Stemmer::default())
        .build()
}

/// Splits text into runs of alphanumeric characters, like tantivy's `SimpleTokenizer`, and
/// after a hyphenated chain such as `e-mail` or `check-out` also emits the joined word
/// (`email`, `checkout`) at the position of its last part, so the spellings with and
/// without the hyphen find each other. The parts stay searchable on their own.
#[derive(Clone, Default)]
struct CompoundTokenizer {
    tokens: Vec<Token>,
}

impl Tokenizer for CompoundTokenizer {
    type TokenStream<'a> = BufferedTokenStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> BufferedTokenStream<'a> {
        self.tokens.clear();
        let mut position = 0;
        // The current hyphen chain: byte range, joined text, number of parts. Only words
        // are joined: a part without a letter ("3-5", "3-D") ends the chain's usefulness.
        let mut chain: Option<(usize, usize, String, usize)> = None;
        let mut chain_has_number = false;
        let mut runs = alphanumeric_runs(text).peekable();
        while let Some((from, to)) = runs.next() {
            let word = &text[from..to];
            self.tokens.push(Token {
                offset_from: from,
                offset_to: to,
                position,
                text: word.to_owned(),
                position_length: 1,
            });
            let joined_to_previous = chain.as_ref().is_some_and(|(_, end, _, _)| {
                *end + 1 == from && text[*end..from].starts_with('-')
            });
            match chain.as_mut() {
                Some((_, end, joined, parts)) if joined_to_previous => {
                    *end = to;
                    joined.push_str(word);
                    *parts += 1;
                }
                _ => {
                    chain = Some((from, to, word.to_owned(), 1));
                    chain_has_number = false;
                }
            }
            chain_has_number |= !word.chars().any(char::is_alphabetic);
            let chain_continues = runs.peek().is_some_and(|(next_from, _)| {
                *next_from == to + 1 && text[to..*next_from].starts_with('-')
            });
            if !chain_continues {
                if let Some((start, end, joined, parts)) = chain.take() {
                    if parts > 1 && !chain_has_number {
                        self.tokens.push(Token {
                            offset_from: start,
                            offset_to: end,
                            position,
                            text: joined,
                            position_length: 1,
                        });
                    }
                }
            }
            position += 1;
        }
        BufferedTokenStream {
            tokens: &mut self.tokens,
            next: 0,
            empty: Token::default(),
        }
    }
}

/// Byte ranges of the runs of alphanumeric characters in `text`.
fn alphanumeric_runs(text: &str) -> impl Iterator<Item = (usize, usize)> + '_ {
    let mut chars = text.char_indices().peekable();
    std::iter::from_fn(move || {
        let (from, _) = chars.find(|(_, c)| c.is_alphanumeric())?;
        let mut to = text.len();
        while let Some(&(offset, c)) = chars.peek() {
            if !c.is_alphanumeric() {
                to = offset;
                break;
            }
            chars.next();
        }
        Some((from, to))
    })
}

/// Streams tokens prepared up front.
struct BufferedTokenStream<'a> {
    tokens: &'a mut [Token],
    /// Index of the next token; the current one is `next - 1`.
    next: usize,
    /// Returned before the first `advance`, so no method can panic.
    empty: Token,
}

impl TokenStream for BufferedTokenStream<'_> {
    fn advance(&mut self) -> bool {
        if self.next < self.tokens.len() {
            self.next += 1;
            true
        } else {
            false
        }
    }

    fn token(&self) -> &Token {
        self.next
            .checked_sub(1)
            .and_then(|i| self.tokens.get(i))
            .unwrap_or(&self.empty)
    }

    fn token_mut(&mut self) -> &mut Token {
        match self.next.checked_sub(1) {
            Some(i) if i < self.tokens.len() => &mut self.tokens[i],
            _ => &mut self.empty,
        }
    }
}

/// Token filter replacing [`base_form`] keys (lower-case tokens) with their base form.
#[derive(Clone, Copy, Debug)]
struct BaseForms;

impl TokenFilter for BaseForms {
    type Tokenizer<T: Tokenizer> = BaseFormsFilter<T>;

    fn transform<T: Tokenizer>(self, tokenizer: T) -> BaseFormsFilter<T> {
        BaseFormsFilter { inner: tokenizer }
    }
}

#[derive(Clone)]
struct BaseFormsFilter<T> {
    inner: T,
}

impl<T: Tokenizer> Tokenizer for BaseFormsFilter<T> {
    type TokenStream<'a> = BaseFormsStream<T::TokenStream<'a>>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        BaseFormsStream {
            tail: self.inner.token_stream(text),
        }
    }
}

struct BaseFormsStream<S> {
    tail: S,
}

impl<S: TokenStream> TokenStream for BaseFormsStream<S> {
    fn advance(&mut self) -> bool {
        if !self.tail.advance() {
            return false;
        }
        let token = self.tail.token_mut();
        if let Some(base) = base_form(&token.text) {
            token.text.clear();
            token.text.push_str(base);
        }
        true
    }

    fn token(&self) -> &Token {
        self.tail.token()
    }

    fn token_mut(&mut self) -> &mut Token {
        self.tail.token_mut()
    }
}

/// The stemmed terms of `text` in order, stop words removed (duplicates kept).
pub fn terms(text: &str) -> Vec<String> {
    thread_local! {
        // Building the analyzer allocates its stop-word set; answers analyse dozens of
        // sentences per question, so each thread keeps one.
        static ANALYZER: RefCell<TextAnalyzer> = RefCell::new(english_analyzer());
    }
    ANALYZER.with_borrow_mut(|analyzer| {
        let mut stream = analyzer.token_stream(text);
        let mut out = Vec::new();
        while stream.advance() {
            out.push(stream.token().text.clone());
        }
        out
    })
}

/// The stemmed terms of `text`, each once, in order of first appearance.
pub fn distinct_terms(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for term in terms(text) {
        if !out.contains(&term) {
            out.push(term);
        }
    }
    out
}

/// Estimated model tokens in `text`: `ceil(words × 4 / 3)`, a word being a run of
/// non-whitespace. English prose averages about 0.75 words per BPE token, so this is close
/// enough to size chunks without shipping a tokenizer; it undercounts long URLs and code.
pub fn estimate_tokens(text: &str) -> usize {
    let words = text.split_whitespace().count();
    (words * 4).div_ceil(3)
}

/// One sentence (or line) of a paragraph, as a slice of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sentence<'a> {
    /// The sentence, trimmed.
    pub text: &'a str,
    /// Whether it starts a new line of the paragraph (a list item, a table row) rather than
    /// following the previous sentence on the same line.
    pub starts_line: bool,
}

/// Abbreviations after which a full stop does not end a sentence (lower-case, without the dot).
const ABBREVIATIONS: &[&str] = &[
    "e.g", "i.e", "etc", "mr", "mrs", "ms", "dr", "st", "no", "vs", "approx", "incl", "inc", "ltd",
    "co", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
    "mon", "tue", "wed", "thu", "fri", "sat", "sun", "min", "max", "est",
];

/// Splits a paragraph into sentences: at every line break, and after `.`, `!` or `?`
/// (plus any closing quotes or brackets) followed by whitespace and a capital letter, digit,
/// quote or bracket — unless the word before the stop is a known abbreviation or a single
/// letter. Every non-whitespace character of `paragraph` lands in exactly one sentence.
pub fn split_sentences(paragraph: &str) -> Vec<Sentence<'_>> {
    let mut out = Vec::new();
    for line in paragraph.lines() {
        let mut starts_line = true;
        for sentence in split_line(line) {
            out.push(Sentence {
                text: sentence,
                starts_line,
            });
            starts_line = false;
        }
    }
    out
}

fn split_line(line: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let chars: Vec<(usize, char)> = line.char_indices().collect();
    let mut i = 0;
    while i < chars.len() {
        let (_, c) = chars[i];
        if matches!(c, '.' | '!' | '?') {
            // Swallow repeated terminators and closing quotes/brackets.
            let mut end = i + 1;
            while end < chars.len()
                && matches!(
                    chars[end].1,
                    '.' | '!' | '?' | '"' | '\'' | ')' | ']' | '”' | '’'
                )
            {
                end += 1;
            }
            let at_space = end < chars.len() && chars[end].1.is_whitespace();
            if at_space {
                let mut next = end;
                while next < chars.len() && chars[next].1.is_whitespace() {
                    next += 1;
                }
                let opens_sentence = next < chars.len() && {
                    let n = chars[next].1;
                    n.is_uppercase()
                        || n.is_ascii_digit()
                        || matches!(n, '"' | '\'' | '(' | '[' | '“' | '‘' | '$' | '£' | '€')
                };
                if opens_sentence && (c != '.' || !ends_with_abbreviation(&line[start..chars[i].0]))
                {
                    let cut = chars.get(end).map_or(line.len(), |(at, _)| *at);
                    let sentence = line[start..cut].trim();
                    if !sentence.is_empty() {
                        out.push(sentence);
                    }
                    start = cut;
                    i = next;
                    continue;
                }
            }
            i = end;
            continue;
        }
        i += 1;
    }
    let rest = line[start..].trim();
    if !rest.is_empty() {
        out.push(rest);
    }
    out
}

fn ends_with_abbreviation(before_stop: &str) -> bool {
    let word = before_stop
        .rsplit(|c: char| c.is_whitespace() || c == '(')
        .next()
        .unwrap_or("");
    let lower = word.to_lowercase();
    (word.chars().count() == 1 && word.chars().all(char::is_alphabetic))
        || ABBREVIATIONS.contains(&lower.as_str())
}

/// Collapses every run of whitespace to one space and trims the ends.
pub fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems_and_drops_stop_words() {
        assert_eq!(
            terms("How do I return my shoes? Returning is easy"),
            vec!["return", "shoe", "return", "easi"]
        );
        assert_eq!(distinct_terms("refunds refunded refund"), vec!["refund"]);
        assert_eq!(
            distinct_terms("delivered delivery deliveries"),
            vec!["deliv"]
        );
        assert_eq!(distinct_terms("paid pay payment"), vec!["pay", "payment"]);
    }

    #[test]
    fn hyphenated_words_also_match_joined() {
        assert_eq!(
            terms("E-mail us at check-out, or via e-gift-card."),
            vec![
                "e",
                "mail",
                "email",
                "check",
                "checkout",
                "via",
                "e",
                "gift",
                "card",
                "egiftcard"
            ]
        );
        // Number ranges and codes are not words to join.
        assert_eq!(
            terms("3-5 days - no - 3-D hyphen"), // ("d" is a stop word)
            vec!["3", "5", "day", "3", "hyphen"]
        );
        assert!(terms("email").iter().all(|t| terms("e-mail").contains(t)));
    }

    #[test]
    fn token_estimate_is_four_thirds_of_words() {
        assert_eq!(estimate_tokens(""), 0);
        assert_eq!(estimate_tokens("one two three"), 4);
        assert_eq!(estimate_tokens("a b c d e f"), 8);
    }

    #[test]
    fn sentences_split_on_stops_and_lines_but_not_abbreviations_or_prices() {
        let text = "Standard costs $4.95. Express is faster, e.g. Next day. Really? Yes!\n- item one\n- item two";
        let got: Vec<&str> = split_sentences(text).iter().map(|s| s.text).collect();
        assert_eq!(
            got,
            vec![
                "Standard costs $4.95.",
                "Express is faster, e.g. Next day.",
                "Really?",
                "Yes!",
                "- item one",
                "- item two"
            ]
        );
        let starts: Vec<bool> = split_sentences(text)
            .iter()
            .map(|s| s.starts_line)
            .collect();
        assert_eq!(starts, vec![true, false, false, false, true, true]);
    }

    #[test]
    fn sentence_split_keeps_quotes_with_their_sentence() {
        let got: Vec<&str> = split_sentences("He said \"Stop.\" Then left.")
            .iter()
            .map(|s| s.text)
            .collect();
        assert_eq!(got, vec!["He said \"Stop.\"", "Then left."]);
    }
}
