//! Sample emails of every kind, in each shape it is sent in, with what sending adds: what the
//! template tests, the snapshot test and `roster emails preview` render. A new kind of
//! [`EmailKind`] must be given a sample here (the match is exhaustive), and then every
//! language's rendering of it is checked and previewed without further work.

use crate::templates::{ContractNow, SendFacts};
use chrono::NaiveDate;
use roster_domain::change::Benefit;
use roster_domain::email::{
    Contact, Email, OrderedProduct, PermissionsReason, ProductRef, StartedAs,
};
use roster_domain::email_kind::EmailKind;
use roster_domain::{RenewalKind, Role, SupportLevel};

fn day(s: &str) -> NaiveDate {
    s.parse().expect("a sample date")
}

/// One sample: a name for files (`get-started.new-user`), the email, and what sending adds.
#[derive(Debug, Clone)]
pub struct Sample {
    pub name: String,
    pub email: Email,
    pub facts: SendFacts,
}

/// What the worker adds for an email about a contract of `renewal_kind` (`None`: about no
/// contract), with an activation link or not.
pub fn facts(renewal_kind: Option<RenewalKind>, activation: bool) -> SendFacts {
    SendFacts {
        email: "zoe@smith.example".into(),
        sign_in_link: "https://roster.example/sign-in".into(),
        activation_link: activation
            .then(|| "https://roster.example/activate?token=ra_REDACTED".to_string()),
        confirm_link: None,
        first_name: Some("Zoë".into()),
        contract: renewal_kind.map(|renewal_kind| ContractNow {
            contract_number: "1234-567890".into(),
            company: "Smith & Söhne".into(),
            end_date: day("2027-01-01"),
            renewal_kind,
            reseller_name: (renewal_kind == RenewalKind::Reseller)
                .then(|| "Channel Partners".to_string()),
            reseller_contact: if renewal_kind == RenewalKind::Reseller {
                vec!["renewals@partner.example".into(), "+1 800 555 0100".into()]
            } else {
                vec![]
            },
        }),
    }
}

fn contract_number() -> String {
    "1234-567890".into()
}
fn company() -> String {
    "Smith & Söhne".into()
}
fn first_name() -> String {
    "Zoë".into()
}

fn sample(name: &str, email: Email, facts: SendFacts) -> Sample {
    Sample {
        name: format!("{}.{name}", email.kind().as_str()),
        email,
        facts,
    }
}

/// The main sample of `kind`: the one the snapshot test keeps for every language.
pub fn main(kind: EmailKind) -> Sample {
    of_kind(kind).swap_remove(0)
}

