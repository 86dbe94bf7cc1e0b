//! R32 on both backends: an admin corrects a member named with a wrong address, name or
//! language, and only someone who never signed in and whose User ID this contract created.

use roster_tests::{Backend, TestApp, both_backends};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";
const CORRECT: &str = "mutation($input: CorrectMemberInput!) { correctMember(input: $input) { member { user { email firstName language } status } userErrors { code field message } } }";
const ACTIVATE: &str = "mutation($t: String!, $p: String!) { activateAccount(input: {token: $t, password: $p}) { token userErrors { code } } }";

fn code(resp: &Value) -> Value {
    resp["data"]["correctMember"]["userErrors"][0]["code"].clone()
}

/// R32: the corrected address gets a fresh Get Started whose link works, the old link dies;
/// someone who signed in, or whose User ID another contract created, is MEMBER_ALREADY_ACTIVE;
/// an address another User ID holds is refused without saying whose; a plain user may not.
async fn r32_an_admin_corrects_a_member_who_never_signed_in(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let c = app
        .contract("FIX-1", "cm@fix.example", "BASIC", "MANUAL", &[("ACAD", 5)])
        .await;
    app.contract(
        "FIX-2",
        "known@else.example",
        "BASIC",
        "MANUAL",
        &[("ACAD", 1)],
    )
    .await;
    let cm = app.activate("cm@fix.example", PASSWORD).await;
    app.add_users(
        &cm,
        &c,
        &["ann@wrong.example", "known@else.example", "u@fix.example"],
        json!({ "contractProductIds": [c.product("ACAD")] }),
    )
    .await;
    app.drain().await;
    let old = app.mails_to("ann@wrong.example", "get-started").await;
    let old_token = old[0].activation_token().expect("an activation link");
    let ann = app.user_id("ann@wrong.example").await;

    let fix = |user: &str, extra: Value| {
        let mut input = json!({ "contractId": c.id, "userId": user });
        for (k, v) in extra.as_object().unwrap() {
            input[k] = v.clone();
        }
        json!({ "input": input })
    };
    let r = app
        .gql(
            Some(&cm),
            CORRECT,
            fix(
                &ann,
                json!({ "email": "ann@right.example", "firstName": "Anne", "language": "de" }),
            ),
        )
        .await;
    assert_eq!(r["data"]["correctMember"]["userErrors"], json!([]), "{r}");
    let m = &r["data"]["correctMember"]["member"];
    assert_eq!(m["user"]["email"], "ann@right.example");
    assert_eq!(m["user"]["firstName"], "Anne");
    assert_eq!(m["user"]["language"], "de");
    assert_eq!(m["status"], "PENDING");
    app.drain().await;

    // The old link is dead; the new address's works.
    let dead = app
        .data(None, ACTIVATE, json!({ "t": old_token, "p": PASSWORD }))
        .await;
    assert_eq!(
        dead["activateAccount"]["userErrors"][0]["code"],
        "INVALID_TOKEN"
    );
    let fresh = app.mails_to("ann@right.example", "get-started").await;
    assert_eq!(
        fresh.len(),
        1,
        "one fresh Get Started to the corrected address"
    );
    assert!(fresh[0].subject.chars().count() > 0);
    let (audits,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM audit_log WHERE kind = 'member.corrected'")
            .fetch_one(app.store.pool())
            .await
            .unwrap();
    assert_eq!(audits, 1);
    let session = app.activate("ann@right.example", PASSWORD).await;
    assert!(!session.is_empty());

    // Now she signed in: she keeps her own profile.
    let before = app.snapshot().await;
    let r = app
        .gql(
            Some(&cm),
            CORRECT,
            fix(&ann, json!({ "firstName": "Annie" })),
        )
        .await;
    assert_eq!(code(&r), "MEMBER_ALREADY_ACTIVE", "{r}");
    // A User ID another contract created (linked here by email).
    let known = app.user_id("known@else.example").await;
    let r = app
        .gql(
            Some(&cm),
            CORRECT,
            fix(&known, json!({ "email": "k2@fix.example" })),
        )
        .await;
    assert_eq!(code(&r), "MEMBER_ALREADY_ACTIVE", "{r}");
    // An address another User ID holds: refused, and whose it is is not said.
    let u = app.user_id("u@fix.example").await;
    let r = app
        .gql(
            Some(&cm),
            CORRECT,
            fix(&u, json!({ "email": "KNOWN@else.example" })),
        )
        .await;
    assert_eq!(code(&r), "DUPLICATE_ENTRY", "{r}");
    assert!(!r.to_string().contains("FIX-2"));
    // A plain user may not correct anyone.
    let plain = app.session_for("u@fix.example").await;
    let r = app
        .gql(Some(&plain), CORRECT, fix(&u, json!({ "firstName": "Me" })))
        .await;
    assert_eq!(r["errors"][0]["extensions"]["code"], "FORBIDDEN", "{r}");
    assert_eq!(app.snapshot().await, before);
    app.stop().await;
}

const REQUEST: &str = "mutation($input: RequestEmailChangeInput!) { requestEmailChange(input: $input) { requested userErrors { code field message } } }";
const CONFIRM: &str = "mutation($input: ConfirmEmailChangeInput!) { confirmEmailChange(input: $input) { email userErrors { code field } } }";

fn confirm_token(mail: &roster_tests::Mail) -> String {
    let at = mail
        .text
        .find("/confirm-email?token=")
        .expect("a confirmation link")
        + "/confirm-email?token=".len();
    mail.text[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect()
}

/// R32: a signed-in user changes their own address: the password first, a link to the new
/// address, the old address in force until the link is followed (by the page or the
/// mutation), the old address told afterwards; an address another User ID holds is refused
/// without saying whose; a used link is dead.
async fn r32_a_user_changes_their_own_address_by_confirming_a_link(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let c = app
        .contract(
            "MOVE-1",
            "cm@move.example",
            "BASIC",
            "MANUAL",
            &[("ACAD", 5)],
        )
        .await;
    app.contract(
        "MOVE-2",
        "taken@else.example",
        "BASIC",
        "MANUAL",
        &[("ACAD", 1)],
    )
    .await;
    let cm = app.activate("cm@move.example", PASSWORD).await;
    let _ = c;
    let ask = |email: &str, password: &str| json!({ "input": { "newEmail": email, "password": password } });

    let r = app
        .gql(
            Some(&cm),
            REQUEST,
            ask("pat@new.example", "wrong password!"),
        )
        .await;
    assert_eq!(
        r["data"]["requestEmailChange"]["userErrors"][0]["code"], "INVALID_CREDENTIALS",
        "{r}"
    );
    let r = app
        .gql(Some(&cm), REQUEST, ask("TAKEN@else.example", PASSWORD))
        .await;
    let e = &r["data"]["requestEmailChange"]["userErrors"][0];
    assert_eq!(e["code"], "DUPLICATE_ENTRY", "{r}");
    assert!(!e["message"].as_str().unwrap().contains("MOVE-2"));
    let r = app
        .gql(Some(&cm), REQUEST, ask("pat@new.example", PASSWORD))
        .await;
    assert_eq!(r["data"]["requestEmailChange"]["requested"], true, "{r}");
    app.drain().await;

    // Until confirmed, the old address is in force.
    let me = app
        .data(Some(&cm), "{ viewer { user { email } } }", json!({}))
        .await;
    assert_eq!(me["viewer"]["user"]["email"], "cm@move.example");
    app.sign_in("cm@move.example", PASSWORD).await;
    let link = app.mails_to("pat@new.example", "email-change").await;
    assert_eq!(link.len(), 1, "one confirmation to the new address");
    let token = confirm_token(&link[0]);

    // The page confirms it.
    let page = reqwest::get(format!("{}/confirm-email?token={token}", app.url))
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let body = page.text().await.unwrap();
    assert!(body.contains("pat@new.example"), "{body}");
    app.drain().await;
    app.sign_in("pat@new.example", PASSWORD).await;
    let told = app.mails_to("cm@move.example", "email-change").await;
    assert_eq!(told.len(), 1, "the old address is told");
    assert!(told[0].text.contains("pat@new.example"));

    // A used link is dead, by the mutation as by the page.
    let again = app
        .data(None, CONFIRM, json!({ "input": { "token": token } }))
        .await;
    assert_eq!(
        again["confirmEmailChange"]["userErrors"][0]["code"],
        "INVALID_TOKEN"
    );
    let page = reqwest::get(format!("{}/confirm-email?token={token}", app.url))
        .await
        .unwrap();
    assert_eq!(page.status(), 400);

    // The mutation confirms too.
    let r = app
        .gql(Some(&cm), REQUEST, ask("pat@third.example", PASSWORD))
        .await;
    assert_eq!(r["data"]["requestEmailChange"]["requested"], true, "{r}");
    app.drain().await;
    let token = confirm_token(&app.mails_to("pat@third.example", "email-change").await[0]);
    let done = app
        .data(None, CONFIRM, json!({ "input": { "token": token } }))
        .await;
    assert_eq!(
        done["confirmEmailChange"]["email"], "pat@third.example",
        "{done}"
    );
    app.stop().await;
}

both_backends!(
    r32_an_admin_corrects_a_member_who_never_signed_in,
    r32_a_user_changes_their_own_address_by_confirming_a_link,
);
