//! The one place that answers "may this actor do this to that?" (DOMAIN.md capability matrix).
//!
//! Resolvers gather the actor's [`Standing`] on a contract from storage and ask [`decide`];
//! nothing else grants or refuses. An actor with no standing at all on a contract is told the
//! contract does not exist ([`Decision::NotFound`]), so one tenant cannot probe another.

use crate::types::SupportLevel;
use std::collections::BTreeSet;

/// Who is asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Principal {
    Anonymous,
    /// The vendor's staff or order intake, holding a staff API key.
    Staff,
    /// A signed-in User ID (a customer's person or a reseller's user).
    User,
}

/// What a signed-in user is to one contract. Built by storage, judged here.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Standing {
    /// The user is a member (named) on the contract.
    pub member: bool,
    pub is_manager: bool,
    /// Contract products this user is the Software Coordinator of.
    pub coordinates: BTreeSet<i64>,
    /// Contract products this user holds access (a seat) to.
    pub products: BTreeSet<i64>,
    pub web_support: bool,
    pub named_caller: bool,
    /// The user accepted the coordinator terms (R5).
    pub coordinator_terms_accepted: bool,
    /// The user belongs to a reseller that the contract lets view its cases (R18).
    pub reseller_views_cases: bool,
    pub support_level: Option<SupportLevel>,
    /// The user is the Contract Manager of another contract of this contract's company (R30):
    /// they read it, and nothing more.
    pub company_manager: bool,
}

/// What storage knows of a member, for [`Standing::new`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Membership {
    pub is_manager: bool,
    pub designated_caller: bool,
    pub web_support: bool,
    pub coordinates: BTreeSet<i64>,
    pub products: BTreeSet<i64>,
    pub coordinator_terms_accepted: bool,
}

impl Standing {
    /// The one way a standing is built, for reads and changes alike: a member's from their
    /// membership, anyone else's from whether their reseller may read the contract's cases.
    pub fn new(
        support: SupportLevel,
        membership: Option<Membership>,
        reseller_views_cases: bool,
    ) -> Standing {
        let Some(m) = membership else {
            return Standing {
                support_level: Some(support),
                reseller_views_cases,
                ..Standing::default()
            };
            // (`company_manager` is set by whoever knows the company, see `with_company`.)
        };
        Standing {
            member: true,
            is_manager: m.is_manager,
            named_caller: crate::rules::is_named_caller(
                support,
                m.is_manager,
                !m.coordinates.is_empty(),
                m.designated_caller,
            ),
            coordinates: m.coordinates,
            products: m.products,
            web_support: m.web_support,
            coordinator_terms_accepted: m.coordinator_terms_accepted,
            reseller_views_cases,
            support_level: Some(support),
            company_manager: false,
        }
    }

    /// The same standing, for a user who is (or is not) the Contract Manager of a contract of
    /// the same company (R30).
    pub fn with_company(mut self, company_manager: bool) -> Standing {
        self.company_manager = company_manager;
        self
    }

    pub fn is_coordinator(&self) -> bool {
        !self.coordinates.is_empty()
    }

    /// CM or any SC of the contract.
    pub fn is_admin(&self) -> bool {
        self.is_manager || self.is_coordinator()
    }

    /// May use Web Support on this contract (R17): admins and users granted it.
    pub fn may_use_web_support(&self) -> bool {
        self.is_admin() || self.web_support
    }
}

