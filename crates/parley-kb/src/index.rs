//! The BM25 index: one tantivy index in a directory, holding the chunks of every dataset.
//!
//! The database is the source of truth; this index is a cache of it that can always be
//! rebuilt. A version marker file, written only after a complete rebuild, says which schema
//! and analyzer built the directory: when it is missing or different, [`KbIndex::open_or_create`]
//! starts an empty index and [`KbIndex::needs_rebuild`] tells the caller to feed
//! [`KbIndex::rebuild`] every record. A crash during a rebuild leaves no marker, so the next
//! start rebuilds again.
//!
//! Writes go through one `IndexWriter` behind a mutex. Each write method deletes and adds in
//! one commit and rolls back on error, so readers see a document's old chunks or its new
//! ones, never a mix and never half. Every method here is blocking (disk I/O, a commit can
//! take tens of milliseconds): from async code call them inside
//! `tokio::task::spawn_blocking`, or use [`KbIndex::search_async`].

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};
use tantivy::collector::TopDocs;
use tantivy::query::{
    BooleanQuery, BoostQuery, ConstScoreQuery, DisjunctionMaxQuery, Occur, Query, TermQuery,
    TermSetQuery,
};
use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, Value, STORED, STRING,
};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

use crate::chunk::{Chunk, ChunkKind};
use crate::text::{distinct_terms, english_analyzer, ANALYZER_NAME, ANALYZER_VERSION};

/// Bumped whenever the fields below change, so old directories are rebuilt.
const SCHEMA_VERSION: u32 = 1;
const MARKER_FILE: &str = "parley-kb-version";

/// Weight of a query term found in the document title, relative to the chunk text.
pub const TITLE_BOOST: f32 = 2.0;
/// Weight of a query term found in the chunk's headings, relative to the chunk text.
pub const HEADING_BOOST: f32 = 1.5;
/// When a term matches several fields, the best field counts fully and the others by this
/// factor, so a word in the title and the text is not counted twice over.
const FIELD_TIE_BREAKER: f32 = 0.3;

/// Index settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexOptions {
    /// Memory the writer may buffer before flushing a segment, across all its threads.
    pub writer_memory_bytes: usize,
    /// Indexing threads. Each gets `writer_memory_bytes / writer_threads`, which tantivy
    /// wants to be at least 15 MB.
    pub writer_threads: usize,
}

impl Default for IndexOptions {
    /// 50 MB and one thread: modest, so indexing never starves the bot on a small machine.
    fn default() -> Self {
        Self {
            writer_memory_bytes: 50_000_000,
            writer_threads: 1,
        }
    }
}

/// Why an index operation failed.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// A file-system step on the index directory failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// tantivy failed.
    #[error("{action}: {source}")]
    Tantivy {
        /// What was being done.
        action: &'static str,
        /// The cause.
        #[source]
        source: tantivy::TantivyError,
    },
    /// The directory holds files that are not an index; they are left alone.
    #[error("{path} holds files that are not a Parley index; refusing to overwrite them")]
    ForeignDirectory {
        /// The directory.
        path: PathBuf,
    },
    /// A chunk passed for one document names another.
    #[error("chunk {chunk_id} belongs to document {found}, not {expected}")]
    ChunkOfOtherDocument {
        /// The document being written.
        expected: String,
        /// The document the chunk names.
        found: String,
        /// The chunk.
        chunk_id: String,
    },
    /// The blocking task running a search panicked or was cancelled.
    #[error("the search task did not finish: {0}")]
    TaskFailed(#[from] tokio::task::JoinError),
}

impl IndexError {
    /// Whether another [`KbIndex`] (in this process or another) holds the directory's
    /// writer lock, so this one could not be opened.
    pub fn is_locked(&self) -> bool {
        matches!(
            self,
            IndexError::Tantivy {
                source: tantivy::TantivyError::LockFailure(..),
                ..
            }
        )
    }

    /// Whether trying the same operation again may succeed: I/O hiccups and a writer lock
    /// held by a process that is going away, not bad input or a corrupt index.
    pub fn is_retryable(&self) -> bool {
        match self {
            IndexError::Io { .. } | IndexError::TaskFailed(_) => true,
            IndexError::Tantivy { source, .. } => matches!(
                source,
                tantivy::TantivyError::IoError(_) | tantivy::TantivyError::LockFailure(..)
            ),
            IndexError::ForeignDirectory { .. } | IndexError::ChunkOfOtherDocument { .. } => false,
        }
    }
}

