//! The web widget in a real headless Chromium, driven over WebDriver (chromedriver)
//! against the real `parley serve --demo`: open /demo, open the widget, see the greeting,
//! get a rule's reply, tap buttons, safe Markdown, feedback, walk a flow, a knowledge-base
//! answer with its citation, an AI reply
//! streamed token by token from the fake LLM provider (`parley_llm::fake`, configured as
//! the server's `fake` provider), a live message from another client, a server restart the
//! widget reconnects through without duplicates, a reload that resumes the conversation,
//! the keyboard, the unread badge, "talk to a person" and an agent's reply arriving live,
//! the full-page chat, source citations, and screenshots at desktop and phone sizes (in
//! `$CARGO_TARGET_TMPDIR/browser-artifacts`).
//!
//! Needs Debian's `chromium` and `chromium-driver` (`scripts/browser-test` installs them);
//! without them the test says why and passes, unless `PARLEY_BROWSER_TESTS=require`
//! (`=skip` skips it on purpose).
//! The WebDriver client is the few W3C endpoints the test uses, over reqwest.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const KEY: &str = "pk_browser_test_key_0123456789abcdef";
/// W3C WebDriver's key for an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
const ENTER: &str = "\u{E007}";
const ESCAPE: &str = "\u{E00C}";

fn find_binary(env: &str, candidates: &[&str]) -> Option<PathBuf> {
    if let Ok(p) = std::env::var(env) {
        return Some(PathBuf::from(p));
    }
    candidates.iter().map(PathBuf::from).find(|p| p.is_file())
}

/// `parley serve --demo` on `listen`, over `data_dir`.
struct Server {
    child: Child,
    base: String,
}

impl Server {
    /// The server, with `env` added to its environment (the fake LLM provider's address).
    fn start(data_dir: &Path, listen: &str, env: &[(String, String)]) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_parley"));
        for (k, _) in std::env::vars() {
            if k.starts_with("PARLEY_") {
                cmd.env_remove(k);
            }
        }
        let mut child = cmd
            .args(["serve", "--demo", "--listen", listen, "--data-dir"])
            .arg(data_dir)
            .env("PARLEY_ADMIN_KEY", KEY)
            .env("PARLEY_SQLITE_SYNCHRONOUS", "normal")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the parley binary starts");
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

    fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A chromedriver process with one headless Chromium session.
struct Browser {
    http: reqwest::Client,
    session: String,
    driver: Child,
    artifacts: PathBuf,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Browser {
    /// A browser, or why there is none here.
    async fn start() -> Result<Browser, String> {
        let driver_bin = find_binary(
            "PARLEY_CHROMEDRIVER",
            &["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"],
        )
        .ok_or("no chromedriver (apt-get install chromium-driver, or scripts/browser-test)")?;
        let chromium = find_binary(
            "PARLEY_CHROMIUM",
            &["/usr/bin/chromium", "/usr/bin/chromium-browser"],
        )
        .ok_or("no chromium (apt-get install chromium, or scripts/browser-test)")?;
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port for chromedriver: {e}"))?
            .port();
        let driver = Command::new(&driver_bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("{} does not start: {e}", driver_bin.display()))?;
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ready = http.get(format!("{base}/status")).send().await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                break;
            }
            if Instant::now() > deadline {
                return Err("chromedriver did not answer within 20 s".into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1280,900"]
            }
        }}});
        let resp: Value = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .await
            .map_err(|e| format!("creating a session: {e}"))?
            .json()
            .await
            .map_err(|e| format!("reading the session: {e}"))?;
        let session = resp["value"]["sessionId"]
            .as_str()
            .ok_or_else(|| format!("chromium did not start: {}", resp["value"]["message"]))?
            .to_string();
        let artifacts = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser-artifacts");
        std::fs::create_dir_all(&artifacts).unwrap();
        Ok(Browser {
            http,
            session: format!("{base}/session/{session}"),
            driver,
            artifacts,
        })
    }

    async fn cmd(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self
            .http
            .request(method, format!("{}{}", self.session, path));
        req = req.json(&body.unwrap_or_else(|| json!({})));
        let resp: Value = req.send().await.unwrap().json().await.unwrap();
        if let Some(err) = resp["value"].get("error") {
            panic!("WebDriver {path}: {err}: {}", resp["value"]["message"]);
        }
        resp["value"].clone()
    }

    async fn goto(&self, url: &str) {
        self.cmd(reqwest::Method::POST, "/url", Some(json!({ "url": url })))
            .await;
    }

    async fn run(&self, script: &str, args: Value) -> Value {
        self.cmd(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({ "script": script, "args": args })),
        )
        .await
    }

    /// Runs `script` inside the widget's shadow root (as `root`) until it returns
    /// something truthy; fails with `what` (and a screenshot) after 15 s.
    async fn wait_for(&self, what: &str, script: &str, args: Value) -> Value {
        let wrapped = format!(
            "const host = document.querySelector('[data-parley-widget]');\
             const root = host && host.shadowRoot; if (!root) return null; {script}"
        );
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let v = self.run(&wrapped, args.clone()).await;
            let truthy = !(v.is_null() || v == json!(false) || v == json!("") || v == json!(0));
            if truthy {
                return v;
            }
            if Instant::now() > deadline {
                self.screenshot("failure").await;
                let log = self.log_text().await;
                panic!("timed out waiting for {what}; the widget shows:\n{log}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The element `css` matches in the widget (waiting for it).
    async fn element(&self, css: &str) -> String {
        let el = self
            .wait_for(
                css,
                "return root.querySelector(arguments[0]);",
                json!([css]),
            )
            .await;
        element_id(&el)
    }

    /// The button in the widget whose text is `text`.
    async fn button(&self, text: &str) -> String {
        let el = self
            .wait_for(
                &format!("a button `{text}`"),
                "return [...root.querySelectorAll('button')].find(b => b.textContent.trim() === arguments[0] && !b.disabled);",
                json!([text]),
            )
            .await;
        element_id(&el)
    }

    async fn click(&self, element: &str) {
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{element}/click"),
            None,
        )
        .await;
    }

    async fn type_into(&self, element: &str, text: &str) {
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{element}/value"),
            Some(json!({ "text": text })),
        )
        .await;
    }

    async fn log_text(&self) -> String {
        self.run(
            "const h = document.querySelector('[data-parley-widget]');\
             return h && h.shadowRoot ? h.shadowRoot.querySelector('.root').innerText : document.body.innerText;",
            json!([]),
        )
        .await
        .as_str()
        .unwrap_or("")
        .to_string()
    }

    /// Waits until a message bubble contains `text`.
    async fn see(&self, text: &str) {
        self.wait_for(
            &format!("a message saying `{text}`"),
            "return [...root.querySelectorAll('.msg .bubble')].some(b => b.textContent.includes(arguments[0]));",
            json!([text]),
        )
        .await;
    }

    /// How many message bubbles contain `text`.
    async fn count(&self, text: &str) -> u64 {
        self.wait_for(
            "the widget",
            "return 1 + [...root.querySelectorAll('.msg .bubble')].filter(b => b.textContent.includes(arguments[0])).length;",
            json!([text]),
        )
        .await
        .as_u64()
        .unwrap()
            - 1
    }

    async fn window(&self, width: u32, height: u32) {
        self.cmd(
            reqwest::Method::POST,
            "/window/rect",
            Some(json!({ "width": width, "height": height })),
        )
        .await;
    }

    async fn screenshot(&self, name: &str) {
        self.save_shot("/screenshot", name).await;
    }

    /// A screenshot of one element (the widget's panel, for the README).
    async fn element_screenshot(&self, element: &str, name: &str) {
        self.save_shot(&format!("/element/{element}/screenshot"), name)
            .await;
    }

    async fn save_shot(&self, path: &str, name: &str) {
        let shot = self.cmd(reqwest::Method::GET, path, None).await;
        use base64::Engine as _;
        if let Some(png) = shot
            .as_str()
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        {
            let path = self.artifacts.join(format!("{name}.png"));
            std::fs::write(&path, png).unwrap();
        }
    }

    async fn quit(&self) {
        let _ = self.http.delete(&self.session).send().await;
    }
}

