//! [`AiStore`] on SQLite, and the AI contexts' part of a bot import.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use parley_core::{AiContext, AiContextSpec, Message};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Sqlite, Transaction};
use uuid::Uuid;

use super::{fetch_page, from_json, get, json, message_from_row, Order, SqliteStore};
use crate::ai::{AiStore, AiUsage, ConversationSummary};
use crate::error::Doing;
use crate::{Page, PageRequest, Result};

fn ai_context_from_row(r: &SqliteRow) -> Result<AiContext> {
    Ok(AiContext {
        id: get(r, "id")?,
        bot_id: get(r, "bot_id")?,
        spec: from_json(&get::<String>(r, "definition")?, "AI context")?,
        created_at: get(r, "created_at")?,
        updated_at: get(r, "updated_at")?,
    })
}

async fn insert_ai_context_tx(tx: &mut Transaction<'_, Sqlite>, ctx: &AiContext) -> Result<()> {
    sqlx::query(
        "INSERT INTO ai_contexts (id, bot_id, name, priority, enabled, definition, created_at, updated_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(ctx.id)
    .bind(ctx.bot_id)
    .bind(&ctx.spec.name)
    .bind(ctx.spec.priority)
    .bind(ctx.spec.enabled)
    .bind(json(&ctx.spec)?)
    .bind(ctx.created_at)
    .bind(ctx.updated_at)
    .execute(&mut **tx)
    .await
    .doing("inserting an AI context")?;
    Ok(())
}

async fn update_ai_context_tx(tx: &mut Transaction<'_, Sqlite>, ctx: &AiContext) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE ai_contexts SET name = ?, priority = ?, enabled = ?, definition = ?, updated_at = ? \
         WHERE id = ? AND bot_id = ?",
    )
    .bind(&ctx.spec.name)
    .bind(ctx.spec.priority)
    .bind(ctx.spec.enabled)
    .bind(json(&ctx.spec)?)
    .bind(ctx.updated_at)
    .bind(ctx.id)
    .bind(ctx.bot_id)
    .execute(&mut **tx)
    .await
    .doing("updating an AI context")?;
    Ok(done.rows_affected() > 0)
}

/// Brings the bot's AI contexts in line with an imported file: matched by name, updated or
/// created; contexts the file no longer has are removed.
pub(super) async fn import_ai_contexts_tx(
    tx: &mut Transaction<'_, Sqlite>,
    bot_id: Uuid,
    specs: &[AiContextSpec],
    now: DateTime<Utc>,
) -> Result<()> {
    let stored = sqlx::query("SELECT * FROM ai_contexts WHERE bot_id = ? ORDER BY id")
        .bind(bot_id)
        .fetch_all(&mut **tx)
        .await
        .doing("reading the imported bot's AI contexts")?
        .iter()
        .map(ai_context_from_row)
        .collect::<Result<Vec<_>>>()?;
    for spec in specs {
        match stored.iter().find(|c| c.spec.name == spec.name) {
            Some(old) if &old.spec == spec => {}
            Some(old) => {
                let ctx = AiContext {
                    spec: spec.clone(),
                    updated_at: now,
                    ..old.clone()
                };
                update_ai_context_tx(tx, &ctx).await?;
            }
            None => {
                let ctx = AiContext {
                    id: parley_core::new_id(),
                    bot_id,
                    spec: spec.clone(),
                    created_at: now,
                    updated_at: now,
                };
                insert_ai_context_tx(tx, &ctx).await?;
            }
        }
    }
    for old in stored
        .iter()
        .filter(|c| !specs.iter().any(|s| s.name == c.spec.name))
    {
        sqlx::query("DELETE FROM ai_contexts WHERE id = ?")
            .bind(old.id)
            .execute(&mut **tx)
            .await
            .doing("removing an AI context the file no longer has")?;
    }
    Ok(())
}

const USAGE_COLUMNS: &str = "COUNT(*) AS n, \
    COALESCE(SUM(json_extract(m.meta, '$.tokens_in')), 0) AS tokens_in, \
    COALESCE(SUM(json_extract(m.meta, '$.tokens_out')), 0) AS tokens_out, \
    CAST(COALESCE(SUM(json_extract(m.meta, '$.cost')), 0.0) AS REAL) AS cost, \
    COALESCE(SUM(json_extract(m.meta, '$.cached') = 1), 0) AS cached, \
    COALESCE(SUM(json_extract(m.meta, '$.ai_error') IS NOT NULL), 0) AS failed, \
    CAST(AVG(CASE WHEN json_extract(m.meta, '$.cached') IS NULL \
        THEN json_extract(m.meta, '$.latency_ms') END) AS REAL) AS avg_latency";

