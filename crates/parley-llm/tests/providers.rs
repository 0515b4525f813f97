//! One scenario list, run against every adapter over real HTTP to the fake server
//! (`parley_llm::fake`), plus the chain, breaker and config tests that sit on top.
//! Timeouts and backoffs are in milliseconds so the whole file runs in a few seconds.

// Tests may unwrap: a panic is a failed test with a message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use parley_llm::fake::{refused_base_url, Blackhole, FakeHandle, FakeProvider};
use parley_llm::{
    AnthropicProvider, BreakerConfig, BreakerState, ChatMessage, ChatRequest, CircuitBreaker,
    FinishReason, LlmError, ManualClock, ModelChain, ModelPrice, OpenAiProvider, PriceTable,
    Provider, ProviderConfig, Providers, RetryPolicy, StreamEvent, Target, TimeoutPhase, Timeouts,
    ToolSpec,
};
use secrecy::SecretString;
use serde_json::json;

const KEY: &str = "sk-test-0123456789-SECRET";

#[derive(Debug, Clone, Copy)]
enum Adapter {
    OpenAi,
    Anthropic,
}

fn timeouts() -> Timeouts {
    Timeouts {
        connect: Duration::from_millis(500),
        first_token: Duration::from_millis(400),
        total: Duration::from_secs(2),
    }
}

fn base_url(adapter: Adapter, fake: &FakeHandle) -> String {
    match adapter {
        Adapter::OpenAi => fake.openai_base_url(),
        Adapter::Anthropic => fake.anthropic_base_url(),
    }
}

fn provider_at(adapter: Adapter, base_url: &str, timeouts: Timeouts) -> Arc<dyn Provider> {
    let key = Some(SecretString::from(KEY));
    match adapter {
        Adapter::OpenAi => Arc::new(OpenAiProvider::new("oa", base_url, key, timeouts).unwrap()),
        Adapter::Anthropic => {
            Arc::new(AnthropicProvider::new("an", base_url, key, timeouts).unwrap())
        }
    }
}

async fn start(adapter: Adapter) -> (FakeHandle, Arc<dyn Provider>) {
    start_with(adapter, timeouts()).await
}

async fn start_with(adapter: Adapter, timeouts: Timeouts) -> (FakeHandle, Arc<dyn Provider>) {
    let fake = FakeProvider::start().await.unwrap();
    let provider = provider_at(adapter, &base_url(adapter, &fake), timeouts);
    (fake, provider)
}

fn request(model: &str, text: &str) -> ChatRequest {
    ChatRequest::new(
        model,
        vec![
            ChatMessage::system("You are terse."),
            ChatMessage::user(text),
        ],
    )
}

fn with_tool(mut req: ChatRequest) -> ChatRequest {
    req.tools.push(ToolSpec {
        name: "lookup_order".into(),
        description: "Looks up an order".into(),
        parameters: json!({"type": "object", "properties": {"id": {"type": "string"}}}),
    });
    req
}

fn fast_retry(max_retries: u32) -> RetryPolicy {
    RetryPolicy {
        max_retries,
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(2),
        max_retry_after: Duration::from_millis(60),
    }
}

/// All events, and the error that ended the stream if one did.
async fn collect(
    provider: &dyn Provider,
    req: &ChatRequest,
) -> (Vec<StreamEvent>, Option<LlmError>) {
    let mut stream = match provider.stream(req).await {
        Ok(stream) => stream,
        Err(err) => return (Vec::new(), Some(err)),
    };
    let mut events = Vec::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(event) => events.push(event),
            Err(err) => return (events, Some(err)),
        }
    }
    (events, None)
}