/// Something an actor wants to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    // Staff only (R15, R17, R19, R23).
    ProcessOrder,
    PublishRelease,
    ManageResellers,
    UpdateSupportCase,
    ResolveContractManagerChange,
    /// See that the contract exists: number, status, company, product names.
    ViewContract,
    /// See serial numbers, product keys and seat counts of one contract product (R7).
    ViewProductSecrets {
        contract_product: i64,
    },
    /// See members, their status and access (R21, R27), the audit log (R25) and email log.
    ViewMembers,
    /// Renew, change renewal terms, see billing (R8).
    ManageBilling,
    /// Assign, change or remove Software Coordinators (R6).
    AssignCoordinator,
    /// Add or remove users, grant or revoke product access on these contract products (R7).
    ManageProductUsers {
        contract_products: BTreeSet<i64>,
    },
    /// Contract-wide settings: naming users without products, Web Support, cloud services,
    /// Named Callers, reseller case access (R7).
    ManageContractSettings,
    /// Open a support case (R17).
    OpenCase,
    /// Read the contract's support cases (R17, R18).
    ViewCases,
    /// Ask for a Contract Manager change as the current CM (R15).
    RequestManagerChange,
    /// Propose yourself as the new Contract Manager (R15: "opened by ... the proposed new CM",
    /// e.g. an SC taking over from a CM who left).
    ///
    /// **(decision)** Only a member of the contract may propose themself. Anyone else gets
    /// exactly what a stranger gets for any action on the contract: [`Decision::NotFound`]
    /// (a reseller's user who may read the cases, [`Decision::Forbidden`]: they may only read,
    /// R18; staff, [`Decision::Forbidden`]: they approve the change, they do not ask for it).
    /// Callers must ask this before looking at anything else of the contract (its renewal
    /// kind, R15's AUTO refusal), so a stranger learns nothing of it.
    ProposeSelfAsManager,
    /// Process an add-on order for an existing contract (R31, staff).
    ProcessAddOnOrder,
    /// Change a contract product's seat count (R31, staff).
    SetSeatCount,
    /// Correct a never-signed-in member's email, name or language (R32, admins).
    CorrectMember,
    // Added for R34-R36 (issue 17).
    /// Comment on one of the contract's cases (R34): `own_case` when the actor submitted it.
    /// The submitter, and any member who may see the contract's cases; never a reseller's
    /// user reading through View Cases (R18: they only read). Staff comment on any case.
    CommentOnCase {
        own_case: bool,
    },
    /// Read the Express Service ID and support phone numbers (R35): Named Callers and admins
    /// of an ADVANCED contract, nobody else (not staff, not resellers).
    ViewPhoneSupport,
    /// Read the contract's cloud-credit balance and everyone's usage (R36): admins and staff.
    ViewCloudUsage,
    /// Read one's own cloud usage on the contract (R36): any member.
    ViewOwnCloudUsage,
    /// Add purchased credits and record usage the vendor's cloud reports (R36): staff only.
    ManageCloudCredits,
}

/// The policy's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// The actor may not know the object exists.
    NotFound,
    /// The actor knows the object but may not do this.
    Forbidden,
    /// An SC who has not accepted the coordinator terms tries an admin operation (R5).
    TermsNotAccepted,
    /// Signing in is required.
    Unauthenticated,
}

impl Decision {
    pub fn is_allowed(self) -> bool {
        self == Decision::Allow
    }
}

