//! Snapshots of every email kind in two languages, as sent (R24): MIME structure, headers,
//! both parts. The Date header and the MIME boundary vary per message and are redacted.
//! `UPDATE_SNAPSHOTS=1 cargo test -p roster-worker --test snapshots` rewrites them after a
//! deliberate template change; review the diff before committing.

use chrono::NaiveDate;
use lettre::message::Mailbox;
use roster_domain::change::Benefit;
use roster_domain::email::{Email, OrderedProduct, ProductRef, StartedAs};
use roster_domain::email_kind::EmailKind;
use roster_domain::{RenewalKind, Role, SupportLevel};
use roster_worker::templates::{ContractNow, SendFacts};
use roster_worker::{mail, templates};
use std::path::PathBuf;

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// One email of `kind`, with values that test escaping and non-ASCII text.
fn email(kind: EmailKind) -> Email {
    let contract_number = || "1234-567890".to_string();
    let company = || "Smith & Söhne".to_string();
    let first_name = || "Zoë".to_string();
    match kind {
        EmailKind::OrderProcessed => Email::OrderProcessed {
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
        EmailKind::GetStarted => Email::GetStarted {
            contract_number: Some(contract_number()),
            company: company(),
            first_name: first_name(),
            role: StartedAs::Member(Role::ContractManager),
            products: vec![
                ProductRef {
                    name: "AutoCAD".into(),
                    code: "ACAD".into(),
                },
                ProductRef {
                    name: "Revit".into(),
                    code: "REVIT".into(),
                },
            ],
        },
        EmailKind::PermissionsChanged => Email::PermissionsChanged {
            contract_number: contract_number(),
            company: company(),
            first_name: first_name(),
            benefits: vec![
                Benefit::Product("AutoCAD".into()),
                Benefit::WebSupport,
                Benefit::NamedCaller,
            ],
            removed: false,
        },
        EmailKind::RenewalNotice => Email::RenewalNotice {
            days: 30,
            term_end: day("2027-01-01"),
        },
        EmailKind::RenewalConfirmation => Email::RenewalConfirmation {
            end_date: day("2027-01-01"),
            automatic: false,
        },
        EmailKind::SupportCaseReceived => Email::SupportCaseReceived {
            case_id: "RC-7KQ2-M9XD".into(),
            subject: "Licence will not activate".into(),
            contract_number: contract_number(),
            company: company(),
            first_name: first_name(),
        },
        EmailKind::NewRelease => Email::NewRelease {
            product_name: "AutoCAD".into(),
            version: "2027.1".into(),
        },
        EmailKind::ContractManagerChanged => Email::ContractManagerChanged {
            contract_number: contract_number(),
            company: company(),
            first_name: first_name(),
            new_manager_name: "Nia Next".into(),
            new_manager_email: "nia@smith.example".into(),
            previous_manager_name: "Pat Smith".into(),
        },
        EmailKind::SupportCaseUpdated => Email::SupportCaseUpdated {
            case_id: "RC-7KQ2-M9XD".into(),
            subject: "Licence will not activate".into(),
            contract_number: contract_number(),
            company: company(),
            first_name: first_name(),
            status: Some(roster_domain::CaseStatus::InProgress),
            comment: Some("Please send us the <log> file.\nThanks & regards".into()),
        },
        EmailKind::ContractManagerChangeRequested => Email::ContractManagerChangeRequested {
            case_id: "RC-7KQ2-M9XD".into(),
            contract_number: contract_number(),
            company: company(),
            first_name: first_name(),
            proposed_name: "Nia Next".into(),
            proposed_email: "nia@smith.example".into(),
            requested_by: "Nia Next".into(),
        },
        EmailKind::ResellerAccessGranted => Email::ResellerAccessGranted {
            contract_number: contract_number(),
            company: company(),
            first_name: first_name(),
            reseller_name: "Channel Partners".into(),
        },
    }
}

/// What the worker adds when it sends.
fn facts() -> SendFacts {
    SendFacts {
        email: "zoe@smith.example".into(),
        sign_in_link: "https://roster.example/sign-in".into(),
        activation_link: Some("https://roster.example/activate?token=ra_REDACTED".into()),
        first_name: Some("Zoë".into()),
        contract: Some(ContractNow {
            contract_number: "1234-567890".into(),
            company: "Smith & Söhne".into(),
            end_date: day("2027-01-01"),
            renewal_kind: RenewalKind::Reseller,
            reseller_name: "Channel Partners".into(),
            reseller_contact: vec!["renewals@partner.example".into(), "+1 800 555 0100".into()],
        }),
    }
}

fn redact(raw: &str) -> String {
    let mut out = Vec::new();
    let mut boundary = None;
    for line in raw.lines() {
        if line.starts_with("Date: ") {
            out.push("Date: [redacted]".to_string());
            continue;
        }
        if let Some(b) = line.split("boundary=\"").nth(1) {
            boundary = b.split('"').next().map(str::to_string);
        }
        let line = match &boundary {
            Some(b) => line.replace(b.as_str(), "[boundary]"),
            None => line.to_string(),
        };
        out.push(line);
    }
    out.join("\n")
}

#[test]
fn every_email_kind_in_english_and_german_matches_its_snapshot() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots");
    let update = std::env::var("UPDATE_SNAPSHOTS").is_ok();
    let from: Mailbox = "Roster <roster@roster.example>".parse().unwrap();
    let mut mismatches = Vec::new();
    for kind in EmailKind::ALL {
        for lang in ["en", "de"] {
            let rendered = templates::render(&email(*kind), &facts(), lang).unwrap();
            let message = mail::build(
                &mail::Envelope {
                    from: &from,
                    to_email: "zoe@smith.example",
                    to_name: Some("Zoë O'Brien".into()),
                    kind: kind.as_str(),
                    contract_number: Some("1234-567890"),
                    message_id: "<roster-1-0123456789abcdef@roster.example>",
                },
                rendered,
            )
            .unwrap();
            let text = redact(&String::from_utf8(message.formatted()).unwrap());
            let path = dir.join(format!("{}.{lang}.eml", kind.as_str()));
            if update {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&path, &text).unwrap();
                continue;
            }
            let expected = std::fs::read_to_string(&path)
                .unwrap_or_else(|_| panic!("missing snapshot {}", path.display()));
            if expected != text {
                mismatches.push(path.display().to_string());
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "emails differ from their snapshots: {mismatches:?}"
    );
}
