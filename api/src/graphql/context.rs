//! Per-request context: who is asking, and the shared state resolvers need.

use super::errors;
use async_graphql::{Context, Result};
use roster_domain::policy::{Principal, Standing};
use roster_store::Store;
use roster_store::contracts::{self, ContractRow};
use roster_store::users::UserRow;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// What every request shares: the store and the settings resolvers need.
#[derive(Clone)]
pub struct Shared {
    pub store: Store,
    pub provisioning_delay: Duration,
    /// Wakes an in-process outbox relay after a commit, so jobs start at once.
    pub wake: Arc<Notify>,
    pub events: super::events::EventBus,
    pub throttle: Arc<crate::throttle::Throttle>,
    /// R35: the support phone numbers (configuration).
    pub support_phones: Arc<Vec<String>>,
    /// Who bearer tokens name, cached (see [`crate::sessions`]).
    pub sessions: Arc<crate::sessions::SessionCache>,
}

/// The request's actor and the shared state.
#[derive(Clone)]
pub struct Ctx {
    pub principal: Principal,
    pub user: Option<Arc<UserRow>>,
    pub staff_key: Option<i64>,
    /// The bearer token of this request (to sign it out).
    pub token: Option<String>,
    pub store: Store,
    pub provisioning_delay: Duration,
    pub wake: Arc<Notify>,
    pub events: super::events::EventBus,
    pub throttle: Arc<crate::throttle::Throttle>,
    /// The client's address, for throttling.
    pub client: Option<std::net::IpAddr>,
    /// R35: the support phone numbers (configuration).
    pub support_phones: Arc<Vec<String>>,
    /// Who bearer tokens name, cached: a change to a user's sessions or row forgets them.
    pub sessions: Arc<crate::sessions::SessionCache>,
}

impl Ctx {
    /// After a commit: wake the relay and tell subscribers.
    pub fn committed(&self, event: super::events::Event) {
        self.wake.notify_one();
        self.events.publish(event);
    }

    pub fn anonymous(shared: &Shared) -> Self {
        Self {
            principal: Principal::Anonymous,
            user: None,
            staff_key: None,
            token: None,
            store: shared.store.clone(),
            provisioning_delay: shared.provisioning_delay,
            wake: shared.wake.clone(),
            events: shared.events.clone(),
            throttle: shared.throttle.clone(),
            client: None,
            support_phones: shared.support_phones.clone(),
            sessions: shared.sessions.clone(),
        }
    }

    /// After a commit that changed a contract's people.
    pub fn members_changed(&self, contract_id: i64) {
        self.committed(super::events::Event::ContractChanged {
            contract_id,
            kind: "members".into(),
        });
    }

    /// The actor as the audit log names it.
    pub fn actor(&self) -> roster_store::audit::Actor {
        use roster_store::audit::Actor;
        match (&self.user, self.staff_key) {
            (Some(u), _) => Actor::User(u.id),
            (None, Some(k)) => Actor::Staff(k),
            (None, None) => Actor::System,
        }
    }

    /// Who asks, as the change pipeline judges them.
    pub fn requester(&self) -> roster_store::change::Requester {
        roster_store::change::Requester {
            principal: self.principal,
            user: self.user.as_ref().map(|u| (u.id, u.reseller_id)),
            actor: self.actor(),
        }
    }

    /// Runs a change to a contract's people through the one pipeline (policy, snapshot, rule,
    /// writes in one transaction), then its effects: wake the relay, tell subscribers.
    pub async fn change(
        &self,
        contract_id: &async_graphql::ID,
        command: roster_domain::change::Command,
        input_errors: Vec<roster_domain::DomainError>,
        dry_run: bool,
    ) -> Result<roster_store::change::Applied, roster_store::change::ChangeError> {
        use roster_store::change::{self, ChangeError};
        if self.principal == Principal::Anonymous {
            return Err(ChangeError::Unauthenticated);
        }
        let Some(id) = super::ids::decode(super::ids::Kind::Contract, contract_id) else {
            return Err(ChangeError::NotFound);
        };
        let applied = change::run(
            &self.store,
            &self.requester(),
            id,
            command,
            input_errors,
            dry_run,
        )
        .await?;
        if !applied.dry_run {
            self.members_changed(applied.contract_id);
        }
        Ok(applied)
    }

    /// The first steps of a change that is not a people change: the contract locked and loaded,
    /// the policy's decision on `action`; the proof it returns is what the store requires.
    pub async fn authorize(
        &self,
        contract_id: &async_graphql::ID,
        action: impl FnOnce(&roster_domain::change::Snapshot) -> roster_domain::policy::Action,
    ) -> Result<roster_store::change::Authorized, roster_store::change::ChangeError> {
        use roster_store::change::{self, ChangeError};
        if self.principal == Principal::Anonymous {
            return Err(ChangeError::Unauthenticated);
        }
        let Some(id) = super::ids::decode(super::ids::Kind::Contract, contract_id) else {
            return Err(ChangeError::NotFound);
        };
        change::authorize(
            &self.store,
            &self.requester(),
            id,
            Default::default(),
            action,
        )
        .await
    }

    /// The signed-in user. An anonymous caller gets UNAUTHENTICATED; a caller who is signed
    /// in as something else (a staff key) gets FORBIDDEN: signing in would not help.
    pub fn require_user(&self) -> Result<&Arc<UserRow>> {
        match (&self.user, self.principal) {
            (Some(user), _) => Ok(user),
            (None, Principal::Anonymous) => Err(errors::unauthenticated()),
            (None, _) => Err(errors::forbidden()),
        }
    }

    /// Asks the policy about an action that concerns no one contract (the staff-only actions
    /// of R15, R17, R19, R23): anonymous callers are UNAUTHENTICATED, anyone else it refuses
    /// is FORBIDDEN.
    pub fn allow(&self, action: &roster_domain::policy::Action) -> Result<()> {
        use roster_domain::policy::{Decision, decide};
        match decide(self.principal, None, action) {
            Decision::Allow => Ok(()),
            Decision::Unauthenticated => Err(errors::unauthenticated()),
            _ => Err(errors::forbidden()),
        }
    }
}

/// The standing of the request's user on `contract`; `None` for staff and anonymous callers.
pub async fn contract_standing(
    ctx: &Context<'_>,
    contract: &ContractRow,
) -> Result<Option<Standing>> {
    let c = ctx.data_unchecked::<Ctx>();
    let Some(user) = &c.user else {
        return Ok(None);
    };
    let mut conn = c
        .store
        .pool()
        .acquire()
        .await
        .map_err(|e| errors::internal(&e))?;
    let standing = contracts::standing(&mut conn, user, contract)
        .await
        .map_err(errors::store)?;
    Ok(Some(standing))
}
