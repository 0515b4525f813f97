-- Optional dense embeddings of knowledge-base chunks, one per chunk and embeddings model
-- (a model change leaves the old vectors unused and fills new ones). `vector` is the
-- vector as little-endian f32s. Replacing or deleting a chunk deletes its vectors, so a
-- vector always describes the chunk text it sits beside; the engine loads them into its
-- in-memory vector store at start and fills the missing ones.
CREATE TABLE kb_embeddings (
    record_id  BLOB NOT NULL,
    position   INTEGER NOT NULL,
    model      TEXT NOT NULL,
    vector     BLOB NOT NULL,
    PRIMARY KEY (record_id, position, model),
    FOREIGN KEY (record_id, position) REFERENCES kb_chunks(record_id, position) ON DELETE CASCADE
);
