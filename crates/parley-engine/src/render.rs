//! Stage 4 of a turn, rendering: a reply shaped for the channel it leaves on. Buttons get
//! their layout (1–3 quick replies, 4–10 a list); channels that cannot show buttons (SMS)
//! get them as numbered options in the text, and a typed number answers them.

use chrono::{DateTime, Utc};
use parley_core::button::ButtonLayout;
use parley_core::{Channel, Message, MessageRole};
use uuid::Uuid;

use crate::route::Reply;

/// Can this channel show tappable buttons?
pub fn has_buttons(channel: Channel) -> bool {
    !matches!(channel, Channel::Sms)
}

/// The stored, channel-ready message for a reply.
pub fn render(
    channel: Channel,
    conversation_id: Uuid,
    reply: Reply,
    now: DateTime<Utc>,
) -> Message {
    let Reply {
        mut text,
        buttons,
        mut meta,
    } = reply;
    meta.layout = ButtonLayout::for_count(buttons.len());
    if !has_buttons(channel) && !buttons.is_empty() {
        for (i, b) in buttons.iter().enumerate() {
            text.push_str(&format!("\n{}) {}", i + 1, b.title));
        }
    }
    Message {
        id: parley_core::new_id(),
        conversation_id,
        role: MessageRole::Bot,
        text,
        buttons,
        created_at: now,
        meta,
        seq: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parley_core::button::{parse_buttons, ButtonInput};
    use parley_core::MessageSource;

    fn reply(n: usize) -> Reply {
        let buttons = parse_buttons(
            (0..n)
                .map(|i| ButtonInput {
                    id: None,
                    title: format!("Option {i}"),
                })
                .collect(),
        )
        .unwrap();
        Reply::new(MessageSource::Rule, "Pick one:", buttons)
    }

    #[test]
    fn lays_buttons_out_by_count() {
        let m = render(Channel::Api, Uuid::nil(), reply(3), Utc::now());
        assert_eq!(m.meta.layout, Some(ButtonLayout::QuickReplies));
        let m = render(Channel::Widget, Uuid::nil(), reply(4), Utc::now());
        assert_eq!(m.meta.layout, Some(ButtonLayout::List));
        let m = render(Channel::Api, Uuid::nil(), reply(0), Utc::now());
        assert_eq!(m.meta.layout, None);
    }

    #[test]
    fn sms_gets_numbered_options() {
        let m = render(Channel::Sms, Uuid::nil(), reply(2), Utc::now());
        assert_eq!(m.text, "Pick one:\n1) Option 0\n2) Option 1");
    }
}
