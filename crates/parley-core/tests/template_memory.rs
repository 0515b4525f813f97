//! The memory bound of templates, measured: every render below would allocate hundreds
//! of megabytes to many gigabytes without the budget. With it, each fails (or renders)
//! having allocated, in total, less than `LIMIT` — total allocation is an upper bound
//! of the peak. One test in its own binary, so no other test allocates meanwhile.

use std::alloc::System;

use parley_core::template::{render, TemplateError, MEMORY_BUDGET};
use serde_json::json;
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// A few times the budget: a filter may copy its input once before it is charged.
const LIMIT: usize = 4 * MEMORY_BUDGET;

#[test]
fn no_template_allocates_more_than_a_few_times_the_budget() {
    let vars = json!({"s": "x".repeat(3000), "n": "100000000", "items": ["a", "b"]});
    let cases = [
        r#"{% set s = "x" * 100000000 %}{{ (s ~ s ~ s ~ s) | length }}"#,
        r#"{{ ("x" * (n | int)) | length }}"#,
        r#"{% set a = s ~ s %}{% set a = a ~ a %}{% set a = a ~ a %}{% set a = a ~ a %}{% set a = a ~ a %}{% set a = a ~ a %}{% set a = a ~ a %}{% set a = a ~ a %}{% set a = a ~ a %}{% set a = a ~ a %}{{ a | length }}"#,
        r#"{{ ([1] * 100000000) | list | length }}"#,
        r#"{{ (items * 100000000) | join | length }}"#,
        r#"{% set l = [s, s] %}{% set l = [l, l] %}{% set l = [l, l] %}{% set l = [l, l] %}{% set l = [l, l] %}{% set l = [l, l] %}{% set l = [l, l] %}{% set l = [l, l] %}{% set l = [l, l] %}{% set l = [l, l] %}{{ (l ~ '') | length }}"#,
        r#"{% set c %}{% for i in range(1000) %}{{ s }}{{ s }}{% endfor %}{% endset %}{{ c | length }}"#,
        r#"{{ "x" | center(100000000) }}"#,
        r#"{{ ("%100000000s" | format("x")) | length }}"#,
        r#"{{ (s | replace("", s)) | length }}"#,
        r#"{{ ([1, 2] | batch(100000000, "x")) | length }}"#,
        r#"{% for i in range(100000) %}{{ i }}{% endfor %}"#,
        r#"{% for i in range(1000) %}{{ s }}{% endfor %}"#,
    ];
    for t in cases {
        let region = Region::new(GLOBAL);
        let result = render(t, &vars);
        let stats = region.change();
        let allocated = stats.bytes_allocated + stats.bytes_reallocated.max(0) as usize;
        eprintln!("{allocated:>10} bytes  {t}");
        assert!(
            allocated < LIMIT,
            "{t} allocated {allocated} bytes ({result:?})"
        );
        assert!(
            matches!(
                result,
                Err(TemplateError::Memory
                    | TemplateError::TooLong
                    | TemplateError::Unavailable(_)
                    | TemplateError::Failed(_))
            ),
            "{t} should fail a bound, got {result:?}"
        );
    }
}
