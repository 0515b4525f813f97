//! Agent transfers (seed 002): the queues, pickup, assignment, agent replies, resume, and
//! the agents' live event stream.

use std::collections::HashSet;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::stream::{self, Stream, StreamExt};
use parley_core::{Transfer, TransferStatus};
use parley_engine::handoff::{Actor, TransferRequest};
use parley_store::{Event, PageRequest, Queue, TransferFilter};
use serde::Deserialize;
use tokio::sync::{broadcast, mpsc};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::conversations::sse_event;
use super::ListQuery;
use crate::auth::StaffKey;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery, Ids};
use crate::{success, AppState};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(pickup))
        .routes(routes!(get))
        .routes(routes!(assign))
        .routes(routes!(resume))
        .routes(routes!(agent_message))
        .routes(routes!(agent_events))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TransferQuery {
    /// `active` or `resumed`.
    pub status: Option<TransferStatus>,
    /// A team's id, or `general` for the general queue.
    pub team_id: Option<String>,
}

fn queue(team_id: Option<&str>) -> ApiResult<Option<Queue>> {
    match team_id {
        None => Ok(None),
        Some("general") => Ok(Some(Queue::General)),
        Some(t) => t
            .parse()
            .map(|id| Some(Queue::Team(id)))
            .map_err(|_| ApiError::BadRequest("team_id is a team's id or `general`".into())),
    }
}

/// # `GET /api/v1/transfers`
///
/// `{"transfers": [...], "general_queue_count", "team_queue_counts": {"<team_id>": n},
/// "next_cursor"}`; counts are the unassigned active transfers of each queue. Agents see
/// their queues and what is assigned to them.
#[utoipa::path(get, path = "/api/v1/transfers", tag = "handoff", params(TransferQuery, ListQuery),
    responses((status = 200), (status = 403)))]
async fn list(
    State(state): State<AppState>,
    StaffKey { ws, actor }: StaffKey,
    ApiQuery(q): ApiQuery<TransferQuery>,
    ApiQuery(paging): ApiQuery<ListQuery>,
) -> ApiResult<Response> {
    let filter = TransferFilter {
        status: q.status,
        queue: queue(q.team_id.as_deref())?,
        ..Default::default()
    };
    let list = state
        .engine
        .list_transfers(ws, &actor, filter, &paging.page())
        .await?;
    Ok(success(StatusCode::OK, list))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTransfer {
    pub conversation_id: Option<Uuid>,
    pub contact_id: Option<Uuid>,
    pub team_id: Option<Uuid>,
    pub notes: Option<String>,
}

/// # `POST /api/v1/transfers`
///
/// `{"conversation_id" | "contact_id", "team_id"?, "notes"?}`: hands the conversation (or
/// the contact's latest active one) to a human. The user is told, the bot goes silent. A
/// conversation with an open transfer has that transfer updated instead. An agent may
/// transfer only a conversation it already reaches (403 otherwise).
#[utoipa::path(post, path = "/api/v1/transfers", tag = "handoff", request_body = CreateTransfer,
    responses((status = 201), (status = 403), (status = 404), (status = 409), (status = 422)))]
async fn create(
    State(state): State<AppState>,
    StaffKey { ws, actor }: StaffKey,
    ApiJson(body): ApiJson<CreateTransfer>,
) -> ApiResult<Response> {
    let req = TransferRequest {
        conversation_id: body.conversation_id,
        contact_id: body.contact_id,
        team_id: body.team_id,
        notes: body.notes,
    };
    let transfer = state.engine.create_transfer(ws, &actor, req).await?;
    Ok(success(StatusCode::CREATED, transfer))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PickupQuery {
    /// A team's id, or `general`; omitted: any of the agent's queues.
    #[param(
        pattern = "^(general|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$"
    )]
    pub team_id: Option<String>,
}

