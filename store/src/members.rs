//! Members of a contract as reads show them: roles, coordination, access and status (R21,
//! R27), the member page with its filters, and the contract's advice facts. Changes to people
//! go through `change` (one locked snapshot, one plan); what is left here that writes is
//! [`lock_contract`] and [`add`] for the order and renewal paths.

use crate::contracts::ContractProductRow;
use crate::{Backend, StoreResult, Tx, flag, now_ms};
use roster_domain::change::Benefit;
use roster_domain::{MemberStatus, Role, SupportLevel};
use std::collections::{BTreeMap, BTreeSet};

/// Takes the contract's row lock for the rest of the transaction.
pub async fn lock_contract(tx: &mut Tx, contract_id: i64) -> StoreResult<()> {
    sqlx::query("UPDATE contracts SET id = id WHERE id = $1")
        .bind(contract_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// A member with their user, as lists show them.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MemberRow {
    pub contract_id: i64,
    pub user_id: i64,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub language: String,
    #[sqlx(try_from = "String")]
    pub status: MemberStatus,
    pub is_manager: i64,
    pub designated_caller: i64,
    pub web_support: i64,
    pub cloud_services: String,
    pub created_at: i64,
}

/// What a member may use (R11).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Access {
    /// Contract products held (a seat each).
    pub products: BTreeSet<i64>,
    pub web_support: bool,
    pub cloud_services: BTreeSet<String>,
}

/// A member with everything derived: roles, coordination and access.
#[derive(Debug, Clone)]
pub struct Member {
    pub row: MemberRow,
    pub coordinates: BTreeSet<i64>,
    pub access: Access,
}

impl Member {
    pub fn is_manager(&self) -> bool {
        flag(self.row.is_manager)
    }

    /// R1, R3, R5, R13: every member is a (Named) User; the CM and SCs are Named Callers by
    /// default on ADVANCED contracts; others when designated.
    pub fn roles(&self, support: SupportLevel) -> Vec<Role> {
        let mut roles = Vec::new();
        if self.is_manager() {
            roles.push(Role::ContractManager);
        }
        if !self.coordinates.is_empty() {
            roles.push(Role::SoftwareCoordinator);
        }
        roles.push(Role::User);
        if self.is_named_caller(support) {
            roles.push(Role::NamedCaller);
        }
        roles
    }

    pub fn is_named_caller(&self, support: SupportLevel) -> bool {
        roster_domain::rules::is_named_caller(
            support,
            self.is_manager(),
            !self.coordinates.is_empty(),
            flag(self.row.designated_caller),
        )
    }
}

/// The name and language a contract's admins see of a member (tenancy): the name the admin
/// typed until the person signs in after being named, then the person's own; the language the
/// admin typed, never the one a person keeps for themself (another company's admins would
/// see it).
macro_rules! shown_first {
    () => {
        "(CASE WHEN m.status = 'PENDING' AND m.typed_first_name IS NOT NULL \
         THEN m.typed_first_name ELSE u.first_name END)"
    };
}
macro_rules! shown_last {
    () => {
        "(CASE WHEN m.status = 'PENDING' AND m.typed_last_name IS NOT NULL \
         THEN m.typed_last_name ELSE u.last_name END)"
    };
}
macro_rules! shown_names {
    () => {
        concat!(
            shown_first!(),
            " AS first_name, ",
            shown_last!(),
            " AS last_name, COALESCE(m.typed_language, u.language) AS language"
        )
    };
}

macro_rules! member_select {
    ($tail:literal) => {
        concat!(
            "SELECT m.contract_id, m.user_id, u.email, ",
            shown_names!(),
            ", m.status, m.is_manager, m.designated_caller, m.web_support, m.cloud_services, \
             m.created_at FROM memberships m JOIN users u ON u.id = m.user_id ",
            $tail
        )
    };
}

fn parse_cloud(s: &str) -> BTreeSet<String> {
    s.split(',')
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .collect()
}

