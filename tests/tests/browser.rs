//! In a real browser (Debian's `chromium`, headless, driven over the DevTools protocol by
//! chromiumoxide): a real Get Started email's link leads to a signed-in session, and the
//! emails' HTML is photographed on a phone and a desktop, light and dark; GraphiQL runs a
//! query with nothing but Roster to load from.
//!
//! `scripts/services` installs `chromium` when it is absent. Screenshots go to
//! `target/screenshots/` (or `$ROSTER_SCREENSHOTS`). The browser test runs on SQLite only: the
//! pages are the same on both backends, and `pages.rs` checks them over HTTP on both.

use chromiumoxide::Page;
use chromiumoxide::browser::{Browser, BrowserConfig};
use chromiumoxide::cdp::browser_protocol::emulation::{
    MediaFeature, SetDeviceMetricsOverrideParams,
};
use chromiumoxide::page::ScreenshotParams;
use futures::StreamExt;
use roster_tests::{ADD_USERS, Backend, TestApp};
use serde_json::json;
use std::path::PathBuf;
use std::time::Duration;

const PASSWORD: &str = "correct horse battery";

fn chromium() -> PathBuf {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .expect("chromium is not installed: run scripts/services (it installs it with apt)")
}

fn screenshots() -> PathBuf {
    let dir = std::env::var_os("ROSTER_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Saves a screenshot of `page` (the whole page when `full_page`) as `name` in
/// [`screenshots`].
async fn photograph(page: &Page, name: &str, full_page: bool) {
    let png = page
        .screenshot(ScreenshotParams::builder().full_page(full_page).build())
        .await
        .unwrap();
    std::fs::write(screenshots().join(name), png).unwrap();
}

async fn launch() -> (Browser, tokio::task::JoinHandle<()>, tempfile::TempDir) {
    let profile = tempfile::tempdir().unwrap();
    let config = BrowserConfig::builder()
        .chrome_executable(chromium())
        .no_sandbox()
        .new_headless_mode()
        .user_data_dir(profile.path())
        .window_size(1024, 900)
        .arg("--disable-gpu")
        .arg("--disable-dev-shm-usage")
        // No outside world: every name but the test server's address fails to resolve, so a
        // page that needed a CDN would show it.
        .arg("--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1")
        .launch_timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let (browser, mut handler) = Browser::launch(config).await.expect("chromium starts");
    let events = tokio::spawn(async move { while handler.next().await.is_some() {} });
    (browser, events, profile)
}

/// R9 in a browser: the link of a real Get Started email opens the activation page; typing a
/// password and pressing the button ends signed in (`/account` names the person, from the
/// session cookie); the same link opened again says it was used. Screenshots of each page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r9_a_get_started_link_leads_to_a_signed_in_session_in_chromium() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let c = app
        .contract("WEB-1", "cm@web.example", "BASIC", "MANUAL", &[("ACAD", 3)])
        .await;
    let cm = app.activate("cm@web.example", PASSWORD).await;
    app.data(
        Some(&cm),
        ADD_USERS,
        json!({ "input": { "contractId": c.id, "users": [{ "email": "ann@web.example", "firstName": "Ann", "lastName": "Young" }] } }),
    )
    .await;
    app.drain().await;
    let mail = &app.mails_to("ann@web.example", "get-started").await[0];
    // The link as the email has it ({ROSTER_PUBLIC_URL}/activate?token=...), taken from the
    // HTML part's button, pointed at this test's server.
    let href = mail
        .html
        .split("href=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .replace("&#x2f;", "/");
    assert!(
        href.starts_with("http://roster.test/activate?token="),
        "{href}"
    );
    let link = href.replace("http://roster.test", &app.url);

    let (mut browser, events, _profile) = launch().await;
    let shots = screenshots();
    let page = browser.new_page(link.as_str()).await.unwrap();
    page.wait_for_navigation().await.unwrap();
    let html = page.content().await.unwrap();
    assert!(html.contains("Set your password"), "{html}");
    photograph(&page, "activate.png", true).await;
    page.find_element("#password")
        .await
        .unwrap()
        .click()
        .await
        .unwrap()
        .type_str(PASSWORD)
        .await
        .unwrap();
    page.find_element("button[type=submit]")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let mut signed_in = String::new();
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let url = page.url().await.unwrap().unwrap_or_default();
        if url.ends_with("/account") {
            signed_in = page.content().await.unwrap();
            if signed_in.contains("signed-in") {
                break;
            }
        }
    }
    assert!(
        signed_in.contains("Signed in as Ann Young (ann@web.example)."),
        "not signed in: {signed_in}; at {:?}: {}",
        page.url().await,
        page.content().await.unwrap_or_default()
    );
    photograph(&page, "account.png", false).await;
    // The session the browser holds is a real one.
    let (sessions,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM sessions s JOIN users u ON u.id = s.user_id \
         WHERE u.email = 'ann@web.example' AND s.revoked_at IS NULL",
    )
    .fetch_one(app.store.pool())
    .await
    .unwrap();
    assert_eq!(sessions, 1);

    page.goto(link.as_str()).await.unwrap();
    let again = page.content().await.unwrap();
    assert!(again.contains("already been used"), "{again}");
    photograph(&page, "activate-used.png", false).await;

    // The email itself, as a phone and a desktop show it, light and dark.
    let email_page = browser.new_page("about:blank").await.unwrap();
    email_page.set_content(&mail.html).await.unwrap();
    let permissions = app.mails_to("cm@web.example", "get-started").await[0]
        .html
        .clone();
    for (name, html) in [
        ("get-started", &mail.html),
        ("get-started-cm", &permissions),
    ] {
        email_page.set_content(html).await.unwrap();
        for (device, width, mobile) in [("phone", 390, true), ("desktop", 1024, false)] {
            // A viewport tall enough for the whole email (a full-page screenshot would reset
            // the device's width).
            email_page
                .execute(SetDeviceMetricsOverrideParams::new(
                    width, 1100, 1.0, mobile,
                ))
                .await
                .unwrap();
            for scheme in ["light", "dark"] {
                email_page
                    .emulate_media_features(vec![MediaFeature::new("prefers-color-scheme", scheme)])
                    .await
                    .unwrap();
                let png = email_page
                    .screenshot(ScreenshotParams::builder().build())
                    .await
                    .unwrap();
                assert!(png.len() > 1000);
                std::fs::write(
                    shots.join(format!("email-{name}-{device}-{scheme}.png")),
                    png,
                )
                .unwrap();
            }
            // Nothing wider than the screen: no sideways scrolling on a phone.
            let overflow: bool = email_page
                .evaluate("document.documentElement.scrollWidth > window.innerWidth")
                .await
                .unwrap()
                .into_value()
                .unwrap();
            assert!(!overflow, "{name} is wider than a {device}");
        }
    }
    browser.close().await.unwrap();
    let _ = browser.wait().await;
    events.abort();
    app.stop().await;
}

/// GraphiQL in a browser with no internet: `/graphql` asked for as a page (a browser's
/// `Accept: text/html`) renders GraphiQL from Roster's own assets, and a query typed into it
/// runs against Roster and shows its answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphiql_runs_a_query_in_chromium_without_the_internet() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (mut browser, events, _profile) = launch().await;
    let page = browser
        .new_page(format!("{}/graphql", app.url).as_str())
        .await
        .unwrap();
    page.wait_for_navigation().await.unwrap();
    let mut editor = None;
    for _ in 0..200 {
        if let Ok(found) = page
            .find_element(".graphiql-query-editor .CodeMirror")
            .await
        {
            editor = Some(found);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        editor.is_some(),
        "GraphiQL did not render: {}",
        page.content().await.unwrap_or_default()
    );
    page.evaluate(
        "document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror\
         .setValue('{ __typename }')",
    )
    .await
    .unwrap();
    page.find_element(".graphiql-execute-button")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let mut answer = String::new();
    for _ in 0..200 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        answer = page
            .evaluate("document.querySelector('.graphiql-response')?.innerText ?? ''")
            .await
            .unwrap()
            .into_value()
            .unwrap();
        if answer.contains("__typename") {
            break;
        }
    }
    assert!(
        answer.contains("\"__typename\": \"Query\""),
        "GraphiQL's answer: {answer:?}"
    );
    photograph(&page, "graphiql.png", false).await;
    browser.close().await.unwrap();
    let _ = browser.wait().await;
    events.abort();
    app.stop().await;
}
