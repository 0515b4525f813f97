-- Feedback on a conversation (a 1-5 rating at the end) or on one bot message (thumbs).
CREATE TABLE feedback (
    id               BLOB PRIMARY KEY,
    conversation_id  BLOB NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    message_id       BLOB REFERENCES messages(id) ON DELETE CASCADE,
    rating           INTEGER NOT NULL,
    comment          TEXT,
    created_at       TEXT NOT NULL
);
CREATE INDEX feedback_conversation ON feedback(conversation_id, id);
