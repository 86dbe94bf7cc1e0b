//! Support cases, reseller read-only access and the Contract Manager change (R15-R18), and
//! subscriptions over a real websocket.

use roster_tests::process::RosterProcess;
use roster_tests::ws::Socket;
use roster_tests::{Backend, ContractRef, TestApp, both_backends};
use serde_json::{Value, json};
use std::time::Duration;

const PASSWORD: &str = "correct horse battery";
const CREATE_CASE: &str = "mutation($input: CreateSupportCaseInput!) { createSupportCase(input: $input) { supportCase { id caseId subject status submitter { email } } userErrors { code field message } } }";
const UPDATE_CASE: &str = "mutation($input: UpdateSupportCaseInput!) { updateSupportCase(input: $input) { supportCase { caseId status comments { author { email staff } body } } userErrors { code message } } }";
const CASES: &str = "query($n: String!, $s: SupportCaseSearch) { contract(number: $n) { supportCases(search: $s) { totalCount edges { node { caseId subject status submitter { email } } } } } }";
const SET_RESELLER: &str = "mutation($input: SetResellerCaseAccessInput!) { setResellerCaseAccess(input: $input) { resellerCaseAccess { reseller { name } canViewCases } userErrors { code message } } }";
const REQUEST_CM: &str = "mutation($input: RequestContractManagerChangeInput!) { requestContractManagerChange(input: $input) { supportCase { id caseId status } userErrors { code field message } } }";
const RESOLVE_CM: &str = "mutation($input: ResolveContractManagerChangeInput!) { resolveContractManagerChange(input: $input) { supportCase { status } contract { contractManager { email } } userErrors { code message } } }";

async fn setup(app: &TestApp, renewal: &str) -> (ContractRef, String) {
    let c = app
        .contract(
            "CASE-1",
            "cm@case.example",
            "ADVANCED",
            renewal,
            &[("ACAD", 10)],
        )
        .await;
    let cm = app.activate("cm@case.example", PASSWORD).await;
    (c, cm)
}

async fn open_case(app: &TestApp, token: &str, c: &ContractRef, subject: &str) -> Value {
    app.gql(Some(token), CREATE_CASE, json!({ "input": { "contractId": c.id, "subject": subject, "description": format!("Details about {subject}") } }))
        .await
}

