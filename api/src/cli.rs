//! The `roster` command (API.md, "Command line").

use crate::app;
use crate::config::{Config, Settings};
use clap::{Parser, Subcommand};
use std::io::Write as _;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "roster",
    version,
    about = "Software-subscription contracts: roles, seats, support and lifecycle emails"
)]
pub struct Cli {
    #[command(flatten)]
    pub settings: Settings,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API (and run the worker in-process unless --no-worker). The default.
    Serve {
        /// Do not run the worker in this process.
        #[arg(long)]
        no_worker: bool,
    },
    /// Run the worker only: email delivery, provisioning, the outbox relay.
    Worker,
    /// Apply migrations and exit.
    Migrate,
    /// Print the GraphQL SDL.
    Schema,
    /// Manage staff API keys.
    #[command(subcommand)]
    StaffKey(StaffKeyCommand),
    /// Renewal notices, auto-renewals and expiries.
    #[command(subcommand)]
    Renewals(RenewalsCommand),
    /// Emails that failed for good (dead letters): list and replay them.
    #[command(subcommand)]
    Emails(EmailsCommand),
}

#[derive(Debug, Subcommand)]
pub enum EmailsCommand {
    /// List emails given up as FAILED, newest first.
    Failed {
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Queue FAILED emails again with fresh attempts: one by id, or all of them.
    Replay {
        #[arg(long, conflicts_with = "all", required_unless_present = "all")]
        id: Option<i64>,
        #[arg(long)]
        all: bool,
    },
    /// Render a sample of every email kind, in each shape it is sent in, in every language:
    /// `.html` and `.eml` files under `--out`, with an `index.html` linking them.
    Preview {
        #[arg(long, default_value = "roster-email-preview")]
        out: std::path::PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum RenewalsCommand {
    /// Run one renewal pass now and exit; the emails it owes go out through whichever worker
    /// runs.
    Scan {
        /// The day to run the pass as of (YYYY-MM-DD); today (UTC) by default.
        #[arg(long)]
        as_of: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum StaffKeyCommand {
    /// Create a key; it is printed once, alone on the last line, and stored hashed.
    Create {
        #[arg(long)]
        name: String,
    },
}

/// The whole `roster` command: parses the command line, sets up logs (and trace export),
/// runs the command.
pub async fn main() -> ExitCode {
    let cli = Cli::parse();
    // A bad ROSTER_LOG_FORMAT is reported with the rest of the configuration.
    let format = cli.settings.log_format().unwrap_or_default();
    let telemetry = match crate::telemetry::init(format) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("roster: {}", format!("{e:#}").replace('\n', " "));
            return ExitCode::from(2);
        }
    };
    let code = run(cli).await;
    telemetry.shutdown().await;
    code
}

/// Runs the command; errors are printed as one line.
pub async fn run(cli: Cli) -> ExitCode {
    let command = cli.command.unwrap_or(Command::Serve { no_worker: false });
    if let Command::Schema = command {
        return print(&crate::graphql::sdl());
    }
    let config = match cli.settings.resolve() {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    match execute(command, &config).await {
        Ok(code) => code,
        Err(e) => fail(&format!("{e:#}")),
    }
}

async fn execute(command: Command, config: &Config) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve { no_worker } => {
            let running = app::start(config, !no_worker).await?;
            eprintln!(
                "roster: serving http://{}/graphql ({:?} mode)",
                running.addr, config.mode
            );
            running.wait(shutdown_signal()).await?;
        }
        Command::Worker => app::run_worker(config, shutdown_signal()).await?,
        Command::Migrate => {
            let store = app::open_store(config, 1).await?;
            store.close().await;
            eprintln!("roster: migrations applied");
        }
        Command::StaffKey(StaffKeyCommand::Create { name }) => {
            let name = roster_domain::parse_text("--name", &name, roster_domain::MAX_TEXT_LEN)
                .map_err(|e| anyhow::anyhow!("--name: {}", e.message))?;
            let store = app::open_store(config, 1).await?;
            let (id, key) = roster_store::auth::create_staff_key(store.pool(), &name).await?;
            store.close().await;
            eprintln!("roster: staff key {id} ({name}) created; it is shown only once:");
            return Ok(print(&key));
        }
        Command::Renewals(RenewalsCommand::Scan { as_of }) => {
            let today = match as_of {
                Some(raw) => roster_domain::parse_date("--as-of", &raw)
                    .map_err(|e| anyhow::anyhow!("--as-of: {}", e.message))?,
                None => chrono::Utc::now().date_naive(),
            };
            let store = app::open_store(config, 4).await?;
            let report = roster_store::renewals::run_pass(&store, today).await?;
            store.close().await;
            eprintln!(
                "roster: renewal pass as of {today}: {} notices owed, {} contracts renewed, {} expired",
                report.notices, report.renewed, report.expired
            );
        }
        Command::Emails(EmailsCommand::Failed { limit }) => {
            let store = app::open_store(config, 1).await?;
            let failed =
                roster_store::emails::with_status(store.pool(), "FAILED", limit.clamp(1, 1000))
                    .await?;
            store.close().await;
            let mut lines = vec!["id\tkind\tattempts\tcreated\tlast error".to_string()];
            for e in &failed {
                let when =
                    chrono::DateTime::from_timestamp_millis(e.created_at).unwrap_or_default();
                lines.push(format!(
                    "{}\t{}\t{}\t{}\t{}",
                    e.id,
                    e.kind,
                    e.attempts,
                    when.format("%Y-%m-%d %H:%M"),
                    e.last_error
                        .as_deref()
                        .unwrap_or("")
                        .replace(['\n', '\r', '\t'], " ")
                ));
            }
            return Ok(print(&lines.join("\n")));
        }
        Command::Emails(EmailsCommand::Replay { id, all }) => {
            let store = app::open_store(config, 1).await?;
            let n = roster_store::emails::replay(store.pool(), if all { None } else { id }).await?;
            store.close().await;
            eprintln!("roster: {n} email(s) queued again");
        }
        Command::Emails(EmailsCommand::Preview { out }) => {
            let n = roster_worker::samples::preview(&out, &config.mail_from)?;
            eprintln!(
                "roster: {n} sample emails written; open {}",
                out.join("index.html").display()
            );
        }
        Command::Schema => unreachable!("handled before configuration"),
    }
    Ok(ExitCode::SUCCESS)
}

fn print(text: &str) -> ExitCode {
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{}", text.trim_end()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::FAILURE,
    }
}

fn fail(message: &dyn std::fmt::Display) -> ExitCode {
    let line = message.to_string().replace('\n', " ");
    eprintln!("roster: {line}");
    ExitCode::from(2)
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
