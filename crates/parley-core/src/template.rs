//! `{{var}}` placeholders in bot messages (rules, flows, settings), rendered with
//! [minijinja] configured for text written by a bot's authors and filled with values a
//! customer typed:
//!
//! - no loader and no `multi_template` feature, so a template cannot include, import or
//!   extend anything, nor read files; no `macros` feature, so nothing recurses; no
//!   `debug()` and no `namespace()` (the one way a value outlives a loop iteration);
//! - fuel-limited ([`FUEL`] instructions), so a loop cannot spin;
//! - memory-limited: a render may create at most [`MEMORY_BUDGET`] bytes of values. The
//!   budget is a small patch to minijinja (vendor/minijinja/PARLEY.md): `+`, `*` and `~`
//!   and captured blocks are charged *before* they allocate, every filter, function and
//!   literal is charged by the size of what it returned, and the filters whose output
//!   is not bounded by their inputs (`replace`, `join`, `format`, `batch`, `slice`,
//!   `range`) are wrapped here to charge what they are about to make. So one render
//!   holds at most the budget plus its inputs (times a small constant: a filter copies
//!   its input once before it is charged) — a few MB, never a gigabyte;
//! - output bounded *while* rendering: the text goes into a writer that refuses more
//!   than [`MAX_OUTPUT_CHARS`] characters, so a long loop stops there;
//! - no auto-escaping (messages are plain text; channels escape for themselves);
//! - an unknown variable renders as empty (chainable undefined: `{{a.b.c}}` too), and is
//!   reported back in [`Rendered::unknown`] for the caller to log, never shown to the user.
//!
//! A render that fails — bad syntax stored before it was checked, a filter that cannot
//! convert a customer's answer, fuel, memory, output — is a [`TemplateError`], never
//! text: the template's source (and the branches meant for staff in it) never leaves the
//! server. The engine sends the bot's fallback text instead.
//!
//! Authoring paths call [`check`]: it refuses what does not parse, and what fails a bound
//! or uses something unavailable (`debug()`, `namespace()`, an unknown filter) even with
//! no variable set — a render with every variable empty that runs out of fuel or memory
//! would do so for every customer. What only fails for some values (a huge number typed
//! by a customer) cannot be known then and falls back at render time.
//!
//! Only text written by the bot's authors is rendered; user and AI text never is.

use std::collections::BTreeSet;
use std::io;

use minijinja::value::Rest;
use minijinja::{Environment, ErrorKind, State, UndefinedBehavior, Value as JValue};
use serde_json::Value;

/// Longest rendered message, in characters; a render that writes more fails.
pub const MAX_OUTPUT_CHARS: usize = 8192;
/// Instruction budget per render: plenty for placeholders, filters and small loops.
pub const FUEL: u64 = 50_000;
/// Bytes of values one render may create (strings, lists, captured blocks).
pub const MEMORY_BUDGET: usize = 4 * 1024 * 1024;
/// Most items `range()` gives.
pub const MAX_RANGE: i128 = 1_000;
/// What one list slot costs against the budget.
const SLOT: usize = std::mem::size_of::<JValue>();

/// A rendered message and the placeholders that had no value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub text: String,
    /// Dotted names (`contact.nickname`) that rendered empty because nothing set them.
    pub unknown: Vec<String>,
}

/// Why a template did not render. The text says what went wrong, never the source.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("the template does not parse: {0}")]
    Syntax(String),
    #[error("the template ran out of fuel (more than {FUEL} steps)")]
    Fuel,
    #[error("the template needed more than {MEMORY_BUDGET} bytes of memory")]
    Memory,
    #[error("the template wrote more than {MAX_OUTPUT_CHARS} characters")]
    TooLong,
    #[error("the template uses something that is not available: {0}")]
    Unavailable(String),
    #[error("the template failed: {0}")]
    Failed(String),
}

