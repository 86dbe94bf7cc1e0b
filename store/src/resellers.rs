//! Resellers and their read-only access to a contract's support cases (R18).

use crate::audit::{self, Actor};
use crate::emails::{self, NewEmail};
use crate::users::{self, UserRow};
use crate::{Store, StoreResult, flag, now_ms};
use roster_domain::Person;
use roster_domain::email::{Email, StartedAs};
use serde_json::json;
use sqlx::{Any, Executor};

/// A partner organisation.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ResellerRow {
    pub id: i64,
    pub name: String,
    pub created_at: i64,
    /// Contact details (R37), those the reseller gave.
    pub email: Option<String>,
    pub phone: Option<String>,
    pub website: Option<String>,
}

impl ResellerRow {
    /// How to reach the reseller, in the order a notice names them (R37).
    pub fn contact(&self) -> Vec<String> {
        [&self.email, &self.phone, &self.website]
            .into_iter()
            .flatten()
            .cloned()
            .collect()
    }
}

/// A new reseller's name and contact details (R37), already checked.
#[derive(Debug, Clone, Default)]
pub struct NewReseller {
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub website: Option<String>,
}

pub async fn create<'c, E: Executor<'c, Database = Any>>(
    db: E,
    new: &NewReseller,
) -> StoreResult<ResellerRow> {
    Ok(sqlx::query_as(
        "INSERT INTO resellers (name, email, phone, website, created_at) VALUES ($1, $2, $3, $4, $5) \
         RETURNING id, name, created_at, email, phone, website",
    )
    .bind(&new.name)
    .bind(&new.email)
    .bind(&new.phone)
    .bind(&new.website)
    .bind(now_ms())
    .fetch_one(db)
    .await?)
}

pub async fn by_id<'c, E: Executor<'c, Database = Any>>(
    db: E,
    id: i64,
) -> StoreResult<Option<ResellerRow>> {
    Ok(sqlx::query_as(
        "SELECT id, name, created_at, email, phone, website FROM resellers WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(db)
    .await?)
}

/// Makes a person a user of the reseller (linking an existing User ID) and owes them a Get
/// Started email. Returns the user and whether the User ID was created.
pub async fn add_user(
    store: &Store,
    actor: &Actor,
    reseller: &ResellerRow,
    person: &Person,
) -> StoreResult<UserRow> {
    let mut tx = store.begin().await?;
    let (user, _) = users::find_or_create(&mut tx, person).await?;
    let done = sqlx::query("UPDATE users SET reseller_id = $1 WHERE id = $2 AND (reseller_id IS NULL OR reseller_id <> $1)")
        .bind(reseller.id)
        .bind(user.id)
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() > 0 {
        emails::enqueue(
            &mut tx,
            NewEmail {
                email: Email::GetStarted {
                    contract_number: None,
                    company: reseller.name.clone(),
                    first_name: user.first_name.clone(),
                    role: StartedAs::Reseller,
                    products: Vec::new(),
                    benefits: Vec::new(),
                    admin: None,
                },
                idem_key: format!("get-started:reseller:{}:user:{}", reseller.id, user.id),
                contract_id: None,
                user_id: Some(user.id),
                recipient: user.email.clone(),
            },
        )
        .await?;
        audit::record(
            &mut tx,
            None,
            actor,
            "reseller.user_added",
            &json!({ "reseller": reseller.id, "user": user.id }),
        )
        .await?;
    }
    let user = users::by_id(&mut *tx, user.id).await?.unwrap_or(user);
    tx.commit().await?;
    Ok(user)
}

/// Whether `reseller_id` may read `contract_id`'s cases now.
pub async fn can_view<'c, E: Executor<'c, Database = Any>>(
    db: E,
    contract_id: i64,
    reseller_id: i64,
) -> StoreResult<bool> {
    let row: Option<(i64,)> = sqlx::query_as(
        "SELECT can_view FROM reseller_case_access WHERE contract_id = $1 AND reseller_id = $2",
    )
    .bind(contract_id)
    .bind(reseller_id)
    .fetch_optional(db)
    .await?;
    Ok(row.is_some_and(|(v,)| flag(v)))
}

/// The View Cases settings of a contract, one per reseller ever set (default no).
pub async fn case_access<'c, E: Executor<'c, Database = Any>>(
    db: E,
    contract_id: i64,
) -> StoreResult<Vec<(ResellerRow, bool)>> {
    #[derive(sqlx::FromRow)]
    struct AccessRow {
        #[sqlx(flatten)]
        reseller: ResellerRow,
        can_view: i64,
    }
    let rows: Vec<AccessRow> = sqlx::query_as(
        "SELECT r.id, r.name, r.created_at, r.email, r.phone, r.website, a.can_view \
         FROM reseller_case_access a JOIN resellers r ON r.id = a.reseller_id \
         WHERE a.contract_id = $1 ORDER BY r.name, r.id",
    )
    .bind(contract_id)
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.reseller, flag(r.can_view)))
        .collect())
}

