//! Test harness: spawns the real Roster on port 0 with a fresh database per test, on SQLite
//! (embedded mode, emails as `.eml` files) or PostgreSQL + Redis + a real SMTP sink.

pub mod process;
pub mod smtp;
pub mod ws;

use anyhow::Context as _;
use roster_api::app::{self, Running};
use roster_api::config::Settings;
use roster_store::Store;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// PostgreSQL the tests create their databases on.
pub const PG_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
/// Redis the production-mode tests queue on.
pub const REDIS_URL: &str = "redis://127.0.0.1:6379";

/// Which backends a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded mode: SQLite, apalis-sqlite, `.eml` files.
    Sqlite,
    /// Production mode: PostgreSQL, Redis, SMTP.
    Postgres,
}

/// Runs an async test body once per backend: `both_backends!(my_test);` makes
/// `my_test::sqlite` and `my_test::postgres`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::Backend::Sqlite).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name($crate::Backend::Postgres).await
                }
            }
        )+
    };
}

/// One received email, decoded.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub kind: String,
    pub contract: Option<String>,
    pub message_id: String,
    pub text: String,
    pub html: String,
    pub raw: String,
}

impl Mail {
    pub fn parse(raw: &[u8]) -> Mail {
        let msg = mail_parser::MessageParser::new()
            .parse(raw)
            .expect("a parsable email");
        let header = |name: &str| {
            msg.header_raw(name.to_string())
                .map(|h| h.trim().to_string())
        };
        Mail {
            to: msg
                .to()
                .and_then(|l| l.first())
                .and_then(|m| m.address())
                .unwrap_or_default()
                .to_string(),
            subject: msg.subject().unwrap_or_default().to_string(),
            kind: header("X-Roster-Kind").unwrap_or_default(),
            contract: header("X-Roster-Contract"),
            message_id: msg.message_id().unwrap_or_default().to_string(),
            text: msg.body_text(0).map(|c| c.into_owned()).unwrap_or_default(),
            html: msg.body_html(0).map(|c| c.into_owned()).unwrap_or_default(),
            raw: String::from_utf8_lossy(raw).into_owned(),
        }
    }

    /// The activation token of a Get Started link, if the email has one.
    pub fn activation_token(&self) -> Option<String> {
        let at = self.text.find("/activate?token=")? + "/activate?token=".len();
        Some(
            self.text[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
                .collect(),
        )
    }
}

/// A running Roster for one test.
pub struct TestApp {
    pub backend: Backend,
    pub url: String,
    pub store: Store,
    pub staff_key: String,
    pub settings: Settings,
    running: Option<Running>,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
    mail_dir: PathBuf,
    pub smtp: Option<smtp::Sink>,
    pg_database: Option<String>,
    queue_namespace: String,
}

fn unique(prefix: &str) -> String {
    format!("{prefix}{:016x}", rand::random::<u64>())
}

impl TestApp {
    /// Spawns Roster with its worker in-process.
    pub async fn spawn(backend: Backend) -> TestApp {
        Self::spawn_with(backend, true).await
    }

    /// Spawns Roster; `with_worker = false` leaves jobs queued (for tests that run workers
    /// of their own).
    pub async fn spawn_with(backend: Backend, with_worker: bool) -> TestApp {
        Self::spawn_configured(backend, with_worker, |_| {}).await
    }

