//! The finishing pass over the OpenAPI document: what every operation shares is written
//! here once instead of on each of ~90 handler annotations, so it cannot be forgotten on
//! the next route. A handler's `#[utoipa::path]` names the `data` of its success and the
//! statuses particular to it (409, a 404 for an id in the body); [`finish`] then
//!
//! - puts every JSON success of the envelope routes (`/api/v1/…`, `/healthz`, `/readyz`)
//!   inside `{"status": "success", "data": …}`, as [`crate::success`] sends it;
//! - adds the errors an operation can give because of what it takes, each with the error
//!   envelope (OpenAI's error shape on `/v1/…`): 400 and 422 (a body or a query string),
//!   401 and 403 (not public), 404 (an id in the path), 413 and 415 (a body), 429 (the
//!   rate-limited routes), 503 (everything that reads the database);
//! - links each create operation to the operations on what it created (OpenAPI `links`,
//!   `id` from the response into the path), for generated clients and schemathesis's
//!   stateful phase;
//! - makes operation ids unique (`bots_get`, not five `get`s), prefixing them with the tag.

use serde_json::{json, Map, Value};

/// The document `doc` (as utoipa built it from the annotations), finished.
pub(crate) fn finish(doc: utoipa::openapi::OpenApi) -> Value {
    let mut doc = serde_json::to_value(doc).unwrap_or_else(|e| {
        // Serializing plain data to a `Value` cannot fail; if it ever did, the document
        // would be visibly empty rather than the server refusing to start.
        tracing::error!(error = %e, "the OpenAPI document could not be serialized");
        json!({})
    });
    add_components(&mut doc);
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return doc;
    };
    let links = links(paths);
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (method, op) in item.iter_mut() {
            if !HTTP_METHODS.contains(&method.as_str()) {
                continue;
            }
            finish_operation(path, method, op);
            if let Some(found) = links.get(&(path.clone(), method.clone())) {
                if let Some(created) = op.pointer_mut("/responses/201") {
                    created["links"] = Value::Object(found.clone());
                }
            }
        }
    }
    doc
}

const HTTP_METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// Whether successes on `path` are in the envelope (the OpenAI door and the widget's
/// files are not).
fn enveloped(path: &str) -> bool {
    path.starts_with("/api/v1/") || path == "/healthz" || path == "/readyz"
}

/// The routes a rate limit can answer 429 on: starting conversations from the widget, and
/// everything that makes the bot answer.
fn rate_limited(path: &str, method: &str) -> bool {
    (method == "post"
        && (path == "/api/v1/widget/{bot_id}/conversations" || path == "/v1/chat/completions"))
        || path.ends_with("/send")
        || path.ends_with("/receive")
        || path.ends_with("/complete")
        || path.ends_with("/ws")
}