fn text_of(events: &[StreamEvent]) -> String {
    events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::Delta(t) => Some(t.as_str()),
            _ => None,
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// The scenario list, one `async fn(Adapter)` each.

async fn normal_reply(adapter: Adapter) {
    let (fake, provider) = start(adapter).await;
    let reply = provider
        .complete(&request("echo", "hello there"))
        .await
        .unwrap();
    assert_eq!(reply.text, "hello there");
    assert!(reply.tool_calls.is_empty());
    assert_eq!(reply.usage.output_tokens, 2);
    assert_eq!(
        reply.usage.input_tokens, 5,
        "three system words and two user words"
    );
    assert_eq!(reply.model, "echo");
    assert_eq!(reply.finish_reason, Some(FinishReason::Stop));

    let sent = &fake.requests()[0];
    match adapter {
        Adapter::OpenAi => {
            assert_eq!(sent.path, "/v1/chat/completions");
            assert_eq!(sent.headers["authorization"], format!("Bearer {KEY}"));
            assert_eq!(sent.body["messages"][0]["role"], "system");
        }
        Adapter::Anthropic => {
            assert_eq!(sent.path, "/v1/messages");
            assert_eq!(sent.headers["x-api-key"], KEY);
            assert_eq!(sent.headers["anthropic-version"], "2023-06-01");
            assert_eq!(sent.body["system"], "You are terse.");
            assert_eq!(sent.body["messages"].as_array().unwrap().len(), 1);
        }
    }
    assert_eq!(sent.body["stream"], false);
}

async fn streaming_deltas_then_done_with_usage(adapter: Adapter) {
    let (fake, provider) = start(adapter).await;
    let (events, error) = collect(&*provider, &request("echo", "one two three")).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(text_of(&events), "one two three");
    assert!(
        events
            .iter()
            .filter(|e| matches!(e, StreamEvent::Delta(_)))
            .count()
            >= 3
    );
    let Some(StreamEvent::Done(done)) = events.last() else {
        panic!("the stream must end with Done: {events:?}");
    };
    assert_eq!(done.text, "one two three");
    assert_eq!(done.usage.output_tokens, 3);
    assert_eq!(done.usage.input_tokens, 6);
    assert_eq!(done.finish_reason, Some(FinishReason::Stop));

    let sent = &fake.requests()[0].body;
    assert_eq!(sent["stream"], true);
    if let Adapter::OpenAi = adapter {
        assert_eq!(sent["stream_options"]["include_usage"], true);
    }
}

async fn tool_call_complete(adapter: Adapter) {
    let (fake, provider) = start(adapter).await;
    let reply = provider
        .complete(&with_tool(request("tool", "where is order 7?")))
        .await
        .unwrap();
    assert_eq!(reply.text, "Let me check.");
    assert_eq!(reply.tool_calls.len(), 1);
    assert_eq!(reply.tool_calls[0].id, "call_fake_1");
    assert_eq!(reply.tool_calls[0].name, "lookup_order");
    assert_eq!(
        reply.tool_calls[0].arguments,
        json!({"location": "Paris", "unit": "celsius"})
    );
    assert_eq!(reply.finish_reason, Some(FinishReason::ToolCalls));

    let tools = &fake.requests()[0].body["tools"][0];
    match adapter {
        Adapter::OpenAi => assert_eq!(tools["function"]["parameters"]["type"], "object"),
        Adapter::Anthropic => assert_eq!(tools["input_schema"]["type"], "object"),
    }
}

async fn tool_call_streamed(adapter: Adapter) {
    let (_fake, provider) = start(adapter).await;
    let (events, error) = collect(&*provider, &with_tool(request("tool", "where?"))).await;
    assert!(error.is_none(), "{error:?}");
    let calls: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::ToolCall(c) => Some(c),
            _ => None,
        })
        .collect();
    assert_eq!(calls.len(), 1, "{events:?}");
    assert_eq!(calls[0].name, "lookup_order");
    assert_eq!(
        calls[0].arguments,
        json!({"location": "Paris", "unit": "celsius"})
    );
    let Some(StreamEvent::Done(done)) = events.last() else {
        panic!("no Done: {events:?}");
    };
    assert_eq!(done.tool_calls, vec![calls[0].clone()]);
    assert_eq!(done.text, "Let me check.");
    assert_eq!(done.finish_reason, Some(FinishReason::ToolCalls));
}

