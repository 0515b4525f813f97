//! Turning uploaded bytes into documents: the format is chosen from the file name (then the
//! content type), each format has its own reader, and all of them produce [`ParsedDoc`]s —
//! a title, an optional URL and either headed sections of paragraphs or one Q&A pair. The
//! distinct error variants let the HTTP layer answer 415 (type), 413 (size) and 422 (content)
//! without parsing error strings, and let a bulk import report one bad file and go on.

mod builder;
mod html;
mod markdown;
mod pdf;
mod qa;

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use builder::plain_text_doc;

/// A document ready for chunking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParsedDoc {
    /// The document's title: its first `# heading` / `<h1>`, a front-matter or `<title>`
    /// value, or the file name without its extension.
    pub title: String,
    /// Where the document lives, when known (front matter `url:`, `<link rel="canonical">`,
    /// a CSV/JSON `url` column, or set by the caller for a fetched page).
    pub url: Option<String>,
    /// The content.
    pub body: DocBody,
}

/// What a document contains.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
// Adjacently tagged: an internally tagged enum cannot hold `Sections`' sequence.
#[serde(rename_all = "snake_case", tag = "kind", content = "content")]
pub enum DocBody {
    /// Prose under headings, in reading order.
    Sections(Vec<Section>),
    /// One question and its answer, from a CSV or JSON FAQ. Chunked whole, never split.
    QaPair {
        /// The question, on one line.
        question: String,
        /// The answer.
        answer: String,
    },
}

/// The paragraphs under one heading.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Section {
    /// The headings above this section, outermost first, without the document title.
    /// Empty for text before the first heading.
    pub heading_path: Vec<String>,
    /// Paragraphs with whitespace collapsed. A `\n` inside a paragraph separates lines that
    /// must stay apart (list items, table rows).
    pub paragraphs: Vec<String>,
}

impl ParsedDoc {
    /// A document from a title and plain text, as posted by the records API: paragraphs are
    /// separated by blank lines, lines inside a paragraph are joined unless they look like
    /// list items.
    pub fn from_text(title: impl Into<String>, text: &str, url: Option<String>) -> Self {
        let mut doc = plain_text_doc(text, title.into());
        doc.url = url;
        doc
    }

    /// The document as plain text: title, headings and paragraphs separated by blank lines.
    /// What a record's text looks like to a reader; not meant to be parsed back.
    pub fn plain_text(&self) -> String {
        let mut out = self.title.clone();
        match &self.body {
            DocBody::Sections(sections) => {
                let mut last_path: &[String] = &[];
                for section in sections {
                    if section.heading_path.as_slice() != last_path {
                        if let Some(heading) = section.heading_path.last() {
                            out.push_str("\n\n");
                            out.push_str(heading);
                        }
                        last_path = &section.heading_path;
                    }
                    for paragraph in &section.paragraphs {
                        out.push_str("\n\n");
                        out.push_str(paragraph);
                    }
                }
            }
            DocBody::QaPair { question, answer } => {
                if *question != self.title {
                    out.push_str("\n\n");
                    out.push_str(question);
                }
                out.push_str("\n\n");
                out.push_str(answer);
            }
        }
        out
    }
}

/// The formats [`parse`] understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileFormat {
    /// `.txt`, `text/plain`.
    PlainText,
    /// `.md`, `.markdown`, `text/markdown`.
    Markdown,
    /// `.html`, `.htm`, `text/html`.
    Html,
    /// `.pdf`, `application/pdf`.
    Pdf,
    /// `.csv`, `text/csv`: Q&A pairs, one per row.
    QaCsv,
    /// `.json`, `application/json`: Q&A pairs, an array of objects.
    QaJson,
}

impl fmt::Display for FileFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileFormat::PlainText => "plain text",
            FileFormat::Markdown => "Markdown",
            FileFormat::Html => "HTML",
            FileFormat::Pdf => "PDF",
            FileFormat::QaCsv => "Q&A CSV",
            FileFormat::QaJson => "Q&A JSON",
        })
    }
}

