//! Extractors that turn bad input into the error envelope: JSON bodies (wrong content type
//! 415, too large 413, malformed 400, unknown or mistyped fields 422 naming the field),
//! path ids (malformed 404, as no such thing exists) and query strings (400).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::error::ApiError;

/// A JSON body, parsed strictly.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|ct| {
                let mime = ct
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase();
                mime == "application/json"
                    || (mime.starts_with("application/") && mime.ends_with("+json"))
            })
            .unwrap_or(false);
        if !is_json {
            return Err(ApiError::UnsupportedMediaType(
                "send the body as JSON with `Content-Type: application/json`".into(),
            ));
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e: BytesRejection| {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::PayloadTooLarge(
                        "the request body is larger than this server accepts".into(),
                    )
                } else if let Some(t) = crate::body::timed_out(&e) {
                    ApiError::RequestTimeout(t.to_string())
                } else {
                    ApiError::BadRequest(format!("the request body could not be read: {e}"))
                }
            })?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// Parses a JSON object, telling syntax errors (400) from shape errors (422, with the field
/// path). Every request body is an object: serde would otherwise take an array for a struct
/// (`["x", "y"]` filling its fields in order), so anything else is refused with 400 before
/// deserializing; so are bytes after the object, which serde leaves unread unless asked.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let first = bytes
        .iter()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'));
    if first.is_some_and(|b| *b != b'{') {
        return Err(ApiError::BadRequest(
            "the body must be a JSON object (`{...}`)".into(),
        ));
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    match deserialize_strictly(&mut *de) {
        Ok(parsed) => {
            de.end().map_err(|e| {
                ApiError::BadRequest(format!(
                    "the body is not valid JSON: {e} (nothing may follow the object)"
                ))
            })?;
            Ok(parsed)
        }
        // JSON has one number type, and JSON Schema counts `2.0` as an integer; serde does
        // not, so a whole number written with a fraction is read again as an integer.
        Err(ApiError::Validation(v))
            if v.errors
                .iter()
                .any(|e| e.message.starts_with("invalid type: floating point")) =>
        {
            let mut value: serde_json::Value = serde_json::from_slice(bytes)
                .map_err(|e| ApiError::BadRequest(format!("the body is not valid JSON: {e}")))?;
            whole_floats_as_integers(&mut value);
            deserialize_strictly(value)
        }
        Err(e) => Err(e),
    }
}

/// Replaces every float with no fractional part, in the range of an `i64`, by that integer.
fn whole_floats_as_integers(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Number(n) => {
            if let Some(f) = n.as_f64().filter(|_| n.is_f64()) {
                // ±2^63: exactly representable, so the cast below cannot saturate.
                const TWO_TO_63: f64 = 9_223_372_036_854_775_808.0;
                if f.fract() == 0.0 && (-TWO_TO_63..TWO_TO_63).contains(&f) {
                    *n = serde_json::Number::from(f as i64);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(whole_floats_as_integers),
        serde_json::Value::Object(map) => map.values_mut().for_each(whole_floats_as_integers),
        _ => {}
    }
}

fn deserialize_strictly<'de, T: DeserializeOwned, D>(de: D) -> Result<T, ApiError>
where
    D: serde::Deserializer<'de, Error = serde_json::Error>,
{
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => {
                let message = inner.to_string();
                // The path already ends at an unknown field; a missing one is named only in
                // the message, under the path of its parent.
                let parent = if path == "." { String::new() } else { path };
                let field = match missing_field(&message) {
                    Some(f) if parent.is_empty() => f,
                    Some(f) => format!("{parent}.{f}"),
                    None => parent,
                };
                ApiError::validation(field, strip_position(&message))
            }
            serde_json::error::Category::Syntax
            | serde_json::error::Category::Eof
            | serde_json::error::Category::Io => {
                ApiError::BadRequest(format!("the body is not valid JSON: {inner}"))
            }
        }
    })
}

fn missing_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("missing field `")?;
    Some(rest.split('`').next()?.to_string())
}

fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

/// Path ids. A malformed id names nothing that exists, so it is a 404.
pub struct Ids<T>(pub T);