fn tantivy_err(action: &'static str) -> impl FnOnce(tantivy::TantivyError) -> IndexError {
    move |source| IndexError::Tantivy { action, source }
}

fn io_err<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> IndexError + 'a {
    move |source| IndexError::Io {
        action,
        path: path.to_owned(),
        source,
    }
}

/// All chunks of one document, for [`KbIndex::rebuild`] and [`KbIndex::upsert_documents`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentChunks {
    /// The dataset the document belongs to.
    pub dataset_id: String,
    /// The document (record).
    pub doc_id: String,
    /// Its chunks, all with this `doc_id`.
    pub chunks: Vec<Chunk>,
}

/// A chunk found by a search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hit {
    /// The dataset the chunk belongs to.
    pub dataset_id: String,
    /// The chunk.
    pub chunk: Chunk,
    /// BM25 score (higher is better); only comparable within one result list.
    pub score: f32,
}

/// A query term with its inverse document frequency, for answer confidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TermWeight {
    /// The stemmed term.
    pub term: String,
    /// BM25 idf over all chunks in the index; highest for terms that appear nowhere.
    pub idf: f32,
}

#[derive(Debug, Clone, Copy)]
struct Fields {
    dataset_id: Field,
    doc_id: Field,
    /// `dataset_id` and `doc_id` joined, the term a document's chunks are deleted by.
    doc_key: Field,
    chunk_id: Field,
    title: Field,
    heading: Field,
    url: Field,
    position: Field,
    kind: Field,
    text: Field,
}

impl Fields {
    fn schema() -> (Schema, Fields) {
        let mut builder = Schema::builder();
        let analyzed = TextOptions::default()
            .set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer(ANALYZER_NAME)
                    .set_index_option(IndexRecordOption::WithFreqsAndPositions),
            )
            .set_stored();
        let fields = Fields {
            dataset_id: builder.add_text_field("dataset_id", STRING | STORED),
            doc_id: builder.add_text_field("doc_id", STRING | STORED),
            doc_key: builder.add_text_field("doc_key", STRING),
            chunk_id: builder.add_text_field("chunk_id", STRING | STORED),
            title: builder.add_text_field("title", analyzed.clone()),
            heading: builder.add_text_field("heading", analyzed.clone()),
            url: builder.add_text_field("url", STORED),
            position: builder.add_u64_field("position", STORED),
            kind: builder.add_text_field("kind", STRING | STORED),
            text: builder.add_text_field("text", analyzed),
        };
        (builder.build(), fields)
    }
}

fn doc_key(dataset_id: &str, doc_id: &str) -> String {
    // U+001F (unit separator) cannot appear in ids that came through JSON or a URL path.
    format!("{dataset_id}\u{1f}{doc_id}")
}

fn kind_name(kind: ChunkKind) -> &'static str {
    match kind {
        ChunkKind::Passage => "passage",
        ChunkKind::QaPair => "qa_pair",
    }
}

fn marker_text() -> String {
    format!(
        "parley-kb index: schema {SCHEMA_VERSION}, analyzer {ANALYZER_NAME} {ANALYZER_VERSION}\n"
    )
}

struct Inner {
    dir: PathBuf,
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
    fields: Fields,
    needs_rebuild: std::sync::atomic::AtomicBool,
}

/// The knowledge-base index. Cheap to clone; clones share one writer and one reader.
/// Open one per directory per process and clone it: tantivy locks the directory for the
/// writer, so a second `open_or_create` on the same directory fails with a lock error
/// (retryable, for the moment the first one is dropped).
#[derive(Clone)]
pub struct KbIndex {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for KbIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KbIndex")
            .field("dir", &self.inner.dir)
            .field("needs_rebuild", &self.needs_rebuild())
            .finish_non_exhaustive()
    }
}

impl KbIndex {
    /// Opens the index in `dir` with [`IndexOptions::default`], creating the directory and
    /// an empty index when needed. See [`KbIndex::needs_rebuild`].
    pub fn open_or_create(dir: impl AsRef<Path>) -> Result<Self, IndexError> {
        Self::open_or_create_with(dir, IndexOptions::default())
    }

