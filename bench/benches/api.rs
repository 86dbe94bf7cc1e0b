//! Roster in production mode under load, beside a hand-written axum + sqlx handler that
//! returns the same JSON from the same database, and email delivery end to end.
//!
//! `bench/run` builds the release binary and runs this. It seeds 10,000 contracts with 1 to
//! 200 members each (`ROSTER_BENCH_CONTRACTS`), starts `roster serve --no-worker` as its own
//! process (PostgreSQL + Redis + SMTP settings), starts the reference handler as another
//! process, and drives both from this process with a Rust load client. Figures only: nothing
//! here asserts a time.

#![allow(clippy::print_stdout)] // a benchmark prints its figures

use axum::extract::{Path, State};
use axum::routing::get;
use roster_bench::Scratch;
use roster_store::Store;
use serde_json::{Value, json};
use sqlx::PgPool;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const QUERY: &str = "query($n: String!) { contract(number: $n) { number status term { startDate endDate billingPeriod } company { name } products { productCode productName seats seatsAssigned } members(first: 20) { totalCount edges { node { user { email firstName lastName } roles status } } } } }";

fn env_num(name: &str, default: i64) -> i64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Seeds `n` contracts with 1..=200 members each, in plain SQL.
async fn seed(url: &str, n: i64) -> anyhow::Result<()> {
    let pg = PgPool::connect(url).await?;
    for sql in [
        "INSERT INTO companies (id, name, created_at) SELECT g, 'Company ' || g, 0 FROM generate_series(1, $1::bigint) g",
        "INSERT INTO products (id, code, name) VALUES (1, 'ACAD', 'AutoCAD'), (2, 'REVIT', 'Revit')",
        "INSERT INTO contracts (id, number, order_number, company_id, status, support_level, renewal_kind, billing_period, start_date, end_date, created_at) \
         SELECT g, 'C-' || g, 'O-' || g, g, 'ACTIVE', 'ADVANCED', 'MANUAL', 'ANNUAL', '2026-01-01', '2027-01-01', 0 FROM generate_series(1, $1::bigint) g",
        "INSERT INTO contract_products (id, contract_id, product_id, serial_number, product_key, seats, seats_assigned) \
         SELECT g * 2 - 1, g, 1, 'S-' || g || '-1', 'KEY1', 250, 1 + (g % 200) FROM generate_series(1, $1::bigint) g \
         UNION ALL SELECT g * 2, g, 2, 'S-' || g || '-2', 'KEY2', 50, 0 FROM generate_series(1, $1::bigint) g",
        "INSERT INTO users (id, email, first_name, last_name, language, created_at) \
         SELECT c * 1000 + m, 'u' || c || '.' || m || '@bench.example', 'First' || m, 'Last' || (m * 7919 % 211), 'en', 0 \
         FROM generate_series(1, $1::bigint) c, LATERAL generate_series(0, c % 200) m",
        "INSERT INTO memberships (contract_id, user_id, status, is_manager, created_at) \
         SELECT c, c * 1000 + m, CASE WHEN m % 3 = 0 THEN 'PENDING' ELSE 'ACTIVE' END, CASE WHEN m = 0 THEN 1 ELSE 0 END, 0 \
         FROM generate_series(1, $1::bigint) c, LATERAL generate_series(0, c % 200) m",
        "INSERT INTO product_access (contract_product_id, user_id, contract_id, granted_at) \
         SELECT c * 2 - 1, c * 1000 + m, c, 0 FROM generate_series(1, $1::bigint) c, LATERAL generate_series(0, c % 200) m",
    ] {
        sqlx::query(sql).bind(n).execute(&pg).await?;
    }
    for table in [
        "companies",
        "users",
        "contracts",
        "contract_products",
        "products",
    ] {
        let sql = format!(
            "SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"
        );
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&pg).await?;
    }
    sqlx::raw_sql("ANALYZE").execute(&pg).await?;
    pg.close().await;
    Ok(())
}

