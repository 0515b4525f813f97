//! Parley through its HTTP API, on a real server bound to an ephemeral port, one fresh data
//! directory per test. `process` runs the real `parley` binary (durability, CLI).

// Helpers outside #[test] functions unwrap too: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod ai;
mod auth;
mod authz;
mod bad_input;
mod bots;
mod browser;
mod conversations;
mod flows;
mod guard;
mod handoff;
mod helpers;
mod keywords;
mod knowledge;
mod limits;
mod outbound;
mod process;
mod system;
mod templates;
mod widget;
