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
        first_name: Some("Zoë".into()),
        contract: renewal_kind.map(|renewal_kind| ContractNow {
            contract_number: "1234-567890".into(),
            company: "Smith & Söhne".into(),
            end_date: day("2027-01-01"),
            renewal_kind,
            reseller_name: (renewal_kind == RenewalKind::Reseller)
                .then(|| "Channel Partners".to_string()),
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
        EmailKind::OrderProcessed => vec![sample(
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
            },
            facts(manual, false),
        )],
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
