//! Add-on orders and seat counts (R31): the writes of the plans `roster_domain::orders`
//! makes, in the transaction [`Authorized`] holds (the contract locked, the policy asked).

use crate::audit;
use crate::change::{Authorized, ChangeError};
use crate::contracts::{self, ContractProductRow};
use crate::emails::{self, NewEmail};
use crate::error::ConstraintExt as _;
use crate::{Tx, now_ms, secret};
use roster_domain::email::{Email, OrderedProduct};
use roster_domain::orders::{self, AddOn, AddOnStep, HeldProduct, PlacedAddOn};
use roster_domain::{DomainError, UserErrorCode};

/// What [`process_add_on`] did.
#[derive(Debug, Clone)]
pub struct AddOnOutcome {
    pub contract_id: i64,
    /// `false` when the order number was processed before: nothing changed, nothing sent.
    pub created: bool,
}

fn held(rows: &[ContractProductRow]) -> Vec<HeldProduct> {
    rows.iter()
        .map(|p| HeldProduct {
            id: p.id,
            code: p.product_code.clone(),
            name: p.product_name.clone(),
            seats: p.seats,
            seats_assigned: p.seats_assigned,
        })
        .collect()
}

async fn placed(tx: &mut Tx, order_number: &str) -> Result<Option<PlacedAddOn>, ChangeError> {
    let row: Option<(i64, String)> =
        sqlx::query_as("SELECT contract_id, lines FROM add_on_orders WHERE order_number = $1")
            .bind(order_number)
            .fetch_optional(&mut **tx)
            .await?;
    Ok(row.map(|(contract_id, lines)| PlacedAddOn {
        contract_id,
        lines: serde_json::from_str(&lines).unwrap_or_default(),
    }))
}

