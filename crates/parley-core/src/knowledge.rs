//! The knowledge base's domain: datasets (named collections of documents a bot answers
//! from), their records (the documents), what a search returns, and the citation a reply
//! carries in `meta.sources`. Parsing, chunking and retrieval live in `parley-kb`; this
//! module holds only the types every layer speaks and the validation of their input.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::validation::ValidationError;

pub const MAX_DATASET_NAME_CHARS: usize = 100;
pub const MAX_DATASET_DESCRIPTION_CHARS: usize = 2000;
pub const MAX_RECORD_TITLE_CHARS: usize = 500;
pub const MAX_URL_CHARS: usize = 2048;
/// Results a search may ask for.
pub const MAX_SEARCH_LIMIT: usize = 50;
pub const DEFAULT_SEARCH_LIMIT: usize = 5;
pub const MAX_QUERY_CHARS: usize = 1000;
/// The longest upload file name kept, in characters (the extension is kept whole).
pub const MAX_FILE_NAME_CHARS: usize = 200;

/// An uploaded file's name as stored: its base name only (whatever follows the last `/`
/// or `\\`), without control characters, at most [`MAX_FILE_NAME_CHARS`] characters
/// with its extension kept (so the type is still known); `upload` if nothing is left.
/// `../../etc/passwd\0.txt` becomes `passwd.txt`.
pub fn safe_file_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let base: String = base.chars().filter(|c| !c.is_control()).collect();
    let base = base.trim();
    if base.is_empty() || base == "." || base == ".." {
        return "upload".to_string();
    }
    if base.chars().count() <= MAX_FILE_NAME_CHARS {
        return base.to_string();
    }
    let ext = base
        .rsplit_once('.')
        .map(|(_, ext)| ext)
        .filter(|ext| (1..=16).contains(&ext.chars().count()));
    match ext {
        Some(ext) => {
            let stem: String = base
                .chars()
                .take(MAX_FILE_NAME_CHARS - ext.chars().count() - 1)
                .collect();
            format!("{}.{ext}", stem.trim_end())
        }
        None => base.chars().take(MAX_FILE_NAME_CHARS).collect(),
    }
}

/// A named collection of documents.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Dataset {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    /// How many records (documents) it holds.
    pub records: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `POST /datasets` and `PUT /datasets/{id}` (where every field is optional).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DatasetInput {
    /// 1 to 100 characters, not only spaces (required to create).
    #[cfg_attr(
        feature = "openapi",
        schema(min_length = 1, max_length = 100, pattern = r"\S")
    )]
    pub name: Option<String>,
    #[cfg_attr(feature = "openapi", schema(max_length = 2000))]
    pub description: Option<String>,
}

/// A dataset's name and description, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetSpec {
    pub name: String,
    pub description: String,
}

impl DatasetInput {
    /// For creation: `name` is required.
    pub fn parse_new(self) -> Result<DatasetSpec, ValidationError> {
        if self.name.is_none() {
            return Err(ValidationError::single("name", "a dataset needs a name"));
        }
        self.apply(&DatasetSpec {
            name: String::new(),
            description: String::new(),
        })
    }

    /// For update: only the fields given change.
    pub fn apply(self, current: &DatasetSpec) -> Result<DatasetSpec, ValidationError> {
        let (name, description) = crate::validation::name_and_description(
            self.name,
            self.description,
            (&current.name, &current.description),
            MAX_DATASET_NAME_CHARS,
            MAX_DATASET_DESCRIPTION_CHARS,
        )?;
        Ok(DatasetSpec { name, description })
    }
}

/// A document of a dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Record {
    pub id: Uuid,
    pub dataset_id: Uuid,
    pub title: String,
    /// The document as plain text (headings and paragraphs separated by blank lines).
    pub text: String,
    pub url: Option<String>,
    /// SHA-256 (hex) of the uploaded file, fetched page or posted text.
    pub content_hash: String,
    /// The file (or URL) it came from; one CSV/JSON file of Q&A pairs gives a record per pair.
    pub source_file: Option<String>,
    /// How many chunks it was cut into.
    pub chunks: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `POST /datasets/{id}/records` as JSON: `{"title", "text", "url"?}` adds a document,
