//! The demo: the Northwind Demo bot (`examples/demo-bot.yaml`) and its help centre
//! (`examples/help-centre/*.md`), both built into the binary so `parley serve --demo` works
//! from anywhere, with no LLM and no key: rules and flows answer what they cover, the help
//! centre answers the rest with a cited passage.

use std::path::Path;

use anyhow::Context;
use parley_core::{Bot, BotDefinition, DatasetInput};
use parley_engine::{Engine, EngineError};
use uuid::Uuid;

/// The demo bot's definition.
const DEMO_BOT: &str = include_str!("../../../examples/demo-bot.yaml");

/// The dataset the demo bot answers from.
pub const DEMO_DATASET: &str = "Northwind Help Centre";

/// The help centre's articles, by file name.
const HELP_CENTRE: &[(&str, &str)] = &[
    (
        "account-and-password.md",
        include_str!("../../../examples/help-centre/account-and-password.md"),
    ),
    (
        "changing-or-cancelling-an-order.md",
        include_str!("../../../examples/help-centre/changing-or-cancelling-an-order.md"),
    ),
    (
        "contact-us.md",
        include_str!("../../../examples/help-centre/contact-us.md"),
    ),
    (
        "damaged-or-faulty-items.md",
        include_str!("../../../examples/help-centre/damaged-or-faulty-items.md"),
    ),
    (
        "delivery-times.md",
        include_str!("../../../examples/help-centre/delivery-times.md"),
    ),
    (
        "discount-codes.md",
        include_str!("../../../examples/help-centre/discount-codes.md"),
    ),
    (
        "exchanges.md",
        include_str!("../../../examples/help-centre/exchanges.md"),
    ),
    (
        "failed-payments.md",
        include_str!("../../../examples/help-centre/failed-payments.md"),
    ),
    (
        "gift-cards.md",
        include_str!("../../../examples/help-centre/gift-cards.md"),
    ),
    (
        "international-shipping.md",
        include_str!("../../../examples/help-centre/international-shipping.md"),
    ),
    (
        "payment-methods.md",
        include_str!("../../../examples/help-centre/payment-methods.md"),
    ),
    (
        "privacy-and-your-data.md",
        include_str!("../../../examples/help-centre/privacy-and-your-data.md"),
    ),
    (
        "refunds.md",
        include_str!("../../../examples/help-centre/refunds.md"),
    ),
    (
        "returns-policy.md",
        include_str!("../../../examples/help-centre/returns-policy.md"),
    ),
    (
        "shipping-options.md",
        include_str!("../../../examples/help-centre/shipping-options.md"),
    ),
    (
        "tracking-your-order.md",
        include_str!("../../../examples/help-centre/tracking-your-order.md"),
    ),
];

/// Loads (or updates) the demo dataset and the demo bot linked to it. Articles whose
/// content is unchanged since the last start are skipped.
pub async fn load(engine: &Engine, ws: Uuid) -> anyhow::Result<Bot> {
    let dataset = match engine.find_dataset(ws, DEMO_DATASET).await {
        Ok(d) => d,
        Err(EngineError::NotFound { .. }) => {
            let input = DatasetInput {
                name: Some(DEMO_DATASET.into()),
                description: Some(
                    "Northwind Goods' help centre: shipping, returns, refunds, payments and accounts."
                        .into(),
                ),
            };
            engine.create_dataset(ws, input).await?
        }
        Err(e) => return Err(e.into()),
    };
    for (file, text) in HELP_CENTRE {
        engine
            .import_file(ws, dataset.id, file, Some("text/markdown"), text.as_bytes())
            .await
            .with_context(|| format!("loading the demo help centre's {file}"))?;
    }
    let mut def: BotDefinition =
        serde_yaml_ng::from_str(DEMO_BOT).context("reading the built-in demo bot definition")?;
    def.settings.dataset_ids = Some(vec![dataset.id]);
    let (bot, _) =
        crate::import_definition(engine, ws, def, Path::new("examples/demo-bot.yaml")).await?;
    Ok(bot)
}
