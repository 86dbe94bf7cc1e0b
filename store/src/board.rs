//! The operator's read-only view of background work (the admin listener's jobs board).
//!
//! It reads Roster's own record of what is owed, the `outbox` and the `emails` ledger, not the
//! apalis queue: the queue is a hand-over buffer the relay refills (a Redis restart empties it
//! and nothing is lost), while the tables say what is still owed, what is done and what failed
//! and why. So the view is the same over the embedded queue (apalis-sqlite) and Redis.
//!
//! The states of a job:
//! - **pending**: owed and nobody is at it (waiting for the relay or in the apalis queue);
//! - **running**: an email claimed by a sender; an outbox job handed to the queue and not done
//!   (the outbox does not record when a job starts);
//! - **done**: sent, cancelled (an email that no longer applied) or finished;
//! - **failed**: an email given up (a 5xx, or [`MAX_ATTEMPTS`](crate::emails::MAX_ATTEMPTS)
//!   attempts); outbox jobs are retried until done and never end failed.

use crate::outbox::Job;
use crate::{Store, StoreResult, now_ms};
use serde::Serialize;

/// What state a job is in (see the module's documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    Pending,
    Running,
    Done,
    Cancelled,
    Failed,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Pending => "pending",
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Cancelled => "cancelled",
            JobState::Failed => "failed",
        }
    }

    /// An email's state from its ledger status and claim.
    fn of_email(status: &str, claimed_until: Option<i64>, now: i64) -> JobState {
        match status {
            "SENT" => JobState::Done,
            "CANCELLED" => JobState::Cancelled,
            "FAILED" => JobState::Failed,
            _ if claimed_until.is_some_and(|until| until >= now) => JobState::Running,
            _ => JobState::Pending,
        }
    }

    /// An outbox job's state from when it was handed over and done.
    fn of_outbox(relayed_at: Option<i64>, done_at: Option<i64>) -> JobState {
        match (relayed_at, done_at) {
            (_, Some(_)) => JobState::Done,
            (Some(_), None) => JobState::Running,
            (None, None) => JobState::Pending,
        }
    }
}

/// How many jobs of one queue (a job kind: `send_email`, `provision`) are in each state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueueCounts {
    pub queue: String,
    pub pending: i64,
    pub running: i64,
    /// Done, cancelled emails included.
    pub done: i64,
    pub failed: i64,
}

/// One job as the board lists it. No recipient: the admin listener has no authentication.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobLine {
    pub queue: String,
    /// The email's or the outbox row's id.
    pub id: i64,
    /// The email's kind (`order-processed`), or the job's name for outbox jobs.
    pub kind: String,
    pub state: JobState,
    /// Send attempts so far (emails); `None` for outbox jobs, which do not count them.
    pub attempts: Option<i64>,
    /// The last failure as the ledger records it, unredacted: callers showing it mask it.
    pub last_error: Option<String>,
    pub created_at_ms: i64,
    /// When it was sent or finished.
    pub finished_at_ms: Option<i64>,
}

/// The email ledger's rows of one kind, by status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EmailKindCounts {
    pub kind: String,
    pub queued: i64,
    pub sent: i64,
    pub failed: i64,
    pub cancelled: i64,
}

/// Everything the board shows, read at `at_ms`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Board {
    pub at_ms: i64,
    pub queues: Vec<QueueCounts>,
    /// The latest jobs of every queue, newest first, at most `limit` per queue.
    pub latest: Vec<JobLine>,
    /// The latest failed emails (the dead letters `roster emails replay` sends again).
    pub failed: Vec<JobLine>,
    pub emails: Vec<EmailKindCounts>,
}

/// An email row: id, kind, status, attempts, last_error, claimed_until, created_at, sent_at.
type EmailRow = (
    i64,
    String,
    String,
    i64,
    Option<String>,
    Option<i64>,
    i64,
    Option<i64>,
);

/// An outbox row: id, job, relayed_at, done_at, created_at.
type OutboxRow = (i64, String, Option<i64>, Option<i64>, i64);

const EMAIL_LINES: &str = "SELECT id, kind, status, attempts, last_error, claimed_until, \
     created_at, sent_at FROM emails ORDER BY id DESC LIMIT $1";
const FAILED_EMAIL_LINES: &str = "SELECT id, kind, status, attempts, last_error, claimed_until, \
     created_at, sent_at FROM emails WHERE status = 'FAILED' ORDER BY id DESC LIMIT $1";

