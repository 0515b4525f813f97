//! Teams and agents (admin keys only). Creating an agent makes its `agent` API key; the
//! secret is in the response once and never again.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use parley_core::{Agent, AgentInput, Role, Team, TeamInput};
use serde_json::json;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::ListQuery;
use crate::auth::{generate_key, AdminKey, StaffKey};
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiQuery, Ids};
use crate::{success, AppState};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_team, list_teams))
        .routes(routes!(get_team, update_team, delete_team))
        .routes(routes!(create_agent, list_agents))
        .routes(routes!(get_agent, update_agent, delete_agent))
}

/// # `POST /api/v1/teams`
#[utoipa::path(post, path = "/api/v1/teams", tag = "handoff", request_body = TeamInput,
    responses((status = 201, body = Team), (status = 422)))]
async fn create_team(
    State(state): State<AppState>,
    admin: AdminKey,
    ApiJson(input): ApiJson<TeamInput>,
) -> ApiResult<Response> {
    let team = state.engine.create_team(admin.ws, input).await?;
    Ok(success(StatusCode::CREATED, team))
}

/// # `GET /api/v1/teams`
#[utoipa::path(get, path = "/api/v1/teams", tag = "handoff", params(ListQuery), responses((status = 200, body = super::Page<Team>)))]
async fn list_teams(
    State(state): State<AppState>,
    staff: StaffKey,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Response> {
    let page = state.engine.list_teams(staff.ws, &q.page()).await?;
    Ok(success(StatusCode::OK, page))
}

/// # `GET /api/v1/teams/{team_id}`
#[utoipa::path(get, path = "/api/v1/teams/{team_id}", tag = "handoff", params(("team_id" = Uuid, Path)),
    responses((status = 200, body = Team), (status = 404)))]
async fn get_team(
    State(state): State<AppState>,
    staff: StaffKey,
    Ids(id): Ids<Uuid>,
) -> ApiResult<Response> {
    let team = state.engine.get_team(staff.ws, id).await?;
    Ok(success(StatusCode::OK, team))
}

/// # `PUT /api/v1/teams/{team_id}`
#[utoipa::path(put, path = "/api/v1/teams/{team_id}", tag = "handoff", params(("team_id" = Uuid, Path)),
    request_body = TeamInput, responses((status = 200, body = Team), (status = 404), (status = 422)))]
async fn update_team(
    State(state): State<AppState>,
    admin: AdminKey,
    Ids(id): Ids<Uuid>,
    ApiJson(input): ApiJson<TeamInput>,
) -> ApiResult<Response> {
    let team = state.engine.update_team(admin.ws, id, input).await?;
    Ok(success(StatusCode::OK, team))
}

/// # `DELETE /api/v1/teams/{team_id}`
///
/// Its waiting transfers move to the general queue.
#[utoipa::path(delete, path = "/api/v1/teams/{team_id}", tag = "handoff", params(("team_id" = Uuid, Path)),
    responses((status = 200, body = super::Deleted), (status = 404)))]
async fn delete_team(
    State(state): State<AppState>,
    admin: AdminKey,
    Ids(id): Ids<Uuid>,
) -> ApiResult<Response> {
    state.engine.delete_team(admin.ws, id).await?;
    Ok(success(
        StatusCode::OK,
        json!({ "id": id, "deleted": true }),
    ))
}

/// # `POST /api/v1/agents`
///
/// `{"name", "email"?, "team_ids"?}` → the agent and `key`: its API key (role `agent`),
/// shown only here.
#[utoipa::path(post, path = "/api/v1/agents", tag = "handoff", request_body = AgentInput,
    responses((status = 201, description = "the agent with its key"), (status = 422)))]
async fn create_agent(
    State(state): State<AppState>,
    admin: AdminKey,
    ApiJson(input): ApiJson<AgentInput>,
) -> ApiResult<Response> {
    let ws = admin.ws;
    let name = input.name.clone().unwrap_or_default();
    let key = generate_key(ws, &format!("agent {name}"), Role::Agent);
    let agent = state
        .engine
        .create_agent(ws, input, &key.key, &key.hash)
        .await?;
    let mut body = serde_json::to_value(&agent).unwrap_or_default();
    body["key"] = json!(key.secret);
    Ok(success(StatusCode::CREATED, body))
}

/// # `GET /api/v1/agents`
#[utoipa::path(get, path = "/api/v1/agents", tag = "handoff", params(ListQuery), responses((status = 200, body = super::Page<Agent>)))]
async fn list_agents(
    State(state): State<AppState>,
    staff: StaffKey,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Response> {
    let page = state.engine.list_agents(staff.ws, &q.page()).await?;
    Ok(success(StatusCode::OK, page))
}

/// # `GET /api/v1/agents/{agent_id}`
#[utoipa::path(get, path = "/api/v1/agents/{agent_id}", tag = "handoff", params(("agent_id" = Uuid, Path)),
    responses((status = 200, body = Agent), (status = 404)))]
async fn get_agent(
    State(state): State<AppState>,
    staff: StaffKey,
    Ids(id): Ids<Uuid>,
) -> ApiResult<Response> {
    let agent = state.engine.get_agent(staff.ws, id).await?;
    Ok(success(StatusCode::OK, agent))
}

/// # `PUT /api/v1/agents/{agent_id}`
#[utoipa::path(put, path = "/api/v1/agents/{agent_id}", tag = "handoff", params(("agent_id" = Uuid, Path)),
    request_body = AgentInput, responses((status = 200, body = Agent), (status = 404), (status = 422)))]
async fn update_agent(
    State(state): State<AppState>,
    admin: AdminKey,
    Ids(id): Ids<Uuid>,
    ApiJson(input): ApiJson<AgentInput>,
) -> ApiResult<Response> {
    let agent = state.engine.update_agent(admin.ws, id, input).await?;
    Ok(success(StatusCode::OK, agent))
}

/// # `DELETE /api/v1/agents/{agent_id}`
///
/// Deletes the agent and its key; its conversations go back to their queues.
#[utoipa::path(delete, path = "/api/v1/agents/{agent_id}", tag = "handoff", params(("agent_id" = Uuid, Path)),
    responses((status = 200, body = super::Deleted), (status = 404)))]
async fn delete_agent(
    State(state): State<AppState>,
    admin: AdminKey,
    Ids(id): Ids<Uuid>,
) -> ApiResult<Response> {
    state.engine.delete_agent(admin.ws, id).await?;
    Ok(success(
        StatusCode::OK,
        json!({ "id": id, "deleted": true }),
    ))
}
