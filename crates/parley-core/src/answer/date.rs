//! Reading a calendar date relative to "today" in the bot's time zone: relative words
//! ("tomorrow", "in 2 weeks", "next Monday"), month names ("Jan 15", "15th of January
//! 2027"), numeric forms ("15/01", "2027-01-15") and a day of the month ("the 20th").
//! A time of day next to the date ("tomorrow at 3pm") is recognised and set aside.
//!
//! Rules for the ambiguous phrases, so authors can predict them:
//! - a weekday on its own, or with "this"/"coming", is the first such day from today on,
//!   today included ("Saturday" said on a Saturday is today);
//! - "next Monday" is the first Monday strictly after today (said on a Saturday it is two
//!   days away; said on a Monday, a week away); "last Friday" the latest one before today;
//! - "next week" is the Monday of next week, "Wednesday next week" that week's Wednesday;
//! - "03/04" follows [`DateOrder`] (day first unless the step says otherwise), but when one
//!   of the two numbers is above 12 it can only be the day ("01/15" is 15 January);
//!   two-digit years are 20xx;
//! - "the 20th" is the 20th of this month, or of the next month that has one if that has
//!   passed;
//! - a day and month without a year are in the current year; the caller moves them to next
//!   year when past dates are not allowed ([`DatePhrase::year_implied`]);
//! - a weekday named with a full date must agree with it ("Friday 15 January" picks the
//!   year in which it is a Friday, this year or next, when no year is given);
//! - bare numbers are never dates ("15" could be anything; "15th" is a day of the month).

use chrono::{Datelike, Days, Months, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

use super::phrase::{digits, meaningful, number_word, words, MAX_PHRASE_CHARS};
use super::time::{is_bare_number, time_core};

/// How to read a numeric date whose two numbers could both be a month ("03/04").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum DateOrder {
    /// 03/04 is 3 April (most of the world).
    #[default]
    DayFirst,
    /// 03/04 is March 4 (United States).
    MonthFirst,
}

/// A date read from an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct DatePhrase {
    pub date: NaiveDate,
    /// The answer named a day and month but no year, so the current year was assumed.
    pub year_implied: bool,
}

/// Why an answer gave no date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum DateMiss {
    /// Nothing in it reads as a date.
    Unrecognised,
    /// It names a day that does not exist ("Feb 30", "31/04", "15/13").
    NoSuchDay,
    /// A full date with a weekday that does not fall on it ("Monday 24 November 2026").
    WrongWeekday { date: NaiveDate, said: Weekday },
}

/// The date `text` names, relative to `today` (the bot's local date), or `None`.
/// See the module documentation for how ambiguous phrases are read.
pub fn parse_date(text: &str, today: NaiveDate, order: DateOrder) -> Option<NaiveDate> {
    read_date(text, today, order).ok().map(|p| p.date)
}

pub(super) fn read_date(
    text: &str,
    today: NaiveDate,
    order: DateOrder,
) -> Result<DatePhrase, DateMiss> {
    if text.chars().count() > MAX_PHRASE_CHARS {
        return Err(DateMiss::Unrecognised);
    }
    let raw = words(text);
    let whole = date_core(&meaningful(&raw), today, order);
    if whole != Err(DateMiss::Unrecognised) {
        return whole;
    }
    // A time of day before or after the date: "tomorrow at 3pm", "3pm on Friday".
    let mut closest = whole;
    for split in 1..raw.len() {
        let (head, tail) = raw.split_at(split);
        for (date, time) in [(head, tail), (tail, head)] {
            if !is_time_part(time) {
                continue;
            }
            match date_core(&meaningful(date), today, order) {
                Ok(p) => return Ok(p),
                Err(DateMiss::Unrecognised) => {}
                Err(miss) => closest = Err(miss),
            }
        }
    }
    closest
}

/// Whether words next to a date name a time of day. A bare number only counts when "at"
/// (or similar) introduces it: "Jan 15 at 10" has a time, "15 jan 10" is not a date.
fn is_time_part(raw: &[String]) -> bool {
    let introduced = matches!(
        raw.first().map(String::as_str),
        Some("at" | "around" | "about" | "by" | "from" | "after" | "before")
    );
    let w = meaningful(raw);
    match w.as_slice() {
        [] => false,
        ["morning" | "afternoon" | "evening" | "night" | "lunchtime"]
        | ["in", "morning" | "afternoon" | "evening"] => true,
        _ => time_core(&w).is_some() && (introduced || !is_bare_number(&w)),
    }
}

