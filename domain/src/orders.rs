//! Orders after the first one, and orders seen twice (R19, R31), as pure decisions over what
//! the store found under the contract's lock: the store reads and writes, these decide.

use crate::error::{DomainError, UserErrorCode};
use crate::rules::{Order, OrderLine, parse_order_lines};
use crate::types::{ContractStatus, MAX_SEATS, parse_code};
use serde_json::{Value, json};

/// What the store found under an order number that was already processed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacedOrder {
    pub contract_manager_email: String,
    pub company: String,
}

/// The same order number again (R19): the same purchaser and company get the first contract
/// back and nothing new; anyone else is refused, rather than handed someone else's contract.
pub fn repeated_order(placed: &PlacedOrder, order: &Order) -> Result<(), DomainError> {
    let same = placed
        .contract_manager_email
        .eq_ignore_ascii_case(order.purchaser.email.as_str())
        && placed.company.eq_ignore_ascii_case(&order.company);
    if same {
        Ok(())
    } else {
        Err(order_conflict(&order.order_number))
    }
}

fn order_conflict(order_number: &str) -> DomainError {
    DomainError::new(
        UserErrorCode::OrderConflict,
        format!("order {order_number} was already processed for another purchaser or contract"),
    )
    .at(["input", "orderNumber"])
}

/// A validated add-on order (R31): more seats of products, or new products, for one contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddOn {
    pub order_number: String,
    pub lines: Vec<OrderLine>,
}

impl AddOn {
    /// The lines as the ledger of add-on orders stores them, to recognise a repeat.
    pub fn lines_json(&self) -> Value {
        json!(
            self.lines
                .iter()
                .map(|l| json!({ "code": l.product_code.to_ascii_uppercase(), "seats": l.seats }))
                .collect::<Vec<_>>()
        )
    }
}

/// Validates an add-on order; every problem names its field under `input`.
pub fn validate_add_on(
    order_number: &str,
    lines: &[(&str, &str, i64)],
) -> Result<AddOn, Vec<DomainError>> {
    let mut errors = Vec::new();
    let order_number = parse_code("orderNumber", order_number)
        .map_err(|e| errors.push(e.under(["input"])))
        .ok();
    if lines.is_empty() {
        errors.push(
            DomainError::new(
                UserErrorCode::InvalidInput,
                "an add-on order needs at least one product",
            )
            .at(["input", "products"]),
        );
    }
    let out = parse_order_lines(lines, &["input"], &mut errors);
    match order_number {
        Some(order_number) if errors.is_empty() => Ok(AddOn {
            order_number,
            lines: out,
        }),
        _ => Err(errors),
    }
}

/// What the store found under an add-on order number that was already processed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacedAddOn {
    pub contract_id: i64,
    pub lines: Value,
}

/// The same add-on order number again (R31): for the same contract with the same lines it was
/// done already (nothing new, nothing sent); for another contract or other lines it is refused.
pub fn repeated_add_on(
    placed: &PlacedAddOn,
    contract_id: i64,
    add_on: &AddOn,
) -> Result<(), DomainError> {
    if placed.contract_id == contract_id && placed.lines == add_on.lines_json() {
        Ok(())
    } else {
        Err(order_conflict(&add_on.order_number))
    }
}

/// A product already on the contract, as an add-on order reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldProduct {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub seats: i64,
    pub seats_assigned: i64,
}

/// One write of an add-on order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddOnStep {
    /// More seats of a product already on the contract.
    MoreSeats {
        contract_product: i64,
        name: String,
        code: String,
        before: i64,
        after: i64,
    },
    /// A product new to the contract, with a serial number and key of its own.
    NewProduct {
        code: String,
        name: String,
        seats: i64,
    },
}

/// What an add-on order writes, and its audit detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddOnPlan {
    pub steps: Vec<AddOnStep>,
    pub audit: Value,
}

