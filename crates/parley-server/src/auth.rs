//! Who is calling: an API key (admin or agent, stored as a SHA-256 hash) or a conversation
//! token (a signed JWT that opens exactly one conversation). Keys are 256-bit random
//! strings, so a fast hash is as safe as a slow one here and keeps every request cheap;
//! argon2 is for passwords people choose, which keys are not.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use parley_core::{ApiKey, Role};
use parley_engine::access::Actor;
use parley_store::Store;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::error::ApiError;
use crate::extract::Ids;
use crate::AppState;

pub const KEY_PREFIX: &str = "pk_";

/// A newly made key: the secret (shown once) and what is stored about it.
pub struct NewKey {
    pub secret: String,
    pub key: ApiKey,
    pub hash: Vec<u8>,
}

/// Makes a random key for `ws` with `role`.
pub fn generate_key(ws: Uuid, name: &str, role: Role) -> NewKey {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let secret = format!("{KEY_PREFIX}{}", hex::encode(bytes));
    key_for_secret(ws, name, role, secret)
}

/// The stored form of a given secret (used for `PARLEY_ADMIN_KEY`).
pub fn key_for_secret(ws: Uuid, name: &str, role: Role, secret: String) -> NewKey {
    let key = ApiKey {
        id: parley_core::new_id(),
        workspace_id: ws,
        name: name.to_string(),
        role,
        prefix: secret.chars().take(KEY_PREFIX.len() + 8).collect(),
        created_at: Utc::now(),
    };
    let hash = hash_key(&secret);
    NewKey { secret, key, hash }
}

pub fn hash_key(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// Creates and stores a key, returning the secret to show once.
pub async fn create_key(
    store: &dyn Store,
    ws: Uuid,
    name: &str,
    role: Role,
) -> Result<NewKey, parley_store::StoreError> {
    let new = generate_key(ws, name, role);
    store.insert_key(&new.key, &new.hash).await?;
    Ok(new)
}

/// Makes sure `secret` is an admin key of `ws` (idempotent).
pub async fn ensure_key(
    store: &dyn Store,
    ws: Uuid,
    name: &str,
    secret: &str,
) -> Result<(), parley_store::StoreError> {
    let hash = hash_key(secret);
    if store.key_by_hash(&hash).await?.is_none() {
        let new = key_for_secret(ws, name, Role::Admin, secret.to_string());
        store.insert_key(&new.key, &new.hash).await?;
    }
    Ok(())
}

#[derive(Debug, Serialize, Deserialize)]
struct TokenClaims {
    /// The conversation.
    sub: Uuid,
    ws: Uuid,
    exp: i64,
    iat: i64,
}

/// Signs and checks conversation tokens with the server's secret.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl TokenKeys {
    pub fn new(secret: &[u8]) -> TokenKeys {
        TokenKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
        }
    }

    pub fn issue(
        &self,
        ws: Uuid,
        conversation_id: Uuid,
        ttl: Duration,
    ) -> Result<(String, DateTime<Utc>), ApiError> {
        let now = Utc::now();
        let expires = now + ttl;
        let claims = TokenClaims {
            sub: conversation_id,
            ws,
            exp: expires.timestamp(),
            iat: now.timestamp(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| ApiError::Internal(format!("signing a token failed: {e}")))?;
        Ok((token, expires))
    }

    fn verify(&self, token: &str) -> Option<TokenClaims> {
        let mut v = Validation::new(Algorithm::HS256);
        v.leeway = 5;
        jsonwebtoken::decode::<TokenClaims>(token, &self.decoding, &v)
            .ok()
            .map(|d| d.claims)
    }
}

/// The authenticated caller of a request. Private to this module: handlers never see it,
/// they take one of the extractors below, each of which is an authorisation decision, so a
/// handler without a check does not compile (it has no workspace id to work with).
#[derive(Debug, Clone)]
enum Caller {
    Key {
        workspace_id: Uuid,
        role: Role,
        key_id: Uuid,
    },
    Conversation {
        workspace_id: Uuid,
        conversation_id: Uuid,
    },
}

fn token_refused() -> ApiError {
    ApiError::Forbidden("a conversation token opens only its own conversation".into())
}

fn other_conversation() -> ApiError {
    ApiError::Forbidden("this token belongs to another conversation".into())
}