    /// Opens the index in `dir`, or replaces it with an empty one when it is missing, was
    /// built by another schema or analyzer version, or cannot be opened. A directory that
    /// holds other files and no index is refused rather than emptied.
    pub fn open_or_create_with(
        dir: impl AsRef<Path>,
        options: IndexOptions,
    ) -> Result<Self, IndexError> {
        let dir = dir.as_ref();
        fs::create_dir_all(dir).map_err(io_err("creating index directory", dir))?;
        let (schema, fields) = Fields::schema();

        let marker_path = dir.join(MARKER_FILE);
        let marker_ok = fs::read_to_string(&marker_path).is_ok_and(|m| m == marker_text());
        let opened = if marker_ok {
            match Index::open_in_dir(dir) {
                Ok(index) if index.schema() == schema => Some(index),
                Ok(_) => {
                    tracing::warn!(dir = %dir.display(), "index schema differs; rebuilding");
                    None
                }
                Err(err) => {
                    tracing::warn!(dir = %dir.display(), %err, "index unreadable; rebuilding");
                    None
                }
            }
        } else {
            None
        };
        let needs_rebuild = opened.is_none();
        let index = match opened {
            Some(index) => index,
            None => {
                clear_index_dir(dir)?;
                Index::create_in_dir(dir, schema).map_err(tantivy_err("creating index"))?
            }
        };
        index
            .tokenizers()
            .register(ANALYZER_NAME, english_analyzer());

        let writer: IndexWriter = index
            .writer_with_num_threads(options.writer_threads.max(1), options.writer_memory_bytes)
            .map_err(tantivy_err("opening index writer"))?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(tantivy_err("opening index reader"))?;
        Ok(Self {
            inner: Arc::new(Inner {
                dir: dir.to_owned(),
                reader,
                writer: Mutex::new(writer),
                fields,
                needs_rebuild: std::sync::atomic::AtomicBool::new(needs_rebuild),
            }),
        })
    }

    /// Whether the index was (re)created empty on open and must be filled with
    /// [`KbIndex::rebuild`] before its results mean anything.
    pub fn needs_rebuild(&self) -> bool {
        self.inner
            .needs_rebuild
            .load(std::sync::atomic::Ordering::Acquire)
    }

    /// Replaces the whole index with `documents` in one commit, then writes the version
    /// marker. Until the commit, searches see the previous contents. Returns the number of
    /// chunks indexed.
    pub fn rebuild<I>(&self, documents: I) -> Result<u64, IndexError>
    where
        I: IntoIterator<Item = DocumentChunks>,
    {
        let count = self.write(|writer, fields| {
            writer
                .delete_all_documents()
                .map_err(tantivy_err("clearing index"))?;
            let mut count = 0;
            for document in documents {
                count += add_document(writer, fields, &document)?;
            }
            Ok(count)
        })?;
        let marker_path = self.inner.dir.join(MARKER_FILE);
        let tmp = self.inner.dir.join(format!("{MARKER_FILE}.tmp"));
        fs::write(&tmp, marker_text()).map_err(io_err("writing index marker", &tmp))?;
        fs::rename(&tmp, &marker_path).map_err(io_err("writing index marker", &marker_path))?;
        self.inner
            .needs_rebuild
            .store(false, std::sync::atomic::Ordering::Release);
        Ok(count)
    }

    /// Replaces all chunks of one document with `chunks` (an empty slice removes it), in one
    /// commit.
    pub fn upsert_document(
        &self,
        dataset_id: &str,
        doc_id: &str,
        chunks: &[Chunk],
    ) -> Result<(), IndexError> {
        self.upsert_documents([DocumentChunks {
            dataset_id: dataset_id.to_owned(),
            doc_id: doc_id.to_owned(),
            chunks: chunks.to_vec(),
        }])
        .map(|_| ())
    }

    /// Replaces the chunks of many documents in one commit (bulk import). Returns the number
    /// of chunks indexed.
    pub fn upsert_documents<I>(&self, documents: I) -> Result<u64, IndexError>
    where
        I: IntoIterator<Item = DocumentChunks>,
    {
        self.write(|writer, fields| {
            let mut count = 0;
            for document in documents {
                writer.delete_term(Term::from_field_text(
                    fields.doc_key,
                    &doc_key(&document.dataset_id, &document.doc_id),
                ));
                count += add_document(writer, fields, &document)?;
            }
            Ok(count)
        })
    }

    /// Removes every chunk of one document.
    pub fn delete_document(&self, dataset_id: &str, doc_id: &str) -> Result<(), IndexError> {
        self.write(|writer, fields| {
            writer.delete_term(Term::from_field_text(
                fields.doc_key,
                &doc_key(dataset_id, doc_id),
            ));
            Ok(())
        })
    }

    /// Removes every chunk of a dataset.
    pub fn delete_dataset(&self, dataset_id: &str) -> Result<(), IndexError> {
        self.write(|writer, fields| {
            writer.delete_term(Term::from_field_text(fields.dataset_id, dataset_id));
            Ok(())
        })
    }