fn usage_from_row(r: &SqliteRow) -> Result<AiUsage> {
    Ok(AiUsage {
        ai_messages: get(r, "n")?,
        tokens_in: get(r, "tokens_in")?,
        tokens_out: get(r, "tokens_out")?,
        cost: get(r, "cost")?,
        cached: get(r, "cached")?,
        failed: get(r, "failed")?,
        avg_latency_ms: get(r, "avg_latency")?,
    })
}

#[async_trait]
impl AiStore for SqliteStore {
    async fn insert_ai_context(&self, ws: Uuid, ctx: &AiContext) -> Result<bool> {
        let mut tx = self
            .writer
            .begin()
            .await
            .doing("starting an AI context insert")?;
        let bot: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM bots WHERE id = ? AND workspace_id = ?")
                .bind(ctx.bot_id)
                .bind(ws)
                .fetch_optional(&mut *tx)
                .await
                .doing("finding the context's bot")?;
        if bot.is_none() {
            return Ok(false);
        }
        insert_ai_context_tx(&mut tx, ctx).await?;
        tx.commit().await.doing("committing an AI context")?;
        Ok(true)
    }

    async fn get_ai_context(&self, ws: Uuid, bot_id: Uuid, id: Uuid) -> Result<Option<AiContext>> {
        let row = sqlx::query(
            "SELECT a.* FROM ai_contexts a JOIN bots b ON b.id = a.bot_id \
             WHERE a.id = ? AND a.bot_id = ? AND b.workspace_id = ?",
        )
        .bind(id)
        .bind(bot_id)
        .bind(ws)
        .fetch_optional(&self.reader)
        .await
        .doing("reading an AI context")?;
        row.as_ref().map(ai_context_from_row).transpose()
    }

    async fn list_ai_contexts(
        &self,
        ws: Uuid,
        bot_id: Uuid,
        page: &PageRequest,
    ) -> Result<Page<AiContext>> {
        let mut q = QueryBuilder::new(
            "SELECT a.* FROM ai_contexts a JOIN bots b ON b.id = a.bot_id WHERE a.bot_id = ",
        );
        q.push_bind(bot_id)
            .push(" AND b.workspace_id = ")
            .push_bind(ws);
        fetch_page(
            &self.reader,
            q,
            "a.id",
            Order::Asc,
            page,
            ai_context_from_row,
            |c| c.id,
            "listing AI contexts",
        )
        .await
    }

    async fn enabled_ai_contexts(&self, bot_id: Uuid) -> Result<Vec<AiContext>> {
        sqlx::query(
            "SELECT * FROM ai_contexts WHERE bot_id = ? AND enabled = 1 ORDER BY priority DESC, id",
        )
        .bind(bot_id)
        .fetch_all(&self.reader)
        .await
        .doing("reading a bot's AI contexts")?
        .iter()
        .map(ai_context_from_row)
        .collect()
    }

    async fn update_ai_context(&self, ws: Uuid, ctx: &AiContext) -> Result<bool> {
        let mut tx = self
            .writer
            .begin()
            .await
            .doing("starting an AI context update")?;
        let bot: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM bots WHERE id = ? AND workspace_id = ?")
                .bind(ctx.bot_id)
                .bind(ws)
                .fetch_optional(&mut *tx)
                .await
                .doing("finding the context's bot")?;
        if bot.is_none() {
            return Ok(false);
        }
        let done = update_ai_context_tx(&mut tx, ctx).await?;
        tx.commit().await.doing("committing an AI context")?;
        Ok(done)
    }

    async fn delete_ai_context(&self, ws: Uuid, bot_id: Uuid, id: Uuid) -> Result<bool> {
        let done = sqlx::query(
            "DELETE FROM ai_contexts WHERE id = ? AND bot_id = ? \
             AND bot_id IN (SELECT id FROM bots WHERE workspace_id = ?)",
        )
        .bind(id)
        .bind(bot_id)
        .bind(ws)
        .execute(&self.writer)
        .await
        .doing("deleting an AI context")?;
        Ok(done.rows_affected() > 0)
    }

    async fn recent_messages(
        &self,
        conversation_id: Uuid,
        after_seq: i64,
        upto_seq: i64,
        limit: u32,
    ) -> Result<Vec<Message>> {
        let rows = sqlx::query(
            "SELECT * FROM messages WHERE conversation_id = ? AND seq > ? AND seq <= ? \
             ORDER BY seq DESC LIMIT ?",
        )
        .bind(conversation_id)
        .bind(after_seq)
        .bind(upto_seq)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await
        .doing("reading recent messages")?;
        let mut messages = rows
            .iter()
            .map(message_from_row)
            .collect::<Result<Vec<_>>>()?;
        messages.reverse();
        Ok(messages)
    }

