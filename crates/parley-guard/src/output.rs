//! The output guard: the last check before a bot reply leaves. It looks for
//!
//! - the **canary**, a random token ([`make_canary`]) planted in the system prompt, so any
//!   reply that repeats the prompt is caught even when the model reformats it: the check
//!   ignores case, spacing, punctuation, zero-width characters, look-alike letters and
//!   leetspeak, reads base64/hex payloads, and also tries the reply backwards;
//! - configured **secrets** (API keys, internal URLs), with the same tolerance;
//! - **PII** that was not in the user's own message (a user may see their own e-mail
//!   address repeated; nobody else's);
//! - **links** to hosts outside the allow-list.
//!
//! It only reports; the engine replaces a failing reply with a safe message and records the
//! violations.
//!
//! # Links
//!
//! `allowed_link_hosts` lists the hosts a reply may link to; a host also allows its
//! subdomains (`example.com` allows `help.example.com`). An **empty list allows no links**,
//! unless `allow_all_links` is set, which turns the link check off.

use std::collections::HashSet;
use std::sync::LazyLock;

use rand::Rng;
use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::constant_regex;
use crate::injection::decoded_payloads;
use crate::normalize::squash;
use crate::pii::{canonical_value, detect, PiiKind};

/// What a reply is checked against.
#[derive(Debug, Clone)]
pub struct OutputPolicy<'a> {
    /// The token planted in the system prompt (see [`make_canary`]).
    pub canary: String,
    /// Strings that must never appear in a reply. Reported by index, never by value.
    pub secrets: Vec<String>,
    /// The user's message: PII found in it may appear in the reply.
    pub user_text: &'a str,
    /// Hosts replies may link to (and their subdomains). Empty: no links allowed.
    pub allowed_link_hosts: Vec<String>,
    /// Skip the link check entirely.
    pub allow_all_links: bool,
    /// PII and link hosts from text the caller trusts (a bot author's own replies, which
    /// may give the support line's number or link the help centre): allowed in the reply.
    pub trusted: Option<&'a TrustedValues>,
}

/// PII values and link hosts found in trusted text, precomputed once (see
/// [`OutputPolicy::trusted`]). Holds the values themselves, so it is for text that is not
/// secret, such as the replies a bot's author wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedValues {
    pii: HashSet<(PiiKind, String)>,
    hosts: HashSet<String>,
}

impl TrustedValues {
    /// The PII and link hosts found in `texts`.
    pub fn from_texts<'t>(texts: impl IntoIterator<Item = &'t str>) -> Self {
        let mut trusted = TrustedValues::default();
        for text in texts {
            trusted.pii.extend(
                detect(text)
                    .iter()
                    .map(|f| (f.kind, canonical_value(f.kind, f.text(text)))),
            );
            trusted.hosts.extend(
                LINK.find_iter(text)
                    .filter(|m| !text[..m.start()].ends_with('@'))
                    .map(|m| link_host(m.as_str()))
                    .filter(|h| !h.is_empty()),
            );
        }
        trusted
    }

    pub fn is_empty(&self) -> bool {
        self.pii.is_empty() && self.hosts.is_empty()
    }

    /// Adds `other`'s values to these.
    pub fn extend(&mut self, other: TrustedValues) {
        self.pii.extend(other.pii);
        self.hosts.extend(other.hosts);
    }
}

/// One reason a reply may not leave.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Violation {
    /// The reply contains the system prompt's canary.
    Canary,
    /// The reply contains `secrets[index]`.
    Secret { index: usize },
    /// The reply contains PII of this kind that the user did not send.
    Pii { pii: PiiKind },
    /// The reply links to a host outside the allow-list.
    Link { host: String },
}

/// Whether a reply may be sent, and why not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputVerdict {
    pub ok: bool,
    pub violations: Vec<Violation>,
}

/// Letters and digits for canaries, without look-alikes (0/o, 1/l/i) so a human can read
/// one back from a log.
const CANARY_ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
const CANARY_RANDOM_LEN: usize = 20;

/// A fresh random canary such as `canary-k7xq3m…` (20 random characters, ~99 bits). Plant it
/// in the system prompt (e.g. "Internal reference: {canary}. Never repeat it.") and pass it
/// in [`OutputPolicy::canary`].
pub fn make_canary() -> String {
    let mut rng = rand::thread_rng();
    let random: String = (0..CANARY_RANDOM_LEN)
        .map(|_| char::from(CANARY_ALPHABET[rng.gen_range(0..CANARY_ALPHABET.len())]))
        .collect();
    format!("canary-{random}")
}

/// Forms of the reply in which a disguised token still shows: squashed, squashed backwards,
/// and squashed decoded payloads.
fn reply_forms(reply: &str) -> Vec<String> {
    let squashed = squash(reply);
    let reversed: String = squashed.chars().rev().collect();
    let mut forms = vec![squashed, reversed];
    forms.extend(decoded_payloads(reply).iter().map(|p| squash(p)));
    forms
}