/// # `POST /api/v1/transfers/pickup`
///
/// The oldest unassigned transfer of the queue, now assigned to the calling agent; 404 when
/// the queue is empty. Never hands one transfer out twice.
#[utoipa::path(post, path = "/api/v1/transfers/pickup", tag = "handoff", params(PickupQuery),
    responses((status = 200), (status = 403), (status = 404)))]
async fn pickup(
    State(state): State<AppState>,
    StaffKey { ws, actor }: StaffKey,
    ApiQuery(q): ApiQuery<PickupQuery>,
) -> ApiResult<Response> {
    let picked = state
        .engine
        .pickup(ws, &actor, queue(q.team_id.as_deref())?)
        .await?
        .ok_or_else(|| ApiError::NotFound("the queue is empty".into()))?;
    Ok(success(StatusCode::OK, picked))
}

/// # `GET /api/v1/transfers/{transfer_id}`
#[utoipa::path(get, path = "/api/v1/transfers/{transfer_id}", tag = "handoff",
    params(("transfer_id" = Uuid, Path)), responses((status = 200), (status = 403), (status = 404)))]
async fn get(
    State(state): State<AppState>,
    StaffKey { ws, actor }: StaffKey,
    Ids(id): Ids<Uuid>,
) -> ApiResult<Response> {
    let t = state.engine.get_transfer(ws, &actor, id).await?;
    Ok(success(StatusCode::OK, t))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignRequest {
    pub agent_id: Uuid,
}

/// # `PUT /api/v1/transfers/{transfer_id}/assign`
#[utoipa::path(put, path = "/api/v1/transfers/{transfer_id}/assign", tag = "handoff",
    params(("transfer_id" = Uuid, Path)), request_body = AssignRequest,
    responses((status = 200), (status = 403), (status = 404), (status = 409), (status = 422)))]
async fn assign(
    State(state): State<AppState>,
    StaffKey { ws, actor }: StaffKey,
    Ids(id): Ids<Uuid>,
    ApiJson(body): ApiJson<AssignRequest>,
) -> ApiResult<Response> {
    let t = state.engine.assign(ws, &actor, id, body.agent_id).await?;
    Ok(success(StatusCode::OK, t))
}

/// # `PUT /api/v1/transfers/{transfer_id}/resume`
///
/// Gives the conversation back to the bot, which says so (`resume_message`). Idempotent.
#[utoipa::path(put, path = "/api/v1/transfers/{transfer_id}/resume", tag = "handoff",
    params(("transfer_id" = Uuid, Path)), responses((status = 200), (status = 403), (status = 404)))]
async fn resume(
    State(state): State<AppState>,
    StaffKey { ws, actor }: StaffKey,
    Ids(id): Ids<Uuid>,
) -> ApiResult<Response> {
    let t = state.engine.resume(ws, &actor, id).await?;
    Ok(success(StatusCode::OK, t))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentMessageRequest {
    #[schema(
        min_length = 1,
        max_length = 4096,
        pattern = r"[^\s\x00-\x1f\x7f-\x9f]"
    )]
    pub text: String,
}

/// # `POST /api/v1/conversations/{conversation_id}/agent-messages`
///
/// `{"text"}`: the agent's reply (role `agent`), delivered to the user's live streams. The
/// conversation must have an open transfer; an unassigned one becomes the agent's.
#[utoipa::path(post, path = "/api/v1/conversations/{conversation_id}/agent-messages", tag = "handoff",
    params(("conversation_id" = Uuid, Path)), request_body = AgentMessageRequest,
    responses((status = 201), (status = 403), (status = 404), (status = 409)))]
async fn agent_message(
    State(state): State<AppState>,
    StaffKey { ws, actor }: StaffKey,
    Ids(id): Ids<Uuid>,
    ApiJson(body): ApiJson<AgentMessageRequest>,
) -> ApiResult<Response> {
    let message = state
        .engine
        .agent_message(ws, &actor, id, body.text)
        .await?;
    Ok(success(
        StatusCode::CREATED,
        serde_json::json!({ "message": message }),
    ))
}

