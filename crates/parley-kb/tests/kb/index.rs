use parley_kb::{
    chunk_document, AnswerOptions, Chunk, ChunkConfig, DocumentChunks, IndexError, KbIndex,
    ParsedDoc,
};

use crate::record;

fn doc_ids(index: &KbIndex, datasets: &[&str], query: &str) -> Vec<String> {
    index
        .search(datasets, query, 10)
        .unwrap()
        .into_iter()
        .map(|hit| hit.chunk.doc_id)
        .collect()
}

#[test]
fn search_finds_stemmed_terms_and_boosts_titles() {
    let dir = tempfile::tempdir().unwrap();
    let index = KbIndex::open_or_create(dir.path()).unwrap();
    index
        .rebuild([
            record(
                "ds",
                "ship",
                "Shipping",
                "Standard delivery takes three to five working days.",
            ),
            record(
                "ds",
                "ret",
                "Returns",
                "Send the parcel back within 30 days. Delivery of the return is free.",
            ),
        ])
        .unwrap();
    // "delivered" stems to "deliv", like "delivery"; "shipping" in the title wins the tie.
    assert_eq!(
        doc_ids(&index, &["ds"], "when is it delivered shipping"),
        ["ship", "ret"]
    );
    // Stop words only: nothing to search for.
    assert!(doc_ids(&index, &["ds"], "how do I").is_empty());
    let hit = &index.search(&["ds"], "returns", 1).unwrap()[0];
    assert_eq!(hit.dataset_id, "ds");
    assert_eq!(hit.chunk.chunk_id, "ret:0");
    assert_eq!(hit.chunk.url.as_deref(), Some("https://help.example/ret"));
    assert!(hit.score > 0.0);
}

#[test]
fn upsert_replaces_all_old_chunks_of_the_document() {
    let dir = tempfile::tempdir().unwrap();
    let index = KbIndex::open_or_create(dir.path()).unwrap();
    let long_apples = (0..60)
        .map(|i| format!("Apple fact number {i} is about orchards and cider."))
        .collect::<Vec<_>>()
        .join(" ");
    let first = record("ds", "fruit", "Fruit", &long_apples);
    assert!(
        first.chunks.len() > 1,
        "the test needs a multi-chunk document"
    );
    index.upsert_document("ds", "fruit", &first.chunks).unwrap();
    index
        .upsert_document(
            "ds",
            "other",
            &record("ds", "other", "Other", "Apples are red.").chunks,
        )
        .unwrap();
    assert_eq!(index.num_chunks(), first.chunks.len() as u64 + 1);

    let second = record("ds", "fruit", "Fruit", "Oranges are citrus fruit.");
    index
        .upsert_document("ds", "fruit", &second.chunks)
        .unwrap();
    assert_eq!(index.num_chunks(), 2);
    assert_eq!(
        doc_ids(&index, &["ds"], "orchards cider"),
        Vec::<String>::new()
    );
    assert_eq!(doc_ids(&index, &["ds"], "apple"), ["other"]);
    assert_eq!(doc_ids(&index, &["ds"], "oranges"), ["fruit"]);
}

#[test]
fn a_failed_upsert_changes_nothing_and_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let index = KbIndex::open_or_create(dir.path()).unwrap();
    let old = record("ds", "a", "A", "Kettles boil water.");
    index.upsert_document("ds", "a", &old.chunks).unwrap();

    let mut bad: Vec<Chunk> = record("ds", "a", "A", "Toasters brown bread.").chunks;
    let mut stray = bad[0].clone();
    stray.doc_id = "someone-else".into();
    bad.push(stray);
    let err = index.upsert_document("ds", "a", &bad).unwrap_err();
    assert!(
        matches!(err, IndexError::ChunkOfOtherDocument { .. }),
        "{err}"
    );
    assert!(!err.is_retryable());
    assert_eq!(doc_ids(&index, &["ds"], "kettles"), ["a"]);
    assert!(doc_ids(&index, &["ds"], "toasters").is_empty());

    // The next successful write must not commit the rolled-back chunk either.
    index
        .upsert_document("ds", "b", &record("ds", "b", "B", "Mugs hold tea.").chunks)
        .unwrap();
    assert!(doc_ids(&index, &["ds"], "toasters").is_empty());
    assert_eq!(doc_ids(&index, &["ds"], "kettles"), ["a"]);
}

