//! The baseline: the least an axum 0.8 server can do for `complete` — parse the same JSON body
//! with serde and answer one fixed bot message in Parley's envelope — plus stubs for the setup
//! calls (bot, keyword rule, conversation, bot deletion), so the harness drives both targets
//! through exactly the same code. No auth, no storage, no matching: it is the HTTP floor.

use std::net::SocketAddr;

use anyhow::Context;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::load::EXPECTED_REPLY;

/// Binds `addr` now (so the caller learns the port) and serves on `runtime` until it shuts down.
pub fn start(runtime: &tokio::runtime::Handle, addr: SocketAddr) -> anyhow::Result<SocketAddr> {
    let listener =
        std::net::TcpListener::bind(addr).with_context(|| format!("binding baseline on {addr}"))?;
    listener
        .set_nonblocking(true)
        .context("making the baseline listener non-blocking")?;
    let local = listener
        .local_addr()
        .context("reading the baseline address")?;
    runtime.spawn(async move {
        let served = match tokio::net::TcpListener::from_std(listener) {
            Ok(listener) => axum::serve(listener, router()).await,
            Err(error) => Err(error),
        };
        if let Err(error) = served {
            eprintln!("baseline server stopped: {error}");
        }
    });
    Ok(local)
}

fn router() -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/api/v1/bots", post(create_bot))
        .route(
            "/api/v1/bots/{id}",
            delete(|| async { StatusCode::NO_CONTENT }),
        )
        .route("/api/v1/bots/{id}/keywords", post(create_rule))
        .route("/api/v1/conversations", post(create_conversation))
        .route("/api/v1/conversations/{id}/complete", post(complete))
}

#[derive(Serialize)]
struct Envelope<T> {
    status: &'static str,
    data: T,
}

fn success<T>(data: T) -> Json<Envelope<T>> {
    Json(Envelope {
        status: "success",
        data,
    })
}

#[derive(Serialize)]
struct Messages {
    messages: Vec<Message>,
}

#[derive(Serialize)]
struct Message {
    id: Uuid,
    conversation_id: String,
    role: &'static str,
    text: &'static str,
    created_at: DateTime<Utc>,
    meta: Meta,
}

#[derive(Serialize)]
struct Meta {
    source: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    rule_id: Option<Uuid>,
}

impl Message {
    fn bot(conversation_id: String, text: &'static str, meta: Meta) -> Message {
        Message {
            id: Uuid::now_v7(),
            conversation_id,
            role: "bot",
            text,
            created_at: Utc::now(),
            meta,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CompleteRequest {
    text: String,
}

/// `POST /api/v1/conversations/{id}/complete`: the measured route.
async fn complete(
    Path(conversation_id): Path<String>,
    Json(request): Json<CompleteRequest>,
) -> Result<Json<Envelope<Messages>>, StatusCode> {
    if request.text.trim().is_empty() {
        return Err(StatusCode::UNPROCESSABLE_ENTITY);
    }
    let meta = Meta {
        source: "rule",
        rule_id: Some(Uuid::nil()),
    };
    Ok(success(Messages {
        messages: vec![Message::bot(conversation_id, EXPECTED_REPLY, meta)],
    }))
}

#[derive(Serialize)]
struct Created {
    id: Uuid,
}

/// `POST /api/v1/bots` (stub).
async fn create_bot(Json(_): Json<serde_json::Value>) -> (StatusCode, Json<Envelope<Created>>) {
    (StatusCode::CREATED, success(Created { id: Uuid::now_v7() }))
}

/// `POST /api/v1/bots/{id}/keywords` (stub).
async fn create_rule(
    Path(_bot_id): Path<String>,
    Json(_): Json<serde_json::Value>,
) -> (StatusCode, Json<Envelope<Created>>) {
    (StatusCode::CREATED, success(Created { id: Uuid::now_v7() }))
}

#[derive(Serialize)]
struct Conversation {
    id: Uuid,
    messages: Vec<Message>,
}

/// `POST /api/v1/conversations` (stub): a new id and a greeting.
async fn create_conversation(
    Json(_): Json<serde_json::Value>,
) -> (StatusCode, Json<Envelope<Conversation>>) {
    let id = Uuid::now_v7();
    let greeting = Message::bot(
        id.to_string(),
        "Hello!",
        Meta {
            source: "greeting",
            rule_id: None,
        },
    );
    (
        StatusCode::CREATED,
        success(Conversation {
            id,
            messages: vec![greeting],
        }),
    )
}