fn case_ids(data: &Value) -> Vec<String> {
    data["contract"]["supportCases"]["edges"]
        .as_array()
        .map(|edges| {
            edges
                .iter()
                .map(|e| e["node"]["caseId"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// R17: admins and Web Support users open cases; everyone who may use Web Support sees all
/// of them; the submitter's confirmation carries the case ID.
async fn r17_web_support_users_open_cases_everyone_with_web_support_sees(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (c, cm) = setup(&app, "MANUAL").await;
    app.add_users(&cm, &c, &["ws@case.example"], json!({ "webSupport": true }))
        .await;
    app.add_users(
        &cm,
        &c,
        &["plain@case.example"],
        json!({ "contractProductIds": [c.product("ACAD")] }),
    )
    .await;
    app.drain().await;
    let ws = app.activate("ws@case.example", PASSWORD).await;
    let plain = app.activate("plain@case.example", PASSWORD).await;

    let opened = open_case(&app, &ws, &c, "Licence will not activate").await;
    let case = &opened["data"]["createSupportCase"]["supportCase"];
    assert_eq!(
        opened["data"]["createSupportCase"]["userErrors"],
        json!([]),
        "{opened}"
    );
    let case_id = case["caseId"].as_str().unwrap().to_string();
    assert!(case_id.starts_with("RC-"));
    assert_eq!(case["status"], "OPEN");
    app.drain().await;
    let confirmation = app
        .mails_to("ws@case.example", "support-case-received")
        .await;
    assert_eq!(confirmation.len(), 1);
    assert!(confirmation[0].subject.contains(&case_id));
    assert!(confirmation[0].text.contains(&case_id));
    assert_eq!(confirmation[0].contract.as_deref(), Some(c.number.as_str()));

    // The CM sees the user's case.
    let seen = app.data(Some(&cm), CASES, json!({ "n": c.number })).await;
    assert_eq!(case_ids(&seen), std::slice::from_ref(&case_id));
    assert_eq!(
        seen["contract"]["supportCases"]["edges"][0]["node"]["submitter"]["email"],
        "ws@case.example"
    );
    let by_id = app
        .data(
            Some(&cm),
            "query($id: String!) { supportCase(caseId: $id) { subject } }",
            json!({ "id": case_id }),
        )
        .await;
    assert_eq!(by_id["supportCase"]["subject"], "Licence will not activate");

    // A user without Web Support can neither open nor see cases.
    let before = app.snapshot().await;
    let refused = open_case(&app, &plain, &c, "Me too").await;
    assert_eq!(
        refused["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{refused}"
    );
    assert_eq!(app.snapshot().await, before);
    let hidden = app
        .data(Some(&plain), CASES, json!({ "n": c.number }))
        .await;
    assert_eq!(hidden["contract"]["supportCases"], Value::Null);
    let hidden = app
        .data(
            Some(&plain),
            "query($id: String!) { supportCase(caseId: $id) { subject } }",
            json!({ "id": case_id }),
        )
        .await;
    assert_eq!(hidden["supportCase"], Value::Null);

    // Staff work the case; customers cannot.
    let case_gid = case["id"].as_str().unwrap();
    let not_staff = app
        .gql(
            Some(&cm),
            UPDATE_CASE,
            json!({ "input": { "supportCaseId": case_gid, "status": "IN_PROGRESS" } }),
        )
        .await;
    assert_eq!(not_staff["errors"][0]["extensions"]["code"], "FORBIDDEN");
    let updated = app.staff(UPDATE_CASE, json!({ "input": { "supportCaseId": case_gid, "status": "IN_PROGRESS", "comment": "Looking into it." } })).await;
    assert_eq!(
        updated["updateSupportCase"]["supportCase"]["status"],
        "IN_PROGRESS"
    );
    assert_eq!(
        updated["updateSupportCase"]["supportCase"]["comments"][0]["body"],
        "Looking into it."
    );
    app.stop().await;
}

/// R17: search by submission date range, keyword, case ID, and only mine.
async fn r17_case_search(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (c, cm) = setup(&app, "MANUAL").await;
    app.add_users(&cm, &c, &["ws@case.example"], json!({ "webSupport": true }))
        .await;
    app.drain().await;
    let ws = app.activate("ws@case.example", PASSWORD).await;
    let a = open_case(&app, &cm, &c, "Printer driver crash").await;
    let b = open_case(&app, &ws, &c, "Rendering credits").await;
    let old = open_case(&app, &ws, &c, "Old installer question").await;
    let id = |v: &Value| {
        v["data"]["createSupportCase"]["supportCase"]["caseId"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (a, b, old) = (id(&a), id(&b), id(&old));
    // Back-date one case to 2025-03-10.
    sqlx::query("UPDATE support_cases SET created_at = $1 WHERE case_id = $2")
        .bind(1_741_600_000_000_i64)
        .bind(&old)
        .execute(app.store.pool())
        .await
        .unwrap();

    let search = |s: Value| {
        let app = &app;
        let token = cm.clone();
        let number = c.number.clone();
        async move {
            let mut ids = case_ids(
                &app.data(Some(&token), CASES, json!({ "n": number, "s": s }))
                    .await,
            );
            ids.sort();
            ids
        }
    };
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    assert_eq!(
        search(json!({})).await,
        sorted(vec![a.clone(), b.clone(), old.clone()])
    );
    assert_eq!(search(json!({ "keyword": "CRASH" })).await, vec![a.clone()]);
    assert_eq!(
        search(json!({ "keyword": "details about rendering" })).await,
        vec![b.clone()],
        "descriptions are searched too"
    );
    assert_eq!(
        search(json!({ "caseId": b.to_lowercase() })).await,
        vec![b.clone()]
    );
    assert_eq!(
        search(json!({ "from": "2025-03-01", "to": "2025-03-31" })).await,
        vec![old.clone()]
    );
    assert_eq!(
        search(json!({ "from": "2025-04-01" })).await,
        sorted(vec![a.clone(), b.clone()])
    );
    assert_eq!(search(json!({ "onlyMine": true })).await, vec![a.clone()]);
    let mine = case_ids(
        &app.data(
            Some(&ws),
            CASES,
            json!({ "n": c.number, "s": { "onlyMine": true } }),
        )
        .await,
    );
    assert_eq!(sorted(mine), sorted(vec![b.clone(), old.clone()]));
    assert_eq!(
        search(json!({ "keyword": "100%_" })).await,
        Vec::<String>::new(),
        "wildcards are literal"
    );
    app.stop().await;
}

/// R18: a reseller sees nothing, then the cases (and only number, company, products), then
/// nothing again; it can never write.
async fn r18_reseller_reads_cases_only_while_allowed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (c, cm) = setup(&app, "RESELLER").await;
    let reseller = app
        .staff(
            "mutation { createReseller(input: {name: \"Partner GmbH\"}) { reseller { id } } }",
            json!({}),
        )
        .await;
    let rid = reseller["createReseller"]["reseller"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let added = app
        .staff("mutation($r: ID!) { addResellerUser(input: {resellerId: $r, person: {email: \"rep@partner.example\", firstName: \"Rita\", lastName: \"Rep\"}}) { user { email } userErrors { code } } }", json!({ "r": rid }))
        .await;
    assert_eq!(
        added["addResellerUser"]["user"]["email"],
        "rep@partner.example"
    );
    // R18 (amended): the contract was bought through this reseller.
    app.attach_reseller(&c, &rid).await;
    open_case(&app, &cm, &c, "Need a hand").await;
    app.drain().await;
    let started = app.mails_to("rep@partner.example", "get-started").await;
    assert_eq!(started.len(), 1);
    assert!(started[0].contract.is_none());
    let rep = app.activate("rep@partner.example", PASSWORD).await;

    const READ: &str = "query($n: String!) { contract(number: $n) { number status company { name } products { productCode serialNumber seats } members { totalCount } auditLog { totalCount } supportCases { totalCount } } }";
    let nothing = app.data(Some(&rep), READ, json!({ "n": c.number })).await;
    assert_eq!(nothing["contract"], Value::Null);
    let list = app
        .data(
            Some(&rep),
            "{ viewer { contracts { totalCount } } }",
            json!({}),
        )
        .await;
    assert_eq!(list["viewer"]["contracts"]["totalCount"], 0);

    let set = |yes: bool| {
        app.data(
            Some(&cm),
            SET_RESELLER,
            json!({ "input": { "contractId": c.id, "resellerId": rid, "canViewCases": yes } }),
        )
    };
    let on = set(true).await;
    assert_eq!(
        on["setResellerCaseAccess"]["resellerCaseAccess"],
        json!([{ "reseller": { "name": "Partner GmbH" }, "canViewCases": true }])
    );
    let seen = app.data(Some(&rep), READ, json!({ "n": c.number })).await;
    let contract = &seen["contract"];
    assert_eq!(contract["number"], c.number.as_str());
    assert_eq!(contract["company"]["name"], "CASE-1 Inc.");
    assert_eq!(
        contract["products"],
        json!([{ "productCode": "ACAD", "serialNumber": null, "seats": null }])
    );
    assert_eq!(contract["status"], Value::Null);
    assert_eq!(contract["members"], Value::Null);
    assert_eq!(contract["auditLog"], Value::Null);
    assert_eq!(contract["supportCases"]["totalCount"], 1);
    let list = app
        .data(
            Some(&rep),
            "{ viewer { contracts { totalCount } } }",
            json!({}),
        )
        .await;
    assert_eq!(list["viewer"]["contracts"]["totalCount"], 1);

    // Every write is refused.
    let before = app.snapshot().await;
    let writes = [
        (
            CREATE_CASE,
            json!({ "input": { "contractId": c.id, "subject": "x", "description": "y" } }),
        ),
        (
            SET_RESELLER,
            json!({ "input": { "contractId": c.id, "resellerId": rid, "canViewCases": true } }),
        ),
        (
            roster_tests::ADD_USERS,
            json!({ "input": { "contractId": c.id, "users": [{ "email": "x@partner.example", "firstName": "X", "lastName": "Y" }] } }),
        ),
        (
            roster_tests::SET_ACCESS,
            json!({ "input": { "contractId": c.id, "userIds": [], "grant": { "webSupport": true } } }),
        ),
    ];
    for (query, vars) in writes {
        let r = app.gql(Some(&rep), query, vars).await;
        assert_eq!(
            r["errors"][0]["extensions"]["code"], "FORBIDDEN",
            "{query}: {r}"
        );
    }
    assert_eq!(app.snapshot().await, before);

    set(false).await;
    let gone = app.data(Some(&rep), READ, json!({ "n": c.number })).await;
    assert_eq!(gone["contract"], Value::Null);
    app.stop().await;
}

/// R15: on an AUTO contract the Contract Manager cannot change.
async fn r15_contract_manager_change_is_refused_on_auto_contracts(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (c, cm) = setup(&app, "AUTO").await;
    let before = app.snapshot().await;
    let r = app
        .data(Some(&cm), REQUEST_CM, json!({ "input": { "contractId": c.id, "newManager": { "email": "next@case.example", "firstName": "Next", "lastName": "One" } } }))
        .await;
    assert_eq!(
        r["requestContractManagerChange"]["userErrors"][0]["code"],
        "AUTO_RENEW_CONTRACT"
    );
    assert_eq!(app.snapshot().await, before);
    app.stop().await;
}

/// R15, R16: the request waits for staff; on approval the role moves in one step, the old CM
/// stays as a user with their access, both get an email, effective SCs follow.
async fn r16_contract_manager_change_waits_for_staff_then_moves_at_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (c, cm) = setup(&app, "MANUAL").await;
    // A user may not ask on another's behalf.
    app.add_users(&cm, &c, &["u@case.example"], json!(null))
        .await;
    app.drain().await;
    let u = app.activate("u@case.example", PASSWORD).await;
    let refused = app
        .gql(Some(&u), REQUEST_CM, json!({ "input": { "contractId": c.id, "newManager": { "email": "other@case.example", "firstName": "O", "lastName": "T" } } }))
        .await;
    assert_eq!(refused["errors"][0]["extensions"]["code"], "FORBIDDEN");

    let req = app
        .data(Some(&cm), REQUEST_CM, json!({ "input": { "contractId": c.id, "newManager": { "email": "next@case.example", "firstName": "Nia", "lastName": "Next" }, "reason": "I am leaving the company." } }))
        .await;
    let case = &req["requestContractManagerChange"]["supportCase"];
    assert_eq!(case["status"], "OPEN");
    let case_gid = case["id"].as_str().unwrap().to_string();
    let managers = || async {
        let rows: Vec<(String,)> = sqlx::query_as("SELECT u.email FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.is_manager = 1")
            .fetch_all(app.store.pool())
            .await
            .unwrap();
        rows.into_iter().map(|r| r.0).collect::<Vec<_>>()
    };
    assert_eq!(
        managers().await,
        ["cm@case.example"],
        "nothing moves before staff approve"
    );

    // Customers cannot approve.
    let not_staff = app
        .gql(
            Some(&cm),
            RESOLVE_CM,
            json!({ "input": { "supportCaseId": case_gid, "approve": true } }),
        )
        .await;
    assert_eq!(not_staff["errors"][0]["extensions"]["code"], "FORBIDDEN");

    let done = app
        .staff(
            RESOLVE_CM,
            json!({ "input": { "supportCaseId": case_gid, "approve": true } }),
        )
        .await;
    let payload = &done["resolveContractManagerChange"];
    assert_eq!(payload["userErrors"], json!([]), "{done}");
    assert_eq!(payload["supportCase"]["status"], "RESOLVED");
    assert_eq!(managers().await, ["next@case.example"]);
    let again = app
        .staff(
            RESOLVE_CM,
            json!({ "input": { "supportCaseId": case_gid, "approve": true } }),
        )
        .await;
    assert_eq!(
        again["resolveContractManagerChange"]["userErrors"][0]["code"],
        "INVALID_INPUT"
    );

    app.drain().await;
    for who in ["cm@case.example", "next@case.example"] {
        let mails = app.mails_to(who, "contract-manager-changed").await;
        assert_eq!(mails.len(), 1, "{who}");
        assert!(mails[0].text.contains("next@case.example"));
    }
    let next = app.activate("next@case.example", PASSWORD).await;
    let view = app
        .data(Some(&next), "query($n: String!) { contract(number: $n) { contractManager { email } products { effectiveSoftwareCoordinator { email } } members { edges { node { user { email } roles access { contractProducts { productCode } } } } } } }", json!({ "n": c.number }))
        .await;
    let contract = &view["contract"];
    assert_eq!(contract["contractManager"]["email"], "next@case.example");
    assert_eq!(
        contract["products"][0]["effectiveSoftwareCoordinator"]["email"],
        "next@case.example"
    );
    let old = contract["members"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["node"]["user"]["email"] == "cm@case.example")
        .unwrap();
    assert_eq!(
        old["node"]["roles"],
        json!(["USER"]),
        "the old CM stays as a User"
    );
    assert_eq!(
        old["node"]["access"]["contractProducts"],
        json!([{ "productCode": "ACAD" }]),
        "with the access they had"
    );

    // The proposed person may ask for themself; staff may decline.
    let self_req = app
        .data(Some(&u), REQUEST_CM, json!({ "input": { "contractId": c.id, "newManager": { "email": "u@case.example", "firstName": "U", "lastName": "Ser" } } }))
        .await;
    let gid = self_req["requestContractManagerChange"]["supportCase"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let declined = app
        .staff(
            RESOLVE_CM,
            json!({ "input": { "supportCaseId": gid, "approve": false } }),
        )
        .await;
    assert_eq!(
        declined["resolveContractManagerChange"]["supportCase"]["status"],
        "CLOSED"
    );
    assert_eq!(managers().await, ["next@case.example"]);
    app.stop().await;
}

const ASSIGN_SC: &str = "mutation($input: AssignSoftwareCoordinatorInput!) { assignSoftwareCoordinator(input: $input) { userErrors { code field message } } }";

fn person(email: &str) -> Value {
    json!({ "email": email, "firstName": "Pro", "lastName": "Posed" })
}

async fn support_cases(app: &TestApp) -> i64 {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM support_cases")
        .fetch_one(app.store.pool())
        .await
        .unwrap();
    n
}

/// Creates a reseller with one signed-in user; returns the reseller's ID and the user's token.
async fn reseller_with_user(app: &TestApp, name: &str, email: &str) -> (String, String) {
    let created = app
        .staff(
            "mutation($n: String!) { createReseller(input: {name: $n}) { reseller { id } } }",
            json!({ "n": name }),
        )
        .await;
    let rid = created["createReseller"]["reseller"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.staff(
        "mutation($r: ID!, $p: PersonInput!) { addResellerUser(input: {resellerId: $r, person: $p}) { userErrors { code } } }",
        json!({ "r": rid, "p": person(email) }),
    )
    .await;
    app.drain().await;
    let token = app.activate(email, PASSWORD).await;
    (rid, token)
}

/// R15: proposing yourself as the new CM is a policy action like any other. A signed-in user
/// of another company and a reseller's user (whose reseller may not read the cases) get, on an
/// AUTO and on a MANUAL contract, exactly the answer a contract that does not exist gets: no
/// case, no email, and no hint of the renewal kind. A reseller that may read the cases, and
/// staff, are refused (FORBIDDEN); a member (here an SC) may still propose themself.
async fn r15_a_stranger_cannot_propose_themself_as_contract_manager(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let auto = app
        .contract(
            "AUTO-1",
            "cm@auto.example",
            "ADVANCED",
            "AUTO",
            &[("ACAD", 5)],
        )
        .await;
    let manual = app
        .contract(
            "MANUAL-1",
            "cm@manual.example",
            "ADVANCED",
            "MANUAL",
            &[("ACAD", 5)],
        )
        .await;
    app.contract(
        "OTHER-1",
        "boss@other.example",
        "BASIC",
        "MANUAL",
        &[("MAYA", 2)],
    )
    .await;
    let other_company = app.activate("boss@other.example", PASSWORD).await;
    let (_, rep_without) = reseller_with_user(&app, "Quiet Partner", "rep@quiet.example").await;
    let (viewing, rep_viewing) =
        reseller_with_user(&app, "Viewing Partner", "rep@viewing.example").await;
    let mut cms = Vec::new();
    for (c, cm_email) in [(&auto, "cm@auto.example"), (&manual, "cm@manual.example")] {
        app.attach_reseller(c, &viewing).await;
        let cm = app.activate(cm_email, PASSWORD).await;
        app.data(
            Some(&cm),
            SET_RESELLER,
            json!({ "input": { "contractId": c.id, "resellerId": viewing, "canViewCases": true } }),
        )
        .await;
        cms.push(cm);
    }
    app.drain().await;

    let propose = |token: String, contract_id: String, email: &'static str| {
        let app = &app;
        async move {
            app.gql(
                Some(&token),
                REQUEST_CM,
                json!({ "input": { "contractId": contract_id, "newManager": person(email), "reason": "The CM left." } }),
            )
            .await
        }
    };
    let nowhere =
        roster_api::graphql::ids::encode(roster_api::graphql::ids::Kind::Contract, 999_999).0;
    let before = app.snapshot().await;
    let cases_before = support_cases(&app).await;
    let mails_before = app.mails().await.len();
    for (who, token, email) in [
        (
            "another company's user",
            &other_company,
            "boss@other.example",
        ),
        ("a reseller's user", &rep_without, "rep@quiet.example"),
    ] {
        let missing = propose(token.clone(), nowhere.clone(), email).await;
        assert_eq!(
            missing["data"]["requestContractManagerChange"]["userErrors"],
            json!([{ "code": "NOT_FOUND", "field": ["input", "contractId"], "message": "contract not found" }]),
            "{who} on a contract that does not exist: {missing}"
        );
        for c in [&auto, &manual] {
            let r = propose(token.clone(), c.id.clone(), email).await;
            assert_eq!(
                r, missing,
                "{who} proposing themself on {} is told what a missing contract tells",
                c.number
            );
        }
    }
    // A reseller that reads the cases knows the contract exists, and may only read.
    for c in [&auto, &manual] {
        let r = propose(rep_viewing.clone(), c.id.clone(), "rep@viewing.example").await;
        assert_eq!(r["errors"][0]["extensions"]["code"], "FORBIDDEN", "{r}");
        assert_eq!(
            r["data"]["requestContractManagerChange"],
            Value::Null,
            "{r}"
        );
        // Staff approve the change; they do not ask for it.
        let r = propose(app.staff_key.clone(), c.id.clone(), "cm@auto.example").await;
        assert_eq!(r["errors"][0]["extensions"]["code"], "FORBIDDEN", "{r}");
    }
    assert_eq!(app.snapshot().await, before, "nothing changed");
    assert_eq!(support_cases(&app).await, cases_before, "no case opened");
    app.drain().await;
    assert_eq!(app.mails().await.len(), mails_before, "no email sent");

    // A member may: an SC taking over (before accepting the coordinator terms, even). The
    // SC is named on one contract and activated before the second, so that only one Get
    // Started email carries an activation link.
    let mut sc = None;
    for (c, cm) in [&manual, &auto].into_iter().zip(cms.iter().rev()) {
        let assigned = app
            .data(
                Some(cm),
                ASSIGN_SC,
                json!({ "input": { "contractId": c.id, "contractProductIds": [c.product("ACAD")], "coordinator": person("sc@case.example") } }),
            )
            .await;
        assert_eq!(
            assigned["assignSoftwareCoordinator"]["userErrors"],
            json!([])
        );
        app.drain().await;
        if sc.is_none() {
            sc = Some(app.activate("sc@case.example", PASSWORD).await);
        }
    }
    let sc = sc.unwrap();
    let on_auto = propose(sc.clone(), auto.id.clone(), "sc@case.example").await;
    assert_eq!(
        on_auto["data"]["requestContractManagerChange"]["userErrors"][0]["code"],
        "AUTO_RENEW_CONTRACT",
        "a member is told why: {on_auto}"
    );
    let on_manual = propose(sc, manual.id.clone(), "sc@case.example").await;
    let payload = &on_manual["data"]["requestContractManagerChange"];
    assert_eq!(payload["userErrors"], json!([]), "{on_manual}");
    assert_eq!(payload["supportCase"]["status"], "OPEN");
    app.drain().await;
    let received = app
        .mails_to("sc@case.example", "support-case-received")
        .await;
    assert_eq!(received.len(), 1);
    assert_eq!(
        received[0].contract.as_deref(),
        Some(manual.number.as_str())
    );
    app.stop().await;
}

/// R13, R14: on an ADVANCED contract the CM is a Named Caller by role, so a CM change stops
/// the old CM being one (they stay a User) and starts the new one: each gets one Permissions
/// Changed email saying what they now have. On a BASIC contract nobody is a Named Caller and
/// nothing else changes, so nobody gets one.
async fn r14_contract_manager_change_on_advanced_tells_both_about_named_caller(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let advanced = app
        .contract(
            "ADV-1",
            "cm@adv.example",
            "ADVANCED",
            "MANUAL",
            &[("ACAD", 5)],
        )
        .await;
    let basic = app
        .contract("BAS-1", "cm@bas.example", "BASIC", "MANUAL", &[("ACAD", 5)])
        .await;
    for (c, cm_email, next) in [
        (&advanced, "cm@adv.example", "next@adv.example"),
        (&basic, "cm@bas.example", "next@bas.example"),
    ] {
        let cm = app.activate(cm_email, PASSWORD).await;
        app.add_users(
            &cm,
            c,
            &[next],
            json!({ "contractProductIds": [c.product("ACAD")] }),
        )
        .await;
        let req = app
            .data(
                Some(&cm),
                REQUEST_CM,
                json!({ "input": { "contractId": c.id, "newManager": person(next) } }),
            )
            .await;
        let gid = req["requestContractManagerChange"]["supportCase"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        app.drain().await;
        let counts = || async {
            (
                app.mails_to(cm_email, "permissions-changed").await.len(),
                app.mails_to(next, "permissions-changed").await.len(),
            )
        };
        let before = counts().await;
        let done = app
            .staff(
                RESOLVE_CM,
                json!({ "input": { "supportCaseId": gid, "approve": true } }),
            )
            .await;
        assert_eq!(
            done["resolveContractManagerChange"]["userErrors"],
            json!([]),
            "{done}"
        );
        app.drain().await;
        let after = counts().await;
        if c.number == basic.number {
            assert_eq!(after, before, "BASIC: no Named Callers, nothing to tell");
            continue;
        }
        assert_eq!(after, (before.0 + 1, before.1 + 1), "one email each");
        let old = app.mails_to(cm_email, "permissions-changed").await;
        let old = old.last().unwrap();
        assert_eq!(old.contract.as_deref(), Some(c.number.as_str()));
        assert!(
            !old.text.contains("Named Caller"),
            "the old CM is no longer a Named Caller: {}",
            old.text
        );
        assert!(old.text.contains("ACAD product"), "{}", old.text);
        let new = app.mails_to(next, "permissions-changed").await;
        let new = new.last().unwrap();
        assert!(
            new.text.contains("Named Caller"),
            "the new CM is a Named Caller: {}",
            new.text
        );
        assert!(new.text.contains("ACAD product"), "{}", new.text);
        // The member list agrees.
        let token = app.activate(next, PASSWORD).await;
        let view = app
            .data(Some(&token), "query($n: String!) { contract(number: $n) { ncs: members(filter: {role: NAMED_CALLER}) { edges { node { user { email } } } } } }", json!({ "n": c.number }))
            .await;
        assert_eq!(
            view["contract"]["ncs"]["edges"],
            json!([{ "node": { "user": { "email": next } } }])
        );
    }
    app.stop().await;
}

/// Opens a case, subscribes to the contract's case updates on the API at `url` as the
/// Contract Manager, resolves the case through `app` (again and again until the subscription,
/// which starts asynchronously, is live) and checks that the update arrives.
async fn resolved_case_reaches(app: &TestApp, cm: &str, c: &ContractRef, url: &str) {
    let opened = open_case(app, cm, c, "Websocket case").await;
    let case_gid = opened["data"]["createSupportCase"]["supportCase"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (mut ws, ack) = Socket::connect(url, Some(cm)).await;
    assert_eq!(ack.unwrap()["type"], "connection_ack");
    ws.subscribe(
        "1",
        "subscription($c: ID!) { supportCaseUpdated(contractId: $c) { caseId status } }",
        json!({ "c": c.id }),
    )
    .await;
    let mut got = None;
    for _ in 0..50 {
        app.staff(
            UPDATE_CASE,
            json!({ "input": { "supportCaseId": case_gid, "status": "RESOLVED" } }),
        )
        .await;
        if let Ok(msg) = tokio::time::timeout(Duration::from_millis(200), ws.next_json()).await {
            got = Some(msg.expect("the socket stays open"));
            break;
        }
    }
    let msg = got.expect("an update arrived");
    assert_eq!(msg["type"], "next", "{msg}");
    assert_eq!(
        msg["payload"]["data"]["supportCaseUpdated"]["status"],
        "RESOLVED"
    );
}

/// Subscriptions: a case update reaches a subscriber over a real websocket, and a reseller
/// without access cannot subscribe.
async fn support_case_updates_arrive_over_a_websocket(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (c, cm) = setup(&app, "MANUAL").await;
    resolved_case_reaches(&app, &cm, &c, &app.url).await;

    // Someone who may not read the cases gets an error, not a stream.
    app.add_users(&cm, &c, &["plain@case.example"], json!(null))
        .await;
    app.drain().await;
    let plain = app.activate("plain@case.example", PASSWORD).await;
    let (mut ws2, ack) = Socket::connect(&app.url, Some(&plain)).await;
    assert_eq!(ack.unwrap()["type"], "connection_ack");
    ws2.subscribe(
        "1",
        "subscription($c: ID!) { supportCaseUpdated(contractId: $c) { caseId } }",
        json!({ "c": c.id }),
    )
    .await;
    let refused = ws2.next_json().await.expect("an answer");
    assert_eq!(refused["payload"]["data"], Value::Null, "{refused}");
    assert_eq!(
        refused["payload"]["errors"][0]["message"], "contract not found",
        "{refused}"
    );
    app.stop().await;
}

/// Production runs several API processes: a subscriber connected to one hears a case
/// updated through another (events travel through Redis pub/sub).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn support_case_updates_reach_subscribers_of_every_api_process() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let (c, cm) = setup(&app, "MANUAL").await;
    let mut settings = app.worker_settings("second-api");
    settings.listen = Some("127.0.0.1:0".into());
    let roster = env!("CARGO_BIN_EXE_roster-proc");
    let second = RosterProcess::start(roster, "second-api", &settings, &["serve"]).await;
    let second_url = format!("http://{}", second.addr.unwrap());
    resolved_case_reaches(&app, &cm, &c, &second_url).await;
    assert!(second.stop().await, "the second API process stops cleanly");
    app.stop().await;
}

both_backends!(
    r17_web_support_users_open_cases_everyone_with_web_support_sees,
    r17_case_search,
    r18_reseller_reads_cases_only_while_allowed,
    r15_contract_manager_change_is_refused_on_auto_contracts,
    r16_contract_manager_change_waits_for_staff_then_moves_at_once,
    r15_a_stranger_cannot_propose_themself_as_contract_manager,
    r14_contract_manager_change_on_advanced_tells_both_about_named_caller,
    support_case_updates_arrive_over_a_websocket,
);
