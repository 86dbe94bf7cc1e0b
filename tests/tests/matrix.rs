//! The capability matrix of DOMAIN.md, end to end: every operation by every kind of actor,
//! against the policy's expected answer; every refusal changes zero rows.

use roster_tests::ws::Socket;
use roster_tests::{Backend, ContractRef, TestApp, both_backends};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const PASSWORD: &str = "correct horse battery";

/// What the API answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Allowed,
    Forbidden,
    NotFound,
    Unauthenticated,
    TermsNotAccepted,
}
use Answer::*;

fn classify(resp: &Value) -> Answer {
    if let Some(code) = resp["errors"][0]["extensions"]["code"].as_str() {
        return match code {
            "UNAUTHENTICATED" => Unauthenticated,
            "FORBIDDEN" => Forbidden,
            other => panic!("unexpected top-level error {other}: {resp}"),
        };
    }
    assert!(resp.get("errors").is_none(), "unexpected errors: {resp}");
    let payload = resp["data"].as_object().unwrap().values().next().unwrap();
    match payload["userErrors"][0]["code"].as_str() {
        Some("NOT_FOUND")
            if payload["userErrors"][0]["field"] == json!(["input", "contractId"])
                || payload["userErrors"][0]["field"] == json!(["input", "supportCaseId"]) =>
        {
            NotFound
        }
        Some("TERMS_NOT_ACCEPTED") => TermsNotAccepted,
        _ => Allowed,
    }
}

const ACTORS: [&str; 10] = [
    "cm",
    "sc_acad",
    "sc_revit",
    "sc_no_terms",
    "user",
    "named_caller",
    "reseller",
    "staff",
    "other_cm",
    "anonymous",
];

