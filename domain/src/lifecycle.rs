//! A contract's lifecycle as pure rules over its snapshot (R19, R20, R20a, R22): provisioning,
//! the renewal notices due, renewing (by hand or by itself), expiry, and the emails each owes.
//!
//! The store locks the contract, loads a [`Snapshot`] (with, for expiry and renewal, every
//! member who holds or held a seat), asks a rule here, and writes the plan it returns in the
//! same transaction. Nothing here reads a clock: `today` is an argument.

use crate::change::{Benefit, Snapshot};
use crate::email::{Email, PermissionsReason, ProductRef, StartedAs};
use crate::error::{DomainError, UserErrorCode};
use crate::rules;
use crate::types::{BillingPeriod, ContractStatus, RenewalKind, Role};
use chrono::{Days, NaiveDate};
use std::collections::{BTreeMap, BTreeSet};

/// Who renews a term.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RenewedBy {
    /// The CM, through `renewContract` (R20).
    Hand,
    /// The renewal pass, for an AUTO contract at its end date (R22).
    Itself,
}

/// An email a lifecycle plan owes one person: the store addresses it and keys it with
/// `idem_key`, which names the event, so a repeated pass owes nothing twice (R24).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifecycleEmail {
    pub user_id: i64,
    pub recipient: String,
    pub email: Email,
    pub idem_key: String,
}

/// What provisioning writes (R19): PROCESSING becomes ACTIVE and the CM gets Get Started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provisioning {
    pub emails: Vec<LifecycleEmail>,
}

/// PROCESSING becomes ACTIVE only here (R19, R20a). `None` when there is nothing to do: the
/// contract was provisioned already (a repeated job).
pub fn provision(snap: &Snapshot, products: Vec<ProductRef>) -> Option<Provisioning> {
    if snap.contract.status != ContractStatus::Processing {
        return None;
    }
    let cm = snap.members.values().find(|m| m.is_manager)?;
    let c = &snap.contract;
    Some(Provisioning {
        emails: vec![LifecycleEmail {
            user_id: cm.user_id,
            recipient: cm.email.clone(),
            email: Email::GetStarted {
                contract_number: Some(c.number.clone()),
                company: c.company.clone(),
                first_name: cm.first_name.clone(),
                role: StartedAs::Member(Role::ContractManager),
                benefits: snap.benefits(cm),
                products,
                admin: None,
            },
            idem_key: format!("get-started:contract:{}:user:{}", c.id, cm.user_id),
        }],
    })
}

/// The notice thresholds that apply to a contract (R20): 45, 30 and 4 days before the end,
/// except AUTO contracts, which need no action: those with a term of a year or more get one
/// reminder 30 days before, the others none.
pub fn notice_thresholds(kind: RenewalKind, period: BillingPeriod) -> &'static [u32] {
    match (kind, period) {
        (RenewalKind::Auto, BillingPeriod::Annual | BillingPeriod::MultiYear) => &[30],
        (RenewalKind::Auto, _) => &[],
        _ => &rules::NOTICE_THRESHOLDS,
    }
}

/// The notice due on `today` for a contract, if any: the latest of its thresholds reached, while
/// the term has not ended and the contract is ACTIVE (R20: late but never stale).
pub fn due_notice(
    status: ContractStatus,
    kind: RenewalKind,
    period: BillingPeriod,
    end: NaiveDate,
    today: NaiveDate,
) -> Option<u32> {
    if status != ContractStatus::Active {
        return None;
    }
    let left = days_left(today, end);
    if left <= 0 {
        return None;
    }
    notice_thresholds(kind, period)
        .iter()
        .copied()
        .filter(|t| left <= i64::from(*t))
        .min()
}

/// Real days from `today` to `end` (a notice states these, never its threshold; R20).
pub fn days_left(today: NaiveDate, end: NaiveDate) -> i64 {
    (end - today).num_days()
}

