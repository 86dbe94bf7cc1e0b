//! Email templates: one subject, text and HTML template per kind and language (R24).
//!
//! Templates live in `worker/templates/<lang>/<kind>.{subject,txt,html}` and are embedded at
//! build time. HTML parts are auto-escaped, so a user-supplied name cannot add markup; a
//! language without a translation falls back to English.

use minijinja::Environment;
use roster_domain::email_kind::EmailKind;
use std::sync::LazyLock;

static SOURCES: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/templates.rs"));

static ENV: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Lenient);
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

/// One rendered email, before addressing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Renders `kind` in `language` (falling back to English) with `params`.
pub fn render(
    kind: EmailKind,
    language: &str,
    params: &serde_json::Value,
) -> Result<Rendered, minijinja::Error> {
    let lang = if ENV
        .get_template(&format!("{language}/{}.subject", kind.as_str()))
        .is_ok()
    {
        language
    } else {
        "en"
    };
    let part = |ext: &str| -> Result<String, minijinja::Error> {
        ENV.get_template(&format!("{lang}/{}.{ext}", kind.as_str()))?
            .render(params)
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
    use serde_json::json;

    #[test]
    fn every_kind_renders_in_english_with_all_parts() {
        for kind in EmailKind::ALL {
            let r = render(
                *kind,
                "en",
                &json!({"firstName": "Ann", "contractNumber": "1234-567890"}),
            )
            .unwrap();
            assert!(!r.subject.is_empty(), "{kind}");
            assert!(r.text.contains("Ann"), "{kind}");
            assert!(r.html.contains("Ann"), "{kind}");
        }
    }

    #[test]
    fn r24_unknown_language_falls_back_to_english() {
        let r = render(EmailKind::GetStarted, "xx", &json!({"firstName": "Ann"})).unwrap();
        assert!(r.subject.starts_with("Get Started"));
        let de = render(EmailKind::GetStarted, "de", &json!({"firstName": "Ann"})).unwrap();
        assert!(de.subject.starts_with("Erste Schritte"));
    }

    #[test]
    fn r24_html_parts_escape_user_supplied_values() {
        let r = render(
            EmailKind::OrderProcessed,
            "en",
            &json!({"firstName": "<script>x</script>", "company": "A&B\r\nBcc: evil@x.com"}),
        )
        .unwrap();
        assert!(!r.html.contains("<script>"));
        assert!(r.html.contains("&lt;script&gt;"));
        assert!(!r.subject.contains('\n') && !r.subject.contains('\r'));
    }
}
