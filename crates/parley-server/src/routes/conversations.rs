//! Conversations: creation with the greeting, send / receive / complete (seed 001),
//! history, the live event stream, conversation tokens.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::stream::{self, Stream, StreamExt};
use parley_core::{Channel, ContactInput, ConversationStatus, Feedback, FeedbackInput, Session};
use parley_engine::{ConversationView, Inbound, StartConversation};
use parley_store::{ConversationFilter, Event};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::{broadcast, mpsc};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::ListQuery;
use crate::auth::{AdminKey, ConversationRead, CustomerAccess, StaffConversation, StaffKey};
use crate::error::{ApiError, ApiResult};
use crate::extract::{parse_json, ApiJson, ApiQuery, Ids};
use crate::widget::ClientIp;
use crate::{success, AppState};

/// The routes for keys only.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(get, delete))
        .routes(routes!(panel))
        .routes(routes!(token))
        .routes(routes!(close))
}

/// The routes a conversation token opens (and keys too): what a browser calls, so the
/// widget's CORS layer wraps exactly these.
pub fn token_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(send))
        .routes(routes!(receive))
        .routes(routes!(complete))
        .routes(routes!(messages))
        .routes(routes!(session))
        .routes(routes!(events))
        .routes(routes!(give_feedback, list_feedback))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewConversationRequest {
    pub bot_id: Uuid,
    #[serde(default)]
    pub contact: Option<ContactInput>,
    /// Defaults to `api`.
    #[serde(default)]
    pub channel: Option<Channel>,
}

/// `send` body: the user's text, or the id of a button the bot offered.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageRequest {
    /// The user's text: some visible characters, at most the server's `max_message_chars`
    /// (4096 unless configured).
    #[schema(
        min_length = 1,
        max_length = 4096,
        pattern = r"[^\s\x00-\x1f\x7f-\x9f]"
    )]
    pub text: Option<String>,
    pub button_id: Option<String>,
}

/// `complete` body: as `send`, and `stream` for a `text/event-stream` answer.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteRequest {
    /// The user's text: some visible characters, at most the server's `max_message_chars`
    /// (4096 unless configured).
    #[schema(
        min_length = 1,
        max_length = 4096,
        pattern = r"[^\s\x00-\x1f\x7f-\x9f]"
    )]
    pub text: Option<String>,
    pub button_id: Option<String>,
    #[serde(default)]
    pub stream: bool,
}

fn inbound(text: Option<String>, button_id: Option<String>) -> ApiResult<Inbound> {
    match (text, button_id) {
        (Some(t), None) => Ok(Inbound::Text(t)),
        (None, Some(b)) => Ok(Inbound::Button(b)),
        (Some(_), Some(_)) => Err(ApiError::validation(
            "button_id",
            "give either `text` or `button_id`, not both",
        )),
        (None, None) => Err(ApiError::validation("text", "give `text` or `button_id`")),
    }
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConversationQuery {
    pub bot_id: Option<Uuid>,
    pub contact_id: Option<Uuid>,
    /// `active` or `closed`.
    pub status: Option<ConversationStatus>,
}

/// # `POST /api/v1/conversations`
///
/// Creates the conversation and returns it with `messages` holding the greeting.
#[utoipa::path(post, path = "/api/v1/conversations", tag = "conversations", request_body = NewConversationRequest,
    responses((status = 201, description = "the conversation with its greeting"), (status = 404), (status = 422)))]
async fn create(
    State(state): State<AppState>,
    staff: StaffKey,
    ApiJson(req): ApiJson<NewConversationRequest>,
) -> ApiResult<Response> {
    let view = state
        .engine
        .start_conversation(
            staff.ws,
            StartConversation {
                bot_id: req.bot_id,
                contact: req.contact.unwrap_or_default(),
                channel: req.channel.unwrap_or_default(),
            },
        )
        .await?;
    Ok(success(StatusCode::CREATED, view))
}

