//! Markdown (CommonMark with tables) through pulldown-cmark. Headings open sections; list
//! items and table rows become lines of one paragraph; emphasis, links and inline code keep
//! their text and lose their markup; images and raw HTML are dropped. An optional YAML-style
//! front matter block may set `title:` and `url:`.

use pulldown_cmark::{Event, HeadingLevel, MetadataBlockKind, Options, Parser, Tag, TagEnd};

use super::builder::DocBuilder;
use super::ParsedDoc;

pub(super) fn parse_markdown(text: &str, fallback_title: String) -> ParsedDoc {
    let mut options = Options::empty();
    options.insert(Options::ENABLE_TABLES);
    options.insert(Options::ENABLE_STRIKETHROUGH);
    options.insert(Options::ENABLE_YAML_STYLE_METADATA_BLOCKS);

    let mut builder = DocBuilder::default();
    let mut heading: Option<(u8, String)> = None;
    let mut in_metadata = false;
    let mut image_depth = 0usize;
    // One entry per open list: the next item number, or `None` for a bullet list.
    let mut list_numbers: Vec<Option<u64>> = Vec::new();
    let mut cells_in_row = 0usize;

    for event in Parser::new_ext(text, options) {
        match event {
            Event::Start(Tag::MetadataBlock(MetadataBlockKind::YamlStyle)) => in_metadata = true,
            Event::End(TagEnd::MetadataBlock(_)) => in_metadata = false,
            Event::Text(t) if in_metadata => read_front_matter(&t, &mut builder),
            Event::Start(Tag::Heading { level, .. }) => {
                heading = Some((heading_level(level), String::new()));
            }
            Event::End(TagEnd::Heading(_)) => {
                if let Some((level, text)) = heading.take() {
                    builder.heading(level, &text);
                }
            }
            Event::Start(Tag::Image { .. }) => image_depth += 1,
            Event::End(TagEnd::Image) => image_depth = image_depth.saturating_sub(1),
            Event::Text(t) | Event::Code(t) if image_depth == 0 => match heading.as_mut() {
                Some((_, heading_text)) => heading_text.push_str(&t),
                None => builder.text(&t),
            },
            Event::SoftBreak => match heading.as_mut() {
                Some((_, heading_text)) => heading_text.push(' '),
                None => builder.text(" "),
            },
            Event::HardBreak => builder.line_break(),
            Event::Start(Tag::List(first_number)) => {
                builder.line_break();
                list_numbers.push(first_number);
            }
            Event::End(TagEnd::List(_)) => {
                list_numbers.pop();
                if list_numbers.is_empty() {
                    builder.end_block();
                } else {
                    builder.line_break();
                }
            }
            Event::Start(Tag::Item) => {
                builder.line_break();
                // Keep the marker: an answer cut from a list should read as a list.
                match list_numbers.last_mut() {
                    Some(Some(number)) => {
                        builder.text(&format!("{number}. "));
                        *number += 1;
                    }
                    _ => builder.text("- "),
                }
            }
            Event::End(TagEnd::Item) => builder.line_break(),
            // Inside a list a paragraph is a line of the list, not a paragraph of its own.
            Event::End(TagEnd::Paragraph) if !list_numbers.is_empty() => builder.line_break(),
            Event::Start(Tag::TableHead | Tag::TableRow) => cells_in_row = 0,
            Event::Start(Tag::TableCell) => {
                if cells_in_row > 0 {
                    builder.text(" | ");
                }
                cells_in_row += 1;
            }
            Event::End(TagEnd::TableHead | TagEnd::TableRow) => {
                builder.line_break();
            }
            Event::Start(Tag::CodeBlock(_)) => builder.end_block(),
            Event::End(
                TagEnd::Paragraph
                | TagEnd::CodeBlock
                | TagEnd::Table
                | TagEnd::BlockQuote(_)
                | TagEnd::HtmlBlock
                | TagEnd::FootnoteDefinition
                | TagEnd::DefinitionList,
            ) => builder.end_block(),
            Event::End(TagEnd::DefinitionListTitle | TagEnd::DefinitionListDefinition) => {
                builder.line_break();
            }
            _ => {}
        }
    }
    builder.finish(fallback_title)
}

fn heading_level(level: HeadingLevel) -> u8 {
    match level {
        HeadingLevel::H1 => 1,
        HeadingLevel::H2 => 2,
        HeadingLevel::H3 => 3,
        HeadingLevel::H4 => 4,
        HeadingLevel::H5 => 5,
        HeadingLevel::H6 => 6,
    }
}

/// Reads `title:` and `url:` from front matter; other keys are ignored. Not a YAML parser:
/// one `key: value` per line, optional quotes.
fn read_front_matter(block: &str, builder: &mut DocBuilder) {
    for line in block.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim().trim_matches(|c| c == '"' || c == '\'');
        match key.trim().to_ascii_lowercase().as_str() {
            "title" => builder.set_front_matter_title(value),
            "url" => builder.set_url(value),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::DocBody;
    use super::*;

    fn sections(doc: &ParsedDoc) -> Vec<(Vec<String>, Vec<String>)> {
        match &doc.body {
            DocBody::Sections(s) => s
                .iter()
                .map(|s| (s.heading_path.clone(), s.paragraphs.clone()))
                .collect(),
            DocBody::QaPair { .. } => panic!("sections expected"),
        }
    }

    #[test]
    fn headings_nest_and_the_leading_h1_is_the_title() {
        let doc = parse_markdown(
            "# Returns\n\nIntro *text*.\n\n## Window\n\nThirty days.\n\n### Sale items\n\nFinal.\n\n## How to\n\n1. Log in\n2. Click **Return**\n",
            "fallback".into(),
        );
        assert_eq!(doc.title, "Returns");
        assert_eq!(
            sections(&doc),
            vec![
                (vec![], vec!["Intro text.".to_owned()]),
                (vec!["Window".to_owned()], vec!["Thirty days.".to_owned()]),
                (
                    vec!["Window".to_owned(), "Sale items".to_owned()],
                    vec!["Final.".to_owned()]
                ),
                (
                    vec!["How to".to_owned()],
                    vec!["1. Log in\n2. Click Return".to_owned()]
                ),
            ]
        );
    }

    #[test]
    fn front_matter_sets_title_and_url_and_tables_become_lines() {
        let doc = parse_markdown(
            "---\ntitle: Shipping\nurl: https://help.example/shipping\n---\n\n| Method | Days |\n|---|---|\n| Standard | 3-5 |\n",
            "fallback".into(),
        );
        assert_eq!(doc.title, "Shipping");
        assert_eq!(doc.url.as_deref(), Some("https://help.example/shipping"));
        assert_eq!(
            sections(&doc),
            vec![(vec![], vec!["Method | Days\nStandard | 3-5".to_owned()])]
        );
    }
}
