//! Bots, their settings, and the bot-as-code definition.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use parley_core::bot::BotInput;
use parley_core::{Bot, BotDefinition, Settings, SettingsPatch};
use serde_json::json;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::ListQuery;
use crate::auth::AdminKey;
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiQuery, Ids};
use crate::{success, AppState};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(get, update, delete))
        .routes(routes!(get_settings, update_settings))
        .routes(routes!(export))
        .routes(routes!(import))
}

/// # `POST /api/v1/bots`
#[utoipa::path(post, path = "/api/v1/bots", tag = "bots", request_body = BotInput,
    responses((status = 201, body = Bot), (status = 422)))]
async fn create(
    State(state): State<AppState>,
    admin: AdminKey,
    ApiJson(input): ApiJson<BotInput>,
) -> ApiResult<Response> {
    let bot = state.engine.create_bot(admin.ws, input).await?;
    Ok(success(StatusCode::CREATED, bot))
}

/// # `GET /api/v1/bots`
#[utoipa::path(get, path = "/api/v1/bots", tag = "bots", params(ListQuery), responses((status = 200, body = super::Page<Bot>)))]
async fn list(
    State(state): State<AppState>,
    admin: AdminKey,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Response> {
    let page = state.engine.list_bots(admin.ws, &q.page()).await?;
    Ok(success(StatusCode::OK, page))
}

/// # `GET /api/v1/bots/{bot_id}`
#[utoipa::path(get, path = "/api/v1/bots/{bot_id}", tag = "bots", params(("bot_id" = Uuid, Path)),
    responses((status = 200, body = Bot), (status = 404)))]
async fn get(
    State(state): State<AppState>,
    admin: AdminKey,
    Ids(id): Ids<Uuid>,
) -> ApiResult<Response> {
    let bot = state.engine.get_bot(admin.ws, id).await?;
    Ok(success(StatusCode::OK, bot))
}

/// # `PUT /api/v1/bots/{bot_id}`
#[utoipa::path(put, path = "/api/v1/bots/{bot_id}", tag = "bots", params(("bot_id" = Uuid, Path)),
    request_body = BotInput, responses((status = 200, body = Bot), (status = 404), (status = 422)))]
async fn update(
    State(state): State<AppState>,
    admin: AdminKey,
    Ids(id): Ids<Uuid>,
    ApiJson(input): ApiJson<BotInput>,
) -> ApiResult<Response> {
    let bot = state.engine.update_bot(admin.ws, id, input).await?;
    Ok(success(StatusCode::OK, bot))
}

/// # `DELETE /api/v1/bots/{bot_id}`
///
/// Deletes the bot with its rules and conversations.
#[utoipa::path(delete, path = "/api/v1/bots/{bot_id}", tag = "bots", params(("bot_id" = Uuid, Path)),
    responses((status = 200, body = super::Deleted), (status = 404)))]
async fn delete(
    State(state): State<AppState>,
    admin: AdminKey,
    Ids(id): Ids<Uuid>,
) -> ApiResult<Response> {
    state.engine.delete_bot(admin.ws, id).await?;
    Ok(success(
        StatusCode::OK,
        json!({ "id": id, "deleted": true }),
    ))
}

/// # `GET /api/v1/bots/{bot_id}/settings`
#[utoipa::path(get, path = "/api/v1/bots/{bot_id}/settings", tag = "bots", params(("bot_id" = Uuid, Path)),
    responses((status = 200, body = Settings), (status = 404)))]
async fn get_settings(
    State(state): State<AppState>,
    admin: AdminKey,
    Ids(id): Ids<Uuid>,
) -> ApiResult<Response> {
    let settings = state.engine.get_settings(admin.ws, id).await?;
    Ok(success(StatusCode::OK, settings))
}

/// # `PUT /api/v1/bots/{bot_id}/settings`
///
/// Changes only the fields named; nothing is stored unless every field is valid.
#[utoipa::path(put, path = "/api/v1/bots/{bot_id}/settings", tag = "bots", params(("bot_id" = Uuid, Path)),
    request_body = SettingsPatch, responses((status = 200, body = Settings), (status = 404), (status = 422)))]
async fn update_settings(
    State(state): State<AppState>,
    admin: AdminKey,
    Ids(id): Ids<Uuid>,
    ApiJson(patch): ApiJson<SettingsPatch>,
) -> ApiResult<Response> {
    let settings = state.engine.update_settings(admin.ws, id, patch).await?;
    Ok(success(StatusCode::OK, settings))
}

/// # `GET /api/v1/bots/{bot_id}/export`
///
/// The bot as code: settings and keyword rules, importable with `POST /api/v1/bots/import`
/// or `parley bot import`.
#[utoipa::path(get, path = "/api/v1/bots/{bot_id}/export", tag = "bots", params(("bot_id" = Uuid, Path)),
    responses((status = 200, description = "the bot definition"), (status = 404)))]
async fn export(
    State(state): State<AppState>,
    admin: AdminKey,
    Ids(id): Ids<Uuid>,
) -> ApiResult<Response> {
    let def = state.engine.export_bot(admin.ws, id).await?;
    Ok(success(StatusCode::OK, def))
}

/// # `POST /api/v1/bots/import`
///
/// Creates the bot, or updates the one with the definition's `id` (else its `name`).
#[utoipa::path(post, path = "/api/v1/bots/import", tag = "bots",
    request_body(content = Object, description = "a bot definition, as `export` gives"),
    responses((status = 200, description = "updated"), (status = 201, description = "created"), (status = 422)))]
async fn import(
    State(state): State<AppState>,
    admin: AdminKey,
    ApiJson(def): ApiJson<BotDefinition>,
) -> ApiResult<Response> {
    let (bot, outcome) = state.engine.import_bot(admin.ws, def).await?;
    let status = match outcome {
        parley_store::ImportOutcome::Created => StatusCode::CREATED,
        parley_store::ImportOutcome::Updated => StatusCode::OK,
    };
    Ok(success(status, json!({ "bot": bot, "outcome": outcome })))
}
