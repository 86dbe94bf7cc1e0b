//! The pages the emails' links open (API.md `/activate`, `/sign-in`): they exist (on today's
//! main both links answered 404), speak the person's language, refuse cross-site posts, and say
//! what happened to a used or expired link and what to do.

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use roster_tests::{ADD_USERS, Backend, TestApp, both_backends};
use serde_json::json;

const PASSWORD: &str = "correct horse battery";

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The value a response sets for cookie `name`.
fn set_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            let (kv, _) = v.split_once(';').unwrap_or((v, ""));
            let (k, val) = kv.split_once('=')?;
            (k == name).then(|| val.to_string())
        })
}

/// The value of hidden input `name` in a page.
fn hidden(html: &str, name: &str) -> String {
    let at = html
        .find(&format!("name=\"{name}\" value=\""))
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + name.len()
        + 15;
    html[at..].split('"').next().unwrap().to_string()
}

/// The host:port of the app, as a browser sends it in `Origin`.
fn origin(app: &TestApp) -> String {
    app.url.clone()
}

/// R9: a German user follows their Get Started link: the page is German, the form posts only
/// from this site with its form token, a weak password is refused, the right one signs them in
/// (session cookie, `/account`), and the link then says it was used.
async fn r9_the_activation_link_opens_a_page_that_signs_the_person_in(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let c = app
        .contract(
            "PAGE-1",
            "cm@page.example",
            "BASIC",
            "MANUAL",
            &[("ACAD", 3)],
        )
        .await;
    let cm = app.activate("cm@page.example", PASSWORD).await;
    app.data(
        Some(&cm),
        ADD_USERS,
        json!({ "input": { "contractId": c.id, "users": [{ "email": "hans@page.example", "firstName": "Hans", "lastName": "Huber", "language": "de" }] } }),
    )
    .await;
    app.drain().await;
    let mail = &app.mails_to("hans@page.example", "get-started").await[0];
    let token = mail.activation_token().unwrap();
    let http = client();
    let link = format!("{}/activate?token={token}", app.url);

    let page = http.get(&link).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    for (h, want) in [
        ("x-frame-options", "DENY"),
        ("referrer-policy", "same-origin"),
        ("cache-control", "no-store"),
    ] {
        assert_eq!(page.headers()[h], want);
    }
    let form_cookie = set_cookie(page.headers(), "roster_form").expect("a form cookie");
    let html = page.text().await.unwrap();
    assert!(html.contains("<html lang=\"de\">"), "{html}");
    assert!(html.contains("Passwort festlegen"));
    assert!(html.contains("<label for=\"password\">"));
    let form_token = hidden(&html, "form_token");
    assert_eq!(hidden(&html, "token"), token);
    let post = |cookie: Option<String>, origin: String, form_token: String, password: &str| {
        let mut req = http
            .post(format!("{}/activate", app.url))
            .header("origin", origin)
            .form(&[
                ("token", token.as_str()),
                ("password", password),
                ("form_token", form_token.as_str()),
            ]);
        if let Some(c) = cookie {
            req = req.header("cookie", format!("roster_form={c}"));
        }
        req.send()
    };
    // Cross-site: another origin, or no form cookie (a foreign page cannot read or set it).
    let evil = post(
        Some(form_cookie.clone()),
        "https://evil.example".into(),
        form_token.clone(),
        PASSWORD,
    )
    .await
    .unwrap();
    assert_eq!(evil.status(), StatusCode::FORBIDDEN);
    let no_cookie = post(None, origin(&app), form_token.clone(), PASSWORD)
        .await
        .unwrap();
    assert_eq!(no_cookie.status(), StatusCode::FORBIDDEN);
    assert!(
        no_cookie
            .text()
            .await
            .unwrap()
            .contains("von einer anderen Website")
    );
    let weak = post(
        Some(form_cookie.clone()),
        origin(&app),
        form_token.clone(),
        "short",
    )
    .await
    .unwrap();
    assert_eq!(weak.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(weak.text().await.unwrap().contains("mindestens 10 Zeichen"));

    let ok = post(Some(form_cookie), origin(&app), form_token, PASSWORD)
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::SEE_OTHER);
    assert_eq!(ok.headers()[LOCATION], "/account");
    let session_header = ok
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|v| v.starts_with("roster_session="))
        .unwrap();
    assert!(session_header.contains("HttpOnly") && session_header.contains("SameSite=Strict"));
    let session = set_cookie(ok.headers(), "roster_session").unwrap();
    let account = http
        .get(format!("{}/account", app.url))
        .header("cookie", format!("roster_session={session}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        account.contains("Angemeldet als Hans Huber (hans@page.example)"),
        "{account}"
    );
    // The session is a real one: the API takes it.
    let viewer = app
        .data(Some(&session), "{ viewer { user { email } } }", json!({}))
        .await;
    assert_eq!(viewer["viewer"]["user"]["email"], "hans@page.example");

    let used = http.get(&link).send().await.unwrap();
    assert_eq!(used.status(), StatusCode::GONE);
    let used = used.text().await.unwrap();
    assert!(used.contains("bereits verwendet"), "{used}");
    assert!(used.contains("href=\"/sign-in?lang=de\""));
    app.stop().await;
}

