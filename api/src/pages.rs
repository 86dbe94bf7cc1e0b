//! The pages the links in emails open (API.md, "HTTP"): `/activate` sets a new User ID's
//! password, `/sign-in` signs an existing one in, `/account` shows who is signed in.
//!
//! Small and server-rendered: one form each, labelled fields, errors announced to screen
//! readers, in the person's language (the link's user, else `?lang=` or `Accept-Language`).
//! The forms run the same GraphQL mutations a client would (`activateAccount`, `signIn`), so
//! throttling and password rules are the API's, not a second copy. A successful form sets the
//! session as an HttpOnly, SameSite=Strict cookie.
//!
//! Cross-site form posts are refused twice over: a POST must carry the form token that the
//! page set in a SameSite=Strict cookie (double submit), and a POST whose `Origin` (or
//! `Sec-Fetch-Site`) says it came from another site is refused before anything runs. Every page
//! forbids framing, keeps its URL (which may hold a token) out of other sites' `Referer`, and
//! is not cached.

use crate::state::AppState;
use axum::Form;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use roster_store::auth::{self, ActivationLink};
use serde::Deserialize;
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;

/// The cookie holding the session a page started.
pub const SESSION_COOKIE: &str = "roster_session";
/// The cookie holding the form token of the double submit.
const FORM_COOKIE: &str = "roster_form";

type Shared = State<Arc<AppState>>;