/// Every sample of `kind`, the main one first.
pub fn of_kind(kind: EmailKind) -> Vec<Sample> {
    let manual = Some(RenewalKind::Manual);
    let permissions = |benefits: Vec<Benefit>, removed, reason| Email::PermissionsChanged {
        contract_number: contract_number(),
        company: company(),
        first_name: first_name(),
        benefits,
        removed,
        reason,
    };
    let get_started =
        |role: Role, benefits: Vec<Benefit>, products: Vec<ProductRef>| Email::GetStarted {
            contract_number: Some(contract_number()),
            company: company(),
            first_name: first_name(),
            role: StartedAs::Member(role),
            products,
            admin: (role != Role::ContractManager).then(|| Contact {
                name: "Pat Smith".into(),
                email: "pat@smith.example".into(),
            }),
            benefits,
        };
    match kind {
        EmailKind::OrderProcessed => vec![
            sample(
                "cm",
                Email::OrderProcessed {
                    contract_number: contract_number(),
                    order_number: "SO-1001".into(),
                    company: company(),
                    first_name: first_name(),
                    support_level: SupportLevel::Advanced,
                    start_date: day("2026-01-01"),
                    end_date: day("2027-01-01"),
                    products: vec![
                        OrderedProduct {
                            name: "AutoCAD".into(),
                            code: "ACAD".into(),
                            seats: 10,
                        },
                        OrderedProduct {
                            name: "Revit".into(),
                            code: "REVIT".into(),
                            seats: 1,
                        },
                    ],
                    add_on: false,
                },
                facts(manual, false),
            ),
            sample(
                "add-on",
                Email::OrderProcessed {
                    contract_number: contract_number(),
                    order_number: "SO-1002".into(),
                    company: company(),
                    first_name: first_name(),
                    support_level: SupportLevel::Advanced,
                    start_date: day("2026-01-01"),
                    end_date: day("2027-01-01"),
                    products: vec![OrderedProduct {
                        name: "Maya".into(),
                        code: "MAYA".into(),
                        seats: 2,
                    }],
                    add_on: true,
                },
                facts(manual, false),
            ),
        ],
        EmailKind::GetStarted => vec![
            sample(
                "new-user",
                get_started(Role::User, vec![], vec![]),
                facts(manual, true),
            ),
            sample(
                "existing-user-with-access",
                get_started(
                    Role::User,
                    vec![Benefit::Product("AutoCAD".into()), Benefit::WebSupport],
                    vec![],
                ),
                facts(manual, false),
            ),
            sample(
                "contract-manager",
                get_started(
                    Role::ContractManager,
                    vec![
                        Benefit::Product("AutoCAD".into()),
                        Benefit::Product("Revit".into()),
                        Benefit::NamedCaller,
                    ],
                    vec![
                        ProductRef {
                            name: "AutoCAD".into(),
                            code: "ACAD".into(),
                        },
                        ProductRef {
                            name: "Revit".into(),
                            code: "REVIT".into(),
                        },
                    ],
                ),
                facts(manual, true),
            ),
            sample(
                "coordinator",
                get_started(
                    Role::SoftwareCoordinator,
                    vec![
                        Benefit::Product("Revit".into()),
                        Benefit::Coordinator("Revit".into()),
                    ],
                    vec![],
                ),
                facts(manual, true),
            ),
            sample(
                "new-contract-manager",
                get_started(Role::ContractManager, vec![], vec![]),
                facts(manual, false),
            ),
            sample(
                "reseller",
                Email::GetStarted {
                    contract_number: None,
                    company: "Channel Partners".into(),
                    first_name: first_name(),
                    role: StartedAs::Reseller,
                    products: vec![],
                    benefits: vec![],
                    admin: None,
                },
                facts(None, true),
            ),
        ],
        EmailKind::PermissionsChanged => vec![
            sample(
                "granted",
                permissions(
                    vec![
                        Benefit::Product("AutoCAD".into()),
                        Benefit::WebSupport,
                        Benefit::CloudService("Rendering".into()),
                        Benefit::NamedCaller,
                        Benefit::Coordinator("Revit".into()),
                    ],
                    false,
                    PermissionsReason::Change,
                ),
                facts(manual, false),
            ),
            sample(
                "nothing-left",
                permissions(vec![], false, PermissionsReason::Change),
                facts(manual, false),
            ),
            sample(
                "removed",
                permissions(vec![], true, PermissionsReason::Change),
                facts(manual, false),
            ),
            sample(
                "expired",
                permissions(
                    vec![Benefit::Product("AutoCAD".into())],
                    false,
                    PermissionsReason::Expired,
                ),
                facts(manual, false),
            ),
            sample(
                "renewed",
                permissions(
                    vec![Benefit::Product("AutoCAD".into())],
                    false,
                    PermissionsReason::Renewed,
                ),
                facts(manual, false),
            ),
        ],
        EmailKind::RenewalNotice => [
            RenewalKind::Reseller,
            RenewalKind::Manual,
            RenewalKind::Auto,
        ]
        .into_iter()
        .map(|kind| {
            sample(
                &kind.as_str().to_lowercase(),
                Email::RenewalNotice {
                    days: 45,
                    term_end: day("2027-01-01"),
                    days_left: Some(35),
                },
                facts(Some(kind), false),
            )
        })
        .chain(std::iter::once({
            let mut f = facts(Some(RenewalKind::Reseller), false);
            if let Some(c) = f.contract.as_mut() {
                c.reseller_name = None;
                c.reseller_contact.clear();
            }
            sample(
                "reseller-unknown",
                Email::RenewalNotice {
                    days: 4,
                    term_end: day("2027-01-01"),
                    days_left: Some(1),
                },
                f,
            )
        }))
        .collect(),
        EmailKind::RenewalConfirmation => vec![sample(
            "by-hand",
            Email::RenewalConfirmation {
                end_date: day("2028-01-01"),
                automatic: false,
            },
            facts(manual, false),
        )],
        EmailKind::SupportCaseReceived => vec![sample(
            "submitter",
            Email::SupportCaseReceived {
                case_id: "RC-7KQ2-M9XD".into(),
                subject: "Licence will not activate".into(),
                contract_number: contract_number(),
                company: company(),
                first_name: first_name(),
            },
            facts(manual, false),
        )],
        EmailKind::NewRelease => vec![sample(
            "coordinator",
            Email::NewRelease {
                product_name: "AutoCAD".into(),
                version: "2027.1".into(),
            },
            facts(manual, false),
        )],
        EmailKind::ContractManagerChanged => vec![sample(
            "both",
            Email::ContractManagerChanged {
                contract_number: contract_number(),
                company: company(),
                first_name: first_name(),
                new_manager_name: "Nia Next".into(),
                new_manager_email: "nia@smith.example".into(),
                previous_manager_name: "Pat Smith".into(),
            },
            facts(manual, false),
        )],
        EmailKind::ContractExpired => [RenewalKind::Manual, RenewalKind::Reseller]
            .into_iter()
            .map(|kind| {
                sample(
                    &kind.as_str().to_lowercase(),
                    Email::ContractExpired {
                        contract_number: contract_number(),
                        company: company(),
                        first_name: first_name(),
                        end_date: day("2027-01-01"),
                        products: vec!["AutoCAD".into(), "Revit".into()],
                        members_affected: 4,
                    },
                    facts(Some(kind), false),
                )
            })
            .collect(),
        EmailKind::SupportCaseUpdated => vec![
            sample(
                "status",
                Email::SupportCaseUpdated {
                    case_id: "RC-7KQ2-M9XD".into(),
                    subject: "Licence will not activate".into(),
                    contract_number: contract_number(),
                    company: company(),
                    first_name: first_name(),
                    status: Some(roster_domain::CaseStatus::Resolved),
                    comment: Some("Reinstall the licence server.".into()),
                },
                facts(manual, false),
            ),
            sample(
                "comment",
                Email::SupportCaseUpdated {
                    case_id: "RC-7KQ2-M9XD".into(),
                    subject: "Licence will not activate".into(),
                    contract_number: contract_number(),
                    company: company(),
                    first_name: first_name(),
                    status: None,
                    comment: Some("Which version?".into()),
                },
                facts(manual, false),
            ),
        ],
        EmailKind::ContractManagerChangeRequested => vec![sample(
            "cm",
            Email::ContractManagerChangeRequested {
                case_id: "RC-7KQ2-M9XD".into(),
                contract_number: contract_number(),
                company: company(),
                first_name: first_name(),
                proposed_name: "Nia Next".into(),
                proposed_email: "nia@smith.example".into(),
                requested_by: "Nia Next".into(),
            },
            facts(manual, false),
        )],
        EmailKind::ResellerAccessGranted => vec![sample(
            "reseller-user",
            Email::ResellerAccessGranted {
                contract_number: contract_number(),
                company: company(),
                first_name: first_name(),
                reseller_name: "Channel Partners".into(),
            },
            facts(Some(RenewalKind::Reseller), false),
        )],
        EmailKind::EmailChange => vec![
            sample(
                "confirm",
                Email::EmailChange {
                    first_name: first_name(),
                    new_email: "zoe.new@smith.example".into(),
                    confirmed: false,
                    change_id: 1,
                },
                SendFacts {
                    confirm_link: Some(
                        "https://roster.example/confirm-email?token=re_REDACTED".into(),
                    ),
                    ..facts(None, false)
                },
            ),
            sample(
                "changed",
                Email::EmailChange {
                    first_name: first_name(),
                    new_email: "zoe.new@smith.example".into(),
                    confirmed: true,
                    change_id: 1,
                },
                facts(None, false),
            ),
        ],
    }
}

