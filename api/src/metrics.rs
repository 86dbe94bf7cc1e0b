//! Prometheus metrics: one recorder per process, shared by the API, the worker and `/metrics`.
//!
//! Counters and histograms (GraphQL operations, HTTP requests, jobs, emails) go through the
//! `metrics` facade into one global recorder, installed once ([`install`]): a process may start
//! several apps (the test suite does), and they all report into it. Figures that live in the
//! database (jobs pending, emails by status, outbox lag) are read when `/metrics` is scraped and
//! belong to the store being asked, so they are written by [`render`] rather than recorded.

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use roster_store::Store;
use std::collections::HashSet;
use std::fmt::Write as _;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// GraphQL requests served (every POST to `/graphql`).
pub const GRAPHQL_REQUESTS: &str = "roster_graphql_requests_total";
/// GraphQL operations by name and outcome.
pub const GRAPHQL_OPERATIONS: &str = "roster_graphql_operations_total";
/// GraphQL operation latency by name.
pub const GRAPHQL_DURATION: &str = "roster_graphql_operation_duration_seconds";
/// HTTP requests by method, route and status.
pub const HTTP_REQUESTS: &str = "roster_http_requests_total";
/// HTTP latency by method and route.
pub const HTTP_DURATION: &str = "roster_http_request_duration_seconds";

/// Distinct operation names that get a label of their own; later ones count as `other`.
pub const MAX_OPERATION_NAMES: usize = 100;
/// Longer operation names count as `other`.
const MAX_OPERATION_NAME_LEN: usize = 64;

/// Latency buckets, in seconds: 1 ms to 10 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process's recorder the first time it is called; every later call (another
/// app in the same process) shares it.
pub fn install() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_duration_seconds".into()), LATENCY_BUCKETS)
            .expect("latency buckets are not empty")
            .build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("another metrics recorder is installed; /metrics will lack counters");
        }
        // Histograms keep samples until upkeep folds them in; without a scrape they would grow.
        let upkeep = handle.clone();
        std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(Duration::from_secs(5));
                    upkeep.run_upkeep();
                }
            })
            .expect("a thread for metrics upkeep");
        describe();
        handle
    })
}

fn describe() {
    use metrics::{Unit, describe_counter, describe_histogram};
    describe_counter!(GRAPHQL_REQUESTS, "GraphQL requests served by this process.");
    describe_counter!(
        GRAPHQL_OPERATIONS,
        "GraphQL operations by name (anonymous when unnamed, invalid when refused before execution, other past the first 100 names) and outcome."
    );
    describe_histogram!(
        GRAPHQL_DURATION,
        Unit::Seconds,
        "GraphQL operation latency by name."
    );
    describe_counter!(HTTP_REQUESTS, "HTTP requests by method, route and status.");
    describe_histogram!(
        HTTP_DURATION,
        Unit::Seconds,
        "HTTP request latency by method and route."
    );
    roster_worker::jobs::describe_metrics();
    // Present from the start, so a scrape always finds it.
    metrics::counter!(GRAPHQL_REQUESTS).increment(0);
}

/// The label for an operation name: its own for the first [`MAX_OPERATION_NAMES`] names seen,
/// `other` after that, so a client inventing names cannot grow the registry without bound.
fn operation_label(name: Option<&str>) -> String {
    static SEEN: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    let Some(name) = name else {
        return "anonymous".into();
    };
    if name.len() > MAX_OPERATION_NAME_LEN {
        return "other".into();
    }
    let mut seen = SEEN
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if seen.contains(name) {
        return name.to_string();
    }
    if seen.len() < MAX_OPERATION_NAMES {
        seen.insert(name.to_string());
        return name.to_string();
    }
    "other".into()
}

/// Counts and times one GraphQL request: under its operation's name (`None` for an anonymous
/// one), or under `invalid` when it was refused before it ran (`executed` is `None`).
pub fn record_operation(executed: Option<Option<&str>>, ok: bool, elapsed: Duration) {
    let label = match executed {
        Some(name) => operation_label(name),
        None => "invalid".into(),
    };
    let outcome = if ok { "ok" } else { "error" };
    metrics::counter!(GRAPHQL_OPERATIONS, "operation" => label.clone(), "outcome" => outcome)
        .increment(1);
    metrics::histogram!(GRAPHQL_DURATION, "operation" => label).record(elapsed.as_secs_f64());
}

/// axum middleware: counts and times HTTP requests by route (the route's pattern, never the
/// raw path, so the label set stays small).
pub async fn track_http(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = match *request.method() {
        axum::http::Method::GET => "GET",
        axum::http::Method::POST => "POST",
        axum::http::Method::HEAD => "HEAD",
        axum::http::Method::OPTIONS => "OPTIONS",
        _ => "other",
    };
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!(HTTP_REQUESTS, "method" => method, "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!(HTTP_DURATION, "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

/// The Prometheus text for `/metrics`: the process's counters and histograms, then what the
/// database says now.
pub async fn render(store: &Store) -> String {
    let mut out = install().render();
    let gauge = |out: &mut String, name: &str, help: &str| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} gauge");
    };
    if let Ok(lag) = roster_store::outbox::lag(store).await {
        gauge(
            &mut out,
            "roster_jobs_pending",
            "Jobs owed and not done: outbox rows and queued emails.",
        );
        let _ = writeln!(
            out,
            "roster_jobs_pending {}",
            lag.jobs_pending + lag.emails_queued
        );
        let now = roster_store::now_ms();
        let age = |t: Option<i64>| t.map_or(0.0, |t| (now - t).max(0) as f64 / 1000.0);
        gauge(
            &mut out,
            "roster_outbox_lag_seconds",
            "Age of the oldest due outbox job not done yet (0 when none).",
        );
        let _ = writeln!(
            out,
            "roster_outbox_lag_seconds {:.3}",
            age(lag.oldest_due_job)
        );
        gauge(
            &mut out,
            "roster_emails_queued",
            "Emails owed and not sent yet.",
        );
        let _ = writeln!(out, "roster_emails_queued {}", lag.emails_queued);
        gauge(
            &mut out,
            "roster_emails_queued_lag_seconds",
            "Age of the oldest email owed and not sent yet (0 when none).",
        );
        let _ = writeln!(
            out,
            "roster_emails_queued_lag_seconds {:.3}",
            age(lag.oldest_queued_email)
        );
    }
    let emails = roster_store::emails::count_by_status(store.pool())
        .await
        .unwrap_or_default();
    gauge(
        &mut out,
        "roster_emails",
        "Emails in the ledger by delivery status.",
    );
    for (status, n) in emails {
        let _ = writeln!(out, "roster_emails{{status=\"{status}\"}} {n}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_labels_are_bounded() {
        assert_eq!(operation_label(None), "anonymous");
        assert_eq!(operation_label(Some(&"x".repeat(65))), "other");
        for i in 0..MAX_OPERATION_NAMES + 10 {
            let name = format!("Op{i}");
            let label = operation_label(Some(&name));
            assert!(label == name || label == "other");
        }
        assert_eq!(operation_label(Some("OneTooMany")), "other");
    }
}
