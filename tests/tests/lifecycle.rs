//! Lifecycle and emails as the seeds promise (issue 15): R20a renewals after a lapse, no
//! renewal before provisioning (R19), notices that fit the renewal kind and state the real days
//! left (R20), expiry that tells people (R22), bulk problems all at once (R10), the emails'
//! content (R5, R9, R12, R19) and the advice of 004 ("Option A").

use chrono::{Days, NaiveDate, Utc};
use roster_store::renewals::run_pass;
use roster_tests::{
    ADD_USERS, Backend, ContractRef, PROCESS_ORDER, TestApp, both_backends, order_input,
};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";
const RENEW: &str = "mutation($id: ID!) { renewContract(input: {contractId: $id}) { contract { status term { startDate endDate } } userErrors { code message } } }";
const VIEW: &str = "query($n: String!) { contract(number: $n) { status term { startDate endDate } products { seatsAssigned } advice { code message } } }";

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

fn days_from_today(days: i64) -> NaiveDate {
    if days >= 0 {
        today().checked_add_days(Days::new(days as u64)).unwrap()
    } else {
        today().checked_sub_days(Days::new((-days) as u64)).unwrap()
    }
}

/// Orders a contract with the given renewal kind, billing period and dates, and waits until it
/// is ACTIVE.
async fn order(
    app: &TestApp,
    number: &str,
    cm: &str,
    renewal: &str,
    period: &str,
    (start, end): (NaiveDate, NaiveDate),
    products: Value,
) -> ContractRef {
    let mut input = order_input(number, cm, "BASIC", renewal, products);
    input["billingPeriod"] = json!(period);
    input["startDate"] = json!(start.to_string());
    input["endDate"] = json!(end.to_string());
    let data = app.staff(PROCESS_ORDER, json!({ "input": input })).await;
    assert!(data["processOrder"]["contract"].is_object(), "{data}");
    app.drain().await;
    ContractRef::from_order(&data)
}

fn acad(seats: i64) -> Value {
    json!([{ "productCode": "ACAD", "productName": "AutoCAD", "seats": seats }])
}

/// R20a: a MONTHLY contract that lapsed four months ago, renewed now, runs from today, so the
/// next pass leaves it ACTIVE (on today's main its new end date was still in the past).
async fn r20a_a_contract_renewed_long_after_it_lapsed_is_current(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let lapsed = (days_from_today(-150), days_from_today(-120));
    let c = order(
        &app,
        "R20A-1",
        "cm@r20a.example",
        "MANUAL",
        "MONTHLY",
        lapsed,
        acad(2),
    )
    .await;
    let report = run_pass(&app.store, today()).await.unwrap();
    assert_eq!(report.expired, 1);
    let cm = app.activate("cm@r20a.example", PASSWORD).await;
    let renewed = app.data(Some(&cm), RENEW, json!({ "id": c.id })).await;
    assert_eq!(
        renewed["renewContract"]["userErrors"],
        json!([]),
        "{renewed}"
    );
    let term = &renewed["renewContract"]["contract"]["term"];
    assert_eq!(term["startDate"], today().to_string());
    let end: NaiveDate = term["endDate"].as_str().unwrap().parse().unwrap();
    assert!(end > today(), "renewed until {end}, still in the past");
    let again = run_pass(&app.store, today()).await.unwrap();
    assert_eq!(again.expired, 0, "the next pass must not expire it again");
    let view = app.data(Some(&cm), VIEW, json!({ "n": c.number })).await;
    assert_eq!(view["contract"]["status"], "ACTIVE");
    app.stop().await;
}

