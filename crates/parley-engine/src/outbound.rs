//! `OutboundHttp`: the one HTTP client for requests Parley makes on a user's or an
//! author's behalf — `api_fetch` flow steps, `api` AI contexts, dataset pages fetched by
//! URL, and (to come) tools and webhooks. LLM providers and the embeddings endpoint are
//! the operator's own configuration and keep their own clients.
//!
//! What it promises:
//! - **No private destinations.** Loopback, private, link-local (cloud metadata),
//!   shared (CGNAT), unique-local, unspecified, multicast, reserved and documentation
//!   addresses are refused ([`why_not_public`]) unless the operator lists the network in
//!   `[outbound] allow_private_networks`. The check is on the address actually connected
//!   to: host names go through [`GuardedResolver`], which drops refused addresses from
//!   the answer reqwest connects with (so a DNS name that flips to 127.0.0.1 between a
//!   check and the connection cannot get through), and IP literals — which reqwest never
//!   resolves — are checked before the request and on every redirect hop. The `url`
//!   crate has already turned `2130706433`, `0x7f.1` and `[::ffff:127.0.0.1]` into
//!   addresses by then. Proxies from the environment are ignored, so they cannot be a way
//!   around it either.
//! - **Redirects only to allowed places**, at most [`MAX_REDIRECTS`], http(s) only.
//! - **Bounded**: a whole-request timeout and a response size cap, read as a stream (a
//!   large body is never held whole), the smaller of the request's and the server's.
//! - **Typed failures** ([`OutboundError`]) with a sentence fit for an author.
//!
//! It is a module of the engine rather than a crate: everything that makes such requests
//! (flows, AI contexts, datasets, and the tools and webhooks to come) lives in the engine.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use parley_core::flow::HttpMethod;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::Url;

/// Default whole-request timeout (a request may ask for less).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default cap on a response body (a request may ask for less).
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 10 * 1024 * 1024;
/// Redirects followed, at most.
pub const MAX_REDIRECTS: usize = 5;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The server's outbound policy (`[outbound]` in the configuration).
#[derive(Debug, Clone)]
pub struct OutboundConfig {
    /// Networks that may be reached although they are not public (tests: 127.0.0.1/32;
    /// an intranet API: 10.1.2.0/24). Empty by default.
    pub allow_private_networks: Vec<IpNet>,
    /// Longest a request may take, connection to last byte.
    pub timeout: Duration,
    /// Largest response body read.
    pub max_response_bytes: usize,
}

impl Default for OutboundConfig {
    fn default() -> Self {
        OutboundConfig {
            allow_private_networks: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
        }
    }
}

/// `10.0.0.0/8`, or one address (`127.0.0.1`, `::1`) meaning just that address.
pub fn parse_network(s: &str) -> Result<IpNet, String> {
    let s = s.trim();
    if let Ok(net) = s.parse::<IpNet>() {
        return Ok(net.trunc());
    }
    s.parse::<IpAddr>()
        .map(IpNet::from)
        .map_err(|_| format!("`{s}` is not a network (like 10.0.0.0/8) or an address"))
}

/// Why `ip` is not a public address, or `None` when it is. Anything outside the public
/// unicast space counts: the IANA special-purpose registries for IPv4 and IPv6, with
/// IPv6 forms that carry an IPv4 address (mapped, NAT64, 6to4) judged by that address.
///
/// Hand-written because std's `is_global` is unstable and no small, maintained crate
/// names the reason; the tables below are the whole rule.
pub fn why_not_public(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => why_not_public_v4(v4),
        IpAddr::V6(v6) => why_not_public_v6(v6),
    }
}

const fn v4(a: u8, b: u8, c: u8, d: u8, len: u8) -> Ipv4Net {
    Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), len)
}

const fn v6(segments: [u16; 8], len: u8) -> Ipv6Net {
    let [a, b, c, d, e, f, g, h] = segments;
    Ipv6Net::new_assert(Ipv6Addr::new(a, b, c, d, e, f, g, h), len)
}

