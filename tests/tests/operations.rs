//! Operator surfaces: per-operation metrics, request ids on responses and log lines, Roster's
//! jobs board and `/metrics` on the admin listener (in `roster serve` and `roster worker`),
//! and the settings that switch them.

use clap::Parser as _;
use roster_api::config::{LogFormat, Settings};
use roster_tests::smtp::{Mode, Sink};
use roster_tests::{Backend, PROCESS_ORDER, TestApp, both_backends, order_input};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

async fn get_text(url: &str) -> (u16, String) {
    let resp = reqwest::get(url).await.expect("the listener answers");
    (resp.status().as_u16(), resp.text().await.unwrap())
}

async fn get_json(url: &str) -> Value {
    let resp = reqwest::get(url).await.expect("the listener answers");
    let status = resp.status();
    let body = resp.text().await.unwrap();
    assert_eq!(status, 200, "{url}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|_| panic!("{url}: JSON, not {body}"))
}

/// The value of the sample line `series` (name and labels, exactly as rendered).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        l.strip_prefix(series)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

/// Asserts that sample `series` is there and at least `n`.
fn assert_at_least(text: &str, series: &str, n: f64) {
    let got = sample(text, series);
    assert!(
        got.is_some_and(|got| got >= n),
        "{series} is {got:?}: {text}"
    );
}

async fn named_operations_are_counted_and_timed_per_name(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // Names of this test's own, since every app in a process shares one recorder.
    let tag = format!("{:08x}", rand::random::<u32>());
    let (a, b) = (format!("OpsCountA{tag}"), format!("OpsCountB{tag}"));
    for _ in 0..2 {
        app.staff(&format!("query {a} {{ viewer {{ isStaff }} }}"), json!({}))
            .await;
    }
    app.staff(
        &format!("query {b} {{ contracts {{ totalCount }} }}"),
        json!({}),
    )
    .await;
    app.staff("{ viewer { isStaff } }", json!({})).await;
    // Refused before execution: counted, but under no name the client chose.
    let bad = app
        .gql(None, &format!("query OpsBroken{tag} {{ nope }}"), json!({}))
        .await;
    assert!(bad.get("errors").is_some());

    let (status, text) = get_text(&format!("{}/metrics", app.url)).await;
    assert_eq!(status, 200);
    let exactly = |key: String, n: f64| assert_eq!(sample(&text, &key), Some(n), "{key}: {text}");
    let at_least = |key: String, n: f64| assert_at_least(&text, &key, n);
    let ops = "roster_graphql_operations_total";
    exactly(format!("{ops}{{operation=\"{a}\",outcome=\"ok\"}}"), 2.0);
    exactly(format!("{ops}{{operation=\"{b}\",outcome=\"ok\"}}"), 1.0);
    at_least(
        format!("{ops}{{operation=\"anonymous\",outcome=\"ok\"}}"),
        1.0,
    );
    at_least(
        format!("{ops}{{operation=\"invalid\",outcome=\"error\"}}"),
        1.0,
    );
    assert!(!text.contains(&format!("OpsBroken{tag}")), "{text}");
    // A latency histogram per name.
    let hist = "roster_graphql_operation_duration_seconds";
    assert!(text.contains(&format!("# TYPE {hist} histogram")), "{text}");
    exactly(
        format!("{hist}_bucket{{operation=\"{a}\",le=\"+Inf\"}}"),
        2.0,
    );
    exactly(format!("{hist}_count{{operation=\"{b}\"}}"), 1.0);
    at_least(
        format!("{hist}_sum{{operation=\"{a}\"}}"),
        f64::MIN_POSITIVE,
    );
    // HTTP requests by route, and what /metrics always said.
    at_least(
        "roster_http_requests_total{method=\"POST\",route=\"/graphql\",status=\"200\"}".into(),
        5.0,
    );
    assert!(text.contains("# TYPE roster_http_request_duration_seconds histogram"));
    at_least("roster_graphql_requests_total".into(), 5.0);
    assert!(text.contains("roster_jobs_pending "), "{text}");
    assert!(text.contains("roster_outbox_lag_seconds "), "{text}");
    assert!(text.contains("roster_emails_queued "), "{text}");
    app.stop().await;
}

async fn responses_carry_a_request_id(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = reqwest::Client::new();
    let mut seen = Vec::new();
    for _ in 0..2 {
        let resp = client
            .post(format!("{}/graphql", app.url))
            .json(&json!({ "query": "{ __typename }" }))
            .send()
            .await
            .unwrap();
        let id = resp.headers()["x-request-id"].to_str().unwrap().to_string();
        assert_eq!(id.len(), 36, "a UUID: {id}");
        seen.push(id);
    }
    assert_ne!(seen[0], seen[1], "each request gets its own id");
    let resp = reqwest::get(format!("{}/healthz", app.url)).await.unwrap();
    assert!(resp.headers().contains_key("x-request-id"));
    // A caller's own id is kept, so a trace can cross services.
    let resp = client
        .get(format!("{}/readyz", app.url))
        .header("x-request-id", "caller-chose-this")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-request-id"], "caller-chose-this");
    app.stop().await;
}

/// Captured log output.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_log_lines_carry_the_request_id_and_no_personal_data() {
    use tracing_subscriber::layer::SubscriberExt as _;
    let captured = Captured::default();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::EnvFilter::new(
            "info,tower_http=debug,sqlx=warn,apalis=warn",
        ))
        .with(roster_api::telemetry::log_layer(
            LogFormat::Json,
            captured.clone(),
        ));
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");

    let app = TestApp::spawn(Backend::Sqlite).await;
    let purchaser = "pii.probe.purchaser@example.com";
    let resp = reqwest::Client::new()
        .post(format!("{}/graphql", app.url))
        .bearer_auth(&app.staff_key)
        .json(&json!({
            "query": PROCESS_ORDER,
            "variables": { "input": order_input("OPS-LOG-1", purchaser, "ADVANCED", "MANUAL",
                json!([{ "productCode": "P1", "productName": "P1 product", "seats": 3 }])) },
        }))
        .send()
        .await
        .unwrap();
    let id = resp.headers()["x-request-id"].to_str().unwrap().to_string();
    let body: Value = resp.json().await.unwrap();
    assert!(body.get("errors").is_none(), "{body}");
    app.drain().await;
    let wrong = app
        .gql(
            None,
            "mutation { signIn(input: {email: \"pii.probe.signin@example.com\", password: \"not-it\"}) { token } }",
            json!({}),
        )
        .await;
    assert!(wrong["data"]["signIn"]["token"].is_null(), "{wrong}");
    let staff_key = app.staff_key.clone();
    app.stop().await;

    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("a JSON line: {l}")))
        .collect();
    let of_request: Vec<&Value> = lines
        .iter()
        .filter(|l| {
            l["spans"]
                .as_array()
                .is_some_and(|s| s.iter().any(|s| s["request_id"] == id.as_str()))
        })
        .collect();
    assert!(
        of_request.len() >= 2,
        "the request's lines carry its id {id}: {text}"
    );
    // Every line inside a request span carries a request id.
    for line in &lines {
        if let Some(spans) = line["spans"].as_array()
            && spans.iter().any(|s| s["name"] == "request")
        {
            assert!(spans.iter().any(|s| s["request_id"].is_string()), "{line}");
        }
    }
    assert!(text.contains("\"email sent\""), "the worker logged: {text}");
    for secret in [
        "pii.probe",
        "Pat",
        "Purchaser",
        "not-it",
        staff_key.as_str(),
    ] {
        assert!(!text.contains(secret), "{secret:?} is in the logs: {text}");
    }
}

