//! Job handlers. Each is idempotent: run twice, it changes and sends what running once would.

use crate::Deps;
use crate::mail::{self, SendError};
use crate::templates;
use apalis::prelude::{AbortError, BoxDynError, Data};
use roster_domain::email_kind::EmailKind;
use roster_store::outbox::{self, Envelope, Job};
use roster_store::{auth, contracts, emails, users};
use std::sync::Arc;

/// Runs one job from the queue and marks its outbox row done when nothing is left to do.
pub async fn handle(envelope: Envelope, deps: Data<Arc<Deps>>) -> Result<(), BoxDynError> {
    let outcome = match &envelope.job {
        Job::SendEmail { email_id } => send_email(&deps, *email_id).await,
        Job::Provision { contract_id } => contracts::provision(&deps.store, *contract_id)
            .await
            .map(drop)
            .map_err(|e| JobError::Retry(e.to_string())),
    };
    match outcome {
        Ok(()) => {
            if let Some(id) = envelope.outbox_id {
                outbox::mark_done(&deps.store, id).await?;
            }
            Ok(())
        }
        Err(JobError::Retry(e)) => {
            tracing::warn!(job = envelope.job.name(), outbox_id = ?envelope.outbox_id, error = %e, "job failed; will retry");
            Err(e.into())
        }
        Err(JobError::Permanent(e)) => {
            tracing::error!(job = envelope.job.name(), outbox_id = ?envelope.outbox_id, error = %e, "job failed for good");
            if let Some(id) = envelope.outbox_id {
                outbox::mark_done(&deps.store, id).await?;
            }
            Err(AbortError::new(std::io::Error::other(e)).into())
        }
    }
}

/// How a job failed.
#[derive(Debug)]
pub enum JobError {
    /// Try again later (a 4xx, a lost connection, a database hiccup).
    Retry(String),
    /// Will never succeed; recorded, not retried.
    Permanent(String),
}

impl From<roster_store::StoreError> for JobError {
    fn from(e: roster_store::StoreError) -> Self {
        JobError::Retry(e.to_string())
    }
}

/// Delivers one email of the ledger, once (R24).
pub async fn send_email(deps: &Deps, email_id: i64) -> Result<(), JobError> {
    let store = &deps.store;
    let Some(email) = emails::by_id(store.pool(), email_id).await? else {
        return Err(JobError::Permanent(format!(
            "email {email_id} does not exist"
        )));
    };
    if email.status != "QUEUED" {
        return Ok(());
    }
    if !emails::claim(store.pool(), email_id, deps.claim_ms()).await? {
        // Another sender holds it right now; if it dies, its claim lapses and a retry sends.
        return Err(JobError::Retry(format!(
            "email {email_id} is being sent by another worker"
        )));
    }
    match compose_and_send(deps, &email).await {
        Ok(message_id) => {
            emails::mark_sent(store.pool(), email_id, &message_id).await?;
            tracing::info!(email_id, kind = %email.kind, "email sent");
            Ok(())
        }
        Err(SendError::Permanent(e)) => {
            emails::mark_failed(store.pool(), email_id, &e, true).await?;
            Err(JobError::Permanent(e))
        }
        Err(SendError::Obsolete(why)) => {
            emails::cancel(store.pool(), email_id, &why).await?;
            tracing::info!(email_id, kind = %email.kind, why, "email no longer applies; cancelled");
            Ok(())
        }
        Err(SendError::Transient(e)) => {
            // email.attempts was read before this attempt's claim counted it.
            if email.attempts + 1 >= emails::MAX_ATTEMPTS {
                let why = format!("gave up after {} attempts: {e}", email.attempts + 1);
                emails::mark_failed(store.pool(), email_id, &why, true).await?;
                return Err(JobError::Permanent(why));
            }
            emails::mark_failed(store.pool(), email_id, &e, false).await?;
            Err(JobError::Retry(e))
        }
    }
}