/// The reference: one hand-written handler answering the same JSON with plain sqlx.
async fn reference_server(url: String, addr: String) -> anyhow::Result<()> {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(16)
        .connect(&url)
        .await?;
    async fn handler(State(pool): State<PgPool>, Path(number): Path<String>) -> axum::Json<Value> {
        let c: Option<(i64, String, String, String, String, String, String)> = sqlx::query_as(
            "SELECT c.id, c.number, c.status, c.start_date, c.end_date, c.billing_period, co.name \
             FROM contracts c JOIN companies co ON co.id = c.company_id WHERE c.number = $1",
        )
        .bind(&number)
        .fetch_optional(&pool)
        .await
        .unwrap_or(None);
        let Some((id, number, status, start, end, period, company)) = c else {
            return axum::Json(json!({ "data": { "contract": null } }));
        };
        let products: Vec<(String, String, i64, i64)> = sqlx::query_as(
            "SELECT p.code, p.name, cp.seats, cp.seats_assigned FROM contract_products cp \
             JOIN products p ON p.id = cp.product_id WHERE cp.contract_id = $1 ORDER BY cp.id",
        )
        .bind(id)
        .fetch_all(&pool)
        .await
        .unwrap_or_default();
        let members: Vec<(String, String, String, String, i64, i64)> = sqlx::query_as(
            "SELECT u.email, u.first_name, u.last_name, m.status, m.is_manager, COUNT(*) OVER () \
             FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.contract_id = $1 \
             ORDER BY lower(u.last_name), lower(u.first_name), u.id LIMIT 20",
        )
        .bind(id)
        .fetch_all(&pool)
        .await
        .unwrap_or_default();
        let total = members.first().map_or(0, |m| m.5);
        axum::Json(json!({ "data": { "contract": {
            "number": number, "status": status,
            "term": { "startDate": start, "endDate": end, "billingPeriod": period },
            "company": { "name": company },
            "products": products.iter().map(|(code, name, seats, assigned)| json!({ "productCode": code, "productName": name, "seats": seats, "seatsAssigned": assigned })).collect::<Vec<_>>(),
            "members": { "totalCount": total, "edges": members.iter().map(|(email, f, l, s, cm, _)| json!({ "node": { "user": { "email": email, "firstName": f, "lastName": l }, "roles": if *cm == 1 { json!(["CONTRACT_MANAGER", "USER", "NAMED_CALLER"]) } else { json!(["USER"]) }, "status": s } })).collect::<Vec<_>>() },
        } } }))
    }
    let app = axum::Router::new()
        .route("/contract/{number}", get(handler))
        .with_state(pool);
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    axum::serve(listener, app).await?;
    Ok(())
}

struct Figures {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: u64,
}

/// Drives `make_request` from `concurrency` tasks for `duration`.
async fn load<F, Fut>(concurrency: usize, duration: Duration, make_request: F) -> Figures
where
    F: Fn(u64) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let start = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..concurrency {
        let f = make_request.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0u64;
            let mut i = worker as u64;
            while start.elapsed() < duration {
                let t = Instant::now();
                if f(i).await {
                    lat.push(t.elapsed());
                } else {
                    errors += 1;
                }
                i += concurrency as u64;
            }
            (lat, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await.expect("load task");
        all.extend(l);
        errors += e;
    }
    let secs = start.elapsed().as_secs_f64();
    all.sort();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    Figures {
        rps: all.len() as f64 / secs,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        errors,
    }
}

fn roster_binary() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("own path");
    let dir = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("target/<profile>");
    let bin = dir.join("roster");
    assert!(
        bin.exists(),
        "build it first: cargo build --release --bin roster ({})",
        bin.display()
    );
    bin
}