    async fn messages_between(
        &self,
        conversation_id: Uuid,
        after_seq: i64,
        upto_seq: i64,
        limit: u32,
    ) -> Result<Vec<Message>> {
        sqlx::query(
            "SELECT * FROM messages WHERE conversation_id = ? AND seq > ? AND seq <= ? \
             ORDER BY seq LIMIT ?",
        )
        .bind(conversation_id)
        .bind(after_seq)
        .bind(upto_seq)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await
        .doing("reading messages to summarise")?
        .iter()
        .map(message_from_row)
        .collect()
    }

    async fn count_user_messages(
        &self,
        conversation_id: Uuid,
        after_seq: i64,
        upto_seq: i64,
    ) -> Result<i64> {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM messages WHERE conversation_id = ? AND seq > ? AND seq <= ? \
             AND role = 'user'",
        )
        .bind(conversation_id)
        .bind(after_seq)
        .bind(upto_seq)
        .fetch_one(&self.reader)
        .await
        .doing("counting user messages")
    }

    async fn get_summary(&self, conversation_id: Uuid) -> Result<Option<ConversationSummary>> {
        let row = sqlx::query("SELECT * FROM ai_summaries WHERE conversation_id = ?")
            .bind(conversation_id)
            .fetch_optional(&self.reader)
            .await
            .doing("reading a conversation summary")?;
        row.map(|r| {
            Ok(ConversationSummary {
                conversation_id: get(&r, "conversation_id")?,
                text: get(&r, "summary")?,
                upto_seq: get(&r, "upto_seq")?,
                model: get(&r, "model")?,
                updated_at: get(&r, "updated_at")?,
            })
        })
        .transpose()
    }

    async fn put_summary(&self, s: &ConversationSummary) -> Result<()> {
        // A conversation deleted meanwhile has no row to refer to: nothing to store then.
        sqlx::query(
            "INSERT INTO ai_summaries (conversation_id, summary, upto_seq, model, updated_at) \
             SELECT ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM conversations WHERE id = ?) \
             ON CONFLICT (conversation_id) DO UPDATE SET summary = excluded.summary, \
             upto_seq = excluded.upto_seq, model = excluded.model, updated_at = excluded.updated_at \
             WHERE excluded.upto_seq > ai_summaries.upto_seq",
        )
        .bind(s.conversation_id)
        .bind(&s.text)
        .bind(s.upto_seq)
        .bind(&s.model)
        .bind(s.updated_at)
        .bind(s.conversation_id)
        .execute(&self.writer)
        .await
        .doing("storing a conversation summary")?;
        Ok(())
    }

    async fn conversation_usage(&self, ws: Uuid, conversation_id: Uuid) -> Result<AiUsage> {
        let sql = format!(
            "SELECT {USAGE_COLUMNS} FROM messages m JOIN conversations c ON c.id = m.conversation_id \
             WHERE m.conversation_id = ? AND c.workspace_id = ? \
             AND json_extract(m.meta, '$.source') = 'ai'"
        );
        let row = sqlx::query(&sql)
            .bind(conversation_id)
            .bind(ws)
            .fetch_one(&self.reader)
            .await
            .doing("totalling a conversation's AI usage")?;
        usage_from_row(&row)
    }

    async fn bot_usage(&self, ws: Uuid, bot_id: Uuid) -> Result<AiUsage> {
        let sql = format!(
            "SELECT {USAGE_COLUMNS} FROM messages m JOIN conversations c ON c.id = m.conversation_id \
             WHERE c.bot_id = ? AND c.workspace_id = ? \
             AND json_extract(m.meta, '$.source') = 'ai'"
        );
        let row = sqlx::query(&sql)
            .bind(bot_id)
            .bind(ws)
            .fetch_one(&self.reader)
            .await
            .doing("totalling a bot's AI usage")?;
        usage_from_row(&row)
    }

    async fn find_user_conversation(
        &self,
        ws: Uuid,
        bot_id: Uuid,
        external_id: &str,
    ) -> Result<Option<Uuid>> {
        sqlx::query_scalar(
            "SELECT c.id FROM conversations c JOIN contacts ct ON ct.id = c.contact_id \
             WHERE c.workspace_id = ? AND c.bot_id = ? AND ct.external_id = ? \
             AND c.status = 'active' ORDER BY c.id DESC LIMIT 1",
        )
        .bind(ws)
        .bind(bot_id)
        .bind(external_id)
        .fetch_optional(&self.reader)
        .await
        .doing("finding a user's conversation")
    }
}
