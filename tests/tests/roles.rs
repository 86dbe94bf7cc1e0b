//! Roles, seats, access and Named Callers (R1-R14, R21, R25, R28) on both backends.

use roster_tests::{ADD_USERS, Backend, ContractRef, MEMBERS, SET_ACCESS, TestApp, both_backends};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";

const ASSIGN_SC: &str = "mutation($input: AssignSoftwareCoordinatorInput!) { assignSoftwareCoordinator(input: $input) { coordinator { email } contract { products { productCode softwareCoordinator { email } effectiveSoftwareCoordinator { email } seatsAssigned } } userErrors { code field message } } }";
const REMOVE_SC: &str = "mutation($input: RemoveSoftwareCoordinatorInput!) { removeSoftwareCoordinator(input: $input) { contract { products { productCode softwareCoordinator { email } effectiveSoftwareCoordinator { email } } } userErrors { code field message } } }";
const ADD_NC: &str = "mutation($input: NamedCallersInput!) { addNamedCallers(input: $input) { members { user { email } roles } userErrors { code field message } } }";
const REMOVE_NC: &str = "mutation($input: NamedCallersInput!) { removeNamedCallers(input: $input) { members { user { email } roles } userErrors { code field message } } }";
const REMOVE_USER: &str = "mutation($input: RemoveUserInput!) { removeUser(input: $input) { contract { number } userErrors { code field message } } }";
const ACCEPT_SC_TERMS: &str =
    "mutation { acceptTerms(input: {kind: COORDINATOR}) { userErrors { code } } }";
const PRODUCTS: &str = "query($n: String!) { contract(number: $n) { namedCallerLimit products { productCode seats seatsAssigned softwareCoordinator { email } effectiveSoftwareCoordinator { email } } } }";

fn person(email: &str) -> Value {
    json!({ "email": email, "firstName": "First", "lastName": email.split('@').next().unwrap() })
}

async fn members_of(app: &TestApp, token: &str, c: &ContractRef) -> Vec<Value> {
    let data = app
        .data(Some(token), MEMBERS, json!({ "n": c.number, "first": 100 }))
        .await;
    data["contract"]["members"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("no members: {data}"))
        .iter()
        .map(|e| e["node"].clone())
        .collect()
}

