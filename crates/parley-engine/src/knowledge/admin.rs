//! Datasets and records, shared by the API and the CLI: creating and listing them, adding
//! documents as text, files or fetched pages (parsed and chunked by `parley-kb`), editing
//! and deleting them, and searching a dataset. Every write goes through
//! [`Knowledge::write`], which keeps the index in step with the database.

use std::sync::Arc;

use chrono::Utc;
use parley_core::knowledge::{DatasetSpec, NewRecord};
use parley_core::{Dataset, DatasetInput, Record, RecordInput, SearchHit, ValidationError};
use parley_kb::{chunk_document, ChunkConfig, FileFormat, ParseLimits, ParsedDoc};
use parley_store::{Page, PageRequest, RecordWrite};
use serde::Serialize;
use uuid::Uuid;

use super::{chunk_row, Knowledge, KnowledgeError};
use crate::error::{EngineError, Result};
use crate::outbound::{OutboundError, OutboundHttp, OutboundRequest};
use crate::Engine;

/// What importing one file (or page) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileStatus {
    /// First import of this source.
    Created,
    /// The source changed: its earlier records were replaced.
    Updated,
    /// Same content hash as last time: nothing was done.
    Unchanged,
}

/// One file's import: its status and its records (the stored ones when unchanged).
#[derive(Debug, Clone, Serialize)]
pub struct FileImport {
    pub file: String,
    pub status: FileStatus,
    pub records: Vec<Record>,
    /// False when another process (a running server) holds the index and will index the
    /// records on its next sync.
    pub indexed: bool,
}

/// What `POST /datasets/{id}/records` with JSON made: the record, or the fetched page's
/// import.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum RecordAdded {
    Record(Record),
    Fetched(FileImport),
}

impl Engine {
    fn knowledge(&self) -> Result<&Arc<Knowledge>> {
        self.services
            .knowledge
            .as_ref()
            .ok_or(EngineError::Knowledge(KnowledgeError::NotConfigured))
    }

    /// The knowledge base, when the engine has one.
    pub fn knowledge_base(&self) -> Option<&Arc<Knowledge>> {
        self.services.knowledge.as_ref()
    }

    /// 422 naming every id of `ids` that is not a dataset of `ws`.
    pub(crate) async fn check_datasets(&self, ws: Uuid, field: &str, ids: &[Uuid]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let found = self.store.datasets_in_workspace(ws, ids).await?;
        let mut errors = ValidationError::new();
        for (i, id) in ids.iter().enumerate() {
            if !found.contains(id) {
                errors.push(
                    format!("{field}[{i}]"),
                    format!("no dataset {id} in this workspace"),
                );
            }
        }
        errors.into_result(()).map_err(EngineError::from)
    }

    pub async fn create_dataset(&self, ws: Uuid, input: DatasetInput) -> Result<Dataset> {
        let spec = input.parse_new()?;
        let now = Utc::now();
        let dataset = Dataset {
            id: parley_core::new_id(),
            name: spec.name,
            description: spec.description,
            records: 0,
            created_at: now,
            updated_at: now,
        };
        self.store.insert_dataset(ws, &dataset).await?;
        Ok(dataset)
    }

    pub async fn get_dataset(&self, ws: Uuid, id: Uuid) -> Result<Dataset> {
        self.store
            .get_dataset(ws, id)
            .await?
            .ok_or_else(|| EngineError::not_found("dataset"))
    }

    /// A dataset by id, or by exact name (what a person types at the CLI).
    pub async fn find_dataset(&self, ws: Uuid, id_or_name: &str) -> Result<Dataset> {
        if let Ok(id) = id_or_name.parse::<Uuid>() {
            if let Some(d) = self.store.get_dataset(ws, id).await? {
                return Ok(d);
            }
        }
        self.store
            .find_dataset_by_name(ws, id_or_name)
            .await?
            .ok_or_else(|| EngineError::not_found("dataset"))
    }

    pub async fn list_datasets(&self, ws: Uuid, page: &PageRequest) -> Result<Page<Dataset>> {
        Ok(self.store.list_datasets(ws, page).await?)
    }

