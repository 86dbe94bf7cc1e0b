//! Advice for a contract's admins: risks to act on before they bite (DOMAIN.md, "The absent
//! CM"; API.md `Contract.advice`). Computed from the data every time, never stored.

/// Why Roster advises something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdviceCode {
    /// The CM is the only admin: nobody can help users while they are away.
    SoleAdministrator,
    /// Members who never signed in since being added.
    PendingMembers,
    /// An admin holds a seat, given by their role, of a product that is full.
    IdleAdminSeats,
}

impl AdviceCode {
    pub fn as_str(self) -> &'static str {
        match self {
            AdviceCode::SoleAdministrator => "SOLE_ADMINISTRATOR",
            AdviceCode::PendingMembers => "PENDING_MEMBERS",
            AdviceCode::IdleAdminSeats => "IDLE_ADMIN_SEATS",
        }
    }
}

/// What the advice is computed from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdviceFacts {
    /// The contract's products, by name.
    pub products: Vec<String>,
    /// Products no one but the CM administers: no Software Coordinator, or the CM is it (R4).
    pub products_only_cm_administers: Vec<String>,
    pub pending_members: i64,
    /// (admin's name, product name) of seats an admin holds by role on a full product.
    pub idle_admin_seats: Vec<(String, String)>,
}

/// The advice for these facts, most urgent first.
pub fn advice(facts: &AdviceFacts) -> Vec<(AdviceCode, String)> {
    let mut out = Vec::new();
    let alone = &facts.products_only_cm_administers;
    if !alone.is_empty() && alone.len() >= facts.products.len() {
        out.push((
            AdviceCode::SoleAdministrator,
            "You are the only administrator of this contract: while you are away nobody can add \
             users or grant access. Assign a Software Coordinator for your products."
                .to_string(),
        ));
    } else if !alone.is_empty() {
        out.push((
            AdviceCode::SoleAdministrator,
            format!(
                "You are the only administrator of {}: while you are away nobody can add users \
                 to {} or grant access to {}. Assign a Software Coordinator for {}.",
                alone.join(", "),
                if alone.len() == 1 { "it" } else { "them" },
                if alone.len() == 1 { "it" } else { "them" },
                if alone.len() == 1 { "it" } else { "them" },
            ),
        ));
    }
    if facts.pending_members > 0 {
        let n = facts.pending_members;
        out.push((
            AdviceCode::PendingMembers,
            format!(
                "{n} member{} never signed in. Check the email address, or resend their Get \
                 Started email.",
                if n == 1 { " has" } else { "s have" }
            ),
        ));
    }
    if !facts.idle_admin_seats.is_empty() {
        let list = facts
            .idle_admin_seats
            .iter()
            .map(|(who, product)| format!("{who} ({product})"))
            .collect::<Vec<_>>()
            .join(", ");
        out.push((
            AdviceCode::IdleAdminSeats,
            format!(
                "These products are full while administrators hold the seat their role gave \
                 them: {list}. If they do not use it, revoke it to free a seat for a user."
            ),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn products(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn the_absent_cm_is_flagged_until_a_coordinator_is_assigned() {
        let alone = advice(&AdviceFacts {
            products: products(&["AutoCAD"]),
            products_only_cm_administers: products(&["AutoCAD"]),
            ..AdviceFacts::default()
        });
        assert_eq!(alone.len(), 1);
        assert_eq!(alone[0].0, AdviceCode::SoleAdministrator);
        let helped = advice(&AdviceFacts {
            products: products(&["AutoCAD"]),
            ..AdviceFacts::default()
        });
        assert!(helped.is_empty());
    }

    /// 004's "Option A": the CM making themself SC leaves them the only admin; and a product
    /// without an SC is flagged although another product has one.
    #[test]
    fn r4_sole_administrator_stays_while_the_cm_is_sc_and_names_products_without_one() {
        let cm_is_sc = advice(&AdviceFacts {
            products: products(&["AutoCAD", "Revit"]),
            products_only_cm_administers: products(&["AutoCAD", "Revit"]),
            ..AdviceFacts::default()
        });
        assert_eq!(cm_is_sc[0].0, AdviceCode::SoleAdministrator);
        let partly = advice(&AdviceFacts {
            products: products(&["AutoCAD", "Revit"]),
            products_only_cm_administers: products(&["Revit"]),
            ..AdviceFacts::default()
        });
        assert_eq!(partly.len(), 1);
        assert_eq!(partly[0].0, AdviceCode::SoleAdministrator);
        assert!(partly[0].1.contains("of Revit"), "{}", partly[0].1);
    }

    #[test]
    fn pending_members_and_idle_seats_are_named() {
        let a = advice(&AdviceFacts {
            products: products(&["AutoCAD"]),
            pending_members: 3,
            idle_admin_seats: vec![("Pat Smith".into(), "AutoCAD".into())],
            ..AdviceFacts::default()
        });
        assert_eq!(a[0].0, AdviceCode::PendingMembers);
        assert!(a[0].1.contains("3 members have"));
        assert_eq!(a[1].0, AdviceCode::IdleAdminSeats);
        assert!(a[1].1.contains("Pat Smith (AutoCAD)"));
    }
}