const BLOCKED_V4: &[(Ipv4Net, &str)] = &[
    (
        v4(0, 0, 0, 0, 8),
        "an unspecified (\"this network\") address",
    ),
    (v4(10, 0, 0, 0, 8), "a private address"),
    (
        v4(100, 64, 0, 0, 10),
        "a shared (carrier-grade NAT) address",
    ),
    (v4(127, 0, 0, 0, 8), "a loopback address"),
    (
        v4(169, 254, 0, 0, 16),
        "a link-local address (cloud metadata lives there)",
    ),
    (v4(172, 16, 0, 0, 12), "a private address"),
    (v4(192, 0, 0, 0, 24), "an IETF protocol address"),
    (v4(192, 0, 2, 0, 24), "a documentation address"),
    (v4(192, 88, 99, 0, 24), "a 6to4 relay address"),
    (v4(192, 168, 0, 0, 16), "a private address"),
    (v4(198, 18, 0, 0, 15), "a benchmarking address"),
    (v4(198, 51, 100, 0, 24), "a documentation address"),
    (v4(203, 0, 113, 0, 24), "a documentation address"),
    (v4(224, 0, 0, 0, 4), "a multicast address"),
    (v4(240, 0, 0, 0, 4), "a reserved address"),
];

/// IPv6 ranges that carry an IPv4 address in their last 32 bits, judged by it.
const EMBEDS_V4_LAST: &[Ipv6Net] = &[
    // IPv4-mapped (::ffff:a.b.c.d) and the NAT64 well-known prefix (64:ff9b::a.b.c.d).
    v6([0, 0, 0, 0, 0, 0xffff, 0, 0], 96),
    v6([0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96),
];

/// Public IPv6 ranges that are not public after all.
const BLOCKED_V6: &[(Ipv6Net, &str)] = &[
    (
        v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 23),
        "an IETF protocol address (Teredo, benchmarking, ORCHID)",
    ),
    (
        v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32),
        "a documentation address",
    ),
    (
        v6([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20),
        "a documentation address",
    ),
];

fn why_not_public_v4(ip: Ipv4Addr) -> Option<&'static str> {
    if ip.is_broadcast() {
        return Some("the broadcast address");
    }
    BLOCKED_V4
        .iter()
        .find(|(net, _)| net.contains(&ip))
        .map(|(_, why)| *why)
}

fn why_not_public_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if ip.is_unspecified() {
        return Some("the unspecified address");
    }
    if ip.is_loopback() {
        return Some("a loopback address");
    }
    let bits = u128::from(ip);
    if EMBEDS_V4_LAST.iter().any(|net| net.contains(&ip)) {
        // Truncation intended: the last 32 bits are the IPv4 address.
        return why_not_public_v4(Ipv4Addr::from(bits as u32));
    }
    // 6to4 (2002:a.b.c.d::/48): the IPv4 address is bits 16 to 48.
    if v6([0x2002, 0, 0, 0, 0, 0, 0, 0], 16).contains(&ip) {
        return why_not_public_v4(Ipv4Addr::from((bits >> 80) as u32));
    }
    // Only global unicast (2000::/3) is public: this leaves out unique-local (fc00::/7,
    // cloud metadata such as fd00:ec2::254), link-local (fe80::/10), multicast (ff00::/8),
    // IPv4-compatible (::a.b.c.d), discard (100::/64) and local NAT64 (64:ff9b:1::/48).
    if !v6([0x2000, 0, 0, 0, 0, 0, 0, 0], 3).contains(&ip) {
        let seg = ip.segments()[0];
        return Some(if seg & 0xfe00 == 0xfc00 {
            "a unique-local address"
        } else if seg & 0xffc0 == 0xfe80 {
            "a link-local address"
        } else if seg & 0xff00 == 0xff00 {
            "a multicast address"
        } else {
            "not a global unicast address"
        });
    }
    BLOCKED_V6
        .iter()
        .find(|(net, _)| net.contains(&ip))
        .map(|(_, why)| *why)
}

/// Which addresses may be reached: public ones, and those in the allowed networks.
#[derive(Debug, Default)]
struct AddressPolicy {
    allow: Vec<IpNet>,
}

impl AddressPolicy {
    /// `Err(why)` when `ip` may not be reached.
    fn check(&self, ip: IpAddr) -> Result<(), &'static str> {
        let Some(why) = why_not_public(ip) else {
            return Ok(());
        };
        let canonical = ip.to_canonical();
        if self
            .allow
            .iter()
            .any(|net| net.contains(&ip) || net.contains(&canonical))
        {
            return Ok(());
        }
        Err(why)
    }

    /// The scheme, and the host when it is an IP literal (names are checked when
    /// resolved, by [`GuardedResolver`]).
    fn check_url(&self, url: &Url) -> Result<(), Refused> {
        let host = url.host_str().unwrap_or_default().to_string();
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Refused {
                host,
                reason: format!(
                    "only http and https URLs are allowed, not {}:",
                    url.scheme()
                ),
            });
        }
        let ip = match url.host() {
            Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip),
            Some(url::Host::Domain(_)) => return Ok(()),
            None => {
                return Err(Refused {
                    host,
                    reason: "the URL has no host".into(),
                })
            }
        };
        self.check(ip).map_err(|why| Refused {
            host,
            reason: format!("{ip} is {why}"),
        })
    }
}