/// Every member of a contract, with roles and access, in two statements.
pub async fn all(conn: &mut sqlx::AnyConnection, contract_id: i64) -> StoreResult<Vec<Member>> {
    let rows: Vec<MemberRow> = sqlx::query_as(member_select!(
        "WHERE m.contract_id = $1 ORDER BY lower(u.last_name), lower(u.first_name), u.id"
    ))
    .bind(contract_id)
    .fetch_all(&mut *conn)
    .await?;
    assemble(conn, contract_id, None, rows).await
}

/// One member of a contract.
pub async fn get(
    conn: &mut sqlx::AnyConnection,
    contract_id: i64,
    user_id: i64,
) -> StoreResult<Option<Member>> {
    let rows: Vec<MemberRow> = sqlx::query_as(member_select!(
        "WHERE m.contract_id = $1 AND m.user_id = $2"
    ))
    .bind(contract_id)
    .bind(user_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(assemble(conn, contract_id, Some(user_id), rows)
        .await?
        .pop())
}

/// Adds seats and coordinations to member rows: `only` one user's, or everyone's on the
/// contract (a page's members are few of the contract's, but one statement for all beats one
/// per member).
async fn assemble(
    conn: &mut sqlx::AnyConnection,
    contract_id: i64,
    only: Option<i64>,
    rows: Vec<MemberRow>,
) -> StoreResult<Vec<Member>> {
    if rows.is_empty() {
        return Ok(vec![]);
    }
    // One statement: the seats held and the products coordinated on the contract.
    let facts: Vec<(i64, i64, i64)> = sqlx::query_as(
        "SELECT user_id, contract_product_id, 0 FROM product_access \
         WHERE contract_id = $1 AND ($2 IS NULL OR user_id = $2) \
         UNION ALL SELECT coordinator_user_id, id, 1 FROM contract_products \
         WHERE contract_id = $1 AND coordinator_user_id IS NOT NULL \
         AND ($2 IS NULL OR coordinator_user_id = $2)",
    )
    .bind(contract_id)
    .bind(only)
    .fetch_all(&mut *conn)
    .await?;
    let mut products: BTreeMap<i64, BTreeSet<i64>> = BTreeMap::new();
    let mut coordinates: BTreeMap<i64, BTreeSet<i64>> = BTreeMap::new();
    for (user, cp, coordinated) in facts {
        let by_user = if coordinated == 1 {
            &mut coordinates
        } else {
            &mut products
        };
        by_user.entry(user).or_default().insert(cp);
    }
    Ok(rows
        .into_iter()
        .map(|row| Member {
            coordinates: coordinates.remove(&row.user_id).unwrap_or_default(),
            access: Access {
                products: products.remove(&row.user_id).unwrap_or_default(),
                web_support: flag(row.web_support),
                cloud_services: parse_cloud(&row.cloud_services),
            },
            row,
        })
        .collect())
}

/// Names a user on a contract (R9). Returns `false` when they already were a member.
pub async fn add(tx: &mut Tx, contract_id: i64, user_id: i64) -> StoreResult<bool> {
    let done = sqlx::query(
        "INSERT INTO memberships (contract_id, user_id, status, created_at) \
         VALUES ($1, $2, 'PENDING', $3) ON CONFLICT DO NOTHING",
    )
    .bind(contract_id)
    .bind(user_id)
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The filters of `Contract.members` (R27).
#[derive(Debug, Clone, Default)]
pub struct MemberFilter {
    /// Members holding any of these contract products.
    pub contract_products: Option<BTreeSet<i64>>,
    pub web_support: Option<bool>,
    pub status: Option<String>,
    pub role: Option<Role>,
    /// Matches name or email, case-insensitively.
    pub search: Option<String>,
}

/// The contract a page of members is read from: the products it holds are what say who
/// coordinates which (R4), so the page need not ask the database again.
#[derive(Clone, Copy)]
pub struct PageOf<'a> {
    pub contract_id: i64,
    pub support: SupportLevel,
    pub products: &'a [ContractProductRow],
}

/// One page of members matching `filter`, sorted by name, and the total that match.
///
/// One statement: the filtered, sorted page and the total, so a page costs one statement
/// whatever its size (two for a page past the end, to count). Each member's seats come in the
/// same statement (a correlated `string_agg`, which SQLite has since 3.44 as PostgreSQL does)
/// when `with_access`; without it `access.products` is left empty (a page that shows no access
/// does not pay for it: on PostgreSQL it was half the statement's time). The products each
/// member coordinates are read off `of.products`.
pub async fn page(
    backend: Backend,
    conn: &mut sqlx::AnyConnection,
    of: PageOf<'_>,
    filter: &MemberFilter,
    with_access: bool,
    offset: i64,
    limit: i64,
) -> StoreResult<(Vec<Member>, i64)> {
    let statement = PageStatement::new(backend, of.support, filter, with_access);
    let rows = statement.fetch(conn, of.contract_id, limit, offset).await?;
    let total = match rows.first() {
        Some(r) => r.total,
        // An empty page past the end still needs the total.
        None if offset > 0 => statement
            .fetch(conn, of.contract_id, 1, 0)
            .await?
            .first()
            .map_or(0, |r| r.total),
        None => 0,
    };
    let members = rows
        .into_iter()
        .map(|r| Member {
            coordinates: of
                .products
                .iter()
                .filter(|p| p.coordinator_user_id == Some(r.member.user_id))
                .map(|p| p.id)
                .collect(),
            access: Access {
                products: parse_ids(&r.held),
                web_support: flag(r.member.web_support),
                cloud_services: parse_cloud(&r.member.cloud_services),
            },
            row: r.member,
        })
        .collect();
    Ok((members, total))
}

fn parse_ids(s: &str) -> BTreeSet<i64> {
    s.split(',').filter_map(|x| x.trim().parse().ok()).collect()
}

/// A row of the members page, read by position: by name, every column of every row cost a
/// SipHash lookup in sqlx's `AnyRow`, a tenth of the contract page's CPU.
struct PageRow {
    member: MemberRow,
    total: i64,
    /// The contract products the member holds, comma-separated (empty unless asked for).
    held: String,
}

impl sqlx::FromRow<'_, sqlx::any::AnyRow> for PageRow {
    fn from_row(row: &sqlx::any::AnyRow) -> sqlx::Result<Self> {
        use sqlx::Row as _;
        let status: String = row.try_get(6)?;
        Ok(PageRow {
            member: MemberRow {
                contract_id: row.try_get(0)?,
                user_id: row.try_get(1)?,
                email: row.try_get(2)?,
                first_name: row.try_get(3)?,
                last_name: row.try_get(4)?,
                language: row.try_get(5)?,
                status: status.parse().map_err(|e| sqlx::Error::ColumnDecode {
                    index: "status".into(),
                    source: Box::new(e),
                })?,
                is_manager: row.try_get(7)?,
                designated_caller: row.try_get(8)?,
                web_support: row.try_get(9)?,
                cloud_services: row.try_get(10)?,
                created_at: row.try_get(11)?,
            },
            total: row.try_get(12)?,
            held: row.try_get(13)?,
        })
    }
}

