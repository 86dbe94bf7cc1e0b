//! Hostile input: GraphQL limits refused before any resolver runs, sign-in throttling, and
//! bounded bodies.

use roster_tests::{Backend, TestApp, both_backends};
use serde_json::json;

async fn graphql_limits_are_enforced_before_resolvers_run(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let staff = app.staff_key.clone();
    // Depth: more than 12 levels.
    let deep = "{ contracts { edges { node { products { effectiveSoftwareCoordinator { email } } members { edges { node { access { contractProducts { id } } } } } } } } }";
    let ok = app.gql(Some(&staff), deep, json!({})).await;
    assert!(ok.get("errors").is_none(), "a 10-level query is fine: {ok}");
    let too_deep = "{ contracts { edges { node { supportCases { edges { node { contract { members { edges { node { access { contractProducts { softwareCoordinator { email } } } } } } } } } } } } } }";
    let r = app.gql(Some(&staff), too_deep, json!({})).await;
    assert!(
        r["errors"][0]["message"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("nested too deep"),
        "{r}"
    );
    assert!(r["data"].is_null());
    // Complexity: aliases count.
    let aliases: String = (0..2100)
        .map(|i| format!("a{i}: viewer {{ isStaff }} "))
        .collect();
    let r = app
        .gql(Some(&staff), &format!("{{ {aliases} }}"), json!({}))
        .await;
    assert!(
        r["errors"][0]["message"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("complex"),
        "{}",
        &r.to_string()[..200]
    );
    // Page size.
    let r = app
        .gql(
            Some(&staff),
            "{ contracts(first: 101) { totalCount } }",
            json!({}),
        )
        .await;
    assert!(
        r["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("first must be between 0 and 100")
    );
    // Body size: 64 KiB.
    let huge = "x".repeat(70 * 1024);
    let resp = reqwest::Client::new()
        .post(format!("{}/graphql", app.url))
        .json(&json!({ "query": format!("{{ viewer {{ isStaff }} }} # {huge}") }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    // Batches are not accepted.
    let resp = reqwest::Client::new()
        .post(format!("{}/graphql", app.url))
        .bearer_auth(&staff)
        .json(
            &json!([{ "query": "{ viewer { isStaff } }" }, { "query": "{ viewer { isStaff } }" }]),
        )
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_client_error(), "{}", resp.status());
    app.stop().await;
}

async fn introspection_and_suggestions_can_be_switched_off(backend: Backend) {
    let app =
        TestApp::spawn_configured(backend, true, |s| s.introspection = Some("false".into())).await;
    let r = app
        .gql(None, "{ __schema { types { name } } }", json!({}))
        .await;
    assert!(
        r["data"]["__schema"].is_null(),
        "introspection answers nothing: {r}"
    );
    let r = app
        .gql(
            Some(&app.staff_key.clone()),
            "{ viewr { isStaff } }",
            json!({}),
        )
        .await;
    assert!(
        !r["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Did you mean"),
        "{r}"
    );
    app.stop().await;
    let open = TestApp::spawn(backend).await;
    let r = open
        .gql(None, "{ __schema { queryType { name } } }", json!({}))
        .await;
    assert_eq!(r["data"]["__schema"]["queryType"]["name"], "Query");
    open.stop().await;
}

async fn sign_in_is_throttled_per_account_even_through_aliases(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let c = app
        .contract("THR-1", "cm@thr.example", "BASIC", "MANUAL", &[("ACAD", 1)])
        .await;
    let _ = c;
    app.activate("cm@thr.example", "correct horse battery")
        .await;
    // Eleven guesses in one request, as aliases.
    let guesses: String = (0..11)
        .map(|i| format!("g{i}: signIn(input: {{email: \"cm@thr.example\", password: \"guess number {i}\"}}) {{ token userErrors {{ code }} }} "))
        .collect();
    let r = app
        .data(None, &format!("mutation {{ {guesses} }}"), json!({}))
        .await;
    let codes: Vec<String> = (0..11)
        .map(|i| {
            r[format!("g{i}")]["userErrors"][0]["code"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        codes.iter().filter(|c| *c == "INVALID_CREDENTIALS").count(),
        10,
        "{codes:?}"
    );
    assert_eq!(codes.last().unwrap(), "TOO_MANY_ATTEMPTS");
    // Now even the right password waits; another account does not.
    let right = app.data(None, "mutation { signIn(input: {email: \"cm@thr.example\", password: \"correct horse battery\"}) { token userErrors { code } } }", json!({})).await;
    assert_eq!(
        right["signIn"]["userErrors"][0]["code"],
        "TOO_MANY_ATTEMPTS"
    );
    assert!(right["signIn"]["token"].is_null());
    let other = app.data(None, "mutation { signIn(input: {email: \"nobody@thr.example\", password: \"whatever it is\"}) { userErrors { code } } }", json!({})).await;
    assert_eq!(
        other["signIn"]["userErrors"][0]["code"],
        "INVALID_CREDENTIALS"
    );
    app.stop().await;
}

both_backends!(
    graphql_limits_are_enforced_before_resolvers_run,
    introspection_and_suggestions_can_be_switched_off,
    sign_in_is_throttled_per_account_even_through_aliases,
);