/// R9: an expired link says it expired and what to do; an unknown one says it is not valid.
async fn r9_an_expired_activation_link_says_so_and_what_to_do(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.contract(
        "PAGE-2",
        "cm@page2.example",
        "BASIC",
        "MANUAL",
        &[("ACAD", 1)],
    )
    .await;
    let token = app.mails_to("cm@page2.example", "get-started").await[0]
        .activation_token()
        .unwrap();
    sqlx::query("UPDATE activation_tokens SET expires_at = 1")
        .execute(app.store.pool())
        .await
        .unwrap();
    let http = client();
    let expired = http
        .get(format!("{}/activate?token={token}", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(expired.status(), StatusCode::GONE);
    let text = expired.text().await.unwrap();
    assert!(text.contains("has expired"), "{text}");
    assert!(text.contains("send your Get Started email again"));
    let unknown = http
        .get(format!("{}/activate?token=ra_nonsense", app.url))
        .header("accept-language", "fr-FR,fr;q=0.9")
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let text = unknown.text().await.unwrap();
    assert!(text.contains("<html lang=\"fr\">") && text.contains("est pas valide"));
    app.stop().await;
}

/// The sign-in page (the link in emails for existing User IDs): in the asked language, a wrong
/// password is told without saying which part was wrong, the right one signs in.
async fn r9_the_sign_in_page_signs_an_existing_user_in(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.contract(
        "PAGE-3",
        "cm@page3.example",
        "BASIC",
        "MANUAL",
        &[("ACAD", 1)],
    )
    .await;
    app.activate("cm@page3.example", PASSWORD).await;
    let http = client();
    let page = http
        .get(format!("{}/sign-in?lang=ja", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let cookie = set_cookie(page.headers(), "roster_form").unwrap();
    let html = page.text().await.unwrap();
    assert!(html.contains("<html lang=\"ja\">") && html.contains("サインイン"));
    let form_token = hidden(&html, "form_token");
    let sign_in = |password: &'static str| {
        http.post(format!("{}/sign-in?lang=ja", app.url))
            .header("origin", origin(&app))
            .header("cookie", format!("roster_form={cookie}"))
            .form(&[
                ("email", "cm@page3.example"),
                ("password", password),
                ("form_token", form_token.as_str()),
            ])
            .send()
    };
    let wrong = sign_in("not the password").await.unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(wrong.text().await.unwrap().contains("正しくありません"));
    let ok = sign_in(PASSWORD).await.unwrap();
    assert_eq!(ok.status(), StatusCode::SEE_OTHER);
    assert!(set_cookie(ok.headers(), "roster_session").is_some());
    app.stop().await;
}

both_backends!(
    r9_the_activation_link_opens_a_page_that_signs_the_person_in,
    r9_an_expired_activation_link_says_so_and_what_to_do,
    r9_the_sign_in_page_signs_an_existing_user_in,
);
