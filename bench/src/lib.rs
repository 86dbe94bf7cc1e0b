//! Shared pieces of Roster's benchmarks: a scratch PostgreSQL database per run, the seed, the
//! load client, and the results file each benchmark writes for `bench/run`'s summary and plot.

use anyhow::Context as _;
use serde_json::{Value, json};
use sqlx::PgPool;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// PostgreSQL the benchmarks create their databases on.
pub const PG_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A fresh database, dropped by [`Scratch::drop_database`].
pub struct Scratch {
    pub name: String,
    pub url: String,
}

impl Scratch {
    pub async fn create(prefix: &str) -> anyhow::Result<Scratch> {
        let name = format!("{prefix}_{}", std::process::id());
        let admin = PgPool::connect(PG_ADMIN_URL)
            .await
            .context("PostgreSQL on 127.0.0.1:5432")?;
        let drop = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
        sqlx::raw_sql(sqlx::AssertSqlSafe(drop))
            .execute(&admin)
            .await?;
        let create = format!("CREATE DATABASE \"{name}\"");
        sqlx::raw_sql(sqlx::AssertSqlSafe(create))
            .execute(&admin)
            .await?;
        admin.close().await;
        Ok(Scratch {
            url: format!("postgres://postgres@127.0.0.1:5432/{name}"),
            name,
        })
    }

    pub async fn drop_database(self) -> anyhow::Result<()> {
        let admin = PgPool::connect(PG_ADMIN_URL).await?;
        let drop = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
        sqlx::raw_sql(sqlx::AssertSqlSafe(drop))
            .execute(&admin)
            .await?;
        admin.close().await;
        Ok(())
    }
}