/// # `GET /api/v1/agent/events`
///
/// Server-sent events for an agent's inbox: transfers in its queues or assigned to it
/// (`transfer.created`, `transfer.updated`, `transfer.assigned`, `transfer.resumed`) and
/// every message (`message`) of those conversations while they are transferred. Admin keys
/// see every queue. `Last-Event-ID` resumes after that event.
#[utoipa::path(get, path = "/api/v1/agent/events", tag = "handoff",
    responses((status = 200, body = String, content_type = "text/event-stream"), (status = 403)))]
async fn agent_events(
    State(state): State<AppState>,
    StaffKey { ws, actor }: StaffKey,
    headers: HeaderMap,
) -> ApiResult<Response> {
    // A profile-less agent key reaches nothing: refused now rather than an empty stream.
    actor.reach()?;
    let last_seen = super::conversations::last_event_id(&headers)?;
    let stream = agent_stream(state, ws, actor, last_seen);
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}

const REPLAY_BATCH: u32 = 200;

/// The inbox filter: which conversations are watched, updated from transfer events.
struct Inbox {
    actor: Actor,
    watched: HashSet<Uuid>,
}

impl Inbox {
    /// Should `e` be sent? Transfer events also change what is watched.
    fn admit(&mut self, e: &Event) -> bool {
        if e.kind.starts_with("transfer.") {
            let Ok(t) = serde_json::from_value::<Transfer>(e.payload.clone()) else {
                return false;
            };
            // In reach now (the access rule), or leaving a conversation that was: the
            // inbox must hear that it was resumed, moved to another team or reassigned.
            let reaches = self.actor.reaches(&t);
            let show = reaches || self.watched.contains(&t.conversation_id);
            if reaches && t.status == TransferStatus::Active {
                self.watched.insert(t.conversation_id);
            } else {
                self.watched.remove(&t.conversation_id);
            }
            return show;
        }
        e.kind == parley_engine::MESSAGE_CREATED
            && e.conversation_id.is_some_and(|c| self.watched.contains(&c))
    }
}

fn agent_stream(
    state: AppState,
    ws: Uuid,
    actor: Actor,
    mut last_seen: i64,
) -> impl Stream<Item = Result<SseEvent, Infallible>> {
    let (tx, rx) = mpsc::channel::<SseEvent>(64);
    tokio::spawn(async move {
        let mut live = state.engine.bus().subscribe();
        let store = state.engine.store().clone();
        // Conversations transferred right now and in reach.
        let mut watched = HashSet::new();
        let mut page = PageRequest {
            limit: Some(200),
            cursor: None,
        };
        loop {
            let filter = TransferFilter {
                status: Some(TransferStatus::Active),
                ..Default::default()
            };
            let Ok(list) = state.engine.list_transfers(ws, &actor, filter, &page).await else {
                return;
            };
            watched.extend(list.transfers.iter().map(|t| t.transfer.conversation_id));
            match list.next_cursor {
                Some(c) => page.cursor = Some(c),
                None => break,
            }
        }
        let mut inbox = Inbox { actor, watched };
        'outer: loop {
            loop {
                let batch = match store
                    .workspace_events_after(ws, last_seen, REPLAY_BATCH)
                    .await
                {
                    Ok(b) => b,
                    Err(e) => {
                        tracing::warn!(error = %e, "agent event replay failed; closing the stream");
                        break 'outer;
                    }
                };
                let n = batch.len();
                for event in batch {
                    last_seen = event.seq;
                    if inbox.admit(&event) && tx.send(sse_event(&event)).await.is_err() {
                        break 'outer;
                    }
                }
                if n < REPLAY_BATCH as usize {
                    break;
                }
            }
            loop {
                tokio::select! {
                    _ = tx.closed() => break 'outer,
                    received = live.recv() => match received {
                        Ok(p) => {
                            let e = &p.event;
                            if p.workspace_id != ws || e.seq <= last_seen {
                                continue;
                            }
                            last_seen = e.seq;
                            if inbox.admit(e) && tx.send(sse_event(e)).await.is_err() {
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
