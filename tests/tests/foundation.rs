//! The walking skeleton: one order end to end (R2, R3, R19, R21), identity, and the API's
//! conventions, on SQLite and on PostgreSQL + Redis + SMTP.

use roster_tests::{Backend, PROCESS_ORDER, TestApp, both_backends, order_input};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";

async fn order(app: &TestApp, number: &str, purchaser: &str, support: &str) -> Value {
    let data = app
        .staff(
            PROCESS_ORDER,
            json!({ "input": order_input(number, purchaser, support, "MANUAL", json!([
                { "productCode": "ACAD", "productName": "AutoCAD", "seats": 10 },
                { "productCode": "REVIT", "productName": "Revit", "seats": 3 },
            ])) }),
        )
        .await;
    assert_eq!(data["processOrder"]["userErrors"], json!([]), "{data}");
    data["processOrder"]["contract"].clone()
}

const MY_CONTRACTS: &str = "{ viewer { user { email } contracts { totalCount edges { node { number status supportLevel term { startDate endDate billingPeriod } company { name } contractManager { email } namedCallerLimit products { productCode serialNumber productKey seats seatsAssigned effectiveSoftwareCoordinator { email } } } } } } }";

async fn r19_order_flow_end_to_end(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let contract = order(&app, "SO-100", "Pat@Smith.example", "ADVANCED").await;
    assert_eq!(contract["status"], "PROCESSING");
    let number = contract["number"].as_str().unwrap().to_string();
    app.drain().await;

    // R19: Order Processed (a receipt, not ready yet), then Get Started once ACTIVE.
    let processed = app.mails_to("pat@smith.example", "order-processed").await;
    assert_eq!(processed.len(), 1);
    assert_eq!(processed[0].contract.as_deref(), Some(number.as_str()));
    assert!(processed[0].subject.starts_with("Order Processed"));
    assert!(processed[0].text.contains("not ready yet"));
    assert!(processed[0].html.contains("not ready yet"));
    let started = app.mails_to("pat@smith.example", "get-started").await;
    assert_eq!(started.len(), 1);
    assert_eq!(started[0].contract.as_deref(), Some(number.as_str()));
    assert!(
        started[0]
            .text
            .contains("http://roster.test/activate?token=")
    );
    assert!(!started[0].message_id.is_empty());

    // The purchaser follows the link, sets a password, signs in and sees the contract.
    app.activate("pat@smith.example", PASSWORD).await;
    let token = app.sign_in("pat@smith.example", PASSWORD).await;
    let data = app.data(Some(&token), MY_CONTRACTS, json!({})).await;
    let viewer = &data["viewer"];
    assert_eq!(viewer["user"]["email"], "pat@smith.example");
    assert_eq!(viewer["contracts"]["totalCount"], 1);
    let c = &viewer["contracts"]["edges"][0]["node"];
    assert_eq!(c["number"], number.as_str());
    assert_eq!(c["status"], "ACTIVE");
    assert_eq!(c["supportLevel"], "ADVANCED");
    assert_eq!(
        c["term"],
        json!({"startDate": "2026-01-01", "endDate": "2027-01-01", "billingPeriod": "ANNUAL"})
    );
    assert_eq!(c["company"]["name"], "SO-100 Inc.");
    // R2: the purchaser is the Contract Manager.
    assert_eq!(c["contractManager"]["email"], "pat@smith.example");
    // R3: a Named User of every product, holding one seat each; R4: effective SC of each.
    for p in c["products"].as_array().unwrap() {
        assert_eq!(p["seatsAssigned"], 1, "{p}");
        assert!(p["serialNumber"].as_str().is_some_and(|s| !s.is_empty()));
        assert!(p["productKey"].as_str().is_some_and(|s| !s.is_empty()));
        assert_eq!(
            p["effectiveSoftwareCoordinator"]["email"],
            "pat@smith.example"
        );
    }
    // R13: 13 seats in all, so max(2, 1) designated Named Callers.
    assert_eq!(c["namedCallerLimit"], 2);
    app.stop().await;
}

