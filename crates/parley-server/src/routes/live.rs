//! Replies as they are written: `complete` with `"stream": true` (server-sent events) and
//! the conversation WebSocket. Both run the turn in a task of its own
//! ([`Engine::complete_streaming`](parley_engine::Engine::complete_streaming)), so a client
//! that goes away mid-reply loses nothing: the turn still commits the full message.

use std::convert::Infallible;

use axum::extract::ws::{Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::sse::{Event as SseEvent, Sse};
use axum::response::{IntoResponse, Response};
use futures::stream::{self, StreamExt};
use futures::SinkExt;
use parley_core::Message;
use parley_engine::{EngineError, Inbound};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::{mpsc, oneshot};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::auth::CustomerAccess;
use crate::error::{ApiError, ApiResult};
use crate::widget::ClientIp;
use crate::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(socket))
}

/// A turn running in its own task: its text deltas, then its result.
pub(crate) struct LiveTurn {
    pub deltas: mpsc::UnboundedReceiver<String>,
    pub done: oneshot::Receiver<Result<Vec<Message>, EngineError>>,
}

impl LiveTurn {
    /// The turn's messages once it ended (after the last delta).
    pub async fn finish(self) -> Result<Vec<Message>, ApiError> {
        match self.done.await {
            Ok(result) => result.map_err(ApiError::from),
            Err(_) => Err(ApiError::Internal(
                "the turn stopped unexpectedly; it has been logged".into(),
            )),
        }
    }
}

/// Starts `complete` in its own task.
pub(crate) fn spawn_turn(state: &AppState, ws: Uuid, id: Uuid, inbound: Inbound) -> LiveTurn {
    let (delta_tx, deltas) = mpsc::unbounded_channel();
    let (done_tx, done) = oneshot::channel();
    let engine = state.engine.clone();
    tokio::spawn(async move {
        let result = engine.complete_streaming(ws, id, inbound, delta_tx).await;
        let _ = done_tx.send(result);
    });
    LiveTurn { deltas, done }
}

/// How a streamed turn begins: with its first delta, or already over (no model streamed,
/// or it failed before saying anything, so the error can still have its own status).
pub(crate) enum LiveStart {
    Streaming { first: String, turn: LiveTurn },
    Finished(Vec<Message>),
}

pub(crate) async fn start(
    state: &AppState,
    ws: Uuid,
    id: Uuid,
    inbound: Inbound,
) -> ApiResult<LiveStart> {
    let mut turn = spawn_turn(state, ws, id, inbound);
    match turn.deltas.recv().await {
        Some(first) => Ok(LiveStart::Streaming { first, turn }),
        None => Ok(LiveStart::Finished(turn.finish().await?)),
    }
}

fn delta_event(text: &str) -> SseEvent {
    SseEvent::default()
        .event("delta")
        .data(json!({ "text": text }).to_string())
}

fn message_event(m: &Message) -> SseEvent {
    SseEvent::default()
        .event("message")
        .data(serde_json::to_string(m).unwrap_or_else(|_| "{}".into()))
}

fn end_events(result: Result<Vec<Message>, ApiError>) -> Vec<SseEvent> {
    match result {
        Ok(messages) => messages
            .iter()
            .map(message_event)
            .chain(std::iter::once(
                SseEvent::default().event("done").data("{}"),
            ))
            .collect(),
        Err(e) => vec![SseEvent::default()
            .event("error")
            .data(json!({"code": e.code(), "message": e.to_string()}).to_string())],
    }
}

/// `complete` as server-sent events: `delta` events as the reply is written, a `message`
/// event per finished message, then `done` (or `error` if the turn failed after it began).
pub(crate) async fn sse_complete(
    state: &AppState,
    ws: Uuid,
    id: Uuid,
    inbound: Inbound,
) -> ApiResult<Response> {
    let (first, turn) = match start(state, ws, id, inbound).await? {
        LiveStart::Finished(messages) => {
            let events = end_events(Ok(messages));
            return Ok(
                Sse::new(stream::iter(events.into_iter().map(Ok::<_, Infallible>))).into_response(),
            );
        }
        LiveStart::Streaming { first, turn } => (first, turn),
    };
    let head = stream::once(async move { vec![delta_event(&first)] });
    let rest = stream::unfold(Some(turn), |turn| async move {
        let mut turn = turn?;
        match turn.deltas.recv().await {
            Some(d) => Some((vec![delta_event(&d)], Some(turn))),
            None => Some((end_events(turn.finish().await), None)),
        }
    });
    let events = head
        .chain(rest)
        .flat_map(stream::iter)
        .map(Ok::<_, Infallible>);
    Ok(Sse::new(events).into_response())
}