/// Decides whether `principal`, with `standing` on the contract concerned (if any), may `action`.
pub fn decide(principal: Principal, standing: Option<&Standing>, action: &Action) -> Decision {
    use Action::*;
    match principal {
        Principal::Anonymous => return Decision::Unauthenticated,
        Principal::Staff => {
            return match action {
                ProcessOrder
                | PublishRelease
                | ManageResellers
                | UpdateSupportCase
                | ResolveContractManagerChange
                | ProcessAddOnOrder
                | SetSeatCount
                | ViewContract
                | ViewProductSecrets { .. }
                | ViewMembers
                | ViewCases
                | CommentOnCase { .. }
                | ViewCloudUsage
                | ManageCloudCredits => Decision::Allow,
                // Staff work for the customer but do not act as one.
                _ => Decision::Forbidden,
            };
        }
        Principal::User => {}
    }

    let staff_only = matches!(
        action,
        ProcessOrder
            | PublishRelease
            | ManageResellers
            | UpdateSupportCase
            | ResolveContractManagerChange
            | ProcessAddOnOrder
            | SetSeatCount
            | ManageCloudCredits
    );
    let default = Standing::default();
    let s = standing.unwrap_or(&default);
    if staff_only {
        return Decision::Forbidden;
    }
    if !s.member {
        // A reseller with View Cases reads the contract and its cases, nothing else (R18).
        return match action {
            ViewContract | ViewCases if s.reseller_views_cases => Decision::Allow,
            // R30: the CM of another contract of the company reads it, and only reads.
            ViewContract if s.company_manager => Decision::Allow,
            _ if s.reseller_views_cases || s.company_manager => Decision::Forbidden,
            _ => Decision::NotFound,
        };
    }

    // Admin operations an SC may do only once the coordinator terms are accepted (R5).
    let sc_admin = |allowed: bool| -> Decision {
        if s.is_manager {
            Decision::Allow
        } else if !allowed {
            Decision::Forbidden
        } else if !s.coordinator_terms_accepted {
            Decision::TermsNotAccepted
        } else {
            Decision::Allow
        }
    };

    match action {
        ViewContract => Decision::Allow,
        // Any member: the proposed new CM need hold no role yet (R15).
        ProposeSelfAsManager => Decision::Allow,
        ViewProductSecrets { contract_product } => {
            let sees = s.is_manager
                || s.coordinates.contains(contract_product)
                || s.products.contains(contract_product);
            if sees {
                Decision::Allow
            } else {
                Decision::Forbidden
            }
        }
        ViewMembers => {
            if s.is_admin() {
                Decision::Allow
            } else {
                Decision::Forbidden
            }
        }
        ManageBilling | AssignCoordinator | RequestManagerChange => {
            if s.is_manager {
                Decision::Allow
            } else {
                Decision::Forbidden
            }
        }
        ManageProductUsers { contract_products } => {
            sc_admin(s.is_coordinator() && contract_products.is_subset(&s.coordinates))
        }
        ManageContractSettings | CorrectMember => sc_admin(s.is_coordinator()),
        OpenCase => {
            if s.may_use_web_support() {
                Decision::Allow
            } else {
                Decision::Forbidden
            }
        }
        // A member who is also a user of a reseller with View Cases reads the cases through
        // the reseller (R18) even without Web Support of their own; writing still needs it.
        ViewCases => {
            if s.may_use_web_support() || s.reseller_views_cases {
                Decision::Allow
            } else {
                Decision::Forbidden
            }
        }
        CommentOnCase { own_case } => {
            if *own_case || s.may_use_web_support() {
                Decision::Allow
            } else {
                Decision::Forbidden
            }
        }
        ViewPhoneSupport => {
            let advanced = s.support_level == Some(SupportLevel::Advanced);
            if advanced && (s.is_admin() || s.named_caller) {
                Decision::Allow
            } else {
                Decision::Forbidden
            }
        }
        ViewCloudUsage => {
            if s.is_admin() {
                Decision::Allow
            } else {
                Decision::Forbidden
            }
        }
        ViewOwnCloudUsage => Decision::Allow,
        ProcessOrder
        | PublishRelease
        | ManageResellers
        | UpdateSupportCase
        | ResolveContractManagerChange
        | ProcessAddOnOrder
        | SetSeatCount
        | ManageCloudCredits => Decision::Forbidden,
    }
}

/// What the viewer may do on a contract (R33), each flag answered by [`decide`] on the very
/// action its mutation asks for, so a client never learns a different answer by trying.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ViewerCan {
    /// `addUsers` without products, `removeUser`, `setUserAccess` of Web Support and cloud
    /// services, `correctMember` ([`Action::ManageContractSettings`]).
    pub manage_members: bool,
    /// `assignSoftwareCoordinator`, `removeSoftwareCoordinator` ([`Action::AssignCoordinator`]).
    pub manage_coordinators: bool,
    /// `addNamedCallers`, `removeNamedCallers` ([`Action::ManageContractSettings`]).
    pub manage_named_callers: bool,
    /// `setResellerCaseAccess` ([`Action::ManageContractSettings`]).
    pub manage_reseller_access: bool,
    /// `renewContract` ([`Action::ManageBilling`]).
    pub renew: bool,
    /// Serial numbers and product keys of at least one of `products`
    /// ([`Action::ViewProductSecrets`]).
    pub view_secrets: bool,
    /// `createSupportCase` ([`Action::OpenCase`]).
    pub open_cases: bool,
}

