-- Parley's schema, SQLite flavour. Ids are UUID BLOBs (v7, so they sort by age); times are
-- RFC 3339 text; structured fields are JSON text.

CREATE TABLE workspaces (
    id          BLOB PRIMARY KEY,
    name        TEXT NOT NULL,
    is_default  INTEGER NOT NULL DEFAULT 0,
    created_at  TEXT NOT NULL
);
CREATE UNIQUE INDEX workspaces_one_default ON workspaces(is_default) WHERE is_default = 1;

CREATE TABLE api_keys (
    id            BLOB PRIMARY KEY,
    workspace_id  BLOB NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    role          TEXT NOT NULL,
    prefix        TEXT NOT NULL,
    key_hash      BLOB NOT NULL UNIQUE,
    created_at    TEXT NOT NULL
);
CREATE INDEX api_keys_workspace ON api_keys(workspace_id, id);

CREATE TABLE bots (
    id            BLOB PRIMARY KEY,
    workspace_id  BLOB NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    description   TEXT NOT NULL,
    settings      TEXT NOT NULL,
    -- Bumped by every change to the bot, its settings or its rules: the engine's compiled
    -- matcher cache is keyed by it.
    version       INTEGER NOT NULL DEFAULT 1,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE INDEX bots_workspace ON bots(workspace_id, id);
CREATE INDEX bots_name ON bots(workspace_id, name);

CREATE TABLE keyword_rules (
    id             BLOB PRIMARY KEY,
    bot_id         BLOB NOT NULL REFERENCES bots(id) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    keywords       TEXT NOT NULL,
    match_type     TEXT NOT NULL,
    response_type  TEXT NOT NULL,
    response       TEXT NOT NULL,
    buttons        TEXT NOT NULL,
    priority       INTEGER NOT NULL,
    enabled        INTEGER NOT NULL,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);
CREATE INDEX keyword_rules_bot ON keyword_rules(bot_id, id);

CREATE TABLE contacts (
    id            BLOB PRIMARY KEY,
    workspace_id  BLOB NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    channel       TEXT NOT NULL,
    external_id   TEXT,
    name          TEXT,
    email         TEXT,
    phone         TEXT,
    attributes    TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE UNIQUE INDEX contacts_external ON contacts(workspace_id, channel, external_id)
    WHERE external_id IS NOT NULL;

CREATE TABLE conversations (
    id            BLOB PRIMARY KEY,
    workspace_id  BLOB NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    bot_id        BLOB NOT NULL REFERENCES bots(id) ON DELETE CASCADE,
    contact_id    BLOB NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    channel       TEXT NOT NULL,
    status        TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE INDEX conversations_workspace ON conversations(workspace_id, id);
CREATE INDEX conversations_bot ON conversations(bot_id, id);
CREATE INDEX conversations_contact ON conversations(contact_id, id);

CREATE TABLE messages (
    id               BLOB PRIMARY KEY,
    conversation_id  BLOB NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    seq              INTEGER NOT NULL,
    role             TEXT NOT NULL,
    text             TEXT NOT NULL,
    buttons          TEXT NOT NULL,
    meta             TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    UNIQUE (conversation_id, seq)
);

CREATE TABLE sessions (
    conversation_id        BLOB PRIMARY KEY REFERENCES conversations(id) ON DELETE CASCADE,
    id                     BLOB NOT NULL,
    contact_id             BLOB NOT NULL,
    mode                   TEXT NOT NULL,
    current_flow_id        BLOB,
    current_step           TEXT,
    variables              TEXT NOT NULL,
    offered_buttons        TEXT NOT NULL,
    consecutive_fallbacks  INTEGER NOT NULL,
    handled_seq            INTEGER NOT NULL,
    started_at             TEXT NOT NULL,
    last_activity          TEXT NOT NULL
);

-- The outbox: every change a live client or webhook must hear about, written in the same
-- transaction as the change. `seq` is the SSE event id (Last-Event-ID resumes from it).
CREATE TABLE events (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id     BLOB NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    conversation_id  BLOB REFERENCES conversations(id) ON DELETE CASCADE,
    kind             TEXT NOT NULL,
    payload          TEXT NOT NULL,
    created_at       TEXT NOT NULL
);
CREATE INDEX events_conversation ON events(conversation_id, seq);

CREATE TABLE server_secrets (
    name        TEXT PRIMARY KEY,
    value       BLOB NOT NULL,
    created_at  TEXT NOT NULL
);
