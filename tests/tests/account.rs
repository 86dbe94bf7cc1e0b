//! Issue 16, the account the seeds describe (R30, R31, R33), on both backends: the company's
//! Contract Managers reading each other's contracts, add-on orders and seat counts, and the
//! viewer's own standing.

use roster_tests::{Backend, ContractRef, PROCESS_ORDER, SET_ACCESS, TestApp, both_backends};
use serde_json::{Value, json};

const ADD_ON: &str = "mutation($input: ProcessAddOnOrderInput!) { processAddOnOrder(input: $input) { processed contract { number products { productCode serialNumber productKey seats seatsAssigned } } userErrors { code field message } } }";
const SET_SEATS: &str = "mutation($input: SetSeatCountInput!) { setSeatCount(input: $input) { contractProduct { seats seatsAssigned } userErrors { code field message } } }";
const ME: &str = "query($n: String!) { contract(number: $n) { viewerMembership { user { email } roles status access { contractProducts { productCode } webSupport } } viewerCan { manageMembers manageCoordinators manageNamedCallers manageResellerAccess renew viewSecrets openCases } } }";
const COMPANY_READ: &str = "query($n: String!) { contract(number: $n) { number orderNumber status term { endDate } contractManager { email } products { productCode seats serialNumber productKey softwareCoordinator { email } } members { totalCount } auditLog { totalCount } } }";

fn line(code: &str, seats: i64) -> Value {
    json!({ "productCode": code, "productName": format!("{code} product"), "seats": seats })
}

async fn count_where(app: &TestApp, sql: &'static str, id: i64) -> i64 {
    let (n,): (i64,) = sqlx::query_as(sql)
        .bind(id)
        .fetch_one(app.store.pool())
        .await
        .unwrap();
    n
}

fn pk(c: &ContractRef) -> i64 {
    roster_api::graphql::ids::decode(roster_api::graphql::ids::Kind::Contract, &c.id).unwrap()
}

fn product<'a>(contract: &'a Value, code: &str) -> &'a Value {
    contract["products"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["productCode"] == code)
        .unwrap_or_else(|| panic!("no {code} in {contract}"))
}

