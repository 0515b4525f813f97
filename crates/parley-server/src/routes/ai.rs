//! The AI stage's management routes: a bot's AI contexts (seed 002), the context a
//! conversation's next AI reply would send (for debugging prompts), and usage totals.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use parley_core::{AiContext, AiContextInput};
use serde::Deserialize;
use serde_json::json;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::ListQuery;
use crate::auth::{AdminKey, StaffConversation};
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiQuery, Ids};
use crate::{success, AppState};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(get, update, delete))
        .routes(routes!(context))
        .routes(routes!(conversation_usage))
        .routes(routes!(bot_usage))
}

/// # `POST /api/v1/bots/{bot_id}/ai-contexts`
///
/// `static` contexts need `content`; `api` ones need `api: {url, method, headers, timeout_ms}`.
#[utoipa::path(post, path = "/api/v1/bots/{bot_id}/ai-contexts", tag = "ai", params(("bot_id" = Uuid, Path)),
    request_body = AiContextInput, responses((status = 201, body = AiContext), (status = 404), (status = 422)))]
async fn create(
    State(state): State<AppState>,
    admin: AdminKey,
    Ids(bot_id): Ids<Uuid>,
    ApiJson(input): ApiJson<AiContextInput>,
) -> ApiResult<Response> {
    let ctx = state
        .engine
        .create_ai_context(admin.ws, bot_id, input)
        .await?;
    Ok(success(StatusCode::CREATED, ctx))
}

/// # `GET /api/v1/bots/{bot_id}/ai-contexts`
#[utoipa::path(get, path = "/api/v1/bots/{bot_id}/ai-contexts", tag = "ai",
    params(("bot_id" = Uuid, Path), ListQuery), responses((status = 200, body = super::Page<AiContext>), (status = 404)))]
async fn list(
    State(state): State<AppState>,
    admin: AdminKey,
    Ids(bot_id): Ids<Uuid>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Response> {
    let page = state
        .engine
        .list_ai_contexts(admin.ws, bot_id, &q.page())
        .await?;
    Ok(success(StatusCode::OK, page))
}

/// # `GET /api/v1/bots/{bot_id}/ai-contexts/{context_id}`
#[utoipa::path(get, path = "/api/v1/bots/{bot_id}/ai-contexts/{context_id}", tag = "ai",
    params(("bot_id" = Uuid, Path), ("context_id" = Uuid, Path)), responses((status = 200, body = AiContext), (status = 404)))]
async fn get(
    State(state): State<AppState>,
    admin: AdminKey,
    Ids((bot_id, id)): Ids<(Uuid, Uuid)>,
) -> ApiResult<Response> {
    let ctx = state.engine.get_ai_context(admin.ws, bot_id, id).await?;
    Ok(success(StatusCode::OK, ctx))
}

/// # `PUT /api/v1/bots/{bot_id}/ai-contexts/{context_id}`
///
/// Changes only the fields named; the result is validated as a whole.
#[utoipa::path(put, path = "/api/v1/bots/{bot_id}/ai-contexts/{context_id}", tag = "ai",
    params(("bot_id" = Uuid, Path), ("context_id" = Uuid, Path)), request_body = AiContextInput,
    responses((status = 200, body = AiContext), (status = 404), (status = 422)))]
async fn update(
    State(state): State<AppState>,
    admin: AdminKey,
    Ids((bot_id, id)): Ids<(Uuid, Uuid)>,
    ApiJson(patch): ApiJson<AiContextInput>,
) -> ApiResult<Response> {
    let ctx = state
        .engine
        .update_ai_context(admin.ws, bot_id, id, patch)
        .await?;
    Ok(success(StatusCode::OK, ctx))
}

/// # `DELETE /api/v1/bots/{bot_id}/ai-contexts/{context_id}`
#[utoipa::path(delete, path = "/api/v1/bots/{bot_id}/ai-contexts/{context_id}", tag = "ai",
    params(("bot_id" = Uuid, Path), ("context_id" = Uuid, Path)), responses((status = 200, body = super::Deleted), (status = 404)))]
async fn delete(
    State(state): State<AppState>,
    admin: AdminKey,
    Ids((bot_id, id)): Ids<(Uuid, Uuid)>,
) -> ApiResult<Response> {
    state.engine.delete_ai_context(admin.ws, bot_id, id).await?;
    Ok(success(
        StatusCode::OK,
        json!({ "id": id, "deleted": true }),
    ))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ContextQuery {
    /// The user message to assemble the context for (default: none).
    pub text: Option<String>,
}

/// # `GET /api/v1/conversations/{conversation_id}/context`
///
/// Exactly what the next AI reply would send if the user wrote `?text=` now: the targets
/// in order, the request (system prompt with persona, contexts, contact and summary; the
/// recent turns; the user message), each part's estimated tokens, and what the budget left
/// out. Nothing is stored and no model is called. Admin only: it shows the system prompt.
#[utoipa::path(get, path = "/api/v1/conversations/{conversation_id}/context", tag = "ai",
    params(("conversation_id" = Uuid, Path), ContextQuery), responses((status = 200), (status = 404)))]
async fn context(
    State(state): State<AppState>,
    admin: AdminKey,
    Ids(id): Ids<Uuid>,
    ApiQuery(q): ApiQuery<ContextQuery>,
) -> ApiResult<Response> {
    let preview = state
        .engine
        .ai_context(admin.ws, id, q.text.as_deref().unwrap_or(""))
        .await?;
    Ok(success(StatusCode::OK, preview))
}

/// # `GET /api/v1/conversations/{conversation_id}/usage`
///
/// Totals over the conversation's AI messages: `ai_messages`, `tokens_in`, `tokens_out`,
/// `cost`, `cached`, `failed`, `avg_latency_ms`.
#[utoipa::path(get, path = "/api/v1/conversations/{conversation_id}/usage", tag = "ai",
    params(("conversation_id" = Uuid, Path)), responses((status = 200), (status = 404)))]
async fn conversation_usage(
    State(state): State<AppState>,
    StaffConversation { ws, id, .. }: StaffConversation,
) -> ApiResult<Response> {
    let usage = state.engine.conversation_usage(ws, id).await?;
    Ok(success(StatusCode::OK, usage))
}

/// # `GET /api/v1/bots/{bot_id}/usage`
///
/// The same totals over every conversation of the bot.
#[utoipa::path(get, path = "/api/v1/bots/{bot_id}/usage", tag = "ai",
    params(("bot_id" = Uuid, Path)), responses((status = 200), (status = 404)))]
async fn bot_usage(
    State(state): State<AppState>,
    admin: AdminKey,
    Ids(id): Ids<Uuid>,
) -> ApiResult<Response> {
    let usage = state.engine.bot_usage(admin.ws, id).await?;
    Ok(success(StatusCode::OK, usage))
}