/// # `GET /api/v1/conversations`
///
/// Newest first, filtered by `bot_id`, `contact_id`, `status`. Admin keys only: agents
/// find their conversations through `GET /transfers` and `GET /agent/events`.
#[utoipa::path(get, path = "/api/v1/conversations", tag = "conversations", params(ConversationQuery, ListQuery),
    responses((status = 200), (status = 400), (status = 403)))]
async fn list(
    State(state): State<AppState>,
    AdminKey { ws, .. }: AdminKey,
    ApiQuery(q): ApiQuery<ConversationQuery>,
    ApiQuery(paging): ApiQuery<ListQuery>,
) -> ApiResult<Response> {
    let filter = ConversationFilter {
        bot_id: q.bot_id,
        contact_id: q.contact_id,
        status: q.status,
    };
    let page = paging.page();
    let page = state
        .engine
        .store()
        .list_conversations(ws, &filter, &page)
        .await?;
    Ok(success(StatusCode::OK, page))
}

/// # `GET /api/v1/conversations/{conversation_id}`
#[utoipa::path(get, path = "/api/v1/conversations/{conversation_id}", tag = "conversations",
    params(("conversation_id" = Uuid, Path)), responses((status = 200), (status = 404)))]
async fn get(
    State(state): State<AppState>,
    StaffConversation { ws, id, .. }: StaffConversation,
) -> ApiResult<Response> {
    let view: ConversationView = state.engine.get_conversation(ws, id).await?;
    Ok(success(StatusCode::OK, view))
}

/// # `DELETE /api/v1/conversations/{conversation_id}`
///
/// Erases the conversation with its messages, session and events.
#[utoipa::path(delete, path = "/api/v1/conversations/{conversation_id}", tag = "conversations",
    params(("conversation_id" = Uuid, Path)), responses((status = 200, body = super::Deleted), (status = 404)))]
async fn delete(
    State(state): State<AppState>,
    AdminKey { ws, .. }: AdminKey,
    Ids(id): Ids<Uuid>,
) -> ApiResult<Response> {
    state.engine.delete_conversation(ws, id).await?;
    Ok(success(
        StatusCode::OK,
        json!({ "id": id, "deleted": true }),
    ))
}

/// # `POST /api/v1/conversations/{conversation_id}/send`
///
/// Stores the user's message (durable when this answers); the reply comes from `receive`.
#[utoipa::path(post, path = "/api/v1/conversations/{conversation_id}/send", tag = "conversations",
    params(("conversation_id" = Uuid, Path)), request_body = MessageRequest,
    responses((status = 201, body = super::SentMessage, description = "`{\"message\"}`"), (status = 404), (status = 409), (status = 422)))]
async fn send(
    State(state): State<AppState>,
    access: CustomerAccess,
    ip: ClientIp,
    ApiJson(req): ApiJson<MessageRequest>,
) -> ApiResult<Response> {
    let CustomerAccess { ws, id, .. } = access;
    state.client_messages.check(&access, ip)?;
    let message = state
        .engine
        .send(ws, id, inbound(req.text, req.button_id)?)
        .await?;
    Ok(success(StatusCode::CREATED, json!({ "message": message })))
}

/// # `POST /api/v1/conversations/{conversation_id}/receive`
///
/// The bot's replies to everything sent since its last reply (empty when nothing waits).
#[utoipa::path(post, path = "/api/v1/conversations/{conversation_id}/receive", tag = "conversations",
    params(("conversation_id" = Uuid, Path)), responses((status = 200, body = super::Messages), (status = 404), (status = 409)))]
async fn receive(
    State(state): State<AppState>,
    CustomerAccess { ws, id, .. }: CustomerAccess,
) -> ApiResult<Response> {
    let messages = state.engine.receive(ws, id).await?;
    Ok(success(StatusCode::OK, json!({ "messages": messages })))
}

