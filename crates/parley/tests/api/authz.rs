//! Who may do what, route by route (ARCHITECTURE.md, "Authorisation"): agent keys reach
//! only conversations whose open transfer waits in their queues or that are assigned to
//! them, never write as the customer, never pull a conversation into their own queue; and a
//! flow's transfer names a team of its workspace, or lands in the general queue when that
//! team is deleted later.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{assert_error, bad_fields, send, spawn_app, TestApp};

/// Creates a team; returns its id.
async fn team(app: &TestApp, name: &str) -> String {
    let (status, body) = app.post("/api/v1/teams", json!({"name": name})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["data"]["id"].as_str().unwrap().to_string()
}

/// Creates an agent in `teams`; returns its key.
async fn agent(app: &TestApp, name: &str, teams: &[&str]) -> String {
    let (status, body) = app
        .post("/api/v1/agents", json!({"name": name, "team_ids": teams}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["data"]["key"].as_str().unwrap().to_string()
}

async fn call(
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

/// Hands `c` to `team` (or the general queue) as the admin.
async fn transfer(app: &TestApp, c: &str, team: Option<&str>) -> Value {
    let (status, body) = app
        .post(
            "/api/v1/transfers",
            json!({"conversation_id": c, "team_id": team}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["data"].clone()
}

async fn transfers(app: &TestApp) -> Vec<Value> {
    let (status, body) = app.get("/api/v1/transfers").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["data"]["transfers"].as_array().unwrap().clone()
}

async fn mode(app: &TestApp, c: &str) -> String {
    let (_, body) = app.get(&format!("/api/v1/conversations/{c}/session")).await;
    body["data"]["mode"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn an_agent_cannot_pull_a_conversation_into_its_own_queue() {
    let app = spawn_app().await;
    let bot = app.create_bot("Shop").await;
    let sales = team(&app, "Sales").await;
    let billing = team(&app, "Billing").await;
    let sam = agent(&app, "Sam", &[&sales]).await;

    // Not transferred at all, by id and by contact: 403, no transfer, the bot keeps it.
    let conv = app.start(&bot).await;
    let c = conv["id"].as_str().unwrap().to_string();
    for body in [
        json!({"conversation_id": c, "team_id": sales}),
        json!({"contact_id": conv["contact_id"], "team_id": sales}),
        json!({"conversation_id": c}),
    ] {
        let (status, resp) = call(&app, &sam, Method::POST, "/api/v1/transfers", Some(body)).await;
        assert_error(status, &resp, StatusCode::FORBIDDEN, "forbidden");
    }
    assert!(transfers(&app).await.is_empty());
    assert_eq!(mode(&app, &c).await, "bot");
    let (status, body) = call(
        &app,
        &sam,
        Method::GET,
        &format!("/api/v1/conversations/{c}/messages"),
        None,
    )
    .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");

    // Waiting for billing: Sam cannot move it to sales; it stays with billing.
    let t = transfer(&app, &c, Some(&billing)).await;
    let (status, body) = call(
        &app,
        &sam,
        Method::POST,
        "/api/v1/transfers",
        Some(json!({"conversation_id": c, "team_id": sales})),
    )
    .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (_, now) = app
        .get(&format!("/api/v1/transfers/{}", t["id"].as_str().unwrap()))
        .await;
    assert_eq!(now["data"]["team_id"], billing.as_str());

    // Another workspace's conversation id: 404.
    let (status, body) = call(
        &app,
        &sam,
        Method::POST,
        "/api/v1/transfers",
        Some(json!({"conversation_id": "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"})),
    )
    .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");

    // Allowed: one waiting in the general queue (Sam's reach) may be passed to a team.
    let d = app.start(&bot).await["id"].as_str().unwrap().to_string();
    transfer(&app, &d, None).await;
    let (status, body) = call(
        &app,
        &sam,
        Method::POST,
        "/api/v1/transfers",
        Some(json!({"conversation_id": d, "team_id": sales, "notes": "for sales"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["data"]["team_id"], sales.as_str());
}

#[tokio::test]
async fn agents_never_write_as_the_customer() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;

    let app = spawn_app().await;
    let bot = app.create_bot("Shop").await;
    let sales = team(&app, "Sales").await;
    let sam = agent(&app, "Sam", &[&sales]).await;
    // `mine` waits in Sam's queue; `other` was never transferred.
    let mine = app.start(&bot).await["id"].as_str().unwrap().to_string();
    transfer(&app, &mine, Some(&sales)).await;
    let other = app.start(&bot).await["id"].as_str().unwrap().to_string();

    for c in [&mine, &other] {
        let before = app.history(c).await.len();
        for (path, body) in [
            ("send", Some(json!({"text": "refund me"}))),
            ("complete", Some(json!({"text": "refund me"}))),
            ("receive", None),
            ("feedback", Some(json!({"rating": 1}))),
        ] {
            let (status, resp) = call(
                &app,
                &sam,
                Method::POST,
                &format!("/api/v1/conversations/{c}/{path}"),
                body,
            )
            .await;
            assert_error(status, &resp, StatusCode::FORBIDDEN, "forbidden");
        }

        // The WebSocket speaks as the customer: refused before the upgrade.
        let mut request = format!("ws://{}/api/v1/conversations/{c}/ws", app.addr)
            .into_client_request()
            .unwrap();
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {sam}").parse().unwrap());
        match tokio_tungstenite::connect_async(request).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
                assert_eq!(resp.status(), StatusCode::FORBIDDEN)
            }
            Err(e) => panic!("unexpected error {e}"),
            Ok(_) => panic!("an agent key opened the customer's WebSocket"),
        }

        // So does the OpenAI door, with or without X-Parley-Conversation.
        let (status, resp) = send(
            app.req_as(&sam, Method::POST, "/v1/chat/completions")
                .header("X-Parley-Conversation", c.as_str())
                .json(
                    &json!({"model": bot, "messages": [{"role": "user", "content": "refund me"}]}),
                ),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{resp}");
        assert_eq!(resp["error"]["type"], "permission_error", "{resp}");

        let after = app.history(c).await;
        assert_eq!(after.len(), before, "nothing stored: {after:?}");
        let (_, feedback) = app
            .get(&format!("/api/v1/conversations/{c}/feedback"))
            .await;
        assert_eq!(feedback["data"]["items"], json!([]));
    }
    let (status, resp) = send(
        app.req_as(&sam, Method::POST, "/v1/chat/completions")
            .json(&json!({"model": bot, "messages": [{"role": "user", "content": "hi"}]})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{resp}");

    // What is allowed still works: Sam reads and replies as himself in his queue, the
    // conversation's token and the admin key speak as the customer.
    let (status, body) = call(
        &app,
        &sam,
        Method::GET,
        &format!("/api/v1/conversations/{mine}/messages"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = call(
        &app,
        &sam,
        Method::POST,
        &format!("/api/v1/conversations/{mine}/agent-messages"),
        Some(json!({"text": "Sam here"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["data"]["message"]["role"], "agent");
    let (_, token) = app
        .post(&format!("/api/v1/conversations/{mine}/token"), json!({}))
        .await;
    let token = token["data"]["token"].as_str().unwrap().to_string();
    let (status, body) = call(
        &app,
        &token,
        Method::POST,
        &format!("/api/v1/conversations/{mine}/send"),
        Some(json!({"text": "thanks Sam"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["data"]["message"]["role"], "user");
    app.say(&other, "hello").await;
}

#[tokio::test]
async fn agents_read_sessions_usage_and_lists_only_within_reach() {
    let app = spawn_app().await;
    let bot = app.create_bot("Shop").await;
    let sales = team(&app, "Sales").await;
    let sam = agent(&app, "Sam", &[&sales]).await;
    let mine = app.start(&bot).await["id"].as_str().unwrap().to_string();
    transfer(&app, &mine, Some(&sales)).await;
    let other = app.start(&bot).await["id"].as_str().unwrap().to_string();

    // Out of reach: 403, and nothing of the conversation in the answer.
    for path in [
        format!("/api/v1/sessions/{other}"),
        format!("/api/v1/conversations/{other}/usage"),
        format!("/api/v1/conversations/{other}/session"),
        format!("/api/v1/conversations/{other}"),
        format!("/api/v1/conversations/{other}/events"),
        format!("/api/v1/conversations/{other}/feedback"),
        format!("/api/v1/conversations/{other}/panel"),
    ] {
        let (status, body) = call(&app, &sam, Method::GET, &path, None).await;
        assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
        assert!(body.get("data").is_none(), "{path}: {body}");
    }
    // Lists of every conversation and session are for admins; an agent's are its queues.
    for path in ["/api/v1/conversations", "/api/v1/sessions", "/v1/models"] {
        let (status, body) = call(&app, &sam, Method::GET, path, None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
    }
    // No customer token for an agent, not even for its own conversation.
    for c in [&mine, &other] {
        let (status, body) = call(
            &app,
            &sam,
            Method::POST,
            &format!("/api/v1/conversations/{c}/token"),
            Some(json!({})),
        )
        .await;
        assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    }
    // Unknown or another workspace's ids stay 404.
    let (status, body) = call(
        &app,
        &sam,
        Method::GET,
        "/api/v1/sessions/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
        None,
    )
    .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");

    // Within reach: the session, usage and the conversation are readable.
    for path in [
        format!("/api/v1/sessions/{mine}"),
        format!("/api/v1/conversations/{mine}/usage"),
        format!("/api/v1/conversations/{mine}/session"),
        format!("/api/v1/conversations/{mine}"),
    ] {
        let (status, body) = call(&app, &sam, Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
    }
    let (status, body) = app.get("/api/v1/sessions").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["items"].as_array().unwrap().len(), 2);

    // A key with the agent role but no agent profile reaches nothing, its stream included.
    let (_, body) = app
        .post("/api/v1/keys", json!({"name": "bare", "role": "agent"}))
        .await;
    let bare = body["data"]["secret"].as_str().unwrap().to_string();
    for path in [
        format!("/api/v1/conversations/{mine}/messages"),
        "/api/v1/agent/events".to_string(),
        "/api/v1/transfers".to_string(),
    ] {
        let (status, body) = call(&app, &bare, Method::GET, &path, None).await;
        assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    }
}

#[tokio::test]
async fn a_resumed_transfer_stays_readable_only_for_the_agent_who_had_it() {
    let app = spawn_app().await;
    let bot = app.create_bot("Shop").await;
    let ann = agent(&app, "Ann", &[]).await;
    let bob = agent(&app, "Bob", &[]).await;

    // Waited in the general queue, resumed by an admin without an agent.
    let idle = app.start(&bot).await["id"].as_str().unwrap().to_string();
    let t = transfer(&app, &idle, None).await;
    let (status, _) = call(
        &app,
        &ann,
        Method::GET,
        &format!("/api/v1/conversations/{idle}/messages"),
        None,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "in the general queue, Ann reaches it"
    );
    let (status, body) = app
        .put(
            &format!("/api/v1/transfers/{}/resume", t["id"].as_str().unwrap()),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Picked up and answered by Ann, then resumed by her.
    let handled = app.start(&bot).await["id"].as_str().unwrap().to_string();
    transfer(&app, &handled, None).await;
    let (status, picked) = call(&app, &ann, Method::POST, "/api/v1/transfers/pickup", None).await;
    assert_eq!(status, StatusCode::OK, "{picked}");
    assert_eq!(picked["data"]["conversation_id"], handled.as_str());
    let (status, body) = call(
        &app,
        &ann,
        Method::PUT,
        &format!(
            "/api/v1/transfers/{}/resume",
            picked["data"]["id"].as_str().unwrap()
        ),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    for key in [&ann, &bob] {
        let (status, body) = call(
            &app,
            key,
            Method::GET,
            &format!("/api/v1/conversations/{idle}/messages"),
            None,
        )
        .await;
        assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    }
    let (status, _) = call(
        &app,
        &ann,
        Method::GET,
        &format!("/api/v1/conversations/{handled}/messages"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "Ann rereads what she handled");
    let (status, body) = call(
        &app,
        &bob,
        Method::GET,
        &format!("/api/v1/conversations/{handled}/messages"),
        None,
    )
    .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");

    // The lists say the same, whatever queue is asked for.
    for key in [&ann, &bob] {
        let (status, body) = call(
            &app,
            key,
            Method::GET,
            "/api/v1/transfers?team_id=general&status=resumed",
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let seen: Vec<&str> = body["data"]["transfers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["conversation_id"].as_str().unwrap())
            .collect();
        let expected: Vec<&str> = if key == &ann { vec![&handled] } else { vec![] };
        assert_eq!(seen, expected);
    }
}

/// A flow whose only step hands over to `team_id`.
fn handover_flow(team_id: Value) -> Value {
    json!({"name": "Call me back", "trigger_keywords": ["callback"],
           "steps": [{"step_name": "handover", "step_order": 1, "message": "Passing you on.",
                      "message_type": "transfer",
                      "transfer_config": {"team_id": team_id, "notes": "wants a call"}}]})
}

#[tokio::test]
async fn a_flow_transfers_only_to_a_team_of_its_workspace() {
    let app = spawn_app().await;
    let bot = app.create_bot("Shop").await;
    let sales = team(&app, "Sales").await;
    let other_ws = app.store.create_workspace("other").await.unwrap();
    let theirs = parley_core::Team {
        id: parley_core::new_id(),
        name: "Theirs".into(),
        description: String::new(),
        created_at: chrono::Utc::now(),
        updated_at: chrono::Utc::now(),
    };
    app.store.insert_team(other_ws.id, &theirs).await.unwrap();

    let flows = format!("/api/v1/bots/{bot}/flows");
    for team_id in [
        json!("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"),
        json!(theirs.id),
        json!("uuid"),
    ] {
        let (status, body) = app.post(&flows, handover_flow(team_id.clone())).await;
        let error = assert_error(
            status,
            &body,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        );
        assert_eq!(bad_fields(&error), ["transfer_config.team_id"], "{team_id}");

        let def = json!({"name": "Imported", "flows": [handover_flow(team_id.clone())]});
        let (status, body) = app.post("/api/v1/bots/import", def).await;
        let error = assert_error(
            status,
            &body,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        );
        assert_eq!(
            bad_fields(&error),
            ["flows[0].transfer_config.team_id"],
            "{team_id}"
        );
    }
    let (_, list) = app.get(&flows).await;
    assert_eq!(list["data"]["items"], json!([]), "nothing stored");
    let (_, bots) = app.get("/api/v1/bots").await;
    assert_eq!(bots["data"]["items"].as_array().unwrap().len(), 1);

    // A team of the workspace (or none) is fine; an edit to a bad team is refused.
    let (status, body) = app.post(&flows, handover_flow(json!(sales))).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let flow = body["data"]["id"].as_str().unwrap().to_string();
    let (status, body) = app
        .put(
            &format!("{flows}/{flow}"),
            json!({"steps": handover_flow(json!(theirs.id))["steps"]}),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    let (_, stored) = app.get(&format!("{flows}/{flow}")).await;
    assert_eq!(stored["data"]["version"], 1);
    let def = json!({"name": "Imported", "flows": [handover_flow(json!(sales))]});
    let (status, body) = app.post("/api/v1/bots/import", def).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[tokio::test]
async fn a_team_deleted_after_the_flow_was_saved_sends_the_transfer_to_the_general_queue() {
    let app = spawn_app().await;
    let bot = app.create_bot("Shop").await;
    let gone = team(&app, "Gone").await;
    let ann = agent(&app, "Ann", &[]).await;
    let (status, body) = app
        .post(
            &format!("/api/v1/bots/{bot}/flows"),
            handover_flow(json!(gone)),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, _) = app.delete(&format!("/api/v1/teams/{gone}")).await;
    assert_eq!(status, StatusCode::OK);

    let c = app.start(&bot).await["id"].as_str().unwrap().to_string();
    let replies = app.say(&c, "callback").await;
    assert_eq!(replies[0]["text"], "Passing you on.");
    assert_eq!(mode(&app, &c).await, "human");
    let all = transfers(&app).await;
    assert_eq!(all.len(), 1);
    assert!(all[0]["team_id"].is_null(), "{all:?}");
    assert_eq!(all[0]["notes"], "wants a call");

    // An agent of no team sees it and can pick it up.
    let (status, body) = call(&app, &ann, Method::GET, "/api/v1/transfers", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["general_queue_count"], 1);
    let (status, picked) = call(&app, &ann, Method::POST, "/api/v1/transfers/pickup", None).await;
    assert_eq!(status, StatusCode::OK, "{picked}");
    assert_eq!(picked["data"]["conversation_id"], c.as_str());
}
