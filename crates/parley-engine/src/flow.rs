//! Running flows: the responders that start a flow, answer its current step, let the user
//! out of it, and hand over to humans; plus idle expiry.
//!
//! A flow's state lives in the session (`mode: flow`, `current_flow_id`, `current_step`,
//! `variables`, `flow_state`), which the engine commits with the turn's messages, so a
//! restart resumes at the same step with the same variables. A conversation runs the flow
//! version it started on (`flow_state.version`); edits apply to conversations that start
//! the flow afterwards, and a deleted flow's running conversations still finish.
//!
//! `whatsapp_flow` steps: no channel Parley has today renders a native WhatsApp Flow, so
//! every channel gets the fallback: the step's `message` (if any), then each field asked
//! as a plain question with its input type and buttons. The session's `current_step` is
//! then `step.field`.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::Duration;
use parley_core::answer::{check_answer, AnswerContext, AnswerRules, InputType};
use parley_core::flow::{ApiFetchConfig, FlowStep, OnFailure, StepType, WhatsappField};
use parley_core::text::normalize_exact;
use parley_core::{Button, Flow, MessageSource, SessionMode, TransferSource};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde_json::{json, Map, Value};

use crate::error::{EngineError, Result};
use crate::outbound::{OutboundError, OutboundRequest};
use crate::route::{Reply, Responder, TurnContext};

pub const FLOW_STARTED: &str = "flow.started";
pub const FLOW_COMPLETED: &str = "flow.completed";
pub const FLOW_ABANDONED: &str = "flow.abandoned";
pub const FLOW_API_FAILED: &str = "flow.api_failed";

/// Largest `api_fetch` response read.
const MAX_FETCH_BYTES: usize = 1024 * 1024;
/// Steps a flow may pass through in one turn without waiting (guards `next_step` cycles).
const MAX_HOPS: usize = 100;
const RETRY_ID: &str = "flow-retry";
const CANCEL_ID: &str = "flow-cancel";
pub const GIVE_UP_TRANSFER_MESSAGE: &str =
    "I'm having trouble with that, so I'm passing you to a member of our team who can help.";
const DEFAULT_FETCH_ERROR: &str =
    "Sorry, I couldn't look that up just now. You can try again, or cancel.";

/// Why a flow ended without completing.
#[derive(Debug, Clone, Copy)]
pub enum Abandon {
    Cancelled,
    Menu,
    Idle,
    TooManyAttempts,
    Transferred,
    Broken,
}

impl Abandon {
    fn as_str(self) -> &'static str {
        match self {
            Abandon::Cancelled => "cancelled",
            Abandon::Menu => "menu",
            Abandon::Idle => "idle",
            Abandon::TooManyAttempts => "too_many_attempts",
            Abandon::Transferred => "transferred",
            Abandon::Broken => "broken",
        }
    }
}

/// The flow the session is inside, at the version it started on.
async fn active_flow(turn: &TurnContext<'_>) -> Result<Option<Arc<Flow>>> {
    let Some(id) = turn.session.current_flow_id else {
        return Ok(None);
    };
    let version = turn.session.flow_state.version;
    if let Some(f) = turn.bot.flow(id) {
        if version.is_none() || version == Some(f.version) {
            return Ok(Some(f.clone()));
        }
    }
    let Some(version) = version else {
        return Ok(None);
    };
    Ok(turn
        .services
        .store
        .flow_version(turn.bot.bot.id, id, version)
        .await?
        .map(Arc::new))
}

/// Leaves the flow (variables are kept, for the agent panel and later flows).
pub fn end_flow(turn: &mut TurnContext<'_>, flow_id: uuid::Uuid, outcome: Option<Abandon>) {
    let step = turn.session.current_step.take();
    turn.session.current_flow_id = None;
    turn.session.flow_state.version = None;
    turn.session.flow_state.attempts = 0;
    turn.session.flow_state.awaiting_retry = false;
    if turn.session.mode == SessionMode::Flow {
        turn.session.mode = SessionMode::Bot;
    }
    if let Some(reason) = outcome {
        turn.event(
            FLOW_ABANDONED,
            json!({"flow_id": flow_id, "step": step, "reason": reason.as_str(),
                   "variables": turn.session.variables}),
        );
    }
}

