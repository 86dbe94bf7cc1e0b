//! Shared pieces of Roster's benchmarks: a scratch PostgreSQL database per run.

use anyhow::Context as _;
use sqlx::PgPool;

/// PostgreSQL the benchmarks create their databases on.
pub const PG_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A fresh database, dropped by [`Scratch::drop_database`].
pub struct Scratch {
    pub name: String,
    pub url: String,
}

impl Scratch {
    pub async fn create(prefix: &str) -> anyhow::Result<Scratch> {
        let name = format!("{prefix}_{}", std::process::id());
        let admin = PgPool::connect(PG_ADMIN_URL)
            .await
            .context("PostgreSQL on 127.0.0.1:5432")?;
        let drop = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
        sqlx::raw_sql(sqlx::AssertSqlSafe(drop))
            .execute(&admin)
            .await?;
        let create = format!("CREATE DATABASE \"{name}\"");
        sqlx::raw_sql(sqlx::AssertSqlSafe(create))
            .execute(&admin)
            .await?;
        admin.close().await;
        Ok(Scratch {
            url: format!("postgres://postgres@127.0.0.1:5432/{name}"),
            name,
        })
    }

    pub async fn drop_database(self) -> anyhow::Result<()> {
        let admin = PgPool::connect(PG_ADMIN_URL).await?;
        let drop = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
        sqlx::raw_sql(sqlx::AssertSqlSafe(drop))
            .execute(&admin)
            .await?;
        admin.close().await;
        Ok(())
    }
}
