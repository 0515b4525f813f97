//! The web widget: its two public API endpoints (a bot's look, and starting a
//! conversation, which hands back the conversation's token), and the pages the binary
//! serves itself — the script (`/widget.js`, CSS inside), a full-page chat per bot
//! (`/chat/{bot_id}`) and a demo page (`/demo`). The widget's JavaScript and CSS are
//! plain files in `assets/`, embedded at build time: no front-end toolchain.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use parley_core::Button;
use parley_engine::{ConversationView, EngineError};
use serde::Serialize;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::error::ApiResult;
use crate::extract::Ids;
use crate::widget::{page_origin, ClientIp};
use crate::{success, AppState};

const WIDGET_SCRIPT: &str = include_str!("../../assets/widget.js");
const WIDGET_CSS: &str = include_str!("../../assets/widget.css");
const CHAT_PAGE: &str = include_str!("../../assets/chat.html");
const DEMO_PAGE: &str = include_str!("../../assets/demo.html");
/// Where the script takes its CSS (a JSON string is a JavaScript string literal).
const CSS_SLOT: &str = "\"__PARLEY_CSS__\"";

/// `/widget.js` as served: the script with its stylesheet inside.
pub fn widget_js() -> &'static str {
    static JS: LazyLock<String> = LazyLock::new(|| {
        let css = serde_json::to_string(WIDGET_CSS).unwrap_or_else(|_| "\"\"".into());
        WIDGET_SCRIPT.replacen(CSS_SLOT, &css, 1)
    });
    JS.as_str()
}

/// The public endpoints, called from any site the bot allows (CORS wraps them).
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(start))
        .routes(routes!(config))
}

/// The pages and the script, served from the binary.
pub fn pages() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(script))
        .routes(routes!(chat_page))
        .routes(routes!(demo_page))
}

/// A started widget conversation: the conversation (greeting in `messages`) with the
/// token that opens it, and only it.
#[derive(Debug, Serialize)]
struct WidgetStart {
    #[serde(flatten)]
    conversation: ConversationView,
    token: String,
    expires_at: DateTime<Utc>,
}

/// # `POST /api/v1/widget/{bot_id}/conversations`
///
/// Starts a conversation on the `widget` channel, with no key: the answer holds the
/// conversation (greeting in `messages`), a conversation `token` and its `expires_at`.
/// Refused with 403 when the page's origin is not in the bot's `widget.allowed_origins`,
/// and with 429 (and `Retry-After`) when this address started too many.
#[utoipa::path(post, path = "/api/v1/widget/{bot_id}/conversations", tag = "widget", security(()),
    params(("bot_id" = Uuid, Path)),
    responses((status = 201, description = "the conversation with its greeting, `token` and `expires_at`"),
        (status = 403, description = "this page's origin may not use the bot's widget"),
        (status = 404), (status = 429, description = "too many starts from this address")))]
async fn start(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Ids(bot_id): Ids<Uuid>,
) -> ApiResult<Response> {
    state.widget_starts.check(ip)?;
    let (ws, conversation) = state
        .engine
        .start_widget_conversation(bot_id, &page_origin(&headers))
        .await?;
    let (token, expires_at) =
        state
            .tokens
            .issue(ws, conversation.conversation.id, state.http.token_ttl)?;
    Ok(success(
        StatusCode::CREATED,
        WidgetStart {
            conversation,
            token,
            expires_at,
        },
    ))
}

/// How the widget looks and what it says before a conversation starts.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct WidgetConfig {
    bot_id: Uuid,
    name: String,
    title: String,
    welcome_text: String,
    primary_color: String,
    /// `right` or `left`.
    position: String,
    avatar_url: Option<String>,
    /// Every widget text, translated where the bot's settings say so.
    texts: BTreeMap<String, String>,
    greeting_message: String,
    greeting_buttons: Vec<Button>,
}

/// # `GET /api/v1/widget/{bot_id}/config`
///
/// The bot's widget settings (title, colour, position, avatar, welcome text, texts) and
/// greeting, for the script to dress itself. Public; the origin check applies.
#[utoipa::path(get, path = "/api/v1/widget/{bot_id}/config", tag = "widget", security(()),
    params(("bot_id" = Uuid, Path)),
    responses((status = 200, body = WidgetConfig), (status = 403), (status = 404)))]
async fn config(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ids(bot_id): Ids<Uuid>,
) -> ApiResult<Response> {
    let widget = state
        .engine
        .widget_bot_for_page(bot_id, &page_origin(&headers))
        .await?;
    let bot = &widget.bot;
    let w = &bot.settings.widget;
    Ok(success(
        StatusCode::OK,
        WidgetConfig {
            bot_id,
            name: bot.bot.name.clone(),
            title: w.title.clone(),
            welcome_text: w.welcome_text.clone(),
            primary_color: w.primary_color.clone(),
            position: w.position.clone(),
            avatar_url: w.avatar_url.clone(),
            texts: w.texts_with_defaults(),
            greeting_message: bot.settings.greeting_message.clone(),
            greeting_buttons: bot.settings.greeting_buttons.clone(),
        },
    ))
}