/// An integer setting from the environment, or `default`.
pub fn env_num(name: &str, default: i64) -> i64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A size: `name` from the environment if set, else `full` times `ROSTER_BENCH_SCALE`
/// (a fraction such as `0.05` for a quick check; 1 by default, the sizes in BENCHMARKS.md).
pub fn sized(name: &str, full: i64) -> i64 {
    if let Some(v) = std::env::var(name).ok().and_then(|v| v.parse().ok()) {
        return v;
    }
    let scale: f64 = std::env::var("ROSTER_BENCH_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1.0);
    ((full as f64 * scale).round() as i64).max(1)
}

/// Seeds `n` contracts with 1..=200 members each, in plain SQL (it measures nothing of
/// Roster). Contract `c` is `C-c`; its members are users `c * 1000 + m` for `m` in
/// `0..=c % 200`, user `c * 1000` being its Contract Manager; product `c * 2 - 1` (ACAD, 250
/// seats) is held by every member, product `c * 2` (REVIT, 50 seats) by nobody.
pub async fn seed(url: &str, n: i64) -> anyhow::Result<()> {
    seed_with(url, n, None).await
}

/// [`seed`], every contract with `members` members (at most 250) when given.
pub async fn seed_with(url: &str, n: i64, members: Option<i64>) -> anyhow::Result<()> {
    let pg = PgPool::connect(url).await?;
    for sql in [
        "INSERT INTO companies (id, name, created_at) SELECT g, 'Company ' || g, 0 FROM generate_series(1, $1::bigint) g",
        "INSERT INTO products (id, code, name) VALUES (1, 'ACAD', 'AutoCAD'), (2, 'REVIT', 'Revit')",
        "INSERT INTO contracts (id, number, order_number, company_id, status, support_level, renewal_kind, billing_period, start_date, end_date, created_at) \
         SELECT g, 'C-' || g, 'O-' || g, g, 'ACTIVE', 'ADVANCED', 'MANUAL', 'ANNUAL', '2026-01-01', '2027-01-01', 0 FROM generate_series(1, $1::bigint) g",
        "INSERT INTO contract_products (id, contract_id, product_id, serial_number, product_key, seats, seats_assigned) \
         SELECT g * 2 - 1, g, 1, 'S-' || g || '-1', 'KEY1', 250, COALESCE($2::bigint, 1 + (g % 200)) FROM generate_series(1, $1::bigint) g \
         UNION ALL SELECT g * 2, g, 2, 'S-' || g || '-2', 'KEY2', 50, 0 FROM generate_series(1, $1::bigint) g",
        "INSERT INTO users (id, email, first_name, last_name, language, created_at) \
         SELECT c * 1000 + m, 'u' || c || '.' || m || '@bench.example', 'First' || m, 'Last' || (m * 7919 % 211), 'en', 0 \
         FROM generate_series(1, $1::bigint) c, LATERAL generate_series(0, COALESCE($2::bigint - 1, c % 200)) m",
        "INSERT INTO memberships (contract_id, user_id, status, is_manager, created_at) \
         SELECT c, c * 1000 + m, CASE WHEN m % 3 = 0 THEN 'PENDING' ELSE 'ACTIVE' END, CASE WHEN m = 0 THEN 1 ELSE 0 END, 0 \
         FROM generate_series(1, $1::bigint) c, LATERAL generate_series(0, COALESCE($2::bigint - 1, c % 200)) m",
        "INSERT INTO product_access (contract_product_id, user_id, contract_id, granted_at) \
         SELECT c * 2 - 1, c * 1000 + m, c, 0 FROM generate_series(1, $1::bigint) c, LATERAL generate_series(0, COALESCE($2::bigint - 1, c % 200)) m",
    ] {
        let query = sqlx::query(sql).bind(n);
        let query = if sql.contains("$2") {
            query.bind(members)
        } else {
            query
        };
        query.execute(&pg).await?;
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

/// What one load run measured.
#[derive(Debug, Clone, Copy, Default)]
pub struct Figures {
    /// Successful requests (or transactions, or jobs) per second.
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub errors: u64,
}

/// The `p` quantile (0..1) of sorted latencies, in milliseconds.
pub fn quantile_ms(sorted: &[Duration], p: f64) -> f64 {
    sorted
        .get(((sorted.len() as f64 * p) as usize).min(sorted.len().saturating_sub(1)))
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

/// Drives `make_request` from `concurrency` tasks for `duration`. Task `w` calls it with
/// `w`, `w + concurrency`, `w + 2 * concurrency`, ... so `i % concurrency` names the task.
/// A request answers whether it succeeded; `Err(reason)` counts as an error, and the first
/// reason is printed once.
pub async fn load<F, Fut>(concurrency: usize, duration: Duration, make_request: F) -> Figures
where
    F: Fn(u64) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Result<(), String>> + Send,
{
    let start = Instant::now();
    let reported = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut tasks = Vec::new();
    for worker in 0..concurrency {
        let f = make_request.clone();
        let reported = reported.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0u64;
            let mut i = worker as u64;
            while start.elapsed() < duration {
                let t = Instant::now();
                match f(i).await {
                    Ok(()) => lat.push(t.elapsed()),
                    Err(why) => {
                        errors += 1;
                        if !reported.swap(true, std::sync::atomic::Ordering::Relaxed) {
                            eprintln!("first error: {why}");
                        }
                    }
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
    Figures {
        rps: all.len() as f64 / secs,
        p50_ms: quantile_ms(&all, 0.50),
        p99_ms: quantile_ms(&all, 0.99),
        errors,
    }
}

/// The release `roster` binary beside the running benchmark (`bench/run` builds it).
pub fn roster_binary() -> PathBuf {
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

/// Waits until `url` answers a GET with a success (at most `limit`).
pub async fn wait_ready(url: &str, limit: Duration) -> anyhow::Result<Duration> {
    let t = Instant::now();
    let client = reqwest::Client::new();
    loop {
        if let Ok(r) = client.get(url).send().await
            && r.status().is_success()
        {
            return Ok(t.elapsed());
        }
        anyhow::ensure!(t.elapsed() < limit, "{url} never answered");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// `bench/peers`, where the Node peers live (`npm ci` there first; `bench/run` does).
pub fn peers_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("peers")
}

/// `bench/out`, where benchmarks leave their figures for the summary and the plot.
pub fn out_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("out")
}

/// One row of the summary: a scenario's figures and the reference it is compared with.
#[derive(Debug, Clone)]
pub struct Row {
    /// Which table it belongs to, e.g. "contract read".
    pub group: String,
    pub scenario: String,
    /// "req/s", "mutations/s", "jobs/s", ...
    pub unit: String,
    pub rate: f64,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub errors: u64,
    /// The scenario of the same group this one is divided by (itself for the reference).
    pub reference: String,
    pub ratio: f64,
}

impl Row {
    pub fn to_json(&self) -> Value {
        json!({
            "group": self.group, "scenario": self.scenario, "unit": self.unit,
            "rate": self.rate, "p50_ms": self.p50_ms, "p99_ms": self.p99_ms,
            "errors": self.errors, "reference": self.reference, "ratio": self.ratio,
        })
    }

    pub fn from_json(v: &Value) -> Option<Row> {
        Some(Row {
            group: v["group"].as_str()?.to_string(),
            scenario: v["scenario"].as_str()?.to_string(),
            unit: v["unit"].as_str()?.to_string(),
            rate: v["rate"].as_f64()?,
            p50_ms: v["p50_ms"].as_f64(),
            p99_ms: v["p99_ms"].as_f64(),
            errors: v["errors"].as_u64().unwrap_or(0),
            reference: v["reference"].as_str()?.to_string(),
            ratio: v["ratio"].as_f64()?,
        })
    }
}

/// Writes one benchmark's rows to `bench/out/{bench}.json`, with the conditions they were
/// measured under, for `cargo bench -p roster-bench --bench report`.
pub fn record(bench: &str, rows: &[Row], conditions: &str) -> anyhow::Result<()> {
    let dir = out_dir();
    std::fs::create_dir_all(&dir)?;
    let doc = json!({
        "bench": bench,
        "conditions": conditions,
        "rows": rows.iter().map(Row::to_json).collect::<Vec<_>>(),
    });
    std::fs::write(
        dir.join(format!("{bench}.json")),
        serde_json::to_string_pretty(&doc)? + "\n",
    )?;
    Ok(())
}

/// Prints rows as a Markdown table with p50, p99, errors and the ratio to their reference.
#[allow(clippy::print_stdout)] // a benchmark prints its figures
pub fn print_table(rows: &[Row]) {
    let ms = |v: Option<f64>| v.map_or("n/a".to_string(), |v| format!("{v:.2} ms"));
    println!("| scenario | rate | p50 | p99 | errors | ratio |");
    println!("|---|---|---|---|---|---|");
    for r in rows {
        let ratio = if r.reference == r.scenario {
            "1.00x (reference)".to_string()
        } else {
            format!("{:.2}x", r.ratio)
        };
        println!(
            "| {} | {:.0} {} | {} | {} | {} | {} |",
            r.scenario,
            r.rate,
            r.unit,
            ms(r.p50_ms),
            ms(r.p99_ms),
            r.errors,
            ratio
        );
    }
}
