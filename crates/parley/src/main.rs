//! The `parley` command: `serve` runs the server; `chat` talks to a bot in the terminal;
//! `bot import/export` treats a bot as a YAML file; `dataset` manages the knowledge base;
//! `workspace` and `keys` manage access.
//! Every command works directly on the data directory, so none needs the server running.

mod chat;
mod config;
mod dataset;
mod demo;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use parley_core::{BotDefinition, Role};
use parley_engine::knowledge::{Knowledge, KnowledgeError, KnowledgeLimits};
use parley_engine::{Engine, EngineError};
use parley_server::{auth, AppState};
use parley_store::{ImportOutcome, SqliteStore, Store};
use secrecy::ExposeSecret;
use tracing_subscriber::EnvFilter;
use uuid::Uuid;

use crate::config::{Config, FlagOverrides};

#[derive(Debug, Parser)]
#[command(
    name = "parley",
    version,
    about = "Parley: a self-hostable conversational-AI platform"
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args)]
struct Global {
    /// A TOML config file (keys as in the README; PARLEY_* variables and flags override it).
    #[arg(long, global = true, env = "PARLEY_CONFIG")]
    config: Option<PathBuf>,
    /// The data directory [default: ./data; env PARLEY_DATA_DIR].
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP server.
    Serve {
        /// Address to listen on [default: 127.0.0.1:8080; env PARLEY_LISTEN].
        #[arg(long)]
        listen: Option<String>,
        /// Load the demo bot (examples/demo-bot.yaml) and its help centre
        /// (examples/help-centre) so there is someone to talk to.
        #[arg(long)]
        demo: bool,
    },
    /// Talk to a bot in the terminal (by id or by name).
    Chat {
        bot: String,
        #[arg(long)]
        workspace: Option<Uuid>,
    },
    /// Bots as code: one YAML file with settings and keyword rules.
    #[command(subcommand)]
    Bot(BotCommand),
    /// Workspaces: every bot, conversation and key belongs to one.
    #[command(subcommand)]
    Workspace(WorkspaceCommand),
    /// API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Teams of human agents (handoff queues).
    #[command(subcommand)]
    Team(TeamCommand),
    /// Human agents: people with an agent key who take over conversations.
    #[command(subcommand)]
    Agent(AgentCommand),
    /// What the guard masked, flagged or blocked for a bot (newest first).
    SafetyEvents {
        /// The bot, by id or by name.
        bot: String,
        /// Only this kind: pii, abuse, injection or output.
        #[arg(long, value_parser = parse_safety_kind)]
        kind: Option<parley_core::SafetyKind>,
        /// Only this conversation's events.
        #[arg(long)]
        conversation: Option<Uuid>,
        /// At most this many events.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[arg(long)]
        workspace: Option<Uuid>,
    },
    /// Knowledge-base datasets: documents bots answer from.
    #[command(subcommand)]
    Dataset(dataset::DatasetCommand),
}

#[derive(Debug, Subcommand)]
enum TeamCommand {
    /// Create a team and print its id.
    Create {
        name: String,
        #[arg(long)]
        workspace: Option<Uuid>,
    },
    /// List the teams of a workspace.
    List {
        #[arg(long)]
        workspace: Option<Uuid>,
    },
}

#[derive(Debug, Subcommand)]
enum AgentCommand {
    /// Create an agent and print its key (shown once).
    Create {
        name: String,
        #[arg(long)]
        email: Option<String>,
        /// A team id the agent works in (repeat for several).
        #[arg(long = "team")]
        teams: Vec<Uuid>,
        #[arg(long)]
        workspace: Option<Uuid>,
    },
    /// List the agents of a workspace.
    List {
        #[arg(long)]
        workspace: Option<Uuid>,
    },
}

#[derive(Debug, Subcommand)]
enum BotCommand {
    /// Create or update a bot from a YAML file (same file twice: updated, not duplicated).
    Import {
        file: PathBuf,
        #[arg(long)]
        workspace: Option<Uuid>,
    },
    /// Print a bot as YAML (or write it to --out).
    Export {
        /// The bot's id or name.
        bot: String,
        #[arg(long, short)]
        out: Option<PathBuf>,
        #[arg(long)]
        workspace: Option<Uuid>,
    },
    /// List the bots of a workspace.
    List {
        #[arg(long)]
        workspace: Option<Uuid>,
    },
}

