//! PII detection and masking. Each kind has a cheap candidate pattern (regex) and a
//! validator that decides (Luhn and issuer ranges for cards, issuing rules for SSNs, mod-97
//! for IBANs, `std::net` parsing for IP addresses), plus context rules for the shapes that
//! are also used by harmless numbers: a number right after "order", "invoice" or "tracking"
//! is that, not a card or a phone. [`detect`] returns non-overlapping findings as byte
//! offsets; [`mask`] replaces the enabled kinds with placeholders such as
//! `[CREDIT_CARD_REDACTED]`. Neither keeps the original text: a caller that must keep it
//! slices it out of its own input and seals it with the [`crate::vault`].

mod scan;
mod validate;

use serde::{Deserialize, Serialize};

/// What a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PiiKind {
    CreditCard,
    Ssn,
    Email,
    Phone,
    Iban,
    IpAddress,
    DateOfBirth,
}

impl PiiKind {
    /// Every kind, in the order [`detect`] prefers them when two candidates overlap.
    pub const ALL: [PiiKind; 7] = [
        PiiKind::Email,
        PiiKind::Iban,
        PiiKind::CreditCard,
        PiiKind::Ssn,
        PiiKind::DateOfBirth,
        PiiKind::IpAddress,
        PiiKind::Phone,
    ];

    /// The text that replaces a finding of this kind in masked output.
    pub fn placeholder(self) -> &'static str {
        match self {
            PiiKind::CreditCard => "[CREDIT_CARD_REDACTED]",
            PiiKind::Ssn => "[SSN_REDACTED]",
            PiiKind::Email => "[EMAIL_REDACTED]",
            PiiKind::Phone => "[PHONE_REDACTED]",
            PiiKind::Iban => "[IBAN_REDACTED]",
            PiiKind::IpAddress => "[IP_ADDRESS_REDACTED]",
            PiiKind::DateOfBirth => "[DATE_OF_BIRTH_REDACTED]",
        }
    }

    /// The snake_case name used in JSON and corpora (`credit_card`, `ip_address`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            PiiKind::CreditCard => "credit_card",
            PiiKind::Ssn => "ssn",
            PiiKind::Email => "email",
            PiiKind::Phone => "phone",
            PiiKind::Iban => "iban",
            PiiKind::IpAddress => "ip_address",
            PiiKind::DateOfBirth => "date_of_birth",
        }
    }

    fn precedence(self) -> usize {
        PiiKind::ALL
            .iter()
            .position(|&k| k == self)
            .unwrap_or(PiiKind::ALL.len())
    }
}

impl std::fmt::Display for PiiKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One detected span of `text[start..end]` (byte offsets, always on char boundaries).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub kind: PiiKind,
    pub start: usize,
    pub end: usize,
}

impl Finding {
    /// The detected text, sliced from the text it was found in.
    pub fn text<'t>(&self, text: &'t str) -> &'t str {
        text.get(self.start..self.end).unwrap_or("")
    }
}

/// Masked text and what was masked. The findings' offsets refer to the *original* text, so
/// a caller holding it can seal the originals; `Masked` itself never holds them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Masked {
    pub text: String,
    pub findings: Vec<Finding>,
}

/// All PII in `text`, sorted by position, with overlaps resolved: when two candidates
/// overlap, the kind earlier in [`PiiKind::ALL`] wins (an e-mail's digits are not a phone,
/// an IBAN's are not a card), then the earlier start.
pub fn detect(text: &str) -> Vec<Finding> {
    // Every kind needs a digit except e-mail, which needs '@' (or a bracket, when spelled
    // "[at]"): most chat messages have none of these and leave here.
    if !text
        .bytes()
        .any(|b| b.is_ascii_digit() || matches!(b, b'@' | b'[' | b'(' | b'{' | b'<'))
    {
        return Vec::new();
    }
    let mut candidates = scan::candidates(text);
    candidates.sort_by_key(|f| (f.kind.precedence(), f.start, std::cmp::Reverse(f.end)));
    let mut chosen: Vec<Finding> = Vec::with_capacity(candidates.len());
    for c in candidates {
        if chosen.iter().all(|k| c.end <= k.start || c.start >= k.end) {
            chosen.push(c);
        }
    }
    chosen.sort_by_key(|f| f.start);
    chosen
}

/// `text` with every finding of an enabled kind replaced by its placeholder.
pub fn mask(text: &str, kinds_enabled: &[PiiKind]) -> Masked {
    let findings: Vec<Finding> = detect(text)
        .into_iter()
        .filter(|f| kinds_enabled.contains(&f.kind))
        .collect();
    let mut out = String::with_capacity(text.len());
    let mut cursor = 0;
    for f in &findings {
        out.push_str(text.get(cursor..f.start).unwrap_or(""));
        out.push_str(f.kind.placeholder());
        cursor = f.end;
    }
    out.push_str(text.get(cursor..).unwrap_or(""));
    // Masking can expose a value the first pass could not see: "4567(555) 123-4567" hides
    // the second number behind a digit, which a placeholder then replaces. Mask again
    // until nothing more is found (placeholders themselves never match).
    for _ in 0..4 {
        let more: Vec<Finding> = detect(&out)
            .into_iter()
            .filter(|f| kinds_enabled.contains(&f.kind))
            .collect();
        if more.is_empty() {
            break;
        }
        let mut next = String::with_capacity(out.len());
        let mut cursor = 0;
        for f in &more {
            next.push_str(out.get(cursor..f.start).unwrap_or(""));
            next.push_str(f.kind.placeholder());
            cursor = f.end;
        }
        next.push_str(out.get(cursor..).unwrap_or(""));
        out = next;
    }
    Masked {
        text: out,
        findings,
    }
}

