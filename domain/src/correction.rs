//! Correcting a member an admin named wrongly (R32): the pure rule over the locked snapshot
//! and what the store knows of the member's User ID.

use crate::change::Snapshot;
use crate::error::{DomainError, UserErrorCode};
use crate::types::{ContractStatus, MemberStatus, Person, Role};
use serde_json::{Value, json};

/// What the admin asks to change; `None` keeps the value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Correction {
    pub user: i64,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub language: Option<String>,
}

/// What the store knows of the member's User ID beyond the snapshot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Subject {
    /// No password was ever set and nobody ever signed in with it.
    pub never_signed_in: bool,
    /// This contract's order or one of its admins created the User ID.
    pub created_here: bool,
    /// The User ID is on another contract too (named there by its own admins).
    pub on_other_contracts: bool,
    /// Another User ID that holds the corrected address already.
    pub email_taken: bool,
}

/// What a correction writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorrectionPlan {
    pub person: Person,
    /// The address changed: the old link dies and the new address gets Get Started.
    pub email_changed: bool,
    /// The role the fresh Get Started names.
    pub role: Role,
    pub audit: Value,
}

/// R32: an admin corrects the email, name or language of a member who never signed in and
/// whose User ID this contract created (nobody else's data changes). Anyone else is
/// MEMBER_ALREADY_ACTIVE; an address another User ID holds is refused without saying whose.
pub fn plan_correction(
    snap: &Snapshot,
    c: &Correction,
    subject: &Subject,
) -> Result<CorrectionPlan, Vec<DomainError>> {
    if snap.contract.status != ContractStatus::Active {
        return Err(vec![
            DomainError::new(
                UserErrorCode::ContractNotActive,
                format!(
                    "contract {} is {}; its people change only while it is ACTIVE",
                    snap.contract.number, snap.contract.status
                ),
            )
            .at(["input", "contractId"]),
        ]);
    }
    let Some(m) = snap.members.get(&c.user) else {
        return Err(vec![
            DomainError::new(
                UserErrorCode::NotAMember,
                "that user is not on this contract",
            )
            .at(["input", "userId"]),
        ]);
    };
    if m.status != MemberStatus::Pending
        || !subject.never_signed_in
        || !subject.created_here
        || subject.on_other_contracts
    {
        return Err(vec![
            DomainError::new(
                UserErrorCode::MemberAlreadyActive,
                "only a member who never signed in, and whose User ID this contract created, \
                 can be corrected; they change their own profile",
            )
            .at(["input", "userId"]),
        ]);
    }
    let person = Person::parse(
        c.email.as_deref().unwrap_or(&m.email),
        c.first_name.as_deref().unwrap_or(&m.first_name),
        c.last_name.as_deref().unwrap_or(&m.last_name),
        Some(c.language.as_deref().unwrap_or(&m.language)),
    )
    .map_err(|e| vec![e.under(["input"])])?;
    let email_changed = !person.email.as_str().eq_ignore_ascii_case(&m.email);
    if email_changed && subject.email_taken {
        return Err(vec![
            DomainError::new(
                UserErrorCode::DuplicateEntry,
                "that address cannot be given to this member; remove them and add the address \
                 instead",
            )
            .at(["input", "email"]),
        ]);
    }
    let role = if m.is_manager {
        Role::ContractManager
    } else if !snap.coordinates(m.user_id).is_empty() {
        Role::SoftwareCoordinator
    } else {
        Role::User
    };
    let audit = json!({
        "user": m.user_id,
        "before": { "email": m.email, "firstName": m.first_name, "lastName": m.last_name, "language": m.language },
        "after": {
            "email": person.email.as_str(),
            "firstName": person.first_name,
            "lastName": person.last_name,
            "language": person.language.as_str(),
        },
    });
    Ok(CorrectionPlan {
        person,
        email_changed,
        role,
        audit,
    })
}

