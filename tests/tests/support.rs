//! Support, resellers and cloud credits as the seeds describe them (R18 amended, R34-R37).

use chrono::NaiveDate;
use roster_store::renewals::run_pass;
use roster_tests::ws::Socket;
use roster_tests::{Backend, ContractRef, PROCESS_ORDER, TestApp, both_backends, order_input};
use serde_json::{Value, json};
use std::time::Duration;

const PASSWORD: &str = "correct horse battery";
const CREATE_CASE: &str = "mutation($input: CreateSupportCaseInput!) { createSupportCase(input: $input) { supportCase { id caseId topic } userErrors { code field message } } }";
const COMMENT: &str = "mutation($input: AddSupportCaseCommentInput!) { addSupportCaseComment(input: $input) { supportCase { caseId comments { author { email staff } body at } } userErrors { code field message } } }";
const UPDATE_CASE: &str = "mutation($input: UpdateSupportCaseInput!) { updateSupportCase(input: $input) { supportCase { status } userErrors { code field message } } }";
const SET_RESELLER: &str = "mutation($input: SetResellerCaseAccessInput!) { setResellerCaseAccess(input: $input) { resellerCaseAccess { reseller { name } canViewCases } userErrors { code field message } } }";
const ADD_CREDITS: &str = "mutation($input: AddCloudCreditsInput!) { addCloudCredits(input: $input) { cloudCredits { balance used } userErrors { code field message } } }";
const USE_CREDITS: &str = "mutation($input: RecordCloudUsageInput!) { recordCloudUsage(input: $input) { cloudCredits { balance used } userErrors { code field message } } }";

