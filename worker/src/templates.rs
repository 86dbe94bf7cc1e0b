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
/// ID's Get Started), sign in (every other email about a contract or account), or nothing (an
/// Order Processed receipt: Get Started follows, so there is no account to use yet; R19).
fn main_action(email: &Email, facts: &SendFacts) -> (Option<&'static str>, Option<String>) {
    match (email, &facts.activation_link) {
        (Email::OrderProcessed { .. }, _) => (None, None),
        (Email::GetStarted { .. }, Some(link)) => (Some("set-password"), Some(link.clone())),
        _ => (Some("sign-in"), Some(facts.sign_in_link.clone())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::samples::{self, Sample};
    use roster_domain::change::Benefit;
    use roster_domain::email::PermissionsReason;
    use roster_domain::email_kind::EmailKind;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn named(name: &str) -> Sample {
        samples::all()
            .into_iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no sample {name}"))
    }

    fn rendered(name: &str, lang: &str) -> Rendered {
        let s = named(name);
        render(&s.email, &s.facts, lang).unwrap()
    }

    #[test]
    fn every_language_has_every_part_of_every_kind() {
        assert_eq!(languages(), ["de", "en", "fr", "ja"]);
        for lang in languages() {
            for kind in EmailKind::ALL {
                for ext in ["subject", "txt", "html"] {
                    let name = format!("{lang}/{}.{ext}", kind.as_str());
                    assert!(ENV.get_template(&name).is_ok(), "missing template {name}");
                }
            }
            for ext in ["txt", "html"] {
                assert!(ENV.get_template(&format!("{lang}/_layout.{ext}")).is_ok());
            }
        }
    }

    /// Strict mode: every variable a template names is in the email or what sending adds, for
    /// every kind, in every shape it is sent in, in every language.
    #[test]
    fn r24_every_kind_renders_in_every_language_without_a_missing_variable() {
        let samples = samples::all();
        for kind in EmailKind::ALL {
            assert!(
                samples.iter().any(|s| s.email.kind() == *kind),
                "no sample of {kind}"
            );
        }
        for lang in languages() {
            for s in &samples {
                let r = render(&s.email, &s.facts, lang)
                    .unwrap_or_else(|e| panic!("{} in {lang} does not render: {e:#}", s.name));
                let what = format!("{} in {lang}", s.name);
                assert!(!r.subject.is_empty(), "{what}");
                for part in [&r.subject, &r.text] {
                    // A `none` is an absent value printed.
                    assert!(!part.contains("none"), "{what}: {part}");
                }
                // (The HTML's styles say `text-decoration:none`.)
                assert!(
                    !r.html.contains(">none") && !r.html.contains(" none"),
                    "{what}"
                );
                assert!(r.text.contains("Zoë") && r.html.contains("Zoë"), "{what}");
                if s.facts.contract.is_some() {
                    assert!(r.text.contains("1234-567890"), "{what}");
                }
            }
        }
    }

    /// The shared layout wraps every kind: a heading (the subject), at most one button whose
    /// link is also printed as text, a footer saying why, and what phones and dark mode need.
    #[test]
    fn r24_every_kind_is_wrapped_in_the_shared_layout() {
        for lang in languages() {
            for s in samples::all() {
                let r = render(&s.email, &s.facts, lang).unwrap();
                let what = format!("{} in {lang}", s.name);
                let h = &r.html;
                assert!(h.starts_with("<!doctype html>"), "{what}");
                assert!(h.contains(&format!("<html lang=\"{lang}\">")), "{what}");
                assert!(h.contains("name=\"viewport\""), "{what}");
                assert!(h.contains("prefers-color-scheme: dark"), "{what}");
                let heading = r.subject.replace('&', "&amp;").replace('\'', "&#x27;");
                assert!(h.contains("<h1 style="), "{what}");
                assert!(h.contains(&heading), "{what}: heading {heading}");
                let action = main_action(&s.email, &s.facts).1;
                match action {
                    Some(url) => {
                        let url = url.replace('/', "&#x2f;");
                        assert_eq!(h.matches(&format!("href=\"{url}\"")).count(), 2, "{what}");
                        assert!(h.contains(&format!(">{url}</a>")), "{what}");
                    }
                    None => assert!(!h.contains("href="), "{what}"),
                }
                assert!(h.contains("border-top:1px solid"), "{what}: footer");
                assert!(r.text.contains("\n--\n"), "{what}: text footer");
            }
        }
    }

    #[test]
    fn r24_a_missing_variable_is_an_error() {
        // A renewal notice names the contract, which only sending adds.
        let notice = Email::RenewalNotice {
            days: 4,
            term_end: day("2027-01-01"),
            days_left: None,
        };
        let err = render(&notice, &samples::facts(None, false), "en").unwrap_err();
        assert_eq!(err.kind(), minijinja::ErrorKind::UndefinedError, "{err:#}");
    }

    #[test]
    fn r12_permissions_changed_words_benefits_in_the_recipients_language() {
        let de = rendered("permissions-changed.granted", "de");
        let labels = [
            "AutoCAD",
            "Web-Support",
            "Cloud-Dienste: Rendering",
            "Named Caller (telefonischer Support)",
            "Softwarekoordinator für Revit",
        ];
        for label in labels {
            assert!(
                de.text.contains(&format!("\n- {label}\n")),
                "{label} in {}",
                de.text
            );
            assert!(
                de.html.contains(&format!("<li>{label}</li>")),
                "{label} in {}",
                de.html
            );
        }
        assert!(!de.text.contains("Web Support") && !de.text.contains("phone support"));
        let en = rendered("permissions-changed.granted", "en");
        for label in [
            "AutoCAD",
            "Web Support",
            "Cloud services: Rendering",
            "Named Caller (phone support)",
            "Software Coordinator of Revit",
        ] {
            assert!(
                en.text.contains(&format!("\n- {label}\n")),
                "{label} in {}",
                en.text
            );
        }
        for (lang, web) in [("fr", "Support Web"), ("ja", "Web サポート")] {
            let r = rendered("permissions-changed.granted", lang);
            assert!(r.text.contains(web), "{lang}: {}", r.text);
        }
    }

    /// R12: a sign-in link in every Permissions Changed; a removed user is told they were
    /// removed, not that they "now have no benefits"; R5: a new SC is told to accept the terms.
    #[test]
    fn r12_permissions_changed_links_sign_in_and_tells_a_removed_user_so() {
        for lang in languages() {
            for name in [
                "permissions-changed.granted",
                "permissions-changed.removed",
                "permissions-changed.expired",
            ] {
                let r = rendered(name, lang);
                assert!(
                    r.text.contains("https://roster.example/sign-in"),
                    "{name} {lang}"
                );
            }
        }
        let removed = rendered("permissions-changed.removed", "en");
        assert!(
            removed
                .subject
                .contains("removed from contract 1234-567890")
        );
        assert!(removed.text.contains("you were removed from contract"));
        assert!(!removed.text.contains("You now have"), "{}", removed.text);
        let granted = rendered("permissions-changed.granted", "en");
        assert!(granted.text.contains("accept the coordinator terms"));
        let de = rendered("permissions-changed.granted", "de");
        assert!(de.text.contains("Koordinatorbedingungen"));
        let plain = rendered("permissions-changed.nothing-left", "en");
        assert!(!plain.text.contains("coordinator terms"));
    }

    /// R9: Get Started names the contract, the company, the role, the User ID, what the person
    /// can use now (or that their admin grants it) and the admin to contact.
    #[test]
    fn r9_get_started_names_role_contract_user_id_access_and_admin() {
        let new = rendered("get-started.new-user", "en");
        for part in [
            "you are now a user on contract 1234-567890 of Smith & Söhne",
            "Your User ID is zoe@smith.example.",
            "You have no product access yet: your administrator, Pat Smith (pat@smith.example), grants it.",
            "Set your password:\nhttps://roster.example/activate?token=ra_REDACTED",
        ] {
            assert!(new.text.contains(part), "{part} in {}", new.text);
        }
        assert!(!new.text.contains("ready"), "{}", new.text);
        let with = rendered("get-started.existing-user-with-access", "en");
        assert!(
            with.text
                .contains("You can use now:\n- AutoCAD\n- Web Support")
        );
        assert!(
            with.text
                .contains("Sign in to Roster:\nhttps://roster.example/sign-in")
        );
        let cm = rendered("get-started.contract-manager", "de");
        assert!(
            cm.text
                .contains("Sie sind jetzt Vertragsmanager im Vertrag 1234-567890")
        );
        let sc = rendered("get-started.coordinator", "en");
        assert!(sc.text.contains("a Software Coordinator"));
        assert!(sc.text.contains("coordinator terms"));
    }

    /// R20: a notice states the real days left and the end date, never its threshold; AUTO
    /// renews (it does not "end"); RESELLER without a reseller reads right.
    #[test]
    fn r20_notices_state_real_days_left_and_fit_the_renewal_kind() {
        for lang in languages() {
            for name in ["renewal-notice.manual", "renewal-notice.reseller"] {
                let r = rendered(name, lang);
                assert!(r.subject.contains("35"), "{name} {lang}: {}", r.subject);
                assert!(!r.subject.contains("45"), "{name} {lang}: {}", r.subject);
                assert!(r.text.contains("2027-01-01"), "{name} {lang}");
            }
        }
        let manual = rendered("renewal-notice.manual", "en");
        assert_eq!(
            manual.subject,
            "Renewal Notice: contract 1234-567890 ends in 35 days"
        );
        let auto = rendered("renewal-notice.auto", "en");
        assert_eq!(
            auto.subject,
            "Renewal Notice: contract 1234-567890 renews on 2027-01-01"
        );
        assert!(!auto.text.contains(" ends "), "{}", auto.text);
        assert!(auto.text.contains("You need not do anything"));
        let reseller = rendered("renewal-notice.reseller", "en");
        assert!(
            reseller
                .text
                .contains("contact your reseller, Channel Partners.")
        );
        let unknown = rendered("renewal-notice.reseller-unknown", "en");
        assert!(
            unknown.subject.ends_with("ends in 1 day"),
            "{}",
            unknown.subject
        );
        assert!(
            unknown
                .text
                .contains("contact the reseller you bought it from."),
            "{}",
            unknown.text
        );
        assert!(!unknown.text.contains("your reseller your reseller"));
    }

    /// R19: Order Processed carries the guide's advice and no sign-in button (Get Started
    /// follows).
    #[test]
    fn r19_order_processed_advises_and_has_no_account_to_sign_in_to_yet() {
        let r = rendered("order-processed.cm", "en");
        assert!(r.text.contains("Do not create an account yourself"));
        assert!(r.text.contains("decides who is the Contract Manager"));
        assert!(!r.html.contains("sign-in"));
    }

    #[test]
    fn r22_contract_expired_says_what_stopped_and_how_to_renew() {
        let r = rendered("contract-expired.manual", "en");
        assert!(
            r.subject
                .starts_with("Contract Expired: contract 1234-567890")
        );
        assert!(r.text.contains("- AutoCAD\n- Revit"));
        assert!(r.text.contains("for 4 members"));
        assert!(r.text.contains("choose Renew"));
        let r = rendered("contract-expired.reseller", "de");
        assert!(r.text.contains("Channel Partners"));
        let expired = named("permissions-changed.expired");
        assert!(matches!(
            expired.email,
            Email::PermissionsChanged {
                reason: PermissionsReason::Expired,
                ..
            }
        ));
        let r = render(&expired.email, &expired.facts, "en").unwrap();
        assert!(r.text.contains("comes back when the contract is renewed"));
    }

    #[test]
    fn r24_unknown_language_falls_back_to_english() {
        let s = named("get-started.existing-user-with-access");
        let r = render(&s.email, &s.facts, "xx").unwrap();
        assert!(r.subject.starts_with("Get Started"));
        let de = render(&s.email, &s.facts, "de").unwrap();
        assert!(de.subject.starts_with("Erste Schritte"));
    }

    #[test]
    fn r24_html_parts_escape_user_supplied_values() {
        let email = Email::PermissionsChanged {
            contract_number: "1234-567890".into(),
            company: "A&B\r\nBcc: evil@x.com".into(),
            first_name: "<script>x</script>".into(),
            benefits: vec![
                Benefit::Product("<b>CAD</b>".into()),
                Benefit::Coordinator("<i>Revit</i>".into()),
            ],
            removed: false,
            reason: PermissionsReason::Change,
        };
        for lang in languages() {
            let r = render(
                &email,
                &samples::facts(Some(RenewalKind::Manual), false),
                lang,
            )
            .unwrap();
            assert!(
                !r.html.contains("<script>") && !r.html.contains("<b>"),
                "{lang}"
            );
            assert!(!r.html.contains("<i>"), "{lang}");
            assert!(r.html.contains("&lt;script&gt;"), "{lang}: {}", r.html);
            assert!(
                r.html.contains("&lt;b&gt;CAD&lt;&#x2f;b&gt;"),
                "{lang}: {}",
                r.html
            );
            assert!(!r.subject.contains('\n') && !r.subject.contains('\r'));
        }
    }
}