    /// Runs `ops` on the writer and commits, or rolls back if `ops` or the commit fails, so
    /// no partial write survives into a later commit. Readers are reloaded before returning,
    /// so the change is visible to the next search.
    fn write<T>(
        &self,
        ops: impl FnOnce(&mut IndexWriter, &Fields) -> Result<T, IndexError>,
    ) -> Result<T, IndexError> {
        let mut writer = self.lock_writer()?;
        let result = ops(&mut writer, &self.inner.fields).and_then(|value| {
            writer
                .commit()
                .map_err(tantivy_err("committing index changes"))?;
            Ok(value)
        });
        match result {
            Ok(value) => {
                drop(writer);
                self.inner
                    .reader
                    .reload()
                    .map_err(tantivy_err("reloading index reader"))?;
                Ok(value)
            }
            Err(err) => {
                if let Err(rollback) = writer.rollback() {
                    tracing::error!(%rollback, "rolling back a failed index write");
                }
                Err(err)
            }
        }
    }

    /// The writer lock. A panic while it was held left uncommitted operations in the
    /// writer; they are rolled back before the writer is used again.
    fn lock_writer(&self) -> Result<MutexGuard<'_, IndexWriter>, IndexError> {
        match self.inner.writer.lock() {
            Ok(guard) => Ok(guard),
            Err(poisoned) => {
                let mut guard = poisoned.into_inner();
                guard
                    .rollback()
                    .map_err(tantivy_err("rolling back after a panic"))?;
                self.inner.writer.clear_poison();
                Ok(guard)
            }
        }
    }

    /// Number of chunks visible to searches, across all datasets.
    pub fn num_chunks(&self) -> u64 {
        self.inner.reader.searcher().num_docs()
    }

    /// The best `limit` chunks of the given datasets for `query`, best first. Query terms
    /// are matched against the chunk text, the title (×[`TITLE_BOOST`]) and the heading path
    /// (×[`HEADING_BOOST`]), any term being enough to match; BM25 ranks the rest. The query
    /// is plain words, not a query language, so user input cannot cause syntax errors.
    /// No datasets, no terms (only stop words) or `limit == 0` give no hits.
    ///
    /// Blocking; see [`KbIndex::search_async`].
    pub fn search<S: AsRef<str>>(
        &self,
        datasets: &[S],
        query: &str,
        limit: usize,
    ) -> Result<Vec<Hit>, IndexError> {
        let fields = &self.inner.fields;
        let terms = distinct_terms(query);
        if datasets.is_empty() || terms.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let per_term: Vec<(Occur, Box<dyn Query>)> = terms
            .iter()
            .map(|term| {
                let disjuncts: Vec<Box<dyn Query>> = [
                    (fields.title, TITLE_BOOST),
                    (fields.heading, HEADING_BOOST),
                    (fields.text, 1.0),
                ]
                .into_iter()
                .map(|(field, boost)| {
                    let query = TermQuery::new(
                        Term::from_field_text(field, term),
                        IndexRecordOption::WithFreqs,
                    );
                    Box::new(BoostQuery::new(Box::new(query), boost)) as Box<dyn Query>
                })
                .collect();
                let best_field =
                    DisjunctionMaxQuery::with_tie_breaker(disjuncts, FIELD_TIE_BREAKER);
                (Occur::Should, Box::new(best_field) as Box<dyn Query>)
            })
            .collect();
        let in_datasets = TermSetQuery::new(
            datasets
                .iter()
                .map(|d| Term::from_field_text(fields.dataset_id, d.as_ref())),
        );
        let query = BooleanQuery::new(vec![
            (Occur::Must, Box::new(BooleanQuery::new(per_term))),
            (
                Occur::Must,
                Box::new(ConstScoreQuery::new(Box::new(in_datasets), 0.0)),
            ),
        ]);

        let searcher = self.inner.reader.searcher();
        let top = searcher
            .search(&query, &TopDocs::with_limit(limit).order_by_score())
            .map_err(tantivy_err("searching"))?;
        let mut hits = Vec::with_capacity(top.len());
        for (score, address) in top {
            let doc: TantivyDocument = searcher
                .doc(address)
                .map_err(tantivy_err("reading a stored chunk"))?;
            hits.push(self.hit_from(&doc, score));
        }
        Ok(hits)
    }

    /// [`KbIndex::search`] on tokio's blocking pool, so a slow disk never stalls the
    /// async runtime. Must be called from within a tokio runtime.
    pub async fn search_async(
        &self,
        datasets: Vec<String>,
        query: String,
        limit: usize,
    ) -> Result<Vec<Hit>, IndexError> {
        let index = self.clone();
        tokio::task::spawn_blocking(move || index.search(&datasets, &query, limit)).await?
    }

    /// The distinct stemmed terms of `query` with their idf over the whole index, for
    /// [`crate::answer`]'s confidence. Terms found nowhere get the highest idf, so a
    /// question about something the knowledge base never mentions scores low.
    pub fn term_weights(&self, query: &str) -> Result<Vec<TermWeight>, IndexError> {
        let fields = &self.inner.fields;
        let searcher = self.inner.reader.searcher();
        let total = searcher.num_docs() as f32;
        let mut out = Vec::new();
        for term in distinct_terms(query) {
            let mut df = 0u64;
            for field in [fields.text, fields.title, fields.heading] {
                let field_df = searcher
                    .doc_freq(&Term::from_field_text(field, &term))
                    .map_err(tantivy_err("reading term statistics"))?;
                df = df.max(field_df);
            }
            let df = df as f32;
            let idf = (1.0 + (total - df + 0.5) / (df + 0.5)).ln();
            out.push(TermWeight { term, idf });
        }
        Ok(out)
    }

    fn hit_from(&self, doc: &TantivyDocument, score: f32) -> Hit {
        let fields = &self.inner.fields;
        let text = |field: Field| {
            doc.get_first(field)
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default()
        };
        let url = doc
            .get_first(fields.url)
            .and_then(|v| v.as_str().map(str::to_owned));
        let kind = match doc.get_first(fields.kind).and_then(|v| v.as_str()) {
            Some("qa_pair") => ChunkKind::QaPair,
            _ => ChunkKind::Passage,
        };
        let position = doc
            .get_first(fields.position)
            .and_then(|v| v.as_u64())
            .and_then(|p| u32::try_from(p).ok())
            .unwrap_or_default();
        Hit {
            dataset_id: text(fields.dataset_id),
            chunk: Chunk {
                doc_id: text(fields.doc_id),
                chunk_id: text(fields.chunk_id),
                title: text(fields.title),
                heading_path: doc
                    .get_all(fields.heading)
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect(),
                url,
                position,
                kind,
                text: text(fields.text),
            },
            score,
        }
    }
}

