//! Tenancy and visibility (R7, R17, R18, and the "not found" rule of API.md), as a property
//! test: random worlds of companies, contracts, members, coordinators, resellers and cases are
//! built through the real API, then every actor reads every list through GraphQL and each
//! answer must equal exactly what the policy (`roster_domain::policy::decide`) gives that actor,
//! computed from this file's own model of the world, never from the API's answers.
//!
//! A world is a [`WorldSpec`]: resellers and their users, contracts (company, support level,
//! renewal kind, products and seats, Contract Manager, reseller), then a sequence of [`Op`]s
//! whose indices are resolved against the model when they run (an op that does not apply is
//! skipped), so any spec is valid and proptest can shrink a failing one. Each op runs through
//! GraphQL as the CM (or a Web Support member, or staff) and must succeed; the model applies the
//! same change by the rules of DOMAIN.md.
//!
//! Then, for every person with a User ID, staff and an anonymous caller: `viewer.contracts`,
//! `contracts` (the bulk standing path) and `contract(number:)` for every contract of the world
//! (the single standing path) with every list of the contract (members, members by role,
//! supportCases, "only mine", auditLog, emails, resellerCaseAccess, advice, products and
//! their secrets, the secrets inside member access), and `node`/`supportCase(caseId:)` for
//! every contract, contract product, case and user of the world.
//!
//! Then outsiders of each contract (another company's signed-in user, a reseller's user whose
//! reseller may read the contract's cases and one whose reseller may not, and a staff key) try
//! every mutation that names the contract, one of its members or one of its cases (proposing
//! themselves as Contract Manager too, R15) and every export of it: each must be refused as
//! the policy says (NOT_FOUND, exactly as for a contract that does not exist, for whoever may
//! not know it; FORBIDDEN for whoever may only read it), and nothing stored may change.
//!
//! `TENANCY_SEED=<u64>` replays a run; `TENANCY_WORLDS=<n>` changes how many worlds run;
//! `TENANCY_SHRINK=<n>` bounds how many smaller worlds proptest tries after a failure.

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use roster_api::graphql::ids::{self, Kind};
use roster_domain::policy::{Action, Decision, Principal, Standing, decide};
use roster_domain::{SupportLevel, rules};
use roster_tests::{Backend, TestApp};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::sync::atomic::{AtomicUsize, Ordering};

/// People who can be customers (members, CMs, SCs); some are also reseller users.
const CUSTOMERS: usize = 14;
/// People who are only reseller users.
const REPS: usize = 4;
/// The catalogue contracts pick their products from.
const CATALOGUE: [&str; 4] = ["ACAD", "REVIT", "MAYA", "VIEW"];
const RENEWALS: [&str; 3] = ["AUTO", "RESELLER", "MANUAL"];

// ---------------------------------------------------------------------------------------------
// What a world is made of (generated).

#[derive(Debug, Clone)]
struct ContractSpec {
    company: usize,
    advanced: bool,
    renewal: usize,
    /// (catalogue index, seats)
    products: Vec<(usize, i64)>,
    cm: usize,
    reseller: Option<usize>,
}

#[derive(Debug, Clone)]
enum Op {
    /// The CM names people, granting the products of `products` (a bit mask) and Web Support.
    AddUsers {
        c: usize,
        people: Vec<usize>,
        products: u8,
        web: bool,
    },
    /// The CM makes `person` the SC of the products in the mask.
    AssignSc {
        c: usize,
        products: u8,
        person: usize,
    },
    /// The CM removes the SCs of the products in the mask.
    RemoveSc { c: usize, products: u8 },
    /// The CM grants and revokes a member's products and Web Support.
    SetAccess {
        c: usize,
        pick: usize,
        grant: u8,
        revoke: u8,
        web: Option<bool>,
    },
    /// The CM designates or un-designates a Named Caller (ADVANCED only).
    NamedCaller {
        c: usize,
        pick: usize,
        designate: bool,
    },
    /// The CM removes a member other than themself.
    RemoveUser { c: usize, pick: usize },
    /// The CM sets View Cases for a reseller.
    ResellerAccess {
        c: usize,
        reseller: usize,
        view: bool,
    },
    /// A member who may use Web Support opens a case.
    OpenCase { c: usize, pick: usize },
    /// The CM asks for `person` as the new CM (a case); staff approve or decline.
    ChangeCm {
        c: usize,
        person: usize,
        approve: bool,
    },
}

#[derive(Debug, Clone)]
struct WorldSpec {
    /// Users of each reseller (person indices; `>= CUSTOMERS` are reseller-only people).
    resellers: Vec<Vec<usize>>,
    contracts: Vec<ContractSpec>,
    ops: Vec<Op>,
}

fn mask() -> impl Strategy<Value = u8> {
    0u8..16
}

fn op() -> impl Strategy<Value = Op> {
    let c = 0usize..8;
    prop_oneof![
        6 => (c.clone(), proptest::collection::vec(0..CUSTOMERS, 1..4), mask(), any::<bool>())
            .prop_map(|(c, people, products, web)| Op::AddUsers { c, people, products, web }),
        3 => (c.clone(), 1u8..16, 0..CUSTOMERS)
            .prop_map(|(c, products, person)| Op::AssignSc { c, products, person }),
        1 => (c.clone(), 1u8..16).prop_map(|(c, products)| Op::RemoveSc { c, products }),
        4 => (c.clone(), 0usize..16, mask(), mask(), proptest::option::of(any::<bool>()))
            .prop_map(|(c, pick, grant, revoke, web)| Op::SetAccess { c, pick, grant, revoke, web }),
        4 => (c.clone(), 0usize..16, prop::bool::weighted(0.7))
            .prop_map(|(c, pick, designate)| Op::NamedCaller { c, pick, designate }),
        2 => (c.clone(), 0usize..16).prop_map(|(c, pick)| Op::RemoveUser { c, pick }),
        3 => (c.clone(), 0usize..3, prop::bool::weighted(0.75))
            .prop_map(|(c, reseller, view)| Op::ResellerAccess { c, reseller, view }),
        4 => (c.clone(), 0usize..16).prop_map(|(c, pick)| Op::OpenCase { c, pick }),
        1 => (c, 0..CUSTOMERS, prop::bool::weighted(0.8))
            .prop_map(|(c, person, approve)| Op::ChangeCm { c, person, approve }),
    ]
}

fn contract_spec() -> impl Strategy<Value = ContractSpec> {
    (
        0usize..3,
        any::<bool>(),
        0usize..3,
        proptest::sample::subsequence((0..CATALOGUE.len()).collect::<Vec<_>>(), 1..=3),
        proptest::collection::vec(1i64..=12, 3),
        0..CUSTOMERS,
        proptest::option::of(0usize..3),
    )
        .prop_map(
            |(company, advanced, renewal, codes, seats, cm, reseller)| ContractSpec {
                company,
                advanced,
                renewal,
                products: codes.into_iter().zip(seats).collect(),
                cm,
                reseller,
            },
        )
}

fn reseller_user() -> impl Strategy<Value = usize> {
    prop_oneof![3 => CUSTOMERS..CUSTOMERS + REPS, 1 => 0..CUSTOMERS]
}

fn world_spec() -> impl Strategy<Value = WorldSpec> {
    (
        proptest::collection::vec(proptest::collection::vec(reseller_user(), 1..=2), 1..=3),
        proptest::collection::vec(contract_spec(), 3..=6),
        proptest::collection::vec(op(), 25..=45),
    )
        .prop_map(|(resellers, contracts, ops)| WorldSpec {
            resellers,
            contracts,
            ops,
        })
}

// ---------------------------------------------------------------------------------------------
// The model: what the world is, by the rules of DOMAIN.md.

#[derive(Debug, Clone)]
struct Person {
    email: String,
    /// Set once the person has a User ID.
    user_id: Option<i64>,
    reseller: Option<usize>,
}

#[derive(Debug, Clone)]
struct Reseller {
    gid: String,
}

#[derive(Debug, Clone)]
struct Product {
    id: i64,
    gid: String,
    code: String,
    seats: i64,
    assigned: i64,
    sc: Option<usize>,
}

#[derive(Debug, Clone, Default)]
struct Membership {
    /// Indices into the contract's products.
    products: BTreeSet<usize>,
    web: bool,
    designated: bool,
}

#[derive(Debug, Clone)]
struct Case {
    gid: String,
    case_id: String,
    submitter: usize,
    /// The contract product the case is about (an index into the contract's products).
    product: Option<usize>,
    /// A Contract Manager change (R15) rather than a case opened with createSupportCase.
    cm_change: bool,
}

#[derive(Debug, Clone)]
struct Contract {
    id: i64,
    gid: String,
    number: String,
    company: String,
    support: SupportLevel,
    renewal: &'static str,
    reseller: Option<usize>,
    products: Vec<Product>,
    cm: usize,
    /// The customer number its order carried (R30): contracts with the same one are one
    /// company, whose CMs read each other's contracts.
    customer: Option<String>,
    members: BTreeMap<usize, Membership>,
    /// View Cases rows that exist (R18; a row is written only when the value changes).
    reseller_view: BTreeMap<usize, bool>,
    cases: Vec<Case>,
}

impl Contract {
    fn coordinates(&self, p: usize) -> BTreeSet<i64> {
        self.products
            .iter()
            .filter(|x| x.sc == Some(p))
            .map(|x| x.id)
            .collect()
    }

    fn is_sc(&self, p: usize) -> bool {
        self.products.iter().any(|x| x.sc == Some(p))
    }

    fn is_named_caller(&self, p: usize) -> bool {
        self.support == SupportLevel::Advanced
            && (self.cm == p || self.is_sc(p) || self.members.get(&p).is_some_and(|m| m.designated))
    }

    fn is_designated_caller(&self, p: usize) -> bool {
        self.support == SupportLevel::Advanced
            && self.members.get(&p).is_some_and(|m| m.designated)
            && self.cm != p
            && !self.is_sc(p)
    }

    fn may_use_web_support(&self, p: usize) -> bool {
        self.cm == p || self.is_sc(p) || self.members.get(&p).is_some_and(|m| m.web)
    }

    fn free(&self, i: usize) -> i64 {
        self.products[i].seats - self.products[i].assigned
    }

