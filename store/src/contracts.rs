//! Contracts, their products and members: orders (R2, R3, R19), provisioning, and the
//! standing a user has on a contract (what the policy judges).

use crate::audit::{self, Actor};
use crate::emails::{self, NewEmail};
use crate::error::ConstraintExt as _;
use crate::outbox::{self, Job};
use crate::users::{self, UserRow};
use crate::{Store, StoreError, StoreResult, Tx, flag, now_ms, secret};
use roster_domain::email::{Email, OrderedProduct, ProductRef};
use roster_domain::policy::{Membership, Standing};
use roster_domain::rules::Order;
use roster_domain::{
    BillingPeriod, ContractStatus, Day, DomainError, RenewalKind, SupportLevel, UserErrorCode,
};
use serde_json::json;
use sqlx::{Any, AnyConnection, AnyPool, Executor};

/// A stored contract with its company's name.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ContractRow {
    pub id: i64,
    pub number: String,
    pub order_number: String,
    pub company_id: i64,
    pub company_name: String,
    #[sqlx(try_from = "String")]
    pub status: ContractStatus,
    #[sqlx(try_from = "String")]
    pub support_level: SupportLevel,
    #[sqlx(try_from = "String")]
    pub renewal_kind: RenewalKind,
    #[sqlx(try_from = "String")]
    pub billing_period: BillingPeriod,
    #[sqlx(try_from = "String")]
    pub start_date: Day,
    #[sqlx(try_from = "String")]
    pub end_date: Day,
    pub reseller_id: Option<i64>,
    pub cloud_credits: i64,
    pub created_at: i64,
}

macro_rules! contract_select {
    ($tail:literal) => {
        contract_select!("", $tail)
    };
    ($extra:literal, $tail:literal) => {
        concat!(
            "SELECT c.id, c.number, c.order_number, c.company_id, co.name AS company_name, \
             c.status, c.support_level, c.renewal_kind, c.billing_period, c.start_date, \
             c.end_date, c.reseller_id, c.cloud_credits, c.created_at",
            $extra,
            " FROM contracts c JOIN companies co ON co.id = c.company_id ",
            $tail
        )
    };
}

/// A contract of a list with the total the whole list holds.
#[derive(sqlx::FromRow)]
struct Listed {
    #[sqlx(flatten)]
    row: ContractRow,
    total: i64,
}

/// Rows of a list page and the list's total: the total rides on every row, so a page costs
/// one statement; only an empty page past the end asks for the total alone.
async fn with_total(
    rows: Vec<Listed>,
    after_id: i64,
    count: impl Future<Output = StoreResult<i64>>,
) -> StoreResult<(Vec<ContractRow>, i64)> {
    let total = match rows.first() {
        Some(r) => r.total,
        None if after_id > 0 => count.await?,
        None => 0,
    };
    Ok((rows.into_iter().map(|l| l.row).collect(), total))
}

/// A product on a contract.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ContractProductRow {
    pub id: i64,
    pub contract_id: i64,
    pub product_id: i64,
    pub product_code: String,
    pub product_name: String,
    pub serial_number: String,
    pub product_key: String,
    pub seats: i64,
    pub seats_assigned: i64,
    pub coordinator_user_id: Option<i64>,
}