impl TemplateError {
    /// A short stable name, for logs and the `kind` label of the failure counter.
    pub fn kind(&self) -> &'static str {
        match self {
            TemplateError::Syntax(_) => "syntax",
            TemplateError::Fuel => "fuel",
            TemplateError::Memory => "memory",
            TemplateError::TooLong => "too_long",
            TemplateError::Unavailable(_) => "unavailable",
            TemplateError::Failed(_) => "failed",
        }
    }

    /// Would this failure happen whatever the variables? (Then `check` refuses it.)
    fn is_structural(&self) -> bool {
        matches!(
            self,
            TemplateError::Syntax(_)
                | TemplateError::Fuel
                | TemplateError::Memory
                | TemplateError::TooLong
                | TemplateError::Unavailable(_)
        )
    }
}

/// Does `text` contain template syntax at all? Plain messages skip the engine entirely.
pub fn is_template(text: &str) -> bool {
    text.contains("{{") || text.contains("{%") || text.contains("{#")
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Chainable);
    env.set_fuel(Some(FUEL));
    env.set_memory_budget(Some(MEMORY_BUDGET));
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    // Introspection, and the one object that carries values across loop iterations.
    env.remove_global("debug");
    env.remove_global("namespace");
    // Indentation and debug dumps have no use in a chat message.
    env.remove_filter("indent");
    env.remove_filter("pprint");
    // Filters and functions whose output can be far larger than their input charge
    // what they are about to create, then run the built-in.
    env.add_function("range", range);
    use minijinja::filters;
    let budgeted = [
        (
            "replace",
            JValue::from_function(filters::replace),
            replace_cost as CostFn,
        ),
        ("join", JValue::from_function(filters::join), join_cost),
        (
            "format",
            JValue::from_function(filters::format),
            format_cost,
        ),
        ("batch", JValue::from_function(filters::batch), chunks_cost),
        ("slice", JValue::from_function(filters::slice), chunks_cost),
    ];
    for (name, builtin, cost) in budgeted {
        budgeted_filter(&mut env, name, builtin, cost);
    }
    env
}

type CostFn = fn(&[JValue]) -> usize;

/// Replaces the built-in filter `name` with one that first charges `cost(args)` bytes.
fn budgeted_filter(
    env: &mut Environment<'static>,
    name: &'static str,
    builtin: JValue,
    cost: CostFn,
) {
    env.add_filter(
        name,
        move |state: &State, args: Rest<JValue>| -> Result<JValue, minijinja::Error> {
            state.charge_memory(cost(&args))?;
            builtin.call(state, &args)
        },
    );
}

fn text_of(v: &JValue) -> std::borrow::Cow<'_, str> {
    match v.as_str() {
        Some(s) => std::borrow::Cow::Borrowed(s),
        None => std::borrow::Cow::Owned(v.to_string()),
    }
}

/// `replace(value, from, to)`: the value plus every occurrence grown to `to`'s length
/// (an empty `from` matches between every character).
fn replace_cost(args: &[JValue]) -> usize {
    let (Some(value), Some(from), Some(to)) = (args.first(), args.get(1), args.get(2)) else {
        return 0;
    };
    let (value, from, to) = (text_of(value), text_of(from), text_of(to));
    let hits = if from.is_empty() {
        value.chars().count() + 1
    } else {
        value.matches(from.as_ref()).count()
    };
    value.len().saturating_add(hits.saturating_mul(to.len()))
}

/// `join(items, sep)`: the separator once per item (the items were charged already).
fn join_cost(args: &[JValue]) -> usize {
    let Some(value) = args.first() else {
        return 0;
    };
    // a lazy sequence may not know its length: count it (its items were charged, so
    // there are at most budget / slot size of them)
    let items = value
        .len()
        .or_else(|| value.try_iter().ok().map(Iterator::count))
        .unwrap_or(0);
    let sep = args.get(1).map_or(0, |s| text_of(s).len());
    items.saturating_mul(sep.saturating_add(1))
}

/// `format(fmt, …)`: widths and precisions (`%100000000s`, `%.9999f`) pad the output,
/// so every number written in the format string counts as that many bytes.
fn format_cost(args: &[JValue]) -> usize {
    let Some(fmt) = args.first().and_then(JValue::as_str) else {
        return 0;
    };
    let widths = fmt
        .split(|c: char| !c.is_ascii_digit())
        .filter(|d| !d.is_empty())
        .map(|d| d.parse::<usize>().unwrap_or(usize::MAX))
        .fold(0usize, usize::saturating_add);
    fmt.len().saturating_add(widths)
}

