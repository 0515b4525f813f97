//! Author-written text through [`parley_core::template`], with the one policy for a
//! template that fails to render: the customer never sees the template's source.
//!
//! - A reply whose template fails gets the bot's fallback text instead (in the
//!   conversation's language when the bot has one). If the fallback is itself a template
//!   and it fails too, a fixed built-in sentence ([`BUILT_IN_FALLBACK`]) is sent.
//! - Text sent to an API (`api_fetch` URL, headers, body) has no fallback: the request is
//!   not made ([`render_for_request`] returns the error).
//! - Every failure is logged at warn with the bot, the conversation when there is one,
//!   the error's kind and message (never the template or what it rendered), and counted
//!   in `parley_template_failures_total{kind}` on `GET /metrics`.
use std::sync::LazyLock;

use parley_core::template::{self, Rendered, TemplateError};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use serde_json::Value;
use uuid::Uuid;

/// Sent when both a reply's template and the bot's fallback template fail.
pub const BUILT_IN_FALLBACK: &str = "Sorry, something went wrong on our side. Please try again.";

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FailureLabels {
    pub kind: &'static str,
}

// One per process, like the templates it counts; registered by the server's metrics.
static FAILURES: LazyLock<Family<FailureLabels, Counter>> = LazyLock::new(Family::default);

/// The failure counters by kind, to register with a metrics registry.
pub fn failures() -> Family<FailureLabels, Counter> {
    FAILURES.clone()
}

/// How many renders failed with `kind` since the process started.
pub fn failure_count(kind: &'static str) -> u64 {
    FAILURES.get_or_create(&FailureLabels { kind }).get()
}

fn record(e: &TemplateError, bot_id: Uuid, conversation: Option<Uuid>, what: &str) {
    FAILURES
        .get_or_create(&FailureLabels { kind: e.kind() })
        .inc();
    tracing::warn!(bot = %bot_id, conversation = ?conversation, kind = e.kind(), error = %e, what, "a template failed to render");
}

/// Renders `text` for a customer; on failure the `fallback` text (see the module doc).
pub fn render_for_customer(
    text: &str,
    vars: &Value,
    fallback: &str,
    bot_id: Uuid,
    conversation: Option<Uuid>,
) -> Rendered {
    match template::render(text, vars) {
        Ok(r) => r,
        Err(e) => {
            record(&e, bot_id, conversation, "message");
            let text = match template::render(fallback, vars) {
                Ok(r) => r.text,
                Err(e) => {
                    record(&e, bot_id, conversation, "fallback");
                    BUILT_IN_FALLBACK.to_string()
                }
            };
            Rendered {
                text,
                unknown: Vec::new(),
            }
        }
    }
}

/// Renders `text` that goes to an API, not to a customer: a failure is returned (and
/// logged and counted) so the caller does not make the request.
pub fn render_for_request(
    text: &str,
    vars: &Value,
    bot_id: Uuid,
    conversation: Option<Uuid>,
) -> Result<String, TemplateError> {
    template::render(text, vars)
        .map(|r| r.text)
        .inspect_err(|e| record(e, bot_id, conversation, "request"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    const STAFF: &str =
        "{% if contact.name == 'staff' %}STAFF-ONLY code 7731{% endif %}Next year: {{ age | int + 1 }}";

    #[test]
    fn a_failing_reply_gets_the_fallback_and_is_counted() {
        let before = failure_count("failed");
        let vars = json!({"age": "forty", "contact": {"name": "Ada"}});
        let r = render_for_customer(STAFF, &vars, "Sorry?", Uuid::nil(), None);
        assert_eq!(r.text, "Sorry?");
        assert!(failure_count("failed") > before);
    }

    #[test]
    fn a_failing_fallback_template_gets_the_built_in_sentence() {
        let vars = json!({"age": "forty"});
        let r = render_for_customer(
            STAFF,
            &vars,
            "{{ age | int }} {{ debug() }}",
            Uuid::nil(),
            None,
        );
        assert_eq!(r.text, BUILT_IN_FALLBACK);
        let r = render_for_customer(STAFF, &vars, "Hi {{ contact.name }}", Uuid::nil(), None);
        assert_eq!(r.text, "Hi ");
    }

    #[test]
    fn a_request_is_not_made_from_a_failed_template() {
        let vars = json!({"age": "forty"});
        assert!(render_for_request("/x/{{ age | int }}", &vars, Uuid::nil(), None).is_err());
        assert_eq!(
            render_for_request("/x/{{ age }}", &vars, Uuid::nil(), None).unwrap(),
            "/x/forty"
        );
    }
}