async fn reseller_with_user(app: &TestApp, name: &str, email: &str) -> String {
    let created = app
        .staff(
            "mutation($n: String!) { createReseller(input: {name: $n, email: \"sales@partner.example\", phone: \"+49 30 1234567\", website: \"https://partner.example\"}) { reseller { id } userErrors { code } } }",
            json!({ "n": name }),
        )
        .await;
    let rid = created["createReseller"]["reseller"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{created}"))
        .to_string();
    app.staff(
        "mutation($r: ID!, $p: PersonInput!) { addResellerUser(input: {resellerId: $r, person: $p}) { userErrors { code } } }",
        json!({ "r": rid, "p": { "email": email, "firstName": "Rita", "lastName": "Rep" } }),
    )
    .await;
    rid
}

/// A contract bought through a new reseller (whose user is `rep@partner.example`).
async fn contract_through_reseller(app: &TestApp, support: &str) -> (ContractRef, String, String) {
    let rid = reseller_with_user(app, "Partner GmbH", "rep@partner.example").await;
    let mut input = order_input(
        "SUP-1",
        "cm@sup.example",
        support,
        "RESELLER",
        json!([{ "productCode": "ACAD", "productName": "ACAD product", "seats": 10 }]),
    );
    input["resellerId"] = json!(rid);
    let placed = app.staff(PROCESS_ORDER, json!({ "input": input })).await;
    let c = &placed["processOrder"]["contract"];
    assert!(c.is_object(), "{placed}");
    app.drain().await;
    let contract = ContractRef {
        id: c["id"].as_str().unwrap().to_string(),
        number: c["number"].as_str().unwrap().to_string(),
        products: [(
            "ACAD".to_string(),
            c["products"][0]["id"].as_str().unwrap().to_string(),
        )]
        .into(),
    };
    let cm = app.activate("cm@sup.example", PASSWORD).await;
    (contract, cm, rid)
}

/// R34: a case has a topic; the submitter and whoever may see the cases comment, a reseller
/// never; staff comments and status changes email the submitter with the case ID and the
/// comment, a user's comment emails nobody.
async fn r34_topics_comments_and_the_submitters_emails(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (c, cm, rid) = contract_through_reseller(&app, "BASIC").await;
    app.add_users(&cm, &c, &["ws@sup.example"], json!({ "webSupport": true }))
        .await;
    app.add_users(&cm, &c, &["plain@sup.example"], json!(null))
        .await;
    app.data(
        Some(&cm),
        SET_RESELLER,
        json!({ "input": { "contractId": c.id, "resellerId": rid, "canViewCases": true } }),
    )
    .await;
    app.drain().await;
    let ws = app.activate("ws@sup.example", PASSWORD).await;
    let plain = app.activate("plain@sup.example", PASSWORD).await;
    let rep = app.activate("rep@partner.example", PASSWORD).await;

    let opened = app
        .data(Some(&ws), CREATE_CASE, json!({ "input": { "contractId": c.id, "subject": "Install fails", "description": "Error 1603", "topic": "INSTALLATION" } }))
        .await;
    let case = &opened["createSupportCase"]["supportCase"];
    assert_eq!(case["topic"], "INSTALLATION", "{opened}");
    let case_gid = case["id"].as_str().unwrap().to_string();
    let case_id = case["caseId"].as_str().unwrap().to_string();
    let general = app
        .data(
            Some(&cm),
            CREATE_CASE,
            json!({ "input": { "contractId": c.id, "subject": "Hi", "description": "d" } }),
        )
        .await;
    assert_eq!(
        general["createSupportCase"]["supportCase"]["topic"],
        "GENERAL"
    );
    let cm_topic = app
        .data(Some(&cm), CREATE_CASE, json!({ "input": { "contractId": c.id, "subject": "Hi", "description": "d", "topic": "CHANGE_CONTRACT_MANAGER" } }))
        .await;
    assert_eq!(
        cm_topic["createSupportCase"]["userErrors"][0]["field"],
        json!(["input", "topic"])
    );

    let comment = |token: Option<String>, body: &'static str| {
        let app = &app;
        let case_gid = case_gid.clone();
        async move {
            match token {
                Some(t) => {
                    app.gql(
                        Some(&t),
                        COMMENT,
                        json!({ "input": { "supportCaseId": case_gid, "body": body } }),
                    )
                    .await
                }
                None => {
                    json!({ "data": app.staff(COMMENT, json!({ "input": { "supportCaseId": case_gid, "body": body } })).await })
                }
            }
        }
    };
    // The submitter and the CM (who sees every case) comment; nobody is emailed for it.
    let own = comment(Some(ws.clone()), "It still fails.").await;
    assert_eq!(
        own["data"]["addSupportCaseComment"]["userErrors"],
        json!([]),
        "{own}"
    );
    let by_cm = comment(Some(cm.clone()), "Same here.").await;
    assert_eq!(
        by_cm["data"]["addSupportCaseComment"]["userErrors"],
        json!([])
    );
    app.drain().await;
    assert!(
        app.mails_to("ws@sup.example", "support-case-updated")
            .await
            .is_empty()
    );

    // A member without Web Support, and the reseller's user who reads the cases, may not.
    let before = app.snapshot().await;
    for token in [&plain, &rep] {
        let r = comment(Some(token.clone()), "Let me in.").await;
        assert_eq!(r["errors"][0]["extensions"]["code"], "FORBIDDEN", "{r}");
    }
    assert_eq!(app.snapshot().await, before);

    // Staff answer: the submitter is emailed the case ID and the comment.
    let staff = comment(None, "Run the installer as administrator.").await;
    let comments = &staff["data"]["addSupportCaseComment"]["supportCase"]["comments"];
    assert_eq!(
        comments
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["author"]["email"].clone(), c["author"]["staff"].clone()))
            .collect::<Vec<_>>(),
        vec![
            (json!("ws@sup.example"), json!(false)),
            (json!("cm@sup.example"), json!(false)),
            (Value::Null, json!(true)),
        ]
    );
    assert!(comments[2]["at"].is_string());
    app.drain().await;
    let mails = app.mails_to("ws@sup.example", "support-case-updated").await;
    assert_eq!(mails.len(), 1, "one email per staff comment");
    assert!(mails[0].subject.contains(&case_id), "{}", mails[0].subject);
    assert!(
        mails[0]
            .text
            .contains("Run the installer as administrator.")
    );
    assert_eq!(mails[0].contract.as_deref(), Some(c.number.as_str()));

    // A status change by staff tells the submitter too.
    let upd = app
        .staff(
            UPDATE_CASE,
            json!({ "input": { "supportCaseId": case_gid, "status": "RESOLVED" } }),
        )
        .await;
    assert_eq!(
        upd["updateSupportCase"]["supportCase"]["status"],
        "RESOLVED"
    );
    app.drain().await;
    let mails = app.mails_to("ws@sup.example", "support-case-updated").await;
    assert_eq!(mails.len(), 2);
    assert!(
        mails.iter().any(|m| m.text.contains("resolved")),
        "{:?}",
        mails[1].text
    );
    assert!(
        app.mails_to("cm@sup.example", "support-case-updated")
            .await
            .is_empty()
    );
    app.stop().await;
}

