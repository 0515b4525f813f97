//! [`KbStore`] on SQLite.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use parley_core::{Dataset, Record};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Sqlite, Transaction};
use uuid::Uuid;

use super::{fetch_page, from_json, get, json, Order, SqliteStore};
use crate::error::Doing;
use crate::kb::{ChunkRow, ChunkToEmbed, EmbeddedRecord, KbStore, RecordChunks, RecordWrite};
use crate::{Page, PageRequest, Result};

const DATASET_COLUMNS: &str = "SELECT d.*, \
    (SELECT COUNT(*) FROM kb_records r WHERE r.dataset_id = d.id) AS records \
    FROM kb_datasets d";
const RECORD_SELECT: &str = "SELECT r.id, r.dataset_id, r.title, r.text, r.url, \
    r.content_hash, r.source_file, r.created_at, r.updated_at, \
    (SELECT COUNT(*) FROM kb_chunks c WHERE c.record_id = r.id) AS chunks";
const RECORD_FROM: &str = " FROM kb_records r JOIN kb_datasets d ON d.id = r.dataset_id";

fn dataset_from_row(r: &SqliteRow) -> Result<Dataset> {
    Ok(Dataset {
        id: get(r, "id")?,
        name: get(r, "name")?,
        description: get(r, "description")?,
        records: get(r, "records")?,
        created_at: get(r, "created_at")?,
        updated_at: get(r, "updated_at")?,
    })
}

fn record_from_row(r: &SqliteRow) -> Result<Record> {
    Ok(Record {
        id: get(r, "id")?,
        dataset_id: get(r, "dataset_id")?,
        title: get(r, "title")?,
        text: get(r, "text")?,
        url: get(r, "url")?,
        content_hash: get(r, "content_hash")?,
        source_file: get(r, "source_file")?,
        chunks: get(r, "chunks")?,
        created_at: get(r, "created_at")?,
        updated_at: get(r, "updated_at")?,
    })
}

fn chunk_from_row(r: &SqliteRow) -> Result<ChunkRow> {
    let position: i64 = get(r, "position")?;
    Ok(ChunkRow {
        position: u32::try_from(position)
            .map_err(|_| crate::StoreError::Corrupt(format!("chunk position {position}")))?,
        chunk_id: get(r, "chunk_id")?,
        title: get(r, "title")?,
        heading_path: from_json(&get::<String>(r, "heading_path")?, "chunk heading path")?,
        url: get(r, "url")?,
        kind: get(r, "kind")?,
        text: get(r, "text")?,
    })
}

async fn dataset_in_workspace_tx(
    tx: &mut Transaction<'_, Sqlite>,
    ws: Uuid,
    dataset_id: Uuid,
) -> Result<bool> {
    let found: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM kb_datasets WHERE id = ? AND workspace_id = ?")
            .bind(dataset_id)
            .bind(ws)
            .fetch_optional(&mut **tx)
            .await
            .doing("finding the records' dataset")?;
    Ok(found.is_some())
}