/// Abandons the session's flow if it has been idle past its deadline at the time of the
/// message being answered. True when it did.
pub fn expire_if_idle(turn: &mut TurnContext<'_>) -> bool {
    if turn.session.mode != SessionMode::Flow {
        return false;
    }
    match (turn.session.expires_at, turn.session.current_flow_id) {
        (Some(deadline), Some(flow_id)) if deadline < turn.now => {
            end_flow(turn, flow_id, Some(Abandon::Idle));
            true
        }
        _ => false,
    }
}

/// The session's idle deadline after a turn: set while inside a flow with a timeout.
pub fn refresh_deadline(turn: &mut TurnContext<'_>) {
    let seconds = turn.bot.settings.flows.session_timeout_seconds;
    turn.session.expires_at = (turn.session.mode == SessionMode::Flow && seconds > 0)
        .then(|| turn.now + Duration::seconds(i64::from(seconds)));
}

fn flow_reply(
    turn: &TurnContext<'_>,
    flow: &Flow,
    step: Option<&str>,
    text: &str,
    buttons: Vec<Button>,
) -> Reply {
    let mut r = turn.reply(MessageSource::Flow, text, buttons);
    r.meta.flow_id = Some(flow.id);
    r.meta.step = step.map(str::to_string);
    r
}

/// Where to go after a step.
enum Next {
    Step(usize),
    End,
}

fn resolve(flow: &Flow, target: &str) -> Next {
    if target == parley_core::flow::END {
        return Next::End;
    }
    flow.step(target).map_or(Next::End, |(i, _)| Next::Step(i))
}

/// The variable's value as text, for branch comparison (dotted names reach into objects).
fn lookup(vars: &Value, name: &str) -> Option<Value> {
    let mut at = vars;
    for part in name.split('.') {
        at = at.get(part)?;
    }
    Some(at.clone())
}

fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn next_after(turn: &TurnContext<'_>, flow: &Flow, i: usize) -> Next {
    let step = &flow.spec.steps[i];
    if let Some(b) = &step.branch {
        let var = b.variable.as_deref().or(step.store_as.as_deref());
        if let Some(var) = var {
            let vars = turn.template_vars();
            let value = lookup(&vars, var).map(|v| normalize_exact(&as_text(&v)));
            let id = lookup(&vars, &format!("{var}_id")).map(|v| normalize_exact(&as_text(&v)));
            for (case, target) in &b.cases {
                let case = normalize_exact(case);
                if value.as_deref() == Some(case.as_str()) || id.as_deref() == Some(case.as_str()) {
                    return resolve(flow, target);
                }
            }
        }
        if let Some(d) = &b.default {
            return resolve(flow, d);
        }
    }
    if let Some(n) = &step.next_step {
        return resolve(flow, n);
    }
    if i + 1 < flow.spec.steps.len() {
        Next::Step(i + 1)
    } else {
        Next::End
    }
}

/// Starts `flow`: its initial message, then its steps up to the first that waits.
pub async fn start(turn: &mut TurnContext<'_>, flow: Arc<Flow>) -> Result<Vec<Reply>> {
    if let Some(old) = turn.session.current_flow_id {
        end_flow(turn, old, Some(Abandon::Cancelled));
    }
    turn.session.mode = SessionMode::Flow;
    turn.session.current_flow_id = Some(flow.id);
    turn.session.flow_state.version = Some(flow.version);
    turn.session.flow_state.attempts = 0;
    turn.session.flow_state.awaiting_retry = false;
    turn.session.flow_state.last_flow_id = Some(flow.id);
    turn.event(
        FLOW_STARTED,
        json!({"flow_id": flow.id, "name": flow.spec.name, "version": flow.version}),
    );
    let mut replies = Vec::new();
    if !flow.spec.initial_message.is_empty() {
        replies.push(flow_reply(
            turn,
            &flow,
            None,
            &flow.spec.initial_message,
            Vec::new(),
        ));
    }
    run(turn, &flow, Next::Step(0), &mut replies).await?;
    Ok(replies)
}

