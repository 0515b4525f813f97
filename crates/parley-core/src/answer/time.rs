//! Reading a time of day: clock forms ("3pm", "3.30 pm", "15:30", "1530", "15h30"), words
//! ("noon", "midnight", "half past 3", "quarter to 5", "ten past 9") and day parts ("8 in
//! the evening", "11 at night"). A bare hour with nothing saying morning or afternoon is
//! taken as written on the 24-hour clock ("at 3" is 03:00, "half past 3" is 03:30): the bot
//! confirms the time back, and guessing afternoon would be wrong as often as right.

use chrono::{NaiveDate, NaiveTime};

use super::date::{date_core, DateOrder};
use super::phrase::{digits, meaningful, number_word, words, MAX_PHRASE_CHARS};

/// Morning or afternoon, as the answer said it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Meridiem {
    Am,
    Pm,
    /// "at night", "tonight": 6–11 are evening hours, 12 is midnight, 1–5 small hours.
    Night,
}

/// The time of day `text` names, or `None` when it names none (or an impossible one, such
/// as "25:00" or "13pm"). Words naming a day around the time are allowed ("tomorrow at
/// 3pm" reads as 15:00).
pub fn parse_time(text: &str) -> Option<NaiveTime> {
    if text.chars().count() > MAX_PHRASE_CHARS {
        return None;
    }
    let raw = words(text);
    if let Some(t) = time_core(&meaningful(&raw)) {
        return Some(t);
    }
    // Any fixed day will do: the date words only need to be recognised, not resolved.
    let reference = NaiveDate::from_ymd_opt(2000, 1, 1)?;
    let is_date = |w: &[String]| date_core(&meaningful(w), reference, DateOrder::DayFirst).is_ok();
    (1..raw.len()).find_map(|split| {
        let (head, tail) = raw.split_at(split);
        if is_date(head) {
            if let Some(t) = time_core(&meaningful(tail)) {
                return Some(t);
            }
        }
        if is_date(tail) {
            return time_core(&meaningful(head));
        }
        None
    })
}

/// A time from meaningful words (fillers already gone).
pub(super) fn time_core(w: &[&str]) -> Option<NaiveTime> {
    // "oclock", "hrs" and "sharp" only decorate the hour; "a" only appears in "a quarter".
    let mut w: Vec<&str> = w
        .iter()
        .copied()
        .filter(|t| !matches!(*t, "oclock" | "hrs" | "hours" | "h" | "sharp" | "a"))
        .collect();
    let hint = take_day_part(&mut w).ok()?;
    match w.as_slice() {
        ["noon" | "midday"] | ["12", "noon" | "midday"] => {
            matches!(hint, None | Some(Meridiem::Pm)).then_some(NaiveTime::from_hms_opt(12, 0, 0)?)
        }
        ["midnight"] | ["12", "midnight"] => matches!(hint, None | Some(Meridiem::Night))
            .then_some(NaiveTime::from_hms_opt(0, 0, 0)?),
        [word] => {
            let (h, m, inline) = clock(word).or_else(|| Some((hour_word(word)?, 0, None)))?;
            at(to_24h(h, merge(inline, hint)?)?, m)
        }
        [hour, minute] if minute.len() == 2 && digits(minute, 2).is_some() => {
            let m = digits(minute, 2).filter(|m| *m <= 59)?;
            at(to_24h(hour_word(hour)?, hint)?, m)
        }
        ["half", "past" | "after", target] => relative(target, 30, hint),
        ["quarter", "past" | "after", target] => relative(target, 15, hint),
        ["quarter", "to" | "till" | "til" | "of" | "before", target] => relative(target, -15, hint),
        [n, "past" | "after", target]
        | [n, "minutes" | "mins" | "min", "past" | "after", target] => {
            relative(target, i64::from(minutes(n)?), hint)
        }
        [n, "to" | "till" | "til" | "of" | "before", target]
        | [n, "minutes" | "mins" | "min", "to" | "till" | "til" | "of" | "before", target] => {
            relative(target, -i64::from(minutes(n)?), hint)
        }
        _ => None,
    }
}

