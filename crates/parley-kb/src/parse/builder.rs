//! The one place that turns a stream of "heading / text / line break / end of block" events
//! into sections of paragraphs. The Markdown and HTML readers only translate their own syntax
//! into these events, so both treat headings, lists and whitespace the same way.

use super::{DocBody, ParsedDoc, Section};

#[derive(Debug, Default)]
pub(super) struct DocBuilder {
    /// The front matter's `title:`, which no heading overrides.
    front_matter_title: Option<String>,
    /// The HTML `<title>`, used only when there is no leading H1.
    page_title: Option<String>,
    /// A leading H1, taken as the title rather than a section heading.
    title: Option<String>,
    headings: Vec<(u8, String)>,
    sections: Vec<Section>,
    paragraphs: Vec<String>,
    lines: Vec<String>,
    line: String,
    /// Whether any body text has been seen; an H1 after body text is a section heading.
    seen_body: bool,
    url: Option<String>,
}

impl DocBuilder {
    pub(super) fn set_front_matter_title(&mut self, title: &str) {
        let title = crate::text::collapse_whitespace(title);
        if !title.is_empty() {
            self.front_matter_title = Some(title);
        }
    }

    pub(super) fn set_page_title(&mut self, title: &str) {
        let title = crate::text::collapse_whitespace(title);
        if !title.is_empty() {
            self.page_title = Some(title);
        }
    }

    pub(super) fn set_url(&mut self, url: &str) {
        let url = url.trim();
        if !url.is_empty() {
            self.url = Some(url.to_owned());
        }
    }

    /// Appends inline text, collapsing whitespace runs (including newlines) to one space.
    pub(super) fn text(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        let starts_with_space = text.starts_with(char::is_whitespace);
        let ends_with_space = text.ends_with(char::is_whitespace);
        let words: Vec<&str> = text.split_whitespace().collect();
        if words.is_empty() {
            if !self.line.is_empty() && !self.line.ends_with(' ') {
                self.line.push(' ');
            }
            return;
        }
        if starts_with_space && !self.line.is_empty() && !self.line.ends_with(' ') {
            self.line.push(' ');
        }
        self.line.push_str(&words.join(" "));
        if ends_with_space {
            self.line.push(' ');
        }
    }

    /// Ends the current line; the paragraph goes on (list items, table rows, `<br>`).
    pub(super) fn line_break(&mut self) {
        let line = self.line.trim();
        if !line.is_empty() {
            self.lines.push(line.to_owned());
            self.seen_body = true;
        }
        self.line.clear();
    }

    /// Ends the current paragraph.
    pub(super) fn end_block(&mut self) {
        self.line_break();
        if !self.lines.is_empty() {
            self.paragraphs.push(self.lines.join("\n"));
            self.lines.clear();
        }
    }

    /// Starts a section under a heading of `level` (1–6).
    pub(super) fn heading(&mut self, level: u8, text: &str) {
        self.end_block();
        let text = crate::text::collapse_whitespace(text);
        if text.is_empty() {
            return;
        }
        let leading = !self.seen_body && self.title.is_none() && self.headings.is_empty();
        let matches_front_matter = self
            .front_matter_title
            .as_ref()
            .is_none_or(|title| title.eq_ignore_ascii_case(&text));
        if level == 1 && leading && matches_front_matter {
            // The document's own title, not a section of it.
            self.title = Some(text);
            return;
        }
        self.flush_section();
        while self.headings.last().is_some_and(|(l, _)| *l >= level) {
            self.headings.pop();
        }
        self.headings.push((level, text));
    }

    fn flush_section(&mut self) {
        if self.paragraphs.is_empty() {
            return;
        }
        self.sections.push(Section {
            heading_path: self.headings.iter().map(|(_, h)| h.clone()).collect(),
            paragraphs: std::mem::take(&mut self.paragraphs),
        });
    }

    pub(super) fn finish(mut self, fallback_title: String) -> ParsedDoc {
        self.end_block();
        self.flush_section();
        // Front matter wins; otherwise the leading H1; otherwise `<title>`; otherwise the file.
        let title = self
            .front_matter_title
            .or(self.title)
            .or(self.page_title)
            .unwrap_or(fallback_title);
        ParsedDoc {
            title,
            url: self.url,
            body: DocBody::Sections(self.sections),
        }
    }
}

/// A plain-text document: paragraphs split on blank lines; inside a paragraph, hard-wrapped
/// lines are joined with a space unless a line starts a list item (`-`, `*`, `•`, `1.`), so
/// text files and PDF extracts read as prose while lists keep one item per line.
pub(super) fn plain_text_doc(text: &str, title: String) -> ParsedDoc {
    let mut builder = DocBuilder::default();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            builder.end_block();
            continue;
        }
        if starts_list_item(trimmed) {
            builder.line_break();
        }
        builder.text(trimmed);
        builder.text(" ");
    }
    builder.finish(title)
}

fn starts_list_item(line: &str) -> bool {
    if line.starts_with("- ") || line.starts_with("* ") || line.starts_with('•') {
        return true;
    }
    let digits = line.chars().take_while(char::is_ascii_digit).count();
    digits > 0 && digits < 4 && matches!(line[digits..].chars().next(), Some('.' | ')'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_reflows_wrapped_lines_and_keeps_list_items() {
        let doc = plain_text_doc(
            "First line\nwrapped here.\n\n- one\n- two\n3. three\n\nLast.",
            "T".into(),
        );
        let DocBody::Sections(sections) = doc.body else {
            panic!("sections expected")
        };
        assert_eq!(sections.len(), 1);
        assert_eq!(
            sections[0].paragraphs,
            vec![
                "First line wrapped here.",
                "- one\n- two\n3. three",
                "Last."
            ]
        );
    }
}