/// A date from meaningful words (fillers already gone), with nothing else around it.
pub(super) fn date_core(
    w: &[&str],
    today: NaiveDate,
    order: DateOrder,
) -> Result<DatePhrase, DateMiss> {
    if let Some(found) = relative_day(w, today) {
        return found;
    }
    if let Some(found) = weekday_phrase(w, today) {
        return found;
    }
    if let [first, rest @ ..] = w {
        if let (Some(said), false) = (weekday(first), rest.is_empty()) {
            return on_weekday(said, absolute(rest, today, order)?, today);
        }
    }
    absolute(w, today, order)
}

/// "today", "tomorrow", "in 3 days", "2 weeks from now", "next week".
fn relative_day(w: &[&str], today: NaiveDate) -> Option<Result<DatePhrase, DateMiss>> {
    let days = match w {
        ["today" | "tonight" | "now"] | ["this", "morning" | "afternoon" | "evening"] => 0,
        [t] if is_tomorrow(t) => 1,
        ["day", "after", t] if is_tomorrow(t) => 2,
        ["yesterday"] => -1,
        ["day", "before", "yesterday"] => -2,
        ["next", "week"] => 7 - i64::from(today.weekday().num_days_from_monday()),
        ["in", count @ .., unit] | [count @ .., unit, "from", "now" | "today"] => {
            return ahead(today, count, unit);
        }
        _ => return None,
    };
    Some(shift(today, days))
}

fn is_tomorrow(w: &str) -> bool {
    matches!(
        w,
        "tomorrow" | "tmrw" | "tmr" | "tmw" | "tomorow" | "tommorow" | "tommorrow" | "2moro"
    )
}

/// `count` `unit`s after today: "a week", "3 days", "two months".
fn ahead(today: NaiveDate, count: &[&str], unit: &str) -> Option<Result<DatePhrase, DateMiss>> {
    let n = match count {
        ["a" | "an"] => 1,
        [n] => digits(n, 4).or_else(|| number_word(n))?,
        _ => return None,
    };
    let n = i64::from(n);
    let months = |m: i64| {
        let m = u32::try_from(m).ok()?;
        today.checked_add_months(Months::new(m))
    };
    let date = match unit {
        "day" | "days" => return Some(shift(today, n)),
        "week" | "weeks" | "wk" | "wks" => return Some(shift(today, n * 7)),
        "fortnight" | "fortnights" => return Some(shift(today, n * 14)),
        // Calendar months: 31 January + 1 month is the last day of February.
        "month" | "months" => months(n),
        "year" | "years" => months(n * 12),
        _ => return None,
    };
    Some(implied(date, false))
}

/// Weekday phrases: "Friday", "this Friday", "next Monday", "last Friday",
/// "Wednesday next week". The rules are in the module documentation.
fn weekday_phrase(w: &[&str], today: NaiveDate) -> Option<Result<DatePhrase, DateMiss>> {
    enum Which {
        Upcoming,
        Next,
        Last,
        NextWeek,
    }
    let (which, day) = match w {
        [d] | ["this" | "coming", d] | ["this", "coming", d] => (Which::Upcoming, d),
        ["next", d] => (Which::Next, d),
        ["last" | "past", d] => (Which::Last, d),
        [d, "next", "week"] | ["next", "week", d] => (Which::NextWeek, d),
        _ => return None,
    };
    let day = weekday(day)?;
    let now = today.weekday();
    let offset = match which {
        Which::Upcoming => i64::from(day.days_since(now)),
        Which::Next => match day.days_since(now) {
            0 => 7,
            n => i64::from(n),
        },
        Which::Last => -match now.days_since(day) {
            0 => 7,
            n => i64::from(n),
        },
        Which::NextWeek => {
            7 - i64::from(now.num_days_from_monday()) + i64::from(day.num_days_from_monday())
        }
    };
    Some(shift(today, offset))
}

/// A full date said with a weekday: they must agree. Without a year, the weekday picks
/// it: the date this year if it falls on that day and has not passed, else next year's
/// if that does, else this year's.
fn on_weekday(said: Weekday, p: DatePhrase, today: NaiveDate) -> Result<DatePhrase, DateMiss> {
    let fits = |d: &NaiveDate| d.weekday() == said;
    if !p.year_implied {
        return if fits(&p.date) {
            Ok(p)
        } else {
            Err(DateMiss::WrongWeekday { date: p.date, said })
        };
    }
    let this_year = p.date;
    let next_year = this_year.with_year(this_year.year() + 1);
    let pick = [
        Some(this_year).filter(|d| *d >= today),
        next_year,
        Some(this_year),
    ]
    .into_iter()
    .flatten()
    .find(fits);
    match pick {
        Some(date) => Ok(DatePhrase {
            date,
            year_implied: false,
        }),
        None => Err(DateMiss::WrongWeekday {
            date: this_year,
            said,
        }),
    }
}

