//! Parley patch: a per-render memory budget.
//!
//! Fuel bounds how many instructions run, not how much they allocate: one `~`,
//! `*` or captured block can build a string of any size.  The budget is a number
//! of bytes a render may create.  It is charged
//!
//! - *before* the operations whose result can be much larger than their operands
//!   (string and sequence repetition, `+` and `~`, output captured by
//!   `{% set %}…{% endset %}`, `{% filter %}` and recursive loops), so a single
//!   operation never allocates past the budget, and
//! - *after* every filter, function, method or object call and every list or map
//!   literal, by the size of the value it returned ([`value_size`]), so chains of
//!   calls that each grow their input a little run out of budget too.
//!
//! Charges are never refunded: the budget is the total a render may create, which
//! bounds what it can hold at once.  Once exceeded, every further charge fails and
//! the error of the render is [`ErrorKind::OutOfMemoryBudget`].
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use crate::error::{Error, ErrorKind};
use crate::value::{Value, ValueKind};

/// What one slot of a sequence or map costs, beyond the data it points to.
pub(crate) const SLOT_SIZE: usize = std::mem::size_of::<Value>();

/// Nesting below this depth is counted as one slot per value (each deeper value
/// was charged when it was created).
const MAX_WALK_DEPTH: usize = 128;

/// Bytes a render may still create.
#[derive(Debug)]
pub struct MemoryBudget {
    remaining: AtomicUsize,
    exceeded: AtomicBool,
}

impl MemoryBudget {
    /// A budget of `bytes`, shared by nested evaluations of one render.
    pub fn new(bytes: usize) -> Arc<MemoryBudget> {
        Arc::new(MemoryBudget {
            remaining: AtomicUsize::new(bytes),
            exceeded: AtomicBool::new(false),
        })
    }

    /// Takes `bytes` from the budget, or fails (and stays failed) if there are
    /// not that many left.
    pub fn charge(&self, bytes: usize) -> Result<(), Error> {
        let taken = self
            .remaining
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                left.checked_sub(bytes)
            });
        match taken {
            Ok(_) if !self.exceeded() => Ok(()),
            _ => {
                self.exceeded.store(true, Ordering::Relaxed);
                self.remaining.store(0, Ordering::Relaxed);
                Err(Error::from(ErrorKind::OutOfMemoryBudget))
            }
        }
    }

    /// Charges the size of a value that was just created.
    pub fn charge_value(&self, value: &Value) -> Result<(), Error> {
        self.charge(value_size(value, self.remaining()))
    }

    /// Bytes left.
    pub fn remaining(&self) -> usize {
        self.remaining.load(Ordering::Relaxed)
    }

    /// Has a charge failed?
    pub fn exceeded(&self) -> bool {
        self.exceeded.load(Ordering::Relaxed)
    }
}

/// The bytes a value holds: a string's length, a slot per item of a sequence or
/// map plus what the items hold, nothing for numbers and other scalars.  Shared
/// items count each time they appear (that is what rendering or joining them
/// would produce).  The walk stops once it passes `limit`, so its cost is bounded
/// by the budget it checks against: it returns something larger than `limit`.
pub fn value_size(value: &Value, limit: usize) -> usize {
    let mut acc = 0usize;
    walk(value, &mut acc, limit, 0);
    acc
}

fn walk(value: &Value, acc: &mut usize, limit: usize, depth: usize) {
    if *acc > limit {
        return;
    }
    match value.kind() {
        ValueKind::String => {
            *acc = acc.saturating_add(value.as_str().map_or(0, str::len));
        }
        ValueKind::Bytes => {
            *acc = acc.saturating_add(value.as_bytes().map_or(0, <[u8]>::len));
        }
        ValueKind::Seq | ValueKind::Iterable | ValueKind::Map => {
            if depth >= MAX_WALK_DEPTH {
                *acc = acc.saturating_add(SLOT_SIZE);
                return;
            }
            let is_map = value.kind() == ValueKind::Map;
            let Ok(iter) = value.try_iter() else {
                *acc = acc.saturating_add(SLOT_SIZE);
                return;
            };
            for item in iter {
                *acc = acc.saturating_add(SLOT_SIZE);
                walk(&item, acc, limit, depth + 1);
                if is_map {
                    if let Ok(v) = value.get_item(&item) {
                        *acc = acc.saturating_add(SLOT_SIZE);
                        walk(&v, acc, limit, depth + 1);
                    }
                }
                if *acc > limit {
                    return;
                }
            }
        }
        _ => {}
    }
}

/// What `+` (`op == "add"`) or `*` (`"mul"`) on `a` and `b` will create, before
/// it runs: the joined strings or sequences, or the repeated string or sequence.
/// Numbers cost nothing.
pub(crate) fn binop_cost(op: &str, a: &Value, b: &Value, limit: usize) -> usize {
    let is_seq = |v: &Value| matches!(v.kind(), ValueKind::Seq | ValueKind::Iterable);
    match op {
        "add" => {
            if let (Some(x), Some(y)) = (a.as_str(), b.as_str()) {
                x.len().saturating_add(y.len())
            } else if is_seq(a) && is_seq(b) {
                value_size(a, limit).saturating_add(value_size(b, limit))
            } else {
                0
            }
        }
        "mul" => {
            let (item, n) = if a.as_str().is_some() || is_seq(a) {
                (a, b)
            } else {
                (b, a)
            };
            let Some(n) = n.as_usize() else {
                return 0;
            };
            if let Some(s) = item.as_str() {
                s.len().saturating_mul(n)
            } else if is_seq(item) {
                // a slot per repetition even for an empty sequence: iterating
                // `[] * n` still takes n steps
                value_size(item, limit)
                    .saturating_add(SLOT_SIZE)
                    .saturating_mul(n)
            } else {
                0
            }
        }
        _ => 0,
    }
}

/// The largest result constant folding may compute at compile time.
const FOLD_LIMIT: usize = 4096;

/// May `a <op> b` on two constants be computed at compile time? Only if the
/// result is small: folding happens outside the budget.
pub(crate) fn can_fold(op: &str, a: &Value, b: &Value) -> bool {
    let cost = if op == "concat" {
        // constants that reach here are literals or small folded values
        let len = |v: &Value| v.as_str().map_or_else(|| v.to_string().len(), str::len);
        len(a).saturating_add(len(b))
    } else {
        binop_cost(op, a, b, FOLD_LIMIT)
    };
    cost <= FOLD_LIMIT
}

/// A string that charges the budget before it grows: used for `~`.
pub(crate) struct BudgetedString<'a> {
    pub(crate) buf: String,
    pub(crate) budget: &'a MemoryBudget,
}

impl std::fmt::Write for BudgetedString<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.budget.charge(s.len()).map_err(|_| std::fmt::Error)?;
        self.buf.push_str(s);
        Ok(())
    }
}
