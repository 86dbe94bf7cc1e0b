//! The change pipeline (issue 13): the findings of the review and the attack, each a rule a
//! path used to skip, on both backends. The pure rules are unit-tested in
//! `domain/src/change.rs`; these run them through the API.

use roster_tests::{Backend, ContractRef, MEMBERS, SET_ACCESS, TestApp, both_backends};
use serde_json::{Value, json};

const ASSIGN_SC: &str = "mutation($input: AssignSoftwareCoordinatorInput!) { assignSoftwareCoordinator(input: $input) { userErrors { code field message } } }";
const REMOVE_SC: &str = "mutation($input: RemoveSoftwareCoordinatorInput!) { removeSoftwareCoordinator(input: $input) { userErrors { code field message } } }";
const ADD_NC: &str = "mutation($input: NamedCallersInput!) { addNamedCallers(input: $input) { userErrors { code field message } } }";
const REMOVE_USER: &str = "mutation($input: RemoveUserInput!) { removeUser(input: $input) { contract { number } userErrors { code field message } } }";
const ACCEPT_SC_TERMS: &str =
    "mutation { acceptTerms(input: {kind: COORDINATOR}) { userErrors { code } } }";
const ROLES: &str = "query($n: String!) { contract(number: $n) { products { productCode softwareCoordinator { email } } members(first: 100) { edges { node { user { email firstName lastName language } roles status access { contractProducts { productCode } } } } } } }";

fn person(email: &str, first: &str, last: &str) -> Value {
    json!({ "email": email, "firstName": first, "lastName": last })
}

async fn members(app: &TestApp, token: &str, c: &ContractRef) -> Vec<Value> {
    let data = app.data(Some(token), ROLES, json!({ "n": c.number })).await;
    data["contract"]["members"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("no members: {data}"))
        .iter()
        .map(|e| e["node"].clone())
        .collect()
}

fn member<'a>(all: &'a [Value], email: &str) -> &'a Value {
    all.iter()
        .find(|m| m["user"]["email"] == email)
        .unwrap_or_else(|| panic!("{email} is not a member"))
}

fn has_role(all: &[Value], email: &str, role: &str) -> bool {
    member(all, email)["roles"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r == role)
}

/// A contract (no worker) with its CM signed in.
async fn contract(
    app: &TestApp,
    order: &str,
    cm: &str,
    products: &[(&str, i64)],
) -> (ContractRef, String) {
    let c = app.contract_without_worker(order, cm, products).await;
    let token = app.session_for(cm).await;
    (c, token)
}

async fn assign_sc(app: &TestApp, cm: &str, c: &ContractRef, code: &str, email: &str) -> String {
    let data = app
        .data(Some(cm), ASSIGN_SC, json!({ "input": { "contractId": c.id, "contractProductIds": [c.product(code)], "coordinator": person(email, "Sam", "Coordinator") } }))
        .await;
    assert_eq!(
        data["assignSoftwareCoordinator"]["userErrors"],
        json!([]),
        "{data}"
    );
    let token = app.session_for(email).await;
    app.data(Some(&token), ACCEPT_SC_TERMS, json!({})).await;
    token
}

async fn set_access(
    app: &TestApp,
    token: &str,
    c: &ContractRef,
    user: &str,
    grant: Value,
    revoke: Value,
) -> Value {
    let data = app
        .data(Some(token), SET_ACCESS, json!({ "input": { "contractId": c.id, "userIds": [user], "grant": grant, "revoke": revoke } }))
        .await;
    data["setUserAccess"].clone()
}

fn code_of(resp: &Value) -> Value {
    resp["errors"][0]["extensions"]["code"].clone()
}