/// An admin key. Agent keys and conversation tokens: 403.
#[derive(Debug, Clone, Copy)]
pub struct AdminKey {
    pub ws: Uuid,
    pub key_id: Uuid,
}

impl FromRequestParts<AppState> for AdminKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match Caller::from_request_parts(parts, state).await? {
            Caller::Key {
                workspace_id,
                role: Role::Admin,
                key_id,
            } => Ok(AdminKey {
                ws: workspace_id,
                key_id,
            }),
            Caller::Key {
                role: Role::Agent, ..
            } => Err(ApiError::Forbidden(
                "this needs an admin key; agent keys work with conversations only".into(),
            )),
            Caller::Conversation { .. } => Err(token_refused()),
        }
    }
}

/// An admin or agent key, as the engine's actor (an agent with its profile). Tokens: 403.
/// What an agent may then touch is the engine's access rule (`parley_engine::access`).
#[derive(Debug, Clone)]
pub struct StaffKey {
    pub ws: Uuid,
    pub actor: Actor,
}

impl FromRequestParts<AppState> for StaffKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        StaffKey::of(caller, state).await
    }
}

impl StaffKey {
    /// The staff behind `caller`: an admin, or an agent with its profile. Tokens: 403.
    async fn of(caller: Caller, state: &AppState) -> Result<StaffKey, ApiError> {
        match caller {
            Caller::Key {
                workspace_id,
                role: Role::Admin,
                ..
            } => Ok(StaffKey {
                ws: workspace_id,
                actor: Actor::Admin,
            }),
            Caller::Key {
                workspace_id,
                role: Role::Agent,
                key_id,
            } => Ok(StaffKey {
                ws: workspace_id,
                actor: Actor::Agent(state.engine.agent_by_key(key_id).await?),
            }),
            Caller::Conversation { .. } => Err(token_refused()),
        }
    }
}

/// The conversation of the path (`{conversation_id}`, or `{session_id}`: the same id),
/// read by an admin key, by the conversation's own token, or by an agent key the access
/// rule admits (403 out of reach, 404 not in the workspace). Agents may read; they write
/// only through `agent-messages`.
#[derive(Debug, Clone, Copy)]
pub struct ConversationRead {
    pub ws: Uuid,
    pub id: Uuid,
    /// Read with the conversation's token (which sees messages only on event streams).
    pub by_token: bool,
}

impl FromRequestParts<AppState> for ConversationRead {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        let Ids(id) = Ids::<Uuid>::from_request_parts(parts, state).await?;
        match caller {
            Caller::Conversation {
                workspace_id,
                conversation_id,
            } if conversation_id == id => Ok(ConversationRead {
                ws: workspace_id,
                id,
                by_token: true,
            }),
            Caller::Conversation { .. } => Err(other_conversation()),
            Caller::Key { .. } => {
                let staff = StaffConversation::check(caller, id, state).await?;
                Ok(ConversationRead {
                    ws: staff.ws,
                    id,
                    by_token: false,
                })
            }
        }
    }
}

/// The conversation of the path, for staff: an admin key or an agent key the access rule
/// admits. Conversation tokens: 403.
#[derive(Debug, Clone)]
pub struct StaffConversation {
    pub ws: Uuid,
    pub id: Uuid,
    pub actor: Actor,
}

impl StaffConversation {
    async fn check(caller: Caller, id: Uuid, state: &AppState) -> Result<Self, ApiError> {
        let StaffKey { ws, actor } = StaffKey::of(caller, state).await?;
        state.engine.check_access(ws, &actor, id).await?;
        Ok(StaffConversation { ws, id, actor })
    }
}

impl FromRequestParts<AppState> for StaffConversation {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        let Ids(id) = Ids::<Uuid>::from_request_parts(parts, state).await?;
        StaffConversation::check(caller, id, state).await
    }
}

/// The parties that may speak as the customer of the path's conversation: its own token,
/// or an admin key (integrations, tests, the CLI's way in). Agent keys never: an agent
/// answers through `POST /conversations/{id}/agent-messages`, as itself.
#[derive(Debug, Clone, Copy)]
pub struct CustomerAccess {
    pub ws: Uuid,
    pub id: Uuid,
    /// Whether the conversation's own token spoke (the credential anyone can get from a
    /// widget, so it also counts against its client address's limit).
    pub by_token: bool,
}