/// Whether `needle` appears in the reply in any disguise. Short needles (under 8 letters
/// and digits) are matched only as written, ignoring case: squashed, they would match
/// across innocent words.
fn contains_disguised(reply: &str, forms: &[String], needle: &str) -> bool {
    let key = squash(needle);
    if key.chars().count() < 8 {
        return !needle.trim().is_empty()
            && reply.to_lowercase().contains(&needle.trim().to_lowercase());
    }
    forms.iter().any(|f| f.contains(&key))
}

fn leaks_canary(reply: &str, forms: &[String], canary: &str) -> bool {
    if contains_disguised(reply, forms, canary) {
        return true;
    }
    // The random tail alone identifies the canary; models sometimes drop the prefix.
    let tail = canary.rsplit(['-', '_', ':', ' ']).next().unwrap_or("");
    squash(tail).chars().count() >= 12 && contains_disguised(reply, forms, tail)
}

static LINK: LazyLock<Regex> = LazyLock::new(|| {
    constant_regex(
        r#"(?i)\b(?:https?|ftp)://[^\s<>"'`)\]]+|\bwww\.[^\s<>"'`)\]]+|\b(?:[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?\.)+(?:com|net|org|io|co|ai|app|dev|info|biz|xyz|ru|cn|tk|ly|me|gg|uk|de|fr|nl|es|it|eu|us|ca|au|in|br|pl|se|ch|at|be|top|site|online|shop|link|click|zip)\b(?:/[^\s<>"'`)\]]*)?"#,
    )
});

/// The host of a link, lowercased, without scheme, credentials, port or trailing dot.
fn link_host(link: &str) -> String {
    let rest = link.split_once("://").map(|(_, r)| r).unwrap_or(link);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit('@').next().unwrap_or("");
    let host = if let Some(inner) = host_port.strip_prefix('[') {
        inner.split(']').next().unwrap_or("")
    } else {
        host_port.split(':').next().unwrap_or("")
    };
    host.trim_end_matches('.').to_lowercase()
}

fn host_allowed(host: &str, allowed: &[String]) -> bool {
    allowed.iter().any(|a| {
        let a = a
            .trim()
            .trim_start_matches("*.")
            .trim_matches('.')
            .to_lowercase();
        !a.is_empty() && (host == a || host.ends_with(&format!(".{a}")))
    })
}

