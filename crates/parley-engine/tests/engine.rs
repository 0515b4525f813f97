//! The engine end to end over a real SQLite store: greetings, rules, fallback, buttons,
//! send/receive, ordering, and rule changes taking effect.

// Helpers outside #[test] functions unwrap too: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use parley_core::{
    BotDefinition, KeywordRuleInput, KeywordRulePatch, MatchType, MessageRole, MessageSource,
    SettingsPatch,
};
use parley_engine::{Engine, EngineError, Inbound, Limits, StartConversation};
use parley_store::{PageRequest, SqliteStore, Store};
use uuid::Uuid;

struct Harness {
    _dir: tempfile::TempDir,
    engine: Arc<Engine>,
    ws: Uuid,
    bot: Uuid,
}

async fn harness() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path()).await.unwrap());
    let ws = store.default_workspace().await.unwrap().id;
    let engine = Arc::new(Engine::new(store, Limits::default()));
    let def = shop_definition();
    let (bot, _) = engine.import_bot(ws, def).await.unwrap();
    Harness {
        _dir: dir,
        engine,
        ws,
        bot: bot.id,
    }
}

/// A small shop bot, in the bot-as-code shape (as JSON: the engine has no YAML parser).
fn shop_definition() -> BotDefinition {
    serde_json::from_value(serde_json::json!({
        "name": "Shop",
        "settings": {
            "greeting_message": "Welcome! What can I do?",
            "greeting_buttons": [{"title": "Track Order"}, {"title": "Returns"}],
            "fallback_message": "Sorry, I didn't get that.",
            "fallback_buttons": [{"title": "Main Menu"}]
        },
        "keywords": [
            {"name": "hours", "keywords": ["hours", "open"], "match_type": "contains",
             "response": "We're open 9 to 5.", "priority": 1},
            {"name": "track", "keywords": ["track order", "where is my order"], "match_type": "contains",
             "response": "Give me your order number.", "priority": 5},
            {"name": "returns", "keywords": ["returns"], "match_type": "exact",
             "response": "Returns are free within 30 days.",
             "buttons": [{"title": "Start a return"}, {"title": "Policy"}]}
        ]
    }))
    .unwrap()
}

impl Harness {
    async fn start_view(&self) -> parley_engine::ConversationView {
        self.engine
            .start_conversation(
                self.ws,
                StartConversation {
                    bot_id: self.bot,
                    ..Default::default()
                },
            )
            .await
            .unwrap()
    }

    async fn start(&self) -> Uuid {
        self.start_view().await.conversation.id
    }

    async fn history(&self, conv: Uuid) -> Vec<parley_core::Message> {
        self.engine
            .store()
            .list_messages(
                self.ws,
                conv,
                &PageRequest {
                    limit: Some(200),
                    cursor: None,
                },
            )
            .await
            .unwrap()
            .items
    }

    async fn say(&self, conv: Uuid, text: &str) -> Vec<parley_core::Message> {
        self.engine
            .complete(self.ws, conv, Inbound::Text(text.into()))
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn greets_with_buttons_then_answers_rules_and_falls_back() {
    let h = harness().await;
    let view = h.start_view().await;
    let greeting = &view.messages.as_ref().unwrap()[0];
    assert_eq!(greeting.text, "Welcome! What can I do?");
    assert_eq!(greeting.meta.source, Some(MessageSource::Greeting));
    assert_eq!(greeting.buttons.len(), 2);
    let conv = view.conversation.id;

    let r = h.say(conv, "When are you OPEN?").await;
    assert_eq!(r[0].text, "We're open 9 to 5.");
    assert_eq!(r[0].meta.source, Some(MessageSource::Rule));
    assert!(r[0].meta.rule_id.is_some());

    // Both rules match; "track" has the higher priority.
    let r = h.say(conv, "where is my order? what hours?").await;
    assert_eq!(r[0].text, "Give me your order number.");

    let r = h.say(conv, "blorp").await;
    assert_eq!(r[0].meta.source, Some(MessageSource::Fallback));
    assert_eq!(r[0].buttons[0].title, "Main Menu");
}

#[tokio::test]
async fn button_answers_use_the_offered_buttons() {
    let h = harness().await;
    let conv = h.start().await;
    let r = h
        .engine
        .complete(h.ws, conv, Inbound::Button("returns".into()))
        .await
        .unwrap();
    assert_eq!(r[0].text, "Returns are free within 30 days.");
    let history = h.history(conv).await;
    let user = history
        .iter()
        .find(|m| m.role == MessageRole::User)
        .unwrap();
    assert_eq!(user.text, "Returns");
    assert_eq!(user.meta.button_id.as_deref(), Some("returns"));

    // The greeting's buttons are no longer on offer; the rule's are.
    let err = h
        .engine
        .complete(h.ws, conv, Inbound::Button("track_order".into()))
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::Validation(_)));
    let r = h
        .engine
        .complete(h.ws, conv, Inbound::Button("policy".into()))
        .await
        .unwrap();
    assert_eq!(r[0].meta.source, Some(MessageSource::Fallback));
}

#[tokio::test]
async fn send_stores_and_receive_answers_everything_pending_in_order() {
    let h = harness().await;
    let conv = h.start().await;
    let m1 = h
        .engine
        .send(h.ws, conv, Inbound::Text("hours?".into()))
        .await
        .unwrap();
    assert_eq!(m1.role, MessageRole::User);
    h.engine
        .send(h.ws, conv, Inbound::Text("returns".into()))
        .await
        .unwrap();
    let replies = h.engine.receive(h.ws, conv).await.unwrap();
    let texts: Vec<_> = replies.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(
        texts,
        ["We're open 9 to 5.", "Returns are free within 30 days."]
    );
    assert!(h.engine.receive(h.ws, conv).await.unwrap().is_empty());
}

