//! Author templates through the API (issue 14, defects 2 and 5): a template that fails
//! gives the customer the bot's fallback text, never its source; one that would build a
//! gigabyte is refused when saved, or falls back when only a customer's value makes it
//! big; introspection is not available.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, bad_fields, spawn_app, TestApp};

const FALLBACK: &str = "Sorry, I didn't understand that. Could you rephrase it?";
const STAFF: &str =
    "{% if contact.name == 'staff' %}STAFF-ONLY code 7731{% endif %}Next year: {{ age | int + 1 }}";
const GIGABYTE: &str = r#"{% set s = "x" * 100000000 %}{{ (s ~ s ~ s ~ s) | length }}"#;

fn rule(name: &str, keyword: &str, response: &str) -> Value {
    json!({
        "name": name,
        "keywords": [keyword],
        "match_type": "contains",
        "response_type": "text",
        "response": response,
        "priority": 1,
        "enabled": true
    })
}

fn texts(messages: &[Value]) -> Vec<String> {
    messages
        .iter()
        .map(|m| m["text"].as_str().unwrap_or("").to_string())
        .collect()
}

async fn start_with(app: &TestApp, bot: &str, contact: Value) -> String {
    let (status, body) = app
        .post(
            "/api/v1/conversations",
            json!({"bot_id": bot, "contact": contact}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["data"]["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_failing_flow_template_sends_the_fallback_not_the_staff_branch() {
    let app = spawn_app().await;
    let bot = app.create_bot("Ages").await;
    let (status, body) = app
        .post(
            &format!("/api/v1/bots/{bot}/flows"),
            json!({"name": "Age", "trigger_keywords": ["birthday"],
                   "completion_message": STAFF,
                   "steps": [{"step_name": "age", "step_order": 1, "message": "How old are you?",
                              "message_type": "text", "input_type": "text", "store_as": "age"}]}),
        )
        .await;
    // It only fails for some answers, so it is accepted when authored.
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let failures = parley_engine::templating::failure_count("failed");
    let c = start_with(&app, &bot, json!({"name": "Ada"})).await;
    assert_eq!(texts(&app.say(&c, "birthday").await), ["How old are you?"]);
    let replies = texts(&app.say(&c, "forty").await);
    assert_eq!(replies, [FALLBACK]);
    for m in app.history(&c).await {
        let text = m["text"].as_str().unwrap_or("");
        assert!(
            !text.contains("STAFF-ONLY") && !text.contains("{%") && !text.contains("{{"),
            "the template's source reached the customer: {text}"
        );
    }
    assert!(parley_engine::templating::failure_count("failed") > failures);

    // A number renders as written.
    let c = start_with(&app, &bot, json!({"name": "Ada"})).await;
    app.say(&c, "birthday").await;
    assert_eq!(texts(&app.say(&c, "40").await), ["Next year: 41"]);
}

#[tokio::test]
async fn the_gigabyte_rule_is_refused_when_saved() {
    let app = spawn_app().await;
    let bot = app.create_bot("Big").await;
    let (status, body) = app
        .post(
            &format!("/api/v1/bots/{bot}/keywords"),
            rule("big", "big", GIGABYTE),
        )
        .await;
    let err = assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert_eq!(bad_fields(&err), ["response"]);
    let message = err["details"]["fields"][0]["message"].as_str().unwrap();
    assert!(message.contains("memory"), "{message}");

    // The same through a bot file, and in settings.
    let (status, body) = app
        .post(
            "/api/v1/bots/import",
            json!({"name": "Imported", "keywords": [rule("big", "big", GIGABYTE)]}),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    let (status, body) = app
        .put(
            &format!("/api/v1/bots/{bot}/settings"),
            json!({"fallback_message": GIGABYTE}),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
}

#[tokio::test]
async fn a_template_made_big_by_a_customer_value_falls_back() {
    let app = spawn_app().await;
    let bot = app.create_bot("Big").await;
    let template = r#"{% set s = "x" * (contact.n | int) %}{{ (s ~ s ~ s ~ s) | length }} bytes"#;
    // With no value set it stays within every bound, so it cannot be refused when saved.
    app.create_rule(&bot, rule("big", "big", template)).await;

    let c = start_with(&app, &bot, json!({"name": "Ada", "attributes": {"n": "3"}})).await;
    assert_eq!(texts(&app.say(&c, "big").await), ["12 bytes"]);

    let failures = parley_engine::templating::failure_count("memory");
    let c = start_with(
        &app,
        &bot,
        json!({"name": "Ada", "attributes": {"n": "100000000"}}),
    )
    .await;
    assert_eq!(texts(&app.say(&c, "big").await), [FALLBACK]);
    assert!(parley_engine::templating::failure_count("memory") > failures);
}

#[tokio::test]
async fn debug_and_namespace_are_not_available() {
    let app = spawn_app().await;
    let bot = app.create_bot("Curious").await;
    for (i, response) in [
        "{{ debug() }}",
        "{% set ns = namespace(s='x') %}{{ ns.s }}",
        "{% macro m() %}x{% endmacro %}{{ m() }}",
        "{% include 'x' %}",
    ]
    .into_iter()
    .enumerate()
    {
        let (status, body) = app
            .post(
                &format!("/api/v1/bots/{bot}/keywords"),
                rule(&format!("r{i}"), "peek", response),
            )
            .await;
        let err = assert_error(
            status,
            &body,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        );
        assert_eq!(bad_fields(&err), ["response"], "{response}");
    }
}
