//! What guards the public web widget: where a request comes from ([`page_origin`]), who
//! sent it ([`ClientIp`]), how often an address may start conversations
//! ([`StartLimiter`]), and the CORS layer that lets an allowed site's pages call the widget
//! and conversation routes ([`browser_cors`]). The token a widget gets is the only
//! credential a browser ever holds; none of this reads a cookie.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, HOST, ORIGIN};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method};
use parley_core::PageOrigin;
use parley_engine::rate::{whole_seconds, KeyedLimit, Rate};
use parley_engine::Engine;
use tower_http::cors::{AllowOrigin, CorsLayer};
use uuid::Uuid;

use crate::auth::CustomerAccess;
use crate::error::{ApiError, RateLimit};
use crate::AppState;

/// Where a widget request comes from. A browser names the page's origin in `Origin` on
/// every cross-site request (and on same-site POSTs); `Sec-Fetch-Site`, which no page
/// script can set, tells the server's own pages apart even where `Origin` is left out.
pub fn page_origin(headers: &HeaderMap) -> PageOrigin {
    let same_site = headers
        .get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes() == b"same-origin");
    if same_site {
        return PageOrigin::Own;
    }
    let Some(origin) = headers.get(ORIGIN).and_then(|v| v.to_str().ok()) else {
        return PageOrigin::Missing;
    };
    let host = headers.get(HOST).and_then(|v| v.to_str().ok());
    let origin_host = origin.split_once("://").map(|(_, rest)| rest);
    match (origin_host, host) {
        (Some(o), Some(h)) if o.eq_ignore_ascii_case(h) => PageOrigin::Own,
        _ => PageOrigin::Other(origin.to_string()),
    }
}

/// The client's address: the TCP peer, or — behind a reverse proxy — the last address in
/// the header the proxy sets (`client_ip_header`), which is the one the proxy itself saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let from_proxy = state.http.client_ip_header.as_ref().and_then(|name| {
            let value = parts.headers.get(name)?.to_str().ok()?;
            value.rsplit(',').next()?.trim().parse::<IpAddr>().ok()
        });
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        Ok(ClientIp(
            from_proxy.or(peer).unwrap_or(IpAddr::from([0u8, 0, 0, 0])),
        ))
    }
}

/// How many conversations one client address may start through the widget: a GCRA
/// (`governor`) cell per address, refilling evenly over the minute. IPv6 addresses count
/// by their /64, since one household or phone holds a whole /64.
pub struct StartLimiter {
    limit: KeyedLimit<IpAddr>,
}

impl StartLimiter {
    /// `per_minute` starts per address, all of them usable at once; 0 turns the limit off.
    pub fn per_minute(per_minute: u32) -> StartLimiter {
        StartLimiter {
            limit: KeyedLimit::new(Rate {
                per_minute,
                burst: per_minute,
            }),
        }
    }

    /// Counts one start from `ip`; 429 with the wait when the address is over its quota.
    pub fn check(&self, ip: IpAddr) -> Result<(), ApiError> {
        self.limit
            .check(&rate_key(ip))
            .map_err(|wait| ApiError::RateLimited {
                retry_after_secs: whole_seconds(wait),
                limit: RateLimit::WidgetStarts,
            })
    }
}

/// How many user messages one client address may send with conversation tokens (the
/// credential anyone can get from a widget), across all its conversations. API keys are
/// the operator's own integrations, often many users behind one address: they are limited
/// per conversation only (by the engine).
pub struct ClientLimiter {
    limit: KeyedLimit<IpAddr>,
}

impl ClientLimiter {
    pub fn new(rate: Rate) -> ClientLimiter {
        ClientLimiter {
            limit: KeyedLimit::new(rate),
        }
    }

    /// Counts one message spoken with `access` from `ip` (conversation tokens only); 429
    /// with the wait over the quota.
    pub fn check(&self, access: &CustomerAccess, ip: ClientIp) -> Result<(), ApiError> {
        if access.by_token {
            self.check_ip(ip.0)
        } else {
            Ok(())
        }
    }