/// Rows of `sql` (text key, count) as a map, the ground truth the board is checked against.
async fn counts(app: &TestApp, sql: &'static str) -> BTreeMap<String, i64> {
    let rows: Vec<(String, i64)> = sqlx::query_as(sql)
        .fetch_all(app.store.pool())
        .await
        .unwrap();
    rows.into_iter().collect()
}

/// The board's row for `key` in `list` (its `field` equals `key`).
fn row<'a>(list: &'a Value, field: &str, key: &str) -> &'a Value {
    list.as_array()
        .and_then(|a| a.iter().find(|r| r[field] == key))
        .unwrap_or_else(|| panic!("no {field} {key} in {list}"))
}

/// HTML-escapes like the page does, to find a value in it.
fn escaped(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

async fn admin_listener_shows_queues_jobs_and_the_email_ledger(backend: Backend) {
    // A mail server of the test's own on both backends, so an email can be refused.
    let sink = Sink::start().await;
    let smtp = format!("smtp://127.0.0.1:{}", sink.port());
    let app = TestApp::spawn_configured(backend, true, |s| {
        s.admin_listen = Some("127.0.0.1:0".into());
        s.smtp_url = Some(smtp);
    })
    .await;
    let admin = app.admin_url().expect("an admin listener");
    assert_ne!(admin, app.url);
    app.contract(
        "OPS-BOARD-1",
        "board.cm@example.com",
        "ADVANCED",
        "MANUAL",
        &[("P1", 5)],
    )
    .await;
    // The second order's emails are refused for good (550): FAILED, with the server's reply.
    sink.set_mode(Mode::Reject);
    app.contract(
        "OPS-BOARD-2",
        "refused.cm@example.com",
        "ADVANCED",
        "MANUAL",
        &[("P1", 2)],
    )
    .await;
    let statuses = app.email_statuses().await;
    let sent = statuses.get("SENT").copied().unwrap_or(0);
    let failed = statuses.get("FAILED").copied().unwrap_or(0);
    assert!(
        sent >= 2 && failed >= 2,
        "one order sent, one refused: {statuses:?}"
    );
    let (jobs_done,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM outbox WHERE job = 'provision' AND done_at IS NOT NULL",
    )
    .fetch_one(app.store.pool())
    .await
    .unwrap();
    assert_eq!(jobs_done, 2, "both contracts provisioned");

    // The JSON: the real counts per queue, the ledger by kind, the failed emails and why.
    let board = get_json(&format!("{admin}/jobs.json")).await;
    let emails = row(&board["queues"], "queue", "send_email");
    assert_eq!(
        (
            &emails["pending"],
            &emails["running"],
            &emails["done"],
            &emails["failed"]
        ),
        (&json!(0), &json!(0), &json!(sent), &json!(failed)),
        "{board}"
    );
    let provision = row(&board["queues"], "queue", "provision");
    assert_eq!(
        (
            &provision["pending"],
            &provision["running"],
            &provision["done"],
            &provision["failed"]
        ),
        (&json!(0), &json!(0), &json!(2), &json!(0)),
        "{board}"
    );
    let by_kind = counts(
        &app,
        "SELECT kind || '/' || status, COUNT(*) FROM emails GROUP BY kind, status",
    )
    .await;
    let kinds = board["emails"].as_array().unwrap();
    assert_eq!(
        kinds.len(),
        by_kind
            .keys()
            .map(|k| k.split('/').next().unwrap())
            .collect::<std::collections::BTreeSet<_>>()
            .len(),
        "{board}"
    );
    for k in kinds {
        let kind = k["kind"].as_str().unwrap();
        for (status, field) in [
            ("QUEUED", "queued"),
            ("SENT", "sent"),
            ("FAILED", "failed"),
            ("CANCELLED", "cancelled"),
        ] {
            let want = by_kind
                .get(&format!("{kind}/{status}"))
                .copied()
                .unwrap_or(0);
            assert_eq!(k[field], json!(want), "{kind} {field}: {board}");
        }
    }
    let order_processed = row(&board["emails"], "kind", "order-processed");
    assert_eq!(
        (&order_processed["sent"], &order_processed["failed"]),
        (&json!(1), &json!(1))
    );
    let dead = board["failed"].as_array().unwrap();
    assert_eq!(dead.len() as i64, failed, "{board}");
    let refused = row(&board["failed"], "kind", "order-processed");
    assert_eq!(refused["state"], "failed");
    assert_eq!(refused["attempts"], 1, "a 5xx is not retried");
    let error = refused["last_error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        error.contains("no such user"),
        "the server's reply: {refused}"
    );
    let latest = board["latest"].as_array().unwrap();
    assert!(
        latest
            .iter()
            .any(|j| j["queue"] == "provision" && j["state"] == "done"),
        "{board}"
    );
    assert_eq!(
        latest.iter().filter(|j| j["queue"] == "send_email").count() as i64,
        sent + failed,
        "{board}"
    );
    assert!(
        !board.to_string().contains("@example.com"),
        "no recipient: {board}"
    );

    // The page: the same counts and the error, escaped.
    let resp = reqwest::get(format!("{admin}/")).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = resp.text().await.unwrap();
    let n = |v: i64| format!("<td class=\"n\">{v}</td>");
    for expected in [
        format!(
            "<tr data-queue=\"send_email\"><td>send_email</td>{}{}{}{}</tr>",
            n(0),
            n(0),
            n(sent),
            n(failed)
        ),
        format!(
            "<tr data-queue=\"provision\"><td>provision</td>{}{}{}{}</tr>",
            n(0),
            n(0),
            n(2),
            n(0)
        ),
        format!(
            "<tr data-kind=\"order-processed\"><td>order-processed</td>{}{}{}{}</tr>",
            n(0),
            n(1),
            n(1),
            n(0)
        ),
        escaped(&error),
    ] {
        assert!(html.contains(&expected), "{expected} in {html}");
    }
    assert!(!html.contains("@example.com"), "no recipient: {html}");

    // /metrics there too, with the job counters.
    let (status, text) = get_text(&format!("{admin}/metrics")).await;
    assert_eq!(status, 200);
    assert_at_least(
        &text,
        "roster_jobs_total{kind=\"provision\",outcome=\"ok\"}",
        1.0,
    );
    assert!(text.contains("roster_jobs_pending "), "{text}");
    // The board is not on the API listener.
    for path in ["/jobs.json", "/api/v1/queues"] {
        let resp = reqwest::get(format!("{}{path}", app.url)).await.unwrap();
        assert_eq!(resp.status(), 404, "{path}");
    }
    app.stop().await;
}

async fn the_board_shows_an_email_being_sent_as_running(backend: Backend) {
    // A mail server that takes connections and never answers: a send waits on it, claimed.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let smtp = format!("smtp://{}", silent.local_addr().unwrap());
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            open.push(socket);
        }
    });
    let app = TestApp::spawn_configured(backend, true, |s| {
        s.admin_listen = Some("127.0.0.1:0".into());
        s.smtp_url = Some(smtp);
    })
    .await;
    let admin = app.admin_url().unwrap();
    let data = app
        .staff(
            PROCESS_ORDER,
            json!({ "input": order_input("OPS-RUNNING-1", "running.cm@example.com", "ADVANCED", "MANUAL",
                json!([{ "productCode": "P1", "productName": "P1 product", "seats": 2 }])) }),
        )
        .await;
    assert!(data["processOrder"]["contract"].is_object(), "{data}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    // The worker claims the two emails one after the other: the board and the ledger are
    // compared once they have settled (the silent server holds both claims).
    let board = loop {
        let board = get_json(&format!("{admin}/jobs.json")).await;
        let (claimed,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM emails WHERE status = 'QUEUED' AND claimed_until IS NOT NULL",
        )
        .fetch_one(app.store.pool())
        .await
        .unwrap();
        let running = &row(&board["queues"], "queue", "send_email")["running"];
        if *running != 0 && *running == json!(claimed) {
            break board;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no email shown running as claimed ({claimed}): {board}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let emails = row(&board["queues"], "queue", "send_email");
    assert_eq!((&emails["done"], &emails["failed"]), (&json!(0), &json!(0)));
    let running = board["latest"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["queue"] == "send_email" && j["state"] == "running")
        .unwrap_or_else(|| panic!("a running email in {board}"));
    assert_eq!(running["attempts"], 1, "{board}");
    let html = reqwest::get(format!("{admin}/"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("<tr class=\"running\"><td>send_email</td>"),
        "{html}"
    );
    // The server goes away: the send fails and is retried; the test is done.
    held.abort();
    app.stop().await;
}

async fn without_admin_listen_there_is_no_admin_listener(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    assert_eq!(app.admin_url(), None);
    let resp = reqwest::get(format!("{}/jobs.json", app.url))
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    app.stop().await;
}

async fn roster_worker_serves_job_counters_on_its_admin_listener(backend: Backend) {
    // The API runs no worker; a separate `roster worker` does the jobs.
    let app = TestApp::spawn_configured(backend, false, |s| {
        s.admin_listen = Some("127.0.0.1:0".into())
    })
    .await;
    let data = app
        .staff(
            PROCESS_ORDER,
            json!({ "input": order_input("OPS-WORKER-1", "worker.cm@example.com", "ADVANCED", "MANUAL",
                json!([{ "productCode": "P1", "productName": "P1 product", "seats": 2 }])) }),
        )
        .await;
    assert!(data["processOrder"]["contract"].is_object(), "{data}");
    // No worker yet: the API's own board shows the work owed and not started.
    let queued = app
        .email_statuses()
        .await
        .get("QUEUED")
        .copied()
        .unwrap_or(0);
    let board = get_json(&format!("{}/jobs.json", app.admin_url().unwrap())).await;
    let provision = row(&board["queues"], "queue", "provision");
    assert_eq!(
        (
            &provision["pending"],
            &provision["running"],
            &provision["done"]
        ),
        (&json!(1), &json!(0), &json!(0)),
        "{board}"
    );
    let emails = row(&board["queues"], "queue", "send_email");
    assert_eq!(
        (&emails["pending"], &emails["done"]),
        (&json!(queued), &json!(0)),
        "{board}"
    );
    assert!(
        board["latest"]
            .as_array()
            .unwrap()
            .iter()
            .any(|j| j["queue"] == "provision" && j["state"] == "pending"),
        "{board}"
    );

    let (worker, admin) = app.start_worker_with_admin("ops").await;
    app.drain().await;

    let (status, text) = get_text(&format!("{admin}/metrics")).await;
    assert_eq!(status, 200);
    assert_at_least(
        &text,
        "roster_jobs_total{kind=\"provision\",outcome=\"ok\"}",
        1.0,
    );
    assert_at_least(
        &text,
        "roster_jobs_total{kind=\"send_email\",outcome=\"ok\"}",
        1.0,
    );
    assert_at_least(
        &text,
        "roster_emails_sent_total{kind=\"order-processed\"}",
        1.0,
    );
    assert!(
        text.contains("# TYPE roster_job_duration_seconds histogram"),
        "{text}"
    );
    assert_eq!(sample(&text, "roster_jobs_pending"), Some(0.0), "{text}");
    assert_eq!(
        sample(&text, "roster_outbox_lag_seconds"),
        Some(0.0),
        "{text}"
    );
    // Its board shows the work done.
    let board = get_json(&format!("{admin}/jobs.json")).await;
    let provision = row(&board["queues"], "queue", "provision");
    assert_eq!(
        (&provision["pending"], &provision["done"]),
        (&json!(0), &json!(1)),
        "{board}"
    );
    let emails = row(&board["queues"], "queue", "send_email");
    let sent = app.email_statuses().await.get("SENT").copied().unwrap_or(0);
    assert!(sent >= 1);
    assert_eq!(
        (&emails["pending"], &emails["done"]),
        (&json!(0), &json!(sent)),
        "{board}"
    );
    worker.shutdown().await.expect("the worker stops cleanly");
    // Stopped, its listener is gone.
    assert!(reqwest::get(format!("{admin}/metrics")).await.is_err());
    app.stop().await;
}

#[tokio::test]
async fn bad_admin_listen_and_log_format_fail_with_one_line_naming_the_setting() {
    for (args, setting) in [
        (
            &["roster", "--admin-listen", "localhost"][..],
            "ROSTER_ADMIN_LISTEN",
        ),
        (
            &["roster", "--admin-listen", "127.0.0.1"][..],
            "ROSTER_ADMIN_LISTEN",
        ),
        (&["roster", "--log-format", "xml"][..], "ROSTER_LOG_FORMAT"),
    ] {
        let cli = roster_api::cli::Cli::parse_from(args);
        let err = cli.settings.resolve().unwrap_err();
        let line = err.to_string();
        assert!(line.starts_with(&format!("{setting}: ")), "{line}");
        assert!(!line.contains('\n'), "{line}");
        // The command refuses to start.
        let mut cli = roster_api::cli::Cli::parse_from(args.iter().chain(&["serve"]));
        cli.settings.listen = Some("127.0.0.1:0".into());
        let dir = tempfile::tempdir().unwrap();
        cli.settings.data_dir = Some(dir.path().display().to_string());
        assert_eq!(
            roster_api::cli::run(cli).await,
            std::process::ExitCode::from(2)
        );
    }
    let ok = Settings {
        admin_listen: Some("127.0.0.1:9090".into()),
        log_format: Some("JSON".into()),
        ..Settings::default()
    }
    .resolve()
    .unwrap();
    assert_eq!(ok.admin_listen, Some("127.0.0.1:9090".parse().unwrap()));
    assert_eq!(ok.log_format, LogFormat::Json);
}

both_backends!(
    named_operations_are_counted_and_timed_per_name,
    responses_carry_a_request_id,
    admin_listener_shows_queues_jobs_and_the_email_ledger,
    the_board_shows_an_email_being_sent_as_running,
    without_admin_listen_there_is_no_admin_listener,
    roster_worker_serves_job_counters_on_its_admin_listener,
);
