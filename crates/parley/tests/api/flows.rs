//! Conversation flows end to end through HTTP: seed 002's Feedback Collection, an
//! appointment booking with `api_fetch` against a local server, validation and re-prompts,
//! branching, escape words, transfers, idle expiry, versions, restarts, the panel.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::Query;
use axum::routing::get;
use parley_engine::Limits;
use parley_server::HttpConfig;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, bad_fields, spawn_app, spawn_app_at, TestApp};

/// Seed 002's example, verbatim but for its placeholder `"team_id": "uuid"`: a flow must
/// name a team of its workspace (422 otherwise, `authz.rs`), so the transfer step names
/// none and goes to the general queue.
fn feedback_collection() -> Value {
    let mut flow = json!({ "name": "Feedback Collection", "trigger_keywords": ["feedback", "review"], "initial_message": "Hi! I'd like to collect your feedback.", "completion_message": "Thank you for your feedback!", "enabled": true, "panel_config": { "sections": [ { "id": "customer", "label": "Customer Info", "columns": 1, "collapsible": true, "default_collapsed": false, "order": 1, "fields": [ {"key": "rating", "label": "Rating", "order": 1}, {"key": "comment", "label": "Comment", "order": 2} ] } ] }, "steps": [ { "step_name": "rating", "step_order": 1, "message": "How would you rate your experience?", "message_type": "buttons", "input_type": "select", "buttons": [ {"id": "excellent", "title": "Excellent"}, {"id": "good", "title": "Good"}, {"id": "poor", "title": "Poor"} ], "store_as": "rating" }, { "step_name": "comment", "step_order": 2, "message": "Any additional comments?", "message_type": "text", "input_type": "text", "store_as": "comment" }, { "step_name": "transfer", "step_order": 3, "message": "Connecting you with our team...", "message_type": "transfer", "transfer_config": { "team_id": "uuid", "notes": "Rating: {{rating}}" } } ]});
    flow["steps"][2]["transfer_config"]
        .as_object_mut()
        .unwrap()
        .remove("team_id");
    flow
}

async fn create_flow(app: &TestApp, bot: &str, flow: Value) -> Value {
    let (status, body) = app.post(&format!("/api/v1/bots/{bot}/flows"), flow).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["data"].clone()
}

