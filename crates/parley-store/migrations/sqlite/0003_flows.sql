-- Conversation flows. `definition` is the validated flow (JSON); `version` grows with every
-- edit, and every version is kept in flow_versions so a conversation inside a flow finishes
-- on the version it started on, even after the flow is edited or deleted.
CREATE TABLE flows (
    id          BLOB PRIMARY KEY,
    bot_id      BLOB NOT NULL REFERENCES bots(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    enabled     INTEGER NOT NULL,
    version     INTEGER NOT NULL,
    definition  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX flows_bot ON flows(bot_id, id);

CREATE TABLE flow_versions (
    flow_id     BLOB NOT NULL,
    bot_id      BLOB NOT NULL REFERENCES bots(id) ON DELETE CASCADE,
    version     INTEGER NOT NULL,
    definition  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (flow_id, version)
);

-- Flow bookkeeping (JSON) and the idle deadline of a session inside a flow.
ALTER TABLE sessions ADD COLUMN flow_state TEXT NOT NULL DEFAULT '{}';
ALTER TABLE sessions ADD COLUMN expires_at TEXT;
CREATE INDEX sessions_expiry ON sessions(expires_at) WHERE expires_at IS NOT NULL;

-- Handoffs to humans. At most one open (active) transfer per conversation.
CREATE TABLE transfers (
    id               BLOB PRIMARY KEY,
    workspace_id     BLOB NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    conversation_id  BLOB NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    contact_id       BLOB NOT NULL,
    bot_id           BLOB NOT NULL,
    status           TEXT NOT NULL,
    source           TEXT NOT NULL,
    team_id          BLOB,
    agent_id         BLOB,
    notes            TEXT NOT NULL,
    transferred_at   TEXT NOT NULL,
    assigned_at      TEXT,
    resumed_at       TEXT,
    updated_at       TEXT NOT NULL
);
CREATE UNIQUE INDEX transfers_one_open ON transfers(conversation_id) WHERE status = 'active';
CREATE INDEX transfers_queue ON transfers(workspace_id, status, team_id, transferred_at);