/// Replaces the page's `fetch` for `complete` with a slow event stream of deltas, one event
/// split across two reads, and a final message with sources.
const STREAMING_FETCH: &str = r#"
const real = window.fetch;
window.fetch = (url, opts) => {
  if (!String(url).endsWith('/complete')) return real(url, opts);
  const enc = new TextEncoder();
  const final = {id: 'streamed-1', role: 'bot', text: 'Streamed **token by token**',
    meta: {source: 'ai', sources: [{title: 'Shipping policy', url: 'https://example.com/shipping'}]}};
  const parts = ['event: delta\ndata: {"te', 'xt": "Streamed "}\n\n',
    'event: delta\ndata: {"text": "token by token"}\n\n',
    'event: message\ndata: ' + JSON.stringify(final) + '\n\n', 'event: done\ndata: {}\n\n'];
  const body = new ReadableStream({async pull(c) {
    await new Promise(r => setTimeout(r, 300));
    const p = parts.shift();
    if (p) c.enqueue(enc.encode(p)); else c.close();
  }});
  return Promise.resolve(new Response(body, {headers: {'content-type': 'text/event-stream'}}));
};
"#;

fn element_id(v: &Value) -> String {
    match v[ELEMENT].as_str() {
        Some(id) => id.to_string(),
        None => panic!("not an element: {v}"),
    }
}

async fn api(server: &Server, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
    let mut req = reqwest::Client::new()
        .request(method, server.url(path))
        .bearer_auth(KEY);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let v: Value = resp.json().await.unwrap();
    assert!(status.is_success(), "{path}: {status} {v}");
    v["data"].clone()
}

