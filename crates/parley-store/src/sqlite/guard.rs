//! [`GuardStore`] on SQLite, and the guard's part of a turn's transaction.

use async_trait::async_trait;
use parley_core::{SafetyEvent, SafetyKind};
use sqlx::sqlite::SqliteRow;
use sqlx::QueryBuilder;
use uuid::Uuid;

use super::commit::Statements;
use super::{fetch_page, from_json, get, json, Order, SqliteStore};
use crate::error::Doing;
use crate::guard::{GuardStore, SafetyEventFilter, SealedOriginal};
use crate::{Page, PageRequest, Result, StoreError};

fn safety_event_from_row(r: &SqliteRow) -> Result<SafetyEvent> {
    let kind: String = get(r, "kind")?;
    Ok(SafetyEvent {
        id: get(r, "id")?,
        bot_id: get(r, "bot_id")?,
        conversation_id: get(r, "conversation_id")?,
        message_id: get(r, "message_id")?,
        kind: SafetyKind::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("safety event kind `{kind}`")))?,
        action: get(r, "action")?,
        detail: from_json(&get::<String>(r, "detail")?, "safety event detail")?,
        created_at: get(r, "created_at")?,
    })
}

/// Adds a turn's safety events and sealed originals to its statements (after its
/// messages, which the originals reference).
pub(super) fn push_guard(
    st: &mut Statements,
    ws: Uuid,
    events: &[SafetyEvent],
    sealed: &[SealedOriginal],
) -> Result<()> {
    for e in events {
        st.push(
            "INSERT INTO safety_events (id, workspace_id, bot_id, conversation_id, message_id, \
             kind, action, detail, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        );
        st.bind(e.id)?
            .bind(ws)?
            .bind(e.bot_id)?
            .bind(e.conversation_id)?
            .bind(e.message_id)?
            .bind(e.kind.as_str())?
            .bind(e.action.clone())?
            .bind(json(&e.detail)?)?
            .bind(e.created_at)?;
    }
    for s in sealed {
        st.push(
            "INSERT INTO pii_originals (message_id, conversation_id, key_id, sealed, created_at) \
             VALUES (?, ?, ?, ?, ?)",
        );
        st.bind(s.message_id)?
            .bind(s.conversation_id)?
            .bind(s.key_id.clone())?
            .bind(s.sealed.clone())?
            .bind(s.created_at)?;
    }
    Ok(())
}

#[async_trait]
impl GuardStore for SqliteStore {
    async fn list_safety_events(
        &self,
        ws: Uuid,
        bot_id: Uuid,
        filter: &SafetyEventFilter,
        page: &PageRequest,
    ) -> Result<Page<SafetyEvent>> {
        let mut q = QueryBuilder::new("SELECT * FROM safety_events WHERE workspace_id = ");
        q.push_bind(ws).push(" AND bot_id = ").push_bind(bot_id);
        if let Some(kind) = filter.kind {
            q.push(" AND kind = ").push_bind(kind.as_str());
        }
        if let Some(c) = filter.conversation_id {
            q.push(" AND conversation_id = ").push_bind(c);
        }
        fetch_page(
            &self.reader,
            q,
            "id",
            Order::Desc,
            page,
            safety_event_from_row,
            |e| e.id,
            "listing safety events",
        )
        .await
    }

    async fn count_safety_events(
        &self,
        conversation_id: Uuid,
        kind: SafetyKind,
        action: Option<&str>,
    ) -> Result<i64> {
        let mut q =
            QueryBuilder::new("SELECT COUNT(*) FROM safety_events WHERE conversation_id = ");
        q.push_bind(conversation_id)
            .push(" AND kind = ")
            .push_bind(kind.as_str());
        if let Some(action) = action {
            q.push(" AND action = ").push_bind(action);
        }
        q.build_query_scalar()
            .fetch_one(&self.reader)
            .await
            .doing("counting safety events")
    }

    async fn sealed_original(
        &self,
        ws: Uuid,
        conversation_id: Uuid,
        message_id: Uuid,
    ) -> Result<Option<SealedOriginal>> {
        let row = sqlx::query(
            "SELECT p.* FROM pii_originals p JOIN conversations c ON c.id = p.conversation_id \
             WHERE p.message_id = ? AND p.conversation_id = ? AND c.workspace_id = ?",
        )
        .bind(message_id)
        .bind(conversation_id)
        .bind(ws)
        .fetch_optional(&self.reader)
        .await
        .doing("reading a sealed original")?;
        row.map(|r| {
            Ok(SealedOriginal {
                message_id: get(&r, "message_id")?,
                conversation_id: get(&r, "conversation_id")?,
                key_id: get(&r, "key_id")?,
                sealed: get(&r, "sealed")?,
                created_at: get(&r, "created_at")?,
            })
        })
        .transpose()
    }
}