/// R32: a signed-in user asks to change their own address (their password already checked):
/// the new address must be valid, new, and held by no other User ID; which User ID holds it is
/// never said.
pub fn plan_email_change(
    current: &str,
    raw: &str,
    taken: bool,
) -> Result<crate::types::Email, DomainError> {
    let email = crate::types::Email::parse(raw).map_err(|e| e.at(["input", "newEmail"]))?;
    if email.as_str().eq_ignore_ascii_case(current) {
        return Err(DomainError::new(
            UserErrorCode::InvalidInput,
            "that is already the address of your User ID",
        )
        .at(["input", "newEmail"]));
    }
    if taken {
        return Err(DomainError::new(
            UserErrorCode::DuplicateEntry,
            "that address cannot be used for your User ID",
        )
        .at(["input", "newEmail"]));
    }
    Ok(email)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::{ContractFacts, MemberFacts};
    use crate::types::{BillingPeriod, RenewalKind, SupportLevel};
    use std::collections::BTreeMap;

    fn snap(status: MemberStatus) -> Snapshot {
        let member = MemberFacts {
            user_id: 5,
            email: "ann@wrong.example".into(),
            first_name: "Ann".into(),
            last_name: "Young".into(),
            language: "en".into(),
            status,
            is_manager: false,
            designated: false,
            web_support: false,
            cloud: Default::default(),
            products: Default::default(),
            coordinator_terms_accepted: false,
        };
        Snapshot {
            contract: ContractFacts {
                id: 1,
                number: "1234-567890".into(),
                company: "Acme".into(),
                status: ContractStatus::Active,
                support: SupportLevel::Basic,
                renewal: RenewalKind::Manual,
                billing_period: BillingPeriod::Annual,
                end_date: "2027-01-01".parse().unwrap(),
            },
            products: BTreeMap::new(),
            members: BTreeMap::from([(5, member)]),
            known: BTreeMap::new(),
        }
    }

    fn fresh() -> Subject {
        Subject {
            never_signed_in: true,
            created_here: true,
            on_other_contracts: false,
            email_taken: false,
        }
    }

    fn fix_email() -> Correction {
        Correction {
            user: 5,
            email: Some("ann@right.example".into()),
            ..Correction::default()
        }
    }

    #[test]
    fn r32_a_never_signed_in_member_created_here_is_corrected() {
        let plan = plan_correction(&snap(MemberStatus::Pending), &fix_email(), &fresh()).unwrap();
        assert!(plan.email_changed);
        assert_eq!(plan.person.email.as_str(), "ann@right.example");
        assert_eq!(plan.person.first_name, "Ann");
        assert_eq!(plan.role, Role::User);
        let name_only = Correction {
            user: 5,
            first_name: Some("Anne".into()),
            ..Correction::default()
        };
        let plan = plan_correction(&snap(MemberStatus::Pending), &name_only, &fresh()).unwrap();
        assert!(!plan.email_changed);
        assert_eq!(plan.person.first_name, "Anne");
    }

    #[test]
    fn r32_anyone_else_is_member_already_active() {
        let active = plan_correction(&snap(MemberStatus::Active), &fix_email(), &fresh());
        let cases = [
            active,
            plan_correction(
                &snap(MemberStatus::Pending),
                &fix_email(),
                &Subject {
                    never_signed_in: false,
                    ..fresh()
                },
            ),
            plan_correction(
                &snap(MemberStatus::Pending),
                &fix_email(),
                &Subject {
                    created_here: false,
                    ..fresh()
                },
            ),
            plan_correction(
                &snap(MemberStatus::Pending),
                &fix_email(),
                &Subject {
                    on_other_contracts: true,
                    ..fresh()
                },
            ),
        ];
        for r in cases {
            assert_eq!(r.unwrap_err()[0].code, UserErrorCode::MemberAlreadyActive);
        }
    }

    #[test]
    fn r32_a_taken_address_or_a_bad_one_is_refused() {
        let taken = plan_correction(
            &snap(MemberStatus::Pending),
            &fix_email(),
            &Subject {
                email_taken: true,
                ..fresh()
            },
        )
        .unwrap_err();
        assert_eq!(taken[0].code, UserErrorCode::DuplicateEntry);
        assert!(!taken[0].message.contains('@'), "says nothing of whose");
        let bad = Correction {
            user: 5,
            email: Some("not an email".into()),
            ..Correction::default()
        };
        let e = plan_correction(&snap(MemberStatus::Pending), &bad, &fresh()).unwrap_err();
        assert_eq!(e[0].code, UserErrorCode::InvalidEmail);
        assert_eq!(e[0].field.as_deref().unwrap(), ["input", "email"]);
        let stranger = Correction {
            user: 9,
            ..fix_email()
        };
        let e = plan_correction(&snap(MemberStatus::Pending), &stranger, &fresh()).unwrap_err();
        assert_eq!(e[0].code, UserErrorCode::NotAMember);
    }

    #[test]
    fn r32_an_email_change_needs_a_new_address_no_one_else_holds() {
        assert_eq!(
            plan_email_change("a@x.example", "b@x.example", false)
                .unwrap()
                .as_str(),
            "b@x.example"
        );
        let e = plan_email_change("a@x.example", "b@x.example", true).unwrap_err();
        assert_eq!(e.code, UserErrorCode::DuplicateEntry);
        assert!(!e.message.contains('@'));
        assert_eq!(
            plan_email_change("a@x.example", "A@x.example", false)
                .unwrap_err()
                .code,
            UserErrorCode::InvalidInput
        );
        let bad = plan_email_change("a@x.example", "nope", false).unwrap_err();
        assert_eq!(bad.code, UserErrorCode::InvalidEmail);
        assert_eq!(bad.field.as_deref().unwrap(), ["input", "newEmail"]);
    }
}