    /// Spawns Roster after `configure` adjusts its settings.
    pub async fn spawn_configured(
        backend: Backend,
        with_worker: bool,
        configure: impl FnOnce(&mut Settings),
    ) -> TestApp {
        let dir = tempfile::tempdir().expect("a temp dir");
        let queue_namespace = unique("rt");
        let mut settings = Settings {
            listen: Some("127.0.0.1:0".into()),
            data_dir: Some(dir.path().display().to_string()),
            provisioning_delay: Some("0s".into()),
            public_url: Some("http://roster.test".into()),
            mail_from: Some("Roster <roster@roster.test>".into()),
            queue_namespace: Some(queue_namespace.clone()),
            ..Settings::default()
        };
        let mut smtp = None;
        let mut pg_database = None;
        if backend == Backend::Postgres {
            let db = unique("roster_t_");
            create_pg_database(&db)
                .await
                .expect("PostgreSQL is running on 127.0.0.1:5432");
            let sink = smtp::Sink::start().await;
            settings.database_url = Some(format!("postgres://postgres@127.0.0.1:5432/{db}"));
            settings.redis_url = Some(REDIS_URL.into());
            settings.smtp_url = Some(format!("smtp://127.0.0.1:{}", sink.port()));
            smtp = Some(sink);
            pg_database = Some(db);
        }
        configure(&mut settings);
        let config = settings.resolve().expect("test settings are valid");
        let running = app::start(&config, with_worker)
            .await
            .expect("roster starts");
        let store = running.store.clone();
        let (_, staff_key) = roster_store::auth::create_staff_key(store.pool(), "tests")
            .await
            .expect("a staff key");
        TestApp {
            backend,
            url: format!("http://{}", running.addr),
            store,
            staff_key,
            mail_dir: config.mail_dir.clone(),
            settings,
            running: Some(running),
            http: reqwest::Client::new(),
            _dir: dir,
            smtp,
            pg_database,
            queue_namespace,
        }
    }

    /// Posts a GraphQL request with an optional bearer token; returns the whole response.
    pub async fn gql(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let mut req = self
            .http
            .post(format!("{}/graphql", self.url))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.expect("the API answers");
        resp.json().await.expect("a JSON response")
    }

    /// Like [`gql`](Self::gql) but fails the test on top-level errors; returns `data`.
    pub async fn data(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let resp = self.gql(token, query, variables).await;
        assert!(resp.get("errors").is_none(), "unexpected errors: {resp}");
        resp["data"].clone()
    }

    pub async fn staff(&self, query: &str, variables: Value) -> Value {
        self.data(Some(&self.staff_key.clone()), query, variables)
            .await
    }

    /// Waits until every job owed is done: nothing left in the outbox, no email queued.
    pub async fn drain(&self) {
        self.drain_within(Duration::from_secs(60)).await;
    }

