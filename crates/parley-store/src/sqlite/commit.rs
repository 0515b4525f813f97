//! Group commit for turns. SQLite has one writer, and every commit in WAL mode with
//! `synchronous = FULL` ends in an fsync; at hundreds of concurrent conversations turns
//! queue behind each other's commits. So turns are not committed one by one: a single
//! committer task takes every turn waiting when it gets the writer and writes them in one
//! transaction, each inside its own savepoint, with one commit (one fsync) for all. No turn
//! waits for company: a turn that arrives alone is committed alone at once, and batches
//! form only while the writer is busy. Every caller is answered only after the transaction
//! holding its turn is durable, so an acknowledged turn is as safe as before.
//!
//! A turn that fails (a constraint, say) rolls back to its savepoint and gets its own
//! error; the rest of the batch commits. If the batch as a whole cannot commit, every turn
//! in it is retried alone, so each caller gets the result of its own turn.
//!
//! Each turn's rows go to SQLite as one multi-statement call ([`Statements`]), and a turn
//! alone without a transfer sends its `BEGIN IMMEDIATE` and `COMMIT` in that same call:
//! every call is a round trip to the connection's own thread, which is what a turn's
//! commit mostly cost (BENCHMARKS.md, "AI turn overhead").

use sqlx::sqlite::{SqliteArguments, SqliteConnection, SqliteRow};
use sqlx::{Arguments, Encode, Sqlite, SqlitePool, Transaction, Type};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::{get, guard, json, push_session, transfer_from_row, upsert_transfer_tx};
use crate::error::Doing;
use crate::{
    CommittedTurn, Event, NewEvent, Result, StoreError, TurnCommit, TRANSFER_CREATED,
    TRANSFER_RESUMED, TRANSFER_UPDATED,
};

/// At most this many turns share a transaction (bounds the time the writer is held).
const MAX_BATCH: usize = 64;
/// Turns waiting for the committer before callers wait to enqueue.
const QUEUE: usize = 4096;

struct Pending {
    commit: TurnCommit,
    reply: oneshot::Sender<Result<CommittedTurn>>,
}

/// The handle turns are committed through; cheap to clone.
#[derive(Debug, Clone)]
pub(super) struct Committer {
    queue: mpsc::Sender<Pending>,
}

impl Committer {
    /// Starts the committer task, and the checkpointer on its own connection, on the
    /// current runtime; both end when every handle is gone.
    pub(super) fn start(writer: SqlitePool, checkpointer: SqlitePool) -> Committer {
        let (queue, rx) = mpsc::channel(QUEUE);
        tokio::spawn(checkpoints(checkpointer, queue.downgrade()));
        tokio::spawn(run(writer, rx));
        Committer { queue }
    }

    /// Commits `commit` (with whatever other turns are waiting) and answers once it is
    /// durable.
    pub(super) async fn commit(&self, commit: TurnCommit) -> Result<CommittedTurn> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Pending { commit, reply })
            .await
            .map_err(|_| StoreError::WriterStopped)?;
        answer.await.map_err(|_| StoreError::WriterStopped)?
    }
}

/// How often the WAL is copied back into the database file.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

/// Copies the WAL into the database file every [`CHECKPOINT_EVERY`], on a connection of
/// its own. Left to SQLite, the commit that crosses the WAL's size limit does this itself
/// (writing and fsyncing the database file) and that turn, with every turn queued behind
/// it, waits several milliseconds. A passive checkpoint takes no writer lock: commits go
/// on while it runs. The writer keeps a much larger automatic limit as a backstop.
async fn checkpoints(pool: SqlitePool, alive: mpsc::WeakSender<Pending>) {
    let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if alive.upgrade().is_none() {
            break;
        }
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&pool)
            .await
        {
            tracing::warn!(error = %e, "a WAL checkpoint failed; the next one will retry");
        }
    }
    pool.close().await;
}

