-- The guard. `safety_events` records every guard decision for review (kinds, counts,
-- scores and reasons in `detail`, never a PII value); they are written in the same
-- transaction as the turn they belong to. `pii_originals` keeps, for bots whose policy
-- says `mask_and_seal`, a user message's original text encrypted with the server's vault
-- key (`sealed` is the JSON of a `parley_guard::Sealed`: key id, nonce, ciphertext).
CREATE TABLE safety_events (
    id               BLOB PRIMARY KEY,
    workspace_id     BLOB NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    bot_id           BLOB NOT NULL REFERENCES bots(id) ON DELETE CASCADE,
    conversation_id  BLOB NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    message_id       BLOB,
    kind             TEXT NOT NULL,
    action           TEXT NOT NULL,
    detail           TEXT NOT NULL,
    created_at       TEXT NOT NULL
);
CREATE INDEX safety_events_bot ON safety_events(bot_id, id);
CREATE INDEX safety_events_bot_kind ON safety_events(bot_id, kind, id);
CREATE INDEX safety_events_conversation ON safety_events(conversation_id, kind);

CREATE TABLE pii_originals (
    message_id       BLOB PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
    conversation_id  BLOB NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    key_id           TEXT NOT NULL,
    sealed           TEXT NOT NULL,
    created_at       TEXT NOT NULL
);