#[derive(Debug, Deserialize, Default)]
pub struct PageQuery {
    token: Option<String>,
    lang: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct ActivateForm {
    token: String,
    password: String,
    #[serde(default)]
    form_token: String,
}

#[derive(Debug, Deserialize)]
pub struct SignInForm {
    email: String,
    password: String,
    #[serde(default)]
    form_token: String,
}

/// `GET /activate?token=...`: the form, or why the link no longer works and what to do.
pub async fn activate_page(
    State(state): Shared,
    Query(q): Query<PageQuery>,
    headers: HeaderMap,
) -> Response {
    let token = q.token.unwrap_or_default();
    let link = match lookup(&state, &token).await {
        Ok(link) => link,
        Err(r) => return r,
    };
    let fallback = language(q.lang.as_deref(), &headers);
    match link {
        ActivationLink::Valid { language, .. } => {
            activate_form(&T::of(&language), &token, None, StatusCode::OK)
        }
        other => dead_link(&other, &fallback),
    }
}

/// `POST /activate`: sets the password, starts a session, and goes to `/account`.
pub async fn activate_submit(
    State(state): Shared,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<ActivateForm>,
) -> Response {
    let link = match lookup(&state, &form.token).await {
        Ok(link) => link,
        Err(r) => return r,
    };
    let lang = match &link {
        ActivationLink::Valid { language, .. } => language.clone(),
        other => return dead_link(other, &language(None, &headers)),
    };
    let t = T::of(&lang);
    if !same_site_form(&headers, &form.form_token) {
        return activate_form(&t, &form.token, Some(t.stale_form), StatusCode::FORBIDDEN);
    }
    let answer = run(
        &state,
        peer,
        "mutation($input: ActivateAccountInput!) { activateAccount(input: $input) { token userErrors { code } } }",
        json!({ "input": { "token": form.token, "password": form.password } }),
    )
    .await;
    let result = &answer["activateAccount"];
    match result["token"].as_str() {
        Some(session) => signed_in(session, &headers),
        None => {
            let code = result["userErrors"][0]["code"].as_str().unwrap_or("");
            if code == "INVALID_TOKEN" {
                // Used meanwhile (another tab): say so, as the link would now.
                let now = lookup(&state, &form.token)
                    .await
                    .unwrap_or(ActivationLink::Unknown);
                return dead_link(&now, &lang);
            }
            activate_form(
                &t,
                &form.token,
                Some(t.error(code)),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
    }
}

/// `GET /sign-in`: the sign-in form.
pub async fn sign_in_page(Query(q): Query<PageQuery>, headers: HeaderMap) -> Response {
    let t = T::of(&language(q.lang.as_deref(), &headers));
    sign_in_form(&t, "", None, StatusCode::OK)
}

/// `POST /sign-in`: signs in, starts a session, and goes to `/account`.
pub async fn sign_in_submit(
    State(state): Shared,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(q): Query<PageQuery>,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Response {
    let t = T::of(&language(q.lang.as_deref(), &headers));
    if !same_site_form(&headers, &form.form_token) {
        return sign_in_form(&t, &form.email, Some(t.stale_form), StatusCode::FORBIDDEN);
    }
    let answer = run(
        &state,
        peer,
        "mutation($input: SignInInput!) { signIn(input: $input) { token userErrors { code } } }",
        json!({ "input": { "email": form.email, "password": form.password } }),
    )
    .await;
    let result = &answer["signIn"];
    match result["token"].as_str() {
        Some(session) => signed_in(session, &headers),
        None => {
            let code = result["userErrors"][0]["code"].as_str().unwrap_or("");
            sign_in_form(
                &t,
                &form.email,
                Some(t.error(code)),
                StatusCode::UNAUTHORIZED,
            )
        }
    }
}

/// `GET /account`: who the session cookie signs in, or the way to sign in.
pub async fn account_page(State(state): Shared, headers: HeaderMap) -> Response {
    let session = cookie(&headers, SESSION_COOKIE);
    let user = match session {
        Some(token) => match auth::session_user(state.shared.store.pool(), &token).await {
            Ok(user) => user,
            Err(e) => {
                tracing::error!(error = %e, "account page: session lookup failed");
                return internal();
            }
        },
        None => None,
    };
    let Some(user) = user else {
        return Redirect::to("/sign-in").into_response();
    };
    let t = T::of(&user.language);
    let body = format!(
        "<p id=\"signed-in\">{}</p><p>{}</p>",
        esc(&t
            .signed_in_as
            .replace("{name}", &format!("{} {}", user.first_name, user.last_name))
            .replace("{email}", &user.email)),
        esc(t.account_next),
    );
    page(&t, t.signed_in_title, &body, StatusCode::OK, None)
}

async fn lookup(state: &AppState, token: &str) -> Result<ActivationLink, Response> {
    if token.is_empty() || token.len() > 128 {
        return Ok(ActivationLink::Unknown);
    }
    auth::activation_link(state.shared.store.pool(), token.trim())
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "activation page: token lookup failed");
            internal()
        })
}

/// Runs one mutation as an anonymous client from `peer`; its `data` (errors are logged).
async fn run(
    state: &AppState,
    peer: SocketAddr,
    query: &str,
    variables: serde_json::Value,
) -> serde_json::Value {
    let mut ctx = crate::graphql::context::Ctx::anonymous(&state.shared);
    ctx.client = Some(peer.ip());
    let request = async_graphql::Request::new(query)
        .variables(async_graphql::Variables::from_json(variables))
        .data(ctx);
    let response = state.schema.execute(request).await;
    for e in &response.errors {
        tracing::warn!(error = %e.message, "page mutation failed");
    }
    response.data.into_json().unwrap_or_default()
}

/// The session starts: a cookie only this site sends, then `/account` (303, so a reload does
/// not post the form again).
fn signed_in(session: &str, headers: &HeaderMap) -> Response {
    let secure = if is_https(headers) { "; Secure" } else { "" };
    let mut r = Redirect::to("/account").into_response();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={session}; Path=/; HttpOnly; SameSite=Strict; Max-Age=2592000{secure}"
    )) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

fn is_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|p| p.eq_ignore_ascii_case("https"))
}

/// A POST from this site's own form: the form token matches its cookie, and the browser does
/// not say the post came from elsewhere.
fn same_site_form(headers: &HeaderMap, form_token: &str) -> bool {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = header("sec-fetch-site")
        && !matches!(site, "same-origin" | "none")
    {
        return false;
    }
    if let (Some(origin), Some(host)) = (header("origin"), header("host")) {
        let origin_host = origin.split_once("://").map_or(origin, |(_, h)| h);
        if origin == "null" || !origin_host.eq_ignore_ascii_case(host) {
            return false;
        }
    }
    match cookie(headers, FORM_COOKIE) {
        Some(expected) => !form_token.is_empty() && constant_time_eq(&expected, form_token),
        None => false,
    }
}

fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// The language of a page without a user: `?lang=`, else the first of `Accept-Language` that
/// Roster speaks, else English.
fn language(asked: Option<&str>, headers: &HeaderMap) -> String {
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    asked
        .into_iter()
        .chain(accept.split(',').map(|l| l.split(';').next().unwrap_or("")))
        .map(|l| l.trim().get(..2).unwrap_or("").to_ascii_lowercase())
        .find(|l| T::SPOKEN.contains(&l.as_str()))
        .unwrap_or_else(|| "en".to_string())
}

fn activate_form(t: &T, token: &str, error: Option<&str>, status: StatusCode) -> Response {
    let form_token = roster_store::secret::generate("rf_");
    let body = format!(
        "<p>{intro}</p>{error}\
         <form method=\"post\" action=\"/activate\">\
         <input type=\"hidden\" name=\"token\" value=\"{token}\">\
         <input type=\"hidden\" name=\"form_token\" value=\"{form_token}\">\
         <label for=\"password\">{label}</label>\
         <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"new-password\" \
         required minlength=\"10\" maxlength=\"256\" aria-describedby=\"password-hint{err_id}\">\
         <p id=\"password-hint\" class=\"hint\">{hint}</p>\
         <button type=\"submit\">{submit}</button></form>",
        intro = esc(t.activate_intro),
        error = error_block(error),
        token = esc(token),
        label = esc(t.password),
        hint = esc(t.password_hint),
        submit = esc(t.activate_submit),
        err_id = if error.is_some() { " form-error" } else { "" },
    );
    page(t, t.activate_title, &body, status, Some(&form_token))
}

fn sign_in_form(t: &T, email: &str, error: Option<&str>, status: StatusCode) -> Response {
    let form_token = roster_store::secret::generate("rf_");
    let body = format!(
        "{error}<form method=\"post\" action=\"/sign-in?lang={lang}\">\
         <input type=\"hidden\" name=\"form_token\" value=\"{form_token}\">\
         <label for=\"email\">{email_label}</label>\
         <input id=\"email\" name=\"email\" type=\"email\" autocomplete=\"username\" required \
         maxlength=\"254\" value=\"{email}\">\
         <label for=\"password\">{password}</label>\
         <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" \
         required maxlength=\"256\">\
         <button type=\"submit\">{submit}</button></form>",
        error = error_block(error),
        lang = t.lang,
        email_label = esc(t.email),
        email = esc(email),
        password = esc(t.password),
        submit = esc(t.sign_in_submit),
    );
    page(t, t.sign_in_title, &body, status, Some(&form_token))
}

/// An activation link that no longer works: what happened and what to do (410 Gone).
fn dead_link(link: &ActivationLink, fallback: &str) -> Response {
    let (lang, message, status) = match link {
        ActivationLink::Used { language } => (language.as_str(), 0, StatusCode::GONE),
        ActivationLink::Expired { language } => (language.as_str(), 1, StatusCode::GONE),
        _ => (fallback, 2, StatusCode::NOT_FOUND),
    };
    let t = T::of(lang);
    let text = [t.link_used, t.link_expired, t.link_unknown][message];
    let body = format!(
        "<div id=\"link-problem\" role=\"alert\"><p>{}</p></div><p>{}</p>\
         <p><a class=\"button\" href=\"/sign-in?lang={}\">{}</a></p>",
        esc(text),
        esc(t.link_what_to_do),
        t.lang,
        esc(t.go_sign_in),
    );
    page(&t, t.link_title, &body, status, None)
}

fn error_block(error: Option<&str>) -> String {
    error.map_or(String::new(), |e| {
        format!(
            "<div id=\"form-error\" class=\"error\" role=\"alert\"><p>{}</p></div>",
            esc(e)
        )
    })
}

