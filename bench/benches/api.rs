//! Roster in production mode under load, beside its peers in the same run:
//!
//! - the contract read the dashboard makes, against a hand-written axum + sqlx handler (the
//!   reference) and PostGraphile 4 serving the same database;
//! - mutations per second (`setUserAccess`, `addUsers`) by Contract Managers over GraphQL,
//!   against the same transactions as raw SQL run by `pgbench` (`bench/pgbench/*.sql`).
//!
//! `bench/run` builds the release binary, installs the Node peers (`npm ci` in `bench/peers`)
//! and runs this. It seeds 10,000 contracts with 1 to 200 members each (`ROSTER_BENCH_CONTRACTS`
//! or `ROSTER_BENCH_SCALE`), starts `roster serve --no-worker` as its own process (PostgreSQL +
//! Redis + SMTP settings), the reference handler and PostGraphile as other processes, and drives
//! them from this process with a Rust load client. Figures only: nothing here asserts a time.

#![allow(clippy::print_stdout)] // a benchmark prints its figures

use axum::extract::{Path, State};
use axum::routing::get;
use roster_api::graphql::ids::{Kind, encode};
use roster_bench::{Figures, Row, Scratch, env_num, load, print_table, record, sized, wait_ready};
use roster_store::Store;
use serde_json::{Value, json};
use sqlx::PgPool;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const QUERY: &str = "query($n: String!) { contract(number: $n) { number status term { startDate endDate billingPeriod } company { name } products { productCode productName seats seatsAssigned } members(first: 50) { totalCount edges { node { user { email firstName lastName } roles status } } } } }";

/// The same question asked of PostGraphile's generated schema: the contract by its unique
/// number, its company, its products, and the first 20 memberships ordered by the member's
/// name (`@graphile-contrib/pg-order-by-related`) with `totalCount`.
const POSTGRAPHILE_QUERY: &str = "query($n: String!) { contractByNumber(number: $n) { number status startDate endDate billingPeriod companyByCompanyId { name } contractProductsByContractId { nodes { seats seatsAssigned productByProductId { code name } } } membershipsByContractId(first: 50, orderBy: [USER_BY_USER_ID__LAST_NAME_ASC, USER_BY_USER_ID__FIRST_NAME_ASC, USER_ID_ASC]) { totalCount nodes { status isManager userByUserId { email firstName lastName } } } } }";

const SET_USER_ACCESS: &str = "mutation($input: SetUserAccessInput!) { setUserAccess(input: $input) { userErrors { code message } } }";
const ADD_USERS: &str =
    "mutation($input: AddUsersInput!) { addUsers(input: $input) { userErrors { code message } } }";

const ROSTER: &str = "127.0.0.1:18181";
const REFERENCE: &str = "127.0.0.1:18182";
const POSTGRAPHILE: &str = "127.0.0.1:18183";
const ROSTER_SMALL: &str = "127.0.0.1:18184";
const REFERENCE_SMALL: &str = "127.0.0.1:18185";

