//! Property tests for the masker and the screens: no input makes them panic, and masking
//! leaves nothing that is still detected as one of the original findings.

use parley_guard::{detect, mask, score_abuse, screen, PiiKind};
use proptest::prelude::*;

/// Fragments that make realistic and adversarial messages when glued together.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("4111 1111 1111 1111".to_owned()),
        Just("4111-1111-1111-1111".to_owned()),
        Just("378282246310005".to_owned()),
        Just("123-45-6789".to_owned()),
        Just("jane.doe+x@example.co.uk".to_owned()),
        Just("+44 20 7946 0958".to_owned()),
        Just("(555) 123-4567".to_owned()),
        Just("GB82 WEST 1234 5698 7654 32".to_owned()),
        Just("DE89370400440532013000".to_owned()),
        Just("192.168.0.1".to_owned()),
        Just("2001:db8::1".to_owned()),
        Just("DOB: 03/14/1985".to_owned()),
        Just("order #".to_owned()),
        Just("call me on ".to_owned()),
        Just("ssn ".to_owned()),
        Just("[at]".to_owned()),
        Just("@".to_owned()),
        Just(" ".to_owned()),
        Just("-".to_owned()),
        Just(".".to_owned()),
        Just(":".to_owned()),
        Just("é".to_owned()),
        Just("\u{200B}".to_owned()),
        Just("😀".to_owned()),
        "[0-9]{1,20}",
        "[a-zA-Z]{1,8}",
        "[0-9 .:@()\\-]{1,12}",
        any::<String>(),
    ]
}

fn message() -> impl Strategy<Value = String> {
    prop::collection::vec(fragment(), 0..12).prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn masking_never_panics_and_leaves_no_detected_span(text in message()) {
        let masked = mask(&text, &PiiKind::ALL);
        let findings = detect(&text);
        prop_assert_eq!(&masked.findings, &findings);
        for f in &findings {
            prop_assert!(text.is_char_boundary(f.start) && text.is_char_boundary(f.end));
            prop_assert!(f.start < f.end);
        }
        // Findings are sorted and disjoint.
        for pair in findings.windows(2) {
            prop_assert!(pair[0].end <= pair[1].start);
        }
        let again = detect(&masked.text);
        for f in &findings {
            let original = f.text(&text);
            prop_assert!(
                !again.iter().any(|g| g.text(&masked.text) == original),
                "{:?} still detected in {:?}", original, masked.text
            );
        }
    }

    #[test]
    fn masking_a_subset_keeps_the_other_kinds(text in message()) {
        let only_cards = mask(&text, &[PiiKind::CreditCard]);
        prop_assert!(only_cards.findings.iter().all(|f| f.kind == PiiKind::CreditCard));
        let none = mask(&text, &[]);
        prop_assert_eq!(none.text, text.clone());
    }

    #[test]
    fn screens_never_panic_and_stay_in_range(text in message()) {
        let v = screen(&text);
        prop_assert!((0.0..=1.0).contains(&v.score));
        let a = score_abuse(&text);
        prop_assert!((0.0..=1.0).contains(&a.score));
    }
}

/// Found by the property above: a phone number glued to another is only visible once the
/// first is masked; masking runs until nothing more is found.
#[test]
fn glued_numbers_are_all_masked() {
    let text = "(555) 123-4567(555) 123-4567\u{200b}";
    let masked = mask(text, &PiiKind::ALL);
    assert!(!masked.text.contains("123-4567"), "{}", masked.text);
    assert!(detect(&masked.text).is_empty(), "{}", masked.text);
}
