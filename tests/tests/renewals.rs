//! Renewals and the scheduler (R20, R22, R23): notices exactly once, late but never stale,
//! auto-renewal, expiry, the renewal window and new-release notices.

use chrono::NaiveDate;
use roster_store::renewals::run_pass;
use roster_tests::{Backend, ContractRef, PROCESS_ORDER, TestApp, both_backends, order_input};
use serde_json::json;

const PASSWORD: &str = "correct horse battery";
const RENEW: &str = "mutation($id: ID!) { renewContract(input: {contractId: $id}) { contract { status term { startDate endDate } } userErrors { code message } } }";

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn before(end: &str, days: u64) -> NaiveDate {
    day(end).checked_sub_days(chrono::Days::new(days)).unwrap()
}

/// Orders a contract ending on `end` and waits until it is ACTIVE.
async fn contract(app: &TestApp, number: &str, cm: &str, renewal: &str, end: &str) -> ContractRef {
    let mut input = order_input(
        number,
        cm,
        "BASIC",
        renewal,
        json!([{ "productCode": "ACAD", "productName": "ACAD product", "seats": 5 }]),
    );
    input["endDate"] = json!(end);
    let data = app.staff(PROCESS_ORDER, json!({ "input": input })).await;
    let c = &data["processOrder"]["contract"];
    assert!(c.is_object(), "{data}");
    app.drain().await;
    ContractRef {
        id: c["id"].as_str().unwrap().to_string(),
        number: c["number"].as_str().unwrap().to_string(),
        products: [(
            "ACAD".to_string(),
            c["products"][0]["id"].as_str().unwrap().to_string(),
        )]
        .into(),
    }
}

async fn notices(app: &TestApp, to: &str) -> Vec<String> {
    app.mails_to(to, "renewal-notice")
        .await
        .into_iter()
        .map(|m| m.subject)
        .collect()
}

const END: &str = "2027-01-01";

/// R20: nothing at 50 days; the 45-day notice once however often the pass runs; then 30, 4.
async fn r20_notices_go_out_at_45_30_and_4_days_exactly_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    contract(&app, "REN-1", "cm@ren.example", "MANUAL", END).await;
    let cm = "cm@ren.example";
    run_pass(&app.store, before(END, 50)).await.unwrap();
    app.drain().await;
    assert!(notices(&app, cm).await.is_empty(), "no notice at 50 days");

    for _ in 0..3 {
        run_pass(&app.store, before(END, 45)).await.unwrap();
    }
    run_pass(&app.store, before(END, 44)).await.unwrap();
    app.drain().await;
    assert_eq!(
        notices(&app, cm).await.len(),
        1,
        "one 45-day notice however often the pass runs"
    );
    assert!(notices(&app, cm).await[0].contains("45 days"));

    run_pass(&app.store, before(END, 30)).await.unwrap();
    run_pass(&app.store, before(END, 29)).await.unwrap();
    app.drain().await;
    run_pass(&app.store, before(END, 4)).await.unwrap();
    run_pass(&app.store, before(END, 1)).await.unwrap();
    app.drain().await;
    let subjects = notices(&app, cm).await;
    assert_eq!(subjects.len(), 3, "{subjects:?}");
    assert!(
        subjects[1].contains("30 days") && subjects[2].contains("4 days"),
        "{subjects:?}"
    );
    let manual = app.mails_to(cm, "renewal-notice").await;
    assert!(
        manual[0].text.contains("choose Renew"),
        "MANUAL says how to renew: {}",
        manual[0].text
    );
    assert_eq!(
        manual[0].contract.as_deref(),
        Some(
            app.mails_to(cm, "order-processed").await[0]
                .contract
                .as_deref()
                .unwrap()
        )
    );
    app.stop().await;
}

/// R20: after missed runs only the latest threshold passed goes out, once.
async fn r20_a_missed_run_is_caught_up_once_and_never_stale(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    contract(&app, "REN-2", "late@ren.example", "MANUAL", END).await;
    run_pass(&app.store, before(END, 10)).await.unwrap();
    run_pass(&app.store, before(END, 9)).await.unwrap();
    app.drain().await;
    let subjects = notices(&app, "late@ren.example").await;
    assert_eq!(subjects.len(), 1, "{subjects:?}");
    assert!(
        subjects[0].contains("10 days"),
        "the 30-day notice (the 45-day one skipped), stating the real days left: {subjects:?}"
    );
    let (key,): (String,) =
        sqlx::query_as("SELECT idem_key FROM emails WHERE kind = 'renewal-notice'")
            .fetch_one(app.store.pool())
            .await
            .unwrap();
    assert!(key.ends_with(":days:30"), "{key}");
    app.stop().await;
}

