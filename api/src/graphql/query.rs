//! The root query.

use super::context::Ctx;
use super::errors;
use super::errors::Result;
use super::ids::{self, Kind};
use super::objects::{
    Contract, ContractProduct, SupportCase, User, Viewer, case_by_case_id, contract_by_id,
    list_contracts, signed_in, visible_case,
};
use super::scalars::{ConnectionFields, Cursor, page_cost};
use async_graphql::connection::Connection;
use async_graphql::{Context, ID, Interface, Object};
use roster_domain::policy::{Action, Principal};
use roster_store::{contracts, users};
use std::sync::Arc;

/// Anything with a global ID.
#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID"))]
pub enum Node {
    Contract(Contract),
    ContractProduct(ContractProduct),
    User(User),
    SupportCase(SupportCase),
}

pub struct Query;

#[Object]
impl Query {
    /// The caller: the signed-in user or staff key, with the contracts it can see.
    async fn viewer(&self, ctx: &Context<'_>) -> Result<Viewer> {
        if ctx.data_unchecked::<Ctx>().principal == Principal::Anonymous {
            return Err(errors::unauthenticated().into());
        }
        Ok(Viewer)
    }

    /// Any object by its global ID; `null` when it does not exist or the caller may not see it.
    async fn node(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Node>> {
        let c = ctx.data_unchecked::<Ctx>();
        if c.principal == Principal::Anonymous {
            return Err(errors::unauthenticated().into());
        }
        let Some((kind, n)) = ids::decode_any(&id) else {
            return Ok(None);
        };
        match kind {
            Kind::Contract => Ok(contract_by_id(ctx, n).await?.map(Node::Contract)),
            Kind::ContractProduct => {
                let Some(cp) = contracts::product_by_id(c.store.pool(), n).await? else {
                    return Ok(None);
                };
                let Some(contract) = contract_by_id(ctx, cp.contract_id).await? else {
                    return Ok(None);
                };
                let secrets = contract.allows(
                    ctx,
                    &Action::ViewProductSecrets {
                        contract_product: cp.id,
                    },
                );
                Ok(Some(Node::ContractProduct(ContractProduct {
                    row: Arc::new(cp),
                    secrets,
                    people: !contract.reader_only(),
                    seats: secrets || contract.company_reader(),
                })))
            }
            Kind::User => {
                // A user is visible to themself and to staff.
                let me = c.user.as_ref().map(|u| u.id);
                if me != Some(n) && c.principal != Principal::Staff {
                    return Ok(None);
                }
                Ok(users::by_id(c.store.pool(), n)
                    .await?
                    .map(|u| Node::User(User(Arc::new(u)))))
            }
            Kind::SupportCase => {
                let Some(row) = roster_store::cases::by_pk(c.store.pool(), n).await? else {
                    return Ok(None);
                };
                Ok(visible_case(ctx, row).await?.map(Node::SupportCase))
            }
            _ => Ok(None),
        }
    }

    /// A contract by its number; `null` when the caller may not see it.
    async fn contract(&self, ctx: &Context<'_>, number: String) -> Result<Option<Contract>> {
        let c = ctx.data_unchecked::<Ctx>();
        if c.principal == Principal::Anonymous {
            return Err(errors::unauthenticated().into());
        }
        let Some(row) = contracts::by_number(c.store.pool(), number.trim()).await? else {
            return Ok(None);
        };
        Contract::visible(ctx, row).await
    }

    /// A support case by its case ID; `null` unless the caller may read its contract's cases.
    async fn support_case(
        &self,
        ctx: &Context<'_>,
        case_id: String,
    ) -> Result<Option<SupportCase>> {
        signed_in(ctx)?;
        case_by_case_id(ctx, &case_id).await
    }

    /// The contracts the caller can see, oldest first.
    #[graphql(complexity = "page_cost(first, child_complexity)")]
    async fn contracts(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<Cursor, Contract, ConnectionFields>> {
        list_contracts(ctx, first, after).await
    }
}
