//! The web widget's public endpoints, through real HTTP: starting a conversation without a
//! key, what its token opens (only that conversation), the bot's allowed origins (403 and
//! CORS), the per-address rate limit (429 with Retry-After), and the pages and script.

use parley_engine::Limits;
use parley_server::{HeaderName, HttpConfig};
use reqwest::header::{ACCESS_CONTROL_ALLOW_ORIGIN, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{assert_error, send, spawn_app, spawn_app_with, TestApp};

/// `POST /api/v1/widget/{bot}/conversations` as a browser on `origin` would send it.
async fn widget_start(app: &TestApp, bot: &str, origin: Option<&str>) -> (StatusCode, Value) {
    let mut req = app
        .client
        .post(app.url(&format!("/api/v1/widget/{bot}/conversations")));
    if let Some(o) = origin {
        req = req.header("origin", o);
    }
    send(req).await
}

async fn allow_only(app: &TestApp, bot: &str, origins: &[&str]) {
    let (status, body) = app
        .put(
            &format!("/api/v1/bots/{bot}/settings"),
            json!({ "widget": { "allowed_origins": origins } }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn a_widget_start_needs_no_key_and_its_token_opens_only_its_conversation() {
    let app = spawn_app().await;
    let bot = app.create_bot("Shop").await;
    app.create_rule(
        &bot,
        json!({"name": "hours", "keywords": ["hours"], "match_type": "contains", "response": "9 to 5."}),
    )
    .await;

    let (status, body) = widget_start(&app, &bot, Some("https://shop.example")).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let a = &body["data"];
    assert_eq!(a["channel"], "widget");
    assert_eq!(a["bot_id"], bot.as_str());
    assert_eq!(a["messages"][0]["meta"]["source"], "greeting");
    assert!(a["expires_at"].is_string());
    let (id, token) = (a["id"].as_str().unwrap(), a["token"].as_str().unwrap());

    // The token carries the conversation.
    let (status, body) = send(
        app.req_as(
            token,
            Method::POST,
            &format!("/api/v1/conversations/{id}/complete"),
        )
        .json(&json!({"text": "your hours?"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["messages"][0]["text"], "9 to 5.");
    let (status, body) = send(app.req_as(
        token,
        Method::GET,
        &format!("/api/v1/conversations/{id}/messages"),
    ))
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["items"].as_array().unwrap().len(), 3);
    let (status, _) = send(
        app.req_as(
            token,
            Method::POST,
            &format!("/api/v1/conversations/{id}/feedback"),
        )
        .json(&json!({"rating": 4})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);

    // ...and nothing else: not another widget conversation, not the bot, not the lists.
    let (_, other) = widget_start(&app, &bot, None).await;
    let other_id = other["data"]["id"].as_str().unwrap();
    for (method, path) in [
        (
            Method::GET,
            format!("/api/v1/conversations/{other_id}/messages"),
        ),
        (
            Method::GET,
            format!("/api/v1/conversations/{other_id}/events"),
        ),
        (
            Method::POST,
            format!("/api/v1/conversations/{other_id}/receive"),
        ),
        (Method::GET, "/api/v1/conversations".to_string()),
        (Method::GET, format!("/api/v1/bots/{bot}")),
        (Method::POST, format!("/api/v1/conversations/{id}/token")),
    ] {
        let (status, body) = send(app.req_as(token, method.clone(), &path)).await;
        assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    }
}

#[tokio::test]
async fn an_unknown_bot_has_no_widget() {
    let app = spawn_app().await;
    let nobody = uuid::Uuid::now_v7();
    let (status, body) = widget_start(&app, &nobody.to_string(), None).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    let (status, body) = send(
        app.client
            .get(app.url(&format!("/api/v1/widget/{nobody}/config"))),
    )
    .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    let (status, body) = send(app.client.get(app.url("/api/v1/widget/not-an-id/config"))).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn pages_outside_the_allowed_origins_are_refused() {
    let app = spawn_app().await;
    let bot = app.create_bot("Shop").await;
    allow_only(&app, &bot, &["https://shop.example"]).await;

    let (status, body) = widget_start(&app, &bot, Some("https://evil.example")).await;
    let error = assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(error["details"]["reason"], "origin_not_allowed");
    assert_eq!(error["details"]["origin"], "https://evil.example");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("https://evil.example") && message.contains("allowed_origins"),
        "{message}"
    );
    // No Origin at all is refused too once a list is set.
    let (status, body) = widget_start(&app, &bot, None).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (status, body) = send(
        app.client
            .get(app.url(&format!("/api/v1/widget/{bot}/config")))
            .header("origin", "https://evil.example"),
    )
    .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");

    // The listed origin, and the server's own pages, may.
    let (status, body) = widget_start(&app, &bot, Some("https://shop.example")).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let own = format!("http://{}", app.addr);
    let (status, body) = widget_start(&app, &bot, Some(&own)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = send(
        app.client
            .post(app.url(&format!("/api/v1/widget/{bot}/conversations")))
            .header("sec-fetch-site", "same-origin"),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // Nothing was created for the refused pages.
    let (_, list) = app
        .get(&format!("/api/v1/conversations?bot_id={bot}"))
        .await;
    assert_eq!(list["data"]["items"].as_array().unwrap().len(), 3);
}

/// A CORS preflight as a browser on `origin` sends it before a JSON POST.
async fn preflight(app: &TestApp, path: &str, origin: &str) -> reqwest::Response {
    app.client
        .request(Method::OPTIONS, app.url(path))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type",
        )
        .send()
        .await
        .unwrap()
}

fn allowed_origin(resp: &reqwest::Response) -> Option<String> {
    resp.headers()
        .get(ACCESS_CONTROL_ALLOW_ORIGIN)
        .map(|v| v.to_str().unwrap().to_string())
}

#[tokio::test]
async fn cors_lets_allowed_sites_call_the_widget_and_its_conversation() {
    let app = spawn_app().await;
    let strict = app.create_bot("Strict").await;
    allow_only(&app, &strict, &["https://shop.example"]).await;
    let open = app.create_bot("Open").await;

    let start = format!("/api/v1/widget/{strict}/conversations");
    let resp = preflight(&app, &start, "https://shop.example").await;
    assert!(resp.status().is_success(), "{}", resp.status());
    assert_eq!(
        allowed_origin(&resp).as_deref(),
        Some("https://shop.example")
    );
    let methods = resp.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(methods.contains("POST"), "{methods}");
    let resp = preflight(&app, &start, "https://evil.example").await;
    assert_eq!(allowed_origin(&resp), None);

    // The conversation routes follow the conversation's bot.
    let (_, body) = widget_start(&app, &strict, Some("https://shop.example")).await;
    let id = body["data"]["id"].as_str().unwrap().to_string();
    let token = body["data"]["token"].as_str().unwrap().to_string();
    let complete = format!("/api/v1/conversations/{id}/complete");
    let resp = preflight(&app, &complete, "https://shop.example").await;
    assert_eq!(
        allowed_origin(&resp).as_deref(),
        Some("https://shop.example")
    );
    let resp = preflight(&app, &complete, "https://evil.example").await;
    assert_eq!(allowed_origin(&resp), None);
    let resp = app
        .req_as(
            &token,
            Method::GET,
            &format!("/api/v1/conversations/{id}/messages"),
        )
        .header("origin", "https://shop.example")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        allowed_origin(&resp).as_deref(),
        Some("https://shop.example")
    );

    // A bot without a list takes every site; key-only routes never answer CORS.
    let resp = preflight(
        &app,
        &format!("/api/v1/widget/{open}/conversations"),
        "https://anyone.example",
    )
    .await;
    assert_eq!(
        allowed_origin(&resp).as_deref(),
        Some("https://anyone.example")
    );
    let resp = preflight(&app, "/api/v1/bots", "https://anyone.example").await;
    assert_eq!(allowed_origin(&resp), None);
    let resp = preflight(
        &app,
        &format!("/api/v1/conversations/{id}/token"),
        "https://shop.example",
    )
    .await;
    assert_eq!(allowed_origin(&resp), None);
}

#[tokio::test]
async fn widget_starts_are_rate_limited_per_client_address() {
    let app = spawn_app_with(
        HttpConfig {
            widget_starts_per_minute: 3,
            client_ip_header: Some(HeaderName::from_static("x-real-ip")),
            ..Default::default()
        },
        Limits::default(),
    )
    .await;
    let bot = app.create_bot("Busy").await;
    let start = |ip: &'static str| {
        app.client
            .post(app.url(&format!("/api/v1/widget/{bot}/conversations")))
            .header("x-real-ip", ip)
            .send()
    };
    for _ in 0..3 {
        assert_eq!(
            start("192.0.2.10").await.unwrap().status(),
            StatusCode::CREATED
        );
    }
    let refused = start("192.0.2.10").await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = refused.headers()[RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=20).contains(&wait), "Retry-After: {wait}");
    let body: Value = refused.json().await.unwrap();
    assert_error(
        StatusCode::TOO_MANY_REQUESTS,
        &body,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
    );
    // Another address has its own allowance; the limit is on starting, not talking.
    assert_eq!(
        start("192.0.2.11").await.unwrap().status(),
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn the_peer_address_counts_when_no_proxy_header_is_configured() {
    let app = spawn_app_with(
        HttpConfig {
            widget_starts_per_minute: 1,
            ..Default::default()
        },
        Limits::default(),
    )
    .await;
    let bot = app.create_bot("Busy").await;
    let (status, _) = widget_start(&app, &bot, None).await;
    assert_eq!(status, StatusCode::CREATED);
    // A forged header changes nothing when the server was not told to trust it.
    let (status, body) = send(
        app.client
            .post(app.url(&format!("/api/v1/widget/{bot}/conversations")))
            .header("x-real-ip", "198.51.100.7"),
    )
    .await;
    assert_error(status, &body, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
}

#[tokio::test]
async fn the_config_carries_the_look_the_texts_and_the_greeting() {
    let app = spawn_app().await;
    let bot = app.create_bot("Shop").await;
    let (status, body) = app
        .put(
            &format!("/api/v1/bots/{bot}/settings"),
            json!({
                "greeting_message": "Hallo!",
                "greeting_buttons": [{"title": "Versand"}],
                "widget": {"title": "Hilfe", "primary_color": "#0f766e", "position": "left",
                           "welcome_text": "Wir antworten sofort.", "texts": {"send": "Senden"}}
            }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = send(
        app.client
            .get(app.url(&format!("/api/v1/widget/{bot}/config"))),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let c = &body["data"];
    assert_eq!(c["title"], "Hilfe");
    assert_eq!(c["primary_color"], "#0f766e");
    assert_eq!(c["position"], "left");
    assert_eq!(c["welcome_text"], "Wir antworten sofort.");
    assert_eq!(c["texts"]["send"], "Senden");
    assert_eq!(c["texts"]["talk_to_person"], "Talk to a person");
    assert_eq!(c["greeting_message"], "Hallo!");
    assert_eq!(c["greeting_buttons"][0]["title"], "Versand");
    assert!(c.get("allowed_origins").is_none(), "{c}");

    // Unknown text keys are refused by name.
    let (status, body) = app
        .put(
            &format!("/api/v1/bots/{bot}/settings"),
            json!({"widget": {"texts": {"sendd": "x"}}}),
        )
        .await;
    let error = assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert_eq!(error["details"]["fields"][0]["field"], "widget.texts.sendd");
}

#[tokio::test]
async fn the_binary_serves_the_script_the_chat_page_and_the_demo() {
    let app = spawn_app().await;
    let resp = app.client.get(app.url("/widget.js")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("application/javascript"));
    let js = resp.text().await.unwrap();
    assert!(js.len() < 30 * 1024, "{} bytes", js.len());
    assert!(js.contains("attachShadow") && js.contains(".launcher"));

    // No bot yet: the demo says how to get one.
    let resp = app.client.get(app.url("/demo")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert!(resp.text().await.unwrap().contains("--demo"));

    let first = app.create_bot("First <bot>").await;
    let resp = app.client.get(app.url("/demo")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let html = resp.text().await.unwrap();
    assert!(html.contains(&format!("data-bot=\"{first}\"")), "{html}");
    assert!(html.contains("First &lt;bot&gt;") && !html.contains("First <bot>"));
    // The bot named `Northwind Demo` wins over the first one.
    let demo = app.create_bot("Northwind Demo").await;
    let html = app
        .client
        .get(app.url("/demo"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains(&format!("data-bot=\"{demo}\"")), "{html}");

    let resp = app
        .client
        .get(app.url(&format!("/chat/{demo}")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("script-src 'self'"));
    let html = resp.text().await.unwrap();
    assert!(html.contains(&format!("data-bot=\"{demo}\"")) && html.contains("data-mode=\"page\""));
    let resp = app
        .client
        .get(app.url(&format!("/chat/{}", uuid::Uuid::now_v7())))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_openapi_document_lists_the_widget_routes_as_public() {
    let app = spawn_app().await;
    let (status, doc) = send(app.client.get(app.url("/openapi.json"))).await;
    assert_eq!(status, StatusCode::OK);
    for (path, method) in [
        ("/api/v1/widget/{bot_id}/conversations", "post"),
        ("/api/v1/widget/{bot_id}/config", "get"),
        ("/widget.js", "get"),
        ("/chat/{bot_id}", "get"),
        ("/demo", "get"),
    ] {
        let op = &doc["paths"][path][method];
        assert!(op.is_object(), "{path} missing from the OpenAPI document");
        assert_eq!(op["security"], json!([{}]), "{path} needs no credential");
    }
    // The token routes moved under the widget's CORS layer stay documented.
    assert!(doc["paths"]["/api/v1/conversations/{conversation_id}/complete"]["post"].is_object());
}
