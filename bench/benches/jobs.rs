//! Jobs per second through apalis-redis, configured as Roster's worker configures it
//! (`roster_worker::redis_config`, its poll strategy and concurrency), with a no-op handler;
//! beside BullMQ on the same Redis with a no-op processor, the same number of jobs and the same
//! concurrency.
//!
//! Both sides push jobs one at a time from `concurrency` producers, then drain them with a
//! worker, in rounds of `ROSTER_BENCH_JOB_BATCH` (5,000; see below why); the time to drain
//! runs from the worker's start to the round's last completed job
//! (apalis's `Success` event after the ack, BullMQ's `completed` event). `ROSTER_BENCH_JOBS`
//! (or `ROSTER_BENCH_SCALE`) sets N, 20,000 by default. Needs `npm ci` in `bench/peers`.

#![allow(clippy::print_stdout)] // a benchmark prints its figures

use apalis::prelude::*;
use roster_bench::{Row, env_num, record, sized};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

const REDIS_URL: &str = "redis://127.0.0.1:6379";

async fn noop(_job: i64) -> Result<(), BoxDynError> {
    Ok(())
}

/// Push and drain times, in seconds.
struct Run {
    push_s: f64,
    drain_s: f64,
}

async fn apalis_run(n: i64, batch: i64, concurrency: usize, queue: &str) -> anyhow::Result<Run> {
    let conn = apalis_redis::connect(REDIS_URL).await?;
    let storage = apalis_redis::RedisStorage::<i64>::new(conn)
        .with_config(roster_worker::redis_config(queue));
    let mut run = Run {
        push_s: 0.0,
        drain_s: 0.0,
    };
    let mut round = 0;
    let mut first = 0;
    while first < n {
        let last = (first + batch).min(n);
        let t = Instant::now();
        let mut producers = Vec::new();
        for w in 0..concurrency as i64 {
            let mut s = storage.clone();
            producers.push(tokio::spawn(async move {
                let mut i = first + w;
                while i < last {
                    s.push(i).await.map_err(|e| anyhow::anyhow!("push: {e}"))?;
                    i += concurrency as i64;
                }
                anyhow::Ok(())
            }));
        }
        for p in producers {
            p.await??;
        }
        run.push_s += t.elapsed().as_secs_f64();

        let want = last - first;
        let done = Arc::new(AtomicI64::new(0));
        let all_done = Arc::new(tokio::sync::Notify::new());
        let (counter, notify) = (done.clone(), all_done.clone());
        let name = format!("roster-bench-jobs-{}-{round}", std::process::id());
        let worker = WorkerBuilder::new(name)
            .backend(
                storage
                    .clone()
                    .poll_with_strategy(roster_worker::poll::Every::new(roster_worker::POLL)),
            )
            .concurrency(concurrency)
            .on_event(move |_ctx, event| {
                if matches!(event, Event::Success(_))
                    && counter.fetch_add(1, Ordering::SeqCst) + 1 == want
                {
                    notify.notify_one();
                }
            })
            .build(noop);
        let t = Instant::now();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let mut running = tokio::spawn(worker.run_until(async move {
            let _ = stopped.await;
            Ok::<(), std::io::Error>(())
        }));
        tokio::select! {
            () = all_done.notified() => {}
            ended = &mut running => anyhow::bail!(
                "the apalis worker stopped after {} of {want} jobs: {ended:?}",
                done.load(Ordering::SeqCst)
            ),
            () = tokio::time::sleep(Duration::from_secs(600)) => anyhow::bail!(
                "only {} of {want} jobs done in 600 s",
                done.load(Ordering::SeqCst)
            ),
        }
        run.drain_s += t.elapsed().as_secs_f64();
        let _ = stop.send(());
        let _ = tokio::time::timeout(Duration::from_secs(30), running).await;
        first = last;
        round += 1;
    }
    Ok(run)
}

