//! Parley through its HTTP API, on a real server bound to an ephemeral port, one fresh data
//! directory per test. `process` runs the real `parley` binary (durability, CLI).

mod auth;
mod bad_input;
mod bots;
mod conversations;
mod helpers;
mod keywords;
mod process;
mod system;