/// Processes an add-on order (R31): more seats of held products, new products with their own
/// serial number and key, an audit entry, and the Order Processed email for this order to the
/// Contract Manager. The same order number again for the same contract changes nothing.
pub async fn process_add_on(
    mut auth: Authorized,
    add_on: &AddOn,
) -> Result<AddOnOutcome, ChangeError> {
    let cid = auth.contract_id();
    let tx = &mut auth.tx;
    // A main order's number is not an add-on's (and the other way round): one number, one order.
    let main: Option<(i64,)> = sqlx::query_as("SELECT id FROM contracts WHERE order_number = $1")
        .bind(&add_on.order_number)
        .fetch_optional(&mut **tx)
        .await?;
    let repeat = match placed(tx, &add_on.order_number).await? {
        Some(p) => Some(orders::repeated_add_on(&p, cid, add_on)),
        None if main.is_some() => Some(Err(DomainError::new(
            UserErrorCode::OrderConflict,
            format!(
                "order {} is the order that created a contract",
                add_on.order_number
            ),
        )
        .at(["input", "orderNumber"]))),
        None => None,
    };
    match repeat {
        Some(Ok(())) => {
            return Ok(AddOnOutcome {
                contract_id: cid,
                created: false,
            });
        }
        Some(Err(e)) => return Err(ChangeError::Refused(vec![e])),
        None => {}
    }
    let rows = contracts::products(&mut **tx, cid).await?;
    let snap = &auth.snapshot.contract;
    let plan = orders::plan_add_on(snap.status, &snap.number, &held(&rows), add_on)
        .map_err(ChangeError::Refused)?;
    let mut ordered = Vec::new();
    for step in &plan.steps {
        match step {
            AddOnStep::MoreSeats {
                contract_product,
                name,
                code,
                before,
                after,
            } => {
                sqlx::query(
                    "UPDATE contract_products SET seats = $1 WHERE id = $2 AND contract_id = $3",
                )
                .bind(after)
                .bind(contract_product)
                .bind(cid)
                .execute(&mut **tx)
                .await?;
                ordered.push(OrderedProduct {
                    name: name.clone(),
                    code: code.clone(),
                    seats: after - before,
                });
            }
            AddOnStep::NewProduct { code, name, seats } => {
                let product = contracts::find_or_create_product(tx, code, name).await?;
                sqlx::query(
                    "INSERT INTO contract_products (contract_id, product_id, serial_number, \
                     product_key, seats, seats_assigned) VALUES ($1, $2, $3, $4, $5, 0)",
                )
                .bind(cid)
                .bind(product)
                .bind(format!("{}-{}", secret::digits(3), secret::digits(8)))
                .bind(secret::code(5))
                .bind(seats)
                .execute(&mut **tx)
                .await?;
                ordered.push(OrderedProduct {
                    name: name.clone(),
                    code: code.clone(),
                    seats: *seats,
                });
            }
        }
    }
    let inserted = sqlx::query(
        "INSERT INTO add_on_orders (order_number, contract_id, lines, created_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    )
    .bind(&add_on.order_number)
    .bind(cid)
    .bind(add_on.lines_json().to_string())
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    if inserted.rows_affected() == 0 {
        // Processed for another contract since we looked (that contract's lock is not ours).
        return Err(ChangeError::Refused(vec![
            DomainError::new(UserErrorCode::OrderConflict, "order processed concurrently")
                .at(["input", "orderNumber"]),
        ]));
    }
    let contract = contracts::by_id(&mut **tx, cid)
        .await?
        .ok_or_else(|| crate::StoreError::Corrupt(format!("contract {cid} vanished")))?;
    let cm = contracts::manager(&mut **tx, cid).await?;
    let email = emails::enqueue(
        tx,
        NewEmail {
            email: Email::OrderProcessed {
                contract_number: contract.number.clone(),
                order_number: add_on.order_number.clone(),
                company: contract.company_name.clone(),
                first_name: cm.first_name.clone(),
                support_level: contract.support_level,
                start_date: *contract.start_date,
                end_date: *contract.end_date,
                products: ordered,
                add_on: true,
            },
            idem_key: format!(
                "order-processed:contract:{cid}:order:{}",
                add_on.order_number
            ),
            contract_id: Some(cid),
            user_id: Some(cm.id),
            recipient: cm.email.clone(),
        },
    )
    .await?;
    let mut detail = plan.audit.clone();
    detail["emails"] = serde_json::json!(email.into_iter().collect::<Vec<_>>());
    audit::record(
        tx,
        Some(cid),
        &auth.actor,
        "contract.add_on_ordered",
        &detail,
    )
    .await?;
    auth.tx.commit().await?;
    Ok(AddOnOutcome {
        contract_id: cid,
        created: true,
    })
}

/// Sets a contract product's seat count (R31): never below the seats held (SEATS_IN_USE,
/// decided on the locked snapshot; the seat-limit constraint is the last line).
pub async fn set_seat_count(
    mut auth: Authorized,
    contract_product: i64,
    seats: i64,
) -> Result<(), ChangeError> {
    let cid = auth.contract_id();
    let Some(p) = auth.snapshot.products.get(&contract_product) else {
        return Err(ChangeError::Refused(vec![
            DomainError::not_found("contract product").at(["input", "contractProductId"]),
        ]));
    };
    let product = HeldProduct {
        id: p.id,
        code: String::new(),
        name: p.name.clone(),
        seats: p.seats,
        seats_assigned: p.seats_assigned,
    };
    let detail = orders::plan_seat_count(&product, seats).map_err(ChangeError::Refused)?;
    sqlx::query("UPDATE contract_products SET seats = $1 WHERE id = $2 AND contract_id = $3")
        .bind(seats)
        .bind(contract_product)
        .bind(cid)
        .execute(&mut *auth.tx)
        .await
        .on_constraint("contract_products_seat_limit", || {
            DomainError::new(UserErrorCode::SeatsInUse, "those seats are held")
                .at(["input", "seats"])
        })?;
    audit::record(
        &mut auth.tx,
        Some(cid),
        &auth.actor,
        "contract.seats_changed",
        &detail,
    )
    .await?;
    auth.tx.commit().await?;
    Ok(())
}
