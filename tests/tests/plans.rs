//! Query plans that must not grow with the database: a plan that scans a whole table costs
//! every request a scan of it. PostgreSQL runs sqlx's statements as prepared statements, with
//! a plan for the values given, or after a few executions with a generic plan chosen without
//! them. Each test gives PostgreSQL a realistic size, asks for both plans of one of Roster's
//! hot statements, and refuses a sequential scan of users, a table that grows with the
//! customers.

use roster_tests::{Backend, TestApp};

/// A database the size of a customer base: 40,000 people, members of 100 contracts of 400
/// (one of them the contract returned), with fresh statistics; the contract's id.
async fn customer_base(app: &TestApp) -> i64 {
    let c = app
        .contract_without_worker("PLAN-1", "cm@plan.example", &[("ACAD", 50)])
        .await;
    let pool = app.store.pool();
    let (contract_id,): (i64,) = sqlx::query_as("SELECT id FROM contracts WHERE number = $1")
        .bind(&c.number)
        .fetch_one(pool)
        .await
        .unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "INSERT INTO contracts (number, order_number, company_id, status, support_level, \
         renewal_kind, billing_period, start_date, end_date, created_at) \
         SELECT 'PLAN-C' || g, 'PLAN-O' || g, company_id, status, support_level, renewal_kind, \
         billing_period, start_date, end_date, 0 \
         FROM contracts, generate_series(1, 99) g WHERE id = {contract_id}; \
         INSERT INTO users (email, first_name, last_name, created_at) \
         SELECT 'p' || g || '@plan.example', 'P', 'L' || g, 0 FROM generate_series(1, 40000) g; \
         INSERT INTO memberships (contract_id, user_id, created_at) \
         SELECT c.id, u.id, 0 \
         FROM users u JOIN contracts c ON c.number = 'PLAN-C' || (u.id % 100) \
         WHERE u.email LIKE 'p%@plan.example' \
         UNION ALL SELECT {contract_id}, u.id, 0 FROM users u \
         WHERE u.email LIKE 'p%@plan.example' AND u.id % 100 = 0; \
         ANALYZE users; ANALYZE memberships; ANALYZE contracts; ANALYZE contract_products;"
    )))
    .execute(pool)
    .await
    .unwrap();
    contract_id
}

/// The plans of `sql` (parameters of `types`) executed with `args`: the custom plan PostgreSQL
/// makes for these values (it keeps making one while a generic plan looks dearer), then the
/// generic plan it may switch to.
async fn plans(app: &TestApp, sql: &str, types: &str, args: &str) -> String {
    let mut conn = app.store.pool().acquire().await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "PREPARE planned({types}) AS {sql};"
    )))
    .execute(&mut *conn)
    .await
    .unwrap();
    let mut out = Vec::new();
    for mode in ["force_custom_plan", "force_generic_plan"] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("SET plan_cache_mode = {mode}")))
            .execute(&mut *conn)
            .await
            .unwrap();
        let plan: Vec<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "EXPLAIN EXECUTE planned({args})"
        )))
        .fetch_all(&mut *conn)
        .await
        .unwrap();
        out.extend(plan.into_iter().map(|(line,)| line));
    }
    sqlx::raw_sql("DEALLOCATE planned; RESET plan_cache_mode")
        .execute(&mut *conn)
        .await
        .unwrap();
    out.join("\n")
}

/// On a database the size of a customer base, neither plan of `sql` run for the large
/// contract (`args` built from its id) reads users by a sequential scan.
async fn reads_users_by_key(sql: &str, types: &str, args: impl Fn(i64) -> String) {
    let app = TestApp::spawn_with(Backend::Postgres, false).await;
    let contract_id = customer_base(&app).await;
    let plan = plans(&app, sql, types, &args(contract_id)).await;
    assert!(plan.contains("users"), "{plan}");
    assert!(!plan.contains("Seq Scan on users"), "{plan}");
    app.stop().await;
}

/// The snapshot of a change (`roster_store::change::load`): the members a change concerns.
/// Planned over a join of memberships and users, it read every user of the database (4 ms at
/// 45,000 users, most of a mutation's database time: issue 13's mutation throughput).
#[tokio::test]
async fn a_change_s_snapshot_reads_users_by_key_not_by_a_scan() {
    reads_users_by_key(
        roster_store::change::MEMBERS_PG,
        "bigint, text, text",
        |contract| format!("{contract}, '[\"p7@plan.example\"]', '[1]'"),
    )
    .await;
}

/// A page of members (`Contract.members`, the contract page of issue 14): planned over a join,
/// it read every user of the database for each page (5 to 11 ms at 45,000 users). Both the
/// page an SPA asks for (no filter, no seats) and a searched page with seats.
#[tokio::test]
async fn a_members_page_reads_users_by_key_not_by_a_scan() {
    use roster_store::members::{MemberFilter, PageStatement};
    let plain = PageStatement::new(
        roster_store::Backend::Postgres,
        roster_domain::SupportLevel::Advanced,
        &MemberFilter::default(),
        false,
    );
    reads_users_by_key(plain.sql(), "bigint, bigint, bigint", |contract| {
        format!("{contract}, 51, 0")
    })
    .await;
    let searched = PageStatement::new(
        roster_store::Backend::Postgres,
        roster_domain::SupportLevel::Advanced,
        &MemberFilter {
            search: Some("l1".into()),
            status: Some("ACTIVE".into()),
            ..MemberFilter::default()
        },
        true,
    );
    reads_users_by_key(
        searched.sql(),
        "bigint, text, text, bigint, bigint",
        |contract| format!("{contract}, 'ACTIVE', '%l1%', 51, 0"),
    )
    .await;
}