/// Whether a contract takes add-on orders: **(decision)** not while EXPIRED (renew first, so a
/// purchase never lands on a contract nobody can use); a PROCESSING contract takes them.
fn takes_orders(status: ContractStatus, number: &str) -> Result<(), Vec<DomainError>> {
    if status == ContractStatus::Expired {
        return Err(vec![
            DomainError::new(
                UserErrorCode::ContractNotActive,
                format!("contract {number} is EXPIRED; renew it before adding to it"),
            )
            .at(["input", "contractId"]),
        ]);
    }
    Ok(())
}

/// R31: an add-on order adds seats to products already on the contract (matched by product
/// code) and puts new products on it. The resulting seat count stays within [`MAX_SEATS`].
pub fn plan_add_on(
    status: ContractStatus,
    contract_number: &str,
    held: &[HeldProduct],
    add_on: &AddOn,
) -> Result<AddOnPlan, Vec<DomainError>> {
    takes_orders(status, contract_number)?;
    let mut steps = Vec::new();
    let mut errors = Vec::new();
    let mut detail = Vec::new();
    for (i, line) in add_on.lines.iter().enumerate() {
        match held
            .iter()
            .find(|p| p.code.eq_ignore_ascii_case(&line.product_code))
        {
            Some(p) => {
                let after = p.seats + line.seats;
                if after > MAX_SEATS {
                    errors.push(
                        DomainError::new(
                            UserErrorCode::InvalidInput,
                            format!("{} would have more than {MAX_SEATS} seats", p.name),
                        )
                        .at([
                            "input".to_string(),
                            "products".into(),
                            i.to_string(),
                            "seats".into(),
                        ]),
                    );
                    continue;
                }
                detail.push(json!({ "code": p.code, "name": p.name, "seats": { "before": p.seats, "after": after } }));
                steps.push(AddOnStep::MoreSeats {
                    contract_product: p.id,
                    name: p.name.clone(),
                    code: p.code.clone(),
                    before: p.seats,
                    after,
                });
            }
            None => {
                detail.push(json!({ "code": line.product_code, "name": line.product_name, "seats": { "before": 0, "after": line.seats }, "new": true }));
                steps.push(AddOnStep::NewProduct {
                    code: line.product_code.clone(),
                    name: line.product_name.clone(),
                    seats: line.seats,
                });
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(AddOnPlan {
        steps,
        audit: json!({ "orderNumber": add_on.order_number, "products": detail }),
    })
}

/// R31: staff set a product's seat count; lowering it below the seats held is SEATS_IN_USE
/// (revoke access first), raising it works at once. Returns the audit detail.
pub fn plan_seat_count(product: &HeldProduct, seats: i64) -> Result<Value, Vec<DomainError>> {
    if !(0..=MAX_SEATS).contains(&seats) {
        return Err(vec![
            DomainError::new(
                UserErrorCode::InvalidInput,
                format!("seats must be between 0 and {MAX_SEATS}"),
            )
            .at(["input", "seats"]),
        ]);
    }
    if seats < product.seats_assigned {
        return Err(vec![
            DomainError::new(
                UserErrorCode::SeatsInUse,
                format!(
                    "{} seats of {} are held; revoke access before lowering the seat count to {seats}",
                    product.seats_assigned, product.name
                ),
            )
            .at(["input", "seats"]),
        ]);
    }
    Ok(json!({
        "contractProduct": product.id,
        "product": product.name,
        "seats": { "before": product.seats, "after": seats },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Person;

    fn held(seats: i64, assigned: i64) -> HeldProduct {
        HeldProduct {
            id: 7,
            code: "ACAD".into(),
            name: "AutoCAD".into(),
            seats,
            seats_assigned: assigned,
        }
    }

    fn add_on(lines: &[(&str, i64)]) -> AddOn {
        let raw: Vec<(&str, &str, i64)> = lines.iter().map(|(c, s)| (*c, "Product", *s)).collect();
        validate_add_on("AO-1", &raw).unwrap()
    }

    #[test]
    fn r31_an_add_on_adds_seats_to_a_held_product_and_puts_a_new_one_on() {
        let plan = plan_add_on(
            ContractStatus::Active,
            "1234-567890",
            &[held(5, 2)],
            &add_on(&[("acad", 3), ("REVIT", 2)]),
        )
        .unwrap();
        assert_eq!(
            plan.steps,
            vec![
                AddOnStep::MoreSeats {
                    contract_product: 7,
                    name: "AutoCAD".into(),
                    code: "ACAD".into(),
                    before: 5,
                    after: 8
                },
                AddOnStep::NewProduct {
                    code: "REVIT".into(),
                    name: "Product".into(),
                    seats: 2
                },
            ]
        );
    }

    #[test]
    fn r31_an_expired_contract_takes_no_add_on() {
        let e = plan_add_on(
            ContractStatus::Expired,
            "1",
            &[held(5, 2)],
            &add_on(&[("ACAD", 1)]),
        )
        .unwrap_err();
        assert_eq!(e[0].code, UserErrorCode::ContractNotActive);
    }

    #[test]
    fn r31_add_on_lines_are_validated_each_naming_its_entry() {
        let e = validate_add_on("AO-1", &[("ACAD", "A", 1), ("acad", "A", 1), ("X", "X", 0)])
            .unwrap_err();
        assert_eq!(e[0].code, UserErrorCode::DuplicateEntry);
        assert_eq!(
            e[0].field.as_deref().unwrap(),
            ["input", "products", "1", "productCode"]
        );
        assert_eq!(
            e[1].field.as_deref().unwrap(),
            ["input", "products", "2", "seats"]
        );
    }

    #[test]
    fn r31_an_add_on_repeated_for_the_same_contract_is_done_for_another_refused() {
        let a = add_on(&[("ACAD", 3)]);
        let placed = PlacedAddOn {
            contract_id: 1,
            lines: a.lines_json(),
        };
        assert!(repeated_add_on(&placed, 1, &a).is_ok());
        assert_eq!(
            repeated_add_on(&placed, 2, &a).unwrap_err().code,
            UserErrorCode::OrderConflict
        );
        assert_eq!(
            repeated_add_on(&placed, 1, &add_on(&[("ACAD", 4)]))
                .unwrap_err()
                .code,
            UserErrorCode::OrderConflict
        );
    }

    #[test]
    fn r31_seat_count_lowers_only_down_to_the_seats_held() {
        assert_eq!(
            plan_seat_count(&held(5, 3), 2).unwrap_err()[0].code,
            UserErrorCode::SeatsInUse
        );
        assert!(plan_seat_count(&held(5, 3), 3).is_ok());
        assert!(plan_seat_count(&held(5, 3), 50).is_ok());
        assert_eq!(
            plan_seat_count(&held(5, 0), -1).unwrap_err()[0].code,
            UserErrorCode::InvalidInput
        );
    }

    #[test]
    fn r19_a_repeated_order_for_another_purchaser_is_an_order_conflict() {
        let order = crate::rules::validate_order(crate::rules::OrderRequest {
            order_number: "SO-1",
            company: "Acme",
            purchaser: Person::parse("pat@acme.example", "Pat", "Smith", None).unwrap(),
            support_level: crate::SupportLevel::Basic,
            renewal_kind: crate::RenewalKind::Manual,
            billing_period: crate::BillingPeriod::Annual,
            start_date: "2026-01-01".parse().unwrap(),
            end_date: "2027-01-01".parse().unwrap(),
            lines: vec![("ACAD", "AutoCAD", 1)],
            customer_number: None,
        })
        .unwrap();
        let placed = |email: &str, company: &str| PlacedOrder {
            contract_manager_email: email.into(),
            company: company.into(),
        };
        assert!(repeated_order(&placed("PAT@acme.example", "acme"), &order).is_ok());
        let e = repeated_order(&placed("eve@else.example", "Acme"), &order).unwrap_err();
        assert_eq!(e.code, UserErrorCode::OrderConflict);
        assert_eq!(e.field.as_deref().unwrap(), ["input", "orderNumber"]);
        assert!(repeated_order(&placed("pat@acme.example", "Other"), &order).is_err());
    }
}