/// The members page statement for one set of filters: a clause for each filter given and
/// none for the others, so the page an SPA asks for most (no filter) is the short statement
/// it is. With `$n IS NULL OR ...` clauses for every filter, PostgreSQL planned the statement
/// anew on every execution (a generic plan looks dearer) and the planning cost more than
/// running it. `$1` is the contract, the filters' values follow, then limit and offset.
pub struct PageStatement {
    sql: String,
    status: Option<String>,
    web_support: Option<i64>,
    search: Option<String>,
    contract_products: Option<String>,
}

impl PageStatement {
    pub fn new(
        backend: Backend,
        support: SupportLevel,
        filter: &MemberFilter,
        with_access: bool,
    ) -> PageStatement {
        let mut sql = String::with_capacity(1536);
        sql.push_str(concat!(
            "SELECT m.contract_id, m.user_id, u.email, ",
            shown_names!(),
            ", m.status, m.is_manager, m.designated_caller, m.web_support, m.cloud_services, \
             m.created_at, COUNT(*) OVER () AS total, "
        ));
        sql.push_str(if with_access {
            "COALESCE((SELECT string_agg(CAST(pa.contract_product_id AS TEXT), ',') \
             FROM product_access pa \
             WHERE pa.contract_id = m.contract_id AND pa.user_id = m.user_id), '') AS held "
        } else {
            "'' AS held "
        });
        sql.push_str(match backend {
            // Planned for a join, PostgreSQL read every user of the database to find a page's
            // (5 to 11 ms at 45,000 users); each member's user is read by key instead
            // (`OFFSET 0` keeps the planner from turning the `LATERAL` back into a join).
            // SQLite has no `LATERAL` and plans per statement.
            Backend::Postgres => {
                "FROM memberships m CROSS JOIN LATERAL (SELECT u.id, u.email, u.first_name, \
                 u.last_name, u.language FROM users u WHERE u.id = m.user_id OFFSET 0) u "
            }
            Backend::Sqlite => "FROM memberships m JOIN users u ON u.id = m.user_id ",
        });
        sql.push_str("WHERE m.contract_id = $1");
        let mut n = 1;
        let mut param = |sql: &mut String| {
            n += 1;
            sql.push('$');
            sql.push_str(&n.to_string());
            n
        };
        if filter.status.is_some() {
            sql.push_str(" AND m.status = ");
            param(&mut sql);
        }
        if filter.web_support.is_some() {
            sql.push_str(" AND m.web_support = ");
            param(&mut sql);
        }
        if filter.search.is_some() {
            sql.push_str(concat!(
                " AND (lower(",
                shown_first!(),
                " || ' ' || ",
                shown_last!(),
                ") LIKE "
            ));
            let pattern = param(&mut sql);
            sql.push_str(" ESCAPE '\\' OR lower(u.email) LIKE $");
            sql.push_str(&pattern.to_string());
            sql.push_str(" ESCAPE '\\')");
        }
        if filter.contract_products.is_some() {
            sql.push_str(
                " AND EXISTS (SELECT 1 FROM product_access pa \
                 WHERE pa.contract_id = m.contract_id AND pa.user_id = m.user_id \
                 AND ",
            );
            param(&mut sql);
            sql.push_str(" LIKE '%,' || CAST(pa.contract_product_id AS TEXT) || ',%')");
        }
        const COORDINATES: &str = "EXISTS (SELECT 1 FROM contract_products cp \
             WHERE cp.contract_id = m.contract_id AND cp.coordinator_user_id = m.user_id)";
        match filter.role {
            None | Some(Role::User) => {}
            Some(Role::ContractManager) => sql.push_str(" AND m.is_manager = 1"),
            Some(Role::SoftwareCoordinator) => {
                sql.push_str(" AND ");
                sql.push_str(COORDINATES);
            }
            // R13, as `rules::is_named_caller` says it.
            Some(Role::NamedCaller) if support == SupportLevel::Advanced => {
                sql.push_str(" AND (m.is_manager = 1 OR m.designated_caller = 1 OR ");
                sql.push_str(COORDINATES);
                sql.push(')');
            }
            Some(Role::NamedCaller) => sql.push_str(" AND 1 = 0"),
        }
        sql.push_str(" ORDER BY lower(u.last_name), lower(u.first_name), u.id LIMIT ");
        param(&mut sql);
        sql.push_str(" OFFSET ");
        param(&mut sql);
        PageStatement {
            sql,
            status: filter.status.clone(),
            web_support: filter.web_support.map(i64::from),
            search: filter.search.as_ref().map(|s| {
                let escaped = s
                    .to_lowercase()
                    .replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_");
                format!("%{escaped}%")
            }),
            contract_products: filter.contract_products.as_ref().map(|set| {
                format!(
                    ",{},",
                    set.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
                )
            }),
        }
    }

