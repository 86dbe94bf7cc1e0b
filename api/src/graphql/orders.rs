//! Staff mutations on a running contract's purchase (R31): add-on orders and seat counts.
//! Each asks the policy first (staff only), then walks the change pipeline: the contract
//! locked and loaded, the domain's plan, the store's writes, commit, effects.

use super::context::Ctx;
use super::errors;
use super::errors::Result;
use super::ids::{self, Kind};
use super::mutation::{Gate, OrderLineInput, gate};
use super::objects::{Contract, ContractProduct, contract_by_id};
use super::scalars::UserError;
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use roster_domain::DomainError;
use roster_domain::orders;
use roster_domain::policy::Action;
use roster_store::{addons, contracts};
use std::sync::Arc;

/// An add-on order for an existing contract (staff, R31): more seats of products on it, or
/// new products. The same `orderNumber` twice changes nothing the second time.
#[derive(InputObject)]
pub struct ProcessAddOnOrderInput {
    pub contract_id: ID,
    pub order_number: String,
    pub products: Vec<OrderLineInput>,
}

#[derive(SimpleObject)]
pub struct ProcessAddOnOrderPayload {
    pub contract: Option<Contract>,
    /// `false` when the order number was processed before (nothing changed, nothing sent).
    pub processed: bool,
    pub user_errors: Vec<UserError>,
}

/// A contract product's seat count (staff, R31).
#[derive(InputObject)]
pub struct SetSeatCountInput {
    pub contract_product_id: ID,
    pub seats: i32,
}

#[derive(SimpleObject)]
pub struct SetSeatCountPayload {
    pub contract_product: Option<ContractProduct>,
    pub user_errors: Vec<UserError>,
}

#[derive(Default)]
pub struct OrdersMutation;

#[Object]
impl OrdersMutation {
    /// Processes an add-on order (staff, R31); the Contract Manager gets an Order Processed
    /// email for it.
    async fn process_add_on_order(
        &self,
        ctx: &Context<'_>,
        input: ProcessAddOnOrderInput,
    ) -> Result<ProcessAddOnOrderPayload> {
        let c = ctx.data_unchecked::<Ctx>();
        c.allow(&Action::ProcessAddOnOrder)?;
        let refused = |user_errors| ProcessAddOnOrderPayload {
            contract: None,
            processed: false,
            user_errors,
        };
        let lines: Vec<(&str, &str, i64)> = input
            .products
            .iter()
            .map(|l| {
                (
                    l.product_code.as_str(),
                    l.product_name.as_str(),
                    i64::from(l.seats),
                )
            })
            .collect();
        let add_on = match orders::validate_add_on(&input.order_number, &lines) {
            Ok(a) => a,
            Err(errs) => return Ok(refused(errs.into_iter().map(Into::into).collect())),
        };
        let auth = match gate(ctx, &input.contract_id, |_| Action::ProcessAddOnOrder).await? {
            Gate::Open(auth) => auth,
            Gate::Refused(errs) => return Ok(refused(errs)),
        };
        match addons::process_add_on(auth, &add_on).await {
            Ok(outcome) => {
                if outcome.created {
                    c.committed(super::events::Event::ContractChanged {
                        contract_id: outcome.contract_id,
                        kind: "products".into(),
                    });
                }
                Ok(ProcessAddOnOrderPayload {
                    contract: contract_by_id(ctx, outcome.contract_id).await?,
                    processed: outcome.created,
                    user_errors: vec![],
                })
            }
            Err(e) => Ok(refused(errors::change_refusals(e)?)),
        }
    }

    /// Sets a contract product's seat count (staff, R31): raising works at once; lowering
    /// below the seats held is SEATS_IN_USE.
    async fn set_seat_count(
        &self,
        ctx: &Context<'_>,
        input: SetSeatCountInput,
    ) -> Result<SetSeatCountPayload> {
        let c = ctx.data_unchecked::<Ctx>();
        c.allow(&Action::SetSeatCount)?;
        let refused = |user_errors| SetSeatCountPayload {
            contract_product: None,
            user_errors,
        };
        let not_found = || {
            vec![UserError::from(
                DomainError::not_found("contract product").at(["input", "contractProductId"]),
            )]
        };
        let Some(id) = ids::decode(Kind::ContractProduct, &input.contract_product_id) else {
            return Ok(refused(not_found()));
        };
        let Some(row) = contracts::product_by_id(c.store.pool(), id).await? else {
            return Ok(refused(not_found()));
        };
        let contract_id = ids::encode(Kind::Contract, row.contract_id);
        let auth = match gate(ctx, &contract_id, |_| Action::SetSeatCount).await? {
            Gate::Open(auth) => auth,
            Gate::Refused(errs) => return Ok(refused(errs)),
        };
        match addons::set_seat_count(auth, id, i64::from(input.seats)).await {
            Ok(()) => {
                c.committed(super::events::Event::ContractChanged {
                    contract_id: row.contract_id,
                    kind: "products".into(),
                });
                let row = contracts::product_by_id(c.store.pool(), id).await?;
                Ok(SetSeatCountPayload {
                    contract_product: row.map(|row| ContractProduct {
                        row: Arc::new(row),
                        secrets: true,
                        people: true,
                        seats: true,
                    }),
                    user_errors: vec![],
                })
            }
            Err(e) => Ok(refused(errors::change_refusals(e)?)),
        }
    }
}