#[test]
fn deletes_remove_documents_and_datasets_from_results() {
    let dir = tempfile::tempdir().unwrap();
    let index = KbIndex::open_or_create(dir.path()).unwrap();
    index
        .upsert_documents([
            record("one", "a", "Lamps", "Lamps need bulbs."),
            record("one", "b", "Bulbs", "Bulbs come in warm white."),
            record("two", "a", "Lamps", "Lamps in dataset two."),
        ])
        .unwrap();
    assert_eq!(doc_ids(&index, &["one"], "lamps"), ["a"]);
    assert_eq!(doc_ids(&index, &["two"], "lamps").len(), 1);
    assert_eq!(doc_ids(&index, &["one", "two"], "lamps").len(), 2);
    assert!(doc_ids(&index, &[] as &[&str], "lamps").is_empty());

    // Same document id in another dataset is a different document.
    index.delete_document("one", "a").unwrap();
    assert!(doc_ids(&index, &["one"], "lamps").is_empty());
    assert_eq!(doc_ids(&index, &["two"], "lamps"), ["a"]);
    assert_eq!(doc_ids(&index, &["one"], "bulbs"), ["b"]);

    index.delete_dataset("one").unwrap();
    assert!(doc_ids(&index, &["one"], "bulbs").is_empty());
    assert_eq!(doc_ids(&index, &["two"], "lamps"), ["a"]);
}

fn records() -> Vec<DocumentChunks> {
    vec![
        record(
            "ds",
            "gift",
            "Gift cards",
            "Gift cards are valid for 24 months.",
        ),
        record("ds", "pay", "Payments", "We accept Visa and PayPal."),
    ]
}

#[test]
fn a_deleted_directory_is_rebuilt_from_the_records() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("kb-index");

    let index = KbIndex::open_or_create(&dir).unwrap();
    assert!(index.needs_rebuild(), "a new directory has nothing in it");
    assert_eq!(index.rebuild(records()).unwrap(), 2);
    assert!(!index.needs_rebuild());
    drop(index);

    // Reopening a complete index keeps it.
    let index = KbIndex::open_or_create(&dir).unwrap();
    assert!(!index.needs_rebuild());
    assert_eq!(doc_ids(&index, &["ds"], "paypal"), ["pay"]);
    drop(index);

    std::fs::remove_dir_all(&dir).unwrap();
    let index = KbIndex::open_or_create(&dir).unwrap();
    assert!(index.needs_rebuild());
    assert!(doc_ids(&index, &["ds"], "paypal").is_empty());
    index.rebuild(records()).unwrap();
    assert_eq!(doc_ids(&index, &["ds"], "gift"), ["gift"]);
    assert_eq!(doc_ids(&index, &["ds"], "paypal"), ["pay"]);
}

#[test]
fn an_index_from_another_version_is_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let index = KbIndex::open_or_create(dir.path()).unwrap();
    index.rebuild(records()).unwrap();
    drop(index);
    std::fs::write(
        dir.path().join("parley-kb-version"),
        "parley-kb index: schema 0\n",
    )
    .unwrap();

    let index = KbIndex::open_or_create(dir.path()).unwrap();
    assert!(index.needs_rebuild());
    assert_eq!(index.num_chunks(), 0);
}

#[test]
fn a_crash_before_the_rebuild_finished_means_another_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let index = KbIndex::open_or_create(dir.path()).unwrap();
    // Upserts alone (no completed rebuild) never write the marker.
    index.upsert_documents(records()).unwrap();
    drop(index);
    assert!(KbIndex::open_or_create(dir.path()).unwrap().needs_rebuild());
}

#[test]
fn a_directory_with_other_files_is_not_wiped() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("precious.txt"), "keep me").unwrap();
    let err = KbIndex::open_or_create(dir.path()).unwrap_err();
    assert!(matches!(err, IndexError::ForeignDirectory { .. }), "{err}");
    assert!(dir.path().join("precious.txt").exists());
}

#[tokio::test]
async fn async_search_runs_off_the_runtime_threads() {
    let dir = tempfile::tempdir().unwrap();
    let index = KbIndex::open_or_create(dir.path()).unwrap();
    index.rebuild(records()).unwrap();
    let hits = index
        .search_async(vec!["ds".into()], "visa".into(), 5)
        .await
        .unwrap();
    assert_eq!(hits[0].chunk.doc_id, "pay");
}

