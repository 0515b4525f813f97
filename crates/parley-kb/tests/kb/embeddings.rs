use std::net::SocketAddr;

use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use parley_kb::{
    fuse_hits, Chunk, ChunkKind, EmbedError, EmbeddingClient, EmbeddingConfig, FlatVectorStore, Hit,
};
use secrecy::SecretString;
use serde_json::{json, Value};

/// A fake OpenAI-compatible endpoint. The model name picks the behaviour: `error-429` and
/// `error-400` answer with that status; anything else embeds each input as counts of
/// a few letters, returned in reverse order with explicit indexes. It requires the test
/// key, so a missing `Authorization` header is a 401.
async fn fake_embeddings(headers: HeaderMap, Json(body): Json<Value>) -> (StatusCode, Json<Value>) {
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer test-key") {
        return (StatusCode::UNAUTHORIZED, Json(json!({"error": "no key"})));
    }
    match body["model"].as_str() {
        Some("error-429") => {
            return (
                StatusCode::TOO_MANY_REQUESTS,
                Json(json!({"error": "slow down"})),
            )
        }
        Some("error-400") => return (StatusCode::BAD_REQUEST, Json(json!({"error": "bad input"}))),
        _ => {}
    }
    let inputs: Vec<String> = body["input"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    let mut data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(index, text)| json!({"object": "embedding", "index": index, "embedding": letter_vector(text)}))
        .collect();
    data.reverse();
    (
        StatusCode::OK,
        Json(json!({"object": "list", "data": data, "model": body["model"]})),
    )
}

fn letter_vector(text: &str) -> Vec<f32> {
    "aeiost"
        .chars()
        .map(|c| text.matches(c).count() as f32)
        .collect()
}

async fn spawn_fake() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new().route("/v1/embeddings", post(fake_embeddings));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

fn client(addr: SocketAddr, model: &str, key: Option<&str>) -> EmbeddingClient {
    EmbeddingClient::new(EmbeddingConfig {
        base_url: format!("http://{addr}/v1/"),
        model: model.into(),
        api_key: key.map(|k| SecretString::from(k.to_owned())),
        timeout: std::time::Duration::from_secs(5),
    })
    .unwrap()
}

#[tokio::test]
async fn embeddings_come_back_in_input_order() {
    let addr = spawn_fake().await;
    let inputs = vec!["aaa".to_owned(), "sss".to_owned(), "".to_owned()];
    let vectors = client(addr, "fake", Some("test-key"))
        .embed(&inputs)
        .await
        .unwrap();
    assert_eq!(
        vectors,
        inputs.iter().map(|t| letter_vector(t)).collect::<Vec<_>>()
    );
    assert!(client(addr, "fake", Some("test-key"))
        .embed(&[])
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn endpoint_errors_say_whether_to_retry() {
    let addr = spawn_fake().await;
    let input = vec!["x".to_owned()];
    let err = client(addr, "error-429", Some("test-key"))
        .embed(&input)
        .await
        .unwrap_err();
    assert!(
        matches!(err, EmbedError::Status { status: 429, .. }) && err.is_retryable(),
        "{err}"
    );
    let err = client(addr, "error-400", Some("test-key"))
        .embed(&input)
        .await
        .unwrap_err();
    assert!(
        matches!(err, EmbedError::Status { status: 400, .. }) && !err.is_retryable(),
        "{err}"
    );
    let err = client(addr, "fake", None).embed(&input).await.unwrap_err();
    assert!(
        matches!(err, EmbedError::Status { status: 401, .. }),
        "{err}"
    );

    // Nothing listening: a transport error, worth retrying.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let err = client(closed, "fake", Some("test-key"))
        .embed(&input)
        .await
        .unwrap_err();
    assert!(
        matches!(err, EmbedError::Transport { .. }) && err.is_retryable(),
        "{err}"
    );
}

fn chunk(doc_id: &str, position: u32, text: &str) -> Chunk {
    Chunk {
        doc_id: doc_id.into(),
        chunk_id: format!("{doc_id}:{position}"),
        title: doc_id.into(),
        heading_path: vec![],
        url: None,
        position,
        kind: ChunkKind::Passage,
        text: text.into(),
    }
}

#[tokio::test]
async fn vector_store_ranks_by_cosine_and_fuses_with_bm25() {
    let addr = spawn_fake().await;
    let client = client(addr, "fake", Some("test-key"));
    let texts = ["aaaa aaaa", "ssss tttt", "oooo iiii"];
    let vectors = client.embed(&texts.map(str::to_owned)).await.unwrap();
    let store = FlatVectorStore::new();
    for (i, (text, vector)) in texts.iter().zip(vectors).enumerate() {
        store
            .upsert_document(
                "ds",
                &format!("d{i}"),
                vec![(chunk(&format!("d{i}"), 0, text), vector)],
            )
            .unwrap();
    }
    let query = client
        .embed(&["ttt sss".to_owned()])
        .await
        .unwrap()
        .remove(0);
    let dense = store.search(&["ds"], &query, 3).unwrap();
    assert_eq!(dense[0].chunk.doc_id, "d1");
    assert!((dense[0].score - 1.0).abs() < 1e-5, "{}", dense[0].score);

    // A document found second by both lists beats one found first by only one of them.
    let bm25 = vec![
        Hit {
            dataset_id: "ds".into(),
            chunk: chunk("d2", 0, "oooo iiii"),
            score: 9.0,
        },
        Hit {
            dataset_id: "ds".into(),
            chunk: chunk("d0", 0, "aaaa aaaa"),
            score: 5.0,
        },
    ];
    let dense = vec![
        dense[0].clone(),
        Hit {
            dataset_id: "ds".into(),
            chunk: chunk("d0", 0, "aaaa aaaa"),
            score: 0.1,
        },
    ];
    let fused = fuse_hits(&[bm25, dense], 10);
    let order: Vec<&str> = fused.iter().map(|h| h.chunk.doc_id.as_str()).collect();
    assert_eq!(order, ["d0", "d2", "d1"]);

    store.delete_document("ds", "d1");
    assert!(store
        .search(&["ds"], &query, 3)
        .unwrap()
        .iter()
        .all(|h| h.chunk.doc_id != "d1"));
    let err = store.search(&["ds"], &[1.0, 2.0], 3).unwrap_err();
    assert!(
        matches!(
            err,
            EmbedError::DimensionMismatch {
                expected: 6,
                found: 2
            }
        ),
        "{err}"
    );
    let err = store
        .upsert_document("ds", "d9", vec![(chunk("d9", 0, "x"), vec![1.0])])
        .unwrap_err();
    assert!(matches!(err, EmbedError::DimensionMismatch { .. }), "{err}");
    store.delete_dataset("ds");
    assert!(store.search(&["ds"], &query, 3).unwrap().is_empty());
}
