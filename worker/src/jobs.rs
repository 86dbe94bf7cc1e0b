//! Job handlers. Each is idempotent: run twice, it changes and sends what running once would.

use crate::mail::{self, SendError};
use crate::templates::{self, ContractNow, SendFacts};
use crate::{Deps, EMAIL_LEASE, EMAIL_LEASE_RENEWAL};
use apalis::prelude::{AbortError, BoxDynError, Data};
use roster_domain::email::Email;
use roster_domain::email_kind::EmailKind;
use roster_store::outbox::{self, Envelope, Job};
use roster_store::{auth, contracts, emails, users};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Jobs run, by kind and outcome (`ok`, `retry`, `failed`).
pub const JOBS_METRIC: &str = "roster_jobs_total";
/// Job run time by kind.
pub const JOB_DURATION_METRIC: &str = "roster_job_duration_seconds";
/// Emails handed to the mail transport, by kind.
pub const EMAILS_SENT_METRIC: &str = "roster_emails_sent_total";
/// Failed sending attempts, by kind and whether the email was given up (`final`).
pub const EMAILS_FAILED_METRIC: &str = "roster_emails_failed_total";

/// Describes the worker's metrics to whichever recorder the process installed.
pub fn describe_metrics() {
    use metrics::{Unit, describe_counter, describe_histogram};
    describe_counter!(
        JOBS_METRIC,
        "Jobs run by this process, by kind and outcome (ok, retry, failed)."
    );
    describe_histogram!(JOB_DURATION_METRIC, Unit::Seconds, "Job run time by kind.");
    describe_counter!(EMAILS_SENT_METRIC, "Emails sent by this process, by kind.");
    describe_counter!(
        EMAILS_FAILED_METRIC,
        "Failed email sending attempts by kind; final=\"true\" when the email was given up."
    );
}

/// Runs one job from the queue and marks its outbox row done when nothing is left to do.
///
/// The job runs in a task of its own: a worker that stops (a lost queue, the shutdown
/// timeout) drops its in-flight futures wherever they wait, and a send cut between the SMTP
/// server's 250 OK and the ledger's SENT mark would go out again once its claim lapsed. A
/// spawned task finishes what it started; only the death of the process can cut it.
pub async fn handle(envelope: Envelope, deps: Data<Arc<Deps>>) -> Result<(), BoxDynError> {
    let started = Instant::now();
    let kind = envelope.job.name();
    let deps = Arc::clone(&deps);
    let result = match tokio::spawn(async move { run_job(&envelope, &deps).await }).await {
        Ok(result) => result,
        Err(e) => Err(e.into()),
    };
    let outcome = match &result {
        Ok(()) => "ok",
        Err(e) if e.is::<AbortError>() => "failed",
        Err(_) => "retry",
    };
    metrics::counter!(JOBS_METRIC, "kind" => kind, "outcome" => outcome).increment(1);
    metrics::histogram!(JOB_DURATION_METRIC, "kind" => kind)
        .record(started.elapsed().as_secs_f64());
    result
}

async fn run_job(envelope: &Envelope, deps: &Deps) -> Result<(), BoxDynError> {
    let outcome = match &envelope.job {
        Job::SendEmail { email_id } => send_email(deps, *email_id).await,
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
            tracing::warn!(job = envelope.job.name(), outbox_id = ?envelope.outbox_id, error = %redact(&e), "job failed; will retry");
            Err(e.into())
        }
        Err(JobError::Permanent(e)) => {
            tracing::error!(job = envelope.job.name(), outbox_id = ?envelope.outbox_id, error = %redact(&e), "job failed for good");
            if let Some(id) = envelope.outbox_id {
                outbox::mark_done(&deps.store, id).await?;
            }
            Err(AbortError::new(std::io::Error::other(e)).into())
        }
    }
}