/// A frame the client sends on the WebSocket.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientFrame {
    text: Option<String>,
    button_id: Option<String>,
}

/// # `GET /api/v1/conversations/{conversation_id}/ws`
///
/// A WebSocket for the conversation. Send `{"text"}` or `{"button_id"}`; receive
/// `{"type": "delta", "text"}` frames as the reply is written, `{"type": "message",
/// "message"}` for each finished message, then `{"type": "done"}` (or `{"type": "error",
/// "error": {"code", "message"}}`). Messages are answered one at a time, in order. The
/// socket speaks as the customer: the conversation's token or an admin key, never an
/// agent key.
/// Browsers, which cannot set `Authorization` on a WebSocket, offer the subprotocols
/// `parley` and `bearer.<token>`; the server answers with `parley`.
#[utoipa::path(get, path = "/api/v1/conversations/{conversation_id}/ws", tag = "conversations",
    params(("conversation_id" = Uuid, Path)), responses((status = 101, description = "switching to the WebSocket protocol"), (status = 404)))]
async fn socket(
    State(state): State<AppState>,
    access: CustomerAccess,
    ip: ClientIp,
    upgrade: WebSocketUpgrade,
) -> ApiResult<Response> {
    let CustomerAccess { ws, id, by_token } = access;
    state.engine.get_conversation(ws, id).await?;
    // Each message counts against the client's limit as `send` would (tokens only).
    let client = by_token.then_some(ip.0);
    // A browser that carried its token as the `bearer.…` subprotocol must get one of the
    // protocols it offered back, or it drops the connection: `parley` is that one.
    Ok(upgrade
        .protocols(["parley"])
        .on_upgrade(move |socket| talk(state, ws, id, client, socket)))
}

fn frame(value: serde_json::Value) -> WsMessage {
    WsMessage::Text(value.to_string().into())
}

fn error_frame(e: &ApiError) -> WsMessage {
    let mut error = json!({"code": e.code(), "message": e.to_string()});
    if let Some(secs) = e.retry_after() {
        error["retry_after_seconds"] = json!(secs);
    }
    frame(json!({"type": "error", "error": error}))
}

async fn talk(
    state: AppState,
    ws: Uuid,
    id: Uuid,
    client: Option<std::net::IpAddr>,
    socket: WebSocket,
) {
    let (mut tx, mut rx) = socket.split();
    while let Some(Ok(incoming)) = rx.next().await {
        let text = match incoming {
            WsMessage::Text(t) => t,
            WsMessage::Close(_) => break,
            _ => continue,
        };
        let inbound = match serde_json::from_str::<ClientFrame>(text.as_str()) {
            Ok(ClientFrame {
                text: Some(t),
                button_id: None,
            }) => Inbound::Text(t),
            Ok(ClientFrame {
                text: None,
                button_id: Some(b),
            }) => Inbound::Button(b),
            _ => {
                let e = ApiError::validation(
                    "text",
                    "send `{\"text\": \"...\"}` or `{\"button_id\": \"...\"}`",
                );
                if tx.send(error_frame(&e)).await.is_err() {
                    break;
                }
                continue;
            }
        };
        if let Some(Err(e)) = client.map(|ip| state.client_messages.check_ip(ip)) {
            if tx.send(error_frame(&e)).await.is_err() {
                break;
            }
            continue;
        }
        let mut turn = spawn_turn(&state, ws, id, inbound);
        let mut open = true;
        while let Some(d) = turn.deltas.recv().await {
            if open
                && tx
                    .send(frame(json!({"type": "delta", "text": d})))
                    .await
                    .is_err()
            {
                // The client left; the turn still finishes and commits.
                open = false;
            }
        }
        let frames = match turn.finish().await {
            Ok(messages) => messages
                .iter()
                .map(|m| frame(json!({"type": "message", "message": m})))
                .chain(std::iter::once(frame(json!({"type": "done"}))))
                .collect::<Vec<_>>(),
            Err(e) => vec![error_frame(&e)],
        };
        if !open {
            break;
        }
        for f in frames {
            if tx.send(f).await.is_err() {
                return;
            }
        }
    }
}
