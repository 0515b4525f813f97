//! Candidate finders, one per kind. A finder proposes spans with a regex, then keeps only
//! those that pass the kind's validator and context rules. Overlaps between kinds are left
//! for `detect` to resolve.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::LazyLock;

use regex::Regex;

use super::validate::{card_valid, iban_length, iban_valid, ssn_valid};
use super::{Finding, PiiKind};
use crate::constant_regex;

/// Words that, just before a number, say what the number is when it is not PII.
const NOT_PII_LABELS: &[&str] = &[
    "order",
    "orders",
    "invoice",
    "inv",
    "tracking",
    "track",
    "ref",
    "reference",
    "ticket",
    "case",
    "confirmation",
    "booking",
    "serial",
    "sku",
    "imei",
    "isbn",
    "ean",
    "upc",
    "barcode",
    "transaction",
    "txn",
    "receipt",
    "shipment",
    "parcel",
    "awb",
    "po",
    "part",
    "model",
    "version",
    "ver",
    "build",
    "release",
    "firmware",
    "id",
    "code",
    "voucher",
    "coupon",
    "policy",
    "claim",
    "account",
    "acct",
    "customer",
    "member",
    "membership",
    "loyalty",
    "item",
    "product",
    "package",
    "report",
    "batch",
    "lot",
    "container",
    "flight",
    "room",
    // Other identifiers with number shapes of their own.
    "sin",
    "nhs",
    "nino",
    "passport",
    "licence",
    "license",
    "tax",
    "vat",
    "ein",
    "itin",
    "routing",
    "aba",
    "swift",
    "bic",
    "sort",
    "iban",
];
const CARD_LABELS: &[&str] = &[
    "card",
    "visa",
    "mastercard",
    "amex",
    "credit",
    "debit",
    "cc",
    "pan",
    "maestro",
    "discover",
    "jcb",
];
const SSN_LABELS: &[&str] = &["ssn", "social", "security", "ss", "ssa"];
const PHONE_LABELS: &[&str] = &[
    "call",
    "phone",
    "tel",
    "telephone",
    "mobile",
    "cell",
    "cellphone",
    "whatsapp",
    "text",
    "sms",
    "reach",
    "contact",
    "fax",
    "ring",
    "landline",
    "number",
    "mob",
    "ph",
    "dial",
];
const IP_NOT_LABELS: &[&str] = &[
    "version",
    "ver",
    "v",
    "build",
    "release",
    "firmware",
    "os",
    "ios",
    "android",
    "app",
    "update",
    "chrome",
    "firefox",
    "safari",
    "edition",
    "patch",
    "kernel",
    "sdk",
    "api",
    "section",
    "chapter",
    "step",
    "page",
    "figure",
    "fig",
    "table",
    "paragraph",
    "clause",
    "article",
    "item",
    "appendix",
    "rule",
];

/// Up to `n` words before byte `start`, lowercased, nearest first. Words are runs of ASCII
/// letters; what lies between them (digits aside) is skipped, so "Order #", "order no." and
/// "order number:" all yield "order" within reach.
fn words_before(text: &str, start: usize, n: usize) -> Vec<String> {
    let head = text.get(..start).unwrap_or("");
    let window_start = head
        .char_indices()
        .rev()
        .nth(48)
        .map(|(i, _)| i)
        .unwrap_or(0);
    let window = head.get(window_start..).unwrap_or("");
    window
        .split(|c: char| !c.is_ascii_alphabetic())
        .filter(|w| !w.is_empty())
        .rev()
        .take(n)
        .map(str::to_ascii_lowercase)
        .collect()
}

/// Up to `n` words after byte `end`, lowercased, nearest first ("… is my social").
fn words_after(text: &str, end: usize, n: usize) -> Vec<String> {
    let tail = text.get(end..).unwrap_or("");
    let window_end = tail
        .char_indices()
        .nth(40)
        .map(|(i, _)| i)
        .unwrap_or(tail.len());
    tail.get(..window_end)
        .unwrap_or("")
        .split(|c: char| !c.is_ascii_alphabetic())
        .filter(|w| !w.is_empty())
        .take(n)
        .map(str::to_ascii_lowercase)
        .collect()
}

fn any_word_in(words: &[String], set: &[&str]) -> bool {
    words.iter().any(|w| set.contains(&w.as_str()))
}

