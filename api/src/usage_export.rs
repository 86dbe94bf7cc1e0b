//! The cloud-usage export (R36): `GET /contracts/{number}/cloud-usage.csv?from=&to=`, one row
//! per usage record the vendor's cloud reported, for the same readers as
//! `Contract.cloudUsage` (admins and staff). Dates are days, inclusive, in UTC; `export` writes
//! the rows as it writes the member export (UTF-8 with a byte-order mark, formula-looking cells
//! neutralised).

use crate::graphql::context::Shared;
use axum::http::StatusCode;
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

/// The rows of `contract`'s usage in the range (the heading first), as raw cells; the export
/// module writes them as CSV. The caller checked the policy; a bad range is a 400.
pub async fn rows(
    shared: &Shared,
    contract: &ContractRow,
    range: &UsageRange,
) -> Result<Vec<Vec<String>>, Response> {
    let from = day_ms(range.from.as_deref(), "from");
    let to = day_ms(range.to.as_deref(), "to").map(|t| t.map(|t| t + 24 * 3600 * 1000));
    let (from, to) = match (from, to) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(e), _) | (_, Err(e)) => {
            return Err((StatusCode::BAD_REQUEST, format!("{e}\n")).into_response());
        }
    };
    let rows = roster_store::cloud::usage_rows(shared.store.pool(), contract.id, from, to)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "usage export failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        })?;
    let mut out = vec![USAGE_COLUMNS.map(String::from).to_vec()];
    for r in rows {
        let at = chrono::DateTime::from_timestamp_millis(r.used_at)
            .unwrap_or_default()
            .format("%Y-%m-%d %H:%M:%S")
            .to_string();
        out.push(vec![at, r.email, r.service, r.credits.to_string()]);
    }
    Ok(out)
}