/// Sets View Cases for a contract and reseller (R18); returns whether it changed. Giving it
/// is only for the reseller the contract is attached to (R18 amended, the rule in
/// `roster_domain::support`), and owes each of that reseller's users a Reseller Access
/// Granted email.
pub async fn set_case_access(
    auth: crate::change::Authorized,
    reseller: &ResellerRow,
    can_view: bool,
) -> StoreResult<bool> {
    let contract_id = auth.contract_id();
    let (mut tx, actor, contract) = (auth.tx, &auth.actor, &auth.snapshot.contract);
    let (attached,): (Option<i64>,) =
        sqlx::query_as("SELECT reseller_id FROM contracts WHERE id = $1")
            .bind(contract_id)
            .fetch_one(&mut *tx)
            .await?;
    roster_domain::support::reseller_case_access(attached, reseller.id, can_view)?;
    let before = self::can_view(&mut *tx, contract_id, reseller.id).await?;
    if before == can_view {
        return Ok(false);
    }
    let now = now_ms();
    sqlx::query(
        "INSERT INTO reseller_case_access (contract_id, reseller_id, can_view, updated_at) \
         VALUES ($1, $2, $3, $4) \
         ON CONFLICT (contract_id, reseller_id) DO UPDATE SET can_view = $3, updated_at = $4",
    )
    .bind(contract_id)
    .bind(reseller.id)
    .bind(i64::from(can_view))
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let mut owed = Vec::new();
    if can_view {
        // 003's best practice, "let your reseller know": each of its users is told.
        let users: Vec<(i64, String, String)> = sqlx::query_as(
            "SELECT id, email, first_name FROM users WHERE reseller_id = $1 ORDER BY id",
        )
        .bind(reseller.id)
        .fetch_all(&mut *tx)
        .await?;
        for (user_id, email, first_name) in users {
            owed.push(
                emails::enqueue(
                    &mut tx,
                    NewEmail {
                        email: Email::ResellerAccessGranted {
                            contract_number: contract.number.clone(),
                            company: contract.company.clone(),
                            first_name,
                            reseller_name: reseller.name.clone(),
                        },
                        idem_key: format!(
                            "reseller-access-granted:contract:{contract_id}:reseller:{}:user:{user_id}:at:{now}",
                            reseller.id
                        ),
                        contract_id: Some(contract_id),
                        user_id: Some(user_id),
                        recipient: email,
                    },
                )
                .await?,
            );
        }
    }
    audit::record(
        &mut tx,
        Some(contract_id),
        actor,
        "reseller_access.changed",
        &json!({
            "reseller": reseller.id,
            "canViewCases": { "before": before, "after": can_view },
            "emails": owed.into_iter().flatten().collect::<Vec<_>>(),
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}
