//! The real `parley` binary: kill -9 durability, and the CLI commands.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

const KEY: &str = "pk_process_test_key_0123456789abcdef";

fn parley() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_parley"));
    for (k, _) in std::env::vars() {
        if k.starts_with("PARLEY_") {
            cmd.env_remove(k);
        }
    }
    cmd.env_remove("RUST_LOG");
    cmd
}

fn demo_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/demo-bot.yaml")
}

struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn start(data_dir: &Path, demo: bool, synchronous: &str) -> Server {
        let mut cmd = parley();
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .env("PARLEY_ADMIN_KEY", KEY)
            .env("PARLEY_SQLITE_SYNCHRONOUS", synchronous)
            // The kill -9 test writes to one conversation as fast as it can.
            .env("PARLEY_CONVERSATION_MESSAGES_PER_MINUTE", "0")
            .env("PARLEY_MAX_MESSAGES_PER_CONVERSATION", "0")
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if demo {
            cmd.arg("--demo");
        }
        let mut child = cmd.spawn().expect("the parley binary starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on ").nth(1) {
                    let _ = tx.send(rest.split_whitespace().next().unwrap_or("").to_string());
                }
            }
        });
        let base = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the server reports its address");
        Server { child, base }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// SIGKILL: no shutdown, no flush, nothing graceful.
    fn kill_9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn post(
    client: &reqwest::Client,
    url: String,
    body: Value,
) -> Result<(StatusCode, Value), reqwest::Error> {
    let resp = client.post(url).bearer_auth(KEY).json(&body).send().await?;
    let status = resp.status();
    Ok((status, resp.json().await.unwrap_or(Value::Null)))
}

#[tokio::test]
async fn acknowledged_messages_survive_kill_9() {
    kill_9_loses_nothing_acknowledged("full").await;
}

#[tokio::test]
async fn acknowledged_messages_survive_kill_9_with_normal_sync() {
    kill_9_loses_nothing_acknowledged("normal").await;
}

async fn kill_9_loses_nothing_acknowledged(synchronous: &str) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), true, synchronous);
    let client = reqwest::Client::new();
    let (_, bots) = {
        let resp = client
            .get(server.url("/api/v1/bots"))
            .bearer_auth(KEY)
            .send()
            .await
            .unwrap();
        (resp.status(), resp.json::<Value>().await.unwrap())
    };
    let bot = bots["data"]["items"][0]["id"].as_str().unwrap().to_string();
    let (_, conv) = post(
        &client,
        server.url("/api/v1/conversations"),
        json!({"bot_id": bot}),
    )
    .await
    .unwrap();
    let conv = conv["data"]["id"].as_str().unwrap().to_string();

    // Write as fast as possible from two clients, and kill the server mid-stream: once
    // both have been answered a few times (however slow the machine is), not after a
    // fixed time.
    let answered = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut writers = Vec::new();
    for w in 0..2 {
        let client = client.clone();
        let answered = answered.clone();
        let url = if w == 0 {
            server.url(&format!("/api/v1/conversations/{conv}/complete"))
        } else {
            server.url(&format!("/api/v1/conversations/{conv}/send"))
        };
        writers.push(tokio::spawn(async move {
            let mut acked: Vec<String> = Vec::new();
            for i in 0..10_000 {
                match post(
                    &client,
                    url.clone(),
                    json!({"text": format!("w{w} message {i} about shipping")}),
                )
                .await
                {
                    Ok((status, body)) if status.is_success() => {
                        answered.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let data = &body["data"];
                        if let Some(m) = data["message"]["id"].as_str() {
                            acked.push(m.to_string());
                        }
                        for m in data["messages"].as_array().into_iter().flatten() {
                            acked.push(m["id"].as_str().unwrap().to_string());
                        }
                    }
                    _ => break,
                }
            }
            acked
        }));
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while answered.load(std::sync::atomic::Ordering::Relaxed) < 20
        && std::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    server.kill_9();
    let mut acked = Vec::new();
    for w in writers {
        acked.extend(w.await.unwrap());
    }
    assert!(
        acked.len() > 10,
        "the writers got going before the kill ({})",
        acked.len()
    );

    let server = Server::start(dir.path(), false, synchronous);
    let mut stored = std::collections::HashSet::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = server.url(&format!("/api/v1/conversations/{conv}/messages?limit=200"));
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let page: Value = client
            .get(url)
            .bearer_auth(KEY)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for m in page["data"]["items"].as_array().unwrap() {
            stored.insert(m["id"].as_str().unwrap().to_string());
        }
        match page["data"]["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    let lost: Vec<_> = acked.iter().filter(|id| !stored.contains(*id)).collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged messages were lost",
        lost.len(),
        acked.len()
    );

    // And the conversation goes on.
    let (status, body) = post(
        &client,
        server.url(&format!("/api/v1/conversations/{conv}/complete")),
        json!({"text": "what are your opening hours"}),
    )
    .await
    .unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[test]
fn first_start_prints_an_admin_key_once() {
    let dir = tempfile::tempdir().unwrap();
    let run = || {
        let mut child = parley()
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = Vec::new();
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let done = line.contains("listening on");
            lines.push(line);
            if done {
                break;
            }
        }
        child.kill().unwrap();
        child.wait().unwrap();
        lines.join("\n")
    };
    let first = run();
    assert!(first.contains("pk_"), "{first}");
    let second = run();
    assert!(
        !second.contains("pk_"),
        "the key is printed only once: {second}"
    );
}