/// `{"url"}` alone fetches the page once. `PUT /datasets/{id}/records/{record_id}` takes
/// any of the three fields and changes only those.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecordInput {
    pub title: Option<String>,
    pub text: Option<String>,
    /// Where the document lives (cited with answers); alone, the page to fetch.
    pub url: Option<String>,
}

/// What a valid [`RecordInput`] asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NewRecord {
    /// A document given in full.
    Text {
        title: String,
        text: String,
        url: Option<String>,
    },
    /// A page to fetch and turn into a document.
    Fetch { url: String },
}

/// A valid record update: the fields to change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordPatch {
    pub title: Option<String>,
    pub text: Option<String>,
    /// `Some(None)` clears the URL (an empty string was sent).
    pub url: Option<Option<String>>,
}

impl RecordInput {
    /// For creation: a title and a text, or a URL alone.
    pub fn parse_new(self) -> Result<NewRecord, ValidationError> {
        let mut errors = ValidationError::new();
        let url = check_url(&mut errors, self.url);
        match (self.title, self.text) {
            (None, None) => match url {
                Some(url) => errors.into_result(NewRecord::Fetch { url }),
                None => {
                    errors.push(
                        "text",
                        "send `title` and `text`, or a `url` to fetch, or upload a file as multipart/form-data",
                    );
                    Err(errors)
                }
            },
            (title, text) => {
                let title = check_title(&mut errors, title.unwrap_or_default());
                let text = text.unwrap_or_default();
                if text.trim().is_empty() {
                    errors.push("text", "cannot be empty");
                }
                errors.into_result(NewRecord::Text { title, text, url })
            }
        }
    }

    /// For update: only the fields given change.
    pub fn parse_patch(self) -> Result<RecordPatch, ValidationError> {
        let mut errors = ValidationError::new();
        let url = self.url.map(|u| {
            if u.trim().is_empty() {
                None
            } else {
                check_url(&mut errors, Some(u))
            }
        });
        let title = self.title.map(|t| check_title(&mut errors, t));
        if let Some(text) = &self.text {
            if text.trim().is_empty() {
                errors.push("text", "cannot be empty");
            }
        }
        errors.into_result(RecordPatch {
            title,
            text: self.text,
            url,
        })
    }
}

fn check_title(errors: &mut ValidationError, title: String) -> String {
    let title = title.trim().to_string();
    let n = title.chars().count();
    if n == 0 || n > MAX_RECORD_TITLE_CHARS {
        errors.push("title", format!("1 to {MAX_RECORD_TITLE_CHARS} characters"));
    }
    title
}

fn check_url(errors: &mut ValidationError, url: Option<String>) -> Option<String> {
    let url = url?.trim().to_string();
    let lower = url.to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://"))
        || url.len() > MAX_URL_CHARS
        || url.contains(char::is_whitespace)
    {
        errors.push(
            "url",
            format!("an http:// or https:// address of at most {MAX_URL_CHARS} characters"),
        );
    }
    Some(url)
}

/// `POST /datasets/{id}/search`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SearchInput {
    #[cfg_attr(
        feature = "openapi",
        schema(min_length = 1, max_length = 1000, pattern = r"\S")
    )]
    pub query: String,
    /// 1–50, default 5.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 50))]
    pub limit: Option<usize>,
}

/// A search, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    pub query: String,
    pub limit: usize,
}

impl SearchInput {
    pub fn parse(self) -> Result<SearchQuery, ValidationError> {
        let mut errors = ValidationError::new();
        let query = self.query.trim().to_string();
        let n = query.chars().count();
        if n == 0 || n > MAX_QUERY_CHARS {
            errors.push("query", format!("1 to {MAX_QUERY_CHARS} characters"));
        }
        let limit = self.limit.unwrap_or(DEFAULT_SEARCH_LIMIT);
        if !(1..=MAX_SEARCH_LIMIT).contains(&limit) {
            errors.push("limit", format!("1 to {MAX_SEARCH_LIMIT}"));
        }
        errors.into_result(SearchQuery { query, limit })
    }
}