/// R34: a comment reaches `supportCaseUpdated` subscribers.
async fn r34_comments_reach_case_subscribers(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (c, cm, _) = contract_through_reseller(&app, "BASIC").await;
    let opened = app
        .data(
            Some(&cm),
            CREATE_CASE,
            json!({ "input": { "contractId": c.id, "subject": "Live", "description": "d" } }),
        )
        .await;
    let case_gid = opened["createSupportCase"]["supportCase"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (mut ws, ack) = Socket::connect(&app.url, Some(&cm)).await;
    assert_eq!(ack.unwrap()["type"], "connection_ack");
    ws.subscribe(
        "1",
        "subscription($c: ID!) { supportCaseUpdated(contractId: $c) { caseId comments { body } } }",
        json!({ "c": c.id }),
    )
    .await;
    let mut got = None;
    for i in 0..50 {
        app.staff(
            COMMENT,
            json!({ "input": { "supportCaseId": case_gid, "body": format!("note {i}") } }),
        )
        .await;
        if let Ok(msg) = tokio::time::timeout(Duration::from_millis(200), ws.next_json()).await {
            got = Some(msg.expect("the socket stays open"));
            break;
        }
    }
    let msg = got.expect("an update arrived");
    assert_eq!(msg["type"], "next", "{msg}");
    assert!(
        msg["payload"]["data"]["supportCaseUpdated"]["comments"][0]["body"]
            .as_str()
            .is_some_and(|b| b.starts_with("note ")),
        "{msg}"
    );
    app.stop().await;
}

/// R34 (with R15): a request for a new Contract Manager emails the current one.
async fn r34_contract_manager_change_request_emails_the_current_cm(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (c, cm, _) = contract_through_reseller(&app, "BASIC").await;
    app.add_users(&cm, &c, &["sc@sup.example"], json!(null))
        .await;
    app.drain().await;
    let next = app.activate("sc@sup.example", PASSWORD).await;
    let asked = app
        .data(
            Some(&next),
            "mutation($input: RequestContractManagerChangeInput!) { requestContractManagerChange(input: $input) { supportCase { caseId topic } userErrors { code } } }",
            json!({ "input": { "contractId": c.id, "newManager": { "email": "sc@sup.example", "firstName": "Sam", "lastName": "Next" }, "reason": "Pat left." } }),
        )
        .await;
    let case = &asked["requestContractManagerChange"]["supportCase"];
    assert_eq!(case["topic"], "CHANGE_CONTRACT_MANAGER", "{asked}");
    app.drain().await;
    let mails = app
        .mails_to("cm@sup.example", "contract-manager-change-requested")
        .await;
    assert_eq!(mails.len(), 1);
    assert!(mails[0].text.contains(case["caseId"].as_str().unwrap()));
    assert!(
        mails[0].text.contains("sc@sup.example"),
        "{}",
        mails[0].text
    );
    assert!(
        app.mails_to("sc@sup.example", "contract-manager-change-requested")
            .await
            .is_empty()
    );
    app.stop().await;
}

/// R18 (amended): View Cases only for the reseller the contract is attached to; giving it
/// emails that reseller's users.
async fn r18_view_cases_only_for_the_attached_reseller_and_its_users_are_told(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (c, cm, rid) = contract_through_reseller(&app, "BASIC").await;
    let other = reseller_with_user(&app, "Other Partner", "rep@other.example").await;
    let before = app.snapshot().await;
    let refused = app
        .data(
            Some(&cm),
            SET_RESELLER,
            json!({ "input": { "contractId": c.id, "resellerId": other, "canViewCases": true } }),
        )
        .await;
    assert_eq!(
        refused["setResellerCaseAccess"]["userErrors"][0]["code"],
        "RESELLER_NOT_ON_CONTRACT"
    );
    assert_eq!(
        refused["setResellerCaseAccess"]["userErrors"][0]["field"],
        json!(["input", "resellerId"])
    );
    assert_eq!(app.snapshot().await, before, "a refusal changes nothing");
    let granted = app
        .data(
            Some(&cm),
            SET_RESELLER,
            json!({ "input": { "contractId": c.id, "resellerId": rid, "canViewCases": true } }),
        )
        .await;
    assert_eq!(granted["setResellerCaseAccess"]["userErrors"], json!([]));
    app.drain().await;
    let told = app
        .mails_to("rep@partner.example", "reseller-access-granted")
        .await;
    assert_eq!(told.len(), 1);
    assert!(told[0].text.contains(&c.number));
    assert!(
        app.mails_to("rep@other.example", "reseller-access-granted")
            .await
            .is_empty()
    );
    // Setting it again changes nothing and tells nobody again; taking it away tells nobody.
    for yes in [true, false] {
        app.data(
            Some(&cm),
            SET_RESELLER,
            json!({ "input": { "contractId": c.id, "resellerId": rid, "canViewCases": yes } }),
        )
        .await;
    }
    app.drain().await;
    assert_eq!(
        app.mails_to("rep@partner.example", "reseller-access-granted")
            .await
            .len(),
        1
    );
    app.stop().await;
}

const PHONE: &str = "query($n: String!) { contract(number: $n) { phoneSupport { expressServiceId phoneNumbers } } }";

/// R35: an ADVANCED contract has an Express Service ID and the configured phone numbers, for
/// its Named Callers and admins only; a BASIC contract has none.
async fn r35_phone_support_for_named_callers_and_admins_of_advanced_contracts(backend: Backend) {
    let app = TestApp::spawn_configured(backend, true, |s| {
        s.support_phones = Some("+1 800 555 0100; +44 20 7946 0000".into());
    })
    .await;
    let adv = app
        .contract(
            "PH-ADV",
            "cm@ph.example",
            "ADVANCED",
            "MANUAL",
            &[("ACAD", 10)],
        )
        .await;
    let basic = app
        .contract(
            "PH-BAS",
            "cm@phb.example",
            "BASIC",
            "MANUAL",
            &[("ACAD", 10)],
        )
        .await;
    let cm = app.activate("cm@ph.example", PASSWORD).await;
    app.add_users(
        &cm,
        &adv,
        &["nc@ph.example", "user@ph.example"],
        json!(null),
    )
    .await;
    let nc_id = app.user_id("nc@ph.example").await;
    app.data(
        Some(&cm),
        "mutation($i: NamedCallersInput!) { addNamedCallers(input: $i) { userErrors { code } } }",
        json!({ "i": { "contractId": adv.id, "userIds": [nc_id] } }),
    )
    .await;
    app.drain().await;
    let nc = app.activate("nc@ph.example", PASSWORD).await;
    let user = app.activate("user@ph.example", PASSWORD).await;
    let seen = app.data(Some(&cm), PHONE, json!({ "n": adv.number })).await;
    let phone = &seen["contract"]["phoneSupport"];
    assert!(
        phone["expressServiceId"]
            .as_str()
            .is_some_and(|s| s.starts_with("ES-")),
        "{seen}"
    );
    assert_eq!(
        phone["phoneNumbers"],
        json!(["+1 800 555 0100", "+44 20 7946 0000"])
    );
    let by_nc = app.data(Some(&nc), PHONE, json!({ "n": adv.number })).await;
    assert_eq!(by_nc["contract"]["phoneSupport"], *phone);
    for token in [Some(user.as_str()), Some(app.staff_key.as_str())] {
        let r = app.data(token, PHONE, json!({ "n": adv.number })).await;
        assert_eq!(r["contract"]["phoneSupport"], Value::Null, "{r}");
    }
    let basic_cm = app.activate("cm@phb.example", PASSWORD).await;
    let r = app
        .data(Some(&basic_cm), PHONE, json!({ "n": basic.number }))
        .await;
    assert_eq!(r["contract"]["phoneSupport"], Value::Null);
    app.stop().await;
}

/// A contract with `user@cl.example` holding Rendering and `none@cl.example` holding no
/// cloud service; returns the contract, the CM's token and the two users' IDs.
async fn cloud_contract(app: &TestApp) -> (ContractRef, String, String, String) {
    let c = app
        .contract("CL-1", "cm@cl.example", "BASIC", "MANUAL", &[("ACAD", 10)])
        .await;
    let cm = app.activate("cm@cl.example", PASSWORD).await;
    app.add_users(
        &cm,
        &c,
        &["user@cl.example"],
        json!({ "cloudServices": ["Rendering"] }),
    )
    .await;
    app.add_users(&cm, &c, &["none@cl.example"], json!(null))
        .await;
    let user = app.user_id("user@cl.example").await;
    let none = app.user_id("none@cl.example").await;
    (c, cm, user, none)
}

/// R36: credits are added once per order number; usage is recorded only for a member who
/// holds the service and never below zero; admins read the balance and usage by user and by
/// service over a date range, a user their own, and admins export it as CSV.
async fn r36_credits_usage_and_reports(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (c, cm, user, none) = cloud_contract(&app).await;
    let add = |order: &str, credits: i64| {
        app.staff(
            ADD_CREDITS,
            json!({ "input": { "contractId": c.id, "orderNumber": order, "credits": credits } }),
        )
    };
    let first = add("CC-1", 100).await;
    assert_eq!(
        first["addCloudCredits"]["cloudCredits"],
        json!({ "balance": 100, "used": 0 })
    );
    let again = add("CC-1", 100).await;
    assert_eq!(
        again["addCloudCredits"]["cloudCredits"],
        json!({ "balance": 100, "used": 0 }),
        "the same order adds nothing twice"
    );
    let conflict = add("CC-1", 50).await;
    assert_eq!(
        conflict["addCloudCredits"]["userErrors"][0]["code"],
        "ORDER_CONFLICT"
    );

    let use_ = |who: &str, service: &str, credits: i64, at: &str| {
        app.staff(USE_CREDITS, json!({ "input": { "contractId": c.id, "userId": who, "service": service, "credits": credits, "at": at } }))
    };
    let used = use_(&user, "Rendering", 30, "2026-03-01T10:00:00Z").await;
    assert_eq!(
        used["recordCloudUsage"]["cloudCredits"],
        json!({ "balance": 70, "used": 30 }),
        "{used}"
    );
    use_(&user, "rendering", 20, "2026-04-01T10:00:00Z").await;
    let before = app.snapshot().await;
    let no_service = use_(&none, "Rendering", 1, "2026-04-01T10:00:00Z").await;
    assert_eq!(
        no_service["recordCloudUsage"]["userErrors"][0]["field"],
        json!(["input", "service"])
    );
    let too_much = use_(&user, "Rendering", 51, "2026-04-02T10:00:00Z").await;
    assert_eq!(
        too_much["recordCloudUsage"]["userErrors"][0]["code"],
        "CLOUD_CREDITS_EXHAUSTED"
    );
    assert_eq!(
        app.snapshot().await,
        before,
        "refused usage changes nothing"
    );
    let exact = use_(&user, "Rendering", 50, "2026-04-03T10:00:00Z").await;
    assert_eq!(
        exact["recordCloudUsage"]["cloudCredits"],
        json!({ "balance": 0, "used": 100 })
    );

    const USAGE: &str = "query($n: String!, $from: Date, $to: Date) { contract(number: $n) { cloudCredits { balance used } byUser: cloudUsage(from: $from, to: $to, groupBy: USER) { key credits } byService: cloudUsage(from: $from, to: $to, groupBy: SERVICE) { key credits } viewerCloudUsage(from: $from, to: $to) { key credits } } }";
    let all = app.data(Some(&cm), USAGE, json!({ "n": c.number })).await;
    assert_eq!(
        all["contract"]["cloudCredits"],
        json!({ "balance": 0, "used": 100 })
    );
    assert_eq!(
        all["contract"]["byUser"],
        json!([{ "key": "user@cl.example", "credits": 100 }])
    );
    assert_eq!(
        all["contract"]["byService"],
        json!([{ "key": "Rendering", "credits": 100 }])
    );
    let april = app
        .data(
            Some(&cm),
            USAGE,
            json!({ "n": c.number, "from": "2026-04-01", "to": "2026-04-02" }),
        )
        .await;
    assert_eq!(
        april["contract"]["byService"],
        json!([{ "key": "Rendering", "credits": 20 }])
    );
    app.drain().await;
    let user_token = app.activate("user@cl.example", PASSWORD).await;
    let own = app
        .data(Some(&user_token), USAGE, json!({ "n": c.number }))
        .await;
    assert_eq!(own["contract"]["cloudCredits"], Value::Null);
    assert_eq!(own["contract"]["byUser"], Value::Null);
    assert_eq!(
        own["contract"]["viewerCloudUsage"],
        json!([{ "key": "Rendering", "credits": 100 }])
    );

    // The CSV export, for admins only.
    let http = reqwest::Client::new();
    let url = format!(
        "{}/contracts/{}/cloud-usage.csv?from=2026-04-01",
        app.url, c.number
    );
    let resp = http.get(&url).bearer_auth(&cm).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let body = resp.text().await.unwrap();
    let lines: Vec<&str> = body.trim_start_matches('\u{feff}').lines().collect();
    assert_eq!(lines[0], "Time (UTC),User,Service,Credits");
    assert_eq!(lines.len(), 3, "{body}");
    assert_eq!(lines[1], "2026-04-01 10:00:00,user@cl.example,Rendering,20");
    let denied = http
        .get(&url)
        .bearer_auth(&user_token)
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status().as_u16(), 403);
    app.stop().await;
}

