//! What a reply cost: a [`PriceTable`] of per-model prices per million tokens, as the
//! config file states them:
//!
//! ```toml
//! [pricing."gpt-4o-mini"]
//! input_per_million = 0.15
//! output_per_million = 0.60
//! ```
//!
//! Lookups are by exact model name: providers' dated names (`gpt-4o-2024-08-06`) are priced
//! only if listed, because guessing by prefix would price `gpt-4o-mini` as `gpt-4o`.

use std::collections::HashMap;

use serde::Deserialize;

use crate::types::Usage;

/// One model's prices, in the table's currency per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelPrice {
    pub input_per_million: f64,
    pub output_per_million: f64,
}

/// Prices by model name.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(transparent)]
pub struct PriceTable {
    models: HashMap<String, ModelPrice>,
}

impl PriceTable {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn insert(&mut self, model: impl Into<String>, price: ModelPrice) {
        self.models.insert(model.into(), price);
    }

    pub fn get(&self, model: &str) -> Option<ModelPrice> {
        self.models.get(model).copied()
    }

    /// The cost of `usage` on `model`, or `None` if the model has no price.
    pub fn cost(&self, model: &str, usage: &Usage) -> Option<f64> {
        let price = self.get(model)?;
        // u64 → f64 loses precision only beyond 2^53 tokens.
        #[allow(clippy::cast_precision_loss)]
        let (input, output) = (usage.input_tokens as f64, usage.output_tokens as f64);
        Some((input * price.input_per_million + output * price.output_per_million) / 1_000_000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_is_per_million_tokens_and_unknown_models_have_none() {
        let table: PriceTable = serde_json::from_str(
            r#"{"gpt-4o-mini": {"input_per_million": 0.15, "output_per_million": 0.6}}"#,
        )
        .unwrap();
        let usage = Usage {
            input_tokens: 2_000_000,
            output_tokens: 500_000,
        };
        let cost = table.cost("gpt-4o-mini", &usage).unwrap();
        assert!((cost - 0.6).abs() < 1e-9, "{cost}");
        assert_eq!(table.cost("gpt-4o", &usage), None);
    }

    #[test]
    fn unknown_price_fields_are_rejected() {
        let parsed: Result<PriceTable, _> =
            serde_json::from_str(r#"{"m": {"input_per_million": 1, "output": 2}}"#);
        assert!(parsed.is_err());
    }
}
