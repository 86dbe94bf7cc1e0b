//! Real processes for fault tests: `roster` itself (to kill with SIGKILL or stop with SIGTERM)
//! and private PostgreSQL and Redis servers that a test may stop and restart without
//! disturbing the machine's shared servers, which other tests use at the same time.
//!
//! Cargo only tells a test where the binaries of its own package are, so this crate builds
//! the `roster` command a second time as `roster-proc` (the same `roster_api::cli::run`);
//! tests pass `env!("CARGO_BIN_EXE_roster-proc")`.

use roster_api::config::Settings;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// The environment a `roster` process reads its settings from (API.md, "Command line").
fn settings_env(s: &Settings) -> Vec<(&'static str, String)> {
    let fields = [
        ("ROSTER_LISTEN", &s.listen),
        ("ROSTER_DATA_DIR", &s.data_dir),
        ("DATABASE_URL", &s.database_url),
        ("REDIS_URL", &s.redis_url),
        ("SMTP_URL", &s.smtp_url),
        ("ROSTER_MAIL_FROM", &s.mail_from),
        ("ROSTER_PUBLIC_URL", &s.public_url),
        ("ROSTER_PROVISIONING_DELAY", &s.provisioning_delay),
        ("ROSTER_INTROSPECTION", &s.introspection),
        ("ROSTER_WORKER_NAME", &s.worker_name),
        ("ROSTER_REDELIVER_AFTER", &s.redeliver_after),
        ("ROSTER_QUEUE_NAMESPACE", &s.queue_namespace),
        ("ROSTER_ADMIN_LISTEN", &s.admin_listen),
        ("ROSTER_LOG_FORMAT", &s.log_format),
        ("ROSTER_SMTP_RATE", &s.smtp_rate),
    ];
    fields
        .into_iter()
        .filter_map(|(k, v)| v.clone().map(|v| (k, v)))
        .collect()
}

/// A `roster` process.
pub struct RosterProcess {
    name: String,
    child: Child,
    /// Where `roster serve` listens, read from its start-up line.
    pub addr: Option<SocketAddr>,
}