    /// Counts one message from a conversation token's client at `ip`.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), ApiError> {
        self.limit
            .check(&rate_key(ip))
            .map_err(|wait| ApiError::RateLimited {
                retry_after_secs: whole_seconds(wait),
                limit: RateLimit::Client,
            })
    }
}

fn rate_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// CORS for the routes a widget calls from another site: `/api/v1/widget/{bot_id}/…` and
/// the token routes of `/api/v1/conversations/{id}/…`. A page's origin is allowed when
/// the bot's `widget.allowed_origins` allows it (for a conversation: the bot it belongs
/// to). No credentials mode: the widget sends its token in `Authorization`, never cookies.
/// Without an engine (the OpenAPI document is built without one) nothing is allowed.
pub fn browser_cors(engine: Option<Arc<Engine>>) -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::async_predicate(
            move |origin: HeaderValue, parts: &Parts| {
                let engine = engine.clone();
                let target = widget_target(parts.uri.path());
                async move {
                    let (Some(engine), Some(target), Ok(origin)) =
                        (engine, target, origin.to_str())
                    else {
                        return false;
                    };
                    let bot = match target {
                        Target::Bot(id) => engine.widget_bot(id).await,
                        Target::Conversation(id) => engine.widget_bot_of_conversation(id).await,
                    };
                    bot.is_ok_and(|b| {
                        b.bot
                            .settings
                            .widget
                            .allows_origin(&PageOrigin::Other(origin.to_string()))
                    })
                }
            },
        ))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([
            AUTHORIZATION,
            CONTENT_TYPE,
            HeaderName::from_static("last-event-id"),
        ])
        .expose_headers([HeaderName::from_static("retry-after")])
        .max_age(Duration::from_secs(600))
}

enum Target {
    Bot(Uuid),
    Conversation(Uuid),
}

fn widget_target(path: &str) -> Option<Target> {
    let mut parts = path.strip_prefix("/api/v1/")?.split('/');
    let kind = parts.next()?;
    let id = parts.next()?.parse().ok()?;
    match kind {
        "widget" => Some(Target::Bot(id)),
        "conversations" => Some(Target::Conversation(id)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn origins_are_told_apart() {
        assert_eq!(page_origin(&headers(&[])), PageOrigin::Missing);
        assert_eq!(
            page_origin(&headers(&[
                ("origin", "https://shop.example"),
                ("host", "chat.example")
            ])),
            PageOrigin::Other("https://shop.example".into())
        );
        assert_eq!(
            page_origin(&headers(&[
                ("origin", "http://127.0.0.1:8080"),
                ("host", "127.0.0.1:8080")
            ])),
            PageOrigin::Own
        );
        assert_eq!(
            page_origin(&headers(&[("sec-fetch-site", "same-origin")])),
            PageOrigin::Own
        );
    }

    #[test]
    fn the_limit_counts_per_address_and_tells_the_wait() {
        let limiter = StartLimiter::per_minute(2);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        assert!(limiter.check(a).is_ok());
        assert!(limiter.check(a).is_ok());
        match limiter.check(a) {
            Err(ApiError::RateLimited {
                retry_after_secs, ..
            }) => {
                assert!((1..=30).contains(&retry_after_secs))
            }
            other => panic!("{other:?}"),
        }
        assert!(limiter.check(b).is_ok());
        let off = StartLimiter::per_minute(0);
        assert!((0..100).all(|_| off.check(a).is_ok()));
    }

    #[test]
    fn ipv6_counts_by_its_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        assert_eq!(rate_key(a), rate_key(b));
    }

    #[test]
    fn widget_targets_are_read_from_the_path() {
        let id = Uuid::now_v7();
        assert!(matches!(
            widget_target(&format!("/api/v1/widget/{id}/config")),
            Some(Target::Bot(x)) if x == id
        ));
        assert!(matches!(
            widget_target(&format!("/api/v1/conversations/{id}/complete")),
            Some(Target::Conversation(x)) if x == id
        ));
        assert!(widget_target("/api/v1/bots").is_none());
    }
}
