//! The `roster` command, built in this package so the fault tests can run it as a real
//! process (cargo gives tests the path of their own package's binaries only).

#[tokio::main]
async fn main() -> std::process::ExitCode {
    roster_api::cli::main().await
}