/// Reads the board: counts per queue, the latest `limit` jobs of each queue, the latest
/// `limit` failed emails, and the ledger by kind.
///
/// The counts scan `outbox` and `emails`; fine for a page an operator opens, not for a scrape
/// every few seconds (`/metrics` reads only what is owed, through partial indexes).
pub async fn read(store: &Store, limit: i64) -> StoreResult<Board> {
    let now = now_ms();
    let db = store.pool();
    let send_email = Job::SendEmail { email_id: 0 }.name();
    let provision = Job::Provision { contract_id: 0 }.name();

    let (pending, running, done, failed): (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT \
         COUNT(CASE WHEN status = 'QUEUED' AND (claimed_until IS NULL OR claimed_until < $1) THEN 1 END), \
         COUNT(CASE WHEN status = 'QUEUED' AND claimed_until >= $1 THEN 1 END), \
         COUNT(CASE WHEN status IN ('SENT', 'CANCELLED') THEN 1 END), \
         COUNT(CASE WHEN status = 'FAILED' THEN 1 END) \
         FROM emails",
    )
    .bind(now)
    .fetch_one(db)
    .await?;
    let mut queues = vec![QueueCounts {
        queue: send_email.to_string(),
        pending,
        running,
        done,
        failed,
    }];
    let outbox: Vec<(String, i64, i64, i64)> = sqlx::query_as(
        "SELECT job, \
         COUNT(CASE WHEN done_at IS NULL AND relayed_at IS NULL THEN 1 END), \
         COUNT(CASE WHEN done_at IS NULL AND relayed_at IS NOT NULL THEN 1 END), \
         COUNT(done_at) \
         FROM outbox GROUP BY job ORDER BY job",
    )
    .fetch_all(db)
    .await?;
    if !outbox.iter().any(|(job, ..)| job == provision) {
        queues.push(QueueCounts {
            queue: provision.to_string(),
            pending: 0,
            running: 0,
            done: 0,
            failed: 0,
        });
    }
    queues.extend(
        outbox
            .into_iter()
            .map(|(queue, pending, running, done)| QueueCounts {
                queue,
                pending,
                running,
                done,
                failed: 0,
            }),
    );

    let email_line = |row: EmailRow| {
        let (id, kind, status, attempts, last_error, claimed_until, created_at, sent_at) = row;
        JobLine {
            queue: send_email.to_string(),
            id,
            kind,
            state: JobState::of_email(&status, claimed_until, now),
            attempts: Some(attempts),
            last_error,
            created_at_ms: created_at,
            finished_at_ms: sent_at,
        }
    };
    let mut latest: Vec<JobLine> = sqlx::query_as::<_, EmailRow>(EMAIL_LINES)
        .bind(limit)
        .fetch_all(db)
        .await?
        .into_iter()
        .map(email_line)
        .collect();
    let jobs: Vec<OutboxRow> = sqlx::query_as(
        "SELECT id, job, relayed_at, done_at, created_at FROM outbox ORDER BY id DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(db)
    .await?;
    latest.extend(
        jobs.into_iter()
            .map(|(id, job, relayed_at, done_at, created_at)| JobLine {
                queue: job.clone(),
                id,
                kind: job,
                state: JobState::of_outbox(relayed_at, done_at),
                attempts: None,
                last_error: None,
                created_at_ms: created_at,
                finished_at_ms: done_at,
            }),
    );
    let failed = sqlx::query_as::<_, EmailRow>(FAILED_EMAIL_LINES)
        .bind(limit)
        .fetch_all(db)
        .await?
        .into_iter()
        .map(email_line)
        .collect();

    let emails = sqlx::query_as::<_, (String, i64, i64, i64, i64)>(
        "SELECT kind, \
         COUNT(CASE WHEN status = 'QUEUED' THEN 1 END), \
         COUNT(CASE WHEN status = 'SENT' THEN 1 END), \
         COUNT(CASE WHEN status = 'FAILED' THEN 1 END), \
         COUNT(CASE WHEN status = 'CANCELLED' THEN 1 END) \
         FROM emails GROUP BY kind ORDER BY kind",
    )
    .fetch_all(db)
    .await?
    .into_iter()
    .map(|(kind, queued, sent, failed, cancelled)| EmailKindCounts {
        kind,
        queued,
        sent,
        failed,
        cancelled,
    })
    .collect();

    Ok(Board {
        at_ms: now,
        queues,
        latest,
        failed,
        emails,
    })
}

#[cfg(test)]
mod tests {
    use super::JobState;

    #[test]
    fn an_email_is_running_only_while_its_claim_lasts() {
        assert_eq!(JobState::of_email("QUEUED", None, 10), JobState::Pending);
        assert_eq!(JobState::of_email("QUEUED", Some(9), 10), JobState::Pending);
        assert_eq!(
            JobState::of_email("QUEUED", Some(10), 10),
            JobState::Running
        );
        assert_eq!(JobState::of_email("SENT", None, 10), JobState::Done);
        assert_eq!(JobState::of_email("FAILED", None, 10), JobState::Failed);
        assert_eq!(
            JobState::of_email("CANCELLED", None, 10),
            JobState::Cancelled
        );
    }

    #[test]
    fn an_outbox_job_runs_once_handed_over_until_done() {
        assert_eq!(JobState::of_outbox(None, None), JobState::Pending);
        assert_eq!(JobState::of_outbox(Some(1), None), JobState::Running);
        assert_eq!(JobState::of_outbox(Some(1), Some(2)), JobState::Done);
    }
}