    /// Like [`drain`](Self::drain), waiting at most `limit` (fault tests wait for a killed
    /// worker's claims to lapse).
    pub async fn drain_within(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            // Outbox rows not done and emails still queued.
            let lag = roster_store::outbox::lag(&self.store).await.unwrap();
            let pending = lag.jobs_pending + lag.emails_queued;
            if pending == 0 {
                return;
            }
            if Instant::now() > deadline {
                let stuck = roster_store::emails::with_status(self.store.pool(), "QUEUED", 10)
                    .await
                    .unwrap();
                panic!(
                    "jobs not drained: {pending} jobs pending; now {}, \
                     newest queued: {stuck:#?}",
                    roster_store::now_ms()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Every email delivered so far, in delivery order.
    pub async fn mails(&self) -> Vec<Mail> {
        match &self.smtp {
            Some(sink) => sink.messages().iter().map(|m| Mail::parse(m)).collect(),
            None => {
                let mut files: Vec<_> = match std::fs::read_dir(&self.mail_dir) {
                    Ok(rd) => rd.filter_map(Result::ok).map(|e| e.path()).collect(),
                    Err(_) => return vec![],
                };
                files.retain(|p| p.extension().is_some_and(|e| e == "eml"));
                let mut mails: Vec<(std::time::SystemTime, Mail)> = files
                    .iter()
                    .map(|p| {
                        let raw = std::fs::read(p).unwrap();
                        let t = std::fs::metadata(p).unwrap().modified().unwrap();
                        (t, Mail::parse(&raw))
                    })
                    .collect();
                mails.sort_by_key(|(t, m)| (*t, m.message_id.clone()));
                mails.into_iter().map(|(_, m)| m).collect()
            }
        }
    }

    /// Emails to `to` of `kind`.
    pub async fn mails_to(&self, to: &str, kind: &str) -> Vec<Mail> {
        self.mails()
            .await
            .into_iter()
            .filter(|m| m.to.eq_ignore_ascii_case(to) && m.kind == kind)
            .collect()
    }

    /// Activates the User ID of `email` from its latest Get Started email; returns a session.
    pub async fn activate(&self, email: &str, password: &str) -> String {
        let mail = self
            .mails_to(email, "get-started")
            .await
            .into_iter()
            .rev()
            .find(|m| m.activation_token().is_some())
            .unwrap_or_else(|| panic!("no Get Started email with a link for {email}"));
        let token = mail.activation_token().unwrap();
        let data = self
            .data(
                None,
                "mutation($t: String!, $p: String!) { activateAccount(input: {token: $t, password: $p}) { token userErrors { code message } } }",
                json!({ "t": token, "p": password }),
            )
            .await;
        data["activateAccount"]["token"]
            .as_str()
            .unwrap_or_else(|| panic!("activation failed: {data}"))
            .to_string()
    }

    /// Signs in; returns the session token.
    pub async fn sign_in(&self, email: &str, password: &str) -> String {
        let data = self
            .data(
                None,
                "mutation($e: String!, $p: String!) { signIn(input: {email: $e, password: $p}) { token userErrors { code message } } }",
                json!({ "e": email, "p": password }),
            )
            .await;
        data["signIn"]["token"]
            .as_str()
            .unwrap_or_else(|| panic!("sign-in failed: {data}"))
            .to_string()
    }

    /// Counts rows of a table (to show a refusal changed nothing).
    pub async fn count(&self, table: &str) -> i64 {
        let q = match table {
            "contracts" => "SELECT COUNT(*) FROM contracts",
            "users" => "SELECT COUNT(*) FROM users",
            "memberships" => "SELECT COUNT(*) FROM memberships",
            "product_access" => "SELECT COUNT(*) FROM product_access",
            "emails" => "SELECT COUNT(*) FROM emails",
            "outbox" => "SELECT COUNT(*) FROM outbox",
            "audit_log" => "SELECT COUNT(*) FROM audit_log",
            "companies" => "SELECT COUNT(*) FROM companies",
            other => panic!("count: unknown table {other}"),
        };
        let (n,): (i64,) = sqlx::query_as(q)
            .fetch_one(self.store.pool())
            .await
            .unwrap();
        n
    }

    /// Emails in the ledger by status.
    pub async fn email_statuses(&self) -> std::collections::BTreeMap<String, i64> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT status, COUNT(*) FROM emails GROUP BY status")
                .fetch_all(self.store.pool())
                .await
                .unwrap();
        rows.into_iter().collect()
    }

    /// Stops Roster and removes what the test created.
    pub async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown().await.expect("roster stops cleanly");
        }
        self.cleanup().await;
    }

    async fn cleanup(&mut self) {
        if let Some(db) = self.pg_database.take() {
            let _ = drop_pg_database(&db).await;
            let _ = clean_redis(&self.queue_namespace).await;
        }
    }
}

async fn admin_pool() -> anyhow::Result<sqlx::PgPool> {
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(PG_ADMIN_URL)
        .await
        .context("connect to PostgreSQL")
}

async fn create_pg_database(name: &str) -> anyhow::Result<()> {
    let pool = admin_pool().await?;
    let sql = format!("CREATE DATABASE \"{name}\"");
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(&pool)
        .await?;
    pool.close().await;
    Ok(())
}

async fn drop_pg_database(name: &str) -> anyhow::Result<()> {
    let pool = admin_pool().await?;
    let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(&pool)
        .await?;
    pool.close().await;
    Ok(())
}

async fn clean_redis(namespace: &str) -> anyhow::Result<()> {
    let client = redis::Client::open(REDIS_URL)?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{namespace}:*"))
        .query_async(&mut conn)
        .await?;
    if !keys.is_empty() {
        let _: () = redis::cmd("DEL").arg(&keys).query_async(&mut conn).await?;
    }
    let _: () = redis::cmd("ZREM")
        .arg("core:apalis:queues:list")
        .arg(format!("{namespace}:{}:workers", roster_worker::QUEUE))
        .query_async(&mut conn)
        .await?;
    Ok(())
}

/// Asserts that every email of the ledger was sent and arrived exactly once (none queued,
/// none failed, no Message-ID twice); returns (arrived, sent).
pub async fn assert_each_email_once(app: &TestApp) -> (usize, usize) {
    let mails = app.mails().await;
    let ids: std::collections::BTreeSet<&str> =
        mails.iter().map(|m| m.message_id.as_str()).collect();
    let statuses = app.email_statuses().await;
    let sent = *statuses.get("SENT").unwrap_or(&0) as usize;
    assert_eq!(statuses.get("QUEUED"), None, "{statuses:?}");
    assert_eq!(statuses.get("FAILED"), None, "{statuses:?}");
    assert_eq!(ids.len(), sent, "every sent email arrived");
    assert_eq!(mails.len(), ids.len(), "no email arrived twice");
    (mails.len(), sent)
}

impl TestApp {
    /// This app's job queue.
    pub fn queue(&self) -> roster_worker::Queue {
        app::queue(&self.settings.resolve().expect("valid settings"))
    }