/// Runs steps from `next` until one waits for an answer, the flow hands over, or it ends.
async fn run(
    turn: &mut TurnContext<'_>,
    flow: &Flow,
    mut next: Next,
    replies: &mut Vec<Reply>,
) -> Result<()> {
    let mut hops = 0;
    while let Next::Step(i) = next {
        hops += 1;
        if hops > MAX_HOPS {
            tracing::warn!(flow = %flow.id, "a flow looped through steps without waiting; abandoned");
            end_flow(turn, flow.id, Some(Abandon::Broken));
            replies.push(turn.reply(
                MessageSource::Fallback,
                &turn.bot.settings.fallback_message,
                turn.bot.settings.fallback_buttons.clone(),
            ));
            return Ok(());
        }
        let step = &flow.spec.steps[i];
        let name = step.step_name.as_str();
        match step.message_type {
            StepType::Text | StepType::Buttons => {
                if !step.message.is_empty() {
                    replies.push(flow_reply(
                        turn,
                        flow,
                        Some(name),
                        &step.message,
                        step.buttons.clone(),
                    ));
                }
                if step.waits() {
                    return wait_at(turn, name);
                }
                next = next_after(turn, flow, i);
            }
            StepType::ApiFetch => {
                let Some(api) = &step.api_config else {
                    return Err(EngineError::Conflict(format!(
                        "step `{name}` has no api_config"
                    )));
                };
                match fetch(turn, api).await {
                    Ok(values) => {
                        for (k, v) in values {
                            turn.session.variables.insert(k, v);
                        }
                        if !step.message.is_empty() {
                            replies.push(flow_reply(
                                turn,
                                flow,
                                Some(name),
                                &step.message,
                                step.buttons.clone(),
                            ));
                        }
                        if step.waits() {
                            return wait_at(turn, name);
                        }
                        next = next_after(turn, flow, i);
                    }
                    Err(e) => {
                        tracing::warn!(flow = %flow.id, step = name, error = %e, "api_fetch failed");
                        turn.event(
                            FLOW_API_FAILED,
                            json!({"flow_id": flow.id, "step": name, "error": e.to_string()}),
                        );
                        if let Some(target) = &api.on_error {
                            next = resolve(flow, target);
                            continue;
                        }
                        let text = api.error_message.as_deref().unwrap_or(DEFAULT_FETCH_ERROR);
                        let buttons = vec![
                            Button {
                                id: RETRY_ID.into(),
                                title: "Try again".into(),
                            },
                            Button {
                                id: CANCEL_ID.into(),
                                title: "Cancel".into(),
                            },
                        ];
                        replies.push(flow_reply(turn, flow, Some(name), text, buttons));
                        turn.session.flow_state.awaiting_retry = true;
                        return wait_at(turn, name);
                    }
                }
            }
            StepType::WhatsappFlow => {
                let Some(first) = step.whatsapp_flow.as_ref().and_then(|w| w.fields.first()) else {
                    next = next_after(turn, flow, i);
                    continue;
                };
                if !step.message.is_empty() {
                    replies.push(flow_reply(
                        turn,
                        flow,
                        Some(name),
                        &step.message,
                        Vec::new(),
                    ));
                }
                let at = format!("{name}.{}", first.name);
                replies.push(ask_field(turn, flow, &at, first));
                return wait_at(turn, &at);
            }
            StepType::Transfer => {
                let text = if step.message.is_empty() {
                    turn.bot.settings.transfer_message.clone()
                } else {
                    step.message.clone()
                };
                let text = crate::handoff::handoff_text(turn.bot, turn.now, &text);
                replies.push(flow_reply(turn, flow, Some(name), &text, Vec::new()));
                let config =
                    step.transfer_config
                        .clone()
                        .unwrap_or(parley_core::flow::TransferConfig {
                            team_id: None,
                            notes: None,
                        });
                let notes = config
                    .notes
                    .as_deref()
                    .map(|n| turn.render(n))
                    .unwrap_or_default();
                let team = config.team_id.as_deref().and_then(|t| {
                    let parsed = t.parse().ok();
                    if parsed.is_none() {
                        tracing::warn!(flow = %flow.id, team = t, "transfer_config.team_id is not a team id; using the general queue");
                    }
                    parsed
                });
                complete_event(turn, flow);
                end_flow(turn, flow.id, None);
                turn.open_transfer(TransferSource::Flow, team, notes);
                return Ok(());
            }
        }
    }
    // Past the last step.
    if !flow.spec.completion_message.is_empty() {
        replies.push(flow_reply(
            turn,
            flow,
            None,
            &flow.spec.completion_message,
            Vec::new(),
        ));
    }
    complete_event(turn, flow);
    end_flow(turn, flow.id, None);
    Ok(())
}

