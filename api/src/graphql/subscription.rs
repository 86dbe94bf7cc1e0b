//! Subscriptions over `/graphql/ws` (graphql-transport-ws), authorised like queries: checked
//! when the subscription starts and again for every event, so access that ends (a reseller set
//! back to no) ends the stream's deliveries at once.

use super::context::Ctx;
use super::errors;
use super::errors::Result;
use super::events::Event;
use super::ids::{self, Kind};
use super::objects::{Contract, SupportCase};
use async_graphql::{Context, ID, SimpleObject, Subscription as SubscriptionObject};
use futures::{Stream, StreamExt as _};
use roster_domain::policy::{Action, Decision, Principal, decide};
use roster_store::{cases, contracts};
use std::sync::Arc;
use tokio_stream::wrappers::BroadcastStream;

/// A change to a contract.
#[derive(SimpleObject, Clone)]
pub struct ContractChange {
    pub contract: Contract,
    /// What changed: `members`, `reseller_access`, `contract_manager`, ...
    pub kind: String,
}

pub struct Subscription;

/// Whether the caller may `action` on the contract right now; `None` when it cannot see it.
async fn allowed(ctx: &Ctx, contract_id: i64, action: &Action) -> Result<Option<Contract>> {
    let Some(row) = contracts::by_id(ctx.store.pool(), contract_id).await? else {
        return Ok(None);
    };
    let standing = match &ctx.user {
        Some(user) => {
            let mut conn = ctx.store.pool().acquire().await?;
            Some(contracts::standing(&mut conn, user, &row).await?)
        }
        None => None,
    };
    match decide(ctx.principal, standing.as_ref(), action) {
        Decision::Allow => Ok(Some(Contract::with_standing(row, standing))),
        _ => Ok(None),
    }
}

async fn start(ctx: &Context<'_>, contract_id: &ID, action: &Action) -> Result<(Ctx, i64)> {
    let c = ctx.data_unchecked::<Ctx>().clone();
    if c.principal == Principal::Anonymous {
        return Err(errors::unauthenticated().into());
    }
    let id = ids::decode(Kind::Contract, contract_id)
        .ok_or_else(|| async_graphql::Error::new("contract not found"))?;
    if allowed(&c, id, action).await?.is_none() {
        return Err(async_graphql::Error::new("contract not found").into());
    }
    Ok((c, id))
}

#[SubscriptionObject]
impl Subscription {
    /// A case of the contract was opened or changed (R17); for whoever may read its cases.
    async fn support_case_updated(
        &self,
        ctx: &Context<'_>,
        contract_id: ID,
    ) -> Result<impl Stream<Item = SupportCase> + use<>> {
        let (c, id) = start(ctx, &contract_id, &Action::ViewCases).await?;
        let events = BroadcastStream::new(c.events.subscribe());
        Ok(events.filter_map(move |event| {
            let c = c.clone();
            async move {
                let Ok(Event::CaseUpdated {
                    contract_id,
                    case_pk,
                }) = event
                else {
                    return None;
                };
                if contract_id != id {
                    return None;
                }
                allowed(&c, id, &Action::ViewCases).await.ok().flatten()?;
                let row = cases::by_pk(c.store.pool(), case_pk).await.ok().flatten()?;
                Some(SupportCase { row: Arc::new(row) })
            }
        }))
    }

    /// Something on the contract changed: members, access, reseller access, its manager.
    async fn contract_changed(
        &self,
        ctx: &Context<'_>,
        contract_id: ID,
    ) -> Result<impl Stream<Item = ContractChange> + use<>> {
        let (c, id) = start(ctx, &contract_id, &Action::ViewContract).await?;
        let events = BroadcastStream::new(c.events.subscribe());
        Ok(events.filter_map(move |event| {
            let c = c.clone();
            async move {
                let (contract_id, kind) = match event {
                    Ok(Event::ContractChanged { contract_id, kind }) => (contract_id, kind),
                    Ok(Event::CaseUpdated { contract_id, .. }) => {
                        (contract_id, "support_case".to_string())
                    }
                    Err(_) => return None,
                };
                if contract_id != id {
                    return None;
                }
                let contract = allowed(&c, id, &Action::ViewContract)
                    .await
                    .ok()
                    .flatten()?;
                Some(ContractChange { contract, kind })
            }
        }))
    }
}
