-- Human handoff: teams, agents (each with an `agent` API key) and their team memberships.
CREATE TABLE teams (
    id            BLOB PRIMARY KEY,
    workspace_id  BLOB NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    description   TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE INDEX teams_workspace ON teams(workspace_id, id);

CREATE TABLE agents (
    id            BLOB PRIMARY KEY,
    workspace_id  BLOB NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    email         TEXT,
    key_id        BLOB REFERENCES api_keys(id) ON DELETE SET NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE INDEX agents_workspace ON agents(workspace_id, id);
CREATE UNIQUE INDEX agents_key ON agents(key_id) WHERE key_id IS NOT NULL;

CREATE TABLE agent_teams (
    agent_id  BLOB NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    team_id   BLOB NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    PRIMARY KEY (agent_id, team_id)
);

-- The agent queue: oldest unassigned active transfers first.
CREATE INDEX transfers_pickup ON transfers(workspace_id, status, agent_id, transferred_at);
-- The workspace-wide event stream (agents).
CREATE INDEX events_workspace ON events(workspace_id, seq);