fn complete_event(turn: &mut TurnContext<'_>, flow: &Flow) {
    turn.event(
        FLOW_COMPLETED,
        json!({"flow_id": flow.id, "name": flow.spec.name, "version": flow.version,
               "variables": turn.session.variables}),
    );
}

fn wait_at(turn: &mut TurnContext<'_>, step: &str) -> Result<()> {
    turn.session.current_step = Some(step.to_string());
    Ok(())
}

fn field_buttons(field: &WhatsappField) -> Vec<Button> {
    parley_core::button::parse_buttons(field.buttons.clone()).unwrap_or_default()
}

fn ask_field(turn: &TurnContext<'_>, flow: &Flow, at: &str, field: &WhatsappField) -> Reply {
    flow_reply(turn, flow, Some(at), &field.label, field_buttons(field))
}

/// What the current step expects: its input type, rules, buttons and variable.
struct Expect {
    input: InputType,
    rules: AnswerRules,
    buttons: Vec<Button>,
    store_as: Option<String>,
    max_attempts: Option<u32>,
    /// The question, asked again after an invalid answer.
    prompt: String,
}

fn expectation(step: &FlowStep, field: Option<&WhatsappField>) -> Expect {
    match field {
        Some(f) => Expect {
            input: f.input_type,
            rules: AnswerRules::default(),
            buttons: field_buttons(f),
            store_as: Some(f.name.clone()),
            max_attempts: step.max_attempts,
            prompt: f.label.clone(),
        },
        None => Expect {
            input: step.input_type.unwrap_or_default(),
            rules: step.validation.clone().unwrap_or_default(),
            buttons: step.buttons.clone(),
            store_as: step.store_as.clone(),
            max_attempts: step.max_attempts,
            prompt: step.message.clone(),
        },
    }
}