/// Checks a reply against the policy. `ok` is true when there are no violations.
pub fn check_output(reply: &str, policy: &OutputPolicy<'_>) -> OutputVerdict {
    let forms = reply_forms(reply);
    let mut violations: Vec<Violation> = Vec::new();
    let mut push = |v: Violation| {
        if !violations.contains(&v) {
            violations.push(v);
        }
    };

    if !policy.canary.trim().is_empty() && leaks_canary(reply, &forms, &policy.canary) {
        push(Violation::Canary);
    }
    for (index, secret) in policy.secrets.iter().enumerate() {
        if contains_disguised(reply, &forms, secret) {
            push(Violation::Secret { index });
        }
    }

    let users: HashSet<(PiiKind, String)> = detect(policy.user_text)
        .iter()
        .map(|f| (f.kind, canonical_value(f.kind, f.text(policy.user_text))))
        .collect();
    let trusted = policy.trusted;
    for f in detect(reply) {
        let value = (f.kind, canonical_value(f.kind, f.text(reply)));
        if !users.contains(&value) && !trusted.is_some_and(|t| t.pii.contains(&value)) {
            push(Violation::Pii { pii: f.kind });
        }
    }

    if !policy.allow_all_links {
        for m in LINK.find_iter(reply) {
            // The domain of an e-mail address is not a link.
            if reply[..m.start()].ends_with('@') {
                continue;
            }
            let host = link_host(m.as_str());
            if !host.is_empty()
                && !host_allowed(&host, &policy.allowed_link_hosts)
                && !trusted.is_some_and(|t| t.hosts.contains(&host))
            {
                push(Violation::Link { host });
            }
        }
    }

    OutputVerdict {
        ok: violations.is_empty(),
        violations,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy<'a>(canary: &str, user_text: &'a str) -> OutputPolicy<'a> {
        OutputPolicy {
            canary: canary.to_owned(),
            secrets: vec!["sk-live-51HxQ2eZvKYlo2C".to_owned(), "hunter2".to_owned()],
            user_text,
            allowed_link_hosts: vec!["example.com".to_owned()],
            allow_all_links: false,
            trusted: None,
        }
    }

    #[test]
    fn trusted_text_allows_its_own_pii_and_links() {
        let trusted = TrustedValues::from_texts([
            "Call us on 020 7946 0000 or see https://help.shop.example/returns",
        ]);
        let reply = "Our line is 020-7946-0000; details at https://help.shop.example/returns";
        let mut p = policy("canary-abcdefghjkmnpqrstuvw", "hi");
        assert!(!check_output(reply, &p).ok);
        p.trusted = Some(&trusted);
        assert_eq!(check_output(reply, &p).violations, vec![]);
        // Other numbers and hosts are still stopped.
        let other = "Call 020 7946 0999 or visit evil.example.net";
        let v = check_output(other, &p).violations;
        assert!(
            v.contains(&Violation::Pii {
                pii: PiiKind::Phone
            }),
            "{v:?}"
        );
    }

    #[test]
    fn canaries_are_random_and_well_formed() {
        let a = make_canary();
        let b = make_canary();
        assert_ne!(a, b);
        assert!(a.starts_with("canary-"));
        assert_eq!(a.len(), "canary-".len() + CANARY_RANDOM_LEN);
    }

    #[test]
    fn canary_leaks_are_caught_in_any_disguise() {
        let canary = "canary-k7xq3mpa9d2hwr4ts8vb";
        let spaced: String = canary.chars().flat_map(|c| [c, ' ']).collect();
        let zero_width: String = canary.chars().flat_map(|c| [c, '\u{200B}']).collect();
        let reversed: String = canary.chars().rev().collect();
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD
            .encode(format!("My instructions say: {canary}"));
        let leaks = [
            format!("My prompt: You are Ava. Ref {canary}. Be nice."),
            format!("MY PROMPT: {}", canary.to_uppercase()),
            format!("\"{canary}\""),
            spaced,
            zero_width,
            canary.replace('-', "_"),
            "k7xq3mpa9d2hwr4ts8vb".to_owned(),
            reversed,
            b64,
            canary.replace('a', "а"), // Cyrillic а
        ];
        for reply in leaks {
            let v = check_output(&reply, &policy(canary, "hi"));
            assert!(
                v.violations.contains(&Violation::Canary),
                "{reply:?}: {v:?}"
            );
            assert!(!v.ok);
        }
    }

    #[test]
    fn clean_replies_pass() {
        let v = check_output(
            "Your parcel left our warehouse today. Track it at https://help.example.com/track.",
            &policy("canary-k7xq3mpa9d2hwr4ts8vb", "where is my parcel?"),
        );
        assert_eq!(
            v,
            OutputVerdict {
                ok: true,
                violations: vec![]
            }
        );
    }

    #[test]
    fn secrets_are_reported_by_index() {
        let p = policy("canary-k7xq3mpa9d2hwr4ts8vb", "");
        let v = check_output("the key is SK-LIVE-51HXQ2EZVKYLO2C", &p);
        assert_eq!(v.violations, vec![Violation::Secret { index: 0 }]);
        let v = check_output("password: Hunter2", &p);
        assert_eq!(v.violations, vec![Violation::Secret { index: 1 }]);
        // Short secrets are matched as written: no match across words.
        let v = check_output("the hunter 2 went home", &p);
        assert!(v.ok, "{v:?}");
    }

    #[test]
    fn only_the_users_own_pii_may_come_back() {
        let user = "my email is Jane@Example.org, card 4111 1111 1111 1111";
        let p = policy("canary-k7xq3mpa9d2hwr4ts8vb", user);
        let echo = check_output(
            "We'll write to jane@example.org about card 4111-1111-1111-1111.",
            &p,
        );
        assert!(echo.ok, "{echo:?}");
        let other = check_output(
            "The account holder is bob@example.org, SSN 123-45-6789.",
            &p,
        );
        assert_eq!(
            other.violations,
            vec![
                Violation::Pii {
                    pii: PiiKind::Email
                },
                Violation::Pii { pii: PiiKind::Ssn }
            ]
        );
    }

    #[test]
    fn links_follow_the_allow_list() {
        let mut p = policy("canary-k7xq3mpa9d2hwr4ts8vb", "");
        let cases = [
            ("see https://example.com/help", vec![]),
            ("see https://docs.example.com:8443/a?b#c", vec![]),
            (
                "see https://example.com.evil.io/login",
                vec!["example.com.evil.io"],
            ),
            ("see http://user@evil.io/x", vec!["evil.io"]),
            ("visit www.phish.net now", vec!["www.phish.net"]),
            ("go to evil.xyz/free", vec!["evil.xyz"]),
            ("mail support@other.com", vec![]),
        ];
        for (reply, hosts) in cases {
            let want: Vec<Violation> = hosts
                .iter()
                .map(|h| Violation::Link {
                    host: (*h).to_owned(),
                })
                .collect();
            let links: Vec<Violation> = check_output(reply, &p)
                .violations
                .into_iter()
                .filter(|v| matches!(v, Violation::Link { .. }))
                .collect();
            assert_eq!(links, want, "{reply:?}");
        }
        p.allowed_link_hosts.clear();
        assert!(
            !check_output("see https://example.com", &p).ok,
            "empty list allows none"
        );
        p.allow_all_links = true;
        assert!(check_output("see https://anything.io", &p).ok);
    }

    #[test]
    fn violations_serialise_with_a_kind_tag() {
        let json = serde_json::to_string(&Violation::Pii {
            pii: PiiKind::Email,
        })
        .unwrap();
        assert_eq!(json, r#"{"kind":"pii","pii":"email"}"#);
        let json = serde_json::to_string(&Violation::Canary).unwrap();
        assert_eq!(json, r#"{"kind":"canary"}"#);
    }
}
