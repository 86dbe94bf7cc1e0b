//! Email delivery that loses nothing and sends nothing twice (R24): worker crashes, an SMTP
//! outage, a lost queue, two workers, permanent failures and replays, resends, and hostile
//! names.

use roster_tests::process::{PrivateRedis, RosterProcess};
use roster_tests::smtp::Mode;
use roster_tests::{
    Backend, PROCESS_ORDER, TestApp, assert_each_email_once, both_backends, order_input,
};
use serde_json::json;
use std::time::{Duration, Instant};

const PASSWORD: &str = "correct horse battery";

async fn orders(app: &TestApp, prefix: &str, n: usize) {
    for i in 0..n {
        let data = app
            .staff(PROCESS_ORDER, json!({ "input": order_input(&format!("{prefix}-{i}"), &format!("cm{i}@{prefix}.example"), "BASIC", "MANUAL", json!([{ "productCode": "ACAD", "productName": "AutoCAD", "seats": 2 }])) }))
            .await;
        assert_eq!(data["processOrder"]["userErrors"], json!([]));
    }
}

async fn wait_for_messages(app: &TestApp, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while app.mails().await.len() < n {
        assert!(Instant::now() < deadline, "fewer than {n} emails arrived");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn fast_redelivery(s: &mut roster_api::config::Settings) {
    s.redeliver_after = Some("1s".into());
}

const ROSTER: &str = env!("CARGO_BIN_EXE_roster-proc");

/// How long fault tests wait for the queue to drain (generous: a killed worker's claims lapse
/// within a 20 s lease, and its lost jobs are handed over again 30 s after they were).
const SLOW_DRAIN: Duration = Duration::from_secs(180);

/// The fault test: a `roster worker` process killed with SIGKILL mid-drain, a new
/// one started while the SMTP server is down, the server held down a while, then back:
/// every email arrives, none twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r24_a_worker_process_killed_with_sigkill_loses_nothing_and_sends_nothing_twice() {
    let app = TestApp::spawn_configured(Backend::Postgres, false, fast_redelivery).await;
    orders(&app, "kill", 100).await;
    let first = RosterProcess::start(
        ROSTER,
        "worker-1",
        &app.worker_settings("first"),
        &["worker"],
    )
    .await;
    wait_for_messages(&app, 40).await;
    let sink = app.smtp.as_ref().unwrap();
    // The server goes down mid-drain; the worker's sends fail and wait for their retries
    // (a send cut after the server's 250 OK but before it is recorded cannot be told from
    // one never made: the Message-ID stays the same, so receivers can tell).
    sink.pause();
    tokio::time::sleep(Duration::from_millis(300)).await;
    first.kill().await;
    let at_kill = app.mails().await.len();
    let second = RosterProcess::start(
        ROSTER,
        "worker-2",
        &app.worker_settings("second"),
        &["worker"],
    )
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let during = app.mails().await.len();
    assert_eq!(during, at_kill, "nothing arrives while the server is down");
    sink.resume().await;
    app.drain_within(SLOW_DRAIN).await;
    assert!(
        second.stop().await,
        "the second worker stops cleanly on SIGTERM"
    );
    let (arrived, sent) = assert_each_email_once(&app).await;
    assert_eq!(sent, 200, "Order Processed and Get Started for 100 orders");
    let (retried,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM emails WHERE attempts > 1")
        .fetch_one(app.store.pool())
        .await
        .unwrap();
    eprintln!(
        "SIGKILLed worker + SMTP outage: {at_kill} of 200 arrived before the kill, {arrived} in all, \
         {sent} sent, {retried} needed more than one attempt, 0 twice, 0 lost"
    );
    app.stop().await;
}

/// Redis itself restarts mid-drain, losing every job it held (no persistence): the relay
/// hands the jobs over again from the database and every email still arrives once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r24_redis_restarted_mid_drain_every_email_still_arrives_once() {
    let mut redis = PrivateRedis::start().await;
    let redis_url = redis.url();
    let app = TestApp::spawn_configured(Backend::Postgres, false, |s| {
        fast_redelivery(s);
        s.redis_url = Some(redis_url);
    })
    .await;
    let sink = app.smtp.as_ref().unwrap();
    sink.pause();
    orders(&app, "redis", 30).await;
    let worker = RosterProcess::start(
        ROSTER,
        "worker",
        &app.worker_settings("survivor"),
        &["worker"],
    )
    .await;
    // Jobs are in Redis and the worker is retrying sends against the dead SMTP server.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    redis.kill();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    redis.start_again().await;
    sink.resume().await;
    app.drain_within(SLOW_DRAIN).await;
    assert!(worker.stop().await, "the worker stops cleanly on SIGTERM");
    let (arrived, sent) = assert_each_email_once(&app).await;
    assert_eq!(sent, 60);
    eprintln!("Redis restarted mid-drain: {arrived} arrived, {sent} sent, 0 twice, 0 lost");
    app.stop().await;
}

/// Moves every job waiting in the queue into the hands of worker `name`, as if it had fetched
/// them and then stopped without running them, its last heartbeat `seen_ago` ago; returns how
/// many jobs it now holds.
async fn hand_waiting_jobs_to(app: &TestApp, name: &str, seen_ago: Duration) -> usize {
    let seen = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        - seen_ago;
    let held = match roster_worker::open_queue(&app.queue()).await.unwrap() {
        roster_worker::QueueStorage::Redis(mut storage) => {
            let config = storage.get_config().clone();
            let conn = storage.get_connection();
            // apalis-redis files every pushed job under the scheduled set, due now.
            let (mut ids, scheduled): (Vec<String>, Vec<String>) = redis::pipe()
                .lrange(config.active_jobs_list(), 0, -1)
                .zrange(config.scheduled_jobs_set(), 0, -1)
                .query_async(conn)
                .await
                .unwrap();
            ids.extend(scheduled);
            if !ids.is_empty() {
                let _: () = redis::pipe()
                    .atomic()
                    .sadd(format!("{}:{name}", config.inflight_jobs_set()), &ids)
                    .del(config.active_jobs_list())
                    .del(config.scheduled_jobs_set())
                    .zadd(config.workers_set(), name, seen.as_secs())
                    .query_async(conn)
                    .await
                    .unwrap();
            }
            ids.len()
        }
        roster_worker::QueueStorage::Sqlite(storage) => {
            let seen = i64::try_from(seen.as_secs()).unwrap();
            sqlx::query(
                "INSERT INTO Workers (id, worker_type, storage_name, layers, last_seen) \
                 VALUES ($1, $2, 'SqliteStorage', '', $3)",
            )
            .bind(name)
            .bind(roster_worker::QUEUE)
            .bind(seen)
            .execute(storage.pool())
            .await
            .unwrap();
            sqlx::query(
                "UPDATE Jobs SET status = 'Queued', lock_by = $1, lock_at = $2 \
                 WHERE status = 'Pending'",
            )
            .bind(name)
            .bind(seen)
            .execute(storage.pool())
            .await
            .unwrap()
            .rows_affected() as usize
        }
    };
    assert!(held > 0, "jobs waited in the queue");
    held
}

/// Queues ten orders' jobs, puts them in the hands of worker `holder` (last seen `seen_ago`
/// ago) as fetched and never run, starts a worker with `settings` and checks that every email
/// arrives once within `limit`.
async fn held_jobs_arrive(
    app: &TestApp,
    holder: &str,
    seen_ago: Duration,
    settings: roster_api::config::Settings,
    limit: Duration,
) {
    orders(app, "held", 10).await;
    app.relay_until_idle().await;
    let held = hand_waiting_jobs_to(app, holder, seen_ago).await;
    let worker = TestApp::start_worker_with(settings);
    app.drain_within(limit).await;
    worker.stop().await;
    let (arrived, sent) = assert_each_email_once(app).await;
    eprintln!("{held} jobs held by {holder}; {arrived} emails arrived, {sent} sent");
}

/// A worker process restarted at once under the name it had (`ROSTER_WORKER_NAME`, a
/// supervisor restarting a crashed worker) finds its old self still registered, holding jobs
/// it fetched and never ran. apalis would hand them back only once the old heartbeat expired,
/// and never while the new worker beats under the same name; Roster gives them back at once
/// (R24).
async fn r24_a_worker_restarted_under_its_own_name_gets_its_unrun_jobs_back_at_once(
    backend: Backend,
) {
    let app = TestApp::spawn_with(backend, false).await;
    let settings = app.worker_settings("fixed");
    let name = settings.worker_name.clone().unwrap();
    // Well within the 30 s after which apalis would find the old worker dead.
    held_jobs_arrive(
        &app,
        &name,
        Duration::ZERO,
        settings,
        Duration::from_secs(20),
    )
    .await;
    app.stop().await;
}

/// A worker that vanished (SIGKILL, a lost machine) holding jobs it fetched is found out by
/// the other workers' heartbeats within 30 s, not apalis's default of 5 minutes, and its jobs
/// run (R24).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r24_jobs_held_by_a_vanished_worker_run_within_a_minute() {
    let app = TestApp::spawn_with(Backend::Postgres, false).await;
    let settings = app.worker_settings("survivor");
    let seen_ago = Duration::from_secs(40);
    held_jobs_arrive(
        &app,
        "vanished",
        seen_ago,
        settings,
        Duration::from_secs(60),
    )
    .await;
    app.stop().await;
}