async fn r3_contract_manager_is_named_caller_on_advanced_only(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let adv = order(&app, "SO-ADV", "adv@example.com", "ADVANCED").await;
    let bas = order(&app, "SO-BAS", "bas@example.com", "BASIC").await;
    app.drain().await;
    let roles = |token: String, number: Value| {
        let app = &app;
        async move {
            let data = app
                .data(Some(&token), "query($n: String!) { contract(number: $n) { members { edges { node { roles access { contractProducts { productCode } } } } } } }", json!({ "n": number }))
                .await;
            data["contract"]["members"]["edges"][0]["node"].clone()
        }
    };
    let a = roles(
        app.activate("adv@example.com", PASSWORD).await,
        adv["number"].clone(),
    )
    .await;
    assert_eq!(
        a["roles"],
        json!(["CONTRACT_MANAGER", "USER", "NAMED_CALLER"])
    );
    let b = roles(
        app.activate("bas@example.com", PASSWORD).await,
        bas["number"].clone(),
    )
    .await;
    assert_eq!(b["roles"], json!(["CONTRACT_MANAGER", "USER"]));
    // R3: a Named User of every product, holding one seat each.
    assert_eq!(
        b["access"]["contractProducts"],
        json!([{ "productCode": "ACAD" }, { "productCode": "REVIT" }])
    );
    let (seats,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM product_access")
        .fetch_one(app.store.pool())
        .await
        .unwrap();
    assert_eq!(
        seats, 4,
        "the CM holds one seat of each of the two products, on both contracts"
    );
    app.stop().await;
}

async fn r2_existing_user_id_is_linked_not_duplicated(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    order(&app, "SO-1", "sam@example.com", "BASIC").await;
    app.drain().await;
    app.activate("sam@example.com", PASSWORD).await;
    // Same person, other case, second order: linked to the same User ID.
    order(&app, "SO-2", "SAM@Example.com", "BASIC").await;
    app.drain().await;
    assert_eq!(app.count("users").await, 1);
    let token = app.sign_in("sam@example.com", PASSWORD).await;
    let data = app.data(Some(&token), MY_CONTRACTS, json!({})).await;
    assert_eq!(data["viewer"]["contracts"]["totalCount"], 2);
    // The second Get Started names the User ID instead of a new activation link.
    let started = app.mails_to("sam@example.com", "get-started").await;
    assert_eq!(started.len(), 2);
    let second = started
        .iter()
        .find(|m| m.activation_token().is_none())
        .expect("a sign-in email");
    assert!(second.text.contains("sam@example.com"));
    assert!(second.text.contains("http://roster.test/sign-in"));
    app.stop().await;
}

async fn r19_repeated_order_changes_nothing_and_sends_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let first = order(&app, "SO-7", "rep@example.com", "BASIC").await;
    app.drain().await;
    let before = (
        app.count("contracts").await,
        app.count("emails").await,
        app.count("audit_log").await,
    );
    let again = order(&app, "SO-7", "rep@example.com", "BASIC").await;
    app.drain().await;
    assert_eq!(again["id"], first["id"]);
    assert_eq!(again["number"], first["number"]);
    let after = (
        app.count("contracts").await,
        app.count("emails").await,
        app.count("audit_log").await,
    );
    assert_eq!(before, after);
    assert_eq!(
        app.mails().await.len(),
        2,
        "Order Processed and Get Started, once each"
    );
    app.stop().await;
}

async fn order_number_reused_for_another_purchaser_is_a_conflict(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    order(&app, "SO-8", "one@example.com", "BASIC").await;
    let data = app
        .staff(PROCESS_ORDER, json!({ "input": order_input("SO-8", "two@example.com", "BASIC", "MANUAL", json!([{ "productCode": "ACAD", "productName": "AutoCAD", "seats": 1 }])) }))
        .await;
    assert_eq!(data["processOrder"]["contract"], Value::Null);
    assert_eq!(
        data["processOrder"]["userErrors"][0]["code"],
        "ORDER_CONFLICT"
    );
    assert_eq!(app.count("contracts").await, 1);
    app.stop().await;
}

async fn r2_bad_purchaser_email_is_refused_and_stores_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let data = app
        .staff(PROCESS_ORDER, json!({ "input": order_input("SO-9", "not-an-email", "BASIC", "MANUAL", json!([{ "productCode": "ACAD", "productName": "AutoCAD", "seats": 1 }])) }))
        .await;
    let errors = &data["processOrder"]["userErrors"];
    assert_eq!(errors[0]["code"], "INVALID_EMAIL");
    assert_eq!(errors[0]["field"], json!(["input", "purchaser", "email"]));
    assert_eq!(data["processOrder"]["contract"], Value::Null);
    for table in [
        "contracts",
        "users",
        "companies",
        "emails",
        "outbox",
        "audit_log",
    ] {
        assert_eq!(app.count(table).await, 0, "{table}");
    }
    app.stop().await;
}

