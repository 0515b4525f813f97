//! HTML through scraper (html5ever, the browser-grade parser). Reads `<main>` when the page
//! has one (else the single `<article>`, else `<body>`), skips scripts, styles, navigation,
//! forms and embedded media, keeps `h1`–`h6` as section headings and block elements as
//! paragraph breaks. `<title>` and `<link rel="canonical">` give the title and URL.

use ego_tree::NodeRef;
use scraper::{ElementRef, Html, Node, Selector};

use super::builder::DocBuilder;
use super::ParsedDoc;

/// Elements whose content is never document text.
const SKIPPED: &[&str] = &[
    "script", "style", "noscript", "template", "nav", "svg", "iframe", "object", "embed", "canvas",
    "form", "button", "select", "textarea", "head", "video", "audio", "picture",
];

/// Elements that end a paragraph before and after themselves.
const BLOCKS: &[&str] = &[
    "p",
    "div",
    "section",
    "article",
    "main",
    "header",
    "footer",
    "aside",
    "ul",
    "ol",
    "dl",
    "table",
    "thead",
    "tbody",
    "tfoot",
    "blockquote",
    "pre",
    "figure",
    "figcaption",
    "address",
    "details",
    "summary",
    "hr",
    "fieldset",
];

/// Elements that are one line of a paragraph (a list item, a table row).
const LINES: &[&str] = &["li", "tr", "dt", "dd", "caption"];

pub(super) fn parse_html(text: &str, fallback_title: String) -> ParsedDoc {
    let html = Html::parse_document(text);
    let mut builder = DocBuilder::default();

    if let Some(title) = first(&html, "head > title") {
        builder.set_page_title(&title.text().collect::<String>());
    }
    if let Some(href) = first(&html, "link[rel=canonical]").and_then(|link| link.attr("href")) {
        if href.starts_with("http://") || href.starts_with("https://") {
            builder.set_url(href);
        }
    }

    let root = first(&html, "main")
        .or_else(|| single(&html, "article"))
        .or_else(|| first(&html, "body"))
        .unwrap_or_else(|| html.root_element());
    walk(*root, &mut builder);
    builder.finish(fallback_title)
}

fn walk(node: NodeRef<'_, Node>, builder: &mut DocBuilder) {
    match node.value() {
        Node::Text(text) => builder.text(text),
        Node::Element(element) => {
            let name = element.name();
            if SKIPPED.contains(&name) || element.attr("hidden").is_some() {
                return;
            }
            if let Some(level) = heading_level(name) {
                let text: String = ElementRef::wrap(node)
                    .map(|e| e.text().collect::<String>())
                    .unwrap_or_default();
                builder.heading(level, &text);
                return;
            }
            if name == "br" {
                builder.line_break();
                return;
            }
            let block = BLOCKS.contains(&name);
            let line = LINES.contains(&name);
            if block {
                builder.end_block();
            } else if line {
                builder.line_break();
                if name == "li" {
                    builder.text(&list_marker(node));
                }
            } else if matches!(name, "td" | "th")
                && node.prev_siblings().any(|s| {
                    s.value()
                        .as_element()
                        .is_some_and(|e| matches!(e.name(), "td" | "th"))
                })
            {
                builder.text(" | ");
            }
            for child in node.children() {
                walk(child, builder);
            }
            if block {
                builder.end_block();
            } else if line {
                builder.line_break();
            }
        }
        _ => {}
    }
}

/// `- ` in a bullet list, `n. ` for the n-th item of an `<ol>`.
fn list_marker(item: NodeRef<'_, Node>) -> String {
    let ordered = item
        .parent()
        .and_then(|parent| parent.value().as_element().map(|e| e.name() == "ol"))
        .unwrap_or(false);
    if !ordered {
        return "- ".to_owned();
    }
    let number = item
        .prev_siblings()
        .filter(|sibling| {
            sibling
                .value()
                .as_element()
                .is_some_and(|e| e.name() == "li")
        })
        .count()
        + 1;
    format!("{number}. ")
}

fn heading_level(name: &str) -> Option<u8> {
    match name {
        "h1" => Some(1),
        "h2" => Some(2),
        "h3" => Some(3),
        "h4" => Some(4),
        "h5" => Some(5),
        "h6" => Some(6),
        _ => None,
    }
}

fn first<'a>(html: &'a Html, selector: &str) -> Option<ElementRef<'a>> {
    let selector = Selector::parse(selector).ok()?;
    html.select(&selector).next()
}

fn single<'a>(html: &'a Html, selector: &str) -> Option<ElementRef<'a>> {
    let selector = Selector::parse(selector).ok()?;
    let mut found = html.select(&selector);
    let one = found.next()?;
    found.next().is_none().then_some(one)
}

#[cfg(test)]
mod tests {
    use super::super::DocBody;
    use super::*;

    #[test]
    fn strips_chrome_and_keeps_headings() {
        let doc = parse_html(
            r#"<html><head><title>Help | Shop</title><style>p{}</style>
            <link rel="canonical" href="https://help.example/returns"></head>
            <body><nav><a href="/">Home</a></nav>
            <main><h1>Returns</h1><p>Send it   back
            within <b>30 days</b>.</p><script>alert(1)</script>
            <h2>Steps</h2><ul><li>Log in</li><li>Click return</li></ul>
            <table><tr><th>Item</th><th>Fee</th></tr><tr><td>Shoes</td><td>$0</td></tr></table>
            </main><footer>© Shop</footer></body></html>"#,
            "fallback".into(),
        );
        assert_eq!(doc.title, "Returns");
        assert_eq!(doc.url.as_deref(), Some("https://help.example/returns"));
        let DocBody::Sections(sections) = doc.body else {
            panic!("sections expected")
        };
        assert_eq!(sections.len(), 2);
        assert_eq!(sections[0].heading_path, Vec::<String>::new());
        assert_eq!(sections[0].paragraphs, vec!["Send it back within 30 days."]);
        assert_eq!(sections[1].heading_path, vec!["Steps"]);
        assert_eq!(
            sections[1].paragraphs,
            vec!["- Log in\n- Click return", "Item | Fee\nShoes | $0"]
        );
    }

    #[test]
    fn falls_back_to_the_page_title_and_body() {
        let doc = parse_html(
            "<title>Contact us</title><p>Call us.</p>",
            "fallback".into(),
        );
        assert_eq!(doc.title, "Contact us");
    }
}