/// Two `roster worker` processes on the same PostgreSQL and Redis deliver each email once
/// (each sending at most 200 a second, `ROSTER_SMTP_RATE`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r24_two_worker_processes_deliver_each_email_once() {
    let app = TestApp::spawn_configured(Backend::Postgres, false, |s| {
        s.smtp_rate = Some("200".into());
    })
    .await;
    orders(&app, "procs", 60).await;
    let mut workers = Vec::new();
    for name in ["a", "b"] {
        let s = app.worker_settings(&format!("proc-{name}"));
        workers.push(RosterProcess::start(ROSTER, name, &s, &["worker"]).await);
    }
    app.drain().await;
    for w in workers {
        assert!(w.stop().await, "a worker stops cleanly on SIGTERM");
    }
    let (arrived, sent) = assert_each_email_once(&app).await;
    assert_eq!(sent, 120);
    eprintln!("two worker processes: {arrived} arrived, {sent} sent, 0 twice");
    app.stop().await;
}

/// Two workers on the same database and queue deliver each email once.
async fn r24_two_workers_deliver_each_email_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let second = app.start_worker("second");
    orders(&app, "two", 15).await;
    app.drain().await;
    second.stop().await;
    let (arrived, sent) = assert_each_email_once(&app).await;
    assert_eq!(sent, 30);
    eprintln!("{backend:?} two workers: {arrived} arrived, {sent} sent");
    app.stop().await;
}

