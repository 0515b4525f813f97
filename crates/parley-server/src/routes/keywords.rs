//! A bot's keyword rules.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use parley_core::{KeywordRule, KeywordRuleInput, KeywordRulePatch};
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
}

/// # `POST /api/v1/bots/{bot_id}/keywords`
///
/// A regex keyword that does not compile, or compiles too large, is refused with 422.
#[utoipa::path(post, path = "/api/v1/bots/{bot_id}/keywords", tag = "keywords", params(("bot_id" = Uuid, Path)),
    request_body = KeywordRuleInput, responses((status = 201, body = KeywordRule), (status = 404), (status = 422)))]
async fn create(
    State(state): State<AppState>,
    admin: AdminKey,
    Ids(bot_id): Ids<Uuid>,
    ApiJson(input): ApiJson<KeywordRuleInput>,
) -> ApiResult<Response> {
    let rule = state.engine.create_rule(admin.ws, bot_id, input).await?;
    Ok(success(StatusCode::CREATED, rule))
}

/// # `GET /api/v1/bots/{bot_id}/keywords`
#[utoipa::path(get, path = "/api/v1/bots/{bot_id}/keywords", tag = "keywords",
    params(("bot_id" = Uuid, Path), ListQuery), responses((status = 200, body = super::Page<KeywordRule>), (status = 404)))]
async fn list(
    State(state): State<AppState>,
    admin: AdminKey,
    Ids(bot_id): Ids<Uuid>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Response> {
    let page = state.engine.list_rules(admin.ws, bot_id, &q.page()).await?;
    Ok(success(StatusCode::OK, page))
}

/// # `GET /api/v1/bots/{bot_id}/keywords/{rule_id}`
#[utoipa::path(get, path = "/api/v1/bots/{bot_id}/keywords/{rule_id}", tag = "keywords",
    params(("bot_id" = Uuid, Path), ("rule_id" = Uuid, Path)), responses((status = 200, body = KeywordRule), (status = 404)))]
async fn get(
    State(state): State<AppState>,
    admin: AdminKey,
    Ids((bot_id, id)): Ids<(Uuid, Uuid)>,
) -> ApiResult<Response> {
    let rule = state.engine.get_rule(admin.ws, bot_id, id).await?;
    Ok(success(StatusCode::OK, rule))
}

/// # `PUT /api/v1/bots/{bot_id}/keywords/{rule_id}`
///
/// Changes only the fields named; the result is validated as a whole.
#[utoipa::path(put, path = "/api/v1/bots/{bot_id}/keywords/{rule_id}", tag = "keywords",
    params(("bot_id" = Uuid, Path), ("rule_id" = Uuid, Path)), request_body = KeywordRulePatch,
    responses((status = 200, body = KeywordRule), (status = 404), (status = 422)))]
async fn update(
    State(state): State<AppState>,
    admin: AdminKey,
    Ids((bot_id, id)): Ids<(Uuid, Uuid)>,
    ApiJson(patch): ApiJson<KeywordRulePatch>,
) -> ApiResult<Response> {
    let rule = state
        .engine
        .update_rule(admin.ws, bot_id, id, patch)
        .await?;
    Ok(success(StatusCode::OK, rule))
}

/// # `DELETE /api/v1/bots/{bot_id}/keywords/{rule_id}`
#[utoipa::path(delete, path = "/api/v1/bots/{bot_id}/keywords/{rule_id}", tag = "keywords",
    params(("bot_id" = Uuid, Path), ("rule_id" = Uuid, Path)), responses((status = 200, body = super::Deleted), (status = 404)))]
async fn delete(
    State(state): State<AppState>,
    admin: AdminKey,
    Ids((bot_id, id)): Ids<(Uuid, Uuid)>,
) -> ApiResult<Response> {
    state.engine.delete_rule(admin.ws, bot_id, id).await?;
    Ok(success(
        StatusCode::OK,
        json!({ "id": id, "deleted": true }),
    ))
}