#[derive(Debug, Subcommand)]
enum WorkspaceCommand {
    /// Create a workspace and print its first admin key.
    Create { name: String },
    /// List workspaces.
    List,
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Create a key and print its secret (shown once).
    Create {
        #[arg(long)]
        name: String,
        /// `admin` or `agent`.
        #[arg(long, default_value = "admin")]
        role: String,
        #[arg(long)]
        workspace: Option<Uuid>,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let listen = match &cli.command {
        Command::Serve { listen, .. } => listen.clone(),
        _ => None,
    };
    let config = Config::load(
        cli.global.config.as_deref(),
        FlagOverrides {
            listen,
            data_dir: cli
                .global
                .data_dir
                .as_ref()
                .map(|p| p.display().to_string()),
        },
    )?;
    init_logging(&config, matches!(cli.command, Command::Serve { .. }));
    config.ensure_data_dir()?;
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open_with(&config.data_dir, config.sqlite_synchronous)
            .await
            .with_context(|| format!("opening the database in {}", config.data_dir.display()))?,
    );
    // The index is opened on first use (the server opens it at start), so commands that
    // never search do not take its lock from a running server.
    let mut knowledge =
        Knowledge::new(&config.data_dir, store.clone()).with_limits(KnowledgeLimits {
            max_file_bytes: config.max_upload_bytes,
            ..KnowledgeLimits::default()
        });
    if let Some(embeddings) = config.embeddings(|name| std::env::var(name).ok())? {
        tracing::info!(base_url = %embeddings.base_url, model = %embeddings.model, "knowledge-base search fuses BM25 with embeddings");
        knowledge = knowledge
            .with_embeddings(embeddings)
            .context("setting up the knowledge-base embeddings client")?;
    }
    let knowledge = Arc::new(knowledge);
    let mut engine = Engine::new(store.clone(), config.engine_limits()).with_knowledge(knowledge);
    let outbound = config.outbound()?;
    if !outbound.allow_private_networks.is_empty() {
        tracing::info!(networks = ?outbound.allow_private_networks, "outbound requests may reach these private networks");
    }
    engine = engine.with_outbound(
        parley_engine::outbound::OutboundHttp::new(outbound)
            .context("setting up the outbound HTTP client")?,
    );
    // Only commands that answer messages need the providers (and their keys).
    if matches!(cli.command, Command::Serve { .. } | Command::Chat { .. }) {
        let providers = config.providers(|name| std::env::var(name).ok())?;
        if providers.names().next().is_some() {
            tracing::info!(providers = ?providers.names().collect::<Vec<_>>(), "LLM providers configured");
        }
        let ai = parley_engine::ai::AiRuntime::new(Arc::new(providers), config.pricing.clone())
            .with_cache_ttl(std::time::Duration::from_secs(config.ai_cache_ttl_seconds));
        engine = engine.with_ai(Arc::new(ai));
    }
    if let Some(keyring) = config.pii_keyring()? {
        tracing::info!(
            active_key = keyring.active_key_id(),
            "PII vault keys configured"
        );
        engine = engine.with_vault(keyring);
    }
    let engine = Arc::new(engine);

