//! Email templates: one subject, text and HTML template per kind and language (R24).
//!
//! Templates live in `worker/templates/<lang>/<kind>.{subject,txt,html}` and are embedded at
//! build time. A kind's `.html` and `.txt` are only its body: every kind is wrapped in the
//! language's `_layout.html` / `_layout.txt` (heading, one button with its link also as text,
//! a footer saying why the person gets the email; inline styles, phone and dark-mode
//! friendly), so a kind added later gets the same look without work of its own. They render one typed [`Email`] and the [`SendFacts`] the worker adds when it
//! sends, in strict mode: a variable that neither holds is an error, never an empty string
//! (`{% if x is defined %}` is how a template asks). HTML parts are auto-escaped, so a
//! user-supplied name cannot add markup; a language without a translation falls back to
//! English.

use chrono::NaiveDate;
use minijinja::Environment;
use minijinja::value::{Value, merge_maps};
use roster_domain::RenewalKind;
use roster_domain::email::Email;
use serde::Serialize;
use std::sync::LazyLock;

static SOURCES: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/templates.rs"));

static ENV: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|name| {
        if name.ends_with(".html") {
            minijinja::AutoEscape::Html
        } else {
            minijinja::AutoEscape::None
        }
    });
    for (name, source) in SOURCES {
        env.add_template(name, source)
            .unwrap_or_else(|e| panic!("email template {name} does not parse: {e}"));
    }
    env
});

/// What the worker adds to an email when it sends it: facts of the moment of sending, not of
/// the event. Where an email captured the same fact when it was owed (a Get Started email's
/// contract number, say), the email's value is the one rendered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SendFacts {
    /// The recipient's address (their User ID).
    pub email: String,
    /// `{ROSTER_PUBLIC_URL}/sign-in`.
    pub sign_in_link: String,
    /// `{ROSTER_PUBLIC_URL}/activate?token=...`, for a Get Started email to a User ID that has
    /// no password yet.
    pub activation_link: Option<String>,
    /// `{ROSTER_PUBLIC_URL}/confirm-email?token=...`, for the email that confirms a new address
    /// (R32).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confirm_link: Option<String>,
    /// The recipient's first name now (emails of the renewal pass and releases carry none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    /// The contract the email concerns, as it is now.
    #[serde(flatten)]
    pub contract: Option<ContractNow>,
}

/// A contract as an email names it when it is sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContractNow {
    pub contract_number: String,
    pub company: String,
    pub end_date: NaiveDate,
    pub renewal_kind: RenewalKind,
    /// The reseller's name, when one is attached to the contract.
    pub reseller_name: Option<String>,
    /// How to reach the reseller (R37): its email, phone and website, those it gave.
    pub reseller_contact: Vec<String>,
}

/// One rendered email, before addressing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// The languages that have templates.
pub fn languages() -> Vec<&'static str> {
    let mut langs: Vec<&str> = SOURCES
        .iter()
        .filter_map(|(name, _)| name.split_once('/').map(|(lang, _)| lang))
        // `_shared/` holds what every language's templates extend.
        .filter(|lang| !lang.starts_with('_'))
        .collect();
    langs.dedup();
    langs
}

/// Renders `email` with what sending adds in `language` (falling back to English).
pub fn render(
    email: &Email,
    facts: &SendFacts,
    language: &str,
) -> Result<Rendered, minijinja::Error> {
    let kind = email.kind().as_str();
    let lang = if ENV
        .get_template(&format!("{language}/{kind}.subject"))
        .is_ok()
    {
        language
    } else {
        "en"
    };
    // Where both hold a value, the email's wins (`merge_maps`: the last map that holds a key).
    let context = merge_maps([
        Value::from_serialize(facts),
        Value::from_serialize(email.params()),
    ]);
    let part = |ext: &str| -> Result<String, minijinja::Error> {
        ENV.get_template(&format!("{lang}/{kind}.{ext}"))?
            .render(&context)
    };
    // A subject is one line: whatever a value held, no line break reaches the header.
    let subject = part("subject")?
        .split(['\r', '\n'])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let (action, action_url) = main_action(email, facts);
    let wrap = |ext: &str, body: String| -> Result<String, minijinja::Error> {
        let layout = merge_maps([
            context.clone(),
            Value::from_serialize(serde_json::json!({
                "kind": kind,
                "lang": lang,
                "heading": subject,
                "action": action,
                "actionUrl": action_url,
            })),
            // Already rendered (and escaped, for HTML) by the kind's template.
            Value::from_iter([("body", Value::from_safe_string(body))]),
        ]);
        ENV.get_template(&format!("{lang}/_layout.{ext}"))?
            .render(layout)
    };
    let text = wrap("txt", part("txt")?)?;
    let html = wrap("html", part("html")?)?;
    Ok(Rendered {
        subject,
        text,
        html,
    })
}

/// The one thing an email asks the person to do, and its link: set a password (a new User
/// ID's Get Started), confirm a new address (R32), sign in (every other email about a contract or account), or nothing (an
/// Order Processed receipt: Get Started follows, so there is no account to use yet; R19).
pub(crate) fn main_action(
    email: &Email,
    facts: &SendFacts,
) -> (Option<&'static str>, Option<String>) {
    match (email, &facts.activation_link) {
        (Email::OrderProcessed { .. }, _) => (None, None),
        (Email::GetStarted { .. }, Some(link)) => (Some("set-password"), Some(link.clone())),
        (
            Email::EmailChange {
                confirmed: false, ..
            },
            _,
        ) => (Some("confirm-email"), facts.confirm_link.clone()),
        _ => (Some("sign-in"), Some(facts.sign_in_link.clone())),
    }
}

/// Whether a template exists (for the tests in `samples`).
#[cfg(test)]
pub(crate) fn has_template(name: &str) -> bool {
    ENV.get_template(name).is_ok()
}
