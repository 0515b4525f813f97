//! Live sessions (seed 002), for debugging and dashboards.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use parley_core::{Session, SessionMode};
use parley_store::SessionFilter;
use serde::Deserialize;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::ListQuery;
use crate::auth::{AdminKey, StaffConversation};
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiQuery;
use crate::{success, AppState};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(get))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SessionQuery {
    pub bot_id: Option<Uuid>,
    /// `bot`, `flow` or `human`.
    pub mode: Option<SessionMode>,
}

/// # `GET /api/v1/sessions`
///
/// Sessions of active conversations. Admin keys only.
#[utoipa::path(get, path = "/api/v1/sessions", tag = "sessions", params(SessionQuery, ListQuery), responses((status = 200, body = super::Page<Session>), (status = 403)))]
async fn list(
    State(state): State<AppState>,
    AdminKey { ws, .. }: AdminKey,
    ApiQuery(q): ApiQuery<SessionQuery>,
    ApiQuery(paging): ApiQuery<ListQuery>,
) -> ApiResult<Response> {
    let filter = SessionFilter {
        bot_id: q.bot_id,
        mode: q.mode,
    };
    let page = paging.page();
    let page = state
        .engine
        .store()
        .list_sessions(ws, &filter, &page)
        .await?;
    Ok(success(StatusCode::OK, page))
}

/// # `GET /api/v1/sessions/{session_id}`
///
/// A session's id is its conversation's id. Admin keys, and agents that reach the
/// conversation.
#[utoipa::path(get, path = "/api/v1/sessions/{session_id}", tag = "sessions",
    params(("session_id" = Uuid, Path)), responses((status = 200, body = Session), (status = 404)))]
async fn get(
    State(state): State<AppState>,
    StaffConversation { ws, id, .. }: StaffConversation,
) -> ApiResult<Response> {
    let session = state
        .engine
        .store()
        .get_session(ws, id)
        .await?
        .ok_or_else(|| ApiError::NotFound("no such session".into()))?;
    Ok(success(StatusCode::OK, session))
}
