//! Reciprocal rank fusion: merging ranked lists whose scores are not comparable (BM25 and
//! cosine similarity) by rank alone. Each item scores `Σ 1 / (k + rank)` over the lists it
//! appears in (rank from 1); `k = 60` is the value from Cormack et al. (2009), which damps
//! the difference between the first few ranks so one list cannot dominate.

use std::collections::HashMap;
use std::hash::Hash;

use crate::index::Hit;

/// The customary RRF constant.
pub const RRF_K: f32 = 60.0;

/// Fuses ranked lists of keys, best first. Ties keep the order in which keys were first
/// seen (list by list), so the result is deterministic.
pub fn reciprocal_rank_fusion<K, L>(lists: &[L], k: f32) -> Vec<(K, f32)>
where
    K: Eq + Hash + Clone,
    L: AsRef<[K]>,
{
    let mut scores: HashMap<K, (f32, usize)> = HashMap::new();
    let mut seen = 0;
    for list in lists {
        for (rank, key) in list.as_ref().iter().enumerate() {
            let entry = scores.entry(key.clone()).or_insert_with(|| {
                seen += 1;
                (0.0, seen)
            });
            entry.0 += 1.0 / (k + rank as f32 + 1.0);
        }
    }
    let mut fused: Vec<(K, f32, usize)> = scores
        .into_iter()
        .map(|(key, (score, order))| (key, score, order))
        .collect();
    fused.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.2.cmp(&b.2)));
    fused
        .into_iter()
        .map(|(key, score, _)| (key, score))
        .collect()
}

/// Fuses lists of hits (say BM25 and embeddings) into one, keyed by dataset and chunk id.
/// Each fused hit keeps the chunk from the first list it appeared in and takes its RRF
/// score; `limit` caps the result.
pub fn fuse_hits(lists: &[Vec<Hit>], limit: usize) -> Vec<Hit> {
    let keys: Vec<Vec<(String, String)>> = lists
        .iter()
        .map(|list| {
            list.iter()
                .map(|hit| (hit.dataset_id.clone(), hit.chunk.chunk_id.clone()))
                .collect()
        })
        .collect();
    let mut by_key: HashMap<(String, String), &Hit> = HashMap::new();
    for list in lists {
        for hit in list {
            by_key
                .entry((hit.dataset_id.clone(), hit.chunk.chunk_id.clone()))
                .or_insert(hit);
        }
    }
    reciprocal_rank_fusion(&keys, RRF_K)
        .into_iter()
        .take(limit)
        .filter_map(|(key, score)| {
            by_key.get(&key).map(|hit| Hit {
                score,
                ..(*hit).clone()
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_high_in_both_lists_win() {
        let bm25 = vec!["a", "b", "c"];
        let dense = vec!["b", "d", "a"];
        let fused = reciprocal_rank_fusion(&[bm25, dense], RRF_K);
        let order: Vec<&str> = fused.iter().map(|(k, _)| *k).collect();
        // a: 1/61 + 1/63, b: 1/62 + 1/61, c: 1/63, d: 1/62.
        assert_eq!(order, vec!["b", "a", "d", "c"]);
        assert!((fused[0].1 - (1.0 / 62.0 + 1.0 / 61.0)).abs() < 1e-6);
    }

    #[test]
    fn one_list_keeps_its_order_and_empty_input_gives_nothing() {
        let fused = reciprocal_rank_fusion(&[vec![3, 1, 2]], RRF_K);
        assert_eq!(
            fused.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
            vec![3, 1, 2]
        );
        assert!(reciprocal_rank_fusion::<u8, Vec<u8>>(&[], RRF_K).is_empty());
    }
}