    pub async fn update_dataset(&self, ws: Uuid, id: Uuid, input: DatasetInput) -> Result<Dataset> {
        let mut dataset = self.get_dataset(ws, id).await?;
        let spec = input.apply(&DatasetSpec {
            name: dataset.name.clone(),
            description: dataset.description.clone(),
        })?;
        dataset.name = spec.name;
        dataset.description = spec.description;
        dataset.updated_at = Utc::now();
        if !self.store.update_dataset(ws, &dataset).await? {
            return Err(EngineError::not_found("dataset"));
        }
        Ok(dataset)
    }

    /// Deletes the dataset with its records; its chunks leave the index. Bots that named it
    /// simply find nothing in it any more.
    pub async fn delete_dataset(&self, ws: Uuid, id: Uuid) -> Result<()> {
        let knowledge = self.knowledge()?;
        if !self.store.delete_dataset(ws, id).await? {
            return Err(EngineError::not_found("dataset"));
        }
        knowledge.forget_dataset(id).await?;
        Ok(())
    }

    /// Adds a document given as JSON: a title and text, or a URL to fetch once.
    pub async fn add_record(
        &self,
        ws: Uuid,
        dataset_id: Uuid,
        input: RecordInput,
    ) -> Result<RecordAdded> {
        self.get_dataset(ws, dataset_id).await?;
        match input.parse_new()? {
            NewRecord::Text { title, text, url } => {
                let hash = parley_kb::content_hash(text.as_bytes());
                let doc = ParsedDoc::from_text(title, &text, url);
                let (records, _) = self
                    .write_documents(ws, dataset_id, None, &hash, vec![doc], &[])
                    .await?;
                records
                    .into_iter()
                    .next()
                    .map(RecordAdded::Record)
                    .ok_or_else(|| EngineError::Conflict("the record was not stored".into()))
            }
            NewRecord::Fetch { url } => Ok(RecordAdded::Fetched(
                self.import_url(ws, dataset_id, &url).await?,
            )),
        }
    }

    /// Fetches `url` once (size and time limited), turns the page into a document and
    /// stores it; the same URL again replaces it (or does nothing when it is unchanged).
    pub async fn import_url(&self, ws: Uuid, dataset_id: Uuid, url: &str) -> Result<FileImport> {
        let limits = self.knowledge()?.limits.clone();
        let (bytes, content_type) = fetch(&self.services.outbound, url, &limits).await?;
        let path = url.split(['?', '#']).next().unwrap_or(url);
        let format = match FileFormat::detect(path, content_type.as_deref()) {
            Ok(f) => f,
            // A page that names no type is read as HTML (which reads plain text too).
            Err(_) if content_type.is_none() => FileFormat::Html,
            Err(e) => return Err(KnowledgeError::Parse(e).into()),
        };
        let page = url.to_string();
        self.import_source(ws, dataset_id, url, &bytes, move |bytes, limits| {
            let mut docs = parley_kb::parse_as(format, bytes, &page, limits)?;
            for doc in &mut docs {
                doc.url.get_or_insert_with(|| page.clone());
            }
            Ok(docs)
        })
        .await
    }

    /// Imports one file: parsed by its name (then `content_type`; only the name's bounded
    /// base name is used and stored, `safe_file_name`), one record per document
    /// (a Q&A CSV/JSON gives one per pair). Records from an earlier import of the same
    /// `file_name` are replaced, or left alone when the content hash is unchanged.
    pub async fn import_file(
        &self,
        ws: Uuid,
        dataset_id: Uuid,
        file_name: &str,
        content_type: Option<&str>,
        bytes: &[u8],
    ) -> Result<FileImport> {
        // The name is the client's: only its bounded base name is kept.
        let file_name = parley_core::knowledge::safe_file_name(file_name);
        // 415 before reading anything further.
        let format = FileFormat::detect(&file_name, content_type).map_err(KnowledgeError::from)?;
        let name = file_name.clone();
        self.import_source(ws, dataset_id, &file_name, bytes, move |bytes, limits| {
            parley_kb::parse_as(format, bytes, &name, limits)
        })
        .await
    }