/// R19/R20a: `renewContract` on a contract still PROCESSING is refused (CONTRACT_NOT_ACTIVE)
/// and changes nothing; provisioning then makes it ACTIVE and sends Get Started.
async fn r19_a_processing_contract_cannot_be_renewed_before_provisioning(backend: Backend) {
    let app = TestApp::spawn_configured(backend, true, |s| {
        s.provisioning_delay = Some("1h".into());
    })
    .await;
    // The CM already has a User ID (an earlier contract), so they can sign in meanwhile.
    let term = (days_from_today(-10), days_from_today(20));
    let mut first = order_input("R19-A", "cm@r19.example", "BASIC", "MANUAL", acad(1));
    first["startDate"] = json!(term.0.to_string());
    first["endDate"] = json!(term.1.to_string());
    let a = app.staff(PROCESS_ORDER, json!({ "input": first })).await;
    let a_id = a["processOrder"]["contract"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut second = order_input("R19-B", "cm@r19.example", "BASIC", "MANUAL", acad(1));
    second["startDate"] = json!(term.0.to_string());
    second["endDate"] = json!(term.1.to_string());
    let b = app.staff(PROCESS_ORDER, json!({ "input": second })).await;
    let b_id = b["processOrder"]["contract"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    // Provision the first contract by hand (the job is an hour away).
    let (a_pk,): (i64,) = sqlx::query_as("SELECT id FROM contracts WHERE order_number = 'R19-A'")
        .fetch_one(app.store.pool())
        .await
        .unwrap();
    assert!(
        roster_store::contracts::provision(&app.store, a_pk)
            .await
            .unwrap()
    );
    emails_sent(&app).await;
    let cm = app.activate("cm@r19.example", PASSWORD).await;
    let before = app.snapshot().await;
    let refused = app.data(Some(&cm), RENEW, json!({ "id": b_id })).await;
    assert_eq!(
        refused["renewContract"]["userErrors"][0]["code"], "CONTRACT_NOT_ACTIVE",
        "{refused}"
    );
    assert_eq!(app.snapshot().await, before);
    let (status,): (String,) =
        sqlx::query_as("SELECT status FROM contracts WHERE order_number = 'R19-B'")
            .fetch_one(app.store.pool())
            .await
            .unwrap();
    assert_eq!(status, "PROCESSING");
    let ok = app.data(Some(&cm), RENEW, json!({ "id": a_id })).await;
    assert_eq!(ok["renewContract"]["userErrors"], json!([]), "{ok}");
    app.stop().await;
}

/// R20: AUTO contracts need no action: a monthly one gets no notice at all, an annual one one
/// reminder 30 days before that says it renews; a MANUAL notice states the real days left.
async fn r20_auto_contracts_get_no_notices_and_notices_state_real_days_left(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let end = days_from_today(200);
    let start = days_from_today(-10);
    order(
        &app,
        "N-AUTO-M",
        "monthly@n.example",
        "AUTO",
        "MONTHLY",
        (start, end),
        acad(1),
    )
    .await;
    order(
        &app,
        "N-AUTO-Y",
        "annual@n.example",
        "AUTO",
        "ANNUAL",
        (start, end),
        acad(1),
    )
    .await;
    order(
        &app,
        "N-MAN",
        "manual@n.example",
        "MANUAL",
        "ANNUAL",
        (start, end),
        acad(1),
    )
    .await;
    order(
        &app,
        "N-RES",
        "reseller@n.example",
        "RESELLER",
        "ANNUAL",
        (start, end),
        acad(1),
    )
    .await;
    let at = |left: u64| end.checked_sub_days(Days::new(left)).unwrap();
    for left in [45, 35, 30, 4, 1] {
        run_pass(&app.store, at(left)).await.unwrap();
    }
    app.drain().await;
    let subjects = |to: &'static str| {
        let app = &app;
        async move {
            app.mails_to(to, "renewal-notice")
                .await
                .into_iter()
                .map(|m| (m.subject, m.text))
                .collect::<Vec<_>>()
        }
    };
    assert!(subjects("monthly@n.example").await.is_empty());
    let annual = subjects("annual@n.example").await;
    assert_eq!(annual.len(), 1, "{annual:?}");
    assert!(
        annual[0].0.contains(&format!("renews on {end}")),
        "{}",
        annual[0].0
    );
    assert!(!annual[0].1.contains(" ends "), "{}", annual[0].1);
    let manual = subjects("manual@n.example").await;
    let mut got: Vec<String> = manual.into_iter().map(|(s, _)| s).collect();
    got.sort();
    let number = contract_number(&app, "N-MAN").await;
    let want: Vec<String> = [30, 4, 45]
        .iter()
        .map(|d| format!("Renewal Notice: contract {number} ends in {d} days"))
        .collect();
    assert_eq!(got, want);
    // Late: a pass at 35 days left owes the 45-day notice, which states 35 (the second
    // contract is ordered now so its 45-day notice has not gone out).
    let end2 = days_from_today(300);
    order(
        &app,
        "N-LATE",
        "late@n.example",
        "MANUAL",
        "ANNUAL",
        (start, end2),
        acad(1),
    )
    .await;
    run_pass(&app.store, end2.checked_sub_days(Days::new(35)).unwrap())
        .await
        .unwrap();
    app.drain().await;
    let late = subjects("late@n.example").await;
    assert_eq!(late.len(), 1);
    assert!(late[0].0.ends_with("ends in 35 days"), "{}", late[0].0);
    // RESELLER without a reseller: no "your reseller your reseller".
    let res = subjects("reseller@n.example").await;
    assert!(
        res[0].1.contains("contact the reseller you bought it from"),
        "{}",
        res[0].1
    );
    assert!(!res[0].1.contains("your reseller your reseller"));
    app.stop().await;
}

/// Waits until no email is queued (the outbox keeps a provisioning job an hour away, so
/// `drain` would wait for it).
async fn emails_sent(app: &TestApp) {
    for _ in 0..1500 {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM emails WHERE status = 'QUEUED'")
            .fetch_one(app.store.pool())
            .await
            .unwrap();
        if n == 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("emails still queued");
}

async fn contract_number(app: &TestApp, order: &str) -> String {
    let (n,): (String,) = sqlx::query_as("SELECT number FROM contracts WHERE order_number = $1")
        .bind(order)
        .fetch_one(app.store.pool())
        .await
        .unwrap();
    n
}

/// R22: an expiry tells the CM (Contract Expired: what stopped, how to renew) and every member
/// who lost access (Permissions Changed); a renewal that gives it back tells them again. A
/// second pass tells nobody twice.
async fn r22_expiry_is_told_and_so_is_the_renewal_that_restores_access(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let end = days_from_today(-1);
    let c = order(
        &app,
        "EXP-1",
        "cm@exp.example",
        "MANUAL",
        "ANNUAL",
        (days_from_today(-200), end),
        acad(5),
    )
    .await;
    let cm = app.activate("cm@exp.example", PASSWORD).await;
    app.add_users(
        &cm,
        &c,
        &["seat@exp.example", "none@exp.example"],
        json!({}),
    )
    .await;
    app.data(
        Some(&cm),
        "mutation($i: SetUserAccessInput!) { setUserAccess(input: $i) { userErrors { code } } }",
        json!({ "i": { "contractId": c.id, "userIds": [app.user_id("seat@exp.example").await], "grant": { "contractProductIds": [c.product("ACAD")] } } }),
    )
    .await;
    app.drain().await;
    let pc_before = |to: &'static str| {
        let app = &app;
        async move { app.mails_to(to, "permissions-changed").await.len() }
    };
    let (cm0, seat0, none0) = (
        pc_before("cm@exp.example").await,
        pc_before("seat@exp.example").await,
        pc_before("none@exp.example").await,
    );
    run_pass(&app.store, today()).await.unwrap();
    run_pass(&app.store, today()).await.unwrap();
    app.drain().await;
    let expired = app.mails_to("cm@exp.example", "contract-expired").await;
    assert_eq!(expired.len(), 1);
    assert!(expired[0].subject.contains(&c.number));
    assert!(expired[0].text.contains("AutoCAD"), "{}", expired[0].text);
    assert!(expired[0].text.contains("choose Renew"));
    assert_eq!(expired[0].contract.as_deref(), Some(c.number.as_str()));
    assert_eq!(
        pc_before("cm@exp.example").await,
        cm0 + 1,
        "the CM held a seat (R3)"
    );
    assert_eq!(pc_before("seat@exp.example").await, seat0 + 1);
    assert_eq!(
        pc_before("none@exp.example").await,
        none0,
        "held nothing, lost nothing"
    );
    let told = app
        .mails_to("seat@exp.example", "permissions-changed")
        .await;
    assert!(
        told.last().unwrap().text.contains("expired"),
        "{}",
        told.last().unwrap().text
    );

    let renewed = app.data(Some(&cm), RENEW, json!({ "id": c.id })).await;
    assert_eq!(
        renewed["renewContract"]["userErrors"],
        json!([]),
        "{renewed}"
    );
    app.drain().await;
    assert_eq!(pc_before("seat@exp.example").await, seat0 + 2);
    let back = app
        .mails_to("seat@exp.example", "permissions-changed")
        .await;
    let back = back.last().unwrap();
    assert!(back.text.contains("access is back"), "{}", back.text);
    assert!(back.text.contains("- AutoCAD"));
    assert_eq!(
        app.mails_to("cm@exp.example", "renewal-confirmation")
            .await
            .len(),
        1
    );
    app.stop().await;
}

/// R10: one badly formed email does not hide the other entries' DUPLICATE_ENTRY,
/// ALREADY_MEMBER and SEAT_LIMIT_REACHED; each names its entry; nothing is added.
async fn r10_a_bad_email_does_not_hide_the_other_entries_problems(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let c = app
        .contract("R10-1", "cm@r10.example", "BASIC", "MANUAL", &[("ACAD", 2)])
        .await;
    let cm = app.activate("cm@r10.example", PASSWORD).await;
    let people = [
        "ok@r10.example",
        "not an email",
        "cm@r10.example",
        "late@r10.example",
        "OK@r10.example",
    ];
    let users: Vec<Value> = people
        .iter()
        .map(|e| json!({ "email": e, "firstName": "F", "lastName": "L" }))
        .collect();
    let before = app.snapshot().await;
    let resp = app
        .data(
            Some(&cm),
            ADD_USERS,
            json!({ "input": { "contractId": c.id, "users": users, "access": { "contractProductIds": [c.product("ACAD")] } } }),
        )
        .await;
    let got: Vec<(String, String)> = resp["addUsers"]["userErrors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["code"].as_str().unwrap().to_string(),
                e["field"][2].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let want: Vec<(String, String)> = [
        ("INVALID_EMAIL", "1"),
        ("ALREADY_MEMBER", "2"),
        ("SEAT_LIMIT_REACHED", "3"),
        ("DUPLICATE_ENTRY", "4"),
    ]
    .iter()
    .map(|(c, i)| (c.to_string(), i.to_string()))
    .collect();
    assert_eq!(got, want, "{resp}");
    assert_eq!(app.snapshot().await, before);
    app.stop().await;
}

/// R9, R12, R5: Get Started names role, contract, User ID and the admin; Permissions Changed
/// carries a sign-in link, tells a new SC to accept the coordinator terms, and tells a removed
/// user that they were removed.
async fn r9_r12_emails_say_what_the_guide_says(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let c = app
        .contract(
            "MAIL-1",
            "cm@mail.example",
            "BASIC",
            "MANUAL",
            &[("ACAD", 5)],
        )
        .await;
    let cm = app.activate("cm@mail.example", PASSWORD).await;
    app.add_users(&cm, &c, &["ann@mail.example"], json!({}))
        .await;
    app.data(Some(&cm), "mutation($i: AssignSoftwareCoordinatorInput!) { assignSoftwareCoordinator(input: $i) { userErrors { code } } }", json!({ "i": { "contractId": c.id, "contractProductIds": [c.product("ACAD")], "coordinator": { "email": "sc@mail.example", "firstName": "Sam", "lastName": "Coord" } } })).await;
    app.drain().await;
    let gs = &app.mails_to("ann@mail.example", "get-started").await[0];
    for part in [
        format!("you are now a user on contract {}", c.number),
        "Your User ID is ann@mail.example.".to_string(),
        "You have no product access yet: your administrator, Pat Purchaser (cm@mail.example), grants it.".to_string(),
        "Set your password:\nhttp://roster.test/activate?token=".to_string(),
    ] {
        let text = gs.text.replace("\r\n", "\n");
        assert!(text.contains(&part), "{part} in {text}");
    }
    let cm_gs = &app.mails_to("cm@mail.example", "get-started").await[0];
    assert!(
        cm_gs.text.contains("you are now the Contract Manager"),
        "{}",
        cm_gs.text
    );
    assert!(cm_gs.text.contains("- ACAD product"), "{}", cm_gs.text);
    let sc = app.mails_to("sc@mail.example", "permissions-changed").await;
    assert!(
        sc[0].text.contains("accept the coordinator terms"),
        "{}",
        sc[0].text
    );
    assert!(sc[0].text.contains("http://roster.test/sign-in"));
    let sc_gs = &app.mails_to("sc@mail.example", "get-started").await[0];
    assert!(
        sc_gs.text.contains("a Software Coordinator"),
        "{}",
        sc_gs.text
    );

    app.data(
        Some(&cm),
        "mutation($i: RemoveUserInput!) { removeUser(input: $i) { userErrors { code } } }",
        json!({ "i": { "contractId": c.id, "userId": app.user_id("ann@mail.example").await } }),
    )
    .await;
    app.drain().await;
    let removed = app
        .mails_to("ann@mail.example", "permissions-changed")
        .await;
    let removed = removed.last().unwrap();
    assert!(
        removed.subject.contains("removed from contract"),
        "{}",
        removed.subject
    );
    assert!(!removed.text.contains("You now have"), "{}", removed.text);
    let op = &app.mails_to("cm@mail.example", "order-processed").await[0];
    assert!(
        op.text.contains("Do not create an account yourself"),
        "{}",
        op.text
    );
    app.stop().await;
}

/// 004's "Option A": the CM making themself SC leaves them the only admin, so
/// SOLE_ADMINISTRATOR stays; with an SC on one product, the product without one is named.
async fn r4_advice_sole_administrator_survives_option_a_and_names_uncoordinated_products(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let c = app
        .contract(
            "ADV-1",
            "cm@adv.example",
            "BASIC",
            "MANUAL",
            &[("ACAD", 5), ("REVIT", 5)],
        )
        .await;
    let cm = app.activate("cm@adv.example", PASSWORD).await;
    let assign = "mutation($i: AssignSoftwareCoordinatorInput!) { assignSoftwareCoordinator(input: $i) { userErrors { code message } } }";
    let a = app.data(Some(&cm), assign, json!({ "i": { "contractId": c.id, "contractProductIds": [c.product("ACAD"), c.product("REVIT")], "coordinator": { "email": "cm@adv.example", "firstName": "Pat", "lastName": "Purchaser" } } })).await;
    assert_eq!(
        a["assignSoftwareCoordinator"]["userErrors"],
        json!([]),
        "{a}"
    );
    let codes = |v: &Value| -> Vec<String> {
        v["contract"]["advice"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["code"].as_str().unwrap().to_string())
            .collect()
    };
    let view = app.data(Some(&cm), VIEW, json!({ "n": c.number })).await;
    assert!(
        codes(&view).contains(&"SOLE_ADMINISTRATOR".to_string()),
        "{view}"
    );
    let b = app.data(Some(&cm), assign, json!({ "i": { "contractId": c.id, "contractProductIds": [c.product("ACAD")], "coordinator": { "email": "it@adv.example", "firstName": "Ian", "lastName": "Tech" } } })).await;
    assert_eq!(
        b["assignSoftwareCoordinator"]["userErrors"],
        json!([]),
        "{b}"
    );
    let view = app.data(Some(&cm), VIEW, json!({ "n": c.number })).await;
    let advice = view["contract"]["advice"].as_array().unwrap();
    let sole = advice
        .iter()
        .find(|a| a["code"] == "SOLE_ADMINISTRATOR")
        .unwrap_or_else(|| panic!("REVIT has no SC: {view}"));
    assert!(
        sole["message"].as_str().unwrap().contains("REVIT"),
        "{sole}"
    );
    app.stop().await;
}

both_backends!(
    r20a_a_contract_renewed_long_after_it_lapsed_is_current,
    r19_a_processing_contract_cannot_be_renewed_before_provisioning,
    r20_auto_contracts_get_no_notices_and_notices_state_real_days_left,
    r22_expiry_is_told_and_so_is_the_renewal_that_restores_access,
    r10_a_bad_email_does_not_hide_the_other_entries_problems,
    r9_r12_emails_say_what_the_guide_says,
    r4_advice_sole_administrator_survives_option_a_and_names_uncoordinated_products,
);
