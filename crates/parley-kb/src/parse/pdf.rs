//! PDF text through pdf-extract (pure Rust, on lopdf; handles the common font encodings).
//! The extracted text is read like a plain-text file: PDFs carry no heading structure we can
//! trust, so a PDF is one section of reflowed paragraphs. pdf-extract still panics on some
//! malformed files; the panic is caught here and reported as a malformed file so that one
//! bad PDF does not end an import of many.

use std::panic::{self, AssertUnwindSafe};

use super::builder::plain_text_doc;
use super::{FileFormat, ParseError, ParsedDoc};

pub(super) fn parse_pdf(
    bytes: &[u8],
    file_name: &str,
    fallback_title: String,
) -> Result<ParsedDoc, ParseError> {
    let malformed = |reason: String| ParseError::Malformed {
        file_name: file_name.to_owned(),
        format: FileFormat::Pdf,
        reason,
    };
    let extracted = panic::catch_unwind(AssertUnwindSafe(|| {
        pdf_extract::extract_text_from_mem(bytes)
    }))
    .map_err(|_| malformed("the PDF reader could not make sense of the file".to_owned()))?
    .map_err(|err| malformed(err.to_string()))?;
    // pdf-extract separates pages with form feeds and may emit stray NULs.
    let text = extracted.replace(['\u{c}', '\0'], "\n");
    Ok(plain_text_doc(&text, fallback_title))
}