    /// The statement's text (`tests/tests/plans.rs` asks PostgreSQL how it plans it).
    pub fn sql(&self) -> &str {
        &self.sql
    }

    async fn fetch(
        &self,
        conn: &mut sqlx::AnyConnection,
        contract_id: i64,
        limit: i64,
        offset: i64,
    ) -> StoreResult<Vec<PageRow>> {
        // Bound in the order `new` numbered them.
        let mut query = sqlx::query_as(sqlx::AssertSqlSafe(self.sql.as_str())).bind(contract_id);
        if let Some(status) = &self.status {
            query = query.bind(status.as_str());
        }
        if let Some(web_support) = self.web_support {
            query = query.bind(web_support);
        }
        if let Some(search) = &self.search {
            query = query.bind(search.as_str());
        }
        if let Some(products) = &self.contract_products {
            query = query.bind(products.as_str());
        }
        Ok(query
            .bind(limit.max(0))
            .bind(offset.max(0))
            .fetch_all(&mut *conn)
            .await?)
    }
}

/// What a member now has, as a Permissions Changed email lists it (R12): products, Web
/// Support, cloud services, Named Caller status and the products they coordinate.
pub fn benefits(
    member: &Member,
    support: SupportLevel,
    product_names: &BTreeMap<i64, String>,
) -> Vec<Benefit> {
    let name = |id: &i64| product_names.get(id).cloned().unwrap_or_default();
    let mut out: Vec<Benefit> = member
        .access
        .products
        .iter()
        .map(|id| Benefit::Product(name(id)))
        .collect();
    if member.access.web_support {
        out.push(Benefit::WebSupport);
    }
    out.extend(
        member
            .access
            .cloud_services
            .iter()
            .cloned()
            .map(Benefit::CloudService),
    );
    if member.is_named_caller(support) {
        out.push(Benefit::NamedCaller);
    }
    out.extend(
        member
            .coordinates
            .iter()
            .map(|id| Benefit::Coordinator(name(id))),
    );
    out
}

