//! Generated inputs against the domain's parsers and the policy: every input is either
//! accepted as something safe or refused cleanly, never a panic; the policy never lets an
//! actor see or change what the capability matrix does not give them.

use proptest::prelude::*;
use roster_domain::policy::{Action, Decision, Principal, Standing, decide};
use roster_domain::rules::{OrderRequest, validate_order};
use roster_domain::*;
use std::collections::BTreeSet;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn emails_are_refused_or_safe(raw in "\\PC{0,80}|[a-zA-Z0-9._%+\\-\r\n <>@]{0,60}") {
        match Email::parse(&raw) {
            Ok(email) => {
                let s = email.as_str();
                prop_assert!(!s.chars().any(|c| c.is_whitespace() || c.is_control()));
                prop_assert!(s.contains('@'));
                prop_assert!(s.len() <= MAX_EMAIL_LEN);
                prop_assert_eq!(s.to_lowercase(), s);
            }
            Err(e) => prop_assert_eq!(e.code, UserErrorCode::InvalidEmail),
        }
    }

    #[test]
    fn names_never_carry_line_breaks(raw in "\\PC{0,120}|[A-Za-z \r\n\t<>&\"']{0,40}") {
        match parse_text("firstName", &raw, MAX_NAME_LEN) {
            Ok(s) => {
                prop_assert!(!s.chars().any(char::is_control));
                prop_assert!(!s.is_empty() && s.chars().count() <= MAX_NAME_LEN);
            }
            Err(e) => {
                prop_assert_eq!(e.code, UserErrorCode::InvalidInput);
                prop_assert_eq!(e.field, Some(vec!["firstName".to_string()]));
            }
        }
    }

    #[test]
    fn languages_are_known_or_refused(raw in "\\PC{0,12}") {
        if let Ok(l) = Language::parse(&raw) {
            prop_assert!(LANGUAGES.contains(&l.as_str()));
        }
    }

    #[test]
    fn orders_are_valid_or_every_problem_names_its_field(
        number in "[A-Za-z0-9 ._\\-!]{0,70}",
        company in "\\PC{0,10}",
        seats in proptest::collection::vec(-5i64..200_000, 0..4),
        start in 0u32..800,
        len in -10i64..800,
    ) {
        let d0 = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let start_date = d0 + chrono::Days::new(u64::from(start));
        let end_date = if len >= 0 { start_date + chrono::Days::new(len as u64) } else { start_date - chrono::Days::new((-len) as u64) };
        let codes: Vec<String> = (0..seats.len()).map(|i| format!("P{}", i % 3)).collect();
        let lines: Vec<(&str, &str, i64)> = codes.iter().zip(&seats).map(|(c, s)| (c.as_str(), "Product", *s)).collect();
        let req = OrderRequest {
            order_number: &number,
            company: &company,
            purchaser: Person::parse("p@x.example", "P", "Q", None).unwrap(),
            support_level: SupportLevel::Basic,
            renewal_kind: RenewalKind::Manual,
            billing_period: BillingPeriod::Annual,
            start_date,
            end_date,
            lines,
            customer_number: None,
        };
        match validate_order(req) {
            Ok(order) => {
                prop_assert!(order.term.end > order.term.start);
                prop_assert!(order.lines.iter().all(|l| (1..=MAX_SEATS).contains(&l.seats)));
                prop_assert!(!order.lines.is_empty());
            }
            Err(errors) => {
                prop_assert!(!errors.is_empty());
                for e in errors {
                    let field = e.field.expect("every problem names its field");
                    prop_assert!(["orderNumber", "company", "endDate", "products"].contains(&field[0].as_str()), "{:?}", field);
                }
            }
        }
    }
}

