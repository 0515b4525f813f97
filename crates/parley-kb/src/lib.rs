//! Parley's knowledge base as a library: the datasets a bot answers from. It turns uploaded
//! files into documents ([`parse`]), documents into chunks that keep their title, heading
//! path and position ([`chunk`]), keeps a BM25 index of those chunks in a directory
//! ([`index`]), can fuse BM25 with dense embeddings ([`fuse`], [`embed`]) and cuts extractive
//! answers with a confidence score from the results ([`answer`]), so a bot can answer from
//! its help centre with no language model at all.
//!
//! It depends on no other Parley crate. The store keeps datasets and records in the
//! database (the source of truth) and calls this crate to parse, chunk and index them; the
//! index is a rebuildable cache of the database (see [`index`] for the consistency rules).
//! Everything here is synchronous except the embeddings client and
//! [`KbIndex::search_async`]; index calls block and belong in `spawn_blocking`.

pub mod answer;
pub mod chunk;
pub mod embed;
pub mod fuse;
pub mod index;
pub mod parse;
pub mod quality;
pub mod text;

use sha2::{Digest, Sha256};

pub use answer::{
    best_passage, extract_answer, Answer, AnswerOptions, AnswerSource, DEFAULT_THRESHOLD,
};
pub use chunk::{chunk_document, Chunk, ChunkConfig, ChunkKind};
pub use embed::{cosine_similarity, EmbedError, EmbeddingClient, EmbeddingConfig, FlatVectorStore};
pub use fuse::{fuse_hits, reciprocal_rank_fusion, RRF_K};
pub use index::{DocumentChunks, Hit, IndexError, IndexOptions, KbIndex, TermWeight};
pub use parse::{
    parse, parse_as, DocBody, FileFormat, ParseError, ParseLimits, ParsedDoc, Section,
};

/// SHA-256 of `bytes` as lower-case hex: the key for skipping files that have not changed
/// since the last import.
pub fn content_hash(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_hash_is_sha256_hex() {
        assert_eq!(
            content_hash(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
