//! Prints the guard's measured quality on the corpora in `corpus/` and its cost per message.
//!
//!     cargo run -p parley-guard --example guard_quality --release [-- --verbose] [--abuse]
//!
//! `--verbose` also lists every disagreement with the labels; `--abuse` prints only the
//! abuse figures (fast enough for a debug build).

#[path = "../tests/support/quality.rs"]
mod quality;

use std::hint::black_box;
use std::time::{Duration, Instant};

use parley_guard::{detect_language, mask, score_abuse, screen, PiiKind};

fn main() {
    let verbose = std::env::args().any(|a| a == "--verbose");
    if std::env::args().any(|a| a == "--abuse") {
        print_abuse(verbose);
        return;
    }

    let pii = quality::pii_corpus();
    let (counts, misses) = quality::pii_scores(&pii);
    println!("PII corpus: {} sentences (corpus/pii.jsonl)", pii.len());
    println!(
        "{:<15} {:>5} {:>4} {:>4} {:>10} {:>8}",
        "kind", "tp", "fp", "fn", "precision", "recall"
    );
    for (kind, c) in &counts {
        println!(
            "{:<15} {:>5} {:>4} {:>4} {:>10.3} {:>8.3}",
            kind.as_str(),
            c.tp,
            c.fp,
            c.fn_,
            c.precision(),
            c.recall()
        );
    }
    if verbose {
        for m in &misses {
            let what = if m.false_positive { "FP" } else { "FN" };
            println!(
                "  {what} {:<13} {:?} in {:?}",
                m.kind.as_str(),
                m.span,
                m.text
            );
        }
    }

    let inj = quality::injection_corpus();
    let s = quality::injection_scores(&inj);
    println!();
    println!(
        "Injection corpus: {} attacks, {} benign (corpus/injection.jsonl)",
        s.attacks, s.benign
    );
    println!(
        "detection rate       {:.3} ({}/{})",
        s.detection_rate(),
        s.detected,
        s.attacks
    );
    println!(
        "false-positive rate  {:.3} ({}/{})",
        s.false_positive_rate(),
        s.false_positives,
        s.benign
    );
    println!("  detected per attack category:");
    for (cat, (hit, total)) in &s.by_category {
        println!("    {cat:<26} {hit:>3}/{total:<3}");
    }
    println!("  flagged per benign category:");
    for (cat, (hit, total)) in &s.benign_by_category {
        println!("    {cat:<26} {hit:>3}/{total:<3}");
    }
    if verbose {
        for t in &s.missed {
            println!("  missed  {t:?}");
        }
        for t in &s.wrongly_flagged {
            println!("  flagged {t:?}");
        }
    }

    print_abuse(verbose);

    let leaks = quality::leak_test(&inj);
    println!();
    println!(
        "Leak test (obedient model leaks its prompt for every attack, {} styles): {}/{} leaks stopped; {}/{} benign replies blocked",
        quality::LEAK_STYLES,
        leaks.leaks_stopped,
        leaks.leaks_attempted,
        leaks.benign_blocked,
        leaks.benign_replies
    );
    for r in &leaks.escaped {
        println!("  escaped {r:?}");
    }

    // Cost per message: every corpus text through mask + screen + abuse + lang, against
    // two baselines over the same texts in the same run.
    let texts: Vec<&str> = pii
        .iter()
        .map(|e| e.text.as_str())
        .chain(inj.iter().map(|e| e.text.as_str()))
        .collect();
    let email = regex::Regex::new(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
        .unwrap_or_else(|e| panic!("{e}"));
    let _ = detect_language("warm up the language models please"); // first call loads models
    let rounds = 5;
    let time = |f: &dyn Fn(&str)| -> Duration {
        let start = Instant::now();
        for _ in 0..rounds {
            for t in &texts {
                f(t);
            }
        }
        start.elapsed() / (rounds * texts.len()) as u32
    };
    let guard = time(&|t| {
        black_box(mask(t, &PiiKind::ALL));
        black_box(screen(t));
        black_box(score_abuse(t));
        black_box(detect_language(t));
    });
    type Stage<'a> = (&'a str, &'a dyn Fn(&str));
    let stages: [Stage; 4] = [
        ("mask", &|t| drop(black_box(mask(t, &PiiKind::ALL)))),
        ("screen", &|t| drop(black_box(screen(t)))),
        ("score_abuse", &|t| drop(black_box(score_abuse(t)))),
        ("detect_language", &|t| drop(black_box(detect_language(t)))),
    ];
    let regex_baseline = time(&|t| {
        black_box(email.is_match(t));
    });
    let copy_baseline = time(&|t| drop(black_box(t.to_owned())));
    println!();
    println!(
        "Cost per message ({} texts x {rounds} rounds, this machine):",
        texts.len()
    );
    println!(
        "  all four guard stages   {:>9.1} µs",
        guard.as_secs_f64() * 1e6
    );
    for (name, f) in stages {
        println!("    {name:<21} {:>9.1} µs", time(f).as_secs_f64() * 1e6);
    }
    println!(
        "  baseline: one e-mail regex is_match {:>7.2} µs  (guard = {:.0}x)",
        regex_baseline.as_secs_f64() * 1e6,
        guard.as_secs_f64() / regex_baseline.as_secs_f64()
    );
    println!(
        "  baseline: copy of the text          {:>7.2} µs  (guard = {:.0}x)",
        copy_baseline.as_secs_f64() * 1e6,
        guard.as_secs_f64() / copy_baseline.as_secs_f64()
    );
}

fn print_abuse(verbose: bool) {
    let abuse = quality::abuse_scores(&quality::abuse_corpus());
    println!(
        "Abuse corpus: {} abusive, {} benign support messages (corpus/abuse.jsonl), threshold {}",
        abuse.abusive,
        abuse.benign,
        parley_guard::abuse::ABUSIVE_THRESHOLD
    );
    println!(
        "recall               {:.3} ({}/{})",
        abuse.recall(),
        abuse.caught,
        abuse.abusive
    );
    println!(
        "false-positive rate  {:.4} ({}/{}); any score above 0: {}/{}",
        abuse.false_positive_rate(),
        abuse.false_positives,
        abuse.benign,
        abuse.benign_scored,
        abuse.benign
    );
    println!("  caught per abusive category:");
    for (cat, (hit, total)) in &abuse.by_category {
        println!("    {cat:<26} {hit:>3}/{total:<3}");
    }
    println!("  flagged per benign category:");
    for (cat, (hit, total)) in &abuse.benign_by_category {
        println!("    {cat:<26} {hit:>3}/{total:<3}");
    }
    for (t, score, terms) in &abuse.wrongly_flagged {
        println!("  flagged {score:.2} {t:?} {terms:?}");
    }
    if verbose {
        for (t, score, terms) in &abuse.missed {
            println!("  missed  {score:.2} {t:?} {terms:?}");
        }
    }
}