/// The actions each [`ViewerCan`] flag stands for, one per flag, in field order; the flag is
/// true exactly when [`decide`] allows its action (for `view_secrets`, any product's).
pub fn viewer_can(
    principal: Principal,
    standing: Option<&Standing>,
    products: impl IntoIterator<Item = i64>,
) -> ViewerCan {
    let may = |a: &Action| decide(principal, standing, a).is_allowed();
    ViewerCan {
        manage_members: may(&Action::ManageContractSettings),
        manage_coordinators: may(&Action::AssignCoordinator),
        manage_named_callers: may(&Action::ManageContractSettings),
        manage_reseller_access: may(&Action::ManageContractSettings),
        renew: may(&Action::ManageBilling),
        view_secrets: products.into_iter().any(|id| {
            may(&Action::ViewProductSecrets {
                contract_product: id,
            })
        }),
        open_cases: may(&Action::OpenCase),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(ids: &[i64]) -> BTreeSet<i64> {
        ids.iter().copied().collect()
    }

    fn cm() -> Standing {
        Standing {
            member: true,
            is_manager: true,
            products: set(&[1, 2]),
            ..Standing::default()
        }
    }

    fn sc_of_1() -> Standing {
        Standing {
            member: true,
            coordinates: set(&[1]),
            products: set(&[1]),
            coordinator_terms_accepted: true,
            ..Standing::default()
        }
    }

    fn user_of_2() -> Standing {
        Standing {
            member: true,
            products: set(&[2]),
            ..Standing::default()
        }
    }

    #[test]
    fn matrix_staff_only_operations_are_refused_to_every_user() {
        for s in [cm(), sc_of_1(), user_of_2()] {
            for a in [
                Action::ProcessOrder,
                Action::PublishRelease,
                Action::UpdateSupportCase,
            ] {
                assert_eq!(decide(Principal::User, Some(&s), &a), Decision::Forbidden);
            }
        }
        assert_eq!(
            decide(Principal::Staff, None, &Action::ProcessOrder),
            Decision::Allow
        );
        assert_eq!(
            decide(Principal::Anonymous, None, &Action::ProcessOrder),
            Decision::Unauthenticated
        );
    }

    #[test]
    fn r6_only_the_cm_assigns_coordinators() {
        assert!(decide(Principal::User, Some(&cm()), &Action::AssignCoordinator).is_allowed());
        assert_eq!(
            decide(
                Principal::User,
                Some(&sc_of_1()),
                &Action::AssignCoordinator
            ),
            Decision::Forbidden
        );
        assert_eq!(
            decide(Principal::Staff, None, &Action::AssignCoordinator),
            Decision::Forbidden
        );
    }

    #[test]
    fn r7_sc_manages_users_only_on_products_they_coordinate() {
        let on = |ids: &[i64]| Action::ManageProductUsers {
            contract_products: set(ids),
        };
        let sc = sc_of_1();
        assert!(decide(Principal::User, Some(&sc), &on(&[1])).is_allowed());
        assert_eq!(
            decide(Principal::User, Some(&sc), &on(&[1, 2])),
            Decision::Forbidden
        );
        assert!(decide(Principal::User, Some(&cm()), &on(&[1, 2])).is_allowed());
        assert_eq!(
            decide(Principal::User, Some(&user_of_2()), &on(&[2])),
            Decision::Forbidden
        );
        assert!(decide(Principal::User, Some(&sc), &Action::ManageContractSettings).is_allowed());
    }

    #[test]
    fn r5_sc_without_coordinator_terms_gets_terms_not_accepted() {
        let sc = Standing {
            coordinator_terms_accepted: false,
            ..sc_of_1()
        };
        let a = Action::ManageProductUsers {
            contract_products: set(&[1]),
        };
        assert_eq!(
            decide(Principal::User, Some(&sc), &a),
            Decision::TermsNotAccepted
        );
        // Queries still work.
        assert!(decide(Principal::User, Some(&sc), &Action::ViewMembers).is_allowed());
    }

    #[test]
    fn r7_product_secrets_follow_access() {
        let secret = |id| Action::ViewProductSecrets {
            contract_product: id,
        };
        assert!(decide(Principal::User, Some(&user_of_2()), &secret(2)).is_allowed());
        assert_eq!(
            decide(Principal::User, Some(&user_of_2()), &secret(1)),
            Decision::Forbidden
        );
        assert!(decide(Principal::User, Some(&cm()), &secret(1)).is_allowed());
    }

    #[test]
    fn r18_a_member_whose_reseller_views_cases_reads_them_but_cannot_open_one() {
        let both = Standing {
            member: true,
            reseller_views_cases: true,
            ..Standing::default()
        };
        assert!(decide(Principal::User, Some(&both), &Action::ViewCases).is_allowed());
        assert!(!decide(Principal::User, Some(&both), &Action::OpenCase).is_allowed());
        let member = Standing {
            member: true,
            ..Standing::default()
        };
        assert!(!decide(Principal::User, Some(&member), &Action::ViewCases).is_allowed());
    }

    #[test]
    fn r18_reseller_reads_cases_and_nothing_else() {
        let reseller = Standing {
            reseller_views_cases: true,
            ..Standing::default()
        };
        assert!(decide(Principal::User, Some(&reseller), &Action::ViewCases).is_allowed());
        assert!(decide(Principal::User, Some(&reseller), &Action::ViewContract).is_allowed());
        for a in [
            Action::OpenCase,
            Action::ViewMembers,
            Action::ManageContractSettings,
        ] {
            assert_eq!(
                decide(Principal::User, Some(&reseller), &a),
                Decision::Forbidden
            );
        }
        let stranger = Standing::default();
        assert_eq!(
            decide(Principal::User, Some(&stranger), &Action::ViewCases),
            Decision::NotFound
        );
        assert_eq!(
            decide(Principal::User, None, &Action::ViewContract),
            Decision::NotFound
        );
    }

    #[test]
    fn r15_any_member_may_propose_themself_as_contract_manager() {
        let unaccepted_sc = Standing {
            coordinator_terms_accepted: false,
            ..sc_of_1()
        };
        let plain = Standing {
            member: true,
            ..Standing::default()
        };
        for s in [cm(), sc_of_1(), unaccepted_sc, user_of_2(), plain] {
            assert_eq!(
                decide(Principal::User, Some(&s), &Action::ProposeSelfAsManager),
                Decision::Allow,
                "{s:?}"
            );
        }
    }

    #[test]
    fn r15_a_stranger_proposing_themself_is_told_the_contract_does_not_exist() {
        for st in [None, Some(Standing::default())] {
            assert_eq!(
                decide(Principal::User, st.as_ref(), &Action::ProposeSelfAsManager),
                Decision::NotFound
            );
            // The same answer as for any other action on a contract they do not know.
            assert_eq!(
                decide(Principal::User, st.as_ref(), &Action::ViewContract),
                Decision::NotFound
            );
        }
        let advanced_stranger = Standing {
            support_level: Some(SupportLevel::Advanced),
            ..Standing::default()
        };
        assert_eq!(
            decide(
                Principal::User,
                Some(&advanced_stranger),
                &Action::ProposeSelfAsManager
            ),
            Decision::NotFound
        );
    }

    #[test]
    fn r15_resellers_staff_and_anonymous_callers_cannot_propose_themselves() {
        let reseller = Standing {
            reseller_views_cases: true,
            ..Standing::default()
        };
        assert_eq!(
            decide(
                Principal::User,
                Some(&reseller),
                &Action::ProposeSelfAsManager
            ),
            Decision::Forbidden,
            "R18: a reseller with View Cases may only read"
        );
        assert_eq!(
            decide(Principal::Staff, None, &Action::ProposeSelfAsManager),
            Decision::Forbidden
        );
        assert_eq!(
            decide(Principal::Anonymous, None, &Action::ProposeSelfAsManager),
            Decision::Unauthenticated
        );
    }

    #[test]
    fn r17_web_support_users_open_and_see_cases() {
        let ws = Standing {
            web_support: true,
            ..user_of_2()
        };
        assert!(decide(Principal::User, Some(&ws), &Action::OpenCase).is_allowed());
        assert_eq!(
            decide(Principal::User, Some(&user_of_2()), &Action::OpenCase),
            Decision::Forbidden
        );
    }

    #[test]
    fn r30_the_cm_of_another_contract_of_the_company_reads_and_only_reads() {
        let reader = Standing::default().with_company(true);
        assert!(decide(Principal::User, Some(&reader), &Action::ViewContract).is_allowed());
        for a in [
            Action::ViewMembers,
            Action::ViewCases,
            Action::OpenCase,
            Action::ManageContractSettings,
            Action::AssignCoordinator,
            Action::ManageBilling,
            Action::CorrectMember,
            Action::ViewProductSecrets {
                contract_product: 1,
            },
        ] {
            assert_eq!(
                decide(Principal::User, Some(&reader), &a),
                Decision::Forbidden,
                "{a:?}"
            );
        }
    }

    #[test]
    fn r31_add_on_orders_and_seat_counts_are_staff_only() {
        for a in [Action::ProcessAddOnOrder, Action::SetSeatCount] {
            assert!(decide(Principal::Staff, None, &a).is_allowed());
            assert_eq!(
                decide(Principal::User, Some(&cm()), &a),
                Decision::Forbidden
            );
            assert_eq!(
                decide(Principal::Anonymous, None, &a),
                Decision::Unauthenticated
            );
        }
    }

    fn arb_standing() -> impl proptest::strategy::Strategy<Value = Standing> {
        use proptest::prelude::*;
        (
            any::<[bool; 7]>(),
            proptest::collection::btree_set(1i64..4, 0..3),
            proptest::collection::btree_set(1i64..4, 0..3),
            any::<bool>(),
        )
            .prop_map(|(f, coordinates, products, advanced)| {
                let support = if advanced {
                    SupportLevel::Advanced
                } else {
                    SupportLevel::Basic
                };
                let membership = f[0].then(|| Membership {
                    is_manager: f[1],
                    designated_caller: f[2],
                    web_support: f[3],
                    coordinates,
                    products,
                    coordinator_terms_accepted: f[4],
                });
                Standing::new(support, membership, f[5]).with_company(f[6])
            })
    }

    proptest::proptest! {
        /// R33: each flag is exactly the policy's answer to the action its mutations ask for.
        #[test]
        fn r33_viewer_can_is_the_policy_of_the_mutations(
            st in proptest::option::of(arb_standing()),
            p in 0u8..3,
        ) {
            let principal = [Principal::Anonymous, Principal::Staff, Principal::User][p as usize];
            let can = viewer_can(principal, st.as_ref(), [1, 2, 3]);
            let may = |a: Action| decide(principal, st.as_ref(), &a) == Decision::Allow;
            proptest::prop_assert_eq!(can.manage_members, may(Action::ManageContractSettings));
            proptest::prop_assert_eq!(can.manage_named_callers, may(Action::ManageContractSettings));
            proptest::prop_assert_eq!(can.manage_reseller_access, may(Action::ManageContractSettings));
            proptest::prop_assert_eq!(can.manage_coordinators, may(Action::AssignCoordinator));
            proptest::prop_assert_eq!(can.renew, may(Action::ManageBilling));
            proptest::prop_assert_eq!(can.open_cases, may(Action::OpenCase));
            proptest::prop_assert_eq!(
                can.view_secrets,
                (1..4).any(|id| may(Action::ViewProductSecrets { contract_product: id }))
            );
            // Reading is never writing: a company reader (R30) or a reseller (R18) may do none.
            if principal == Principal::User && let Some(s) = &st && !s.member {
                proptest::prop_assert_eq!(can, ViewerCan::default());
            }
        }
    }

    #[test]
    fn r34_submitter_and_case_readers_comment_never_a_reseller() {
        let plain = Standing {
            member: true,
            ..Standing::default()
        };
        let own = Action::CommentOnCase { own_case: true };
        let other = Action::CommentOnCase { own_case: false };
        // The submitter who lost Web Support still answers on their own case.
        assert!(decide(Principal::User, Some(&plain), &own).is_allowed());
        assert_eq!(
            decide(Principal::User, Some(&plain), &other),
            Decision::Forbidden
        );
        let ws = Standing {
            web_support: true,
            ..plain.clone()
        };
        assert!(decide(Principal::User, Some(&ws), &other).is_allowed());
        assert!(decide(Principal::User, Some(&cm()), &other).is_allowed());
        let reseller = Standing {
            reseller_views_cases: true,
            ..Standing::default()
        };
        assert_eq!(
            decide(Principal::User, Some(&reseller), &other),
            Decision::Forbidden
        );
        let member_via_reseller = Standing {
            member: true,
            reseller_views_cases: true,
            ..Standing::default()
        };
        assert_eq!(
            decide(Principal::User, Some(&member_via_reseller), &other),
            Decision::Forbidden
        );
        assert!(decide(Principal::Staff, None, &other).is_allowed());
        assert_eq!(decide(Principal::User, None, &other), Decision::NotFound);
    }

    #[test]
    fn r35_phone_support_for_named_callers_and_admins_of_advanced_contracts_only() {
        let advanced = |s: Standing| Standing {
            support_level: Some(SupportLevel::Advanced),
            ..s
        };
        let caller = Standing {
            named_caller: true,
            ..user_of_2()
        };
        for s in [
            advanced(cm()),
            advanced(sc_of_1()),
            advanced(caller.clone()),
        ] {
            assert!(decide(Principal::User, Some(&s), &Action::ViewPhoneSupport).is_allowed());
        }
        for s in [
            advanced(user_of_2()),
            Standing {
                support_level: Some(SupportLevel::Basic),
                ..cm()
            },
            advanced(Standing {
                reseller_views_cases: true,
                ..Standing::default()
            }),
        ] {
            assert!(!decide(Principal::User, Some(&s), &Action::ViewPhoneSupport).is_allowed());
        }
        assert!(!decide(Principal::Staff, None, &Action::ViewPhoneSupport).is_allowed());
    }

    #[test]
    fn r36_staff_manage_credits_admins_read_usage_members_read_their_own() {
        for s in [cm(), sc_of_1(), user_of_2()] {
            assert_eq!(
                decide(Principal::User, Some(&s), &Action::ManageCloudCredits),
                Decision::Forbidden
            );
            assert!(decide(Principal::User, Some(&s), &Action::ViewOwnCloudUsage).is_allowed());
        }
        assert!(decide(Principal::Staff, None, &Action::ManageCloudCredits).is_allowed());
        assert!(decide(Principal::User, Some(&cm()), &Action::ViewCloudUsage).is_allowed());
        assert!(decide(Principal::User, Some(&sc_of_1()), &Action::ViewCloudUsage).is_allowed());
        assert_eq!(
            decide(Principal::User, Some(&user_of_2()), &Action::ViewCloudUsage),
            Decision::Forbidden
        );
        let reseller = Standing {
            reseller_views_cases: true,
            ..Standing::default()
        };
        for a in [Action::ViewCloudUsage, Action::ViewOwnCloudUsage] {
            assert_eq!(
                decide(Principal::User, Some(&reseller), &a),
                Decision::Forbidden
            );
        }
    }
}
