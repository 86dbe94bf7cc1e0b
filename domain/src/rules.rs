//! The rules of DOMAIN.md that compute or validate, as plain functions.

use crate::error::{DomainError, UserErrorCode};
use crate::types::*;
use chrono::{Days, Months, NaiveDate};
use std::collections::HashSet;

/// Most users one `addUsers` request may name (R10).
pub const BULK_LIMIT: usize = 50;
/// A contract may be renewed from this many days before its end date (R20).
pub const RENEWAL_WINDOW_DAYS: u64 = 90;
/// Renewal notices go out this many days before the end date, latest first (R20).
pub const NOTICE_THRESHOLDS: [u32; 3] = [45, 30, 4];

/// One line of an order: a product and its seats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderLine {
    pub product_code: String,
    pub product_name: String,
    pub seats: i64,
}

/// A validated order (R2, R19): everything `processOrder` needs, checked once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub order_number: String,
    pub company: String,
    pub purchaser: Person,
    pub support_level: SupportLevel,
    pub renewal_kind: RenewalKind,
    pub term: Term,
    pub lines: Vec<OrderLine>,
    /// The vendor's account number of the customer (R30): orders carrying the same one belong
    /// to one company; an order without one is a company of its own.
    pub customer_number: Option<String>,
}

/// The raw order as it arrives, before validation.
#[derive(Debug, Clone)]
pub struct OrderRequest<'a> {
    pub order_number: &'a str,
    pub company: &'a str,
    pub purchaser: Person,
    pub support_level: SupportLevel,
    pub renewal_kind: RenewalKind,
    pub billing_period: BillingPeriod,
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
    pub lines: Vec<(&'a str, &'a str, i64)>,
    pub customer_number: Option<&'a str>,
}

/// Validates an order; every problem is reported, each naming its field.
pub fn validate_order(req: OrderRequest<'_>) -> Result<Order, Vec<DomainError>> {
    let mut errors = Vec::new();
    let order_number = parse_code("orderNumber", req.order_number)
        .map_err(|e| errors.push(e))
        .ok();
    let company = parse_text("company", req.company, MAX_TEXT_LEN)
        .map_err(|e| errors.push(e))
        .ok();
    let customer_number = match req.customer_number.map(str::trim) {
        None | Some("") => None,
        Some(raw) => parse_code("customerNumber", raw)
            .map_err(|e| errors.push(e))
            .ok(),
    };
    let term = Term::new(req.start_date, req.end_date, req.billing_period)
        .map_err(|e| errors.push(e))
        .ok();
    if req.lines.is_empty() {
        errors.push(
            DomainError::new(
                UserErrorCode::InvalidInput,
                "an order needs at least one product",
            )
            .at(["products"]),
        );
    }
    let lines = parse_order_lines(&req.lines, &[], &mut errors);
    match (order_number, company, term) {
        (Some(order_number), Some(company), Some(term)) if errors.is_empty() => Ok(Order {
            order_number,
            company,
            purchaser: req.purchaser,
            support_level: req.support_level,
            renewal_kind: req.renewal_kind,
            term,
            lines,
            customer_number,
        }),
        _ => Err(errors),
    }
}

/// Validates an order's lines (product code, name and seats, no code twice), each problem
/// pushed to `errors` under `path` (`products.<i>` below it): the lines of a first order and of
/// an add-on order (R31) alike.
pub(crate) fn parse_order_lines(
    lines: &[(&str, &str, i64)],
    path: &[&str],
    errors: &mut Vec<DomainError>,
) -> Vec<OrderLine> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (i, (code, name, seats)) in lines.iter().enumerate() {
        let at = |e: DomainError| {
            let mut prefix: Vec<String> = path.iter().map(|p| p.to_string()).collect();
            prefix.extend(["products".to_string(), i.to_string()]);
            e.under(prefix)
        };
        let code = match parse_code("productCode", code) {
            Ok(c) => c,
            Err(e) => {
                errors.push(at(e));
                continue;
            }
        };
        if !seen.insert(code.to_ascii_uppercase()) {
            errors.push(at(DomainError::new(
                UserErrorCode::DuplicateEntry,
                format!("product {code} appears twice in the order"),
            )
            .at(["productCode"])));
        }
        let name = match parse_text("productName", name, MAX_TEXT_LEN) {
            Ok(n) => n,
            Err(e) => {
                errors.push(at(e));
                continue;
            }
        };
        if !(1..=MAX_SEATS).contains(seats) {
            errors.push(at(DomainError::new(
                UserErrorCode::InvalidInput,
                format!("seats must be between 1 and {MAX_SEATS}"),
            )
            .at(["seats"])));
            continue;
        }
        out.push(OrderLine {
            product_code: code,
            product_name: name,
            seats: *seats,
        });
    }
    out
}

