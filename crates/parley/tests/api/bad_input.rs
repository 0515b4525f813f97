//! Bad input gets a 4xx in the envelope, never a 500, and loses nothing already stored.

use parley_engine::Limits;
use parley_server::HttpConfig;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{assert_error, bad_fields, send, spawn_app, spawn_app_with};

#[tokio::test]
async fn malformed_and_mistyped_bodies() {
    let app = spawn_app().await;
    let bot = app.create_bot("b").await;
    let conv = app.start(&bot).await["id"].as_str().unwrap().to_string();
    app.say(&conv, "hello").await;
    let before = app.history(&conv).await;
    let path = format!("/api/v1/conversations/{conv}/complete");

    let (status, body) = send(
        app.req(Method::POST, &path)
            .header("content-type", "application/json")
            .body("{\"text\": \"unterminated"),
    )
    .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "bad_request");

    let (status, body) = send(
        app.req(Method::POST, &path)
            .header("content-type", "text/plain")
            .body("hello"),
    )
    .await;
    assert_error(
        status,
        &body,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
    let (status, body) = send(app.req(Method::POST, &path).body("{\"text\": \"hi\"}")).await;
    assert_error(
        status,
        &body,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );

    let (status, body) = app
        .post(&path, json!({"text": "hi", "colour": "red"}))
        .await;
    let err = assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert_eq!(bad_fields(&err), ["colour"]);

    let (status, body) = app.post(&path, json!({"text": 42})).await;
    let err = assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert_eq!(bad_fields(&err), ["text"]);

    let (status, body) = app.post(&path, json!({"text": "   "})).await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );

    assert_eq!(
        app.history(&conv).await,
        before,
        "nothing was added or lost"
    );
}

#[tokio::test]
async fn size_limits_are_configurable() {
    let app = spawn_app_with(
        HttpConfig {
            max_body_bytes: 2048,
            ..Default::default()
        },
        Limits {
            max_message_chars: 100,
            ..Limits::default()
        },
    )
    .await;
    let bot = app.create_bot("b").await;
    let conv = app.start(&bot).await["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/conversations/{conv}/complete");

    let (status, body) = app.post(&path, json!({"text": "x".repeat(101)})).await;
    let err = assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert_eq!(bad_fields(&err), ["text"]);
    let (status, _) = app.post(&path, json!({"text": "é".repeat(100)})).await;
    assert_eq!(status, StatusCode::OK, "the limit counts characters");

    let (status, body) = app.post(&path, json!({"text": "x".repeat(5000)})).await;
    assert_error(
        status,
        &body,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    );
    assert_eq!(app.history(&conv).await.len(), 3);
}

#[tokio::test]
async fn the_default_body_limit_is_64_kib() {
    let app = spawn_app().await;
    let bot = app.create_bot("b").await;
    let big = json!({"system_prompt": "x".repeat(70 * 1024)});
    let (status, body) = app.put(&format!("/api/v1/bots/{bot}/settings"), big).await;
    assert_error(
        status,
        &body,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    );
}

#[tokio::test]
async fn unknown_ids_routes_and_cursors() {
    let app = spawn_app().await;
    let missing = uuid::Uuid::now_v7();
    for path in [
        format!("/api/v1/bots/{missing}"),
        format!("/api/v1/bots/{missing}/settings"),
        "/api/v1/bots/not-a-uuid".to_string(),
        format!("/api/v1/conversations/{missing}"),
        "/api/v1/nothing-here".to_string(),
    ] {
        let (status, body) = app.get(&path).await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    }
    let (status, body) = app
        .post(
            &format!("/api/v1/conversations/{missing}/complete"),
            json!({"text": "hi"}),
        )
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    let (status, body) = app
        .post("/api/v1/conversations", json!({"bot_id": missing}))
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    let (status, body) = app
        .post("/api/v1/conversations", json!({"bot_id": "nope"}))
        .await;
    let err = assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert_eq!(bad_fields(&err), ["bot_id"]);

    let (status, body) = app.get("/api/v1/bots?cursor=garbage").await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "bad_request");
    let (status, body) = app.get("/api/v1/bots?limit=lots").await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "bad_request");
    let (status, body) = send(app.req(Method::PATCH, "/api/v1/bots")).await;
    assert_error(
        status,
        &body,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    );
}

/// A body is one JSON object and nothing else: serde would fill a struct from an array
/// (`["x", "y"]` renamed the bot), and ignored whatever followed the object.
#[tokio::test]
async fn a_body_is_exactly_one_json_object() {
    let app = spawn_app().await;
    let bot = app.create_bot("original").await;
    let path = format!("/api/v1/bots/{bot}");
    for raw in [
        r#"["x", "y"]"#,
        r#"{"name": "a"} trailing"#,
        r#"{"name": "a"}{"name": "b"}"#,
        r#""a""#,
        "null",
    ] {
        let (status, body) = send(
            app.req(Method::PUT, &path)
                .header("content-type", "application/json")
                .body(raw),
        )
        .await;
        assert_error(status, &body, StatusCode::BAD_REQUEST, "bad_request");
    }
    let (status, body) = app.get(&path).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["name"], "original", "nothing was renamed");

    // JSON Schema counts 2.0 as an integer, so the API does too; 2.5 stays refused.
    let (status, body) = app
        .post(
            &format!("/api/v1/bots/{bot}/keywords"),
            json!({"name": "Hours", "keywords": ["hours"], "match_type": "contains", "response": "9 to 5", "priority": 2.0}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["data"]["priority"], 2);
}

/// `?limit=` outside 1..=200 is refused with 422 naming `limit`, not clamped.
#[tokio::test]
async fn page_sizes_out_of_range_are_refused() {
    let app = spawn_app().await;
    app.create_bot("a").await;
    for limit in ["0", "-1", "201", "100000"] {
        let (status, body) = app.get(&format!("/api/v1/bots?limit={limit}")).await;
        let err = assert_error(
            status,
            &body,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        );
        assert_eq!(bad_fields(&err), ["limit"], "limit={limit}");
    }
    let (status, body) = app.get("/api/v1/bots?limit=200").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["items"].as_array().map(Vec::len), Some(1));
}
