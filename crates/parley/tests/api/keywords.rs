//! Keyword rules through the API, and the replies they produce.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, bad_fields, spawn_app, TestApp};

fn rule(name: &str, match_type: &str, keywords: &[&str], priority: i32) -> Value {
    json!({
        "name": name,
        "keywords": keywords,
        "match_type": match_type,
        "response_type": "text",
        "response": format!("{name} reply"),
        "priority": priority,
        "enabled": true
    })
}

async fn reply_to(app: &TestApp, conv: &str, text: &str) -> Value {
    app.say(conv, text)
        .await
        .into_iter()
        .next()
        .unwrap_or(Value::Null)
}

#[tokio::test]
async fn rule_crud() {
    let app = spawn_app().await;
    let bot = app.create_bot("b").await;
    let created = app
        .create_rule(&bot, rule("hours", "contains", &["hours", "open"], 5))
        .await;
    let id = created["id"].as_str().unwrap();
    assert_eq!(created["match_type"], "contains");
    assert_eq!(created["priority"], 5);

    let base = format!("/api/v1/bots/{bot}/keywords");
    let (status, body) = app.get(&base).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["items"][0]["id"], id);

    let (status, body) = app
        .put(
            &format!("{base}/{id}"),
            json!({ "priority": 9, "enabled": false }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["priority"], 9);
    assert_eq!(body["data"]["enabled"], false);
    assert_eq!(body["data"]["keywords"], json!(["hours", "open"]));

    let (status, body) = app.get(&format!("{base}/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["enabled"], false);

    let (status, _) = app.delete(&format!("{base}/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app.get(&format!("{base}/{id}")).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    let (status, body) = app.delete(&format!("{base}/{id}")).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn all_four_match_types_answer_in_a_conversation() {
    let app = spawn_app().await;
    let bot = app.create_bot("b").await;
    app.create_rule(&bot, rule("greet", "contains", &["hi", "hello"], 1))
        .await;
    app.create_rule(&bot, rule("track", "starts_with", &["track"], 1))
        .await;
    app.create_rule(&bot, rule("yes", "exact", &["yes please"], 1))
        .await;
    app.create_rule(&bot, rule("order", "regex", &[r"order\s*#?\d{5,}"], 1))
        .await;
    let conv = app.start(&bot).await["id"].as_str().unwrap().to_string();

    let cases = [
        ("Hi there", Some("greet")),
        ("oh, HELLO!", Some("greet")),
        ("this is it", None),
        ("Track my parcel", Some("track")),
        ("can you track it", None),
        ("  Yes please!! ", Some("yes")),
        ("yes please now", None),
        ("where is Order #123456", Some("order")),
        ("order 12", None),
    ];
    for (text, expected) in cases {
        let r = reply_to(&app, &conv, text).await;
        match expected {
            Some(name) => {
                assert_eq!(r["text"], format!("{name} reply"), "{text}");
                assert_eq!(r["meta"]["source"], "rule", "{text}");
                assert!(r["meta"]["rule_id"].is_string(), "{text}");
            }
            None => assert_eq!(r["meta"]["source"], "fallback", "{text}"),
        }
    }
}

#[tokio::test]
async fn priority_and_enabled_decide_the_winner() {
    let app = spawn_app().await;
    let bot = app.create_bot("b").await;
    let low = app
        .create_rule(&bot, rule("low", "contains", &["refund"], 1))
        .await;
    let high = app
        .create_rule(&bot, rule("high", "contains", &["refund"], 10))
        .await;
    let conv = app.start(&bot).await["id"].as_str().unwrap().to_string();
    let r = reply_to(&app, &conv, "I want a refund").await;
    assert_eq!(r["meta"]["rule_id"], high["id"]);

    let id = high["id"].as_str().unwrap();
    app.put(
        &format!("/api/v1/bots/{bot}/keywords/{id}"),
        json!({"enabled": false}),
    )
    .await;
    let r = reply_to(&app, &conv, "I want a refund").await;
    assert_eq!(r["meta"]["rule_id"], low["id"]);
}

#[tokio::test]
async fn rules_with_buttons_offer_them() {
    let app = spawn_app().await;
    let bot = app.create_bot("b").await;
    app.create_rule(
        &bot,
        json!({
            "name": "menu", "keywords": ["menu"], "match_type": "exact", "response": "Pick:",
            "buttons": [{"title": "Orders"}, {"title": "Returns"}, {"title": "Hours"}, {"title": "Contact"}]
        }),
    )
    .await;
    let conv = app.start(&bot).await["id"].as_str().unwrap().to_string();
    let r = reply_to(&app, &conv, "menu").await;
    assert_eq!(r["buttons"].as_array().unwrap().len(), 4);
    assert_eq!(r["buttons"][0]["id"], "orders");
    assert_eq!(r["meta"]["layout"], "list");
}

#[tokio::test]
async fn invalid_rules_are_refused_with_reasons() {
    let app = spawn_app().await;
    let bot = app.create_bot("b").await;
    let base = format!("/api/v1/bots/{bot}/keywords");

    let (status, body) = app
        .post(&base, rule("bad", "regex", &["(unclosed"], 0))
        .await;
    let err = assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert_eq!(bad_fields(&err), ["keywords[0]"]);
    assert!(err["details"]["fields"][0]["message"]
        .as_str()
        .unwrap()
        .contains("regular expression"));

    let (status, body) = app
        .post(&base, rule("huge", "regex", &[r"(\w{1,100}){1,100}"], 0))
        .await;
    let err = assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert!(err["details"]["fields"][0]["message"]
        .as_str()
        .unwrap()
        .contains("too large"));

    let (status, body) = app.post(&base, rule("m", "fuzzy", &["x"], 0)).await;
    let err = assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert_eq!(bad_fields(&err), ["match_type"]);

    let (status, body) = app
        .post(
            &base,
            json!({"name": "n", "keywords": [], "match_type": "contains", "response": ""}),
        )
        .await;
    let err = assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    let fields = bad_fields(&err);
    assert!(fields.contains(&"keywords".to_string()) && fields.contains(&"response".to_string()));

    let (_, list) = app.get(&base).await;
    assert!(
        list["data"]["items"].as_array().unwrap().is_empty(),
        "nothing refused was stored"
    );

    let missing = uuid::Uuid::now_v7();
    let (status, body) = app
        .post(
            &format!("/api/v1/bots/{missing}/keywords"),
            rule("x", "contains", &["x"], 0),
        )
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
}