fn internal() -> Response {
    (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
}

/// One page: the document around `body`, with the headers every page carries. A page with a
/// form sets the form token's cookie.
fn page(t: &T, title: &str, body: &str, status: StatusCode, form_token: Option<&str>) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"{lang}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"color-scheme\" content=\"light dark\">\
         <title>{title} · Roster</title><style>{STYLE}</style></head>\
         <body><main><p class=\"brand\">Roster</p><h1>{title}</h1>{body}</main></body></html>",
        lang = t.lang,
        title = esc(title),
    );
    let mut r = (status, axum::response::Html(html)).into_response();
    let h = r.headers_mut();
    for (name, value) in [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
        (header::X_FRAME_OPTIONS, "DENY"),
        // Not `no-referrer`: browsers then send `Origin: null` on the page's own form posts,
        // which the cross-site check must refuse. `same-origin` keeps the token-bearing URL
        // from every other site.
        (header::REFERRER_POLICY, "same-origin"),
        (header::CACHE_CONTROL, "no-store"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ] {
        h.insert(name, HeaderValue::from_static(value));
    }
    if let Some(token) = form_token
        && let Ok(v) = HeaderValue::from_str(&format!(
            "{FORM_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age=3600"
        ))
    {
        h.append(header::SET_COOKIE, v);
    }
    r
}

const STYLE: &str = "\
:root{color-scheme:light dark;--fg:#0f172a;--bg:#f1f5f9;--card:#fff;--muted:#475569;--accent:#1d4ed8;--err:#b91c1c}\
@media (prefers-color-scheme:dark){:root{--fg:#e2e8f0;--bg:#0f172a;--card:#1e293b;--muted:#94a3b8;--accent:#93c5fd;--err:#fca5a5}}\
*{box-sizing:border-box}body{margin:0;background:var(--bg);color:var(--fg);font:16px/1.5 -apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif}\
main{max-width:28rem;margin:2rem auto;padding:2rem;background:var(--card);border-radius:8px}\
.brand{margin:0;font-size:.8rem;font-weight:700;letter-spacing:.06em;text-transform:uppercase;color:var(--accent)}\
h1{font-size:1.5rem;margin:.25rem 0 1rem}label{display:block;font-weight:600;margin-top:1rem}\
input{width:100%;padding:.7rem;margin-top:.25rem;font-size:1rem;border:1px solid var(--muted);border-radius:6px;background:var(--card);color:var(--fg)}\
input:focus,button:focus,a:focus{outline:3px solid var(--accent);outline-offset:2px}\
.hint{color:var(--muted);font-size:.9rem;margin:.25rem 0 0}\
button,.button{display:inline-block;margin-top:1.25rem;padding:.75rem 1.5rem;font-size:1rem;font-weight:700;border:0;border-radius:6px;background:#1d4ed8;color:#fff;text-decoration:none;cursor:pointer}\
.error,[role=alert]{border-left:4px solid var(--err);padding:.25rem .75rem;margin:1rem 0}\
@media (max-width:30rem){main{margin:0;border-radius:0;padding:1.25rem}}";

/// Escapes text for HTML content and attribute values.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The pages' words in one language.
struct T {
    lang: &'static str,
    activate_title: &'static str,
    activate_intro: &'static str,
    activate_submit: &'static str,
    password: &'static str,
    password_hint: &'static str,
    sign_in_title: &'static str,
    sign_in_submit: &'static str,
    email: &'static str,
    link_title: &'static str,
    link_used: &'static str,
    link_expired: &'static str,
    link_unknown: &'static str,
    link_what_to_do: &'static str,
    go_sign_in: &'static str,
    signed_in_title: &'static str,
    signed_in_as: &'static str,
    account_next: &'static str,
    bad_credentials: &'static str,
    too_many: &'static str,
    weak_password: &'static str,
    stale_form: &'static str,
    failed: &'static str,
}

impl T {
    const SPOKEN: [&'static str; 4] = ["en", "de", "fr", "ja"];

    fn of(lang: &str) -> T {
        match lang.get(..2).unwrap_or("en") {
            "de" => DE,
            "fr" => FR,
            "ja" => JA,
            _ => EN,
        }
    }

    fn error(&self, code: &str) -> &'static str {
        match code {
            "INVALID_CREDENTIALS" => self.bad_credentials,
            "TOO_MANY_ATTEMPTS" => self.too_many,
            "WEAK_PASSWORD" | "INVALID_INPUT" => self.weak_password,
            _ => self.failed,
        }
    }
}