/// `batch(items, n, fill)` / `slice(items, n, fill)`: up to `n` new slots or lists.
fn chunks_cost(args: &[JValue]) -> usize {
    args.get(1)
        .and_then(JValue::as_usize)
        .unwrap_or(0)
        .saturating_mul(SLOT)
}

/// `range()` with at most [`MAX_RANGE`] items (minijinja's own cap is 100,000).
fn range(lower: i64, upper: Option<i64>, step: Option<i64>) -> Result<JValue, minijinja::Error> {
    let (lo, hi) = match upper {
        Some(u) => (i128::from(lower), i128::from(u)),
        None => (0, i128::from(lower)),
    };
    let count = match i128::from(step.unwrap_or(1)) {
        0 => 0,
        s if s > 0 && hi > lo => (hi - lo - 1) / s + 1,
        s if s < 0 && lo > hi => (lo - hi - 1) / -s + 1,
        _ => 0,
    };
    if count > MAX_RANGE {
        return Err(minijinja::Error::new(
            ErrorKind::InvalidOperation,
            format!("range() gives at most {MAX_RANGE} items"),
        ));
    }
    let narrow = |v: i64| {
        isize::try_from(v)
            .map_err(|_| minijinja::Error::new(ErrorKind::InvalidOperation, "range is too large"))
    };
    minijinja::functions::range(
        narrow(lower)?,
        upper.map(narrow).transpose()?,
        step.map(narrow).transpose()?,
    )
}

/// An `io::Write` that refuses to grow past [`MAX_OUTPUT_CHARS`] characters, so the
/// output is bounded while it is written, not cut afterwards.
struct CappedWriter {
    buf: Vec<u8>,
    chars: usize,
    overflowed: bool,
}

impl io::Write for CappedWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        // minijinja writes whole `str`s: count the bytes that start a character.
        let chars = bytes.iter().filter(|b| (**b & 0xC0) != 0x80).count();
        if self.chars + chars > MAX_OUTPUT_CHARS {
            self.overflowed = true;
            return Err(io::Error::other("message too long"));
        }
        self.chars += chars;
        self.buf.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn classify(e: &minijinja::Error, overflowed: bool) -> TemplateError {
    let detail = || e.detail().unwrap_or("").to_string();
    match e.kind() {
        ErrorKind::SyntaxError => TemplateError::Syntax(detail()),
        ErrorKind::OutOfFuel => TemplateError::Fuel,
        ErrorKind::OutOfMemoryBudget => TemplateError::Memory,
        ErrorKind::WriteFailure if overflowed => TemplateError::TooLong,
        ErrorKind::UnknownFunction
        | ErrorKind::UnknownFilter
        | ErrorKind::UnknownTest
        | ErrorKind::UnknownMethod => TemplateError::Unavailable(detail()),
        kind => {
            let d = detail();
            TemplateError::Failed(if d.is_empty() { format!("{kind:?}") } else { d })
        }
    }
}

/// Renders `text` with `vars` (a JSON object: session variables, `contact`, …). Never
/// returns the template's source: a failure is an error for the caller to replace.
pub fn render(text: &str, vars: &Value) -> Result<Rendered, TemplateError> {
    if !is_template(text) {
        return Ok(Rendered {
            text: text.to_string(),
            unknown: Vec::new(),
        });
    }
    let env = environment();
    let template = env
        .template_from_str(text)
        .map_err(|e| classify(&e, false))?;
    let unknown: Vec<String> = template
        .undeclared_variables(true)
        .into_iter()
        .filter(|name| !resolves(vars, name))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut out = CappedWriter {
        buf: Vec::new(),
        chars: 0,
        overflowed: false,
    };
    let result = template.render_captured_to(vars, &mut out).map(|_| ());
    result.map_err(|e| classify(&e, out.overflowed))?;
    let text = String::from_utf8(out.buf)
        .map_err(|_| TemplateError::Failed("the output is not UTF-8".to_string()))?;
    Ok(Rendered { text, unknown })
}