    /// Runs the outbox relay by itself (no worker consuming) until it hands nothing more to
    /// the queue; returns how many jobs it handed over.
    pub async fn relay_until_idle(&self) -> usize {
        use roster_worker::{QueueStorage, open_queue, relay};
        let config = self.settings.resolve().expect("valid settings");
        let mut storage = open_queue(&self.queue()).await.expect("the queue opens");
        let redeliver_ms = i64::try_from(config.redeliver_after.as_millis()).unwrap();
        let mut total = 0;
        loop {
            let n = match &mut storage {
                QueueStorage::Sqlite(s) => relay::relay_once(&self.store, s, redeliver_ms).await,
                QueueStorage::Redis(s) => relay::relay_once(&self.store, s, redeliver_ms).await,
            }
            .expect("a relay round");
            if n == 0 {
                return total;
            }
            total += n;
        }
    }
}

/// A standard order for tests: `seats` of one product, or the products given.
pub fn order_input(
    order_number: &str,
    purchaser: &str,
    support: &str,
    renewal: &str,
    products: Value,
) -> Value {
    json!({
        "orderNumber": order_number,
        "company": format!("{order_number} Inc."),
        "purchaser": { "email": purchaser, "firstName": "Pat", "lastName": "Purchaser" },
        "supportLevel": support,
        "renewalKind": renewal,
        "billingPeriod": "ANNUAL",
        "startDate": "2026-01-01",
        "endDate": "2027-01-01",
        "products": products,
    })
}

/// The processOrder mutation with the fields tests read.
pub const PROCESS_ORDER: &str = "mutation($input: ProcessOrderInput!) { processOrder(input: $input) { contract { id number status products { id productCode seats seatsAssigned } } userErrors { code field message } } }";

/// A contract a test made.
#[derive(Debug, Clone)]
pub struct ContractRef {
    pub id: String,
    pub number: String,
    /// Contract product global IDs by product code.
    pub products: std::collections::BTreeMap<String, String>,
}

impl ContractRef {
    /// The contract a `processOrder { contract { id number products { id productCode } } }`
    /// answer names; panics with the answer when the order failed.
    pub fn from_order(data: &Value) -> ContractRef {
        let c = &data["processOrder"]["contract"];
        assert!(c.is_object(), "order failed: {data}");
        ContractRef {
            id: c["id"].as_str().unwrap().to_string(),
            number: c["number"].as_str().unwrap().to_string(),
            products: c["products"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| {
                    (
                        p["productCode"].as_str().unwrap().to_string(),
                        p["id"].as_str().unwrap().to_string(),
                    )
                })
                .collect(),
        }
    }

