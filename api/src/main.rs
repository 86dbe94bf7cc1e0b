//! `roster`: one binary for the API, the worker and the admin commands.

use clap::Parser as _;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn,apalis=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    roster_api::cli::run(roster_api::cli::Cli::parse()).await
}