/// Answers the step the session waits at.
async fn answer(turn: &mut TurnContext<'_>, flow: &Flow) -> Result<Vec<Reply>> {
    let mut replies = Vec::new();
    let at = turn.session.current_step.clone().unwrap_or_default();
    let (step_name, field_name) = match at.split_once('.') {
        Some((s, f)) => (s.to_string(), Some(f.to_string())),
        None => (at.clone(), None),
    };
    let Some((i, step)) = flow.step(&step_name) else {
        // The step is gone (it cannot be: versions are kept); leave rather than loop.
        end_flow(turn, flow.id, Some(Abandon::Broken));
        return Ok(replies);
    };
    let fields = step
        .whatsapp_flow
        .as_ref()
        .map(|w| w.fields.as_slice())
        .unwrap_or(&[]);
    let field_pos = field_name
        .as_deref()
        .and_then(|f| fields.iter().position(|x| x.name == f));

    if turn.session.flow_state.awaiting_retry {
        if turn.input.button.as_ref().is_some_and(|b| b.id == RETRY_ID)
            || normalize_exact(&turn.input.text) == "try again"
        {
            turn.session.flow_state.awaiting_retry = false;
            run(turn, flow, Next::Step(i), &mut replies).await?;
            return Ok(replies);
        }
        return invalid(
            turn,
            flow,
            &at,
            step.max_attempts,
            "Please choose Try again, or Cancel.".into(),
            vec![
                Button {
                    id: RETRY_ID.into(),
                    title: "Try again".into(),
                },
                Button {
                    id: CANCEL_ID.into(),
                    title: "Cancel".into(),
                },
            ],
        );
    }

    let expect = expectation(step, field_pos.map(|p| &fields[p]));
    let cx = AnswerContext {
        now: turn.now,
        tz: turn.bot.timezone,
        buttons: &expect.buttons,
        chosen: turn.input.button.as_ref(),
    };
    match check_answer(expect.input, &expect.rules, &turn.input.text, &cx) {
        Ok(answer) => {
            turn.session.flow_state.attempts = 0;
            if let Some(var) = &expect.store_as {
                turn.session.variables.insert(var.clone(), answer.value);
                let chosen = turn.input.button.clone().or_else(|| {
                    parley_core::button::find_by_answer(&expect.buttons, &turn.input.text).cloned()
                });
                if let Some(b) = chosen {
                    turn.session
                        .variables
                        .insert(format!("{var}_id"), json!(b.id));
                }
            }
            if let Some(p) = field_pos {
                if let Some(f) = fields.get(p + 1) {
                    let at = format!("{step_name}.{}", f.name);
                    replies.push(ask_field(turn, flow, &at, f));
                    wait_at(turn, &at)?;
                    return Ok(replies);
                }
            }
            let next = next_after(turn, flow, i);
            run(turn, flow, next, &mut replies).await?;
            Ok(replies)
        }
        Err(inv) => {
            let reason = expect.rules.error_message.clone().unwrap_or(inv.reason);
            let text = if expect.prompt.is_empty() || expect.input == InputType::Select {
                reason
            } else {
                format!("{reason}\n\n{}", expect.prompt)
            };
            invalid(turn, flow, &at, expect.max_attempts, text, expect.buttons)
        }
    }
}

/// An invalid answer: ask again, or give up after too many.
fn invalid(
    turn: &mut TurnContext<'_>,
    flow: &Flow,
    at: &str,
    step_max: Option<u32>,
    text: String,
    buttons: Vec<Button>,
) -> Result<Vec<Reply>> {
    turn.session.flow_state.attempts += 1;
    let max = step_max.unwrap_or(flow.spec.max_attempts);
    if turn.session.flow_state.attempts < max {
        return Ok(vec![flow_reply(turn, flow, Some(at), &text, buttons)]);
    }
    let notes = format!(
        "Flow \"{}\" stopped at step `{at}` after {max} invalid answers.",
        flow.spec.name
    );
    end_flow(turn, flow.id, Some(Abandon::TooManyAttempts));
    Ok(match flow.spec.on_failure {
        OnFailure::Fallback => {
            let s = &turn.bot.settings;
            vec![turn.reply(
                MessageSource::Fallback,
                &s.fallback_message,
                s.fallback_buttons.clone(),
            )]
        }
        OnFailure::Transfer => {
            let text = crate::handoff::handoff_text(turn.bot, turn.now, GIVE_UP_TRANSFER_MESSAGE);
            let reply = turn.reply(MessageSource::Transfer, &text, Vec::new());
            turn.open_transfer(TransferSource::Flow, None, notes);
            vec![reply]
        }
    })
}

// ---------- api_fetch ----------

/// Why an `api_fetch` step got no values.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The request failed: refused destination, timeout, status, size… (`outbound`).
    #[error(transparent)]
    Outbound(#[from] OutboundError),
    #[error("the response is not JSON: {0}")]
    NotJson(String),
    /// A template in the step's URL, headers or body failed: nothing was sent.
    #[error("{0}")]
    Template(String),
}

/// The session's values with every string percent-encoded, for filling URLs.
fn url_safe(v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(utf8_percent_encode(s, NON_ALPHANUMERIC).to_string()),
        Value::Array(a) => Value::Array(a.iter().map(url_safe).collect()),
        Value::Object(o) => {
            Value::Object(o.iter().map(|(k, v)| (k.clone(), url_safe(v))).collect())
        }
        other => other.clone(),
    }
}

