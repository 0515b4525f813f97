//! Request bodies, before a handler reads them: a body announced (`Content-Length`) larger
//! than the route accepts is refused with 413 at once, without waiting for it; any other
//! body must arrive whole within `body_read_timeout` of the request being routed, or
//! reading it fails (408 from the JSON extractor) and the connection is closed. The limit
//! axum's `DefaultBodyLimit` sets only acts as the body is read, which a slow client never
//! finishes. Response streams (SSE, WebSocket) are not touched.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, HttpBody};
use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_LENGTH;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;

use crate::error::ApiError;
use crate::HttpConfig;

/// The routes that take whole documents (`max_upload_bytes`, the request as a whole)
/// instead of `max_body_bytes`.
const UPLOAD_ROUTES: &str = "/api/v1/datasets/{dataset_id}/records";

/// Middleware (a route layer, so the matched route is known): the early 413 and the body
/// deadline.
pub(crate) async fn guard(
    State(http): State<Arc<HttpConfig>>,
    matched: Option<MatchedPath>,
    req: Request,
    next: Next,
) -> Response {
    let limit = match &matched {
        Some(p) if p.as_str().starts_with(UPLOAD_ROUTES) => http.max_upload_bytes,
        _ => http.max_body_bytes,
    };
    let announced = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(len) = announced {
        if len > limit as u64 {
            return ApiError::PayloadTooLarge(format!(
                "the request body ({len} bytes) is larger than this route accepts ({limit} bytes)"
            ))
            .into_response();
        }
    }
    if req.body().is_end_stream() {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let body = with_deadline(body, http.body_read_timeout);
    next.run(Request::from_parts(parts, body)).await
}

/// The error a body gives when its deadline passed.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within {} ms", .0.as_millis())]
pub struct BodyTimeout(Duration);

/// `body`, failing with [`BodyTimeout`] if it has not ended `timeout` from now. A whole-body
/// deadline, unlike tower-http's `RequestBodyTimeout`, which restarts at every frame and so
/// lets a client trickle a byte at a time forever.
fn with_deadline(body: Body, timeout: Duration) -> Body {
    let deadline = tokio::time::Instant::now() + timeout;
    let frames = body.into_data_stream();
    Body::from_stream(futures::stream::unfold(
        Some(frames),
        move |frames| async move {
            let mut frames = frames?;
            match tokio::time::timeout_at(deadline, frames.next()).await {
                Ok(Some(chunk)) => Some((chunk, Some(frames))),
                Ok(None) => None,
                Err(_) => Some((Err(axum::Error::new(BodyTimeout(timeout))), None)),
            }
        },
    ))
}

/// Did reading a body fail because of its deadline? (Looks through the error's causes.)
pub fn timed_out<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a BodyTimeout> {
    let mut cause = Some(error);
    while let Some(e) = cause {
        if let Some(t) = e.downcast_ref::<BodyTimeout>() {
            return Some(t);
        }
        cause = e.source();
    }
    None
}