    async fn import_source<F>(
        &self,
        ws: Uuid,
        dataset_id: Uuid,
        source: &str,
        bytes: &[u8],
        parse: F,
    ) -> Result<FileImport>
    where
        F: FnOnce(&[u8], &ParseLimits) -> Result<Vec<ParsedDoc>, parley_kb::ParseError>
            + Send
            + 'static,
    {
        let knowledge = self.knowledge()?;
        self.get_dataset(ws, dataset_id).await?;
        let limits = ParseLimits {
            max_bytes: knowledge.limits.max_file_bytes,
        };
        if bytes.len() > limits.max_bytes {
            return Err(KnowledgeError::Parse(parley_kb::ParseError::TooLarge {
                file_name: source.to_string(),
                size: bytes.len(),
                limit: limits.max_bytes,
            })
            .into());
        }
        let hash = parley_kb::content_hash(bytes);
        let earlier = self
            .store
            .records_from_source(ws, dataset_id, source)
            .await?;
        if !earlier.is_empty() && earlier.iter().all(|(_, h)| *h == hash) {
            let mut records = Vec::with_capacity(earlier.len());
            for (id, _) in &earlier {
                if let Some(r) = self.store.get_record(ws, dataset_id, *id).await? {
                    records.push(r);
                }
            }
            return Ok(FileImport {
                file: source.to_string(),
                status: FileStatus::Unchanged,
                records,
                indexed: true,
            });
        }
        // PDF text extraction in particular is CPU work: off the async runtime.
        let owned = bytes.to_vec();
        let docs = tokio::task::spawn_blocking(move || parse(&owned, &limits))
            .await
            .map_err(KnowledgeError::from)?
            .map_err(KnowledgeError::from)?;
        let replace: Vec<Uuid> = earlier.iter().map(|(id, _)| *id).collect();
        let (records, indexed) = self
            .write_documents(ws, dataset_id, Some(source), &hash, docs, &replace)
            .await?;
        Ok(FileImport {
            file: source.to_string(),
            status: if replace.is_empty() {
                FileStatus::Created
            } else {
                FileStatus::Updated
            },
            records,
            indexed,
        })
    }

    /// Chunks `docs` into new records (replacing `replace`) and stores and indexes them.
    async fn write_documents(
        &self,
        ws: Uuid,
        dataset_id: Uuid,
        source: Option<&str>,
        hash: &str,
        docs: Vec<ParsedDoc>,
        replace: &[Uuid],
    ) -> Result<(Vec<Record>, bool)> {
        let knowledge = self.knowledge()?;
        let now = Utc::now();
        let mut writes = Vec::with_capacity(docs.len());
        for doc in docs {
            let record = Record {
                id: parley_core::new_id(),
                dataset_id,
                title: doc.title.clone(),
                text: doc.plain_text(),
                url: doc.url.clone(),
                content_hash: hash.to_string(),
                source_file: source.map(str::to_owned),
                chunks: 0,
                created_at: now,
                updated_at: now,
            };
            writes.push(record_write(record, &doc)?);
        }
        let outcome = knowledge.write(ws, dataset_id, &writes, replace).await?;
        if !outcome.found {
            return Err(EngineError::not_found("dataset"));
        }
        Ok((
            writes.into_iter().map(|w| w.record).collect(),
            outcome.indexed,
        ))
    }

    pub async fn get_record(&self, ws: Uuid, dataset_id: Uuid, id: Uuid) -> Result<Record> {
        self.store
            .get_record(ws, dataset_id, id)
            .await?
            .ok_or_else(|| EngineError::not_found("record"))
    }

    pub async fn list_records(
        &self,
        ws: Uuid,
        dataset_id: Uuid,
        page: &PageRequest,
    ) -> Result<Page<Record>> {
        self.get_dataset(ws, dataset_id).await?;
        Ok(self.store.list_records(ws, dataset_id, page).await?)
    }