async fn tool_results_round_trip(adapter: Adapter) {
    let (fake, provider) = start(adapter).await;
    let first = provider
        .complete(&with_tool(request("tool", "where is order 7?")))
        .await
        .unwrap();
    let mut req = with_tool(request("echo", "where is order 7?"));
    req.messages.push(ChatMessage::assistant_with_tools(
        first.text,
        first.tool_calls.clone(),
    ));
    req.messages
        .push(ChatMessage::tool_result(&first.tool_calls[0].id, "shipped"));
    provider.complete(&req).await.unwrap();

    let sent = &fake.requests()[1].body;
    match adapter {
        Adapter::OpenAi => {
            assert_eq!(sent["messages"][2]["tool_calls"][0]["id"], "call_fake_1");
            assert_eq!(sent["messages"][3]["role"], "tool");
            assert_eq!(sent["messages"][3]["tool_call_id"], "call_fake_1");
        }
        Adapter::Anthropic => {
            assert_eq!(sent["messages"][1]["content"][1]["type"], "tool_use");
            assert_eq!(sent["messages"][2]["content"][0]["type"], "tool_result");
            assert_eq!(
                sent["messages"][2]["content"][0]["tool_use_id"],
                "call_fake_1"
            );
        }
    }
}

async fn scripted_replies(adapter: Adapter) {
    let (fake, provider) = start(adapter).await;
    fake.push_script("first scripted");
    fake.push_script("second scripted");
    let req = request("script", "anything");
    assert_eq!(
        provider.complete(&req).await.unwrap().text,
        "first scripted"
    );
    let (events, _) = collect(&*provider, &req).await;
    assert_eq!(text_of(&events), "second scripted");
    assert!(matches!(
        provider.complete(&req).await,
        Err(LlmError::Client { status: 400, .. })
    ));
}

async fn unknown_model_is_a_client_error(adapter: Adapter) {
    let (_fake, provider) = start(adapter).await;
    let err = provider
        .complete(&request("gpt-9", "hi"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, LlmError::Client { status: 404, .. }),
        "{err:?}"
    );
    assert!(!err.is_retryable());
}

async fn first_token_timeout_without_headers(adapter: Adapter) {
    let t = Timeouts {
        first_token: Duration::from_millis(100),
        ..timeouts()
    };
    let (_fake, provider) = start_with(adapter, t).await;
    let started = Instant::now();
    let err = provider
        .complete(&request("timeout", "hi"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            LlmError::Timeout {
                phase: TimeoutPhase::FirstToken
            }
        ),
        "{err:?}"
    );
    assert!(err.is_retryable());
    let (_, err) = collect(&*provider, &request("timeout", "hi")).await;
    assert!(matches!(
        err,
        Some(LlmError::Timeout {
            phase: TimeoutPhase::FirstToken
        })
    ));
    assert!(started.elapsed() < Duration::from_secs(1));
}

async fn first_token_timeout_after_stream_headers(adapter: Adapter) {
    let t = Timeouts {
        first_token: Duration::from_millis(100),
        ..timeouts()
    };
    let (_fake, provider) = start_with(adapter, t).await;
    // Headers arrive at once; the first event only after 500 ms.
    let (events, err) = collect(&*provider, &request("slow_ttft_500", "hi")).await;
    assert!(events.is_empty());
    assert!(
        matches!(
            err,
            Some(LlmError::Timeout {
                phase: TimeoutPhase::FirstToken
            })
        ),
        "{err:?}"
    );
    // Non-streaming, the slow first byte is the response headers.
    let err = provider
        .complete(&request("slow_ttft_500", "hi"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            LlmError::Timeout {
                phase: TimeoutPhase::FirstToken
            }
        ),
        "{err:?}"
    );
}

async fn slow_first_token_within_the_deadline(adapter: Adapter) {
    let (_fake, provider) = start(adapter).await;
    let (events, err) = collect(&*provider, &request("slow_ttft_50", "in time")).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(text_of(&events), "in time");
    let reply = provider
        .complete(&request("slow_ttft_50", "in time"))
        .await
        .unwrap();
    assert_eq!(reply.text, "in time");
}