fn cli(data_dir: &Path, args: &[&str]) -> (bool, String, String) {
    let out = parley()
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bot_import_twice_updates_and_export_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let demo = demo_file();
    let demo = demo.to_str().unwrap();
    let (ok, out, err) = cli(dir.path(), &["bot", "import", demo]);
    assert!(ok, "{err}");
    assert!(out.starts_with("created bot"), "{out}");
    let (ok, out, _) = cli(dir.path(), &["bot", "import", demo]);
    assert!(ok && out.starts_with("updated bot"), "{out}");
    let (_, list, _) = cli(dir.path(), &["bot", "list"]);
    assert_eq!(list.lines().count(), 1, "{list}");

    let (ok, yaml, err) = cli(dir.path(), &["bot", "export", "Northwind Demo"]);
    assert!(ok, "{err}");
    let exported: parley_core::BotDefinition = serde_yaml_ng::from_str(&yaml).unwrap();
    assert_eq!(exported.keywords.len(), 10);
    assert_eq!(exported.flows.len(), 2);
    assert!(exported.id.is_some());
    let file = dir.path().join("exported.yaml");
    std::fs::write(&file, &yaml).unwrap();
    let (ok, out, _) = cli(dir.path(), &["bot", "import", file.to_str().unwrap()]);
    assert!(ok && out.starts_with("updated bot"), "{out}");

    let broken = dir.path().join("broken.yaml");
    std::fs::write(&broken, "name: B\nkeywords:\n  - name: r\n    keywords: ['(']\n    match_type: regex\n    response: x\n").unwrap();
    let (ok, _, err) = cli(dir.path(), &["bot", "import", broken.to_str().unwrap()]);
    assert!(!ok);
    assert!(err.contains("keywords[0].keywords[0]"), "{err}");
}

#[test]
fn workspace_and_keys_commands() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, out, err) = cli(dir.path(), &["workspace", "create", "acme"]);
    assert!(ok, "{err}");
    assert!(out.contains("acme") && out.contains("pk_"), "{out}");
    let (_, list, _) = cli(dir.path(), &["workspace", "list"]);
    assert!(
        list.contains("acme") && list.contains("(default)"),
        "{list}"
    );
    let (ok, out, _) = cli(
        dir.path(),
        &["keys", "create", "--name", "ann", "--role", "agent"],
    );
    assert!(
        ok && out.contains("agent key") && out.contains("pk_"),
        "{out}"
    );
    let (ok, _, err) = cli(
        dir.path(),
        &["keys", "create", "--name", "x", "--role", "boss"],
    );
    assert!(!ok && err.contains("unknown role"), "{err}");
}

