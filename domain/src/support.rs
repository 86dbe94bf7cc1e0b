//! Support cases, reseller access, phone support and cloud credits (R15-R18, R34-R37) as plain
//! functions: the store loads the facts under the contract's lock, asks these, and writes what
//! they return. Who may ask at all is [`crate::policy`]'s business, not this module's.

use crate::change::{ContractFacts, MemberFacts};
use crate::error::{DomainError, UserErrorCode};
use crate::types::{CaseKind, CaseStatus, Person, RenewalKind, SupportLevel};

/// A case as the rules read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseFacts {
    pub case_id: String,
    pub kind: CaseKind,
    pub status: CaseStatus,
    pub submitter: i64,
    /// The proposed Contract Manager of an R15 case, as stored (a JSON person).
    pub proposed_manager: Option<String>,
}

/// The longest comment or case text accepted.
pub const MAX_COMMENT_LEN: usize = 10_000;

const CASE_FIELD: [&str; 2] = ["input", "supportCaseId"];

/// R15: an AUTO contract's manager cannot change; it must lapse and a new one be bought.
pub fn auto_renew_refusal() -> DomainError {
    DomainError::new(
        UserErrorCode::AutoRenewContract,
        "this contract renews automatically from the online store: its Contract Manager cannot change; \
         let it lapse and buy a new subscription",
    )
}

/// What staff resolving a Contract Manager change case does (R15, R16).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManagerChange {
    /// The case is closed; nothing else changes.
    Decline,
    /// The role moves to this person (linked or created by email).
    Approve(Person),
}

/// R15, R16: whether a case can be resolved, and how. Only an open Contract Manager change
/// case can; approving it on an AUTO contract is refused (declining never is).
pub fn resolve_manager_change(
    case: &CaseFacts,
    contract: &ContractFacts,
    approve: bool,
) -> Result<ManagerChange, DomainError> {
    if case.kind != CaseKind::ChangeContractManager {
        return Err(DomainError::new(
            UserErrorCode::InvalidInput,
            "this case is not a Contract Manager change",
        )
        .at(CASE_FIELD));
    }
    if matches!(case.status, CaseStatus::Resolved | CaseStatus::Closed) {
        return Err(DomainError::new(
            UserErrorCode::InvalidInput,
            format!("case {} is already {}", case.case_id, case.status),
        )
        .at(CASE_FIELD));
    }
    if !approve {
        return Ok(ManagerChange::Decline);
    }
    if contract.renewal == RenewalKind::Auto {
        return Err(auto_renew_refusal().at(CASE_FIELD));
    }
    let proposed: serde_json::Value =
        serde_json::from_str(case.proposed_manager.as_deref().unwrap_or("null"))
            .unwrap_or_default();
    let person = Person::parse(
        proposed["email"].as_str().unwrap_or_default(),
        proposed["firstName"].as_str().unwrap_or_default(),
        proposed["lastName"].as_str().unwrap_or_default(),
        proposed["language"].as_str(),
    )
    .map_err(|e| e.at(CASE_FIELD))?;
    Ok(ManagerChange::Approve(person))
}

/// R16: the proposed person must not already be the Contract Manager.
pub fn new_manager_differs(old: i64, new: i64) -> Result<(), DomainError> {
    if old == new {
        return Err(DomainError::new(
            UserErrorCode::InvalidInput,
            "that person is already the Contract Manager",
        )
        .at(CASE_FIELD));
    }
    Ok(())
}

/// Who writes on a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseAuthor {
    Staff,
    User(i64),
}

/// What the submitter is told of a case update (R34): the new status if it changed, the
/// comment if there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseNotice {
    pub status: Option<CaseStatus>,
    pub comment: Option<String>,
}

