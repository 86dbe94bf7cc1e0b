//! The root query.

use super::context::Ctx;
use super::errors;
use super::ids::{self, Kind};
use super::types::{
    ConnectionFields, Contract, ContractProduct, User, Viewer, connection, page_args,
};
use async_graphql::connection::Connection;
use async_graphql::{Context, ID, Interface, Object, Result};
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
    SupportCase(super::cases::SupportCase),
}

pub struct Query;

#[Object]
impl Query {
    /// The caller: the signed-in user or staff key, with the contracts it can see.
    async fn viewer(&self, ctx: &Context<'_>) -> Result<Viewer> {
        if ctx.data_unchecked::<Ctx>().principal == Principal::Anonymous {
            return Err(errors::unauthenticated());
        }
        Ok(Viewer)
    }

    /// Any object by its global ID; `null` when it does not exist or the caller may not see it.
    async fn node(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Node>> {
        let c = ctx.data_unchecked::<Ctx>();
        if c.principal == Principal::Anonymous {
            return Err(errors::unauthenticated());
        }
        let Some((kind, n)) = ids::decode_any(&id) else {
            return Ok(None);
        };
        match kind {
            Kind::Contract => Ok(contract_by_id(ctx, n).await?.map(Node::Contract)),
            Kind::ContractProduct => {
                let Some(cp) = contracts::product_by_id(c.store.pool(), n)
                    .await
                    .map_err(errors::store)?
                else {
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
                })))
            }
            Kind::User => {
                // A user is visible to themself and to staff.
                let me = c.user.as_ref().map(|u| u.id);
                if me != Some(n) && c.principal != Principal::Staff {
                    return Ok(None);
                }
                Ok(users::by_id(c.store.pool(), n)
                    .await
                    .map_err(errors::store)?
                    .map(|u| Node::User(User(Arc::new(u)))))
            }
            Kind::SupportCase => {
                let Some(row) = roster_store::cases::by_pk(c.store.pool(), n)
                    .await
                    .map_err(errors::store)?
                else {
                    return Ok(None);
                };
                Ok(super::cases::visible_case(ctx, row)
                    .await?
                    .map(Node::SupportCase))
            }
            _ => Ok(None),
        }
    }

    /// A contract by its number; `null` when the caller may not see it.
    async fn contract(&self, ctx: &Context<'_>, number: String) -> Result<Option<Contract>> {
        let c = ctx.data_unchecked::<Ctx>();
        if c.principal == Principal::Anonymous {
            return Err(errors::unauthenticated());
        }
        let Some(row) = contracts::by_number(c.store.pool(), number.trim())
            .await
            .map_err(errors::store)?
        else {
            return Ok(None);
        };
        Contract::visible(ctx, row).await
    }

    /// A support case by its case ID; `null` unless the caller may read its contract's cases.
    async fn support_case(
        &self,
        ctx: &Context<'_>,
        case_id: String,
    ) -> Result<Option<super::cases::SupportCase>> {
        super::cases::signed_in(ctx)?;
        super::cases::case_by_case_id(ctx, &case_id).await
    }

    /// The contracts the caller can see, oldest first.
    async fn contracts(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, Contract, ConnectionFields>> {
        list_contracts(ctx, first, after).await
    }
}

pub(crate) async fn contract_by_id(ctx: &Context<'_>, id: i64) -> Result<Option<Contract>> {
    let c = ctx.data_unchecked::<Ctx>();
    let Some(row) = contracts::by_id(c.store.pool(), id)
        .await
        .map_err(errors::store)?
    else {
        return Ok(None);
    };
    Contract::visible(ctx, row).await
}

/// Contracts visible to the caller: staff see all, users those they are members of.
pub async fn list_contracts(
    ctx: &Context<'_>,
    first: Option<i32>,
    after: Option<String>,
) -> Result<Connection<String, Contract, ConnectionFields>> {
    let c = ctx.data_unchecked::<Ctx>();
    let (limit, after_id) = page_args(first, after.as_deref())?;
    let pool = c.store.pool();
    let (rows, total) = match (c.principal, &c.user) {
        (Principal::Staff, _) => contracts::all(pool, after_id, limit + 1).await,
        (Principal::User, Some(user)) => {
            contracts::for_user(pool, user.id, user.reseller_id, after_id, limit + 1).await
        }
        _ => return Err(errors::unauthenticated()),
    }
    .map_err(errors::store)?;
    let mut standings = match &c.user {
        Some(user) => {
            let mut conn = pool.acquire().await.map_err(|e| errors::internal(&e))?;
            contracts::standings(&mut conn, user, &rows)
                .await
                .map_err(errors::store)?
        }
        None => Default::default(),
    };
    let nodes = rows
        .into_iter()
        .map(|row| {
            let standing = standings.remove(&row.id);
            (row.id, Contract::with_standing(row, standing))
        })
        .collect();
    Ok(connection(nodes, limit, after_id > 0, total))
}
