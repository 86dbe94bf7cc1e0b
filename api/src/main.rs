//! `roster`: one binary for the API, the worker and the admin commands.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    roster_api::cli::main().await
}