async fn run(writer: SqlitePool, mut rx: mpsc::Receiver<Pending>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let pending = std::mem::take(&mut batch);
        if pending.len() > 1 {
            tracing::trace!(turns = pending.len(), "group commit");
        }
        let (commits, replies): (Vec<_>, Vec<_>) =
            pending.into_iter().map(|p| (p.commit, p.reply)).unzip();
        let results = match commit_batch(&writer, &commits).await {
            Ok(results) => results,
            Err(e) if commits.len() == 1 => vec![Err(e)],
            Err(e) => {
                tracing::warn!(error = %e, turns = commits.len(), "a batch of turns failed to commit; committing each alone");
                let mut results = Vec::with_capacity(commits.len());
                for c in &commits {
                    results.push(
                        commit_batch(&writer, std::slice::from_ref(c))
                            .await
                            .and_then(|mut r| r.pop().unwrap_or(Err(StoreError::WriterStopped))),
                    );
                }
                results
            }
        };
        for (reply, result) in replies.into_iter().zip(results) {
            // The caller may have gone (its request was cancelled); its turn is stored.
            let _ = reply.send(result);
        }
    }
}

/// One transaction for all of `commits`; each turn in its own savepoint when there are
/// several. `Err` when the transaction itself failed (nothing of it was stored).
pub(super) async fn commit_batch(
    writer: &SqlitePool,
    commits: &[TurnCommit],
) -> Result<Vec<Result<CommittedTurn>>> {
    if let [only] = commits {
        if only.transfer.is_none() && only.resume_transfer.is_none() {
            return Ok(vec![Ok(commit_alone(writer, only).await?)]);
        }
    }
    let mut tx = writer.begin().await.doing("starting a turn")?;
    let mut results = Vec::with_capacity(commits.len());
    if let [only] = commits {
        results.push(Ok(apply_turn(&mut tx, only, false).await?));
    } else {
        for commit in commits {
            match apply_turn(&mut tx, commit, true).await {
                Ok(committed) => results.push(Ok(committed)),
                Err(e) => {
                    // Undo whatever of this turn ran; the savepoint is ours, not sqlx's.
                    sqlx::query("ROLLBACK TO turn; RELEASE turn")
                        .execute(&mut *tx)
                        .await
                        .doing("rolling back a turn's savepoint")?;
                    results.push(Err(e));
                }
            }
        }
    }
    tx.commit().await.doing("committing a turn")?;
    Ok(results)
}

/// A turn with no transfer, alone: its transaction, writes and commit in one call.
async fn commit_alone(writer: &SqlitePool, commit: &TurnCommit) -> Result<CommittedTurn> {
    let mut conn = writer.acquire().await.doing("starting a turn")?;
    let mut st = Statements::default();
    st.push("BEGIN IMMEDIATE");
    let write = turn_statements(st, commit, Vec::new(), "COMMIT")?;
    match write.st.run(&mut conn, "storing a turn").await {
        Ok(rows) => read_back(commit, &rows, write.events, write.message_events),
        Err(e) => {
            // A statement failed before COMMIT ran: end the transaction the call opened,
            // so the connection goes back to the pool clean. (When BEGIN itself failed
            // there is none, and SQLite says so; that error is expected.)
            if let Err(rollback) = sqlx::query("ROLLBACK").execute(&mut *conn).await {
                let none_open = rollback.to_string().contains("no transaction is active");
                if !none_open {
                    tracing::error!(error = %rollback, "rolling back a failed turn failed; closing the connection");
                    let _ = conn.detach();
                }
            }
            Err(e)
        }
    }
}

/// SQL statements with their arguments, sent to SQLite in one call: sqlx runs a string
/// of several statements in order, each taking its arguments from the list in turn, so a
/// whole turn costs one round trip to the connection's thread instead of one per row.
#[derive(Default)]
pub(super) struct Statements {
    sql: String,
    args: SqliteArguments<'static>,
}

impl Statements {
    pub(super) fn push(&mut self, sql: &str) -> &mut Self {
        self.sql.push_str(sql);
        self.sql.push_str(";\n");
        self
    }