/// # `GET /widget.js`
///
/// The widget: `<script src="https://HOST/widget.js" data-bot="BOT_ID" async></script>`.
#[utoipa::path(get, path = "/widget.js", tag = "widget", security(()),
    responses((status = 200, description = "application/javascript")))]
async fn script() -> Response {
    (
        [
            (
                CONTENT_TYPE,
                HeaderValue::from_static("application/javascript; charset=utf-8"),
            ),
            (
                CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=300"),
            ),
        ],
        widget_js(),
    )
        .into_response()
}

/// # `GET /chat/{bot_id}`
///
/// A full-page chat with the bot: a link a business can share.
#[utoipa::path(get, path = "/chat/{bot_id}", tag = "widget", security(()),
    params(("bot_id" = Uuid, Path)), responses((status = 200, description = "text/html"), (status = 404)))]
async fn chat_page(State(state): State<AppState>, Ids(bot_id): Ids<Uuid>) -> ApiResult<Response> {
    let widget = match state.engine.widget_bot(bot_id).await {
        Ok(w) => w,
        Err(EngineError::NotFound { .. }) => return Ok(missing_page("There is no such bot.")),
        Err(e) => return Err(e.into()),
    };
    let title = match widget.bot.settings.widget.title.as_str() {
        "" => widget.bot.bot.name.as_str(),
        t => t,
    };
    let page = CHAT_PAGE
        .replace("{{title}}", &escape_html(title))
        .replace("{{bot_id}}", &bot_id.to_string());
    Ok(html(StatusCode::OK, page))
}

/// # `GET /demo`
///
/// A sample shop page with the widget of the demo bot (`Northwind Demo` in the default
/// workspace, else its first bot).
#[utoipa::path(get, path = "/demo", tag = "widget", security(()),
    responses((status = 200, description = "text/html"), (status = 404, description = "no bot yet")))]
async fn demo_page(State(state): State<AppState>) -> ApiResult<Response> {
    let bot = match state.engine.demo_bot().await {
        Ok(b) => b,
        Err(EngineError::NotFound { .. }) => {
            return Ok(missing_page(
                "There is no bot to show yet: start Parley with `parley serve --demo`, or create a bot.",
            ))
        }
        Err(e) => return Err(e.into()),
    };
    let page = DEMO_PAGE
        .replace("{{bot_name}}", &escape_html(&bot.name))
        .replace("{{bot_id}}", &bot.id.to_string());
    Ok(html(StatusCode::OK, page))
}

fn missing_page(sentence: &str) -> Response {
    let page = format!(
        "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>Not found</title>\
         <body style=\"font-family: system-ui, sans-serif; margin: 3rem\"><h1>Not found</h1><p>{}</p></body></html>",
        escape_html(sentence)
    );
    html(StatusCode::NOT_FOUND, page)
}

fn html(status: StatusCode, page: String) -> Response {
    (
        status,
        [
            (
                CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            // Our pages run our script only; the widget styles itself with a <style>.
            (
                CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                     img-src 'self' https: data:; connect-src 'self'; base-uri 'none'; form-action 'none'",
                ),
            ),
            (CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        page,
    )
        .into_response()
}

fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_widget_stays_under_30_kb_with_its_css() {
        let js = widget_js();
        assert!(!js.contains(CSS_SLOT), "the CSS went in");
        assert!(
            js.len() < 30 * 1024,
            "widget.js with its CSS is {} bytes; the budget is 30 KB",
            js.len()
        );
    }

    #[test]
    fn the_widget_makes_no_third_party_requests_and_no_html_from_text() {
        let js = widget_js();
        for banned in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
        ] {
            assert!(!js.contains(banned), "widget.js uses {banned}");
        }
        // Every request goes to the server that served the script: no absolute URL in the
        // code (comments aside) but the SVG namespace, which is a name, not a request.
        for line in js.lines().filter(|l| !l.trim_start().starts_with("//")) {
            let rest = line.replace("http://www.w3.org/2000/svg", "");
            assert!(
                !rest.contains("http://") && !rest.contains("https://"),
                "a URL in widget.js: {line}"
            );
        }
    }

    #[test]
    fn page_text_is_escaped() {
        assert_eq!(
            escape_html("<b>\"Tom's\" & co</b>"),
            "&lt;b&gt;&quot;Tom&#39;s&quot; &amp; co&lt;/b&gt;"
        );
    }
}
