use parley_kb::text::estimate_tokens;
use parley_kb::{chunk_document, ChunkConfig, ParsedDoc};
use proptest::prelude::*;

/// Text built from words, punctuation, abbreviations, list markers, blank lines and odd
/// whitespace, the things the sentence splitter and the packer have to get right.
fn text() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        "[a-zA-Z]{1,12}",
        "[0-9]{1,4}",
        Just("e.g.".to_owned()),
        Just("$4.95.".to_owned()),
        Just("Dr.".to_owned()),
        Just("end.".to_owned()),
        Just("why?".to_owned()),
        Just("\"Quoted!\"".to_owned()),
        Just("-".to_owned()),
        Just("1.".to_owned()),
        Just("é".to_owned()),
        Just("日本語".to_owned()),
        "[^\\s]{1,60}",
    ];
    let separator = prop_oneof![
        6 => Just(" ".to_owned()),
        1 => Just("\n".to_owned()),
        1 => Just("\n\n".to_owned()),
        1 => Just("\t  ".to_owned()),
        1 => Just("\r\n".to_owned()),
        1 => Just("\u{a0}".to_owned()),
    ];
    prop::collection::vec((token, separator), 0..400)
        .prop_map(|parts| parts.into_iter().flat_map(|(t, s)| [t, s]).collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn chunking_never_loses_a_word(text in text(), target in 2usize..120, overlap in 0usize..60) {
        let doc = ParsedDoc::from_text("Title", &text, None);
        let config = ChunkConfig { target_tokens: target, overlap_tokens: overlap };
        let chunks = chunk_document("doc", &doc, &config);
        let chunk_words: std::collections::HashSet<&str> =
            chunks.iter().flat_map(|c| c.text.split_whitespace()).collect();
        for word in text.split_whitespace() {
            prop_assert!(chunk_words.contains(word), "{word:?} is in no chunk");
        }
        for (position, chunk) in chunks.iter().enumerate() {
            prop_assert_eq!(chunk.position as usize, position);
            prop_assert!(estimate_tokens(&chunk.text) <= target, "{} > {target}: {:?}", estimate_tokens(&chunk.text), chunk.text);
            prop_assert!(!chunk.text.trim().is_empty());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(100))]

    /// Whatever bytes arrive, every reader returns documents or an error; none panics.
    #[test]
    fn parsing_never_panics(
        bytes in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..2000),
            text().prop_map(String::into_bytes),
            "[#<>|,\"{}\\[\\]:a-z \n-]{0,400}".prop_map(String::into_bytes),
        ],
        extension in prop::sample::select(vec!["txt", "md", "html", "pdf", "csv", "json"]),
    ) {
        let name = format!("upload.{extension}");
        if let Ok(docs) = parley_kb::parse(&bytes, &name, None, &parley_kb::ParseLimits::default()) {
            for doc in docs {
                chunk_document("doc", &doc, &ChunkConfig::default());
            }
        }
    }
}
