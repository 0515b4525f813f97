//! A Parley server started for one run: a free port, a fresh temporary data dir, a generated
//! admin key. Dropping the guard kills the process and removes the dir, on success and on error.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use rand::Rng;
use tempfile::TempDir;

const HEALTH_DEADLINE: Duration = Duration::from_secs(30);
const HEALTH_POLL: Duration = Duration::from_millis(100);

pub struct SpawnedParley {
    child: Child,
    pub base_url: String,
    pub key: String,
    log: PathBuf,
    // Removed on drop, after `Drop::drop` below has stopped the server writing into it.
    _dir: TempDir,
}

impl SpawnedParley {
    /// Starts `binary serve` and waits (at most 30 s) until `GET /healthz` answers 200.
    pub async fn start(binary: &Path) -> anyhow::Result<SpawnedParley> {
        let dir = tempfile::Builder::new()
            .prefix("parley-load-")
            .tempdir_in(std::env::temp_dir())
            .context("creating a temporary dir for the server")?;
        let data_dir = dir.path().join("data");
        std::fs::create_dir(&data_dir)
            .with_context(|| format!("creating {}", data_dir.display()))?;
        let log = dir.path().join("server.log");
        let log_file = File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let log_err = log_file
            .try_clone()
            .context("duplicating the server log handle")?;

        // Free port: bind port 0, read it, release it for the server (a small race, accepted).
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .context("finding a free port")?
            .port();
        let key = format!("pk_load_{:032x}", rand::thread_rng().gen::<u128>());
        let listen = format!("127.0.0.1:{port}");

        let child = Command::new(binary)
            .arg("serve")
            .arg("--listen")
            .arg(&listen)
            .arg("--data-dir")
            .arg(&data_dir)
            .env("PARLEY_ADMIN_KEY", &key)
            // The workers drive each conversation far faster than a person and may open
            // thousands of connections: no per-conversation rate or message cap, and room
            // for every worker's connection.
            .env("PARLEY_CONVERSATION_MESSAGES_PER_MINUTE", "0")
            .env("PARLEY_MAX_MESSAGES_PER_CONVERSATION", "0")
            .env("PARLEY_MAX_CONNECTIONS", "10000")
            .stdin(Stdio::null())
            .stdout(log_file)
            .stderr(log_err)
            .spawn()
            .with_context(|| format!("starting {} serve", binary.display()))?;
        // From here on, any early return drops the guard: the child is killed, the dir removed.
        let mut server = SpawnedParley {
            child,
            base_url: format!("http://{listen}"),
            key,
            log,
            _dir: dir,
        };
        server.wait_healthy().await?;
        Ok(server)
    }

    async fn wait_healthy(&mut self) -> anyhow::Result<()> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(1))
            .build()
            .context("building the health-check client")?;
        let url = format!("{}/healthz", self.base_url);
        let deadline = Instant::now() + HEALTH_DEADLINE;
        loop {
            if let Some(status) = self
                .child
                .try_wait()
                .context("checking the server process")?
            {
                bail!(
                    "parley exited during start-up ({status}); its log:\n{}",
                    self.log_tail()
                );
            }
            if let Ok(response) = client.get(&url).send().await {
                if response.status().is_success() {
                    return Ok(());
                }
            }
            if Instant::now() >= deadline {
                bail!(
                    "parley did not answer {url} with 200 within {} s; its log:\n{}",
                    HEALTH_DEADLINE.as_secs(),
                    self.log_tail()
                );
            }
            tokio::time::sleep(HEALTH_POLL).await;
        }
    }

    fn log_tail(&self) -> String {
        match std::fs::read_to_string(&self.log) {
            Ok(text) => {
                let lines: Vec<&str> = text.lines().collect();
                lines[lines.len().saturating_sub(30)..].join("\n")
            }
            Err(error) => format!("(could not read {}: {error})", self.log.display()),
        }
    }
}

impl Drop for SpawnedParley {
    fn drop(&mut self) {
        match self.child.try_wait() {
            // Already exited (e.g. crashed at start-up) and now reaped.
            Ok(Some(_)) => {}
            Ok(None) => match self.child.kill() {
                Ok(()) => {
                    let _ = self.child.wait();
                }
                Err(error) => eprintln!("could not kill parley (pid {}): {error}", self.child.id()),
            },
            Err(error) => eprintln!("could not check parley (pid {}): {error}", self.child.id()),
        }
    }
}