fn finish_operation(path: &str, method: &str, op: &mut Value) {
    let tag = op
        .pointer("/tags/0")
        .and_then(Value::as_str)
        .unwrap_or("api")
        .to_string();
    if let Some(id) = op.get("operationId").and_then(Value::as_str) {
        if !id.starts_with(&format!("{tag}_")) {
            op["operationId"] = json!(format!("{tag}_{id}"));
        }
    }
    let public = op
        .get("security")
        .and_then(Value::as_array)
        .is_some_and(|s| s.iter().all(|r| r.as_object().is_some_and(Map::is_empty)));
    let params = op
        .get("parameters")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let has_query = params.iter().any(|p| p["in"] == "query");
    let has_path_id = params.iter().any(|p| p["in"] == "path");
    let has_body = op.get("requestBody").is_some();
    // `request_body(content = Option<T>)` means the body may be left out, not that it may
    // be `null` (a body is one JSON object): utoipa writes the latter.
    if let Some(schema) = op.pointer_mut("/requestBody/content/application~1json/schema") {
        let optional = schema["oneOf"]
            .as_array()
            .filter(|alts| alts.len() == 2 && alts[0] == json!({ "type": "null" }))
            .map(|alts| alts[1].clone());
        if let Some(inner) = optional {
            *schema = inner;
            op["requestBody"]["required"] = json!(false);
        }
    }
    let openai = path.starts_with("/v1/");
    let static_file = path == "/widget.js" || path == "/healthz";

    let mut errors: Vec<u16> = Vec::new();
    if has_body || has_query {
        errors.extend([400, 422]);
    }
    if !public {
        errors.extend([401, 403]);
    }
    if has_path_id {
        errors.push(404);
    }
    if has_body {
        // 408: the body did not arrive whole within `body_read_timeout_ms`.
        errors.extend([408, 413, 415]);
    }
    if rate_limited(path, method) {
        errors.push(429);
    }
    if !static_file {
        errors.push(503);
    }

    if openai && method == "post" {
        // The OpenAI door takes OpenAI's request (extra fields allowed, as OpenAI clients
        // send them) and needs a user message with text; utoipa cannot say `contains`.
        op["requestBody"] = json!({
            "required": true,
            "content": { "application/json": { "schema": {
                "type": "object",
                "required": ["model", "messages"],
                "properties": {
                    "model": { "type": "string", "description": "a bot's id or name" },
                    "stream": { "type": "boolean" },
                    "messages": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["role", "content"],
                            "properties": { "role": { "type": "string" }, "content": {} },
                        },
                        "contains": {
                            "type": "object",
                            "required": ["role", "content"],
                            "properties": {
                                "role": { "const": "user" },
                                "content": { "type": "string", "pattern": "\\S" },
                            },
                        },
                    },
                },
            }}},
        });
        errors.extend([400, 413, 422]);
    }
    let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
        return;
    };
    for status in errors {
        responses
            .entry(status.to_string())
            .or_insert_with(|| json!({ "description": error_description(status) }));
    }
    let error_schema = if openai {
        json!({ "$ref": "#/components/schemas/OpenAiError" })
    } else {
        json!({ "$ref": "#/components/schemas/ErrorEnvelope" })
    };
    for (status, response) in responses.iter_mut() {
        let Ok(code) = status.parse::<u16>() else {
            continue;
        };
        let Some(response) = response.as_object_mut() else {
            continue;
        };
        if (200..300).contains(&code) {
            if enveloped(path) {
                wrap_success(response);
            }
            // An event stream is checked event by event: `event` names it, `data` is JSON.
            if let Some(stream) = response
                .get_mut("content")
                .and_then(|c| c.get_mut("text/event-stream"))
            {
                stream["schema"] = json!({
                    "type": "object",
                    "required": ["data"],
                    "properties": {
                        "event": { "type": "string" },
                        "data": { "type": "string", "description": "a JSON document" },
                        "id": { "type": "string" },
                    },
                });
            }
        } else if code == 404 && (path.starts_with("/chat/") || path == "/demo") {
            // The widget's pages answer a missing bot with a page; a malformed id gets the
            // error envelope, as everywhere.
            response.insert(
                "content".into(),
                json!({
                    "text/html": { "schema": { "type": "string" } },
                    "application/json": { "schema": error_schema.clone() },
                }),
            );
        } else if code >= 400 {
            response.insert(
                "content".into(),
                json!({ "application/json": { "schema": error_schema.clone() } }),
            );
            if code == 429 || code == 503 {
                response.insert(
                    "headers".into(),
                    json!({ "Retry-After": {
                        "description": "seconds to wait before trying again",
                        "schema": { "type": "integer", "minimum": 0 }
                    }}),
                );
            }
        }
    }
}

/// `{"status": "success", "data": <the annotated schema>}`; a success annotated without a
/// body gets `data` of any shape, and a stream keeps its own media type.
fn wrap_success(response: &mut Map<String, Value>) {
    let content = response
        .entry("content")
        .or_insert_with(|| json!({ "application/json": {} }));
    let Some(json_body) = content.get_mut("application/json") else {
        return;
    };
    let data = json_body
        .get("schema")
        .cloned()
        .unwrap_or_else(|| json!({}));
    json_body["schema"] = json!({
        "type": "object",
        "required": ["status", "data"],
        "properties": {
            "status": { "type": "string", "enum": ["success"] },
            "data": data,
        },
    });
}

fn error_description(status: u16) -> &'static str {
    match status {
        400 => "malformed JSON, a body that is not one JSON object, or a query value of the wrong type (`bad_request`)",
        401 => "no credential, or one that is unknown, revoked or expired (`unauthorized`)",
        403 => "the credential may not do this (`forbidden`)",
        404 => "nothing with that id in the caller's workspace (`not_found`)",
        413 => "the body is larger than this server accepts (`payload_too_large`)",
        415 => "the body is not `application/json` (`unsupported_media_type`)",
        422 => "a field or query value is missing, unknown, mistyped or out of range; `details.fields` names each (`validation_failed`)",
        429 => "too many requests; `Retry-After` says when to try again (`rate_limited`)",
        503 => "the database or another dependency is busy; try again after `Retry-After` (`unavailable`)",
        _ => "an error, in the error envelope",
    }
}