/// R31: an add-on order adds seats to a product on the contract and puts a new product (with
/// its serial number and key) on it, sends the CM an Order Processed email for that order and
/// is audited; the same order number again changes and sends nothing; for another contract it
/// is ORDER_CONFLICT.
async fn r31_add_on_order_is_applied_once(backend: Backend) {
    let app = TestApp::spawn_with(backend, false).await;
    let c = app
        .contract_without_worker("AO-MAIN", "cm@ao.example", &[("ACAD", 5)])
        .await;
    let other = app
        .contract_without_worker("AO-OTHER", "cm@ao2.example", &[("ACAD", 5)])
        .await;
    let input = json!({ "contractId": c.id, "orderNumber": "AO-1", "products": [line("ACAD", 3), line("REVIT", 2)] });
    let data = app.staff(ADD_ON, json!({ "input": input })).await;
    let r = &data["processAddOnOrder"];
    assert_eq!(r["userErrors"], json!([]), "{data}");
    assert_eq!(r["processed"], true);
    assert_eq!(product(&r["contract"], "ACAD")["seats"], 8);
    assert_eq!(product(&r["contract"], "ACAD")["seatsAssigned"], 1);
    let revit = product(&r["contract"], "REVIT");
    assert_eq!(revit["seats"], 2);
    assert_eq!(revit["seatsAssigned"], 0);
    assert!(
        revit["serialNumber"].as_str().unwrap().len() == 12,
        "{revit}"
    );
    assert!(revit["productKey"].as_str().unwrap().len() == 5, "{revit}");
    let id = pk(&c);
    let emails = "SELECT COUNT(*) FROM emails WHERE contract_id = $1 AND kind = 'order-processed'";
    let audits = "SELECT COUNT(*) FROM audit_log WHERE contract_id = $1 AND kind = 'contract.add_on_ordered'";
    assert_eq!(
        count_where(&app, emails, id).await,
        2,
        "the order's and the add-on's"
    );
    assert_eq!(count_where(&app, audits, id).await, 1);
    let (params,): (String,) = sqlx::query_as(
        "SELECT params FROM emails WHERE contract_id = $1 AND kind = 'order-processed' ORDER BY id DESC LIMIT 1",
    )
    .bind(id)
    .fetch_one(app.store.pool())
    .await
    .unwrap();
    assert!(params.contains("AO-1"), "{params}");
    let params: Value = serde_json::from_str(&params).unwrap();
    assert_eq!(
        params["addOn"], true,
        "the add-on's wording, not a new contract's"
    );
    assert_eq!(params["products"].as_array().unwrap().len(), 2);
    assert_eq!(
        params["products"][0]["seats"], 3,
        "the seats the add-on bought"
    );

    // The same order again: nothing new.
    let before = app.snapshot().await;
    let again = app.staff(ADD_ON, json!({ "input": input })).await;
    assert_eq!(again["processAddOnOrder"]["userErrors"], json!([]));
    assert_eq!(again["processAddOnOrder"]["processed"], false);
    assert_eq!(
        product(&again["processAddOnOrder"]["contract"], "ACAD")["seats"],
        8
    );
    assert_eq!(app.snapshot().await, before);
    assert_eq!(count_where(&app, emails, id).await, 2);

    // The same number for another contract, or the main order's number: refused.
    for (contract, number) in [(&other, "AO-1"), (&c, "AO-OTHER")] {
        let conflict = app
            .staff(ADD_ON, json!({ "input": { "contractId": contract.id, "orderNumber": number, "products": [line("ACAD", 1)] } }))
            .await;
        assert_eq!(
            conflict["processAddOnOrder"]["userErrors"][0]["code"], "ORDER_CONFLICT",
            "{conflict}"
        );
    }
    assert_eq!(app.snapshot().await, before);

    // Staff only.
    let cm = app.session_for("cm@ao.example").await;
    let resp = app
        .gql(Some(&cm), ADD_ON, json!({ "input": { "contractId": c.id, "orderNumber": "AO-2", "products": [line("ACAD", 1)] } }))
        .await;
    assert_eq!(
        resp["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{resp}"
    );
    app.stop().await;
}

/// R31: staff lower a seat count only down to the seats held (SEATS_IN_USE, nothing changes);
/// raising works at once.
async fn r31_seat_count_lowers_only_to_the_seats_held(backend: Backend) {
    let app = TestApp::spawn_with(backend, false).await;
    let c = app
        .contract_without_worker("SC-SEATS", "cm@seats.example", &[("ACAD", 5)])
        .await;
    let cm = app.session_for("cm@seats.example").await;
    let added = app
        .add_users(
            &cm,
            &c,
            &["a@seats.example", "b@seats.example"],
            json!({ "contractProductIds": [c.product("ACAD")] }),
        )
        .await;
    assert_eq!(added["userErrors"], json!([]));
    let set =
        |seats: i64| json!({ "input": { "contractProductId": c.product("ACAD"), "seats": seats } });
    let before = app.snapshot().await;
    let r = app.staff(SET_SEATS, set(2)).await;
    assert_eq!(
        r["setSeatCount"]["userErrors"][0]["code"], "SEATS_IN_USE",
        "{r}"
    );
    assert_eq!(
        r["setSeatCount"]["userErrors"][0]["field"],
        json!(["input", "seats"])
    );
    assert_eq!(app.snapshot().await, before);
    let r = app.staff(SET_SEATS, set(3)).await;
    assert_eq!(r["setSeatCount"]["userErrors"], json!([]), "{r}");
    assert_eq!(r["setSeatCount"]["contractProduct"]["seats"], 3);
    let r = app.staff(SET_SEATS, set(40)).await;
    assert_eq!(r["setSeatCount"]["contractProduct"]["seats"], 40);
    let audits =
        "SELECT COUNT(*) FROM audit_log WHERE contract_id = $1 AND kind = 'contract.seats_changed'";
    assert_eq!(count_where(&app, audits, pk(&c)).await, 2);
    let resp = app.gql(Some(&cm), SET_SEATS, set(50)).await;
    assert_eq!(
        resp["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{resp}"
    );
    app.stop().await;
}

/// R31 with R11: a seat count lowered while twenty grants race for seats never leaves more
/// seats held than bought, whichever commits first.
async fn r31_seat_count_races_with_grants(backend: Backend) {
    let app = TestApp::spawn_with(backend, false).await;
    let c = app
        .contract_without_worker("SC-RACE", "cm@srace.example", &[("ACAD", 30)])
        .await;
    let cm = app.session_for("cm@srace.example").await;
    let emails: Vec<String> = (0..20).map(|i| format!("r{i}@srace.example")).collect();
    let refs: Vec<&str> = emails.iter().map(String::as_str).collect();
    let added = app.add_users(&cm, &c, &refs, json!(null)).await;
    assert_eq!(added["userErrors"], json!([]), "{added}");
    let mut ids = Vec::new();
    for e in &emails {
        ids.push(app.user_id(e).await);
    }
    let acad = c.product("ACAD");
    let grants = ids.iter().map(|id| {
        app.gql(Some(&cm), SET_ACCESS, json!({ "input": { "contractId": c.id, "userIds": [id], "grant": { "contractProductIds": [acad] } } }))
    });
    let lower = app.staff(
        SET_SEATS,
        json!({ "input": { "contractProductId": acad, "seats": 8 } }),
    );
    let (results, lowered) = tokio::join!(futures::future::join_all(grants), lower);
    let won = results
        .iter()
        .filter(|r| r["data"]["setUserAccess"]["userErrors"] == json!([]))
        .count() as i64;
    for r in &results {
        let errs = &r["data"]["setUserAccess"]["userErrors"];
        if errs != &json!([]) {
            assert_eq!(errs[0]["code"], "SEAT_LIMIT_REACHED", "{r}");
        }
    }
    let (seats, assigned): (i64, i64) = sqlx::query_as(
        "SELECT seats, seats_assigned FROM contract_products WHERE contract_id = $1",
    )
    .bind(pk(&c))
    .fetch_one(app.store.pool())
    .await
    .unwrap();
    let (held,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM product_access WHERE contract_id = $1")
            .bind(pk(&c))
            .fetch_one(app.store.pool())
            .await
            .unwrap();
    assert_eq!(assigned, held);
    assert_eq!(assigned, won + 1, "the CM's seat and the grants that won");
    assert!(assigned <= seats, "{assigned} held of {seats}");
    match lowered["setSeatCount"]["userErrors"][0]["code"].as_str() {
        None => {
            assert_eq!(seats, 8);
            assert!(
                won <= 7,
                "{won} grants won after the count was lowered to 8"
            );
        }
        Some(code) => {
            assert_eq!(code, "SEATS_IN_USE", "{lowered}");
            assert_eq!(seats, 30);
            assert!(won >= 8, "lowering was refused with only {won} grants held");
        }
    }
    // Raising works at once, under the same lock the grants take.
    let raised = app
        .staff(
            SET_SEATS,
            json!({ "input": { "contractProductId": acad, "seats": assigned + 1 } }),
        )
        .await;
    assert_eq!(raised["setSeatCount"]["userErrors"], json!([]), "{raised}");
    app.stop().await;
}

fn order(number: &str, cm: &str, company: &str, customer: Option<&str>) -> Value {
    let mut input =
        roster_tests::order_input(number, cm, "ADVANCED", "MANUAL", json!([line("ACAD", 4)]));
    input["company"] = json!(company);
    if let Some(n) = customer {
        input["customerNumber"] = json!(n);
    }
    input
}

async fn place(app: &TestApp, input: Value) -> ContractRef {
    let data = app.staff(PROCESS_ORDER, json!({ "input": input })).await;
    let c = &data["processOrder"]["contract"];
    assert!(c.is_object(), "{data}");
    let id = c["id"].as_str().unwrap().to_string();
    roster_store::contracts::provision(
        &app.store,
        roster_api::graphql::ids::decode(roster_api::graphql::ids::Kind::Contract, &id).unwrap(),
    )
    .await
    .unwrap();
    ContractRef {
        id,
        number: c["number"].as_str().unwrap().to_string(),
        products: Default::default(),
    }
}

/// R30: the CM of any contract of a company reads every contract of that company (number,
/// status, term, products and seats, who is CM and SC) and nothing more, and changes nothing
/// there; a customer with the same name but no shared customer number sees nothing.
async fn r30_company_managers_read_each_others_contracts(backend: Backend) {
    let app = TestApp::spawn_with(backend, false).await;
    let a = place(
        &app,
        order("CO-A", "ann@smith.example", "Smith", Some("C-100")),
    )
    .await;
    let b = place(
        &app,
        order("CO-B", "bob@smith.example", "Smith", Some("C-100")),
    )
    .await;
    let stranger = place(&app, order("CO-C", "eve@other.example", "Smith", None)).await;
    let ann = app.session_for("ann@smith.example").await;
    let eve = app.session_for("eve@other.example").await;

    let read = app
        .data(Some(&ann), COMPANY_READ, json!({ "n": b.number }))
        .await;
    let cb = &read["contract"];
    assert_eq!(cb["number"], b.number.as_str(), "{read}");
    assert_eq!(cb["status"], "ACTIVE");
    assert_eq!(cb["term"]["endDate"], "2027-01-01");
    assert_eq!(cb["contractManager"]["email"], "bob@smith.example");
    assert_eq!(cb["products"][0]["seats"], 4);
    assert_eq!(cb["products"][0]["serialNumber"], Value::Null);
    assert_eq!(cb["products"][0]["productKey"], Value::Null);
    assert_eq!(cb["members"], Value::Null);
    assert_eq!(cb["auditLog"], Value::Null);
    assert_eq!(cb["orderNumber"], Value::Null);

    // Reading is all: a change is refused, and nothing changes.
    let before = app.snapshot().await;
    let resp = app
        .gql(Some(&ann), roster_tests::ADD_USERS, json!({ "input": { "contractId": b.id, "users": [{ "email": "x@smith.example", "firstName": "X", "lastName": "Y" }] } }))
        .await;
    assert_eq!(
        resp["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{resp}"
    );
    assert_eq!(app.snapshot().await, before);

    // Same name, no customer number: not the same company.
    for (token, number) in [
        (&ann, &stranger.number),
        (&eve, &a.number),
        (&eve, &b.number),
    ] {
        let r = app
            .data(Some(token), COMPANY_READ, json!({ "n": number }))
            .await;
        assert_eq!(r["contract"], Value::Null, "{r}");
    }

    let companies = app
        .data(Some(&ann), "{ viewer { companies { name contracts(first: 10) { totalCount edges { node { number } } } } } }", json!({}))
        .await;
    let list = companies["viewer"]["companies"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{companies}");
    assert_eq!(list[0]["contracts"]["totalCount"], 2);
    let eve_companies = app
        .data(
            Some(&eve),
            "{ viewer { companies { contracts { totalCount } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        eve_companies["viewer"]["companies"][0]["contracts"]["totalCount"],
        1
    );
    app.stop().await;
}

/// R33: every member reads their own roles, access and status, and what they may do.
async fn r33_members_read_their_own_standing(backend: Backend) {
    let app = TestApp::spawn_with(backend, false).await;
    let c = app
        .contract_without_worker("ME-1", "cm@me.example", &[("ACAD", 5)])
        .await;
    let cm = app.session_for("cm@me.example").await;
    app.add_users(
        &cm,
        &c,
        &["u@me.example"],
        json!({ "contractProductIds": [c.product("ACAD")], "webSupport": true }),
    )
    .await;
    let u = app.session_for("u@me.example").await;
    let me = app.data(Some(&u), ME, json!({ "n": c.number })).await;
    let m = &me["contract"]["viewerMembership"];
    assert_eq!(m["user"]["email"], "u@me.example", "{me}");
    assert_eq!(m["roles"], json!(["USER"]));
    assert_eq!(m["status"], "PENDING");
    assert_eq!(m["access"]["contractProducts"][0]["productCode"], "ACAD");
    assert_eq!(m["access"]["webSupport"], true);
    assert_eq!(
        me["contract"]["viewerCan"],
        json!({ "manageMembers": false, "manageCoordinators": false, "manageNamedCallers": false, "manageResellerAccess": false, "renew": false, "viewSecrets": true, "openCases": true })
    );
    let me = app.data(Some(&cm), ME, json!({ "n": c.number })).await;
    assert_eq!(
        me["contract"]["viewerMembership"]["roles"],
        json!(["CONTRACT_MANAGER", "USER", "NAMED_CALLER"])
    );
    assert_eq!(
        me["contract"]["viewerCan"],
        json!({ "manageMembers": true, "manageCoordinators": true, "manageNamedCallers": true, "manageResellerAccess": true, "renew": true, "viewSecrets": true, "openCases": true })
    );
    let staff = app.staff(ME, json!({ "n": c.number })).await;
    assert_eq!(staff["contract"]["viewerMembership"], Value::Null);
    app.stop().await;
}

both_backends!(
    r31_add_on_order_is_applied_once,
    r31_seat_count_lowers_only_to_the_seats_held,
    r31_seat_count_races_with_grants,
    r30_company_managers_read_each_others_contracts,
    r33_members_read_their_own_standing,
);