const EN: T = T {
    lang: "en",
    activate_title: "Set your password",
    activate_intro: "Choose the password for your User ID. You will sign in to Roster with your email address and this password.",
    activate_submit: "Set password and sign in",
    password: "Password",
    password_hint: "At least 10 characters. A few unrelated words make a good one.",
    sign_in_title: "Sign in to Roster",
    sign_in_submit: "Sign in",
    email: "Email address (your User ID)",
    link_title: "This link does not work any more",
    link_used: "This activation link has already been used, or a newer Get Started email replaced it.",
    link_expired: "This activation link has expired: links work for 7 days.",
    link_unknown: "This activation link is not valid. Check that you opened the whole link from the email.",
    link_what_to_do: "If you already set your password, sign in. Otherwise ask your contract's administrator to send your Get Started email again; the new email brings a new link.",
    go_sign_in: "Go to sign in",
    signed_in_title: "You are signed in",
    signed_in_as: "Signed in as {name} ({email}).",
    account_next: "Your administrator grants your access to products; you can close this page.",
    bad_credentials: "The email address or password is not correct.",
    too_many: "Too many attempts. Wait a few minutes and try again.",
    weak_password: "The password needs at least 10 characters (and at most 256 bytes).",
    stale_form: "This form has expired or was sent from another site. Please try again.",
    failed: "Something went wrong. Please try again.",
};

const DE: T = T {
    lang: "de",
    activate_title: "Passwort festlegen",
    activate_intro: "Wählen Sie das Passwort für Ihre User ID. Sie melden sich bei Roster mit Ihrer E-Mail-Adresse und diesem Passwort an.",
    activate_submit: "Passwort festlegen und anmelden",
    password: "Passwort",
    password_hint: "Mindestens 10 Zeichen. Einige unzusammenhängende Wörter ergeben ein gutes Passwort.",
    sign_in_title: "Bei Roster anmelden",
    sign_in_submit: "Anmelden",
    email: "E-Mail-Adresse (Ihre User ID)",
    link_title: "Dieser Link funktioniert nicht mehr",
    link_used: "Dieser Aktivierungslink wurde bereits verwendet oder durch eine neuere „Erste Schritte“-E-Mail ersetzt.",
    link_expired: "Dieser Aktivierungslink ist abgelaufen: Links gelten 7 Tage.",
    link_unknown: "Dieser Aktivierungslink ist ungültig. Prüfen Sie, ob Sie den ganzen Link aus der E-Mail geöffnet haben.",
    link_what_to_do: "Wenn Sie Ihr Passwort schon festgelegt haben, melden Sie sich an. Andernfalls bitten Sie den Administrator Ihres Vertrags, Ihnen die „Erste Schritte“-E-Mail erneut zu senden; sie enthält einen neuen Link.",
    go_sign_in: "Zur Anmeldung",
    signed_in_title: "Sie sind angemeldet",
    signed_in_as: "Angemeldet als {name} ({email}).",
    account_next: "Ihr Administrator erteilt Ihnen den Zugang zu Produkten; Sie können diese Seite schließen.",
    bad_credentials: "E-Mail-Adresse oder Passwort ist nicht korrekt.",
    too_many: "Zu viele Versuche. Warten Sie einige Minuten und versuchen Sie es erneut.",
    weak_password: "Das Passwort braucht mindestens 10 Zeichen (und höchstens 256 Bytes).",
    stale_form: "Dieses Formular ist abgelaufen oder wurde von einer anderen Website gesendet. Bitte versuchen Sie es erneut.",
    failed: "Etwas ist schiefgegangen. Bitte versuchen Sie es erneut.",
};

