//! Word-level reading shared by the date and time parsers: the answer lower-cased and cut
//! into words, with the punctuation that carries meaning inside a word kept (`15/01`,
//! `3:30pm`, `2027-01-15`) and the polite filler around it ("on", "at", "please") dropped.

/// Longest date or time answer worth reading; anything longer is a sentence, not a date,
/// and refusing it early keeps the split search over words cheap.
pub(super) const MAX_PHRASE_CHARS: usize = 200;

/// Words that carry no date or time meaning in an answer ("on the 20th, please").
/// "of", "in", "a", "this" and "next" are grammar and stay.
const FILLERS: &[&str] = &[
    "on",
    "at",
    "around",
    "about",
    "approx",
    "approximately",
    "roughly",
    "by",
    "for",
    "please",
    "pls",
    "plz",
    "the",
    "maybe",
    "perhaps",
    "say",
    "lets",
    "how",
    "its",
    "it",
    "is",
    "thanks",
    "thank",
    "you",
    "thx",
    "ok",
    "okay",
    "um",
    "uh",
    "erm",
    "hmm",
    "well",
    "so",
    "just",
    "ideally",
    "preferably",
    "probably",
];

/// The answer's words: lower-cased, "a.m."/"p.m." folded to "am"/"pm", apostrophes dropped
/// ("o'clock" → "oclock", "'27" → "27"), `/ . : -` kept inside a word and trimmed from its
/// ends, every other symbol a word break. A trailing "ish" on a number goes ("3pm-ish").
pub(super) fn words(text: &str) -> Vec<String> {
    let lower = text
        .to_lowercase()
        .replace("a.m.", "am")
        .replace("p.m.", "pm")
        .replace("a.m", "am")
        .replace("p.m", "pm");
    let mut cleaned = String::with_capacity(lower.len());
    for c in lower.chars() {
        match c {
            c if c.is_alphanumeric() => cleaned.push(c),
            '/' | '.' | ':' | '-' => cleaned.push(c),
            '\u{2010}'..='\u{2015}' => cleaned.push('-'),
            '\'' | '\u{2018}' | '\u{2019}' | '`' => {}
            _ => cleaned.push(' '),
        }
    }
    cleaned
        .split_whitespace()
        .map(trim_separators)
        .map(|w| {
            let starts_with_digit = w.starts_with(|c: char| c.is_ascii_digit());
            match w.strip_suffix("ish") {
                Some(rest) if starts_with_digit => trim_separators(rest),
                _ => w,
            }
        })
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

fn trim_separators(w: &str) -> &str {
    w.trim_matches(|c| matches!(c, '.' | ':' | '-' | '/'))
}

/// `words` without the filler words.
pub(super) fn meaningful(words: &[String]) -> Vec<&str> {
    words
        .iter()
        .map(String::as_str)
        .filter(|w| !FILLERS.contains(w))
        .collect()
}

/// A number written as an English word: "one" to "nineteen", the tens, and hyphenated
/// pairs ("twenty-five"). Articles ("a", "an") are left to the caller, whose grammar
/// decides whether they mean one.
pub(super) fn number_word(w: &str) -> Option<u32> {
    const UNITS: [&str; 20] = [
        "zero",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "sixteen",
        "seventeen",
        "eighteen",
        "nineteen",
    ];
    const TENS: [&str; 8] = [
        "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
    ];
    let unit = |w: &str| UNITS.iter().position(|u| *u == w);
    let tens = |w: &str| TENS.iter().position(|t| *t == w);
    if let Some(n) = unit(w) {
        return u32::try_from(n).ok();
    }
    if let Some(t) = tens(w) {
        return u32::try_from(t * 10 + 20).ok();
    }
    let (t, u) = w.split_once('-')?;
    let (t, u) = (tens(t)?, unit(u)?);
    if u == 0 || u > 9 {
        return None;
    }
    u32::try_from(t * 10 + 20 + u).ok()
}

/// A run of 1 to `max_len` ASCII digits, as a number.
pub(super) fn digits(w: &str, max_len: usize) -> Option<u32> {
    if w.is_empty() || w.len() > max_len || !w.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    w.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_keep_meaningful_punctuation_only() {
        assert_eq!(
            words("On the 15th, please!"),
            ["on", "the", "15th", "please"]
        );
        assert_eq!(words("3:30 P.M."), ["3:30", "pm"]);
        assert_eq!(words("9 o’clock"), ["9", "oclock"]);
        assert_eq!(words("15/01/2027."), ["15/01/2027"]);
        assert_eq!(words("(3pm-ish)"), ["3pm"]);
        assert_eq!(words("— ... —"), Vec::<String>::new());
    }

    #[test]
    fn number_words() {
        assert_eq!(number_word("seven"), Some(7));
        assert_eq!(number_word("twenty-five"), Some(25));
        assert_eq!(number_word("twenty"), Some(20));
        assert_eq!(number_word("twenty-zero"), None);
        assert_eq!(number_word("a"), None);
        assert_eq!(digits("015", 2), None);
        assert_eq!(digits("15", 2), Some(15));
        assert_eq!(digits("1٣", 2), None);
    }
}
