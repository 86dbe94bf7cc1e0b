//! The cloud-usage export (R36): `GET /contracts/{number}/cloud-usage.csv?from=&to=`, one row
//! per usage record the vendor's cloud reported, for the same readers as
//! `Contract.cloudUsage` (admins and staff). Dates are days, inclusive, in UTC; CSV as the
//! member export writes it (UTF-8 with a byte-order mark, formula-looking cells neutralised).

use crate::export::{csv_line, safe_cell};
use crate::graphql::context::Shared;
use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use roster_store::contracts::ContractRow;

/// Column headings of the usage export.
pub const USAGE_COLUMNS: [&str; 4] = ["Time (UTC)", "User", "Service", "Credits"];

/// `?from=YYYY-MM-DD&to=YYYY-MM-DD`, both optional.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct UsageRange {
    pub from: Option<String>,
    pub to: Option<String>,
}

fn day_ms(raw: Option<&str>, field: &str) -> Result<Option<i64>, String> {
    match raw.map(str::trim).filter(|r| !r.is_empty()) {
        None => Ok(None),
        Some(r) => roster_domain::parse_date(field, r)
            .map(|d| {
                Some(
                    d.and_hms_opt(0, 0, 0)
                        .unwrap_or_default()
                        .and_utc()
                        .timestamp_millis(),
                )
            })
            .map_err(|e| e.message),
    }
}

/// The CSV of `contract`'s usage in the range; the caller checked the policy.
pub async fn csv(shared: &Shared, contract: &ContractRow, range: &UsageRange) -> Response {
    let from = day_ms(range.from.as_deref(), "from");
    let to = day_ms(range.to.as_deref(), "to").map(|t| t.map(|t| t + 24 * 3600 * 1000));
    let (from, to) = match (from, to) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(e), _) | (_, Err(e)) => {
            return (StatusCode::BAD_REQUEST, format!("{e}\n")).into_response();
        }
    };
    let rows =
        match roster_store::cloud::usage_rows(shared.store.pool(), contract.id, from, to).await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::error!(error = %e, "usage export failed");
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            }
        };
    let mut out = "\u{feff}".as_bytes().to_vec();
    out.extend(csv_line(&USAGE_COLUMNS.map(String::from)));
    for r in rows {
        let at = chrono::DateTime::from_timestamp_millis(r.used_at)
            .unwrap_or_default()
            .format("%Y-%m-%d %H:%M:%S")
            .to_string();
        out.extend(csv_line(&[
            at,
            safe_cell(&r.email),
            safe_cell(&r.service),
            r.credits.to_string(),
        ]));
    }
    Response::builder()
        .header(header::CONTENT_TYPE, "text/csv; charset=utf-8")
        .header(
            header::CONTENT_DISPOSITION,
            format!(
                "attachment; filename=\"{}-cloud-usage.csv\"",
                contract.number
            ),
        )
        .body(Body::from(out))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}