/// Dates that do not depend on today's weekday: month names, numbers, "the 20th".
fn absolute(w: &[&str], today: NaiveDate, order: DateOrder) -> Result<DatePhrase, DateMiss> {
    let (w, year) = match w {
        [rest @ .., y] if !rest.is_empty() && y.len() == 4 => match digits(y, 4) {
            Some(y) => (
                rest,
                Some(i32::try_from(y).map_err(|_| DateMiss::NoSuchDay)?),
            ),
            None => (w, None),
        },
        _ => (w, None),
    };
    match w {
        [one] if year.is_none() => {
            if let Some(day) = ordinal(one) {
                return day_of_month(day, today);
            }
            numeric(one, today, order)
        }
        [a, b] | [a, "of", b] => {
            let (month, day) = match (month(a), month(b)) {
                (Some(m), None) => (m, day_number(b)),
                (None, Some(m)) => (m, day_number(a)),
                _ => return Err(DateMiss::Unrecognised),
            };
            let day = day.ok_or(DateMiss::Unrecognised)?;
            ymd(year, month, day, today)
        }
        _ => Err(DateMiss::Unrecognised),
    }
}

/// "15/01", "01/15", "15/01/2027", "15.01.27", "2027-01-15": one separator kind throughout.
fn numeric(w: &str, today: NaiveDate, order: DateOrder) -> Result<DatePhrase, DateMiss> {
    let sep = ['/', '.', '-']
        .into_iter()
        .find(|s| w.contains(*s))
        .ok_or(DateMiss::Unrecognised)?;
    let parts: Vec<&str> = w.split(sep).collect();
    if parts
        .iter()
        .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(DateMiss::Unrecognised);
    }
    let num = |p: &str| digits(p, 4).ok_or(DateMiss::Unrecognised);
    let short = |p: &str| p.len() <= 2;
    match parts.as_slice() {
        [y, m, d] if y.len() == 4 && short(m) && short(d) => {
            let y = i32::try_from(num(y)?).map_err(|_| DateMiss::NoSuchDay)?;
            ymd(Some(y), num(m)?, num(d)?, today)
        }
        [a, b, y] if short(a) && short(b) && matches!(y.len(), 2 | 4) => {
            let (day, month) = day_and_month(num(a)?, num(b)?, order)?;
            let y = num(y)?;
            let y = if y < 100 { 2000 + y } else { y };
            let y = i32::try_from(y).map_err(|_| DateMiss::NoSuchDay)?;
            ymd(Some(y), month, day, today)
        }
        [a, b] if short(a) && short(b) => {
            let (day, month) = day_and_month(num(a)?, num(b)?, order)?;
            ymd(None, month, day, today)
        }
        _ => Err(DateMiss::Unrecognised),
    }
}

/// Which of two numbers is the day: a number above 12 can only be one, otherwise `order`.
fn day_and_month(a: u32, b: u32, order: DateOrder) -> Result<(u32, u32), DateMiss> {
    match (a <= 12, b <= 12) {
        (true, true) => Ok(match order {
            DateOrder::DayFirst => (a, b),
            DateOrder::MonthFirst => (b, a),
        }),
        (false, true) => Ok((a, b)),
        (true, false) => Ok((b, a)),
        (false, false) => Err(DateMiss::NoSuchDay),
    }
}

fn ymd(year: Option<i32>, month: u32, day: u32, today: NaiveDate) -> Result<DatePhrase, DateMiss> {
    let date = NaiveDate::from_ymd_opt(year.unwrap_or(today.year()), month, day);
    implied(date, year.is_none())
}

/// "the 20th": this month's, or the next month's that has that day if it has passed.
fn day_of_month(day: u32, today: NaiveDate) -> Result<DatePhrase, DateMiss> {
    let first = today.with_day(1).ok_or(DateMiss::NoSuchDay)?;
    let date = (0..12)
        .filter_map(|k| first.checked_add_months(Months::new(k)))
        .filter_map(|m| m.with_day(day))
        .find(|d| *d >= today);
    implied(date, false)
}

