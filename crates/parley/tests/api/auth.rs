//! Keys, roles, conversation tokens and workspace isolation.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{assert_error, send, spawn_app};

#[tokio::test]
async fn requests_without_a_valid_key_get_401() {
    let app = spawn_app().await;
    let (status, body) = send(app.client.get(app.url("/api/v1/bots"))).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "unauthorized");
    let (status, body) = send(app.req_as("pk_not_a_real_key", Method::GET, "/api/v1/bots")).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "unauthorized");
    let (status, body) = send(app.req_as("aaa.bbb.ccc", Method::GET, "/api/v1/bots")).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "unauthorized");
    let (status, body) = send(
        app.client
            .get(app.url("/api/v1/bots"))
            .header("Authorization", "Basic dXNlcjpwYXNz"),
    )
    .await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "unauthorized");
}

#[tokio::test]
async fn keys_are_shown_once_stored_hashed_and_revocable() {
    let app = spawn_app().await;
    let (status, body) = app.post("/api/v1/keys", json!({"name": "ci"})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let secret = body["data"]["secret"].as_str().unwrap().to_string();
    let id = body["data"]["id"].as_str().unwrap().to_string();
    assert_eq!(body["data"]["role"], "admin");
    assert!(secret.starts_with(body["data"]["prefix"].as_str().unwrap()));

    let (status, _) = send(app.req_as(&secret, Method::GET, "/api/v1/bots")).await;
    assert_eq!(status, StatusCode::OK);
    let (_, list) = app.get("/api/v1/keys").await;
    let listed = list.to_string();
    assert!(
        listed.contains(&id) && !listed.contains(&secret),
        "listings never show secrets"
    );

    let (status, _) = app.delete(&format!("/api/v1/keys/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = send(app.req_as(&secret, Method::GET, "/api/v1/bots")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // A key cannot delete itself.
    let (_, body) = app.get("/api/v1/keys").await;
    let own = body["data"]["items"][0]["id"].as_str().unwrap().to_string();
    let (status, body) = app.delete(&format!("/api/v1/keys/{own}")).await;
    assert_error(status, &body, StatusCode::CONFLICT, "conflict");
}

#[tokio::test]
async fn agent_keys_work_conversations_but_not_bots_or_keys() {
    let app = spawn_app().await;
    let bot = app.create_bot("b").await;
    let (_, body) = app
        .post(
            "/api/v1/keys",
            json!({"name": "agent ann", "role": "agent"}),
        )
        .await;
    let agent = body["data"]["secret"].as_str().unwrap().to_string();

    let (status, body) = send(
        app.req_as(&agent, Method::POST, "/api/v1/bots")
            .json(&json!({"name": "x"})),
    )
    .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (status, body) =
        send(app.req_as(&agent, Method::GET, &format!("/api/v1/bots/{bot}/settings"))).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (status, body) = send(
        app.req_as(&agent, Method::POST, "/api/v1/keys")
            .json(&json!({"name": "x"})),
    )
    .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");

    let (status, body) = send(
        app.req_as(&agent, Method::POST, "/api/v1/conversations")
            .json(&json!({"bot_id": bot})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let conv = body["data"]["id"].as_str().unwrap();
    // An agent acts only on conversations in its queues: this one was never transferred.
    let (status, body) = send(app.req_as(
        &agent,
        Method::GET,
        &format!("/api/v1/conversations/{conv}/messages"),
    ))
    .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
}

#[tokio::test]
async fn a_conversation_token_opens_exactly_one_conversation() {
    let app = spawn_app().await;
    let bot = app.create_bot("b").await;
    let mine = app.start(&bot).await["id"].as_str().unwrap().to_string();
    let other = app.start(&bot).await["id"].as_str().unwrap().to_string();

    let (status, body) =
        send(app.req(Method::POST, &format!("/api/v1/conversations/{mine}/token"))).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let token = body["data"]["token"].as_str().unwrap().to_string();
    assert!(body["data"]["expires_at"].is_string());

    for (method, path, payload) in [
        (Method::POST, "complete", Some(json!({"text": "hi"}))),
        (Method::POST, "send", Some(json!({"text": "hi"}))),
        (Method::POST, "receive", None),
        (Method::GET, "messages", None),
        (Method::GET, "session", None),
    ] {
        let mut req = app.req_as(
            &token,
            method.clone(),
            &format!("/api/v1/conversations/{mine}/{path}"),
        );
        if let Some(p) = &payload {
            req = req.json(p);
        }
        let (status, body) = send(req).await;
        assert!(status.is_success(), "{path}: {status} {body}");

        let mut req = app.req_as(
            &token,
            method,
            &format!("/api/v1/conversations/{other}/{path}"),
        );
        if let Some(p) = &payload {
            req = req.json(p);
        }
        let (status, body) = send(req).await;
        assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    }
    for (method, path) in [
        (Method::GET, "/api/v1/bots".to_string()),
        (Method::GET, "/api/v1/conversations".to_string()),
        (Method::POST, format!("/api/v1/conversations/{mine}/token")),
        (Method::DELETE, format!("/api/v1/conversations/{mine}")),
    ] {
        let (status, body) = send(app.req_as(&token, method, &path)).await;
        assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    }

    let (status, body) = send(
        app.req(Method::POST, &format!("/api/v1/conversations/{mine}/token"))
            .json(&json!({"ttl_seconds": 5})),
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
async fn workspaces_do_not_see_each_other() {
    let app = spawn_app().await;
    let bot = app.create_bot("mine").await;
    let conv = app.start(&bot).await["id"].as_str().unwrap().to_string();

    let other_ws = app.store.create_workspace("other").await.unwrap();
    let other = parley_server::auth::create_key(
        app.store.as_ref(),
        other_ws.id,
        "k",
        parley_core::Role::Admin,
    )
    .await
    .unwrap()
    .secret;
    let (_, body) = send(app.req_as(&other, Method::GET, "/api/v1/bots")).await;
    assert_eq!(body["data"]["items"], json!([]));
    for path in [
        format!("/api/v1/bots/{bot}"),
        format!("/api/v1/bots/{bot}/settings"),
        format!("/api/v1/bots/{bot}/keywords"),
        format!("/api/v1/conversations/{conv}"),
        format!("/api/v1/conversations/{conv}/messages"),
    ] {
        let (status, body) = send(app.req_as(&other, Method::GET, &path)).await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    }
    let (status, body) = send(
        app.req_as(&other, Method::POST, "/api/v1/conversations")
            .json(&json!({"bot_id": bot})),
    )
    .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    let (status, body) =
        send(app.req_as(&other, Method::DELETE, &format!("/api/v1/bots/{bot}"))).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    let (status, _) = app.get(&format!("/api/v1/bots/{bot}")).await;
    assert_eq!(status, StatusCode::OK, "still there for its own workspace");
}
