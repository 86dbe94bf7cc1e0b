//! Email templates: one subject, text and HTML template per kind and language (R24).
//!
//! Templates live in `worker/templates/<lang>/<kind>.{subject,txt,html}` and are embedded at
//! build time. They render one typed [`Email`] and the [`SendFacts`] the worker adds when it
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
    /// The reseller's name, or "your reseller" when none sold the contract.
    pub reseller_name: String,
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
    Ok(Rendered {
        subject,
        text: part("txt")?,
        html: part("html")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use roster_domain::Role;
    use roster_domain::SupportLevel;
    use roster_domain::change::Benefit;
    use roster_domain::email::{OrderedProduct, ProductRef, StartedAs};
    use roster_domain::email_kind::EmailKind;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn every_benefit() -> Vec<Benefit> {
        vec![
            Benefit::Product("AutoCAD".into()),
            Benefit::WebSupport,
            Benefit::CloudService("Rendering".into()),
            Benefit::NamedCaller,
            Benefit::Coordinator("Revit".into()),
        ]
    }

    /// What the worker adds for an email about a contract (`None`: about none).
    fn facts(renewal_kind: Option<RenewalKind>, activation: bool) -> SendFacts {
        SendFacts {
            email: "ann@acme.example".into(),
            sign_in_link: "https://roster.example/sign-in".into(),
            activation_link: activation
                .then(|| "https://roster.example/activate?token=ra_x".to_string()),
            first_name: Some("Ann".into()),
            contract: renewal_kind.map(|renewal_kind| ContractNow {
                contract_number: "1234-567890".into(),
                company: "Acme".into(),
                end_date: day("2027-01-01"),
                renewal_kind,
                reseller_name: "Channel Partners".into(),
                reseller_contact: vec!["renewals@partner.example".into(), "+1 800 555 0100".into()],
            }),
        }
    }

    /// Every kind, each in the shapes it is sent in, with what the worker adds for it.
    fn samples() -> Vec<(Email, SendFacts)> {
        let manual = Some(RenewalKind::Manual);
        let get_started = |contract: bool, products: Vec<ProductRef>| Email::GetStarted {
            contract_number: contract.then(|| "1234-567890".to_string()),
            company: "Acme".into(),
            first_name: "Ann".into(),
            role: if contract {
                StartedAs::Member(Role::ContractManager)
            } else {
                StartedAs::Reseller
            },
            products,
        };
        let permissions = |benefits: Vec<Benefit>, removed: bool| Email::PermissionsChanged {
            contract_number: "1234-567890".into(),
            company: "Acme".into(),
            first_name: "Ann".into(),
            benefits,
            removed,
        };
        let mut out = vec![
            (
                Email::OrderProcessed {
                    contract_number: "1234-567890".into(),
                    order_number: "SO-1".into(),
                    company: "Acme".into(),
                    first_name: "Ann".into(),
                    support_level: SupportLevel::Advanced,
                    start_date: day("2026-01-01"),
                    end_date: day("2027-01-01"),
                    products: vec![
                        OrderedProduct {
                            name: "AutoCAD".into(),
                            code: "ACAD".into(),
                            seats: 1,
                        },
                        OrderedProduct {
                            name: "Revit".into(),
                            code: "REVIT".into(),
                            seats: 5,
                        },
                    ],
                },
                facts(manual, false),
            ),
            (
                get_started(
                    true,
                    vec![ProductRef {
                        name: "AutoCAD".into(),
                        code: "ACAD".into(),
                    }],
                ),
                facts(manual, true),
            ),
            (get_started(true, vec![]), facts(manual, false)),
            (get_started(false, vec![]), facts(None, true)),
            (get_started(false, vec![]), facts(None, false)),
            (permissions(every_benefit(), false), facts(manual, false)),
            (permissions(vec![], true), facts(manual, false)),
        ];
        for kind in RenewalKind::ALL {
            out.push((
                Email::RenewalNotice {
                    days: 30,
                    term_end: day("2027-01-01"),
                },
                facts(Some(*kind), false),
            ));
        }
        out.extend([
            (
                Email::RenewalConfirmation {
                    end_date: day("2028-01-01"),
                    automatic: true,
                },
                facts(manual, false),
            ),
            (
                Email::SupportCaseReceived {
                    case_id: "RC-7KQ2-M9XD".into(),
                    subject: "Licence will not activate".into(),
                    contract_number: "1234-567890".into(),
                    company: "Acme".into(),
                    first_name: "Ann".into(),
                },
                facts(manual, false),
            ),
            (
                Email::NewRelease {
                    product_name: "AutoCAD".into(),
                    version: "2027.1".into(),
                },
                facts(manual, false),
            ),
            (
                Email::ContractManagerChanged {
                    contract_number: "1234-567890".into(),
                    company: "Acme".into(),
                    first_name: "Ann".into(),
                    new_manager_name: "Nia Next".into(),
                    new_manager_email: "nia@acme.example".into(),
                    previous_manager_name: "Pat Smith".into(),
                },
                facts(manual, false),
            ),
            (
                Email::SupportCaseUpdated {
                    case_id: "RC-7KQ2-M9XD".into(),
                    subject: "Licence will not activate".into(),
                    contract_number: "1234-567890".into(),
                    company: "Acme".into(),
                    first_name: "Ann".into(),
                    status: Some(roster_domain::CaseStatus::Resolved),
                    comment: Some("Reinstall the licence server.".into()),
                },
                facts(manual, false),
            ),
            (
                Email::SupportCaseUpdated {
                    case_id: "RC-7KQ2-M9XD".into(),
                    subject: "Licence will not activate".into(),
                    contract_number: "1234-567890".into(),
                    company: "Acme".into(),
                    first_name: "Ann".into(),
                    status: None,
                    comment: Some("Which version?".into()),
                },
                facts(manual, false),
            ),
            (
                Email::ContractManagerChangeRequested {
                    case_id: "RC-7KQ2-M9XD".into(),
                    contract_number: "1234-567890".into(),
                    company: "Acme".into(),
                    first_name: "Ann".into(),
                    proposed_name: "Nia Next".into(),
                    proposed_email: "nia@acme.example".into(),
                    requested_by: "Nia Next".into(),
                },
                facts(manual, false),
            ),
            (
                Email::ResellerAccessGranted {
                    contract_number: "1234-567890".into(),
                    company: "Acme".into(),
                    first_name: "Ann".into(),
                    reseller_name: "Channel Partners".into(),
                },
                facts(Some(RenewalKind::Reseller), false),
            ),
        ]);
        out
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
        }
    }

    /// Strict mode: every variable a template names is in the email or what sending adds, for
    /// every kind, in every shape it is sent in, in every language.
    #[test]
    fn r24_every_kind_renders_in_every_language_without_a_missing_variable() {
        let samples = samples();
        for kind in EmailKind::ALL {
            assert!(
                samples.iter().any(|(e, _)| e.kind() == *kind),
                "no sample of {kind}"
            );
        }
        for lang in languages() {
            for (email, facts) in &samples {
                let r = render(email, facts, lang).unwrap_or_else(|e| {
                    panic!("{} in {lang} does not render: {e:#}", email.kind())
                });
                let what = format!("{} in {lang}", email.kind());
                assert!(!r.subject.is_empty(), "{what}");
                for part in [&r.subject, &r.text, &r.html] {
                    // A `none` is an absent value printed.
                    assert!(!part.contains("none"), "{what}: {part}");
                }
                assert!(r.text.contains("Ann") && r.html.contains("Ann"), "{what}");
                if facts.contract.is_some() {
                    assert!(r.text.contains("1234-567890"), "{what}");
                }
            }
        }
    }

    #[test]
    fn r24_a_missing_variable_is_an_error() {
        // A renewal notice names the contract, which only sending adds.
        let notice = Email::RenewalNotice {
            days: 4,
            term_end: day("2027-01-01"),
        };
        let err = render(&notice, &facts(None, false), "en").unwrap_err();
        assert_eq!(err.kind(), minijinja::ErrorKind::UndefinedError, "{err:#}");
    }

    #[test]
    fn r12_permissions_changed_words_benefits_in_the_recipients_language() {
        let email = samples().swap_remove(5).0;
        assert!(matches!(email, Email::PermissionsChanged { .. }));
        let facts = facts(Some(RenewalKind::Manual), false);
        let de = render(&email, &facts, "de").unwrap();
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
        let en = render(&email, &facts, "en").unwrap();
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
            let r = render(&email, &facts, lang).unwrap();
            assert!(r.text.contains(web), "{lang}: {}", r.text);
        }
    }

    #[test]
    fn r24_unknown_language_falls_back_to_english() {
        let email = samples().swap_remove(2).0;
        let facts = facts(Some(RenewalKind::Manual), false);
        let r = render(&email, &facts, "xx").unwrap();
        assert!(r.subject.starts_with("Get Started"));
        let de = render(&email, &facts, "de").unwrap();
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
        };
        for lang in languages() {
            let r = render(&email, &facts(Some(RenewalKind::Manual), false), lang).unwrap();
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

    #[test]
    fn r34_case_updates_word_the_status_and_quote_the_comment_in_each_language() {
        let email = samples()
            .into_iter()
            .find(|(e, _)| {
                matches!(
                    e,
                    Email::SupportCaseUpdated {
                        status: Some(_),
                        ..
                    }
                )
            })
            .unwrap();
        for (lang, word) in [
            ("en", "resolved"),
            ("de", "gelöst"),
            ("fr", "résolue"),
            ("ja", "解決済み"),
        ] {
            let r = render(&email.0, &email.1, lang).unwrap();
            assert!(r.subject.contains("RC-7KQ2-M9XD"), "{lang}");
            assert!(r.text.contains(word), "{lang}: {}", r.text);
            assert!(r.text.contains("Reinstall the licence server."), "{lang}");
            assert!(!r.text.contains("RESOLVED"), "{lang}");
        }
    }

    #[test]
    fn r37_reseller_renewal_notices_say_how_to_reach_the_reseller() {
        let notice = Email::RenewalNotice {
            days: 30,
            term_end: day("2027-01-01"),
        };
        for lang in languages() {
            let r = render(&notice, &facts(Some(RenewalKind::Reseller), false), lang).unwrap();
            for part in [&r.text, &r.html] {
                assert!(part.contains("Channel Partners"), "{lang}");
                assert!(part.contains("renewals@partner.example"), "{lang}: {part}");
                assert!(part.contains("+1 800 555 0100"), "{lang}");
            }
        }
        let mut bare = facts(Some(RenewalKind::Reseller), false);
        if let Some(c) = bare.contract.as_mut() {
            c.reseller_contact.clear();
        }
        let r = render(&notice, &bare, "en").unwrap();
        assert!(
            r.text.contains("contact your reseller Channel Partners."),
            "{}",
            r.text
        );
    }
}