async fn write_record_tx(
    tx: &mut Transaction<'_, Sqlite>,
    dataset_id: Uuid,
    write: &RecordWrite,
) -> Result<()> {
    let r = &write.record;
    sqlx::query(
        "INSERT INTO kb_records (id, dataset_id, title, text, url, content_hash, source_file, \
         document, indexed, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?) \
         ON CONFLICT(id) DO UPDATE SET title = excluded.title, text = excluded.text, \
         url = excluded.url, content_hash = excluded.content_hash, \
         source_file = excluded.source_file, document = excluded.document, indexed = 0, \
         updated_at = excluded.updated_at WHERE kb_records.dataset_id = excluded.dataset_id",
    )
    .bind(r.id)
    .bind(dataset_id)
    .bind(&r.title)
    .bind(&r.text)
    .bind(&r.url)
    .bind(&r.content_hash)
    .bind(&r.source_file)
    .bind(&write.document)
    .bind(r.created_at)
    .bind(r.updated_at)
    .execute(&mut **tx)
    .await
    .doing("storing a record")?;
    sqlx::query("DELETE FROM kb_chunks WHERE record_id = ?")
        .bind(r.id)
        .execute(&mut **tx)
        .await
        .doing("replacing a record's chunks")?;
    for c in &write.chunks {
        sqlx::query(
            "INSERT INTO kb_chunks (record_id, position, chunk_id, title, heading_path, url, kind, text) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(r.id)
        .bind(i64::from(c.position))
        .bind(&c.chunk_id)
        .bind(&c.title)
        .bind(json(&c.heading_path)?)
        .bind(&c.url)
        .bind(&c.kind)
        .bind(&c.text)
        .execute(&mut **tx)
        .await
        .doing("storing a chunk")?;
    }
    Ok(())
}

#[async_trait]
impl KbStore for SqliteStore {
    async fn insert_dataset(&self, ws: Uuid, d: &Dataset) -> Result<()> {
        sqlx::query(
            "INSERT INTO kb_datasets (id, workspace_id, name, description, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(d.id)
        .bind(ws)
        .bind(&d.name)
        .bind(&d.description)
        .bind(d.created_at)
        .bind(d.updated_at)
        .execute(&self.writer)
        .await
        .doing("creating a dataset")?;
        Ok(())
    }

    async fn get_dataset(&self, ws: Uuid, id: Uuid) -> Result<Option<Dataset>> {
        let row = sqlx::query(&format!(
            "{DATASET_COLUMNS} WHERE d.id = ? AND d.workspace_id = ?"
        ))
        .bind(id)
        .bind(ws)
        .fetch_optional(&self.reader)
        .await
        .doing("reading a dataset")?;
        row.as_ref().map(dataset_from_row).transpose()
    }

    async fn find_dataset_by_name(&self, ws: Uuid, name: &str) -> Result<Option<Dataset>> {
        let row = sqlx::query(&format!(
            "{DATASET_COLUMNS} WHERE d.workspace_id = ? AND d.name = ? ORDER BY d.id LIMIT 1"
        ))
        .bind(ws)
        .bind(name)
        .fetch_optional(&self.reader)
        .await
        .doing("finding a dataset by name")?;
        row.as_ref().map(dataset_from_row).transpose()
    }

    async fn list_datasets(&self, ws: Uuid, page: &PageRequest) -> Result<Page<Dataset>> {
        let mut q = QueryBuilder::new(DATASET_COLUMNS);
        q.push(" WHERE d.workspace_id = ").push_bind(ws);
        fetch_page(
            &self.reader,
            q,
            "d.id",
            Order::Asc,
            page,
            dataset_from_row,
            |d| d.id,
            "listing datasets",
        )
        .await
    }

    async fn update_dataset(&self, ws: Uuid, d: &Dataset) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE kb_datasets SET name = ?, description = ?, updated_at = ? \
             WHERE id = ? AND workspace_id = ?",
        )
        .bind(&d.name)
        .bind(&d.description)
        .bind(d.updated_at)
        .bind(d.id)
        .bind(ws)
        .execute(&self.writer)
        .await
        .doing("updating a dataset")?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_dataset(&self, ws: Uuid, id: Uuid) -> Result<bool> {
        let done = sqlx::query("DELETE FROM kb_datasets WHERE id = ? AND workspace_id = ?")
            .bind(id)
            .bind(ws)
            .execute(&self.writer)
            .await
            .doing("deleting a dataset")?;
        Ok(done.rows_affected() > 0)
    }

    async fn datasets_in_workspace(&self, ws: Uuid, ids: &[Uuid]) -> Result<Vec<Uuid>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = QueryBuilder::new("SELECT id FROM kb_datasets WHERE workspace_id = ");
        q.push_bind(ws).push(" AND id IN (");
        let mut list = q.separated(", ");
        for id in ids {
            list.push_bind(*id);
        }
        q.push(")");
        q.build_query_scalar()
            .fetch_all(&self.reader)
            .await
            .doing("checking dataset ids")
    }

    async fn write_records(
        &self,
        ws: Uuid,
        dataset_id: Uuid,
        records: &[RecordWrite],
        remove: &[Uuid],
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let mut tx = self.writer.begin().await.doing("starting a record write")?;
        if !dataset_in_workspace_tx(&mut tx, ws, dataset_id).await? {
            return Ok(false);
        }
        for id in remove {
            sqlx::query("DELETE FROM kb_records WHERE id = ? AND dataset_id = ?")
                .bind(id)
                .bind(dataset_id)
                .execute(&mut *tx)
                .await
                .doing("removing a replaced record")?;
        }
        for write in records {
            write_record_tx(&mut tx, dataset_id, write).await?;
        }
        sqlx::query("UPDATE kb_datasets SET updated_at = ? WHERE id = ?")
            .bind(now)
            .bind(dataset_id)
            .execute(&mut *tx)
            .await
            .doing("touching the dataset")?;
        tx.commit().await.doing("committing records")?;
        Ok(true)
    }

    async fn get_record(&self, ws: Uuid, dataset_id: Uuid, id: Uuid) -> Result<Option<Record>> {
        Ok(self
            .record_document(ws, dataset_id, id)
            .await?
            .map(|(record, _)| record))
    }

    async fn record_document(
        &self,
        ws: Uuid,
        dataset_id: Uuid,
        id: Uuid,
    ) -> Result<Option<(Record, String)>> {
        let row = sqlx::query(&format!(
            "{RECORD_SELECT}, r.document{RECORD_FROM} \
             WHERE r.id = ? AND r.dataset_id = ? AND d.workspace_id = ?"
        ))
        .bind(id)
        .bind(dataset_id)
        .bind(ws)
        .fetch_optional(&self.reader)
        .await
        .doing("reading a record")?;
        row.map(|r| Ok((record_from_row(&r)?, get(&r, "document")?)))
            .transpose()
    }

    async fn list_records(
        &self,
        ws: Uuid,
        dataset_id: Uuid,
        page: &PageRequest,
    ) -> Result<Page<Record>> {
        let mut q = QueryBuilder::new(format!("{RECORD_SELECT}{RECORD_FROM}"));
        q.push(" WHERE r.dataset_id = ")
            .push_bind(dataset_id)
            .push(" AND d.workspace_id = ")
            .push_bind(ws);
        fetch_page(
            &self.reader,
            q,
            "r.id",
            Order::Asc,
            page,
            record_from_row,
            |r| r.id,
            "listing records",
        )
        .await
    }

    async fn delete_record(&self, ws: Uuid, dataset_id: Uuid, id: Uuid) -> Result<bool> {
        let done = sqlx::query(
            "DELETE FROM kb_records WHERE id = ? AND dataset_id = ? \
             AND dataset_id IN (SELECT id FROM kb_datasets WHERE workspace_id = ?)",
        )
        .bind(id)
        .bind(dataset_id)
        .bind(ws)
        .execute(&self.writer)
        .await
        .doing("deleting a record")?;
        Ok(done.rows_affected() > 0)
    }

    async fn records_from_source(
        &self,
        ws: Uuid,
        dataset_id: Uuid,
        source_file: &str,
    ) -> Result<Vec<(Uuid, String)>> {
        let rows = sqlx::query(
            "SELECT r.id, r.content_hash FROM kb_records r JOIN kb_datasets d ON d.id = r.dataset_id \
             WHERE r.dataset_id = ? AND d.workspace_id = ? AND r.source_file = ? ORDER BY r.id",
        )
        .bind(dataset_id)
        .bind(ws)
        .bind(source_file)
        .fetch_all(&self.reader)
        .await
        .doing("finding a file's records")?;
        rows.iter()
            .map(|r| Ok((get(r, "id")?, get(r, "content_hash")?)))
            .collect()
    }

    async fn unindexed_records(&self, limit: u32) -> Result<Vec<RecordChunks>> {
        let records = sqlx::query(
            "SELECT id, dataset_id, updated_at FROM kb_records WHERE indexed = 0 ORDER BY id LIMIT ?",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await
        .doing("finding unindexed records")?;
        let mut out = Vec::with_capacity(records.len());
        for r in &records {
            let record_id: Uuid = get(r, "id")?;
            let chunks =
                sqlx::query("SELECT * FROM kb_chunks WHERE record_id = ? ORDER BY position")
                    .bind(record_id)
                    .fetch_all(&self.reader)
                    .await
                    .doing("reading a record's chunks")?
                    .iter()
                    .map(chunk_from_row)
                    .collect::<Result<Vec<_>>>()?;
            out.push(RecordChunks {
                dataset_id: get(r, "dataset_id")?,
                record_id,
                updated_at: get(r, "updated_at")?,
                chunks,
            });
        }
        Ok(out)
    }

    async fn mark_indexed(&self, records: &[(Uuid, DateTime<Utc>)]) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let mut tx = self
            .writer
            .begin()
            .await
            .doing("starting to mark records")?;
        for (id, version) in records {
            sqlx::query("UPDATE kb_records SET indexed = 1 WHERE id = ? AND updated_at = ?")
                .bind(id)
                .bind(version)
                .execute(&mut *tx)
                .await
                .doing("marking a record indexed")?;
        }
        tx.commit().await.doing("marking records indexed")?;
        Ok(())
    }

    async fn mark_all_unindexed(&self) -> Result<()> {
        sqlx::query("UPDATE kb_records SET indexed = 0 WHERE indexed = 1")
            .execute(&self.writer)
            .await
            .doing("marking every record for reindexing")?;
        Ok(())
    }

    async fn chunks_without_embedding(&self, model: &str, limit: u32) -> Result<Vec<ChunkToEmbed>> {
        let rows = sqlx::query(
            "SELECT c.record_id, c.position, c.text FROM kb_chunks c WHERE NOT EXISTS \
             (SELECT 1 FROM kb_embeddings e WHERE e.record_id = c.record_id \
              AND e.position = c.position AND e.model = ?) \
             ORDER BY c.record_id, c.position LIMIT ?",
        )
        .bind(model)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await
        .doing("finding chunks without an embedding")?;
        rows.iter()
            .map(|r| {
                let position: i64 = get(r, "position")?;
                Ok(ChunkToEmbed {
                    record_id: get(r, "record_id")?,
                    position: u32::try_from(position).map_err(|_| {
                        crate::StoreError::Corrupt(format!("chunk position {position}"))
                    })?,
                    text: get(r, "text")?,
                })
            })
            .collect()
    }

    async fn store_embeddings(
        &self,
        model: &str,
        vectors: &[(ChunkToEmbed, Vec<f32>)],
    ) -> Result<()> {
        if vectors.is_empty() {
            return Ok(());
        }
        let mut tx = self
            .writer
            .begin()
            .await
            .doing("starting to store embeddings")?;
        for (chunk, vector) in vectors {
            sqlx::query(
                "INSERT INTO kb_embeddings (record_id, position, model, vector) \
                 SELECT c.record_id, c.position, ?, ? FROM kb_chunks c \
                 WHERE c.record_id = ? AND c.position = ? AND c.text = ? \
                 ON CONFLICT(record_id, position, model) DO UPDATE SET vector = excluded.vector",
            )
            .bind(model)
            .bind(vector_bytes(vector))
            .bind(chunk.record_id)
            .bind(i64::from(chunk.position))
            .bind(&chunk.text)
            .execute(&mut *tx)
            .await
            .doing("storing an embedding")?;
        }
        tx.commit().await.doing("storing embeddings")?;
        Ok(())
    }

    async fn embedded_records(
        &self,
        model: &str,
        records: Option<&[Uuid]>,
    ) -> Result<Vec<EmbeddedRecord>> {
        if records.is_some_and(<[Uuid]>::is_empty) {
            return Ok(Vec::new());
        }
        let mut q = QueryBuilder::new(
            "SELECT r.dataset_id, e.vector, c.* FROM kb_embeddings e \
             JOIN kb_chunks c ON c.record_id = e.record_id AND c.position = e.position \
             JOIN kb_records r ON r.id = c.record_id WHERE e.model = ",
        );
        q.push_bind(model);
        if let Some(ids) = records {
            q.push(" AND c.record_id IN (");
            let mut list = q.separated(", ");
            for id in ids {
                list.push_bind(*id);
            }
            q.push(")");
        }
        q.push(" ORDER BY c.record_id, c.position");
        let rows = q
            .build()
            .fetch_all(&self.reader)
            .await
            .doing("reading embeddings")?;
        let mut out: Vec<EmbeddedRecord> = Vec::new();
        for r in &rows {
            let record_id: Uuid = get(r, "record_id")?;
            let chunk = chunk_from_row(r)?;
            let vector = vector_from_bytes(&get::<Vec<u8>>(r, "vector")?)?;
            match out.last_mut() {
                Some(last) if last.record_id == record_id => last.chunks.push((chunk, vector)),
                _ => out.push(EmbeddedRecord {
                    dataset_id: get(r, "dataset_id")?,
                    record_id,
                    chunks: vec![(chunk, vector)],
                }),
            }
        }
        Ok(out)
    }

    async fn existing_records(&self, ids: &[Uuid]) -> Result<Vec<Uuid>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = QueryBuilder::new("SELECT id FROM kb_records WHERE id IN (");
        let mut list = q.separated(", ");
        for id in ids {
            list.push_bind(*id);
        }
        q.push(")");
        q.build_query_scalar()
            .fetch_all(&self.reader)
            .await
            .doing("checking which records exist")
    }
}