fn bullmq_run(n: i64, batch: i64, concurrency: usize, queue: &str) -> anyhow::Result<Run> {
    let peers = roster_bench::peers_dir();
    anyhow::ensure!(
        peers.join("node_modules/bullmq").exists(),
        "BullMQ is not installed: run `npm ci` in {}",
        peers.display()
    );
    let out = std::process::Command::new("node")
        .arg("bullmq.js")
        .arg(n.to_string())
        .arg(concurrency.to_string())
        .arg(REDIS_URL)
        .arg(queue)
        .arg(batch.to_string())
        .current_dir(&peers)
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "bullmq.js: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    Ok(Run {
        push_s: v["push_s"].as_f64().unwrap_or(f64::NAN),
        drain_s: v["drain_s"].as_f64().unwrap_or(f64::NAN),
    })
}

/// Deletes the keys a run left in Redis.
async fn clean(prefix: &str) -> anyhow::Result<()> {
    let client = redis::Client::open(REDIS_URL)?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut conn)
        .await?;
    for chunk in keys.chunks(500) {
        let _: i64 = redis::cmd("DEL").arg(chunk).query_async(&mut conn).await?;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let n = sized("ROSTER_BENCH_JOBS", 20_000);
    // apalis-redis 1.0 pushes every job into its scheduled set and promotes all due ones in
    // one Lua call (`rpush(unpack(ids))`), which Redis refuses beyond about 8,000 ids ("too
    // many results to unpack"): more jobs pushed before a worker fetches wedge the queue. So
    // both sides push and drain in rounds of at most this many jobs.
    let batch = env_num("ROSTER_BENCH_JOB_BATCH", 5_000).max(1);
    let concurrency = env_num(
        "ROSTER_BENCH_JOB_CONCURRENCY",
        roster_worker::JOB_CONCURRENCY as i64,
    ) as usize;
    let pid = std::process::id();
    let apalis_queue = format!("roster-bench-{pid}:jobs");
    let bullmq_queue = format!("roster-bench-bullmq-{pid}");

    let apalis = apalis_run(n, batch, concurrency, &apalis_queue).await;
    clean(&apalis_queue).await?;
    let apalis = apalis?;
    let bullmq = bullmq_run(n, batch, concurrency, &bullmq_queue);
    clean(&format!("bull:{bullmq_queue}")).await?;

    let group = "jobs";
    let rate = |s: f64| n as f64 / s;
    let job_row = |scenario: &str, rate: f64, reference: &str, of: f64| Row {
        group: group.to_string(),
        scenario: scenario.to_string(),
        unit: "jobs/s".to_string(),
        rate,
        p50_ms: None,
        p99_ms: None,
        errors: 0,
        reference: reference.to_string(),
        ratio: rate / of.max(f64::MIN_POSITIVE),
    };
    let (drain_ref, push_ref) = ("drain, BullMQ no-op processor", "push, BullMQ Queue.add");
    let mut rows = Vec::new();
    match &bullmq {
        Ok(b) => {
            rows.push(job_row(
                "drain, apalis-redis no-op handler (Roster's worker setup)",
                rate(apalis.drain_s),
                drain_ref,
                rate(b.drain_s),
            ));
            rows.push(job_row(
                drain_ref,
                rate(b.drain_s),
                drain_ref,
                rate(b.drain_s),
            ));
            rows.push(job_row(
                "push, apalis-redis TaskSink::push",
                rate(apalis.push_s),
                push_ref,
                rate(b.push_s),
            ));
            rows.push(job_row(push_ref, rate(b.push_s), push_ref, rate(b.push_s)));
        }
        Err(e) => {
            println!("BullMQ not measured: {e}");
            let own = "drain, apalis-redis no-op handler (Roster's worker setup)";
            rows.push(job_row(
                own,
                rate(apalis.drain_s),
                own,
                rate(apalis.drain_s),
            ));
        }
    }
    println!();
    println!("| scenario | jobs | time | jobs/s | ratio |");
    println!("|---|---|---|---|---|");
    let secs = |r: &Row| n as f64 / r.rate;
    for r in &rows {
        println!(
            "| {} | {n} | {:.2} s | {:.0} | {:.2}x |",
            r.scenario,
            secs(r),
            r.rate,
            r.ratio
        );
    }
    let conditions = format!(
        "{n} jobs in rounds of {batch}: pushed one at a time by {concurrency} producers, then drained by a fresh worker with concurrency {concurrency}; Redis 7 on 127.0.0.1, same 2 cores"
    );
    println!();
    println!("load: {conditions}");
    record("jobs", &rows, &conditions)?;
    Ok(())
}