    match cli.command {
        Command::Serve { demo, .. } => serve(config, engine, demo).await,
        Command::Chat { bot, workspace } => {
            let ws = workspace_or_default(store.as_ref(), workspace).await?;
            chat::run(&engine, ws, &bot).await
        }
        Command::Bot(cmd) => bot_command(&engine, cmd).await,
        Command::Team(cmd) => team_command(&engine, cmd).await,
        Command::SafetyEvents {
            bot,
            kind,
            conversation,
            limit,
            workspace,
        } => {
            let ws = workspace_or_default(store.as_ref(), workspace).await?;
            safety_events(&engine, ws, &bot, kind, conversation, limit).await
        }
        Command::Agent(cmd) => agent_command(&engine, cmd).await,
        Command::Dataset(cmd) => dataset::run(&engine, cmd).await,
        Command::Workspace(WorkspaceCommand::Create { name }) => {
            let ws = store
                .create_workspace(&parley_core::validation::clean_name(&name))
                .await?;
            let key =
                auth::create_key(store.as_ref(), ws.id, "first admin key", Role::Admin).await?;
            println!("workspace {} ({})", ws.id, ws.name);
            println!("admin key (shown once, keep it safe): {}", key.secret);
            Ok(())
        }
        Command::Workspace(WorkspaceCommand::List) => {
            let default = store.default_workspace().await?;
            for ws in store.list_workspaces().await? {
                let mark = if ws.id == default.id {
                    " (default)"
                } else {
                    ""
                };
                println!("{}  {}{mark}", ws.id, ws.name);
            }
            Ok(())
        }
        Command::Keys(KeysCommand::Create {
            name,
            role,
            workspace,
        }) => {
            let role = Role::parse(&role)
                .with_context(|| format!("unknown role `{role}`: use admin or agent"))?;
            let ws = workspace_or_default(store.as_ref(), workspace).await?;
            let key = auth::create_key(store.as_ref(), ws, &name, role).await?;
            println!(
                "{} key `{}` (shown once): {}",
                role.as_str(),
                name,
                key.secret
            );
            Ok(())
        }
    }
}

fn parse_safety_kind(s: &str) -> Result<parley_core::SafetyKind, String> {
    parley_core::SafetyKind::parse(s)
        .ok_or_else(|| format!("`{s}` is not a kind: use pii, abuse, injection or output"))
}

/// `parley safety-events <bot>`: one line per event, newest first, with its detail as JSON
/// (kinds, counts and scores; never the masked values).
async fn safety_events(
    engine: &Engine,
    ws: Uuid,
    bot: &str,
    kind: Option<parley_core::SafetyKind>,
    conversation_id: Option<Uuid>,
    limit: usize,
) -> anyhow::Result<()> {
    let bot = engine.find_bot(ws, bot).await.map_err(not_found_bot(bot))?;
    let filter = parley_store::SafetyEventFilter {
        kind,
        conversation_id,
    };
    let mut page = parley_store::PageRequest {
        limit: Some(u32::try_from(limit.clamp(1, 200)).unwrap_or(200)),
        cursor: None,
    };
    let mut shown = 0;
    loop {
        let got = engine
            .list_safety_events(ws, bot.id, &filter, &page)
            .await?;
        for e in &got.items {
            if shown == limit {
                return Ok(());
            }
            println!(
                "{}  {:<9} {:<10} conversation {}  {}",
                e.created_at.format("%Y-%m-%d %H:%M:%S"),
                e.kind.as_str(),
                e.action,
                e.conversation_id,
                e.detail
            );
            shown += 1;
        }
        match got.next_cursor {
            Some(cursor) if shown < limit => page.cursor = Some(cursor),
            _ => break,
        }
    }
    if shown == 0 {
        println!("no safety events for {}", bot.name);
    }
    Ok(())
}

async fn team_command(engine: &Engine, cmd: TeamCommand) -> anyhow::Result<()> {
    let store = engine.store().as_ref();
    match cmd {
        TeamCommand::Create { name, workspace } => {
            let ws = workspace_or_default(store, workspace).await?;
            let input = parley_core::TeamInput {
                name: Some(name),
                description: None,
            };
            let team = engine.create_team(ws, input).await?;
            println!("team {} ({})", team.id, team.name);
        }
        TeamCommand::List { workspace } => {
            let ws = workspace_or_default(store, workspace).await?;
            for team in all_pages(|page| async move { engine.list_teams(ws, &page).await }).await? {
                println!("{}  {}", team.id, team.name);
            }
        }
    }
    Ok(())
}

