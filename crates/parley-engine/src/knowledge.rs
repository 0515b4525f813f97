//! The knowledge base in the pipeline: datasets a bot answers from.
//!
//! [`Knowledge`] owns the one BM25 index of the data directory (`<data_dir>/kb-index`,
//! every dataset of every workspace in it, opened once and shared by every turn) and keeps
//! it in step with the database, which is the source of truth:
//!
//! - a write stores the records and their chunks **unindexed** in one transaction, commits
//!   them to the index in one index commit, then marks them indexed. A crash before the
//!   index commit leaves records the index never saw (invisible, and indexed at the next
//!   start by [`Knowledge::sync`]); never half a document.
//! - a delete removes the rows first, then the index entries; every search drops hits
//!   whose record is no longer stored, so a crash in between shows nothing deleted.
//! - an index whose directory is missing, or whose version marker is stale, is rebuilt
//!   from the database when it is opened.
//!
//! With AI off (or no provider), [`KnowledgeAnswer`] answers after keyword rules and before
//! the fallback: the best extractive passage, trimmed to the sentences that match, when its
//! confidence clears the bot's `knowledge_threshold`, citing its source in `meta.sources`.
//! With AI on, the top chunks go into the model's context instead (`ai::context`).
//! [`admin`] holds the dataset and record operations the API and the CLI share.

pub mod admin;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use parley_core::{KnowledgeSource, MessageSource, SearchHit};
use parley_kb::{
    AnswerOptions, Chunk, ChunkKind, DocumentChunks, Hit, IndexError, KbIndex, ParseError,
};
use parley_store::{ChunkRow, RecordChunks, RecordWrite, Store, StoreError};
use uuid::Uuid;

use crate::error::Result;
use crate::route::{Reply, Responder, TurnContext};

/// The index's directory inside the data directory.
pub const INDEX_DIR: &str = "kb-index";
/// Records indexed per index commit when catching up.
const SYNC_BATCH: u32 = 200;
/// Chunks an AI reply is given from the knowledge base.
pub const AI_CHUNKS: usize = 4;

