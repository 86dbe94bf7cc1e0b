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
    /// Any product of the contract has a Software Coordinator.
    pub has_coordinator: bool,
    pub pending_members: i64,
    /// (admin's name, product name) of seats an admin holds by role on a full product.
    pub idle_admin_seats: Vec<(String, String)>,
}

/// The advice for these facts, most urgent first.
pub fn advice(facts: &AdviceFacts) -> Vec<(AdviceCode, String)> {
    let mut out = Vec::new();
    if !facts.has_coordinator {
        out.push((
            AdviceCode::SoleAdministrator,
            "You are the only administrator of this contract: while you are away nobody can add \
             users or grant access. Assign a Software Coordinator for your products."
                .to_string(),
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

    #[test]
    fn the_absent_cm_is_flagged_until_a_coordinator_is_assigned() {
        let alone = advice(&AdviceFacts::default());
        assert_eq!(alone.len(), 1);
        assert_eq!(alone[0].0, AdviceCode::SoleAdministrator);
        let helped = advice(&AdviceFacts {
            has_coordinator: true,
            ..AdviceFacts::default()
        });
        assert!(helped.is_empty());
    }

    #[test]
    fn pending_members_and_idle_seats_are_named() {
        let a = advice(&AdviceFacts {
            has_coordinator: true,
            pending_members: 3,
            idle_admin_seats: vec![("Pat Smith".into(), "AutoCAD".into())],
        });
        assert_eq!(a[0].0, AdviceCode::PendingMembers);
        assert!(a[0].1.contains("3 members have"));
        assert_eq!(a[1].0, AdviceCode::IdleAdminSeats);
        assert!(a[1].1.contains("Pat Smith (AutoCAD)"));
    }
}