async fn agent_command(engine: &Engine, cmd: AgentCommand) -> anyhow::Result<()> {
    let store = engine.store().as_ref();
    match cmd {
        AgentCommand::Create {
            name,
            email,
            teams,
            workspace,
        } => {
            let ws = workspace_or_default(store, workspace).await?;
            let key = auth::generate_key(ws, &format!("agent {name}"), Role::Agent);
            let input = parley_core::AgentInput {
                name: Some(name),
                email,
                team_ids: Some(teams),
            };
            let agent = engine.create_agent(ws, input, &key.key, &key.hash).await?;
            println!("agent {} ({})", agent.id, agent.name);
            println!(
                "agent key (shown once, give it to the agent): {}",
                key.secret
            );
        }
        AgentCommand::List { workspace } => {
            let ws = workspace_or_default(store, workspace).await?;
            for agent in
                all_pages(|page| async move { engine.list_agents(ws, &page).await }).await?
            {
                let teams: Vec<String> = agent.team_ids.iter().map(Uuid::to_string).collect();
                println!(
                    "{}  {}  teams: [{}]",
                    agent.id,
                    agent.name,
                    teams.join(", ")
                );
            }
        }
    }
    Ok(())
}

/// Every item of a paged list.
pub(crate) async fn all_pages<T, F, Fut>(mut fetch: F) -> anyhow::Result<Vec<T>>
where
    F: FnMut(parley_store::PageRequest) -> Fut,
    Fut: std::future::Future<Output = parley_engine::Result<parley_store::Page<T>>>,
{
    let mut page = parley_store::PageRequest {
        limit: Some(200),
        cursor: None,
    };
    let mut out = Vec::new();
    loop {
        let got = fetch(page.clone()).await?;
        out.extend(got.items);
        match got.next_cursor {
            Some(c) => page.cursor = Some(c),
            None => return Ok(out),
        }
    }
}

