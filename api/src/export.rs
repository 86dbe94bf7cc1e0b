//! Exports for admins (R26): a contract's members as CSV and XLSX, and its details as CSV.
//!
//! CSV is UTF-8 with a byte-order mark so spreadsheet programs read accents right, and is
//! streamed page by page so a large contract never sits in memory. Every cell that a
//! spreadsheet would take for a formula (starting with `=`, `+`, `-`, `@`, tab or CR) is
//! prefixed with `'`.

use crate::graphql::context::Shared;
use crate::state::{AppState, authenticate_bearer};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use roster_domain::SupportLevel;
use roster_domain::policy::{Action, Decision, Principal, Standing, decide};
use roster_store::contracts::{self, ContractProductRow, ContractRow};
use roster_store::members::{self, Member, MemberFilter};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Members per page while streaming.
const PAGE: i64 = 500;

/// Column headings of the member export.
pub const MEMBER_COLUMNS: [&str; 7] = [
    "First name",
    "Last name",
    "Email",
    "Roles",
    "Status",
    "Products",
    "Benefits",
];

/// Neutralises a cell a spreadsheet would evaluate as a formula.
pub fn safe_cell(value: &str) -> String {
    match value.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{value}"),
        _ => value.to_string(),
    }
}

/// One member as a row of cells.
pub fn member_row(
    m: &Member,
    support: SupportLevel,
    products: &BTreeMap<i64, ContractProductRow>,
) -> Vec<String> {
    let roles = m
        .roles(support)
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join("; ");
    let product_codes = m
        .access
        .products
        .iter()
        .filter_map(|id| products.get(id).map(|p| p.product_code.clone()))
        .collect::<Vec<_>>()
        .join("; ");
    let mut benefits = Vec::new();
    if m.access.web_support {
        benefits.push("Web Support".to_string());
    }
    benefits.extend(
        m.access
            .cloud_services
            .iter()
            .map(|s| format!("Cloud: {s}")),
    );
    if m.is_named_caller(support) {
        benefits.push("Named Caller".to_string());
    }
    [
        m.row.first_name.clone(),
        m.row.last_name.clone(),
        m.row.email.clone(),
        roles,
        m.row.status.to_string(),
        product_codes,
        benefits.join("; "),
    ]
    .iter()
    .map(|c| safe_cell(c))
    .collect()
}

fn csv_line(cells: &[String]) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    let _ = w.write_record(cells);
    w.into_inner().unwrap_or_default()
}

/// Who downloads, as the policy judges them.
struct Caller {
    principal: Principal,
    standing: Option<Standing>,
}

impl Caller {
    fn allows(&self, action: &Action) -> bool {
        decide(self.principal, self.standing.as_ref(), action).is_allowed()
    }
}

/// Finds the contract and checks the caller may export it: 401 without a valid token, 404
/// when they may not see it, 403 when they see it but are not an admin.
async fn authorize(
    shared: &Shared,
    headers: &HeaderMap,
    number: &str,
) -> Result<(ContractRow, Caller), Response> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let ctx = authenticate_bearer(shared, bearer)
        .await
        .map_err(|_| (StatusCode::UNAUTHORIZED, "sign in first\n").into_response())?;
    let not_found = || (StatusCode::NOT_FOUND, "contract not found\n").into_response();
    let internal = |e: &dyn std::fmt::Display| {
        tracing::error!(error = %e, "export failed");
        (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n").into_response()
    };
    let contract = contracts::by_number(ctx.store.pool(), number)
        .await
        .map_err(|e| internal(&e))?
        .ok_or_else(not_found)?;
    let standing = match &ctx.user {
        Some(user) => {
            let mut conn = ctx.store.pool().acquire().await.map_err(|e| internal(&e))?;
            Some(
                contracts::standing(&mut conn, user, &contract)
                    .await
                    .map_err(|e| internal(&e))?,
            )
        }
        None => None,
    };
    match decide(ctx.principal, standing.as_ref(), &Action::ViewMembers) {
        Decision::Allow => Ok((
            contract,
            Caller {
                principal: ctx.principal,
                standing,
            },
        )),
        Decision::Unauthenticated => {
            Err((StatusCode::UNAUTHORIZED, "sign in first\n").into_response())
        }
        Decision::NotFound => Err(not_found()),
        _ => {
            // A member who may not export still learns only that they may not.
            match decide(ctx.principal, standing.as_ref(), &Action::ViewContract) {
                Decision::Allow => Err((
                    StatusCode::FORBIDDEN,
                    "only the contract's administrators may export it\n",
                )
                    .into_response()),
                _ => Err(not_found()),
            }
        }
    }
}