/// R20: the wording fits the renewal kind.
async fn r20_notice_wording_fits_the_renewal_kind(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    contract(&app, "REN-AUTO", "auto@ren.example", "AUTO", END).await;
    let reseller = app.staff("mutation { createReseller(input: {name: \"Channel Partners Ltd\"}) { reseller { id } } }", json!({})).await;
    let rid = reseller["createReseller"]["reseller"]["id"].clone();
    let mut input = order_input(
        "REN-RES",
        "res@ren.example",
        "BASIC",
        "RESELLER",
        json!([{ "productCode": "ACAD", "productName": "ACAD product", "seats": 1 }]),
    );
    input["resellerId"] = rid;
    let placed = app.staff(PROCESS_ORDER, json!({ "input": input })).await;
    assert_eq!(placed["processOrder"]["userErrors"], json!([]));
    app.drain().await;
    // R20: an annual AUTO contract's one reminder goes out 30 days before its end.
    run_pass(&app.store, before(END, 30)).await.unwrap();
    app.drain().await;
    let auto = &app.mails_to("auto@ren.example", "renewal-notice").await[0];
    assert!(auto.text.contains("renews by itself"), "{}", auto.text);
    assert!(auto.text.contains("payment method"));
    let res = &app.mails_to("res@ren.example", "renewal-notice").await[0];
    assert!(res.text.contains("Channel Partners Ltd"), "{}", res.text);
    assert!(res.html.contains("Channel Partners Ltd"));
    app.stop().await;
}

/// R22: at the end date an AUTO contract renews itself and the CM gets a confirmation; any
/// other expires and its members lose access until it is renewed.
async fn r22_auto_renews_and_others_expire_until_renewed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let auto = contract(&app, "END-AUTO", "auto@end.example", "AUTO", END).await;
    let manual = contract(&app, "END-MAN", "man@end.example", "MANUAL", END).await;
    let man = app.activate("man@end.example", PASSWORD).await;
    app.add_users(
        &man,
        &manual,
        &["u@end.example"],
        json!({ "contractProductIds": [manual.product("ACAD")] }),
    )
    .await;

    let report = run_pass(&app.store, day(END)).await.unwrap();
    assert_eq!((report.renewed, report.expired), (1, 1));
    let again = run_pass(&app.store, day(END)).await.unwrap();
    assert_eq!(
        (again.renewed, again.expired),
        (0, 0),
        "a second pass changes nothing"
    );
    app.drain().await;

    let auto_cm = app.activate("auto@end.example", PASSWORD).await;
    let view = "query($n: String!) { contract(number: $n) { status term { startDate endDate } products { seatsAssigned } members { edges { node { user { email } access { contractProducts { productCode } } } } } } }";
    let a = app
        .data(Some(&auto_cm), view, json!({ "n": auto.number }))
        .await;
    assert_eq!(a["contract"]["status"], "ACTIVE");
    assert_eq!(
        a["contract"]["term"],
        json!({ "startDate": END, "endDate": "2028-01-01" })
    );
    let confirmation = app
        .mails_to("auto@end.example", "renewal-confirmation")
        .await;
    assert_eq!(confirmation.len(), 1);
    assert!(confirmation[0].text.contains("2028-01-01"));

    let m = app
        .data(Some(&man), view, json!({ "n": manual.number }))
        .await;
    assert_eq!(m["contract"]["status"], "EXPIRED");
    assert_eq!(
        m["contract"]["products"][0]["seatsAssigned"], 0,
        "expired members hold no seats"
    );
    for edge in m["contract"]["members"]["edges"].as_array().unwrap() {
        assert_eq!(
            edge["node"]["access"]["contractProducts"],
            json!([]),
            "{edge}"
        );
    }
    assert_eq!(
        m["contract"]["members"]["edges"].as_array().unwrap().len(),
        2,
        "members stay"
    );

    // Renewing later restores access (the window is open: the contract has ended).
    let renewed = app
        .data(Some(&man), RENEW, json!({ "id": manual.id }))
        .await;
    assert_eq!(
        renewed["renewContract"]["userErrors"],
        json!([]),
        "{renewed}"
    );
    assert_eq!(renewed["renewContract"]["contract"]["status"], "ACTIVE");
    let m = app
        .data(Some(&man), view, json!({ "n": manual.number }))
        .await;
    assert_eq!(m["contract"]["products"][0]["seatsAssigned"], 2);
    for edge in m["contract"]["members"]["edges"].as_array().unwrap() {
        assert_eq!(
            edge["node"]["access"]["contractProducts"],
            json!([{ "productCode": "ACAD" }])
        );
    }
    app.stop().await;
}

