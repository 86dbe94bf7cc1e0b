//! Members of a contract as reads show them: roles, coordination, access and status (R21,
//! R27), the member page with its filters, and the contract's advice facts. Changes to people
//! go through `change` (one locked snapshot, one plan); what is left here that writes is
//! [`lock_contract`] and [`add`] for the order and renewal paths.

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

/// One page of members matching `filter`, sorted by name, and the total that match.
///
/// One statement: the filtered, sorted page with each member's seats and coordinated products
/// (correlated `string_agg`, which SQLite has since 3.44 as PostgreSQL does) and the total, so
/// a page costs one statement whatever its size (two for a page past the end, to count).
pub async fn page(
    backend: Backend,
    conn: &mut sqlx::AnyConnection,
    contract_id: i64,
    support: SupportLevel,
    filter: &MemberFilter,
    offset: i64,
    limit: i64,
) -> StoreResult<(Vec<Member>, i64)> {
    let products = filter.contract_products.as_ref().map(|set| {
        format!(
            ",{},",
            set.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
        )
    });
    let search = filter.search.as_ref().map(|s| {
        let escaped = s
            .to_lowercase()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        format!("%{escaped}%")
    });
    let advanced = i64::from(support == SupportLevel::Advanced);
    let role = filter.role.map(|r| r.as_str());
    let params = (
        filter.status.clone(),
        filter.web_support.map(i64::from),
        search,
        products,
        role,
        advanced,
    );
    let rows = filtered(backend, conn, contract_id, &params, limit, offset).await?;
    let total = match rows.first() {
        Some(r) => r.total,
        // An empty page past the end still needs the total.
        None if offset > 0 => filtered(backend, conn, contract_id, &params, 1, 0)
            .await?
            .first()
            .map_or(0, |r| r.total),
        None => 0,
    };
    // The seats held and the products coordinated came in the same statement.
    let members = rows
        .into_iter()
        .map(|r| Member {
            coordinates: parse_ids(&r.coordinated),
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

/// A row of [`filtered`], read by position: by name, every column of every row cost a
/// SipHash lookup in sqlx's `AnyRow`, a tenth of the contract page's CPU.
struct PageRow {
    member: MemberRow,
    total: i64,
    /// The contract products the member holds, comma-separated.
    held: String,
    /// The contract products the member coordinates, comma-separated.
    coordinated: String,
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
            coordinated: row.try_get(14)?,
        })
    }
}

type FilterParams = (
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<&'static str>,
    i64,
);

/// The members page (see [`filtered`]) over `$from`, how memberships meet their users.
macro_rules! members_page {
    ($from:literal) => {
        concat!(
        "SELECT m.contract_id, m.user_id, u.email, ",
        shown_names!(),
        ", m.status, m.is_manager, m.designated_caller, m.web_support, m.cloud_services, \
         m.created_at, COUNT(*) OVER () AS total, \
         COALESCE((SELECT string_agg(CAST(pa.contract_product_id AS TEXT), ',') \
                   FROM product_access pa \
                   WHERE pa.contract_id = m.contract_id AND pa.user_id = m.user_id), '') AS held, \
         COALESCE((SELECT string_agg(CAST(cp.id AS TEXT), ',') FROM contract_products cp \
                   WHERE cp.contract_id = m.contract_id AND cp.coordinator_user_id = m.user_id), '') \
                   AS coordinated \
         ",
        $from,
        " WHERE m.contract_id = $1 \
         AND ($2 IS NULL OR m.status = $2) \
         AND ($3 IS NULL OR m.web_support = $3) \
         AND ($4 IS NULL OR lower(",
        shown_first!(),
        " || ' ' || ",
        shown_last!(),
        ") LIKE $4 ESCAPE '\\' \
              OR lower(u.email) LIKE $4 ESCAPE '\\') \
         AND ($5 IS NULL OR EXISTS (SELECT 1 FROM product_access pa \
              WHERE pa.contract_id = m.contract_id AND pa.user_id = m.user_id \
              AND $5 LIKE '%,' || CAST(pa.contract_product_id AS TEXT) || ',%')) \
         AND ($6 IS NULL OR $6 = 'USER' \
              OR ($6 = 'CONTRACT_MANAGER' AND m.is_manager = 1) \
              OR ($6 = 'SOFTWARE_COORDINATOR' AND EXISTS (SELECT 1 FROM contract_products cp \
                  WHERE cp.contract_id = m.contract_id AND cp.coordinator_user_id = m.user_id)) \
              OR ($6 = 'NAMED_CALLER' AND $7 = 1 AND (m.is_manager = 1 OR m.designated_caller = 1 \
                  OR EXISTS (SELECT 1 FROM contract_products cp \
                  WHERE cp.contract_id = m.contract_id AND cp.coordinator_user_id = m.user_id)))) \
         ORDER BY lower(u.last_name), lower(u.first_name), u.id LIMIT $8 OFFSET $9"
        )
    };
}

/// PostgreSQL runs the page as a prepared statement; planned for the values given, it joined
/// the contract's memberships to users by a hash join over a sequential scan of every user
/// (5 to 11 ms of the contract page at 45,000 users, growing with the user table). Each
/// member's user is read by key instead (`OFFSET 0` keeps the planner from turning the
/// `LATERAL` back into a join). SQLite has no `LATERAL` and plans per statement.
pub const MEMBERS_PAGE_PG: &str = members_page!(
    "FROM memberships m CROSS JOIN LATERAL (SELECT u.id, u.email, u.first_name, u.last_name, \
     u.language FROM users u WHERE u.id = m.user_id OFFSET 0) u"
);
const MEMBERS_PAGE_SQLITE: &str =
    members_page!("FROM memberships m JOIN users u ON u.id = m.user_id");

async fn filtered(
    backend: Backend,
    conn: &mut sqlx::AnyConnection,
    contract_id: i64,
    params: &FilterParams,
    limit: i64,
    offset: i64,
) -> StoreResult<Vec<PageRow>> {
    let sql = match backend {
        Backend::Postgres => MEMBERS_PAGE_PG,
        Backend::Sqlite => MEMBERS_PAGE_SQLITE,
    };
    Ok(sqlx::query_as(sql)
        .bind(contract_id)
        .bind(params.0.clone())
        .bind(params.1)
        .bind(params.2.clone())
        .bind(params.3.clone())
        .bind(params.4)
        .bind(params.5)
        .bind(limit.max(0))
        .bind(offset.max(0))
        .fetch_all(&mut *conn)
        .await?)
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