/// Words that sit between a label and its number without saying anything themselves.
const FILLER: &[&str] = &[
    "is", "number", "no", "nr", "num", "my", "the", "was", "of", "your", "a", "our", "its", "it",
    "s", "this", "that", "for", "and", "here", "new", "old",
];

/// The nearest labelling word says "not PII" and no nearer word names the kind itself.
fn labelled_not_pii(text: &str, start: usize, kind_labels: &[&str]) -> bool {
    let deciding = words_before(text, start, 6)
        .into_iter()
        .filter(|w| !FILLER.contains(&w.as_str()))
        .take(3);
    for w in deciding {
        if kind_labels.contains(&w.as_str()) {
            return false;
        }
        if NOT_PII_LABELS.contains(&w.as_str()) {
            return true;
        }
    }
    false
}

fn char_before(text: &str, i: usize) -> Option<char> {
    text.get(..i).and_then(|h| h.chars().next_back())
}

fn char_after(text: &str, i: usize) -> Option<char> {
    text.get(i..).and_then(|t| t.chars().next())
}

/// The span is glued to more digits through a separator ("1-123-45-6789", "…6789-01",
/// "4111 1111 1111 1111 22"): it is part of a longer number, not a whole one.
fn continues_number(text: &str, start: usize, end: usize, seps: &[char]) -> bool {
    let before = char_before(text, start);
    let before2 = before.and_then(|c| char_before(text, start - c.len_utf8()));
    let after = char_after(text, end);
    let after2 = after.and_then(|c| char_after(text, end + c.len_utf8()));
    let glued_before =
        before.is_some_and(|c| seps.contains(&c)) && before2.is_some_and(|c| c.is_ascii_digit());
    let glued_after =
        after.is_some_and(|c| seps.contains(&c)) && after2.is_some_and(|c| c.is_ascii_digit());
    glued_before
        || glued_after
        || before.is_some_and(|c| c.is_alphanumeric())
        || after.is_some_and(|c| c.is_alphanumeric())
}

fn digits_of(s: &str) -> Vec<u8> {
    s.bytes().filter(u8::is_ascii_digit).collect()
}

pub(super) fn candidates(text: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    if text.contains(['@', '[', '(', '{', '<']) {
        emails(text, &mut out);
    }
    if text.bytes().any(|b| b.is_ascii_digit()) {
        cards(text, &mut out);
        ssns(text, &mut out);
        ibans(text, &mut out);
        ipv4s(text, &mut out);
        dates_of_birth(text, &mut out);
        phones(text, &mut out);
    }
    if text.contains(':') {
        ipv6s(text, &mut out);
    }
    out
}

fn push(out: &mut Vec<Finding>, kind: PiiKind, start: usize, end: usize) {
    out.push(Finding { kind, start, end });
}

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    constant_regex(
        r"(?i)[a-z0-9](?:[a-z0-9._%+\-']{0,62}[a-z0-9_%+\-])?@(?:[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?\.)+[a-z]{2,24}\b",
    )
});

/// "jane[at]example[dot]com", "jane (at) example (dot) com": the bracketed spellings
/// people use to hide an address from scrapers. Plain " at " / " dot " is too common in
/// prose to count.
static EMAIL_SPELLED: LazyLock<Regex> = LazyLock::new(|| {
    constant_regex(
        r"(?i)\b[a-z0-9][a-z0-9._%+\-]{0,63}\s*[\[({<]\s*at\s*[\])}>]\s*[a-z0-9\-]{1,63}(?:\s*[\[({<]\s*dot\s*[\])}>]\s*[a-z0-9\-]{1,63})+\b",
    )
});

fn emails(text: &str, out: &mut Vec<Finding>) {
    for m in EMAIL_SPELLED.find_iter(text) {
        push(out, PiiKind::Email, m.start(), m.end());
    }
    for m in EMAIL.find_iter(text) {
        let local = m.as_str().split('@').next().unwrap_or("");
        // "..": not a valid unquoted local part; a letter/digit/dot right before: the regex
        // started mid-token, e.g. after a character the local part may not contain.
        let glued = char_before(text, m.start()).is_some_and(|c| c.is_alphanumeric() || c == '.');
        if local.contains("..") || glued {
            continue;
        }
        push(out, PiiKind::Email, m.start(), m.end());
    }
}

static CARD: LazyLock<Regex> = LazyLock::new(|| constant_regex(r"\b\d(?:[ \-]?\d){11,18}\b"));

