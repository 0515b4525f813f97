//! Knowledge-base datasets, their records (documents: JSON, uploaded files, fetched
//! pages) and search.

use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::Response;
use parley_core::knowledge::SearchInput;
use parley_core::{Dataset, DatasetInput, Record, RecordInput};
use parley_engine::knowledge::admin::{FileImport, FileStatus};
use serde_json::json;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::ListQuery;
use crate::auth::AdminKey;
use crate::error::{ApiError, ApiResult};
use crate::extract::{parse_json, ApiJson, ApiQuery, Ids};
use crate::{success, AppState};

/// Files one upload may carry.
const MAX_FILES_PER_UPLOAD: usize = 100;

pub fn routes() -> OpenApiRouter<AppState> {
    // Record bodies may be whole documents: these routes check their size against
    // `max_upload_bytes` themselves instead of the general body limit.
    let records = OpenApiRouter::new()
        .routes(routes!(add_record, list_records))
        .routes(routes!(get_record, update_record, delete_record))
        .layer(axum::extract::DefaultBodyLimit::disable());
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(get, update, delete))
        .routes(routes!(search))
        .merge(records)
}

/// # `POST /api/v1/datasets`
#[utoipa::path(post, path = "/api/v1/datasets", tag = "datasets", request_body = DatasetInput,
    responses((status = 201, body = Dataset), (status = 422)))]
async fn create(
    State(state): State<AppState>,
    admin: AdminKey,
    ApiJson(input): ApiJson<DatasetInput>,
) -> ApiResult<Response> {
    let dataset = state.engine.create_dataset(admin.ws, input).await?;
    Ok(success(StatusCode::CREATED, dataset))
}

/// # `GET /api/v1/datasets`
#[utoipa::path(get, path = "/api/v1/datasets", tag = "datasets", params(ListQuery),
    responses((status = 200, body = super::Page<Dataset>)))]
async fn list(
    State(state): State<AppState>,
    admin: AdminKey,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Response> {
    let page = state.engine.list_datasets(admin.ws, &q.page()).await?;
    Ok(success(StatusCode::OK, page))
}

/// # `GET /api/v1/datasets/{dataset_id}`
#[utoipa::path(get, path = "/api/v1/datasets/{dataset_id}", tag = "datasets",
    params(("dataset_id" = Uuid, Path)), responses((status = 200, body = Dataset), (status = 404)))]
async fn get(
    State(state): State<AppState>,
    admin: AdminKey,
    Ids(id): Ids<Uuid>,
) -> ApiResult<Response> {
    let dataset = state.engine.get_dataset(admin.ws, id).await?;
    Ok(success(StatusCode::OK, dataset))
}

/// # `PUT /api/v1/datasets/{dataset_id}`
#[utoipa::path(put, path = "/api/v1/datasets/{dataset_id}", tag = "datasets",
    params(("dataset_id" = Uuid, Path)), request_body = DatasetInput,
    responses((status = 200, body = Dataset), (status = 404), (status = 422)))]
async fn update(
    State(state): State<AppState>,
    admin: AdminKey,
    Ids(id): Ids<Uuid>,
    ApiJson(input): ApiJson<DatasetInput>,
) -> ApiResult<Response> {
    let dataset = state.engine.update_dataset(admin.ws, id, input).await?;
    Ok(success(StatusCode::OK, dataset))
}

/// # `DELETE /api/v1/datasets/{dataset_id}`
///
/// Deletes the dataset with its records; they leave search results at once.
#[utoipa::path(delete, path = "/api/v1/datasets/{dataset_id}", tag = "datasets",
    params(("dataset_id" = Uuid, Path)), responses((status = 200, body = super::Deleted), (status = 404)))]
async fn delete(
    State(state): State<AppState>,
    admin: AdminKey,
    Ids(id): Ids<Uuid>,
) -> ApiResult<Response> {
    state.engine.delete_dataset(admin.ws, id).await?;
    Ok(success(
        StatusCode::OK,
        json!({ "id": id, "deleted": true }),
    ))
}

/// # `POST /api/v1/datasets/{dataset_id}/search`
///
/// The best chunks for `query` (BM25), best first, with their document's title and URL,
/// chunk id, heading path and score.
#[utoipa::path(post, path = "/api/v1/datasets/{dataset_id}/search", tag = "datasets",
    params(("dataset_id" = Uuid, Path)), request_body = SearchInput,
    responses((status = 200, body = super::SearchHits),
        (status = 404), (status = 422)))]