/// Every sample of every kind.
pub fn all() -> Vec<Sample> {
    EmailKind::ALL.iter().flat_map(|k| of_kind(*k)).collect()
}

/// Writes every sample in every language under `dir` as `<lang>/<kind>.<shape>.html` and
/// `.eml`, plus an `index.html` linking them all, for an operator or translator to look at
/// (`roster emails preview`). Returns how many emails were written.
pub fn preview(dir: &std::path::Path, from: &lettre::message::Mailbox) -> anyhow::Result<usize> {
    use anyhow::Context as _;
    let mut index = String::from(
        "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>Roster emails</title>\
         <h1>Roster emails</h1>",
    );
    let mut written = 0;
    for lang in crate::templates::languages() {
        let folder = dir.join(lang);
        std::fs::create_dir_all(&folder)
            .with_context(|| format!("creating {}", folder.display()))?;
        index.push_str(&format!("<h2>{lang}</h2><ul>"));
        for s in all() {
            let rendered = crate::templates::render(&s.email, &s.facts, lang)
                .with_context(|| format!("rendering {} in {lang}", s.name))?;
            let subject = rendered.subject.clone();
            std::fs::write(folder.join(format!("{}.html", s.name)), &rendered.html)?;
            let message = crate::mail::build(
                &crate::mail::Envelope {
                    from,
                    to_email: &s.facts.email,
                    to_name: s.facts.first_name.clone(),
                    kind: s.email.kind().as_str(),
                    contract_number: s.email.contract_number().or(s
                        .facts
                        .contract
                        .as_ref()
                        .map(|c| c.contract_number.as_str())),
                    message_id: &format!("<preview-{}-{lang}@roster.example>", s.name),
                },
                rendered,
            )
            .map_err(|e| anyhow::anyhow!("{}: {e}", s.name))?;
            std::fs::write(folder.join(format!("{}.eml", s.name)), message.formatted())?;
            let escaped = subject
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;");
            index.push_str(&format!(
                "<li><a href=\"{lang}/{name}.html\">{name}</a>: {escaped} \
                 (<a href=\"{lang}/{name}.eml\">.eml</a>)</li>",
                name = s.name
            ));
            written += 1;
        }
        index.push_str("</ul>");
    }
    std::fs::write(dir.join("index.html"), index)?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    //! The templates, rendered from every sample (here rather than in `templates`, which the
    //! samples use, so the modules do not import each other).
    use crate::samples::{self, Sample};
    use crate::templates::{Rendered, languages, main_action, render};
    use chrono::NaiveDate;
    use roster_domain::RenewalKind;
    use roster_domain::change::Benefit;
    use roster_domain::email::Email;
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
                    assert!(
                        crate::templates::has_template(&name),
                        "missing template {name}"
                    );
                }
            }
            for ext in ["txt", "html"] {
                assert!(crate::templates::has_template(&format!(
                    "{lang}/_layout.{ext}"
                )));
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
        // A CM named by a Contract Manager change holds no seat yet, and grants access.
        let new_cm = rendered("get-started.new-contract-manager", "en");
        assert!(new_cm.text.contains("As Contract Manager you grant access"));
        assert!(
            !new_cm.text.contains("your administrator"),
            "{}",
            new_cm.text
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
    fn r34_case_updates_word_the_status_and_quote_the_comment_in_each_language() {
        for (lang, word) in [
            ("en", "resolved"),
            ("de", "gelöst"),
            ("fr", "résolue"),
            ("ja", "解決済み"),
        ] {
            let r = rendered("support-case-updated.status", lang);
            assert!(r.subject.contains("RC-7KQ2-M9XD"), "{lang}");
            assert!(r.text.contains(word), "{lang}: {}", r.text);
            assert!(r.text.contains("Reinstall the licence server."), "{lang}");
            assert!(!r.text.contains("RESOLVED"), "{lang}");
        }
    }

    #[test]
    fn r37_reseller_renewal_notices_say_how_to_reach_the_reseller() {
        for lang in languages() {
            let r = rendered("renewal-notice.reseller", lang);
            for part in [&r.text, &r.html] {
                assert!(part.contains("Channel Partners"), "{lang}");
                assert!(part.contains("renewals@partner.example"), "{lang}: {part}");
                assert!(part.contains("+1 800 555 0100"), "{lang}");
            }
        }
        let mut bare = named("renewal-notice.reseller");
        if let Some(c) = bare.facts.contract.as_mut() {
            c.reseller_contact.clear();
        }
        let r = render(&bare.email, &bare.facts, "en").unwrap();
        assert!(
            r.text.contains("contact your reseller, Channel Partners."),
            "{}",
            r.text
        );
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