async fn capability_matrix(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let c = app
        .contract(
            "MTX-1",
            "cm@mtx.example",
            "ADVANCED",
            "MANUAL",
            &[("ACAD", 10), ("REVIT", 10), ("VIEW", 10)],
        )
        .await;
    let other = app
        .contract(
            "MTX-2",
            "other@else.example",
            "ADVANCED",
            "MANUAL",
            &[("ACAD", 5)],
        )
        .await;
    let _ = other;
    let cm = app.activate("cm@mtx.example", PASSWORD).await;
    let person = |e: &str| json!({ "email": e, "firstName": "F", "lastName": "L" });
    for (code, email) in [
        ("ACAD", "sca@mtx.example"),
        ("REVIT", "scr@mtx.example"),
        ("VIEW", "scv@mtx.example"),
    ] {
        let r = app
            .data(Some(&cm), "mutation($i: AssignSoftwareCoordinatorInput!) { assignSoftwareCoordinator(input: $i) { userErrors { code } } }", json!({ "i": { "contractId": c.id, "contractProductIds": [c.product(code)], "coordinator": person(email) } }))
            .await;
        assert_eq!(r["assignSoftwareCoordinator"]["userErrors"], json!([]));
    }
    app.add_users(
        &cm,
        &c,
        &["user@mtx.example", "nc@mtx.example"],
        json!({ "contractProductIds": [c.product("ACAD")] }),
    )
    .await;
    app.add_users(
        &cm,
        &c,
        &[
            "victim@mtx.example",
            "victim2@mtx.example",
            "victim3@mtx.example",
            "victim4@mtx.example",
        ],
        json!(null),
    )
    .await;
    let nc_id = app.user_id("nc@mtx.example").await;
    app.data(
        Some(&cm),
        "mutation($i: NamedCallersInput!) { addNamedCallers(input: $i) { userErrors { code } } }",
        json!({ "i": { "contractId": c.id, "userIds": [nc_id] } }),
    )
    .await;
    let reseller = app
        .staff(
            "mutation { createReseller(input: {name: \"Partner\"}) { reseller { id } } }",
            json!({}),
        )
        .await;
    let rid = reseller["createReseller"]["reseller"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.staff("mutation($r: ID!) { addResellerUser(input: {resellerId: $r, person: {email: \"rep@partner.example\", firstName: \"R\", lastName: \"P\"}}) { userErrors { code } } }", json!({ "r": rid })).await;
    // R18 (amended): View Cases only for the reseller the contract was bought through.
    app.attach_reseller(&c, &rid).await;
    app.data(Some(&cm), "mutation($i: SetResellerCaseAccessInput!) { setResellerCaseAccess(input: $i) { userErrors { code } } }", json!({ "i": { "contractId": c.id, "resellerId": rid, "canViewCases": true } })).await;
    let case = app
        .data(Some(&cm), "mutation($i: CreateSupportCaseInput!) { createSupportCase(input: $i) { supportCase { id } } }", json!({ "i": { "contractId": c.id, "subject": "s", "description": "d" } }))
        .await;
    let case_id = case["createSupportCase"]["supportCase"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.drain().await;

    let mut tokens = std::collections::BTreeMap::new();
    tokens.insert("cm", Some(cm.clone()));
    for (actor, email) in [
        ("sc_acad", "sca@mtx.example"),
        ("sc_revit", "scr@mtx.example"),
        ("sc_no_terms", "scv@mtx.example"),
        ("user", "user@mtx.example"),
        ("named_caller", "nc@mtx.example"),
        ("reseller", "rep@partner.example"),
        ("other_cm", "other@else.example"),
    ] {
        tokens.insert(actor, Some(app.activate(email, PASSWORD).await));
    }
    for actor in ["sc_acad", "sc_revit"] {
        app.data(
            tokens[actor].as_deref(),
            "mutation { acceptTerms(input: {kind: COORDINATOR}) { userErrors { code } } }",
            json!({}),
        )
        .await;
    }
    tokens.insert("staff", Some(app.staff_key.clone()));
    tokens.insert("anonymous", None);

    let victim = app.user_id("victim@mtx.example").await;
    let victim2 = app.user_id("victim2@mtx.example").await;
    let victim3 = app.user_id("victim3@mtx.example").await;
    let victim4 = app.user_id("victim4@mtx.example").await;
    let acad = c.product("ACAD");
    let view = c.product("VIEW");

    // (name, document, variables, expected answer per actor in ACTORS order)
    let admin_all_sc = [
        Allowed,
        Allowed,
        Allowed,
        TermsNotAccepted,
        Forbidden,
        Forbidden,
        Forbidden,
        Forbidden,
        NotFound,
        Unauthenticated,
    ];
    let admin_acad = [
        Allowed,
        Allowed,
        Forbidden,
        Forbidden,
        Forbidden,
        Forbidden,
        Forbidden,
        Forbidden,
        NotFound,
        Unauthenticated,
    ];
    let cm_only = [
        Allowed,
        Forbidden,
        Forbidden,
        Forbidden,
        Forbidden,
        Forbidden,
        Forbidden,
        Forbidden,
        NotFound,
        Unauthenticated,
    ];
    let staff_only = [
        Forbidden,
        Forbidden,
        Forbidden,
        Forbidden,
        Forbidden,
        Forbidden,
        Forbidden,
        Allowed,
        Forbidden,
        Unauthenticated,
    ];
    let web_support = [
        Allowed,
        Allowed,
        Allowed,
        Allowed,
        Forbidden,
        Forbidden,
        Forbidden,
        Forbidden,
        NotFound,
        Unauthenticated,
    ];
    // R34: the submitter (the CM here), whoever may see the cases, and staff; never a reseller.
    let case_comment = [
        Allowed,
        Allowed,
        Allowed,
        Allowed,
        Forbidden,
        Forbidden,
        Forbidden,
        Allowed,
        NotFound,
        Unauthenticated,
    ];
    let operations: Vec<(&str, &str, Value, [Answer; 10])> = vec![
        (
            "assignSoftwareCoordinator",
            "mutation($i: AssignSoftwareCoordinatorInput!) { assignSoftwareCoordinator(input: $i) { userErrors { code field } } }",
            json!({ "i": { "contractId": c.id, "contractProductIds": [acad], "coordinator": person("sca@mtx.example") } }),
            cm_only,
        ),
        (
            "removeSoftwareCoordinator",
            "mutation($i: RemoveSoftwareCoordinatorInput!) { removeSoftwareCoordinator(input: $i) { userErrors { code field } } }",
            json!({ "i": { "contractId": c.id, "contractProductIds": [] } }),
            cm_only,
        ),
        (
            "addUsers with ACAD",
            "mutation($i: AddUsersInput!) { addUsers(input: $i) { userErrors { code field } } }",
            json!({ "i": { "contractId": c.id, "users": [person("new@mtx.example")], "access": { "contractProductIds": [acad] }, "dryRun": true } }),
            admin_acad,
        ),
        (
            "setUserAccess grant ACAD",
            "mutation($i: SetUserAccessInput!) { setUserAccess(input: $i) { userErrors { code field } } }",
            json!({ "i": { "contractId": c.id, "userIds": [victim], "grant": { "contractProductIds": [acad] } } }),
            admin_acad,
        ),
        (
            "setUserAccess grant Web Support",
            "mutation($i: SetUserAccessInput!) { setUserAccess(input: $i) { userErrors { code field } } }",
            json!({ "i": { "contractId": c.id, "userIds": [victim2], "grant": { "webSupport": true } } }),
            admin_all_sc,
        ),
        (
            "addNamedCallers",
            "mutation($i: NamedCallersInput!) { addNamedCallers(input: $i) { userErrors { code field } } }",
            json!({ "i": { "contractId": c.id, "userIds": [victim] } }),
            admin_all_sc,
        ),
        (
            "removeNamedCallers",
            "mutation($i: NamedCallersInput!) { removeNamedCallers(input: $i) { userErrors { code field } } }",
            json!({ "i": { "contractId": c.id, "userIds": [victim2] } }),
            admin_all_sc,
        ),
        (
            "setResellerCaseAccess",
            "mutation($i: SetResellerCaseAccessInput!) { setResellerCaseAccess(input: $i) { userErrors { code field } } }",
            json!({ "i": { "contractId": c.id, "resellerId": rid, "canViewCases": true } }),
            admin_all_sc,
        ),
        (
            "removeUser",
            "mutation($i: RemoveUserInput!) { removeUser(input: $i) { userErrors { code field } } }",
            json!({ "i": { "contractId": c.id, "userId": victim3 } }),
            admin_all_sc,
        ),
        (
            "createSupportCase",
            "mutation($i: CreateSupportCaseInput!) { createSupportCase(input: $i) { userErrors { code field } } }",
            json!({ "i": { "contractId": c.id, "subject": "s", "description": "d", "contractProductId": view } }),
            web_support,
        ),
        (
            "processOrder",
            roster_tests::PROCESS_ORDER,
            json!({ "input": roster_tests::order_input("MTX-1", "cm@mtx.example", "ADVANCED", "MANUAL", json!([{ "productCode": "ACAD", "productName": "ACAD product", "seats": 10 }])) }),
            staff_only,
        ),
        (
            "updateSupportCase",
            "mutation($i: UpdateSupportCaseInput!) { updateSupportCase(input: $i) { userErrors { code field } } }",
            json!({ "i": { "supportCaseId": case_id, "comment": "noted" } }),
            staff_only,
        ),
        (
            "resolveContractManagerChange",
            "mutation($i: ResolveContractManagerChangeInput!) { resolveContractManagerChange(input: $i) { userErrors { code field } } }",
            json!({ "i": { "supportCaseId": case_id, "approve": false } }),
            staff_only,
        ),
        // Issue 16 (R31, R32).
        (
            "processAddOnOrder",
            "mutation($i: ProcessAddOnOrderInput!) { processAddOnOrder(input: $i) { userErrors { code field } } }",
            json!({ "i": { "contractId": c.id, "orderNumber": "MTX-AO-1", "products": [{ "productCode": "ACAD", "productName": "ACAD product", "seats": 1 }] } }),
            staff_only,
        ),
        (
            "setSeatCount",
            "mutation($i: SetSeatCountInput!) { setSeatCount(input: $i) { userErrors { code field } } }",
            json!({ "i": { "contractProductId": acad, "seats": 12 } }),
            staff_only,
        ),
        (
            "correctMember",
            "mutation($i: CorrectMemberInput!) { correctMember(input: $i) { userErrors { code field } } }",
            json!({ "i": { "contractId": c.id, "userId": victim4, "firstName": "Victor" } }),
            admin_all_sc,
        ),
        // Added for R34 and R36 (issue 17).
        (
            "addSupportCaseComment",
            "mutation($i: AddSupportCaseCommentInput!) { addSupportCaseComment(input: $i) { userErrors { code field } } }",
            json!({ "i": { "supportCaseId": case_id, "body": "a comment" } }),
            case_comment,
        ),
        (
            "addCloudCredits",
            "mutation($i: AddCloudCreditsInput!) { addCloudCredits(input: $i) { userErrors { code field } } }",
            json!({ "i": { "contractId": c.id, "orderNumber": "CC-MTX-1", "credits": 100 } }),
            staff_only,
        ),
        (
            "recordCloudUsage",
            "mutation($i: RecordCloudUsageInput!) { recordCloudUsage(input: $i) { userErrors { code field } } }",
            json!({ "i": { "contractId": c.id, "userId": victim, "service": "Rendering", "credits": 1 } }),
            staff_only,
        ),
    ];

    let mut cases_run = 0;
    for (name, doc, vars, expected) in &operations {
        for (actor, want) in ACTORS.iter().zip(expected.iter()) {
            let before = app.snapshot().await;
            let resp = app.gql(tokens[actor].as_deref(), doc, vars.clone()).await;
            let got = classify(&resp);
            assert_eq!(got, *want, "{name} by {actor}: {resp}");
            if got != Allowed {
                assert_eq!(
                    app.snapshot().await,
                    before,
                    "{name} by {actor} was refused but changed rows"
                );
            }
            cases_run += 1;
        }
    }

    // R33: viewerCan says, without trying, what trying the matching mutation answered.
    const CAN: &str = "query($n: String!) { contract(number: $n) { viewerCan { manageMembers manageCoordinators manageNamedCallers manageResellerAccess openCases } } }";
    let pairs = [
        ("manageMembers", "correctMember"),
        ("manageMembers", "removeUser"),
        ("manageCoordinators", "assignSoftwareCoordinator"),
        ("manageNamedCallers", "addNamedCallers"),
        ("manageResellerAccess", "setResellerCaseAccess"),
        ("openCases", "createSupportCase"),
    ];
    for (i, actor) in ACTORS.iter().enumerate() {
        if *actor == "anonymous" {
            continue;
        }
        let resp = app
            .gql(tokens[actor].as_deref(), CAN, json!({ "n": c.number }))
            .await;
        let can = &resp["data"]["contract"]["viewerCan"];
        for (flag, op) in pairs {
            let (_, _, _, answers) = operations.iter().find(|o| o.0 == op).unwrap();
            assert_eq!(
                can[flag].as_bool().unwrap_or(false),
                answers[i] == Allowed,
                "{actor}: viewerCan.{flag} against {op}: {resp}"
            );
        }
    }

    // Reading: who sees members, serial numbers, the audit log and the cases.
    const READ: &str = "query($n: String!) { contract(number: $n) { members { totalCount } auditLog { totalCount } supportCases { totalCount } products { productCode serialNumber productKey seats } } }";
    // (members, audit, cases, ACAD serial)
    type Sees = Option<(bool, bool, bool, bool)>;
    let sees: [(&str, Sees); 10] = [
        ("cm", Some((true, true, true, true))),
        ("sc_acad", Some((true, true, true, true))),
        ("sc_revit", Some((true, true, true, false))),
        ("sc_no_terms", Some((true, true, true, false))),
        ("user", Some((false, false, false, true))),
        ("named_caller", Some((false, false, false, true))),
        ("reseller", Some((false, false, true, false))),
        ("staff", Some((true, true, true, true))),
        ("other_cm", None),
        ("anonymous", None),
    ];
    for (actor, expect) in sees {
        let resp = app
            .gql(tokens[actor].as_deref(), READ, json!({ "n": c.number }))
            .await;
        cases_run += 1;
        if actor == "anonymous" {
            assert_eq!(resp["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
            continue;
        }
        let contract = &resp["data"]["contract"];
        let Some((members, audit, cases, serial)) = expect else {
            assert_eq!(*contract, Value::Null, "{actor} must not find the contract");
            continue;
        };
        assert_eq!(
            !contract["members"].is_null(),
            members,
            "{actor} members: {resp}"
        );
        assert_eq!(!contract["auditLog"].is_null(), audit, "{actor} audit log");
        assert_eq!(!contract["supportCases"].is_null(), cases, "{actor} cases");
        let acad_row = contract["products"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["productCode"] == "ACAD")
            .unwrap();
        assert_eq!(
            !acad_row["serialNumber"].is_null(),
            serial,
            "{actor} serial number"
        );
        assert_eq!(
            !acad_row["productKey"].is_null(),
            serial,
            "{actor} product key"
        );
    }
    // R35, R36: phone support for Named Callers and admins (ADVANCED), credits for admins and
    // staff, one's own usage for members.
    const READ_SUPPORT: &str = "query($n: String!) { contract(number: $n) { phoneSupport { expressServiceId phoneNumbers } cloudCredits { balance } cloudUsage(groupBy: SERVICE) { key } viewerCloudUsage { key } } }";
    // (phone support, credits and usage, own usage)
    type SeesSupport = Option<(bool, bool, bool)>;
    let sees_support: [(&str, SeesSupport); 9] = [
        ("cm", Some((true, true, true))),
        ("sc_acad", Some((true, true, true))),
        ("sc_revit", Some((true, true, true))),
        ("sc_no_terms", Some((true, true, true))),
        ("user", Some((false, false, true))),
        ("named_caller", Some((true, false, true))),
        ("reseller", Some((false, false, false))),
        ("staff", Some((false, true, false))),
        ("other_cm", None),
    ];
    for (actor, expect) in sees_support {
        let data = app
            .data(
                tokens[actor].as_deref(),
                READ_SUPPORT,
                json!({ "n": c.number }),
            )
            .await;
        cases_run += 1;
        let contract = &data["contract"];
        let Some((phone, credits, own)) = expect else {
            assert_eq!(*contract, Value::Null, "{actor} must not find the contract");
            continue;
        };
        assert_eq!(
            !contract["phoneSupport"].is_null(),
            phone,
            "{actor} phoneSupport"
        );
        assert_eq!(
            !contract["cloudCredits"].is_null(),
            credits,
            "{actor} cloudCredits"
        );
        assert_eq!(
            !contract["cloudUsage"].is_null(),
            credits,
            "{actor} cloudUsage"
        );
        assert_eq!(
            !contract["viewerCloudUsage"].is_null(),
            own,
            "{actor} own usage"
        );
    }
    cases_run += exports_and_subscriptions(&app, &c, &tokens, &case_id, &victim).await;
    eprintln!("capability matrix: {cases_run} operation x actor cases on {backend:?}");
    app.stop().await;
}

/// Exports (R26: the members, for admins) and subscriptions (R17, R18: case updates for whoever
/// may read the cases; contract changes for whoever may read the contract), by every actor.
async fn exports_and_subscriptions(
    app: &TestApp,
    c: &ContractRef,
    tokens: &BTreeMap<&str, Option<String>>,
    case_id: &str,
    victim: &str,
) -> usize {
    // ViewMembers: admins (terms or not: reading is not an admin operation) and staff; other
    // readers of the contract are forbidden; strangers do not find it; no token is 401.
    let export: [u16; 10] = [200, 200, 200, 200, 403, 403, 403, 200, 404, 401];
    // ViewProductSecrets of ACAD, for those who download details.csv: as GraphQL's
    // `serialNumber` above, the SCs of other products (terms or not) see no ACAD key (R7).
    let acad_key_shown = [
        true, true, false, false, false, false, false, true, false, false,
    ];
    let products = app
        .staff(
            "query($n: String!) { contract(number: $n) { products { productCode productKey } } }",
            json!({ "n": c.number }),
        )
        .await;
    let acad_key = products["contract"]["products"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["productCode"] == "ACAD")
        .and_then(|p| p["productKey"].as_str())
        .unwrap()
        .to_string();
    let http = reqwest::Client::new();
    let mut cases_run = 0;
    // R36: the usage export asks ViewCloudUsage, which answers as ViewMembers for every actor.
    for file in ["users.csv", "users.xlsx", "details.csv", "cloud-usage.csv"] {
        for ((actor, want), key_shown) in ACTORS.iter().zip(export).zip(acad_key_shown) {
            let mut req = http.get(format!("{}/contracts/{}/{file}", app.url, c.number));
            if let Some(t) = tokens[actor].as_deref() {
                req = req.bearer_auth(t);
            }
            let resp = req.send().await.unwrap();
            let status = resp.status().as_u16();
            assert_eq!(status, want, "{file} by {actor}");
            if file == "details.csv" && status == 200 {
                let body = resp.text().await.unwrap();
                let acad_row = body
                    .lines()
                    .find(|l| l.starts_with("ACAD,"))
                    .unwrap_or_else(|| panic!("no ACAD row in details.csv by {actor}"));
                assert_eq!(
                    acad_row.contains(&acad_key),
                    key_shown,
                    "ACAD product key in details.csv by {actor}: {acad_row}"
                );
            }
            cases_run += 1;
        }
    }
    // (supportCaseUpdated: ViewCases, contractChanged: ViewContract), in ACTORS order. The
    // user and the Named Caller hold no Web Support.
    let streams: [(bool, bool); 10] = [
        (true, true),
        (true, true),
        (true, true),
        (true, true),
        (false, true),
        (false, true),
        (true, true),
        (true, true),
        (false, false),
        (false, false),
    ];
    let cm = tokens["cm"].clone().unwrap();
    for (actor, want) in ACTORS.iter().zip(streams) {
        let got =
            subscriptions_granted(app, tokens[actor].as_deref(), c, case_id, victim, &cm).await;
        assert_eq!(got, want, "subscriptions of {actor}");
        cases_run += 2;
    }
    cases_run
}

/// Subscribes to both streams of the contract and causes events until each has either
/// delivered one (granted) or answered with an error (refused).
async fn subscriptions_granted(
    app: &TestApp,
    token: Option<&str>,
    c: &ContractRef,
    case_id: &str,
    victim: &str,
    cm: &str,
) -> (bool, bool) {
    let (mut ws, ack) = Socket::connect(&app.url, token).await;
    if ack.is_none_or(|ack| ack["type"] != "connection_ack") {
        return (false, false);
    }
    for (id, query) in [
        (
            "cases",
            "subscription($c: ID!) { supportCaseUpdated(contractId: $c) { caseId } }",
        ),
        (
            "contract",
            "subscription($c: ID!) { contractChanged(contractId: $c) { __typename } }",
        ),
    ] {
        ws.subscribe(id, query, json!({ "c": c.id })).await;
    }
    let mut verdict: BTreeMap<String, bool> = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut web_support = true;
    while verdict.len() < 2 {
        assert!(
            Instant::now() < deadline,
            "no answer on both streams: {verdict:?}"
        );
        app.staff(
            "mutation($i: UpdateSupportCaseInput!) { updateSupportCase(input: $i) { userErrors { code } } }",
            json!({ "i": { "supportCaseId": case_id, "comment": "matrix" } }),
        )
        .await;
        let change = if web_support { "grant" } else { "revoke" };
        web_support = !web_support;
        app.data(
            Some(cm),
            "mutation($i: SetUserAccessInput!) { setUserAccess(input: $i) { userErrors { code } } }",
            json!({ "i": { "contractId": c.id, "userIds": [victim], change: { "webSupport": true } } }),
        )
        .await;
        while let Ok(Some(msg)) =
            tokio::time::timeout(Duration::from_millis(300), ws.next_json()).await
        {
            let Some(id) = msg["id"].as_str() else {
                continue;
            };
            let granted = match msg["type"].as_str() {
                Some("next") => {
                    msg["payload"].get("errors").is_none() && !msg["payload"]["data"].is_null()
                }
                Some("error") => false,
                _ => continue,
            };
            verdict.entry(id.to_string()).or_insert(granted);
        }
    }
    (verdict["cases"], verdict["contract"])
}

both_backends!(capability_matrix);
