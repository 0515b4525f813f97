//! `{{var}}` placeholders in bot messages (rules, flows, settings), rendered with
//! [minijinja] configured for untrusted-ish authoring:
//!
//! - no loader, so a template cannot include or read files;
//! - fuel-limited, so a loop cannot spin, and output capped at [`MAX_OUTPUT_CHARS`];
//! - no auto-escaping (messages are plain text; channels escape for themselves);
//! - an unknown variable renders as empty (chainable undefined: `{{a.b.c}}` too), and is
//!   reported back in [`Rendered::unknown`] for the caller to log, never shown to the user;
//! - a template that does not parse is sent as written (and reported), so a stray `{{` in a
//!   message never breaks a conversation. Authoring paths check syntax with [`check`].
//!
//! Only text written by the bot's authors is rendered; user and AI text never is.

use std::collections::BTreeSet;

use minijinja::{Environment, UndefinedBehavior};
use serde_json::Value;

/// Longest rendered message; the rest is cut.
pub const MAX_OUTPUT_CHARS: usize = 8192;
/// Instruction budget per render: plenty for placeholders, filters and small loops.
const FUEL: u64 = 50_000;

/// A rendered message and the placeholders that had no value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub text: String,
    /// Dotted names (`contact.nickname`) that rendered empty because nothing set them.
    pub unknown: Vec<String>,
    /// Set when the template could not be rendered and was sent as written.
    pub error: Option<String>,
}

/// Does `text` contain template syntax at all? Plain messages skip the engine entirely.
pub fn is_template(text: &str) -> bool {
    text.contains("{{") || text.contains("{%") || text.contains("{#")
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Chainable);
    env.set_fuel(Some(FUEL));
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    env
}

/// Renders `text` with `vars` (a JSON object: session variables, `contact`, …).
pub fn render(text: &str, vars: &Value) -> Rendered {
    if !is_template(text) {
        return Rendered {
            text: text.to_string(),
            unknown: Vec::new(),
            error: None,
        };
    }
    let env = environment();
    let template = match env.template_from_str(text) {
        Ok(t) => t,
        Err(e) => {
            return Rendered {
                text: text.to_string(),
                unknown: Vec::new(),
                error: Some(e.to_string()),
            }
        }
    };
    let unknown: Vec<String> = template
        .undeclared_variables(true)
        .into_iter()
        .filter(|name| !resolves(vars, name))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    match template.render(vars) {
        Ok(mut out) => {
            if out.chars().count() > MAX_OUTPUT_CHARS {
                out = out.chars().take(MAX_OUTPUT_CHARS).collect();
            }
            Rendered {
                text: out,
                unknown,
                error: None,
            }
        }
        Err(e) => Rendered {
            text: text.to_string(),
            unknown,
            error: Some(e.to_string()),
        },
    }
}

/// Checks that `text` parses as a template: for validation when a message is authored.
pub fn check(text: &str) -> Result<(), String> {
    if !is_template(text) {
        return Ok(());
    }
    let env = environment();
    env.template_from_str(text).map(|_| ()).map_err(|e| {
        format!(
            "the {{{{…}}}} placeholders do not parse: {}",
            e.detail().unwrap_or("syntax error")
        )
    })
}

/// Does the dotted `name` (`contact.name`) lead to a value in `vars`?
fn resolves(vars: &Value, name: &str) -> bool {
    let mut at = vars;
    for part in name.split('.') {
        match at.get(part) {
            Some(v) => at = v,
            None => return false,
        }
    }
    !at.is_null()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fills_variables_and_contact_fields() {
        let vars = json!({"rating": "Good", "contact": {"name": "Ada"}});
        let r = render("Thanks {{contact.name}}, you said {{ rating }}.", &vars);
        assert_eq!(r.text, "Thanks Ada, you said Good.");
        assert!(r.unknown.is_empty());
        assert!(r.error.is_none());
    }

    #[test]
    fn unknown_variables_render_empty_and_are_reported() {
        let vars = json!({"contact": {}});
        let r = render("Hi {{contact.name}}! Order {{order.id}}.", &vars);
        assert_eq!(r.text, "Hi ! Order .");
        assert_eq!(r.unknown, vec!["contact.name", "order.id"]);
        assert!(r.error.is_none());
    }

    #[test]
    fn plain_text_is_untouched() {
        let r = render("No placeholders, 100% plain {braces}.", &json!({}));
        assert_eq!(r.text, "No placeholders, 100% plain {braces}.");
    }

    #[test]
    fn broken_syntax_is_sent_as_written_and_refused_by_check() {
        let r = render("Hello {{ name", &json!({"name": "x"}));
        assert_eq!(r.text, "Hello {{ name");
        assert!(r.error.is_some());
        assert!(check("Hello {{ name").is_err());
        assert!(check("Hello {{ name }}").is_ok());
    }

    #[test]
    fn loops_are_bounded_by_fuel_and_output_is_capped() {
        let r = render(
            "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
            &json!({}),
        );
        assert!(r.error.is_some(), "an endless loop runs out of fuel");
        let r = render("{{ 'ab' * 10000 }}", &json!({}));
        assert!(r.text.chars().count() <= MAX_OUTPUT_CHARS);
    }

    #[test]
    fn no_file_access() {
        let r = render("{% include '/etc/passwd' %}", &json!({}));
        assert!(r.error.is_some());
        assert!(!r.text.contains("root:"));
    }

    #[test]
    fn lists_can_be_joined() {
        let r = render(
            "Slots: {{ slots | join(', ') }}",
            &json!({"slots": ["9:00", "10:30"]}),
        );
        assert_eq!(r.text, "Slots: 9:00, 10:30");
    }
}