    pub fn product(&self, code: &str) -> String {
        self.products
            .get(code)
            .unwrap_or_else(|| panic!("no product {code}"))
            .clone()
    }
}

impl TestApp {
    /// Places an order for `products` (code, seats) and waits until the contract is ACTIVE.
    pub async fn contract(
        &self,
        order_number: &str,
        cm_email: &str,
        support: &str,
        renewal: &str,
        products: &[(&str, i64)],
    ) -> ContractRef {
        let lines: Vec<Value> = products
            .iter()
            .map(|(code, seats)| json!({ "productCode": code, "productName": format!("{code} product"), "seats": seats }))
            .collect();
        let data = self
            .staff(
                PROCESS_ORDER,
                json!({ "input": order_input(order_number, cm_email, support, renewal, json!(lines)) }),
            )
            .await;
        self.drain().await;
        ContractRef::from_order(&data)
    }

    /// Records that `contract` was bought through the reseller `reseller_gid`, as an order
    /// with `resellerId` would have (R18: View Cases only for that reseller).
    pub async fn attach_reseller(&self, contract: &ContractRef, reseller_gid: &str) {
        let reseller = roster_api::graphql::ids::decode(
            roster_api::graphql::ids::Kind::Reseller,
            reseller_gid,
        )
        .expect("a reseller ID");
        sqlx::query("UPDATE contracts SET reseller_id = $1 WHERE number = $2")
            .bind(reseller)
            .bind(&contract.number)
            .execute(self.store.pool())
            .await
            .expect("attach the reseller");
    }

    /// The global ID of the User ID with `email`.
    pub async fn user_id(&self, email: &str) -> String {
        let (id,): (i64,) = sqlx::query_as("SELECT id FROM users WHERE lower(email) = lower($1)")
            .bind(email)
            .fetch_one(self.store.pool())
            .await
            .unwrap_or_else(|_| panic!("no user {email}"));
        roster_api::graphql::ids::encode(roster_api::graphql::ids::Kind::User, id).0
    }

    /// Runs `addUsers` and returns its payload.
    pub async fn add_users(
        &self,
        token: &str,
        contract: &ContractRef,
        emails: &[&str],
        access: Value,
    ) -> Value {
        let users: Vec<Value> = emails
            .iter()
            .map(|e| json!({ "email": e, "firstName": "First", "lastName": e.split('@').next().unwrap() }))
            .collect();
        let resp = self
            .gql(
                Some(token),
                ADD_USERS,
                json!({ "input": { "contractId": contract.id, "users": users, "access": access } }),
            )
            .await;
        assert!(resp.get("errors").is_none(), "addUsers failed: {resp}");
        resp["data"]["addUsers"].clone()
    }

    /// Counts that a refused request must leave as they were.
    pub async fn snapshot(&self) -> Vec<i64> {
        let mut out = Vec::new();
        for t in [
            "contracts",
            "users",
            "memberships",
            "product_access",
            "emails",
            "outbox",
            "audit_log",
        ] {
            out.push(self.count(t).await);
        }
        let (coords,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM contract_products WHERE coordinator_user_id IS NOT NULL",
        )
        .fetch_one(self.store.pool())
        .await
        .unwrap();
        let (flags,): (i64,) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM memberships WHERE designated_caller = 1) \
             + (SELECT COUNT(*) FROM memberships WHERE web_support = 1)",
        )
        .fetch_one(self.store.pool())
        .await
        .unwrap();
        out.extend([coords, flags]);
        out
    }
}

/// addUsers with the fields tests read.
pub const ADD_USERS: &str = "mutation($input: AddUsersInput!) { addUsers(input: $input) { dryRun members { user { id email } roles status access { contractProducts { id productCode } webSupport cloudServices } } userErrors { code field message } } }";
/// setUserAccess with the fields tests read.
pub const SET_ACCESS: &str = "mutation($input: SetUserAccessInput!) { setUserAccess(input: $input) { members { user { email } access { contractProducts { productCode } webSupport cloudServices } } userErrors { code field message } } }";
/// The member list an admin reads.
pub const MEMBERS: &str = "query($n: String!, $filter: MemberFilter, $search: String, $first: Int, $after: String) { contract(number: $n) { members(filter: $filter, search: $search, first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { user { email firstName lastName } roles status access { contractProducts { productCode } webSupport cloudServices } } } } } }";