async fn invalid_orders_name_each_problem(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut input = order_input(
        "SO 10!",
        "ok@example.com",
        "BASIC",
        "MANUAL",
        json!([
            { "productCode": "ACAD", "productName": "AutoCAD", "seats": 0 },
        ]),
    );
    input["endDate"] = json!("2025-01-01");
    let data = app.staff(PROCESS_ORDER, json!({ "input": input })).await;
    let fields: Vec<Value> = data["processOrder"]["userErrors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].clone())
        .collect();
    assert!(
        fields.contains(&json!(["input", "orderNumber"])),
        "{fields:?}"
    );
    assert!(fields.contains(&json!(["input", "endDate"])), "{fields:?}");
    assert!(
        fields.contains(&json!(["input", "products", "0", "seats"])),
        "{fields:?}"
    );
    assert_eq!(app.count("contracts").await, 0);
    app.stop().await;
}

async fn process_order_requires_a_staff_key(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let vars = json!({ "input": order_input("SO-11", "cm@example.com", "BASIC", "MANUAL", json!([{ "productCode": "ACAD", "productName": "AutoCAD", "seats": 1 }])) });
    let anon = app.gql(None, PROCESS_ORDER, vars.clone()).await;
    assert_eq!(
        anon["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{anon}"
    );
    // A signed-in customer is not staff.
    order(&app, "SO-12", "cust@example.com", "BASIC").await;
    app.drain().await;
    let token = app.activate("cust@example.com", PASSWORD).await;
    let user = app.gql(Some(&token), PROCESS_ORDER, vars).await;
    assert_eq!(
        user["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{user}"
    );
    assert_eq!(app.count("contracts").await, 1);
    // A made-up token is refused outright.
    let bogus = app
        .gql(Some("rs_nonsense"), "{ viewer { isStaff } }", json!({}))
        .await;
    assert_eq!(bogus["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    app.stop().await;
}

async fn r21_membership_is_pending_until_first_sign_in(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    order(&app, "SO-21", "new@example.com", "BASIC").await;
    app.drain().await;
    let status = || async {
        let (s,): (String,) = sqlx::query_as("SELECT status FROM memberships")
            .fetch_one(app.store.pool())
            .await
            .unwrap();
        s
    };
    assert_eq!(status().await, "PENDING");
    app.activate("new@example.com", PASSWORD).await;
    assert_eq!(status().await, "ACTIVE");
    app.stop().await;
}

async fn activation_links_work_once_and_sessions_end_at_sign_out(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    order(&app, "SO-30", "once@example.com", "BASIC").await;
    app.drain().await;
    let mail = app
        .mails_to("once@example.com", "get-started")
        .await
        .remove(0);
    let link = mail.activation_token().unwrap();
    const ACTIVATE: &str = "mutation($t: String!, $p: String!) { activateAccount(input: {token: $t, password: $p}) { token userErrors { code field } } }";
    let weak = app
        .data(None, ACTIVATE, json!({ "t": link, "p": "short" }))
        .await;
    assert_eq!(
        weak["activateAccount"]["userErrors"][0]["code"],
        "WEAK_PASSWORD"
    );
    let ok = app
        .data(None, ACTIVATE, json!({ "t": link, "p": PASSWORD }))
        .await;
    let session = ok["activateAccount"]["token"].as_str().unwrap().to_string();
    let again = app
        .data(
            None,
            ACTIVATE,
            json!({ "t": link, "p": "another password" }),
        )
        .await;
    assert_eq!(
        again["activateAccount"]["userErrors"][0]["code"],
        "INVALID_TOKEN"
    );
    assert_eq!(again["activateAccount"]["token"], Value::Null);

    const SIGN_IN: &str = "mutation($e: String!, $p: String!) { signIn(input: {email: $e, password: $p}) { token userErrors { code } } }";
    let wrong = app
        .data(
            None,
            SIGN_IN,
            json!({ "e": "once@example.com", "p": "wrong password" }),
        )
        .await;
    assert_eq!(
        wrong["signIn"]["userErrors"][0]["code"],
        "INVALID_CREDENTIALS"
    );
    let unknown = app
        .data(
            None,
            SIGN_IN,
            json!({ "e": "nobody@example.com", "p": PASSWORD }),
        )
        .await;
    assert_eq!(
        unknown["signIn"]["userErrors"][0]["code"],
        "INVALID_CREDENTIALS"
    );

    let me = app
        .data(Some(&session), "{ viewer { user { email } } }", json!({}))
        .await;
    assert_eq!(me["viewer"]["user"]["email"], "once@example.com");
    let out = app
        .data(
            Some(&session),
            "mutation { signOut { signedOut } }",
            json!({}),
        )
        .await;
    assert_eq!(out["signOut"]["signedOut"], true);
    let dead = app
        .gql(Some(&session), "{ viewer { user { email } } }", json!({}))
        .await;
    assert_eq!(dead["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");

    // R29: a password change keeps this session and ends the others.
    let a = app.sign_in("once@example.com", PASSWORD).await;
    let b = app.sign_in("once@example.com", PASSWORD).await;
    let changed = app
        .data(Some(&a), "mutation { changePassword(input: {currentPassword: \"correct horse battery\", newPassword: \"a brand new secret\"}) { userErrors { code } } }", json!({}))
        .await;
    assert_eq!(changed["changePassword"]["userErrors"], json!([]));
    assert!(
        app.gql(Some(&a), "{ viewer { isStaff } }", json!({}))
            .await
            .get("errors")
            .is_none()
    );
    let b_after = app.gql(Some(&b), "{ viewer { isStaff } }", json!({})).await;
    assert_eq!(
        b_after["errors"][0]["extensions"]["code"],
        "UNAUTHENTICATED"
    );
    app.sign_in("once@example.com", "a brand new secret").await;
    app.stop().await;
}

async fn contracts_of_other_companies_are_not_found(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mine = order(&app, "SO-40", "mine@example.com", "BASIC").await;
    let theirs = order(&app, "SO-41", "theirs@example.com", "BASIC").await;
    app.drain().await;
    let token = app.activate("mine@example.com", PASSWORD).await;
    let q = "query($n: String!) { contract(number: $n) { number } }";
    let own = app
        .data(Some(&token), q, json!({ "n": mine["number"] }))
        .await;
    assert_eq!(own["contract"]["number"], mine["number"]);
    let other = app
        .data(Some(&token), q, json!({ "n": theirs["number"] }))
        .await;
    assert_eq!(other["contract"], Value::Null);
    let node = app
        .data(
            Some(&token),
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": theirs["id"] }),
        )
        .await;
    assert_eq!(node["node"], Value::Null);
    let list = app
        .data(
            Some(&token),
            "{ contracts { totalCount edges { node { number } } } }",
            json!({}),
        )
        .await;
    assert_eq!(list["contracts"]["totalCount"], 1);
    // Staff see both.
    let all = app.staff("{ contracts { totalCount } }", json!({})).await;
    assert_eq!(all["contracts"]["totalCount"], 2);
    app.stop().await;
}

async fn health_and_readiness_answer(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for path in ["/healthz", "/readyz"] {
        let resp = reqwest::get(format!("{}{path}", app.url)).await.unwrap();
        assert_eq!(resp.status(), 200, "{path}");
    }
    let metrics = reqwest::get(format!("{}/metrics", app.url)).await.unwrap();
    assert_eq!(metrics.status(), 200);
    let text = metrics.text().await.unwrap();
    assert!(
        text.contains("# TYPE roster_graphql_requests_total counter"),
        "{text}"
    );
    assert!(text.contains("roster_jobs_pending "), "{text}");
    let graphiql = reqwest::Client::new()
        .get(format!("{}/graphql", app.url))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(graphiql.status(), 200);
    assert!(graphiql.text().await.unwrap().contains("graphiql"));
    app.stop().await;
}

both_backends!(
    r19_order_flow_end_to_end,
    r3_contract_manager_is_named_caller_on_advanced_only,
    r2_existing_user_id_is_linked_not_duplicated,
    r19_repeated_order_changes_nothing_and_sends_nothing,
    order_number_reused_for_another_purchaser_is_a_conflict,
    r2_bad_purchaser_email_is_refused_and_stores_nothing,
    invalid_orders_name_each_problem,
    process_order_requires_a_staff_key,
    r21_membership_is_pending_until_first_sign_in,
    activation_links_work_once_and_sessions_end_at_sign_out,
    contracts_of_other_companies_are_not_found,
    health_and_readiness_answer,
);

#[test]
fn schema_graphql_equals_roster_schema() {
    let checked_in = include_str!("../../schema.graphql");
    let printed = roster_api::graphql::sdl();
    assert!(
        checked_in.trim_end() == printed.trim_end(),
        "schema.graphql is stale: run `cargo run -- schema > schema.graphql`"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_fails_while_the_queue_does_not_answer() {
    let app = TestApp::spawn_configured(Backend::Postgres, false, |s| {
        s.redis_url = Some("redis://127.0.0.1:1".into());
    })
    .await;
    let live = reqwest::get(format!("{}/healthz", app.url)).await.unwrap();
    assert_eq!(live.status(), 200);
    let ready = reqwest::get(format!("{}/readyz", app.url)).await.unwrap();
    assert_eq!(ready.status(), 503);
    assert!(ready.text().await.unwrap().contains("Redis"));
    app.stop().await;
}
