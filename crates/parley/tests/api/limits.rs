//! The server's edge against slow and greedy clients: header and body read timeouts, the
//! early 413, the connection cap, rate limits per conversation and per client, the cap on
//! messages per conversation, and `/metrics` off the public listener.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use parley_engine::rate::Rate;
use parley_engine::Limits;
use parley_server::HttpConfig;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{assert_error, send, spawn_app, spawn_app_with, TestApp};

/// Longest a test waits for the server to act on a short timeout.
const BOUND: Duration = Duration::from_secs(10);

/// Reads until the server closes the connection (or `BOUND` passes: a failure); returns
/// what it sent.
async fn read_to_close(stream: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(BOUND, stream.read(&mut buf)).await {
            Err(_) => panic!(
                "the server kept the connection open past {BOUND:?}; it sent: {}",
                String::from_utf8_lossy(&got)
            ),
            Ok(Ok(0)) | Ok(Err(_)) => return String::from_utf8_lossy(&got).into_owned(),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

fn quick_timeouts() -> HttpConfig {
    HttpConfig {
        header_read_timeout: Duration::from_millis(300),
        body_read_timeout: Duration::from_millis(300),
        ..HttpConfig::default()
    }
}

#[tokio::test]
async fn a_half_sent_request_head_is_disconnected_after_the_header_timeout() {
    let app = spawn_app_with(quick_timeouts(), Limits::default()).await;
    let mut half = TcpStream::connect(app.addr).await.unwrap();
    half.write_all(b"GET /healthz HTTP/1.1\r\nHost: parley\r\nX-Slow: ")
        .await
        .unwrap();
    let mut silent = TcpStream::connect(app.addr).await.unwrap();
    let started = Instant::now();
    let answer = read_to_close(&mut half).await;
    assert!(!answer.contains("200 OK"), "{answer}");
    read_to_close(&mut silent).await;
    assert!(started.elapsed() >= Duration::from_millis(250));
    // Others are served as usual meanwhile.
    let (status, _) = send(app.client.get(app.url("/healthz"))).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn an_announced_oversized_body_gets_413_at_once() {
    let app = spawn_app().await;
    let bot = app.create_bot("big").await;
    let conv = app.start(&bot).await["id"].as_str().unwrap().to_string();
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    // Headers only: the 100 MB body is never sent, and no key either.
    let head = format!(
        "POST /api/v1/conversations/{conv}/complete HTTP/1.1\r\nHost: parley\r\n\
         Content-Type: application/json\r\nContent-Length: 100000000\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let answer = read_to_close(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("payload_too_large"), "{answer}");
}

#[tokio::test]
async fn a_body_that_does_not_arrive_in_time_gets_408_and_the_connection_closes() {
    let app = spawn_app_with(quick_timeouts(), Limits::default()).await;
    let bot = app.create_bot("slow").await;
    let conv = app.start(&bot).await["id"].as_str().unwrap().to_string();
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    let head = format!(
        "POST /api/v1/conversations/{conv}/complete HTTP/1.1\r\nHost: parley\r\n\
         Authorization: Bearer {}\r\nContent-Type: application/json\r\n\
         Content-Length: 100\r\n\r\n{{\"text\": ",
        app.key
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let answer = read_to_close(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request_timeout"), "{answer}");
    assert_eq!(app.history(&conv).await.len(), 1, "only the greeting");
}

#[tokio::test]
async fn server_sent_events_outlive_the_read_timeouts() {
    let app = spawn_app_with(quick_timeouts(), Limits::default()).await;
    let bot = app.create_bot("sse").await;
    let conv = app.start(&bot).await["id"].as_str().unwrap().to_string();
    let mut events = app
        .req(
            reqwest::Method::GET,
            &format!("/api/v1/conversations/{conv}/events"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), StatusCode::OK);
    // Past both timeouts (a wait on purpose: the point is that time passes), a message
    // still arrives on the open stream.
    tokio::time::sleep(Duration::from_millis(900)).await;
    app.say(&conv, "still there?").await;
    let mut seen = String::new();
    while !seen.contains("still there?") {
        let chunk = tokio::time::timeout(BOUND, events.chunk())
            .await
            .expect("the stream stays open")
            .unwrap()
            .expect("the stream stays open");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
}

fn per_conversation(n: u32) -> Limits {
    Limits {
        conversation_messages: Rate {
            per_minute: n,
            burst: n,
        },
        ..Limits::default()
    }
}

async fn history_texts(app: &TestApp, conv: &str) -> Vec<String> {
    app.history(conv)
        .await
        .iter()
        .filter(|m| m["role"] == "user")
        .map(|m| m["text"].as_str().unwrap().to_string())
        .collect()
}

fn retry_after(resp: &reqwest::Response) -> u64 {
    resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn a_conversation_past_its_rate_gets_429_and_stores_nothing() {
    let app = spawn_app_with(HttpConfig::default(), per_conversation(3)).await;
    let bot = app.create_bot("rate").await;
    let conv = app.start(&bot).await["id"].as_str().unwrap().to_string();
    for i in 0..3 {
        let (status, body) = app
            .post(
                &format!("/api/v1/conversations/{conv}/send"),
                json!({"text": format!("message {i}")}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    for route in ["send", "complete"] {
        let resp = app
            .req(
                reqwest::Method::POST,
                &format!("/api/v1/conversations/{conv}/{route}"),
            )
            .json(&json!({"text": "one too many"}))
            .send()
            .await
            .unwrap();
        let wait = retry_after(&resp);
        assert!((1..=20).contains(&wait), "{wait}");
        let status = resp.status();
        let body: Value = resp.json().await.unwrap();
        let error = assert_error(status, &body, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
        assert_eq!(error["details"]["limit"], "conversation", "{error}");
        assert_eq!(error["details"]["retry_after_seconds"], wait, "{error}");
    }
    assert_eq!(
        history_texts(&app, &conv).await,
        ["message 0", "message 1", "message 2"]
    );
    // Another conversation has its own allowance.
    let other = app.start(&bot).await["id"].as_str().unwrap().to_string();
    app.say(&other, "hello").await;
}

async fn token(app: &TestApp, conv: &str) -> String {
    let (status, body) = app
        .post(&format!("/api/v1/conversations/{conv}/token"), json!({}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["data"]["token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn one_client_is_limited_across_its_conversations_but_keys_are_not() {
    let http = HttpConfig {
        client_messages: Rate {
            per_minute: 4,
            burst: 4,
        },
        ..HttpConfig::default()
    };
    let app = spawn_app_with(http, Limits::default()).await;
    let bot = app.create_bot("client").await;
    let a = app.start(&bot).await["id"].as_str().unwrap().to_string();
    let b = app.start(&bot).await["id"].as_str().unwrap().to_string();
    let (ta, tb) = (token(&app, &a).await, token(&app, &b).await);
    for (conv, tok) in [(&a, &ta), (&a, &ta), (&b, &tb), (&b, &tb)] {
        let (status, body) = send(
            app.req_as(
                tok,
                reqwest::Method::POST,
                &format!("/api/v1/conversations/{conv}/complete"),
            )
            .json(&json!({"text": "hi"})),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let resp = app
        .req_as(
            &tb,
            reqwest::Method::POST,
            &format!("/api/v1/conversations/{b}/send"),
        )
        .json(&json!({"text": "fifth"}))
        .send()
        .await
        .unwrap();
    assert!(retry_after(&resp) >= 1);
    let status = resp.status();
    let body: Value = resp.json().await.unwrap();
    let error = assert_error(status, &body, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    assert_eq!(error["details"]["limit"], "client", "{error}");
    assert!(!history_texts(&app, &b).await.contains(&"fifth".to_string()));
    // An API key (the operator's integration) is limited per conversation only.
    let (status, body) = app
        .post(
            &format!("/api/v1/conversations/{b}/send"),
            json!({"text": "from the backend"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[tokio::test]
async fn the_websocket_counts_every_message() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::Message as Frame;

    let app = spawn_app_with(HttpConfig::default(), per_conversation(2)).await;
    let bot = app.create_bot("ws").await;
    let conv = app.start(&bot).await["id"].as_str().unwrap().to_string();
    let tok = token(&app, &conv).await;
    let mut request = format!("ws://{}/api/v1/conversations/{conv}/ws", app.addr)
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {tok}").parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let mut outcomes = Vec::new();
    for i in 0..3 {
        socket
            .send(Frame::Text(
                json!({"text": format!("ws {i}")}).to_string().into(),
            ))
            .await
            .unwrap();
        loop {
            let frame = tokio::time::timeout(BOUND, socket.next())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            let Frame::Text(t) = frame else { continue };
            let v: Value = serde_json::from_str(t.as_str()).unwrap();
            match v["type"].as_str().unwrap() {
                "done" => {
                    outcomes.push("done".to_string());
                    break;
                }
                "error" => {
                    assert!(
                        v["error"]["retry_after_seconds"].as_u64().unwrap() >= 1,
                        "{v}"
                    );
                    outcomes.push(v["error"]["code"].as_str().unwrap().to_string());
                    break;
                }
                _ => {}
            }
        }
    }
    assert_eq!(outcomes, ["done", "done", "rate_limited"]);
    assert_eq!(history_texts(&app, &conv).await, ["ws 0", "ws 1"]);
}

#[tokio::test]
async fn the_openai_door_is_limited_per_conversation() {
    let app = spawn_app_with(HttpConfig::default(), per_conversation(2)).await;
    let bot = app.create_bot("door").await;
    let conv = app.start(&bot).await["id"].as_str().unwrap().to_string();
    let ask = |text: &str| {
        app.req(reqwest::Method::POST, "/v1/chat/completions")
            .header("x-parley-conversation", &conv)
            .json(&json!({"model": bot, "messages": [{"role": "user", "content": text}]}))
            .send()
    };
    for text in ["door 0", "door 1"] {
        assert_eq!(ask(text).await.unwrap().status(), StatusCode::OK);
    }
    let resp = ask("door 2").await.unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(retry_after(&resp) >= 1);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited", "{body}");
    assert_eq!(history_texts(&app, &conv).await, ["door 0", "door 1"]);
}

#[tokio::test]
async fn a_full_conversation_refuses_new_messages_and_stores_nothing() {
    let limits = Limits {
        max_messages_per_conversation: 3,
        ..Limits::default()
    };
    let app = spawn_app_with(HttpConfig::default(), limits).await;
    let bot = app.create_bot("cap").await;
    let conv = app.start(&bot).await["id"].as_str().unwrap().to_string();
    for text in ["one", "two", "three"] {
        app.say(&conv, text).await;
    }
    let before = app.history(&conv).await;
    for route in ["send", "complete"] {
        let (status, body) = app
            .post(
                &format!("/api/v1/conversations/{conv}/{route}"),
                json!({"text": "four"}),
            )
            .await;
        let error = assert_error(status, &body, StatusCode::CONFLICT, "conversation_full");
        assert_eq!(error["details"]["limit"], 3, "{error}");
    }
    assert_eq!(app.history(&conv).await, before);
    // A new conversation starts afresh.
    let other = app.start(&bot).await["id"].as_str().unwrap().to_string();
    app.say(&other, "hello").await;
}

#[tokio::test]
async fn metrics_are_not_on_the_public_listener_by_default() {
    let app = spawn_app().await;
    let resp = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let text = resp.text().await.unwrap();
    assert!(!text.contains("parley_http_requests"), "{text}");
}

/// `parley serve` with `env`, its stderr (the log) and stdout lines sent to a channel;
/// returns the process, the API base URL, and the channel.
fn serve_binary(env: &[(&str, &str)]) -> (Server, String, mpsc::Receiver<String>) {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_parley"));
    for (k, _) in std::env::vars() {
        if k.starts_with("PARLEY_") {
            cmd.env_remove(k);
        }
    }
    cmd.env_remove("RUST_LOG")
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("PARLEY_ADMIN_KEY", "pk_limits_test_key_0123456789abcdef")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("the parley binary starts");
    let (tx, rx) = mpsc::channel();
    for pipe in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
    }
    let base = wait_for(&rx, "listening on ")
        .split("listening on ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap()
        .to_string();
    (Server { child, _dir: dir }, base, rx)
}

struct Server {
    child: std::process::Child,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The first line containing `needle`, waiting at most 30 s.
fn wait_for(lines: &mpsc::Receiver<String>, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) if line.contains(needle) => return line,
            Ok(_) => {}
            Err(_) => panic!("the server never said `{needle}`"),
        }
    }
}

#[tokio::test]
async fn at_the_connection_limit_new_clients_wait_and_are_served_and_it_is_logged() {
    let (_server, base, lines) = serve_binary(&[
        ("PARLEY_MAX_CONNECTIONS", "4"),
        ("PARLEY_HEADER_READ_TIMEOUT_MS", "1000"),
    ]);
    let addr = base.trim_start_matches("http://").to_string();
    let mut idle = Vec::new();
    for _ in 0..4 {
        idle.push(TcpStream::connect(&addr).await.unwrap());
    }
    // Every place is held by a client that sends nothing; a fifth waits for one of them
    // to be dropped at the header timeout, and is then served.
    let client = reqwest::Client::builder().timeout(BOUND).build().unwrap();
    let resp = client.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let line = tokio::task::spawn_blocking(move || wait_for(&lines, "connection limit 4 reached"))
        .await
        .unwrap();
    assert!(line.contains("WARN"), "{line}");
}

#[tokio::test]
async fn metrics_are_served_on_their_own_listener() {
    let (_server, base, lines) = serve_binary(&[("PARLEY_METRICS_LISTEN", "127.0.0.1:0")]);
    let metrics = tokio::task::spawn_blocking(move || wait_for(&lines, "Metrics for Prometheus"))
        .await
        .unwrap();
    let metrics = metrics.split_whitespace().last().unwrap().to_string();
    let client = reqwest::Client::new();
    assert_eq!(
        client
            .get(format!("{base}/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    let public = client.get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(public.status(), StatusCode::NOT_FOUND);
    let text = client
        .get(&metrics)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains(
            r#"parley_http_requests_total{method="GET",route="/healthz",status="200"} 1"#
        ),
        "{text}"
    );
}
