//! Optional dense retrieval: a client for an OpenAI-compatible `POST {base_url}/embeddings`
//! endpoint and a flat in-memory vector store searched by cosine similarity.
//!
//! The store is a brute-force scan: each search compares the query with every vector of the
//! chosen datasets, `O(chunks × dimensions)`. That is a few milliseconds for ten thousand
//! 1,536-dimension vectors, and it keeps everything in RAM (about 6 KB per chunk at that
//! size), so it suits help-centre-sized datasets, not millions of chunks. It is not
//! persisted: the caller keeps vectors in its database and loads them at start-up.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::chunk::Chunk;
use crate::index::Hit;

/// Where and how to fetch embeddings.
#[derive(Debug, Clone)]
pub struct EmbeddingConfig {
    /// Base URL, e.g. `https://api.openai.com/v1`; `/embeddings` is appended.
    pub base_url: String,
    /// Model name sent with every request.
    pub model: String,
    /// Bearer token, if the endpoint wants one.
    pub api_key: Option<SecretString>,
    /// Whole-request timeout.
    pub timeout: Duration,
}

/// Why embeddings could not be fetched or used.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// The HTTP client could not be built.
    #[error("building the embeddings HTTP client: {0}")]
    Client(#[source] reqwest::Error),
    /// The request did not complete (connection, timeout).
    #[error("calling {url}: {source}")]
    Transport {
        /// The endpoint.
        url: String,
        /// The cause.
        #[source]
        source: reqwest::Error,
    },
    /// The endpoint answered with an error status.
    #[error("{url} answered {status}: {body}")]
    Status {
        /// The endpoint.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The start of the response body.
        body: String,
    },
    /// The response was not the expected JSON.
    #[error("reading the response of {url}: {reason}")]
    Decode {
        /// The endpoint.
        url: String,
        /// What was wrong.
        reason: String,
    },
    /// Vectors of different lengths were mixed (another model, a bad response).
    #[error("vector has {found} dimensions, expected {expected}")]
    DimensionMismatch {
        /// The dataset's dimension.
        expected: usize,
        /// The offending vector's.
        found: usize,
    },
}

impl EmbedError {
    /// Whether the same request may succeed later: timeouts, connection failures, 429 and
    /// 5xx answers.
    pub fn is_retryable(&self) -> bool {
        match self {
            EmbedError::Transport { .. } => true,
            EmbedError::Status { status, .. } => *status == 429 || *status >= 500,
            EmbedError::Client(_)
            | EmbedError::Decode { .. }
            | EmbedError::DimensionMismatch { .. } => false,
        }
    }
}

/// Client for an OpenAI-compatible embeddings endpoint.
#[derive(Debug, Clone)]
pub struct EmbeddingClient {
    http: reqwest::Client,
    url: String,
    model: String,
    api_key: Option<SecretString>,
}

#[derive(Serialize)]
struct EmbeddingRequest<'a> {
    model: &'a str,
    input: &'a [String],
}

#[derive(Deserialize)]
struct EmbeddingResponse {
    data: Vec<EmbeddingItem>,
}

#[derive(Deserialize)]
struct EmbeddingItem {
    embedding: Vec<f32>,
    #[serde(default)]
    index: Option<usize>,
}

impl EmbeddingClient {
    /// A client for `config`.
    pub fn new(config: EmbeddingConfig) -> Result<Self, EmbedError> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .map_err(EmbedError::Client)?;
        Ok(Self {
            http,
            url: format!("{}/embeddings", config.base_url.trim_end_matches('/')),
            model: config.model,
            api_key: config.api_key,
        })
    }

    /// One vector per input, in input order. An empty input makes no request.
    pub async fn embed(&self, inputs: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        if inputs.is_empty() {
            return Ok(Vec::new());
        }
        let mut request = self.http.post(&self.url).json(&EmbeddingRequest {
            model: &self.model,
            input: inputs,
        });
        if let Some(key) = &self.api_key {
            request = request.bearer_auth(key.expose_secret());
        }
        let transport = |source| EmbedError::Transport {
            url: self.url.clone(),
            source,
        };
        let response = request.send().await.map_err(transport)?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            return Err(EmbedError::Status {
                url: self.url.clone(),
                status: status.as_u16(),
                body: body.chars().take(500).collect(),
            });
        }
        let bytes = response.bytes().await.map_err(transport)?;
        let decode = |reason: String| EmbedError::Decode {
            url: self.url.clone(),
            reason,
        };
        let parsed: EmbeddingResponse =
            serde_json::from_slice(&bytes).map_err(|err| decode(err.to_string()))?;
        if parsed.data.len() != inputs.len() {
            return Err(decode(format!(
                "{} embeddings for {} inputs",
                parsed.data.len(),
                inputs.len()
            )));
        }
        let mut vectors: Vec<Option<Vec<f32>>> = vec![None; inputs.len()];
        for (position, item) in parsed.data.into_iter().enumerate() {
            let slot = item.index.unwrap_or(position);
            match vectors.get_mut(slot) {
                Some(entry @ None) => *entry = Some(item.embedding),
                _ => return Err(decode(format!("bad or repeated index {slot}"))),
            }
        }
        Ok(vectors.into_iter().flatten().collect())
    }
}