#[test]
fn team_and_agent_commands() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, out, err) = cli(dir.path(), &["team", "create", "Billing"]);
    assert!(ok, "{err}");
    let team = out.split_whitespace().nth(1).unwrap().to_string();
    let (ok, out, err) = cli(dir.path(), &["agent", "create", "Ann", "--team", &team]);
    assert!(ok, "{err}");
    assert!(out.contains("agent key") && out.contains("pk_"), "{out}");
    let (_, list, _) = cli(dir.path(), &["agent", "list"]);
    assert!(list.contains("Ann") && list.contains(&team), "{list}");
    let (_, teams, _) = cli(dir.path(), &["team", "list"]);
    assert!(teams.contains("Billing"), "{teams}");
    let (ok, _, err) = cli(
        dir.path(),
        &[
            "agent",
            "create",
            "Bob",
            "--team",
            "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
        ],
    );
    assert!(!ok && err.contains("team_ids"), "{err}");
}

/// `parley chat "Northwind Demo"` on `dir` with `input` typed; what it printed (it must
/// exit cleanly).
fn chat(dir: &std::path::Path, input: &[u8]) -> String {
    let mut child = parley()
        .arg("--data-dir")
        .arg(dir)
        .args(["chat", "Northwind Demo"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A fresh data directory with the demo bot imported through the CLI.
fn demo_data_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let (ok, _, err) = cli(
        dir.path(),
        &["bot", "import", demo_file().to_str().unwrap()],
    );
    assert!(ok, "{err}");
    dir
}

#[test]
fn chat_in_the_terminal() {
    let dir = demo_data_dir();
    let stdout = chat(
        dir.path(),
        b"1\nhello there\nblorp\nfeedback\n3\nslow delivery\n/quit\n",
    );
    assert!(
        stdout.contains("I'm the Northwind Goods assistant"),
        "{stdout}"
    );
    assert!(stdout.contains("[1] Track my order"), "{stdout}");
    assert!(
        stdout.contains("Hello! How can I help you today?"),
        "{stdout}"
    );
    // "1" picked the greeting's first button: Track my order.
    assert!(stdout.contains("What's your order number?"), "{stdout}");
    assert!(stdout.contains("Sorry, I didn't catch that."), "{stdout}");
    // The feedback flow: "3" picks Poor, which branches to "what went wrong".
    assert!(
        stdout.contains("How would you rate your experience?"),
        "{stdout}"
    );
    assert!(stdout.contains("What went wrong?"), "{stdout}");
    assert!(stdout.contains("Thank you for your feedback!"), "{stdout}");

    let (ok, _, err) = cli(dir.path(), &["chat", "nobody"]);
    assert!(!ok && err.contains("no bot"), "{err}");
}

/// The guard's decisions, from the terminal: a card number typed in `parley chat` is masked
/// (and the user warned); `parley safety-events` lists it, without the number.
#[test]
fn safety_events_in_the_terminal() {
    let dir = demo_data_dir();
    let stdout = chat(
        dir.path(),
        b"my card is 4111 1111 1111 1111, can I pay with it?\n/quit\n",
    );
    assert!(!stdout.contains("4111 1111 1111 1111"), "{stdout}");

    let (ok, events, err) = cli(dir.path(), &["safety-events", "Northwind Demo"]);
    assert!(ok, "{err}");
    assert!(
        events.contains("pii") && events.contains("masked"),
        "{events}"
    );
    assert!(events.contains("credit_card"), "{events}");
    assert!(!events.contains("4111"), "{events}");
    let (ok, only_abuse, err) = cli(
        dir.path(),
        &["safety-events", "Northwind Demo", "--kind", "abuse"],
    );
    assert!(ok, "{err}");
    assert!(only_abuse.contains("no safety events"), "{only_abuse}");
    let (ok, _, err) = cli(
        dir.path(),
        &["safety-events", "Northwind Demo", "--kind", "nonsense"],
    );
    assert!(!ok && err.contains("not a kind"), "{err}");
}

#[test]
fn dataset_import_skips_unchanged_files_and_reports_bad_ones() {
    let dir = tempfile::tempdir().unwrap();
    let docs = tempfile::tempdir().unwrap();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../parley-kb/tests/fixtures");
    std::fs::create_dir(docs.path().join("faq")).unwrap();
    for (from, to) in [
        ("guide.md", "guide.md"),
        ("notes.txt", "notes.txt"),
        ("page.html", "page.html"),
        ("faq.csv", "faq/faq.csv"),
    ] {
        std::fs::copy(fixtures.join(from), docs.path().join(to)).unwrap();
    }
    std::fs::write(docs.path().join("photo.png"), b"\x89PNG not a document").unwrap();
    std::fs::write(docs.path().join("broken.json"), b"{ not json").unwrap();
    std::fs::write(docs.path().join(".hidden.md"), b"# Hidden").unwrap();
    let docs_arg = docs.path().to_str().unwrap();

    let (ok, out, err) = cli(dir.path(), &["dataset", "create", "Help"]);
    assert!(ok, "{err}");
    assert!(out.starts_with("dataset "), "{out}");

    // Bad files are reported with the reason; the good ones are imported all the same.
    let (ok, out, err) = cli(dir.path(), &["dataset", "import", "Help", docs_arg]);
    assert!(!ok, "a failed file makes the exit status say so: {out}");
    assert!(out.contains("4 new, 0 updated, 0 unchanged"), "{out}");
    assert!(out.contains("(5 records written), 2 failed"), "{out}");
    assert!(out.contains("photo.png: unsupported file type"), "{out}");
    assert!(out.contains("broken.json: "), "{out}");
    assert!(!out.contains(".hidden"), "{out}");
    assert!(err.contains("2 of 6 files could not be imported"), "{err}");

    // A re-run skips what did not change and picks up what did.
    let mut guide = std::fs::read_to_string(docs.path().join("guide.md")).unwrap();
    guide.push_str("\n## Returns\n\nParcels can be sent back from any post office.\n");
    std::fs::write(docs.path().join("guide.md"), guide).unwrap();
    std::fs::remove_file(docs.path().join("photo.png")).unwrap();
    std::fs::remove_file(docs.path().join("broken.json")).unwrap();
    let (ok, out, err) = cli(dir.path(), &["dataset", "import", "Help", docs_arg]);
    assert!(ok, "{out}\n{err}");
    assert!(out.contains("0 new, 1 updated, 3 unchanged"), "{out}");
    let (ok, out, _) = cli(dir.path(), &["dataset", "list"]);
    assert!(ok && out.contains("Help  (5 records)"), "{out}");

    let (ok, out, err) = cli(
        dir.path(),
        &["dataset", "search", "Help", "send", "parcels", "back"],
    );
    assert!(ok, "{err}");
    assert!(out.starts_with("1. ["), "{out}");
    assert!(out.contains("Delivery guide > Returns"), "{out}");
    assert!(out.contains("any post office"), "{out}");

    let (ok, _, err) = cli(dir.path(), &["dataset", "import", "Nope", docs_arg]);
    assert!(!ok && err.contains("no dataset"), "{err}");
}

#[tokio::test]
async fn the_demo_answers_from_its_help_centre_without_an_llm() {
    let dir = tempfile::tempdir().unwrap();
    for start in 0..2 {
        let server = Server::start(dir.path(), true, "normal");
        let client = reqwest::Client::new();
        let bots: Value = client
            .get(server.url("/api/v1/bots"))
            .bearer_auth(KEY)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let bot = bots["data"]["items"][0]["id"].as_str().unwrap().to_string();
        let (_, conv) = post(
            &client,
            server.url("/api/v1/conversations"),
            json!({"bot_id": bot}),
        )
        .await
        .unwrap();
        let conv = conv["data"]["id"].as_str().unwrap().to_string();
        let (status, body) = post(
            &client,
            server.url(&format!("/api/v1/conversations/{conv}/complete")),
            json!({"text": "how long do refunds take?"}),
        )
        .await
        .unwrap();
        assert_eq!(status, StatusCode::OK, "{body}");
        let reply = &body["data"]["messages"][0];
        assert_eq!(reply["meta"]["source"], "knowledge", "{reply}");
        assert_eq!(reply["meta"]["sources"][0]["title"], "Refunds", "{reply}");
        // Rules still answer what they cover.
        let (_, body) = post(
            &client,
            server.url(&format!("/api/v1/conversations/{conv}/complete")),
            json!({"text": "what are your opening hours"}),
        )
        .await
        .unwrap();
        assert_eq!(
            body["data"]["messages"][0]["meta"]["source"], "rule",
            "{body}"
        );
        // A second start finds the help centre unchanged: no second copy.
        let datasets: Value = client
            .get(server.url("/api/v1/datasets"))
            .bearer_auth(KEY)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            datasets["data"]["items"].as_array().unwrap().len(),
            1,
            "start {start}"
        );
        assert_eq!(datasets["data"]["items"][0]["records"], 16, "start {start}");
    }
}