/// R36: concurrent usage records never take the balance below zero: of 16 records of 1
/// credit against a balance of 10, exactly 10 are kept.
async fn r36_concurrent_usage_never_takes_the_balance_below_zero(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (c, _, user, _) = cloud_contract(&app).await;
    app.staff(
        ADD_CREDITS,
        json!({ "input": { "contractId": c.id, "orderNumber": "CC-RACE", "credits": 10 } }),
    )
    .await;
    let tries = (0..16).map(|_| {
        app.gql(
            Some(&app.staff_key),
            USE_CREDITS,
            json!({ "input": { "contractId": c.id, "userId": user, "service": "Rendering", "credits": 1 } }),
        )
    });
    let answers = futures::future::join_all(tries).await;
    let mut kept = 0;
    let mut exhausted = 0;
    for a in &answers {
        assert!(a.get("errors").is_none(), "{a}");
        match a["data"]["recordCloudUsage"]["userErrors"][0]["code"].as_str() {
            None => kept += 1,
            Some("CLOUD_CREDITS_EXHAUSTED") => exhausted += 1,
            other => panic!("unexpected {other:?}: {a}"),
        }
    }
    assert_eq!((kept, exhausted), (10, 6));
    let (balance, rows): (i64, i64) = sqlx::query_as(
        "SELECT cloud_credits, (SELECT COUNT(*) FROM cloud_usage) FROM contracts WHERE number = $1",
    )
    .bind(&c.number)
    .fetch_one(app.store.pool())
    .await
    .unwrap();
    assert_eq!((balance, rows), (0, 10));
    app.stop().await;
}