async fn product_map(
    shared: &Shared,
    contract_id: i64,
) -> Result<BTreeMap<i64, ContractProductRow>, roster_store::StoreError> {
    Ok(contracts::products(shared.store.pool(), contract_id)
        .await?
        .into_iter()
        .map(|p| (p.id, p))
        .collect())
}

fn attachment(name: &str, content_type: &'static str, body: Body) -> Response {
    Response::builder()
        .header(header::CONTENT_TYPE, content_type)
        .header(
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        )
        .body(body)
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// `GET /contracts/{number}/{file}`: `users.csv`, `users.xlsx`, `details.csv`, and
/// `cloud-usage.csv?from=&to=` (R36).
pub async fn contract_file(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path((number, file)): Path<(String, String)>,
    axum::extract::Query(range): axum::extract::Query<crate::usage_export::UsageRange>,
) -> Response {
    let shared = &state.shared;
    let (contract, caller) = match authorize(shared, &headers, &number).await {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let support: SupportLevel = contract.support_level;
    let products = match product_map(shared, contract.id).await {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(error = %e, "export failed");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    match file.as_str() {
        "users.csv" => {
            let store = shared.store.clone();
            let stream = async_stream_members(store, contract.id, support, products);
            attachment(
                &format!("{}-users.csv", contract.number),
                "text/csv; charset=utf-8",
                Body::from_stream(stream),
            )
        }
        "users.xlsx" => match xlsx(shared, &contract, support, &products).await {
            Ok(bytes) => attachment(
                &format!("{}-users.xlsx", contract.number),
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                Body::from(bytes),
            ),
            Err(e) => {
                tracing::error!(error = %e, "xlsx export failed");
                StatusCode::INTERNAL_SERVER_ERROR.into_response()
            }
        },
        "details.csv" => {
            let mut out = "\u{feff}".as_bytes().to_vec();
            out.extend(csv_line(&["Field".into(), "Value".into()]));
            for (k, v) in [
                ("Contract number", contract.number.clone()),
                ("Company", contract.company_name.clone()),
                ("Status", contract.status.to_string()),
                ("Support level", contract.support_level.to_string()),
                ("Renewal kind", contract.renewal_kind.to_string()),
                ("Billing period", contract.billing_period.to_string()),
                ("Start date", contract.start_date.to_string()),
                ("End date", contract.end_date.to_string()),
            ] {
                out.extend(csv_line(&[k.to_string(), safe_cell(&v)]));
            }
            out.extend(csv_line(&[]));
            out.extend(csv_line(
                &[
                    "Product code",
                    "Product",
                    "Serial number",
                    "Product key",
                    "Seats",
                    "Seats assigned",
                ]
                .map(String::from),
            ));
            for p in products.values() {
                out.extend(csv_line(&product_row(p, &caller)));
            }
            attachment(
                &format!("{}-details.csv", contract.number),
                "text/csv; charset=utf-8",
                Body::from(out),
            )
        }
        "cloud-usage.csv" => {
            // The same policy as `Contract.cloudUsage` (R36).
            if !caller.allows(&Action::ViewCloudUsage) {
                return (
                    StatusCode::FORBIDDEN,
                    "only administrators may export usage\n",
                )
                    .into_response();
            }
            let rows = match crate::usage_export::rows(shared, &contract, &range).await {
                Ok(rows) => rows,
                Err(resp) => return resp,
            };
            let mut out = "\u{feff}".as_bytes().to_vec();
            for row in rows {
                out.extend(csv_line(
                    &row.iter().map(|c| safe_cell(c)).collect::<Vec<_>>(),
                ));
            }
            attachment(
                &format!("{}-cloud-usage.csv", contract.number),
                "text/csv; charset=utf-8",
                Body::from(out),
            )
        }
        _ => (StatusCode::NOT_FOUND, "not found\n").into_response(),
    }
}

/// One product of the details export. Serial number, product key and seat counts are left
/// empty for a product whose secrets the caller may not see (R7), as GraphQL's
/// `ContractProduct` answers `null` for them.
fn product_row(p: &ContractProductRow, caller: &Caller) -> Vec<String> {
    let secrets = caller.allows(&Action::ViewProductSecrets {
        contract_product: p.id,
    });
    let secret = |value: String| if secrets { value } else { String::new() };
    vec![
        safe_cell(&p.product_code),
        safe_cell(&p.product_name),
        secret(safe_cell(&p.serial_number)),
        secret(safe_cell(&p.product_key)),
        secret(p.seats.to_string()),
        secret(p.seats_assigned.to_string()),
    ]
}

/// Streams the member CSV page by page.
fn async_stream_members(
    store: roster_store::Store,
    contract_id: i64,
    support: SupportLevel,
    products: BTreeMap<i64, ContractProductRow>,
) -> impl futures::Stream<Item = Result<Vec<u8>, std::io::Error>> + Send + 'static {
    let header = {
        let mut h = "\u{feff}".as_bytes().to_vec();
        h.extend(csv_line(&MEMBER_COLUMNS.map(String::from)));
        h
    };
    let product_list: std::sync::Arc<[ContractProductRow]> = products.values().cloned().collect();
    let pages = futures::stream::unfold(Some(0i64), move |offset| {
        let store = store.clone();
        let products = products.clone();
        let product_list = product_list.clone();
        async move {
            let offset = offset?;
            let page = async {
                let mut conn = store
                    .pool()
                    .acquire()
                    .await
                    .map_err(std::io::Error::other)?;
                members::page(
                    store.backend(),
                    &mut conn,
                    members::PageOf {
                        contract_id,
                        support,
                        products: &product_list,
                    },
                    &MemberFilter::default(),
                    true,
                    offset,
                    PAGE,
                )
                .await
                .map_err(std::io::Error::other)
            }
            .await;
            match page {
                Err(e) => Some((Err(e), None)),
                Ok((rows, _)) => {
                    let next = (rows.len() as i64 == PAGE).then_some(offset + PAGE);
                    let mut chunk = Vec::new();
                    for m in &rows {
                        chunk.extend(csv_line(&member_row(m, support, &products)));
                    }
                    Some((Ok(chunk), next))
                }
            }
        }
    });
    futures::stream::once(async move { Ok(header) }).chain(pages)
}

use futures::StreamExt as _;

async fn xlsx(
    shared: &Shared,
    contract: &ContractRow,
    support: SupportLevel,
    products: &BTreeMap<i64, ContractProductRow>,
) -> anyhow::Result<Vec<u8>> {
    let mut conn = shared.store.pool().acquire().await?;
    let all = members::all(&mut conn, contract.id).await?;
    drop(conn);
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("Members")?;
    let bold = rust_xlsxwriter::Format::new().set_bold();
    for (col, title) in MEMBER_COLUMNS.iter().enumerate() {
        sheet.write_string_with_format(0, col as u16, *title, &bold)?;
    }
    for (i, m) in all.iter().enumerate() {
        for (col, cell) in member_row(m, support, products).iter().enumerate() {
            // Strings, never formulas: write_string stores text as text.
            sheet.write_string(i as u32 + 1, col as u16, cell)?;
        }
    }
    sheet.autofit();
    Ok(book.save_to_buffer()?)
}