#[tokio::test]
async fn pending_answers_use_the_buttons_offered_when_they_were_sent() {
    let h = harness().await;
    let view = h
        .engine
        .start_conversation(
            h.ws,
            StartConversation {
                bot_id: h.bot,
                channel: parley_core::Channel::Sms,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let conv = view.conversation.id;
    // Greeting offers 1) Track Order 2) Returns; both answers are sent before any reply.
    h.engine
        .send(h.ws, conv, Inbound::Text("2".into()))
        .await
        .unwrap();
    h.engine
        .send(h.ws, conv, Inbound::Text("1".into()))
        .await
        .unwrap();
    let replies = h.engine.receive(h.ws, conv).await.unwrap();
    let texts: Vec<_> = replies
        .iter()
        .map(|m| m.text.lines().next().unwrap_or(""))
        .collect();
    // The first reply offers new buttons; the second answer still meant "Track Order".
    assert_eq!(
        texts,
        [
            "Returns are free within 30 days.",
            "Give me your order number."
        ]
    );
}

#[tokio::test]
async fn concurrent_messages_to_one_conversation_are_answered_in_order() {
    let h = Arc::new(harness().await);
    let conv = h.start().await;
    let mut tasks = Vec::new();
    for i in 0..20 {
        let h = h.clone();
        tasks.push(tokio::spawn(async move {
            let text = if i % 2 == 0 { "hours" } else { "blorp" };
            h.say(conv, text).await
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap().len(), 1);
    }
    let history = h.history(conv).await;
    assert_eq!(history.len(), 41);
    // After the greeting: strictly user, bot, user, bot… and each reply fits its question.
    for pair in history[1..].chunks(2) {
        assert_eq!(pair[0].role, MessageRole::User);
        assert_eq!(pair[1].role, MessageRole::Bot);
        let expected = if pair[0].text == "hours" {
            MessageSource::Rule
        } else {
            MessageSource::Fallback
        };
        assert_eq!(pair[1].meta.source, Some(expected));
    }
}

#[tokio::test]
async fn rule_changes_apply_to_the_next_message() {
    let h = harness().await;
    let conv = h.start().await;
    let rule = h
        .engine
        .create_rule(
            h.ws,
            h.bot,
            KeywordRuleInput {
                name: "pricing".into(),
                keywords: ["price", "cost"].map(String::from).to_vec(),
                match_type: MatchType::Contains,
                response_type: None,
                response: "Plans start at $10.".into(),
                buttons: vec![],
                priority: 0,
                enabled: true,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        h.say(conv, "what does it cost").await[0].text,
        "Plans start at $10."
    );
    h.engine
        .update_rule(
            h.ws,
            h.bot,
            rule.id,
            KeywordRulePatch {
                enabled: Some(false),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        h.say(conv, "what does it cost").await[0].meta.source,
        Some(MessageSource::Fallback)
    );
}

#[tokio::test]
async fn rules_compile_once_per_bot_change_not_per_message() {
    let h = harness().await;
    let before = h.engine.bot_compiles(); // the import compiled it
    for _ in 0..3 {
        let conv = h.start().await;
        h.say(conv, "hours").await;
        h.say(conv, "returns").await;
    }
    assert_eq!(h.engine.bot_compiles(), before, "cache hits only");
    h.engine
        .update_settings(
            h.ws,
            h.bot,
            SettingsPatch {
                fallback_message: Some("Hmm?".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let conv = h.start().await;
    assert_eq!(h.say(conv, "blorp").await[0].text, "Hmm?");
    h.say(conv, "blorp").await;
    assert_eq!(
        h.engine.bot_compiles(),
        before + 1,
        "one recompile after the change"
    );
}

#[tokio::test]
async fn a_switched_off_bot_stores_but_stays_silent() {
    let h = harness().await;
    let conv = h.start().await;
    h.engine
        .update_settings(
            h.ws,
            h.bot,
            SettingsPatch {
                chatbot_enabled: Some(false),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(h.say(conv, "hours").await.is_empty());
    let history = h.history(conv).await;
    assert_eq!(history.last().unwrap().text, "hours");
}

#[tokio::test]
async fn closed_conversations_refuse_messages_and_other_workspaces_see_nothing() {
    let h = harness().await;
    let conv = h.start().await;
    h.engine.close_conversation(h.ws, conv).await.unwrap();
    let err = h
        .engine
        .complete(h.ws, conv, Inbound::Text("hi".into()))
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::Conflict(_)));

    let other = h.engine.store().create_workspace("other").await.unwrap().id;
    let err = h
        .engine
        .complete(other, conv, Inbound::Text("hi".into()))
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::NotFound { .. }));
    assert!(h.engine.get_bot(other, h.bot).await.is_err());
}

#[tokio::test]
async fn importing_twice_updates_instead_of_duplicating() {
    let h = harness().await;
    let again = shop_definition();
    let (bot, outcome) = h.engine.import_bot(h.ws, again).await.unwrap();
    assert_eq!(bot.id, h.bot);
    assert_eq!(outcome, parley_store::ImportOutcome::Updated);
    let bots = h
        .engine
        .list_bots(h.ws, &PageRequest::default())
        .await
        .unwrap();
    assert_eq!(bots.items.len(), 1);
    let rules = h
        .engine
        .list_rules(h.ws, h.bot, &PageRequest::default())
        .await
        .unwrap();
    assert_eq!(rules.items.len(), 3);

    let exported = h.engine.export_bot(h.ws, h.bot).await.unwrap();
    assert_eq!(exported.id, Some(h.bot));
    assert_eq!(exported.keywords.len(), 3);
}
