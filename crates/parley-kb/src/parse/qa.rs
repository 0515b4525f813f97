//! FAQ files: CSV with a header row, or JSON (an array of objects, or an object holding one
//! under `faq`, `faqs`, `items`, `pairs` or `questions`). Columns/keys are `question` and
//! `answer` (or `q` and `a`), plus optional `title` and `url`, matched case-insensitively.
//! Each pair becomes its own document so it is retrieved, cited and deleted on its own.
//! Blank rows are skipped; a row with a question but no answer (or the reverse) is an error
//! naming the row, because silently dropping half an FAQ is worse than refusing it.

use serde_json::Value;

use super::{DocBody, FileFormat, ParseError, ParsedDoc};

struct Pair {
    question: String,
    answer: String,
    title: Option<String>,
    url: Option<String>,
}

impl Pair {
    fn into_doc(self) -> ParsedDoc {
        let question = crate::text::collapse_whitespace(&self.question);
        ParsedDoc {
            title: self
                .title
                .map(|t| crate::text::collapse_whitespace(&t))
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| question.clone()),
            url: self.url.filter(|u| !u.trim().is_empty()),
            body: DocBody::QaPair {
                question,
                answer: self.answer.trim().to_owned(),
            },
        }
    }
}

/// Checks one row: `Ok(None)` for a blank row, an error for a half-filled one.
fn pair(
    question: Option<String>,
    answer: Option<String>,
    title: Option<String>,
    url: Option<String>,
    row: &str,
    file_name: &str,
    format: FileFormat,
) -> Result<Option<Pair>, ParseError> {
    let question = question.filter(|q| !q.trim().is_empty());
    let answer = answer.filter(|a| !a.trim().is_empty());
    match (question, answer) {
        (None, None) => Ok(None),
        (Some(question), Some(answer)) => Ok(Some(Pair {
            question,
            answer,
            title,
            url,
        })),
        (Some(_), None) => Err(malformed(file_name, format, format!("{row} has no answer"))),
        (None, Some(_)) => Err(malformed(
            file_name,
            format,
            format!("{row} has no question"),
        )),
    }
}

fn malformed(file_name: &str, format: FileFormat, reason: String) -> ParseError {
    ParseError::Malformed {
        file_name: file_name.to_owned(),
        format,
        reason,
    }
}

fn column_role(name: &str) -> Option<&'static str> {
    match name.trim().to_ascii_lowercase().as_str() {
        "question" | "q" => Some("question"),
        "answer" | "a" => Some("answer"),
        "title" => Some("title"),
        "url" | "link" => Some("url"),
        _ => None,
    }
}

pub(super) fn parse_csv(text: &str, file_name: &str) -> Result<Vec<ParsedDoc>, ParseError> {
    let format = FileFormat::QaCsv;
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|err| malformed(file_name, format, err.to_string()))?
        .clone();
    let find = |role: &str| headers.iter().position(|h| column_role(h) == Some(role));
    let (Some(question_col), Some(answer_col)) = (find("question"), find("answer")) else {
        return Err(malformed(
            file_name,
            format,
            "the header row needs a 'question' and an 'answer' column".to_owned(),
        ));
    };
    let (title_col, url_col) = (find("title"), find("url"));

    let mut docs = Vec::new();
    for (index, record) in reader.records().enumerate() {
        let record = record.map_err(|err| malformed(file_name, format, err.to_string()))?;
        let cell = |col: Option<usize>| col.and_then(|c| record.get(c)).map(str::to_owned);
        // Row numbers as a spreadsheet shows them: the header is row 1.
        let row = format!("row {}", index + 2);
        if let Some(pair) = pair(
            cell(Some(question_col)),
            cell(Some(answer_col)),
            cell(title_col),
            cell(url_col),
            &row,
            file_name,
            format,
        )? {
            docs.push(pair.into_doc());
        }
    }
    Ok(docs)
}

pub(super) fn parse_json(text: &str, file_name: &str) -> Result<Vec<ParsedDoc>, ParseError> {
    let format = FileFormat::QaJson;
    let value: Value =
        serde_json::from_str(text).map_err(|err| malformed(file_name, format, err.to_string()))?;
    let items = match &value {
        Value::Array(items) => items,
        Value::Object(object) => ["faq", "faqs", "items", "pairs", "questions"]
            .iter()
            .find_map(|key| object.get(*key).and_then(Value::as_array))
            .ok_or_else(|| {
                malformed(
                    file_name,
                    format,
                    "expected an array of {\"question\", \"answer\"} objects".to_owned(),
                )
            })?,
        _ => {
            return Err(malformed(
                file_name,
                format,
                "expected an array of {\"question\", \"answer\"} objects".to_owned(),
            ))
        }
    };

    let mut docs = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let row = format!("item {index}");
        let Value::Object(object) = item else {
            return Err(malformed(
                file_name,
                format,
                format!("{row} is not an object"),
            ));
        };
        let field = |role: &str| {
            object
                .iter()
                .find(|(key, _)| column_role(key) == Some(role))
                .and_then(|(_, value)| value.as_str())
                .map(str::to_owned)
        };
        if let Some(pair) = pair(
            field("question"),
            field("answer"),
            field("title"),
            field("url"),
            &row,
            file_name,
            format,
        )? {
            docs.push(pair.into_doc());
        }
    }
    Ok(docs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_become_pairs_and_half_rows_are_errors() {
        let docs = parse_csv(
            "Question,Answer,URL\n\"Do you ship abroad?\",\"Yes, to 30 countries.\",https://x.example/a\n,,\n",
            "faq.csv",
        )
        .unwrap();
        assert_eq!(docs.len(), 1);
        assert_eq!(docs[0].title, "Do you ship abroad?");
        assert_eq!(docs[0].url.as_deref(), Some("https://x.example/a"));

        let err = parse_csv("question,answer\nWhy?,\n", "faq.csv").unwrap_err();
        assert!(err.to_string().contains("row 2 has no answer"), "{err}");
        let err = parse_csv("q,text\nWhy?,Because\n", "faq.csv").unwrap_err();
        assert!(matches!(err, ParseError::Malformed { .. }));
    }

    #[test]
    fn json_accepts_an_array_or_a_wrapped_array() {
        let docs =
            parse_json(r#"[{"question":"A?","answer":"B.","title":"T"}]"#, "f.json").unwrap();
        assert_eq!(docs[0].title, "T");
        let docs = parse_json(r#"{"faq":[{"Q":"A?","A":"B."}]}"#, "f.json").unwrap();
        assert_eq!(
            docs[0].body,
            DocBody::QaPair {
                question: "A?".into(),
                answer: "B.".into()
            }
        );
        assert!(parse_json(r#"{"x":1}"#, "f.json").is_err());
        assert!(parse_json("not json", "f.json").is_err());
    }
}