pub async fn by_id<'c, E: Executor<'c, Database = Any>>(
    db: E,
    id: i64,
) -> StoreResult<Option<ContractRow>> {
    Ok(sqlx::query_as(contract_select!("WHERE c.id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await?)
}

pub async fn by_number<'c, E: Executor<'c, Database = Any>>(
    db: E,
    number: &str,
) -> StoreResult<Option<ContractRow>> {
    Ok(sqlx::query_as(contract_select!("WHERE c.number = $1"))
        .bind(number)
        .fetch_optional(db)
        .await?)
}

/// Contracts a user can see, by id, after the cursor `after_id`: those they are a member of,
/// and those whose cases their reseller may read (R18).
/// The contracts a user sees (as a member, or through a reseller with View Cases), by id,
/// after the cursor `after_id`, with how many they see in all.
pub async fn for_user(
    db: &AnyPool,
    user_id: i64,
    reseller_id: Option<i64>,
    after_id: i64,
    limit: i64,
) -> StoreResult<(Vec<ContractRow>, i64)> {
    let rows: Vec<Listed> = sqlx::query_as(contract_select!(
        ", (SELECT COUNT(*) FROM contracts c2 \
           WHERE c2.id IN (SELECT contract_id FROM memberships WHERE user_id = $1) \
           OR c2.id IN (SELECT contract_id FROM reseller_case_access \
                        WHERE reseller_id = $2 AND can_view = 1)) AS total",
        "WHERE c.id > $3 AND (c.id IN (SELECT contract_id FROM memberships WHERE user_id = $1) \
         OR c.id IN (SELECT contract_id FROM reseller_case_access WHERE reseller_id = $2 AND can_view = 1)) \
         ORDER BY c.id LIMIT $4"
    ))
    .bind(user_id)
    .bind(reseller_id)
    .bind(after_id)
    .bind(limit)
    .fetch_all(db)
    .await?;
    with_total(rows, after_id, count_for_user(db, user_id, reseller_id)).await
}

async fn count_for_user<'c, E: Executor<'c, Database = Any>>(
    db: E,
    user_id: i64,
    reseller_id: Option<i64>,
) -> StoreResult<i64> {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM contracts c WHERE c.id IN (SELECT contract_id FROM memberships WHERE user_id = $1) \
         OR c.id IN (SELECT contract_id FROM reseller_case_access WHERE reseller_id = $2 AND can_view = 1)",
    )
    .bind(user_id)
    .bind(reseller_id)
    .fetch_one(db)
    .await?;
    Ok(n)
}

/// Every contract (staff), by id, after the cursor `after_id`, with how many there are.
pub async fn all(db: &AnyPool, after_id: i64, limit: i64) -> StoreResult<(Vec<ContractRow>, i64)> {
    let rows: Vec<Listed> = sqlx::query_as(contract_select!(
        ", (SELECT COUNT(*) FROM contracts) AS total",
        "WHERE c.id > $1 ORDER BY c.id LIMIT $2"
    ))
    .bind(after_id)
    .bind(limit)
    .fetch_all(db)
    .await?;
    with_total(rows, after_id, count_all(db)).await
}

async fn count_all<'c, E: Executor<'c, Database = Any>>(db: E) -> StoreResult<i64> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM contracts")
        .fetch_one(db)
        .await?;
    Ok(n)
}

/// The products of a contract, in order of the order lines.
pub async fn products<'c, E: Executor<'c, Database = Any>>(
    db: E,
    contract_id: i64,
) -> StoreResult<Vec<ContractProductRow>> {
    Ok(sqlx::query_as(
        "SELECT cp.id, cp.contract_id, cp.product_id, p.code AS product_code, \
         p.name AS product_name, cp.serial_number, cp.product_key, cp.seats, cp.seats_assigned, \
         cp.coordinator_user_id \
         FROM contract_products cp JOIN products p ON p.id = cp.product_id \
         WHERE cp.contract_id = $1 ORDER BY cp.id",
    )
    .bind(contract_id)
    .fetch_all(db)
    .await?)
}

/// The Contract Manager of a contract (R2: there is exactly one).
pub async fn manager<'c, E: Executor<'c, Database = Any>>(
    db: E,
    contract_id: i64,
) -> StoreResult<UserRow> {
    sqlx::query_as(
        "SELECT u.id, u.email, u.first_name, u.last_name, u.language, u.password_hash, \
         u.subscriber_terms_at, u.coordinator_terms_at, u.first_sign_in_at, u.reseller_id, \
         u.created_at FROM users u JOIN memberships m ON m.user_id = u.id \
         WHERE m.contract_id = $1 AND m.is_manager = 1",
    )
    .bind(contract_id)
    .fetch_optional(db)
    .await?
    .ok_or_else(|| StoreError::Corrupt(format!("contract {contract_id} has no Contract Manager")))
}

/// What `user_id` is to `contract_id`, for the policy.
pub async fn standing(
    conn: &mut AnyConnection,
    user: &UserRow,
    contract: &ContractRow,
) -> StoreResult<Standing> {
    use std::collections::BTreeSet;
    // One statement: the membership, the products held and coordinated, and a reseller's
    // View Cases, each row tagged by what it says.
    let facts: Vec<(String, i64, i64, i64)> = sqlx::query_as(
        "SELECT 'member', is_manager, designated_caller, web_support FROM memberships \
         WHERE contract_id = $1 AND user_id = $2 \
         UNION ALL SELECT 'coordinates', id, 0, 0 FROM contract_products \
         WHERE contract_id = $1 AND coordinator_user_id = $2 \
         UNION ALL SELECT 'holds', contract_product_id, 0, 0 FROM product_access \
         WHERE contract_id = $1 AND user_id = $2 \
         UNION ALL SELECT 'reads', can_view, 0, 0 FROM reseller_case_access \
         WHERE contract_id = $1 AND reseller_id = $3 \
         UNION ALL SELECT 'company', m.contract_id, 0, 0 FROM memberships m \
         JOIN contracts c2 ON c2.id = m.contract_id \
         WHERE m.user_id = $2 AND m.is_manager = 1 AND c2.company_id = $4",
    )
    .bind(contract.id)
    .bind(user.id)
    .bind(user.reseller_id)
    .bind(contract.company_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut m = None;
    let (mut coordinates, mut products) = (BTreeSet::new(), BTreeSet::new());
    let (mut reseller_views_cases, mut company_reader) = (false, false);
    for (fact, a, b, c) in facts {
        match fact.as_str() {
            "member" => m = Some((a, b, c)),
            "coordinates" => {
                coordinates.insert(a);
            }
            "holds" => {
                products.insert(a);
            }
            "company" => company_reader = true,
            _ => reseller_views_cases = user.reseller_id.is_some() && flag(a),
        }
    }
    let Some((is_manager, designated_caller, web_support)) = m else {
        // R30: the CM of another contract of the same company reads this one.
        return Ok(
            Standing::new(contract.support_level, None, reseller_views_cases)
                .with_company(company_reader),
        );
    };
    let membership = Membership {
        is_manager: flag(is_manager),
        designated_caller: flag(designated_caller),
        web_support: flag(web_support),
        coordinates,
        products,
        coordinator_terms_accepted: user.coordinator_terms_at.is_some(),
    };
    Ok(Standing::new(
        contract.support_level,
        Some(membership),
        reseller_views_cases,
    ))
}

/// What `user` is to each of `contracts`, in one statement however many contracts there are
/// (a contract list must not cost a query per row).
pub async fn standings(
    conn: &mut AnyConnection,
    user: &UserRow,
    contracts: &[ContractRow],
) -> StoreResult<std::collections::BTreeMap<i64, Standing>> {
    use std::collections::{BTreeMap, BTreeSet};
    // One statement: what the user is on every contract, tagged by what each row says.
    let facts: Vec<(String, i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT 'member', contract_id, is_manager, designated_caller, web_support \
         FROM memberships WHERE user_id = $1 \
         UNION ALL SELECT 'coordinates', contract_id, id, 0, 0 \
         FROM contract_products WHERE coordinator_user_id = $1 \
         UNION ALL SELECT 'holds', contract_id, contract_product_id, 0, 0 \
         FROM product_access WHERE user_id = $1 \
         UNION ALL SELECT 'reads', contract_id, 0, 0, 0 \
         FROM reseller_case_access WHERE reseller_id = $2 AND can_view = 1 \
         UNION ALL SELECT 'manages', c2.company_id, 0, 0, 0 FROM memberships m \
         JOIN contracts c2 ON c2.id = m.contract_id WHERE m.user_id = $1 AND m.is_manager = 1",
    )
    .bind(user.id)
    .bind(user.reseller_id)
    .fetch_all(&mut *conn)
    .await?;
    let (mut memberships, mut coordinated, mut held) = (Vec::new(), Vec::new(), Vec::new());
    let (mut readable, mut companies) = (BTreeSet::new(), BTreeSet::new());
    for (fact, contract, a, b, c) in facts {
        match fact.as_str() {
            "member" => memberships.push((contract, a, b, c)),
            "coordinates" => coordinated.push((contract, a)),
            "holds" => held.push((contract, a)),
            "manages" => {
                companies.insert(contract);
            }
            _ => {
                readable.insert(contract);
            }
        }
    }
    let members: BTreeMap<i64, (i64, i64, i64)> = memberships
        .into_iter()
        .map(|(c, m, d, w)| (c, (m, d, w)))
        .collect();
    let mut out = BTreeMap::new();
    for contract in contracts {
        let coordinates: BTreeSet<i64> = coordinated
            .iter()
            .filter(|(c, _)| *c == contract.id)
            .map(|(_, cp)| *cp)
            .collect();
        let membership = members.get(&contract.id).map(|(m, d, w)| Membership {
            is_manager: flag(*m),
            designated_caller: flag(*d),
            web_support: flag(*w),
            coordinates,
            products: held
                .iter()
                .filter(|(c, _)| *c == contract.id)
                .map(|(_, cp)| *cp)
                .collect(),
            coordinator_terms_accepted: user.coordinator_terms_at.is_some(),
        });
        let standing = Standing::new(
            contract.support_level,
            membership,
            readable.contains(&contract.id),
        )
        .with_company(companies.contains(&contract.company_id));
        out.insert(contract.id, standing);
    }
    Ok(out)
}

/// What [`process_order`] did.
#[derive(Debug, Clone)]
pub struct OrderOutcome {
    pub contract: ContractRow,
    /// `false` when the order number was already processed: nothing changed, nothing sent.
    pub created: bool,
}

/// Processes an order (R2, R3, R19): the contract in PROCESSING, the purchaser linked or
/// created as Contract Manager holding a seat of every product (and a Named Caller on ADVANCED),
/// the Order Processed email owed at once and provisioning due after `provisioning_delay_ms`.
/// The same order number twice returns the first contract and changes nothing.
pub async fn process_order(
    store: &Store,
    order: &Order,
    reseller_id: Option<i64>,
    actor: &Actor,
    provisioning_delay_ms: i64,
) -> StoreResult<OrderOutcome> {
    // A concurrent twin may commit first; then the second attempt finds its contract.
    for _ in 0..3 {
        let mut tx = store.begin().await?;
        match existing_order(&mut tx, order).await? {
            Some(contract) => {
                return Ok(OrderOutcome {
                    contract,
                    created: false,
                });
            }
            None => match create_order(&mut tx, order, reseller_id, actor, provisioning_delay_ms)
                .await
            {
                Ok(contract) => {
                    tx.commit().await?;
                    return Ok(OrderOutcome {
                        contract,
                        created: true,
                    });
                }
                Err(StoreError::Domain(e)) if e.code == UserErrorCode::OrderConflict => continue,
                Err(e) => return Err(e),
            },
        }
    }
    Err(StoreError::Corrupt(
        "order could be neither created nor found".into(),
    ))
}

async fn existing_order(tx: &mut Tx, order: &Order) -> StoreResult<Option<ContractRow>> {
    let Some(contract) =
        sqlx::query_as::<_, ContractRow>(contract_select!("WHERE c.order_number = $1"))
            .bind(&order.order_number)
            .fetch_optional(&mut **tx)
            .await?
    else {
        return Ok(None);
    };
    let cm = manager(&mut **tx, contract.id).await?;
    roster_domain::orders::repeated_order(
        &roster_domain::orders::PlacedOrder {
            contract_manager_email: cm.email,
            company: contract.company_name.clone(),
        },
        order,
    )?;
    Ok(Some(contract))
}

async fn create_order(
    tx: &mut Tx,
    order: &Order,
    reseller_id: Option<i64>,
    actor: &Actor,
    provisioning_delay_ms: i64,
) -> StoreResult<ContractRow> {
    let now = now_ms();
    let company_id =
        find_or_create_company(tx, &order.company, order.customer_number.as_deref()).await?;
    let (cm, cm_created) = users::find_or_create(tx, &order.purchaser).await?;
    let number = format!("{}-{}", secret::digits(4), secret::digits(6));
    let (contract_id,): (i64,) = sqlx::query_as(
        "INSERT INTO contracts (number, order_number, company_id, status, support_level, \
         renewal_kind, billing_period, start_date, end_date, created_at, reseller_id) \
         VALUES ($1, $2, $3, 'PROCESSING', $4, $5, $6, $7, $8, $9, $10) RETURNING id",
    )
    .bind(&number)
    .bind(&order.order_number)
    .bind(company_id)
    .bind(order.support_level.as_str())
    .bind(order.renewal_kind.as_str())
    .bind(order.term.billing_period.as_str())
    .bind(order.term.start.to_string())
    .bind(order.term.end.to_string())
    .bind(now)
    .bind(reseller_id)
    .fetch_one(&mut **tx)
    .await
    .on_constraint("contracts_order_number_key", || {
        DomainError::new(UserErrorCode::OrderConflict, "order processed concurrently")
    })?;
    // R35: an ADVANCED contract gets its Express Service ID with the order.
    crate::cloud::give_express_service_id(tx, contract_id, order.support_level).await?;

    if cm_created {
        // R32: this contract created the User ID, so its admins may correct a wrong address.
        sqlx::query("UPDATE users SET created_by_contract = $1 WHERE id = $2")
            .bind(contract_id)
            .bind(cm.id)
            .execute(&mut **tx)
            .await?;
    }

    // R2, R3: the purchaser is the Contract Manager and a Named User of every product; on
    // ADVANCED contracts the role makes them a Named Caller (see `members::Member::roles`).
    sqlx::query(
        "INSERT INTO memberships (contract_id, user_id, status, is_manager, created_at) \
         VALUES ($1, $2, 'PENDING', 1, $3)",
    )
    .bind(contract_id)
    .bind(cm.id)
    .bind(now)
    .execute(&mut **tx)
    .await?;

    let mut products = Vec::new();
    for line in &order.lines {
        let product_id = find_or_create_product(tx, &line.product_code, &line.product_name).await?;
        let serial = format!("{}-{}", secret::digits(3), secret::digits(8));
        let (cp_id,): (i64,) = sqlx::query_as(
            "INSERT INTO contract_products (contract_id, product_id, serial_number, product_key, \
             seats, seats_assigned) VALUES ($1, $2, $3, $4, $5, 1) RETURNING id",
        )
        .bind(contract_id)
        .bind(product_id)
        .bind(serial)
        .bind(secret::code(5))
        .bind(line.seats)
        .fetch_one(&mut **tx)
        .await?;
        sqlx::query(
            "INSERT INTO product_access (contract_product_id, user_id, contract_id, granted_at, \
             by_default) VALUES ($1, $2, $3, $4, 1)",
        )
        .bind(cp_id)
        .bind(cm.id)
        .bind(contract_id)
        .bind(now)
        .execute(&mut **tx)
        .await?;
        products.push(
            json!({ "name": line.product_name, "code": line.product_code, "seats": line.seats }),
        );
    }

    audit::record(
        tx,
        Some(contract_id),
        actor,
        "contract.created",
        &json!({
            "orderNumber": order.order_number,
            "contractManager": cm.id,
            "supportLevel": order.support_level.as_str(),
            "renewalKind": order.renewal_kind.as_str(),
            "products": products,
        }),
    )
    .await?;

    let email_id = emails::enqueue(
        tx,
        NewEmail {
            email: Email::OrderProcessed {
                contract_number: number,
                order_number: order.order_number.clone(),
                company: order.company.clone(),
                first_name: cm.first_name.clone(),
                support_level: order.support_level,
                start_date: order.term.start,
                end_date: order.term.end,
                products: order
                    .lines
                    .iter()
                    .map(|line| OrderedProduct {
                        name: line.product_name.clone(),
                        code: line.product_code.clone(),
                        seats: line.seats,
                    })
                    .collect(),
                add_on: false,
            },
            idem_key: format!("order-processed:contract:{contract_id}"),
            contract_id: Some(contract_id),
            user_id: Some(cm.id),
            recipient: cm.email.clone(),
        },
    )
    .await?;
    outbox::enqueue(
        tx,
        &Job::Provision { contract_id },
        now + provisioning_delay_ms,
    )
    .await?;
    tracing::info!(contract_id, ?email_id, "order processed");

    by_id(&mut **tx, contract_id)
        .await?
        .ok_or_else(|| StoreError::Corrupt("contract vanished after insert".into()))
}

/// The company of an order (R30): the customer account its customer number names (created on
/// its first order), or, without a number, a company of its own, so two customers with the
/// same name never share one.
async fn find_or_create_company(
    tx: &mut Tx,
    name: &str,
    customer_number: Option<&str>,
) -> StoreResult<i64> {
    if let Some(number) = customer_number {
        sqlx::query(
            "INSERT INTO companies (name, customer_number, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT DO NOTHING",
        )
        .bind(name)
        .bind(number)
        .bind(now_ms())
        .execute(&mut **tx)
        .await?;
        let (id,): (i64,) = sqlx::query_as("SELECT id FROM companies WHERE customer_number = $1")
            .bind(number)
            .fetch_one(&mut **tx)
            .await?;
        return Ok(id);
    }
    let (id,): (i64,) =
        sqlx::query_as("INSERT INTO companies (name, created_at) VALUES ($1, $2) RETURNING id")
            .bind(name)
            .bind(now_ms())
            .fetch_one(&mut **tx)
            .await?;
    Ok(id)
}

pub(crate) async fn find_or_create_product(
    tx: &mut Tx,
    code: &str,
    name: &str,
) -> StoreResult<i64> {
    sqlx::query("INSERT INTO products (code, name) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        .bind(code)
        .bind(name)
        .execute(&mut **tx)
        .await?;
    let (id,): (i64,) = sqlx::query_as("SELECT id FROM products WHERE upper(code) = upper($1)")
        .bind(code)
        .fetch_one(&mut **tx)
        .await?;
    Ok(id)
}

/// Provisions a PROCESSING contract (R19): [`roster_domain::lifecycle::provision`] decides on
/// the locked snapshot (only PROCESSING becomes ACTIVE) and owes the CM Get Started; this writes
/// its plan. Returns `false` when there was nothing to do (already provisioned).
pub async fn provision(store: &Store, contract_id: i64) -> StoreResult<bool> {
    let mut tx = store.begin().await?;
    let Some(snap) = crate::change::load(
        store.backend(),
        &mut tx,
        contract_id,
        &roster_domain::change::Named::default(),
    )
    .await?
    else {
        return Ok(false);
    };
    let products = products(&mut *tx, contract_id)
        .await?
        .into_iter()
        .map(|p| ProductRef {
            name: p.product_name,
            code: p.product_code,
        })
        .collect();
    let Some(plan) = roster_domain::lifecycle::provision(&snap, products) else {
        return Ok(false);
    };
    sqlx::query("UPDATE contracts SET status = 'ACTIVE' WHERE id = $1 AND status = 'PROCESSING'")
        .bind(contract_id)
        .execute(&mut *tx)
        .await?;
    let mut ids = Vec::new();
    for e in plan.emails {
        ids.extend(
            emails::enqueue(
                &mut tx,
                NewEmail {
                    email: e.email,
                    idem_key: e.idem_key,
                    contract_id: Some(contract_id),
                    user_id: Some(e.user_id),
                    recipient: e.recipient,
                },
            )
            .await?,
        );
    }
    audit::record(
        &mut tx,
        Some(contract_id),
        &Actor::System,
        "contract.activated",
        &json!({ "status": { "before": "PROCESSING", "after": "ACTIVE" }, "emails": ids }),
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// One contract product by id.
pub async fn product_by_id<'c, E: Executor<'c, Database = Any>>(
    db: E,
    id: i64,
) -> StoreResult<Option<ContractProductRow>> {
    Ok(sqlx::query_as(
        "SELECT cp.id, cp.contract_id, cp.product_id, p.code AS product_code, \
         p.name AS product_name, cp.serial_number, cp.product_key, cp.seats, cp.seats_assigned, \
         cp.coordinator_user_id \
         FROM contract_products cp JOIN products p ON p.id = cp.product_id WHERE cp.id = $1",
    )
    .bind(id)
    .fetch_optional(db)
    .await?)
}