/// Why a knowledge-base operation failed.
#[derive(Debug, thiserror::Error)]
pub enum KnowledgeError {
    /// The engine was built without a knowledge base (`Engine::with_knowledge`).
    #[error("the knowledge base is not available on this server")]
    NotConfigured,
    /// A file or page could not become documents (type 415, size 413, content 422).
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// The URL could not be fetched.
    #[error("{url} could not be fetched: {reason}")]
    Fetch { url: String, reason: String },
    /// Another process (a running server) holds the index's writer lock.
    #[error("the knowledge-base index in {dir} is in use by another Parley process")]
    IndexBusy { dir: PathBuf },
    #[error("knowledge-base index: {0}")]
    Index(#[from] IndexError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A blocking index task panicked or was cancelled.
    #[error("a knowledge-base task did not finish: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// The parsed document could not be stored as JSON (a bug).
    #[error("encoding a document: {0}")]
    Encode(#[from] serde_json::Error),
}

impl KnowledgeError {
    pub fn is_retryable(&self) -> bool {
        match self {
            KnowledgeError::Index(e) => e.is_retryable(),
            KnowledgeError::Store(e) => e.is_retryable(),
            KnowledgeError::IndexBusy { .. } | KnowledgeError::Task(_) => true,
            KnowledgeError::NotConfigured
            | KnowledgeError::Parse(_)
            | KnowledgeError::Fetch { .. }
            | KnowledgeError::Encode(_) => false,
        }
    }
}

/// Limits on what is ingested.
#[derive(Debug, Clone)]
pub struct KnowledgeLimits {
    /// Largest file accepted (413 above it).
    pub max_file_bytes: usize,
    /// Largest page fetched by URL.
    pub max_fetch_bytes: usize,
    /// Longest a URL fetch may take, connection to last byte.
    pub fetch_timeout: std::time::Duration,
}

impl Default for KnowledgeLimits {
    fn default() -> Self {
        KnowledgeLimits {
            max_file_bytes: parley_kb::ParseLimits::default().max_bytes,
            max_fetch_bytes: 2 * 1024 * 1024,
            fetch_timeout: std::time::Duration::from_secs(10),
        }
    }
}

/// The knowledge base of one data directory: its index, opened on first use (or by
/// [`Knowledge::open_index`] at start-up) and shared.
pub struct Knowledge {
    dir: PathBuf,
    store: Arc<dyn Store>,
    index: tokio::sync::OnceCell<KbIndex>,
    /// Serialises index writes with their database bookkeeping, so a catch-up never
    /// re-indexes an old version over a newer one.
    writes: tokio::sync::Mutex<()>,
    pub limits: KnowledgeLimits,
}

impl std::fmt::Debug for Knowledge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Knowledge")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl Knowledge {
    /// The knowledge base over `store`, with its index in `<data_dir>/kb-index`. Nothing is
    /// opened yet.
    pub fn new(data_dir: &Path, store: Arc<dyn Store>) -> Knowledge {
        Knowledge {
            dir: data_dir.join(INDEX_DIR),
            store,
            index: tokio::sync::OnceCell::new(),
            writes: tokio::sync::Mutex::new(()),
            limits: KnowledgeLimits::default(),
        }
    }

    pub fn with_limits(mut self, limits: KnowledgeLimits) -> Knowledge {
        self.limits = limits;
        self
    }

    pub fn index_dir(&self) -> &Path {
        &self.dir
    }

    /// The index, opened (and rebuilt from the database when missing or stale, then caught
    /// up with unindexed records) on first call.
    pub async fn open_index(&self) -> Result<&KbIndex, KnowledgeError> {
        self.index
            .get_or_try_init(|| async {
                let dir = self.dir.clone();
                let index = tokio::task::spawn_blocking(move || KbIndex::open_or_create(&dir))
                    .await?
                    .map_err(|e| self.busy_or(e))?;
                if index.needs_rebuild() {
                    tracing::info!(dir = %self.dir.display(), "rebuilding the knowledge-base index from the database");
                    // Unindexed first: a crash during the rebuild leaves every record to
                    // be indexed at the next start.
                    self.store.mark_all_unindexed().await?;
                    let empty = index.clone();
                    tokio::task::spawn_blocking(move || empty.rebuild(Vec::new())).await??;
                }
                let indexed = self.sync_with(&index).await?;
                if indexed > 0 {
                    tracing::info!(records = indexed, "knowledge-base records indexed");
                }
                Ok(index)
            })
            .await
    }

    fn busy_or(&self, e: IndexError) -> KnowledgeError {
        if e.is_locked() {
            KnowledgeError::IndexBusy {
                dir: self.dir.clone(),
            }
        } else {
            KnowledgeError::Index(e)
        }
    }

    /// Indexes every record the index has not confirmed (written by a process that could
    /// not reach the index, or interrupted by a crash). Returns how many.
    pub async fn sync(&self) -> Result<u64, KnowledgeError> {
        match self.index.get() {
            Some(index) => self.sync_with(index).await,
            None => Ok(0),
        }
    }

    async fn sync_with(&self, index: &KbIndex) -> Result<u64, KnowledgeError> {
        let _writing = self.writes.lock().await;
        let mut total = 0;
        // Bounded, in case another process keeps changing records; the rest waits for the
        // next sync.
        for _ in 0..1000 {
            let batch = self.store.unindexed_records(SYNC_BATCH).await?;
            if batch.is_empty() {
                break;
            }
            let versions: Vec<_> = batch.iter().map(|r| (r.record_id, r.updated_at)).collect();
            let docs: Vec<DocumentChunks> = batch.into_iter().map(document_chunks).collect();
            let writer = index.clone();
            tokio::task::spawn_blocking(move || writer.upsert_documents(docs)).await??;
            self.store.mark_indexed(&versions).await?;
            total += versions.len() as u64;
        }
        Ok(total)
    }

    /// Stores `records` (replacing any of the same id) and removes `remove`, then brings
    /// the index in line in one commit. False when the dataset is not in `ws`. When another
    /// process holds the index, the records stay stored and unindexed (it indexes them on
    /// its next sync) and `indexed` is false.
    pub async fn write(
        &self,
        ws: Uuid,
        dataset_id: Uuid,
        records: &[RecordWrite],
        remove: &[Uuid],
    ) -> Result<WriteOutcome, KnowledgeError> {
        let index = match self.open_index().await {
            Ok(index) => Some(index),
            Err(KnowledgeError::IndexBusy { .. }) => None,
            Err(e) => return Err(e),
        };
        let _writing = self.writes.lock().await;
        let now = chrono::Utc::now();
        if !self
            .store
            .write_records(ws, dataset_id, records, remove, now)
            .await?
        {
            return Ok(WriteOutcome {
                found: false,
                indexed: false,
            });
        }
        let Some(index) = index else {
            return Ok(WriteOutcome {
                found: true,
                indexed: false,
            });
        };
        let dataset = dataset_id.to_string();
        let mut docs: Vec<DocumentChunks> = remove
            .iter()
            .map(|id| DocumentChunks {
                dataset_id: dataset.clone(),
                doc_id: id.to_string(),
                chunks: Vec::new(),
            })
            .collect();
        docs.extend(records.iter().map(|w| {
            document_chunks(RecordChunks {
                dataset_id,
                record_id: w.record.id,
                updated_at: w.record.updated_at,
                chunks: w.chunks.clone(),
            })
        }));
        let writer = index.clone();
        tokio::task::spawn_blocking(move || writer.upsert_documents(docs)).await??;
        let versions: Vec<_> = records
            .iter()
            .map(|w| (w.record.id, w.record.updated_at))
            .collect();
        self.store.mark_indexed(&versions).await?;
        Ok(WriteOutcome {
            found: true,
            indexed: true,
        })
    }

    /// Takes a deleted record's chunks out of the index (its rows are already gone).
    pub async fn forget_record(
        &self,
        dataset_id: Uuid,
        record_id: Uuid,
    ) -> Result<(), KnowledgeError> {
        let index = self.open_index().await?.clone();
        let _writing = self.writes.lock().await;
        let (d, r) = (dataset_id.to_string(), record_id.to_string());
        tokio::task::spawn_blocking(move || index.delete_document(&d, &r)).await??;
        Ok(())
    }

    /// Takes a deleted dataset's chunks out of the index.
    pub async fn forget_dataset(&self, dataset_id: Uuid) -> Result<(), KnowledgeError> {
        let index = self.open_index().await?.clone();
        let _writing = self.writes.lock().await;
        let d = dataset_id.to_string();
        tokio::task::spawn_blocking(move || index.delete_dataset(&d)).await??;
        Ok(())
    }

    /// The best `limit` chunks of `datasets` for `query`, on the blocking pool.
    pub async fn search(
        &self,
        datasets: &[Uuid],
        query: &str,
        limit: usize,
    ) -> Result<Vec<SearchHit>, KnowledgeError> {
        if datasets.is_empty() {
            return Ok(Vec::new());
        }
        let index = self.open_index().await?;
        let hits = index
            .search_async(
                datasets.iter().map(Uuid::to_string).collect(),
                query.to_string(),
                limit,
            )
            .await?;
        let hits = self.stored_only(hits).await?;
        Ok(hits.iter().filter_map(search_hit).collect())
    }

    /// The best extractive answer from `datasets` whose confidence reaches `threshold`.
    pub async fn answer(
        &self,
        datasets: &[Uuid],
        query: &str,
        threshold: f32,
    ) -> Result<Option<(parley_kb::Answer, KnowledgeSource)>, KnowledgeError> {
        if datasets.is_empty() {
            return Ok(None);
        }
        let index = self.open_index().await?.clone();
        let options = AnswerOptions {
            threshold,
            ..AnswerOptions::default()
        };
        let names: Vec<String> = datasets.iter().map(Uuid::to_string).collect();
        let q = query.to_string();
        let candidates = options.candidates;
        let (hits, terms) = tokio::task::spawn_blocking(move || {
            Ok::<_, IndexError>((
                index.search(&names, &q, candidates)?,
                index.term_weights(&q)?,
            ))
        })
        .await??;
        let hits = self.stored_only(hits).await?;
        let Some(answer) = parley_kb::extract_answer(&terms, &hits, &options) else {
            return Ok(None);
        };
        let (Ok(dataset_id), Ok(record_id)) = (
            answer.source.dataset_id.parse(),
            answer.source.doc_id.parse(),
        ) else {
            return Ok(None);
        };
        let source = KnowledgeSource {
            title: answer.source.title.clone(),
            url: answer.source.url.clone(),
            chunk_id: answer.source.chunk_id.clone(),
            dataset_id,
            record_id,
        };
        Ok(Some((answer, source)))
    }

    /// Hits whose record is still stored: a delete interrupted between the database and
    /// the index must not show.
    async fn stored_only(&self, hits: Vec<Hit>) -> Result<Vec<Hit>, KnowledgeError> {
        let ids: Vec<Uuid> = hits
            .iter()
            .filter_map(|h| h.chunk.doc_id.parse().ok())
            .collect();
        let stored = self.store.existing_records(&ids).await?;
        Ok(hits
            .into_iter()
            .filter(|h| {
                h.chunk
                    .doc_id
                    .parse::<Uuid>()
                    .is_ok_and(|id| stored.contains(&id))
            })
            .collect())
    }
}

/// What [`Knowledge::write`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteOutcome {
    /// The dataset exists in the workspace (nothing was written otherwise).
    pub found: bool,
    /// The index has the records (false: another process holds it and will index them).
    pub indexed: bool,
}