/// # `POST /api/v1/conversations/{conversation_id}/complete`
///
/// Send and receive in one call. With `"stream": true` the answer is `text/event-stream`:
/// `event: delta` `{"text"}` as an AI reply is written, `event: message` for each finished
/// message, then `event: done`. The turn runs on if the client disconnects; the full reply
/// is stored either way.
#[utoipa::path(post, path = "/api/v1/conversations/{conversation_id}/complete", tag = "conversations",
    params(("conversation_id" = Uuid, Path)), request_body = CompleteRequest,
    responses((status = 200, content((super::Messages = "application/json"), (String = "text/event-stream")), description = "`{\"messages\": [...]}`, or an event stream (`\"stream\": true`)"), (status = 404), (status = 409), (status = 422)))]
async fn complete(
    State(state): State<AppState>,
    access: CustomerAccess,
    ip: ClientIp,
    ApiJson(req): ApiJson<CompleteRequest>,
) -> ApiResult<Response> {
    let CustomerAccess { ws, id, .. } = access;
    state.client_messages.check(&access, ip)?;
    let inbound = inbound(req.text, req.button_id)?;
    if req.stream {
        return super::live::sse_complete(&state, ws, id, inbound).await;
    }
    let messages = state.engine.complete(ws, id, inbound).await?;
    Ok(success(StatusCode::OK, json!({ "messages": messages })))
}

/// # `GET /api/v1/conversations/{conversation_id}/messages`
///
/// The history, oldest first.
#[utoipa::path(get, path = "/api/v1/conversations/{conversation_id}/messages", tag = "conversations",
    params(("conversation_id" = Uuid, Path), ListQuery), responses((status = 200, body = super::Page<parley_core::Message>), (status = 404)))]
async fn messages(
    State(state): State<AppState>,
    ConversationRead { ws, id, .. }: ConversationRead,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Response> {
    // 404 for an unknown conversation, not an empty page.
    state.engine.get_conversation(ws, id).await?;
    let page = state
        .engine
        .store()
        .list_messages(ws, id, &q.page())
        .await?;
    Ok(success(StatusCode::OK, page))
}

/// # `GET /api/v1/conversations/{conversation_id}/session`
#[utoipa::path(get, path = "/api/v1/conversations/{conversation_id}/session", tag = "conversations",
    params(("conversation_id" = Uuid, Path)), responses((status = 200, body = Session), (status = 404)))]
async fn session(
    State(state): State<AppState>,
    ConversationRead { ws, id, .. }: ConversationRead,
) -> ApiResult<Response> {
    let session = state
        .engine
        .store()
        .get_session(ws, id)
        .await?
        .ok_or_else(|| ApiError::NotFound("no such conversation".into()))?;
    Ok(success(StatusCode::OK, session))
}

/// # `GET /api/v1/conversations/{conversation_id}/panel`
///
/// The Contact Info Panel of the conversation's current or last flow (its `panel_config`),
/// each field filled with the session's value, for the agent inbox.
#[utoipa::path(get, path = "/api/v1/conversations/{conversation_id}/panel", tag = "conversations",
    params(("conversation_id" = Uuid, Path)), responses((status = 200, body = parley_core::flow::PanelView), (status = 404)))]
async fn panel(
    State(state): State<AppState>,
    StaffConversation { ws, id, .. }: StaffConversation,
) -> ApiResult<Response> {
    let panel = state.engine.panel(ws, id).await?;
    Ok(success(StatusCode::OK, panel))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// Lifetime in seconds (default 86400, at most 30 days).
    #[schema(minimum = 60, maximum = 2_592_000)]
    pub ttl_seconds: Option<i64>,
}