/// The relay keeps what it hands to the queue bounded, whatever is owed: the rest waits in the
/// database (apalis-redis wedges when it holds more than about 8,000 waiting jobs).
async fn r24_the_relay_keeps_the_queue_backlog_bounded(backend: Backend) {
    use roster_worker::relay::MAX_HANDED_OVER;
    let app = TestApp::spawn_with(backend, false).await;
    let owed = 2 * MAX_HANDED_OVER + 500;
    let mut tx = app.store.begin().await.unwrap();
    for i in 0..owed {
        roster_store::emails::enqueue(
            &mut tx,
            roster_store::emails::NewEmail {
                email: roster_domain::email::Email::NewRelease {
                    product_name: "AutoCAD".into(),
                    version: format!("{i}"),
                },
                idem_key: format!("backlog:{i}"),
                contract_id: None,
                user_id: None,
                recipient: format!("r{i}@backlog.example"),
            },
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    let handed = app.relay_until_idle().await;
    assert_eq!(
        handed as i64, MAX_HANDED_OVER,
        "no more than the bound goes over"
    );
    // Jobs done make room, and only that much more goes over.
    sqlx::query(
        "UPDATE emails SET status = 'SENT' WHERE id IN \
         (SELECT id FROM emails WHERE relayed_at IS NOT NULL ORDER BY id LIMIT 300)",
    )
    .execute(app.store.pool())
    .await
    .unwrap();
    assert_eq!(app.relay_until_idle().await, 300);
    let (waiting,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM emails WHERE status = 'QUEUED' AND relayed_at IS NULL",
    )
    .fetch_one(app.store.pool())
    .await
    .unwrap();
    assert_eq!(
        waiting,
        owed - MAX_HANDED_OVER - 300,
        "the rest waits in the ledger"
    );
    app.stop().await;
}

/// Jobs handed over and left unclaimed (a killed worker's) go over again 30 s later, but only
/// while the queue is short: a long queue is never pushed again, and an email a sender holds
/// is left to it (issue 18, finding 1).
async fn r24_unclaimed_jobs_go_over_again_soon_unless_the_queue_is_long(backend: Backend) {
    use roster_worker::relay::{UNCLAIMED_AFTER, UNCLAIMED_REDELIVERY_MAX};
    let app = TestApp::spawn_with(backend, false).await;
    let owed = 2 * UNCLAIMED_REDELIVERY_MAX + 100;
    let mut tx = app.store.begin().await.unwrap();
    for i in 0..owed {
        roster_store::emails::enqueue(
            &mut tx,
            roster_store::emails::NewEmail {
                email: roster_domain::email::Email::NewRelease {
                    product_name: "AutoCAD".into(),
                    version: format!("{i}"),
                },
                idem_key: format!("lost:{i}"),
                contract_id: None,
                user_id: None,
                recipient: format!("r{i}@lost.example"),
            },
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    assert_eq!(app.relay_until_idle().await as i64, owed);
    // Time passes: everything was handed over longer ago than UNCLAIMED_AFTER.
    let back = i64::try_from(UNCLAIMED_AFTER.as_millis()).unwrap() + 5_000;
    let backdate = |app: &TestApp| {
        let pool = app.store.pool().clone();
        async move {
            sqlx::query("UPDATE emails SET relayed_at = relayed_at - $1")
                .bind(back)
                .execute(&pool)
                .await
                .unwrap();
        }
    };
    backdate(&app).await;
    assert_eq!(
        app.relay_until_idle().await,
        0,
        "a long queue is not pushed again"
    );
    // Workers drain most of it; what is left unclaimed is taken as lost, but not the emails
    // a sender holds.
    sqlx::query(
        "UPDATE emails SET status = 'SENT' WHERE id IN \
         (SELECT id FROM emails ORDER BY id LIMIT $1)",
    )
    .bind(owed - UNCLAIMED_REDELIVERY_MAX / 2)
    .execute(app.store.pool())
    .await
    .unwrap();
    sqlx::query(
        "UPDATE emails SET claimed_until = $1 WHERE id IN \
         (SELECT id FROM emails WHERE status = 'QUEUED' ORDER BY id LIMIT 10)",
    )
    .bind(roster_store::now_ms() + 60_000)
    .execute(app.store.pool())
    .await
    .unwrap();
    assert_eq!(
        app.relay_until_idle().await as i64,
        UNCLAIMED_REDELIVERY_MAX / 2 - 10,
        "the unclaimed rest of a short queue goes over again, the held emails do not"
    );
    assert_eq!(
        app.relay_until_idle().await,
        0,
        "and not again before another UNCLAIMED_AFTER"
    );
    app.stop().await;
}

/// A 5xx is permanent: the email is FAILED (a dead letter), visible to admins, listed for
/// operators, and delivered once replayed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r24_permanent_failures_are_dead_letters_an_operator_replays() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let sink = app.smtp.as_ref().unwrap();
    sink.set_mode(Mode::Reject);
    orders(&app, "dead", 1).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while app
        .email_statuses()
        .await
        .get("FAILED")
        .copied()
        .unwrap_or(0)
        < 2
    {
        assert!(
            Instant::now() < deadline,
            "emails did not fail: {:?}",
            app.email_statuses().await
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (attempts,): (i64,) = sqlx::query_as("SELECT MAX(attempts) FROM emails")
        .fetch_one(app.store.pool())
        .await
        .unwrap();
    assert_eq!(attempts, 1, "a 5xx is not retried");
    sink.set_mode(Mode::Accept);
    let code = app.roster(&["emails", "replay", "--all"]).await;
    assert_eq!(code, std::process::ExitCode::SUCCESS);
    app.drain().await;
    let (arrived, sent) = assert_each_email_once(&app).await;
    assert_eq!((arrived, sent), (2, 2));
    app.stop().await;
}

/// A 4xx is retried with backoff until the server accepts; the delivery log shows it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r24_transient_failures_are_retried_and_logged() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let sink = app.smtp.as_ref().unwrap();
    sink.set_mode(Mode::TempFail);
    let data = app
        .staff(PROCESS_ORDER, json!({ "input": order_input("TMP-1", "cm@tmp.example", "BASIC", "MANUAL", json!([{ "productCode": "ACAD", "productName": "AutoCAD", "seats": 2 }])) }))
        .await;
    let number = data["processOrder"]["contract"]["number"]
        .as_str()
        .unwrap()
        .to_string();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (a,): (i64,) = sqlx::query_as("SELECT COALESCE(MAX(attempts), 0) FROM emails")
            .fetch_one(app.store.pool())
            .await
            .unwrap();
        if a >= 2 {
            break;
        }
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    sink.set_mode(Mode::Accept);
    app.drain().await;
    assert_each_email_once(&app).await;
    let cm = app.activate("cm@tmp.example", PASSWORD).await;
    let log = app
        .data(Some(&cm), "query($n: String!) { contract(number: $n) { emails { totalCount edges { node { kind recipient status attempts sentAt } } } } }", json!({ "n": number }))
        .await;
    let edges = log["contract"]["emails"]["edges"].as_array().unwrap();
    assert_eq!(log["contract"]["emails"]["totalCount"], 2);
    let processed = edges
        .iter()
        .find(|e| e["node"]["kind"] == "order-processed")
        .unwrap();
    assert_eq!(processed["node"]["status"], "SENT");
    assert!(
        processed["node"]["attempts"].as_i64().unwrap() >= 2,
        "{processed}"
    );
    app.stop().await;
}

/// An admin resends Get Started: a fresh link, and the old one stops working.
async fn resending_get_started_voids_the_old_link(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let c = app
        .contract("RES-1", "cm@res.example", "BASIC", "MANUAL", &[("ACAD", 3)])
        .await;
    let cm = app.activate("cm@res.example", PASSWORD).await;
    app.add_users(&cm, &c, &["late@res.example"], json!(null))
        .await;
    app.drain().await;
    let old = app.mails_to("late@res.example", "get-started").await[0]
        .activation_token()
        .unwrap();
    let uid = app.user_id("late@res.example").await;
    let r = app
        .data(
            Some(&cm),
            "mutation($i: ResendEmailInput!) { resendEmail(input: $i) { userErrors { code } } }",
            json!({ "i": { "contractId": c.id, "userId": uid, "kind": "GET_STARTED" } }),
        )
        .await;
    assert_eq!(r["resendEmail"]["userErrors"], json!([]));
    app.drain().await;
    let mails = app.mails_to("late@res.example", "get-started").await;
    assert_eq!(mails.len(), 2);
    let new = mails[1].activation_token().unwrap();
    assert_ne!(old, new);
    const ACTIVATE: &str = "mutation($t: String!) { activateAccount(input: {token: $t, password: \"correct horse battery\"}) { token userErrors { code } } }";
    let stale = app.data(None, ACTIVATE, json!({ "t": old })).await;
    assert_eq!(
        stale["activateAccount"]["userErrors"][0]["code"],
        "INVALID_TOKEN"
    );
    let fresh = app.data(None, ACTIVATE, json!({ "t": new })).await;
    assert!(fresh["activateAccount"]["token"].is_string());
    app.stop().await;
}

/// CR/LF in a name can never reach a header; markup in a name is escaped in the HTML part.
async fn r24_names_cannot_add_headers_or_markup(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut input = order_input(
        "EVIL-1",
        "cm@evil.example",
        "BASIC",
        "MANUAL",
        json!([{ "productCode": "ACAD", "productName": "AutoCAD", "seats": 2 }]),
    );
    input["purchaser"]["firstName"] = json!("Eve\r\nBcc: victim@else.example");
    let refused = app
        .staff(PROCESS_ORDER, json!({ "input": input.clone() }))
        .await;
    assert_eq!(
        refused["processOrder"]["userErrors"][0]["field"],
        json!(["input", "purchaser", "firstName"])
    );
    input["company"] = json!("Acme\nX-Injected: yes");
    input["purchaser"]["firstName"] = json!("<script>alert(1)</script>");
    let refused = app
        .staff(PROCESS_ORDER, json!({ "input": input.clone() }))
        .await;
    assert_eq!(
        refused["processOrder"]["userErrors"][0]["field"],
        json!(["input", "company"])
    );
    input["company"] = json!("Acme <b>& Sons</b>");
    let ok = app.staff(PROCESS_ORDER, json!({ "input": input })).await;
    assert_eq!(ok["processOrder"]["userErrors"], json!([]));
    app.drain().await;
    let mail = &app.mails_to("cm@evil.example", "order-processed").await[0];
    assert!(
        !mail.raw.contains("\nBcc:") && !mail.raw.contains("X-Injected"),
        "{}",
        mail.raw
    );
    assert!(!mail.html.contains("<script>"), "{}", mail.html);
    assert!(mail.html.contains("&lt;script&gt;"));
    assert!(
        mail.html.contains("Acme &lt;b&gt;&amp; Sons&lt;"),
        "{}",
        mail.html
    );
    assert!(!mail.html.contains("<b>"));
    assert!(
        mail.text.contains("Acme <b>& Sons</b>"),
        "plain text stays as typed"
    );
    app.stop().await;
}

both_backends!(
    r24_a_worker_restarted_under_its_own_name_gets_its_unrun_jobs_back_at_once,
    r24_the_relay_keeps_the_queue_backlog_bounded,
    r24_unclaimed_jobs_go_over_again_soon_unless_the_queue_is_long,
    r24_two_workers_deliver_each_email_once,
    resending_get_started_voids_the_old_link,
    r24_names_cannot_add_headers_or_markup,
);