/// R20: renewal opens 90 days before the end date, is the CM's, and ends the old term's
/// notices, even one already owed but not yet sent.
async fn r20_renewal_window_and_renewal_ends_old_notices(backend: Backend) {
    let app = TestApp::spawn_with(backend, false).await;
    let far = contract_no_drain(&app, "WIN-FAR", "far@win.example", "2028-06-01").await;
    let near = contract_no_drain(&app, "WIN-NEAR", "near@win.example", END).await;
    // Provision and activate without a worker running: run one briefly.
    let w = app.start_worker("setup");
    app.drain().await;
    w.stop().await;
    let far_cm = app.activate("far@win.example", PASSWORD).await;
    let near_cm = app.activate("near@win.example", PASSWORD).await;

    let before_snapshot = app.snapshot().await;
    let closed = app.data(Some(&far_cm), RENEW, json!({ "id": far })).await;
    assert_eq!(
        closed["renewContract"]["userErrors"][0]["code"],
        "RENEWAL_WINDOW_NOT_OPEN"
    );
    assert_eq!(app.snapshot().await, before_snapshot);
    let stranger = app.gql(Some(&far_cm), RENEW, json!({ "id": near })).await;
    assert_eq!(
        stranger["data"]["renewContract"]["userErrors"][0]["code"],
        "NOT_FOUND"
    );

    // A notice is owed for the current term; then the CM renews before it is sent.
    run_pass(&app.store, before(END, 30)).await.unwrap();
    let ok = app.data(Some(&near_cm), RENEW, json!({ "id": near })).await;
    assert_eq!(
        ok["renewContract"]["contract"]["term"]["endDate"],
        "2028-01-01"
    );
    let w = app.start_worker("after-renewal");
    app.drain().await;
    w.stop().await;
    assert!(
        notices(&app, "near@win.example").await.is_empty(),
        "the old term's notice was cancelled"
    );
    let (status,): (String,) =
        sqlx::query_as("SELECT status FROM emails WHERE kind = 'renewal-notice'")
            .fetch_one(app.store.pool())
            .await
            .unwrap();
    assert_eq!(status, "CANCELLED");
    assert_eq!(
        app.mails_to("near@win.example", "renewal-confirmation")
            .await
            .len(),
        1
    );
    // The old term's thresholds owe nothing more.
    run_pass(&app.store, before(END, 4)).await.unwrap();
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM emails WHERE kind = 'renewal-notice'")
        .fetch_one(app.store.pool())
        .await
        .unwrap();
    assert_eq!(n, 1);
    app.stop().await;
}

