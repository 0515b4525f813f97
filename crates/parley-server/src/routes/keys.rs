//! API keys of the caller's workspace. A key's secret is shown once, when it is made.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use parley_core::{ApiKey, Role};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::ListQuery;
use crate::auth::{create_key, AdminKey};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery, Ids};
use crate::{success, AppState};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(delete))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKeyRequest {
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub name: String,
    /// `admin` (default) or `agent`.
    #[serde(default)]
    pub role: Option<Role>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedKey {
    #[serde(flatten)]
    pub key: ApiKey,
    /// The secret: shown this once, stored only as a hash.
    pub secret: String,
}

/// # `POST /api/v1/keys`
#[utoipa::path(post, path = "/api/v1/keys", tag = "keys", request_body = NewKeyRequest,
    responses((status = 201, body = CreatedKey), (status = 403), (status = 422)))]
async fn create(
    State(state): State<AppState>,
    admin: AdminKey,
    ApiJson(req): ApiJson<NewKeyRequest>,
) -> ApiResult<Response> {
    let ws = admin.ws;
    let sent_too_long = parley_core::validation::too_long(&req.name, 100);
    let name = parley_core::validation::clean_name(&req.name);
    let name = name.as_str();
    if name.is_empty() || name.chars().count() > 100 || sent_too_long {
        return Err(ApiError::validation("name", "1 to 100 characters"));
    }
    let new = create_key(
        state.engine.store().as_ref(),
        ws,
        name,
        req.role.unwrap_or(Role::Admin),
    )
    .await?;
    Ok(success(
        StatusCode::CREATED,
        CreatedKey {
            key: new.key,
            secret: new.secret,
        },
    ))
}

/// # `GET /api/v1/keys`
#[utoipa::path(get, path = "/api/v1/keys", tag = "keys", params(ListQuery),
    responses((status = 200, body = super::Page<ApiKey>, description = "a page of keys (never their secrets)")))]
async fn list(
    State(state): State<AppState>,
    admin: AdminKey,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Response> {
    let ws = admin.ws;
    let page = state.engine.store().list_keys(ws, &q.page()).await?;
    Ok(success(StatusCode::OK, page))
}

/// # `DELETE /api/v1/keys/{key_id}`
///
/// A key cannot delete itself (so nobody locks themselves out by accident).
#[utoipa::path(delete, path = "/api/v1/keys/{key_id}", tag = "keys",
    params(("key_id" = Uuid, Path)), responses((status = 200, body = super::Deleted), (status = 404), (status = 409)))]
async fn delete(
    State(state): State<AppState>,
    admin: AdminKey,
    Ids(id): Ids<Uuid>,
) -> ApiResult<Response> {
    let ws = admin.ws;
    if admin.key_id == id {
        return Err(ApiError::Conflict(
            "a key cannot delete itself; use another admin key".into(),
        ));
    }
    if !state.engine.store().delete_key(ws, id).await? {
        return Err(ApiError::NotFound("no such key".into()));
    }
    Ok(success(
        StatusCode::OK,
        json!({ "id": id, "deleted": true }),
    ))
}