/// # `POST /api/v1/conversations/{conversation_id}/token`
///
/// A token that opens only this conversation's `send`, `receive`, `complete`, `messages`,
/// `events`, `session` and `feedback`: safe to hand to a browser.
#[utoipa::path(post, path = "/api/v1/conversations/{conversation_id}/token", tag = "conversations",
    params(("conversation_id" = Uuid, Path)), request_body(content = Option<TokenRequest>, description = "optional: no body means the default lifetime"),
    responses((status = 201, description = "`{\"token\", \"expires_at\"}`"), (status = 404)))]
async fn token(
    State(state): State<AppState>,
    AdminKey { ws, .. }: AdminKey,
    Ids(id): Ids<Uuid>,
    body: Bytes,
) -> ApiResult<Response> {
    let req: TokenRequest = if body.iter().all(u8::is_ascii_whitespace) {
        TokenRequest::default()
    } else {
        parse_json(&body)?
    };
    let ttl = match req.ttl_seconds {
        None => state.http.token_ttl,
        Some(s) if (60..=30 * 24 * 3600).contains(&s) => chrono::Duration::seconds(s),
        Some(_) => {
            return Err(ApiError::validation(
                "ttl_seconds",
                "between 60 and 2592000 (30 days)",
            ))
        }
    };
    state.engine.get_conversation(ws, id).await?;
    let (token, expires_at) = state.tokens.issue(ws, id, ttl)?;
    Ok(success(
        StatusCode::CREATED,
        json!({ "token": token, "expires_at": expires_at }),
    ))
}

/// # `POST /api/v1/conversations/{conversation_id}/close`
///
/// Keeps the history; further messages are refused with 409.
#[utoipa::path(post, path = "/api/v1/conversations/{conversation_id}/close", tag = "conversations",
    params(("conversation_id" = Uuid, Path)), responses((status = 200, body = parley_core::Conversation), (status = 404)))]
async fn close(
    State(state): State<AppState>,
    StaffConversation { ws, id, .. }: StaffConversation,
) -> ApiResult<Response> {
    let conversation = state.engine.close_conversation(ws, id).await?;
    Ok(success(StatusCode::OK, conversation))
}

/// # `GET /api/v1/conversations/{conversation_id}/events`
///
/// Server-sent events: every message added to the conversation (`event: message`, `id:` its
/// event number). `Last-Event-ID` resumes after that event, with nothing missed. API keys
/// also see the conversation's other events (`flow.started`, `flow.completed`,
/// `flow.abandoned`, `transfer.created`, …); a conversation token sees messages only.
#[utoipa::path(get, path = "/api/v1/conversations/{conversation_id}/events", tag = "conversations",
    params(("conversation_id" = Uuid, Path)), responses((status = 200, body = String, content_type = "text/event-stream"), (status = 404)))]
async fn events(
    State(state): State<AppState>,
    ConversationRead { ws, id, by_token }: ConversationRead,
    headers: HeaderMap,
) -> ApiResult<Response> {
    state.engine.get_conversation(ws, id).await?;
    let last_seen = last_event_id(&headers)?;
    let messages_only = by_token;
    let stream = live_events(state, ws, id, last_seen, messages_only);
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}

const REPLAY_BATCH: u32 = 200;

/// The `Last-Event-ID` header (0 when absent).
pub(crate) fn last_event_id(headers: &HeaderMap) -> ApiResult<i64> {
    match headers.get("last-event-id").map(|v| v.to_str()) {
        None => Ok(0),
        Some(Ok(v)) => v
            .trim()
            .parse()
            .map_err(|_| ApiError::BadRequest("Last-Event-ID must be an event number".into())),
        Some(Err(_)) => Err(ApiError::BadRequest(
            "Last-Event-ID must be an event number".into(),
        )),
    }
}