/// R6: only the CM removes a Software Coordinator. An SC could remove another SC who held no
/// seat, or held only seats of the first SC's products, with `removeUser`.
async fn r6_an_sc_cannot_remove_another_sc_with_remove_user(backend: Backend) {
    let app = TestApp::spawn_with(backend, false).await;
    let (c, cm) = contract(
        &app,
        "R6-RM",
        "cm@r6.example",
        &[("ACAD", 10), ("REVIT", 10)],
    )
    .await;
    let sc1 = assign_sc(&app, &cm, &c, "ACAD", "sc1@r6.example").await;
    assign_sc(&app, &cm, &c, "REVIT", "sc2@r6.example").await;
    let sc2 = app.user_id("sc2@r6.example").await;
    // sc2 holds no seat at all.
    let r = set_access(
        &app,
        &cm,
        &c,
        &sc2,
        json!(null),
        json!({ "contractProductIds": [c.product("REVIT")] }),
    )
    .await;
    assert_eq!(r["userErrors"], json!([]));
    let before = app.snapshot().await;
    let resp = app
        .gql(
            Some(&sc1),
            REMOVE_USER,
            json!({ "input": { "contractId": c.id, "userId": sc2 } }),
        )
        .await;
    assert_eq!(code_of(&resp), "FORBIDDEN", "{resp}");
    // sc2 holds only a seat of sc1's product.
    let r = set_access(
        &app,
        &cm,
        &c,
        &sc2,
        json!({ "contractProductIds": [c.product("ACAD")] }),
        json!(null),
    )
    .await;
    assert_eq!(r["userErrors"], json!([]));
    let before_second = app.snapshot().await;
    let resp = app
        .gql(
            Some(&sc1),
            REMOVE_USER,
            json!({ "input": { "contractId": c.id, "userId": sc2 } }),
        )
        .await;
    assert_eq!(code_of(&resp), "FORBIDDEN", "{resp}");
    assert_eq!(app.snapshot().await, before_second);
    assert_ne!(before, before_second, "the CM's grant did change something");
    let all = members(&app, &cm, &c).await;
    assert!(has_role(&all, "sc2@r6.example", "SOFTWARE_COORDINATOR"));
    // The CM may.
    let resp = app
        .data(
            Some(&cm),
            REMOVE_USER,
            json!({ "input": { "contractId": c.id, "userId": sc2 } }),
        )
        .await;
    assert_eq!(resp["removeUser"]["userErrors"], json!([]));
    app.stop().await;
}

/// R13: designate u0 and u1 (limit 2), make u0 an SC, designate u2, remove u0's SC role: never
/// three designated Named Callers. An SC is a Named Caller by role, so the designation ends
/// when they become SC.
async fn r13_named_caller_limit_holds_when_an_sc_stops_coordinating(backend: Backend) {
    let app = TestApp::spawn_with(backend, false).await;
    let (c, cm) = contract(&app, "R13-SC", "cm@r13.example", &[("ACAD", 10)]).await;
    let emails = ["u0@r13.example", "u1@r13.example", "u2@r13.example"];
    let r = app.add_users(&cm, &c, &emails, json!(null)).await;
    assert_eq!(r["userErrors"], json!([]));
    let mut ids = Vec::new();
    for e in emails {
        ids.push(app.user_id(e).await);
    }
    let designate =
        |users: Vec<String>| json!({ "input": { "contractId": c.id, "userIds": users } });
    let r = app
        .data(
            Some(&cm),
            ADD_NC,
            designate(vec![ids[0].clone(), ids[1].clone()]),
        )
        .await;
    assert_eq!(r["addNamedCallers"]["userErrors"], json!([]));
    let r = app
        .data(Some(&cm), ASSIGN_SC, json!({ "input": { "contractId": c.id, "contractProductIds": [c.product("ACAD")], "coordinator": person(emails[0], "First", "u0") } }))
        .await;
    assert_eq!(r["assignSoftwareCoordinator"]["userErrors"], json!([]));
    let r = app
        .data(Some(&cm), ADD_NC, designate(vec![ids[2].clone()]))
        .await;
    assert_eq!(
        r["addNamedCallers"]["userErrors"],
        json!([]),
        "a slot was free"
    );
    let r = app
        .data(
            Some(&cm),
            REMOVE_SC,
            json!({ "input": { "contractId": c.id, "contractProductIds": [c.product("ACAD")] } }),
        )
        .await;
    assert_eq!(r["removeSoftwareCoordinator"]["userErrors"], json!([]));
    let all = members(&app, &cm, &c).await;
    let callers: Vec<&str> = emails
        .iter()
        .copied()
        .filter(|e| has_role(&all, e, "NAMED_CALLER"))
        .collect();
    assert_eq!(callers, ["u1@r13.example", "u2@r13.example"]);
    app.stop().await;
}