/// A worker running beside the app (a second `roster worker`, in this process).
pub struct WorkerHandle {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl WorkerHandle {
    /// Stops it gracefully and waits.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        self.task
            .await
            .expect("worker task")
            .expect("worker stops cleanly");
    }
}

impl TestApp {
    /// This app's settings for another worker, with a unique name starting with `name`.
    pub fn worker_settings(&self, name: &str) -> Settings {
        let mut settings = self.settings.clone();
        settings.worker_name = Some(format!("{name}-{:08x}", rand::random::<u32>()));
        settings
    }

    /// Starts another worker on the same database and queue, named `name`.
    pub fn start_worker(&self, name: &str) -> WorkerHandle {
        Self::start_worker_with(self.worker_settings(name))
    }

    /// Starts a worker with these settings (its name exactly as they give it).
    pub fn start_worker_with(settings: Settings) -> WorkerHandle {
        let config = settings.resolve().expect("valid settings");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            app::run_worker(&config, async move {
                let _ = stopped.await;
            })
            .await
        });
        WorkerHandle { stop, task }
    }

    /// Runs the `roster` command line in this process with this app's settings.
    pub async fn roster(&self, args: &[&str]) -> std::process::ExitCode {
        use clap::Parser as _;
        let mut argv = vec!["roster".to_string()];
        argv.extend(args.iter().map(|a| a.to_string()));
        let mut cli = roster_api::cli::Cli::parse_from(argv);
        cli.settings = self.settings.clone();
        roster_api::cli::run(cli).await
    }
}

impl TestApp {
    /// Places an order and provisions it at once, without a worker (emails stay queued).
    pub async fn contract_without_worker(
        &self,
        order_number: &str,
        cm_email: &str,
        products: &[(&str, i64)],
    ) -> ContractRef {
        let lines: Vec<Value> = products
            .iter()
            .map(|(code, seats)| json!({ "productCode": code, "productName": format!("{code} product"), "seats": seats }))
            .collect();
        let data = self
            .staff(PROCESS_ORDER, json!({ "input": order_input(order_number, cm_email, "ADVANCED", "MANUAL", json!(lines)) }))
            .await;
        let c = &data["processOrder"]["contract"];
        let id = roster_api::graphql::ids::decode(
            roster_api::graphql::ids::Kind::Contract,
            c["id"].as_str().unwrap(),
        )
        .unwrap();
        roster_store::contracts::provision(&self.store, id)
            .await
            .unwrap();
        ContractRef {
            id: c["id"].as_str().unwrap().to_string(),
            number: c["number"].as_str().unwrap().to_string(),
            products: c["products"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| {
                    (
                        p.get("productCode")
                            .and_then(Value::as_str)
                            .unwrap()
                            .to_string(),
                        p["id"].as_str().unwrap().to_string(),
                    )
                })
                .collect(),
        }
    }

    /// A session for a user, set up directly in the store (for tests that run no worker).
    pub async fn session_for(&self, email: &str) -> String {
        let email = roster_domain::Email::parse(email).unwrap();
        let user = roster_store::users::by_email(self.store.pool(), &email)
            .await
            .unwrap()
            .expect("a user");
        let mut tx = self.store.begin().await.unwrap();
        let token = roster_store::auth::create_session(&mut tx, user.id)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        token
    }
}

impl TestApp {
    /// The operator listener's base URL (`ROSTER_ADMIN_LISTEN`), when the app has one.
    pub fn admin_url(&self) -> Option<String> {
        let running = self.running.as_ref()?;
        running.admin_addr.map(|a| format!("http://{a}"))
    }

    /// Starts a `roster worker` on this app's database and queue with an operator listener of
    /// its own on a free loopback port; returns it and that listener's base URL.
    pub async fn start_worker_with_admin(&self, name: &str) -> (app::RunningWorker, String) {
        let mut settings = self.worker_settings(name);
        settings.admin_listen = Some("127.0.0.1:0".into());
        let config = settings.resolve().expect("valid settings");
        let worker = app::start_worker(&config).await.expect("the worker starts");
        let url = format!("http://{}", worker.admin_addr.expect("an admin listener"));
        (worker, url)
    }
}