/// Replays the outbox after `last_seen`, then follows the live bus. Subscribing before the
/// replay means nothing committed in between is missed; sequence numbers drop duplicates;
/// a listener that lags behind the bus re-reads the outbox.
fn live_events(
    state: AppState,
    ws: Uuid,
    conversation: Uuid,
    mut last_seen: i64,
    messages_only: bool,
) -> impl Stream<Item = Result<SseEvent, Infallible>> {
    let shown = move |e: &Event| !messages_only || e.kind == parley_engine::MESSAGE_CREATED;
    let (tx, rx) = mpsc::channel::<SseEvent>(64);
    tokio::spawn(async move {
        let mut live = state.engine.bus().subscribe();
        let store = state.engine.store().clone();
        let replay = |after: i64| {
            let store = store.clone();
            async move {
                store
                    .events_after(ws, conversation, after, REPLAY_BATCH)
                    .await
            }
        };
        'outer: loop {
            // Catch up from the outbox.
            loop {
                let batch = match replay(last_seen).await {
                    Ok(b) => b,
                    Err(e) => {
                        tracing::warn!(error = %e, "event replay failed; closing the stream");
                        break 'outer;
                    }
                };
                let n = batch.len();
                for event in batch {
                    last_seen = event.seq;
                    if !shown(&event) {
                        continue;
                    }
                    if tx.send(sse_event(&event)).await.is_err() {
                        break 'outer;
                    }
                }
                if n < REPLAY_BATCH as usize {
                    break;
                }
            }
            // Follow live events until the client leaves or we fall behind.
            loop {
                tokio::select! {
                    _ = tx.closed() => break 'outer,
                    received = live.recv() => match received {
                        Ok(p) => {
                            let e = &p.event;
                            if p.workspace_id != ws || e.conversation_id != Some(conversation) || e.seq <= last_seen {
                                continue;
                            }
                            last_seen = e.seq;
                            if !shown(e) {
                                continue;
                            }
                            if tx.send(sse_event(e)).await.is_err() {
                                break 'outer;
                            }
                        }
                        Err(broadcast::error::RecvError::Lagged(_)) => continue 'outer,
                        Err(broadcast::error::RecvError::Closed) => break 'outer,
                    }
                }
            }
        }
    });
    stream::unfold(
        rx,
        |mut rx| async move { rx.recv().await.map(|e| (Ok(e), rx)) },
    )
    .boxed()
}

pub(crate) fn sse_event(e: &Event) -> SseEvent {
    let name = match e.kind.as_str() {
        parley_engine::MESSAGE_CREATED => "message",
        other => other,
    };
    SseEvent::default()
        .id(e.seq.to_string())
        .event(name)
        .data(serde_json::to_string(&e.payload).unwrap_or_else(|_| "{}".into()))
}

/// # `POST /api/v1/conversations/{conversation_id}/feedback`
///
/// `{"rating": 1..5, "message_id"?, "comment"?}`: the whole conversation, or one bot message.
#[utoipa::path(post, path = "/api/v1/conversations/{conversation_id}/feedback", tag = "conversations",
    params(("conversation_id" = Uuid, Path)), request_body = FeedbackInput,
    responses((status = 201, body = Feedback), (status = 404), (status = 422)))]
async fn give_feedback(
    State(state): State<AppState>,
    CustomerAccess { ws, id, .. }: CustomerAccess,
    ApiJson(input): ApiJson<FeedbackInput>,
) -> ApiResult<Response> {
    let feedback = state.engine.give_feedback(ws, id, input).await?;
    Ok(success(StatusCode::CREATED, feedback))
}

/// # `GET /api/v1/conversations/{conversation_id}/feedback`
#[utoipa::path(get, path = "/api/v1/conversations/{conversation_id}/feedback", tag = "conversations",
    params(("conversation_id" = Uuid, Path), ListQuery), responses((status = 200, body = super::Page<Feedback>), (status = 404)))]
async fn list_feedback(
    State(state): State<AppState>,
    StaffConversation { ws, id, .. }: StaffConversation,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Response> {
    state.engine.get_conversation(ws, id).await?;
    let page = state
        .engine
        .store()
        .list_feedback(ws, id, &q.page())
        .await?;
    Ok(success(StatusCode::OK, page))
}