async fn connect_timeout(adapter: Adapter) {
    let hole = Blackhole::start().await.unwrap();
    let t = Timeouts {
        connect: Duration::from_millis(100),
        ..timeouts()
    };
    let provider = provider_at(adapter, &hole.base_url(), t);
    let started = Instant::now();
    let err = provider.complete(&request("echo", "hi")).await.unwrap_err();
    assert!(
        matches!(
            err,
            LlmError::Timeout {
                phase: TimeoutPhase::Connect
            }
        ),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_millis(400));
}

async fn connection_refused(adapter: Adapter) {
    let provider = provider_at(adapter, &refused_base_url().await.unwrap(), timeouts());
    let err = provider.complete(&request("echo", "hi")).await.unwrap_err();
    assert!(matches!(err, LlmError::Connect(_)), "{err:?}");
    assert!(err.is_retryable());
    let (_, err) = collect(&*provider, &request("echo", "hi")).await;
    assert!(matches!(err, Some(LlmError::Connect(_))), "{err:?}");
}

async fn rate_limit_honours_retry_after(adapter: Adapter) {
    let (fake, provider) = start(adapter).await;
    let err = provider
        .complete(&request("rate_limit", "hi"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, LlmError::RateLimited { retry_after: Some(d) } if d == Duration::from_secs(1)),
        "{err:?}"
    );
    assert!(err.is_retryable());

    // The 1 s the provider asks for is capped at the policy's 60 ms, and replaces the 1 ms
    // backoff: one retry therefore takes at least 60 ms.
    let chain = ModelChain::new(vec![
        Target::new(provider, "rate_limit").with_retry(fast_retry(1))
    ]);
    let started = Instant::now();
    let outcome = chain.complete(&request("ignored", "hi")).await;
    assert!(started.elapsed() >= Duration::from_millis(60));
    assert!(started.elapsed() < Duration::from_millis(900));
    assert!(matches!(outcome.result, Err(LlmError::RateLimited { .. })));
    assert_eq!(outcome.attempts.len(), 2);
    assert_eq!(fake.requests().len(), 3);
}

async fn server_error_retried_until_success(adapter: Adapter) {
    let (fake, provider) = start(adapter).await;
    let chain = ModelChain::new(vec![
        Target::new(provider, "flaky_2").with_retry(fast_retry(3))
    ]);
    let outcome = chain
        .complete(&request("ignored", "third time lucky"))
        .await;
    assert_eq!(outcome.result.unwrap().text, "third time lucky");
    let errors: Vec<_> = outcome.attempts.iter().map(|a| a.error.clone()).collect();
    assert_eq!(
        errors,
        vec![
            Some("provider error (HTTP 500)".to_owned()),
            Some("provider error (HTTP 500)".to_owned()),
            None
        ]
    );
    assert!(outcome.attempts.iter().all(|a| a.model == "flaky_2"));
    // The chain put the target's model into the request.
    assert!(fake.requests().iter().all(|r| r.body["model"] == "flaky_2"));
}

async fn client_and_auth_errors_are_not_retried(adapter: Adapter) {
    let (fake, provider) = start(adapter).await;
    for (model, check) in [
        (
            "error_400",
            (|e: &LlmError| matches!(e, LlmError::Client { status: 400, .. }))
                as fn(&LlmError) -> bool,
        ),
        ("error_401", |e: &LlmError| {
            matches!(e, LlmError::Auth { status: 401 })
        }),
        ("error_403", |e: &LlmError| {
            matches!(e, LlmError::Auth { status: 403 })
        }),
        ("error_404", |e: &LlmError| {
            matches!(e, LlmError::Client { status: 404, .. })
        }),
    ] {
        let before = fake.requests().len();
        let chain = ModelChain::new(vec![
            Target::new(provider.clone(), model).with_retry(fast_retry(3))
        ]);
        let outcome = chain.complete(&request("ignored", "hi")).await;
        let err = outcome.result.unwrap_err();
        assert!(check(&err), "{model}: {err:?}");
        assert!(!err.is_retryable());
        assert_eq!(outcome.attempts.len(), 1, "{model}");
        assert_eq!(fake.requests().len(), before + 1, "{model}");
    }
}

