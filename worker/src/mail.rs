//! Email delivery: building MIME messages and handing them to a transport.
//!
//! The transport is chosen by configuration: SMTP in production (`SMTP_URL`), `.eml` files in
//! embedded mode (`ROSTER_DATA_DIR/mail/`). Headers are typed lettre headers, never strings
//! glued together, so no value can add a header.

use crate::templates::Rendered;
use lettre::message::header::{Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long one SMTP command may take before the send counts as failed.
pub const SMTP_TIMEOUT: Duration = Duration::from_secs(20);

/// Where emails go.
#[derive(Clone)]
pub enum Mailer {
    Smtp(AsyncSmtpTransport<Tokio1Executor>, Option<Arc<Pacer>>),
    File(AsyncFileTransport<Tokio1Executor>),
}

/// Spaces sends evenly so that at most `rate` start per second (`ROSTER_SMTP_RATE`).
#[derive(Debug)]
pub struct Pacer {
    interval: Duration,
    next: Mutex<Instant>,
}

impl Pacer {
    pub fn new(rate: u32) -> Pacer {
        Pacer {
            interval: Duration::from_secs(1) / rate.max(1),
            next: Mutex::new(Instant::now()),
        }
    }

    /// When a send asked for at `now` may start; every call takes the next free slot.
    pub fn slot(&self, now: Instant) -> Instant {
        let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
        let slot = (*next).max(now);
        *next = slot + self.interval;
        slot
    }
}

/// How a send failed.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The server refused for good (5xx): retrying will not help.
    #[error("permanent: {0}")]
    Permanent(String),
    /// A 4xx, a lost connection or a full disk: try again later.
    #[error("transient: {0}")]
    Transient(String),
    /// The email no longer applies (its event was overtaken): cancel, do not send.
    #[error("obsolete: {0}")]
    Obsolete(String),
}

impl Mailer {
    /// An SMTP mailer for `smtp://host:port` or `smtps://user:pass@host`, with a bounded pool
    /// and, when `rate` is given, at most that many sends starting per second.
    pub fn smtp(url: &str, rate: Option<u32>) -> Result<Self, String> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| format!("SMTP_URL is not a valid SMTP URL: {e}"))?
            .timeout(Some(SMTP_TIMEOUT))
            .pool_config(PoolConfig::new().max_size(8))
            .build();
        Ok(Mailer::Smtp(
            transport,
            rate.map(|r| Arc::new(Pacer::new(r))),
        ))
    }

    /// Checks an SMTP URL without connecting or starting a pool.
    pub fn check_smtp_url(url: &str) -> Result<(), String> {
        AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map(drop)
            .map_err(|e| format!("not a valid SMTP URL: {e}"))
    }

    /// A mailer writing each email as an `.eml` file into `dir`.
    pub fn file(dir: PathBuf) -> std::io::Result<Self> {
        std::fs::create_dir_all(&dir)?;
        Ok(Mailer::File(AsyncFileTransport::new(dir)))
    }

    pub async fn send(&self, message: Message) -> Result<(), SendError> {
        match self {
            Mailer::Smtp(t, pacer) => {
                if let Some(pacer) = pacer {
                    tokio::time::sleep_until(pacer.slot(Instant::now()).into()).await;
                }
                t.send(message).await.map(drop).map_err(|e| {
                    if e.is_permanent() {
                        SendError::Permanent(e.to_string())
                    } else {
                        SendError::Transient(e.to_string())
                    }
                })
            }
            Mailer::File(t) => t
                .send(message)
                .await
                .map(drop)
                .map_err(|e| SendError::Transient(e.to_string())),
        }
    }
}

macro_rules! text_header {
    ($name:ident, $header:literal) => {
        #[derive(Debug, Clone)]
        struct $name(String);

        impl Header for $name {
            fn name() -> HeaderName {
                HeaderName::new_from_ascii_str($header)
            }

            fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
                Ok(Self(s.to_string()))
            }

            fn display(&self) -> HeaderValue {
                HeaderValue::new(Self::name(), self.0.clone())
            }
        }
    };
}

text_header!(RosterKind, "X-Roster-Kind");
text_header!(RosterContract, "X-Roster-Contract");

/// Everything needed to address one email.
pub struct Envelope<'a> {
    pub from: &'a Mailbox,
    pub to_email: &'a str,
    pub to_name: Option<String>,
    pub kind: &'a str,
    pub contract_number: Option<&'a str>,
    /// Stable per email, so a receiver can tell a repeat from a new message.
    pub message_id: &'a str,
}

/// Builds the MIME message: `text/plain` and `text/html` alternatives and Roster's headers.
pub fn build(env: &Envelope<'_>, body: Rendered) -> Result<Message, String> {
    let address = env
        .to_email
        .parse()
        .map_err(|e| format!("recipient address is not valid: {e}"))?;
    let to = Mailbox::new(env.to_name.clone(), address);
    let mut builder = Message::builder()
        .from(env.from.clone())
        .to(to)
        .subject(body.subject)
        .message_id(Some(env.message_id.to_string()))
        .header(RosterKind(env.kind.to_string()));
    if let Some(number) = env.contract_number {
        builder = builder.header(RosterContract(number.to_string()));
    }
    builder
        .multipart(MultiPart::alternative_plain_html(body.text, body.html))
        .map_err(|e| format!("cannot build the message: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pacer_spaces_sends_to_the_rate() {
        let pacer = Pacer::new(50);
        let t0 = Instant::now();
        let slots: Vec<Duration> = (0..5).map(|_| pacer.slot(t0) - t0).collect();
        let step = Duration::from_millis(20);
        assert_eq!(slots, [Duration::ZERO, step, 2 * step, 3 * step, 4 * step]);
        // A send asked for long after the last slot starts at once.
        let later = t0 + Duration::from_secs(10);
        assert_eq!(pacer.slot(later), later);
    }
}