impl FileFormat {
    /// The format of a file, from its extension first and then its content type, because
    /// browsers and `curl -F` often send `application/octet-stream` for everything.
    pub fn detect(file_name: &str, content_type: Option<&str>) -> Result<Self, ParseError> {
        let extension = Path::new(file_name)
            .extension()
            .and_then(|ext| ext.to_str())
            .map(str::to_ascii_lowercase);
        let by_extension = match extension.as_deref() {
            Some("txt" | "text") => Some(FileFormat::PlainText),
            Some("md" | "markdown" | "mdown") => Some(FileFormat::Markdown),
            Some("html" | "htm" | "xhtml") => Some(FileFormat::Html),
            Some("pdf") => Some(FileFormat::Pdf),
            Some("csv") => Some(FileFormat::QaCsv),
            Some("json") => Some(FileFormat::QaJson),
            _ => None,
        };
        let essence = content_type
            .and_then(|ct| ct.split(';').next())
            .map(|ct| ct.trim().to_ascii_lowercase());
        let by_content_type = match essence.as_deref() {
            Some("text/plain") => Some(FileFormat::PlainText),
            Some("text/markdown" | "text/x-markdown") => Some(FileFormat::Markdown),
            Some("text/html" | "application/xhtml+xml") => Some(FileFormat::Html),
            Some("application/pdf") => Some(FileFormat::Pdf),
            Some("text/csv") => Some(FileFormat::QaCsv),
            Some("application/json") => Some(FileFormat::QaJson),
            _ => None,
        };
        by_extension
            .or(by_content_type)
            .ok_or_else(|| ParseError::UnsupportedType {
                file_name: file_name.to_owned(),
                content_type: content_type.map(str::to_owned),
            })
    }
}

/// Limits applied before any parsing work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseLimits {
    /// Largest accepted input, in bytes.
    pub max_bytes: usize,
}

impl Default for ParseLimits {
    /// 10 MiB: a long PDF manual fits, a mistaken video upload does not.
    fn default() -> Self {
        Self {
            max_bytes: 10 * 1024 * 1024,
        }
    }
}

/// Why a file could not become documents.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// Neither the extension nor the content type is a supported format (HTTP 415).
    #[error(
        "unsupported file type for {file_name:?} (content type {content_type:?}): \
         expected .txt, .md, .html, .pdf, or .csv/.json of Q&A pairs"
    )]
    UnsupportedType {
        /// The file name as given.
        file_name: String,
        /// The content type as given.
        content_type: Option<String>,
    },
    /// The input is over [`ParseLimits::max_bytes`] (HTTP 413).
    #[error("{file_name:?} is {size} bytes, over the limit of {limit} bytes")]
    TooLarge {
        /// The file name as given.
        file_name: String,
        /// Its size in bytes.
        size: usize,
        /// The limit it broke.
        limit: usize,
    },
    /// The bytes are not a valid file of the format (HTTP 422).
    #[error("{file_name:?} is not valid {format}: {reason}")]
    Malformed {
        /// The file name as given.
        file_name: String,
        /// The format it was read as.
        format: FileFormat,
        /// What was wrong, for the user.
        reason: String,
    },
    /// The file is valid but holds no text (an image-only PDF, an empty page) (HTTP 422).
    #[error("{file_name:?} contains no text to index")]
    NoText {
        /// The file name as given.
        file_name: String,
    },
}

/// Parses one uploaded file into documents: one for text, Markdown, HTML and PDF; one per
/// pair for Q&A CSV and JSON. The format comes from [`FileFormat::detect`].
pub fn parse(
    bytes: &[u8],
    file_name: &str,
    content_type: Option<&str>,
    limits: &ParseLimits,
) -> Result<Vec<ParsedDoc>, ParseError> {
    let format = FileFormat::detect(file_name, content_type)?;
    parse_as(format, bytes, file_name, limits)
}