    /// Gives `p` a seat of product `i` if they hold none and one is free.
    fn take_seat(&mut self, p: usize, i: usize) -> bool {
        let held = self
            .members
            .get(&p)
            .is_some_and(|m| m.products.contains(&i));
        if held || self.free(i) <= 0 {
            return false;
        }
        self.products[i].assigned += 1;
        self.members.entry(p).or_default().products.insert(i);
        true
    }

    fn product_indices(&self, mask: u8) -> Vec<usize> {
        (0..self.products.len())
            .filter(|i| mask & (1 << i) != 0)
            .collect()
    }

    /// Members by person index, in order.
    fn member_list(&self) -> Vec<usize> {
        self.members.keys().copied().collect()
    }
}

#[derive(Debug)]
struct World {
    people: Vec<Person>,
    resellers: Vec<Reseller>,
    contracts: Vec<Contract>,
    /// Audit entries and emails of each contract, as stored (the objects the lists hold).
    audit: Vec<BTreeSet<i64>>,
    emails: Vec<BTreeSet<i64>>,
}

/// Who reads.
#[derive(Debug, Clone)]
struct Actor {
    label: String,
    principal: Principal,
    person: Option<usize>,
    token: Option<String>,
}

impl World {
    /// The actor's standing on `c`, from the model only; `None` for staff (as the API builds it).
    fn standing(&self, actor: &Actor, c: &Contract) -> Option<Standing> {
        let p = actor.person?;
        let reseller_views_cases = self.people[p]
            .reseller
            .is_some_and(|r| c.reseller_view.get(&r) == Some(&true));
        let company_manager = c.customer.is_some()
            && self
                .contracts
                .iter()
                .any(|o| o.customer == c.customer && o.cm == p);
        let base = Standing {
            support_level: Some(c.support),
            reseller_views_cases,
            company_manager,
            ..Standing::default()
        };
        let Some(m) = c.members.get(&p) else {
            return Some(base);
        };
        Some(Standing {
            member: true,
            is_manager: c.cm == p,
            coordinates: c.coordinates(p),
            products: m.products.iter().map(|i| c.products[*i].id).collect(),
            web_support: m.web,
            named_caller: c.is_named_caller(p),
            coordinator_terms_accepted: false,
            ..base
        })
    }

    fn email(&self, p: usize) -> &str {
        &self.people[p].email
    }
}

// ---------------------------------------------------------------------------------------------
// Building a world through the API.

fn person_json(email: &str, i: usize) -> Value {
    json!({ "email": email, "firstName": format!("First{i}"), "lastName": format!("Last{i}") })
}

fn decode(kind: Kind, gid: &str) -> i64 {
    ids::decode(kind, gid).unwrap_or_else(|| panic!("{gid} is not a {kind:?} ID"))
}

struct Builder<'a> {
    app: &'a TestApp,
    world: World,
    tokens: BTreeMap<usize, String>,
}