fn init_logging(config: &Config, serving: bool) {
    let default = if serving { config.log.as_str() } else { "warn" };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

pub(crate) async fn workspace_or_default(
    store: &dyn Store,
    given: Option<Uuid>,
) -> anyhow::Result<Uuid> {
    match given {
        None => Ok(store.default_workspace().await?.id),
        Some(id) => {
            if store.list_workspaces().await?.iter().any(|w| w.id == id) {
                Ok(id)
            } else {
                bail!("no workspace with id {id} (see `parley workspace list`)")
            }
        }
    }
}

async fn serve(config: Config, engine: Arc<Engine>, demo: bool) -> anyhow::Result<()> {
    // Build the guard's detectors (regex sets, the language models) before listening, so
    // the first message does not pay for them.
    tokio::task::spawn_blocking(parley_engine::guard::warm_up)
        .await
        .context("warming up the guard")?;
    let store = engine.store().clone();
    let ws = store.default_workspace().await?;
    match &config.admin_key {
        Some(key) => {
            auth::ensure_key(
                store.as_ref(),
                ws.id,
                "PARLEY_ADMIN_KEY",
                key.expose_secret(),
            )
            .await?
        }
        None if store.count_keys().await? == 0 => {
            let key =
                auth::create_key(store.as_ref(), ws.id, "bootstrap admin key", Role::Admin).await?;
            println!("First start: created an admin API key for the default workspace.");
            println!(
                "It is shown only this once; keep it safe:\n\n    {}\n",
                key.secret
            );
        }
        None => {}
    }
    if let Some(knowledge) = engine.knowledge_base() {
        match knowledge.open_index().await {
            Ok(_) => {}
            Err(KnowledgeError::IndexBusy { dir }) => bail!(
                "the knowledge-base index in {} is in use: is another `parley serve` running on this data directory?",
                dir.display()
            ),
            Err(e) => return Err(e).context("opening the knowledge-base index"),
        }
    }
    if demo {
        let bot = demo::load(&engine, ws.id).await?;
        println!("Demo bot `{}` is ready: {}", bot.name, bot.id);
        println!(
            "Talk to it: parley chat \"{}\"  (or see the README for curl)",
            bot.name
        );
    }
    let state = AppState::new(engine, config.http()).await?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let addr = listener.local_addr()?;
    println!(
        "Parley is listening on http://{addr} (data in {})",
        config.data_dir.display()
    );
    if demo {
        println!("Try the web widget: http://{addr}/demo");
    }
    tracing::info!(%addr, "listening");
    // One shutdown signal for both listeners.
    let stop = tokio_util::sync::CancellationToken::new();
    let metrics = match config.metrics_listen {
        Some(at) => {
            let listener = tokio::net::TcpListener::bind(at)
                .await
                .with_context(|| format!("binding the metrics listener {at}"))?;
            let at = listener.local_addr()?;
            println!("Metrics for Prometheus: http://{at}/metrics");
            tracing::info!(%at, "metrics listening");
            let (state, stop) = (state.clone(), stop.clone());
            Some(tokio::spawn(async move {
                parley_server::serve_metrics(listener, &state, stop.cancelled_owned()).await
            }))
        }
        None => None,
    };
    tokio::spawn({
        let stop = stop.clone();
        async move {
            shutdown_signal().await;
            stop.cancel();
        }
    });
    parley_server::serve(listener, state, stop.clone().cancelled_owned()).await?;
    stop.cancel();
    if let Some(metrics) = metrics {
        metrics.await.context("the metrics listener")??;
    }
    // Every acknowledged turn is already committed; dropping the store closes its pools.
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}

async fn import_yaml(
    engine: &Engine,
    ws: Uuid,
    yaml: &str,
    origin: &Path,
) -> anyhow::Result<(parley_core::Bot, ImportOutcome)> {
    let def: BotDefinition = serde_yaml_ng::from_str(yaml)
        .with_context(|| format!("reading {} as a bot definition", origin.display()))?;
    import_definition(engine, ws, def, origin).await
}

/// Imports a bot definition, reporting every invalid field of `origin`.
pub(crate) async fn import_definition(
    engine: &Engine,
    ws: Uuid,
    def: BotDefinition,
    origin: &Path,
) -> anyhow::Result<(parley_core::Bot, ImportOutcome)> {
    match engine.import_bot(ws, def).await {
        Ok((bot, outcome)) => {
            tracing::info!(bot = %bot.id, ?outcome, "imported bot");
            Ok((bot, outcome))
        }
        Err(EngineError::Validation(v)) => {
            let lines: Vec<String> = v
                .errors
                .iter()
                .map(|e| format!("  {}: {}", e.field, e.message))
                .collect();
            bail!(
                "{} is not a valid bot definition:\n{}",
                origin.display(),
                lines.join("\n")
            )
        }
        Err(e) => Err(e.into()),
    }
}

async fn bot_command(engine: &Engine, cmd: BotCommand) -> anyhow::Result<()> {
    let store = engine.store();
    match cmd {
        BotCommand::Import { file, workspace } => {
            let ws = workspace_or_default(store.as_ref(), workspace).await?;
            let yaml = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let (bot, outcome) = import_yaml(engine, ws, &yaml, &file).await?;
            let verb = match outcome {
                ImportOutcome::Created => "created",
                ImportOutcome::Updated => "updated",
            };
            println!("{verb} bot {} ({})", bot.id, bot.name);
            Ok(())
        }
        BotCommand::Export {
            bot,
            out,
            workspace,
        } => {
            let ws = workspace_or_default(store.as_ref(), workspace).await?;
            let bot = engine
                .find_bot(ws, &bot)
                .await
                .map_err(not_found_bot(&bot))?;
            let def = engine.export_bot(ws, bot.id).await?;
            let yaml = serde_yaml_ng::to_string(&def).context("writing YAML")?;
            match out {
                Some(path) => {
                    std::fs::write(&path, yaml)
                        .with_context(|| format!("writing {}", path.display()))?;
                    println!("wrote {}", path.display());
                }
                None => print!("{yaml}"),
            }
            Ok(())
        }
        BotCommand::List { workspace } => {
            let ws = workspace_or_default(store.as_ref(), workspace).await?;
            let mut page = engine.list_bots(ws, &Default::default()).await?;
            loop {
                for b in &page.items {
                    println!("{}  {}", b.id, b.name);
                }
                match page.next_cursor.take() {
                    Some(cursor) => {
                        page = engine
                            .list_bots(
                                ws,
                                &parley_store::PageRequest {
                                    limit: None,
                                    cursor: Some(cursor),
                                },
                            )
                            .await?;
                    }
                    None => break,
                }
            }
            Ok(())
        }
    }
}

pub(crate) fn not_found_bot(name: &str) -> impl FnOnce(EngineError) -> anyhow::Error + '_ {
    move |e| match e {
        EngineError::NotFound { .. } => {
            anyhow::anyhow!("no bot with id or name `{name}` (see `parley bot list`)")
        }
        other => other.into(),
    }
}