/// Designated Named Callers allowed on a contract: max(2, floor(total seats / 10)) (R13).
/// The CM and SCs are Named Callers by default and do not count toward it.
pub fn named_caller_limit(total_seats: i64) -> i64 {
    (total_seats.max(0) / 10).max(2)
}

/// R13, the one place it is decided: Named Callers exist only on ADVANCED contracts; the CM
/// and every SC are Named Callers by role, other members when designated.
pub fn is_named_caller(
    support: SupportLevel,
    is_manager: bool,
    coordinates_any: bool,
    designated: bool,
) -> bool {
    support == SupportLevel::Advanced && (is_manager || coordinates_any || designated)
}

/// R13: a designated Named Caller who counts toward the limit (the CM and SCs do not).
pub fn is_counted_caller(
    support: SupportLevel,
    is_manager: bool,
    coordinates_any: bool,
    designated: bool,
) -> bool {
    support == SupportLevel::Advanced && designated && !is_manager && !coordinates_any
}

/// Whether a contract ending on `end` may be renewed on `today` (R20: from 90 days before).
pub fn renewal_window_open(today: NaiveDate, end: NaiveDate) -> bool {
    end.checked_sub_days(Days::new(RENEWAL_WINDOW_DAYS))
        .is_none_or(|opens| today >= opens)
}

/// The end date of the term after one ending on `end` (R20, R22).
pub fn next_term_end(end: NaiveDate, period: BillingPeriod) -> NaiveDate {
    end.checked_add_months(Months::new(period.months()))
        .unwrap_or(end)
}

/// The renewal notice due on `today` for a term ending on `end`, if any (R20).
///
/// The due notice is the latest threshold already reached; older thresholds reached by then
/// are skipped, and nothing is due once the end date has come. Whether it was already sent
/// is storage's business (it keys each notice by contract, term and threshold).
pub fn due_renewal_notice(today: NaiveDate, end: NaiveDate) -> Option<u32> {
    let days_left = (end - today).num_days();
    if days_left <= 0 {
        return None;
    }
    NOTICE_THRESHOLDS
        .iter()
        .copied()
        .filter(|t| days_left <= i64::from(*t))
        .min()
}

/// Checks that `adding` more designated Named Callers fit (R13): only on ADVANCED contracts,
/// and at most [`named_caller_limit`] designated ones (the CM and SCs do not count).
pub fn check_named_callers(
    support: SupportLevel,
    designated_now: i64,
    adding: i64,
    total_seats: i64,
) -> Result<(), DomainError> {
    if support != SupportLevel::Advanced {
        return Err(DomainError::new(
            UserErrorCode::BasicSupportContract,
            "Named Callers exist only on ADVANCED support contracts",
        ));
    }
    let limit = named_caller_limit(total_seats);
    if designated_now + adding > limit {
        return Err(DomainError::new(
            UserErrorCode::NamedCallerLimitReached,
            format!(
                "this contract allows {limit} designated Named Callers and has {designated_now}"
            ),
        ));
    }
    Ok(())
}