/// What the contract's advice is computed from (R27, "the absent CM").
pub async fn advice_facts(
    conn: &mut sqlx::AnyConnection,
    contract_id: i64,
) -> StoreResult<roster_domain::advice::AdviceFacts> {
    let (pending,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM memberships WHERE contract_id = $1 AND status = 'PENDING'",
    )
    .bind(contract_id)
    .fetch_one(&mut *conn)
    .await?;
    // Each product, and whether someone other than the CM coordinates it (R4).
    let products: Vec<(String, i64)> = sqlx::query_as(
        "SELECT p.name, CASE WHEN cp.coordinator_user_id IS NULL OR EXISTS (SELECT 1 FROM memberships m \
         WHERE m.contract_id = cp.contract_id AND m.user_id = cp.coordinator_user_id AND m.is_manager = 1) \
         THEN 1 ELSE 0 END AS only_cm \
         FROM contract_products cp JOIN products p ON p.id = cp.product_id \
         WHERE cp.contract_id = $1 ORDER BY p.name",
    )
    .bind(contract_id)
    .fetch_all(&mut *conn)
    .await?;
    let idle: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT u.first_name, u.last_name, p.name FROM product_access pa \
         JOIN contract_products cp ON cp.id = pa.contract_product_id \
         JOIN products p ON p.id = cp.product_id JOIN users u ON u.id = pa.user_id \
         JOIN memberships m ON m.contract_id = pa.contract_id AND m.user_id = pa.user_id \
         WHERE pa.contract_id = $1 AND pa.by_default = 1 AND cp.seats_assigned >= cp.seats \
         AND (m.is_manager = 1 OR EXISTS (SELECT 1 FROM contract_products c2 \
              WHERE c2.contract_id = pa.contract_id AND c2.coordinator_user_id = pa.user_id)) \
         ORDER BY u.last_name, u.first_name, p.name",
    )
    .bind(contract_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(roster_domain::advice::AdviceFacts {
        products_only_cm_administers: products
            .iter()
            .filter(|(_, only)| *only == 1)
            .map(|(n, _)| n.clone())
            .collect(),
        products: products.into_iter().map(|(n, _)| n).collect(),
        pending_members: pending,
        idle_admin_seats: idle
            .into_iter()
            .map(|(f, l, p)| (format!("{f} {l}"), p))
            .collect(),
    })
}
