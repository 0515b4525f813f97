//! The corpora as regression tests: the quality targets from issue 7 fail CI when a change
//! to a detector drops below them.

mod support;

use parley_guard::PiiKind;
use support::quality;

#[test]
fn pii_corpus_is_big_enough_and_covers_every_kind() {
    let corpus = quality::pii_corpus();
    assert!(corpus.len() >= 500, "{} sentences", corpus.len());
    for kind in PiiKind::ALL {
        let n = corpus
            .iter()
            .flat_map(|e| &e.spans)
            .filter(|s| s.kind == kind)
            .count();
        assert!(n >= 30, "only {n} labelled {kind} spans");
    }
    let look_alikes = corpus.iter().filter(|e| e.spans.is_empty()).count();
    assert!(
        look_alikes >= 80,
        "only {look_alikes} sentences without PII"
    );
}

#[test]
fn pii_detection_meets_the_targets() {
    let (counts, misses) = quality::pii_scores(&quality::pii_corpus());
    let recall_target = |k: PiiKind| match k {
        PiiKind::CreditCard | PiiKind::Ssn | PiiKind::Email | PiiKind::Iban => 0.99,
        PiiKind::Phone => 0.95,
        // No target in the issue; held at what the detectors reach today.
        PiiKind::IpAddress | PiiKind::DateOfBirth => 0.95,
    };
    let mut failures = Vec::new();
    for (kind, c) in &counts {
        if c.recall() < recall_target(*kind) || c.precision() < 0.95 {
            failures.push(format!(
                "{kind}: precision {:.3} recall {:.3} ({c:?})",
                c.precision(),
                c.recall()
            ));
        }
    }
    let detail: Vec<String> = misses
        .iter()
        .map(|m| {
            format!(
                "{} {} {:?} in {:?}",
                if m.false_positive { "FP" } else { "FN" },
                m.kind,
                m.span,
                m.text
            )
        })
        .collect();
    assert!(failures.is_empty(), "{failures:#?}\n{detail:#?}");
}

#[test]
fn injection_corpus_is_big_enough() {
    let corpus = quality::injection_corpus();
    let attacks = corpus.iter().filter(|e| e.attack).count();
    assert!(
        attacks >= 200 && corpus.len() - attacks >= 200,
        "{attacks} attacks of {}",
        corpus.len()
    );
}

#[test]
fn injection_screen_detection_and_false_positive_rates_hold() {
    let s = quality::injection_scores(&quality::injection_corpus());
    // Floors just under today's measurement (0.910 and 0.010, see guard_quality): the
    // held-out "blind" lines pull the detection rate down and are meant to.
    assert!(
        s.detection_rate() >= 0.90,
        "detection {:.3}, missed {:#?}",
        s.detection_rate(),
        s.missed
    );
    assert!(
        s.false_positive_rate() <= 0.02,
        "false positives {:.3}: {:#?}",
        s.false_positive_rate(),
        s.wrongly_flagged
    );
    // The sets the patterns were written against stay fully covered.
    for (category, (hit, total)) in &s.by_category {
        if category != "handwritten_blind" {
            assert_eq!(hit, total, "{category}");
        }
    }
}

#[test]
fn output_guard_stops_every_canary_leak() {
    let leaks = quality::leak_test(&quality::injection_corpus());
    assert_eq!(
        leaks.leaks_stopped, leaks.leaks_attempted,
        "escaped: {:#?}",
        leaks.escaped
    );
    assert_eq!(leaks.benign_blocked, 0);
}

#[test]
fn abuse_corpus_is_big_enough() {
    let corpus = quality::abuse_corpus();
    let abusive = corpus.iter().filter(|e| e.abusive).count();
    assert!(
        corpus.len() - abusive >= 500 && abusive >= 150,
        "{abusive} abusive of {}",
        corpus.len()
    );
}

#[test]
fn abuse_false_positives_stay_under_half_a_percent() {
    // Issue 14: support messages full of order numbers, codes, postcodes and names must not
    // count as abuse (before the fix 103/807 did, 12.8%; now 2/807). Recall was 0.729
    // before and is 0.885 now (guard_quality --abuse); the floor sits a little under it.
    // Both include the held-out "blind" lines, which pull recall down and are meant to.
    let s = quality::abuse_scores(&quality::abuse_corpus());
    assert!(
        s.false_positive_rate() < 0.005,
        "false positives {}/{}: {:#?}",
        s.false_positives,
        s.benign,
        s.wrongly_flagged
    );
    assert!(
        s.recall() >= 0.86,
        "recall {:.3} ({}/{}), missed {:#?}",
        s.recall(),
        s.caught,
        s.abusive,
        s.missed
    );
    // The messages from the issue are in the corpus and pass.
    let corpus = quality::abuse_corpus();
    let issue: Vec<_> = corpus
        .iter()
        .filter(|e| e.category == "issue_examples")
        .collect();
    assert!(issue.len() >= 3);
    for e in issue {
        assert!(
            !parley_guard::score_abuse(&e.text).is_abusive(),
            "{:?}",
            e.text
        );
    }
}