/// An error message fit for a log line: SMTP servers name the recipient in their replies, and
/// addresses are personal data, so any word with an `@` in it is masked.
pub fn redact(message: &str) -> String {
    message
        .split(' ')
        .map(|word| {
            if word.contains('@') {
                "<redacted>"
            } else {
                word
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
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
    // One statement claims the email and reads it; only when the claim is refused does a
    // second read tell why.
    let until = roster_store::now_ms() + ms(EMAIL_LEASE);
    let Some(email) = emails::claim(store.pool(), email_id, until).await? else {
        return match emails::by_id(store.pool(), email_id).await? {
            None => Err(JobError::Permanent(format!(
                "email {email_id} does not exist"
            ))),
            Some(email) if email.status != "QUEUED" => Ok(()),
            // Another sender holds it right now; if it dies, its claim lapses and a retry
            // sends.
            Some(_) => Err(JobError::Retry(format!(
                "email {email_id} is being sent by another worker"
            ))),
        };
    };
    // The claim is renewed while this sender works; the outcome must be recorded while it
    // holds, or the email goes out again once it lapses.
    let lease = Lease::hold(store.clone(), email_id, until);
    let sent = tokio::select! {
        sent = compose_and_send(deps, &email) => sent,
        // The claim could not be renewed (the database was away for a whole lease) and
        // another sender may take the email now: stop before this one sends it too.
        () = lease.lost() => {
            return Err(JobError::Retry(format!("email {email_id}: claim lost before sending")));
        }
    };
    match sent {
        Ok(message_id) => {
            record_outcome(store, email_id, Written::Sent(&message_id), &lease).await?;
            metrics::counter!(EMAILS_SENT_METRIC, "kind" => email_kind_label(&email.kind))
                .increment(1);
            tracing::info!(email_id, kind = %email.kind, "email sent");
            Ok(())
        }
        Err(SendError::Permanent(e)) => {
            email_failed(&email.kind, true);
            record_outcome(
                store,
                email_id,
                Written::Failed {
                    error: &e,
                    permanent: true,
                },
                &lease,
            )
            .await?;
            Err(JobError::Permanent(e))
        }
        Err(SendError::Obsolete(why)) => {
            record_outcome(store, email_id, Written::Cancelled(&why), &lease).await?;
            tracing::info!(email_id, kind = %email.kind, why, "email no longer applies; cancelled");
            Ok(())
        }
        Err(SendError::Transient(e)) => {
            // email.attempts already counts this attempt (read as claimed).
            let given_up = email.attempts >= emails::MAX_ATTEMPTS;
            email_failed(&email.kind, given_up);
            if given_up {
                let why = format!("gave up after {} attempts: {e}", email.attempts);
                record_outcome(
                    store,
                    email_id,
                    Written::Failed {
                        error: &why,
                        permanent: true,
                    },
                    &lease,
                )
                .await?;
                return Err(JobError::Permanent(why));
            }
            record_outcome(
                store,
                email_id,
                Written::Failed {
                    error: &e,
                    permanent: false,
                },
                &lease,
            )
            .await?;
            Err(JobError::Retry(e))
        }
    }
}

/// What became of one send, as the ledger records it.
#[derive(Clone, Copy)]
enum Written<'a> {
    Sent(&'a str),
    Failed { error: &'a str, permanent: bool },
    Cancelled(&'a str),
}

/// A sender's claim on an email, renewed every [`EMAIL_LEASE_RENEWAL`] until dropped.
struct Lease {
    /// When the claim ends as last written (ms since the epoch).
    until: Arc<AtomicI64>,
    lost: watch::Receiver<bool>,
    renewal: tokio::task::JoinHandle<()>,
}

impl Lease {
    fn hold(store: roster_store::Store, email_id: i64, until: i64) -> Lease {
        let held = Arc::new(AtomicI64::new(until));
        let (lost_tx, lost) = watch::channel(false);
        let until = held.clone();
        let renewal = tokio::spawn(async move {
            loop {
                tokio::time::sleep(EMAIL_LEASE_RENEWAL).await;
                let old = until.load(Ordering::Acquire);
                let new = roster_store::now_ms() + ms(EMAIL_LEASE);
                match emails::renew_claim(store.pool(), email_id, old, new).await {
                    Ok(true) => until.store(new, Ordering::Release),
                    // The outcome was recorded (the claim is no longer held as written), or
                    // the claim lapsed and may be another's.
                    Ok(false) => break,
                    Err(e) if roster_store::now_ms() + ms(EMAIL_LEASE_RENEWAL) < old => {
                        tracing::warn!(email_id, error = %e, "cannot renew an email's claim yet; retrying");
                    }
                    Err(e) => {
                        tracing::warn!(email_id, error = %e, "an email's claim lapses unrenewed");
                        break;
                    }
                }
            }
            let _ = lost_tx.send(true);
        });
        Lease {
            until: held,
            lost,
            renewal,
        }
    }

    /// Resolves when the claim can no longer be counted on.
    async fn lost(&self) {
        let mut lost = self.lost.clone();
        let _ = lost.wait_for(|l| *l).await;
    }

    /// Whether the claim still holds `margin` from now.
    fn holds_for(&self, margin: Duration) -> bool {
        !*self.lost.borrow()
            && roster_store::now_ms() + ms(margin) < self.until.load(Ordering::Acquire)
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.renewal.abort();
    }
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Writes a send's outcome, retrying with growing pauses while the claim holds.
async fn record_outcome(
    store: &roster_store::Store,
    email_id: i64,
    outcome: Written<'_>,
    lease: &Lease,
) -> Result<(), JobError> {
    let mut pause = Duration::from_millis(100);
    loop {
        let written = match outcome {
            Written::Sent(message_id) => {
                emails::mark_sent(store.pool(), email_id, message_id).await
            }
            Written::Failed { error, permanent } => {
                emails::mark_failed(store.pool(), email_id, error, permanent).await
            }
            Written::Cancelled(why) => emails::cancel(store.pool(), email_id, why).await,
        };
        match written {
            Ok(()) => return Ok(()),
            Err(e) if lease.holds_for(pause + Duration::from_secs(1)) => {
                tracing::warn!(email_id, error = %e, "cannot record an email's outcome yet; retrying");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(5));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// The kind as a metric label: one of the known kinds, so the label set stays bounded.
fn email_kind_label(kind: &str) -> &'static str {
    kind.parse::<EmailKind>().map_or("unknown", |k| k.as_str())
}

fn email_failed(kind: &str, given_up: bool) {
    metrics::counter!(
        EMAILS_FAILED_METRIC,
        "kind" => email_kind_label(kind),
        "final" => if given_up { "true" } else { "false" }
    )
    .increment(1);
}

async fn compose_and_send(deps: &Deps, row: &emails::EmailRow) -> Result<String, SendError> {
    let email = row
        .email()
        .map_err(|e| SendError::Permanent(e.to_string()))?;
    let recipient = match row.user_id {
        Some(id) => users::by_id(deps.store.pool(), id)
            .await
            .map_err(|e| SendError::Transient(e.to_string()))?,
        None => None,
    };
    // The recipient's language now, not when the email was owed (R24).
    let language = recipient.as_ref().map_or("en", |u| u.language.as_str());
    let contract = match row.contract_id {
        Some(id) => contracts::by_id(deps.store.pool(), id)
            .await
            .map_err(|e| SendError::Transient(e.to_string()))?,
        None => None,
    };
    if let Email::RenewalNotice { term_end, .. } = &email {
        // R20: a renewal ends the old term's notices, even those already owed.
        let current = contract.as_ref().is_some_and(|c| {
            c.status == roster_domain::ContractStatus::Active && *c.end_date == *term_end
        });
        if !current {
            return Err(SendError::Obsolete("the term was renewed or ended".into()));
        }
    }
    let contract = match contract {
        Some(c) => {
            let reseller = match c.reseller_id {
                Some(id) => roster_store::resellers::by_id(deps.store.pool(), id)
                    .await
                    .map_err(|e| SendError::Transient(e.to_string()))?,
                None => None,
            };
            // R37: the reseller's contact details, those it gave.
            let reseller_contact = reseller.as_ref().map(|r| r.contact()).unwrap_or_default();
            Some(ContractNow {
                contract_number: c.number,
                company: c.company_name,
                end_date: *c.end_date,
                renewal_kind: c.renewal_kind,
                reseller_name: reseller.map(|r| r.name),
                reseller_contact,
            })
        }
        None => None,
    };
    let activation_link = match (&email, &recipient) {
        (Email::GetStarted { .. }, Some(user)) if !user.is_activated() => {
            let token = issue_token(deps, user.id)
                .await
                .map_err(|e| SendError::Transient(e.to_string()))?;
            Some(format!("{}/activate?token={token}", deps.public_url))
        }
        _ => None,
    };
    // R20: a notice states the real days left (owed with it; rows owed before it was, now).
    let mut email = email;
    if let Email::RenewalNotice {
        term_end,
        days_left: days_left @ None,
        ..
    } = &mut email
    {
        *days_left = Some(roster_domain::lifecycle::days_left(
            chrono::Utc::now().date_naive(),
            *term_end,
        ));
    }
    // R32: the confirmation link's token is issued as the email goes out, like an activation
    // link's, so the plain token exists only in the email.
    let confirm_link = match &email {
        Email::EmailChange {
            confirmed: false,
            change_id,
            ..
        } => {
            let token = issue_email_change_token(deps, *change_id)
                .await
                .map_err(|e| SendError::Transient(e.to_string()))?;
            match token {
                Some(token) => Some(format!("{}/confirm-email?token={token}", deps.public_url)),
                None => {
                    return Err(SendError::Permanent(
                        "email change no longer pending".into(),
                    ));
                }
            }
        }
        _ => None,
    };
    let facts = SendFacts {
        email: row.recipient.clone(),
        sign_in_link: format!("{}/sign-in", deps.public_url),
        activation_link,
        confirm_link,
        first_name: recipient.as_ref().map(|u| u.first_name.clone()),
        contract,
    };
    let rendered = templates::render(&email, &facts, language)
        .map_err(|e| SendError::Permanent(format!("template: {e}")))?;
    let domain = deps.from.email.domain().to_string();
    let message_id = format!(
        "<roster-{}-{}@{domain}>",
        row.id,
        &roster_store::secret::hash(&row.idem_key)[..16]
    );
    let contract_number = email
        .contract_number()
        .or(facts.contract.as_ref().map(|c| c.contract_number.as_str()));
    let message = mail::build(
        &mail::Envelope {
            from: &deps.from,
            to_email: &row.recipient,
            to_name: recipient
                .as_ref()
                .map(|u| format!("{} {}", u.first_name, u.last_name)),
            kind: email.kind().as_str(),
            contract_number,
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

/// A fresh token for a pending email change (R32); `None` when it was confirmed or replaced.
async fn issue_email_change_token(
    deps: &Deps,
    change_id: i64,
) -> roster_store::StoreResult<Option<String>> {
    let mut tx = deps.store.begin().await?;
    let token = roster_store::email_changes::issue_token(&mut tx, change_id).await?;
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
