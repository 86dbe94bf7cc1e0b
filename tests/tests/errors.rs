//! How refusals reach a client (API.md, "GraphQL conventions" and "Authentication"): signed in
//! as the wrong kind of actor is FORBIDDEN, not signed in is UNAUTHENTICATED, the bearer scheme
//! is matched in any case, and a top-level error names a real place in the document or none.

use roster_tests::ws::Socket;
use roster_tests::{Backend, TestApp, both_backends};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";

/// The `extensions.code` of the first top-level error.
fn code(resp: &Value) -> &str {
    resp["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("a top-level error with a code: {resp}"))
}

/// Every location of every top-level error is a place in the document: line and column from 1.
fn assert_locations_are_real(resp: &Value) {
    for error in resp["errors"].as_array().expect("errors") {
        let Some(locations) = error.get("locations") else {
            continue;
        };
        let locations = locations.as_array().expect("locations is a list");
        assert!(!locations.is_empty(), "an empty locations list: {resp}");
        for l in locations {
            assert!(
                l["line"].as_u64().unwrap() >= 1 && l["column"].as_u64().unwrap() >= 1,
                "a location outside the document: {resp}"
            );
        }
    }
}

/// Posts `query` with `authorization` as the raw header value.
async fn post_raw(app: &TestApp, authorization: &str, query: &str) -> Value {
    reqwest::Client::new()
        .post(format!("{}/graphql", app.url))
        .header("authorization", authorization)
        .json(&json!({ "query": query }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// A valid staff key calling a mutation only a signed-in user can make is FORBIDDEN (signing
/// in would not change the answer); only a caller with no token is UNAUTHENTICATED.
async fn staff_key_on_a_user_only_mutation_is_forbidden(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let c = app
        .contract(
            "ERR-1",
            "cm@err.example",
            "ADVANCED",
            "MANUAL",
            &[("ACAD", 5)],
        )
        .await;
    let user_only: [(&str, &str, Value); 6] = [
        ("signOut", "mutation { signOut { signedOut } }", json!({})),
        (
            "changePassword",
            "mutation($i: ChangePasswordInput!) { changePassword(input: $i) { userErrors { code } } }",
            json!({ "i": { "currentPassword": "whatever it is", "newPassword": "a new long password" } }),
        ),
        (
            "acceptTerms",
            "mutation { acceptTerms(input: {kind: COORDINATOR}) { userErrors { code } } }",
            json!({}),
        ),
        (
            "updateProfile",
            "mutation { updateProfile(input: {firstName: \"Staff\"}) { userErrors { code } } }",
            json!({}),
        ),
        (
            "createSupportCase",
            "mutation($i: CreateSupportCaseInput!) { createSupportCase(input: $i) { userErrors { code } } }",
            json!({ "i": { "contractId": c.id, "subject": "s", "description": "d" } }),
        ),
        (
            "requestContractManagerChange",
            "mutation($i: RequestContractManagerChangeInput!) { requestContractManagerChange(input: $i) { userErrors { code } } }",
            json!({ "i": { "contractId": c.id, "newManager": { "email": "new@err.example", "firstName": "N", "lastName": "M" } } }),
        ),
    ];
    let staff = app.staff_key.clone();
    for (name, doc, vars) in &user_only {
        let before = app.snapshot().await;
        let resp = app.gql(Some(&staff), doc, vars.clone()).await;
        assert_eq!(code(&resp), "FORBIDDEN", "{name} with a staff key: {resp}");
        assert_eq!(app.snapshot().await, before, "{name} by staff changed rows");
        let resp = app.gql(None, doc, vars.clone()).await;
        assert_eq!(code(&resp), "UNAUTHENTICATED", "{name} anonymously: {resp}");
    }
    // The same mutations still work for the user they are for.
    let cm = app.activate("cm@err.example", PASSWORD).await;
    let ok = app
        .data(
            Some(&cm),
            "mutation { acceptTerms(input: {kind: COORDINATOR}) { userErrors { code } } }",
            json!({}),
        )
        .await;
    assert_eq!(ok["acceptTerms"]["userErrors"], json!([]));
    app.stop().await;
}

/// `Authorization: bearer <token>` in any case of the scheme (RFC 9110, 11.1), over HTTP and
/// in the websocket's connection_init payload.
async fn bearer_scheme_is_case_insensitive(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.contract("ERR-2", "cm@err.example", "BASIC", "MANUAL", &[("ACAD", 5)])
        .await;
    let cm = app.activate("cm@err.example", PASSWORD).await;
    let staff = app.staff_key.clone();
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let resp = post_raw(&app, &format!("{scheme} {staff}"), "{ viewer { isStaff } }").await;
        assert_eq!(
            resp["data"]["viewer"]["isStaff"],
            json!(true),
            "{scheme}: {resp}"
        );
        let resp = post_raw(
            &app,
            &format!("{scheme} {cm}"),
            "{ viewer { isStaff user { email } } }",
        )
        .await;
        assert_eq!(
            resp["data"]["viewer"]["user"]["email"],
            json!("cm@err.example"),
            "{scheme}: {resp}"
        );
    }
    // The token is still checked, and other schemes are still refused.
    for value in [
        "bearer not-a-token".to_string(),
        format!("Basic {staff}"),
        format!("Bearer{staff}"),
    ] {
        let resp = post_raw(&app, &value, "{ viewer { isStaff } }").await;
        assert_eq!(code(&resp), "UNAUTHENTICATED", "{value}: {resp}");
    }
    // The websocket: the same rule for the key `authorization` in connection_init.
    for payload in [
        json!({ "Authorization": format!("bearer {staff}") }),
        json!({ "authorization": format!("BEARER {cm}") }),
    ] {
        let (_socket, ack) = Socket::connect_with(&app.url, payload.clone()).await;
        assert_eq!(
            ack.as_ref().map(|a| a["type"].clone()),
            Some(json!("connection_ack")),
            "{payload}"
        );
    }
    let (_socket, ack) =
        Socket::connect_with(&app.url, json!({ "Authorization": "bearer not-a-token" })).await;
    assert_ne!(
        ack.as_ref().map(|a| a["type"].clone()),
        Some(json!("connection_ack")),
        "a token that is not valid is refused"
    );
    app.stop().await;
}

/// A top-level error carries the place of its field in the document, or no `locations` at
/// all when it concerns the whole request; never line 0, column 0.
async fn top_level_errors_never_carry_line_zero_locations(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let staff = app.staff_key.clone();
    // Refused before the document runs: a token that is not valid, a scheme that is not Bearer.
    for value in ["Bearer not-a-token", "Basic dXNlcjpwYXNz", "Bearer "] {
        let resp = post_raw(&app, value, "{ viewer { isStaff } }").await;
        assert_eq!(code(&resp), "UNAUTHENTICATED", "{value}: {resp}");
        assert!(
            resp["errors"][0].get("locations").is_none(),
            "an error about the whole request names no place: {resp}"
        );
        assert_locations_are_real(&resp);
    }
    // Refused by a resolver: the field's own place.
    let doc = "mutation {\n  signOut { signedOut }\n}";
    let resp = app.gql(Some(&staff), doc, json!({})).await;
    assert_eq!(code(&resp), "FORBIDDEN", "{resp}");
    assert_eq!(
        resp["errors"][0]["locations"],
        json!([{ "line": 2, "column": 3 }]),
        "{resp}"
    );
    let resp = app.gql(None, "{ viewer { isStaff } }", json!({})).await;
    assert_eq!(code(&resp), "UNAUTHENTICATED", "{resp}");
    assert_eq!(
        resp["errors"][0]["locations"],
        json!([{ "line": 1, "column": 3 }]),
        "{resp}"
    );
    // Refused by validation: whatever the library names, it is a real place.
    let resp = app
        .gql(Some(&staff), "{ viewer { noSuchField } }", json!({}))
        .await;
    assert!(resp["errors"].is_array(), "{resp}");
    assert_locations_are_real(&resp);
    app.stop().await;
}

both_backends!(
    staff_key_on_a_user_only_mutation_is_forbidden,
    bearer_scheme_is_case_insensitive,
    top_level_errors_never_carry_line_zero_locations,
);