/// Checks the size of a bulk request (R10).
pub fn check_bulk_size(n: usize) -> Result<(), DomainError> {
    if n == 0 {
        return Err(
            DomainError::new(UserErrorCode::InvalidInput, "name at least one user").at(["users"]),
        );
    }
    if n > BULK_LIMIT {
        return Err(DomainError::new(
            UserErrorCode::BulkLimitExceeded,
            format!("at most {BULK_LIMIT} users may be added in one request, not {n}"),
        )
        .at(["users"]));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        parse_date("d", s).unwrap()
    }

    fn request<'a>(lines: Vec<(&'a str, &'a str, i64)>) -> OrderRequest<'a> {
        OrderRequest {
            order_number: "SO-1",
            company: "Smith Architecture",
            purchaser: Person::parse("pat@smith.example", "Pat", "Smith", None).unwrap(),
            support_level: SupportLevel::Advanced,
            renewal_kind: RenewalKind::Manual,
            billing_period: BillingPeriod::Annual,
            start_date: d("2026-01-01"),
            end_date: d("2027-01-01"),
            lines,
            customer_number: None,
        }
    }

    #[test]
    fn r19_a_valid_order_is_accepted() {
        let o = validate_order(request(vec![("ACAD", "AutoCAD", 10)])).unwrap();
        assert_eq!(o.lines.len(), 1);
        assert_eq!(o.term.billing_period, BillingPeriod::Annual);
    }

    #[test]
    fn r19_order_problems_each_name_their_line() {
        let errs =
            validate_order(request(vec![("ACAD", "AutoCAD", 0), ("ACAD", "x", 1)])).unwrap_err();
        let fields: Vec<_> = errs.iter().map(|e| e.field.clone().unwrap()).collect();
        assert!(fields.contains(&vec!["products".into(), "0".into(), "seats".into()]));
        assert!(fields.contains(&vec!["products".into(), "1".into(), "productCode".into()]));
        assert!(validate_order(request(vec![])).is_err());
    }

    #[test]
    fn r13_named_caller_limit_is_max_of_2_and_a_tenth_of_seats() {
        assert_eq!(named_caller_limit(1), 2);
        assert_eq!(named_caller_limit(10), 2);
        assert_eq!(named_caller_limit(29), 2);
        assert_eq!(named_caller_limit(30), 3);
        assert_eq!(named_caller_limit(205), 20);
    }

    #[test]
    fn r20_renewal_window_opens_90_days_before_the_end() {
        let end = d("2027-01-01");
        assert!(!renewal_window_open(d("2026-10-02"), end));
        assert!(renewal_window_open(d("2026-10-03"), end));
        assert!(renewal_window_open(d("2027-03-01"), end));
    }

    #[test]
    fn r20_due_notice_is_the_latest_threshold_passed() {
        let end = d("2027-01-01");
        let at = |days: u64| end.checked_sub_days(Days::new(days)).unwrap();
        assert_eq!(due_renewal_notice(at(50), end), None);
        assert_eq!(due_renewal_notice(at(46), end), None);
        assert_eq!(due_renewal_notice(at(45), end), Some(45));
        assert_eq!(due_renewal_notice(at(31), end), Some(45));
        assert_eq!(due_renewal_notice(at(30), end), Some(30));
        assert_eq!(due_renewal_notice(at(10), end), Some(30));
        assert_eq!(due_renewal_notice(at(4), end), Some(4));
        assert_eq!(due_renewal_notice(at(1), end), Some(4));
        assert_eq!(due_renewal_notice(at(0), end), None);
    }

    #[test]
    fn r22_terms_extend_by_their_billing_period() {
        assert_eq!(
            next_term_end(d("2027-01-31"), BillingPeriod::Monthly),
            d("2027-02-28")
        );
        assert_eq!(
            next_term_end(d("2027-01-01"), BillingPeriod::MultiYear),
            d("2030-01-01")
        );
    }

    #[test]
    fn r13_named_callers_only_on_advanced_and_within_the_limit() {
        assert_eq!(
            check_named_callers(SupportLevel::Basic, 0, 1, 100)
                .unwrap_err()
                .code,
            UserErrorCode::BasicSupportContract
        );
        assert!(check_named_callers(SupportLevel::Advanced, 1, 1, 10).is_ok());
        assert_eq!(
            check_named_callers(SupportLevel::Advanced, 2, 1, 10)
                .unwrap_err()
                .code,
            UserErrorCode::NamedCallerLimitReached
        );
        assert!(check_named_callers(SupportLevel::Advanced, 2, 1, 30).is_ok());
    }

    #[test]
    fn r10_bulk_requests_hold_at_most_50_users() {
        assert!(check_bulk_size(50).is_ok());
        assert_eq!(
            check_bulk_size(51).unwrap_err().code,
            UserErrorCode::BulkLimitExceeded
        );
        assert!(check_bulk_size(0).is_err());
    }
}
