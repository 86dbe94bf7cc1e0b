//! Query plans that must not grow with the database. PostgreSQL runs sqlx's statements as
//! prepared statements and, after a few executions, with a generic plan chosen without the
//! parameters' values; a plan that scans a whole table then costs every request a scan of it.
//! Each test gives PostgreSQL a realistic size, asks for the generic plan of one of Roster's
//! hot statements, and refuses a sequential scan of a table that grows with the customers.

use roster_tests::{Backend, TestApp};

/// The snapshot of a change (`roster_store::change::load`): the members a change concerns.
/// Planned over a join of memberships and users, it read every user of the database (4 ms at
/// 45,000 users, most of a mutation's database time, issue 13's mutation throughput).
#[tokio::test]
async fn a_change_s_snapshot_reads_users_by_key_not_by_a_scan() {
    let app = TestApp::spawn_with(Backend::Postgres, false).await;
    let c = app
        .contract_without_worker("PLAN-1", "cm@plan.example", &[("ACAD", 50)])
        .await;
    let pool = app.store.pool();
    let (contract_id,): (i64,) = sqlx::query_as("SELECT id FROM contracts WHERE number = $1")
        .bind(&c.number)
        .fetch_one(pool)
        .await
        .unwrap();
    // 20,000 people, members of this contract, as a large customer has.
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "INSERT INTO users (email, first_name, last_name, created_at) \
         SELECT 'p' || g || '@plan.example', 'P', 'L' || g, 0 FROM generate_series(1, 20000) g; \
         INSERT INTO memberships (contract_id, user_id, created_at) \
         SELECT {contract_id}, id, 0 FROM users WHERE email LIKE 'p%@plan.example'; \
         ANALYZE users; ANALYZE memberships; ANALYZE contract_products;"
    )))
    .execute(pool)
    .await
    .unwrap();

    let mut conn = pool.acquire().await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "SET plan_cache_mode = force_generic_plan; \
         PREPARE snapshot(bigint, text, text) AS {};",
        roster_store::change::MEMBERS_PG
    )))
    .execute(&mut *conn)
    .await
    .unwrap();
    let plan: Vec<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "EXPLAIN EXECUTE snapshot({contract_id}, '[\"p7@plan.example\"]', '[1]')"
    )))
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    let plan: Vec<String> = plan.into_iter().map(|(line,)| line).collect();
    let plan = plan.join("\n");
    assert!(plan.contains("users"), "{plan}");
    assert!(!plan.contains("Seq Scan on users"), "{plan}");
    sqlx::raw_sql("DEALLOCATE snapshot; RESET plan_cache_mode")
        .execute(&mut *conn)
        .await
        .unwrap();
    drop(conn);
    app.stop().await;
}