impl FromRequestParts<AppState> for CustomerAccess {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        let Ids(id) = Ids::<Uuid>::from_request_parts(parts, state).await?;
        match caller {
            Caller::Conversation {
                workspace_id,
                conversation_id,
            } if conversation_id == id => Ok(CustomerAccess {
                ws: workspace_id,
                id,
                by_token: true,
            }),
            Caller::Conversation { .. } => Err(other_conversation()),
            Caller::Key {
                workspace_id,
                role: Role::Admin,
                ..
            } => Ok(CustomerAccess {
                ws: workspace_id,
                id,
                by_token: false,
            }),
            Caller::Key {
                role: Role::Agent, ..
            } => Err(ApiError::Forbidden(
                "agent keys cannot write as the customer; reply with POST /api/v1/conversations/{id}/agent-messages".into(),
            )),
        }
    }
}

/// The subprotocol a browser WebSocket client names to carry its credential
/// (`new WebSocket(url, ["parley", "bearer." + token])`): browsers cannot set
/// `Authorization` on a WebSocket, and a token in the URL would end up in access logs.
pub const WS_BEARER_PREFIX: &str = "bearer.";

/// The bearer credential of a request: `Authorization: Bearer …`, or, on a WebSocket
/// upgrade without that header, the `bearer.…` entry of `Sec-WebSocket-Protocol`.
fn credential(headers: &axum::http::HeaderMap) -> Result<&str, ApiError> {
    if let Some(header) = headers.get(AUTHORIZATION) {
        let header = header.to_str().map_err(|_| {
            ApiError::Unauthorized(
                "the Authorization header must be `Bearer <key or token>`".into(),
            )
        })?;
        return header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .ok_or_else(|| {
                ApiError::Unauthorized(
                    "the Authorization header must be `Bearer <key or token>`".into(),
                )
            });
    }
    let upgrade = headers
        .get(axum::http::header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if upgrade {
        let offered = headers
            .get_all(axum::http::header::SEC_WEBSOCKET_PROTOCOL)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .find_map(|p| p.strip_prefix(WS_BEARER_PREFIX))
            .filter(|c| !c.is_empty());
        if let Some(credential) = offered {
            return Ok(credential);
        }
    }
    Err(ApiError::Unauthorized(
        "send `Authorization: Bearer <key or token>` (a browser WebSocket may offer the subprotocol `bearer.<token>` instead)".into(),
    ))
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let credential = credential(&parts.headers)?;

        if credential.matches('.').count() == 2 {
            let claims = state.tokens.verify(credential).ok_or_else(|| {
                ApiError::Unauthorized("the conversation token is invalid or expired".into())
            })?;
            return Ok(Caller::Conversation {
                workspace_id: claims.ws,
                conversation_id: claims.sub,
            });
        }
        let key = state
            .engine
            .store()
            .key_by_hash(&hash_key(credential))
            .await?
            .ok_or_else(|| ApiError::Unauthorized("this API key is not valid".into()))?;
        Ok(Caller::Key {
            workspace_id: key.workspace_id,
            role: key.role,
            key_id: key.id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_random_prefixed_and_hashed() {
        let a = generate_key(Uuid::nil(), "a", Role::Admin);
        let b = generate_key(Uuid::nil(), "b", Role::Admin);
        assert!(a.secret.starts_with("pk_") && a.secret.len() == 67);
        assert_ne!(a.secret, b.secret);
        assert_eq!(a.hash, hash_key(&a.secret));
        assert!(a.secret.starts_with(&a.key.prefix));
    }

    #[test]
    fn tokens_round_trip_and_reject_tampering_and_expiry() {
        let keys = TokenKeys::new(b"0123456789abcdef0123456789abcdef");
        let conv = Uuid::now_v7();
        let (t, _) = keys.issue(Uuid::nil(), conv, Duration::hours(1)).unwrap();
        assert_eq!(keys.verify(&t).unwrap().sub, conv);
        let other = TokenKeys::new(b"another secret of thirty-two b..");
        assert!(other.verify(&t).is_none());
        let (old, _) = keys.issue(Uuid::nil(), conv, Duration::hours(-1)).unwrap();
        assert!(keys.verify(&old).is_none());
    }
}