/// A renewal: the new term, whether expired seats come back, and the emails it owes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Renewal {
    pub old_end: NaiveDate,
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub by: RenewedBy,
    /// The contract was EXPIRED: its members' seats come back (R22).
    pub restores: bool,
    pub emails: Vec<LifecycleEmail>,
}

/// Renews the contract (R20, R20a, R22). `suspended` are the seats set aside at expiry, by
/// user: those still members get them back and are told so.
///
/// Refused while PROCESSING (provisioning and its Get Started come first), and by hand while
/// the window is not open (90 days before the end date, R20). The new term runs from the later
/// of the end date and `today`, so a contract renewed long after it lapsed is current (R20a).
pub fn renew(
    snap: &Snapshot,
    suspended: &BTreeMap<i64, BTreeSet<i64>>,
    today: NaiveDate,
    by: RenewedBy,
) -> Result<Renewal, DomainError> {
    let c = &snap.contract;
    if c.status == ContractStatus::Processing {
        return Err(DomainError::new(
            UserErrorCode::ContractNotActive,
            format!(
                "contract {} is still being set up; it can be renewed once it is ACTIVE and its \
                 Contract Manager has the Get Started email",
                c.number
            ),
        )
        .at(["input", "contractId"]));
    }
    if by == RenewedBy::Hand
        && c.status == ContractStatus::Active
        && !rules::renewal_window_open(today, c.end_date)
    {
        let opens = c
            .end_date
            .checked_sub_days(Days::new(rules::RENEWAL_WINDOW_DAYS))
            .unwrap_or(c.end_date);
        return Err(DomainError::new(
            UserErrorCode::RenewalWindowNotOpen,
            format!("contract {} can be renewed from {opens}", c.number),
        )
        .at(["input", "contractId"]));
    }
    let start = c.end_date.max(today);
    let end = rules::next_term_end(start, c.billing_period);
    let restores = c.status == ContractStatus::Expired;
    let mut emails = Vec::new();
    if let Some(cm) = snap.members.values().find(|m| m.is_manager) {
        emails.push(LifecycleEmail {
            user_id: cm.user_id,
            recipient: cm.email.clone(),
            email: Email::RenewalConfirmation {
                end_date: end,
                automatic: by == RenewedBy::Itself,
            },
            idem_key: format!("renewal-confirmation:contract:{}:term:{end}", c.id),
        });
    }
    if restores {
        let mut after = snap.clone();
        for (user, products) in suspended {
            if let Some(m) = after.members.get_mut(user) {
                m.products.extend(products.iter().copied());
            }
        }
        for user in suspended.keys() {
            let Some(m) = after.members.get(user) else {
                continue;
            };
            emails.push(LifecycleEmail {
                user_id: m.user_id,
                recipient: m.email.clone(),
                email: Email::PermissionsChanged {
                    contract_number: c.number.clone(),
                    company: c.company.clone(),
                    first_name: m.first_name.clone(),
                    benefits: after.benefits(m),
                    removed: false,
                    reason: PermissionsReason::Renewed,
                },
                idem_key: format!(
                    "permissions-changed:contract:{}:user:{}:restored:{end}",
                    c.id, m.user_id
                ),
            });
        }
    }
    Ok(Renewal {
        old_end: c.end_date,
        start,
        end,
        by,
        restores,
        emails,
    })
}

/// An expiry: the contract becomes EXPIRED, every seat is set aside, and people are told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expiry {
    pub end_date: NaiveDate,
    pub emails: Vec<LifecycleEmail>,
}

/// What the end of a term does to a contract (R22).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndOfTerm {
    Renew(Renewal),
    Expire(Expiry),
}

/// At the end date an AUTO contract renews itself; any other ACTIVE contract expires. `None`
/// when nothing is due (the term has not ended, or another pass handled it). The snapshot's
/// members must include everyone who holds a seat.
pub fn end_of_term(snap: &Snapshot, today: NaiveDate) -> Option<EndOfTerm> {
    let c = &snap.contract;
    if c.status != ContractStatus::Active || c.end_date > today {
        return None;
    }
    if c.renewal == RenewalKind::Auto {
        return renew(snap, &BTreeMap::new(), today, RenewedBy::Itself)
            .ok()
            .map(EndOfTerm::Renew);
    }
    Some(EndOfTerm::Expire(expire(snap)))
}

