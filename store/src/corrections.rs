//! Correcting a wrongly named member (R32): the writes of `roster_domain::correction`'s plan,
//! in the transaction [`Authorized`] holds.

use crate::audit;
use crate::change::{Authorized, ChangeError};
use crate::emails::{self, NewEmail};
use crate::error::ConstraintExt as _;
use crate::{now_ms, secret};
use roster_domain::correction::{self, Correction, Subject};
use roster_domain::email::{Email, StartedAs};
use roster_domain::{DomainError, UserErrorCode};

/// Corrects `c.user`'s email, name or language on the contract `auth` holds; a corrected
/// address voids every unused activation link and unsent Get Started of the old one and gets a
/// fresh Get Started.
pub async fn correct_member(mut auth: Authorized, c: &Correction) -> Result<(), ChangeError> {
    let cid = auth.contract_id();
    let tx = &mut auth.tx;
    let facts: Option<(i64, i64, i64)> = sqlx::query_as(
        "SELECT CASE WHEN u.first_sign_in_at IS NULL AND u.password_hash IS NULL \
         THEN 1 ELSE 0 END, COALESCE(u.created_by_contract, 0), \
         (SELECT COUNT(*) FROM memberships m WHERE m.user_id = u.id AND m.contract_id <> $2) \
         FROM users u WHERE u.id = $1",
    )
    .bind(c.user)
    .bind(cid)
    .fetch_optional(&mut **tx)
    .await?;
    let (never, created_by, elsewhere) = facts.unwrap_or((0, 0, 0));
    let email_taken = match &c.email {
        Some(e) => {
            let holder: Option<(i64,)> =
                sqlx::query_as("SELECT id FROM users WHERE lower(email) = lower($1) AND id <> $2")
                    .bind(e.trim())
                    .bind(c.user)
                    .fetch_optional(&mut **tx)
                    .await?;
            holder.is_some()
        }
        None => false,
    };
    let subject = Subject {
        never_signed_in: never == 1,
        created_here: created_by == cid,
        on_other_contracts: elsewhere > 0,
        email_taken,
    };
    let plan =
        correction::plan_correction(&auth.snapshot, c, &subject).map_err(ChangeError::Refused)?;
    let p = &plan.person;
    sqlx::query(
        "UPDATE users SET email = $1, first_name = $2, last_name = $3, language = $4 WHERE id = $5",
    )
    .bind(p.email.as_str())
    .bind(&p.first_name)
    .bind(&p.last_name)
    .bind(p.language.as_str())
    .bind(c.user)
    .execute(&mut **tx)
    .await
    .on_constraint("users_email_key", || {
        DomainError::new(
            UserErrorCode::DuplicateEntry,
            "that address cannot be given to this member",
        )
        .at(["input", "email"])
    })?;
    sqlx::query(
        "UPDATE memberships SET typed_first_name = $1, typed_last_name = $2, typed_language = $3 \
         WHERE contract_id = $4 AND user_id = $5",
    )
    .bind(&p.first_name)
    .bind(&p.last_name)
    .bind(p.language.as_str())
    .bind(cid)
    .bind(c.user)
    .execute(&mut **tx)
    .await?;
    let mut detail = plan.audit.clone();
    if plan.email_changed {
        let now = now_ms();
        // The old link dies: unused activation tokens, and Get Started emails not yet sent to
        // the old address.
        sqlx::query(
            "UPDATE activation_tokens SET used_at = $1 WHERE user_id = $2 AND used_at IS NULL",
        )
        .bind(now)
        .bind(c.user)
        .execute(&mut **tx)
        .await?;
        sqlx::query(
            "UPDATE emails SET status = 'CANCELLED', last_error = 'address corrected' \
             WHERE user_id = $1 AND kind = 'get-started' AND status = 'QUEUED'",
        )
        .bind(c.user)
        .execute(&mut **tx)
        .await?;
        let contract = &auth.snapshot.contract;
        let id = emails::enqueue(
            tx,
            NewEmail {
                email: Email::GetStarted {
                    contract_number: Some(contract.number.clone()),
                    company: contract.company.clone(),
                    first_name: p.first_name.clone(),
                    role: StartedAs::Member(plan.role),
                    products: Vec::new(),
                    // What they were given, and whom to ask, as a first Get Started says.
                    benefits: auth
                        .snapshot
                        .members
                        .values()
                        .find(|m| m.user_id == c.user)
                        .map(|m| auth.snapshot.benefits(m))
                        .unwrap_or_default(),
                    admin: roster_domain::change::admin_of(&auth.snapshot, c.user),
                },
                idem_key: format!(
                    "get-started:contract:{cid}:user:{}:corrected:{}",
                    c.user,
                    secret::code(12)
                ),
                contract_id: Some(cid),
                user_id: Some(c.user),
                recipient: p.email.as_str().to_string(),
            },
        )
        .await?;
        detail["emails"] = serde_json::json!(id.into_iter().collect::<Vec<_>>());
    }
    audit::record(tx, Some(cid), &auth.actor, "member.corrected", &detail).await?;
    auth.tx.commit().await?;
    Ok(())
}