fn add_document(
    writer: &IndexWriter,
    fields: &Fields,
    document: &DocumentChunks,
) -> Result<u64, IndexError> {
    let key = doc_key(&document.dataset_id, &document.doc_id);
    let mut count = 0;
    for chunk in &document.chunks {
        if chunk.doc_id != document.doc_id {
            return Err(IndexError::ChunkOfOtherDocument {
                expected: document.doc_id.clone(),
                found: chunk.doc_id.clone(),
                chunk_id: chunk.chunk_id.clone(),
            });
        }
        let mut doc = TantivyDocument::default();
        doc.add_text(fields.dataset_id, &document.dataset_id);
        doc.add_text(fields.doc_id, &document.doc_id);
        doc.add_text(fields.doc_key, &key);
        doc.add_text(fields.chunk_id, &chunk.chunk_id);
        doc.add_text(fields.title, &chunk.title);
        for heading in &chunk.heading_path {
            doc.add_text(fields.heading, heading);
        }
        if let Some(url) = &chunk.url {
            doc.add_text(fields.url, url);
        }
        doc.add_u64(fields.position, u64::from(chunk.position));
        doc.add_text(fields.kind, kind_name(chunk.kind));
        doc.add_text(fields.text, &chunk.text);
        writer
            .add_document(doc)
            .map_err(tantivy_err("adding a chunk"))?;
        count += 1;
    }
    Ok(count)
}

/// Empties `dir` for a fresh index, but only if what is there is ours: an old index
/// (`meta.json`), our marker, or nothing.
fn clear_index_dir(dir: &Path) -> Result<(), IndexError> {
    let entries: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(io_err("listing index directory", dir))?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(io_err("listing index directory", dir))?;
    let ours =
        entries.is_empty() || dir.join("meta.json").exists() || dir.join(MARKER_FILE).exists();
    if !ours {
        return Err(IndexError::ForeignDirectory {
            path: dir.to_owned(),
        });
    }
    for path in entries {
        let removed = if path.is_dir() {
            fs::remove_dir_all(&path)
        } else {
            fs::remove_file(&path)
        };
        removed.map_err(io_err("clearing old index", &path))?;
    }
    Ok(())
}
