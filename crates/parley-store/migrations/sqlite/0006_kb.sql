-- The knowledge base. The database is the source of truth: a dataset's records (documents)
-- and their chunks live here; the tantivy index in the data directory is a cache rebuilt
-- from `kb_chunks`. `indexed` is 0 from the moment a record's chunks are written until the
-- index has committed them, so records a crash left unindexed are found and indexed again
-- at the next start, and a record is never half in the index.
CREATE TABLE kb_datasets (
    id            BLOB PRIMARY KEY,
    workspace_id  BLOB NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    description   TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE INDEX kb_datasets_workspace ON kb_datasets(workspace_id, id);
CREATE INDEX kb_datasets_name ON kb_datasets(workspace_id, name);

CREATE TABLE kb_records (
    id            BLOB PRIMARY KEY,
    dataset_id    BLOB NOT NULL REFERENCES kb_datasets(id) ON DELETE CASCADE,
    title         TEXT NOT NULL,
    -- The document as plain text, as clients see it.
    text          TEXT NOT NULL,
    url           TEXT,
    -- SHA-256 (hex) of the uploaded file, or of the posted text: re-imports skip files
    -- whose hash is unchanged.
    content_hash  TEXT NOT NULL,
    -- The file the record came from (a CSV of Q&A pairs gives several records).
    source_file   TEXT,
    -- The parsed document (headings and paragraphs, or a Q&A pair) as JSON, so an edit of
    -- the title or URL re-chunks it with its structure intact.
    document      TEXT NOT NULL,
    indexed       INTEGER NOT NULL DEFAULT 0,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE INDEX kb_records_dataset ON kb_records(dataset_id, id);
CREATE INDEX kb_records_source ON kb_records(dataset_id, source_file);
CREATE INDEX kb_records_unindexed ON kb_records(id) WHERE indexed = 0;

CREATE TABLE kb_chunks (
    record_id     BLOB NOT NULL REFERENCES kb_records(id) ON DELETE CASCADE,
    position      INTEGER NOT NULL,
    chunk_id      TEXT NOT NULL,
    title         TEXT NOT NULL,
    heading_path  TEXT NOT NULL,
    url           TEXT,
    kind          TEXT NOT NULL,
    text          TEXT NOT NULL,
    PRIMARY KEY (record_id, position)
);