/// Removes one day part from each end ("pm", "in the evening", "tonight") and returns the
/// meridiem they agree on; `Err` when they contradict each other.
fn take_day_part(w: &mut Vec<&str>) -> Result<Option<Meridiem>, ()> {
    let mut found: Option<Meridiem> = None;
    let mut note = |m: Meridiem| match found {
        Some(f) if f != m => Err(()),
        _ => {
            found = Some(m);
            Ok(())
        }
    };
    let part = |t: &str| match t {
        "am" | "morning" => Some(Meridiem::Am),
        "pm" | "afternoon" | "evening" => Some(Meridiem::Pm),
        "night" | "tonight" => Some(Meridiem::Night),
        _ => None,
    };
    if let Some(m) = w.last().copied().and_then(part) {
        w.pop();
        if matches!(w.last(), Some(&"in" | &"this")) {
            w.pop();
        }
        note(m)?;
    }
    if w.len() > 1 {
        let lead = match w.as_slice() {
            ["tonight", ..] => Some((Meridiem::Night, 1)),
            ["this", t, ..] => part(t).map(|m| (m, 2)),
            _ => None,
        };
        if let Some((m, n)) = lead {
            w.drain(..n);
            note(m)?;
        }
    }
    Ok(found)
}

fn merge(inline: Option<Meridiem>, hint: Option<Meridiem>) -> Option<Option<Meridiem>> {
    match (inline, hint) {
        (Some(a), Some(b)) if a != b => None,
        (a, b) => Some(a.or(b)),
    }
}

/// One clock word: "3", "3pm", "3:30pm", "3.30", "15h30", "1530", "330pm", "15:30:00".
/// Returns the hour as written, the minutes and any am/pm glued to it.
fn clock(w: &str) -> Option<(u32, u32, Option<Meridiem>)> {
    let (body, inline) = if let Some(b) = w.strip_suffix("am") {
        (b, Some(Meridiem::Am))
    } else if let Some(b) = w.strip_suffix("pm") {
        (b, Some(Meridiem::Pm))
    } else {
        (w, None)
    };
    if let Some((h, rest)) = body.split_once([':', '.', 'h']) {
        let h = digits(h, 2)?;
        let m = match rest.split_once(':') {
            // Seconds are read and dropped: the answer is minutes-precise.
            Some((m, s)) if body.contains(':') && digits(s, 2).is_some_and(|s| s <= 59) => m,
            Some(_) => return None,
            None if rest.is_empty() && body.contains('h') => "00",
            None => rest,
        };
        if m.len() != 2 {
            return None;
        }
        let m = digits(m, 2).filter(|m| *m <= 59)?;
        return Some((h, m, inline));
    }
    let n = digits(body, 4)?;
    match body.len() {
        1 | 2 => Some((n, 0, inline)),
        // "330pm" only with am/pm: a bare three-digit number is too easily something else.
        3 if inline.is_some() => Some((n / 100, n % 100, inline)).filter(|c| c.1 <= 59),
        4 => Some((n / 100, n % 100, inline)).filter(|c| c.1 <= 59),
        _ => None,
    }
}

/// An hour as digits ("3", "15") or a word ("three").
fn hour_word(w: &str) -> Option<u32> {
    digits(w, 2).or_else(|| number_word(w).filter(|n| (1..=12).contains(n)))
}

/// Minutes before or after an hour: "10", "ten", "twenty-five".
fn minutes(w: &str) -> Option<u32> {
    digits(w, 2)
        .or_else(|| number_word(w))
        .filter(|m| (1..=59).contains(m))
}

/// `offset` minutes from `target` ("quarter to 5" is 5:00 − 15); the day part applies to
/// the hour named, so "quarter to 1 pm" is 12:45.
fn relative(target: &str, offset: i64, hint: Option<Meridiem>) -> Option<NaiveTime> {
    let hour = match target {
        "noon" | "midday" if hint.is_none() => 12,
        "midnight" if hint.is_none() => 0,
        _ => to_24h(hour_word(target)?, hint)?,
    };
    let total = (i64::from(hour) * 60 + offset).rem_euclid(24 * 60);
    let total = u32::try_from(total).ok()?;
    at(total / 60, total % 60)
}