/// A destination the policy does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("requests to `{host}` are not allowed: {reason}")]
pub struct Refused {
    /// The host as written in the URL (or the redirect).
    pub host: String,
    /// Why, e.g. "127.0.0.1 is a loopback address".
    pub reason: String,
}

/// Redirects beyond [`MAX_REDIRECTS`].
#[derive(Debug, thiserror::Error)]
#[error("more than {MAX_REDIRECTS} redirects")]
struct TooManyRedirects;

/// Resolves host names with the system resolver and keeps only the addresses the policy
/// allows; reqwest connects to what this returns, so the check holds at connect time.
struct GuardedResolver {
    policy: Arc<AddressPolicy>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut refused = None;
            let allowed: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| match policy.check(a.ip()) {
                    Ok(()) => true,
                    Err(why) => {
                        refused.get_or_insert_with(|| format!("it resolves to {}, {why}", a.ip()));
                        false
                    }
                })
                .collect();
            if allowed.is_empty() {
                let reason = refused.unwrap_or_else(|| "it resolves to no address".into());
                // `.into()` of the error itself: a `Box<Refused>` would be boxed again and
                // hide from `downcast_ref`.
                return Err(Refused { host, reason }.into());
            }
            let addrs: Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

/// One request. Build with [`OutboundRequest::new`] and the setters.
#[derive(Debug, Clone)]
pub struct OutboundRequest {
    pub method: HttpMethod,
    pub url: String,
    pub headers: Vec<(String, String)>,
    /// The body and its content type.
    pub body: Option<(Vec<u8>, String)>,
    /// At most the server's timeout.
    pub timeout: Option<Duration>,
    /// At most the server's response cap.
    pub max_bytes: Option<usize>,
}

impl OutboundRequest {
    pub fn new(method: HttpMethod, url: impl Into<String>) -> OutboundRequest {
        OutboundRequest {
            method,
            url: url.into(),
            headers: Vec::new(),
            body: None,
            timeout: None,
            max_bytes: None,
        }
    }

    pub fn get(url: impl Into<String>) -> OutboundRequest {
        OutboundRequest::new(HttpMethod::Get, url)
    }

    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// A JSON body (`Content-Type: application/json`).
    pub fn json(mut self, body: &serde_json::Value) -> Self {
        self.body = Some((body.to_string().into_bytes(), "application/json".into()));
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    pub fn max_bytes(mut self, max: usize) -> Self {
        self.max_bytes = Some(max);
        self
    }
}

/// A successful (2xx) response, its body read whole within the cap.
#[derive(Debug, Clone)]
pub struct OutboundResponse {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

/// Why an outbound request failed. Messages name the host at most, never the whole URL
/// (its query may carry a customer's data).
#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    #[error("the URL is not valid: {0}")]
    InvalidUrl(String),
    /// A header or the method could not be used.
    #[error("the request could not be built: {0}")]
    Request(String),
    /// The destination (or a redirect's) is not allowed.
    #[error(transparent)]
    Refused(#[from] Refused),
    #[error("more than {MAX_REDIRECTS} redirects")]
    TooManyRedirects,
    #[error("no answer within {} ms", .0.as_millis())]
    Timeout(Duration),
    #[error("could not connect: {0}")]
    Connect(String),
    /// The answer was not 2xx.
    #[error("the endpoint answered HTTP {0}")]
    Status(u16),
    #[error("the response is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("the request failed: {0}")]
    Transport(String),
    /// The client could not be set up when the server started (logged then).
    #[error("outbound requests are unavailable: {0}")]
    Unavailable(String),
}

/// The outbound client (cheap to clone).
#[derive(Clone)]
pub struct OutboundHttp {
    inner: Arc<Inner>,
}

struct Inner {
    client: Result<reqwest::Client, String>,
    policy: Arc<AddressPolicy>,
    timeout: Duration,
    max_bytes: usize,
}

impl std::fmt::Debug for OutboundHttp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboundHttp")
            .field("allow_private_networks", &self.inner.policy.allow)
            .field("timeout", &self.inner.timeout)
            .field("max_bytes", &self.inner.max_bytes)
            .finish()
    }
}

