//! What the knowledge base stores: datasets, their records (documents) and each record's
//! chunks. The database is the source of truth; the engine keeps a search index of the
//! chunks beside it and uses the `indexed` bookkeeping here to keep the two in step: a
//! record is written unindexed, indexed, then marked indexed, so whatever a crash
//! interrupts is found by [`KbStore::unindexed_records`] and indexed again. A separate trait
//! so the knowledge base stays in its own files; [`crate::Store`] requires it.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use parley_core::{Dataset, Record};
use uuid::Uuid;

use crate::{Page, PageRequest, Result};

/// One chunk of a record, as indexed and cited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkRow {
    /// 0-based order in the record.
    pub position: u32,
    pub chunk_id: String,
    /// The record's title.
    pub title: String,
    pub heading_path: Vec<String>,
    pub url: Option<String>,
    /// `passage` or `qa_pair`.
    pub kind: String,
    pub text: String,
}

/// A record to write with its chunks. `document` is the parsed document as JSON, opaque to
/// the store, kept so an edit can re-chunk it.
#[derive(Debug, Clone)]
pub struct RecordWrite {
    pub record: Record,
    pub document: String,
    pub chunks: Vec<ChunkRow>,
}

/// A record's chunks, for the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordChunks {
    pub dataset_id: Uuid,
    pub record_id: Uuid,
    /// The version of the record these chunks are; [`KbStore::mark_indexed`] takes it back.
    pub updated_at: DateTime<Utc>,
    pub chunks: Vec<ChunkRow>,
}

/// A chunk that has no vector yet for an embeddings model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkToEmbed {
    pub record_id: Uuid,
    pub position: u32,
    /// The text the vector is of; a vector is only stored while the chunk still has it.
    pub text: String,
}

/// A record's chunks that have a vector for one embeddings model, with their vectors.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbeddedRecord {
    pub dataset_id: Uuid,
    pub record_id: Uuid,
    pub chunks: Vec<(ChunkRow, Vec<f32>)>,
}

#[async_trait]
pub trait KbStore: Send + Sync {
    async fn insert_dataset(&self, ws: Uuid, dataset: &Dataset) -> Result<()>;
    async fn get_dataset(&self, ws: Uuid, id: Uuid) -> Result<Option<Dataset>>;
    /// The oldest dataset of `ws` with exactly this name.
    async fn find_dataset_by_name(&self, ws: Uuid, name: &str) -> Result<Option<Dataset>>;
    async fn list_datasets(&self, ws: Uuid, page: &PageRequest) -> Result<Page<Dataset>>;
    /// Name, description and `updated_at`; false when there is no such dataset in `ws`.
    async fn update_dataset(&self, ws: Uuid, dataset: &Dataset) -> Result<bool>;
    /// Deletes the dataset with its records and chunks.
    async fn delete_dataset(&self, ws: Uuid, id: Uuid) -> Result<bool>;
    /// Those of `ids` that are datasets of `ws`.
    async fn datasets_in_workspace(&self, ws: Uuid, ids: &[Uuid]) -> Result<Vec<Uuid>>;

    /// In one transaction: stores `records` with their chunks (a record already stored
    /// under the same id is replaced, chunks and all) and deletes the records `remove`, all
    /// marked unindexed. False (and nothing written) when the dataset is not in `ws`.
    async fn write_records(
        &self,
        ws: Uuid,
        dataset_id: Uuid,
        records: &[RecordWrite],
        remove: &[Uuid],
        now: DateTime<Utc>,
    ) -> Result<bool>;
    async fn get_record(&self, ws: Uuid, dataset_id: Uuid, id: Uuid) -> Result<Option<Record>>;
    /// A record with its stored document (JSON).
    async fn record_document(
        &self,
        ws: Uuid,
        dataset_id: Uuid,
        id: Uuid,
    ) -> Result<Option<(Record, String)>>;
    async fn list_records(
        &self,
        ws: Uuid,
        dataset_id: Uuid,
        page: &PageRequest,
    ) -> Result<Page<Record>>;
    async fn delete_record(&self, ws: Uuid, dataset_id: Uuid, id: Uuid) -> Result<bool>;
    /// The records imported from `source_file`: `(id, content_hash)`.
    async fn records_from_source(
        &self,
        ws: Uuid,
        dataset_id: Uuid,
        source_file: &str,
    ) -> Result<Vec<(Uuid, String)>>;

    /// Up to `limit` records (of every workspace) whose chunks the index has not confirmed.
    async fn unindexed_records(&self, limit: u32) -> Result<Vec<RecordChunks>>;
    /// Marks records indexed, each only if it is still the version given (an edit made
    /// meanwhile stays unindexed).
    async fn mark_indexed(&self, records: &[(Uuid, DateTime<Utc>)]) -> Result<()>;
    /// Marks every record unindexed: the index is being rebuilt from scratch.
    async fn mark_all_unindexed(&self) -> Result<()>;
    /// Those of `ids` that are stored records (search drops hits of deleted ones).
    async fn existing_records(&self, ids: &[Uuid]) -> Result<Vec<Uuid>>;

    /// Up to `limit` chunks (of every workspace) with no vector for `model`.
    async fn chunks_without_embedding(&self, model: &str, limit: u32) -> Result<Vec<ChunkToEmbed>>;
    /// Stores vectors for `model`, each only if its chunk still exists with the same text
    /// (a chunk replaced meanwhile keeps waiting for its own vector).
    async fn store_embeddings(
        &self,
        model: &str,
        vectors: &[(ChunkToEmbed, Vec<f32>)],
    ) -> Result<()>;
    /// The chunks with a vector for `model` of `records`, or of every record when `None`,
    /// grouped by record. Records with no such chunk are left out.
    async fn embedded_records(
        &self,
        model: &str,
        records: Option<&[Uuid]>,
    ) -> Result<Vec<EmbeddedRecord>>;
}