/// The 24-hour hour for `h` as written with `meridiem`; `None` for "13pm" or "0am".
fn to_24h(h: u32, meridiem: Option<Meridiem>) -> Option<u32> {
    match meridiem {
        None => (h <= 23).then_some(h),
        Some(Meridiem::Am) => (1..=12).contains(&h).then_some(h % 12),
        Some(Meridiem::Pm) => (1..=12).contains(&h).then_some(h % 12 + 12),
        Some(Meridiem::Night) => match h {
            12 => Some(0),
            1..=5 => Some(h),
            6..=11 => Some(h + 12),
            _ => None,
        },
    }
}

fn at(h: u32, m: u32) -> Option<NaiveTime> {
    NaiveTime::from_hms_opt(h, m, 0)
}

/// True when the words are only a number ("10", "ten", "1530"): a time without any mark
/// of being one, which a date answer does not take as a time unless "at" introduces it.
pub(super) fn is_bare_number(w: &[&str]) -> bool {
    match w {
        [one] => digits(one, 4).is_some() || number_word(one).is_some(),
        _ => false,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn hm(h: u32, m: u32) -> Option<NaiveTime> {
        NaiveTime::from_hms_opt(h, m, 0)
    }

    #[test]
    fn understands_common_time_phrasings() {
        let cases: &[(&str, u32, u32)] = &[
            ("3pm", 15, 0),
            ("3 pm", 15, 0),
            ("3 PM", 15, 0),
            ("3 p.m.", 15, 0),
            ("3:30pm", 15, 30),
            ("3.30 pm", 15, 30),
            ("3:30 am", 3, 30),
            ("15:30", 15, 30),
            ("15.30", 15, 30),
            ("1530", 15, 30),
            ("0930", 9, 30),
            ("330pm", 15, 30),
            ("15h30", 15, 30),
            ("15h", 15, 0),
            ("15:30:45", 15, 30),
            ("9am", 9, 0),
            ("9 o'clock", 9, 0),
            ("9 o’clock pm", 21, 0),
            ("noon", 12, 0),
            ("12 noon", 12, 0),
            ("midday", 12, 0),
            ("midnight", 0, 0),
            ("12am", 0, 0),
            ("12pm", 12, 0),
            ("12:15 am", 0, 15),
            ("half past 3", 3, 30),
            ("half past 3 pm", 15, 30),
            ("half past three", 3, 30),
            ("quarter to 5", 4, 45),
            ("a quarter to 5 in the afternoon", 16, 45),
            ("quarter past 10", 10, 15),
            ("quarter to midnight", 23, 45),
            ("quarter past noon", 12, 15),
            ("quarter to 1 pm", 12, 45),
            ("ten past 9", 9, 10),
            ("20 to 6 pm", 17, 40),
            ("twenty-five past 4", 4, 25),
            ("5 minutes to 8", 7, 55),
            ("at 10", 10, 0),
            ("at ten", 10, 0),
            ("10", 10, 0),
            ("around 3pm please", 15, 0),
            ("3pm-ish", 15, 0),
            ("8 in the evening", 20, 0),
            ("7 in the morning", 7, 0),
            ("11 at night", 23, 0),
            ("2 at night", 2, 0),
            ("tonight at 8", 20, 0),
            ("3 30 pm", 15, 30),
            ("ten 30", 10, 30),
            ("3pm in the afternoon", 15, 0),
            ("tomorrow at 3pm", 15, 0),
            ("next monday 9:15", 9, 15),
            ("3pm on friday", 15, 0),
            ("1530 hrs", 15, 30),
            ("9 sharp", 9, 0),
            ("0:00", 0, 0),
            ("23:59", 23, 59),
        ];
        for (text, h, m) in cases {
            assert_eq!(parse_time(text), hm(*h, *m), "{text:?}");
        }
    }

    #[test]
    fn refuses_impossible_or_unclear_times() {
        for text in [
            "25:00",
            "24:00",
            "13pm",
            "0am",
            "12:60",
            "3:5",
            "930",
            "12345",
            "3pm in the morning",
            "midnight pm",
            "noon am",
            "quarter",
            "half past",
            "sometime",
            "",
            "   ",
            "later today",
            "3 apples",
            "tomorrow",
            "twenty-five o'clock",
            "60 past 3",
            "3:30:99",
        ] {
            assert_eq!(parse_time(text), None, "{text:?}");
        }
    }
}