/// Cosine similarity of two vectors of equal length; 0.0 when either is all zeros.
pub fn cosine_similarity(a: &[f32], b: &[f32]) -> f32 {
    let (mut dot, mut norm_a, mut norm_b) = (0.0f32, 0.0f32, 0.0f32);
    for (x, y) in a.iter().zip(b) {
        dot += x * y;
        norm_a += x * x;
        norm_b += y * y;
    }
    if norm_a == 0.0 || norm_b == 0.0 {
        return 0.0;
    }
    dot / (norm_a.sqrt() * norm_b.sqrt())
}

fn normalized(mut vector: Vec<f32>) -> Vec<f32> {
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        for x in &mut vector {
            *x /= norm;
        }
    }
    vector
}

#[derive(Debug, Default)]
struct DatasetVectors {
    dimensions: usize,
    /// Unit vectors and their chunks, grouped by document for replacement.
    documents: HashMap<String, Vec<(Chunk, Vec<f32>)>>,
}

/// Chunk vectors per dataset, searched by brute force (see the module docs for the limits).
#[derive(Debug, Default)]
pub struct FlatVectorStore {
    datasets: RwLock<HashMap<String, DatasetVectors>>,
}

impl FlatVectorStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Replaces a document's vectors. All vectors of a dataset must have one length.
    pub fn upsert_document(
        &self,
        dataset_id: &str,
        doc_id: &str,
        chunks: Vec<(Chunk, Vec<f32>)>,
    ) -> Result<(), EmbedError> {
        let mut datasets = self.datasets.write().unwrap_or_else(|p| p.into_inner());
        let dataset = datasets.entry(dataset_id.to_owned()).or_default();
        let others_exist = dataset.documents.keys().any(|id| id != doc_id);
        let mut dimensions = if others_exist { dataset.dimensions } else { 0 };
        for (_, vector) in &chunks {
            if dimensions == 0 {
                dimensions = vector.len();
            } else if vector.len() != dimensions {
                return Err(EmbedError::DimensionMismatch {
                    expected: dimensions,
                    found: vector.len(),
                });
            }
        }
        dataset.dimensions = dimensions;
        let chunks = chunks
            .into_iter()
            .map(|(chunk, vector)| (chunk, normalized(vector)))
            .collect();
        dataset.documents.insert(doc_id.to_owned(), chunks);
        Ok(())
    }

    /// Removes a document's vectors.
    pub fn delete_document(&self, dataset_id: &str, doc_id: &str) {
        let mut datasets = self.datasets.write().unwrap_or_else(|p| p.into_inner());
        if let Some(dataset) = datasets.get_mut(dataset_id) {
            dataset.documents.remove(doc_id);
        }
    }

    /// Removes a dataset's vectors.
    pub fn delete_dataset(&self, dataset_id: &str) {
        let mut datasets = self.datasets.write().unwrap_or_else(|p| p.into_inner());
        datasets.remove(dataset_id);
    }

    /// The `limit` chunks most similar to `query` in the given datasets, best first, scored
    /// by cosine similarity.
    pub fn search<S: AsRef<str>>(
        &self,
        datasets: &[S],
        query: &[f32],
        limit: usize,
    ) -> Result<Vec<Hit>, EmbedError> {
        let query = normalized(query.to_vec());
        let stored = self.datasets.read().unwrap_or_else(|p| p.into_inner());
        let mut scored: Vec<(f32, &str, &Chunk)> = Vec::new();
        for dataset_id in datasets {
            let Some(dataset) = stored.get(dataset_id.as_ref()) else {
                continue;
            };
            if dataset.documents.is_empty() {
                continue;
            }
            if dataset.dimensions != query.len() {
                return Err(EmbedError::DimensionMismatch {
                    expected: dataset.dimensions,
                    found: query.len(),
                });
            }
            for chunks in dataset.documents.values() {
                for (chunk, vector) in chunks {
                    // Both are unit vectors, so the dot product is the cosine.
                    let score: f32 = vector.iter().zip(&query).map(|(a, b)| a * b).sum();
                    scored.push((score, dataset_id.as_ref(), chunk));
                }
            }
        }
        scored.sort_by(|a, b| {
            b.0.total_cmp(&a.0)
                .then_with(|| a.2.chunk_id.cmp(&b.2.chunk_id))
        });
        Ok(scored
            .into_iter()
            .take(limit)
            .map(|(score, dataset_id, chunk)| Hit {
                dataset_id: dataset_id.to_owned(),
                chunk: chunk.clone(),
                score,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_of_parallel_orthogonal_and_zero_vectors() {
        assert!((cosine_similarity(&[1.0, 2.0], &[2.0, 4.0]) - 1.0).abs() < 1e-6);
        assert!(cosine_similarity(&[1.0, 0.0], &[0.0, 3.0]).abs() < 1e-6);
        assert_eq!(cosine_similarity(&[0.0, 0.0], &[1.0, 1.0]), 0.0);
    }

    #[test]
    fn retryable_statuses() {
        let status = |status| EmbedError::Status {
            url: String::new(),
            status,
            body: String::new(),
        };
        assert!(status(429).is_retryable());
        assert!(status(503).is_retryable());
        assert!(!status(400).is_retryable());
    }
}