async fn tap(app: &TestApp, conversation: &str, button: &str) -> Vec<Value> {
    let (status, body) = app
        .post(
            &format!("/api/v1/conversations/{conversation}/complete"),
            json!({ "button_id": button }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["data"]["messages"].as_array().unwrap().clone()
}

async fn session(app: &TestApp, conversation: &str) -> Value {
    let (status, body) = app
        .get(&format!("/api/v1/conversations/{conversation}/session"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["data"].clone()
}

fn texts(messages: &[Value]) -> Vec<&str> {
    messages
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect()
}

/// The conversation's outbox events of `kind`, read through the staff event stream's
/// store (the same rows the SSE endpoint replays).
async fn events(app: &TestApp, conversation: &str, kind: &str) -> Vec<Value> {
    let ws = app.store.default_workspace().await.unwrap().id;
    app.store
        .events_after(ws, conversation.parse().unwrap(), 0, 500)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == kind)
        .map(|e| e.payload)
        .collect()
}

#[tokio::test]
async fn seed_feedback_flow_is_managed_through_the_api() {
    let app = spawn_app().await;
    let bot = app.create_bot("Shop").await;
    let flow = create_flow(&app, &bot, feedback_collection()).await;
    let id = flow["id"].as_str().unwrap();
    assert_eq!(flow["name"], "Feedback Collection");
    assert_eq!(flow["version"], 1);
    assert_eq!(flow["steps"][0]["buttons"][1]["id"], "good");
    assert_eq!(
        flow["steps"][2]["transfer_config"]["notes"],
        "Rating: {{rating}}"
    );

    let (status, body) = app.get(&format!("/api/v1/bots/{bot}/flows")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["items"].as_array().unwrap().len(), 1);

    let (status, body) = app
        .put(
            &format!("/api/v1/bots/{bot}/flows/{id}"),
            json!({"enabled": false}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["enabled"], false);
    assert_eq!(body["data"]["version"], 2);
    assert_eq!(body["data"]["steps"].as_array().unwrap().len(), 3);

    // A disabled flow does not start.
    let conv = app.start(&bot).await;
    let c = conv["id"].as_str().unwrap();
    let replies = app.say(c, "feedback").await;
    assert_eq!(replies[0]["meta"]["source"], "fallback");

    let (status, _) = app.delete(&format!("/api/v1/bots/{bot}/flows/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app.get(&format!("/api/v1/bots/{bot}/flows/{id}")).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn invalid_flows_are_refused_naming_the_step() {
    let app = spawn_app().await;
    let bot = app.create_bot("Shop").await;
    type Change = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(Change, &str, &str)> = vec![
        (
            Box::new(|f| f["steps"][1]["step_name"] = json!("rating")),
            "steps[1].step_name",
            "rating",
        ),
        (
            Box::new(|f| {
                f["steps"][0]["message_type"] = json!("text");
                f["steps"][0]["buttons"] = json!([]);
            }),
            "steps[0].buttons",
            "rating",
        ),
        (
            Box::new(|f| f["steps"][0]["branch"] = json!({"cases": {"poor": "why"}})),
            "steps[0].branch.cases.poor",
            "why",
        ),
        (
            Box::new(|f| f["steps"][2]["step_order"] = json!(0)),
            "steps[2].message_type",
            "transfer",
        ),
        (
            Box::new(|f| f["panel_config"]["sections"][0]["columns"] = json!(3)),
            "panel_config.sections[0].columns",
            "column",
        ),
    ];
    for (change, field, mentions) in cases {
        let mut flow = feedback_collection();
        change(&mut flow);
        let (status, body) = app.post(&format!("/api/v1/bots/{bot}/flows"), flow).await;
        let error = assert_error(
            status,
            &body,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        );
        assert!(
            bad_fields(&error).contains(&field.to_string()),
            "{field}: {body}"
        );
        assert!(body.to_string().contains(mentions), "{mentions}: {body}");
    }
    // Colours outside the seed's list are refused by name.
    let mut flow = feedback_collection();
    flow["panel_config"]["sections"][0]["fields"][0]["color"] = json!("purple");
    let (status, body) = app.post(&format!("/api/v1/bots/{bot}/flows"), flow).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (_, body) = app.get(&format!("/api/v1/bots/{bot}/flows")).await;
    assert!(
        body["data"]["items"].as_array().unwrap().is_empty(),
        "nothing stored"
    );
}

#[tokio::test]
async fn feedback_flow_runs_to_the_transfer_with_the_collected_answers() {
    let app = spawn_app().await;
    let bot = app.create_bot("Shop").await;
    let flow = create_flow(&app, &bot, feedback_collection()).await;
    let conv = app.start(&bot).await;
    let c = conv["id"].as_str().unwrap();

    // Triggered word-aware, inside a sentence.
    let replies = app.say(c, "I'd like to leave a review please").await;
    assert_eq!(
        texts(&replies),
        [
            "Hi! I'd like to collect your feedback.",
            "How would you rate your experience?"
        ]
    );
    assert_eq!(replies[1]["meta"]["source"], "flow");
    assert_eq!(replies[1]["meta"]["step"], "rating");
    assert_eq!(replies[1]["meta"]["flow_id"], flow["id"]);
    assert_eq!(replies[1]["buttons"].as_array().unwrap().len(), 3);
    let s = session(&app, c).await;
    assert_eq!(s["mode"], "flow");
    assert_eq!(s["current_flow_id"], flow["id"]);
    assert_eq!(s["current_step"], "rating");

    // Not one of the buttons: asked again, with the buttons.
    let replies = app.say(c, "meh").await;
    assert_eq!(replies.len(), 1);
    assert!(
        replies[0]["text"]
            .as_str()
            .unwrap()
            .contains("Excellent, Good, Poor"),
        "{replies:?}"
    );
    assert_eq!(replies[0]["buttons"].as_array().unwrap().len(), 3);

    // A typed title counts as the button.
    let replies = app.say(c, "good").await;
    assert_eq!(texts(&replies), ["Any additional comments?"]);
    let s = session(&app, c).await;
    assert_eq!(s["variables"]["rating"], "Good");
    assert_eq!(s["variables"]["rating_id"], "good");

    let replies = app.say(c, "Delivery was quick").await;
    assert_eq!(texts(&replies), ["Connecting you with our team..."]);
    let s = session(&app, c).await;
    assert_eq!(s["mode"], "human");
    assert!(s["current_flow_id"].is_null());
    assert_eq!(s["variables"]["comment"], "Delivery was quick");

    // The transfer is recorded with its templated notes; no team: the general queue.
    let ws = app.store.default_workspace().await.unwrap().id;
    let transfer = app
        .store
        .open_transfer(ws, c.parse().unwrap())
        .await
        .unwrap()
        .expect("an open transfer");
    assert_eq!(transfer.notes, "Rating: Good");
    assert_eq!(transfer.team_id, None);
    assert_eq!(transfer.source, parley_core::TransferSource::Flow);
    let completed = events(&app, c, "flow.completed").await;
    assert_eq!(completed.len(), 1);
    assert_eq!(completed[0]["variables"]["rating"], "Good");
    assert_eq!(completed[0]["variables"]["comment"], "Delivery was quick");
    assert_eq!(events(&app, c, "transfer.created").await.len(), 1);

    // The bot is silent while a human has the conversation.
    let replies = app.say(c, "hello?").await;
    assert!(replies.is_empty(), "{replies:?}");

    // The panel shows the answers for the agent.
    let (status, body) = app.get(&format!("/api/v1/conversations/{c}/panel")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let fields = &body["data"]["sections"][0]["fields"];
    assert_eq!(fields[0]["label"], "Rating");
    assert_eq!(fields[0]["value"], "Good");
    assert_eq!(fields[1]["value"], "Delivery was quick");
    assert_eq!(body["data"]["flow_name"], "Feedback Collection");
}

/// A flow that branches on the rating and completes (no transfer).
fn rating_flow() -> Value {
    json!({
        "name": "Rate us",
        "trigger_keywords": ["rate"],
        "completion_message": "Thanks {{contact.name}}! You said {{rating}}.",
        "steps": [
            {"step_name": "rating", "step_order": 1, "message": "How was it?", "message_type": "buttons",
             "buttons": [{"id": "great", "title": "Great"}, {"id": "poor", "title": "Poor"}], "store_as": "rating",
             "branch": {"cases": {"poor": "what_went_wrong"}, "default": "end"}},
            {"step_name": "what_went_wrong", "step_order": 2, "message": "Sorry! What went wrong?",
             "message_type": "text", "store_as": "problem"},
            {"step_name": "sorry", "step_order": 3, "message": "We'll look into \"{{problem}}\".", "message_type": "text"}
        ]
    })
}

#[tokio::test]
async fn branches_follow_the_answer_and_templates_fill_in() {
    let app = spawn_app().await;
    let bot = app.create_bot("Shop").await;
    create_flow(&app, &bot, rating_flow()).await;
    let (status, body) = app
        .put(
            &format!("/api/v1/bots/{bot}/settings"),
            json!({"greeting_message": "Hi {{contact.name}}! {{ contact.plan | upper }} member?"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .post(
            "/api/v1/conversations",
            json!({"bot_id": bot, "contact": {"name": "Ada", "attributes": {"plan": "gold"}}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body["data"]["messages"][0]["text"], "Hi Ada! GOLD member?");
    let c = body["data"]["id"].as_str().unwrap().to_string();
    // A placeholder that does not parse is refused when saved.
    let (status, body) = app
        .put(
            &format!("/api/v1/bots/{bot}/settings"),
            json!({"fallback_message": "Oops {{ "}),
        )
        .await;
    let error = assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert_eq!(bad_fields(&error), ["fallback_message"]);

    app.say(&c, "rate").await;
    let replies = tap(&app, &c, "great").await;
    assert_eq!(texts(&replies), ["Thanks Ada! You said Great."]);
    assert_eq!(session(&app, &c).await["mode"], "bot");

    app.say(&c, "rate").await;
    let replies = tap(&app, &c, "poor").await;
    assert_eq!(texts(&replies), ["Sorry! What went wrong?"]);
    let replies = app.say(&c, "cold soup").await;
    assert_eq!(
        texts(&replies),
        [
            "We'll look into \"cold soup\".",
            "Thanks Ada! You said Poor."
        ]
    );
    assert_eq!(events(&app, &c, "flow.completed").await.len(), 2);
}

/// The local HTTP endpoint `api_fetch` steps call: `/slots?date=` answers slots,
/// `/slow` answers too late, `/text` is not JSON, `/flaky` fails once then works.
async fn slots_server() -> (String, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let flaky = calls.clone();
    let app = axum::Router::new()
        .route(
            "/slots",
            get(|Query(q): Query<std::collections::HashMap<String, String>>| async move {
                axum::Json(json!({"data": {"date": q.get("date"), "slots": ["09:00", "11:30", "15:00"]}}))
            }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(3)).await;
                axum::Json(json!({"data": {"slots": []}}))
            }),
        )
        .route("/text", get(|| async { "<html>maintenance</html>" }))
        .route(
            "/flaky",
            get(move || {
                let n = flaky.fetch_add(1, Ordering::SeqCst);
                async move {
                    if n == 0 {
                        Err(StatusCode::INTERNAL_SERVER_ERROR)
                    } else {
                        Ok(axum::Json(json!({"data": {"slots": ["10:00"]}})))
                    }
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), calls)
}

/// Seed 000's appointment booking as data.
fn booking_flow(base: &str, path: &str) -> Value {
    json!({
        "name": "Book an appointment",
        "trigger_keywords": ["appointment", "book"],
        "initial_message": "I'd be happy to help you schedule an appointment!",
        "completion_message": "Excellent! Your {{service}} appointment is confirmed for {{date}} at {{time}}. A confirmation goes to {{email}}.",
        "max_attempts": 3,
        "on_failure": "transfer",
        "panel_config": {"sections": [{"id": "booking", "label": "Booking", "columns": 2, "order": 1, "fields": [
            {"key": "service", "label": "Service", "order": 1, "display_type": "badge", "color": "info"},
            {"key": "date", "label": "Date", "order": 2}]}]},
        "steps": [
            {"step_name": "service", "step_order": 1, "message": "What type of service do you need?", "message_type": "buttons",
             "buttons": [{"title": "Consultation"}, {"title": "Technical Support"}, {"title": "Training Session"}], "store_as": "service"},
            {"step_name": "date", "step_order": 2, "message": "What date would work best for you?", "message_type": "text",
             "input_type": "date", "store_as": "date", "validation": {"allow_past": false}},
            {"step_name": "slots", "step_order": 3, "message": "Available times: {{ slots | join(', ') }}. Which suits you?",
             "message_type": "api_fetch", "input_type": "time", "store_as": "time",
             "api_config": {"url": format!("{base}{path}?date={{{{date}}}}"), "timeout_ms": 500,
                            "response_mapping": {"slots": "data.slots"}}},
            {"step_name": "email", "step_order": 4, "message": "And your e-mail for the confirmation?", "message_type": "text",
             "input_type": "email", "store_as": "email"},
            {"step_name": "confirm", "step_order": 5, "message": "Shall I book it?", "message_type": "text", "input_type": "yes_no",
             "store_as": "confirmed", "branch": {"cases": {"false": "date"}, "default": "end"}}
        ]
    })
}

#[tokio::test]
async fn appointment_booking_validates_fetches_and_confirms() {
    let app = spawn_app().await;
    let (base, _) = slots_server().await;
    let bot = app.create_bot("Clinic").await;
    create_flow(&app, &bot, booking_flow(&base, "/slots")).await;
    let c = app.start(&bot).await["id"].as_str().unwrap().to_string();

    let replies = app.say(&c, "I need to book an appointment").await;
    assert_eq!(texts(&replies)[1], "What type of service do you need?");
    let replies = app.say(&c, "Technical Support").await;
    assert_eq!(texts(&replies), ["What date would work best for you?"]);

    // Not a date, then a past date: re-asked with a helpful reason.
    let replies = app.say(&c, "whenever").await;
    assert!(
        replies[0]["text"]
            .as_str()
            .unwrap()
            .contains("What date would work best"),
        "{replies:?}"
    );
    let replies = app.say(&c, "yesterday").await;
    assert_eq!(replies.len(), 1);
    assert_eq!(session(&app, &c).await["current_step"], "date");

    let replies = app.say(&c, "tomorrow").await;
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1))
        .date_naive()
        .to_string();
    assert_eq!(
        texts(&replies),
        ["Available times: 09:00, 11:30, 15:00. Which suits you?"]
    );
    let s = session(&app, &c).await;
    assert_eq!(s["variables"]["date"], tomorrow.as_str());
    assert_eq!(s["variables"]["slots"], json!(["09:00", "11:30", "15:00"]));

    app.say(&c, "3pm").await;
    let replies = app.say(&c, "not an email").await;
    assert!(
        replies[0]["text"].as_str().unwrap().contains("e-mail"),
        "{replies:?}"
    );
    app.say(&c, "ada@example.com").await;

    // "no" branches back to the date.
    let replies = app.say(&c, "no").await;
    assert_eq!(texts(&replies), ["What date would work best for you?"]);
    app.say(&c, "tomorrow").await;
    app.say(&c, "15:00").await;
    app.say(&c, "ada@example.com").await;
    let replies = app.say(&c, "yes").await;
    assert_eq!(
        texts(&replies),
        [format!("Excellent! Your Technical Support appointment is confirmed for {tomorrow} at 15:00. A confirmation goes to ada@example.com.").as_str()]
    );
    let done = events(&app, &c, "flow.completed").await;
    assert_eq!(done[0]["variables"]["time"], "15:00");
    assert_eq!(done[0]["variables"]["confirmed"], true);

    let (_, body) = app.get(&format!("/api/v1/conversations/{c}/panel")).await;
    assert_eq!(
        body["data"]["sections"][0]["fields"][0]["value"],
        "Technical Support"
    );
    assert_eq!(
        body["data"]["sections"][0]["fields"][0]["display_type"],
        "badge"
    );
}

#[tokio::test]
async fn api_fetch_failures_say_so_and_offer_a_way_on() {
    let app = spawn_app().await;
    let (base, _) = slots_server().await;
    let bot = app.create_bot("Clinic").await;
    for (path, trigger) in [("/slow", "slow"), ("/text", "text"), ("/flaky", "flaky")] {
        let mut flow = booking_flow(&base, path);
        flow["name"] = json!(format!("Booking {trigger}"));
        flow["trigger_keywords"] = json!([trigger]);
        create_flow(&app, &bot, flow).await;
    }
    // A refused connection: a port nothing listens on.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut flow = booking_flow(&format!("http://127.0.0.1:{closed}"), "/slots");
    flow["name"] = json!("Booking refused");
    flow["trigger_keywords"] = json!(["refused"]);
    create_flow(&app, &bot, flow).await;

    for trigger in ["slow", "text", "refused"] {
        let c = app.start(&bot).await["id"].as_str().unwrap().to_string();
        app.say(&c, trigger).await;
        app.say(&c, "Consultation").await;
        let started = std::time::Instant::now();
        let replies = app.say(&c, "tomorrow").await;
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{trigger}: the timeout held"
        );
        assert!(
            replies[0]["text"]
                .as_str()
                .unwrap()
                .contains("couldn't look that up"),
            "{trigger}: {replies:?}"
        );
        let buttons: Vec<&str> = replies[0]["buttons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["title"].as_str().unwrap())
            .collect();
        assert_eq!(buttons, ["Try again", "Cancel"]);
        let failed = events(&app, &c, "flow.api_failed").await;
        assert_eq!(failed.len(), 1, "{trigger}");
        // Cancel leaves the flow cleanly.
        let replies = tap(&app, &c, "flow-cancel").await;
        assert!(
            replies[0]["text"].as_str().unwrap().contains("stopped"),
            "{replies:?}"
        );
        assert_eq!(session(&app, &c).await["mode"], "bot");
    }

    // Try again works once the endpoint recovers.
    let c = app.start(&bot).await["id"].as_str().unwrap().to_string();
    app.say(&c, "flaky").await;
    app.say(&c, "Consultation").await;
    let replies = app.say(&c, "tomorrow").await;
    assert_eq!(replies[0]["buttons"][0]["id"], "flow-retry");
    let replies = tap(&app, &c, "flow-retry").await;
    assert_eq!(
        texts(&replies),
        ["Available times: 10:00. Which suits you?"]
    );
}

#[tokio::test]
async fn escape_words_leave_the_flow() {
    let app = spawn_app().await;
    let bot = app.create_bot("Shop").await;
    let (status, body) = app
        .put(
            &format!("/api/v1/bots/{bot}/settings"),
            json!({"greeting_message": "Hi! Pick one:", "greeting_buttons": [{"title": "Feedback"}],
                   "transfer_keywords": ["human", "talk to an agent"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    create_flow(&app, &bot, feedback_collection()).await;
    let c = app.start(&bot).await["id"].as_str().unwrap().to_string();

    app.say(&c, "feedback").await;
    let replies = app.say(&c, "Cancel!").await;
    assert!(replies[0]["text"].as_str().unwrap().contains("stopped"));
    assert_eq!(session(&app, &c).await["mode"], "bot");
    let abandoned = events(&app, &c, "flow.abandoned").await;
    assert_eq!(abandoned[0]["reason"], "cancelled");
    assert_eq!(abandoned[0]["step"], "rating");

    // Inside an answer, "cancel" is just text.
    app.say(&c, "feedback").await;
    tap(&app, &c, "poor").await;
    let replies = app.say(&c, "I had to cancel my order twice").await;
    assert_eq!(texts(&replies), ["Connecting you with our team..."]);
    // Resume the bot by hand for the rest of the test.
    let ws = app.store.default_workspace().await.unwrap().id;
    let mut s = app
        .store
        .get_session(ws, c.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s.mode, parley_core::SessionMode::Human);
    s.mode = parley_core::SessionMode::Bot;

    let c = app.start(&bot).await["id"].as_str().unwrap().to_string();
    app.say(&c, "feedback").await;
    let replies = app.say(&c, "menu").await;
    assert_eq!(texts(&replies), ["Hi! Pick one:"]);
    assert_eq!(replies[0]["buttons"][0]["title"], "Feedback");
    assert_eq!(session(&app, &c).await["mode"], "bot");

    app.say(&c, "feedback").await;
    let replies = app.say(&c, "can I talk to an agent").await;
    assert_eq!(replies[0]["meta"]["source"], "transfer");
    let s = session(&app, &c).await;
    assert_eq!(s["mode"], "human");
    let abandoned = events(&app, &c, "flow.abandoned").await;
    assert_eq!(abandoned.last().unwrap()["reason"], "transferred");
    let transfer = app
        .store
        .open_transfer(ws, c.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(transfer.source, parley_core::TransferSource::Keyword);
}

#[tokio::test]
async fn too_many_invalid_answers_end_the_flow_as_configured() {
    let app = spawn_app().await;
    let bot = app.create_bot("Shop").await;
    let mut flow = rating_flow();
    flow["max_attempts"] = json!(2);
    create_flow(&app, &bot, flow).await;
    let c = app.start(&bot).await["id"].as_str().unwrap().to_string();
    app.say(&c, "rate").await;
    app.say(&c, "hmm").await;
    let replies = app.say(&c, "dunno").await;
    assert_eq!(replies[0]["meta"]["source"], "fallback");
    assert_eq!(session(&app, &c).await["mode"], "bot");
    let abandoned = events(&app, &c, "flow.abandoned").await;
    assert_eq!(abandoned[0]["reason"], "too_many_attempts");

    // The booking flow is configured to transfer instead.
    let (base, _) = slots_server().await;
    create_flow(&app, &bot, booking_flow(&base, "/slots")).await;
    let c = app.start(&bot).await["id"].as_str().unwrap().to_string();
    app.say(&c, "book").await;
    for _ in 0..3 {
        app.say(&c, "something else").await;
    }
    let s = session(&app, &c).await;
    assert_eq!(s["mode"], "human");
    let ws = app.store.default_workspace().await.unwrap().id;
    let transfer = app
        .store
        .open_transfer(ws, c.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(
        transfer.notes.contains("step `service`"),
        "{}",
        transfer.notes
    );
}

#[tokio::test]
async fn idle_flows_expire_and_the_next_message_routes_normally() {
    let app = spawn_app().await;
    let bot = app.create_bot("Shop").await;
    let (status, body) = app
        .put(
            &format!("/api/v1/bots/{bot}/settings"),
            json!({"flows": {"session_timeout_seconds": 1, "cancel_keywords": ["cancel"], "cancel_message": "Stopped.", "menu_keywords": []}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.create_rule(&bot, json!({"name": "hours", "keywords": ["hours"], "match_type": "contains", "response": "9 to 5."})).await;
    create_flow(&app, &bot, rating_flow()).await;

    let c = app.start(&bot).await["id"].as_str().unwrap().to_string();
    app.say(&c, "rate").await;
    let s = session(&app, &c).await;
    assert!(s["expires_at"].is_string(), "{s}");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let replies = app.say(&c, "hours").await;
    assert_eq!(texts(&replies), ["9 to 5."]);
    let abandoned = events(&app, &c, "flow.abandoned").await;
    assert_eq!(abandoned[0]["reason"], "idle");

    // The sweeper ends idle flows without waiting for a message.
    let c = app.start(&bot).await["id"].as_str().unwrap().to_string();
    app.say(&c, "rate").await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let engine = parley_engine::Engine::new(app.store.clone(), Limits::default());
    assert_eq!(
        engine.expire_idle_flows(chrono::Utc::now()).await.unwrap(),
        1
    );
    let s = session(&app, &c).await;
    assert_eq!(s["mode"], "bot");
    assert!(s["expires_at"].is_null());
    let (status, body) = app
        .get(&format!("/api/v1/sessions?bot_id={bot}&mode=flow"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body["data"]["items"].as_array().unwrap().is_empty(),
        "{body}"
    );
}

#[tokio::test]
async fn conversations_finish_the_flow_version_they_started() {
    let app = spawn_app().await;
    let bot = app.create_bot("Shop").await;
    let flow = create_flow(&app, &bot, rating_flow()).await;
    let id = flow["id"].as_str().unwrap();
    let old = app.start(&bot).await["id"].as_str().unwrap().to_string();
    app.say(&old, "rate").await;

    let mut steps = rating_flow()["steps"].clone();
    steps[1]["message"] = json!("Oh no. Tell us more?");
    let (status, body) = app
        .put(
            &format!("/api/v1/bots/{bot}/flows/{id}"),
            json!({"steps": steps}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let replies = tap(&app, &old, "poor").await;
    assert_eq!(
        texts(&replies),
        ["Sorry! What went wrong?"],
        "the started version"
    );
    let new = app.start(&bot).await["id"].as_str().unwrap().to_string();
    app.say(&new, "rate").await;
    let replies = tap(&app, &new, "poor").await;
    assert_eq!(texts(&replies), ["Oh no. Tell us more?"], "the new version");

    // Deleting the flow lets the old conversation finish.
    let (status, _) = app.delete(&format!("/api/v1/bots/{bot}/flows/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    let replies = app.say(&old, "late parcel").await;
    assert_eq!(replies.len(), 2, "{replies:?}");
    assert_eq!(session(&app, &old).await["mode"], "bot");
}

#[tokio::test]
async fn a_restart_resumes_the_flow_at_the_same_step_with_its_variables() {
    let dir = tempfile::tempdir().unwrap();
    let (bot, c) = {
        let app = spawn_app_at(dir.path(), HttpConfig::default(), Limits::default()).await;
        let bot = app.create_bot("Shop").await;
        create_flow(&app, &bot, rating_flow()).await;
        let c = app.start(&bot).await["id"].as_str().unwrap().to_string();
        app.say(&c, "rate").await;
        tap(&app, &c, "poor").await;
        (bot, c)
    };
    // The first server has stopped; a new one opens the same data.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let app = spawn_app_at(dir.path(), HttpConfig::default(), Limits::default()).await;
    let s = session(&app, &c).await;
    assert_eq!(s["current_step"], "what_went_wrong");
    assert_eq!(s["variables"]["rating"], "Poor");
    let replies = app.say(&c, "noisy").await;
    assert_eq!(texts(&replies)[0], "We'll look into \"noisy\".");
    let _ = bot;
}

#[tokio::test]
async fn whatsapp_flows_are_asked_field_by_field_elsewhere() {
    let app = spawn_app().await;
    let bot = app.create_bot("Shop").await;
    create_flow(
        &app,
        &bot,
        json!({"name": "Sign up", "trigger_keywords": ["sign up"], "completion_message": "Welcome, {{name}} ({{size}})!",
               "steps": [{"step_name": "form", "step_order": 1, "message": "A few details:", "message_type": "whatsapp_flow",
                          "whatsapp_flow": {"flow_id": "123456", "cta": "Open form", "fields": [
                              {"name": "name", "label": "Your name?"},
                              {"name": "size", "label": "Shirt size?", "input_type": "select", "buttons": [{"title": "S"}, {"title": "M"}, {"title": "L"}]}]}}]}),
    )
    .await;
    let c = app.start(&bot).await["id"].as_str().unwrap().to_string();
    let replies = app.say(&c, "sign up").await;
    assert_eq!(texts(&replies), ["A few details:", "Your name?"]);
    assert_eq!(session(&app, &c).await["current_step"], "form.name");
    let replies = app.say(&c, "Grace").await;
    assert_eq!(texts(&replies), ["Shirt size?"]);
    assert_eq!(replies[0]["buttons"].as_array().unwrap().len(), 3);
    let replies = app.say(&c, "m").await;
    assert_eq!(texts(&replies), ["Welcome, Grace (M)!"]);
}

#[tokio::test]
async fn flows_travel_in_the_bot_file() {
    let app = spawn_app().await;
    let (status, body) = app
        .post(
            "/api/v1/bots/import",
            json!({"name": "Flow Bot", "flows": [feedback_collection()]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let bot = body["data"]["bot"]["id"].as_str().unwrap().to_string();
    let (_, flows) = app.get(&format!("/api/v1/bots/{bot}/flows")).await;
    assert_eq!(flows["data"]["items"][0]["name"], "Feedback Collection");

    let (status, exported) = app.get(&format!("/api/v1/bots/{bot}/export")).await;
    assert_eq!(status, StatusCode::OK);
    let flow = &exported["data"]["flows"][0];
    assert_eq!(flow["name"], "Feedback Collection");
    assert_eq!(flow["steps"][0]["step_name"], "rating");

    // Re-importing the export changes nothing; a file without the flow removes it.
    let (status, _) = app
        .post("/api/v1/bots/import", exported["data"].clone())
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, again) = app.get(&format!("/api/v1/bots/{bot}/flows")).await;
    assert_eq!(again["data"]["items"][0]["version"], 1);
    let (status, _) = app
        .post(
            "/api/v1/bots/import",
            json!({"id": bot, "name": "Flow Bot"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, gone) = app.get(&format!("/api/v1/bots/{bot}/flows")).await;
    assert!(gone["data"]["items"].as_array().unwrap().is_empty());
}