fn cards(text: &str, out: &mut Vec<Finding>) {
    for m in CARD.find_iter(text) {
        let s = m.as_str();
        if continues_number(text, m.start(), m.end(), &[' ', '-', '.', '/'])
            || char_before(text, m.start()) == Some('+')
        {
            continue;
        }
        // Separators, if any, must be all spaces or all dashes, in printed-card groups.
        let has_space = s.contains(' ');
        let has_dash = s.contains('-');
        if has_space && has_dash {
            continue;
        }
        if has_space || has_dash {
            let groups: Vec<&str> = s.split([' ', '-']).collect();
            let first_ok = groups.first().is_some_and(|g| g.len() == 4);
            let rest_ok = groups[1..].iter().all(|g| (1..=6).contains(&g.len()));
            let inner_ok = groups[1..groups.len().saturating_sub(1)]
                .iter()
                .all(|g| g.len() >= 3);
            if !(first_ok && rest_ok && inner_ok) {
                continue;
            }
        }
        if !card_valid(&digits_of(s)) || labelled_not_pii(text, m.start(), CARD_LABELS) {
            continue;
        }
        push(out, PiiKind::CreditCard, m.start(), m.end());
    }
}

static SSN: LazyLock<Regex> =
    LazyLock::new(|| constant_regex(r"\b(\d{3})([ \-]?)(\d{2})([ \-]?)(\d{4})\b"));

fn ssns(text: &str, out: &mut Vec<Finding>) {
    for c in SSN.captures_iter(text) {
        let (Some(m), Some(area), Some(s1), Some(group), Some(s2), Some(serial)) =
            (c.get(0), c.get(1), c.get(2), c.get(3), c.get(4), c.get(5))
        else {
            continue;
        };
        if s1.as_str() != s2.as_str()
            || continues_number(text, m.start(), m.end(), &[' ', '-', '.', '/', ','])
            || !ssn_valid(area.as_str(), group.as_str(), serial.as_str())
        {
            continue;
        }
        let labelled = any_word_in(&words_before(text, m.start(), 4), SSN_LABELS)
            || any_word_in(&words_after(text, m.end(), 4), SSN_LABELS);
        // Nine bare digits are an SSN only when someone says so.
        if s1.as_str().is_empty() && !labelled {
            continue;
        }
        if labelled_not_pii(text, m.start(), SSN_LABELS) {
            continue;
        }
        push(out, PiiKind::Ssn, m.start(), m.end());
    }
}

static IBAN_START: LazyLock<Regex> =
    LazyLock::new(|| constant_regex(r"\b[A-Za-z]{2}\d{2}[ ]?[A-Za-z0-9]"));

fn ibans(text: &str, out: &mut Vec<Finding>) {
    for m in IBAN_START.find_iter(text) {
        let country = text
            .get(m.start()..m.start() + 2)
            .unwrap_or("")
            .to_ascii_uppercase();
        let Some(len) = iban_length(&country) else {
            continue;
        };
        // Walk exactly `len` letters/digits, allowing single spaces between them, so a
        // grouped IBAN does not swallow the word after it.
        let mut compact = String::with_capacity(len);
        let mut end = m.start();
        let mut prev_space = false;
        for (i, c) in text[m.start()..].char_indices() {
            if compact.len() == len {
                break;
            }
            if c.is_ascii_alphanumeric() {
                compact.push(c.to_ascii_uppercase());
                end = m.start() + i + 1;
                prev_space = false;
            } else if c == ' ' && !prev_space && !compact.is_empty() {
                prev_space = true;
            } else {
                break;
            }
        }
        if compact.len() != len || char_after(text, end).is_some_and(|c| c.is_alphanumeric()) {
            continue;
        }
        if iban_valid(&compact) {
            push(out, PiiKind::Iban, m.start(), end);
        }
    }
}

static IPV4: LazyLock<Regex> =
    LazyLock::new(|| constant_regex(r"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b"));

fn ipv4s(text: &str, out: &mut Vec<Finding>) {
    for m in IPV4.find_iter(text) {
        // "10.0.0.12:8080" is an address and a port; "1.2.3.4.5" is not an address.
        if continues_number(text, m.start(), m.end(), &['.'])
            || m.as_str().parse::<Ipv4Addr>().is_err()
        {
            continue;
        }
        let words = words_before(text, m.start(), 2);
        if words
            .first()
            .is_some_and(|w| IP_NOT_LABELS.contains(&w.as_str()))
        {
            continue;
        }
        push(out, PiiKind::IpAddress, m.start(), m.end());
    }
}

