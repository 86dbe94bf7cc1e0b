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

    /// The signed-in user. An anonymous caller gets UNAUTHENTICATED; a caller who is signed
    /// in as something else (a staff key) gets FORBIDDEN: signing in would not help.
    pub fn require_user(&self) -> Result<&Arc<UserRow>> {
        match (&self.user, self.principal) {
            (Some(user), _) => Ok(user),
            (None, Principal::Anonymous) => Err(errors::unauthenticated()),
            (None, _) => Err(errors::forbidden()),
        }
    }

    /// Refuses anonymous callers; staff must be staff, users get FORBIDDEN.
    pub fn require_staff(&self) -> Result<i64> {
        match self.principal {
            Principal::Anonymous => Err(errors::unauthenticated()),
            Principal::Staff => Ok(self.staff_key.unwrap_or_default()),
            Principal::User => Err(errors::forbidden()),
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
