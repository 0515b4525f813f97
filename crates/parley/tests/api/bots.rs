//! Bots and their settings through the API.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{assert_error, bad_fields, spawn_app};

#[tokio::test]
async fn bot_lifecycle() {
    let app = spawn_app().await;
    let (status, body) = app
        .post(
            "/api/v1/bots",
            json!({ "name": "Support", "description": "Front line" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let bot = body["data"].clone();
    assert_eq!(bot["name"], "Support");
    let id = bot["id"].as_str().unwrap();
    assert!(bot["created_at"].is_string());

    let (status, body) = app.get("/api/v1/bots").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "success");
    assert_eq!(body["data"]["items"].as_array().unwrap().len(), 1);
    assert!(body["data"]["next_cursor"].is_null());

    let (status, body) = app
        .put(&format!("/api/v1/bots/{id}"), json!({ "name": "Helpdesk" }))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["name"], "Helpdesk");
    assert_eq!(body["data"]["description"], "Front line");

    let (status, _) = app.delete(&format!("/api/v1/bots/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app.get(&format!("/api/v1/bots/{id}")).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn bot_names_are_required_and_bounded() {
    let app = spawn_app().await;
    let (status, body) = app.post("/api/v1/bots", json!({})).await;
    let err = assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert_eq!(bad_fields(&err), ["name"]);
    let (status, body) = app
        .post("/api/v1/bots", json!({ "name": "x".repeat(101) }))
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
}

#[tokio::test]
async fn lists_page_with_cursors() {
    let app = spawn_app().await;
    for i in 0..5 {
        app.create_bot(&format!("bot {i}")).await;
    }
    let (_, first) = app.get("/api/v1/bots?limit=2").await;
    let names: Vec<_> = first["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].clone())
        .collect();
    assert_eq!(names, [json!("bot 0"), json!("bot 1")]);
    let cursor = first["data"]["next_cursor"].as_str().unwrap().to_string();
    let (_, second) = app
        .get(&format!("/api/v1/bots?limit=2&cursor={cursor}"))
        .await;
    assert_eq!(second["data"]["items"][0]["name"], "bot 2");
    // The largest page; above it is refused (bad_input.rs), no longer clamped (issue 14).
    let (_, all) = app.get("/api/v1/bots?limit=200").await;
    assert_eq!(all["data"]["items"].as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn settings_read_and_partial_update_with_button_ids() {
    let app = spawn_app().await;
    let bot = app.create_bot("s").await;
    let path = format!("/api/v1/bots/{bot}/settings");
    let (status, body) = app.get(&path).await;
    assert_eq!(status, StatusCode::OK);
    let defaults = body["data"].clone();
    assert_eq!(defaults["chatbot_enabled"], true);
    assert_eq!(defaults["ai_enabled"], false);

    let (status, body) = app
        .put(
            &path,
            json!({
                "greeting_message": "Welcome!",
                "greeting_buttons": [{"title": "Track Order"}, {"title": "Product Info"}, {"id": "agent", "title": "Speak to Agent"}],
                "transfer_keywords": ["agent", "human"],
                "ai_provider": "openai",
                "ai_model": "gpt-4o-mini",
                "timezone": "Europe/Berlin"
            }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let s = &body["data"];
    assert_eq!(
        s["greeting_buttons"][0],
        json!({"id": "track_order", "title": "Track Order"})
    );
    assert_eq!(s["greeting_buttons"][2]["id"], "agent");
    assert_eq!(
        s["fallback_message"], defaults["fallback_message"],
        "untouched fields stay"
    );

    let (_, body) = app.get(&path).await;
    assert_eq!(body["data"]["timezone"], "Europe/Berlin");
    assert_eq!(body["data"]["transfer_keywords"], json!(["agent", "human"]));
}

#[tokio::test]
async fn settings_validation_names_fields_and_changes_nothing() {
    let app = spawn_app().await;
    let bot = app.create_bot("s").await;
    let path = format!("/api/v1/bots/{bot}/settings");
    let (_, before) = app.get(&path).await;

    let eleven: Vec<_> = (0..11)
        .map(|i| json!({ "title": format!("B{i}") }))
        .collect();
    let (status, body) = app
        .put(
            &path,
            json!({
                "greeting_message": "changed",
                "fallback_buttons": [{"title": "This title is much too long"}],
                "greeting_buttons": eleven,
            }),
        )
        .await;
    let err = assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    let fields = bad_fields(&err);
    assert!(
        fields.contains(&"greeting_buttons".to_string()),
        "{fields:?}"
    );
    assert!(
        fields.contains(&"fallback_buttons[0].title".to_string()),
        "{fields:?}"
    );

    let (status, body) = app.put(&path, json!({ "greting_message": "typo" })).await;
    let err = assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert_eq!(bad_fields(&err), ["greting_message"]);

    let (_, after) = app.get(&path).await;
    assert_eq!(before, after, "a refused update stores nothing");
}

#[tokio::test]
async fn export_and_import_through_the_api() {
    let app = spawn_app().await;
    let bot = app.create_bot("Exported").await;
    app.create_rule(
        &bot,
        json!({"name": "hours", "keywords": ["hours"], "match_type": "contains", "response": "9-5"}),
    )
    .await;
    let (status, body) = app.get(&format!("/api/v1/bots/{bot}/export")).await;
    assert_eq!(status, StatusCode::OK);
    let mut def = body["data"].clone();
    assert_eq!(def["id"], bot.as_str());
    assert_eq!(def["keywords"][0]["name"], "hours");

    def["keywords"][0]["response"] = json!("10-6");
    let (status, body) = app.post("/api/v1/bots/import", def.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["outcome"], "updated");
    let (_, rules) = app.get(&format!("/api/v1/bots/{bot}/keywords")).await;
    assert_eq!(rules["data"]["items"].as_array().unwrap().len(), 1);
    assert_eq!(rules["data"]["items"][0]["response"], "10-6");

    def.as_object_mut().unwrap().remove("id");
    def["name"] = json!("A copy");
    let (status, body) = app.post("/api/v1/bots/import", def).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_ne!(body["data"]["bot"]["id"], bot.as_str());
}