/// Wraps a computed date; years outside 1–9999 count as no date, so every answer fits
/// "YYYY-MM-DD".
fn implied(date: Option<NaiveDate>, year_implied: bool) -> Result<DatePhrase, DateMiss> {
    date.filter(|d| (1..=9999).contains(&d.year()))
        .map(|date| DatePhrase { date, year_implied })
        .ok_or(DateMiss::NoSuchDay)
}

fn shift(today: NaiveDate, days: i64) -> Result<DatePhrase, DateMiss> {
    let by = Days::new(days.unsigned_abs());
    let date = if days >= 0 {
        today.checked_add_days(by)
    } else {
        today.checked_sub_days(by)
    };
    implied(date, false)
}

/// "15", "15th", "1st", "22nd": a day number, checked against the month later.
fn day_number(w: &str) -> Option<u32> {
    digits(w, 2).or_else(|| ordinal(w))
}

/// A day written as an ordinal: "1st", "2nd", "20th".
fn ordinal(w: &str) -> Option<u32> {
    let n = ["st", "nd", "rd", "th"]
        .into_iter()
        .find_map(|s| w.strip_suffix(s))?;
    digits(n, 2)
}

fn month(w: &str) -> Option<u32> {
    Some(match w {
        "jan" | "january" => 1,
        "feb" | "february" => 2,
        "mar" | "march" => 3,
        "apr" | "april" => 4,
        "may" => 5,
        "jun" | "june" => 6,
        "jul" | "july" => 7,
        "aug" | "august" => 8,
        "sep" | "sept" | "september" => 9,
        "oct" | "october" => 10,
        "nov" | "november" => 11,
        "dec" | "december" => 12,
        _ => return None,
    })
}