fn add_components(doc: &mut Value) {
    let Some(root) = doc.as_object_mut() else {
        return;
    };
    let components = root.entry("components").or_insert_with(|| json!({}));
    let Some(components) = components.as_object_mut() else {
        return;
    };
    let schemas = components.entry("schemas").or_insert_with(|| json!({}));
    // A message is text or a button, never both nor neither: what `inbound()` in
    // routes/conversations.rs checks, which derive(ToSchema) cannot say.
    for name in ["MessageRequest", "CompleteRequest"] {
        if let Some(schema) = schemas.get_mut(name).and_then(Value::as_object_mut) {
            schema.insert(
                "oneOf".into(),
                json!([
                    { "required": ["text"], "properties": { "text": { "type": "string" } } },
                    { "required": ["button_id"], "properties": { "button_id": { "type": "string" } } },
                ]),
            );
        }
    }
    schemas["ErrorEnvelope"] = json!({
        "type": "object",
        "description": "Every error of the API.",
        "required": ["status", "error"],
        "properties": {
            "status": { "type": "string", "enum": ["error"] },
            "error": {
                "type": "object",
                "required": ["code", "message", "details"],
                "properties": {
                    "code": { "type": "string", "description": "snake_case, e.g. `validation_failed`" },
                    "message": { "type": "string", "description": "a sentence for people" },
                    "details": {
                        "type": "object",
                        "description": "for `validation_failed`, `fields`: `[{\"field\", \"message\"}]`",
                    },
                },
            },
        },
    });
    schemas["OpenAiError"] = json!({
        "type": "object",
        "description": "An error of the OpenAI-compatible door, in OpenAI's shape.",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["message", "type"],
                "properties": {
                    "message": { "type": "string" },
                    "type": { "type": "string" },
                    "code": { "type": ["string", "null"] },
                },
            },
        },
    });
}

/// For each `POST` of a collection answering 201, links to every operation under
/// `{collection}/{id}` whose path ids are then all known: the collection's own (from the
/// request) and the new one (`data.id` of the response).
fn links(
    paths: &Map<String, Value>,
) -> std::collections::HashMap<(String, String), Map<String, Value>> {
    let mut found = std::collections::HashMap::new();
    for (collection, item) in paths {
        if item.pointer("/post/responses/201").is_none() {
            continue;
        }
        let prefix = format!("{collection}/{{");
        let own = path_params(collection);
        let mut out = Map::new();
        for (target, target_item) in paths {
            let Some(rest) = target.strip_prefix(&prefix) else {
                continue;
            };
            let Some((new_param, _)) = rest.split_once('}') else {
                continue;
            };
            let wanted = path_params(target);
            if wanted.iter().any(|p| p != new_param && !own.contains(p)) {
                continue;
            }
            let Some(ops) = target_item.as_object() else {
                continue;
            };
            for method in ops.keys().filter(|m| HTTP_METHODS.contains(&m.as_str())) {
                let mut parameters = Map::new();
                for p in &wanted {
                    let source = if p == new_param {
                        "$response.body#/data/id".to_string()
                    } else {
                        format!("$request.path.{p}")
                    };
                    parameters.insert(p.clone(), json!(source));
                }
                let pointer = target.replace('~', "~0").replace('/', "~1");
                let name = format!(
                    "{method}{}",
                    target[collection.len()..].replace(['/', '{', '}', '-'], "_")
                );
                out.insert(
                    name,
                    json!({
                        "operationRef": format!("#/paths/{pointer}/{method}"),
                        "parameters": parameters,
                    }),
                );
            }
        }
        if !out.is_empty() {
            found.insert((collection.clone(), "post".to_string()), out);
        }
    }
    found
}

fn path_params(path: &str) -> Vec<String> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_is_finished() {
        let doc = crate::openapi();
        let text = doc.to_string();
        if let Ok(path) = std::env::var("PARLEY_OPENAPI_OUT") {
            std::fs::write(path, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
        }
        // Every `$ref` names something the document has.
        let dangling: std::collections::BTreeSet<&str> = text
            .split("\"$ref\":\"")
            .skip(1)
            .filter_map(|part| part.split('"').next())
            .filter(|target| doc.pointer(target.trim_start_matches('#')).is_none())
            .collect();
        assert!(dangling.is_empty(), "dangling $refs: {dangling:?}");
        let mut ids = std::collections::HashSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let id = op["operationId"].as_str().unwrap().to_string();
                assert!(ids.insert(id.clone()), "operationId {id} twice");
                for (status, response) in op["responses"].as_object().unwrap() {
                    let code: u16 = status.parse().unwrap();
                    if (200..300).contains(&code) && enveloped(path) {
                        if let Some(schema) = response.pointer("/content/application~1json/schema")
                        {
                            assert_eq!(
                                schema["required"],
                                json!(["status", "data"]),
                                "{method} {path} {status}"
                            );
                        }
                    }
                }
            }
        }
        let bots = &doc["paths"]["/api/v1/bots"]["post"];
        for status in ["201", "400", "401", "403", "413", "415", "422", "503"] {
            assert!(bots["responses"][status].is_object(), "POST /bots {status}");
        }
        let link = &bots["responses"]["201"]["links"]["get__bot_id_"];
        assert_eq!(link["parameters"]["bot_id"], "$response.body#/data/id");
    }
}
