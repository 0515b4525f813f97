//! Health, readiness and the OpenAPI document.

use parley_engine::Limits;
use parley_server::HttpConfig;
use reqwest::StatusCode;

use crate::helpers::{send, spawn_app, spawn_app_with};

/// `/metrics` on the API listener, where these tests read it (off by default).
fn public_metrics() -> HttpConfig {
    HttpConfig {
        metrics_public: true,
        ..HttpConfig::default()
    }
}

#[tokio::test]
async fn health_and_readiness_need_no_key() {
    let app = spawn_app().await;
    let (status, body) = send(app.client.get(app.url("/healthz"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["status"], "ok");
    let (status, body) = send(app.client.get(app.url("/readyz"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["database"], "ok");
}

#[tokio::test]
async fn openapi_describes_every_route() {
    let app = spawn_app().await;
    let (status, doc) = send(app.client.get(app.url("/openapi.json"))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/api/v1/bots",
        "/api/v1/bots/{bot_id}",
        "/api/v1/bots/{bot_id}/settings",
        "/api/v1/bots/{bot_id}/keywords",
        "/api/v1/bots/{bot_id}/keywords/{rule_id}",
        "/api/v1/conversations",
        "/api/v1/conversations/{conversation_id}/send",
        "/api/v1/conversations/{conversation_id}/receive",
        "/api/v1/conversations/{conversation_id}/complete",
        "/api/v1/conversations/{conversation_id}/messages",
        "/api/v1/conversations/{conversation_id}/events",
        "/api/v1/conversations/{conversation_id}/token",
        "/api/v1/conversations/{conversation_id}/feedback",
        "/api/v1/keys",
        "/api/v1/sessions",
        "/api/v1/datasets",
        "/api/v1/datasets/{dataset_id}",
        "/api/v1/datasets/{dataset_id}/records",
        "/api/v1/datasets/{dataset_id}/records/{record_id}",
        "/api/v1/datasets/{dataset_id}/search",
        "/healthz",
        "/readyz",
    ] {
        assert!(
            paths.contains_key(path),
            "{path} missing from the OpenAPI document"
        );
    }
    assert!(doc["components"]["schemas"]["Settings"].is_object());
    assert!(doc["components"]["schemas"]["KeywordRuleInput"].is_object());

    // Successes are documented inside the envelope, errors with it, and each operation
    // lists the errors its input can cause.
    let put = &doc["paths"]["/api/v1/bots/{bot_id}"]["put"]["responses"];
    let ok = &put["200"]["content"]["application/json"]["schema"];
    assert_eq!(ok["required"], serde_json::json!(["status", "data"]));
    assert_eq!(ok["properties"]["data"]["$ref"], "#/components/schemas/Bot");
    for status in ["400", "401", "403", "404", "413", "415", "422", "503"] {
        assert_eq!(
            put[status]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/ErrorEnvelope",
            "PUT /bots/{{bot_id}} {status}"
        );
    }
    let list = &doc["paths"]["/api/v1/bots"]["get"]["responses"]["200"];
    assert!(
        list["content"]["application/json"]["schema"]["properties"]["data"].is_object(),
        "lists document their page"
    );
}

#[tokio::test]
async fn metrics_count_requests_by_route_template() {
    let app = spawn_app_with(public_metrics(), Limits::default()).await;
    let bot = app.create_bot("m").await;
    app.get(&format!("/api/v1/bots/{bot}")).await;
    app.get(&format!("/api/v1/bots/{}", uuid::Uuid::now_v7()))
        .await;
    let resp = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let text = resp.text().await.unwrap();
    assert!(
        text.contains(r#"parley_http_requests_total{method="GET",route="/api/v1/bots/{bot_id}",status="200"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"route="/api/v1/bots/{bot_id}",status="404"} 1"#),
        "{text}"
    );
    assert!(
        text.contains("parley_http_request_duration_seconds_bucket"),
        "{text}"
    );
    assert!(!text.contains(&bot), "ids never become labels");
}

#[tokio::test]
async fn metrics_time_each_stage_of_a_turn() {
    let app = spawn_app_with(public_metrics(), Limits::default()).await;
    let bot = app.create_bot("stages").await;
    let conversation = app.start(&bot).await;
    let id = conversation["id"].as_str().unwrap();
    app.say(id, "hello there").await;
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for stage in [
        "lock_wait",
        "load",
        "guard",
        "route",
        "output_check",
        "commit",
        "turn",
    ] {
        assert!(
            text.contains(&format!(
                r#"parley_turn_stage_seconds_count{{stage="{stage}"}} 1"#
            )),
            "{stage}: {text}"
        );
    }
    // No AI on this bot: the model stages never ran.
    assert!(!text.contains(r#"stage="ai_model""#), "{text}");
}
