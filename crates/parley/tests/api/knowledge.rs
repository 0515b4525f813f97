//! The knowledge base through HTTP: datasets and records (JSON, every upload type, URLs),
//! the errors a user gets for bad input, search staying in step with updates and deletes,
//! the index rebuilt from the database, bots answering from their datasets without an LLM
//! (with `meta.sources`), the AI context receiving the chunks (fake LLM), and dense
//! retrieval fused with BM25 through a fake embeddings endpoint.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use parley_engine::Limits;
use parley_llm::fake::FakeProvider;
use parley_server::HttpConfig;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{
    assert_error, bad_fields, fake_ai, send, spawn_app, spawn_app_at, spawn_app_with,
    spawn_app_with_ai, spawn_app_with_embeddings_at, TestApp,
};

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../parley-kb/tests/fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn help_centre_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/help-centre")
}

/// A `multipart/form-data` body with one `file` field per `(name, content type, bytes)`.
fn multipart(files: &[(&str, &str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "parley-test-boundary-7f3a9c";
    let mut body = Vec::new();
    for (name, content_type, bytes) in files {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
                 Content-Type: {content_type}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn upload(
    app: &TestApp,
    dataset: &str,
    files: &[(&str, &str, &[u8])],
) -> (StatusCode, Value) {
    let (content_type, body) = multipart(files);
    send(
        app.req(
            reqwest::Method::POST,
            &format!("/api/v1/datasets/{dataset}/records"),
        )
        .header("content-type", content_type)
        .body(body),
    )
    .await
}

async fn create_dataset(app: &TestApp, name: &str) -> String {
    let (status, body) = app.post("/api/v1/datasets", json!({ "name": name })).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["data"]["id"].as_str().unwrap().to_string()
}

async fn add_text(app: &TestApp, dataset: &str, title: &str, text: &str) -> Value {
    let (status, body) = app
        .post(
            &format!("/api/v1/datasets/{dataset}/records"),
            json!({ "title": title, "text": text }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["data"].clone()
}

async fn search(app: &TestApp, dataset: &str, query: &str) -> Vec<Value> {
    let (status, body) = app
        .post(
            &format!("/api/v1/datasets/{dataset}/search"),
            json!({ "query": query, "limit": 5 }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["data"]["items"].as_array().unwrap().clone()
}

/// The help centre uploaded into a new dataset.
async fn help_centre(app: &TestApp) -> String {
    let dataset = create_dataset(app, "Help centre").await;
    let mut files = Vec::new();
    for entry in std::fs::read_dir(help_centre_dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        files.push((name, std::fs::read(&path).unwrap()));
    }
    let parts: Vec<(&str, &str, &[u8])> = files
        .iter()
        .map(|(n, b)| (n.as_str(), "text/markdown", b.as_slice()))
        .collect();
    let (status, body) = upload(app, &dataset, &parts).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    dataset
}

#[tokio::test]
async fn datasets_are_created_listed_renamed_and_deleted() {
    let app = spawn_app().await;
    let (status, body) = app
        .post(
            "/api/v1/datasets",
            json!({"name": "  Policies ", "description": "Returns and refunds"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["data"]["id"].as_str().unwrap().to_string();
    assert_eq!(body["data"]["name"], "Policies");
    assert_eq!(body["data"]["records"], 0);

    let (_, list) = app.get("/api/v1/datasets").await;
    assert_eq!(list["data"]["items"][0]["id"], id.as_str());
    assert!(list["data"]["next_cursor"].is_null());

    let (status, body) = app
        .put(&format!("/api/v1/datasets/{id}"), json!({"name": "Help"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["name"], "Help");
    assert_eq!(body["data"]["description"], "Returns and refunds");

    let (status, body) = app
        .post("/api/v1/datasets", json!({"description": "x"}))
        .await;
    let error = assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert_eq!(bad_fields(&error), ["name"]);
    let (status, body) = app
        .post("/api/v1/datasets", json!({"name": "x", "nam": 1}))
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );

    add_text(
        &app,
        &id,
        "Refunds",
        "Refunds take five to seven working days.",
    )
    .await;
    let (_, body) = app.get(&format!("/api/v1/datasets/{id}")).await;
    assert_eq!(body["data"]["records"], 1);

    let (status, _) = app.delete(&format!("/api/v1/datasets/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app.get(&format!("/api/v1/datasets/{id}")).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    let (status, body) = app
        .post(
            &format!("/api/v1/datasets/{id}/search"),
            json!({"query": "refunds"}),
        )
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn every_upload_type_becomes_searchable_records() {
    let app = spawn_app().await;
    let dataset = create_dataset(&app, "Fixtures").await;
    let (md, txt, html, pdf, csv, json_faq) = (
        fixture("guide.md"),
        fixture("notes.txt"),
        fixture("page.html"),
        fixture("returns-guide.pdf"),
        fixture("faq.csv"),
        fixture("faq.json"),
    );
    let (status, body) = upload(
        &app,
        &dataset,
        &[
            ("guide.md", "text/markdown", &md),
            // Browsers and curl often send octet-stream: the extension decides.
            ("notes.txt", "application/octet-stream", &txt),
            ("page.html", "text/html", &html),
            ("returns-guide.pdf", "application/pdf", &pdf),
            ("faq.csv", "text/csv", &csv),
            ("faq.json", "application/json", &json_faq),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let files = body["data"]["files"].as_array().unwrap();
    assert_eq!(files.len(), 6);
    assert!(files.iter().all(|f| f["status"] == "created"), "{body}");
    // One record per document; one per pair for the Q&A files.
    let records: Vec<usize> = files
        .iter()
        .map(|f| f["records"].as_array().unwrap().len())
        .collect();
    assert_eq!(records, [1, 1, 1, 1, 2, 2]);
    assert_eq!(files[0]["records"][0]["title"], "Delivery guide");
    assert_eq!(files[0]["records"][0]["url"], "https://help.example/guide");
    assert_eq!(
        files[2]["records"][0]["url"],
        "https://help.example/gift-cards"
    );
    assert_eq!(files[4]["records"][0]["source_file"], "faq.csv");

    let (_, list) = app
        .get(&format!("/api/v1/datasets/{dataset}/records?limit=200"))
        .await;
    assert_eq!(list["data"]["items"].as_array().unwrap().len(), 8);

    // Something from each file is found, with its title, heading path and chunk id.
    let hit = &search(&app, &dataset, "how long does delivery to Europe take").await[0];
    assert_eq!(hit["title"], "Delivery guide");
    assert_eq!(hit["heading_path"], json!(["Times", "Europe"]));
    assert!(hit["text"].as_str().unwrap().contains("Five to eight"));
    assert!(hit["chunk_id"]
        .as_str()
        .unwrap()
        .starts_with(hit["record_id"].as_str().unwrap()));
    assert!(hit["score"].as_f64().unwrap() > 0.0);
    assert!(search(&app, &dataset, "glassware wrapped").await[0]["text"]
        .as_str()
        .unwrap()
        .contains("Glassware"));
    assert_eq!(
        search(&app, &dataset, "gift card amounts").await[0]["url"],
        "https://help.example/gift-cards"
    );
    assert!(search(&app, &dataset, "ship to Germany").await[0]["text"]
        .as_str()
        .unwrap()
        .contains("Germany included"));
    assert!(search(&app, &dataset, "change my order").await[0]["text"]
        .as_str()
        .unwrap()
        .contains("within one hour"));
    let pdf_record = files[3]["records"][0]["id"].as_str().unwrap();
    let pdf_words = files[3]["records"][0]["text"].as_str().unwrap();
    assert!(pdf_words.len() > 20, "{pdf_words}");

    // The same file again changes nothing.
    let (status, body) = upload(&app, &dataset, &[("faq.csv", "text/csv", &csv)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["files"][0]["status"], "unchanged");
    let (status, _) = app
        .get(&format!("/api/v1/datasets/{dataset}/records/{pdf_record}"))
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn bad_input_gets_415_413_and_422() {
    let app = spawn_app_with(
        HttpConfig {
            max_upload_bytes: 4096,
            ..HttpConfig::default()
        },
        Limits::default(),
    )
    .await;
    let dataset = create_dataset(&app, "Docs").await;

    let (status, body) = upload(
        &app,
        &dataset,
        &[("photo.png", "image/png", b"\x89PNG....")],
    )
    .await;
    let error = assert_error(
        status,
        &body,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
    assert!(
        error["message"].as_str().unwrap().contains("photo.png"),
        "{error}"
    );

    let big = "word ".repeat(2000);
    let (status, body) = upload(&app, &dataset, &[("big.txt", "text/plain", big.as_bytes())]).await;
    assert_error(
        status,
        &body,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    );
    let (status, body) = app
        .post(
            &format!("/api/v1/datasets/{dataset}/records"),
            json!({"title": "Big", "text": big}),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    );

    let (status, body) = upload(
        &app,
        &dataset,
        &[("faq.csv", "text/csv", b"question,answer\n\"unclosed,x\n")],
    )
    .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    let (status, body) = upload(&app, &dataset, &[("empty.md", "text/markdown", b"   \n")]).await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );

    let (status, body) = send(
        app.req(
            reqwest::Method::POST,
            &format!("/api/v1/datasets/{dataset}/records"),
        )
        .header("content-type", "text/plain")
        .body("just text"),
    )
    .await;
    assert_error(
        status,
        &body,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
    let (status, body) = app
        .post(
            &format!("/api/v1/datasets/{dataset}/records"),
            json!({"text": "no title"}),
        )
        .await;
    let error = assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert_eq!(bad_fields(&error), ["title"]);
    let (status, body) = app
        .post(
            &format!("/api/v1/datasets/{dataset}/search"),
            json!({"query": "", "limit": 500}),
        )
        .await;
    let error = assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert_eq!(bad_fields(&error), ["query", "limit"]);

    // Nothing was stored by any of it.
    let (_, list) = app
        .get(&format!("/api/v1/datasets/{dataset}/records"))
        .await;
    assert_eq!(list["data"]["items"], json!([]));
}

/// A small web site: `/help/returns` (HTML), `/missing` (404), `/huge` (3 MiB).
async fn web_site() -> std::net::SocketAddr {
    use axum::routing::get;
    let app = axum::Router::new()
        .route(
            "/help/returns",
            get(|| async {
                axum::response::Html(
                    "<html><head><title>Returns | Shop</title></head><body><nav>Menu</nav>\
                     <main><h1>Returns</h1><p>Send items back within 45 days using the prepaid \
                     label in the parcel.</p></main></body></html>",
                )
            }),
        )
        .route(
            "/missing",
            get(|| async { (StatusCode::NOT_FOUND, "gone") }),
        )
        .route("/huge", get(|| async { "x".repeat(3 * 1024 * 1024) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

#[tokio::test]
async fn urls_are_fetched_once_and_bad_ones_are_a_clear_422() {
    let app = spawn_app().await;
    let site = web_site().await;
    let dataset = create_dataset(&app, "Web").await;
    let records = format!("/api/v1/datasets/{dataset}/records");

    let url = format!("http://{site}/help/returns");
    let (status, body) = app.post(&records, json!({ "url": url })).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let record = &body["data"]["files"][0]["records"][0];
    assert_eq!(record["title"], "Returns");
    assert_eq!(record["url"], url.as_str());
    assert!(
        !record["text"].as_str().unwrap().contains("Menu"),
        "{record}"
    );
    let hit = &search(&app, &dataset, "how many days to send items back").await[0];
    assert_eq!(hit["url"], url.as_str());
    assert!(hit["text"].as_str().unwrap().contains("45 days"));
    // Fetched again unchanged: nothing new.
    let (status, body) = app.post(&records, json!({ "url": url })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["files"][0]["status"], "unchanged");

    let refused = parley_llm::fake::refused_base_url().await.unwrap();
    for (url, says) in [
        (format!("{refused}/help"), "could not be reached"),
        (format!("http://{site}/missing"), "404"),
        (format!("http://{site}/huge"), "larger than"),
    ] {
        let (status, body) = app.post(&records, json!({ "url": url })).await;
        let error = assert_error(
            status,
            &body,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        );
        assert_eq!(error["details"]["reason"], "url_unreachable", "{error}");
        assert_eq!(bad_fields(&error), ["url"]);
        assert!(error["message"].as_str().unwrap().contains(says), "{error}");
    }
    let (status, body) = app
        .post(&records, json!({ "url": "file:///etc/passwd" }))
        .await;
    let error = assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert_eq!(bad_fields(&error), ["url"]);
}

#[tokio::test]
async fn search_follows_updates_and_deletes() {
    let app = spawn_app().await;
    let dataset = create_dataset(&app, "Policies").await;
    let record = add_text(
        &app,
        &dataset,
        "Warranty",
        "Every kettle has a two year warranty.\n\nClaims need the receipt.",
    )
    .await;
    let id = record["id"].as_str().unwrap();
    assert_eq!(record["chunks"], 1);
    add_text(&app, &dataset, "Opening", "The shop opens at nine.").await;
    assert_eq!(
        search(&app, &dataset, "kettle warranty").await[0]["record_id"],
        id
    );

    let (status, body) = app
        .put(
            &format!("/api/v1/datasets/{dataset}/records/{id}"),
            json!({"text": "Every toaster has a five year guarantee."}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["title"], "Warranty");
    assert!(search(&app, &dataset, "kettle").await.is_empty());
    let hits = search(&app, &dataset, "toaster guarantee").await;
    assert_eq!(hits.len(), 1);
    assert!(hits[0]["text"].as_str().unwrap().contains("five year"));

    let (status, body) = app
        .put(
            &format!("/api/v1/datasets/{dataset}/records/{id}"),
            json!({"title": "Guarantees", "url": "https://shop.example/guarantee"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let hit = &search(&app, &dataset, "toaster").await[0];
    assert_eq!(
        (&hit["title"], &hit["url"]),
        (
            &json!("Guarantees"),
            &json!("https://shop.example/guarantee")
        )
    );

    let (status, _) = app
        .delete(&format!("/api/v1/datasets/{dataset}/records/{id}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(search(&app, &dataset, "toaster guarantee").await.is_empty());
    let (status, body) = app
        .get(&format!("/api/v1/datasets/{dataset}/records/{id}"))
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    assert_eq!(search(&app, &dataset, "shop opens").await.len(), 1);
}

#[tokio::test]
async fn the_index_is_rebuilt_from_the_database_when_its_directory_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app_at(dir.path(), HttpConfig::default(), Limits::default()).await;
    let dataset = create_dataset(&app, "Policies").await;
    add_text(
        &app,
        &dataset,
        "Warranty",
        "Every kettle has a two year warranty.",
    )
    .await;
    assert_eq!(search(&app, &dataset, "kettle").await.len(), 1);
    drop(app);
    tokio::time::sleep(Duration::from_millis(300)).await;

    let index = dir.path().join(parley_engine::knowledge::INDEX_DIR);
    assert!(index.join("meta.json").exists());
    std::fs::remove_dir_all(&index).unwrap();
    let app = spawn_app_at(dir.path(), HttpConfig::default(), Limits::default()).await;
    let hits = search(&app, &dataset, "kettle warranty").await;
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0]["title"], "Warranty");
    drop(app);
    tokio::time::sleep(Duration::from_millis(300)).await;

    // A stale version marker (another schema or analyzer) rebuilds it too.
    std::fs::write(
        index.join("parley-kb-version"),
        "parley-kb index: schema 0\n",
    )
    .unwrap();
    let app = spawn_app_at(dir.path(), HttpConfig::default(), Limits::default()).await;
    assert_eq!(search(&app, &dataset, "kettle").await.len(), 1);
}

async fn bot_with(app: &TestApp, datasets: Value, extra: Value) -> String {
    let mut settings = json!({
        "dataset_ids": datasets,
        "fallback_message": "Sorry, I don't know that one.",
    });
    for (k, v) in extra.as_object().unwrap() {
        settings[k] = v.clone();
    }
    app.create_bot_with("Helper", settings).await
}

#[tokio::test]
async fn without_an_llm_the_bot_answers_from_its_datasets_with_sources() {
    let app = spawn_app().await;
    let dataset = help_centre(&app).await;
    let bot = bot_with(&app, json!([dataset]), json!({})).await;
    app.create_rule(
        &bot,
        json!({"name": "Hours", "keywords": ["opening hours"], "match_type": "contains", "response": "9 to 5."}),
    )
    .await;
    let conv = app.start(&bot).await["id"].as_str().unwrap().to_string();

    let reply = &app.say(&conv, "how long do refunds take?").await[0];
    assert_eq!(reply["meta"]["source"], "knowledge", "{reply}");
    assert!(
        reply["text"].as_str().unwrap().contains("5–7 working days"),
        "{reply}"
    );
    // Trimmed to the sentences that match, not the whole article.
    assert!(reply["text"].as_str().unwrap().len() < 600, "{reply}");
    let source = &reply["meta"]["sources"][0];
    assert_eq!(source["title"], "Refunds");
    assert_eq!(source["url"], "https://northwind.example/help/refunds");
    assert_eq!(source["dataset_id"], dataset.as_str());
    let record = source["record_id"].as_str().unwrap();
    assert!(source["chunk_id"].as_str().unwrap().starts_with(record));
    let (status, _) = app
        .get(&format!("/api/v1/datasets/{dataset}/records/{record}"))
        .await;
    assert_eq!(status, StatusCode::OK);

    // Rules still win; what the help centre cannot answer gets the fallback.
    assert_eq!(
        app.say(&conv, "what are your opening hours").await[0]["meta"]["source"],
        "rule"
    );
    let reply = &app.say(&conv, "do you sell spaceships to Jupiter?").await[0];
    assert_eq!(reply["meta"]["source"], "fallback", "{reply}");
    assert!(reply["meta"].get("sources").is_none());
    // The stored history keeps the citation.
    let history = app.history(&conv).await;
    assert!(history
        .iter()
        .any(|m| m["meta"]["sources"][0]["title"] == "Refunds"));

    // A threshold of 1 needs every word of the question covered.
    let strict = bot_with(&app, json!([dataset]), json!({"knowledge_threshold": 1.0})).await;
    let conv = app.start(&strict).await["id"].as_str().unwrap().to_string();
    let reply = &app
        .say(&conv, "how long do refunds take for a purple giraffe?")
        .await[0];
    assert_eq!(reply["meta"]["source"], "fallback", "{reply}");

    // A deleted record is never cited again.
    let (status, _) = app
        .delete(&format!("/api/v1/datasets/{dataset}/records/{record}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    let conv = app.start(&bot).await["id"].as_str().unwrap().to_string();
    let reply = &app.say(&conv, "how long do refunds take?").await[0];
    assert_ne!(reply["meta"]["sources"][0]["record_id"], record, "{reply}");
}

/// The output guard stops replies with PII that is not the user's own and links outside
/// the allow-list (tests/api/guard.rs), but the bot's own knowledge base may be quoted: its
/// contact details and links pass, as the author's rule texts do.
#[tokio::test]
async fn the_output_guard_lets_a_knowledge_answer_quote_its_own_dataset() {
    let app = spawn_app().await;
    let dataset = create_dataset(&app, "Contact").await;
    add_text(
        &app,
        &dataset,
        "Contacting the warranty team",
        "To make a warranty claim, e-mail warranty@northwind.example or call \
         +44 20 7946 0123, and read the claim guide at https://claims.northwind.example/guide \
         first. Gift cards cannot be exchanged for cash.",
    )
    .await;
    let bot = bot_with(&app, json!([dataset]), json!({})).await;
    let conv = app.start(&bot).await["id"].as_str().unwrap().to_string();
    let reply = &app.say(&conv, "how do I make a warranty claim?").await[0];
    assert_eq!(reply["meta"]["source"], "knowledge", "{reply}");
    let text = reply["text"].as_str().unwrap();
    assert!(text.contains("warranty@northwind.example"), "{reply}");
    assert!(
        text.contains("https://claims.northwind.example/guide"),
        "{reply}"
    );
    assert!(reply["meta"].get("guard").is_none(), "{reply}");
}

#[tokio::test]
async fn dataset_ids_and_the_threshold_are_validated() {
    let app = spawn_app().await;
    let bot = app.create_bot("Helper").await;
    let unknown = uuid::Uuid::now_v7().to_string();
    let (status, body) = app
        .put(
            &format!("/api/v1/bots/{bot}/settings"),
            json!({"dataset_ids": [unknown]}),
        )
        .await;
    let error = assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert_eq!(bad_fields(&error), ["dataset_ids[0]"]);
    let (status, body) = app
        .put(
            &format!("/api/v1/bots/{bot}/settings"),
            json!({"knowledge_threshold": 1.5}),
        )
        .await;
    let error = assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert_eq!(bad_fields(&error), ["knowledge_threshold"]);
    let (_, settings) = app.get(&format!("/api/v1/bots/{bot}/settings")).await;
    assert_eq!(settings["data"]["dataset_ids"], json!([]));
    assert!((settings["data"]["knowledge_threshold"].as_f64().unwrap() - 0.5).abs() < 1e-6);

    // Bot files name datasets by id too, and are checked the same way.
    let (status, body) = app
        .post(
            "/api/v1/bots/import",
            json!({"name": "Filed", "settings": {"dataset_ids": [unknown]}}),
        )
        .await;
    let error = assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert_eq!(bad_fields(&error), ["settings.dataset_ids[0]"]);
    let dataset = create_dataset(&app, "Docs").await;
    let (status, body) = app
        .post(
            "/api/v1/bots/import",
            json!({"name": "Filed", "settings": {"dataset_ids": [dataset], "knowledge_threshold": 0.3}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["data"]["bot"]["id"].as_str().unwrap();
    let (_, export) = app.get(&format!("/api/v1/bots/{id}/export")).await;
    assert_eq!(export["data"]["settings"]["dataset_ids"], json!([dataset]));
}

#[tokio::test]
async fn with_ai_the_chunks_enter_the_context_and_the_reply_cites_them() {
    let fake = FakeProvider::start().await.unwrap();
    let app = spawn_app_with_ai(fake_ai(&fake)).await;
    let dataset = help_centre(&app).await;
    let bot = bot_with(
        &app,
        json!([dataset]),
        json!({"ai_enabled": true, "ai_provider": "fake", "ai_model": "echo"}),
    )
    .await;
    let conv = app.start(&bot).await["id"].as_str().unwrap().to_string();

    let reply = &app.say(&conv, "how long do refunds take?").await[0];
    assert_eq!(reply["meta"]["source"], "ai", "{reply}");
    let sources = reply["meta"]["sources"].as_array().unwrap();
    assert!(!sources.is_empty() && sources.len() <= 4, "{reply}");
    assert!(sources.iter().any(|s| s["title"] == "Refunds"), "{reply}");

    // What the model received: the excerpts with their ids, and the rule to stay in them.
    let request = fake
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.path.ends_with("/chat/completions"))
        .unwrap();
    let system = request.body["messages"][0]["content"].as_str().unwrap();
    assert!(system.contains("## Knowledge base"), "{system}");
    assert!(
        system.contains("Answer only from these excerpts"),
        "{system}"
    );
    assert!(system.contains("5–7 working days"), "{system}");
    for source in sources {
        let id = source["chunk_id"].as_str().unwrap();
        assert!(
            system.contains(&format!("[{id}]")),
            "{id} missing from {system}"
        );
    }

    // The debugging view shows the same chunks.
    let (status, body) = app
        .get(&format!(
            "/api/v1/conversations/{conv}/context?text=how%20long%20do%20refunds%20take%3F"
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let parts: Vec<&Value> = body["data"]["parts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["kind"] == "knowledge")
        .collect();
    assert_eq!(parts.len(), sources.len(), "{body}");
    assert_eq!(body["data"]["sources"], json!(sources));

    // A question the help centre does not cover: the model is told to say so.
    app.say(&conv, "do you sell spaceships to Jupiter?").await;
    let request = fake.requests().into_iter().next_back().unwrap();
    let system = request.body["messages"][0]["content"].as_str().unwrap();
    assert!(system.contains("## Knowledge base"), "{system}");
}

/// A fake OpenAI-compatible embeddings endpoint: a bag of words hashed into 64 dimensions,
/// with a few synonyms folded together first, so "reimbursement" lands where "refunds" does
/// although the words share nothing BM25 could match. Answers 500 while `failing` is set.
struct FakeEmbeddings {
    addr: std::net::SocketAddr,
    failing: Arc<std::sync::atomic::AtomicBool>,
    /// Texts embedded successfully.
    embedded: Arc<std::sync::atomic::AtomicUsize>,
}

impl FakeEmbeddings {
    async fn start() -> FakeEmbeddings {
        use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
        let failing = Arc::new(AtomicBool::new(false));
        let embedded = Arc::new(AtomicUsize::new(0));
        let (f, e) = (failing.clone(), embedded.clone());
        let app = axum::Router::new().route(
            "/v1/embeddings",
            axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
                let (f, e) = (f.clone(), e.clone());
                async move {
                    if f.load(Ordering::SeqCst) {
                        return (
                            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                            axum::Json(json!({"error": {"message": "embedder down"}})),
                        );
                    }
                    let inputs = body["input"].as_array().cloned().unwrap_or_default();
                    e.fetch_add(inputs.len(), Ordering::SeqCst);
                    let data: Vec<Value> = inputs
                        .iter()
                        .enumerate()
                        .map(|(i, text)| {
                            json!({"index": i, "embedding": bag_of_words(text.as_str().unwrap_or(""))})
                        })
                        .collect();
                    (
                        axum::http::StatusCode::OK,
                        axum::Json(json!({"object": "list", "data": data, "model": body["model"]})),
                    )
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        FakeEmbeddings {
            addr,
            failing,
            embedded,
        }
    }

    fn config(&self) -> parley_engine::knowledge::EmbeddingConfig {
        parley_engine::knowledge::EmbeddingConfig {
            base_url: format!("http://{}/v1", self.addr),
            model: "fake-bow-64".into(),
            api_key: None,
            timeout: Duration::from_secs(5),
        }
    }

    fn fail(&self, failing: bool) {
        self.failing
            .store(failing, std::sync::atomic::Ordering::SeqCst);
    }

    fn embedded(&self) -> usize {
        self.embedded.load(std::sync::atomic::Ordering::SeqCst)
    }
}

fn bag_of_words(text: &str) -> Vec<f32> {
    let mut vector = vec![0.0f32; 64];
    for word in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.len() > 2)
    {
        let word = word.to_lowercase();
        let word = match word.as_str() {
            "reimbursement" | "refund" => "refunds",
            "tardy" => "late",
            other => other,
        };
        // FNV-1a: stable across runs and platforms.
        let hash = word.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        });
        vector[(hash % 64) as usize] += 1.0;
    }
    vector
}

fn retrievers(hit: &Value) -> Vec<&str> {
    hit["retrievers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect()
}

const REFUNDS: &str = "Refunds reach your account five to seven days after we receive the parcel.";
const SHIPPING: &str = "Orders ship within two business days by courier.";

#[tokio::test]
async fn embeddings_find_what_bm25_misses_and_search_falls_back_when_the_endpoint_fails() {
    let embedder = FakeEmbeddings::start().await;
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app_with_embeddings_at(dir.path(), embedder.config()).await;
    let dataset = create_dataset(&app, "Policies").await;
    let refunds = add_text(&app, &dataset, "Refunds", REFUNDS).await;
    add_text(&app, &dataset, "Shipping", SHIPPING).await;
    assert_eq!(
        embedder.embedded(),
        2,
        "each record's one chunk is embedded"
    );

    // No word in common with the refunds document: BM25 alone finds nothing.
    let hits = search(&app, &dataset, "reimbursement").await;
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0]["record_id"], refunds["id"]);
    assert_eq!(retrievers(&hits[0]), vec!["dense"]);
    let plain = spawn_app().await;
    let plain_dataset = create_dataset(&plain, "Policies").await;
    add_text(&plain, &plain_dataset, "Refunds", REFUNDS).await;
    assert!(search(&plain, &plain_dataset, "reimbursement")
        .await
        .is_empty());

    // Words and meaning both match: both retrievers found it, and it comes first.
    let hits = search(&app, &dataset, "refunds account").await;
    assert_eq!(hits[0]["record_id"], refunds["id"]);
    assert_eq!(retrievers(&hits[0]), vec!["bm25", "dense"]);
    assert!(hits[0]["score"].as_f64().unwrap() > 0.0);

    // The endpoint down at query time: BM25 alone, no error.
    embedder.fail(true);
    let hits = search(&app, &dataset, "refunds account").await;
    assert_eq!(hits[0]["record_id"], refunds["id"]);
    assert!(
        hits.iter().all(|h| retrievers(h) == vec!["bm25"]),
        "{hits:?}"
    );
    assert!(search(&app, &dataset, "reimbursement").await.is_empty());
}

#[tokio::test]
async fn a_record_ingested_while_the_endpoint_fails_is_kept_and_embedded_later() {
    let embedder = FakeEmbeddings::start().await;
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app_with_embeddings_at(dir.path(), embedder.config()).await;
    let dataset = create_dataset(&app, "Policies").await;
    embedder.fail(true);
    let refunds = add_text(&app, &dataset, "Refunds", REFUNDS).await;
    let (status, body) = app
        .get(&format!(
            "/api/v1/datasets/{dataset}/records/{}",
            refunds["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Stored and keyword-searchable, not yet found by meaning.
    let hits = search(&app, &dataset, "refunds").await;
    assert_eq!(hits.len(), 1);
    assert_eq!(retrievers(&hits[0]), vec!["bm25"]);
    embedder.fail(false);
    assert!(search(&app, &dataset, "reimbursement").await.is_empty());
    assert_eq!(
        app.store
            .chunks_without_embedding("fake-bow-64", 10)
            .await
            .unwrap()
            .len(),
        1
    );

    // The server's periodic sync fills the missing vector.
    app.knowledge.sync().await.unwrap();
    assert!(app
        .store
        .chunks_without_embedding("fake-bow-64", 10)
        .await
        .unwrap()
        .is_empty());
    let hits = search(&app, &dataset, "reimbursement").await;
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0]["record_id"], refunds["id"]);
    assert_eq!(retrievers(&hits[0]), vec!["dense"]);

    // Vectors are stored: a restart loads them without embedding the chunks again.
    drop(app);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = embedder.embedded();
    let app = spawn_app_with_embeddings_at(dir.path(), embedder.config()).await;
    let hits = search(&app, &dataset, "reimbursement").await;
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(retrievers(&hits[0]), vec!["dense"]);
    assert_eq!(
        embedder.embedded(),
        before + 1,
        "only the query was embedded"
    );
}

#[tokio::test]
async fn vectors_follow_record_updates_and_deletes() {
    let embedder = FakeEmbeddings::start().await;
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app_with_embeddings_at(dir.path(), embedder.config()).await;
    let dataset = create_dataset(&app, "Policies").await;
    let refunds = add_text(&app, &dataset, "Refunds", REFUNDS).await;
    add_text(&app, &dataset, "Shipping", SHIPPING).await;
    let path = format!(
        "/api/v1/datasets/{dataset}/records/{}",
        refunds["id"].as_str().unwrap()
    );
    assert_eq!(search(&app, &dataset, "reimbursement").await.len(), 1);

    // An edit replaces the vector: the old meaning is gone, the new one is found.
    let (status, body) = app
        .put(
            &path,
            json!({ "text": "Late parcels are tracked by the courier." }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(search(&app, &dataset, "reimbursement").await.is_empty());
    let hits = search(&app, &dataset, "tardy").await;
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0]["record_id"], refunds["id"]);
    assert_eq!(retrievers(&hits[0]), vec!["dense"]);

    // A delete takes the vector out of results (and out of the database).
    let (status, body) = app.delete(&path).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(search(&app, &dataset, "tardy").await.is_empty());
    let id: uuid::Uuid = refunds["id"].as_str().unwrap().parse().unwrap();
    assert!(app
        .store
        .embedded_records("fake-bow-64", Some(&[id]))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        app.store
            .embedded_records("fake-bow-64", None)
            .await
            .unwrap()
            .len(),
        1
    );
}
