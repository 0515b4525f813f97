//! `parley dataset create|list|import|search`: knowledge-base datasets from the terminal,
//! through the engine (the same operations as the API), on the data directory directly.
//! `import` walks folders, shows a progress bar, skips files whose content hash has not
//! changed since the last import, and carries on past files it cannot read, listing them
//! with the reason at the end. While a server runs on the same data directory it holds the
//! search index: imported records are stored, and the server indexes them within 30 s.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use parley_core::knowledge::SearchInput;
use parley_core::DatasetInput;
use parley_engine::knowledge::admin::FileStatus;
use parley_engine::knowledge::KnowledgeError;
use parley_engine::{Engine, EngineError};
use uuid::Uuid;

#[derive(Debug, Subcommand)]
pub enum DatasetCommand {
    /// Create a dataset and print its id.
    Create {
        name: String,
        #[arg(long)]
        description: Option<String>,
        #[arg(long)]
        workspace: Option<Uuid>,
    },
    /// List the datasets of a workspace.
    List {
        #[arg(long)]
        workspace: Option<Uuid>,
    },
    /// Import files and folders (.txt .md .html .pdf, .csv/.json of Q&A pairs) into a
    /// dataset; unchanged files are skipped on a re-run.
    Import {
        /// The dataset's id or name.
        dataset: String,
        /// Files or folders (folders are read recursively; hidden files are skipped).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        #[arg(long)]
        workspace: Option<Uuid>,
    },
    /// Search a dataset and print the best chunks.
    Search {
        /// The dataset's id or name.
        dataset: String,
        /// The question or keywords.
        #[arg(required = true)]
        query: Vec<String>,
        #[arg(long, default_value_t = 5)]
        limit: usize,
        #[arg(long)]
        workspace: Option<Uuid>,
    },
}

pub async fn run(engine: &Engine, cmd: DatasetCommand) -> anyhow::Result<()> {
    let store = engine.store().as_ref();
    match cmd {
        DatasetCommand::Create {
            name,
            description,
            workspace,
        } => {
            let ws = crate::workspace_or_default(store, workspace).await?;
            let input = DatasetInput {
                name: Some(name),
                description,
            };
            let dataset = engine.create_dataset(ws, input).await?;
            println!("dataset {} ({})", dataset.id, dataset.name);
        }
        DatasetCommand::List { workspace } => {
            let ws = crate::workspace_or_default(store, workspace).await?;
            let all = crate::all_pages(|page| async move { engine.list_datasets(ws, &page).await })
                .await?;
            for d in all {
                println!("{}  {}  ({} records)", d.id, d.name, d.records);
            }
        }
        DatasetCommand::Import {
            dataset,
            paths,
            workspace,
        } => {
            let ws = crate::workspace_or_default(store, workspace).await?;
            let dataset = engine
                .find_dataset(ws, &dataset)
                .await
                .map_err(not_found_dataset(&dataset))?;
            import(engine, ws, dataset.id, &dataset.name, &paths).await?;
        }
        DatasetCommand::Search {
            dataset,
            query,
            limit,
            workspace,
        } => {
            let ws = crate::workspace_or_default(store, workspace).await?;
            let found = engine
                .find_dataset(ws, &dataset)
                .await
                .map_err(not_found_dataset(&dataset))?;
            let input = SearchInput {
                query: query.join(" "),
                limit: Some(limit),
            };
            let hits = match engine.search_dataset(ws, found.id, input).await {
                Err(EngineError::Knowledge(KnowledgeError::IndexBusy { .. })) => bail!(
                    "a running Parley server holds this data directory's search index; \
                     search through its API (POST /api/v1/datasets/{}/search) instead",
                    found.id
                ),
                other => other?,
            };
            if hits.is_empty() {
                println!("nothing found");
            }
            for (i, hit) in hits.iter().enumerate() {
                let mut place = hit.title.clone();
                for h in &hit.heading_path {
                    place.push_str(" > ");
                    place.push_str(h);
                }
                println!("{}. [{:.2}] {place}  ({})", i + 1, hit.score, hit.chunk_id);
                if let Some(url) = &hit.url {
                    println!("   {url}");
                }
                let text: String = hit.text.chars().take(300).collect();
                println!("   {}\n", text.replace('\n', "\n   "));
            }
        }
    }
    Ok(())
}

fn not_found_dataset(name: &str) -> impl FnOnce(EngineError) -> anyhow::Error + '_ {
    move |e| match e {
        EngineError::NotFound { .. } => {
            anyhow::anyhow!("no dataset with id or name `{name}` (see `parley dataset list`)")
        }
        other => other.into(),
    }
}

/// A file to import and the name it is known by in the dataset (its path inside the folder
/// given, or its file name), which is what makes a re-run find it again.
struct Source {
    path: PathBuf,
    name: String,
}

async fn import(
    engine: &Engine,
    ws: Uuid,
    dataset_id: Uuid,
    dataset_name: &str,
    paths: &[PathBuf],
) -> anyhow::Result<()> {
    let mut sources = Vec::new();
    for path in paths {
        collect(path, &mut sources).with_context(|| format!("reading {}", path.display()))?;
    }
    if sources.is_empty() {
        bail!("no files to import in the paths given");
    }
    let bar = ProgressBar::new(sources.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40.cyan/blue} {pos}/{len} {wide_msg}")
            .map(|s| s.progress_chars("=> "))
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let (mut created, mut updated, mut unchanged, mut records) = (0, 0, 0, 0);
    let mut unindexed = false;
    let mut failed: Vec<(String, String)> = Vec::new();
    for source in &sources {
        bar.set_message(source.name.clone());
        let outcome = match std::fs::read(&source.path) {
            Ok(bytes) => engine
                .import_file(ws, dataset_id, &source.name, None, &bytes)
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(format!("could not be read: {e}")),
        };
        match outcome {
            Ok(import) => {
                match import.status {
                    FileStatus::Created => created += 1,
                    FileStatus::Updated => updated += 1,
                    FileStatus::Unchanged => unchanged += 1,
                }
                if import.status != FileStatus::Unchanged {
                    records += import.records.len();
                }
                unindexed |= !import.indexed;
            }
            Err(reason) => failed.push((source.name.clone(), reason)),
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    println!(
        "imported into `{dataset_name}`: {created} new, {updated} updated, {unchanged} unchanged \
         ({records} records written), {} failed",
        failed.len()
    );
    if unindexed {
        println!(
            "a running Parley server holds the search index; it indexes the new records within 30 s"
        );
    }
    if !failed.is_empty() {
        println!("not imported:");
        for (name, reason) in &failed {
            println!("  {name}: {reason}");
        }
        bail!(
            "{} of {} files could not be imported",
            failed.len(),
            sources.len()
        );
    }
    Ok(())
}

/// Files under `path` (itself when it is a file), sorted, hidden ones left out.
fn collect(path: &Path, out: &mut Vec<Source>) -> std::io::Result<()> {
    if path.is_file() {
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        out.push(Source {
            path: path.to_owned(),
            name,
        });
        return Ok(());
    }
    let mut found = Vec::new();
    walk(path, path, &mut found)?;
    found.sort_by(|a, b| a.name.cmp(&b.name));
    out.extend(found);
    Ok(())
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<Source>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        if entry.file_type()?.is_dir() {
            walk(root, &path, out)?;
        } else {
            let name = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            out.push(Source { path, name });
        }
    }
    Ok(())
}
