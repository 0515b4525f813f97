//! parley-kb's integration tests: one binary, one module per area. Fixtures live in
//! `tests/fixtures/`; every index test gets its own temporary directory.

// Helpers here are test code too: a panic is a failed test with a message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod chunking;
mod embeddings;
mod index;
mod parsing;
mod properties;

use std::path::PathBuf;

use parley_kb::{chunk_document, ChunkConfig, DocumentChunks, ParsedDoc};

pub fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|err| panic!("reading {}: {err}", path.display()))
}

/// A one-section document chunked with the default settings.
pub fn record(dataset: &str, doc_id: &str, title: &str, text: &str) -> DocumentChunks {
    let doc = ParsedDoc::from_text(title, text, Some(format!("https://help.example/{doc_id}")));
    DocumentChunks {
        dataset_id: dataset.to_owned(),
        doc_id: doc_id.to_owned(),
        chunks: chunk_document(doc_id, &doc, &ChunkConfig::default()),
    }
}