const FR: T = T {
    lang: "fr",
    activate_title: "Définir votre mot de passe",
    activate_intro: "Choisissez le mot de passe de votre User ID. Vous vous connecterez à Roster avec votre adresse e-mail et ce mot de passe.",
    activate_submit: "Définir le mot de passe et se connecter",
    password: "Mot de passe",
    password_hint: "Au moins 10 caractères. Quelques mots sans rapport en font un bon.",
    sign_in_title: "Se connecter à Roster",
    sign_in_submit: "Se connecter",
    email: "Adresse e-mail (votre User ID)",
    link_title: "Ce lien ne fonctionne plus",
    link_used: "Ce lien d'activation a déjà été utilisé, ou un e-mail « Bien démarrer » plus récent l'a remplacé.",
    link_expired: "Ce lien d'activation a expiré : les liens sont valables 7 jours.",
    link_unknown: "Ce lien d'activation n'est pas valide. Vérifiez que vous avez ouvert le lien complet de l'e-mail.",
    link_what_to_do: "Si vous avez déjà défini votre mot de passe, connectez-vous. Sinon, demandez à l'administrateur de votre contrat de vous renvoyer l'e-mail « Bien démarrer » ; il contient un nouveau lien.",
    go_sign_in: "Aller à la connexion",
    signed_in_title: "Vous êtes connecté",
    signed_in_as: "Connecté en tant que {name} ({email}).",
    account_next: "Votre administrateur vous donne accès aux produits ; vous pouvez fermer cette page.",
    bad_credentials: "L'adresse e-mail ou le mot de passe est incorrect.",
    too_many: "Trop de tentatives. Attendez quelques minutes et réessayez.",
    weak_password: "Le mot de passe doit comporter au moins 10 caractères (et au plus 256 octets).",
    stale_form: "Ce formulaire a expiré ou a été envoyé depuis un autre site. Veuillez réessayer.",
    failed: "Une erreur s'est produite. Veuillez réessayer.",
};

const JA: T = T {
    lang: "ja",
    activate_title: "パスワードを設定",
    activate_intro: "User ID のパスワードを決めてください。Roster にはメールアドレスとこのパスワードでサインインします。",
    activate_submit: "パスワードを設定してサインイン",
    password: "パスワード",
    password_hint: "10 文字以上。関係のない単語をいくつか並べると良いパスワードになります。",
    sign_in_title: "Roster にサインイン",
    sign_in_submit: "サインイン",
    email: "メールアドレス（User ID）",
    link_title: "このリンクは使用できません",
    link_used: "この有効化リンクはすでに使用されたか、新しい「はじめに」メールに置き換えられました。",
    link_expired: "この有効化リンクは期限切れです。リンクの有効期間は 7 日間です。",
    link_unknown: "この有効化リンクは無効です。メールのリンク全体を開いたかご確認ください。",
    link_what_to_do: "すでにパスワードを設定済みの場合はサインインしてください。そうでない場合は、契約の管理者に「はじめに」メールの再送を依頼してください。新しいメールに新しいリンクが記載されています。",
    go_sign_in: "サインインへ",
    signed_in_title: "サインインしました",
    signed_in_as: "{name}（{email}）としてサインインしています。",
    account_next: "製品へのアクセスは管理者が付与します。このページは閉じてかまいません。",
    bad_credentials: "メールアドレスまたはパスワードが正しくありません。",
    too_many: "試行回数が多すぎます。数分待ってからもう一度お試しください。",
    weak_password: "パスワードは 10 文字以上（256 バイト以下）にしてください。",
    stale_form: "このフォームは期限切れか、別のサイトから送信されました。もう一度お試しください。",
    failed: "問題が発生しました。もう一度お試しください。",
};

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn a_cross_site_post_is_refused() {
        let ok = [
            ("host", "roster.example"),
            ("origin", "https://roster.example"),
            ("cookie", "a=b; roster_form=rf_x"),
        ];
        assert!(same_site_form(&headers(&ok), "rf_x"));
        assert!(!same_site_form(&headers(&ok), "rf_y"), "token mismatch");
        assert!(!same_site_form(&headers(&ok), ""), "no token");
        assert!(!same_site_form(&headers(&ok[..2]), "rf_x"), "no cookie");
        let evil = [
            ("host", "roster.example"),
            ("origin", "https://evil.example"),
            ("cookie", "roster_form=rf_x"),
        ];
        assert!(!same_site_form(&headers(&evil), "rf_x"));
        let fetch = [
            ("host", "roster.example"),
            ("sec-fetch-site", "cross-site"),
            ("cookie", "roster_form=rf_x"),
        ];
        assert!(!same_site_form(&headers(&fetch), "rf_x"));
    }

    #[test]
    fn pages_speak_the_asked_or_accepted_language() {
        let h = headers(&[("accept-language", "xx, fr-CH;q=0.9, en;q=0.8")]);
        assert_eq!(language(None, &h), "fr");
        assert_eq!(language(Some("ja"), &h), "ja");
        assert_eq!(language(None, &HeaderMap::new()), "en");
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