impl OutboundHttp {
    /// A client with `config`'s policy; fails only if the TLS stack cannot be set up.
    pub fn new(config: OutboundConfig) -> Result<OutboundHttp, OutboundError> {
        let policy = Arc::new(AddressPolicy {
            allow: config.allow_private_networks,
        });
        let redirect_policy = policy.clone();
        let client = reqwest::Client::builder()
            .user_agent(concat!("parley/", env!("CARGO_PKG_VERSION")))
            .no_proxy()
            .dns_resolver(Arc::new(GuardedResolver {
                policy: policy.clone(),
            }))
            .redirect(reqwest::redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() >= MAX_REDIRECTS {
                    return attempt.error(TooManyRedirects);
                }
                match redirect_policy.check_url(attempt.url()) {
                    Ok(()) => attempt.follow(),
                    Err(refused) => attempt.error(refused),
                }
            }))
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .map_err(|e| OutboundError::Unavailable(e.to_string()))?;
        Ok(OutboundHttp {
            inner: Arc::new(Inner {
                client: Ok(client),
                policy,
                timeout: config.timeout,
                max_bytes: config.max_response_bytes,
            }),
        })
    }

    /// [`OutboundHttp::new`], or — logged — a client that fails every request with
    /// [`OutboundError::Unavailable`]: refusing is the safe way to fail.
    pub fn new_or_unavailable(config: OutboundConfig) -> OutboundHttp {
        let (timeout, max_bytes) = (config.timeout, config.max_response_bytes);
        OutboundHttp::new(config).unwrap_or_else(|e| {
            tracing::error!(error = %e, "the outbound HTTP client could not be set up; api_fetch steps, api AI contexts and URL imports will fail");
            OutboundHttp {
                inner: Arc::new(Inner {
                    client: Err(e.to_string()),
                    policy: Arc::default(),
                    timeout,
                    max_bytes,
                }),
            }
        })
    }

    /// Sends `req` and reads a 2xx answer's body within the limits. Refusals are logged
    /// (warn, with the host).
    pub async fn fetch(&self, req: OutboundRequest) -> Result<OutboundResponse, OutboundError> {
        let result = self.send(req).await;
        if let Err(OutboundError::Refused(r)) = &result {
            tracing::warn!(host = %r.host, reason = %r.reason, "outbound request refused");
        }
        result
    }

    async fn send(&self, req: OutboundRequest) -> Result<OutboundResponse, OutboundError> {
        let inner = &self.inner;
        let client = inner
            .client
            .as_ref()
            .map_err(|e| OutboundError::Unavailable(e.clone()))?;
        let url =
            Url::parse(req.url.trim()).map_err(|e| OutboundError::InvalidUrl(e.to_string()))?;
        inner.policy.check_url(&url)?;
        let timeout = req.timeout.map_or(inner.timeout, |t| t.min(inner.timeout));
        let limit = req
            .max_bytes
            .map_or(inner.max_bytes, |m| m.min(inner.max_bytes));
        let method = match req.method {
            HttpMethod::Get => reqwest::Method::GET,
            HttpMethod::Post => reqwest::Method::POST,
            HttpMethod::Put => reqwest::Method::PUT,
            HttpMethod::Patch => reqwest::Method::PATCH,
            HttpMethod::Delete => reqwest::Method::DELETE,
        };
        let mut builder = client.request(method, url).timeout(timeout);
        for (name, value) in &req.headers {
            let name = reqwest::header::HeaderName::from_bytes(name.trim().as_bytes())
                .map_err(|_| OutboundError::Request(format!("`{name}` is not a header name")))?;
            let value = reqwest::header::HeaderValue::from_str(value).map_err(|_| {
                OutboundError::Request(format!("the value of the header `{name}` is not valid"))
            })?;
            builder = builder.header(name, value);
        }
        if let Some((body, content_type)) = req.body {
            builder = builder
                .header(reqwest::header::CONTENT_TYPE, content_type)
                .body(body);
        }
        let classify = |e: reqwest::Error| classify(e, timeout);
        let mut resp = builder.send().await.map_err(classify)?;
        let status = resp.status();
        if !status.is_success() {
            return Err(OutboundError::Status(status.as_u16()));
        }
        if resp.content_length().is_some_and(|n| n > limit as u64) {
            return Err(OutboundError::TooLarge { limit });
        }
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(classify)? {
            if body.len() + chunk.len() > limit {
                return Err(OutboundError::TooLarge { limit });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(OutboundResponse {
            status: status.as_u16(),
            content_type,
            body,
        })
    }
}

/// A reqwest error as an [`OutboundError`]: our refusals first (from the resolver or the
/// redirect policy, somewhere in the source chain), then reqwest's own kinds.
fn classify(e: reqwest::Error, timeout: Duration) -> OutboundError {
    let e = e.without_url();
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    let mut causes = Vec::new();
    while let Some(s) = source {
        if let Some(refused) = s.downcast_ref::<Refused>() {
            return OutboundError::Refused(refused.clone());
        }
        if s.downcast_ref::<TooManyRedirects>().is_some() {
            return OutboundError::TooManyRedirects;
        }
        causes.push(s.to_string());
        source = s.source();
    }
    let said = causes.join(": ");
    if e.is_timeout() {
        OutboundError::Timeout(timeout)
    } else if e.is_connect() {
        OutboundError::Connect(said)
    } else if e.is_builder() {
        OutboundError::Request(said)
    } else {
        OutboundError::Transport(said)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn private_and_special_addresses_are_not_public() {
        for s in [
            "127.0.0.1",
            "127.255.255.254",
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.100.100.200",
            "192.0.0.8",
            "192.0.2.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::7f00:1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::1",
            "2002:7f00:1::",
            "2002:c0a8:101::1",
            "fc00::1",
            "fd00:ec2::254",
            "fe80::1",
            "ff02::1",
            "100::1",
            "2001:db8::1",
            "2001::1",
            "3fff::1",
        ] {
            assert!(why_not_public(ip(s)).is_some(), "{s} should not be public");
        }
    }

    #[test]
    fn public_addresses_are_public() {
        for s in [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.216.34",
            "172.15.255.255",
            "172.32.0.1",
            "100.63.255.255",
            "100.128.0.1",
            "192.169.0.1",
            "2606:4700:4700::1111",
            "2a00:1450:4001:80b::200e",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert_eq!(why_not_public(ip(s)), None, "{s} should be public");
        }
    }

    #[test]
    fn reasons_are_named() {
        assert_eq!(why_not_public(ip("127.0.0.1")), Some("a loopback address"));
        assert_eq!(why_not_public(ip("::1")), Some("a loopback address"));
        assert_eq!(
            why_not_public(ip("fd12::1")),
            Some("a unique-local address")
        );
        assert!(why_not_public(ip("169.254.169.254"))
            .unwrap()
            .contains("metadata"));
    }

    #[test]
    fn allowed_networks_open_only_themselves() {
        let policy = AddressPolicy {
            allow: vec![parse_network("127.0.0.1").unwrap()],
        };
        assert!(policy.check(ip("127.0.0.1")).is_ok());
        assert!(policy.check(ip("::ffff:127.0.0.1")).is_ok());
        assert!(policy.check(ip("127.0.0.2")).is_err());
        assert!(policy.check(ip("::1")).is_err());
        assert!(policy.check(ip("8.8.8.8")).is_ok());
        let ten = AddressPolicy {
            allow: vec![parse_network(" 10.1.2.3/8 ").unwrap()],
        };
        assert!(ten.check(ip("10.200.0.1")).is_ok());
        assert!(parse_network("10.0.0.0/33").is_err());
        assert!(parse_network("intranet").is_err());
    }

    #[test]
    fn urls_are_normalised_before_the_check() {
        let policy = AddressPolicy::default();
        for u in [
            "http://2130706433/",
            "http://0x7f.1/",
            "http://127.1:8080/x",
            "http://0.0.0.0/",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:7f00:1]/",
            "http://017700000001/",
            "ftp://example.com/",
            "file:///etc/passwd",
        ] {
            let url = Url::parse(u).unwrap();
            assert!(policy.check_url(&url).is_err(), "{u} should be refused");
        }
        for u in [
            "https://example.com/a?b=c",
            "http://8.8.8.8/",
            "http://localhost/",
        ] {
            // Names are checked when resolved, not here.
            assert!(policy.check_url(&Url::parse(u).unwrap()).is_ok(), "{u}");
        }
    }

    #[tokio::test]
    async fn names_resolving_to_refused_addresses_are_refused() {
        let resolver = GuardedResolver {
            policy: Arc::default(),
        };
        let err = match resolver.resolve("localhost".parse().unwrap()).await {
            Ok(_) => panic!("localhost resolved"),
            Err(e) => e,
        };
        let refused = err.downcast_ref::<Refused>().unwrap();
        assert_eq!(refused.host, "localhost");
        assert!(refused.reason.contains("loopback"), "{refused}");
        let open = GuardedResolver {
            policy: Arc::new(AddressPolicy {
                allow: vec![parse_network("127.0.0.0/8").unwrap()],
            }),
        };
        let addrs: Vec<_> = open
            .resolve("localhost".parse().unwrap())
            .await
            .unwrap()
            .collect();
        assert!(
            addrs.iter().all(|a| a.ip().is_loopback() && a.is_ipv4()),
            "{addrs:?}"
        );
    }
}