fn weekday(w: &str) -> Option<Weekday> {
    Some(match w {
        "monday" | "mon" => Weekday::Mon,
        "tuesday" | "tue" | "tues" => Weekday::Tue,
        "wednesday" | "wed" => Weekday::Wed,
        "thursday" | "thu" | "thur" | "thurs" => Weekday::Thu,
        "friday" | "fri" => Weekday::Fri,
        "saturday" | "sat" => Weekday::Sat,
        "sunday" | "sun" => Weekday::Sun,
        _ => return None,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// Saturday 21 November 2026.
    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 21).unwrap()
    }

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn fixture_is_a_saturday() {
        assert_eq!(today().weekday(), Weekday::Sat);
    }

    #[test]
    fn understands_common_date_phrasings() {
        let cases: &[(&str, NaiveDate)] = &[
            ("today", d(2026, 11, 21)),
            ("Today.", d(2026, 11, 21)),
            ("tomorrow", d(2026, 11, 22)),
            ("Tomorrow!", d(2026, 11, 22)),
            ("tmrw", d(2026, 11, 22)),
            ("day after tomorrow", d(2026, 11, 23)),
            ("the day after tomorrow", d(2026, 11, 23)),
            ("yesterday", d(2026, 11, 20)),
            ("in 3 days", d(2026, 11, 24)),
            ("in 10 days", d(2026, 12, 1)),
            ("in 2 weeks", d(2026, 12, 5)),
            ("in two weeks", d(2026, 12, 5)),
            ("in a week", d(2026, 11, 28)),
            ("in a fortnight", d(2026, 12, 5)),
            ("in a month", d(2026, 12, 21)),
            ("3 days from now", d(2026, 11, 24)),
            ("a week from today", d(2026, 11, 28)),
            ("next Monday", d(2026, 11, 23)),
            ("next mon", d(2026, 11, 23)),
            ("next saturday", d(2026, 11, 28)),
            ("saturday", d(2026, 11, 21)),
            ("this Friday", d(2026, 11, 27)),
            ("Friday", d(2026, 11, 27)),
            ("on Friday", d(2026, 11, 27)),
            ("fri", d(2026, 11, 27)),
            ("coming tuesday", d(2026, 11, 24)),
            ("last friday", d(2026, 11, 20)),
            ("last saturday", d(2026, 11, 14)),
            ("next week", d(2026, 11, 23)),
            ("wednesday next week", d(2026, 11, 25)),
            ("Jan 15", d(2026, 1, 15)),
            ("January 15th", d(2026, 1, 15)),
            ("15 January", d(2026, 1, 15)),
            ("15th of January", d(2026, 1, 15)),
            ("please, on the 15th of January!", d(2026, 1, 15)),
            ("15 jan 2027", d(2027, 1, 15)),
            ("January 15th, 2027", d(2027, 1, 15)),
            ("Dec 25", d(2026, 12, 25)),
            ("around Dec 1st", d(2026, 12, 1)),
            ("sept 3", d(2026, 9, 3)),
            ("15/01", d(2026, 1, 15)),
            ("01/15", d(2026, 1, 15)),
            ("03/04", d(2026, 4, 3)),
            ("15/01/2027", d(2027, 1, 15)),
            ("15.01.2027", d(2027, 1, 15)),
            ("2027-01-15", d(2027, 1, 15)),
            ("2027/1/5", d(2027, 1, 5)),
            ("15-01-2027", d(2027, 1, 15)),
            ("15/01/27", d(2027, 1, 15)),
            ("12/25/2026", d(2026, 12, 25)),
            ("the 20th", d(2026, 12, 20)),
            ("the 21st", d(2026, 11, 21)),
            ("on the 30th", d(2026, 11, 30)),
            ("the 31st", d(2026, 12, 31)),
            ("tomorrow at 3pm", d(2026, 11, 22)),
            ("3pm tomorrow", d(2026, 11, 22)),
            ("tomorrow 15:30", d(2026, 11, 22)),
            ("next monday morning", d(2026, 11, 23)),
            ("friday at 10", d(2026, 11, 27)),
            ("Jan 15 at half past 2", d(2026, 1, 15)),
            ("Monday 23 November 2026", d(2026, 11, 23)),
            ("Fri, Jan 15", d(2027, 1, 15)),
            ("Thursday 15 January", d(2026, 1, 15)),
            ("Tuesday the 1st of December", d(2026, 12, 1)),
        ];
        for (text, want) in cases {
            assert_eq!(
                parse_date(text, today(), DateOrder::DayFirst),
                Some(*want),
                "{text:?}"
            );
        }
    }

    #[test]
    fn month_first_order_only_changes_ambiguous_dates() {
        let mf = |t| parse_date(t, today(), DateOrder::MonthFirst);
        assert_eq!(mf("03/04"), Some(d(2026, 3, 4)));
        assert_eq!(mf("03/04/2027"), Some(d(2027, 3, 4)));
        assert_eq!(mf("15/01"), Some(d(2026, 1, 15)));
        assert_eq!(mf("01/15"), Some(d(2026, 1, 15)));
        assert_eq!(mf("2027-03-04"), Some(d(2027, 3, 4)));
    }

    #[test]
    fn implied_years_are_marked() {
        let read = |t| read_date(t, today(), DateOrder::DayFirst).unwrap();
        assert!(read("Jan 15").year_implied);
        assert!(read("15/01").year_implied);
        assert!(!read("15/01/2027").year_implied);
        assert!(!read("the 20th").year_implied);
        assert!(!read("tomorrow").year_implied);
        assert!(!read("Fri Jan 15").year_implied);
    }

    #[test]
    fn refuses_days_that_do_not_exist() {
        for text in [
            "Feb 30",
            "30/02/2027",
            "31/04",
            "15/13/2027",
            "13/13",
            "2027-13-01",
            "2027-02-29",
            "the 32nd",
            "jan 0",
            "00/00",
        ] {
            assert_eq!(
                read_date(text, today(), DateOrder::DayFirst),
                Err(DateMiss::NoSuchDay),
                "{text:?}"
            );
        }
    }

    #[test]
    fn refuses_a_weekday_that_does_not_match() {
        assert_eq!(
            read_date("Monday 24 November 2026", today(), DateOrder::DayFirst),
            Err(DateMiss::WrongWeekday {
                date: d(2026, 11, 24),
                said: Weekday::Mon
            })
        );
    }

    #[test]
    fn does_not_guess() {
        for text in [
            "",
            "   ",
            "soon",
            "whenever suits",
            "next",
            "january",
            "jan 2027",
            "15",
            "the 15",
            "next month",
            "3pm",
            "tomorrow 10",
            "15 jan 10",
            "15/01-2027",
            "1/2/3/4",
            "2027-01",
            "in days",
            "in 3 parsecs",
            "friday friday",
            "tomorrow or friday",
        ] {
            assert_eq!(
                read_date(text, today(), DateOrder::DayFirst),
                Err(DateMiss::Unrecognised),
                "{text:?}"
            );
        }
    }

    #[test]
    fn far_offsets_do_not_overflow() {
        assert_eq!(
            parse_date("in 9999 years", today(), DateOrder::DayFirst),
            None
        );
        let max = NaiveDate::MAX;
        assert_eq!(parse_date("tomorrow", max, DateOrder::DayFirst), None);
        assert_eq!(parse_date("next week", max, DateOrder::DayFirst), None);
        assert_eq!(parse_date("the 20th", max, DateOrder::DayFirst), None);
    }
}