fn render_json(turn: &TurnContext<'_>, vars: &Value, v: &Value) -> Result<Value, FetchError> {
    Ok(match v {
        Value::String(s) => Value::String(render_part(turn, vars, s)?),
        Value::Array(a) => Value::Array(
            a.iter()
                .map(|v| render_json(turn, vars, v))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| Ok((k.clone(), render_json(turn, vars, v)?)))
                .collect::<Result<_, FetchError>>()?,
        ),
        other => other.clone(),
    })
}

/// A templated part of the request; a template that fails stops the request.
fn render_part(turn: &TurnContext<'_>, vars: &Value, text: &str) -> Result<String, FetchError> {
    turn.render_for_request(text, vars)
        .map_err(|e| FetchError::Template(format!("a template in the step failed ({})", e.kind())))
}

/// Calls the step's endpoint and maps its JSON response into variables.
async fn fetch(
    turn: &TurnContext<'_>,
    api: &ApiFetchConfig,
) -> std::result::Result<Map<String, Value>, FetchError> {
    let url = render_part(turn, &url_safe(&turn.template_vars()), api.url.trim())?;
    let mut req = OutboundRequest::new(api.method, url)
        .timeout(std::time::Duration::from_millis(api.timeout_ms()))
        .max_bytes(MAX_FETCH_BYTES)
        .header("accept", "application/json");
    for (k, v) in &api.headers {
        req = req.header(k.as_str(), render_part(turn, &turn.template_vars(), v)?);
    }
    if let Some(body) = &api.body {
        req = req.json(&render_json(turn, &turn.template_vars(), body)?);
    }
    let body = turn.services.outbound.fetch(req).await?.body;
    let doc: Value =
        serde_json::from_slice(&body).map_err(|e| FetchError::NotJson(e.to_string()))?;
    let mut out = Map::new();
    for (var, path) in &api.response_mapping {
        match walk(&doc, path) {
            Some(v) => {
                out.insert(var.clone(), v.clone());
            }
            None => {
                tracing::info!(path = %path, "api_fetch response has nothing at this path");
                out.insert(var.clone(), Value::Null);
            }
        }
    }
    Ok(out)
}

/// `data.slots.0.time` into a JSON document (a leading `$.` or `/` is allowed).
fn walk<'a>(doc: &'a Value, path: &str) -> Option<&'a Value> {
    let path = path.trim().trim_start_matches("$.").trim_start_matches('/');
    let mut at = doc;
    for part in path.split(['.', '/']).filter(|p| !p.is_empty()) {
        at = match at {
            Value::Array(a) => a.get(part.parse::<usize>().ok()?)?,
            Value::Object(o) => o.get(part)?,
            _ => return None,
        };
    }
    Some(at)
}

// ---------- responders ----------

/// Inside a flow, a message that is exactly a cancel or menu word leaves the flow.
pub struct FlowEscape;

#[async_trait]
impl Responder for FlowEscape {
    fn name(&self) -> &'static str {
        "flow_escape"
    }

    async fn respond(&self, turn: &mut TurnContext<'_>) -> Result<Option<Vec<Reply>>> {
        if turn.session.mode != SessionMode::Flow {
            return Ok(None);
        }
        let Some(flow_id) = turn.session.current_flow_id else {
            return Ok(None);
        };
        let said = normalize_exact(turn.input.meaning());
        let settings = &turn.bot.settings;
        let is = |words: &[String]| words.iter().any(|w| normalize_exact(w) == said);
        let tapped_cancel = turn
            .input
            .button
            .as_ref()
            .is_some_and(|b| b.id == CANCEL_ID);
        if tapped_cancel || is(&settings.flows.cancel_keywords) {
            end_flow(turn, flow_id, Some(Abandon::Cancelled));
            let r = turn.reply(
                MessageSource::Flow,
                &turn.bot.settings.flows.cancel_message,
                Vec::new(),
            );
            return Ok(Some(vec![r]));
        }
        if is(&settings.flows.menu_keywords) {
            end_flow(turn, flow_id, Some(Abandon::Menu));
            let s = &turn.bot.settings;
            let r = turn.reply(
                MessageSource::Greeting,
                &s.greeting_message,
                s.greeting_buttons.clone(),
            );
            return Ok(Some(vec![r]));
        }
        Ok(None)
    }
}

