//! Text normalisation shared by every matcher, so keyword rules, flow triggers and button
//! answers agree on what "the same words" means: Unicode lower-casing, whitespace runs
//! collapsed, and word boundaries as Unicode's word segmentation (UAX #29) defines them.

use unicode_segmentation::UnicodeSegmentation;

/// Lower-cased, with every whitespace run collapsed to one space and the ends trimmed.
/// Byte offsets into the result are what matchers report.
pub fn normalize_words(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_space = false;
    for c in text.chars() {
        if c.is_whitespace() {
            pending_space = !out.is_empty();
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        out.extend(c.to_lowercase());
    }
    out
}

/// [`normalize_words`], then punctuation and symbols trimmed from both ends: the form
/// `exact` rules compare ("Hello!!" equals "hello").
pub fn normalize_exact(text: &str) -> String {
    let words = normalize_words(text);
    words
        .trim_matches(|c: char| !c.is_alphanumeric())
        .to_string()
}

/// Sorted byte offsets where a word may begin or end in `text`: the start of every
/// UAX #29 segment, plus the end of the text.
pub fn word_boundaries(text: &str) -> Vec<usize> {
    let mut v: Vec<usize> = text.split_word_bound_indices().map(|(i, _)| i).collect();
    v.push(text.len());
    v
}

/// Offset of the first letter or digit in `text` (its length when there is none).
pub fn first_word_char(text: &str) -> usize {
    text.char_indices()
        .find(|(_, c)| c.is_alphanumeric())
        .map(|(i, _)| i)
        .unwrap_or(text.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_case_and_whitespace() {
        assert_eq!(normalize_words("  Hello\t\n  WORLD  "), "hello world");
        assert_eq!(normalize_words("ÇA VA"), "ça va");
        assert_eq!(normalize_exact("  ¡¡Hola!!  "), "hola");
        assert_eq!(normalize_exact("What's up?"), "what's up");
        assert_eq!(normalize_exact("..."), "");
    }

    #[test]
    fn boundaries_follow_words() {
        let t = "oh, hi! this";
        let b = word_boundaries(t);
        assert!(b.contains(&4) && b.contains(&6)); // "hi"
        assert!(!b.contains(&10)); // inside "this"
        assert_eq!(first_word_char("¿¡hola"), "¿¡".len());
    }
}