async fn keys_never_appear_in_errors_or_debug(adapter: Adapter) {
    let (fake, provider) = start(adapter).await;
    let errors = [
        provider
            .complete(&request("error_400", "hi"))
            .await
            .unwrap_err(),
        provider
            .complete(&request("error_401", "hi"))
            .await
            .unwrap_err(),
        collect(&*provider, &request("error_422", "hi"))
            .await
            .1
            .unwrap(),
    ];
    // The fake quoted the credentials it received; the client must have scrubbed them.
    let LlmError::Client { message, .. } = &errors[0] else {
        panic!("{:?}", errors[0]);
    };
    assert!(message.contains("[REDACTED]"), "{message}");
    for err in &errors {
        for text in [err.to_string(), format!("{err:?}")] {
            assert!(!text.contains(KEY), "key leaked: {text}");
            assert!(!text.contains("SECRET"), "key leaked: {text}");
        }
    }
    // And the key was really sent, so the checks above mean something.
    assert!(fake
        .requests()
        .iter()
        .all(|r| r.headers.values().any(|v| v.contains(KEY))));

    let concrete = match adapter {
        Adapter::OpenAi => format!(
            "{:?}",
            OpenAiProvider::new(
                "x",
                &fake.openai_base_url(),
                Some(SecretString::from(KEY)),
                timeouts()
            )
            .unwrap()
        ),
        Adapter::Anthropic => format!(
            "{:?}",
            AnthropicProvider::new(
                "x",
                &fake.base_url(),
                Some(SecretString::from(KEY)),
                timeouts()
            )
            .unwrap()
        ),
    };
    assert!(!concrete.contains(KEY), "{concrete}");
    let target = format!("{:?}", Target::new(provider, "echo"));
    assert!(!target.contains(KEY), "{target}");
}

async fn malformed_responses(adapter: Adapter) {
    let (_fake, provider) = start(adapter).await;
    let err = provider
        .complete(&request("malformed", "hi"))
        .await
        .unwrap_err();
    assert!(matches!(err, LlmError::Malformed(_)), "{err:?}");
    let (events, err) = collect(&*provider, &request("malformed", "hi")).await;
    assert!(events.is_empty());
    assert!(matches!(err, Some(LlmError::Malformed(_))), "{err:?}");
}

async fn slow_drip_within_total(adapter: Adapter) {
    let (_fake, provider) = start(adapter).await;
    let (events, err) = collect(&*provider, &request("slow_drip_5", "a b c d")).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(text_of(&events), "a b c d");
    let reply = provider
        .complete(&request("slow_drip_5", "a b c d"))
        .await
        .unwrap();
    assert_eq!(reply.text, "a b c d");
}

async fn slow_drip_beyond_total(adapter: Adapter) {
    let t = Timeouts {
        connect: Duration::from_millis(500),
        first_token: Duration::from_millis(200),
        total: Duration::from_millis(300),
    };
    let (_fake, provider) = start_with(adapter, t).await;
    let text = "one two three four five six seven eight";
    let (events, err) = collect(&*provider, &request("slow_drip_40", text)).await;
    let Some(LlmError::StreamBroken { partial, cause }) = err else {
        panic!("expected a broken stream, got {err:?}");
    };
    assert!(
        !partial.is_empty() && text.starts_with(&partial) && partial != text,
        "{partial:?}"
    );
    assert_eq!(partial, text_of(&events));
    assert!(
        matches!(
            *cause,
            LlmError::Timeout {
                phase: TimeoutPhase::Total
            }
        ),
        "{cause:?}"
    );

    // Non-streaming: headers at once, then the body too slowly.
    let err = provider
        .complete(&request("slow_drip_150", text))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            LlmError::Timeout {
                phase: TimeoutPhase::Total
            }
        ),
        "{err:?}"
    );
}

async fn mid_stream_drop_keeps_the_partial_text(adapter: Adapter) {
    let (_fake, provider) = start(adapter).await;
    let (events, err) = collect(
        &*provider,
        &request("drop_mid_stream", "one two three four"),
    )
    .await;
    let Some(LlmError::StreamBroken { partial, cause }) = err else {
        panic!("expected a broken stream, got {err:?} after {events:?}");
    };
    assert_eq!(partial, "one two ");
    assert_eq!(text_of(&events), "one two ");
    assert!(matches!(*cause, LlmError::Connect(_)), "{cause:?}");
    assert!(!events.iter().any(|e| matches!(e, StreamEvent::Done(_))));

    let err = provider
        .complete(&request("drop_mid_stream", "one two three four"))
        .await
        .unwrap_err();
    assert!(matches!(err, LlmError::Connect(_)), "{err:?}");
}

