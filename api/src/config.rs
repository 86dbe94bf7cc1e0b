//! Configuration: flags, then environment variables, then defaults (API.md, "Run modes").
//!
//! Every value is checked before anything starts; a bad one stops start-up with one line that
//! names the setting and says what is wrong with it.

use lettre::message::Mailbox;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The raw settings as flags and environment give them (see `main.rs` for the flags).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Settings {
    /// Address the API listens on.
    #[arg(long, env = "ROSTER_LISTEN", global = true)]
    pub listen: Option<String>,
    /// Folder for the embedded database, queue and `.eml` files.
    #[arg(long, env = "ROSTER_DATA_DIR", global = true)]
    pub data_dir: Option<String>,
    /// PostgreSQL (production) or SQLite URL; SQLite under the data folder when unset.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,
    /// Redis URL for the job queue; the embedded SQLite queue when unset.
    #[arg(long, env = "REDIS_URL", global = true, hide_env_values = true)]
    pub redis_url: Option<String>,
    /// SMTP URL (`smtp://` or `smtps://`); `.eml` files under the data folder when unset.
    #[arg(long, env = "SMTP_URL", global = true, hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// Sender of every email, e.g. `Roster <roster@example.com>`.
    #[arg(long, env = "ROSTER_MAIL_FROM", global = true)]
    pub mail_from: Option<String>,
    /// Public base URL of the front end, used in email links.
    #[arg(long, env = "ROSTER_PUBLIC_URL", global = true)]
    pub public_url: Option<String>,
    /// Delay between an order and its provisioning, e.g. `0s`, `30s`, `12h`.
    #[arg(long, env = "ROSTER_PROVISIONING_DELAY", global = true)]
    pub provisioning_delay: Option<String>,
    /// Whether GraphQL introspection is answered (`true` or `false`).
    #[arg(long, env = "ROSTER_INTROSPECTION", global = true)]
    pub introspection: Option<String>,
    /// Unique name of this worker process (defaults to host and process id).
    #[arg(long, env = "ROSTER_WORKER_NAME", global = true)]
    pub worker_name: Option<String>,
    /// After how long a job handed to the queue but not finished is handed over again, e.g.
    /// `5m` (the queue lost it: a Redis restart, a killed worker).
    #[arg(long, env = "ROSTER_REDELIVER_AFTER", global = true)]
    pub redeliver_after: Option<String>,
    /// Namespace of the queue in Redis, so several deployments can share one server.
    #[arg(long, env = "ROSTER_QUEUE_NAMESPACE", global = true)]
    pub queue_namespace: Option<String>,
    /// Address of the operator listener (jobs board and `/metrics`), e.g. `127.0.0.1:9090`;
    /// off when unset. It has no authentication: bind it to loopback.
    #[arg(long, env = "ROSTER_ADMIN_LISTEN", global = true)]
    pub admin_listen: Option<String>,
    /// Log line format: `text` (the default) or `json`.
    #[arg(long, env = "ROSTER_LOG_FORMAT", global = true)]
    pub log_format: Option<String>,
    /// Emails per second each worker process sends at most over SMTP (`0`: no bound beyond
    /// the pool of connections), for mail providers that limit the rate.
    #[arg(long, env = "ROSTER_SMTP_RATE", global = true)]
    pub smtp_rate: Option<String>,
    /// Support phone numbers that ADVANCED contracts show their Named Callers (R35), separated
    /// by `;`, e.g. `+1 800 555 0100; +44 20 7946 0000`.
    #[arg(long, env = "ROSTER_SUPPORT_PHONES", global = true)]
    pub support_phones: Option<String>,
}

/// Embedded (SQLite, in-process everything) or production (PostgreSQL, Redis, SMTP).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Embedded,
    Production,
}

/// Where jobs are queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueConfig {
    Sqlite { path: PathBuf },
    Redis { url: String, namespace: String },
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines (the default).
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Checked configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub mode: Mode,
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub database_url: String,
    pub queue: QueueConfig,
    pub smtp_url: Option<String>,
    pub mail_dir: PathBuf,
    pub mail_from: Mailbox,
    pub public_url: String,
    pub provisioning_delay: Duration,
    pub introspection: bool,
    pub worker_name: String,
    pub redeliver_after: Duration,
    /// Emails per second over SMTP at most, per worker process; `None`: unbounded.
    pub smtp_rate: Option<u32>,
    /// The operator listener (jobs board, `/metrics`); none unless configured.
    pub admin_listen: Option<SocketAddr>,
    pub log_format: LogFormat,
    /// R35: the support phone numbers shown to Named Callers of ADVANCED contracts.
    pub support_phones: Vec<String>,
}