async fn contract_no_drain(app: &TestApp, number: &str, cm: &str, end: &str) -> String {
    let mut input = order_input(
        number,
        cm,
        "BASIC",
        "MANUAL",
        json!([{ "productCode": "ACAD", "productName": "ACAD product", "seats": 5 }]),
    );
    input["endDate"] = json!(end);
    let data = app.staff(PROCESS_ORDER, json!({ "input": input })).await;
    data["processOrder"]["contract"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// R20: two passes at once, with two workers, send each notice once.
async fn r20_concurrent_passes_and_workers_send_each_notice_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for i in 0..12 {
        contract(
            &app,
            &format!("CONC-{i}"),
            &format!("cm{i}@conc.example"),
            "MANUAL",
            END,
        )
        .await;
    }
    let second = app.start_worker("second");
    let as_of = before(END, 45);
    let (a, b) = tokio::join!(run_pass(&app.store, as_of), run_pass(&app.store, as_of));
    assert_eq!(a.unwrap().notices + b.unwrap().notices, 12);
    app.drain().await;
    second.stop().await;
    let all = app.mails().await;
    let notices: Vec<_> = all.iter().filter(|m| m.kind == "renewal-notice").collect();
    assert_eq!(notices.len(), 12);
    let mut recipients: Vec<&str> = notices.iter().map(|m| m.to.as_str()).collect();
    recipients.sort();
    recipients.dedup();
    assert_eq!(recipients.len(), 12, "each CM exactly once");
    app.stop().await;
}

/// The command line runs the same pass (`roster renewals scan --as-of`).
async fn renewals_scan_command_runs_the_pass(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    contract(&app, "CLI-1", "cli@ren.example", "MANUAL", END).await;
    let code = app
        .roster(&["renewals", "scan", "--as-of", &before(END, 30).to_string()])
        .await;
    assert_eq!(code, std::process::ExitCode::SUCCESS);
    app.drain().await;
    assert_eq!(notices(&app, "cli@ren.example").await.len(), 1);
    let bad = app
        .roster(&["renewals", "scan", "--as-of", "next tuesday"])
        .await;
    assert_ne!(bad, std::process::ExitCode::SUCCESS);
    app.stop().await;
}

/// R23: a new release notifies the effective SC of every active contract product of it (the
/// CM where there is no SC), once per contract product and release.
async fn r23_new_release_reaches_each_effective_coordinator_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let with_sc = contract(&app, "REL-1", "cm1@rel.example", "MANUAL", END).await;
    contract(&app, "REL-2", "cm2@rel.example", "MANUAL", END).await;
    let expired = contract(&app, "REL-3", "cm3@rel.example", "MANUAL", "2026-06-01").await;
    let _ = expired;
    run_pass(&app.store, day("2026-06-01")).await.unwrap();
    let cm1 = app.activate("cm1@rel.example", PASSWORD).await;
    app.data(Some(&cm1), "mutation($i: AssignSoftwareCoordinatorInput!) { assignSoftwareCoordinator(input: $i) { userErrors { code } } }", json!({ "i": { "contractId": with_sc.id, "contractProductIds": [with_sc.product("ACAD")], "coordinator": { "email": "sc@rel.example", "firstName": "S", "lastName": "C" } } })).await;

    const PUBLISH: &str = "mutation { publishRelease(input: {productCode: \"acad\", version: \"2027.1\"}) { notices userErrors { code } } }";
    let denied = app.gql(Some(&cm1), PUBLISH, json!({})).await;
    assert_eq!(denied["errors"][0]["extensions"]["code"], "FORBIDDEN");
    let first = app.staff(PUBLISH, json!({})).await;
    assert_eq!(first["publishRelease"]["notices"], 2);
    let again = app.staff(PUBLISH, json!({})).await;
    assert_eq!(again["publishRelease"]["notices"], 0);
    let unknown = app.staff("mutation { publishRelease(input: {productCode: \"NOPE\", version: \"1\"}) { notices userErrors { code field } } }", json!({})).await;
    assert_eq!(
        unknown["publishRelease"]["userErrors"][0]["code"],
        "NOT_FOUND"
    );
    app.drain().await;
    let to = |who: &str| {
        let app = &app;
        let who = who.to_string();
        async move { app.mails_to(&who, "new-release").await }
    };
    assert_eq!(to("sc@rel.example").await.len(), 1);
    assert!(to("sc@rel.example").await[0].subject.contains("2027.1"));
    assert!(
        to("cm1@rel.example").await.is_empty(),
        "the SC, not the CM, when there is one"
    );
    assert_eq!(
        to("cm2@rel.example").await.len(),
        1,
        "the CM when there is no SC"
    );
    assert!(
        to("cm3@rel.example").await.is_empty(),
        "expired contracts get nothing"
    );
    app.stop().await;
}

both_backends!(
    r20_notices_go_out_at_45_30_and_4_days_exactly_once,
    r20_a_missed_run_is_caught_up_once_and_never_stale,
    r20_notice_wording_fits_the_renewal_kind,
    r22_auto_renews_and_others_expire_until_renewed,
    r20_renewal_window_and_renewal_ends_old_notices,
    r20_concurrent_passes_and_workers_send_each_notice_once,
    renewals_scan_command_runs_the_pass,
    r23_new_release_reaches_each_effective_coordinator_once,
);