impl<S: Send + Sync> FromRequestParts<S> for Ids<Uuid> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(raw) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(|_| ApiError::NotFound("no such resource".into()))?;
        Ok(Ids(parse_id(&raw)?))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Ids<(Uuid, Uuid)> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path((a, b)) =
            axum::extract::Path::<(String, String)>::from_request_parts(parts, state)
                .await
                .map_err(|_| ApiError::NotFound("no such resource".into()))?;
        Ok(Ids((parse_id(&a)?, parse_id(&b)?)))
    }
}

fn parse_id(raw: &str) -> Result<Uuid, ApiError> {
    raw.parse()
        .map_err(|_| ApiError::NotFound(format!("`{raw}` is not an id that exists here")))
}

/// A query string: a value of the wrong type is answered 400, a value of the right type
/// out of its range (serde's `invalid_value`, as [`crate::routes::PageLimit`] gives) 422
/// naming the parameter.
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parse_query(parts.uri.query().unwrap_or("")).map(ApiQuery)
    }
}

fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|e| {
        let field = e.path().to_string();
        let message = e.into_inner().to_string();
        if message.starts_with("invalid value: ") {
            ApiError::validation(field, message)
        } else if field == "." {
            ApiError::BadRequest(format!("bad query string: {message}"))
        } else {
            ApiError::BadRequest(format!("bad query string: `{field}`: {message}"))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        text: String,
        inner: Option<Inner>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        n: u32,
    }

    #[test]
    fn classifies_json_errors() {
        let e = parse_json::<Body>(b"{\"text\": ").unwrap_err();
        assert_eq!(e.code(), "bad_request");
        let e = parse_json::<Body>(br#"{"txt": "a"}"#).unwrap_err();
        match e {
            ApiError::Validation(v) => assert_eq!(v.errors[0].field, "txt"),
            other => panic!("{other:?}"),
        }
        let e = parse_json::<Body>(br#"{"text": "a", "inner": {"n": -1}}"#).unwrap_err();
        match e {
            ApiError::Validation(v) => assert_eq!(v.errors[0].field, "inner.n"),
            other => panic!("{other:?}"),
        }
        let e = parse_json::<Body>(br#"{"inner": {"n": 1}}"#).unwrap_err();
        match e {
            ApiError::Validation(v) => assert_eq!(v.errors[0].field, "text"),
            other => panic!("{other:?}"),
        }
        let e = parse_json::<Body>(br#"{"text": "a", "inner": {"m": 1}}"#).unwrap_err();
        match e {
            ApiError::Validation(v) => assert_eq!(v.errors[0].field, "inner.m"),
            other => panic!("{other:?}"),
        }
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Query {
        limit: Option<crate::routes::PageLimit>,
        flag: Option<bool>,
    }

    #[test]
    fn query_values_out_of_range_are_422_and_mistyped_400() {
        for q in ["limit=0", "limit=-1", "limit=201", "limit=100000"] {
            match parse_query::<Query>(q).unwrap_err() {
                ApiError::Validation(v) => assert_eq!(v.errors[0].field, "limit", "{q}"),
                other => panic!("{q}: {other:?}"),
            }
        }
        for q in ["limit=lots", "limit=1.5", "flag=maybe"] {
            assert_eq!(
                parse_query::<Query>(q).unwrap_err().code(),
                "bad_request",
                "{q}"
            );
        }
        let ok = parse_query::<Query>("limit=200&flag=true").unwrap();
        assert_eq!(ok.limit.map(|l| l.get()), Some(200));
        assert!(parse_query::<Query>("").unwrap().limit.is_none());
    }

    #[test]
    fn only_one_object_is_a_body() {
        for body in [
            &br#"["a", null]"#[..],
            br#"  ["a"]"#,
            br#""a""#,
            b"42",
            b"null",
            br#"{"text": "a"} trailing"#,
            br#"{"text": "a"}{"text": "b"}"#,
            b"",
        ] {
            let e = parse_json::<Body>(body).unwrap_err();
            assert_eq!(e.code(), "bad_request", "{}", String::from_utf8_lossy(body));
        }
        assert!(parse_json::<Body>(b" \n{\"text\": \"a\"}\r\n ").is_ok());
        let b = parse_json::<Body>(br#"{"text": "a", "inner": {"n": 7.0}}"#).unwrap();
        assert_eq!(b.inner.map(|i| i.n), Some(7));
        let e = parse_json::<Body>(br#"{"text": "a", "inner": {"n": 7.5}}"#).unwrap_err();
        assert_eq!(e.code(), "validation_failed");
    }
}