async fn wait_ready(url: &str) -> Duration {
    let t = Instant::now();
    let client = reqwest::Client::new();
    loop {
        if let Ok(r) = client.get(url).send().await
            && r.status().is_success()
        {
            return t.elapsed();
        }
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "{url} never answered"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

fn rss_mb(child: &Child) -> f64 {
    std::fs::read_to_string(format!("/proc/{}/status", child.id()))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(str::to_string)
        })
        .and_then(|l| {
            l.split_whitespace()
                .nth(1)
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if let (Ok(url), Ok(addr)) = (
        std::env::var("ROSTER_BENCH_REFERENCE_DB"),
        std::env::var("ROSTER_BENCH_REFERENCE_ADDR"),
    ) {
        return reference_server(url, addr).await;
    }
    let contracts = env_num("ROSTER_BENCH_CONTRACTS", 10_000);
    let seconds = env_num("ROSTER_BENCH_SECONDS", 10) as u64;
    let concurrency = env_num("ROSTER_BENCH_CONCURRENCY", 32) as usize;
    let scratch = Scratch::create("roster_bench_api").await?;
    let store = Store::connect(&scratch.url, 4).await?;
    store.migrate().await?;
    let t = Instant::now();
    seed(&scratch.url, contracts).await?;
    let (_, staff_key) = roster_store::auth::create_staff_key(store.pool(), "bench").await?;
    let (memberships,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM memberships")
        .fetch_one(store.pool())
        .await?;
    println!(
        "seeded {contracts} contracts, {memberships} members in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    // Roster, as its own process, production mode.
    let sink = roster_tests::smtp::Sink::start().await;
    let started = Instant::now();
    let mut roster = Command::new(roster_binary())
        .args(["serve", "--no-worker"])
        .env("ROSTER_LISTEN", "127.0.0.1:18181")
        .env("DATABASE_URL", &scratch.url)
        .env("REDIS_URL", "redis://127.0.0.1:6379")
        .env("SMTP_URL", format!("smtp://127.0.0.1:{}", sink.port()))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let _ = started;
    let startup = wait_ready("http://127.0.0.1:18181/readyz").await;
    let mut reference = Command::new(std::env::current_exe()?)
        .env("ROSTER_BENCH_REFERENCE_DB", &scratch.url)
        .env("ROSTER_BENCH_REFERENCE_ADDR", "127.0.0.1:18182")
        .stdout(Stdio::null())
        .spawn()?;
    wait_ready("http://127.0.0.1:18182/contract/C-1").await;

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()?;
    let duration = Duration::from_secs(seconds);
    let (c, key) = (client.clone(), staff_key.clone());
    let roster_read = load(concurrency, duration, move |i| {
        let (c, key) = (c.clone(), key.clone());
        async move {
            let n = format!("C-{}", 1 + i as i64 % contracts);
            c.post("http://127.0.0.1:18181/graphql")
                .bearer_auth(&key)
                .json(&json!({ "query": QUERY, "variables": { "n": n } }))
                .send()
                .await
                .map(|r| r.status().is_success())
                .unwrap_or(false)
        }
    })
    .await;
    let rss = rss_mb(&roster);
    let c = client.clone();
    let reference_read = load(concurrency, duration, move |i| {
        let c = c.clone();
        async move {
            c.get(format!(
                "http://127.0.0.1:18182/contract/C-{}",
                1 + i as i64 % contracts
            ))
            .send()
            .await
            .map(|r| r.status().is_success())
            .unwrap_or(false)
        }
    })
    .await;
    let _ = roster.kill();
    let _ = reference.kill();

    println!();
    println!("| scenario | req/s | p50 | p99 | errors | ratio to reference |");
    println!("|---|---|---|---|---|---|");
    println!(
        "| contract with members, Roster GraphQL | {:.0} | {:.2} ms | {:.2} ms | {} | {:.2}x |",
        roster_read.rps,
        roster_read.p50_ms,
        roster_read.p99_ms,
        roster_read.errors,
        roster_read.rps / reference_read.rps.max(1.0)
    );
    println!(
        "| same JSON, hand-written axum + sqlx | {:.0} | {:.2} ms | {:.2} ms | {} | 1.00x |",
        reference_read.rps, reference_read.p50_ms, reference_read.p99_ms, reference_read.errors
    );
    println!();
    println!(
        "Roster start-up to /readyz: {:.0} ms; peak RSS under load: {:.1} MB",
        startup.as_secs_f64() * 1000.0,
        rss
    );
    println!(
        "load: {concurrency} concurrent clients for {seconds} s each, from this process, on the same 2 cores"
    );
    store.close().await;
    scratch.drop_database().await?;
    Ok(())
}
