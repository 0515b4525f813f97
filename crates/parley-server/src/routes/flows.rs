//! A bot's conversation flows (seed 002).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use parley_core::{Flow, FlowInput, FlowPatch};
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

/// # `POST /api/v1/bots/{bot_id}/flows`
///
/// Seed 002's flow object. An invalid flow (duplicate step names, a select without
/// buttons, a branch to a missing step, a transfer step that is not last, …) is refused
/// with 422 naming the step.
#[utoipa::path(post, path = "/api/v1/bots/{bot_id}/flows", tag = "flows", params(("bot_id" = Uuid, Path)),
    request_body = FlowInput, responses((status = 201, body = Flow), (status = 404), (status = 422)))]
async fn create(
    State(state): State<AppState>,
    admin: AdminKey,
    Ids(bot_id): Ids<Uuid>,
    ApiJson(input): ApiJson<FlowInput>,
) -> ApiResult<Response> {
    let flow = state.engine.create_flow(admin.ws, bot_id, input).await?;
    Ok(success(StatusCode::CREATED, flow))
}

/// # `GET /api/v1/bots/{bot_id}/flows`
#[utoipa::path(get, path = "/api/v1/bots/{bot_id}/flows", tag = "flows",
    params(("bot_id" = Uuid, Path), ListQuery), responses((status = 200, body = super::Page<Flow>), (status = 404)))]
async fn list(
    State(state): State<AppState>,
    admin: AdminKey,
    Ids(bot_id): Ids<Uuid>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Response> {
    let page = state.engine.list_flows(admin.ws, bot_id, &q.page()).await?;
    Ok(success(StatusCode::OK, page))
}

/// # `GET /api/v1/bots/{bot_id}/flows/{flow_id}`
#[utoipa::path(get, path = "/api/v1/bots/{bot_id}/flows/{flow_id}", tag = "flows",
    params(("bot_id" = Uuid, Path), ("flow_id" = Uuid, Path)), responses((status = 200, body = Flow), (status = 404)))]
async fn get(
    State(state): State<AppState>,
    admin: AdminKey,
    Ids((bot_id, id)): Ids<(Uuid, Uuid)>,
) -> ApiResult<Response> {
    let flow = state.engine.get_flow(admin.ws, bot_id, id).await?;
    Ok(success(StatusCode::OK, flow))
}

/// # `PUT /api/v1/bots/{bot_id}/flows/{flow_id}`
///
/// The fields given replace the stored ones (`steps` as a whole) and make a new version.
/// Conversations already inside the flow finish on the version they started.
#[utoipa::path(put, path = "/api/v1/bots/{bot_id}/flows/{flow_id}", tag = "flows",
    params(("bot_id" = Uuid, Path), ("flow_id" = Uuid, Path)), request_body = FlowPatch,
    responses((status = 200, body = Flow), (status = 404), (status = 422)))]
async fn update(
    State(state): State<AppState>,
    admin: AdminKey,
    Ids((bot_id, id)): Ids<(Uuid, Uuid)>,
    ApiJson(patch): ApiJson<FlowPatch>,
) -> ApiResult<Response> {
    let flow = state
        .engine
        .update_flow(admin.ws, bot_id, id, patch)
        .await?;
    Ok(success(StatusCode::OK, flow))
}

/// # `DELETE /api/v1/bots/{bot_id}/flows/{flow_id}`
///
/// New conversations can no longer start it; those inside it finish.
#[utoipa::path(delete, path = "/api/v1/bots/{bot_id}/flows/{flow_id}", tag = "flows",
    params(("bot_id" = Uuid, Path), ("flow_id" = Uuid, Path)), responses((status = 200, body = super::Deleted), (status = 404)))]
async fn delete(
    State(state): State<AppState>,
    admin: AdminKey,
    Ids((bot_id, id)): Ids<(Uuid, Uuid)>,
) -> ApiResult<Response> {
    state.engine.delete_flow(admin.ws, bot_id, id).await?;
    Ok(success(
        StatusCode::OK,
        json!({ "id": id, "deleted": true }),
    ))
}
