//! Operator surfaces: per-operation metrics, request ids on responses and log lines, the
//! jobs board and `/metrics` on the admin listener (in `roster serve` and `roster worker`),
//! and the settings that switch them.

use clap::Parser as _;
use roster_api::config::{LogFormat, Settings};
use roster_tests::{Backend, PROCESS_ORDER, TestApp, both_backends, order_input};
use serde_json::{Value, json};
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

async fn admin_listener_serves_the_jobs_board_and_metrics(backend: Backend) {
    let app = TestApp::spawn_configured(backend, true, |s| {
        s.admin_listen = Some("127.0.0.1:0".into())
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
    let queue = app.queue().name();

    // The board's API: its overview, the worker that ran the jobs, and the jobs done.
    let overview = get_json(&format!("{admin}/api/v1/overview")).await;
    assert!(
        overview
            .as_array()
            .is_some_and(|a| a.iter().any(|s| s["title"] == "TOTAL_JOBS")),
        "{overview}"
    );
    let workers = get_json(&format!("{admin}/api/v1/workers")).await;
    assert!(
        workers.as_array().unwrap().iter().any(|w| w["queue"]
            .as_str()
            .is_some_and(|q| q.starts_with(queue.as_str()))),
        "a worker of {queue} in {workers}"
    );
    let done = get_json(&format!("{admin}/api/v1/queues/{queue}/tasks?status=Done")).await;
    if backend == Backend::Sqlite {
        // apalis-redis 1.0 answers these two with errors of its own (its Lua scripts).
        let queues = get_json(&format!("{admin}/api/v1/queues")).await;
        assert!(
            queues
                .as_array()
                .unwrap()
                .iter()
                .any(|q| q["name"] == queue.as_str()),
            "{queue} in {queues}"
        );
        assert!(
            done.as_array()
                .unwrap()
                .iter()
                .any(|t| t["args"]["job"]["job"] == "provision"),
            "Roster's jobs on the board: {done}"
        );
    }
    // Its UI at the root of the listener.
    let resp = reqwest::get(format!("{admin}/")).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
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
    let resp = reqwest::get(format!("{}/api/v1/queues", app.url))
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    app.stop().await;
}

async fn without_admin_listen_there_is_no_admin_listener(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    assert_eq!(app.admin_url(), None);
    let resp = reqwest::get(format!("{}/api/v1/overview", app.url))
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    app.stop().await;
}

async fn roster_worker_serves_job_counters_on_its_admin_listener(backend: Backend) {
    // The API runs no worker; a separate `roster worker` does the jobs.
    let app = TestApp::spawn_with(backend, false).await;
    let (worker, admin) = app.start_worker_with_admin("ops").await;
    let data = app
        .staff(
            PROCESS_ORDER,
            json!({ "input": order_input("OPS-WORKER-1", "worker.cm@example.com", "ADVANCED", "MANUAL",
                json!([{ "productCode": "P1", "productName": "P1 product", "seats": 2 }])) }),
        )
        .await;
    assert!(data["processOrder"]["contract"].is_object(), "{data}");
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
    // Its board shows it at work.
    let workers = get_json(&format!("{admin}/api/v1/workers")).await;
    assert!(
        workers
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["id"].as_str().is_some_and(|id| id.starts_with("ops-"))),
        "{workers}"
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
    admin_listener_serves_the_jobs_board_and_metrics,
    without_admin_listen_there_is_no_admin_listener,
    roster_worker_serves_job_counters_on_its_admin_listener,
);