fn roles_of(members: &[Value], email: &str) -> Vec<String> {
    members
        .iter()
        .find(|m| m["user"]["email"] == email)
        .unwrap_or_else(|| panic!("{email} is not a member"))["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().to_string())
        .collect()
}

async fn product_row(app: &TestApp, token: &str, c: &ContractRef, code: &str) -> Value {
    let data = app
        .data(Some(token), PRODUCTS, json!({ "n": c.number }))
        .await;
    data["contract"]["products"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["productCode"] == code)
        .unwrap()
        .clone()
}

/// The Smith Architecture example: 10 people, ADVANCED, CM = purchasing agent, SC = IT
/// manager, three users, Named Callers = CM + SC + one user designated by the SC.
async fn smith_architecture_example(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let c = app
        .contract(
            "SMITH-1",
            "agent@smith.example",
            "ADVANCED",
            "MANUAL",
            &[("ACAD", 10)],
        )
        .await;
    let cm = app.activate("agent@smith.example", PASSWORD).await;

    // R6, R5: the CM assigns the IT manager as SC; a new User ID, so Get Started too.
    let data = app
        .data(Some(&cm), ASSIGN_SC, json!({ "input": { "contractId": c.id, "contractProductIds": [c.product("ACAD")], "coordinator": person("it@smith.example") } }))
        .await;
    let payload = &data["assignSoftwareCoordinator"];
    assert_eq!(payload["userErrors"], json!([]), "{data}");
    let acad = &payload["contract"]["products"][0];
    assert_eq!(acad["softwareCoordinator"]["email"], "it@smith.example");
    assert_eq!(
        acad["effectiveSoftwareCoordinator"]["email"],
        "it@smith.example"
    );
    assert_eq!(acad["seatsAssigned"], 2, "R5: the SC takes a free seat");
    app.drain().await;
    assert_eq!(
        app.mails_to("it@smith.example", "get-started").await.len(),
        1
    );
    let changed = app
        .mails_to("it@smith.example", "permissions-changed")
        .await;
    assert_eq!(changed.len(), 1);
    assert!(
        changed[0]
            .text
            .contains("Software Coordinator of ACAD product"),
        "{}",
        changed[0].text
    );

    // R5: admin mutations wait for the coordinator terms; queries work.
    let sc = app.activate("it@smith.example", PASSWORD).await;
    let before = app.snapshot().await;
    let early = app
        .add_users(
            &sc,
            &c,
            &["u1@smith.example"],
            json!({ "contractProductIds": [c.product("ACAD")] }),
        )
        .await;
    assert_eq!(early["userErrors"][0]["code"], "TERMS_NOT_ACCEPTED");
    assert_eq!(app.snapshot().await, before, "a refusal changes nothing");
    assert_eq!(members_of(&app, &sc, &c).await.len(), 2);
    app.data(Some(&sc), ACCEPT_SC_TERMS, json!({})).await;

    // The SC names three users with the product (R9, R11).
    let added = app
        .add_users(
            &sc,
            &c,
            &["u1@smith.example", "u2@smith.example", "u3@smith.example"],
            json!({ "contractProductIds": [c.product("ACAD")] }),
        )
        .await;
    assert_eq!(added["userErrors"], json!([]), "{added}");
    assert_eq!(added["members"].as_array().unwrap().len(), 3);
    for m in added["members"].as_array().unwrap() {
        assert_eq!(m["status"], "PENDING");
        assert_eq!(m["access"]["contractProducts"][0]["productCode"], "ACAD");
    }

    // R13: the SC designates one Named Caller.
    let u1 = app.user_id("u1@smith.example").await;
    let nc = app
        .data(
            Some(&sc),
            ADD_NC,
            json!({ "input": { "contractId": c.id, "userIds": [u1] } }),
        )
        .await;
    assert_eq!(nc["addNamedCallers"]["userErrors"], json!([]), "{nc}");
    app.drain().await;

    let members = members_of(&app, &cm, &c).await;
    assert_eq!(members.len(), 5);
    assert_eq!(
        roles_of(&members, "agent@smith.example"),
        ["CONTRACT_MANAGER", "USER", "NAMED_CALLER"]
    );
    assert_eq!(
        roles_of(&members, "it@smith.example"),
        ["SOFTWARE_COORDINATOR", "USER", "NAMED_CALLER"]
    );
    assert_eq!(
        roles_of(&members, "u1@smith.example"),
        ["USER", "NAMED_CALLER"]
    );
    assert_eq!(roles_of(&members, "u2@smith.example"), ["USER"]);
    let callers = members
        .iter()
        .filter(|m| {
            m["roles"]
                .as_array()
                .unwrap()
                .contains(&json!("NAMED_CALLER"))
        })
        .count();
    assert_eq!(callers, 3, "CM + SC + one designated user");
    let acad = product_row(&app, &cm, &c, "ACAD").await;
    assert_eq!(acad["seatsAssigned"], 5);

    // R9, R12, R14: each user got Get Started, one Permissions Changed for being added with
    // access, and u1 one more for becoming a Named Caller.
    for u in ["u1@smith.example", "u2@smith.example", "u3@smith.example"] {
        assert_eq!(app.mails_to(u, "get-started").await.len(), 1, "{u}");
    }
    assert_eq!(
        app.mails_to("u2@smith.example", "permissions-changed")
            .await
            .len(),
        1
    );
    let u1_changes = app
        .mails_to("u1@smith.example", "permissions-changed")
        .await;
    assert_eq!(u1_changes.len(), 2);
    assert!(u1_changes.iter().any(|m| m.text.contains("Named Caller")));
    app.stop().await;
}

/// The Jones Consulting example: one person, BASIC, one seat. Alex is CM and User, the SC
/// capabilities fall to the CM, and there are no Named Callers.
async fn jones_consulting_example(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let c = app
        .contract(
            "JONES-1",
            "alex@jones.example",
            "BASIC",
            "MANUAL",
            &[("ACAD", 1)],
        )
        .await;
    let alex = app.activate("alex@jones.example", PASSWORD).await;
    let members = members_of(&app, &alex, &c).await;
    assert_eq!(members.len(), 1);
    assert_eq!(
        roles_of(&members, "alex@jones.example"),
        ["CONTRACT_MANAGER", "USER"]
    );
    let acad = product_row(&app, &alex, &c, "ACAD").await;
    assert_eq!(acad["softwareCoordinator"], Value::Null);
    assert_eq!(
        acad["effectiveSoftwareCoordinator"]["email"],
        "alex@jones.example"
    );
    assert_eq!(
        (acad["seats"].as_i64(), acad["seatsAssigned"].as_i64()),
        (Some(1), Some(1))
    );
    let limit = app
        .data(Some(&alex), PRODUCTS, json!({ "n": c.number }))
        .await;
    assert_eq!(limit["contract"]["namedCallerLimit"], 0);

    // R13: no Named Callers on BASIC, not even the CM.
    let me = app.user_id("alex@jones.example").await;
    let before = app.snapshot().await;
    let nc = app
        .data(
            Some(&alex),
            ADD_NC,
            json!({ "input": { "contractId": c.id, "userIds": [me] } }),
        )
        .await;
    assert_eq!(
        nc["addNamedCallers"]["userErrors"][0]["code"],
        "BASIC_SUPPORT_CONTRACT"
    );
    // R11: the only seat is Alex's.
    let full = app
        .add_users(
            &alex,
            &c,
            &["help@jones.example"],
            json!({ "contractProductIds": [c.product("ACAD")] }),
        )
        .await;
    assert_eq!(full["userErrors"][0]["code"], "SEAT_LIMIT_REACHED");
    assert_eq!(
        full["userErrors"][0]["field"],
        json!(["input", "users", "0"])
    );
    assert_eq!(app.snapshot().await, before);
    app.stop().await;
}

/// R11: 20 concurrent grants race for the last free seat; exactly one wins.
async fn r11_seats_never_oversubscribed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let c = app
        .contract(
            "RACE-1",
            "cm@race.example",
            "BASIC",
            "MANUAL",
            &[("ACAD", 2)],
        )
        .await;
    let cm = app.activate("cm@race.example", PASSWORD).await;
    let emails: Vec<String> = (0..20).map(|i| format!("racer{i}@race.example")).collect();
    let refs: Vec<&str> = emails.iter().map(String::as_str).collect();
    let added = app.add_users(&cm, &c, &refs, json!(null)).await;
    assert_eq!(added["userErrors"], json!([]), "{added}");
    let mut ids = Vec::new();
    for e in &emails {
        ids.push(app.user_id(e).await);
    }
    let grants = ids.iter().map(|id| {
        app.gql(Some(&cm), SET_ACCESS, json!({ "input": { "contractId": c.id, "userIds": [id], "grant": { "contractProductIds": [c.product("ACAD")] } } }))
    });
    let results = futures::future::join_all(grants).await;
    let mut won = 0;
    let mut refused = 0;
    for r in &results {
        let errs = &r["data"]["setUserAccess"]["userErrors"];
        if errs == &json!([]) {
            won += 1;
        } else {
            assert_eq!(errs[0]["code"], "SEAT_LIMIT_REACHED", "{r}");
            refused += 1;
        }
    }
    assert_eq!((won, refused), (1, 19));
    let acad = product_row(&app, &cm, &c, "ACAD").await;
    assert_eq!(acad["seatsAssigned"], 2);
    let (held,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM product_access")
        .fetch_one(app.store.pool())
        .await
        .unwrap();
    assert_eq!(held, 2, "the CM's seat and the winner's");
    app.stop().await;
}

/// R10: a bulk request is validated as a whole; every problem names its entry.
async fn r10_bulk_add_is_all_or_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let c = app
        .contract(
            "BULK-1",
            "cm@bulk.example",
            "BASIC",
            "MANUAL",
            &[("ACAD", 3)],
        )
        .await;
    let cm = app.activate("cm@bulk.example", PASSWORD).await;
    let before = app.snapshot().await;

    let resp = app
        .gql(Some(&cm), ADD_USERS, json!({ "input": { "contractId": c.id, "users": [person("ok@bulk.example"), person("not an email"), person("dup@bulk.example"), person("DUP@bulk.example")] } }))
        .await;
    let errs = resp["data"]["addUsers"]["userErrors"]
        .as_array()
        .unwrap()
        .clone();
    // One bad email does not hide the other entries' problems.
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert_eq!(errs[0]["code"], "INVALID_EMAIL");
    assert_eq!(errs[0]["field"], json!(["input", "users", "1", "email"]));
    assert_eq!(errs[1]["code"], "DUPLICATE_ENTRY");
    assert_eq!(errs[1]["field"], json!(["input", "users", "3", "email"]));

    let dup = app
        .add_users(
            &cm,
            &c,
            &["a@bulk.example", "dup@bulk.example", "Dup@Bulk.example"],
            json!(null),
        )
        .await;
    assert_eq!(dup["userErrors"][0]["code"], "DUPLICATE_ENTRY");
    assert_eq!(
        dup["userErrors"][0]["field"],
        json!(["input", "users", "2", "email"])
    );

    let over = app
        .add_users(
            &cm,
            &c,
            &["s1@bulk.example", "s2@bulk.example", "s3@bulk.example"],
            json!({ "contractProductIds": [c.product("ACAD")] }),
        )
        .await;
    let codes: Vec<(Value, Value)> = over["userErrors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["code"].clone(), e["field"].clone()))
        .collect();
    assert_eq!(
        codes,
        vec![(json!("SEAT_LIMIT_REACHED"), json!(["input", "users", "2"]))]
    );

    let many: Vec<String> = (0..51).map(|i| format!("m{i}@bulk.example")).collect();
    let refs: Vec<&str> = many.iter().map(String::as_str).collect();
    let too_many = app.add_users(&cm, &c, &refs, json!(null)).await;
    assert_eq!(too_many["userErrors"][0]["code"], "BULK_LIMIT_EXCEEDED");

    let dry = app
        .gql(Some(&cm), ADD_USERS, json!({ "input": { "contractId": c.id, "users": [person("dry@bulk.example")], "dryRun": true } }))
        .await;
    assert_eq!(dry["data"]["addUsers"]["userErrors"], json!([]));
    assert_eq!(dry["data"]["addUsers"]["dryRun"], true);
    app.drain().await;
    assert_eq!(app.snapshot().await, before, "nothing added, nothing owed");
    assert!(
        app.mails_to("ok@bulk.example", "get-started")
            .await
            .is_empty()
    );

    // Exactly 50 is fine.
    let fifty: Vec<String> = (0..50).map(|i| format!("f{i}@bulk.example")).collect();
    let refs: Vec<&str> = fifty.iter().map(String::as_str).collect();
    let ok = app.add_users(&cm, &c, &refs, json!(null)).await;
    assert_eq!(ok["userErrors"], json!([]));
    assert_eq!(ok["members"].as_array().unwrap().len(), 50);
    app.stop().await;
}

/// R9: naming an email that has a User ID links that person; a new one is created otherwise.
async fn r9_existing_user_ids_are_linked(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let a = app
        .contract(
            "LINK-A",
            "a@link.example",
            "BASIC",
            "MANUAL",
            &[("ACAD", 5)],
        )
        .await;
    let b = app
        .contract(
            "LINK-B",
            "b@link.example",
            "BASIC",
            "MANUAL",
            &[("ACAD", 5)],
        )
        .await;
    let cm_a = app.activate("a@link.example", PASSWORD).await;
    let cm_b = app.activate("b@link.example", PASSWORD).await;
    app.add_users(&cm_a, &a, &["shared@link.example"], json!(null))
        .await;
    app.drain().await;
    app.activate("shared@link.example", PASSWORD).await;
    let users_before = app.count("users").await;
    let added = app
        .add_users(&cm_b, &b, &["Shared@Link.example"], json!(null))
        .await;
    assert_eq!(added["userErrors"], json!([]));
    assert_eq!(app.count("users").await, users_before);
    app.drain().await;
    let started = app.mails_to("shared@link.example", "get-started").await;
    assert_eq!(started.len(), 2);
    assert!(
        started[1].activation_token().is_none(),
        "an existing User ID gets a sign-in link"
    );
    assert!(started[1].text.contains("shared@link.example"));
    // R9: named users hold no product access until granted.
    let members = members_of(&app, &cm_b, &b).await;
    let shared = members
        .iter()
        .find(|m| m["user"]["email"] == "shared@link.example")
        .unwrap();
    assert_eq!(shared["access"]["contractProducts"], json!([]));
    app.stop().await;
}

/// R12: one Permissions Changed email per request that changed a user, listing what they have;
/// a request that changes nothing sends nothing.
async fn r12_one_permissions_changed_email_per_request(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let c = app
        .contract(
            "PERM-1",
            "cm@perm.example",
            "ADVANCED",
            "MANUAL",
            &[("ACAD", 5), ("REVIT", 5)],
        )
        .await;
    let cm = app.activate("cm@perm.example", PASSWORD).await;
    app.add_users(&cm, &c, &["u@perm.example"], json!(null))
        .await;
    let u = app.user_id("u@perm.example").await;
    let grant = json!({ "input": { "contractId": c.id, "userIds": [u], "grant": { "contractProductIds": [c.product("ACAD"), c.product("REVIT")], "webSupport": true, "cloudServices": ["Rendering"] } } });
    let r = app.data(Some(&cm), SET_ACCESS, grant.clone()).await;
    assert_eq!(r["setUserAccess"]["userErrors"], json!([]), "{r}");
    app.drain().await;
    let mails = app.mails_to("u@perm.example", "permissions-changed").await;
    assert_eq!(mails.len(), 1);
    for benefit in ["ACAD product", "REVIT product", "Web Support", "Rendering"] {
        assert!(
            mails[0].text.contains(benefit),
            "{benefit} in {}",
            mails[0].text
        );
        assert!(mails[0].html.contains(benefit));
    }
    // The same grant again changes nothing and sends nothing.
    app.data(Some(&cm), SET_ACCESS, grant).await;
    app.drain().await;
    assert_eq!(
        app.mails_to("u@perm.example", "permissions-changed")
            .await
            .len(),
        1
    );
    // Revoking frees the seat (R11) and tells the user once.
    let revoke = app
        .data(Some(&cm), SET_ACCESS, json!({ "input": { "contractId": c.id, "userIds": [u], "revoke": { "contractProductIds": [c.product("ACAD")], "webSupport": true } } }))
        .await;
    assert_eq!(
        revoke["setUserAccess"]["members"][0]["access"],
        json!({ "contractProducts": [{ "productCode": "REVIT" }], "webSupport": false, "cloudServices": ["Rendering"] })
    );
    app.drain().await;
    assert_eq!(
        app.mails_to("u@perm.example", "permissions-changed")
            .await
            .len(),
        2
    );
    assert_eq!(product_row(&app, &cm, &c, "ACAD").await["seatsAssigned"], 1);
    app.stop().await;
}

/// R7: an SC manages users only on the products they coordinate; contract-wide settings are
/// open to any SC. R6: only the CM assigns coordinators.
async fn r7_coordinators_are_limited_to_their_products(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let c = app
        .contract(
            "SCOPE-1",
            "cm@scope.example",
            "ADVANCED",
            "MANUAL",
            &[("ACAD", 5), ("REVIT", 5)],
        )
        .await;
    let cm = app.activate("cm@scope.example", PASSWORD).await;
    app.data(Some(&cm), ASSIGN_SC, json!({ "input": { "contractId": c.id, "contractProductIds": [c.product("ACAD")], "coordinator": person("sc@scope.example") } })).await;
    app.add_users(&cm, &c, &["u@scope.example"], json!(null))
        .await;
    app.drain().await;
    let sc = app.activate("sc@scope.example", PASSWORD).await;
    app.data(Some(&sc), ACCEPT_SC_TERMS, json!({})).await;
    let u = app.user_id("u@scope.example").await;

    let before = app.snapshot().await;
    let other = app
        .gql(Some(&sc), SET_ACCESS, json!({ "input": { "contractId": c.id, "userIds": [u], "grant": { "contractProductIds": [c.product("REVIT")] } } }))
        .await;
    assert_eq!(
        other["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{other}"
    );
    let assign = app
        .gql(Some(&sc), ASSIGN_SC, json!({ "input": { "contractId": c.id, "contractProductIds": [c.product("REVIT")], "coordinator": person("x@scope.example") } }))
        .await;
    assert_eq!(assign["errors"][0]["extensions"]["code"], "FORBIDDEN");
    assert_eq!(app.snapshot().await, before);

    let own = app
        .data(Some(&sc), SET_ACCESS, json!({ "input": { "contractId": c.id, "userIds": [u], "grant": { "contractProductIds": [c.product("ACAD")], "webSupport": true } } }))
        .await;
    assert_eq!(own["setUserAccess"]["userErrors"], json!([]));
    assert_eq!(
        own["setUserAccess"]["members"][0]["access"]["webSupport"],
        true
    );

    // R4: removing the SC falls back to the CM.
    let removed = app
        .data(
            Some(&cm),
            REMOVE_SC,
            json!({ "input": { "contractId": c.id, "contractProductIds": [c.product("ACAD")] } }),
        )
        .await;
    let acad = &removed["removeSoftwareCoordinator"]["contract"]["products"][0];
    assert_eq!(acad["softwareCoordinator"], Value::Null);
    assert_eq!(
        acad["effectiveSoftwareCoordinator"]["email"],
        "cm@scope.example"
    );
    app.stop().await;
}

/// R5 (decision): an SC is assigned even when no seat is free, and then holds none.
async fn r5_coordinator_is_assigned_without_a_free_seat(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let c = app
        .contract(
            "FULL-1",
            "cm@full.example",
            "BASIC",
            "MANUAL",
            &[("ACAD", 1)],
        )
        .await;
    let cm = app.activate("cm@full.example", PASSWORD).await;
    let data = app.data(Some(&cm), ASSIGN_SC, json!({ "input": { "contractId": c.id, "contractProductIds": [c.product("ACAD")], "coordinator": person("sc@full.example") } })).await;
    let p = &data["assignSoftwareCoordinator"];
    assert_eq!(p["userErrors"], json!([]));
    assert_eq!(
        p["contract"]["products"][0]["softwareCoordinator"]["email"],
        "sc@full.example"
    );
    assert_eq!(p["contract"]["products"][0]["seatsAssigned"], 1);
    let members = members_of(&app, &cm, &c).await;
    assert_eq!(
        roles_of(&members, "sc@full.example"),
        ["SOFTWARE_COORDINATOR", "USER"],
        "no Named Callers on BASIC"
    );
    app.stop().await;
}

/// R13: designated Named Callers are members, on ADVANCED, within max(2, seats / 10); the CM
/// and SCs do not count.
async fn r13_named_caller_limit(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let c = app
        .contract(
            "NC-1",
            "cm@nc.example",
            "ADVANCED",
            "MANUAL",
            &[("ACAD", 10)],
        )
        .await;
    let outsider = app
        .contract(
            "NC-2",
            "out@nc.example",
            "ADVANCED",
            "MANUAL",
            &[("ACAD", 10)],
        )
        .await;
    let _ = outsider;
    let cm = app.activate("cm@nc.example", PASSWORD).await;
    app.data(Some(&cm), ASSIGN_SC, json!({ "input": { "contractId": c.id, "contractProductIds": [c.product("ACAD")], "coordinator": person("sc@nc.example") } })).await;
    app.add_users(
        &cm,
        &c,
        &["a@nc.example", "b@nc.example", "d@nc.example"],
        json!(null),
    )
    .await;
    let ids = [
        app.user_id("a@nc.example").await,
        app.user_id("b@nc.example").await,
        app.user_id("d@nc.example").await,
    ];
    let before = app.snapshot().await;
    let stranger = app.user_id("out@nc.example").await;
    let not_member = app
        .data(
            Some(&cm),
            ADD_NC,
            json!({ "input": { "contractId": c.id, "userIds": [stranger] } }),
        )
        .await;
    assert_eq!(
        not_member["addNamedCallers"]["userErrors"][0]["code"],
        "NOT_A_NAMED_USER"
    );
    let three = app
        .data(
            Some(&cm),
            ADD_NC,
            json!({ "input": { "contractId": c.id, "userIds": ids } }),
        )
        .await;
    assert_eq!(
        three["addNamedCallers"]["userErrors"][0]["code"],
        "NAMED_CALLER_LIMIT_REACHED"
    );
    assert_eq!(app.snapshot().await, before);
    let two = app
        .data(
            Some(&cm),
            ADD_NC,
            json!({ "input": { "contractId": c.id, "userIds": [ids[0], ids[1]] } }),
        )
        .await;
    assert_eq!(two["addNamedCallers"]["userErrors"], json!([]));
    let third = app
        .data(
            Some(&cm),
            ADD_NC,
            json!({ "input": { "contractId": c.id, "userIds": [ids[2]] } }),
        )
        .await;
    assert_eq!(
        third["addNamedCallers"]["userErrors"][0]["code"],
        "NAMED_CALLER_LIMIT_REACHED"
    );
    // R14: removing a designation frees a place and tells the user.
    let removed = app
        .data(
            Some(&cm),
            REMOVE_NC,
            json!({ "input": { "contractId": c.id, "userIds": [ids[0]] } }),
        )
        .await;
    assert_eq!(
        removed["removeNamedCallers"]["members"][0]["roles"],
        json!(["USER"])
    );
    let again = app
        .data(
            Some(&cm),
            ADD_NC,
            json!({ "input": { "contractId": c.id, "userIds": [ids[2]] } }),
        )
        .await;
    assert_eq!(again["addNamedCallers"]["userErrors"], json!([]));
    app.drain().await;
    assert_eq!(
        app.mails_to("a@nc.example", "permissions-changed")
            .await
            .len(),
        2,
        "became and stopped being a Named Caller"
    );
    let members = members_of(&app, &cm, &c).await;
    let callers = members
        .iter()
        .filter(|m| {
            m["roles"]
                .as_array()
                .unwrap()
                .contains(&json!("NAMED_CALLER"))
        })
        .count();
    assert_eq!(callers, 4, "CM + SC by role, two designated");
    app.stop().await;
}

/// R28: the CM cannot be removed; removing a user frees seats, Named Caller status and SC
/// assignments (the CM takes those products back).
async fn r28_removing_a_user_releases_everything(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let c = app
        .contract(
            "RM-1",
            "cm@rm.example",
            "ADVANCED",
            "MANUAL",
            &[("ACAD", 10)],
        )
        .await;
    let cm = app.activate("cm@rm.example", PASSWORD).await;
    app.data(Some(&cm), ASSIGN_SC, json!({ "input": { "contractId": c.id, "contractProductIds": [c.product("ACAD")], "coordinator": person("sc@rm.example") } })).await;
    let sc = app.user_id("sc@rm.example").await;
    app.data(
        Some(&cm),
        ADD_NC,
        json!({ "input": { "contractId": c.id, "userIds": [sc] } }),
    )
    .await;
    assert_eq!(product_row(&app, &cm, &c, "ACAD").await["seatsAssigned"], 2);

    let me = app.user_id("cm@rm.example").await;
    let before = app.snapshot().await;
    let refused = app
        .data(
            Some(&cm),
            REMOVE_USER,
            json!({ "input": { "contractId": c.id, "userId": me } }),
        )
        .await;
    assert_eq!(
        refused["removeUser"]["userErrors"][0]["code"],
        "CONTRACT_MANAGER_REQUIRED"
    );
    assert_eq!(app.snapshot().await, before);

    let done = app
        .data(
            Some(&cm),
            REMOVE_USER,
            json!({ "input": { "contractId": c.id, "userId": sc } }),
        )
        .await;
    assert_eq!(done["removeUser"]["userErrors"], json!([]), "{done}");
    let acad = product_row(&app, &cm, &c, "ACAD").await;
    assert_eq!(acad["seatsAssigned"], 1);
    assert_eq!(acad["softwareCoordinator"], Value::Null);
    assert_eq!(
        acad["effectiveSoftwareCoordinator"]["email"],
        "cm@rm.example"
    );
    let members = members_of(&app, &cm, &c).await;
    assert_eq!(members.len(), 1);
    let (flags,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM memberships WHERE designated_caller = 1")
            .fetch_one(app.store.pool())
            .await
            .unwrap();
    assert_eq!(flags, 0);
    app.stop().await;
}

/// R21, R25: admins see each member's status, and every change in the audit log with its
/// actor, before and after, and the emails it caused.
async fn r25_changes_are_audited_and_r21_status_is_visible(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let c = app
        .contract("AUD-1", "cm@aud.example", "BASIC", "MANUAL", &[("ACAD", 5)])
        .await;
    let cm = app.activate("cm@aud.example", PASSWORD).await;
    app.add_users(&cm, &c, &["u@aud.example"], json!(null))
        .await;
    let u = app.user_id("u@aud.example").await;
    app.data(Some(&cm), SET_ACCESS, json!({ "input": { "contractId": c.id, "userIds": [u], "grant": { "contractProductIds": [c.product("ACAD")] } } })).await;

    let members = members_of(&app, &cm, &c).await;
    let status = |ms: &[Value], e: &str| {
        ms.iter().find(|m| m["user"]["email"] == e).unwrap()["status"].clone()
    };
    assert_eq!(status(&members, "cm@aud.example"), "ACTIVE");
    assert_eq!(status(&members, "u@aud.example"), "PENDING");
    app.drain().await;
    app.activate("u@aud.example", PASSWORD).await;
    assert_eq!(
        status(&members_of(&app, &cm, &c).await, "u@aud.example"),
        "ACTIVE"
    );

    let log = app
        .data(Some(&cm), "query($n: String!) { contract(number: $n) { auditLog(first: 10) { totalCount edges { node { actor kind detail at } } } } }", json!({ "n": c.number }))
        .await;
    let entries = log["contract"]["auditLog"]["edges"].as_array().unwrap();
    let kinds: Vec<&str> = entries
        .iter()
        .map(|e| e["node"]["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "access.changed",
            "member.added",
            "contract.activated",
            "contract.created"
        ]
    );
    let grant = &entries[0]["node"];
    let cm_id: (i64,) = sqlx::query_as("SELECT id FROM users WHERE email = 'cm@aud.example'")
        .fetch_one(app.store.pool())
        .await
        .unwrap();
    assert_eq!(grant["actor"], format!("user:{}", cm_id.0));
    assert_eq!(grant["detail"]["before"]["benefits"], json!([]));
    assert_eq!(
        grant["detail"]["after"]["benefits"],
        json!(["ACAD product"])
    );
    assert_eq!(grant["detail"]["emails"].as_array().unwrap().len(), 1);
    assert_eq!(
        entries[3]["node"]["actor"]
            .as_str()
            .unwrap()
            .split(':')
            .next(),
        Some("staff")
    );

    // A plain user sees neither members nor the log.
    let user = app.sign_in("u@aud.example", PASSWORD).await;
    let hidden = app
        .data(Some(&user), "query($n: String!) { contract(number: $n) { number members { totalCount } auditLog { totalCount } } }", json!({ "n": c.number }))
        .await;
    assert_eq!(hidden["contract"]["members"], Value::Null);
    assert_eq!(hidden["contract"]["auditLog"], Value::Null);
    app.stop().await;
}

both_backends!(
    smith_architecture_example,
    jones_consulting_example,
    r11_seats_never_oversubscribed,
    r10_bulk_add_is_all_or_nothing,
    r9_existing_user_ids_are_linked,
    r12_one_permissions_changed_email_per_request,
    r7_coordinators_are_limited_to_their_products,
    r5_coordinator_is_assigned_without_a_free_seat,
    r13_named_caller_limit,
    r28_removing_a_user_releases_everything,
    r25_changes_are_audited_and_r21_status_is_visible,
);