async fn search(
    State(state): State<AppState>,
    admin: AdminKey,
    Ids(id): Ids<Uuid>,
    ApiJson(input): ApiJson<SearchInput>,
) -> ApiResult<Response> {
    let items = state.engine.search_dataset(admin.ws, id, input).await?;
    Ok(success(StatusCode::OK, json!({ "items": items })))
}

/// # `POST /api/v1/datasets/{dataset_id}/records`
///
/// Adds documents three ways. JSON `{"title", "text", "url"?}`: one record (201, the
/// record). JSON `{"url"}`: the page is fetched once (size and time limited, HTML turned
/// into text; 422 with `details.reason: "url_unreachable"` when it cannot be, or
/// `"url_refused"` when its address or a redirect's is not public and not allowed by
/// `[outbound] allow_private_networks`). Multipart `file` fields (.txt, .md, .html, .pdf,
/// or .csv/.json of Q&A pairs; 415 for other types, 413 over `max_upload_bytes`; only each
/// file name's bounded base name is kept): a record per document, one per pair for Q&A
/// files. A file or URL added again replaces its earlier records, or changes nothing when
/// its content is the same (`status: "unchanged"`, 200).
#[utoipa::path(post, path = "/api/v1/datasets/{dataset_id}/records", tag = "datasets",
    params(("dataset_id" = Uuid, Path)),
    request_body(content = RecordInput, description = "JSON, or `multipart/form-data` with one or more files"),
    responses((status = 201, body = Record, description = "the record, or `{\"files\": [...]}` for uploads and URLs"),
        (status = 200, description = "the file or page was already there, unchanged"),
        (status = 404), (status = 413), (status = 415), (status = 422)))]
async fn add_record(
    State(state): State<AppState>,
    admin: AdminKey,
    Ids(id): Ids<Uuid>,
    req: Request,
) -> ApiResult<Response> {
    let ws = admin.ws;
    let limit = state.http.max_upload_bytes;
    if content_type(&req).as_deref() == Some("multipart/form-data") {
        let mut form = Multipart::from_request(req, &state)
            .await
            .map_err(|e| ApiError::BadRequest(format!("the upload could not be read: {e}")))?;
        let mut files = Vec::new();
        while let Some(mut field) = form.next_field().await.map_err(multipart_error)? {
            let Some(file_name) = field
                .file_name()
                .map(parley_core::knowledge::safe_file_name)
            else {
                continue;
            };
            if files.len() == MAX_FILES_PER_UPLOAD {
                return Err(ApiError::PayloadTooLarge(format!(
                    "at most {MAX_FILES_PER_UPLOAD} files per upload"
                )));
            }
            let content_type = field.content_type().map(str::to_owned);
            let mut bytes = Vec::new();
            while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
                if bytes.len() + chunk.len() > limit {
                    return Err(ApiError::PayloadTooLarge(format!(
                        "`{file_name}` is larger than this server's upload limit of {limit} bytes"
                    )));
                }
                bytes.extend_from_slice(&chunk);
            }
            files.push(
                state
                    .engine
                    .import_file(ws, id, &file_name, content_type.as_deref(), &bytes)
                    .await?,
            );
        }
        if files.is_empty() {
            return Err(ApiError::validation(
                "file",
                "the form holds no file: send each document as a file field",
            ));
        }
        return Ok(success(import_status(&files), json!({ "files": files })));
    }
    let input: RecordInput = read_json(req, limit).await?;
    let added = state.engine.add_record(ws, id, input).await?;
    Ok(match added {
        parley_engine::knowledge::admin::RecordAdded::Record(record) => {
            success(StatusCode::CREATED, record)
        }
        parley_engine::knowledge::admin::RecordAdded::Fetched(import) => {
            let files = [import];
            success(import_status(&files), json!({ "files": files }))
        }
    })
}

/// # `GET /api/v1/datasets/{dataset_id}/records`
#[utoipa::path(get, path = "/api/v1/datasets/{dataset_id}/records", tag = "datasets",
    params(("dataset_id" = Uuid, Path), ListQuery), responses((status = 200, body = super::Page<Record>), (status = 404)))]