/// A vector as stored: little-endian f32s.
fn vector_bytes(vector: &[f32]) -> Vec<u8> {
    vector.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn vector_from_bytes(bytes: &[u8]) -> Result<Vec<f32>> {
    if !bytes.len().is_multiple_of(4) {
        return Err(crate::StoreError::Corrupt(format!(
            "an embedding of {} bytes (not whole f32s)",
            bytes.len()
        )));
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::Store;

    fn record(dataset_id: Uuid, title: &str, now: DateTime<Utc>) -> RecordWrite {
        let id = parley_core::new_id();
        RecordWrite {
            record: Record {
                id,
                dataset_id,
                title: title.into(),
                text: format!("{title} text"),
                url: None,
                content_hash: "h".into(),
                source_file: Some("a.md".into()),
                chunks: 0,
                created_at: now,
                updated_at: now,
            },
            document: "{}".into(),
            chunks: vec![ChunkRow {
                position: 0,
                chunk_id: format!("{id}:0"),
                title: title.into(),
                heading_path: vec!["H".into()],
                url: None,
                kind: "passage".into(),
                text: format!("{title} text"),
            }],
        }
    }

    #[tokio::test]
    async fn records_are_scoped_written_whole_and_tracked_until_indexed() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).await.unwrap();
        let ws = store.default_workspace().await.unwrap().id;
        let other = store.create_workspace("other").await.unwrap().id;
        let now = Utc::now();
        let ds = Dataset {
            id: parley_core::new_id(),
            name: "Help".into(),
            description: String::new(),
            records: 0,
            created_at: now,
            updated_at: now,
        };
        store.insert_dataset(ws, &ds).await.unwrap();
        assert!(store.get_dataset(other, ds.id).await.unwrap().is_none());
        assert_eq!(
            store.datasets_in_workspace(other, &[ds.id]).await.unwrap(),
            Vec::<Uuid>::new()
        );

        let a = record(ds.id, "A", now);
        assert!(!store
            .write_records(other, ds.id, std::slice::from_ref(&a), &[], now)
            .await
            .unwrap());
        assert!(store
            .write_records(ws, ds.id, std::slice::from_ref(&a), &[], now)
            .await
            .unwrap());
        let got = store
            .get_record(ws, ds.id, a.record.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got.chunks, 1);
        assert_eq!(
            store.get_dataset(ws, ds.id).await.unwrap().unwrap().records,
            1
        );

        let pending = store.unindexed_records(10).await.unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].chunks[0].heading_path, vec!["H".to_string()]);
        // A stale version is not marked; the current one is.
        store
            .mark_indexed(&[(a.record.id, now - chrono::Duration::seconds(1))])
            .await
            .unwrap();
        assert_eq!(store.unindexed_records(10).await.unwrap().len(), 1);
        store.mark_indexed(&[(a.record.id, now)]).await.unwrap();
        assert!(store.unindexed_records(10).await.unwrap().is_empty());

        // Replacing removes the old record in the same write.
        let b = record(ds.id, "B", now);
        store
            .write_records(ws, ds.id, std::slice::from_ref(&b), &[a.record.id], now)
            .await
            .unwrap();
        assert_eq!(
            store
                .existing_records(&[a.record.id, b.record.id])
                .await
                .unwrap(),
            vec![b.record.id]
        );
        assert_eq!(
            store.records_from_source(ws, ds.id, "a.md").await.unwrap(),
            vec![(b.record.id, "h".to_string())]
        );
        assert!(store.delete_dataset(ws, ds.id).await.unwrap());
        assert!(store
            .existing_records(&[b.record.id])
            .await
            .unwrap()
            .is_empty());
    }

    #[tokio::test]
    async fn embeddings_round_trip_follow_their_chunk_text_and_go_with_the_record() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).await.unwrap();
        let ws = store.default_workspace().await.unwrap().id;
        let now = Utc::now();
        let ds = Dataset {
            id: parley_core::new_id(),
            name: "Help".into(),
            description: String::new(),
            records: 0,
            created_at: now,
            updated_at: now,
        };
        store.insert_dataset(ws, &ds).await.unwrap();
        let a = record(ds.id, "A", now);
        store
            .write_records(ws, ds.id, std::slice::from_ref(&a), &[], now)
            .await
            .unwrap();

        let missing = store.chunks_without_embedding("m1", 10).await.unwrap();
        assert_eq!(missing.len(), 1);
        assert_eq!(missing[0].text, "A text");
        // A vector for text the chunk no longer has is not stored.
        let stale = ChunkToEmbed {
            text: "old text".into(),
            ..missing[0].clone()
        };
        store
            .store_embeddings("m1", &[(stale, vec![9.0])])
            .await
            .unwrap();
        assert_eq!(
            store
                .chunks_without_embedding("m1", 10)
                .await
                .unwrap()
                .len(),
            1
        );
        let vector = vec![0.5, -1.25, f32::MIN_POSITIVE];
        store
            .store_embeddings("m1", &[(missing[0].clone(), vector.clone())])
            .await
            .unwrap();
        assert!(store
            .chunks_without_embedding("m1", 10)
            .await
            .unwrap()
            .is_empty());
        // Another model has its own vectors.
        assert_eq!(
            store
                .chunks_without_embedding("m2", 10)
                .await
                .unwrap()
                .len(),
            1
        );

        let loaded = store.embedded_records("m1", None).await.unwrap();
        assert_eq!(loaded.len(), 1);
        assert_eq!(loaded[0].dataset_id, ds.id);
        assert_eq!(loaded[0].chunks[0].0, a.chunks[0]);
        assert_eq!(loaded[0].chunks[0].1, vector);
        assert_eq!(
            store
                .embedded_records("m1", Some(&[a.record.id]))
                .await
                .unwrap(),
            loaded
        );
        assert!(store.embedded_records("m2", None).await.unwrap().is_empty());

        // Rewriting the record replaces its chunks, and their vectors with them.
        store
            .write_records(ws, ds.id, std::slice::from_ref(&a), &[], now)
            .await
            .unwrap();
        assert!(store.embedded_records("m1", None).await.unwrap().is_empty());
        store
            .store_embeddings("m1", &[(missing[0].clone(), vector)])
            .await
            .unwrap();
        assert!(store.delete_record(ws, ds.id, a.record.id).await.unwrap());
        assert!(store.embedded_records("m1", None).await.unwrap().is_empty());
        assert!(store
            .chunks_without_embedding("m1", 10)
            .await
            .unwrap()
            .is_empty());
    }
}