pub(crate) fn kind_name(kind: ChunkKind) -> &'static str {
    match kind {
        ChunkKind::Passage => "passage",
        ChunkKind::QaPair => "qa_pair",
    }
}

fn kind_from_name(name: &str) -> ChunkKind {
    match name {
        "qa_pair" => ChunkKind::QaPair,
        _ => ChunkKind::Passage,
    }
}

/// A chunk as the store keeps it.
pub(crate) fn chunk_row(chunk: Chunk) -> ChunkRow {
    ChunkRow {
        position: chunk.position,
        chunk_id: chunk.chunk_id,
        title: chunk.title,
        heading_path: chunk.heading_path,
        url: chunk.url,
        kind: kind_name(chunk.kind).to_string(),
        text: chunk.text,
    }
}

fn document_chunks(record: RecordChunks) -> DocumentChunks {
    let doc_id = record.record_id.to_string();
    DocumentChunks {
        dataset_id: record.dataset_id.to_string(),
        chunks: record
            .chunks
            .into_iter()
            .map(|c| Chunk {
                doc_id: doc_id.clone(),
                chunk_id: c.chunk_id,
                title: c.title,
                heading_path: c.heading_path,
                url: c.url,
                position: c.position,
                kind: kind_from_name(&c.kind),
                text: c.text,
            })
            .collect(),
        doc_id,
    }
}

