use parley_kb::text::estimate_tokens;
use parley_kb::{
    chunk_document, parse, ChunkConfig, ChunkKind, DocBody, ParseLimits, ParsedDoc, Section,
};

use crate::fixture;

fn doc(sections: Vec<(Vec<&str>, Vec<String>)>) -> ParsedDoc {
    ParsedDoc {
        title: "Doc".into(),
        url: None,
        body: DocBody::Sections(
            sections
                .into_iter()
                .map(|(path, paragraphs)| Section {
                    heading_path: path.into_iter().map(str::to_owned).collect(),
                    paragraphs,
                })
                .collect(),
        ),
    }
}

/// `n` distinct sentences of 9 words (12 estimated tokens) each.
fn sentences(prefix: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            format!(
                "{}{i} alpha beta gamma delta epsilon zeta eta theta.",
                prefix.to_uppercase()
            )
        })
        .collect()
}

#[test]
fn headings_are_hard_boundaries_and_positions_count_up() {
    let parsed = parse(
        &fixture("guide.md"),
        "guide.md",
        None,
        &ParseLimits::default(),
    )
    .unwrap();
    let chunks = chunk_document("doc-1", &parsed[0], &ChunkConfig::default());
    let got: Vec<(u32, &str, Vec<String>)> = chunks
        .iter()
        .map(|c| (c.position, c.chunk_id.as_str(), c.heading_path.clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            (0, "doc-1:0", vec![]),
            (1, "doc-1:1", vec!["Costs".to_owned()]),
            (2, "doc-1:2", vec!["Times".to_owned(), "UK".to_owned()]),
            (3, "doc-1:3", vec!["Times".to_owned(), "Europe".to_owned()]),
        ]
    );
    assert!(chunks
        .iter()
        .all(|c| c.title == "Delivery guide" && c.doc_id == "doc-1"));
    assert!(chunks
        .iter()
        .all(|c| c.url.as_deref() == Some("https://help.example/guide")));
    // Stable: the same document gives the same chunks.
    assert_eq!(
        chunks,
        chunk_document("doc-1", &parsed[0], &ChunkConfig::default())
    );
}

#[test]
fn paragraphs_are_packed_whole_up_to_the_target() {
    // Four paragraphs of 3 sentences (36 tokens each); a 100-token target fits two.
    let paragraphs: Vec<String> = (0..4)
        .map(|p| sentences(&format!("p{p}s"), 3).join(" "))
        .collect();
    let config = ChunkConfig {
        target_tokens: 100,
        overlap_tokens: 0,
    };
    let chunks = chunk_document("d", &doc(vec![(vec!["H"], paragraphs.clone())]), &config);
    let texts: Vec<&str> = chunks.iter().map(|c| c.text.as_str()).collect();
    assert_eq!(
        texts,
        vec![
            format!("{}\n\n{}", paragraphs[0], paragraphs[1]),
            format!("{}\n\n{}", paragraphs[2], paragraphs[3]),
        ]
    );
}

#[test]
fn long_paragraphs_split_on_sentences_with_overlap() {
    let all = sentences("s", 20); // 240 tokens in one paragraph.
    let config = ChunkConfig {
        target_tokens: 60,
        overlap_tokens: 15,
    };
    let chunks = chunk_document("d", &doc(vec![(vec![], vec![all.join(" ")])]), &config);
    assert!(chunks.len() >= 5, "{} chunks", chunks.len());
    for chunk in &chunks {
        assert!(estimate_tokens(&chunk.text) <= 60, "{:?}", chunk.text);
        assert!(
            chunk.text.ends_with('.'),
            "cut inside a sentence: {:?}",
            chunk.text
        );
    }
    for pair in chunks.windows(2) {
        // One 12-token sentence fits the 15-token overlap: the next chunk starts with the
        // previous chunk's last sentence.
        let last_sentence = pair[0].text.rsplit(". ").next().unwrap();
        assert!(
            pair[1].text.starts_with(last_sentence),
            "{:?} then {:?}",
            pair[0].text,
            pair[1].text
        );
    }
    for sentence in &all {
        assert!(
            chunks.iter().any(|c| c.text.contains(sentence.as_str())),
            "{sentence} lost"
        );
    }
}

#[test]
fn no_overlap_across_headings() {
    let config = ChunkConfig {
        target_tokens: 30,
        overlap_tokens: 15,
    };
    let chunks = chunk_document(
        "d",
        &doc(vec![
            (vec!["A"], sentences("a", 2)),
            (vec!["B"], sentences("b", 2)),
        ]),
        &config,
    );
    let b_chunks: Vec<_> = chunks.iter().filter(|c| c.heading_path == ["B"]).collect();
    assert!(b_chunks.iter().all(|c| !c.text.contains("A1")));
}

#[test]
fn qa_pairs_stay_whole_however_long() {
    let answer = sentences("x", 40).join(" "); // ~480 tokens
    let pair = ParsedDoc {
        title: "Q?".into(),
        url: None,
        body: DocBody::QaPair {
            question: "Q?".into(),
            answer: answer.clone(),
        },
    };
    let chunks = chunk_document("faq-1", &pair, &ChunkConfig::default());
    assert_eq!(chunks.len(), 1);
    assert_eq!(chunks[0].kind, ChunkKind::QaPair);
    assert_eq!(chunks[0].text, format!("Q?\n{answer}"));
}

#[test]
fn the_demo_help_centre_chunks_within_the_target() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/help-centre");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let docs = parse(
            &std::fs::read(&path).unwrap(),
            &name,
            None,
            &ParseLimits::default(),
        )
        .unwrap();
        for chunk in chunk_document(&name, &docs[0], &ChunkConfig::default()) {
            assert!(
                estimate_tokens(&chunk.text) <= 200,
                "{name}: {}",
                chunk.text
            );
        }
    }
}