/// Checks `text` when a message is authored: it must parse, and must not fail a bound or
/// use something unavailable when rendered with no variable set (see the module doc).
pub fn check(text: &str) -> Result<(), String> {
    if !is_template(text) {
        return Ok(());
    }
    match render(text, &Value::Object(Default::default())) {
        Err(TemplateError::Syntax(detail)) => Err(format!(
            "the {{{{…}}}} placeholders do not parse: {}",
            if detail.is_empty() {
                "syntax error"
            } else {
                &detail
            }
        )),
        Err(e) if e.is_structural() => Err(format!(
            "the {{{{…}}}} placeholders cannot be rendered: {e}"
        )),
        _ => Ok(()),
    }
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

    fn ok(text: &str, vars: &Value) -> String {
        render(text, vars).unwrap().text
    }

    fn err(text: &str, vars: &Value) -> TemplateError {
        render(text, vars).unwrap_err()
    }

    #[test]
    fn fills_variables_and_contact_fields() {
        let vars = json!({"rating": "Good", "contact": {"name": "Ada"}});
        let r = render("Thanks {{contact.name}}, you said {{ rating }}.", &vars).unwrap();
        assert_eq!(r.text, "Thanks Ada, you said Good.");
        assert!(r.unknown.is_empty());
    }

    #[test]
    fn unknown_variables_render_empty_and_are_reported() {
        let vars = json!({"contact": {}});
        let r = render("Hi {{contact.name}}! Order {{order.id}}.", &vars).unwrap();
        assert_eq!(r.text, "Hi ! Order .");
        assert_eq!(r.unknown, vec!["contact.name", "order.id"]);
    }

    #[test]
    fn plain_text_is_untouched() {
        let r = render("No placeholders, 100% plain {braces}.", &json!({})).unwrap();
        assert_eq!(r.text, "No placeholders, 100% plain {braces}.");
    }

    #[test]
    fn broken_syntax_is_an_error_not_the_source_and_refused_by_check() {
        assert!(matches!(
            err("Hello {{ name", &json!({"name": "x"})),
            TemplateError::Syntax(_)
        ));
        assert!(check("Hello {{ name").is_err());
        assert!(check("Hello {{ name }}").is_ok());
    }

    #[test]
    fn the_issue_flow_template_fails_on_a_word_instead_of_showing_staff_text() {
        let t = "{% if contact.name == 'staff' %}STAFF-ONLY code 7731{% endif %}Next year: {{ age | int + 1 }}";
        let e = err(t, &json!({"age": "forty", "contact": {"name": "Ada"}}));
        assert_eq!(e.kind(), "failed");
        assert!(!e.to_string().contains("STAFF-ONLY"));
        assert_eq!(
            ok(t, &json!({"age": "40", "contact": {"name": "Ada"}})),
            "Next year: 41"
        );
        // it depends on the answer, so it is accepted when authored
        assert!(check(t).is_ok());
    }

    #[test]
    fn loops_are_bounded_by_fuel() {
        let e = err(
            "{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}",
            &json!({}),
        );
        assert_eq!(e, TemplateError::Fuel);
    }

    #[test]
    fn output_is_bounded_while_rendering() {
        // 9,000 characters in 900 writes: stops at the cap instead of cutting after.
        let e = err(
            "{% for i in range(900) %}abcdefghij{% endfor %}",
            &json!({}),
        );
        assert_eq!(e, TemplateError::TooLong);
        assert_eq!(ok("{{ 'ab' * 4096 }}", &json!({})).chars().count(), 8192);
        assert_eq!(err("{{ 'ab' * 4097 }}", &json!({})), TemplateError::TooLong);
        // characters, not bytes
        assert_eq!(ok("{{ 'é' * 8192 }}", &json!({})).chars().count(), 8192);
        assert!(check("{% for i in range(900) %}abcdefghij{% endfor %}").is_err());
    }

    #[test]
    fn the_gigabyte_template_from_the_issue_is_refused_and_fails_fast() {
        let t = r#"{% set s = "x" * 100000000 %}{{ (s ~ s ~ s ~ s) | length }}"#;
        assert_eq!(err(t, &json!({})), TemplateError::Memory);
        let refused = check(t).unwrap_err();
        assert!(refused.contains("memory"), "{refused}");
    }

    /// Each trick below would build hundreds of MB to many GB without the budget; with it
    /// each stops with `Memory` (or a cap) after at most MEMORY_BUDGET bytes. The error
    /// kind is the proof: `Memory` is only raised by a charge that was refused *before*
    /// the allocation it was for.
    #[test]
    fn every_known_way_to_grow_memory_runs_out_of_budget() {
        let big = "x".repeat(3000);
        let vars = json!({"s": big, "n": "100000000", "items": ["a", "b"]});
        let cases = [
            // repetition, with a literal and with a customer's number
            r#"{{ ("x" * 100000000) | length }}"#,
            r#"{{ ("x" * (n | int)) | length }}"#,
            // concatenation doubling through top-level sets
            r#"{% set a = s ~ s %}{% set a = a ~ a %}{% set a = a ~ a %}{% set a = a ~ a %}{% set a = a ~ a %}{% set a = a ~ a %}{% set a = a ~ a %}{% set a = a ~ a %}{% set a = a ~ a %}{% set a = a ~ a %}{{ a | length }}"#,
            r#"{% set a = s + s %}{% set a = a + a %}{% set a = a + a %}{% set a = a + a %}{% set a = a + a %}{% set a = a + a %}{% set a = a + a %}{% set a = a + a %}{% set a = a + a %}{% set a = a + a %}{{ a | length }}"#,
            // lists: repetition, lazy doubling, nesting that displays exponentially
            r#"{{ ([1] * 100000000) | list | length }}"#,
            r#"{{ (items * 100000000) | join | length }}"#,
            r#"{% set l = [s] %}{% set l = l + l %}{% set l = l + l %}{% set l = l + l %}{% set l = l + l %}{% set l = l + l %}{% set l = l + l %}{% set l = l + l %}{% set l = l + l %}{% set l = l + l %}{% set l = l + l %}{{ l | join | length }}"#,
            r#"{% set l = [s, s] %}{% set l = [l, l] %}{% set l = [l, l] %}{% set l = [l, l] %}{% set l = [l, l] %}{% set l = [l, l] %}{% set l = [l, l] %}{% set l = [l, l] %}{% set l = [l, l] %}{% set l = [l, l] %}{{ (l ~ '') | length }}"#,
            // captured blocks in a loop
            r#"{% set c %}{% for i in range(1000) %}{{ s }}{{ s }}{% endfor %}{% endset %}{{ c | length }}"#,
            r#"{% filter upper %}{% for i in range(1000) %}{{ s }}{{ s }}{% endfor %}{% endfilter %}"#,
            // filters that pad or multiply
            r#"{{ ("%100000000s" | format("x")) | length }}"#,
            r#"{{ ("%.100000000f" | format(1.5)) | length }}"#,
            r#"{{ (s | replace("", s)) | length }}"#,
            r#"{{ (s | replace("x", s)) | length }}"#,
            r#"{{ ([1, 2] | batch(100000000, "x")) | length }}"#,
            r#"{{ ([1, 2] | slice(100000000, "x")) | length }}"#,
            r#"{{ (range(1000) | join(s)) | length }}"#,
            // doubling inside a loop (each iteration starts again from the outer value)
            r#"{% for i in range(1000) %}{% set t = s * 1000 %}{% endfor %}"#,
        ];
        for t in cases {
            let e = err(t, &vars);
            assert!(
                matches!(e, TemplateError::Memory),
                "{t} should run out of memory budget, got {e:?}"
            );
        }
    }

    #[test]
    fn a_loop_does_not_carry_a_value_from_one_iteration_to_the_next() {
        let vars = json!({"s": "abc"});
        let t = "{% for i in range(40) %}{% set s = s ~ s %}{% endfor %}{{ s | length }}";
        assert_eq!(ok(t, &vars), "3");
    }

    #[test]
    fn ranges_are_small() {
        assert_eq!(ok("{{ range(1000) | length }}", &json!({})), "1000");
        assert_eq!(
            ok("{{ range(10, 0, -3) | list }}", &json!({})),
            "[10, 7, 4, 1]"
        );
        assert!(matches!(
            err("{{ range(1001) | length }}", &json!({})),
            TemplateError::Failed(_)
        ));
        assert!(matches!(
            err(
                "{{ range(0, 9000000000000000000, 2) | length }}",
                &json!({})
            ),
            TemplateError::Failed(_)
        ));
    }

    #[test]
    fn introspection_recursion_and_carried_state_are_not_available() {
        for t in [
            "{{ debug() }}",
            "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s | length }}",
            "{{ 'x' | pprint }}",
            "{{ 'x' | indent(100000000) }}",
        ] {
            assert!(
                matches!(err(t, &json!({})), TemplateError::Unavailable(_)),
                "{t}"
            );
            assert!(check(t).is_err(), "{t} is refused when authored");
        }
        for t in [
            "{% macro m(s) %}{{ m(s ~ s) }}{% endmacro %}{{ m('x') }}",
            "{% include 'x' %}",
            "{% import 'x' as y %}",
            "{% extends 'x' %}",
        ] {
            assert!(
                matches!(err(t, &json!({})), TemplateError::Syntax(_)),
                "{t}"
            );
            assert!(check(t).is_err(), "{t} is refused when authored");
        }
    }

    #[test]
    fn ordinary_templates_still_work() {
        let vars = json!({
            "slots": ["9:00", "10:30"],
            "price": 12.5,
            "name": "ada lovelace",
            "order": {"items": [{"n": "tea", "q": 2}, {"n": "cake", "q": 1}]},
        });
        for (t, want) in [
            ("Slots: {{ slots | join(', ') }}", "Slots: 9:00, 10:30"),
            ("{{ '%.2f' | format(price) }}", "12.50"),
            ("{{ name | title }}", "Ada Lovelace"),
            ("{{ name | replace('a', 'A') }}", "AdA lovelAce"),
            (
                "{% for i in order['items'] %}{{ i.q }}x {{ i.n }}{% if not loop.last %}, {% endif %}{% endfor %}",
                "2x tea, 1x cake",
            ),
            ("{{ order['items'] | map(attribute='n') | join('/') }}", "tea/cake"),
            ("{% set who = name ~ '!' %}{{ who | upper }}", "ADA LOVELACE!"),
            ("{{ slots | batch(1) | list | length }}", "2"),
            ("{{ price * 2 }} {{ (price + 1) | round }}", "25.0 14.0"),
            ("{{ dict(a=1).a }}", "1"),
        ] {
            assert_eq!(ok(t, &vars), want, "{t}");
        }
    }

    #[test]
    fn no_file_access() {
        let e = err("{% include '/etc/passwd' %}", &json!({}));
        assert!(!e.to_string().contains("root:"));
    }

    proptest::proptest! {
        /// Whatever breaks a template — syntax, a filter on a word, fuel, memory, output
        /// — the result is an error whose text does not contain the template's secret.
        #[test]
        fn a_failing_template_never_returns_its_source(
            secret in "[A-Z]{6}[0-9]{4}",
            breaker in 0usize..8,
            word in "[a-z]{1,8}",
        ) {
            let tail = [
                "{{ age | int + 1 }}",
                "{{ ",
                "{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}",
                "{{ ('x' * 100000000) | length }}",
                "{% for i in range(900) %}abcdefghij{% endfor %}",
                "{{ debug() }}",
                "{% include 'x' %}",
                "{{ age + 1 }}",
            ][breaker];
            let text = format!("{{% if contact.name == 'staff' %}}{secret}{{% endif %}}{tail}");
            let vars = json!({"age": word, "contact": {"name": "Ada"}});
            match render(&text, &vars) {
                Ok(r) => proptest::prop_assert!(!r.text.contains(&secret)),
                Err(e) => proptest::prop_assert!(!e.to_string().contains(&secret)),
            }
        }
    }
}