#[tokio::test]
async fn the_widget_in_headless_chromium() {
    let wanted = std::env::var("PARLEY_BROWSER_TESTS").unwrap_or_default();
    if wanted == "skip" {
        eprintln!("skipped the browser test: PARLEY_BROWSER_TESTS=skip");
        return;
    }
    let browser = match Browser::start().await {
        Ok(b) => b,
        Err(why) => {
            if wanted == "require" {
                panic!("browser tests required, but: {why}");
            }
            eprintln!("skipped the browser test: {why}");
            return;
        }
    };
    // The fake LLM provider, in this process, as the server's provider `fake`.
    let fake = parley_llm::fake::FakeProvider::start().await.unwrap();
    let env = vec![
        (
            "PARLEY_PROVIDERS__FAKE__KIND".to_string(),
            "openai".to_string(),
        ),
        (
            "PARLEY_PROVIDERS__FAKE__BASE_URL".to_string(),
            fake.openai_base_url(),
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "127.0.0.1:0", &env);
    let listen = server.base.trim_start_matches("http://").to_string();

    // /demo: the bubble, then the greeting with its five buttons as a list.
    browser.goto(&server.url("/demo")).await;
    let launcher = browser.element(".launcher").await;
    browser.screenshot("desktop-closed").await;
    browser.click(&launcher).await;
    browser.see("I'm the Northwind Goods assistant").await;
    browser
        .wait_for(
            "the greeting's buttons as a list",
            "return root.querySelectorAll('.choices.list button').length === 5;",
            json!([]),
        )
        .await;
    let bot = browser
        .run(
            "return document.querySelector('[data-parley-widget]').dataset.parleyWidget;",
            json!([]),
        )
        .await
        .as_str()
        .unwrap()
        .to_string();

    // A keyword rule's reply, with two quick replies; then a tap on one.
    let input = browser.element("input").await;
    browser
        .type_into(&input, &format!("How long does shipping take?{ENTER}"))
        .await;
    browser
        .see("Standard delivery takes 3-5 working days")
        .await;
    browser
        .wait_for(
            "two quick replies",
            "return root.querySelectorAll('.choices:not(.list) button').length === 2;",
            json!([]),
        )
        .await;
    let returns = browser.button("Returns").await;
    browser.click(&returns).await;
    browser.see("You can return anything within 30 days").await;
    assert_eq!(
        browser.count("Returns").await,
        1,
        "the tapped button shows once, as the user's message"
    );

    let panel = browser.element(".panel").await;
    browser.element_screenshot(&panel, "widget-panel").await;

    let stored = browser
        .run(
            "return JSON.parse(localStorage.getItem(arguments[0]));",
            json!([format!("parley:{bot}")]),
        )
        .await;
    let conversation = stored["id"]
        .as_str()
        .expect("the token is kept")
        .to_string();
    assert!(stored["token"].as_str().unwrap().contains('.'));

    // Thumbs up on that reply, and a 4 of 5 for the conversation, both stored.
    let up = browser
        .wait_for("the last reply's thumbs", "const fb = [...root.querySelectorAll('.fb')].pop(); return fb && fb.querySelector('button');", json!([]))
        .await;
    let up = element_id(&up);
    browser.click(&up).await;
    browser
        .wait_for(
            "the thumb pressed",
            "return root.querySelector('.fb button[aria-pressed=\"true\"]');",
            json!([]),
        )
        .await;
    let rate = browser.element(".head .rate").await;
    browser.click(&rate).await;
    let four = browser.element(".rating button:nth-of-type(4)").await;
    browser.click(&four).await;
    browser
        .wait_for(
            "the thanks",
            "return root.querySelector('.rating').textContent.includes('Thank you');",
            json!([]),
        )
        .await;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let feedback = api(
            &server,
            reqwest::Method::GET,
            &format!("/api/v1/conversations/{conversation}/feedback"),
            None,
        )
        .await;
        let ratings: Vec<(i64, bool)> = feedback["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| (f["rating"].as_i64().unwrap(), f["message_id"].is_string()))
            .collect();
        if ratings.contains(&(5, true)) && ratings.contains(&(4, false)) {
            break;
        }
        assert!(Instant::now() < deadline, "feedback stored: {ratings:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Markdown becomes elements; HTML in a reply stays text.
    api(&server, reqwest::Method::POST, &format!("/api/v1/bots/{bot}/keywords"), Some(json!({
        "name": "markdown", "keywords": ["markdown please"], "match_type": "contains",
        "response": "**Bold** and *calm*:\n- one\n- two\nSee [the guide](https://example.com/guide) <img src=x onerror=\"window.hacked=1\">",
    }))).await;
    browser
        .type_into(&input, &format!("markdown please{ENTER}"))
        .await;
    browser.see("See the guide").await;
    let rendered = browser
        .wait_for("the Markdown", "const b = [...root.querySelectorAll('.msg.bot .bubble')].pop();\
            const a = b.querySelector('a');\
            return {strong: b.querySelector('strong')?.textContent, em: b.querySelector('em')?.textContent,\
                    items: b.querySelectorAll('li').length, href: a?.href, target: a?.target, rel: a?.rel,\
                    img: b.querySelectorAll('img').length, text: b.textContent};", json!([]))
        .await;
    assert_eq!(rendered["strong"], "Bold");
    assert_eq!(rendered["em"], "calm");
    assert_eq!(rendered["items"], 2);
    assert_eq!(rendered["href"], "https://example.com/guide");
    assert_eq!(rendered["target"], "_blank");
    assert!(rendered["rel"].as_str().unwrap().contains("noopener"));
    assert_eq!(rendered["img"], 0);
    assert!(rendered["text"].as_str().unwrap().contains("<img src=x"));
    assert_eq!(
        browser
            .run("return window.hacked || null;", json!([]))
            .await,
        Value::Null
    );

    // A flow, walked in the widget: its trigger, a button step that branches, a text step.
    browser
        .type_into(&input, &format!("I'd like to leave feedback{ENTER}"))
        .await;
    browser.see("Thanks for taking a moment").await;
    browser.see("How would you rate your experience?").await;
    let poor = browser.button("Poor").await;
    browser.click(&poor).await;
    browser
        .see("I'm sorry to hear that. What went wrong?")
        .await;
    browser
        .type_into(&input, &format!("The parcel came a week late{ENTER}"))
        .await;
    browser.see("Thank you for your feedback!").await;
    let variables = api(
        &server,
        reqwest::Method::GET,
        &format!("/api/v1/conversations/{conversation}/session"),
        None,
    )
    .await["variables"]
        .clone();
    assert_eq!(variables["rating_id"], "poor", "{variables}");
    assert_eq!(variables["problem"], "The parcel came a week late");

    // A question the demo's help centre answers: the passage, with its source as a link.
    browser
        .type_into(&input, &format!("how long do refunds take?{ENTER}"))
        .await;
    let cited = browser
        .wait_for(
            "a knowledge answer with its citation",
            "const b = [...root.querySelectorAll('.msg.bot')].pop();\
            const a = b && b.querySelector('.sources a');\
            return a && {title: a.textContent, href: a.href, target: a.target};",
            json!([]),
        )
        .await;
    assert!(
        cited["title"].as_str().unwrap().contains("Refunds"),
        "{cited}"
    );
    assert_eq!(cited["href"], "https://northwind.example/help/refunds");
    assert_eq!(cited["target"], "_blank");

    // AI on, answered by the fake provider dripping its reply: the widget shows it growing
    // in one bubble (hidden from screen readers until whole), then the stored message.
    api(
        &server,
        reqwest::Method::PUT,
        &format!("/api/v1/bots/{bot}/settings"),
        Some(json!({"ai_enabled": true, "ai_provider": "fake", "ai_model": "slow_drip_150"})),
    )
    .await;
    let asked = "Tell me a story about tea leaves and kettles";
    browser.type_into(&input, &format!("{asked}{ENTER}")).await;
    let partial = browser
        .wait_for("an AI reply streaming in", "const s = root.querySelector('.msg.streaming .bubble');\
            return s && s.textContent.length > 0 && s.closest('[aria-hidden=\"true\"]') !== null && s.textContent;", json!([]))
        .await;
    let partial = partial.as_str().unwrap().to_string();
    browser
        .wait_for(
            "the streamed reply, whole",
            "const b = [...root.querySelectorAll('.msg.bot .bubble')].pop();\
            return !root.querySelector('.msg.streaming') && b.textContent.includes(arguments[0]);",
            json!([asked]),
        )
        .await;
    let last = api(
        &server,
        reqwest::Method::GET,
        &format!("/api/v1/conversations/{conversation}/messages?limit=200"),
        None,
    )
    .await;
    let stored = last["items"]
        .as_array()
        .and_then(|items| items.iter().rev().find(|m| m["role"] == "bot"))
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(stored["meta"]["source"], "ai", "{last}");
    let whole = stored["text"].as_str().unwrap_or("");
    assert!(whole.contains(asked), "{whole}");
    assert!(
        whole.starts_with(&partial) && partial.len() < whole.len(),
        "the widget showed a part of the reply ({partial:?}) before the rest ({whole:?})"
    );
    assert!(
        fake.requests()
            .iter()
            .any(|r| r.body.to_string().contains(asked)),
        "the fake provider was asked"
    );
    api(
        &server,
        reqwest::Method::PUT,
        &format!("/api/v1/bots/{bot}/settings"),
        Some(json!({"ai_enabled": false})),
    )
    .await;

    // Another client talks in the same conversation: it shows up live, once.
    api(
        &server,
        reqwest::Method::POST,
        &format!("/api/v1/conversations/{conversation}/complete"),
        Some(json!({"text": "what payment methods do you take?"})),
    )
    .await;
    browser.see("We take Visa, Mastercard").await;
    browser.see("what payment methods do you take?").await;

    // The server goes away and comes back on the same address: the widget reconnects
    // and catches up from its last event, without showing anything twice.
    server.stop();
    tokio::time::sleep(Duration::from_millis(600)).await;
    let server = Server::start(dir.path(), &listen, &env);
    api(
        &server,
        reqwest::Method::POST,
        &format!("/api/v1/conversations/{conversation}/complete"),
        Some(json!({"text": "thanks!"})),
    )
    .await;
    browser
        .see("You're welcome! Anything else I can help with?")
        .await;
    assert_eq!(browser.count("We take Visa, Mastercard").await, 1);
    assert_eq!(
        browser
            .count("Standard delivery takes 3-5 working days")
            .await,
        1
    );

    // Reload: the same conversation, its history, nothing twice.
    let before = browser
        .wait_for(
            "messages",
            "return root.querySelectorAll('.msg').length;",
            json!([]),
        )
        .await;
    browser.goto(&server.url("/demo")).await;
    browser
        .see("You're welcome! Anything else I can help with?")
        .await;
    browser.see("You can return anything within 30 days").await;
    let after = browser
        .wait_for(
            "messages",
            "return root.querySelectorAll('.msg').length;",
            json!([]),
        )
        .await;
    assert_eq!(
        before, after,
        "the history after a reload is the history before it"
    );
    browser.screenshot("desktop-open").await;

    // The keyboard: Escape closes the panel and gives the focus back to the bubble.
    let input = browser.element("input").await;
    browser.type_into(&input, ESCAPE).await;
    browser
        .wait_for("the panel closed", "return root.querySelector('.panel').hidden && root.activeElement === root.querySelector('.launcher');", json!([]))
        .await;

    // Closed, it still follows the conversation: a reply from elsewhere lights the badge.
    api(
        &server,
        reqwest::Method::POST,
        &format!("/api/v1/conversations/{conversation}/complete"),
        Some(json!({"text": "when are you open?"})),
    )
    .await;
    browser
        .wait_for(
            "the unread badge",
            "return !root.querySelector('.badge').hidden;",
            json!([]),
        )
        .await;

    // A phone: the open widget fills the screen.
    browser.window(390, 844).await;
    let launcher = browser.element(".launcher").await;
    browser.click(&launcher).await;
    browser
        .wait_for("a full-screen panel", "const r = root.querySelector('.panel').getBoundingClientRect(); return r.width >= innerWidth - 20 && r.top === 0 && r.bottom >= innerHeight - 1;", json!([]))
        .await;
    browser
        .see("Our support team is here Monday to Friday")
        .await;
    browser.screenshot("phone-open").await;

    // "Talk to a person" sends those words; the demo bot's transfer keywords hand over.
    let person = browser.button("Talk to a person").await;
    browser.click(&person).await;
    browser
        .see("I'm connecting you with a member of our team")
        .await;

    // An agent picks the conversation up and replies: it arrives live, labelled with
    // the agent's name.
    let ann = api(
        &server,
        reqwest::Method::POST,
        "/api/v1/agents",
        Some(json!({"name": "Ann"})),
    )
    .await;
    let ann_key = ann["key"].as_str().unwrap().to_string();
    let as_ann = |method: reqwest::Method, path: &str| {
        reqwest::Client::new()
            .request(method, server.url(path))
            .bearer_auth(&ann_key)
    };
    let picked = as_ann(reqwest::Method::POST, "/api/v1/transfers/pickup")
        .send()
        .await
        .unwrap();
    assert!(
        picked.status().is_success(),
        "{}",
        picked.text().await.unwrap()
    );
    let sent = as_ann(
        reqwest::Method::POST,
        &format!("/api/v1/conversations/{conversation}/agent-messages"),
    )
    .json(&json!({"text": "Hi, Ann here. I can see your order, one moment."}))
    .send()
    .await
    .unwrap();
    assert!(sent.status().is_success(), "{}", sent.text().await.unwrap());
    browser.see("Hi, Ann here.").await;
    let label = browser
        .wait_for(
            "the agent's bubble",
            "const m = [...root.querySelectorAll('.msg.agent')].pop(); return m && m.querySelector('.who')?.textContent;",
            json!([]),
        )
        .await;
    assert_eq!(label, "Ann");
    browser.screenshot("phone-agent").await;

    // The hosted full-page chat: open at once, same bot.
    browser.window(1280, 900).await;
    browser.goto(&server.url(&format!("/chat/{bot}"))).await;
    browser.see("You can return anything within 30 days").await;
    browser
        .wait_for("no bubble in page mode", "return root.querySelector('.launcher').hidden && !root.querySelector('.panel').hidden;", json!([]))
        .await;
    browser.screenshot("chat-page").await;

    // The stream's edge cases the server does not produce on demand: the page's fetch
    // answers `complete` with an event split across reads, then a finished message whose
    // Markdown differs from the deltas and that carries sources, shown as citations.
    browser.run(STREAMING_FETCH, json!([])).await;
    let input = browser.element("input").await;
    browser
        .type_into(&input, &format!("stream please{ENTER}"))
        .await;
    browser
        .wait_for("a reply streaming in", "const s = root.querySelector('.msg.streaming'); return s && s.textContent.includes('Streamed');", json!([]))
        .await;
    browser.see("Streamed token by token").await;
    let done = browser
        .wait_for("the finished reply", "const b = [...root.querySelectorAll('.msg.bot')].pop();\
            return !root.querySelector('.msg.streaming') && !root.querySelector('.typing') &&\
              {strong: b.querySelector('strong')?.textContent, source: b.querySelector('.sources a')?.href};", json!([]))
        .await;
    assert_eq!(done["strong"], "token by token");
    assert_eq!(done["source"], "https://example.com/shipping");

    browser.quit().await;
    eprintln!("browser screenshots: {}", browser.artifacts.display());
}
