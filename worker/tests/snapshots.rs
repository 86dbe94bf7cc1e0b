//! Snapshots of every email kind in every language, as sent (R24): MIME structure, headers,
//! both parts, each kind's main sample (`roster_worker::samples`). The Date header and the
//! MIME boundary vary per message and are redacted.
//! `UPDATE_SNAPSHOTS=1 cargo test -p roster-worker --test snapshots` rewrites them after a
//! deliberate template change; review the diff before committing.

use lettre::message::Mailbox;
use roster_domain::email_kind::EmailKind;
use roster_worker::{mail, samples, templates};
use std::path::PathBuf;

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
fn r24_every_email_kind_in_every_language_matches_its_snapshot() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots");
    let update = std::env::var("UPDATE_SNAPSHOTS").is_ok();
    let from: Mailbox = "Roster <roster@roster.example>".parse().unwrap();
    let mut mismatches = Vec::new();
    for kind in EmailKind::ALL {
        for lang in templates::languages() {
            let sample = samples::main(*kind);
            let rendered = templates::render(&sample.email, &sample.facts, lang).unwrap();
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