fn search_hit(hit: &Hit) -> Option<SearchHit> {
    Some(SearchHit {
        dataset_id: hit.dataset_id.parse().ok()?,
        record_id: hit.chunk.doc_id.parse().ok()?,
        chunk_id: hit.chunk.chunk_id.clone(),
        title: hit.chunk.title.clone(),
        url: hit.chunk.url.clone(),
        heading_path: hit.chunk.heading_path.clone(),
        text: hit.chunk.text.clone(),
        score: hit.score,
    })
}

/// The citation of a search hit.
pub fn source_of(hit: &SearchHit) -> KnowledgeSource {
    KnowledgeSource {
        title: hit.title.clone(),
        url: hit.url.clone(),
        chunk_id: hit.chunk_id.clone(),
        dataset_id: hit.dataset_id,
        record_id: hit.record_id,
    }
}

/// Answers from the bot's datasets without a model (the AI stage, when it runs, has
/// already answered with the chunks in its context): the best passage when its confidence
/// clears `knowledge_threshold`, else the next responder (the fallback).
pub struct KnowledgeAnswer;

#[async_trait]
impl Responder for KnowledgeAnswer {
    fn name(&self) -> &'static str {
        "knowledge"
    }

    async fn respond(&self, turn: &mut TurnContext<'_>) -> Result<Option<Vec<Reply>>> {
        let s = &turn.bot.settings;
        let question = turn.input.meaning().trim();
        if s.dataset_ids.is_empty() || question.is_empty() {
            return Ok(None);
        }
        let Some(knowledge) = turn.services.knowledge.clone() else {
            return Ok(None);
        };
        let found = match knowledge
            .answer(&s.dataset_ids, question, s.knowledge_threshold)
            .await
        {
            Ok(found) => found,
            // The fallback is a better answer than a failed turn.
            Err(e) => {
                tracing::warn!(conversation = %turn.conversation.id, error = %e, "the knowledge base could not be searched; falling back");
                return Ok(None);
            }
        };
        let Some((answer, source)) = found else {
            return Ok(None);
        };
        tracing::debug!(conversation = %turn.conversation.id, confidence = answer.confidence, chunk = %source.chunk_id, "answered from the knowledge base");
        turn.effects.quoted.push(answer.text.clone());
        let mut reply = Reply::new(MessageSource::Knowledge, answer.text, Vec::new());
        reply.meta.sources = vec![source];
        Ok(Some(vec![reply]))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_default_threshold_is_the_libraries() {
        assert!(
            (parley_core::settings::DEFAULT_KNOWLEDGE_THRESHOLD - parley_kb::DEFAULT_THRESHOLD)
                .abs()
                < f32::EPSILON
        );
    }
}
