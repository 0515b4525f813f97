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
//! With an embeddings endpoint configured ([`Knowledge::with_embeddings`]), every chunk
//! also gets a vector, stored in the database beside it (`kb_embeddings`) and loaded into a
//! [`FlatVectorStore`] when the index opens. Search then ranks by BM25 and by similarity and
//! fuses the two rankings by reciprocal rank fusion. The endpoint is never on the critical
//! path: a failed call during ingestion leaves the record stored and BM25-indexed, and its
//! vectors are filled by the next [`Knowledge::sync`]; a failed (or slow) query embedding
//! falls back to BM25 alone.
//!
//! With AI off (or no provider), [`KnowledgeAnswer`] answers after keyword rules and before
//! the fallback: the best extractive passage, trimmed to the sentences that match, when its
//! confidence clears the bot's `knowledge_threshold`, citing its source in `meta.sources`.
//! With AI on, the top chunks go into the model's context instead (`ai::context`).
//! [`admin`] holds the dataset and record operations the API and the CLI share.

pub mod admin;

pub use parley_kb::{EmbedError, EmbeddingConfig};

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use parley_core::{KnowledgeSource, MessageSource, Retriever, SearchHit};
use parley_kb::{
    AnswerOptions, Chunk, ChunkKind, DocumentChunks, EmbeddingClient, FlatVectorStore, Hit,
    IndexError, KbIndex, ParseError,
};
use parley_store::{ChunkRow, ChunkToEmbed, RecordChunks, RecordWrite, Store, StoreError};
use uuid::Uuid;

use crate::error::Result;
use crate::route::{Reply, Responder, TurnContext};

