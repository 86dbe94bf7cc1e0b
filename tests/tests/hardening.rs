//! Hostile input: GraphQL limits refused before any resolver runs, sign-in throttling,
//! bounded bodies, and generated inputs thrown at the mutations.

use proptest::strategy::{Strategy as _, ValueTree as _};
use proptest::test_runner::{Config, TestRunner};
use roster_tests::{ADD_USERS, Backend, TestApp, both_backends};
use serde_json::{Value, json};

async fn graphql_limits_are_enforced_before_resolvers_run(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let staff = app.staff_key.clone();
    // Depth: more than 12 levels.
    let deep = "{ contracts { edges { node { products { effectiveSoftwareCoordinator { email } } members { edges { node { access { contractProducts { id } } } } } } } } }";
    let ok = app.gql(Some(&staff), deep, json!({})).await;
    assert!(ok.get("errors").is_none(), "a 10-level query is fine: {ok}");
    // One item per page, so that depth, not complexity (which counts `first`), refuses it.
    let too_deep = "{ contracts(first: 1) { edges { node { supportCases(first: 1) { edges { node { contract { members(first: 1) { edges { node { access { contractProducts { softwareCoordinator { email } } } } } } } } } } } } } }";
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
    let aliases: String = (0..30)
        .map(|i| format!("a{i}: contracts(first: 100) {{ edges {{ node {{ id number }} }} }} "))
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

/// Generated people (hostile emails, names with line breaks and markup, unknown languages)
/// thrown at `addUsers` and `updateProfile` through the API: every answer is a clean GraphQL
/// answer; a refusal carries a code and changes nothing; what is accepted is stored without
/// control characters.
async fn generated_inputs_to_mutations_are_refused_cleanly_and_change_nothing(backend: Backend) {
    let app = TestApp::spawn_with(backend, false).await;
    let c = app
        .contract_without_worker("GEN-1", "cm@gen.example", &[("ACAD", 10_000)])
        .await;
    let cm = app.session_for("cm@gen.example").await;
    // Each half valid, half hostile, so both outcomes come up.
    let email = "[a-z]{1,8}@[a-z]{1,8}\\.example|\\PC{0,80}|[a-zA-Z0-9._%+\\-\r\n <>@]{0,60}";
    let name = "[A-Z][a-z]{1,10}|\\PC{0,120}|[A-Za-z \r\n\t<>&\"']{0,40}";
    let language = "\\PC{0,12}|en|de|fr|ja";
    let person = (email, name, name, language);
    let mut runner = TestRunner::new(Config::default());
    let (mut refused, mut accepted) = (0, 0);
    for _ in 0..CASES {
        let (email, first, last, language) = person.new_tree(&mut runner).unwrap().current();
        let input =
            json!({ "email": email, "firstName": first, "lastName": last, "language": language });
        let before = app.snapshot().await;
        let resp = app
            .gql(
                Some(&cm),
                ADD_USERS,
                json!({ "input": { "contractId": c.id, "users": [input] } }),
            )
            .await;
        assert!(resp.get("errors").is_none(), "{input}: {resp}");
        let errors = &resp["data"]["addUsers"]["userErrors"];
        if errors.as_array().is_some_and(|e| !e.is_empty()) {
            refused += 1;
            assert!(
                errors
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|e| e["code"].is_string()),
                "{resp}"
            );
            assert_eq!(
                app.snapshot().await,
                before,
                "a refusal changed nothing: {input}"
            );
        } else {
            accepted += 1;
            let stored = &resp["data"]["addUsers"]["members"][0]["user"]["email"];
            assert!(
                stored
                    .as_str()
                    .is_some_and(|s| !s.chars().any(char::is_control)),
                "{input}: {resp}"
            );
        }
        // The same generated values as the signed-in user's own profile.
        let profile = json!({ "firstName": first, "lastName": last, "language": language });
        let resp = app
            .gql(
                Some(&cm),
                "mutation($i: UpdateProfileInput!) { updateProfile(input: $i) { user { firstName lastName language } userErrors { code } } }",
                json!({ "i": profile }),
            )
            .await;
        assert!(resp.get("errors").is_none(), "{profile}: {resp}");
        let payload = &resp["data"]["updateProfile"];
        if payload["userErrors"].as_array().is_none_or(Vec::is_empty) {
            for field in ["firstName", "lastName"] {
                let v: &Value = &payload["user"][field];
                assert!(
                    v.as_str().is_some_and(|s| !s.chars().any(char::is_control)),
                    "{profile}: {resp}"
                );
            }
        }
    }
    eprintln!("{CASES} generated people: addUsers refused {refused}, accepted {accepted}");
    assert!(
        refused > 0 && accepted > 0,
        "the generator reaches both outcomes"
    );
    app.stop().await;
}

/// Generated cases per backend (each is two requests through the API).
const CASES: usize = 300;

both_backends!(
    generated_inputs_to_mutations_are_refused_cleanly_and_change_nothing,
    graphql_limits_are_enforced_before_resolvers_run,
    introspection_and_suggestions_can_be_switched_off,
    sign_in_is_throttled_per_account_even_through_aliases,
);