static IPV6: LazyLock<Regex> = LazyLock::new(|| {
    constant_regex(r"(?i)[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7}(?:\.\d{1,3}\.\d{1,3}\.\d{1,3})?")
});

fn ipv6s(text: &str, out: &mut Vec<Finding>) {
    for m in IPV6.find_iter(text) {
        let mut s = m.as_str();
        let start = m.start();
        // A sentence may end right after an address ("…::1:" or "…:7334."), but "fe80::"
        // is itself an address, so try the trimmed form only when the full one fails.
        let mut parsed = s.parse::<Ipv6Addr>().is_ok();
        if !parsed && s.ends_with(':') && !s.ends_with("::") {
            s = &s[..s.len() - 1];
            parsed = s.parse::<Ipv6Addr>().is_ok();
        }
        let end = start + s.len();
        let hex_digits = s.chars().filter(char::is_ascii_hexdigit).count();
        let glued = char_before(text, start).is_some_and(|c| c.is_alphanumeric() || c == ':')
            || char_after(text, end).is_some_and(|c| c.is_alphanumeric() || c == ':');
        if parsed && !glued && (hex_digits >= 4 || s == "::1") {
            push(out, PiiKind::IpAddress, start, end);
        }
    }
}

const MONTH: &str = r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?";

static DOB: LazyLock<Regex> = LazyLock::new(|| {
    let date = format!(
        r"(\d{{4}}[\-/.]\d{{1,2}}[\-/.]\d{{1,2}}|\d{{1,2}}[\-/.]\d{{1,2}}[\-/.](?:\d{{4}}|\d{{2}})|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{MONTH},?\s+\d{{4}}|{MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}})"
    );
    constant_regex(&format!(
        r"(?i)\b(?:dob|d\.o\.b\.?|date\s+of\s+birth|birth\s*date|birthday|born(?:\s+on)?)(?:\b|\.)[\s:=\-.]*(?:is\s+|was\s+|of\s+)?(?:on\s+)?(?:the\s+)?{date}\b"
    ))
});

/// Day, month and year are each in range (numeric dates may be day-first or month-first).
fn plausible_date(date: &str) -> bool {
    let numbers: Vec<u32> = date
        .split(|c: char| !c.is_ascii_digit())
        .filter(|p| !p.is_empty())
        .filter_map(|p| p.parse().ok())
        .collect();
    let has_month_name = date.chars().any(|c| c.is_ascii_alphabetic());
    let year_ok = |y: u32| (1900..=2100).contains(&y) || y < 100;
    match numbers.as_slice() {
        [d, y] if has_month_name => (1..=31).contains(d) && year_ok(*y),
        [y, m, d] if *y >= 1000 => (1..=12).contains(m) && (1..=31).contains(d) && year_ok(*y),
        [a, b, y] => {
            let day_month = (1..=31).contains(a) && (1..=12).contains(b);
            let month_day = (1..=12).contains(a) && (1..=31).contains(b);
            (day_month || month_day) && year_ok(*y)
        }
        _ => false,
    }
}

fn dates_of_birth(text: &str, out: &mut Vec<Finding>) {
    for c in DOB.captures_iter(text) {
        let Some(date) = c.get(1) else { continue };
        if plausible_date(date.as_str()) {
            push(out, PiiKind::DateOfBirth, date.start(), date.end());
        }
    }
}

/// International numbers: "+" and country code, then digits in groups.
static PHONE_INTL: LazyLock<Regex> =
    LazyLock::new(|| constant_regex(r"\+\d{1,3}(?:[ .\-]?\(?\d{1,5}\)?){1,6}"));
/// North American numbers: "(555) 123-4567", "555-123-4567", "1-800-555-0199".
static PHONE_NANP: LazyLock<Regex> = LazyLock::new(|| {
    constant_regex(r"(?:\b1[ .\-])?(?:\(\d{3}\)[ .\-]?|\b\d{3}[ .\-])\d{3}[ .\-]\d{4}\b")
});
/// National numbers with a trunk 0: "020 7946 0958", "0151 12345678", "06 12 34 56 78".
static PHONE_TRUNK: LazyLock<Regex> =
    LazyLock::new(|| constant_regex(r"(?:\(0\d{1,4}\)|\b0\d{1,4})(?:[ \-]\d{2,8}){1,4}\b"));
