//! Emails per second end to end in production mode: from a committed ledger row to the SMTP
//! server's 250 OK, through the relay, Redis and the worker; beside the SMTP server's own
//! ceiling (lettre straight to it, same pool size). `ROSTER_BENCH_EMAILS` (or
//! `ROSTER_BENCH_SCALE`) sets the count.

#![allow(clippy::print_stdout)] // a benchmark prints its figures

use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use roster_bench::{Row, record};
use roster_domain::SupportLevel;
use roster_domain::email::{Email, OrderedProduct};
use roster_tests::{Backend, TestApp};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let n: i64 = roster_bench::sized("ROSTER_BENCH_EMAILS", 100_000);
    let app = TestApp::spawn_configured(Backend::Postgres, false, |_| {}).await;
    let email = Email::OrderProcessed {
        contract_number: "1234-567890".into(),
        order_number: "SO-1".into(),
        company: "Bench Ltd".into(),
        first_name: "Pat".into(),
        support_level: SupportLevel::Basic,
        start_date: chrono::NaiveDate::from_ymd_opt(2026, 1, 1).expect("a date"),
        end_date: chrono::NaiveDate::from_ymd_opt(2027, 1, 1).expect("a date"),
        products: vec![OrderedProduct {
            name: "AutoCAD".into(),
            code: "ACAD".into(),
            seats: 5,
        }],
        add_on: false,
    };
    sqlx::query(
        "INSERT INTO emails (idem_key, kind, recipient, params, created_at) \
         SELECT 'bench:' || g, $2, 'r' || g || '@bench.example', $3, 0 \
         FROM generate_series(1, $1::bigint) g",
    )
    .bind(n)
    .bind(email.kind().as_str())
    .bind(email.params().to_string())
    .execute(app.store.pool())
    .await?;
    let worker = app.start_worker("bench");
    let t = Instant::now();
    // Waits until nothing is QUEUED, asking only whether any is (one probe of the partial
    // index `emails_queued_idx`; a COUNT over 100,000 queued rows every 50 ms took a fifth of
    // the database's time from the worker), then checks that every email ended SENT.
    loop {
        let (any_queued,): (bool,) =
            sqlx::query_as("SELECT EXISTS (SELECT 1 FROM emails WHERE status = 'QUEUED')")
                .fetch_one(app.store.pool())
                .await?;
        if !any_queued {
            break;
        }
        anyhow::ensure!(
            t.elapsed() < Duration::from_secs(1800),
            "emails still queued after 30 minutes"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let roster_s = t.elapsed().as_secs_f64();
    let (sent,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM emails WHERE status = 'SENT'")
        .fetch_one(app.store.pool())
        .await?;
    anyhow::ensure!(sent == n, "only {sent} of {n} emails ended SENT");
    worker.stop().await;
    let sink = app.smtp.as_ref().expect("an SMTP sink");
    let messages = sink.messages();
    let ids: BTreeSet<String> = messages
        .iter()
        .filter_map(|m| {
            String::from_utf8_lossy(m)
                .lines()
                .find(|l| l.starts_with("Message-ID:"))
                .map(str::to_string)
        })
        .collect();

    // The sink's ceiling: the same number of messages, lettre straight to it, 32 at a time.
    let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(sink.port())
        .pool_config(lettre::transport::smtp::PoolConfig::new().max_size(8))
        .build();
    let body = Message::builder()
        .from("Roster <roster@bench.example>".parse()?)
        .to("r@bench.example".parse()?)
        .subject("ceiling")
        .body(String::from("x").repeat(2000))?;
    let t = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..32 {
        let (transport, body) = (transport.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = w;
            while i < n {
                transport
                    .send(body.clone())
                    .await
                    .expect("the sink accepts");
                i += 32;
            }
        }));
    }
    for task in tasks {
        task.await?;
    }
    let ceiling_s = t.elapsed().as_secs_f64();
    println!();
    println!("| scenario | emails | time | emails/s | ratio |");
    println!("|---|---|---|---|---|");
    println!(
        "| Roster end to end (ledger row to 250 OK) | {n} | {roster_s:.1} s | {:.0} | {:.2}x |",
        n as f64 / roster_s,
        ceiling_s / roster_s
    );
    println!(
        "| SMTP sink ceiling (lettre direct, pool of 8) | {n} | {ceiling_s:.1} s | {:.0} | 1.00x |",
        n as f64 / ceiling_s
    );
    println!();
    println!(
        "delivered {} messages, {} distinct Message-IDs, for {n} emails: {} lost, {} twice",
        messages.len(),
        ids.len(),
        n as usize - ids.len().min(n as usize),
        messages.len() - ids.len()
    );
    let group = "emails end to end";
    let ceiling = "SMTP sink ceiling (lettre direct, pool of 8)";
    let email_row = |scenario: &str, secs: f64| Row {
        group: group.to_string(),
        scenario: scenario.to_string(),
        unit: "emails/s".to_string(),
        rate: n as f64 / secs,
        p50_ms: None,
        p99_ms: None,
        errors: 0,
        reference: ceiling.to_string(),
        ratio: ceiling_s / secs,
    };
    record(
        "emails",
        &[
            email_row("Roster end to end (ledger row to 250 OK)", roster_s),
            email_row(ceiling, ceiling_s),
        ],
        &format!("{n} emails, one worker, SMTP sink in the benchmark process, same 2 cores"),
    )?;
    app.stop().await;
    Ok(())
}