/// R17, R34 (`comment` already read at the edge with `parse_multiline`): a case update (a status change, a comment, or both) and what it owes the
/// submitter. Staff comments and status changes email the submitter; a user's comment emails
/// nobody (staff read the case). **(decision)** A CLOSED case takes no more comments from
/// users (staff may reopen it by changing its status); a status set to what it already is is
/// no change.
pub fn update_case(
    case: &CaseFacts,
    by: CaseAuthor,
    status: Option<CaseStatus>,
    comment: Option<&str>,
) -> Result<Option<CaseNotice>, DomainError> {
    if let CaseAuthor::User(_) = by {
        if status.is_some() {
            return Err(DomainError::new(
                UserErrorCode::InvalidInput,
                "only staff change a case's status",
            )
            .at(["input", "status"]));
        }
        if case.status == CaseStatus::Closed {
            return Err(DomainError::new(
                UserErrorCode::InvalidInput,
                format!("case {} is closed: open a new case", case.case_id),
            )
            .at(CASE_FIELD));
        }
    }
    let comment = comment.map(str::to_string);
    let status = status.filter(|s| *s != case.status);
    if by != CaseAuthor::Staff || (status.is_none() && comment.is_none()) {
        return Ok(None);
    }
    Ok(Some(CaseNotice { status, comment }))
}

/// R18 (amended): View Cases can be given only to the reseller the contract is attached to;
/// taking it away is always possible (it ends access at once).
pub fn reseller_case_access(
    contract_reseller: Option<i64>,
    reseller: i64,
    can_view: bool,
) -> Result<(), DomainError> {
    if can_view && contract_reseller != Some(reseller) {
        return Err(DomainError::new(
            UserErrorCode::ResellerNotOnContract,
            "View Cases can be given only to the reseller this contract was bought through",
        )
        .at(["input", "resellerId"]));
    }
    Ok(())
}

/// R35: whether a contract has an Express Service ID and phone support at all.
pub fn has_phone_support(support: SupportLevel) -> bool {
    support == SupportLevel::Advanced
}

/// The most credits one purchase or one usage record may carry.
pub const MAX_CREDITS: i64 = 1_000_000_000;

/// A positive number of credits, at most [`MAX_CREDITS`].
pub fn parse_credits(credits: i64) -> Result<i64, DomainError> {
    if !(1..=MAX_CREDITS).contains(&credits) {
        return Err(DomainError::new(
            UserErrorCode::InvalidInput,
            format!("credits must be between 1 and {MAX_CREDITS}"),
        )
        .at(["input", "credits"]));
    }
    Ok(credits)
}

/// What an add-credits order does (R36).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreditPurchase {
    /// New: add the credits.
    Add,
    /// The same order was already processed: nothing changes, nothing is added twice.
    AlreadyAdded,
}

/// R36: a purchase of credits is idempotent by its order number. `earlier` is the purchase
/// already recorded under that order number (its contract and credits), if any; the same
/// order number for another contract or amount is ORDER_CONFLICT.
pub fn add_credits(
    contract: i64,
    credits: i64,
    earlier: Option<(i64, i64)>,
) -> Result<CreditPurchase, DomainError> {
    let credits = parse_credits(credits)?;
    match earlier {
        None => Ok(CreditPurchase::Add),
        Some((c, n)) if c == contract && n == credits => Ok(CreditPurchase::AlreadyAdded),
        Some(_) => Err(DomainError::new(
            UserErrorCode::OrderConflict,
            "this order number was already used for other credits",
        )
        .at(["input", "orderNumber"])),
    }
}

/// R36: usage is recorded only for a member who holds that cloud service and never takes the
/// balance below zero. Returns the service's name as the member holds it and the new balance.
pub fn record_usage(
    balance: i64,
    member: Option<&MemberFacts>,
    service: &str,
    credits: i64,
) -> Result<(String, i64), DomainError> {
    let credits = parse_credits(credits)?;
    let Some(member) = member else {
        return Err(DomainError::new(
            UserErrorCode::NotAMember,
            "that user is not a member of this contract",
        )
        .at(["input", "userId"]));
    };
    let service = service.trim();
    let Some(held) = member
        .cloud
        .iter()
        .find(|s| s.eq_ignore_ascii_case(service))
    else {
        return Err(DomainError::new(
            UserErrorCode::InvalidInput,
            format!("that user does not hold the cloud service {service:?}"),
        )
        .at(["input", "service"]));
    };
    if credits > balance {
        return Err(DomainError::new(
            UserErrorCode::CloudCreditsExhausted,
            format!("the contract has {balance} cloud credits left, fewer than {credits}"),
        )
        .at(["input", "credits"]));
    }
    Ok((held.clone(), balance - credits))
}