/// Seven-digit local numbers ("555-0123") count only after a word such as "phone".
static PHONE_LOCAL: LazyLock<Regex> = LazyLock::new(|| constant_regex(r"\b\d{3}[ .\-]\d{4}\b"));
/// Bare digit runs count only after a word such as "call" or "phone".
static PHONE_BARE: LazyLock<Regex> = LazyLock::new(|| constant_regex(r"\b\d{10,11}\b"));

fn phones(text: &str, out: &mut Vec<Finding>) {
    let seps = ['-', '.', '/', ':'];
    for m in PHONE_INTL.find_iter(text) {
        let s = m.as_str().trim_end_matches([' ', '.', '-', '(']);
        let end = m.start() + s.len();
        let digits = digits_of(s).len();
        let glued = char_before(text, m.start()).is_some_and(|c| c.is_alphanumeric())
            || char_after(text, end).is_some_and(|c| c.is_alphanumeric());
        if (8..=15).contains(&digits) && !glued && !continues_number(text, m.start(), end, &seps) {
            push(out, PiiKind::Phone, m.start(), end);
        }
    }
    for m in PHONE_NANP.find_iter(text) {
        let digits = digits_of(m.as_str());
        let area = if digits.len() == 11 {
            digits.get(1)
        } else {
            digits.first()
        };
        let glued = char_before(text, m.start()).is_some_and(|c| c.is_ascii_digit() || c == '#');
        if glued
            || continues_number(text, m.start(), m.end(), &seps)
            || !area.is_some_and(|d| (b'2'..=b'9').contains(d))
            || labelled_not_pii(text, m.start(), PHONE_LABELS)
        {
            continue;
        }
        push(out, PiiKind::Phone, m.start(), m.end());
    }
    for m in PHONE_TRUNK.find_iter(text) {
        let digits = digits_of(m.as_str()).len();
        let glued = char_before(text, m.start()).is_some_and(|c| c.is_ascii_digit() || c == '#');
        if !(9..=12).contains(&digits)
            || glued
            || continues_number(text, m.start(), m.end(), &seps)
            || labelled_not_pii(text, m.start(), PHONE_LABELS)
        {
            continue;
        }
        push(out, PiiKind::Phone, m.start(), m.end());
    }
    for m in PHONE_LOCAL.find_iter(text) {
        let glued = continues_number(text, m.start(), m.end(), &[' ', '-', '.', '/', ':'])
            || char_before(text, m.start()).is_some_and(|c| c == '#' || c == '(' || c == '+');
        if !glued
            && any_word_in(&words_before(text, m.start(), 4), PHONE_LABELS)
            && !labelled_not_pii(text, m.start(), PHONE_LABELS)
        {
            push(out, PiiKind::Phone, m.start(), m.end());
        }
    }
    for m in PHONE_BARE.find_iter(text) {
        let words = words_before(text, m.start(), 4);
        let glued = continues_number(text, m.start(), m.end(), &seps)
            || char_before(text, m.start()) == Some('#');
        let d = m.as_str().as_bytes();
        let dialable = match (d.len(), d.first(), d.get(1)) {
            (_, Some(b'0'), _) => true,
            (10, Some(first), _) => (b'2'..=b'9').contains(first),
            (11, Some(b'1'), Some(area)) => (b'2'..=b'9').contains(area),
            _ => false,
        };
        if !glued
            && dialable
            && any_word_in(&words, PHONE_LABELS)
            && !labelled_not_pii(text, m.start(), PHONE_LABELS)
        {
            push(out, PiiKind::Phone, m.start(), m.end());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_before_reads_labels_through_punctuation() {
        let text = "Order #: 4539 1488";
        let start = text.find('4').unwrap_or(0);
        assert_eq!(words_before(text, start, 3), vec!["order".to_owned()]);
    }

    #[test]
    fn dates_are_checked_for_range() {
        for (date, ok) in [
            ("03/14/1985", true),
            ("14.03.1985", true),
            ("1985-03-14", true),
            ("14 March 1985", true),
            ("13/13/1985", false),
            ("1985-13-01", false),
        ] {
            assert_eq!(plausible_date(date), ok, "{date}");
        }
    }
}
