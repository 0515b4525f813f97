//! Liveness and readiness.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::error::{ApiError, ApiResult};
use crate::{success, AppState};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
}

/// # `GET /healthz`
///
/// The process is up and serving.
#[utoipa::path(get, path = "/healthz", tag = "system", security(()), responses((status = 200, description = "alive")))]
async fn healthz() -> Response {
    success(StatusCode::OK, json!({ "status": "ok" }))
}

/// # `GET /readyz`
///
/// The database answers; 503 when it does not.
#[utoipa::path(get, path = "/readyz", tag = "system", security(()), responses((status = 200, description = "ready"), (status = 503, description = "database unreachable")))]
async fn readyz(State(state): State<AppState>) -> ApiResult<Response> {
    state
        .engine
        .store()
        .ping()
        .await
        .map_err(|e| ApiError::Unavailable(format!("the database is not answering: {e}")))?;
    Ok(success(
        StatusCode::OK,
        json!({ "status": "ready", "database": "ok" }),
    ))
}
