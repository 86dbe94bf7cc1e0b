//! No N+1: a members page and a contract list cost the same number of SQL statements whatever
//! their size (R27; the performance issue's statement-count guard).
//!
//! sqlx reports every statement as a tracing event (target `sqlx::query`); a layer counts them.
//! One test runs both backends in turn, so no other test's statements are counted.

use roster_tests::{Backend, MEMBERS, TestApp};
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use tracing_subscriber::layer::SubscriberExt as _;

static STATEMENTS: AtomicUsize = AtomicUsize::new(0);

struct Counter;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Counter {
    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        if event.metadata().target().starts_with("sqlx::query") {
            STATEMENTS.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// Statements one request costs. The counter sees the whole process, so a statement of some
/// other task (a pool's health check, say) can add to a count but never take from it: the
/// least of two runs is the request's own cost.
async fn statements_for(app: &TestApp, token: &str, query: &str, vars: serde_json::Value) -> usize {
    let mut least = usize::MAX;
    for _ in 0..2 {
        let before = STATEMENTS.load(Ordering::SeqCst);
        let data = app.data(Some(token), query, vars.clone()).await;
        assert!(!data.is_null());
        least = least.min(STATEMENTS.load(Ordering::SeqCst) - before);
    }
    least
}

async fn check(backend: Backend) {
    let app = TestApp::spawn_with(backend, false).await;
    let c = app
        .contract_without_worker(
            "STMT-1",
            "cm@stmt.example",
            &[("ACAD", 500), ("REVIT", 500)],
        )
        .await;
    let emails: Vec<String> = (0..120).map(|i| format!("m{i:03}@stmt.example")).collect();
    let token = app.session_for("cm@stmt.example").await;
    for chunk in emails.chunks(50) {
        let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
        let r = app
            .add_users(
                &token,
                &c,
                &refs,
                json!({ "contractProductIds": [c.product("ACAD")], "webSupport": true }),
            )
            .await;
        assert_eq!(r["userErrors"], json!([]));
    }
    let page = |n: i64| json!({ "n": c.number, "first": n });
    let ten = statements_for(&app, &token, MEMBERS, page(10)).await;
    let hundred = statements_for(&app, &token, MEMBERS, page(100)).await;
    eprintln!("{backend:?}: members page of 10: {ten} statements, of 100: {hundred}");
    assert!(ten > 0, "the counter sees statements");
    assert_eq!(
        ten, hundred,
        "a members page costs the same whatever its size"
    );

    // The contract page an SPA asks for, as its CM (issue 14): at most 4 statements including
    // authentication (the session cached after the first request: a fresh session costs one
    // more), whatever the number of members.
    const PAGE: &str = "query($n: String!) { contract(number: $n) { number status term { startDate endDate billingPeriod } company { name } products { productCode productName seats seatsAssigned } members(first: 50) { totalCount edges { node { user { email firstName lastName } roles status } } } } }";
    let small = app
        .contract_without_worker("STMT-S", "cm@stmt.example", &[("ACAD", 5)])
        .await;
    let fresh = app.session_for("cm@stmt.example").await;
    let before = STATEMENTS.load(Ordering::SeqCst);
    let data = app
        .data(Some(&fresh), PAGE, json!({ "n": small.number }))
        .await;
    let cold = STATEMENTS.load(Ordering::SeqCst) - before;
    assert_eq!(
        data["contract"]["members"]["edges"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let one_member = statements_for(&app, &fresh, PAGE, json!({ "n": small.number })).await;
    let many = statements_for(&app, &fresh, PAGE, json!({ "n": c.number })).await;
    eprintln!(
        "{backend:?}: contract page, 1 member: {one_member} statements ({cold} with a session \
         not yet cached), 50 of 121 members: {many}"
    );
    assert_eq!(
        one_member, many,
        "a contract page costs the same whatever its size"
    );
    assert!(
        many <= 4,
        "at most 4 statements per contract page including authentication, got {many}"
    );
    assert!(
        cold <= many + 1,
        "a fresh session costs one statement: {cold}"
    );

    // One change = one snapshot (3 statements), its writes, and no reload unless the client
    // asks for it (issue 13: 33 and 39 statements before the change pipeline).
    const SET_ACCESS_ONLY: &str = "mutation($input: SetUserAccessInput!) { setUserAccess(input: $input) { userErrors { code message } } }";
    const ADD_USERS_ONLY: &str = "mutation($input: AddUsersInput!) { addUsers(input: $input) { userErrors { code message } } }";
    let member = app.user_id("m000@stmt.example").await;
    let grant = |on: bool| {
        let access = json!({ "contractProductIds": [c.product("REVIT")] });
        let (grant, revoke) = if on {
            (access, json!(null))
        } else {
            (json!(null), access)
        };
        json!({ "input": { "contractId": c.id, "userIds": [member], "grant": grant, "revoke": revoke } })
    };
    let mut set_access = usize::MAX;
    for _ in 0..2 {
        let before = STATEMENTS.load(Ordering::SeqCst);
        let data = app.data(Some(&token), SET_ACCESS_ONLY, grant(true)).await;
        assert_eq!(data["setUserAccess"]["userErrors"], json!([]));
        set_access = set_access.min(STATEMENTS.load(Ordering::SeqCst) - before);
        let data = app.data(Some(&token), SET_ACCESS_ONLY, grant(false)).await;
        assert_eq!(data["setUserAccess"]["userErrors"], json!([]));
    }
    let mut add_users = usize::MAX;
    for i in 0..2 {
        let before = STATEMENTS.load(Ordering::SeqCst);
        let input = json!({ "input": { "contractId": c.id, "users": [{ "email": format!("new{i}@stmt.example"), "firstName": "New", "lastName": "Person" }], "access": { "contractProductIds": [c.product("REVIT")] } } });
        let data = app.data(Some(&token), ADD_USERS_ONLY, input).await;
        assert_eq!(data["addUsers"]["userErrors"], json!([]));
        add_users = add_users.min(STATEMENTS.load(Ordering::SeqCst) - before);
    }
    eprintln!(
        "{backend:?}: setUserAccess (one seat, one member): {set_access} statements; \
         addUsers (one person, one seat): {add_users}"
    );
    // sqlx does not log BEGIN and COMMIT; PostgreSQL's statement log counts them too.
    assert!(
        set_access + 2 <= 12,
        "setUserAccess: {set_access} statements"
    );
    assert!(add_users + 2 <= 16, "addUsers: {add_users} statements");

    for i in 0..25 {
        app.contract_without_worker(&format!("STMT-L{i}"), "cm@stmt.example", &[("ACAD", 5)])
            .await;
    }
    const LIST: &str = "query($n: Int) { contracts(first: $n) { totalCount edges { node { number status company { name } term { endDate } } } } }";
    let staff = app.staff_key.clone();
    let one = statements_for(&app, &staff, LIST, json!({ "n": 1 })).await;
    let twenty = statements_for(&app, &staff, LIST, json!({ "n": 20 })).await;
    eprintln!("{backend:?}: contract list of 1: {one} statements, of 20: {twenty}");
    assert_eq!(
        one, twenty,
        "a contract list costs the same whatever its size"
    );
    assert!(
        twenty <= 3,
        "at most 3 statements per list request, got {twenty}"
    );
    // A user's list (standings loaded in bulk, not per contract).
    let mine_one = statements_for(&app, &token, LIST, json!({ "n": 1 })).await;
    let mine_twenty = statements_for(&app, &token, LIST, json!({ "n": 20 })).await;
    eprintln!(
        "{backend:?}: a user's contract list of 1: {mine_one} statements, of 20: {mine_twenty}"
    );
    assert_eq!(mine_one, mine_twenty);
    assert!(
        mine_twenty <= 3,
        "at most 3 statements per list request, a user's too, got {mine_twenty}"
    );
    app.stop().await;
}

#[test]
fn member_pages_and_contract_lists_cost_constant_statements() {
    let subscriber = tracing_subscriber::registry()
        .with(
            tracing_subscriber::filter::Targets::new()
                .with_target("sqlx::query", tracing::Level::TRACE),
        )
        .with(Counter);
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        check(Backend::Sqlite).await;
        check(Backend::Postgres).await;
    });
}
