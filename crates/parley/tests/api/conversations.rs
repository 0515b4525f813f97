//! Conversations: greeting, send / receive / complete, buttons, history, sessions, tokens,
//! streaming, live events and ordering.

use std::time::Duration;

use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, bad_fields, send, spawn_app, TestApp};

async fn shop(app: &TestApp) -> String {
    let bot = app.create_bot("Shop").await;
    let (status, body) = app
        .put(
            &format!("/api/v1/bots/{bot}/settings"),
            json!({
                "greeting_message": "Welcome to the shop!",
                "greeting_buttons": [{"title": "Track Order"}, {"title": "Returns"}],
                "fallback_message": "Sorry, I didn't get that.",
                "fallback_buttons": [{"title": "Main Menu"}]
            }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.create_rule(
        &bot,
        json!({"name": "track", "keywords": ["track order", "track"], "match_type": "contains", "response": "What's your order number?", "priority": 5}),
    )
    .await;
    app.create_rule(
        &bot,
        json!({"name": "returns", "keywords": ["returns", "refund"], "match_type": "contains", "response": "Returns are free for 30 days."}),
    )
    .await;
    bot
}

#[tokio::test]
async fn a_conversation_starts_with_the_greeting_and_its_buttons() {
    let app = spawn_app().await;
    let bot = shop(&app).await;
    let (status, body) = app
        .post(
            "/api/v1/conversations",
            json!({"bot_id": bot, "contact": {"external_id": "cust-42", "name": "Ada", "attributes": {"plan": "pro"}}, "channel": "widget"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let conv = &body["data"];
    assert_eq!(conv["bot_id"], bot.as_str());
    assert_eq!(conv["status"], "active");
    assert_eq!(conv["channel"], "widget");
    assert_eq!(conv["contact"]["name"], "Ada");
    let greeting = &conv["messages"][0];
    assert_eq!(greeting["role"], "bot");
    assert_eq!(greeting["text"], "Welcome to the shop!");
    assert_eq!(greeting["meta"]["source"], "greeting");
    assert_eq!(
        greeting["buttons"],
        json!([{"id": "track_order", "title": "Track Order"}, {"id": "returns", "title": "Returns"}])
    );
    assert_eq!(greeting["meta"]["layout"], "quick_replies");

    // The same external id on the same channel is the same contact.
    let (_, again) = app
        .post(
            "/api/v1/conversations",
            json!({"bot_id": bot, "contact": {"external_id": "cust-42"}, "channel": "widget"}),
        )
        .await;
    assert_eq!(again["data"]["contact_id"], conv["contact_id"]);
    assert_eq!(again["data"]["contact"]["name"], "Ada");

    let (status, body) = app
        .get(&format!(
            "/api/v1/conversations/{}",
            conv["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["contact"]["attributes"]["plan"], "pro");
}

#[tokio::test]
async fn complete_answers_with_rules_fallback_and_buttons() {
    let app = spawn_app().await;
    let bot = shop(&app).await;
    let conv = app.start(&bot).await["id"].as_str().unwrap().to_string();

    let r = app.say(&conv, "I'd like to track my order").await;
    assert_eq!(r.len(), 1);
    assert_eq!(r[0]["text"], "What's your order number?");
    assert_eq!(r[0]["role"], "bot");
    assert_eq!(r[0]["meta"]["source"], "rule");

    let r = app.say(&conv, "qwertyuiop").await;
    assert_eq!(r[0]["meta"]["source"], "fallback");
    assert_eq!(r[0]["buttons"][0]["id"], "main_menu");

    // The fallback offered `main_menu`; the greeting's buttons are no longer on offer.
    let path = format!("/api/v1/conversations/{conv}/complete");
    let (status, body) = app.post(&path, json!({"button_id": "returns"})).await;
    let err = assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert_eq!(bad_fields(&err), ["button_id"]);
    let (status, body) = app.post(&path, json!({"button_id": "main_menu"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let history = app.history(&conv).await;
    let roles: Vec<_> = history
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["bot", "user", "bot", "user", "bot", "user", "bot"]);
    assert_eq!(history[5]["text"], "Main Menu");
    assert_eq!(history[5]["meta"]["button_id"], "main_menu");
}

#[tokio::test]
async fn answering_the_greeting_by_button_id() {
    let app = spawn_app().await;
    let bot = shop(&app).await;
    let conv = app.start(&bot).await["id"].as_str().unwrap().to_string();
    let (status, body) = app
        .post(
            &format!("/api/v1/conversations/{conv}/complete"),
            json!({"button_id": "returns"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["data"]["messages"][0]["text"],
        "Returns are free for 30 days."
    );
}

#[tokio::test]
async fn send_then_receive() {
    let app = spawn_app().await;
    let bot = shop(&app).await;
    let conv = app.start(&bot).await["id"].as_str().unwrap().to_string();
    let (status, body) = app
        .post(
            &format!("/api/v1/conversations/{conv}/send"),
            json!({"text": "refund please"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["data"]["message"]["role"], "user");
    assert_eq!(body["data"]["message"]["text"], "refund please");
    // Sent, not yet answered.
    assert_eq!(app.history(&conv).await.len(), 2);

    let (status, body) = app
        .post(&format!("/api/v1/conversations/{conv}/receive"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["data"]["messages"][0]["text"],
        "Returns are free for 30 days."
    );
    let (_, body) = app
        .post(&format!("/api/v1/conversations/{conv}/receive"), json!({}))
        .await;
    assert_eq!(
        body["data"]["messages"],
        json!([]),
        "nothing is answered twice"
    );

    let (status, body) = app
        .post(
            &format!("/api/v1/conversations/{conv}/send"),
            json!({"text": "a", "button_id": "b"}),
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
async fn sessions_lists_and_deletion() {
    let app = spawn_app().await;
    let bot = shop(&app).await;
    let other = app.create_bot("other").await;
    let conv = app.start(&bot).await["id"].as_str().unwrap().to_string();
    app.start(&other).await;

    let (status, body) = app
        .get(&format!("/api/v1/conversations/{conv}/session"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["mode"], "bot");
    assert_eq!(body["data"]["id"], conv.as_str());
    assert!(body["data"]["variables"].is_object());
    let (status, body) = app.get(&format!("/api/v1/sessions/{conv}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, body) = app.get(&format!("/api/v1/sessions?bot_id={bot}")).await;
    assert_eq!(body["data"]["items"].as_array().unwrap().len(), 1);

    let (_, body) = app
        .get(&format!("/api/v1/conversations?bot_id={bot}"))
        .await;
    assert_eq!(body["data"]["items"].as_array().unwrap().len(), 1);
    let (_, body) = app.get("/api/v1/conversations?status=active").await;
    assert_eq!(body["data"]["items"].as_array().unwrap().len(), 2);
    let (status, body) = app.get("/api/v1/conversations?status=sleeping").await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "bad_request");

    let (status, _) = app.delete(&format!("/api/v1/conversations/{conv}")).await;
    assert_eq!(status, StatusCode::OK);
    for path in [
        format!("/api/v1/conversations/{conv}"),
        format!("/api/v1/conversations/{conv}/messages"),
        format!("/api/v1/conversations/{conv}/session"),
    ] {
        let (status, body) = app.get(&path).await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    }
}

#[tokio::test]
async fn closed_conversations_keep_history_and_refuse_messages() {
    let app = spawn_app().await;
    let bot = shop(&app).await;
    let conv = app.start(&bot).await["id"].as_str().unwrap().to_string();
    app.say(&conv, "track").await;
    let (status, body) = app
        .post(&format!("/api/v1/conversations/{conv}/close"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["status"], "closed");
    let (status, body) = app
        .post(
            &format!("/api/v1/conversations/{conv}/complete"),
            json!({"text": "hello?"}),
        )
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "conflict");
    assert_eq!(app.history(&conv).await.len(), 3);
}

#[tokio::test]
async fn complete_can_stream_as_server_sent_events() {
    let app = spawn_app().await;
    let bot = shop(&app).await;
    let conv = app.start(&bot).await["id"].as_str().unwrap().to_string();
    let resp = app
        .req(
            reqwest::Method::POST,
            &format!("/api/v1/conversations/{conv}/complete"),
        )
        .json(&json!({"text": "refund", "stream": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let body = resp.text().await.unwrap();
    let events = parse_sse(&body);
    assert_eq!(events[0].0, "message");
    assert_eq!(events[0].1["text"], "Returns are free for 30 days.");
    assert_eq!(events.last().unwrap().0, "done");
    // Stored like any other reply.
    assert_eq!(app.history(&conv).await.len(), 3);
}

/// `(event, data)` pairs of an SSE body (comments and ids skipped).
fn parse_sse(body: &str) -> Vec<(String, Value)> {
    body.split("\n\n")
        .filter_map(|block| {
            let mut event = String::from("message");
            let mut data = String::new();
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    event = v.trim().to_string();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push_str(v.trim());
                }
            }
            (!data.is_empty()).then(|| (event, serde_json::from_str(&data).unwrap_or(Value::Null)))
        })
        .collect()
}

/// Reads an SSE response until `n` events with data arrived (or 5 s passed).
async fn read_events(resp: reqwest::Response, n: usize) -> Vec<(Option<String>, Value)> {
    let mut stream = resp.bytes_stream();
    let mut buf = String::new();
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while out.len() < n {
        let chunk = tokio::time::timeout_at(deadline, stream.next())
            .await
            .expect("events arrive in time");
        let Some(chunk) = chunk else { break };
        buf.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            let id = block
                .lines()
                .find_map(|l| l.strip_prefix("id:"))
                .map(|s| s.trim().to_string());
            if let Some(data) = block.lines().find_map(|l| l.strip_prefix("data:")) {
                out.push((id, serde_json::from_str(data.trim()).unwrap()));
            }
        }
    }
    out
}

#[tokio::test]
async fn the_event_stream_replays_then_follows_and_resumes_from_last_event_id() {
    let app = spawn_app().await;
    let bot = shop(&app).await;
    let conv = app.start(&bot).await["id"].as_str().unwrap().to_string();
    app.say(&conv, "track").await;
    let path = format!("/api/v1/conversations/{conv}/events");

    // From the start: greeting, question, answer, then live messages.
    let resp = app.req(reqwest::Method::GET, &path).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let app2 = app.client.clone();
    let url = app.url(&format!("/api/v1/conversations/{conv}/complete"));
    let key = app.key.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        send(
            app2.post(url)
                .bearer_auth(key)
                .json(&json!({"text": "refund"})),
        )
        .await;
    });
    let events = read_events(resp, 5).await;
    let texts: Vec<_> = events
        .iter()
        .map(|(_, m)| m["text"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        texts,
        [
            "Welcome to the shop!",
            "track",
            "What's your order number?",
            "refund",
            "Returns are free for 30 days."
        ]
    );

    // Resuming after the third event gives exactly the rest.
    let third = events[2].0.clone().unwrap();
    let resp = app
        .req(reqwest::Method::GET, &path)
        .header("Last-Event-ID", third)
        .send()
        .await
        .unwrap();
    let rest = read_events(resp, 2).await;
    assert_eq!(rest[0].1["text"], "refund");
    assert_eq!(rest[1].0, events[4].0);
}

#[tokio::test]
async fn concurrent_messages_to_one_conversation_stay_in_order() {
    let app = spawn_app().await;
    let bot = shop(&app).await;
    let conv = app.start(&bot).await["id"].as_str().unwrap().to_string();
    let mut tasks = Vec::new();
    for i in 0..16 {
        let client = app.client.clone();
        let url = app.url(&format!("/api/v1/conversations/{conv}/complete"));
        let key = app.key.clone();
        tasks.push(tokio::spawn(async move {
            let text = if i % 2 == 0 {
                format!("refund {i}")
            } else {
                format!("track {i}")
            };
            send(
                client
                    .post(url)
                    .bearer_auth(key)
                    .json(&json!({ "text": text })),
            )
            .await
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap().0, StatusCode::OK);
    }
    let history = app.history(&conv).await;
    assert_eq!(history.len(), 33);
    for pair in history[1..].chunks(2) {
        assert_eq!(pair[0]["role"], "user");
        assert_eq!(pair[1]["role"], "bot");
        let expected = if pair[0]["text"].as_str().unwrap().starts_with("refund") {
            "Returns are free for 30 days."
        } else {
            "What's your order number?"
        };
        assert_eq!(
            pair[1]["text"], expected,
            "the reply follows its own question"
        );
    }
}

#[tokio::test]
async fn a_switched_off_bot_stores_messages_and_stays_silent() {
    let app = spawn_app().await;
    let bot = shop(&app).await;
    app.put(
        &format!("/api/v1/bots/{bot}/settings"),
        json!({"chatbot_enabled": false}),
    )
    .await;
    let created = app.start(&bot).await;
    assert_eq!(created["messages"], json!([]));
    let conv = created["id"].as_str().unwrap();
    assert!(app.say(conv, "track").await.is_empty());
    assert_eq!(app.history(conv).await.len(), 1);
}

#[tokio::test]
async fn feedback_on_a_reply_and_on_the_conversation() {
    let app = spawn_app().await;
    let bot = shop(&app).await;
    let conv = app.start(&bot).await["id"].as_str().unwrap().to_string();
    let other = app.start(&bot).await["id"].as_str().unwrap().to_string();
    let reply = app.say(&conv, "refund").await[0].clone();
    let reply_id = reply["id"].as_str().unwrap();
    let path = format!("/api/v1/conversations/{conv}/feedback");

    // With the conversation's own token, as a browser would.
    let (_, body) = send(app.req(
        reqwest::Method::POST,
        &format!("/api/v1/conversations/{conv}/token"),
    ))
    .await;
    let token = body["data"]["token"].as_str().unwrap().to_string();
    let (status, body) = send(
        app.req_as(&token, reqwest::Method::POST, &path)
            .json(&json!({"rating": 5, "message_id": reply_id})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["data"]["message_id"], reply_id);
    let (status, _) = send(
        app.req_as(&token, reqwest::Method::POST, &path)
            .json(&json!({"rating": 2, "comment": "Slow to find the returns page"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);

    // A user message, another conversation's message, a bad rating: refused, nothing stored.
    let history = app.history(&conv).await;
    let user_msg = history.iter().find(|m| m["role"] == "user").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, body) = app
        .post(&path, json!({"rating": 1, "message_id": user_msg}))
        .await;
    let err = assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert_eq!(bad_fields(&err), ["message_id"]);
    let (status, body) = app
        .post(
            &format!("/api/v1/conversations/{other}/feedback"),
            json!({"rating": 1, "message_id": reply_id}),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    let (status, body) = app.post(&path, json!({"rating": 6})).await;
    let err = assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert_eq!(bad_fields(&err), ["rating"]);
    let (status, body) = send(
        app.req_as(
            &token,
            reqwest::Method::POST,
            &format!("/api/v1/conversations/{other}/feedback"),
        )
        .json(&json!({"rating": 3})),
    )
    .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");

    let (status, body) = app.get(&path).await;
    assert_eq!(status, StatusCode::OK);
    let items = body["data"]["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[1]["comment"], "Slow to find the returns page");
}

#[tokio::test]
async fn sms_gets_numbered_options_and_a_typed_number_answers() {
    let app = spawn_app().await;
    let bot = shop(&app).await;
    let (status, body) = app
        .post(
            "/api/v1/conversations",
            json!({"bot_id": bot, "channel": "sms", "contact": {"external_id": "+447700900123"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let greeting = &body["data"]["messages"][0];
    assert_eq!(
        greeting["text"],
        "Welcome to the shop!\n1) Track Order\n2) Returns"
    );
    let conv = body["data"]["id"].as_str().unwrap();
    let r = app.say(conv, "2").await;
    assert_eq!(r[0]["text"], "Returns are free for 30 days.");
    let history = app.history(conv).await;
    assert_eq!(history[1]["text"], "2");
    assert_eq!(history[1]["meta"]["button_id"], "returns");
    // On a channel with buttons, a bare number is just text.
    let api_conv = app.start(&bot).await["id"].as_str().unwrap().to_string();
    assert_eq!(
        app.say(&api_conv, "2").await[0]["meta"]["source"],
        "fallback"
    );
}

#[tokio::test]
async fn conversations_page_newest_first() {
    let app = spawn_app().await;
    let bot = shop(&app).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(app.start(&bot).await["id"].as_str().unwrap().to_string());
    }
    let (_, first) = app.get("/api/v1/conversations?limit=2").await;
    let got: Vec<_> = first["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(got, [ids[2].clone(), ids[1].clone()]);
    let cursor = first["data"]["next_cursor"].as_str().unwrap();
    let (_, second) = app
        .get(&format!("/api/v1/conversations?limit=2&cursor={cursor}"))
        .await;
    assert_eq!(second["data"]["items"].as_array().unwrap().len(), 1);
    assert_eq!(second["data"]["items"][0]["id"], ids[0].as_str());
    assert!(second["data"]["next_cursor"].is_null());
}
