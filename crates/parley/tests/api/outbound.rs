//! Requests Parley makes on an author's behalf (`api_fetch` steps, `api` AI contexts,
//! dataset URLs) cannot reach private addresses — loopback however it is written, and
//! through redirects — unless `[outbound] allow_private_networks` lists them; bodies are
//! capped. Also: upload file names and names with control characters.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::extract::Query;
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use parley_engine::outbound::OutboundConfig;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{
    assert_error, bad_fields, fake_ai, send, spawn_app, spawn_app_with_outbound, test_outbound,
    TestApp,
};

const SECRET: &str = "s3cr3t-7731";

/// A "local service" on `bind` (port 0), counting every request: `/data` answers JSON
/// with a secret, `/page` an HTML page with it, `/hop?to=URL` redirects, `/big` answers
/// 64 KiB with a length, `/stream` 64 KiB in chunks without one.
async fn local_service(bind: &str) -> Option<(SocketAddr, Arc<AtomicUsize>)> {
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    let app = axum::Router::new()
        .route(
            "/data",
            get(|| async { axum::Json(json!({ "secret": SECRET })) }),
        )
        .route(
            "/page",
            get(|| async {
                axum::response::Html(format!(
                    "<html><head><title>Internal</title></head><body><main><h1>Launch</h1>\
                     <p>The internal launch code is {SECRET} for the zebra project.</p></main></body></html>"
                ))
            }),
        )
        .route(
            "/hop",
            get(
                |Query(q): Query<std::collections::HashMap<String, String>>| async move {
                    Redirect::temporary(q.get("to").map_or("/", String::as_str)).into_response()
                },
            ),
        )
        .route(
            "/big",
            get(|| async { format!("{{\"secret\": \"{}\"}}", "x".repeat(64 * 1024)) }),
        )
        .route(
            "/stream",
            get(|| async {
                let chunks = (0..64).map(|_| Ok::<_, std::io::Error>(vec![b'x'; 1024]));
                axum::body::Body::from_stream(futures::stream::iter(chunks))
            }),
        )
        .layer(axum::middleware::from_fn(
            move |req: axum::extract::Request, next: axum::middleware::Next| {
                counted.fetch_add(1, Ordering::SeqCst);
                next.run(req)
            },
        ));
    let listener = tokio::net::TcpListener::bind(bind).await.ok()?;
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    Some((addr, hits))
}