/// Parses `bytes` as `format`, for callers that already know it (a fetched URL is HTML).
/// `file_name` names the input in errors and gives the fallback title.
pub fn parse_as(
    format: FileFormat,
    bytes: &[u8],
    file_name: &str,
    limits: &ParseLimits,
) -> Result<Vec<ParsedDoc>, ParseError> {
    if bytes.len() > limits.max_bytes {
        return Err(ParseError::TooLarge {
            file_name: file_name.to_owned(),
            size: bytes.len(),
            limit: limits.max_bytes,
        });
    }
    let fallback_title = title_from_file_name(file_name);
    let docs = match format {
        FileFormat::PlainText => {
            let text = utf8(bytes, file_name, format)?;
            vec![plain_text_doc(text, fallback_title)]
        }
        FileFormat::Markdown => {
            let text = utf8(bytes, file_name, format)?;
            vec![markdown::parse_markdown(text, fallback_title)]
        }
        FileFormat::Html => {
            let text = utf8_lossy_html(bytes);
            vec![html::parse_html(&text, fallback_title)]
        }
        FileFormat::Pdf => vec![pdf::parse_pdf(bytes, file_name, fallback_title)?],
        FileFormat::QaCsv => qa::parse_csv(utf8(bytes, file_name, format)?, file_name)?,
        FileFormat::QaJson => qa::parse_json(utf8(bytes, file_name, format)?, file_name)?,
    };
    let docs: Vec<ParsedDoc> = docs.into_iter().filter(has_text).collect();
    if docs.is_empty() {
        return Err(ParseError::NoText {
            file_name: file_name.to_owned(),
        });
    }
    Ok(docs)
}

fn has_text(doc: &ParsedDoc) -> bool {
    match &doc.body {
        DocBody::Sections(sections) => sections.iter().any(|s| !s.paragraphs.is_empty()),
        DocBody::QaPair { answer, .. } => !answer.trim().is_empty(),
    }
}

/// `shipping-policy_v2.md` → `shipping policy v2`.
fn title_from_file_name(file_name: &str) -> String {
    let base = Path::new(file_name)
        .file_stem()
        .and_then(|stem| stem.to_str())
        .unwrap_or(file_name);
    let title = base.replace(['-', '_'], " ");
    let title = title.trim();
    if title.is_empty() {
        "Untitled".to_owned()
    } else {
        title.to_owned()
    }
}

fn utf8<'a>(bytes: &'a [u8], file_name: &str, format: FileFormat) -> Result<&'a str, ParseError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    std::str::from_utf8(bytes).map_err(|err| ParseError::Malformed {
        file_name: file_name.to_owned(),
        format,
        reason: format!("not UTF-8 text ({err})"),
    })
}

/// HTML from the web is often mislabelled; a stray byte should not reject a whole page.
fn utf8_lossy_html(bytes: &[u8]) -> String {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    String::from_utf8_lossy(bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_comes_from_extension_then_content_type() {
        assert_eq!(
            FileFormat::detect("a.MD", Some("application/octet-stream")).unwrap(),
            FileFormat::Markdown
        );
        assert_eq!(
            FileFormat::detect("upload", Some("text/html; charset=utf-8")).unwrap(),
            FileFormat::Html
        );
        assert!(matches!(
            FileFormat::detect("photo.png", Some("image/png")),
            Err(ParseError::UnsupportedType { .. })
        ));
    }

    #[test]
    fn oversize_input_is_refused_before_parsing() {
        let err = parse(b"hello world", "a.txt", None, &ParseLimits { max_bytes: 5 }).unwrap_err();
        assert!(matches!(
            err,
            ParseError::TooLarge {
                size: 11,
                limit: 5,
                ..
            }
        ));
    }

    #[test]
    fn empty_file_has_no_text() {
        let err = parse(b"  \n\n ", "a.txt", None, &ParseLimits::default()).unwrap_err();
        assert!(matches!(err, ParseError::NoText { .. }));
    }

    #[test]
    fn documents_round_trip_through_json() {
        let docs = parse(
            b"# Title\n\n## A\n\nText.",
            "a.md",
            None,
            &ParseLimits::default(),
        )
        .unwrap();
        let json = serde_json::to_string(&docs[0]).unwrap();
        assert_eq!(serde_json::from_str::<ParsedDoc>(&json).unwrap(), docs[0]);
        let pair = ParsedDoc {
            title: "Q".into(),
            url: None,
            body: DocBody::QaPair {
                question: "Q".into(),
                answer: "A".into(),
            },
        };
        let json = serde_json::to_string(&pair).unwrap();
        assert_eq!(serde_json::from_str::<ParsedDoc>(&json).unwrap(), pair);
    }

    #[test]
    fn titles_come_from_file_names() {
        assert_eq!(
            title_from_file_name("dir/shipping-policy_v2.md"),
            "shipping policy v2"
        );
    }
}