/// R37: a reseller's contact details are shown to the contract's members and named in its
/// RESELLER renewal notices.
async fn r37_reseller_contact_shown_to_members_and_in_renewal_notices(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (c, cm, _) = contract_through_reseller(&app, "BASIC").await;
    app.add_users(&cm, &c, &["plain@sup.example"], json!(null))
        .await;
    app.drain().await;
    let plain = app.activate("plain@sup.example", PASSWORD).await;
    for token in [&cm, &plain] {
        let r = app
            .data(Some(token), "query($n: String!) { contract(number: $n) { reseller { name email phone website } } }", json!({ "n": c.number }))
            .await;
        assert_eq!(
            r["contract"]["reseller"],
            json!({ "name": "Partner GmbH", "email": "sales@partner.example", "phone": "+49 30 1234567", "website": "https://partner.example" })
        );
    }
    let bad = app
        .staff("mutation { createReseller(input: {name: \"X\", website: \"partner.example\"}) { reseller { id } userErrors { code field } } }", json!({}))
        .await;
    assert_eq!(
        bad["createReseller"]["userErrors"][0]["field"],
        json!(["input", "website"])
    );
    let end: NaiveDate = "2027-01-01".parse().unwrap();
    run_pass(&app.store, end - chrono::Days::new(45))
        .await
        .unwrap();
    app.drain().await;
    let notice = &app.mails_to("cm@sup.example", "renewal-notice").await[0];
    for part in [&notice.text, &notice.html] {
        assert!(part.contains("Partner GmbH"), "{part}");
        assert!(part.contains("sales@partner.example"), "{part}");
        assert!(part.contains("+49 30 1234567"));
    }
    // HTML escapes the slashes of the address.
    assert!(
        notice.text.contains("https://partner.example"),
        "{}",
        notice.text
    );
    assert!(notice.html.contains("partner.example"));
    app.stop().await;
}

both_backends!(
    r34_topics_comments_and_the_submitters_emails,
    r34_comments_reach_case_subscribers,
    r34_contract_manager_change_request_emails_the_current_cm,
    r18_view_cases_only_for_the_attached_reseller_and_its_users_are_told,
    r35_phone_support_for_named_callers_and_admins_of_advanced_contracts,
    r36_credits_usage_and_reports,
    r36_concurrent_usage_never_takes_the_balance_below_zero,
    r37_reseller_contact_shown_to_members_and_in_renewal_notices,
);
