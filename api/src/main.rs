//! `roster`: one binary for the API, the worker and the admin commands.

/// mimalloc rather than glibc's malloc: a GraphQL answer is built from many small
/// allocations, and under load glibc's malloc and free took a fifth of the API's CPU
/// (BENCHMARKS.md, "contract page").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    roster_api::cli::main().await
}
