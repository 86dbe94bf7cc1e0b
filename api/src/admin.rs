//! The operator listener (`ROSTER_ADMIN_LISTEN`): Roster's jobs board and `/metrics`.
//!
//! The board is read-only and reads Roster's own tables ([`roster_store::board`]), so it shows
//! the same on the embedded queue and on Redis: per queue, how many jobs are pending, running,
//! done and failed; the latest jobs with their state, attempts and last error; the failed
//! emails; and the email ledger by kind. `/` is the page, `/jobs.json` the same as JSON.
//!
//! Neither has authentication: the listener is off unless configured and should be bound to
//! loopback (or put behind a proxy that checks). So nothing here changes anything, recipients
//! are never shown, and errors are masked as in logs (words with an `@`).

use crate::pages::esc;
use anyhow::Context as _;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use roster_store::Store;
use roster_store::board::{Board, JobLine};
use std::fmt::Write as _;
use std::net::SocketAddr;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Jobs of each queue, and failed emails, the board lists.
const LATEST: i64 = 50;

/// Binds the operator listener on `addr` and serves until `stopped` turns true.
pub async fn start(
    addr: SocketAddr,
    store: Store,
    mut stopped: watch::Receiver<bool>,
) -> anyhow::Result<(SocketAddr, JoinHandle<anyhow::Result<()>>)> {
    if !addr.ip().is_loopback() {
        tracing::warn!(
            %addr,
            "the admin listener (jobs board, /metrics) has no authentication and is not bound to loopback"
        );
    }
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("ROSTER_ADMIN_LISTEN: cannot listen on {addr}"))?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(async move {
        axum::serve(listener, router(store))
            .with_graceful_shutdown(async move {
                let _ = stopped.wait_for(|s| *s).await;
            })
            .await
            .context("the admin listener failed")
    });
    tracing::info!(%addr, "jobs board and /metrics are served");
    Ok((addr, server))
}

/// `/metrics`, the board at `/` and its JSON at `/jobs.json`.
fn router(store: Store) -> Router {
    Router::new()
        .route("/", get(board_page))
        .route("/jobs.json", get(board_json))
        .route("/metrics", get(metrics))
        .with_state(store)
}

async fn metrics(State(store): State<Store>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        crate::metrics::render(&store).await,
    )
}

/// The board as the listener shows it: errors masked like log lines.
async fn read(store: &Store) -> Result<Board, Response> {
    match roster_store::board::read(store, LATEST).await {
        Ok(mut board) => {
            for line in board.latest.iter_mut().chain(board.failed.iter_mut()) {
                line.last_error = line.last_error.as_deref().map(roster_worker::jobs::redact);
            }
            Ok(board)
        }
        Err(e) => {
            tracing::error!(error = %e, "the jobs board cannot read the database");
            Err((
                StatusCode::SERVICE_UNAVAILABLE,
                "the jobs board cannot read the database\n",
            )
                .into_response())
        }
    }
}

async fn board_json(State(store): State<Store>) -> Response {
    match read(&store).await {
        Ok(board) => Json(board).into_response(),
        Err(response) => response,
    }
}

async fn board_page(State(store): State<Store>) -> Response {
    match read(&store).await {
        Ok(board) => (
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            render(&board),
        )
            .into_response(),
        Err(response) => response,
    }
}

fn time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default()
}

/// The page: every value from the database is escaped.
fn render(board: &Board) -> String {
    let mut html = String::from(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>Roster jobs</title><style>\
         body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#111}\
         table{border-collapse:collapse;margin:.5rem 0 1.5rem}\
         th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;vertical-align:top}\
         td.n{text-align:right}.failed{color:#b91c1c}</style></head><body>\
         <h1>Roster jobs</h1>",
    );
    let _ = write!(
        html,
        "<p>Read from the database at {}. Pending: owed, nobody at it yet; running: an email \
         being sent, or a job handed to the queue and not done.</p>",
        esc(&time(board.at_ms))
    );
    html.push_str(
        "<h2>Queues</h2><table id=\"queues\"><tr><th>Queue</th><th>Pending</th>\
         <th>Running</th><th>Done</th><th>Failed</th></tr>",
    );
    for q in &board.queues {
        let _ = write!(
            html,
            "<tr data-queue=\"{}\"><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            esc(&q.queue),
            esc(&q.queue),
            q.pending,
            q.running,
            q.done,
            q.failed
        );
    }
    html.push_str(
        "</table><h2>Emails by kind</h2><table id=\"emails\"><tr><th>Kind</th><th>Queued</th>\
         <th>Sent</th><th>Failed</th><th>Cancelled</th></tr>",
    );
    for k in &board.emails {
        let _ = write!(
            html,
            "<tr data-kind=\"{}\"><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            esc(&k.kind),
            esc(&k.kind),
            k.queued,
            k.sent,
            k.failed,
            k.cancelled
        );
    }
    html.push_str("</table>");
    jobs_table(&mut html, "failed", "Failed emails", &board.failed);
    jobs_table(&mut html, "latest", "Latest jobs", &board.latest);
    html.push_str("</body></html>");
    html
}

fn jobs_table(html: &mut String, id: &str, title: &str, lines: &[JobLine]) {
    let _ = write!(
        html,
        "<h2>{}</h2><table id=\"{}\"><tr><th>Queue</th><th>Id</th><th>Kind</th><th>State</th>\
         <th>Attempts</th><th>Last error</th><th>Created</th><th>Finished</th></tr>",
        esc(title),
        esc(id)
    );
    if lines.is_empty() {
        html.push_str("<tr><td colspan=\"8\">none</td></tr>");
    }
    for j in lines {
        let _ = write!(
            html,
            "<tr class=\"{}\"><td>{}</td><td class=\"n\">{}</td><td>{}</td><td>{}</td>\
             <td class=\"n\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            j.state.as_str(),
            esc(&j.queue),
            j.id,
            esc(&j.kind),
            j.state.as_str(),
            j.attempts.map(|a| a.to_string()).unwrap_or_default(),
            esc(j.last_error.as_deref().unwrap_or("")),
            esc(&time(j.created_at_ms)),
            esc(&j.finished_at_ms.map(time).unwrap_or_default()),
        );
    }
    html.push_str("</table>");
}

#[cfg(test)]
mod tests {
    use super::render;
    use roster_store::board::{Board, EmailKindCounts, JobLine, JobState, QueueCounts};

    #[test]
    fn the_page_escapes_every_value_from_the_database() {
        let hostile = "<script>alert(1)</script>&\"'";
        let line = JobLine {
            queue: hostile.into(),
            id: 7,
            kind: hostile.into(),
            state: JobState::Failed,
            attempts: Some(3),
            last_error: Some(hostile.into()),
            created_at_ms: 0,
            finished_at_ms: None,
        };
        let board = Board {
            at_ms: 0,
            queues: vec![QueueCounts {
                queue: hostile.into(),
                pending: 1,
                running: 2,
                done: 3,
                failed: 4,
            }],
            latest: vec![line.clone()],
            failed: vec![line],
            emails: vec![EmailKindCounts {
                kind: hostile.into(),
                queued: 0,
                sent: 0,
                failed: 1,
                cancelled: 0,
            }],
        };
        let html = render(&board);
        assert!(!html.contains("<script>"), "{html}");
        assert!(!html.contains("\"'"), "{html}");
        assert_eq!(
            html.matches("&lt;script&gt;alert(1)&lt;/script&gt;&amp;&quot;&#39;")
                .count(),
            10,
            "every value is there, escaped: {html}"
        );
    }
}
