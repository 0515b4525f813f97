//! Human handoff through HTTP: teams and agents, the ways a conversation is transferred,
//! the silent bot, queues and atomic pickup, agent replies reaching the user live, resume,
//! business hours, escalation, the agent event stream, and what an agent key may touch.

use std::collections::HashSet;
use std::time::Duration;

use chrono::{Datelike, Duration as Days, Utc};
use futures::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{assert_error, send, spawn_app, TestApp};

async fn support_bot(app: &TestApp) -> String {
    let bot = app.create_bot("Support").await;
    let (status, body) = app
        .put(
            &format!("/api/v1/bots/{bot}/settings"),
            json!({"transfer_keywords": ["agent", "human"], "fallback_message": "Sorry?",
                   "transfer_message": "Connecting you…", "resume_message": "The bot is back."}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.create_rule(&bot, json!({"name": "hours", "keywords": ["hours"], "match_type": "contains", "response": "9 to 5."}))
        .await;
    bot
}

/// Creates an agent; returns (agent json, key).
async fn agent(app: &TestApp, name: &str, teams: &[&str]) -> (Value, String) {
    let (status, body) = app
        .post("/api/v1/agents", json!({"name": name, "team_ids": teams}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let key = body["data"]["key"].as_str().unwrap().to_string();
    (body["data"].clone(), key)
}

async fn as_agent(
    app: &TestApp,
    key: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = app.req_as(key, method, path);
    if let Some(b) = body {
        req = req.json(&b);
    }
    send(req).await
}

async fn session_mode(app: &TestApp, c: &str) -> String {
    let (_, body) = app.get(&format!("/api/v1/conversations/{c}/session")).await;
    body["data"]["mode"].as_str().unwrap().to_string()
}

/// Reads SSE blocks until `n` with data arrived: (id, event name, data).
async fn read_sse(resp: reqwest::Response, n: usize) -> Vec<(String, String, Value)> {
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
            let field = |name: &str| {
                block
                    .lines()
                    .find_map(|l| l.strip_prefix(name))
                    .map(|s| s.trim().to_string())
            };
            if let Some(data) = field("data:") {
                out.push((
                    field("id:").unwrap_or_default(),
                    field("event:").unwrap_or_default(),
                    serde_json::from_str(&data).unwrap(),
                ));
            }
        }
    }
    out
}

#[tokio::test]
async fn teams_and_agents_are_managed_and_agent_keys_stay_in_their_lane() {
    let app = spawn_app().await;
    let (status, body) = app.post("/api/v1/teams", json!({"name": "Billing"})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let team = body["data"]["id"].as_str().unwrap().to_string();
    let (status, body) = app.post("/api/v1/teams", json!({})).await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );

    let (ann, key) = agent(&app, "Ann", &[&team]).await;
    assert!(key.starts_with("pk_"));
    assert_eq!(ann["team_ids"], json!([team]));
    let id = ann["id"].as_str().unwrap();
    let (status, body) = app.get(&format!("/api/v1/agents/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body["data"].get("key").is_none(), "the key is shown once");

    let (status, body) = app
        .post(
            "/api/v1/agents",
            json!({"name": "Bob", "team_ids": [uuid_like()]}),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );

    let (status, body) = app
        .put(&format!("/api/v1/agents/{id}"), json!({"team_ids": []}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["team_ids"], json!([]));

    // An agent key cannot manage bots, keys, teams or agents.
    for (method, path) in [
        (Method::POST, "/api/v1/bots"),
        (Method::GET, "/api/v1/keys"),
        (Method::POST, "/api/v1/teams"),
        (Method::POST, "/api/v1/agents"),
    ] {
        let (status, body) = as_agent(&app, &key, method, path, Some(json!({"name": "x"}))).await;
        assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    }

    let (status, _) = app.delete(&format!("/api/v1/agents/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = as_agent(&app, &key, Method::GET, "/api/v1/transfers", None).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a deleted agent's key is gone"
    );
}

fn uuid_like() -> String {
    "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b".to_string()
}

#[tokio::test]
async fn a_transfer_goes_to_an_agent_and_back_to_the_bot() {
    let app = spawn_app().await;
    let bot = support_bot(&app).await;
    let (ann, key) = agent(&app, "Ann", &[]).await;
    let conv = app.start(&bot).await;
    let c = conv["id"].as_str().unwrap().to_string();

    // The user's own live stream, with a conversation token.
    let (_, token) = app
        .post(&format!("/api/v1/conversations/{c}/token"), json!({}))
        .await;
    let token = token["data"]["token"].as_str().unwrap().to_string();
    let user_stream = app
        .req_as(
            &token,
            Method::GET,
            &format!("/api/v1/conversations/{c}/events"),
        )
        .send()
        .await
        .unwrap();

    let replies = app.say(&c, "I want a human").await;
    assert_eq!(replies[0]["text"], "Connecting you…");
    assert_eq!(replies[0]["meta"]["source"], "transfer");
    assert_eq!(session_mode(&app, &c).await, "human");

    // Silent bot; the message is stored.
    assert!(app.say(&c, "hello? anyone?").await.is_empty());
    assert!(
        app.say(&c, "hours").await.is_empty(),
        "rules do not answer while transferred"
    );

    let (status, body) = as_agent(
        &app,
        &key,
        Method::GET,
        "/api/v1/transfers?status=active",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["general_queue_count"], 1);
    let t = &body["data"]["transfers"][0];
    assert_eq!(t["source"], "keyword");
    assert_eq!(t["conversation_id"], c.as_str());
    assert!(t["agent_id"].is_null());

    let (status, picked) =
        as_agent(&app, &key, Method::POST, "/api/v1/transfers/pickup", None).await;
    assert_eq!(status, StatusCode::OK, "{picked}");
    assert_eq!(picked["data"]["agent_id"], ann["id"]);
    assert_eq!(picked["data"]["agent_name"], "Ann");
    assert!(picked["data"]["assigned_at"].is_string());
    let transfer = picked["data"]["id"].as_str().unwrap().to_string();
    let (status, body) = as_agent(&app, &key, Method::POST, "/api/v1/transfers/pickup", None).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");

    let (status, body) = as_agent(
        &app,
        &key,
        Method::POST,
        &format!("/api/v1/conversations/{c}/agent-messages"),
        Some(json!({"text": "Hi, Ann here. How can I help?"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["data"]["message"]["role"], "agent");
    assert_eq!(body["data"]["message"]["meta"]["agent_id"], ann["id"]);
    assert_eq!(body["data"]["message"]["meta"]["agent_name"], "Ann");

    // The user saw it live: greeting is history; then their messages, the ack, the agent.
    let events = read_sse(user_stream, 6).await;
    let seen: Vec<(&str, &str)> = events
        .iter()
        .map(|(_, name, m)| (name.as_str(), m["role"].as_str().unwrap_or("")))
        .collect();
    assert!(
        seen.iter().all(|(name, _)| *name == "message"),
        "tokens see messages only: {seen:?}"
    );
    assert_eq!(
        events.last().unwrap().2["text"],
        "Hi, Ann here. How can I help?"
    );

    let (status, body) = as_agent(
        &app,
        &key,
        Method::PUT,
        &format!("/api/v1/transfers/{transfer}/resume"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["status"], "resumed");
    assert!(body["data"]["resumed_at"].is_string());
    let (status, again) = as_agent(
        &app,
        &key,
        Method::PUT,
        &format!("/api/v1/transfers/{transfer}/resume"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        again["data"]["resumed_at"], body["data"]["resumed_at"],
        "idempotent"
    );
    let history = app.history(&c).await;
    let resumed: Vec<_> = history
        .iter()
        .filter(|m| m["text"] == "The bot is back.")
        .collect();
    assert_eq!(resumed.len(), 1, "said once");
    assert_eq!(session_mode(&app, &c).await, "bot");
    let replies = app.say(&c, "hours").await;
    assert_eq!(replies[0]["text"], "9 to 5.");

    // Afterwards: who, when, how long; the agent's messages are in the history.
    let (_, body) = app.get(&format!("/api/v1/transfers/{transfer}")).await;
    assert_eq!(body["data"]["agent_name"], "Ann");
    assert!(body["data"]["wait_seconds"].as_i64().unwrap() >= 0);
    assert!(history
        .iter()
        .any(|m| m["role"] == "agent" && m["meta"]["agent_id"] == ann["id"]));
}

#[tokio::test]
async fn transfers_by_api_use_team_queues_and_agents_only_reach_their_own() {
    let app = spawn_app().await;
    let bot = support_bot(&app).await;
    let (_, body) = app.post("/api/v1/teams", json!({"name": "Sales"})).await;
    let sales = body["data"]["id"].as_str().unwrap().to_string();
    let (_, body) = app.post("/api/v1/teams", json!({"name": "Billing"})).await;
    let billing = body["data"]["id"].as_str().unwrap().to_string();
    let (_, seller) = agent(&app, "Sam", &[&sales]).await;
    let (_, biller) = agent(&app, "Bea", &[&billing]).await;

    let c = app.start(&bot).await["id"].as_str().unwrap().to_string();
    let (status, body) = app
        .post(
            "/api/v1/transfers",
            json!({"conversation_id": c, "team_id": sales, "notes": "Wants the enterprise plan"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["data"]["source"], "api");
    assert_eq!(body["data"]["team_name"], "Sales");
    let first = body["data"]["id"].clone();
    assert_eq!(session_mode(&app, &c).await, "human");
    let history = app.history(&c).await;
    assert_eq!(
        history.last().unwrap()["text"],
        "Connecting you…",
        "the user is told"
    );

    // Transferring again updates the one open transfer.
    let (status, body) = app
        .post(
            "/api/v1/transfers",
            json!({"conversation_id": c, "team_id": billing, "notes": "Actually billing"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["data"]["id"], first);
    assert_eq!(body["data"]["team_id"], billing.as_str());
    let (_, list) = app.get("/api/v1/transfers?status=active").await;
    assert_eq!(list["data"]["transfers"].as_array().unwrap().len(), 1);
    assert_eq!(list["data"]["team_queue_counts"][&billing], 1);
    assert_eq!(list["data"]["general_queue_count"], 0);

    // Sam (sales) cannot see, pick from billing, or write into it; Bea can.
    let (_, body) = as_agent(&app, &seller, Method::GET, "/api/v1/transfers", None).await;
    assert!(
        body["data"]["transfers"].as_array().unwrap().is_empty(),
        "{body}"
    );
    let (status, body) = as_agent(
        &app,
        &seller,
        Method::POST,
        &format!("/api/v1/transfers/pickup?team_id={billing}"),
        None,
    )
    .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (status, body) = as_agent(
        &app,
        &seller,
        Method::POST,
        &format!("/api/v1/conversations/{c}/agent-messages"),
        Some(json!({"text": "hi"})),
    )
    .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (status, body) = as_agent(
        &app,
        &seller,
        Method::GET,
        &format!("/api/v1/conversations/{c}/messages"),
        None,
    )
    .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (status, body) = as_agent(
        &app,
        &biller,
        Method::POST,
        &format!("/api/v1/transfers/pickup?team_id={billing}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = as_agent(
        &app,
        &biller,
        Method::GET,
        &format!("/api/v1/conversations/{c}/messages"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    // By contact: the contact's active conversation. Unknown team: 422, nothing changes.
    let conv = app.start(&bot).await;
    let contact = conv["contact_id"].as_str().unwrap();
    let (status, body) = app
        .post(
            "/api/v1/transfers",
            json!({"contact_id": contact, "team_id": uuid_like()}),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert_eq!(
        session_mode(&app, conv["id"].as_str().unwrap()).await,
        "bot"
    );
    let (status, body) = app
        .post("/api/v1/transfers", json!({"contact_id": contact}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["data"]["conversation_id"], conv["id"]);

    // Admin assignment.
    let (_, sam) = app.get("/api/v1/agents").await;
    let sam_id = sam["data"]["items"][0]["id"].as_str().unwrap().to_string();
    let t = body["data"]["id"].as_str().unwrap();
    let (status, body) = app
        .put(
            &format!("/api/v1/transfers/{t}/assign"),
            json!({"agent_id": sam_id}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["agent_name"], "Sam");
}

#[tokio::test]
async fn escalation_rules_hand_over_without_keywords() {
    let app = spawn_app().await;
    let bot = app.create_bot("Plain").await;
    let (status, _) = app
        .put(&format!("/api/v1/bots/{bot}/settings"), json!({"escalation": {"ask_for_human": true, "fallback_limit": 3, "frustration_threshold": 0.7}}))
        .await;
    assert_eq!(status, StatusCode::OK);

    let c = app.start(&bot).await["id"].as_str().unwrap().to_string();
    let replies = app.say(&c, "can I talk to a real person please").await;
    assert_eq!(replies[0]["meta"]["source"], "transfer");

    let c = app.start(&bot).await["id"].as_str().unwrap().to_string();
    assert_eq!(app.say(&c, "blorp").await[0]["meta"]["source"], "fallback");
    assert_eq!(app.say(&c, "zzz").await[0]["meta"]["source"], "fallback");
    assert_eq!(
        app.say(&c, "qwerty").await[0]["meta"]["source"],
        "transfer",
        "the third fallback escalates"
    );

    let c = app.start(&bot).await["id"].as_str().unwrap().to_string();
    let replies = app
        .say(
            &c,
            "This is USELESS!!! worst service ever, I'm so frustrated",
        )
        .await;
    assert_eq!(replies[0]["meta"]["source"], "transfer");
    let (_, list) = app.get("/api/v1/transfers").await;
    let sources: Vec<&str> = list["data"]["transfers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["source"].as_str().unwrap())
        .collect();
    assert_eq!(sources, ["escalation"; 3]);
    let notes = list["data"]["transfers"][2]["notes"].as_str().unwrap();
    assert!(notes.contains("frustrated"), "{notes}");
}

#[tokio::test]
async fn outside_business_hours_the_user_hears_when_the_team_is_back() {
    let app = spawn_app().await;
    let bot = support_bot(&app).await;
    // Open only on the day after tomorrow (UTC), 09:00-17:00: now is certainly closed.
    let day = (Utc::now() + Days::days(2)).weekday();
    let name =
        ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][day.num_days_from_monday() as usize];
    let (status, body) = app
        .put(
            &format!("/api/v1/bots/{bot}/settings"),
            json!({"business_hours_enabled": true, "business_hours": {"timezone": "UTC",
                   "weekly": [{"day": name, "open": "09:00", "close": "17:00"}],
                   "offline_message": "We're closed. Back {{next_open}}."}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let c = app.start(&bot).await["id"].as_str().unwrap().to_string();
    let replies = app.say(&c, "agent").await;
    let expected = format!(
        "We're closed. Back {} at 09:00.",
        (Utc::now() + Days::days(2)).format("%A")
    );
    assert_eq!(replies[0]["text"], expected.as_str());
    assert_eq!(
        session_mode(&app, &c).await,
        "human",
        "still queued for the morning"
    );

    // Open all week: the normal acknowledgement.
    let all: Vec<Value> = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        .iter()
        .map(|d| json!({"day": d, "open": "00:00", "close": "23:59"}))
        .collect();
    app.put(
        &format!("/api/v1/bots/{bot}/settings"),
        json!({"business_hours": {"timezone": "UTC", "weekly": all}}),
    )
    .await;
    let c = app.start(&bot).await["id"].as_str().unwrap().to_string();
    let now = Utc::now().format("%H:%M").to_string();
    if now.as_str() < "23:58" {
        assert_eq!(app.say(&c, "agent").await[0]["text"], "Connecting you…");
    }
}

#[tokio::test]
async fn fifty_agents_pick_a_thousand_transfers_each_exactly_once() {
    let app = spawn_app().await;
    let bot = support_bot(&app).await;
    let mut keys = Vec::new();
    for i in 0..50 {
        keys.push(agent(&app, &format!("agent {i}"), &[]).await.1);
    }
    // 1,000 transfers, made 10 at a time.
    let mut made = Vec::new();
    for chunk in 0..100 {
        let batch = futures::future::join_all((0..10).map(|_| async {
            let c = app.start(&bot).await["id"].as_str().unwrap().to_string();
            let (status, body) = app
                .post("/api/v1/transfers", json!({"conversation_id": c}))
                .await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
            body["data"]["id"].as_str().unwrap().to_string()
        }))
        .await;
        made.extend(batch);
        let _ = chunk;
    }
    let (_, list) = app.get("/api/v1/transfers?status=active&limit=1").await;
    assert_eq!(list["data"]["general_queue_count"], 1000);

    let picked = futures::future::join_all(keys.iter().map(|key| async {
        let mut mine = Vec::new();
        loop {
            let (status, body) = as_agent(
                &app,
                key,
                Method::POST,
                "/api/v1/transfers/pickup?team_id=general",
                None,
            )
            .await;
            if status == StatusCode::NOT_FOUND {
                break;
            }
            assert_eq!(status, StatusCode::OK, "{body}");
            mine.push(body["data"]["id"].as_str().unwrap().to_string());
        }
        mine
    }))
    .await;
    let all: Vec<String> = picked.iter().flatten().cloned().collect();
    let unique: HashSet<&String> = all.iter().collect();
    assert_eq!(all.len(), 1000, "every transfer handed out");
    assert_eq!(unique.len(), 1000, "none twice");
    assert_eq!(unique, made.iter().collect::<HashSet<_>>());
    assert!(
        picked.iter().filter(|p| !p.is_empty()).count() > 1,
        "the work was shared"
    );
    let (_, list) = app.get("/api/v1/transfers?status=active&limit=1").await;
    assert_eq!(list["data"]["general_queue_count"], 0);
}

#[tokio::test]
async fn the_agent_stream_shows_transfers_and_messages_and_resumes() {
    let app = spawn_app().await;
    let bot = support_bot(&app).await;
    let (_, key) = agent(&app, "Ann", &[]).await;
    let stream = app
        .req_as(&key, Method::GET, "/api/v1/agent/events")
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);

    let c = app.start(&bot).await["id"].as_str().unwrap().to_string();
    app.say(&c, "hello").await; // before the transfer: not the agent's business
    app.say(&c, "agent please").await;
    app.say(&c, "my order is late").await;
    app.say(&c, "are you there?").await;

    let events = read_sse(stream, 3).await;
    let names: Vec<&str> = events.iter().map(|e| e.1.as_str()).collect();
    assert_eq!(names[0], "transfer.created", "{names:?}");
    assert!(events[1..].iter().all(|e| e.1 == "message"), "{names:?}");
    assert!(events.iter().any(|e| e.2["text"] == "my order is late"));
    assert!(!events.iter().any(|e| e.2["text"] == "hello"));

    // Dropped after the first event: resuming sends the rest, with nothing missed.
    let resume_from = events[0].0.clone();
    let resp = app
        .req_as(&key, Method::GET, "/api/v1/agent/events")
        .header("Last-Event-ID", resume_from)
        .send()
        .await
        .unwrap();
    let rest = read_sse(resp, 2).await;
    assert_eq!(rest[0].0, events[1].0);
    assert_eq!(rest[1].0, events[2].0);
    assert_eq!(rest[1].2["text"], "are you there?");
}
