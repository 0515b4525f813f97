//! `parley chat <bot>`: a conversation in the terminal, through the engine itself (the same
//! turns the API runs, on channel `cli`). Buttons are shown numbered; typing the number
//! (or the title) answers with that button.

use std::io::{BufRead, Write};

use anyhow::Context;
use parley_core::{Channel, Message};
use parley_engine::{Engine, Inbound, StartConversation};
use uuid::Uuid;

pub async fn run(engine: &Engine, ws: Uuid, bot: &str) -> anyhow::Result<()> {
    let bot = engine
        .find_bot(ws, bot)
        .await
        .map_err(crate::not_found_bot(bot))?;
    let view = engine
        .start_conversation(
            ws,
            StartConversation {
                bot_id: bot.id,
                channel: Channel::Cli,
                ..Default::default()
            },
        )
        .await?;
    let conversation = view.conversation.id;
    println!(
        "Talking to {} (conversation {conversation}). Type /quit or press Ctrl-D to leave.\n",
        bot.name
    );
    let mut offered = Vec::new();
    show(&view.messages.unwrap_or_default(), &mut offered);

    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    loop {
        print!("you> ");
        std::io::stdout().flush().ok();
        let Some(line) = lines.next() else { break };
        let line = line.context("reading from the terminal")?;
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        if text == "/quit" || text == "/exit" {
            break;
        }
        let inbound = match text
            .parse::<usize>()
            .ok()
            .and_then(|n| n.checked_sub(1))
            .and_then(|i| offered.get(i))
        {
            Some(id) => Inbound::Button(String::clone(id)),
            None => Inbound::Text(text.to_string()),
        };
        match engine.complete(ws, conversation, inbound).await {
            Ok(replies) => show(&replies, &mut offered),
            Err(e) => println!("  ({e})"),
        }
    }
    println!();
    Ok(())
}

fn show(messages: &[Message], offered: &mut Vec<String>) {
    for m in messages {
        println!("bot> {}", m.text);
        for source in &m.meta.sources {
            match &source.url {
                Some(url) => println!("     (source: {} <{url}>)", source.title),
                None => println!("     (source: {})", source.title),
            }
        }
        // Like the engine: only the last message's buttons are on offer.
        *offered = m.buttons.iter().map(|b| b.id.clone()).collect();
        for (i, b) in m.buttons.iter().enumerate() {
            println!("     [{}] {}", i + 1, b.title);
        }
    }
}