/// R11, R22: while a contract is EXPIRED its people and access do not change
/// (CONTRACT_NOT_ACTIVE): revoking answered nothing and changed nothing, and a renewal then
/// gave back the seat the admin meant to take away.
async fn r22_people_and_access_do_not_change_while_expired(backend: Backend) {
    let app = TestApp::spawn_with(backend, false).await;
    let (c, cm) = contract(&app, "R22-EXP", "cm@r22.example", &[("ACAD", 10)]).await;
    let r = app
        .add_users(
            &cm,
            &c,
            &["u@r22.example"],
            json!({ "contractProductIds": [c.product("ACAD")] }),
        )
        .await;
    assert_eq!(r["userErrors"], json!([]));
    let u = app.user_id("u@r22.example").await;
    let day = chrono::NaiveDate::from_ymd_opt(2100, 1, 1).unwrap();
    roster_store::renewals::run_pass(&app.store, day)
        .await
        .unwrap();
    let before = app.snapshot().await;
    let r = set_access(
        &app,
        &cm,
        &c,
        &u,
        json!(null),
        json!({ "contractProductIds": [c.product("ACAD")] }),
    )
    .await;
    assert_eq!(r["userErrors"][0]["code"], "CONTRACT_NOT_ACTIVE", "{r}");
    let r = app
        .data(
            Some(&cm),
            REMOVE_USER,
            json!({ "input": { "contractId": c.id, "userId": u } }),
        )
        .await;
    assert_eq!(
        r["removeUser"]["userErrors"][0]["code"],
        "CONTRACT_NOT_ACTIVE"
    );
    let r = app
        .add_users(&cm, &c, &["late@r22.example"], json!(null))
        .await;
    assert_eq!(r["userErrors"][0]["code"], "CONTRACT_NOT_ACTIVE");
    assert_eq!(app.snapshot().await, before, "nothing changed");
    app.stop().await;
}

/// Tenancy: an admin who names an existing User ID's email sees the name they typed until the
/// person signs in, never the name and language the person keeps for themself.
async fn tenancy_admins_see_the_name_they_typed_until_the_person_signs_in(backend: Backend) {
    let app = TestApp::spawn_with(backend, false).await;
    let (a, cm_a) = contract(&app, "TEN-A", "cm@a.example", &[("ACAD", 10)]).await;
    let r = app
        .add_users(&cm_a, &a, &["x@people.example"], json!(null))
        .await;
    assert_eq!(r["userErrors"], json!([]));
    let x = app.session_for("x@people.example").await;
    let profile = app
        .data(Some(&x), "mutation { updateProfile(input: { firstName: \"Secret\", lastName: \"Own-Name\", language: \"de\" }) { userErrors { code } } }", json!({}))
        .await;
    assert_eq!(profile["updateProfile"]["userErrors"], json!([]));

    let (b, cm_b) = contract(&app, "TEN-B", "cm@b.example", &[("ACAD", 10)]).await;
    let added = app
        .data(Some(&cm_b), "mutation($input: AddUsersInput!) { addUsers(input: $input) { members { user { email firstName lastName language } } userErrors { code } } }", json!({ "input": { "contractId": b.id, "users": [person("X@People.example", "Typed", "Person")] } }))
        .await;
    let shown = &added["addUsers"]["members"][0]["user"];
    assert_eq!(shown["firstName"], "Typed", "{added}");
    assert_eq!(shown["lastName"], "Person");
    assert_eq!(shown["language"], "en");
    let seen = members(&app, &cm_b, &b).await;
    let x_in_b = member(&seen, "x@people.example");
    assert_eq!(x_in_b["user"]["firstName"], "Typed");
    assert_eq!(x_in_b["user"]["language"], "en");
    let search = app
        .data(
            Some(&cm_b),
            MEMBERS,
            json!({ "n": b.number, "search": "secret" }),
        )
        .await;
    assert_eq!(
        search["contract"]["members"]["totalCount"], 0,
        "no search by the hidden name"
    );

    // Once the person signs in, they are who they say they are; their language stays theirs.
    let mut tx = app.store.begin().await.unwrap();
    let id = roster_api::graphql::ids::decode(
        roster_api::graphql::ids::Kind::User,
        &app.user_id("x@people.example").await,
    )
    .unwrap();
    roster_store::users::record_sign_in(&mut tx, id)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let seen = members(&app, &cm_b, &b).await;
    let x_in_b = member(&seen, "x@people.example");
    assert_eq!(x_in_b["status"], "ACTIVE");
    assert_eq!(x_in_b["user"]["firstName"], "Secret");
    assert_eq!(x_in_b["user"]["language"], "en");
    app.stop().await;
}