#[test]
fn answers_cite_their_source_and_decline_what_the_data_does_not_cover() {
    let dir = tempfile::tempdir().unwrap();
    let index = KbIndex::open_or_create(dir.path()).unwrap();
    let doc = ParsedDoc::from_text(
        "Returns",
        "You can return most items within 30 days of delivery. Opened bedding cannot be returned.\n\n\
         Refunds reach your account 5-7 working days after the parcel arrives.",
        Some("https://help.example/returns".into()),
    );
    let chunks = chunk_document("returns", &doc, &ChunkConfig::default());
    index.upsert_document("ds", "returns", &chunks).unwrap();
    index
        .upsert_document(
            "ds",
            "other",
            &record(
                "ds",
                "other",
                "Shipping",
                "Standard delivery is free over £50.",
            )
            .chunks,
        )
        .unwrap();

    let answer = index
        .answer(
            &["ds"],
            "how many days do I have to return something?",
            &AnswerOptions::default(),
        )
        .unwrap()
        .expect("answerable");
    assert_eq!(
        answer.text,
        "You can return most items within 30 days of delivery."
    );
    assert_eq!(answer.source.doc_id, "returns");
    assert_eq!(answer.source.chunk_id, "returns:0");
    assert_eq!(
        answer.source.url.as_deref(),
        Some("https://help.example/returns")
    );
    assert!(
        answer.confidence > 0.6 && answer.confidence <= 1.0,
        "{}",
        answer.confidence
    );

    let none = index
        .answer(
            &["ds"],
            "can I pay for my sofa with bitcoin?",
            &AnswerOptions::default(),
        )
        .unwrap();
    assert!(none.is_none(), "{none:?}");
}

/// Guards the figures recorded in BENCHMARKS.md against regressions (run
/// `cargo run -p parley-kb --example kb_quality --release` for the full report).
#[test]
fn demo_help_centre_quality_does_not_regress() {
    use parley_kb::quality::{evaluate, parse_questions, report};
    use parley_kb::{parse, ParseLimits};

    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let dir = tempfile::tempdir().unwrap();
    let index = KbIndex::open_or_create(dir.path()).unwrap();
    let mut documents = Vec::new();
    for entry in std::fs::read_dir(root.join("help-centre")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let doc = parse(
            &std::fs::read(&path).unwrap(),
            &name,
            None,
            &ParseLimits::default(),
        )
        .unwrap()
        .remove(0);
        documents.push(DocumentChunks {
            dataset_id: "help".into(),
            chunks: chunk_document(&name, &doc, &ChunkConfig::default()),
            doc_id: name,
        });
    }
    index.rebuild(documents).unwrap();
    let questions = parse_questions(
        &std::fs::read_to_string(root.join("help-centre-questions.jsonl")).unwrap(),
    )
    .unwrap();
    assert!(questions.iter().filter(|q| q.answer.is_some()).count() >= 100);
    assert!(questions.iter().filter(|q| q.answer.is_none()).count() >= 30);

    let options = AnswerOptions::default();
    let r = report(
        &evaluate(&index, &["help"], &questions, &options).unwrap(),
        options.threshold,
    );
    assert!(r.recall_at_1 >= 0.70, "{r:?}");
    assert!(r.recall_at_5 >= 0.85, "{r:?}");
    assert!(r.answer_rate >= 0.60, "{r:?}");
    assert!(r.correct_answer_rate >= 0.50, "{r:?}");
    assert!(r.idk_rate >= 0.85, "{r:?}");
}

#[test]
fn a_second_open_of_the_same_directory_is_a_retryable_lock_error() {
    let dir = tempfile::tempdir().unwrap();
    let first = KbIndex::open_or_create(dir.path()).unwrap();
    first.rebuild(records()).unwrap();
    let err = KbIndex::open_or_create(dir.path()).unwrap_err();
    assert!(err.is_retryable(), "{err}");
    drop(first);
    let again = KbIndex::open_or_create(dir.path()).unwrap();
    assert_eq!(doc_ids(&again, &["ds"], "visa"), ["pay"]);
}
