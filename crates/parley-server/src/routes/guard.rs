//! The guard's review routes: a bot's safety events, and a message's sealed PII original
//! (admin keys only; agents, conversation tokens and the widget never reach either).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use parley_core::{SafetyEvent, SafetyKind};
use parley_store::SafetyEventFilter;
use serde::Deserialize;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::ListQuery;
use crate::auth::AdminKey;
use crate::error::ApiResult;
use crate::extract::{ApiQuery, Ids};
use crate::{success, AppState};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(safety_events))
        .routes(routes!(original))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SafetyEventQuery {
    /// `pii`, `abuse`, `injection` or `output`.
    pub kind: Option<SafetyKind>,
    pub conversation_id: Option<Uuid>,
    /// Items per page: default 50, from 1 to 200 (422 outside).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 200)]
    pub limit: Option<super::PageLimit>,
    /// `next_cursor` from the previous page.
    pub cursor: Option<String>,
}

/// # `GET /api/v1/bots/{bot_id}/safety-events`
///
/// The guard's decisions for this bot, newest first: masked and sealed PII (kinds and
/// counts), warnings, abuse (calm replies, escalations, closings), injection attempts and
/// the policy applied, replies the output guard replaced. Never a PII value or a secret.
#[utoipa::path(get, path = "/api/v1/bots/{bot_id}/safety-events", tag = "guard",
    params(("bot_id" = Uuid, Path), SafetyEventQuery),
    responses((status = 200, body = super::Page<SafetyEvent>), (status = 400), (status = 403), (status = 404)))]
async fn safety_events(
    State(state): State<AppState>,
    admin: AdminKey,
    Ids(bot_id): Ids<Uuid>,
    ApiQuery(q): ApiQuery<SafetyEventQuery>,
) -> ApiResult<Response> {
    let page = ListQuery {
        limit: q.limit,
        cursor: q.cursor,
    }
    .page();
    let filter = SafetyEventFilter {
        kind: q.kind,
        conversation_id: q.conversation_id,
    };
    let events = state
        .engine
        .list_safety_events(admin.ws, bot_id, &filter, &page)
        .await?;
    Ok(success(StatusCode::OK, events))
}

/// # `GET /api/v1/conversations/{conversation_id}/messages/{message_id}/original`
///
/// A user message as written, opened from the vault: only for bots whose
/// `guard.pii` policy is `mask_and_seal` (kinds set to `mask` stay masked in it). 404 when
/// no original was kept; 503 when the server has no vault keys. Admin keys only; every
/// opening is logged (without the text).
#[utoipa::path(get, path = "/api/v1/conversations/{conversation_id}/messages/{message_id}/original", tag = "guard",
    params(("conversation_id" = Uuid, Path), ("message_id" = Uuid, Path)),
    responses((status = 200), (status = 403), (status = 404), (status = 503)))]
async fn original(
    State(state): State<AppState>,
    admin: AdminKey,
    Ids((conversation_id, message_id)): Ids<(Uuid, Uuid)>,
) -> ApiResult<Response> {
    let text = state
        .engine
        .message_original(admin.ws, conversation_id, message_id)
        .await?;
    Ok(success(StatusCode::OK, text))
}