    /// Changes a record's title, text or URL and re-chunks it; search sees the new version
    /// as soon as this returns.
    pub async fn update_record(
        &self,
        ws: Uuid,
        dataset_id: Uuid,
        id: Uuid,
        input: RecordInput,
    ) -> Result<Record> {
        let knowledge = self.knowledge()?;
        let (current, document) = self
            .store
            .record_document(ws, dataset_id, id)
            .await?
            .ok_or_else(|| EngineError::not_found("record"))?;
        let patch = input.parse_patch()?;
        let title = patch.title.unwrap_or_else(|| current.title.clone());
        let url = patch.url.unwrap_or_else(|| current.url.clone());
        let mut hash = current.content_hash.clone();
        let doc = match patch.text {
            Some(text) => {
                hash = parley_kb::content_hash(text.as_bytes());
                ParsedDoc::from_text(title, &text, url)
            }
            None => {
                let mut doc: ParsedDoc = serde_json::from_str(&document).map_err(|e| {
                    parley_store::StoreError::Corrupt(format!("record {id}'s document: {e}"))
                })?;
                doc.title = title;
                doc.url = url;
                doc
            }
        };
        let record = Record {
            title: doc.title.clone(),
            text: doc.plain_text(),
            url: doc.url.clone(),
            content_hash: hash,
            updated_at: Utc::now().max(current.updated_at + chrono::Duration::microseconds(1)),
            ..current
        };
        let write = record_write(record, &doc)?;
        let outcome = knowledge
            .write(ws, dataset_id, std::slice::from_ref(&write), &[])
            .await?;
        if !outcome.found {
            return Err(EngineError::not_found("record"));
        }
        Ok(write.record)
    }

    /// Deletes a record; it is gone from search results when this returns.
    pub async fn delete_record(&self, ws: Uuid, dataset_id: Uuid, id: Uuid) -> Result<()> {
        let knowledge = self.knowledge()?;
        if !self.store.delete_record(ws, dataset_id, id).await? {
            return Err(EngineError::not_found("record"));
        }
        knowledge.forget_record(dataset_id, id).await?;
        Ok(())
    }

    /// The best chunks of one dataset for `query`.
    pub async fn search_dataset(
        &self,
        ws: Uuid,
        dataset_id: Uuid,
        input: parley_core::knowledge::SearchInput,
    ) -> Result<Vec<SearchHit>> {
        let knowledge = self.knowledge()?;
        self.get_dataset(ws, dataset_id).await?;
        let q = input.parse()?;
        Ok(knowledge.search(&[dataset_id], &q.query, q.limit).await?)
    }
}

/// A record with its document and chunks, ready to store.
fn record_write(mut record: Record, doc: &ParsedDoc) -> Result<RecordWrite> {
    let chunks: Vec<_> = chunk_document(&record.id.to_string(), doc, &ChunkConfig::default())
        .into_iter()
        .map(chunk_row)
        .collect();
    record.chunks = i64::try_from(chunks.len()).unwrap_or(i64::MAX);
    Ok(RecordWrite {
        record,
        document: serde_json::to_string(doc).map_err(KnowledgeError::from)?,
        chunks,
    })
}

/// The body of `url` and its content type, within the limits; a destination the
/// server's outbound policy refuses is [`KnowledgeError::UrlRefused`].
async fn fetch(
    outbound: &OutboundHttp,
    url: &str,
    limits: &super::KnowledgeLimits,
) -> Result<(Vec<u8>, Option<String>), KnowledgeError> {
    let req = OutboundRequest::get(url)
        .timeout(limits.fetch_timeout)
        .max_bytes(limits.max_fetch_bytes);
    let reason = match outbound.fetch(req).await {
        Ok(resp) => return Ok((resp.body, resp.content_type)),
        Err(OutboundError::Refused(r)) => {
            return Err(KnowledgeError::UrlRefused {
                url: url.to_string(),
                reason: r.reason,
            })
        }
        Err(OutboundError::Timeout(t)) => {
            format!("it did not answer within {} seconds", t.as_secs_f32())
        }
        Err(OutboundError::Connect(_)) => "the server could not be reached".to_string(),
        Err(OutboundError::Status(status)) => {
            let status = reqwest::StatusCode::from_u16(status)
                .map_or_else(|_| status.to_string(), |s| s.to_string());
            format!("the server answered {status}")
        }
        Err(OutboundError::TooLarge { limit }) => format!("the page is larger than {limit} bytes"),
        Err(
            e @ (OutboundError::InvalidUrl(_)
            | OutboundError::Request(_)
            | OutboundError::TooManyRedirects
            | OutboundError::Transport(_)
            | OutboundError::Unavailable(_)),
        ) => e.to_string(),
    };
    Err(KnowledgeError::Fetch {
        url: url.to_string(),
        reason,
    })
}