/// The index's directory inside the data directory.
pub const INDEX_DIR: &str = "kb-index";
/// Records indexed per index commit when catching up.
const SYNC_BATCH: u32 = 200;
/// Chunks an AI reply is given from the knowledge base.
pub const AI_CHUNKS: usize = 4;
/// Chunks embedded per call to the embeddings endpoint.
const EMBED_BATCH: u32 = 64;
/// Batches embedded per sync, at most; the rest waits for the next one.
const FILL_ROUNDS: usize = 50;
/// Longest a search waits for its query's embedding before going on with BM25 alone.
const QUERY_EMBED_TIMEOUT: Duration = Duration::from_secs(2);
/// Candidates each retriever contributes to a fused ranking, at least.
const FUSION_CANDIDATES: usize = 20;

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
    /// The URL's destination is not allowed by the server's outbound policy (a private,
    /// loopback or metadata address, or a redirect to one); nothing was fetched.
    #[error("{url} is not an allowed address: {reason}")]
    UrlRefused { url: String, reason: String },
    /// Another process (a running server) holds the index's writer lock.
    #[error("the knowledge-base index in {dir} is in use by another Parley process")]
    IndexBusy { dir: PathBuf },
    #[error("knowledge-base index: {0}")]
    Index(#[from] IndexError),
    /// The embeddings endpoint failed (ingestion and search recover from it; see the
    /// module docs).
    #[error("knowledge-base embeddings: {0}")]
    Embed(#[from] EmbedError),
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
            KnowledgeError::Embed(e) => e.is_retryable(),
            KnowledgeError::Store(e) => e.is_retryable(),
            KnowledgeError::IndexBusy { .. } | KnowledgeError::Task(_) => true,
            KnowledgeError::NotConfigured
            | KnowledgeError::Parse(_)
            | KnowledgeError::Fetch { .. }
            | KnowledgeError::UrlRefused { .. }
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
    /// Dense retrieval, when an embeddings endpoint is configured.
    dense: Option<Dense>,
}

/// The embeddings endpoint and the vectors of every stored chunk it has embedded.
struct Dense {
    client: EmbeddingClient,
    /// The model, also the key of the stored vectors.
    model: String,
    vectors: FlatVectorStore,
    query_timeout: Duration,
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
            dense: None,
        }
    }

    /// Adds dense retrieval through an OpenAI-compatible embeddings endpoint: chunks are
    /// embedded as they are written (or by the next [`Knowledge::sync`] when the endpoint
    /// fails), and searches fuse BM25 with vector similarity.
    pub fn with_embeddings(mut self, config: EmbeddingConfig) -> Result<Knowledge, EmbedError> {
        let query_timeout = config.timeout.min(QUERY_EMBED_TIMEOUT);
        let model = config.model.clone();
        self.dense = Some(Dense {
            client: EmbeddingClient::new(config)?,
            model,
            vectors: FlatVectorStore::new(),
            query_timeout,
        });
        Ok(self)
    }

    /// Whether searches use embeddings as well as BM25.
    pub fn has_embeddings(&self) -> bool {
        self.dense.is_some()
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
                if let Some(dense) = &self.dense {
                    self.load_vectors(dense).await?;
                    self.fill_vectors(dense).await;
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
    /// not reach the index, or interrupted by a crash), and with embeddings configured
    /// embeds the chunks that have no vector yet. Returns how many records were indexed.
    pub async fn sync(&self) -> Result<u64, KnowledgeError> {
        let Some(index) = self.index.get() else {
            return Ok(0);
        };
        let indexed = self.sync_with(index).await?;
        if let Some(dense) = &self.dense {
            self.fill_vectors(dense).await;
        }
        Ok(indexed)
    }

    /// Loads every stored vector of the configured model into the vector store.
    async fn load_vectors(&self, dense: &Dense) -> Result<(), KnowledgeError> {
        let _writing = self.writes.lock().await;
        let records = self.store.embedded_records(&dense.model, None).await?;
        let mut chunks = 0;
        for record in records {
            chunks += record.chunks.len();
            load_record(dense, record);
        }
        if chunks > 0 {
            tracing::info!(chunks, model = %dense.model, "knowledge-base vectors loaded");
        }
        Ok(())
    }

    /// Embeds stored chunks that have no vector for the model, batch by batch, until none
    /// is left or the endpoint fails (logged; the next sync tries again). Returns how many.
    async fn fill_vectors(&self, dense: &Dense) -> usize {
        let mut filled = 0;
        for _ in 0..FILL_ROUNDS {
            let outcome = match self
                .store
                .chunks_without_embedding(&dense.model, EMBED_BATCH)
                .await
            {
                Ok(batch) if batch.is_empty() => break,
                Ok(batch) => self.embed_chunks(dense, batch).await,
                Err(e) => Err(e.into()),
            };
            match outcome {
                Ok(n) => filled += n,
                Err(e) => {
                    tracing::warn!(error = %e, "embedding stored knowledge-base chunks failed; retrying at the next sync");
                    break;
                }
            }
        }
        if filled > 0 {
            tracing::info!(chunks = filled, "knowledge-base chunks embedded");
        }
        filled
    }

    /// Embeds `chunks` in one call, stores the vectors, and refreshes their records in the
    /// vector store from the database (which drops vectors of chunks changed meanwhile).
    async fn embed_chunks(
        &self,
        dense: &Dense,
        chunks: Vec<ChunkToEmbed>,
    ) -> Result<usize, KnowledgeError> {
        let texts: Vec<String> = chunks.iter().map(|c| c.text.clone()).collect();
        let vectors = dense.client.embed(&texts).await?;
        let count = vectors.len();
        let mut records: Vec<Uuid> = chunks.iter().map(|c| c.record_id).collect();
        records.dedup();
        let pairs: Vec<(ChunkToEmbed, Vec<f32>)> = chunks.into_iter().zip(vectors).collect();
        self.store.store_embeddings(&dense.model, &pairs).await?;
        let _writing = self.writes.lock().await;
        self.refresh_vectors(dense, &records).await?;
        Ok(count)
    }

    /// Replaces `records`' entries in the vector store with their stored vectors. The caller
    /// holds the write lock, so a concurrent write or delete cannot be undone by it.
    async fn refresh_vectors(&self, dense: &Dense, records: &[Uuid]) -> Result<(), KnowledgeError> {
        for record in self
            .store
            .embedded_records(&dense.model, Some(records))
            .await?
        {
            load_record(dense, record);
        }
        Ok(())
    }

    /// Embeds the chunks of records just written; a failure leaves them to the next sync.
    async fn embed_written(&self, dense: &Dense, records: &[RecordWrite]) {
        let pending: Vec<ChunkToEmbed> = records
            .iter()
            .flat_map(|w| {
                w.chunks.iter().map(|c| ChunkToEmbed {
                    record_id: w.record.id,
                    position: c.position,
                    text: c.text.clone(),
                })
            })
            .collect();
        for batch in pending.chunks(EMBED_BATCH as usize) {
            if let Err(e) = self.embed_chunks(dense, batch.to_vec()).await {
                tracing::warn!(error = %e, records = records.len(), "embedding new knowledge-base chunks failed; they are stored and keyword-searchable, and their vectors are filled at the next sync");
                return;
            }
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
            if let Some(dense) = &self.dense {
                // Another process may have changed these records: what the vector store
                // has of them is stale until reloaded.
                for r in &batch {
                    dense
                        .vectors
                        .delete_document(&r.dataset_id.to_string(), &r.record_id.to_string());
                }
                let ids: Vec<Uuid> = versions.iter().map(|(id, _)| *id).collect();
                self.refresh_vectors(dense, &ids).await?;
            }
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
        if let Some(dense) = &self.dense {
            // The rows' vectors went with their chunks; so do the vector store's.
            for id in remove.iter().chain(records.iter().map(|w| &w.record.id)) {
                dense.vectors.delete_document(&dataset, &id.to_string());
            }
            drop(_writing);
            self.embed_written(dense, records).await;
        }
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
        if let Some(dense) = &self.dense {
            dense.vectors.delete_document(&d, &r);
        }
        tokio::task::spawn_blocking(move || index.delete_document(&d, &r)).await??;
        Ok(())
    }

    /// Takes a deleted dataset's chunks out of the index.
    pub async fn forget_dataset(&self, dataset_id: Uuid) -> Result<(), KnowledgeError> {
        let index = self.open_index().await?.clone();
        let _writing = self.writes.lock().await;
        let d = dataset_id.to_string();
        if let Some(dense) = &self.dense {
            dense.vectors.delete_dataset(&d);
        }
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
        let ranked = self.retrieve(datasets, query, limit).await?;
        Ok(ranked
            .iter()
            .filter_map(|(hit, retrievers)| search_hit(hit, retrievers))
            .collect())
    }

    /// The best `limit` stored chunks for `query`: by BM25, fused with the dense ranking
    /// when embeddings are configured and the query could be embedded.
    async fn retrieve(
        &self,
        datasets: &[Uuid],
        query: &str,
        limit: usize,
    ) -> Result<Vec<(Hit, Vec<Retriever>)>, KnowledgeError> {
        let index = self.open_index().await?;
        let names: Vec<String> = datasets.iter().map(Uuid::to_string).collect();
        let candidates = match self.dense {
            Some(_) => limit.max(FUSION_CANDIDATES),
            None => limit,
        };
        let bm25 = index
            .search_async(names.clone(), query.to_string(), candidates)
            .await?;
        let bm25 = self.stored_only(bm25).await?;
        let dense = match &self.dense {
            Some(dense) => dense_ranking(dense, &names, query, candidates).await,
            None => None,
        };
        Ok(match dense {
            Some(hits) => fuse_rankings(bm25, self.stored_only(hits).await?, limit),
            None => bm25
                .into_iter()
                .take(limit)
                .map(|hit| (hit, vec![Retriever::Bm25]))
                .collect(),
        })
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
        let options = AnswerOptions {
            threshold,
            ..AnswerOptions::default()
        };
        let hits: Vec<Hit> = self
            .retrieve(datasets, query, options.candidates)
            .await?
            .into_iter()
            .map(|(hit, _)| hit)
            .collect();
        let index = self.open_index().await?.clone();
        let q = query.to_string();
        let terms = tokio::task::spawn_blocking(move || index.term_weights(&q)).await??;
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

/// A stored chunk as the library's indexes take it.
fn chunk_of(doc_id: &str, c: ChunkRow) -> Chunk {
    Chunk {
        doc_id: doc_id.to_string(),
        chunk_id: c.chunk_id,
        title: c.title,
        heading_path: c.heading_path,
        url: c.url,
        position: c.position,
        kind: kind_from_name(&c.kind),
        text: c.text,
    }
}

fn document_chunks(record: RecordChunks) -> DocumentChunks {
    let doc_id = record.record_id.to_string();
    DocumentChunks {
        dataset_id: record.dataset_id.to_string(),
        chunks: record
            .chunks
            .into_iter()
            .map(|c| chunk_of(&doc_id, c))
            .collect(),
        doc_id,
    }
}

/// Puts a record's stored vectors in the vector store, replacing what it had of it.
fn load_record(dense: &Dense, record: parley_store::EmbeddedRecord) {
    let (dataset, doc) = (record.dataset_id.to_string(), record.record_id.to_string());
    let chunks = record
        .chunks
        .into_iter()
        .map(|(c, vector)| (chunk_of(&doc, c), vector))
        .collect();
    if let Err(e) = dense.vectors.upsert_document(&dataset, &doc, chunks) {
        tracing::warn!(record = %doc, error = %e, "a knowledge-base record's vectors do not fit its dataset's; left out of dense search");
    }
}

/// The chunks most similar to `query`, or `None` (logged) when the query cannot be
/// embedded in time: the caller goes on with BM25 alone. Chunks with no similarity at all
/// are left out, so an unrelated question does not pull in every chunk.
async fn dense_ranking(
    dense: &Dense,
    datasets: &[String],
    query: &str,
    limit: usize,
) -> Option<Vec<Hit>> {
    let input = [query.to_string()];
    let embedded = tokio::time::timeout(dense.query_timeout, dense.client.embed(&input)).await;
    let vector = match embedded {
        Ok(Ok(mut vectors)) => vectors.pop()?,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "embedding a knowledge-base query failed; searching by keywords alone");
            return None;
        }
        Err(_) => {
            tracing::warn!(
                timeout_ms = dense.query_timeout.as_millis() as u64,
                "embedding a knowledge-base query timed out; searching by keywords alone"
            );
            return None;
        }
    };
    match dense.vectors.search(datasets, &vector, limit) {
        Ok(hits) => Some(hits.into_iter().filter(|h| h.score > 0.0).collect()),
        Err(e) => {
            tracing::warn!(error = %e, "the query's embedding does not fit the stored vectors; searching by keywords alone");
            None
        }
    }
}

/// Fuses the BM25 and dense rankings (reciprocal rank fusion), noting for each hit which
/// rankings had it.
fn fuse_rankings(bm25: Vec<Hit>, dense: Vec<Hit>, limit: usize) -> Vec<(Hit, Vec<Retriever>)> {
    fn key(hit: &Hit) -> (String, String) {
        (hit.dataset_id.clone(), hit.chunk.chunk_id.clone())
    }
    let in_bm25: HashSet<_> = bm25.iter().map(key).collect();
    let in_dense: HashSet<_> = dense.iter().map(key).collect();
    parley_kb::fuse_hits(&[bm25, dense], limit)
        .into_iter()
        .map(|hit| {
            let k = key(&hit);
            let retrievers = [
                (Retriever::Bm25, in_bm25.contains(&k)),
                (Retriever::Dense, in_dense.contains(&k)),
            ]
            .into_iter()
            .filter_map(|(r, found)| found.then_some(r))
            .collect();
            (hit, retrievers)
        })
        .collect()
}

fn search_hit(hit: &Hit, retrievers: &[Retriever]) -> Option<SearchHit> {
    Some(SearchHit {
        dataset_id: hit.dataset_id.parse().ok()?,
        record_id: hit.chunk.doc_id.parse().ok()?,
        chunk_id: hit.chunk.chunk_id.clone(),
        title: hit.chunk.title.clone(),
        url: hit.chunk.url.clone(),
        heading_path: hit.chunk.heading_path.clone(),
        text: hit.chunk.text.clone(),
        score: hit.score,
        retrievers: retrievers.to_vec(),
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
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn hit(chunk_id: &str, score: f32) -> Hit {
        Hit {
            dataset_id: "d".into(),
            chunk: Chunk {
                doc_id: "r".into(),
                chunk_id: chunk_id.into(),
                title: "T".into(),
                heading_path: Vec::new(),
                url: None,
                position: 0,
                kind: ChunkKind::Passage,
                text: chunk_id.into(),
            },
            score,
        }
    }

    #[test]
    fn fusion_ranks_chunks_both_retrievers_found_first_and_says_who_found_them() {
        let bm25 = vec![hit("a", 9.0), hit("b", 5.0)];
        let dense = vec![hit("c", 0.9), hit("b", 0.8)];
        let fused = fuse_rankings(bm25, dense, 10);
        let order: Vec<(&str, &[Retriever])> = fused
            .iter()
            .map(|(h, r)| (h.chunk.chunk_id.as_str(), r.as_slice()))
            .collect();
        assert_eq!(
            order,
            vec![
                ("b", &[Retriever::Bm25, Retriever::Dense][..]),
                ("a", &[Retriever::Bm25][..]),
                ("c", &[Retriever::Dense][..]),
            ]
        );
        // The score is the RRF score, not BM25's.
        assert!((fused[0].0.score - (1.0 / 62.0 + 1.0 / 62.0)).abs() < 1e-6);
        assert_eq!(fuse_rankings(vec![hit("a", 1.0)], Vec::new(), 10).len(), 1);
        assert_eq!(
            fuse_rankings(vec![hit("a", 1.0), hit("b", 1.0)], vec![hit("c", 1.0)], 2).len(),
            2
        );
    }

    #[test]
    fn the_default_threshold_is_the_libraries() {
        assert!(
            (parley_core::settings::DEFAULT_KNOWLEDGE_THRESHOLD - parley_kb::DEFAULT_THRESHOLD)
                .abs()
                < f32::EPSILON
        );
    }
}