    pub(super) fn bind<T>(&mut self, value: T) -> Result<&mut Self>
    where
        T: 'static + Encode<'static, Sqlite> + Type<Sqlite>,
    {
        self.args
            .add(value)
            .map_err(|e| StoreError::Corrupt(format!("binding a value: {e}")))?;
        Ok(self)
    }

    /// Runs every statement; the rows any of them return (`RETURNING`, `SELECT`), in order.
    pub(super) async fn run(
        self,
        conn: &mut SqliteConnection,
        doing: &'static str,
    ) -> Result<Vec<SqliteRow>> {
        let Statements { sql, args } = self;
        sqlx::query_with(&sql, args)
            .fetch_all(conn)
            .await
            .doing(doing)
    }
}

/// Writes one turn inside `tx`: its transfer (if any, first, with statements of its
/// own: it reads what is stored), then everything else in one call. With `savepoint`, the
/// turn runs inside the savepoint `turn`, released at the end of that call.
async fn apply_turn(
    tx: &mut Transaction<'_, Sqlite>,
    commit: &TurnCommit,
    savepoint: bool,
) -> Result<CommittedTurn> {
    let (ws, conversation_id, now) = (commit.workspace_id, commit.conversation_id, commit.now);
    if savepoint {
        sqlx::query("SAVEPOINT turn")
            .execute(&mut **tx)
            .await
            .doing("starting a turn's savepoint")?;
    }
    let mut transfer_events = Vec::new();
    let mut transfer = None;
    if let Some(t) = &commit.transfer {
        let stored = upsert_transfer_tx(tx, ws, t).await?;
        let kind = if stored.id == t.id {
            TRANSFER_CREATED
        } else {
            TRANSFER_UPDATED
        };
        transfer_events.push(NewEvent {
            kind: kind.to_string(),
            payload: to_value(&stored)?,
        });
        transfer = Some(stored);
    }
    if let Some(id) = commit.resume_transfer {
        let row = sqlx::query(
            "UPDATE transfers SET status = 'resumed', resumed_at = ?, updated_at = ? \
             WHERE id = ? AND conversation_id = ? AND status = 'active' RETURNING *",
        )
        .bind(now)
        .bind(now)
        .bind(id)
        .bind(conversation_id)
        .fetch_optional(&mut **tx)
        .await
        .doing("resuming a transfer")?;
        if let Some(row) = row {
            let t = transfer_from_row(&row)?;
            transfer_events.push(NewEvent {
                kind: TRANSFER_RESUMED.to_string(),
                payload: to_value(&t)?,
            });
            transfer = Some(t);
        }
    }
    let suffix = if savepoint { "RELEASE turn" } else { "" };
    let write = turn_statements(Statements::default(), commit, transfer_events, suffix)?;
    let rows = write.st.run(tx, "storing a turn").await?;
    let mut committed = read_back(commit, &rows, write.events, write.message_events)?;
    committed.transfer = transfer;
    Ok(committed)
}