async fn compose_and_send(deps: &Deps, email: &emails::EmailRow) -> Result<String, SendError> {
    let kind: EmailKind = email.kind.parse().map_err(SendError::Permanent)?;
    let mut params: serde_json::Value = serde_json::from_str(&email.params)
        .map_err(|e| SendError::Permanent(format!("email parameters: {e}")))?;
    let recipient = match email.user_id {
        Some(id) => users::by_id(deps.store.pool(), id)
            .await
            .map_err(|e| SendError::Transient(e.to_string()))?,
        None => None,
    };
    // The recipient's language now, not when the email was owed (R24).
    let language = recipient.as_ref().map_or("en", |u| u.language.as_str());
    let contract = match email.contract_id {
        Some(id) => contracts::by_id(deps.store.pool(), id)
            .await
            .map_err(|e| SendError::Transient(e.to_string()))?,
        None => None,
    };
    if kind == EmailKind::RenewalNotice {
        // R20: a renewal ends the old term's notices, even those already owed.
        let term_end = params.get("termEnd").and_then(|v| v.as_str());
        let current = contract
            .as_ref()
            .is_some_and(|c| c.status == "ACTIVE" && Some(c.end_date.as_str()) == term_end);
        if !current {
            return Err(SendError::Obsolete("the term was renewed or ended".into()));
        }
    }
    if let Some(obj) = params.as_object_mut() {
        if let Some(c) = &contract {
            let reseller = match c.reseller_id {
                Some(id) => roster_store::resellers::by_id(deps.store.pool(), id)
                    .await
                    .map_err(|e| SendError::Transient(e.to_string()))?
                    .map(|r| r.name),
                None => None,
            };
            let mut fill = |key: &str, value: serde_json::Value| {
                obj.entry(key.to_string()).or_insert(value);
            };
            fill("contractNumber", c.number.clone().into());
            fill("company", c.company_name.clone().into());
            fill("endDate", c.end_date.clone().into());
            fill("renewalKind", c.renewal_kind.clone().into());
            fill(
                "resellerName",
                reseller.unwrap_or_else(|| "your reseller".into()).into(),
            );
        }
        if let Some(u) = &recipient {
            obj.entry("firstName")
                .or_insert_with(|| u.first_name.clone().into());
        }
        obj.insert("email".into(), email.recipient.clone().into());
        obj.insert(
            "signInLink".into(),
            format!("{}/sign-in", deps.public_url).into(),
        );
        if kind == EmailKind::GetStarted
            && let Some(user) = recipient.as_ref().filter(|u| !u.is_activated())
        {
            let token = issue_token(deps, user.id)
                .await
                .map_err(|e| SendError::Transient(e.to_string()))?;
            obj.insert(
                "activationLink".into(),
                format!("{}/activate?token={token}", deps.public_url).into(),
            );
        }
    }
    let rendered = templates::render(kind, language, &params)
        .map_err(|e| SendError::Permanent(format!("template: {e}")))?;
    let domain = deps.from.email.domain().to_string();
    let message_id = format!(
        "<roster-{}-{}@{domain}>",
        email.id,
        &roster_store::secret::hash(&email.idem_key)[..16]
    );
    let contract_number = params
        .get("contractNumber")
        .and_then(|v| v.as_str())
        .map(str::to_string);
    let message = mail::build(
        &mail::Envelope {
            from: &deps.from,
            to_email: &email.recipient,
            to_name: recipient
                .as_ref()
                .map(|u| format!("{} {}", u.first_name, u.last_name)),
            kind: kind.as_str(),
            contract_number: contract_number.as_deref(),
            message_id: &message_id,
        },
        rendered,
    )
    .map_err(SendError::Permanent)?;
    deps.mailer.send(message).await?;
    Ok(message_id)
}

/// A fresh activation token for a Get Started email; the plain token exists only in the email.
async fn issue_token(deps: &Deps, user_id: i64) -> roster_store::StoreResult<String> {
    let mut tx = deps.store.begin().await?;
    let token = auth::issue_activation_token(&mut tx, user_id).await?;
    tx.commit().await?;
    Ok(token)
}

/// The worker's scheduled renewal pass (R20, R22), as of today (UTC).
pub async fn renewal_tick(
    _tick: apalis_cron::Tick,
    deps: Data<Arc<Deps>>,
) -> Result<(), BoxDynError> {
    let today = chrono::Utc::now().date_naive();
    let report = roster_store::renewals::run_pass(&deps.store, today).await?;
    tracing::info!(%today, notices = report.notices, renewed = report.renewed, expired = report.expired, "renewal pass");
    Ok(())
}