async fn fixed_latency_applies_to_every_answer(adapter: Adapter) {
    let (fake, provider) = start(adapter).await;
    fake.set_latency(Duration::from_millis(60));
    let started = Instant::now();
    provider.complete(&request("echo", "hi")).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(60));
}

async fn chain_falls_back_to_the_next_target(adapter: Adapter) {
    let (_fake, provider) = start(adapter).await;
    let chain = ModelChain::new(vec![
        Target::new(provider.clone(), "error_500").with_retry(fast_retry(1)),
        Target::new(provider.clone(), "error_401").with_retry(fast_retry(1)),
        Target::new(provider.clone(), "echo").with_retry(fast_retry(1)),
    ]);
    let outcome = chain.complete(&request("ignored", "fallback works")).await;
    assert_eq!(outcome.result.unwrap().text, "fallback works");
    let summary: Vec<_> = outcome
        .attempts
        .iter()
        .map(|a| (a.model.as_str(), a.error.is_some()))
        .collect();
    assert_eq!(
        summary,
        [
            ("error_500", true),
            ("error_500", true),
            ("error_401", true),
            ("echo", false)
        ]
    );
    assert!(outcome
        .attempts
        .iter()
        .all(|a| a.provider == provider.name()));
}

async fn stream_falls_back_before_the_first_token(adapter: Adapter) {
    let t = Timeouts {
        first_token: Duration::from_millis(100),
        ..timeouts()
    };
    let (_fake, provider) = start_with(adapter, t).await;
    let chain = ModelChain::new(vec![
        Target::new(provider.clone(), "slow_ttft_500").with_retry(RetryPolicy::none()),
        Target::new(provider.clone(), "malformed").with_retry(RetryPolicy::none()),
        Target::new(provider.clone(), "echo").with_retry(RetryPolicy::none()),
    ]);
    let outcome = chain.stream(&request("ignored", "streamed fallback")).await;
    let committed = outcome.result.unwrap();
    assert_eq!(committed.model, "echo");
    let events: Vec<_> = committed.events.collect().await;
    let events: Vec<_> = events.into_iter().map(Result::unwrap).collect();
    assert_eq!(text_of(&events), "streamed fallback");
    assert!(matches!(events.last(), Some(StreamEvent::Done(_))));
    let errors: Vec<_> = outcome
        .attempts
        .iter()
        .map(|a| (a.model.as_str(), a.error.as_deref()))
        .collect();
    assert_eq!(errors.len(), 3);
    assert_eq!(
        errors[0],
        ("slow_ttft_500", Some("timed out (first token deadline)"))
    );
    assert_eq!(errors[1].0, "malformed");
    assert!(errors[1].1.unwrap().starts_with("malformed response"));
    assert_eq!(errors[2], ("echo", None));
}

async fn stream_committed_after_first_token_does_not_fall_back(adapter: Adapter) {
    let (fake, provider) = start(adapter).await;
    let chain = ModelChain::new(vec![
        Target::new(provider.clone(), "drop_mid_stream"),
        Target::new(provider.clone(), "echo"),
    ]);
    let outcome = chain
        .stream(&request("ignored", "one two three four"))
        .await;
    assert_eq!(outcome.attempts.len(), 1);
    let events: Vec<_> = outcome.result.unwrap().events.collect().await;
    assert!(matches!(
        events.last(),
        Some(Err(LlmError::StreamBroken { partial, .. })) if partial == "one two "
    ));
    assert_eq!(fake.requests().len(), 1);
}