/// R22: the CM gets Contract Expired (what stopped, how to renew); every member who loses a
/// seat gets Permissions Changed (reason `Expired`) listing what stopped and comes back with a
/// renewal.
fn expire(snap: &Snapshot) -> Expiry {
    let c = &snap.contract;
    let mut emails = Vec::new();
    let stopped: Vec<String> = snap.products.values().map(|p| p.name.clone()).collect();
    let losing = snap
        .members
        .values()
        .filter(|m| !m.products.is_empty())
        .count();
    if let Some(cm) = snap.members.values().find(|m| m.is_manager) {
        emails.push(LifecycleEmail {
            user_id: cm.user_id,
            recipient: cm.email.clone(),
            email: Email::ContractExpired {
                contract_number: c.number.clone(),
                company: c.company.clone(),
                first_name: cm.first_name.clone(),
                end_date: c.end_date,
                products: stopped,
                members_affected: losing as i64,
            },
            idem_key: format!("contract-expired:contract:{}:term:{}", c.id, c.end_date),
        });
    }
    for m in snap.members.values().filter(|m| !m.products.is_empty()) {
        // What stopped, and comes back with a renewal.
        let benefits: Vec<Benefit> = snap.benefits(m);
        emails.push(LifecycleEmail {
            user_id: m.user_id,
            recipient: m.email.clone(),
            email: Email::PermissionsChanged {
                contract_number: c.number.clone(),
                company: c.company.clone(),
                first_name: m.first_name.clone(),
                benefits,
                removed: false,
                reason: PermissionsReason::Expired,
            },
            idem_key: format!(
                "permissions-changed:contract:{}:user:{}:expired:{}",
                c.id, m.user_id, c.end_date
            ),
        });
    }
    Expiry {
        end_date: c.end_date,
        emails,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::{ContractFacts, MemberFacts, ProductFacts};
    use crate::email_kind::EmailKind;
    use crate::types::{MemberStatus, SupportLevel};

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn member(id: i64, manager: bool, products: &[i64]) -> MemberFacts {
        MemberFacts {
            user_id: id,
            email: format!("u{id}@example.com"),
            first_name: format!("U{id}"),
            last_name: "L".into(),
            language: "en".into(),
            status: MemberStatus::Active,
            is_manager: manager,
            designated: false,
            web_support: true,
            cloud: BTreeSet::new(),
            products: products.iter().copied().collect(),
            coordinator_terms_accepted: true,
        }
    }

    fn snap(
        status: ContractStatus,
        kind: RenewalKind,
        period: BillingPeriod,
        end: &str,
    ) -> Snapshot {
        let products = [(10, "AutoCAD"), (11, "Revit")]
            .into_iter()
            .map(|(id, name)| {
                (
                    id,
                    ProductFacts {
                        id,
                        name: name.into(),
                        seats: 5,
                        seats_assigned: 1,
                        coordinator: None,
                    },
                )
            })
            .collect();
        let members = [
            member(1, true, &[10]),
            member(2, false, &[11]),
            member(3, false, &[]),
        ]
        .into_iter()
        .map(|m| (m.user_id, m))
        .collect();
        Snapshot {
            contract: ContractFacts {
                id: 7,
                number: "1234-567890".into(),
                company: "Acme".into(),
                status,
                support: SupportLevel::Basic,
                renewal: kind,
                billing_period: period,
                end_date: d(end),
            },
            products,
            members,
            known: BTreeMap::new(),
        }
    }

    fn kinds(emails: &[LifecycleEmail]) -> Vec<(i64, EmailKind)> {
        emails.iter().map(|e| (e.user_id, e.email.kind())).collect()
    }

    #[test]
    fn r20a_a_lapsed_monthly_contract_renewed_late_is_current_afterwards() {
        let s = snap(
            ContractStatus::Expired,
            RenewalKind::Manual,
            BillingPeriod::Monthly,
            "2026-08-01",
        );
        let today = d("2026-12-03");
        let r = renew(&s, &BTreeMap::new(), today, RenewedBy::Hand).unwrap();
        assert_eq!((r.start, r.end), (today, d("2027-01-03")));
        assert!(r.end > today, "the next pass must not expire it again");
        assert!(r.restores);
        // Renewed early, the new term follows the old one without a gap.
        let s = snap(
            ContractStatus::Active,
            RenewalKind::Manual,
            BillingPeriod::Annual,
            "2027-01-01",
        );
        let r = renew(&s, &BTreeMap::new(), d("2026-12-03"), RenewedBy::Hand).unwrap();
        assert_eq!((r.start, r.end), (d("2027-01-01"), d("2028-01-01")));
        assert!(!r.restores);
    }

    #[test]
    fn r20a_a_processing_contract_cannot_be_renewed() {
        let s = snap(
            ContractStatus::Processing,
            RenewalKind::Manual,
            BillingPeriod::Annual,
            "2027-01-01",
        );
        for by in [RenewedBy::Hand, RenewedBy::Itself] {
            let e = renew(&s, &BTreeMap::new(), d("2026-12-03"), by).unwrap_err();
            assert_eq!(e.code, UserErrorCode::ContractNotActive);
        }
        assert_eq!(end_of_term(&s, d("2027-02-01")), None);
    }

    #[test]
    fn r20_the_renewal_window_opens_90_days_before_the_end_by_hand_only() {
        let s = snap(
            ContractStatus::Active,
            RenewalKind::Manual,
            BillingPeriod::Annual,
            "2027-06-01",
        );
        let e = renew(&s, &BTreeMap::new(), d("2026-12-03"), RenewedBy::Hand).unwrap_err();
        assert_eq!(e.code, UserErrorCode::RenewalWindowNotOpen);
        assert!(e.message.contains("2027-03-03"), "{}", e.message);
        assert!(renew(&s, &BTreeMap::new(), d("2027-03-03"), RenewedBy::Hand).is_ok());
        // An expired contract renews whenever its CM wants.
        let s = snap(
            ContractStatus::Expired,
            RenewalKind::Manual,
            BillingPeriod::Annual,
            "2020-06-01",
        );
        assert!(renew(&s, &BTreeMap::new(), d("2026-12-03"), RenewedBy::Hand).is_ok());
    }

    #[test]
    fn r19_only_provisioning_makes_a_processing_contract_active_and_owes_get_started() {
        let s = snap(
            ContractStatus::Processing,
            RenewalKind::Manual,
            BillingPeriod::Annual,
            "2027-01-01",
        );
        let p = provision(&s, vec![]).unwrap();
        assert_eq!(kinds(&p.emails), [(1, EmailKind::GetStarted)]);
        let mut active = s.clone();
        active.contract.status = ContractStatus::Active;
        assert_eq!(provision(&active, vec![]), None);
    }

    #[test]
    fn r20_auto_contracts_need_no_action_so_get_no_45_30_4_notices() {
        let end = d("2027-01-01");
        let at = |days: u64| end.checked_sub_days(Days::new(days)).unwrap();
        let active = ContractStatus::Active;
        let monthly_auto = |today| {
            due_notice(
                active,
                RenewalKind::Auto,
                BillingPeriod::Monthly,
                end,
                today,
            )
        };
        for days in [45, 30, 10, 4, 1] {
            assert_eq!(monthly_auto(at(days)), None);
        }
        let annual_auto =
            |today| due_notice(active, RenewalKind::Auto, BillingPeriod::Annual, end, today);
        assert_eq!(annual_auto(at(45)), None);
        assert_eq!(annual_auto(at(31)), None);
        assert_eq!(annual_auto(at(30)), Some(30));
        assert_eq!(annual_auto(at(3)), Some(30));
        for kind in [RenewalKind::Manual, RenewalKind::Reseller] {
            let n = |today| due_notice(active, kind, BillingPeriod::Monthly, end, today);
            assert_eq!(n(at(35)), Some(45));
            assert_eq!(n(at(30)), Some(30));
            assert_eq!(n(at(4)), Some(4));
            assert_eq!(n(at(0)), None);
        }
        assert_eq!(
            due_notice(
                ContractStatus::Expired,
                RenewalKind::Manual,
                BillingPeriod::Annual,
                end,
                at(4)
            ),
            None
        );
        assert_eq!(days_left(at(35), end), 35);
    }

    #[test]
    fn r22_an_auto_contract_renews_itself_at_its_end_date_and_the_cm_is_told() {
        let s = snap(
            ContractStatus::Active,
            RenewalKind::Auto,
            BillingPeriod::Monthly,
            "2026-12-01",
        );
        assert_eq!(end_of_term(&s, d("2026-11-30")), None);
        let Some(EndOfTerm::Renew(r)) = end_of_term(&s, d("2026-12-01")) else {
            panic!("an AUTO contract renews");
        };
        assert_eq!(r.end, d("2027-01-01"));
        assert_eq!(r.by, RenewedBy::Itself);
        assert_eq!(kinds(&r.emails), [(1, EmailKind::RenewalConfirmation)]);
    }

    #[test]
    fn r22_expiry_tells_the_cm_and_every_member_who_lost_access() {
        let s = snap(
            ContractStatus::Active,
            RenewalKind::Reseller,
            BillingPeriod::Annual,
            "2026-12-01",
        );
        let Some(EndOfTerm::Expire(x)) = end_of_term(&s, d("2026-12-02")) else {
            panic!("a RESELLER contract expires");
        };
        assert_eq!(
            kinds(&x.emails),
            [
                (1, EmailKind::ContractExpired),
                (1, EmailKind::PermissionsChanged),
                (2, EmailKind::PermissionsChanged),
            ],
            "member 3 held no seat and lost nothing"
        );
        let Email::ContractExpired {
            products,
            members_affected,
            ..
        } = &x.emails[0].email
        else {
            panic!()
        };
        assert_eq!(products, &["AutoCAD", "Revit"]);
        assert_eq!(*members_affected, 2);
        let Email::PermissionsChanged {
            benefits, reason, ..
        } = &x.emails[2].email
        else {
            panic!()
        };
        assert_eq!(
            benefits,
            &[Benefit::Product("Revit".into()), Benefit::WebSupport]
        );
        assert_eq!(*reason, PermissionsReason::Expired);
        // Keys name the term, so a second pass owes nothing new.
        assert!(x.emails[0].idem_key.ends_with(":term:2026-12-01"));
    }

    #[test]
    fn r22_a_renewal_gives_access_back_and_tells_those_who_get_it() {
        let mut s = snap(
            ContractStatus::Expired,
            RenewalKind::Manual,
            BillingPeriod::Annual,
            "2026-06-01",
        );
        for m in s.members.values_mut() {
            m.products.clear();
        }
        // User 9 held a seat but was removed meanwhile: nothing to tell.
        let suspended: BTreeMap<i64, BTreeSet<i64>> = [
            (1, BTreeSet::from([10])),
            (2, BTreeSet::from([11])),
            (9, BTreeSet::from([10])),
        ]
        .into_iter()
        .collect();
        let r = renew(&s, &suspended, d("2026-12-03"), RenewedBy::Hand).unwrap();
        assert_eq!(
            kinds(&r.emails),
            [
                (1, EmailKind::RenewalConfirmation),
                (1, EmailKind::PermissionsChanged),
                (2, EmailKind::PermissionsChanged),
            ]
        );
        let Email::PermissionsChanged {
            benefits, reason, ..
        } = &r.emails[2].email
        else {
            panic!()
        };
        assert_eq!(reason, &PermissionsReason::Renewed);
        assert!(benefits.contains(&Benefit::Product("Revit".into())));
    }
}