/// A bot with one flow per URL, each triggered by `probe{i}`: an `api_fetch` step that
/// says the fetched secret, or "Lookup failed." when the fetch fails.
async fn probing_bot(app: &TestApp, urls: &[String]) -> String {
    let bot = app.create_bot("Prober").await;
    for (i, url) in urls.iter().enumerate() {
        let (status, body) = app
            .post(
                &format!("/api/v1/bots/{bot}/flows"),
                json!({
                    "name": format!("Probe {i}"),
                    "trigger_keywords": [format!("probe{i}")],
                    "initial_message": "Looking.",
                    "completion_message": "Done.",
                    "steps": [{
                        "step_name": "fetch", "step_order": 1, "message_type": "api_fetch",
                        "message": "Secret: {{ secret }}",
                        "api_config": {"url": url, "timeout_ms": 2000,
                                       "response_mapping": {"secret": "secret"},
                                       "error_message": "Lookup failed."}
                    }]
                }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    bot
}

/// Runs probe `i` in a new conversation: the replies' texts and the failure events.
async fn probe(app: &TestApp, bot: &str, i: usize) -> (String, Vec<Value>) {
    let c = app.start(bot).await["id"].as_str().unwrap().to_string();
    let replies = app.say(&c, &format!("probe{i}")).await;
    let text = replies
        .iter()
        .map(|m| m["text"].as_str().unwrap_or(""))
        .collect::<Vec<_>>()
        .join(" | ");
    let ws = app.store.default_workspace().await.unwrap().id;
    let failed = app
        .store
        .events_after(ws, c.parse().unwrap(), 0, 500)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "flow.api_failed")
        .map(|e| e.payload)
        .collect();
    (text, failed)
}

fn only_public() -> OutboundConfig {
    OutboundConfig::default()
}

#[tokio::test]
async fn api_fetch_cannot_reach_local_services_however_the_address_is_written() {
    let app = spawn_app_with_outbound(only_public(), None).await;
    let (addr, hits) = local_service("127.0.0.1:0").await.unwrap();
    let port = addr.port();
    let mut urls = vec![
        format!("http://127.0.0.1:{port}/data"),
        format!("http://2130706433:{port}/data"),
        format!("http://0x7f.1:{port}/data"),
        format!("http://0.0.0.0:{port}/data"),
        format!("http://localhost:{port}/data"),
        format!("http://[::ffff:127.0.0.1]:{port}/data"),
    ];
    // The same service on ::1, where the machine has IPv6.
    let v6 = local_service("[::1]:0").await;
    if let Some((addr6, _)) = &v6 {
        urls.push(format!("http://[::1]:{}/data", addr6.port()));
    }
    let bot = probing_bot(&app, &urls).await;
    for (i, url) in urls.iter().enumerate() {
        let (text, failed) = probe(&app, &bot, i).await;
        assert!(!text.contains(SECRET), "{url} leaked: {text}");
        assert!(text.contains("Lookup failed."), "{url}: {text}");
        assert_eq!(failed.len(), 1, "{url}");
        let error = failed[0]["error"].as_str().unwrap();
        assert!(error.contains("not allowed"), "{url}: {error}");
    }
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "the local service was called"
    );
    if let Some((_, hits6)) = v6 {
        assert_eq!(hits6.load(Ordering::SeqCst), 0);
    }
}

#[tokio::test]
async fn dataset_urls_cannot_import_local_pages() {
    let app = spawn_app_with_outbound(only_public(), None).await;
    let (addr, hits) = local_service("127.0.0.1:0").await.unwrap();
    let (status, body) = app.post("/api/v1/datasets", json!({ "name": "Web" })).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let dataset = body["data"]["id"].as_str().unwrap().to_string();
    let records = format!("/api/v1/datasets/{dataset}/records");
    for url in [
        format!("http://{addr}/page"),
        format!("http://2130706433:{}/page", addr.port()),
        format!("http://localhost:{}/page", addr.port()),
        "http://169.254.169.254/latest/meta-data/".to_string(),
    ] {
        let (status, body) = app.post(&records, json!({ "url": url })).await;
        let error = assert_error(
            status,
            &body,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        );
        assert_eq!(error["details"]["reason"], "url_refused", "{error}");
        assert_eq!(bad_fields(&error), ["url"]);
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .contains("not an allowed address"),
            "{error}"
        );
    }
    assert_eq!(hits.load(Ordering::SeqCst), 0);
    let (status, body) = app
        .post(
            &format!("/api/v1/datasets/{dataset}/search"),
            json!({ "query": "internal launch code zebra" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["items"], json!([]), "{body}");
    let (_, list) = app.get(&records).await;
    assert_eq!(list["data"]["items"], json!([]), "{list}");
}

#[tokio::test]
async fn allowed_networks_open_only_themselves_even_through_redirects() {
    // Test servers allow 127.0.0.1/32 (helpers::test_outbound); here with a 16 KiB cap.
    let app = spawn_app_with_outbound(
        OutboundConfig {
            max_response_bytes: 16 * 1024,
            ..test_outbound()
        },
        None,
    )
    .await;
    let (a, _) = local_service("127.0.0.1:0").await.unwrap();
    // Linux routes all of 127/8 to the loopback interface.
    let (b, b_hits) = local_service("127.0.0.2:0").await.unwrap();
    let urls = [
        format!("http://{a}/data"),
        format!("http://{a}/hop?to=http://{b}/data"),
        format!("http://{b}/data"),
        format!("http://{a}/big"),
        format!("http://{a}/stream"),
    ];
    let bot = probing_bot(&app, &urls).await;

    let (text, failed) = probe(&app, &bot, 0).await;
    assert!(text.contains(&format!("Secret: {SECRET}")), "{text}");
    assert!(failed.is_empty());
    for (i, says) in [
        (1, "127.0.0.2"),
        (2, "127.0.0.2"),
        (3, "larger than"),
        (4, "larger than"),
    ] {
        let (text, failed) = probe(&app, &bot, i).await;
        assert!(text.contains("Lookup failed."), "{}: {text}", urls[i]);
        let error = failed[0]["error"].as_str().unwrap();
        assert!(error.contains(says), "{}: {error}", urls[i]);
    }

    // A dataset URL redirected to a refused address stores nothing.
    let (_, body) = app.post("/api/v1/datasets", json!({ "name": "Web" })).await;
    let dataset = body["data"]["id"].as_str().unwrap().to_string();
    let records = format!("/api/v1/datasets/{dataset}/records");
    let (status, body) = app
        .post(
            &records,
            json!({ "url": format!("http://{a}/hop?to=http://{b}/page") }),
        )
        .await;
    let error = assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert_eq!(error["details"]["reason"], "url_refused", "{error}");
    // Over the cap: a clean 422 as before, nothing stored.
    let (status, body) = app
        .post(&records, json!({ "url": format!("http://{a}/stream") }))
        .await;
    let error = assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert_eq!(error["details"]["reason"], "url_unreachable", "{error}");
    assert!(
        error["message"].as_str().unwrap().contains("larger than"),
        "{error}"
    );
    let (_, list) = app.get(&records).await;
    assert_eq!(list["data"]["items"], json!([]), "{list}");
    // The allowed address works for datasets too.
    let (status, body) = app
        .post(&records, json!({ "url": format!("http://{a}/page") }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    assert_eq!(b_hits.load(Ordering::SeqCst), 0, "127.0.0.2 was reached");
}

#[tokio::test]
async fn api_ai_contexts_to_refused_addresses_are_left_out() {
    let fake = parley_llm::fake::FakeProvider::start().await.unwrap();
    let app = spawn_app_with_outbound(only_public(), Some(fake_ai(&fake))).await;
    let (addr, hits) = local_service("127.0.0.1:0").await.unwrap();
    let bot = app
        .create_bot_with(
            "AI",
            json!({"ai_enabled": true, "ai_provider": "fake", "ai_model": "echo"}),
        )
        .await;
    let (status, body) = app
        .post(
            &format!("/api/v1/bots/{bot}/ai-contexts"),
            json!({"name": "Stock", "trigger_keywords": ["kettle"], "context_type": "api",
                   "api": {"url": format!("http://{addr}/data"), "method": "GET"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let c = app.start(&bot).await["id"].as_str().unwrap().to_string();
    let (status, preview) = app
        .get(&format!("/api/v1/conversations/{c}/context?text=kettle"))
        .await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    let p = &preview["data"];
    assert!(
        p["left_out"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["kind"] == "ai_context" && x["name"] == "Stock"),
        "{p}"
    );
    assert!(!p["request"].to_string().contains(SECRET), "{p}");
    // The turn itself answers, without the context.
    let replies = app.say(&c, "is the kettle in stock?").await;
    assert!(!replies.is_empty());
    assert!(fake
        .requests()
        .iter()
        .all(|r| !r.body.to_string().contains(SECRET)));
    assert_eq!(hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn upload_file_names_are_stored_as_bounded_base_names() {
    let app = spawn_app().await;
    let (_, body) = app
        .post("/api/v1/datasets", json!({ "name": "Files" }))
        .await;
    let dataset = body["data"]["id"].as_str().unwrap().to_string();
    let long = format!("{}.md", "n".repeat(500));
    let boundary = "parley-outbound-boundary";
    let mut form = Vec::new();
    for name in ["../../etc/passwd\t.txt", "..\\..\\boot.txt", long.as_str()] {
        form.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
                 Content-Type: text/plain\r\n\r\nParcels ship within two days from {name:.3}.\r\n"
            )
            .as_bytes(),
        );
    }
    form.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    let (status, body) = send(
        app.req(
            reqwest::Method::POST,
            &format!("/api/v1/datasets/{dataset}/records"),
        )
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(form),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let files = body["data"]["files"].as_array().unwrap();
    assert_eq!(files[0]["file"], "passwd.txt", "{body}");
    assert_eq!(files[0]["records"][0]["source_file"], "passwd.txt");
    assert_eq!(files[1]["file"], "boot.txt", "{body}");
    let kept = files[2]["file"].as_str().unwrap();
    assert!(
        kept.chars().count() <= 200 && kept.ends_with("n.md"),
        "{kept}"
    );
    let (_, list) = app
        .get(&format!("/api/v1/datasets/{dataset}/records"))
        .await;
    for record in list["data"]["items"].as_array().unwrap() {
        let source = record["source_file"].as_str().unwrap();
        assert!(
            !source.contains(['/', '\\']) && !source.chars().any(char::is_control),
            "{source:?}"
        );
    }
}

#[tokio::test]
async fn names_lose_control_characters_as_messages_do() {
    let app = spawn_app().await;
    let (status, body) = app
        .post("/api/v1/bots", json!({ "name": "Shop\u{0}bot\u{7}" }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["data"]["name"], "Shopbot");
    let bot = body["data"]["id"].as_str().unwrap().to_string();
    // A name of nothing but control characters is no name.
    let (status, body) = app
        .put(
            &format!("/api/v1/bots/{bot}"),
            json!({ "name": "\u{0}\u{0}" }),
        )
        .await;
    let error = assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert_eq!(bad_fields(&error), ["name"]);
    let (status, body) = app
        .post("/api/v1/datasets", json!({ "name": "Help\u{0} centre\n" }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["data"]["name"], "Help centre");
    let rule = app
        .create_rule(
            &bot,
            json!({"name": "ho\u{0}urs", "keywords": ["hours"], "match_type": "contains", "response": "9 to 5."}),
        )
        .await;
    assert_eq!(rule["name"], "hours");
    let (status, body) = app
        .post("/api/v1/teams", json!({ "name": "Bil\u{0}ling" }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["data"]["name"], "Billing");
    let (status, body) = app
        .post("/api/v1/keys", json!({ "name": "ci\u{0}\u{1b}[31m key" }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = app
        .post(
            "/api/v1/conversations",
            json!({ "bot_id": bot, "contact": {"name": "Ada\u{0}\r\n"} }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["data"]["contact"]["name"], "Ada", "{body}");
    let (_, keys) = app.get("/api/v1/keys").await;
    assert!(
        keys.to_string().contains("ci[31m key") && !keys.to_string().contains("\\u0000"),
        "{keys}"
    );
}