/// Inside a flow, the message answers the current step.
pub struct InFlow;

#[async_trait]
impl Responder for InFlow {
    fn name(&self) -> &'static str {
        "flow_step"
    }

    async fn respond(&self, turn: &mut TurnContext<'_>) -> Result<Option<Vec<Reply>>> {
        if turn.session.mode != SessionMode::Flow {
            return Ok(None);
        }
        match active_flow(turn).await? {
            Some(flow) => Ok(Some(answer(turn, &flow).await?)),
            None => {
                // The flow cannot be found at its version: leave it and route normally.
                if let Some(id) = turn.session.current_flow_id {
                    end_flow(turn, id, Some(Abandon::Broken));
                } else {
                    turn.session.mode = SessionMode::Bot;
                }
                Ok(None)
            }
        }
    }
}

/// A message matching an enabled flow's trigger keywords starts that flow.
pub struct FlowTriggers;

#[async_trait]
impl Responder for FlowTriggers {
    fn name(&self) -> &'static str {
        "flow_triggers"
    }

    async fn respond(&self, turn: &mut TurnContext<'_>) -> Result<Option<Vec<Reply>>> {
        let Some(found) = turn.bot.flow_triggers.find(turn.input.meaning()) else {
            return Ok(None);
        };
        let Some(flow) = turn.bot.flow(found.rule.id).cloned() else {
            return Ok(None);
        };
        Ok(Some(start(turn, flow).await?))
    }
}

/// The bot's transfer keywords hand the conversation to a human, from anywhere (inside a
/// flow too).
pub struct TransferWords;

#[async_trait]
impl Responder for TransferWords {
    fn name(&self) -> &'static str {
        "transfer_words"
    }

    async fn respond(&self, turn: &mut TurnContext<'_>) -> Result<Option<Vec<Reply>>> {
        let Some(found) = turn.bot.transfer_words.find(turn.input.meaning()) else {
            return Ok(None);
        };
        let keyword = found.keyword.to_string();
        if let Some(flow_id) = turn.session.current_flow_id {
            end_flow(turn, flow_id, Some(Abandon::Transferred));
        }
        let text =
            crate::handoff::handoff_text(turn.bot, turn.now, &turn.bot.settings.transfer_message);
        let reply = turn.reply(MessageSource::Transfer, &text, Vec::new());
        let notes = format!(
            "The user wrote \"{}\" (transfer keyword `{keyword}`).",
            turn.input.text
        );
        turn.open_transfer(TransferSource::Keyword, None, notes);
        Ok(Some(vec![reply]))
    }
}

/// While a human has the conversation, the bot says nothing: messages are stored (and
/// reach agents through the event stream).
pub struct HumanMode;

#[async_trait]
impl Responder for HumanMode {
    fn name(&self) -> &'static str {
        "human_mode"
    }

    async fn respond(&self, turn: &mut TurnContext<'_>) -> Result<Option<Vec<Reply>>> {
        Ok((turn.session.mode == SessionMode::Human).then(Vec::new))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn walks_dotted_paths_and_indexes() {
        let doc = json!({"data": {"slots": [{"time": "9:00"}, {"time": "10:30"}]}});
        assert_eq!(walk(&doc, "data.slots.1.time"), Some(&json!("10:30")));
        assert_eq!(walk(&doc, "$.data.slots.0.time"), Some(&json!("9:00")));
        assert_eq!(walk(&doc, "/data/slots/0/time"), Some(&json!("9:00")));
        assert_eq!(walk(&doc, "data.nope"), None);
        assert_eq!(walk(&doc, "data.slots.x"), None);
    }

    #[test]
    fn url_values_are_encoded() {
        let v = url_safe(&json!({"q": "a b/c?d", "n": 3}));
        assert_eq!(v["q"], json!("a%20b%2Fc%3Fd"));
        assert_eq!(v["n"], json!(3));
    }
}