/// A phone number as configuration or a reseller gives it: digits, spaces, `+ - ( ) .`, at
/// least 5 digits, at most 40 characters.
pub fn parse_phone(raw: &str) -> Result<String, String> {
    let p = raw.trim();
    let digits = p.chars().filter(char::is_ascii_digit).count();
    let allowed = p
        .chars()
        .all(|c| c.is_ascii_digit() || " +-().".contains(c));
    if !allowed || digits < 5 || p.len() > 40 {
        return Err(format!(
            "{raw:?} is not a phone number (digits, spaces and + - ( ) ., at least 5 digits)"
        ));
    }
    Ok(p.to_string())
}

/// A website: an `http://` or `https://` address without spaces, at most 200 characters.
pub fn parse_website(raw: &str) -> Result<String, String> {
    let w = raw.trim();
    let scheme = w.starts_with("https://") || w.starts_with("http://");
    if !scheme || w.len() > 200 || w.chars().any(char::is_whitespace) || w.ends_with("//") {
        return Err(format!("{raw:?} is not an http(s) address"));
    }
    Ok(w.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{BillingPeriod, ContractStatus, MemberStatus};

    fn contract(renewal: RenewalKind) -> ContractFacts {
        ContractFacts {
            id: 1,
            number: "1234-567890".into(),
            company: "Acme".into(),
            status: ContractStatus::Active,
            support: SupportLevel::Advanced,
            renewal,
            billing_period: BillingPeriod::Annual,
            end_date: "2027-01-01".parse().unwrap(),
        }
    }

    fn cm_case(status: CaseStatus) -> CaseFacts {
        CaseFacts {
            case_id: "RC-1".into(),
            kind: CaseKind::ChangeContractManager,
            status,
            submitter: 7,
            proposed_manager: Some(
                r#"{"email":"nia@acme.example","firstName":"Nia","lastName":"Next","language":"en"}"#
                    .into(),
            ),
        }
    }

    #[test]
    fn r15_resolving_refuses_other_cases_closed_cases_and_auto_contracts() {
        let manual = contract(RenewalKind::Manual);
        let general = CaseFacts {
            kind: CaseKind::General,
            ..cm_case(CaseStatus::Open)
        };
        let e = resolve_manager_change(&general, &manual, true).unwrap_err();
        assert_eq!(e.code, UserErrorCode::InvalidInput);
        assert_eq!(e.field.unwrap(), ["input", "supportCaseId"]);
        for s in [CaseStatus::Resolved, CaseStatus::Closed] {
            assert!(resolve_manager_change(&cm_case(s), &manual, false).is_err());
        }
        let auto = contract(RenewalKind::Auto);
        assert_eq!(
            resolve_manager_change(&cm_case(CaseStatus::Open), &auto, true)
                .unwrap_err()
                .code,
            UserErrorCode::AutoRenewContract
        );
        // Declining is always possible on an open case.
        assert_eq!(
            resolve_manager_change(&cm_case(CaseStatus::Open), &auto, false).unwrap(),
            ManagerChange::Decline
        );
        let ManagerChange::Approve(p) =
            resolve_manager_change(&cm_case(CaseStatus::InProgress), &manual, true).unwrap()
        else {
            panic!("not approved");
        };
        assert_eq!(p.email.as_str(), "nia@acme.example");
        assert!(new_manager_differs(3, 3).is_err());
        assert!(new_manager_differs(3, 4).is_ok());
    }

    #[test]
    fn r34_staff_updates_notify_the_submitter_user_comments_do_not() {
        let case = CaseFacts {
            kind: CaseKind::General,
            ..cm_case(CaseStatus::Open)
        };
        let n = update_case(&case, CaseAuthor::Staff, Some(CaseStatus::InProgress), None)
            .unwrap()
            .unwrap();
        assert_eq!(n.status, Some(CaseStatus::InProgress));
        let n = update_case(&case, CaseAuthor::Staff, None, Some("Try again")).unwrap();
        assert_eq!(n.unwrap().comment.as_deref(), Some("Try again"));
        // Same status, no comment: nothing to tell.
        assert_eq!(
            update_case(&case, CaseAuthor::Staff, Some(CaseStatus::Open), None).unwrap(),
            None
        );
        assert_eq!(
            update_case(&case, CaseAuthor::User(7), None, Some("thanks")).unwrap(),
            None
        );
        assert!(update_case(&case, CaseAuthor::User(7), Some(CaseStatus::Closed), None).is_err());
        let closed = CaseFacts {
            status: CaseStatus::Closed,
            ..case.clone()
        };
        assert!(update_case(&closed, CaseAuthor::User(7), None, Some("hello?")).is_err());
        assert!(update_case(&closed, CaseAuthor::Staff, None, Some("reopened")).is_ok());
    }

    #[test]
    fn r18_view_cases_only_for_the_attached_reseller() {
        assert!(reseller_case_access(Some(5), 5, true).is_ok());
        let e = reseller_case_access(Some(5), 6, true).unwrap_err();
        assert_eq!(e.code, UserErrorCode::ResellerNotOnContract);
        assert_eq!(
            reseller_case_access(None, 6, true).unwrap_err().code,
            UserErrorCode::ResellerNotOnContract
        );
        assert!(reseller_case_access(None, 6, false).is_ok());
    }

    fn member(cloud: &[&str]) -> MemberFacts {
        MemberFacts {
            user_id: 9,
            email: "u@acme.example".into(),
            first_name: "U".into(),
            last_name: "Ser".into(),
            language: "en".into(),
            status: MemberStatus::Active,
            is_manager: false,
            designated: false,
            web_support: false,
            cloud: cloud.iter().map(|s| s.to_string()).collect(),
            products: Default::default(),
            coordinator_terms_accepted: false,
        }
    }

    #[test]
    fn r36_usage_needs_the_service_and_never_overdraws() {
        let m = member(&["Rendering"]);
        assert_eq!(
            record_usage(10, Some(&m), "rendering", 10).unwrap(),
            ("Rendering".to_string(), 0)
        );
        assert_eq!(
            record_usage(9, Some(&m), "Rendering", 10).unwrap_err().code,
            UserErrorCode::CloudCreditsExhausted
        );
        assert_eq!(
            record_usage(10, Some(&m), "Simulation", 1)
                .unwrap_err()
                .code,
            UserErrorCode::InvalidInput
        );
        assert_eq!(
            record_usage(10, None, "Rendering", 1).unwrap_err().code,
            UserErrorCode::NotAMember
        );
        assert!(record_usage(10, Some(&m), "Rendering", 0).is_err());
        assert!(record_usage(10, Some(&m), "Rendering", -3).is_err());
    }

    #[test]
    fn r36_credit_purchases_are_idempotent_by_order_number() {
        assert_eq!(add_credits(1, 100, None).unwrap(), CreditPurchase::Add);
        assert_eq!(
            add_credits(1, 100, Some((1, 100))).unwrap(),
            CreditPurchase::AlreadyAdded
        );
        assert_eq!(
            add_credits(1, 50, Some((1, 100))).unwrap_err().code,
            UserErrorCode::OrderConflict
        );
        assert_eq!(
            add_credits(2, 100, Some((1, 100))).unwrap_err().code,
            UserErrorCode::OrderConflict
        );
        assert!(add_credits(1, 0, None).is_err());
    }

    #[test]
    fn r35_r37_phone_numbers_and_websites_are_checked() {
        assert_eq!(
            parse_phone(" +1 (800) 555-0100 ").unwrap(),
            "+1 (800) 555-0100"
        );
        assert!(parse_phone("call us").is_err());
        assert!(parse_phone("123").is_err());
        assert!(parse_website("https://partner.example").is_ok());
        assert!(parse_website("partner.example").is_err());
        assert!(parse_website("https://a b").is_err());
        assert!(has_phone_support(SupportLevel::Advanced));
        assert!(!has_phone_support(SupportLevel::Basic));
    }
}