impl Builder<'_> {
    async fn token(&mut self, p: usize) -> String {
        if let Some(t) = self.tokens.get(&p) {
            return t.clone();
        }
        let t = self.app.session_for(&self.world.people[p].email).await;
        self.tokens.insert(p, t.clone());
        t
    }

    /// Runs a mutation that must succeed; returns its payload.
    async fn must(&mut self, as_person: Option<usize>, doc: &str, vars: Value) -> Value {
        let token = match as_person {
            Some(p) => self.token(p).await,
            None => self.app.staff_key.clone(),
        };
        let resp = self.app.gql(Some(&token), doc, vars.clone()).await;
        assert!(
            resp.get("errors").is_none(),
            "building the world: {doc} {vars} failed: {resp}"
        );
        let (name, payload) = resp["data"].as_object().unwrap().iter().next().unwrap();
        *APPLIED.lock().unwrap().entry(name.clone()).or_default() += 1;
        assert_eq!(
            payload["userErrors"],
            json!([]),
            "building the world: {doc} {vars} was refused: {resp}"
        );
        payload.clone()
    }

    fn exists(&mut self, p: usize) {
        if self.world.people[p].user_id.is_none() {
            self.world.people[p].user_id = Some(0);
        }
    }

    async fn build(&mut self, spec: &WorldSpec) {
        for (r, users) in spec.resellers.iter().enumerate() {
            let data = self
                .must(
                    None,
                    "mutation($i: CreateResellerInput!) { createReseller(input: $i) { reseller { id } userErrors { code } } }",
                    json!({ "i": { "name": format!("Reseller {r}") } }),
                )
                .await;
            let gid = data["reseller"]["id"].as_str().unwrap().to_string();
            self.world.resellers.push(Reseller { gid: gid.clone() });
            for &u in users {
                let email = self.world.people[u].email.clone();
                self.must(
                    None,
                    "mutation($i: AddResellerUserInput!) { addResellerUser(input: $i) { user { id } userErrors { code } } }",
                    json!({ "i": { "resellerId": gid, "person": person_json(&email, u) } }),
                )
                .await;
                self.world.people[u].reseller = Some(r);
                self.exists(u);
            }
        }
        for (i, cs) in spec.contracts.iter().enumerate() {
            self.order(i, cs).await;
        }
        for op in &spec.ops {
            self.apply(op).await;
        }
        // User IDs, as stored.
        for p in 0..self.world.people.len() {
            if self.world.people[p].user_id.is_some() {
                let gid = self.app.user_id(&self.world.people[p].email).await;
                self.world.people[p].user_id = Some(decode(Kind::User, &gid));
            }
        }
        // The audit entries and emails each contract has (objects, not visibility).
        let pool = self.app.store.pool();
        for i in 0..self.world.contracts.len() {
            let id = self.world.contracts[i].id;
            let mut sets = Vec::new();
            for sql in [
                "SELECT id FROM audit_log WHERE contract_id = $1",
                "SELECT id FROM emails WHERE contract_id = $1",
            ] {
                let rows: Vec<(i64,)> = sqlx::query_as(sql).bind(id).fetch_all(pool).await.unwrap();
                sets.push(rows.into_iter().map(|(x,)| x).collect::<BTreeSet<i64>>());
            }
            self.world.emails.push(sets.pop().unwrap());
            self.world.audit.push(sets.pop().unwrap());
        }
    }

    async fn order(&mut self, i: usize, cs: &ContractSpec) {
        let lines: Vec<Value> = cs
            .products
            .iter()
            .map(|(k, seats)| json!({ "productCode": CATALOGUE[*k], "productName": format!("{} product", CATALOGUE[*k]), "seats": seats }))
            .collect();
        let cm_email = self.world.people[cs.cm].email.clone();
        let company = format!("Company {}", cs.company);
        // Every other company is a customer account with a number (R30); the rest share a
        // name but are companies of their own.
        let customer = cs
            .company
            .is_multiple_of(2)
            .then(|| format!("CUST-{}", cs.company));
        let reseller = cs
            .reseller
            .and_then(|r| self.world.resellers.get(r))
            .map(|r| r.gid.clone());
        let data = self
            .must(
                None,
                "mutation($i: ProcessOrderInput!) { processOrder(input: $i) { contract { id number products { id productCode } } userErrors { code field message } } }",
                json!({ "i": {
                    "orderNumber": format!("W-{i}"),
                    "company": company,
                    "purchaser": person_json(&cm_email, cs.cm),
                    "supportLevel": if cs.advanced { "ADVANCED" } else { "BASIC" },
                    "renewalKind": RENEWALS[cs.renewal],
                    "billingPeriod": "ANNUAL",
                    "startDate": "2026-01-01",
                    "endDate": "2027-01-01",
                    "resellerId": reseller,
                    "customerNumber": customer,
                    "products": lines,
                } }),
            )
            .await;
        let c = &data["contract"];
        let gid = c["id"].as_str().unwrap().to_string();
        let id = decode(Kind::Contract, &gid);
        roster_store::contracts::provision(&self.app.store, id)
            .await
            .unwrap();
        let products: Vec<Product> = c["products"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                let code = p["productCode"].as_str().unwrap().to_string();
                let seats = cs
                    .products
                    .iter()
                    .find(|(k, _)| CATALOGUE[*k] == code)
                    .unwrap()
                    .1;
                let gid = p["id"].as_str().unwrap().to_string();
                Product {
                    id: decode(Kind::ContractProduct, &gid),
                    gid,
                    code,
                    seats,
                    assigned: 0,
                    sc: None,
                }
            })
            .collect();
        let mut contract = Contract {
            id,
            gid,
            number: c["number"].as_str().unwrap().to_string(),
            company,
            support: if cs.advanced {
                SupportLevel::Advanced
            } else {
                SupportLevel::Basic
            },
            renewal: RENEWALS[cs.renewal],
            reseller: cs.reseller.filter(|r| *r < self.world.resellers.len()),
            products,
            cm: cs.cm,
            customer,
            members: BTreeMap::new(),
            reseller_view: BTreeMap::new(),
            cases: vec![],
        };
        // R2, R3: the purchaser is the CM and holds a seat of every product.
        contract.members.insert(cs.cm, Membership::default());
        for k in 0..contract.products.len() {
            contract.take_seat(cs.cm, k);
        }
        self.exists(cs.cm);
        self.world.contracts.push(contract);
    }

    async fn apply(&mut self, op: &Op) {
        let n = self.world.contracts.len();
        match op {
            Op::AddUsers {
                c,
                people,
                products,
                web,
            } => {
                let ci = c % n;
                let contract = &self.world.contracts[ci];
                let mut who: Vec<usize> = Vec::new();
                for p in people {
                    if !contract.members.contains_key(p) && !who.contains(p) {
                        who.push(*p);
                    }
                }
                if who.is_empty() {
                    return;
                }
                // Only products with a seat for everyone (R10: otherwise nothing is added).
                let grant: Vec<usize> = contract
                    .product_indices(*products)
                    .into_iter()
                    .filter(|i| contract.free(*i) >= who.len() as i64)
                    .collect();
                let users: Vec<Value> = who
                    .iter()
                    .map(|p| person_json(&self.world.people[*p].email, *p))
                    .collect();
                let mut access = serde_json::Map::new();
                if !grant.is_empty() {
                    access.insert(
                        "contractProductIds".into(),
                        json!(
                            grant
                                .iter()
                                .map(|i| contract.products[*i].gid.clone())
                                .collect::<Vec<_>>()
                        ),
                    );
                }
                if *web {
                    access.insert("webSupport".into(), json!(true));
                }
                let vars = json!({ "i": { "contractId": contract.gid, "users": users, "access": access } });
                let cm = contract.cm;
                self.must(
                    Some(cm),
                    "mutation($i: AddUsersInput!) { addUsers(input: $i) { userErrors { code field message } } }",
                    vars,
                )
                .await;
                let contract = &mut self.world.contracts[ci];
                for p in &who {
                    contract.members.insert(
                        *p,
                        Membership {
                            web: *web,
                            ..Membership::default()
                        },
                    );
                    for i in &grant {
                        assert!(contract.take_seat(*p, *i));
                    }
                }
                for p in who {
                    self.exists(p);
                }
            }
            Op::AssignSc {
                c,
                products,
                person,
            } => {
                let ci = c % n;
                let contract = &self.world.contracts[ci];
                let mut targets = contract.product_indices(*products);
                if targets.is_empty() {
                    targets.push(usize::from(*products) % contract.products.len());
                }
                let ids: Vec<String> = targets
                    .iter()
                    .map(|i| contract.products[*i].gid.clone())
                    .collect();
                let email = self.world.people[*person].email.clone();
                let cm = contract.cm;
                self.must(
                    Some(cm),
                    "mutation($i: AssignSoftwareCoordinatorInput!) { assignSoftwareCoordinator(input: $i) { userErrors { code field message } } }",
                    json!({ "i": { "contractId": contract.gid, "contractProductIds": ids, "coordinator": person_json(&email, *person) } }),
                )
                .await;
                // R4, R5: named if they were not, a seat of each product if one is free.
                let contract = &mut self.world.contracts[ci];
                contract.members.entry(*person).or_default();
                for i in targets {
                    contract.products[i].sc = Some(*person);
                    contract.take_seat(*person, i);
                }
                self.exists(*person);
            }
            Op::RemoveSc { c, products } => {
                let ci = c % n;
                let contract = &self.world.contracts[ci];
                let targets: Vec<usize> = contract
                    .product_indices(*products)
                    .into_iter()
                    .filter(|i| contract.products[*i].sc.is_some())
                    .collect();
                if targets.is_empty() {
                    return;
                }
                let ids: Vec<String> = targets
                    .iter()
                    .map(|i| contract.products[*i].gid.clone())
                    .collect();
                let cm = contract.cm;
                self.must(
                    Some(cm),
                    "mutation($i: RemoveSoftwareCoordinatorInput!) { removeSoftwareCoordinator(input: $i) { userErrors { code field message } } }",
                    json!({ "i": { "contractId": contract.gid, "contractProductIds": ids } }),
                )
                .await;
                // The former SC keeps their seats.
                for i in targets {
                    self.world.contracts[ci].products[i].sc = None;
                }
            }
            Op::SetAccess {
                c,
                pick,
                grant,
                revoke,
                web,
            } => {
                let ci = c % n;
                let contract = &self.world.contracts[ci];
                let list = contract.member_list();
                let p = list[pick % list.len()];
                let m = &contract.members[&p];
                let mut free: Vec<i64> = (0..contract.products.len())
                    .map(|i| contract.free(i))
                    .collect();
                let revoke: Vec<usize> = contract
                    .product_indices(*revoke)
                    .into_iter()
                    .filter(|i| m.products.contains(i))
                    .collect();
                // Revocations happen first and free their seats.
                for i in &revoke {
                    free[*i] += 1;
                }
                let grant: Vec<usize> = contract
                    .product_indices(*grant)
                    .into_iter()
                    .filter(|i| !m.products.contains(i) && !revoke.contains(i) && free[*i] > 0)
                    .collect();
                if grant.is_empty() && revoke.is_empty() && web.is_none() {
                    return;
                }
                let gids = |v: &[usize]| {
                    v.iter()
                        .map(|i| contract.products[*i].gid.clone())
                        .collect::<Vec<_>>()
                };
                let mut g = json!({ "contractProductIds": gids(&grant) });
                let mut r = json!({ "contractProductIds": gids(&revoke) });
                match web {
                    Some(true) => g["webSupport"] = json!(true),
                    Some(false) => r["webSupport"] = json!(true),
                    None => {}
                }
                let uid = self.app.user_id(&self.world.people[p].email).await;
                let cm = contract.cm;
                let cgid = contract.gid.clone();
                self.must(
                    Some(cm),
                    "mutation($i: SetUserAccessInput!) { setUserAccess(input: $i) { userErrors { code field message } } }",
                    json!({ "i": { "contractId": cgid, "userIds": [uid], "grant": g, "revoke": r } }),
                )
                .await;
                let contract = &mut self.world.contracts[ci];
                for i in revoke {
                    contract.products[i].assigned -= 1;
                    contract.members.get_mut(&p).unwrap().products.remove(&i);
                }
                for i in grant {
                    assert!(contract.take_seat(p, i));
                }
                if let Some(w) = web {
                    contract.members.get_mut(&p).unwrap().web = *w;
                }
            }
            Op::NamedCaller { c, pick, designate } => {
                let ci = c % n;
                let contract = &self.world.contracts[ci];
                if contract.support != SupportLevel::Advanced {
                    return;
                }
                let list = contract.member_list();
                let p = list[pick % list.len()];
                let change = if *designate {
                    let designated = list
                        .iter()
                        .filter(|q| contract.is_designated_caller(**q))
                        .count() as i64;
                    let seats = contract.products.iter().map(|x| x.seats).sum();
                    !contract.is_named_caller(p) && designated < rules::named_caller_limit(seats)
                } else {
                    contract.is_designated_caller(p)
                };
                if !change {
                    return;
                }
                let uid = self.app.user_id(&self.world.people[p].email).await;
                let doc = if *designate {
                    "mutation($i: NamedCallersInput!) { addNamedCallers(input: $i) { userErrors { code field message } } }"
                } else {
                    "mutation($i: NamedCallersInput!) { removeNamedCallers(input: $i) { userErrors { code field message } } }"
                };
                let cm = contract.cm;
                let cgid = contract.gid.clone();
                self.must(
                    Some(cm),
                    doc,
                    json!({ "i": { "contractId": cgid, "userIds": [uid] } }),
                )
                .await;
                self.world.contracts[ci]
                    .members
                    .get_mut(&p)
                    .unwrap()
                    .designated = *designate;
            }
            Op::RemoveUser { c, pick } => {
                let ci = c % n;
                let contract = &self.world.contracts[ci];
                let list: Vec<usize> = contract
                    .member_list()
                    .into_iter()
                    .filter(|p| *p != contract.cm)
                    .collect();
                if list.is_empty() {
                    return;
                }
                let p = list[pick % list.len()];
                let uid = self.app.user_id(&self.world.people[p].email).await;
                let cm = contract.cm;
                let cgid = contract.gid.clone();
                self.must(
                    Some(cm),
                    "mutation($i: RemoveUserInput!) { removeUser(input: $i) { userErrors { code field message } } }",
                    json!({ "i": { "contractId": cgid, "userId": uid } }),
                )
                .await;
                // R28: seats freed, SC assignments fall back to the CM, membership gone.
                let contract = &mut self.world.contracts[ci];
                let m = contract.members.remove(&p).unwrap();
                for i in m.products {
                    contract.products[i].assigned -= 1;
                }
                for x in &mut contract.products {
                    if x.sc == Some(p) {
                        x.sc = None;
                    }
                }
            }
            Op::ResellerAccess { c, reseller, view } => {
                if self.world.resellers.is_empty() {
                    return;
                }
                let ci = c % n;
                let mut r = reseller % self.world.resellers.len();
                let contract = &self.world.contracts[ci];
                // R18 (amended): View Cases only for the reseller the contract is attached to
                // (refusing another is `r18_view_cases_only_for_the_attached_reseller`'s).
                if *view && contract.reseller != Some(r) {
                    match contract.reseller {
                        Some(attached) => r = attached,
                        None => return,
                    }
                }
                let cm = contract.cm;
                let vars = json!({ "i": { "contractId": contract.gid, "resellerId": self.world.resellers[r].gid, "canViewCases": view } });
                self.must(
                    Some(cm),
                    "mutation($i: SetResellerCaseAccessInput!) { setResellerCaseAccess(input: $i) { userErrors { code field message } } }",
                    vars,
                )
                .await;
                let contract = &mut self.world.contracts[ci];
                let now = contract.reseller_view.get(&r).copied().unwrap_or(false);
                if now != *view {
                    contract.reseller_view.insert(r, *view);
                }
            }
            Op::OpenCase { c, pick } => {
                let ci = c % n;
                let contract = &self.world.contracts[ci];
                let list: Vec<usize> = contract
                    .member_list()
                    .into_iter()
                    .filter(|p| contract.may_use_web_support(*p))
                    .collect();
                let p = list[pick % list.len()];
                let k = contract.cases.len();
                let product = Some((pick / 3) % (contract.products.len() + 1))
                    .filter(|i| *i < contract.products.len());
                let vars = json!({ "i": {
                    "contractId": contract.gid,
                    "subject": format!("Case {k} of {}", contract.number),
                    "description": "Generated.",
                    "contractProductId": product.map(|i| contract.products[i].gid.clone()),
                } });
                let data = self
                    .must(
                        Some(p),
                        "mutation($i: CreateSupportCaseInput!) { createSupportCase(input: $i) { supportCase { id caseId } userErrors { code field message } } }",
                        vars,
                    )
                    .await;
                self.world.contracts[ci].cases.push(Case {
                    gid: data["supportCase"]["id"].as_str().unwrap().to_string(),
                    case_id: data["supportCase"]["caseId"].as_str().unwrap().to_string(),
                    submitter: p,
                    product,
                    cm_change: false,
                });
            }
            Op::ChangeCm { c, person, approve } => {
                let ci = c % n;
                let contract = &self.world.contracts[ci];
                if contract.renewal == "AUTO" || contract.cm == *person {
                    return;
                }
                let old = contract.cm;
                let email = self.world.people[*person].email.clone();
                let cgid = contract.gid.clone();
                let data = self
                    .must(
                        Some(old),
                        "mutation($i: RequestContractManagerChangeInput!) { requestContractManagerChange(input: $i) { supportCase { id caseId } userErrors { code field message } } }",
                        json!({ "i": { "contractId": cgid, "newManager": person_json(&email, *person) } }),
                    )
                    .await;
                let case = Case {
                    gid: data["supportCase"]["id"].as_str().unwrap().to_string(),
                    case_id: data["supportCase"]["caseId"].as_str().unwrap().to_string(),
                    submitter: old,
                    product: None,
                    cm_change: true,
                };
                self.must(
                    None,
                    "mutation($i: ResolveContractManagerChangeInput!) { resolveContractManagerChange(input: $i) { userErrors { code field message } } }",
                    json!({ "i": { "supportCaseId": case.gid, "approve": approve } }),
                )
                .await;
                let contract = &mut self.world.contracts[ci];
                contract.cases.push(case);
                if *approve {
                    // R16: the role moves in one step; the old CM stays as a User with their
                    // access; a new CM who was not a member is named without access.
                    contract.members.entry(*person).or_default();
                    contract.cm = *person;
                    self.exists(*person);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reading the world back as every actor, against the policy.

/// Counts the (actor, list) comparisons and collects every mismatch.
#[derive(Default)]
struct Checker {
    cases: usize,
    failures: Vec<String>,
}

impl Checker {
    fn eq<T: PartialEq + Debug>(&mut self, what: impl FnOnce() -> String, got: T, want: T) {
        self.cases += 1;
        if got != want {
            self.failures
                .push(format!("{}: expected {want:?}, got {got:?}", what()));
        }
    }

    /// One more case whose parts were compared with [`Self::part`].
    fn case(&mut self) {
        self.cases += 1;
    }

    fn part<T: PartialEq + Debug>(&mut self, what: impl FnOnce() -> String, got: T, want: T) {
        if got != want {
            self.failures
                .push(format!("{}: expected {want:?}, got {got:?}", what()));
        }
    }
}

/// The fields every contract is read with (by list and by number).
const CONTRACT_FIELDS: &str = "fragment F on Contract {
  id number status supportLevel renewalKind term { startDate billingPeriod } namedCallerLimit
  company { name } reseller { id } contractManager { email }
  viewerCan { manageMembers manageCoordinators manageNamedCallers manageResellerAccess renew viewSecrets openCases }
  viewerMembership { user { email } }
  products { id productCode serialNumber productKey seats seatsAssigned
    softwareCoordinator { email } effectiveSoftwareCoordinator { email } }
  members(first: 100) { totalCount pageInfo { hasNextPage } edges { node { user { email } roles
    access { webSupport contractProducts { id serialNumber productKey seats } }
    coordinates { id serialNumber productKey } } } }
  scs: members(first: 100, filter: {role: SOFTWARE_COORDINATOR}) { totalCount edges { node { user { email } } } }
  ncs: members(first: 100, filter: {role: NAMED_CALLER}) { totalCount edges { node { user { email } } } }
  auditLog(first: 100) { totalCount pageInfo { hasNextPage } edges { node { id } } }
  emails(first: 100) { totalCount pageInfo { hasNextPage } edges { node { id } } }
  supportCases(first: 100) { totalCount pageInfo { hasNextPage } edges { node { id caseId submitter { email } } } }
  phoneSupport { expressServiceId phoneNumbers } cloudCredits { balance used }
  cloudUsage(groupBy: USER) { key credits } viewerCloudUsage { key credits }
  mine: supportCases(first: 100, search: {onlyMine: true}) { totalCount edges { node { caseId } } }
  resellerCaseAccess { reseller { id } canViewCases }
  advice { code }
}";

fn edges(conn: &Value) -> Vec<&Value> {
    conn["edges"]
        .as_array()
        .map(|e| e.iter().map(|x| &x["node"]).collect())
        .unwrap_or_default()
}

fn strs<'a>(
    nodes: impl IntoIterator<Item = &'a Value>,
    f: impl Fn(&Value) -> &Value,
) -> BTreeSet<String> {
    nodes
        .into_iter()
        .map(|n| f(n).as_str().unwrap_or("<missing>").to_string())
        .collect()
}

impl World {
    /// Checks one contract as `actor` read it at `at` (`v` is the contract object).
    fn check_contract(&self, ck: &mut Checker, actor: &Actor, ci: usize, v: &Value, at: &str) {
        let c = &self.contracts[ci];
        let st = self.standing(actor, c);
        let allows = |a: &Action| decide(actor.principal, st.as_ref(), a).is_allowed();
        let label = |what: &str| format!("{} reading {} via {at}: {what}", actor.label, c.number);
        let is_member = st.as_ref().is_some_and(|s| s.member);
        // R30: the CM of another contract of the company reads the details, seats and admins.
        let company_reader = !is_member && st.as_ref().is_some_and(|s| s.company_manager);
        // R18: a reseller's user reading cases sees number, company and products only.
        let sees_details = actor.principal == Principal::Staff || is_member || company_reader;
        let view_members = allows(&Action::ViewMembers);
        let view_cases = allows(&Action::ViewCases);
        let secrets = |id: i64| {
            allows(&Action::ViewProductSecrets {
                contract_product: id,
            })
        };
        let by_gid: BTreeMap<&str, &Product> =
            c.products.iter().map(|p| (p.gid.as_str(), p)).collect();

        ck.eq(
            || label("number"),
            v["number"].as_str(),
            Some(c.number.as_str()),
        );
        ck.eq(
            || label("company"),
            v["company"]["name"].as_str(),
            Some(c.company.as_str()),
        );
        // R35, R36: phone support for Named Callers and admins of ADVANCED contracts, credits
        // and everyone's usage for admins and staff, one's own usage for members.
        for (field, action) in [
            ("phoneSupport", Action::ViewPhoneSupport),
            ("cloudCredits", Action::ViewCloudUsage),
            ("cloudUsage", Action::ViewCloudUsage),
            ("viewerCloudUsage", Action::ViewOwnCloudUsage),
        ] {
            ck.eq(|| label(field), !v[field].is_null(), allows(&action));
        }
        // Contract details other than number, company and products.
        ck.case();
        for field in [
            "status",
            "supportLevel",
            "renewalKind",
            "term",
            "namedCallerLimit",
        ] {
            ck.part(|| label(field), !v[field].is_null(), sees_details);
        }
        if sees_details {
            let level = match c.support {
                SupportLevel::Advanced => "ADVANCED",
                SupportLevel::Basic => "BASIC",
            };
            ck.part(
                || label("supportLevel"),
                v["supportLevel"].as_str(),
                Some(level),
            );
            ck.part(
                || label("renewalKind"),
                v["renewalKind"].as_str(),
                Some(c.renewal),
            );
        }
        let want_reseller = c
            .reseller
            .filter(|_| sees_details)
            .map(|r| self.resellers[r].gid.as_str());
        ck.part(
            || label("reseller"),
            v["reseller"]["id"].as_str(),
            want_reseller,
        );
        ck.eq(
            || label("contractManager"),
            v["contractManager"]["email"].as_str(),
            (view_members || is_member || company_reader).then(|| self.email(c.cm)),
        );
        // R33: what the viewer may do is the policy's answer to each mutation's action.
        if actor.principal != Principal::Anonymous {
            let can = roster_domain::policy::viewer_can(
                actor.principal,
                st.as_ref(),
                c.products.iter().map(|p| p.id),
            );
            ck.eq(
                || label("viewerCan"),
                v["viewerCan"].clone(),
                json!({
                    "manageMembers": allows(&Action::ManageContractSettings),
                    "manageCoordinators": allows(&Action::AssignCoordinator),
                    "manageNamedCallers": allows(&Action::ManageContractSettings),
                    "manageResellerAccess": allows(&Action::ManageContractSettings),
                    "renew": allows(&Action::ManageBilling),
                    "viewSecrets": c.products.iter().any(|p| secrets(p.id)),
                    "openCases": allows(&Action::OpenCase),
                }),
            );
            ck.eq(
                || label("viewerCan (domain)"),
                can.view_secrets,
                c.products.iter().any(|p| secrets(p.id)),
            );
            ck.eq(
                || label("viewerMembership"),
                v["viewerMembership"]["user"]["email"].as_str(),
                actor.person.filter(|_| is_member).map(|p| self.email(p)),
            );
        }

        // Products: all of them for everyone who sees the contract; secrets per R7.
        let products = v["products"].as_array().cloned().unwrap_or_default();
        ck.eq(
            || label("products"),
            products
                .iter()
                .map(|p| p["productCode"].as_str().unwrap_or_default().to_string())
                .collect::<Vec<_>>(),
            c.products.iter().map(|p| p.code.clone()).collect(),
        );
        for (pv, p) in products.iter().zip(&c.products) {
            let allowed = secrets(p.id);
            ck.case();
            let l = |f: &str| label(&format!("{} {f}", p.code));
            ck.part(|| l("id"), pv["id"].as_str(), Some(p.gid.as_str()));
            for f in ["serialNumber", "productKey"] {
                ck.part(|| l(f), !pv[f].is_null(), allowed);
            }
            for f in ["seats", "seatsAssigned"] {
                ck.part(|| l(f), !pv[f].is_null(), allowed || company_reader);
            }
            if allowed || company_reader {
                ck.part(|| l("seats"), pv["seats"].as_i64(), Some(p.seats));
                ck.part(
                    || l("seatsAssigned"),
                    pv["seatsAssigned"].as_i64(),
                    Some(p.assigned),
                );
            }
            // Who coordinates is about the contract's people: not for a reseller (R18).
            ck.case();
            ck.part(
                || l("softwareCoordinator"),
                pv["softwareCoordinator"]["email"].as_str(),
                p.sc.filter(|_| sees_details).map(|s| self.email(s)),
            );
            ck.part(
                || l("effectiveSoftwareCoordinator"),
                pv["effectiveSoftwareCoordinator"]["email"].as_str(),
                sees_details.then(|| self.email(p.sc.unwrap_or(c.cm))),
            );
        }

        // Members (R7, R21, R27): admins and staff only.
        ck.eq(
            || label("members present"),
            !v["members"].is_null(),
            view_members,
        );
        if view_members && !v["members"].is_null() {
            let nodes = edges(&v["members"]);
            let want: BTreeSet<String> = c
                .members
                .keys()
                .map(|p| self.email(*p).to_string())
                .collect();
            ck.eq(
                || label("members"),
                strs(nodes.iter().copied(), |n| &n["user"]["email"]),
                want.clone(),
            );
            ck.part(
                || label("members totalCount"),
                v["members"]["totalCount"].as_u64(),
                Some(want.len() as u64),
            );
            // Each member's access and coordination, with secrets as the reader may see them.
            ck.case();
            let by_email: BTreeMap<&str, usize> =
                c.members.keys().map(|p| (self.email(*p), *p)).collect();
            for node in &nodes {
                let email = node["user"]["email"].as_str().unwrap_or_default();
                let Some(&p) = by_email.get(email) else {
                    continue;
                };
                let m = &c.members[&p];
                let ml = |f: &str| label(&format!("member {email} {f}"));
                let held = edges_list(&node["access"]["contractProducts"]);
                ck.part(
                    || ml("products"),
                    strs(held.iter().copied(), |n| &n["id"]),
                    m.products
                        .iter()
                        .map(|i| c.products[*i].gid.clone())
                        .collect(),
                );
                ck.part(
                    || ml("webSupport"),
                    node["access"]["webSupport"].as_bool(),
                    Some(m.web),
                );
                let coordinates = edges_list(&node["coordinates"]);
                ck.part(
                    || ml("coordinates"),
                    strs(coordinates.iter().copied(), |n| &n["id"]),
                    c.products
                        .iter()
                        .filter(|x| x.sc == Some(p))
                        .map(|x| x.gid.clone())
                        .collect(),
                );
                let roles: BTreeSet<&str> = node["roles"]
                    .as_array()
                    .map(|r| r.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                ck.part(
                    || ml("is CONTRACT_MANAGER"),
                    roles.contains("CONTRACT_MANAGER"),
                    c.cm == p,
                );
                for cp in held.iter().chain(coordinates.iter()) {
                    let gid = cp["id"].as_str().unwrap_or_default();
                    let Some(prod) = by_gid.get(gid) else {
                        continue;
                    };
                    let allowed = secrets(prod.id);
                    for f in ["serialNumber", "productKey"] {
                        ck.part(
                            || ml(&format!("{} {f}", prod.code)),
                            !cp[f].is_null(),
                            allowed,
                        );
                    }
                }
            }
        }
        for (alias, role_of) in [
            ("scs", &(|p: usize| c.is_sc(p)) as &dyn Fn(usize) -> bool),
            ("ncs", &|p: usize| c.is_named_caller(p)),
        ] {
            ck.eq(
                || label(&format!("{alias} present")),
                !v[alias].is_null(),
                view_members,
            );
            if view_members && !v[alias].is_null() {
                let want: BTreeSet<String> = c
                    .members
                    .keys()
                    .filter(|p| role_of(**p))
                    .map(|p| self.email(*p).to_string())
                    .collect();
                ck.eq(
                    || label(alias),
                    strs(edges(&v[alias]), |n| &n["user"]["email"]),
                    want,
                );
            }
        }

        // Audit log and email log (R25): admins and staff.
        for (field, kind, want) in [
            ("auditLog", Kind::AuditEntry, &self.audit[ci]),
            ("emails", Kind::Email, &self.emails[ci]),
        ] {
            ck.eq(
                || label(&format!("{field} present")),
                !v[field].is_null(),
                view_members,
            );
            if view_members && !v[field].is_null() {
                let got: BTreeSet<i64> = edges(&v[field])
                    .iter()
                    .filter_map(|n| n["id"].as_str())
                    .filter_map(|gid| ids::decode(kind, gid))
                    .collect();
                ck.part(
                    || label(&format!("{field} totalCount")),
                    v[field]["totalCount"].as_u64(),
                    Some(want.len() as u64),
                );
                if want.len() <= 100 {
                    ck.eq(|| label(field), &got, want);
                } else {
                    ck.eq(
                        || label(&format!("{field} page within the contract's")),
                        got.is_subset(want),
                        true,
                    );
                }
            }
        }

        // Support cases (R17, R18).
        ck.eq(
            || label("supportCases present"),
            !v["supportCases"].is_null(),
            view_cases,
        );
        ck.eq(|| label("mine present"), !v["mine"].is_null(), view_cases);
        if view_cases && !v["supportCases"].is_null() {
            let nodes = edges(&v["supportCases"]);
            let got: BTreeSet<(String, String)> = nodes
                .iter()
                .map(|n| {
                    (
                        n["caseId"].as_str().unwrap_or_default().to_string(),
                        n["submitter"]["email"]
                            .as_str()
                            .unwrap_or_default()
                            .to_string(),
                    )
                })
                .collect();
            let want: BTreeSet<(String, String)> = c
                .cases
                .iter()
                .map(|k| (k.case_id.clone(), self.email(k.submitter).to_string()))
                .collect();
            ck.eq(|| label("supportCases"), got, want);
            let mine: BTreeSet<String> = c
                .cases
                .iter()
                .filter(|k| Some(k.submitter) == actor.person)
                .map(|k| k.case_id.clone())
                .collect();
            ck.eq(
                || label("supportCases onlyMine"),
                strs(edges(&v["mine"]), |n| &n["caseId"]),
                mine,
            );
        }

        // View Cases settings (R18) and advice: admins and staff.
        ck.eq(
            || label("resellerCaseAccess present"),
            !v["resellerCaseAccess"].is_null(),
            view_members,
        );
        if view_members && !v["resellerCaseAccess"].is_null() {
            let got: BTreeSet<(String, bool)> = v["resellerCaseAccess"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| {
                    (
                        a["reseller"]["id"].as_str().unwrap_or_default().to_string(),
                        a["canViewCases"].as_bool().unwrap_or_default(),
                    )
                })
                .collect();
            let want: BTreeSet<(String, bool)> = c
                .reseller_view
                .iter()
                .map(|(r, b)| (self.resellers[*r].gid.clone(), *b))
                .collect();
            ck.eq(|| label("resellerCaseAccess"), got, want);
        }
        if !view_members {
            ck.eq(|| label("advice"), v["advice"].clone(), json!([]));
        }
    }

    fn visible(&self, actor: &Actor, c: &Contract) -> bool {
        decide(
            actor.principal,
            self.standing(actor, c).as_ref(),
            &Action::ViewContract,
        )
        .is_allowed()
    }
}

fn edges_list(v: &Value) -> Vec<&Value> {
    v.as_array().map(|a| a.iter().collect()).unwrap_or_default()
}

/// Reads everything as `actor` and compares it with the model.
async fn check_actor(app: &TestApp, world: &World, actor: &Actor, ck: &mut Checker) {
    let token = actor.token.as_deref();
    let all_visible: BTreeSet<&str> = world
        .contracts
        .iter()
        .filter(|c| world.visible(actor, c))
        .map(|c| c.number.as_str())
        .collect();
    // The lists hold the actor's own contracts; another CM's contract of the company is read
    // by number and through `viewer.companies` (R30).
    let visible: BTreeSet<&str> = world
        .contracts
        .iter()
        .filter(|c| {
            world.visible(actor, c)
                && world
                    .standing(actor, c)
                    .is_none_or(|s| s.member || s.reseller_views_cases)
        })
        .map(|c| c.number.as_str())
        .collect();
    // R30: viewer.companies, the companies where the actor is a CM, with all their contracts.
    if let (Some(p), Principal::User) = (actor.person, actor.principal) {
        let key = |c: &Contract| c.customer.clone().unwrap_or_else(|| c.number.clone());
        let companies: BTreeSet<String> = world
            .contracts
            .iter()
            .filter(|c| c.cm == p)
            .map(key)
            .collect();
        let want: BTreeSet<&str> = world
            .contracts
            .iter()
            .filter(|c| companies.contains(&key(c)))
            .map(|c| c.number.as_str())
            .collect();
        let resp = app
            .gql(
                token,
                "{ viewer { companies { contracts(first: 100) { edges { node { number } } } } } }",
                json!({}),
            )
            .await;
        let list = resp["data"]["viewer"]["companies"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        ck.eq(
            || format!("{}: viewer.companies count: {resp}", actor.label),
            list.len(),
            companies.len(),
        );
        let got: BTreeSet<String> = list
            .iter()
            .flat_map(|co| {
                edges(&co["contracts"])
                    .into_iter()
                    .filter_map(|n| n["number"].as_str())
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .collect();
        ck.eq(
            || format!("{}: viewer.companies contracts", actor.label),
            got,
            want.iter().map(|s| s.to_string()).collect(),
        );
        ck.eq(
            || format!("{}: every company contract is readable", actor.label),
            want.is_subset(&all_visible),
            true,
        );
    }

    // 1. viewer.contracts and contracts (standings loaded in bulk). Each contract of the list
    // is then read whole one page at a time: a page of 100 contracts each with its pages of
    // members, cases and log would be refused by the complexity limit, which counts `first`.
    let doc = "{ viewer { contracts(first: 100) { totalCount edges { node { number } } } } \
         contracts(first: 100) { totalCount edges { cursor node { number } } } }";
    let resp = app.gql(token, doc, json!({})).await;
    if actor.principal == Principal::Anonymous {
        ck.eq(
            || "anonymous reading contracts".to_string(),
            resp["errors"][0]["extensions"]["code"].as_str(),
            Some("UNAUTHENTICATED"),
        );
    } else {
        ck.eq(
            || format!("{}: errors reading contracts: {resp}", actor.label),
            resp.get("errors").is_none(),
            true,
        );
        let data = &resp["data"];
        let listed: BTreeSet<&str> = edges(&data["viewer"]["contracts"])
            .iter()
            .filter_map(|n| n["number"].as_str())
            .collect();
        ck.eq(
            || format!("{}: viewer.contracts", actor.label),
            &listed,
            &visible,
        );
        ck.part(
            || format!("{}: viewer.contracts totalCount", actor.label),
            data["viewer"]["contracts"]["totalCount"].as_u64(),
            Some(visible.len() as u64),
        );
        let nodes = edges(&data["contracts"]);
        let listed: BTreeSet<&str> = nodes.iter().filter_map(|n| n["number"].as_str()).collect();
        ck.eq(|| format!("{}: contracts", actor.label), &listed, &visible);
        ck.part(
            || format!("{}: contracts totalCount", actor.label),
            data["contracts"]["totalCount"].as_u64(),
            Some(visible.len() as u64),
        );
        let page = format!(
            "query($after: String) {{ contracts(first: 1, after: $after) {{ edges {{ node {{ ...F }} }} }} }} {CONTRACT_FIELDS}"
        );
        let mut whole = Vec::new();
        let mut after = Value::Null;
        for edge in data["contracts"]["edges"].as_array().into_iter().flatten() {
            let resp = app.gql(token, &page, json!({ "after": after })).await;
            ck.eq(
                || {
                    format!(
                        "{}: errors reading a page of contracts: {resp}",
                        actor.label
                    )
                },
                resp.get("errors").is_none(),
                true,
            );
            whole.push(resp["data"]["contracts"]["edges"][0]["node"].clone());
            after = edge["cursor"].clone();
        }
        for node in &whole {
            let Some(ci) = world
                .contracts
                .iter()
                .position(|c| Some(c.number.as_str()) == node["number"].as_str())
            else {
                continue;
            };
            world.check_contract(ck, actor, ci, node, "contracts");
        }
    }

    // 2. contract(number:) for every contract of the world (one standing each), one request
    // each (the complexity limit counts every page a contract's fields may return).
    let doc =
        format!("query($n: String!) {{ c: contract(number: $n) {{ ...F }} }} {CONTRACT_FIELDS}");
    for (i, c) in world.contracts.iter().enumerate() {
        let resp = app.gql(token, &doc, json!({ "n": c.number })).await;
        if actor.principal == Principal::Anonymous {
            ck.eq(
                || "anonymous reading a contract by number".to_string(),
                resp["errors"][0]["extensions"]["code"].as_str(),
                Some("UNAUTHENTICATED"),
            );
            return;
        }
        ck.eq(
            || {
                format!(
                    "{}: errors reading contract {} by number: {resp}",
                    actor.label, c.number
                )
            },
            resp.get("errors").is_none(),
            true,
        );
        let v = &resp["data"]["c"];
        let shown = world.visible(actor, c);
        ck.eq(
            || format!("{}: contract(number: {}) found", actor.label, c.number),
            !v.is_null(),
            shown,
        );
        if shown && !v.is_null() {
            world.check_contract(ck, actor, i, v, "contract(number:)");
        }
    }

    // 3. node(id:) and supportCase(caseId:) for every object of the world.
    let mut doc = String::from("{ ");
    let mut expect: Vec<(String, String, Option<Value>)> = Vec::new();
    for (i, c) in world.contracts.iter().enumerate() {
        let st = world.standing(actor, c);
        let allows = |a: &Action| decide(actor.principal, st.as_ref(), a).is_allowed();
        let shown = world.visible(actor, c);
        doc.push_str(&format!("n{i}: node(id: \"{}\") {{ id }} ", c.gid));
        expect.push((
            format!("n{i}"),
            format!("node(contract {})", c.number),
            shown.then(|| json!({ "id": c.gid })),
        ));
        for (j, p) in c.products.iter().enumerate() {
            let alias = format!("p{i}_{j}");
            doc.push_str(&format!(
                "{alias}: node(id: \"{}\") {{ id ... on ContractProduct {{ serialNumber productKey }} }} ",
                p.gid
            ));
            let secret = allows(&Action::ViewProductSecrets {
                contract_product: p.id,
            });
            expect.push((
                alias,
                format!("node(product {} of {})", p.code, c.number),
                shown.then(|| json!({ "id": p.gid, "serialNumber": secret, "productKey": secret })),
            ));
        }
        let cases_shown = allows(&Action::ViewCases);
        for (j, k) in c.cases.iter().enumerate() {
            let alias = format!("s{i}_{j}");
            doc.push_str(&format!(
                "{alias}: supportCase(caseId: \"{}\") {{ caseId contractProduct {{ id serialNumber productKey }} }} ",
                k.case_id
            ));
            // The case's product, and never a secret the reader may not see (R7).
            let product = k.product.map(|x| &c.products[x]);
            let may_see = product.is_some_and(|p| {
                allows(&Action::ViewProductSecrets {
                    contract_product: p.id,
                })
            });
            expect.push((
                alias,
                format!("supportCase({})", k.case_id),
                cases_shown.then(|| {
                    json!({
                        "caseId": k.case_id,
                        "contractProduct": product.map(|p| p.gid.clone()),
                        "leaksSecrets": false,
                        "maySee": may_see,
                    })
                }),
            ));
            let alias = format!("sn{i}_{j}");
            doc.push_str(&format!("{alias}: node(id: \"{}\") {{ id }} ", k.gid));
            expect.push((
                alias,
                format!("node(case {})", k.case_id),
                cases_shown.then(|| json!({ "id": k.gid })),
            ));
        }
    }
    for (p, person) in world.people.iter().enumerate() {
        let Some(uid) = person.user_id else {
            continue;
        };
        let gid = ids::encode(Kind::User, uid).0;
        let alias = format!("u{p}");
        doc.push_str(&format!("{alias}: node(id: \"{gid}\") {{ id }} "));
        // A User ID is visible to itself and to staff only.
        let shown = actor.principal == Principal::Staff || actor.person == Some(p);
        expect.push((
            alias,
            format!("node(user {})", person.email),
            shown.then(|| json!({ "id": gid })),
        ));
    }
    doc.push('}');
    let resp = app.gql(token, &doc, json!({})).await;
    ck.eq(
        || format!("{}: errors reading nodes: {resp}", actor.label),
        resp.get("errors").is_none(),
        true,
    );
    for (alias, what, want) in expect {
        let got = &resp["data"][&alias];
        // Secrets are compared as present or not.
        let got = match (got, &want) {
            (Value::Object(o), Some(Value::Object(w))) if w.contains_key("serialNumber") => {
                Some(json!({
                    "id": o.get("id").cloned().unwrap_or(Value::Null),
                    "serialNumber": o.get("serialNumber").is_some_and(|v| !v.is_null()),
                    "productKey": o.get("productKey").is_some_and(|v| !v.is_null()),
                }))
            }
            (Value::Object(o), Some(Value::Object(w))) if w.contains_key("leaksSecrets") => {
                let cp = o.get("contractProduct").cloned().unwrap_or(Value::Null);
                let shows = |f: &str| !cp[f].is_null();
                Some(json!({
                    "caseId": o.get("caseId").cloned().unwrap_or(Value::Null),
                    "contractProduct": cp["id"].clone(),
                    "leaksSecrets": !w["maySee"].as_bool().unwrap_or(false)
                        && (shows("serialNumber") || shows("productKey")),
                    "maySee": w["maySee"].clone(),
                }))
            }
            (Value::Null, _) => None,
            (v, _) => Some(v.clone()),
        };
        ck.eq(|| format!("{}: {what}", actor.label), got, want);
    }
}

// ---------------------------------------------------------------------------------------------
// Outsiders trying to change a contract (R6, R7, R15, R18, API.md's "not found" rule).

/// What a refused attempt must answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    /// A `NOT_FOUND` userError at `input.contractId`, as for a contract that does not exist.
    NotFound,
    /// A top-level `FORBIDDEN` error.
    Forbidden,
    /// `FORBIDDEN`, or `UNAUTHENTICATED` for a staff key on a user-only mutation (being
    /// changed to FORBIDDEN elsewhere; this file asserts only that nothing changes).
    ForbiddenOrUnauthenticated,
}

/// One mutation an outsider tries: its name, document, variables and the policy action it is.
struct Attempt {
    name: &'static str,
    doc: &'static str,
    vars: Value,
    action: Action,
    /// Staff may be refused with UNAUTHENTICATED instead of FORBIDDEN (see [`Refusal`]).
    user_only: bool,
}

/// Every mutation that names a contract, a member or a support case, aimed at contract `ci`
/// by `actor` (who proposes themself as CM if they have a User ID).
fn attempts(world: &World, actor: &Actor, ci: usize) -> Vec<Attempt> {
    let c = &world.contracts[ci];
    let cid = c.gid.clone();
    let p0 = c.products[0].gid.clone();
    // A member other than the CM if there is one (the CM otherwise).
    let target = c
        .member_list()
        .into_iter()
        .find(|p| *p != c.cm)
        .unwrap_or(c.cm);
    let uid = ids::encode(
        Kind::User,
        world.people[target].user_id.expect("members have User IDs"),
    )
    .0;
    let me = actor.person.map_or_else(
        || person_json("staff-self@vendor.example", 0),
        |p| person_json(world.email(p), p),
    );
    let stranger = person_json("newcomer@outside.example", 99);
    // A reseller's user would give their own reseller View Cases.
    let reseller = actor
        .person
        .and_then(|p| world.people[p].reseller)
        .unwrap_or(0);
    let reseller = world.resellers[reseller].gid.clone();
    let settings = Action::ManageContractSettings;
    let mut out = vec![
        Attempt {
            name: "addUsers",
            doc: "mutation($i: AddUsersInput!) { addUsers(input: $i) { userErrors { code field message } } }",
            vars: json!({ "contractId": cid, "users": [stranger, me], "access": { "webSupport": true } }),
            action: settings.clone(),
            user_only: true,
        },
        Attempt {
            name: "removeUser",
            doc: "mutation($i: RemoveUserInput!) { removeUser(input: $i) { userErrors { code field message } } }",
            vars: json!({ "contractId": cid, "userId": uid }),
            action: settings.clone(),
            user_only: true,
        },
        Attempt {
            name: "setUserAccess",
            doc: "mutation($i: SetUserAccessInput!) { setUserAccess(input: $i) { userErrors { code field message } } }",
            vars: json!({ "contractId": cid, "userIds": [uid], "grant": { "webSupport": true }, "revoke": { "contractProductIds": [p0] } }),
            action: Action::ManageProductUsers {
                contract_products: [c.products[0].id].into(),
            },
            user_only: true,
        },
        Attempt {
            name: "assignSoftwareCoordinator",
            doc: "mutation($i: AssignSoftwareCoordinatorInput!) { assignSoftwareCoordinator(input: $i) { userErrors { code field message } } }",
            vars: json!({ "contractId": cid, "contractProductIds": [p0], "coordinator": me }),
            action: Action::AssignCoordinator,
            user_only: true,
        },
        Attempt {
            name: "removeSoftwareCoordinator",
            doc: "mutation($i: RemoveSoftwareCoordinatorInput!) { removeSoftwareCoordinator(input: $i) { userErrors { code field message } } }",
            vars: json!({ "contractId": cid, "contractProductIds": [p0] }),
            action: Action::AssignCoordinator,
            user_only: true,
        },
        Attempt {
            name: "addNamedCallers",
            doc: "mutation($i: NamedCallersInput!) { addNamedCallers(input: $i) { userErrors { code field message } } }",
            vars: json!({ "contractId": cid, "userIds": [uid] }),
            action: settings.clone(),
            user_only: true,
        },
        Attempt {
            name: "removeNamedCallers",
            doc: "mutation($i: NamedCallersInput!) { removeNamedCallers(input: $i) { userErrors { code field message } } }",
            vars: json!({ "contractId": cid, "userIds": [uid] }),
            action: settings.clone(),
            user_only: true,
        },
        Attempt {
            name: "resendEmail",
            doc: "mutation($i: ResendEmailInput!) { resendEmail(input: $i) { userErrors { code field message } } }",
            vars: json!({ "contractId": cid, "userId": uid, "kind": "GET_STARTED" }),
            action: settings.clone(),
            user_only: true,
        },
        Attempt {
            name: "createSupportCase",
            doc: "mutation($i: CreateSupportCaseInput!) { createSupportCase(input: $i) { userErrors { code field message } } }",
            vars: json!({ "contractId": cid, "subject": "Let me in", "description": "Outsider." }),
            action: Action::OpenCase,
            user_only: true,
        },
        Attempt {
            name: "requestContractManagerChange (themself)",
            doc: "mutation($i: RequestContractManagerChangeInput!) { requestContractManagerChange(input: $i) { userErrors { code field message } } }",
            vars: json!({ "contractId": cid, "newManager": me, "reason": "The CM left." }),
            action: if actor.person.is_some() {
                Action::ProposeSelfAsManager
            } else {
                Action::RequestManagerChange
            },
            // R15: fixed here, so asserted exactly.
            user_only: false,
        },
        Attempt {
            name: "requestContractManagerChange (someone else)",
            doc: "mutation($i: RequestContractManagerChangeInput!) { requestContractManagerChange(input: $i) { userErrors { code field message } } }",
            vars: json!({ "contractId": cid, "newManager": stranger }),
            action: Action::RequestManagerChange,
            user_only: false,
        },
        Attempt {
            name: "setResellerCaseAccess",
            doc: "mutation($i: SetResellerCaseAccessInput!) { setResellerCaseAccess(input: $i) { userErrors { code field message } } }",
            vars: json!({ "contractId": cid, "resellerId": reseller, "canViewCases": true }),
            action: settings,
            user_only: true,
        },
        Attempt {
            name: "renewContract",
            doc: "mutation($i: RenewContractInput!) { renewContract(input: $i) { userErrors { code field message } } }",
            vars: json!({ "contractId": cid }),
            action: Action::ManageBilling,
            user_only: true,
        }, // Issue 16 (R31, R32).
        Attempt {
            name: "correctMember",
            doc: "mutation($i: CorrectMemberInput!) { correctMember(input: $i) { userErrors { code field message } } }",
            vars: json!({ "contractId": cid, "userId": uid, "email": "fixed@outside.example" }),
            action: Action::CorrectMember,
            user_only: true,
        },
        Attempt {
            name: "processAddOnOrder",
            doc: "mutation($i: ProcessAddOnOrderInput!) { processAddOnOrder(input: $i) { userErrors { code field message } } }",
            vars: json!({ "contractId": cid, "orderNumber": "OUTSIDE-1", "products": [{ "productCode": "HACK", "productName": "Hack", "seats": 100 }] }),
            action: Action::ProcessAddOnOrder,
            user_only: false,
        },
        Attempt {
            name: "setSeatCount",
            doc: "mutation($i: SetSeatCountInput!) { setSeatCount(input: $i) { userErrors { code field message } } }",
            vars: json!({ "contractProductId": p0, "seats": 100000 }),
            action: Action::SetSeatCount,
            user_only: false,
        },
    ];
    // Staff-only mutations on the contract's cases (a CM change first, if there is one).
    let case = c.cases.iter().find(|k| k.cm_change).or(c.cases.first());
    if let Some(case) = case {
        out.push(Attempt {
            name: "resolveContractManagerChange",
            doc: "mutation($i: ResolveContractManagerChangeInput!) { resolveContractManagerChange(input: $i) { userErrors { code field message } } }",
            vars: json!({ "supportCaseId": case.gid, "approve": true }),
            action: Action::ResolveContractManagerChange,
            user_only: false,
        });
        out.push(Attempt {
            name: "updateSupportCase",
            doc: "mutation($i: UpdateSupportCaseInput!) { updateSupportCase(input: $i) { userErrors { code field message } } }",
            vars: json!({ "supportCaseId": case.gid, "status": "CLOSED", "comment": "Closed by an outsider." }),
            action: Action::UpdateSupportCase,
            user_only: false,
        });
        // R34: outsiders never submitted a case of this contract.
        out.push(Attempt {
            name: "addSupportCaseComment",
            doc: "mutation($i: AddSupportCaseCommentInput!) { addSupportCaseComment(input: $i) { userErrors { code field message } } }",
            vars: json!({ "supportCaseId": case.gid, "body": "A comment from outside." }),
            action: Action::CommentOnCase { own_case: false },
            user_only: false,
        });
    }
    // R36: staff only.
    out.push(Attempt {
        name: "addCloudCredits",
        doc: "mutation($i: AddCloudCreditsInput!) { addCloudCredits(input: $i) { userErrors { code field message } } }",
        vars: json!({ "contractId": cid, "orderNumber": "CC-OUTSIDE", "credits": 100 }),
        action: Action::ManageCloudCredits,
        user_only: false,
    });
    out.push(Attempt {
        name: "recordCloudUsage",
        doc: "mutation($i: RecordCloudUsageInput!) { recordCloudUsage(input: $i) { userErrors { code field message } } }",
        vars: json!({ "contractId": cid, "userId": uid, "service": "Rendering", "credits": 1 }),
        action: Action::ManageCloudCredits,
        user_only: false,
    });
    out
}

/// What is stored about every contract: its state, people, access, coordinators, View Cases,
/// cases, and how many emails, audit entries, outbox rows and comments exist.
async fn stored_state(app: &TestApp) -> Vec<String> {
    const QUERIES: [&str; 9] = [
        "SELECT 'cloud ' || CAST(id AS TEXT) || ' ' || CAST(cloud_credits AS TEXT) || ' usage ' \
         || CAST((SELECT COUNT(*) FROM cloud_usage u WHERE u.contract_id = contracts.id) AS TEXT) || ' purchases ' \
         || CAST((SELECT COUNT(*) FROM cloud_credit_purchases p WHERE p.contract_id = contracts.id) AS TEXT) \
         FROM contracts ORDER BY id",
        "SELECT 'contract ' || CAST(id AS TEXT) || ' ' || status || ' ' || end_date FROM contracts ORDER BY id",
        "SELECT 'member ' || CAST(contract_id AS TEXT) || ' ' || CAST(user_id AS TEXT) || ' ' || status || ' cm ' || CAST(is_manager AS TEXT) \
         || ' nc ' || CAST(designated_caller AS TEXT) || ' web ' || CAST(web_support AS TEXT) || ' cloud ' || cloud_services \
         FROM memberships ORDER BY contract_id, user_id",
        "SELECT 'seat ' || CAST(contract_product_id AS TEXT) || ' ' || CAST(user_id AS TEXT) FROM product_access \
         ORDER BY contract_product_id, user_id",
        "SELECT 'product ' || CAST(id AS TEXT) || ' seats ' || CAST(seats AS TEXT) || ' held ' || CAST(seats_assigned AS TEXT) \
         || ' sc ' || COALESCE(CAST(coordinator_user_id AS TEXT), '-') FROM contract_products ORDER BY id",
        "SELECT 'view cases ' || CAST(contract_id AS TEXT) || ' ' || CAST(reseller_id AS TEXT) || ' ' || CAST(can_view AS TEXT) \
         FROM reseller_case_access ORDER BY contract_id, reseller_id",
        "SELECT 'case ' || case_id || ' ' || status || ' ' || CAST(updated_at AS TEXT) FROM support_cases ORDER BY id",
        "SELECT 'rows ' || CAST((SELECT COUNT(*) FROM emails) AS TEXT) || ' emails, ' \
         || CAST((SELECT COUNT(*) FROM audit_log) AS TEXT) || ' audit entries, ' \
         || CAST((SELECT COUNT(*) FROM outbox) AS TEXT) || ' outbox rows, ' \
         || CAST((SELECT COUNT(*) FROM case_comments) AS TEXT) || ' comments'",
        "SELECT 'users ' || CAST(COUNT(*) AS TEXT) || ', activation links ' \
         || CAST((SELECT COUNT(*) FROM activation_tokens) AS TEXT) FROM users",
    ];
    let mut out = Vec::new();
    for sql in QUERIES {
        let rows: Vec<(String,)> = sqlx::query_as(sql)
            .fetch_all(app.store.pool())
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        out.extend(rows.into_iter().map(|(r,)| r));
    }
    out
}

/// The outsiders of contract `ci`, at most one of each kind: another company's signed-in
/// user, a reseller's user whose reseller may read the contract's cases and one whose reseller
/// may not (none of them a member), and staff.
fn outsiders<'a>(world: &World, actors: &'a [Actor], ci: usize) -> Vec<(&'static str, &'a Actor)> {
    let c = &world.contracts[ci];
    let non_member = |a: &&Actor| a.person.is_some_and(|p| !c.members.contains_key(&p));
    let views = |a: &Actor| world.standing(a, c).is_some_and(|s| s.reseller_views_cases);
    let reseller_of = |a: &Actor| a.person.and_then(|p| world.people[p].reseller);
    let other_company = |a: &Actor| {
        a.person.is_some_and(|p| {
            world
                .contracts
                .iter()
                .any(|o| o.company != c.company && o.members.contains_key(&p))
        })
    };
    // One candidate of each kind, varied by contract so that worlds try different people.
    let pick = |kind: &'static str, f: &dyn Fn(&Actor) -> bool| {
        let found: Vec<&'a Actor> = actors.iter().filter(non_member).filter(|a| f(a)).collect();
        (!found.is_empty()).then(|| (kind, found[ci % found.len()]))
    };
    let mut out: Vec<(&'static str, &'a Actor)> = [
        pick("another company's user", &|a| {
            other_company(a) && !views(a) && reseller_of(a).is_none()
        }),
        pick("a reseller's user with View Cases", &views),
        pick("a reseller's user without View Cases", &|a| {
            reseller_of(a).is_some() && !views(a)
        }),
    ]
    .into_iter()
    .flatten()
    .collect();
    if let Some(staff) = actors.iter().find(|a| a.principal == Principal::Staff) {
        out.push(("staff", staff));
    }
    out
}

/// Outsiders try every mutation on every contract and every export of it: each is refused as
/// the policy says (NOT_FOUND for whoever may not know the contract, FORBIDDEN for whoever
/// may only read it), no answer carries the contract's data, and nothing stored changes.
async fn check_outsiders(app: &TestApp, world: &World, actors: &[Actor], ck: &mut Checker) {
    let http = reqwest::Client::new();
    for ci in 0..world.contracts.len() {
        let c = &world.contracts[ci];
        let before = stored_state(app).await;
        for (kind, actor) in outsiders(world, actors, ci) {
            let st = world.standing(actor, c);
            let label =
                |what: &str| format!("{kind} {} trying {what} on {}", actor.label, c.number);
            for a in attempts(world, actor, ci) {
                let decision = decide(actor.principal, st.as_ref(), &a.action);
                let want = match decision {
                    // Staff working a case: not an outsider's attempt.
                    Decision::Allow => continue,
                    Decision::NotFound => Refusal::NotFound,
                    _ if a.user_only && actor.principal == Principal::Staff => {
                        Refusal::ForbiddenOrUnauthenticated
                    }
                    _ => Refusal::Forbidden,
                };
                let resp = app
                    .gql(actor.token.as_deref(), a.doc, json!({ "i": a.vars }))
                    .await;
                let field = a.name.split(' ').next().unwrap_or_default();
                let code = resp["errors"][0]["extensions"]["code"].as_str();
                let refused = match want {
                    Refusal::NotFound => {
                        resp.get("errors").is_none()
                            && (resp["data"][field]["userErrors"]
                                == json!([{ "code": "NOT_FOUND", "field": ["input", "contractId"], "message": "contract not found" }])
                                // A case of a contract the actor may not know (R34).
                                || resp["data"][field]["userErrors"]
                                    == json!([{ "code": "NOT_FOUND", "field": ["input", "supportCaseId"], "message": "support case not found" }]))
                    }
                    Refusal::Forbidden => {
                        code == Some("FORBIDDEN") && resp["data"][field].is_null()
                    }
                    Refusal::ForbiddenOrUnauthenticated => {
                        matches!(code, Some("FORBIDDEN" | "UNAUTHENTICATED"))
                            && resp["data"][field].is_null()
                    }
                };
                ck.eq(
                    || label(&format!("{} (expected {want:?}, answered {resp})", a.name)),
                    refused,
                    true,
                );
            }
            // R26: exports are the member list's; whoever may not read it gets 403 or 404.
            // R36: the usage export asks the policy about usage.
            for file in ["users.csv", "users.xlsx", "details.csv", "cloud-usage.csv"] {
                let mut req = http.get(format!("{}/contracts/{}/{file}", app.url, c.number));
                if let Some(t) = &actor.token {
                    req = req.bearer_auth(t);
                }
                let resp = req.send().await.expect("the API answers");
                let status = resp.status().as_u16();
                let body = resp.bytes().await.unwrap_or_default();
                let action = if file == "cloud-usage.csv" {
                    Action::ViewCloudUsage
                } else {
                    Action::ViewMembers
                };
                let want = match decide(actor.principal, st.as_ref(), &action) {
                    Decision::Allow => 200,
                    Decision::NotFound => 404,
                    _ => 403,
                };
                ck.eq(|| label(&format!("GET {file}")), status, want);
                if want != 200 {
                    let cm = world.email(c.cm).as_bytes();
                    ck.eq(
                        || label(&format!("GET {file} answers without the contract's data")),
                        body.windows(cm.len()).any(|w| w == cm) || body.len() > 200,
                        false,
                    );
                }
            }
        }
        let after = stored_state(app).await;
        let changed: Vec<String> = before
            .iter()
            .filter(|l| !after.contains(l))
            .map(|l| format!("- {l}"))
            .chain(
                after
                    .iter()
                    .filter(|l| !before.contains(l))
                    .map(|l| format!("+ {l}")),
            )
            .collect();
        ck.eq(
            || format!("outsiders' attempts on {} changed what is stored", c.number),
            changed,
            vec![],
        );
    }
}

static WORLDS: AtomicUsize = AtomicUsize::new(0);
static CASES: AtomicUsize = AtomicUsize::new(0);
/// Mutations that built the worlds, by name.
static APPLIED: std::sync::Mutex<BTreeMap<String, usize>> = std::sync::Mutex::new(BTreeMap::new());

async fn run_world(backend: Backend, spec: &WorldSpec) -> Result<(), String> {
    let app = TestApp::spawn_with(backend, false).await;
    let mut people: Vec<Person> = (0..CUSTOMERS)
        .map(|i| Person {
            email: format!("person{i}@customer.example"),
            user_id: None,
            reseller: None,
        })
        .collect();
    people.extend((0..REPS).map(|i| Person {
        email: format!("rep{i}@partner.example"),
        user_id: None,
        reseller: None,
    }));
    let mut b = Builder {
        app: &app,
        world: World {
            people,
            resellers: vec![],
            contracts: vec![],
            audit: vec![],
            emails: vec![],
        },
        tokens: BTreeMap::new(),
    };
    b.build(spec).await;
    let mut actors = vec![
        Actor {
            label: "staff".into(),
            principal: Principal::Staff,
            person: None,
            token: Some(app.staff_key.clone()),
        },
        Actor {
            label: "anonymous".into(),
            principal: Principal::Anonymous,
            person: None,
            token: None,
        },
    ];
    for p in 0..b.world.people.len() {
        if b.world.people[p].user_id.is_some() {
            actors.push(Actor {
                label: b.world.people[p].email.clone(),
                principal: Principal::User,
                person: Some(p),
                token: Some(b.token(p).await),
            });
        }
    }
    let world = b.world;
    let mut ck = Checker::default();
    for actor in &actors {
        check_actor(&app, &world, actor, &mut ck).await;
    }
    check_outsiders(&app, &world, &actors, &mut ck).await;
    app.stop().await;
    WORLDS.fetch_add(1, Ordering::Relaxed);
    CASES.fetch_add(ck.cases, Ordering::Relaxed);
    if ck.failures.is_empty() {
        return Ok(());
    }
    let shown: Vec<&String> = ck.failures.iter().take(25).collect();
    Err(format!(
        "{} of {} (actor, list) cases disagree with the policy; first ones:\n  {}\nworld model:\n{}",
        ck.failures.len(),
        ck.cases,
        shown
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n  "),
        describe(&world),
    ))
}

/// A readable summary of the model, for a failure report.
fn describe(world: &World) -> String {
    let mut out = String::new();
    for (p, person) in world.people.iter().enumerate() {
        if let Some(r) = person.reseller {
            out.push_str(&format!(
                "  {} (person {p}) is a user of reseller {r}\n",
                person.email
            ));
        }
    }
    for c in &world.contracts {
        out.push_str(&format!(
            "  contract {} ({}, {:?}, {}): CM {}; products {}; View Cases {:?}; cases {}\n",
            c.number,
            c.company,
            c.support,
            c.renewal,
            world.email(c.cm),
            c.products
                .iter()
                .map(|p| format!(
                    "{} {}/{} SC {}",
                    p.code,
                    p.assigned,
                    p.seats,
                    p.sc.map_or("-", |s| world.email(s))
                ))
                .collect::<Vec<_>>()
                .join(", "),
            c.reseller_view,
            c.cases.len(),
        ));
        for (p, m) in &c.members {
            out.push_str(&format!(
                "    {}: products {:?} web {} designated {}\n",
                world.email(*p),
                m.products
                    .iter()
                    .map(|i| c.products[*i].code.as_str())
                    .collect::<Vec<_>>(),
                m.web,
                m.designated
            ));
        }
    }
    out
}

fn run(backend: Backend, default_worlds: u32) {
    let worlds = std::env::var("TENANCY_WORLDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default_worlds);
    let seed: u64 = std::env::var("TENANCY_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    eprintln!(
        "tenancy on {backend:?}: seed {seed} (replay with TENANCY_SEED={seed}), {worlds} worlds"
    );
    let mut seed_bytes = [0u8; 32];
    for (i, chunk) in seed_bytes.chunks_mut(8).enumerate() {
        chunk.copy_from_slice(
            &(seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)).to_le_bytes(),
        );
    }
    let config = Config {
        cases: worlds,
        failure_persistence: None,
        max_shrink_iters: std::env::var("TENANCY_SHRINK")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(12),
        ..Config::default()
    };
    let mut runner = TestRunner::new_with_rng(
        config,
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes),
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let before = (
        WORLDS.load(Ordering::Relaxed),
        CASES.load(Ordering::Relaxed),
    );
    let result = runner.run(&world_spec(), |spec| {
        rt.block_on(run_world(backend, &spec))
            .map_err(TestCaseError::fail)
    });
    let worlds_run = WORLDS.load(Ordering::Relaxed) - before.0;
    let cases_run = CASES.load(Ordering::Relaxed) - before.1;
    eprintln!(
        "tenancy on {backend:?}: {worlds_run} worlds, {cases_run} (actor, list) cases in {:.1?} (seed {seed})",
        started.elapsed()
    );
    eprintln!(
        "tenancy on {backend:?}: built with {:?}",
        APPLIED.lock().unwrap()
    );
    if let Err(e) = result {
        panic!("seed {seed}: {e}");
    }
}

mod r7_r17_r18_every_list_equals_what_the_policy_allows {
    #[test]
    fn sqlite() {
        super::run(roster_tests::Backend::Sqlite, 12);
    }

    #[test]
    fn postgres() {
        super::run(roster_tests::Backend::Postgres, 3);
    }
}