/// A turn's writes as statements for one call, and what is needed to read back its rows.
struct TurnWrite {
    st: Statements,
    /// The further events (the transfer's first, then the turn's), in insert order.
    events: Vec<NewEvent>,
    /// Per message, its event's kind and payload when messages have events.
    message_events: Vec<(&'static str, serde_json::Value)>,
}

/// Appends to `st` the turn's messages (each after the conversation's last, followed by
/// its outbox event), `before` and the turn's further events, the session, the guard's
/// records, the conversation's `updated_at`, a read of the last message seq, and `suffix`.
fn turn_statements(
    mut st: Statements,
    commit: &TurnCommit,
    before: Vec<NewEvent>,
    suffix: &str,
) -> Result<TurnWrite> {
    let (ws, conversation_id, now) = (commit.workspace_id, commit.conversation_id, commit.now);
    let mut message_events = Vec::new();
    // The seq subquery sees the statement before it, so each message goes after the last.
    for m in &commit.messages {
        st.push(
            "INSERT INTO messages (id, conversation_id, seq, role, text, buttons, meta, created_at) \
             VALUES (?, ?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM messages WHERE conversation_id = ?), \
             ?, ?, ?, ?, ?) RETURNING seq",
        );
        st.bind(m.id)?
            .bind(conversation_id)?
            .bind(conversation_id)?
            .bind(m.role.as_str())?
            .bind(m.text.clone())?
            .bind(json(&m.buttons)?)?
            .bind(json(&m.meta)?)?
            .bind(m.created_at)?;
        if let Some(kind) = commit.message_event_kind {
            let payload = to_value(m)?;
            push_event(&mut st, ws, conversation_id, kind, &payload, now)?;
            message_events.push((kind, payload));
        }
    }
    let mut events = before;
    events.extend(commit.events.iter().cloned());
    for e in &events {
        push_event(&mut st, ws, conversation_id, &e.kind, &e.payload, now)?;
    }
    if let Some(session) = &commit.session {
        // A turn that answered sets `handled_seq` to the conversation's last message.
        push_session(&mut st, session, commit.answered.then_some(conversation_id))?;
    }
    guard::push_guard(&mut st, ws, &commit.safety_events, &commit.sealed_originals)?;
    st.push(
        "UPDATE conversations SET updated_at = ?, \
         status = CASE WHEN ? THEN 'closed' ELSE status END WHERE id = ?",
    );
    st.bind(now)?
        .bind(commit.close_conversation)?
        .bind(conversation_id)?;
    st.push("SELECT COALESCE(MAX(seq), 0) AS seq FROM messages WHERE conversation_id = ?");
    st.bind(conversation_id)?;
    if !suffix.is_empty() {
        st.push(suffix);
    }
    Ok(TurnWrite {
        st,
        events,
        message_events,
    })
}

fn push_event(
    st: &mut Statements,
    ws: Uuid,
    conversation_id: Uuid,
    kind: &str,
    payload: &serde_json::Value,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<()> {
    st.push(
        "INSERT INTO events (workspace_id, conversation_id, kind, payload, created_at) \
         VALUES (?, ?, ?, ?, ?) RETURNING seq",
    );
    st.bind(ws)?
        .bind(conversation_id)?
        .bind(kind.to_string())?
        .bind(json(payload)?)?
        .bind(now)?;
    Ok(())
}

/// The turn as stored, from the rows its statements returned: one seq per message (each
/// followed by its event's), one per further event, then the conversation's last seq.
fn read_back(
    commit: &TurnCommit,
    rows: &[SqliteRow],
    events: Vec<NewEvent>,
    message_events: Vec<(&'static str, serde_json::Value)>,
) -> Result<CommittedTurn> {
    let (conversation_id, now) = (commit.conversation_id, commit.now);
    let mut committed = CommittedTurn::default();
    let mut seqs = rows.iter().map(|r| get::<i64>(r, "seq"));
    let mut next = |what: &str| {
        seqs.next()
            .unwrap_or_else(|| Err(StoreError::Corrupt(format!("no seq returned for {what}"))))
    };
    let mut message_events = message_events.into_iter();
    for m in &commit.messages {
        let mut m = m.clone();
        m.seq = next("a message")?;
        if let Some((kind, payload)) = message_events.next() {
            committed.events.push(Event {
                seq: next("a message's event")?,
                conversation_id: Some(conversation_id),
                kind: kind.to_string(),
                payload,
                created_at: now,
            });
        }
        committed.messages.push(m);
    }
    for e in events {
        committed.events.push(Event {
            seq: next("an event")?,
            conversation_id: Some(conversation_id),
            kind: e.kind,
            payload: e.payload,
            created_at: now,
        });
    }
    committed.last_seq = next("the last message")?;
    Ok(committed)
}

fn to_value<T: serde::Serialize>(v: &T) -> Result<serde_json::Value> {
    serde_json::to_value(v).map_err(|e| StoreError::Corrupt(format!("encoding an event: {e}")))
}