fn standing() -> impl Strategy<Value = Option<Standing>> {
    let ids = proptest::collection::btree_set(1i64..5, 0..3);
    proptest::option::of(
        (
            any::<bool>(),
            any::<bool>(),
            ids.clone(),
            ids,
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(
                |(member, is_manager, coordinates, products, web_support, terms, reseller)| {
                    Standing {
                        member,
                        is_manager: member && is_manager,
                        coordinates: if member { coordinates } else { BTreeSet::new() },
                        products: if member { products } else { BTreeSet::new() },
                        web_support: member && web_support,
                        named_caller: false,
                        coordinator_terms_accepted: terms,
                        reseller_views_cases: reseller,
                        support_level: Some(SupportLevel::Advanced),
                        company_manager: false,
                    }
                },
            ),
    )
}

fn action() -> impl Strategy<Value = Action> {
    let ids = proptest::collection::btree_set(1i64..5, 0..3);
    prop_oneof![
        Just(Action::ProcessOrder),
        Just(Action::PublishRelease),
        Just(Action::ManageResellers),
        Just(Action::UpdateSupportCase),
        Just(Action::ResolveContractManagerChange),
        Just(Action::ProcessAddOnOrder),
        Just(Action::SetSeatCount),
        Just(Action::CorrectMember),
        Just(Action::ViewContract),
        (1i64..5).prop_map(|id| Action::ViewProductSecrets {
            contract_product: id
        }),
        Just(Action::ViewMembers),
        Just(Action::ManageBilling),
        Just(Action::AssignCoordinator),
        ids.prop_map(|s| Action::ManageProductUsers {
            contract_products: s
        }),
        Just(Action::ManageContractSettings),
        Just(Action::OpenCase),
        Just(Action::ViewCases),
        Just(Action::RequestManagerChange),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]

    /// 10,000 generated (actor, standing, action) cases against the matrix's invariants.
    #[test]
    fn the_policy_never_grants_what_the_matrix_does_not(
        principal in prop_oneof![Just(Principal::Anonymous), Just(Principal::Staff), Just(Principal::User)],
        s in standing(),
        a in action(),
    ) {
        let d = decide(principal, s.as_ref(), &a);
        let staff_only = matches!(a, Action::ProcessOrder | Action::PublishRelease | Action::ManageResellers | Action::UpdateSupportCase | Action::ResolveContractManagerChange | Action::ProcessAddOnOrder | Action::SetSeatCount);
        match principal {
            Principal::Anonymous => prop_assert_eq!(d, Decision::Unauthenticated),
            Principal::Staff => {
                let customer_admin = matches!(a, Action::ManageBilling | Action::AssignCoordinator | Action::ManageProductUsers { .. } | Action::ManageContractSettings | Action::CorrectMember | Action::OpenCase | Action::RequestManagerChange);
                prop_assert_eq!(d.is_allowed(), !customer_admin);
            }
            Principal::User => {
                if staff_only {
                    prop_assert_ne!(d, Decision::Allow);
                }
                let st = s.clone().unwrap_or_default();
                if !st.member {
                    // Outsiders see nothing, resellers read the contract and its cases only.
                    let reads = matches!(a, Action::ViewContract | Action::ViewCases);
                    prop_assert_eq!(d.is_allowed(), st.reseller_views_cases && reads);
                    if !st.reseller_views_cases && !staff_only {
                        prop_assert_eq!(d, Decision::NotFound);
                    }
                }
                if d.is_allowed() && matches!(a, Action::ManageBilling | Action::AssignCoordinator | Action::RequestManagerChange) {
                    prop_assert!(st.is_manager, "R6, R8: only the CM");
                }
                if let (true, Action::ManageProductUsers { contract_products }) = (d.is_allowed(), &a) {
                    prop_assert!(st.is_manager || (contract_products.is_subset(&st.coordinates) && !st.coordinates.is_empty() && st.coordinator_terms_accepted), "R5, R7");
                }
                if d == Decision::TermsNotAccepted {
                    prop_assert!(!st.is_manager && !st.coordinates.is_empty() && !st.coordinator_terms_accepted);
                }
                if d.is_allowed() && matches!(a, Action::OpenCase) {
                    prop_assert!(st.member && (st.is_admin() || st.web_support), "R17");
                }
            }
        }
    }
}
