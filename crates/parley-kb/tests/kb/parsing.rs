use parley_kb::{parse, DocBody, ParseError, ParseLimits, ParsedDoc, Section};

use crate::fixture;

fn one(name: &str) -> ParsedDoc {
    let mut docs = parse(&fixture(name), name, None, &ParseLimits::default()).unwrap();
    assert_eq!(docs.len(), 1, "{name} should be one document");
    docs.remove(0)
}

fn sections(doc: &ParsedDoc) -> &[Section] {
    match &doc.body {
        DocBody::Sections(sections) => sections,
        DocBody::QaPair { .. } => panic!("{} should have sections", doc.title),
    }
}

fn path(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|p| (*p).to_owned()).collect()
}

#[test]
fn plain_text_reflows_paragraphs_and_keeps_list_lines() {
    let doc = one("notes.txt");
    assert_eq!(doc.title, "notes");
    assert_eq!(
        sections(&doc)[0].paragraphs,
        vec![
            "Warehouse notes",
            "Orders placed before 2pm are packed the same day. Packing uses recycled cardboard wherever possible.",
            "- Fragile items get double boxing\n- Glassware is wrapped in paper",
        ]
    );
}

#[test]
fn markdown_headings_become_heading_paths() {
    let doc = one("guide.md");
    assert_eq!(doc.title, "Delivery guide");
    assert_eq!(doc.url.as_deref(), Some("https://help.example/guide"));
    let got: Vec<(Vec<String>, Vec<String>)> = sections(&doc)
        .iter()
        .map(|s| (s.heading_path.clone(), s.paragraphs.clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                path(&[]),
                vec!["Everything about getting your parcel.".to_owned()]
            ),
            (
                path(&["Costs"]),
                vec!["Standard delivery costs £3.95. It is free over £50.".to_owned()]
            ),
            (
                path(&["Times", "UK"]),
                vec!["Three to five working days.".to_owned()]
            ),
            (
                path(&["Times", "Europe"]),
                vec!["Five to eight working days.".to_owned()]
            ),
        ]
    );
}

#[test]
fn html_drops_scripts_styles_and_navigation_and_keeps_headings() {
    let doc = one("page.html");
    assert_eq!(doc.title, "Gift cards");
    assert_eq!(doc.url.as_deref(), Some("https://help.example/gift-cards"));
    let text = doc.plain_text();
    for absent in ["analytics", "font-family", "Home", "© Northwind"] {
        assert!(!text.contains(absent), "{absent:?} leaked into {text:?}");
    }
    let sections = sections(&doc);
    assert_eq!(
        sections[0].paragraphs,
        vec!["E-gift cards come in any amount from £10 to £250."]
    );
    assert_eq!(sections[1].heading_path, path(&["Expiry"]));
    assert_eq!(sections[2].heading_path, path(&["Using them"]));
    assert_eq!(
        sections[2].paragraphs,
        vec!["1. Enter the code at checkout.\n2. Pay the rest by card."]
    );
}

#[test]
fn pdf_text_is_extracted() {
    let doc = one("returns-guide.pdf");
    assert_eq!(doc.title, "returns guide");
    let text = doc.plain_text();
    assert!(text.contains("Northwind Returns Guide"), "{text:?}");
    assert!(
        text.contains("Parcels can be returned within 30 days of delivery."),
        "{text:?}"
    );
}

#[test]
fn broken_pdf_is_malformed_not_a_panic() {
    let err = parse(b"%PDF-1.4\ngarbage", "x.pdf", None, &ParseLimits::default()).unwrap_err();
    assert!(matches!(err, ParseError::Malformed { .. }), "{err:?}");
}

#[test]
fn csv_pairs_become_one_document_each() {
    let docs = parse(
        &fixture("faq.csv"),
        "faq.csv",
        Some("text/csv"),
        &ParseLimits::default(),
    )
    .unwrap();
    assert_eq!(docs.len(), 2);
    assert_eq!(docs[0].title, "Do you ship to Germany?");
    assert_eq!(docs[0].url.as_deref(), Some("https://help.example/eu"));
    assert_eq!(docs[1].url, None);
    assert_eq!(
        docs[1].body,
        DocBody::QaPair {
            question: "Can I pay with PayPal?".into(),
            answer: "Yes. PayPal is accepted at checkout.".into()
        }
    );
}

#[test]
fn json_pairs_become_one_document_each() {
    let docs = parse(
        &fixture("faq.json"),
        "faq.json",
        None,
        &ParseLimits::default(),
    )
    .unwrap();
    assert_eq!(docs.len(), 2);
    assert_eq!(docs[0].title, "Gift card validity");
    assert_eq!(docs[1].title, "Can I change my order?");
}

#[test]
fn unsupported_types_and_oversize_files_have_their_own_errors() {
    let err = parse(
        b"PK\x03\x04",
        "report.docx",
        Some("application/octet-stream"),
        &ParseLimits::default(),
    )
    .unwrap_err();
    assert!(matches!(err, ParseError::UnsupportedType { .. }), "{err:?}");

    let pdf = fixture("returns-guide.pdf");
    let err = parse(
        &pdf,
        "returns-guide.pdf",
        None,
        &ParseLimits { max_bytes: 100 },
    )
    .unwrap_err();
    assert!(
        matches!(err, ParseError::TooLarge { size, limit: 100, .. } if size == pdf.len()),
        "{err:?}"
    );
}

#[test]
fn the_demo_help_centre_parses() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/help-centre");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let docs = parse(
            &std::fs::read(&path).unwrap(),
            &name,
            None,
            &ParseLimits::default(),
        )
        .unwrap();
        assert_eq!(docs.len(), 1);
        assert!(docs[0]
            .url
            .as_deref()
            .unwrap()
            .starts_with("https://northwind.example/help/"));
        assert!(!sections(&docs[0]).is_empty());
        count += 1;
    }
    assert!((10..=16).contains(&count), "{count} articles");
}