macro_rules! for_each_adapter {
    ($($scenario:ident),* $(,)?) => {
        mod openai {
            $(#[tokio::test] async fn $scenario() { super::$scenario(super::Adapter::OpenAi).await })*
        }
        mod anthropic {
            $(#[tokio::test] async fn $scenario() { super::$scenario(super::Adapter::Anthropic).await })*
        }
    };
}

for_each_adapter!(
    normal_reply,
    streaming_deltas_then_done_with_usage,
    tool_call_complete,
    tool_call_streamed,
    tool_results_round_trip,
    scripted_replies,
    unknown_model_is_a_client_error,
    first_token_timeout_without_headers,
    first_token_timeout_after_stream_headers,
    slow_first_token_within_the_deadline,
    connect_timeout,
    connection_refused,
    rate_limit_honours_retry_after,
    server_error_retried_until_success,
    client_and_auth_errors_are_not_retried,
    keys_never_appear_in_errors_or_debug,
    malformed_responses,
    slow_drip_within_total,
    slow_drip_beyond_total,
    mid_stream_drop_keeps_the_partial_text,
    fixed_latency_applies_to_every_answer,
    chain_falls_back_to_the_next_target,
    stream_falls_back_before_the_first_token,
    stream_committed_after_first_token_does_not_fall_back,
);

// ---------------------------------------------------------------------------------------
// Above the adapters.

#[tokio::test]
async fn fallback_crosses_providers() {
    let fake = FakeProvider::start().await.unwrap();
    let openai = provider_at(Adapter::OpenAi, &fake.openai_base_url(), timeouts());
    let anthropic = provider_at(Adapter::Anthropic, &fake.base_url(), timeouts());
    let chain = ModelChain::new(vec![
        Target::new(openai, "error_503").with_retry(RetryPolicy::none()),
        Target::new(anthropic, "echo"),
    ]);
    let outcome = chain.complete(&request("ignored", "over to you")).await;
    assert_eq!(outcome.result.unwrap().text, "over to you");
    let providers: Vec<_> = outcome
        .attempts
        .iter()
        .map(|a| a.provider.as_str())
        .collect();
    assert_eq!(providers, ["oa", "an"]);
    let paths: Vec<_> = fake.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/v1/chat/completions", "/v1/messages"]);
}

#[tokio::test]
async fn an_empty_chain_is_not_configured() {
    let outcome = ModelChain::default().complete(&request("echo", "hi")).await;
    assert!(matches!(outcome.result, Err(LlmError::NotConfigured)));
    assert!(outcome.attempts.is_empty());
}

#[tokio::test]
async fn circuit_breaker_opens_rests_probes_and_closes() {
    let fake = FakeProvider::start().await.unwrap();
    let provider = provider_at(Adapter::OpenAi, &fake.openai_base_url(), timeouts());
    let clock = Arc::new(ManualClock::new());
    let breaker = Arc::new(CircuitBreaker::with_clock(
        BreakerConfig {
            failure_threshold: 2,
            cooldown: Duration::from_secs(30),
        },
        clock.clone(),
    ));
    // `flaky_3` fails its first three requests: two to open the circuit, one failed probe.
    let chain = ModelChain::new(vec![
        Target::new(provider.clone(), "flaky_3")
            .with_retry(RetryPolicy::none())
            .with_breaker(breaker.clone()),
        Target::new(provider, "echo").with_retry(RetryPolicy::none()),
    ]);
    let req = request("ignored", "hi");
    let flaky_requests = || {
        fake.requests()
            .iter()
            .filter(|r| r.body["model"] == "flaky_3")
            .count()
    };
    let first_error = |outcome: &parley_llm::Outcome<_>| outcome.attempts[0].error.clone();

    for _ in 0..2 {
        let outcome = chain.complete(&req).await;
        assert!(outcome.result.is_ok(), "the echo target answers");
    }
    assert_eq!(breaker.state(), BreakerState::Open);
    assert_eq!(flaky_requests(), 2);

    let outcome = chain.complete(&req).await;
    assert_eq!(
        first_error(&outcome).as_deref(),
        Some("circuit open for provider oa")
    );
    assert_eq!(outcome.attempts[0].latency, Duration::ZERO);
    assert_eq!(flaky_requests(), 2, "an open circuit sends nothing");

    clock.advance(Duration::from_secs(30));
    assert_eq!(breaker.state(), BreakerState::HalfOpen);
    chain.complete(&req).await;
    assert_eq!(flaky_requests(), 3, "one probe went through");
    assert_eq!(breaker.state(), BreakerState::Open, "the probe failed");

    clock.advance(Duration::from_secs(29));
    let outcome = chain.complete(&req).await;
    assert!(first_error(&outcome).unwrap().starts_with("circuit open"));

    clock.advance(Duration::from_secs(1));
    let outcome = chain.complete(&req).await;
    assert_eq!(first_error(&outcome), None, "the probe succeeded");
    assert_eq!(outcome.attempts.len(), 1);
    assert_eq!(breaker.state(), BreakerState::Closed);
    chain.complete(&req).await;
    assert_eq!(flaky_requests(), 5);
}

#[tokio::test]
async fn client_errors_do_not_open_the_breaker() {
    let fake = FakeProvider::start().await.unwrap();
    let provider = provider_at(Adapter::Anthropic, &fake.base_url(), timeouts());
    let breaker = Arc::new(CircuitBreaker::new(BreakerConfig {
        failure_threshold: 1,
        cooldown: Duration::from_secs(60),
    }));
    let chain = ModelChain::new(vec![
        Target::new(provider, "error_400").with_breaker(breaker.clone())
    ]);
    for _ in 0..3 {
        chain.complete(&request("ignored", "hi")).await;
    }
    assert_eq!(breaker.state(), BreakerState::Closed);
}

#[tokio::test]
async fn providers_from_config_talk_to_the_fake() {
    let fake = FakeProvider::start().await.unwrap();
    let configs: std::collections::BTreeMap<String, ProviderConfig> = serde_json::from_value(json!({
        "local": {"kind": "openai", "base_url": fake.openai_base_url()},
        "claude": {
            "kind": "anthropic", "base_url": fake.base_url(), "api_key_env": "FAKE_ANTHROPIC_KEY",
            "max_retries": 0, "timeouts": {"first_token_ms": 100}
        },
    }))
    .unwrap();
    let providers = Providers::from_config(&configs, |var| {
        (var == "FAKE_ANTHROPIC_KEY").then(|| KEY.to_owned())
    })
    .unwrap();
    let chain = providers
        .chain(&[("claude", "timeout"), ("local", "echo")])
        .unwrap();
    let outcome = chain.complete(&request("ignored", "configured")).await;
    assert_eq!(outcome.result.unwrap().text, "configured");
    assert_eq!(outcome.attempts.len(), 2, "max_retries = 0 for claude");
    let requests = fake.requests();
    assert_eq!(requests[0].headers["x-api-key"], KEY);
    assert!(
        !requests[1].headers.contains_key("authorization"),
        "no key configured"
    );
    assert!(!format!("{providers:?}").contains(KEY));

    let err = Providers::from_config(&configs, |_| None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "provider `claude`: environment variable `FAKE_ANTHROPIC_KEY` (its api_key_env) is not set"
    );
}

#[test]
fn provider_config_rejects_unknown_fields() {
    let parsed: Result<ProviderConfig, _> = serde_json::from_value(json!({
        "kind": "openai", "base_url": "http://x/v1", "api_key": "sk-inline"
    }));
    assert!(parsed
        .unwrap_err()
        .to_string()
        .contains("unknown field `api_key`"));
    let parsed: Result<ProviderConfig, _> =
        serde_json::from_value(json!({"kind": "gemini", "base_url": "http://x"}));
    assert!(parsed.is_err());
}

#[tokio::test]
async fn cost_of_a_reply() {
    let (_fake, provider) = start(Adapter::OpenAi).await;
    let reply = provider
        .complete(&request("echo", "two words"))
        .await
        .unwrap();
    let mut prices = PriceTable::new();
    prices.insert(
        "echo",
        ModelPrice {
            input_per_million: 1_000_000.0,
            output_per_million: 2_000_000.0,
        },
    );
    // 5 input tokens at 1 each, 2 output tokens at 2 each.
    assert_eq!(prices.cost(&reply.model, &reply.usage), Some(9.0));
    assert_eq!(prices.cost("other", &reply.usage), None);
}