/// One chunk found by a search, best first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SearchHit {
    pub dataset_id: Uuid,
    pub record_id: Uuid,
    pub chunk_id: String,
    /// The document's title.
    pub title: String,
    pub url: Option<String>,
    /// The headings above the chunk, outermost first.
    pub heading_path: Vec<String>,
    pub text: String,
    /// BM25 score, or with embeddings configured the reciprocal-rank-fusion score of the
    /// BM25 and dense rankings: higher is better; comparable only within one result list.
    pub score: f32,
    /// Which retrievers ranked this chunk: `bm25`, `dense` or both.
    #[serde(default)]
    pub retrievers: Vec<Retriever>,
}

/// A way the knowledge base finds chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Retriever {
    /// Keyword search (tantivy BM25).
    Bm25,
    /// Similarity of embeddings from the configured embeddings endpoint.
    Dense,
}

/// A citation: where a knowledge answer (or an AI reply built on retrieved chunks) came
/// from. Carried in `meta.sources`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KnowledgeSource {
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    pub chunk_id: String,
    pub dataset_id: Uuid,
    pub record_id: Uuid,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn upload_file_names_keep_only_a_bounded_base_name() {
        assert_eq!(safe_file_name("../../etc/passwd\u{0}.txt"), "passwd.txt");
        assert_eq!(safe_file_name("C:\\Users\\ada\\faq.md"), "faq.md");
        assert_eq!(safe_file_name("guide.pdf"), "guide.pdf");
        assert_eq!(safe_file_name("a\u{1b}[31mb.txt"), "a[31mb.txt");
        assert_eq!(safe_file_name(".."), "upload");
        assert_eq!(safe_file_name("dir/"), "upload");
        let long = format!("{}.html", "x".repeat(500));
        let kept = safe_file_name(&long);
        assert_eq!(kept.chars().count(), MAX_FILE_NAME_CHARS);
        assert!(kept.ends_with("x.html"), "{kept}");
        assert_eq!(
            safe_file_name(&"y".repeat(300)).chars().count(),
            MAX_FILE_NAME_CHARS
        );
    }

    #[test]
    fn a_record_is_text_with_a_title_or_a_url_alone() {
        let text = RecordInput {
            title: Some(" Refunds ".into()),
            text: Some("Five days.".into()),
            url: None,
        };
        assert_eq!(
            text.parse_new().unwrap(),
            NewRecord::Text {
                title: "Refunds".into(),
                text: "Five days.".into(),
                url: None
            }
        );
        let fetch = RecordInput {
            url: Some("https://example.com/help".into()),
            ..Default::default()
        };
        assert_eq!(
            fetch.parse_new().unwrap(),
            NewRecord::Fetch {
                url: "https://example.com/help".into()
            }
        );
        let err = RecordInput::default().parse_new().unwrap_err();
        assert_eq!(err.errors[0].field, "text");
        let err = RecordInput {
            text: Some("no title".into()),
            url: Some("ftp://x".into()),
            ..Default::default()
        }
        .parse_new()
        .unwrap_err();
        let fields: Vec<_> = err.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["url", "title"]);
    }

    #[test]
    fn search_limits_are_checked() {
        let q = SearchInput {
            query: " refunds ".into(),
            limit: None,
        }
        .parse()
        .unwrap();
        assert_eq!(
            (q.query.as_str(), q.limit),
            ("refunds", DEFAULT_SEARCH_LIMIT)
        );
        let err = SearchInput {
            query: " ".into(),
            limit: Some(0),
        }
        .parse()
        .unwrap_err();
        assert_eq!(err.errors.len(), 2);
    }
}