/// The value of a finding in a form where two spellings of the same datum compare equal
/// ("4111 1111 1111 1111" and "4111-1111-1111-1111"; upper- and lowercase e-mails).
pub(crate) fn canonical_value(kind: PiiKind, raw: &str) -> String {
    match kind {
        PiiKind::Email => raw.to_lowercase(),
        PiiKind::IpAddress => raw
            .parse::<std::net::IpAddr>()
            .map(|ip| ip.to_string())
            .unwrap_or_else(|_| raw.to_lowercase()),
        PiiKind::Iban => raw
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect::<String>()
            .to_uppercase(),
        PiiKind::CreditCard | PiiKind::Ssn | PiiKind::Phone | PiiKind::DateOfBirth => {
            raw.chars().filter(char::is_ascii_digit).collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Vec<(PiiKind, &str)> {
        detect(text)
            .iter()
            .map(|f| (f.kind, f.text(text)))
            .collect()
    }

    #[test]
    fn detects_each_kind_in_its_usual_formats() {
        use PiiKind::*;
        let cases: &[(&str, &[(PiiKind, &str)])] = &[
            (
                "card 4111 1111 1111 1111 please",
                &[(CreditCard, "4111 1111 1111 1111")],
            ),
            (
                "card 4111-1111-1111-1111",
                &[(CreditCard, "4111-1111-1111-1111")],
            ),
            ("4111111111111111", &[(CreditCard, "4111111111111111")]),
            (
                "amex 3782 822463 10005.",
                &[(CreditCard, "3782 822463 10005")],
            ),
            ("my ssn is 123-45-6789", &[(Ssn, "123-45-6789")]),
            ("SSN 123 45 6789", &[(Ssn, "123 45 6789")]),
            ("social security number 123456789", &[(Ssn, "123456789")]),
            (
                "mail me at Jane.Doe+orders@example.co.uk.",
                &[(Email, "Jane.Doe+orders@example.co.uk")],
            ),
            (
                "call +44 20 7946 0958 today",
                &[(Phone, "+44 20 7946 0958")],
            ),
            ("(555) 123-4567", &[(Phone, "(555) 123-4567")]),
            ("or 555-123-4567", &[(Phone, "555-123-4567")]),
            ("ring 0151 12345678", &[(Phone, "0151 12345678")]),
            ("+14155550132", &[(Phone, "+14155550132")]),
            ("call me on 5551234567", &[(Phone, "5551234567")]),
            (
                "IBAN GB82 WEST 1234 5698 7654 32 thanks",
                &[(Iban, "GB82 WEST 1234 5698 7654 32")],
            ),
            (
                "DE89370400440532013000",
                &[(Iban, "DE89370400440532013000")],
            ),
            ("from 203.0.113.7 today", &[(IpAddress, "203.0.113.7")]),
            (
                "v6 2001:db8::8a2e:370:7334",
                &[(IpAddress, "2001:db8::8a2e:370:7334")],
            ),
            ("loopback ::1 here", &[(IpAddress, "::1")]),
            ("DOB: 03/14/1985", &[(DateOfBirth, "03/14/1985")]),
            (
                "date of birth is 14 March 1985",
                &[(DateOfBirth, "14 March 1985")],
            ),
            ("I was born on 1985-03-14.", &[(DateOfBirth, "1985-03-14")]),
        ];
        for (text, want) in cases {
            assert_eq!(found(text), want.to_vec(), "text {text:?}");
        }
    }

    #[test]
    fn leaves_look_alikes_alone() {
        let cases = [
            "Order #4539 1488 0343 6467 has not arrived",
            "tracking 1Z999AA10123456784",
            "logged at 2024-01-15 14:32:10",
            "invoice INV-2024-00123 for $1,299.99",
            "upgrade to version 10.0.19045.2965",
            "running v1.2.3.4 of the app",
            "card 4111 1111 1111 1112",
            "ssn 666-12-3456",
            "the meeting is on 03/14/2025",
            "order 555-123-4567",
            "ISBN 978-3-16-148410-0",
            "serial 123-45-6789",
            "temperature was 12:30:45",
            "MAC 00:1A:2B:3C:4D:5E",
            "IBAN GB82 WEST 1234 5698 7654 31",
            "use std::io::Read",
            "a 22-digit parcel 9400 1000 0000 0000 0000 00",
            "call 1234567890",
            "my order number is 5551234567",
        ];
        for text in cases {
            assert_eq!(found(text), vec![], "text {text:?}");
        }
    }

    #[test]
    fn mask_replaces_only_enabled_kinds() {
        let text = "mail a@b.io or call +44 20 7946 0958";
        let all = mask(text, &PiiKind::ALL);
        assert_eq!(all.text, "mail [EMAIL_REDACTED] or call [PHONE_REDACTED]");
        assert_eq!(all.findings.len(), 2);
        let emails = mask(text, &[PiiKind::Email]);
        assert_eq!(
            emails.text,
            "mail [EMAIL_REDACTED] or call +44 20 7946 0958"
        );
        assert_eq!(emails.findings[0].text(text), "a@b.io");
    }

    #[test]
    fn overlaps_go_to_the_stronger_kind() {
        // The digits of this e-mail's local part look like a phone number.
        let text = "5551234567@example.com";
        assert_eq!(found(text), vec![(PiiKind::Email, text)]);
    }

    #[test]
    fn kinds_serialise_snake_case() {
        let json = serde_json::to_string(&PiiKind::IpAddress).unwrap_or_default();
        assert_eq!(json, "\"ip_address\"");
        assert_eq!(PiiKind::DateOfBirth.as_str(), "date_of_birth");
    }
}
