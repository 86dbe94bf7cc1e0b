//! The renewal pass over 1,000,000 contracts on PostgreSQL (issue: target first pass ≤ 2 s
//! without email delivery, and an immediate second pass owes nothing).
//!
//! `cargo bench -p roster-bench --bench renewals` (set `ROSTER_BENCH_CONTRACTS` for another
//! size). End dates are spread evenly over the next three years, so about 4% of contracts are
//! inside the 45-day notice window, as in a steady-state book of annual contracts.

#![allow(clippy::print_stdout)] // a benchmark prints its figures

use roster_bench::Scratch;
use roster_store::Store;
use roster_store::renewals::run_pass;
use std::time::Instant;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let n: i64 = roster_bench::sized("ROSTER_BENCH_CONTRACTS", 1_000_000);
    let as_of = chrono::NaiveDate::from_ymd_opt(2026, 11, 23).expect("a date");
    let scratch = Scratch::create("roster_bench_renewals").await?;
    let store = Store::connect(&scratch.url, 4).await?;
    store.migrate().await?;
    let seed = Instant::now();
    // Seeding is plain SQL on purpose: it measures nothing of Roster.
    let pg = sqlx::PgPool::connect(&scratch.url).await?;
    for sql in [
        "INSERT INTO companies (id, name, created_at) SELECT g, 'Company ' || g, 0 FROM generate_series(1, $1::bigint) g",
        "INSERT INTO users (id, email, first_name, last_name, language, created_at) SELECT g, 'cm' || g || '@bench.example', 'Casey', 'Manager' || g, 'en', 0 FROM generate_series(1, $1::bigint) g",
        "INSERT INTO contracts (id, number, order_number, company_id, status, support_level, renewal_kind, billing_period, start_date, end_date, created_at) \
         SELECT g, 'B-' || g, 'BO-' || g, g, 'ACTIVE', 'BASIC', (ARRAY['AUTO','RESELLER','MANUAL'])[1 + g % 3], 'ANNUAL', \
         to_char(date '2026-11-23' + (g % 1095)::int + 1 - 365, 'YYYY-MM-DD'), to_char(date '2026-11-23' + (g % 1095)::int + 1, 'YYYY-MM-DD'), 0 \
         FROM generate_series(1, $1::bigint) g",
        "INSERT INTO memberships (contract_id, user_id, status, is_manager, created_at) SELECT g, g, 'ACTIVE', 1, 0 FROM generate_series(1, $1::bigint) g",
    ] {
        sqlx::query(sql).bind(n).execute(&pg).await?;
    }
    for table in ["companies", "users", "contracts"] {
        let sql = format!(
            "SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"
        );
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&pg).await?;
    }
    sqlx::raw_sql("ANALYZE").execute(&pg).await?;
    println!(
        "seeded {n} contracts in {:.1} s",
        seed.elapsed().as_secs_f64()
    );

    let first = Instant::now();
    let report = run_pass(&store, as_of).await?;
    let first_s = first.elapsed().as_secs_f64();
    let second = Instant::now();
    let again = run_pass(&store, as_of).await?;
    let second_s = second.elapsed().as_secs_f64();
    println!();
    println!("| pass | contracts | notices owed | renewed | expired | time |");
    println!("|---|---|---|---|---|---|");
    println!(
        "| first | {n} | {} | {} | {} | {first_s:.3} s |",
        report.notices, report.renewed, report.expired
    );
    println!(
        "| second (immediately) | {n} | {} | {} | {} | {second_s:.3} s |",
        again.notices, again.renewed, again.expired
    );
    println!();
    println!(
        "target: first pass <= 2 s: {}; second pass owes nothing: {}",
        if first_s <= 2.0 { "met" } else { "NOT met" },
        if again.notices == 0 && again.renewed == 0 && again.expired == 0 {
            "met"
        } else {
            "NOT met"
        }
    );
    pg.close().await;
    store.close().await;
    scratch.drop_database().await?;
    Ok(())
}
