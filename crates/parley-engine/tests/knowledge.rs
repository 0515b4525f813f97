//! The knowledge base's consistency rules over a real SQLite store and a real index: a
//! write interrupted before the index commit is invisible and is indexed at the next open;
//! a delete interrupted after the database shows nothing; the index is rebuilt from the
//! database.

// Helpers outside #[test] functions unwrap too: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use chrono::Utc;
use parley_core::{DatasetInput, Record};
use parley_engine::knowledge::Knowledge;
use parley_engine::{Engine, Limits};
use parley_store::{ChunkRow, RecordWrite, SqliteStore, Store};
use uuid::Uuid;

struct Harness {
    dir: tempfile::TempDir,
    store: Arc<dyn Store>,
    ws: Uuid,
}

async fn harness() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path()).await.unwrap());
    let ws = store.default_workspace().await.unwrap().id;
    Harness { dir, store, ws }
}

impl Harness {
    fn engine(&self) -> Engine {
        let knowledge = Knowledge::new(self.dir.path(), self.store.clone());
        Engine::new(self.store.clone(), Limits::default()).with_knowledge(Arc::new(knowledge))
    }
}

/// A record as a crash would leave it: stored with its chunks, never indexed.
fn stored_only(dataset_id: Uuid, title: &str, text: &str) -> RecordWrite {
    let now = Utc::now();
    let id = parley_core::new_id();
    RecordWrite {
        record: Record {
            id,
            dataset_id,
            title: title.into(),
            text: text.into(),
            url: None,
            content_hash: parley_kb::content_hash(text.as_bytes()),
            source_file: None,
            chunks: 1,
            created_at: now,
            updated_at: now,
        },
        document: "{}".into(),
        chunks: vec![ChunkRow {
            position: 0,
            chunk_id: format!("{id}:0"),
            title: title.into(),
            heading_path: Vec::new(),
            url: None,
            kind: "passage".into(),
            text: text.into(),
        }],
    }
}

#[tokio::test]
async fn an_interrupted_write_is_invisible_until_the_index_catches_up() {
    let h = harness().await;
    let engine = h.engine();
    let ds = engine
        .create_dataset(
            h.ws,
            DatasetInput {
                name: Some("Docs".into()),
                description: None,
            },
        )
        .await
        .unwrap();
    let kb = engine.knowledge_base().unwrap().clone();
    assert!(kb.search(&[ds.id], "kettle", 5).await.unwrap().is_empty());

    // The database has it, the index never got it (the process died in between).
    let w = stored_only(ds.id, "Warranty", "Every kettle has a two year warranty.");
    h.store
        .write_records(h.ws, ds.id, std::slice::from_ref(&w), &[], Utc::now())
        .await
        .unwrap();
    assert!(kb.search(&[ds.id], "kettle", 5).await.unwrap().is_empty());
    drop(engine);
    drop(kb);

    // The next start indexes it.
    let engine = h.engine();
    let kb = engine.knowledge_base().unwrap().clone();
    let hits = kb.search(&[ds.id], "kettle", 5).await.unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].record_id, w.record.id);
    assert!(h.store.unindexed_records(10).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_record_deleted_from_the_database_never_shows_even_if_the_index_has_it() {
    let h = harness().await;
    let engine = h.engine();
    let ds = engine
        .create_dataset(
            h.ws,
            DatasetInput {
                name: Some("Docs".into()),
                description: None,
            },
        )
        .await
        .unwrap();
    engine
        .add_record(
            h.ws,
            ds.id,
            parley_core::RecordInput {
                title: Some("Warranty".into()),
                text: Some("Every kettle has a two year warranty.".into()),
                url: None,
            },
        )
        .await
        .unwrap();
    let kb = engine.knowledge_base().unwrap().clone();
    let hit = kb
        .search(&[ds.id], "kettle warranty", 5)
        .await
        .unwrap()
        .remove(0);
    // Deleted in the database only: the process died before the index delete.
    assert!(h
        .store
        .delete_record(h.ws, ds.id, hit.record_id)
        .await
        .unwrap());
    assert!(kb
        .search(&[ds.id], "kettle warranty", 5)
        .await
        .unwrap()
        .is_empty());
    assert!(kb
        .answer(&[ds.id], "kettle warranty", 0.0)
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn a_missing_index_is_rebuilt_from_the_database() {
    let h = harness().await;
    let engine = h.engine();
    let ds = engine
        .create_dataset(
            h.ws,
            DatasetInput {
                name: Some("Docs".into()),
                description: None,
            },
        )
        .await
        .unwrap();
    let import = engine
        .import_file(h.ws, ds.id, "faq.csv", None, b"question,answer\nDo you ship to Norway?,Yes within 5 days.\nCan I pay by cheque?,No.\n")
        .await
        .unwrap();
    assert_eq!(import.records.len(), 2);
    let kb = engine.knowledge_base().unwrap().clone();
    assert_eq!(kb.search(&[ds.id], "Norway", 5).await.unwrap().len(), 1);
    drop(engine);
    drop(kb);

    std::fs::remove_dir_all(h.dir.path().join(parley_engine::knowledge::INDEX_DIR)).unwrap();
    let engine = h.engine();
    let kb = engine.knowledge_base().unwrap().clone();
    let (answer, source) = kb
        .answer(&[ds.id], "do you ship to Norway", 0.5)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(answer.text, "Yes within 5 days.");
    assert_eq!(source.dataset_id, ds.id);
    // Another dataset's chunks are never searched.
    assert!(kb
        .search(&[Uuid::now_v7()], "Norway", 5)
        .await
        .unwrap()
        .is_empty());
}