/// The support phone numbers when `ROSTER_SUPPORT_PHONES` is unset (a placeholder for
/// development; set the real ones in production).
pub const DEFAULT_SUPPORT_PHONE: &str = "+1 800 555 0199";

/// `ROSTER_SUPPORT_PHONES`: numbers separated by `;`, each checked (R35).
fn support_phones(raw: Option<&str>) -> Result<Vec<String>, ConfigError> {
    let Some(raw) = raw else {
        return Ok(vec![DEFAULT_SUPPORT_PHONE.to_string()]);
    };
    let phones = raw
        .split(';')
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            roster_domain::support::parse_phone(p).map_err(|e| bad("ROSTER_SUPPORT_PHONES", e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if phones.is_empty() {
        return Err(bad(
            "ROSTER_SUPPORT_PHONES",
            "must name at least one phone number, such as \"+1 800 555 0100\"",
        ));
    }
    Ok(phones)
}

/// A setting that is not valid: `Display` is the one line printed at start-up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{setting}: {problem}")]
pub struct ConfigError {
    pub setting: &'static str,
    pub problem: String,
}

fn bad(setting: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        setting,
        problem: problem.into(),
    }
}

impl Settings {
    /// The log format alone: logging starts before the rest of the configuration is checked.
    pub fn log_format(&self) -> Result<LogFormat, ConfigError> {
        match self.log_format.as_deref().map(str::trim) {
            None | Some("") => Ok(LogFormat::Text),
            Some(v) if v.eq_ignore_ascii_case("text") => Ok(LogFormat::Text),
            Some(v) if v.eq_ignore_ascii_case("json") => Ok(LogFormat::Json),
            Some(v) => Err(bad(
                "ROSTER_LOG_FORMAT",
                format!("{v:?} is not a log format: use text or json"),
            )),
        }
    }

    /// Checks every setting and fills in the defaults.
    pub fn resolve(&self) -> Result<Config, ConfigError> {
        let listen_raw = self.listen.as_deref().unwrap_or("127.0.0.1:8080");
        let listen: SocketAddr = listen_raw.parse().map_err(|_| {
            bad(
                "ROSTER_LISTEN",
                format!("{listen_raw:?} is not an address such as 127.0.0.1:8080"),
            )
        })?;
        let admin_listen = match self.admin_listen.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(raw) => Some(raw.parse::<SocketAddr>().map_err(|_| {
                bad(
                    "ROSTER_ADMIN_LISTEN",
                    format!("{raw:?} is not an address such as 127.0.0.1:9090"),
                )
            })?),
        };
        let log_format = self.log_format()?;
        let data_dir = PathBuf::from(self.data_dir.as_deref().unwrap_or("./roster-data"));
        if data_dir.as_os_str().is_empty() {
            return Err(bad("ROSTER_DATA_DIR", "must not be empty"));
        }

        let database_url = match self.database_url.as_deref().map(str::trim) {
            None | Some("") => {
                format!("sqlite://{}?mode=rwc", data_dir.join("roster.db").display())
            }
            Some(url)
                if url.starts_with("postgres://")
                    || url.starts_with("postgresql://")
                    || url.starts_with("sqlite:") =>
            {
                url.to_string()
            }
            Some(_) => {
                return Err(bad(
                    "DATABASE_URL",
                    "must start with postgres:// (production) or sqlite: (embedded)",
                ));
            }
        };
        let mode = if database_url.starts_with("sqlite:") {
            Mode::Embedded
        } else {
            Mode::Production
        };

        let queue_namespace = self
            .queue_namespace
            .clone()
            .unwrap_or_else(|| "roster".into());
        if queue_namespace.is_empty()
            || !queue_namespace
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':'))
        {
            return Err(bad(
                "ROSTER_QUEUE_NAMESPACE",
                "use letters, digits, '-', '_' or ':'",
            ));
        }
        let queue = match self.redis_url.as_deref().map(str::trim) {
            Some(url) if !url.is_empty() => {
                if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
                    return Err(bad("REDIS_URL", "must start with redis:// or rediss://"));
                }
                QueueConfig::Redis {
                    url: url.to_string(),
                    namespace: queue_namespace,
                }
            }
            _ if mode == Mode::Production => {
                return Err(bad(
                    "REDIS_URL",
                    "required in production (DATABASE_URL is PostgreSQL)",
                ));
            }
            _ => QueueConfig::Sqlite {
                path: data_dir.join("queue.db"),
            },
        };

        let smtp_url = match self.smtp_url.as_deref().map(str::trim) {
            Some(url) if !url.is_empty() => {
                if !(url.starts_with("smtp://") || url.starts_with("smtps://")) {
                    return Err(bad("SMTP_URL", "must start with smtp:// or smtps://"));
                }
                roster_worker::mail::Mailer::check_smtp_url(url).map_err(|e| bad("SMTP_URL", e))?;
                Some(url.to_string())
            }
            _ if mode == Mode::Production => {
                return Err(bad(
                    "SMTP_URL",
                    "required in production (DATABASE_URL is PostgreSQL); emails would go nowhere",
                ));
            }
            _ => None,
        };

        let from_raw = self
            .mail_from
            .as_deref()
            .unwrap_or("Roster <roster@localhost>");
        let mail_from: Mailbox = from_raw.parse().map_err(|_| {
            bad(
                "ROSTER_MAIL_FROM",
                format!("{from_raw:?} is not a mailbox such as \"Roster <roster@example.com>\""),
            )
        })?;

        let public_url = self
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{listen}"));
        let parsed = url::Url::parse(&public_url)
            .map_err(|_| bad("ROSTER_PUBLIC_URL", format!("{public_url:?} is not a URL")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(bad(
                "ROSTER_PUBLIC_URL",
                "must be an http:// or https:// URL",
            ));
        }
        let public_url = public_url.trim_end_matches('/').to_string();

        let delay_raw = self.provisioning_delay.as_deref().unwrap_or("5s");
        let provisioning_delay = humantime::parse_duration(delay_raw).map_err(|_| {
            bad(
                "ROSTER_PROVISIONING_DELAY",
                format!("{delay_raw:?} is not a duration such as 0s, 30s or 12h"),
            )
        })?;

        let redeliver_raw = self.redeliver_after.as_deref().unwrap_or("5m");
        let redeliver_after = humantime::parse_duration(redeliver_raw)
            .ok()
            .filter(|d| *d >= Duration::from_millis(500))
            .ok_or_else(|| {
                bad(
                    "ROSTER_REDELIVER_AFTER",
                    format!("{redeliver_raw:?} is not a duration of at least 500ms, such as 5m"),
                )
            })?;

        let smtp_rate = match self.smtp_rate.as_deref().map(str::trim) {
            None | Some("") | Some("0") => None,
            Some(raw) => Some(
                raw.parse::<u32>()
                    .ok()
                    .filter(|r| *r <= 1_000_000)
                    .ok_or_else(|| {
                        bad(
                            "ROSTER_SMTP_RATE",
                            format!("{raw:?} is not a number of emails per second such as 50"),
                        )
                    })?,
            ),
        };

        let introspection = match self.introspection.as_deref() {
            None => true,
            Some(v) => {
                parse_bool(v).ok_or_else(|| bad("ROSTER_INTROSPECTION", "must be true or false"))?
            }
        };

        let worker_name = match &self.worker_name {
            Some(n) if !n.trim().is_empty() => n.trim().to_string(),
            Some(_) => return Err(bad("ROSTER_WORKER_NAME", "must not be empty")),
            None => default_worker_name(),
        };

        let support_phones = support_phones(self.support_phones.as_deref())?;

        Ok(Config {
            support_phones,
            mode,
            listen,
            mail_dir: data_dir.join("mail"),
            data_dir,
            database_url,
            queue,
            smtp_url,
            mail_from,
            public_url,
            provisioning_delay,
            introspection,
            worker_name,
            redeliver_after,
            smtp_rate,
            admin_listen,
            log_format,
        })
    }
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// A worker name unique per process: apalis recovers an orphaned job only from a worker whose
/// name is its own.
fn default_worker_name() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "roster".into());
    let nonce: u32 = rand::random();
    format!("{host}-{}-{nonce:08x}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_configuration_is_embedded_mode() {
        let c = Settings::default().resolve().unwrap();
        assert_eq!(c.mode, Mode::Embedded);
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert!(
            c.database_url
                .starts_with("sqlite://./roster-data/roster.db")
        );
        assert!(matches!(c.queue, QueueConfig::Sqlite { .. }));
        assert_eq!(c.smtp_url, None);
        assert_eq!(c.provisioning_delay, Duration::from_secs(5));
        assert_eq!(c.admin_listen, None);
        assert_eq!(c.log_format, LogFormat::Text);
        assert_eq!(c.smtp_rate, None, "no send rate bound unless asked for");
    }

    #[test]
    fn bad_values_name_their_setting() {
        let cases: Vec<(Settings, &str)> = vec![
            (
                Settings {
                    listen: Some("nope".into()),
                    ..Default::default()
                },
                "ROSTER_LISTEN",
            ),
            (
                Settings {
                    database_url: Some("mysql://x".into()),
                    ..Default::default()
                },
                "DATABASE_URL",
            ),
            (
                Settings {
                    provisioning_delay: Some("soon".into()),
                    ..Default::default()
                },
                "ROSTER_PROVISIONING_DELAY",
            ),
            (
                Settings {
                    mail_from: Some("not a mailbox".into()),
                    ..Default::default()
                },
                "ROSTER_MAIL_FROM",
            ),
            (
                Settings {
                    public_url: Some("ftp://x".into()),
                    ..Default::default()
                },
                "ROSTER_PUBLIC_URL",
            ),
            (
                Settings {
                    redis_url: Some("http://x".into()),
                    ..Default::default()
                },
                "REDIS_URL",
            ),
            (
                Settings {
                    smtp_rate: Some("fast".into()),
                    ..Default::default()
                },
                "ROSTER_SMTP_RATE",
            ),
            (
                Settings {
                    smtp_url: Some("http://x".into()),
                    ..Default::default()
                },
                "SMTP_URL",
            ),
            (
                Settings {
                    introspection: Some("maybe".into()),
                    ..Default::default()
                },
                "ROSTER_INTROSPECTION",
            ),
            (
                Settings {
                    admin_listen: Some("localhost".into()),
                    ..Default::default()
                },
                "ROSTER_ADMIN_LISTEN",
            ),
            (
                Settings {
                    log_format: Some("xml".into()),
                    ..Default::default()
                },
                "ROSTER_LOG_FORMAT",
            ),
        ];
        for (settings, setting) in cases {
            let err = settings.resolve().unwrap_err();
            assert_eq!(err.setting, setting);
            assert!(!err.to_string().contains('\n'));
        }
    }

    #[test]
    fn production_refuses_to_start_without_redis_or_smtp() {
        let pg = Some("postgres://postgres@127.0.0.1/roster".to_string());
        let err = Settings {
            database_url: pg.clone(),
            ..Default::default()
        }
        .resolve()
        .unwrap_err();
        assert_eq!(err.setting, "REDIS_URL");
        let err = Settings {
            database_url: pg.clone(),
            redis_url: Some("redis://127.0.0.1".into()),
            ..Default::default()
        }
        .resolve()
        .unwrap_err();
        assert_eq!(err.setting, "SMTP_URL");
        let ok = Settings {
            database_url: pg,
            redis_url: Some("redis://127.0.0.1".into()),
            smtp_url: Some("smtp://127.0.0.1:2525".into()),
            ..Default::default()
        }
        .resolve()
        .unwrap();
        assert_eq!(ok.mode, Mode::Production);
    }

    #[test]
    fn r35_support_phones_are_checked_and_a_bad_one_names_the_setting() {
        assert_eq!(
            support_phones(None).unwrap(),
            vec![DEFAULT_SUPPORT_PHONE.to_string()]
        );
        assert_eq!(
            support_phones(Some("+1 800 555 0100; +44 20 7946 0000")).unwrap(),
            vec![
                "+1 800 555 0100".to_string(),
                "+44 20 7946 0000".to_string()
            ]
        );
        for raw in ["call us", "", " ; ", "+1 800 555 0100; nope"] {
            let e = support_phones(Some(raw)).unwrap_err();
            assert_eq!(e.setting, "ROSTER_SUPPORT_PHONES");
            let line = e.to_string();
            assert!(line.starts_with("ROSTER_SUPPORT_PHONES: "), "{line}");
            assert!(!line.contains('\n'), "{line}");
        }
    }
}