async fn list_records(
    State(state): State<AppState>,
    admin: AdminKey,
    Ids(id): Ids<Uuid>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Response> {
    let page = state.engine.list_records(admin.ws, id, &q.page()).await?;
    Ok(success(StatusCode::OK, page))
}

/// # `GET /api/v1/datasets/{dataset_id}/records/{record_id}`
#[utoipa::path(get, path = "/api/v1/datasets/{dataset_id}/records/{record_id}", tag = "datasets",
    params(("dataset_id" = Uuid, Path), ("record_id" = Uuid, Path)),
    responses((status = 200, body = Record), (status = 404)))]
async fn get_record(
    State(state): State<AppState>,
    admin: AdminKey,
    Ids((dataset_id, id)): Ids<(Uuid, Uuid)>,
) -> ApiResult<Response> {
    let record = state.engine.get_record(admin.ws, dataset_id, id).await?;
    Ok(success(StatusCode::OK, record))
}

/// # `PUT /api/v1/datasets/{dataset_id}/records/{record_id}`
///
/// Changes the fields named (`title`, `text`, `url`; an empty `url` removes it) and
/// re-chunks the document; searches see the new version when this answers.
#[utoipa::path(put, path = "/api/v1/datasets/{dataset_id}/records/{record_id}", tag = "datasets",
    params(("dataset_id" = Uuid, Path), ("record_id" = Uuid, Path)), request_body = RecordInput,
    responses((status = 200, body = Record), (status = 404), (status = 413), (status = 422)))]
async fn update_record(
    State(state): State<AppState>,
    admin: AdminKey,
    Ids((dataset_id, id)): Ids<(Uuid, Uuid)>,
    req: Request,
) -> ApiResult<Response> {
    let ws = admin.ws;
    let input: RecordInput = read_json(req, state.http.max_upload_bytes).await?;
    let record = state
        .engine
        .update_record(ws, dataset_id, id, input)
        .await?;
    Ok(success(StatusCode::OK, record))
}

/// # `DELETE /api/v1/datasets/{dataset_id}/records/{record_id}`
///
/// The record leaves search results at once.
#[utoipa::path(delete, path = "/api/v1/datasets/{dataset_id}/records/{record_id}", tag = "datasets",
    params(("dataset_id" = Uuid, Path), ("record_id" = Uuid, Path)),
    responses((status = 200, body = super::Deleted), (status = 404)))]
async fn delete_record(
    State(state): State<AppState>,
    admin: AdminKey,
    Ids((dataset_id, id)): Ids<(Uuid, Uuid)>,
) -> ApiResult<Response> {
    state.engine.delete_record(admin.ws, dataset_id, id).await?;
    Ok(success(
        StatusCode::OK,
        json!({ "id": id, "deleted": true }),
    ))
}

/// The request's media type, lower-cased, without parameters.
fn content_type(req: &Request) -> Option<String> {
    req.headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|ct| ct.split(';').next())
        .map(|ct| ct.trim().to_ascii_lowercase())
}

/// A JSON body of at most `limit` bytes, read as [`ApiJson`] reads one.
async fn read_json<T: serde::de::DeserializeOwned>(req: Request, limit: usize) -> ApiResult<T> {
    let is_json =
        content_type(&req).is_some_and(|ct| ct == "application/json" || ct.ends_with("+json"));
    if !is_json {
        return Err(ApiError::UnsupportedMediaType(
            "send the record as JSON (`Content-Type: application/json`) or upload files as \
             `multipart/form-data`"
                .into(),
        ));
    }
    let bytes = axum::body::to_bytes(req.into_body(), limit)
        .await
        .map_err(|_| {
            ApiError::PayloadTooLarge(format!(
                "the request body is larger than this server's upload limit of {limit} bytes"
            ))
        })?;
    parse_json(&bytes)
}

fn multipart_error(e: axum::extract::multipart::MultipartError) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge(format!("the upload is too large: {}", e.body_text()))
    } else {
        ApiError::BadRequest(format!("the upload could not be read: {}", e.body_text()))
    }
}

/// 201 when anything was stored, 200 when every file was already there unchanged.
fn import_status(files: &[FileImport]) -> StatusCode {
    if files.iter().all(|f| f.status == FileStatus::Unchanged) {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    }
}
