-- AI replies. `ai_contexts` are a bot's extra knowledge for the model (seed 002), the
-- validated definition kept as JSON; `ai_summaries` hold the model's summary of a
-- conversation's older turns, up to and including message `upto_seq`.
CREATE TABLE ai_contexts (
    id          BLOB PRIMARY KEY,
    bot_id      BLOB NOT NULL REFERENCES bots(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    priority    INTEGER NOT NULL,
    enabled     INTEGER NOT NULL,
    definition  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX ai_contexts_bot ON ai_contexts(bot_id, id);

CREATE TABLE ai_summaries (
    conversation_id  BLOB PRIMARY KEY REFERENCES conversations(id) ON DELETE CASCADE,
    summary          TEXT NOT NULL,
    upto_seq         INTEGER NOT NULL,
    model            TEXT,
    updated_at       TEXT NOT NULL
);

-- Usage totals read AI messages by conversation and source.
CREATE INDEX messages_ai ON messages(conversation_id)
    WHERE json_extract(meta, '$.source') = 'ai';