/// The reference: one hand-written handler answering the same JSON with plain sqlx.
async fn reference_server(url: String, addr: String) -> anyhow::Result<()> {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(16)
        .connect(&url)
        .await?;
    async fn handler(
        State(pool): State<PgPool>,
        Path(number): Path<String>,
        headers: axum::http::HeaderMap,
    ) -> axum::Json<Value> {
        // Authenticated as Roster authenticates a session: the token's hash, live and not
        // revoked, names the user; only a member of the contract reads it.
        let token = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        let user: Option<(i64,)> = sqlx::query_as(
            "SELECT u.id FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > $2",
        )
        .bind(roster_store::secret::hash(token))
        .bind(roster_store::now_ms())
        .fetch_optional(&pool)
        .await
        .unwrap_or(None);
        let Some((user,)) = user else {
            return axum::Json(json!({ "errors": [{ "message": "sign in" }] }));
        };
        let c: Option<(i64, String, String, String, String, String, String)> = sqlx::query_as(
            "SELECT c.id, c.number, c.status, c.start_date, c.end_date, c.billing_period, co.name \
             FROM contracts c JOIN companies co ON co.id = c.company_id WHERE c.number = $1 \
             AND EXISTS (SELECT 1 FROM memberships m WHERE m.contract_id = c.id AND m.user_id = $2)",
        )
        .bind(&number)
        .bind(user)
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
             ORDER BY lower(u.last_name), lower(u.first_name), u.id LIMIT 50",
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

/// `roster serve --no-worker` in production mode on the database `url`, listening on `addr`,
/// and how long it took to answer `/readyz`.
async fn start_roster(url: &str, addr: &str, smtp_port: u16) -> anyhow::Result<(Owned, Duration)> {
    let roster = Owned(
        Command::new(roster_bench::roster_binary())
            .args(["serve", "--no-worker"])
            .env("ROSTER_LISTEN", addr)
            .env("DATABASE_URL", url)
            .env("REDIS_URL", "redis://127.0.0.1:6379")
            .env("SMTP_URL", format!("smtp://127.0.0.1:{smtp_port}"))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?,
    );
    let startup = wait_ready(&format!("http://{addr}/readyz"), Duration::from_secs(30)).await?;
    Ok((roster, startup))
}

/// The reference handler ([`reference_server`], this binary run again) on the database `url`,
/// listening on `addr`.
async fn start_reference(url: &str, addr: &str) -> anyhow::Result<Owned> {
    let reference = Owned(
        Command::new(std::env::current_exe()?)
            .env("ROSTER_BENCH_REFERENCE_DB", url)
            .env("ROSTER_BENCH_REFERENCE_ADDR", addr)
            .stdout(Stdio::null())
            .spawn()?,
    );
    wait_ready(
        &format!("http://{addr}/contract/C-1"),
        Duration::from_secs(30),
    )
    .await?;
    Ok(reference)
}

/// Who answers the contract page, at which address.
#[derive(Clone, Copy)]
enum Page {
    Roster(&'static str),
    Reference(&'static str),
}

/// Reads the contract page from `page` with `concurrency` clients for `duration`: request `i`
/// reads contract `number(i)` as the session `token(i)`.
async fn read_pages(
    client: &reqwest::Client,
    page: Page,
    concurrency: usize,
    duration: Duration,
    number: impl Fn(u64) -> String + Clone + Send + Sync + 'static,
    token: impl Fn(u64) -> String + Clone + Send + Sync + 'static,
) -> Figures {
    let client = client.clone();
    load(concurrency, duration, move |i| {
        let (c, number, token) = (client.clone(), number.clone(), token.clone());
        async move {
            match page {
                Page::Roster(addr) => {
                    let body = json!({ "query": QUERY, "variables": { "n": number(i) } });
                    let url = format!("http://{addr}/graphql");
                    post(&c, &url, Some(&token(i)), &body, "\"totalCount\"").await
                }
                Page::Reference(addr) => {
                    let url = format!("http://{addr}/contract/{}", number(i));
                    let resp = c
                        .get(url)
                        .bearer_auth(token(i))
                        .send()
                        .await
                        .map_err(|e| e.to_string())?;
                    let ok = resp.status().is_success();
                    let text = resp.text().await.map_err(|e| e.to_string())?;
                    if ok && text.contains("\"totalCount\"") {
                        Ok(())
                    } else {
                        Err(text.chars().take(300).collect())
                    }
                }
            }
        }
    })
    .await
}

/// Issue 14's small database: one contract of 50 members and nothing else, its page read by
/// its Contract Manager from a Roster and a reference of their own, at 1, 4 and 32 clients.
async fn small_database(
    client: &reqwest::Client,
    smtp_port: u16,
    duration: Duration,
) -> anyhow::Result<Vec<Row>> {
    let scratch = Scratch::create("roster_bench_small").await?;
    let store = Store::connect(&scratch.url, 2).await?;
    store.migrate().await?;
    roster_bench::seed_with(&scratch.url, 1, Some(50)).await?;
    let mut tx = store.begin().await?;
    let token = roster_store::auth::create_session(&mut tx, 1000).await?;
    tx.commit().await?;
    let (roster, _) = start_roster(&scratch.url, ROSTER_SMALL, smtp_port).await?;
    let reference = start_reference(&scratch.url, REFERENCE_SMALL).await?;
    let group = "contract read, small database (one contract of 50 members)";
    let mut rows = Vec::new();
    for clients in [1, 4, 32] {
        let number = |_| "C-1".to_string();
        let token = {
            let token = token.clone();
            move |_| token.clone()
        };
        let ours = read_pages(
            client,
            Page::Roster(ROSTER_SMALL),
            clients,
            duration,
            number,
            token.clone(),
        )
        .await;
        let theirs = read_pages(
            client,
            Page::Reference(REFERENCE_SMALL),
            clients,
            duration,
            number,
            token,
        )
        .await;
        let reference = format!("hand-written handler, {clients} clients");
        rows.push(row(
            group,
            &format!("Roster GraphQL, {clients} clients"),
            "req/s",
            ours,
            (&reference, theirs.rps),
        ));
        rows.push(row(
            group,
            &reference,
            "req/s",
            theirs,
            (&reference, theirs.rps),
        ));
    }
    drop((roster, reference));
    store.close().await;
    scratch.drop_database().await?;
    Ok(rows)
}

/// Kills a child process this benchmark started (and waits for it) when dropped.
struct Owned(Child);

impl Drop for Owned {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
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

/// POSTs a GraphQL request; succeeds when the answer is 200 and holds `must_contain` and no
/// top-level `errors`.
async fn post(
    client: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    body: &Value,
    must_contain: &str,
) -> Result<(), String> {
    let mut req = client.post(url).json(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.map_err(|e| e.to_string())?;
    let status = resp.status();
    let text = resp.text().await.map_err(|e| e.to_string())?;
    if !status.is_success() || text.contains("\"errors\":") || !text.contains(must_contain) {
        return Err(format!(
            "{status}: {}",
            text.chars().take(300).collect::<String>()
        ));
    }
    Ok(())
}

/// Starts PostGraphile 4 (from `bench/peers`, `npm ci` first) on the same database: two
/// cluster workers (the machine's two cores, as Roster's runtime uses both) with 8 pooled
/// connections each, no query log, no GraphiQL.
fn start_postgraphile(url: &str) -> anyhow::Result<Owned> {
    let peers = roster_bench::peers_dir();
    let cli = peers.join("node_modules/postgraphile/cli.js");
    anyhow::ensure!(
        cli.exists(),
        "PostGraphile is not installed: run `npm ci` in {}",
        peers.display()
    );
    let (host, port) = POSTGRAPHILE.split_once(':').expect("host:port");
    let child = Command::new("node")
        .arg(cli)
        .args([
            "-c", url, "--schema", "public", "--host", host, "--port", port,
        ])
        .args([
            "--disable-query-log",
            "--disable-graphiql",
            "--cluster-workers",
            "2",
        ])
        .args(["--max-pool-size", "8"])
        .args(["--append-plugins", "@graphile-contrib/pg-order-by-related"])
        .current_dir(&peers)
        .env("NODE_ENV", "production")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    Ok(Owned(child))
}

/// Waits until PostGraphile answers the benchmark's query.
async fn postgraphile_ready(client: &reqwest::Client) -> anyhow::Result<()> {
    let t = Instant::now();
    let body = json!({ "query": POSTGRAPHILE_QUERY, "variables": { "n": "C-1" } });
    loop {
        let url = format!("http://{POSTGRAPHILE}/graphql");
        if post(client, &url, None, &body, "\"number\":\"C-1\"")
            .await
            .is_ok()
        {
            return Ok(());
        }
        anyhow::ensure!(
            t.elapsed() < Duration::from_secs(60),
            "PostGraphile never answered"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Runs one pgbench script for `seconds` with `concurrency` clients and reads each
/// transaction's latency from its per-transaction log.
fn pgbench(
    url: &str,
    script: &str,
    valid: i64,
    concurrency: usize,
    seconds: u64,
) -> anyhow::Result<Figures> {
    let logs = std::env::temp_dir().join(format!("roster-pgbench-{}-{script}", std::process::id()));
    let _ = std::fs::remove_dir_all(&logs);
    std::fs::create_dir_all(&logs)?;
    let file = roster_bench::peers_dir()
        .parent()
        .expect("bench/")
        .join("pgbench")
        .join(format!("{script}.sql"));
    let out = Command::new("pgbench")
        .args(["-n", "-M", "prepared", "-j", "2", "-l"])
        .arg(format!("--log-prefix={}", logs.join("tx").display()))
        .arg(format!("-c{concurrency}"))
        .arg(format!("-T{seconds}"))
        .arg(format!("-Dvalid={valid}"))
        .arg("-f")
        .arg(&file)
        .arg(url)
        .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    anyhow::ensure!(out.status.success(), "pgbench {script}: {stderr}");
    let tps: f64 = stdout
        .lines()
        .find(|l| l.starts_with("tps = "))
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no tps in pgbench's output: {stdout}"))?;
    let failed: u64 = stdout
        .lines()
        .find(|l| l.starts_with("number of failed transactions:"))
        .and_then(|l| l.split_whitespace().nth(4))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut lat = Vec::new();
    for entry in std::fs::read_dir(&logs)? {
        let text = std::fs::read_to_string(entry?.path())?;
        for line in text.lines() {
            // client_id transaction_no time(us) script_no time_epoch time_us
            if let Some(us) = line
                .split_whitespace()
                .nth(2)
                .and_then(|v| v.parse::<u64>().ok())
            {
                lat.push(Duration::from_micros(us));
            }
        }
    }
    let _ = std::fs::remove_dir_all(&logs);
    lat.sort();
    Ok(Figures {
        rps: tps,
        p50_ms: roster_bench::quantile_ms(&lat, 0.50),
        p99_ms: roster_bench::quantile_ms(&lat, 0.99),
        errors: failed,
    })
}

fn row(group: &str, scenario: &str, unit: &str, f: Figures, reference: (&str, f64)) -> Row {
    Row {
        group: group.to_string(),
        scenario: scenario.to_string(),
        unit: unit.to_string(),
        rate: f.rps,
        p50_ms: Some(f.p50_ms),
        p99_ms: Some(f.p99_ms),
        errors: f.errors,
        reference: reference.0.to_string(),
        ratio: f.rps / reference.1.max(f64::MIN_POSITIVE),
    }
}

/// Contracts that have a member 1 (user `c * 1000 + 1`): all but every 200th; the k-th of
/// them is `k + k / 199 + 1`, as in `bench/pgbench/*.sql`.
fn valid_contract(k: i64) -> i64 {
    k + k / 199 + 1
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if let (Ok(url), Ok(addr)) = (
        std::env::var("ROSTER_BENCH_REFERENCE_DB"),
        std::env::var("ROSTER_BENCH_REFERENCE_ADDR"),
    ) {
        return reference_server(url, addr).await;
    }
    let contracts = sized("ROSTER_BENCH_CONTRACTS", 10_000).max(2);
    let seconds = env_num("ROSTER_BENCH_SECONDS", 10) as u64;
    let concurrency = env_num("ROSTER_BENCH_CONCURRENCY", 32) as usize;
    let scratch = Scratch::create("roster_bench_api").await?;
    let store = Store::connect(&scratch.url, 4).await?;
    store.migrate().await?;
    let t = Instant::now();
    roster_bench::seed(&scratch.url, contracts).await?;
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
    let (roster, startup) = start_roster(&scratch.url, ROSTER, sink.port()).await?;
    let reference = start_reference(&scratch.url, REFERENCE).await?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()?;
    let postgraphile = match start_postgraphile(&scratch.url) {
        Ok(p) => match postgraphile_ready(&client).await {
            Ok(()) => Some(p),
            Err(e) => {
                println!("PostGraphile not measured: {e}");
                None
            }
        },
        Err(e) => {
            println!("PostGraphile not measured: {e}");
            None
        }
    };

    let duration = Duration::from_secs(seconds);
    // The contract page of issue 14: contracts of exactly 50 members (contract c has
    // 1 + c % 200), each read by its own Contract Manager (user c * 1000) with a session.
    let pages: Vec<i64> = (1..=contracts).filter(|c| c % 200 == 49).collect();
    let pages = if pages.is_empty() {
        vec![contracts]
    } else {
        pages
    };
    let mut tx = store.begin().await?;
    let mut page_tokens = Vec::with_capacity(pages.len());
    for c in &pages {
        page_tokens.push(roster_store::auth::create_session(&mut tx, c * 1000).await?);
    }
    tx.commit().await?;
    println!(
        "contract page: {} contracts of {} members, each read by its CM",
        pages.len(),
        1 + pages[0] % 200
    );
    let (pages, page_tokens) = (Arc::new(pages), Arc::new(page_tokens));
    let number = {
        let pages = pages.clone();
        move |i: u64| format!("C-{}", pages[i as usize % pages.len()])
    };
    let token_of = {
        let t = page_tokens.clone();
        move |i: u64| t[i as usize % t.len()].clone()
    };
    let _ = staff_key;
    let roster_read = read_pages(
        &client,
        Page::Roster(ROSTER),
        concurrency,
        duration,
        number.clone(),
        token_of.clone(),
    )
    .await;
    let rss = rss_mb(&roster.0);
    let reference_read = read_pages(
        &client,
        Page::Reference(REFERENCE),
        concurrency,
        duration,
        number.clone(),
        token_of.clone(),
    )
    .await;
    drop(reference);
    let postgraphile_read = match &postgraphile {
        None => None,
        Some(_) => {
            let c = client.clone();
            Some(
                load(concurrency, duration, move |i| {
                    let (c, number) = (c.clone(), number.clone());
                    async move {
                        let body =
                            json!({ "query": POSTGRAPHILE_QUERY, "variables": { "n": number(i) } });
                        let url = format!("http://{POSTGRAPHILE}/graphql");
                        post(&c, &url, None, &body, "\"totalCount\"").await
                    }
                })
                .await,
            )
        }
    };
    drop(postgraphile);

    // Mutations by Contract Managers (staff may not change a customer's people), each client
    // on contracts of its own: contract k of client w is the (w + k * concurrency)-th contract
    // with a member 1, so a client's grant and the revoke after it meet no other client.
    let valid = contracts - contracts / 200;
    let owned = (valid.min(4096) / concurrency as i64).max(1) * concurrency as i64;
    let owned = owned.min(valid);
    let mut tx = store.begin().await?;
    let mut tokens = Vec::with_capacity(owned as usize);
    for k in 0..owned {
        let c = valid_contract(k);
        tokens.push(roster_store::auth::create_session(&mut tx, c * 1000).await?);
    }
    tx.commit().await?;
    let tokens = Arc::new(tokens);
    let (c, tk) = (client.clone(), tokens.clone());
    let conc = concurrency as u64;
    let set_access = load(concurrency, duration, move |i| {
        let (c, tk) = (c.clone(), tk.clone());
        async move {
            // Request n of a client: its (n / 2)-th contract; grant REVIT to member 1, then
            // revoke it.
            let (w, n) = (i % conc, i / conc);
            let k = (w + (n / 2) * conc) % tk.len() as u64;
            let contract = valid_contract(k as i64);
            let revit = encode(Kind::ContractProduct, contract * 2).0;
            let access = json!({ "contractProductIds": [revit] });
            let mut input = json!({
                "contractId": encode(Kind::Contract, contract).0,
                "userIds": [encode(Kind::User, contract * 1000 + 1).0],
            });
            input[if n % 2 == 0 { "grant" } else { "revoke" }] = access;
            let body = json!({ "query": SET_USER_ACCESS, "variables": { "input": input } });
            let url = format!("http://{ROSTER}/graphql");
            post(&c, &url, Some(&tk[k as usize]), &body, "\"userErrors\":[]").await
        }
    })
    .await;
    let (c, tk) = (client.clone(), tokens.clone());
    let run = std::process::id();
    let add_users = load(concurrency, duration, move |i| {
        let (c, tk) = (c.clone(), tk.clone());
        async move {
            // One new person with a seat of ACAD (250 seats, at most 200 taken by the seed).
            let k = i % tk.len() as u64;
            let contract = valid_contract(k as i64);
            let input = json!({
                "contractId": encode(Kind::Contract, contract).0,
                "users": [{ "email": format!("new{run}.{i}@bench.example"), "firstName": "New", "lastName": format!("Person{i}") }],
                "access": { "contractProductIds": [encode(Kind::ContractProduct, contract * 2 - 1).0] },
            });
            let body = json!({ "query": ADD_USERS, "variables": { "input": input } });
            let url = format!("http://{ROSTER}/graphql");
            post(&c, &url, Some(&tk[k as usize]), &body, "\"userErrors\":[]").await
        }
    })
    .await;
    drop(roster);
    let raw_set_access = pgbench(&scratch.url, "set_user_access", valid, concurrency, seconds)?;
    let raw_add_users = pgbench(&scratch.url, "add_users", valid, concurrency, seconds)?;

    let (inconsistent,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM contract_products cp WHERE seats_assigned <> \
         (SELECT COUNT(*) FROM product_access pa WHERE pa.contract_product_id = cp.id)",
    )
    .fetch_one(store.pool())
    .await?;

    let small = small_database(&client, sink.port(), duration).await?;

    let read = "contract read";
    let refr = "same JSON, hand-written axum + sqlx";
    let mut reads = vec![
        row(
            read,
            "contract with members, Roster GraphQL",
            "req/s",
            roster_read,
            (refr, reference_read.rps),
        ),
        row(
            read,
            refr,
            "req/s",
            reference_read,
            (refr, reference_read.rps),
        ),
    ];
    if let Some(pg) = postgraphile_read {
        reads.push(row(
            read,
            "same query, PostGraphile 4",
            "req/s",
            pg,
            (refr, reference_read.rps),
        ));
    }
    let muts = "mutations";
    let raw_set = "setUserAccess as raw SQL, pgbench";
    let raw_add = "addUsers as raw SQL, pgbench";
    let mutations = vec![
        row(
            muts,
            "setUserAccess, Roster GraphQL",
            "mutations/s",
            set_access,
            (raw_set, raw_set_access.rps),
        ),
        row(
            muts,
            raw_set,
            "tx/s",
            raw_set_access,
            (raw_set, raw_set_access.rps),
        ),
        row(
            muts,
            "addUsers (1 person, 1 seat), Roster GraphQL",
            "mutations/s",
            add_users,
            (raw_add, raw_add_users.rps),
        ),
        row(
            muts,
            raw_add,
            "tx/s",
            raw_add_users,
            (raw_add, raw_add_users.rps),
        ),
    ];

    println!();
    print_table(&reads);
    if let Some(pg) = reads.get(2) {
        println!();
        println!(
            "Roster / PostGraphile: {:.2}x req/s; p99 {:.2} ms vs {:.2} ms",
            roster_read.rps / pg.rate.max(f64::MIN_POSITIVE),
            roster_read.p99_ms,
            pg.p99_ms.unwrap_or(0.0)
        );
    }
    println!();
    print_table(&small);
    println!();
    print_table(&mutations);
    println!();
    println!(
        "Roster start-up to /readyz: {:.0} ms; peak RSS under load: {:.1} MB",
        startup.as_secs_f64() * 1000.0,
        rss
    );
    println!(
        "contract products whose seat count differs from their seats afterwards: {inconsistent}"
    );
    let conditions = format!(
        "{contracts} contracts, {memberships} members; {concurrency} concurrent clients for {seconds} s each, from this process, on the same 2 cores"
    );
    println!("load: {conditions}");
    let mut rows = reads;
    rows.extend(small);
    rows.extend(mutations);
    record("api", &rows, &conditions)?;
    store.close().await;
    scratch.drop_database().await?;
    Ok(())
}