/// R4, R11, R21, R27: a members page loads seats only when it shows them and reads who
/// coordinates what off the contract's products; however the page is asked for (edges or
/// nodes, fields or a fragment, with or without seats), each member has the same roles and
/// the same seats.
async fn r21_r27_a_members_page_shows_the_same_roles_and_seats_however_it_is_asked(
    backend: Backend,
) {
    let app = TestApp::spawn_with(backend, false).await;
    let (c, cm) = contract(
        &app,
        "PAGE-ASK",
        "cm@ask.example",
        &[("ACAD", 5), ("REVIT", 5)],
    )
    .await;
    assign_sc(&app, &cm, &c, "REVIT", "sc@ask.example").await;
    app.add_users(
        &cm,
        &c,
        &["a@ask.example", "b@ask.example"],
        json!({ "contractProductIds": [c.product("ACAD")] }),
    )
    .await;
    let page = |selection: &str| {
        format!(
            "query($n: String!) {{ contract(number: $n) {{ members(first: 10) {{ {selection} }} }} }}"
        )
    };
    let by_email = |data: &Value, list: &str| -> std::collections::BTreeMap<String, Value> {
        data["contract"]["members"][list]
            .as_array()
            .unwrap_or_else(|| panic!("no {list}: {data}"))
            .iter()
            .map(|m| {
                let m = if list == "edges" { &m["node"] } else { m };
                (m["user"]["email"].as_str().unwrap().to_string(), m.clone())
            })
            .collect()
    };
    let n = json!({ "n": c.number });
    let edges = by_email(
        &app.data(Some(&cm), &page("edges { node { user { email } roles access { contractProducts { productCode } } } }"), n.clone()).await,
        "edges",
    );
    let nodes = by_email(
        &app.data(Some(&cm), &format!("{} fragment M on Member {{ user {{ email }} roles access {{ contractProducts {{ productCode }} }} }}", page("nodes { ...M }")), n.clone()).await,
        "nodes",
    );
    let roles_only = by_email(
        &app.data(Some(&cm), &page("nodes { user { email } roles }"), n)
            .await,
        "nodes",
    );
    assert_eq!(edges, nodes);
    assert_eq!(edges.len(), 4, "{edges:?}");
    for (email, m) in &edges {
        assert_eq!(roles_only[email]["roles"], m["roles"], "{email}");
    }
    let seats = |email: &str| edges[email]["access"]["contractProducts"].clone();
    assert_eq!(seats("a@ask.example"), json!([{ "productCode": "ACAD" }]));
    assert_eq!(seats("b@ask.example"), json!([{ "productCode": "ACAD" }]));
    assert!(has_role(
        &edges.values().cloned().collect::<Vec<_>>(),
        "sc@ask.example",
        "SOFTWARE_COORDINATOR"
    ));
    assert!(!has_role(
        &edges.values().cloned().collect::<Vec<_>>(),
        "a@ask.example",
        "SOFTWARE_COORDINATOR"
    ));
    app.stop().await;
}

both_backends!(
    r21_r27_a_members_page_shows_the_same_roles_and_seats_however_it_is_asked,
    r6_an_sc_cannot_remove_another_sc_with_remove_user,
    r13_named_caller_limit_holds_when_an_sc_stops_coordinating,
    r22_people_and_access_do_not_change_while_expired,
    tenancy_admins_see_the_name_they_typed_until_the_person_signs_in,
);