impl RosterProcess {
    /// Starts `roster ARGS` with `settings` as its environment; for `serve`, waits until it
    /// listens. Its log lines go to the test's stderr, prefixed with `name`.
    pub async fn start(exe: &str, name: &str, settings: &Settings, args: &[&str]) -> Self {
        let mut cmd = Command::new(exe);
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env(
                "RUST_LOG",
                std::env::var("ROSTER_TEST_PROC_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .envs(settings_env(settings))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().expect("roster-proc starts");
        let stderr = child.stderr.take().expect("piped stderr");
        let (addr_tx, addr_rx) = tokio::sync::oneshot::channel();
        let prefix = name.to_string();
        tokio::spawn(async move {
            let mut addr_tx = Some(addr_tx);
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(rest) = line.strip_prefix("roster: serving http://")
                    && let Some(addr) = rest.split('/').next().and_then(|a| a.parse().ok())
                    && let Some(tx) = addr_tx.take()
                {
                    let _ = tx.send(addr);
                }
                eprintln!("[{prefix}] {line}");
            }
        });
        let addr = if args.first() == Some(&"serve") {
            let addr = tokio::time::timeout(Duration::from_secs(30), addr_rx)
                .await
                .unwrap_or_else(|_| panic!("{name} did not start serving"))
                .unwrap_or_else(|_| panic!("{name} exited before serving"));
            Some(addr)
        } else {
            None
        };
        RosterProcess {
            name: name.to_string(),
            child,
            addr,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id().expect("the process runs")
    }

    /// SIGKILL: the process dies at once, in the middle of whatever it was doing.
    pub async fn kill(mut self) {
        self.child.start_kill().expect("SIGKILL delivered");
        let status = self.child.wait().await.expect("the process is reaped");
        eprintln!("[{}] killed: {status}", self.name);
    }

    /// Sends SIGTERM without waiting.
    pub fn terminate(&self) {
        signal(self.pid(), "TERM");
    }

    /// Waits for the process to exit by itself (after SIGTERM) and returns whether it
    /// succeeded.
    pub async fn wait(mut self, limit: Duration) -> bool {
        let status = tokio::time::timeout(limit, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("{} did not exit within {limit:?}", self.name))
            .expect("the process is reaped");
        eprintln!("[{}] exited: {status}", self.name);
        status.success()
    }

    /// SIGTERM, then waits for a clean exit.
    pub async fn stop(self) -> bool {
        self.terminate();
        self.wait(Duration::from_secs(60)).await
    }
}

fn signal(pid: u32, sig: &str) {
    let status = std::process::Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -{sig} {pid} failed");
}

/// Runs a command, as the `postgres` user when this process is root (PostgreSQL refuses to
/// run as root).
fn as_postgres(program: &Path) -> std::process::Command {
    let root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    if root {
        let mut cmd = std::process::Command::new("runuser");
        cmd.args(["-u", "postgres", "--"]).arg(program);
        cmd
    } else {
        std::process::Command::new(program)
    }
}

fn run(mut cmd: std::process::Command, what: &str) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A PostgreSQL server of the test's own, on a free port, that the test may stop and start.
pub struct PrivatePostgres {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
}

impl PrivatePostgres {
    /// Creates a cluster (trust auth, no fsync) and starts it.
    pub fn start() -> Self {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL is installed under /usr/lib/postgresql")
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|p| p.join("initdb").exists())
            .max_by_key(|p| {
                p.parent()
                    .and_then(|v| v.file_name()?.to_str()?.parse::<u32>().ok())
                    .unwrap_or(0)
            })
            .expect("initdb under /usr/lib/postgresql/*/bin");
        let dir = tempfile::Builder::new()
            .prefix("roster-pg-")
            .tempdir()
            .expect("a temp dir");
        let mut chown = std::process::Command::new("chown");
        chown.arg("-R").arg("postgres").arg(dir.path());
        // Not root: the directory is ours already.
        let _ = chown.output();
        let mut initdb = as_postgres(&bin.join("initdb"));
        initdb.arg("-D").arg(dir.path().join("data")).args([
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        ]);
        run(initdb, "initdb");
        let pg = PrivatePostgres {
            bin,
            dir,
            port: free_port(),
        };
        pg.start_again();
        pg
    }

    /// `postgres://` URL of its `postgres` database.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn pg_ctl(&self) -> std::process::Command {
        let mut cmd = as_postgres(&self.bin.join("pg_ctl"));
        cmd.arg("-D").arg(self.dir.path().join("data"));
        cmd
    }

    /// Starts the server (again) on the same port and waits until it accepts connections.
    pub fn start_again(&self) {
        let mut cmd = self.pg_ctl();
        cmd.arg("-o")
            .arg(format!(
                "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100",
                self.port,
                self.dir.path().display()
            ))
            .arg("-l")
            .arg(self.dir.path().join("log"))
            .args(["-w", "-t", "30", "start"]);
        run(cmd, "pg_ctl start");
    }

    /// Stops the server as a crash would (`-m immediate`: no checkpoint, connections cut).
    pub fn crash(&self) {
        let mut cmd = self.pg_ctl();
        cmd.args(["-m", "immediate", "-w", "stop"]);
        run(cmd, "pg_ctl stop");
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let mut cmd = self.pg_ctl();
        cmd.args(["-m", "immediate", "stop"]);
        let _ = cmd.output();
    }
}

/// A Redis server of the test's own, keeping nothing on disk, that the test may restart.
pub struct PrivateRedis {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<std::process::Child>,
}

impl PrivateRedis {
    pub async fn start() -> Self {
        let mut redis = PrivateRedis {
            port: free_port(),
            dir: tempfile::tempdir().expect("a temp dir"),
            child: None,
        };
        redis.start_again().await;
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts the server (again, empty) on the same port and waits until it answers.
    pub async fn start_again(&mut self) {
        let child = std::process::Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts (scripts/services installs it)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let ping = async {
                let client = redis::Client::open(self.url())?;
                let mut conn = client.get_multiplexed_async_connection().await?;
                redis::cmd("PING").query_async::<String>(&mut conn).await
            };
            if ping.await.is_ok() {
                return;
            }
            assert!(Instant::now() < deadline, "the private Redis did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Kills the server: everything queued in it is gone, as after a restart without
    /// persistence.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.kill();
    }
}
