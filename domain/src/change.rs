//! The pure half of every change to a contract's people (R4-R14, R22, R28).
//!
//! A change walks one path (STYLE.md, "One change, one path"): the store locks the contract and
//! loads a [`Snapshot`]; [`Command::action`] names what the policy must allow, judged on that
//! snapshot (so an SC's reach over another SC, R6, is decided on the data the change will
//! touch, not on what a resolver thought to ask); [`plan`] applies the command to a copy of the
//! snapshot, checks the rules on the result, and returns the [`Plan`]: the writes, the emails
//! owed and the audit entries. The store writes the plan in the same transaction.
//!
//! Rules that hold whatever the command (seats never exceed the seat count, the designated
//! Named Caller limit, a Permissions Changed email to whoever's benefits changed, R11-R14) are
//! checked here once, on the state after the change, so no command can skip them.

use crate::error::{DomainError, UserErrorCode};
use crate::policy::{Action, Membership, Standing};
use crate::rules;
use crate::types::{
    BillingPeriod, ContractStatus, MemberStatus, Person, RenewalKind, Role, SupportLevel,
};
use chrono::NaiveDate;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// The contract as the rules read it, typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractFacts {
    pub id: i64,
    pub number: String,
    pub company: String,
    pub status: ContractStatus,
    pub support: SupportLevel,
    pub renewal: RenewalKind,
    pub billing_period: BillingPeriod,
    pub end_date: NaiveDate,
}

/// A product on the contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductFacts {
    pub id: i64,
    pub name: String,
    pub seats: i64,
    pub seats_assigned: i64,
    pub coordinator: Option<i64>,
}

/// A person on the contract, or (in [`Snapshot::known`]) a User ID a command names by email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberFacts {
    pub user_id: i64,
    pub email: String,
    /// The person's own name and language, for the emails they receive.
    pub first_name: String,
    pub last_name: String,
    pub language: String,
    pub status: MemberStatus,
    pub is_manager: bool,
    /// Designated as a Named Caller (counted toward the limit unless CM or SC; R13).
    pub designated: bool,
    pub web_support: bool,
    pub cloud: BTreeSet<String>,
    /// Contract products held (one seat each).
    pub products: BTreeSet<i64>,
    pub coordinator_terms_accepted: bool,
}

impl MemberFacts {
    /// Someone newly named: a new User ID as the admin typed them, or an existing one (`known`)
    /// whose own name and language greet them in emails (admins see what was typed; tenancy).
    fn new_member(user_id: i64, person: &Person, known: Option<&MemberFacts>) -> Self {
        let mut m = MemberFacts {
            user_id,
            email: person.email.as_str().to_string(),
            first_name: person.first_name.clone(),
            last_name: person.last_name.clone(),
            language: person.language.as_str().to_string(),
            status: MemberStatus::Pending,
            is_manager: false,
            designated: false,
            web_support: false,
            cloud: BTreeSet::new(),
            products: BTreeSet::new(),
            coordinator_terms_accepted: false,
        };
        if let Some(k) = known {
            m.first_name = k.first_name.clone();
            m.last_name = k.last_name.clone();
            m.language = k.language.clone();
            m.coordinator_terms_accepted = k.coordinator_terms_accepted;
        }
        m
    }
}

/// A person to contact, by name and address (the admin a Get Started email names; R9).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Contact {
    pub name: String,
    pub email: String,
}

/// Whom a command names, for the store to load (see [`Snapshot::members`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Named {
    pub emails: Vec<String>,
    pub users: Vec<i64>,
}

/// What a change reads, loaded once under the contract's lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub contract: ContractFacts,
    pub products: BTreeMap<i64, ProductFacts>,
    /// The members a change concerns, by user id: at least the requester, everyone the command
    /// names, the CM, every SC and every designated Named Caller. A user not here who was
    /// named is not a member.
    pub members: BTreeMap<i64, MemberFacts>,
    /// User IDs the command names by email that are not members, by lower-case email.
    pub known: BTreeMap<String, MemberFacts>,
}

/// Users not yet created are numbered from here down in a plan, so a plan names every person
/// by one id: `NEW_USER_BASE - i` is the i-th person of the command (see [`Who`]).
const NEW_USER_BASE: i64 = -1;

/// Someone a plan's step concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Who {
    /// An existing User ID.
    User(i64),
    /// The i-th person of the command, whose User ID the change creates.
    Person(usize),
}

impl Who {
    fn from_id(id: i64) -> Who {
        if id <= NEW_USER_BASE {
            Who::Person((NEW_USER_BASE - id) as usize)
        } else {
            Who::User(id)
        }
    }
}

fn new_user_id(i: usize) -> i64 {
    NEW_USER_BASE - i as i64
}

/// What a member has, as a Permissions Changed email and the audit log list it (R12).
///
/// An email stores it tagged (`{"kind":"product","name":"AutoCAD"}`, `{"kind":"webSupport"}`,
/// ...) so each template words it in the recipient's language; an English label, as emails
/// owed before benefits were typed stored them, still reads back ([`Benefit::from_label`]).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(from = "StoredBenefit", into = "TaggedBenefit")]
pub enum Benefit {
    Product(String),
    WebSupport,
    CloudService(String),
    NamedCaller,
    Coordinator(String),
}

impl Benefit {
    /// The English label, as the audit log records it (emails word it in the recipient's
    /// language).
    pub fn label(&self) -> String {
        match self {
            Benefit::Product(name) => name.clone(),
            Benefit::WebSupport => "Web Support".to_string(),
            Benefit::CloudService(s) => format!("Cloud services: {s}"),
            Benefit::NamedCaller => "Named Caller (phone support)".to_string(),
            Benefit::Coordinator(name) => format!("Software Coordinator of {name}"),
        }
    }

    /// The benefit an English [`label`](Self::label) names; any other text is a product's
    /// name. (A product named like a label reads back as that label's benefit: only emails
    /// owed before benefits were typed are read this way.)
    pub fn from_label(label: &str) -> Benefit {
        if label == "Web Support" {
            Benefit::WebSupport
        } else if label == "Named Caller (phone support)" {
            Benefit::NamedCaller
        } else if let Some(service) = label.strip_prefix("Cloud services: ") {
            Benefit::CloudService(service.to_string())
        } else if let Some(product) = label.strip_prefix("Software Coordinator of ") {
            Benefit::Coordinator(product.to_string())
        } else {
            Benefit::Product(label.to_string())
        }
    }
}

/// A [`Benefit`] as an email stores it and a template reads it: `kind` says which label to
/// word.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
enum TaggedBenefit {
    Product { name: String },
    WebSupport,
    CloudService { name: String },
    NamedCaller,
    Coordinator { product: String },
}

/// A stored benefit: tagged, or an English label of an email owed before benefits were typed.
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum StoredBenefit {
    Tagged(TaggedBenefit),
    Label(String),
}

impl From<Benefit> for TaggedBenefit {
    fn from(b: Benefit) -> Self {
        match b {
            Benefit::Product(name) => TaggedBenefit::Product { name },
            Benefit::WebSupport => TaggedBenefit::WebSupport,
            Benefit::CloudService(name) => TaggedBenefit::CloudService { name },
            Benefit::NamedCaller => TaggedBenefit::NamedCaller,
            Benefit::Coordinator(product) => TaggedBenefit::Coordinator { product },
        }
    }
}

impl From<StoredBenefit> for Benefit {
    fn from(b: StoredBenefit) -> Self {
        match b {
            StoredBenefit::Tagged(TaggedBenefit::Product { name }) => Benefit::Product(name),
            StoredBenefit::Tagged(TaggedBenefit::WebSupport) => Benefit::WebSupport,
            StoredBenefit::Tagged(TaggedBenefit::CloudService { name }) => {
                Benefit::CloudService(name)
            }
            StoredBenefit::Tagged(TaggedBenefit::NamedCaller) => Benefit::NamedCaller,
            StoredBenefit::Tagged(TaggedBenefit::Coordinator { product }) => {
                Benefit::Coordinator(product)
            }
            StoredBenefit::Label(label) => Benefit::from_label(&label),
        }
    }
}

impl Snapshot {
    /// Contract products `user` coordinates (R4).
    pub fn coordinates(&self, user: i64) -> BTreeSet<i64> {
        self.products
            .values()
            .filter(|p| p.coordinator == Some(user))
            .map(|p| p.id)
            .collect()
    }

    /// R13: Named Callers exist only on ADVANCED contracts; the CM and every SC are Named
    /// Callers by role, others when designated.
    pub fn is_named_caller(&self, m: &MemberFacts) -> bool {
        let coordinates_any = self
            .products
            .values()
            .any(|p| p.coordinator == Some(m.user_id));
        rules::is_named_caller(
            self.contract.support,
            m.is_manager,
            coordinates_any,
            m.designated,
        )
    }

    /// A designated Named Caller who counts toward the limit (R13).
    pub fn is_counted_caller(&self, m: &MemberFacts) -> bool {
        let coordinates_any = self
            .products
            .values()
            .any(|p| p.coordinator == Some(m.user_id));
        rules::is_counted_caller(
            self.contract.support,
            m.is_manager,
            coordinates_any,
            m.designated,
        )
    }

    pub fn counted_callers(&self) -> i64 {
        self.members
            .values()
            .filter(|m| self.is_counted_caller(m))
            .count() as i64
    }

    pub fn total_seats(&self) -> i64 {
        self.products.values().map(|p| p.seats).sum()
    }

    /// What `m` has (R12), in a stable order.
    pub fn benefits(&self, m: &MemberFacts) -> Vec<Benefit> {
        let name = |id: &i64| {
            self.products
                .get(id)
                .map(|p| p.name.clone())
                .unwrap_or_default()
        };
        let mut out: Vec<Benefit> = m
            .products
            .iter()
            .map(|id| Benefit::Product(name(id)))
            .collect();
        if m.web_support {
            out.push(Benefit::WebSupport);
        }
        out.extend(m.cloud.iter().cloned().map(Benefit::CloudService));
        if self.is_named_caller(m) {
            out.push(Benefit::NamedCaller);
        }
        out.extend(
            self.coordinates(m.user_id)
                .iter()
                .map(|id| Benefit::Coordinator(name(id))),
        );
        out
    }

    /// The roles of `m` (R1).
    pub fn roles(&self, m: &MemberFacts) -> Vec<Role> {
        let mut roles = Vec::new();
        if m.is_manager {
            roles.push(Role::ContractManager);
        }
        if !self.coordinates(m.user_id).is_empty() {
            roles.push(Role::SoftwareCoordinator);
        }
        roles.push(Role::User);
        if self.is_named_caller(m) {
            roles.push(Role::NamedCaller);
        }
        roles
    }

    /// What the policy judges: `user`'s standing on this contract. `reseller_views_cases` is
    /// whether the user's reseller may read the contract's cases (R18).
    pub fn standing(&self, user: i64, reseller_views_cases: bool) -> Standing {
        let membership = self.members.get(&user).map(|m| Membership {
            is_manager: m.is_manager,
            designated_caller: m.designated,
            web_support: m.web_support,
            coordinates: self.coordinates(user),
            products: m.products.clone(),
            coordinator_terms_accepted: m.coordinator_terms_accepted,
        });
        Standing::new(self.contract.support, membership, reseller_views_cases)
    }

    fn describe(&self, m: Option<&MemberFacts>) -> Value {
        match m {
            None => Value::Null,
            Some(m) => json!({
                "benefits": self.benefits(m).iter().map(Benefit::label).collect::<Vec<_>>(),
                "roles": self.roles(m).iter().map(|r| r.as_str()).collect::<Vec<_>>(),
            }),
        }
    }

    /// The member a person of the command is, once named: by email.
    fn by_email(&self, email: &str) -> Option<&MemberFacts> {
        self.members
            .values()
            .find(|m| m.email.eq_ignore_ascii_case(email))
    }
}

/// Access to grant or revoke (API.md `AccessInput`), with the contract product IDs in the order
/// the input gave them, so a refusal can name the entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessSpec {
    pub contract_products: Vec<i64>,
    pub web_support: Option<bool>,
    pub cloud_services: BTreeSet<String>,
}

impl AccessSpec {
    pub fn is_empty(&self) -> bool {
        self.contract_products.is_empty()
            && self.web_support.is_none()
            && self.cloud_services.is_empty()
    }
}

/// Which lifecycle email an admin sends a member again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resend {
    GetStarted,
    PermissionsChanged,
}

/// A change to a contract's people, as its input names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// R9, R10, R11: name people (each entry parsed or refused), granting all of them `access`.
    AddUsers {
        people: Vec<Result<Person, DomainError>>,
        access: AccessSpec,
    },
    /// R28.
    RemoveUser { user: i64 },
    /// R11: grant then revoke, for every user named.
    SetAccess {
        users: Vec<i64>,
        grant: AccessSpec,
        revoke: AccessSpec,
    },
    /// R4, R5, R6.
    AssignCoordinator { products: Vec<i64>, person: Person },
    /// R4, R6.
    RemoveCoordinator { products: Vec<i64> },
    /// R13, R14.
    NamedCallers { users: Vec<i64>, designate: bool },
    /// An admin sends a member an email again.
    Resend { user: i64, kind: Resend },
}

impl Command {
    /// The people a command names: by email (the store loads their User IDs, if any) and by
    /// user id (the members it changes).
    pub fn named(&self) -> Named {
        let emails = match self {
            Command::AddUsers { people, .. } => people
                .iter()
                .filter_map(|p| p.as_ref().ok())
                .map(|p| p.email.as_str().to_string())
                .collect(),
            Command::AssignCoordinator { person, .. } => vec![person.email.as_str().to_string()],
            _ => vec![],
        };
        let users = match self {
            Command::RemoveUser { user } | Command::Resend { user, .. } => vec![*user],
            Command::SetAccess { users, .. } | Command::NamedCallers { users, .. } => users.clone(),
            _ => vec![],
        };
        Named { emails, users }
    }

    /// What the policy must allow for this command on this contract (R6, R7).
    pub fn action(&self, snap: &Snapshot) -> Action {
        let products = |ids: &mut dyn Iterator<Item = i64>| -> Action {
            let set: BTreeSet<i64> = ids.collect();
            if set.is_empty() {
                Action::ManageContractSettings
            } else {
                Action::ManageProductUsers {
                    contract_products: set,
                }
            }
        };
        match self {
            Command::AddUsers { access, .. } => {
                products(&mut access.contract_products.iter().copied())
            }
            Command::SetAccess { grant, revoke, .. } => products(
                &mut grant
                    .contract_products
                    .iter()
                    .chain(&revoke.contract_products)
                    .copied(),
            ),
            Command::AssignCoordinator { .. } | Command::RemoveCoordinator { .. } => {
                Action::AssignCoordinator
            }
            // Removing someone takes away all they have: their seats need the products'
            // admin (R7), their coordinator roles need the CM (R6, R28).
            Command::RemoveUser { user } => match snap.members.get(user) {
                Some(m) if m.is_manager || !snap.coordinates(*user).is_empty() => {
                    Action::AssignCoordinator
                }
                Some(m) => products(&mut m.products.iter().copied()),
                None => Action::ManageContractSettings,
            },
            Command::NamedCallers { .. } | Command::Resend { .. } => Action::ManageContractSettings,
        }
    }

    fn audit_kind(&self) -> &'static str {
        match self {
            Command::AddUsers { .. } => "member.added",
            Command::RemoveUser { .. } => "member.removed",
            Command::SetAccess { .. } => "access.changed",
            Command::AssignCoordinator { .. } => "coordinator.assigned",
            Command::RemoveCoordinator { .. } => "coordinator.removed",
            Command::NamedCallers {
                designate: true, ..
            } => "named_caller.added",
            Command::NamedCallers { .. } => "named_caller.removed",
            Command::Resend { .. } => "email.resent",
        }
    }
}

/// One write of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Creates the User ID of the command's i-th person (R9).
    CreateUser {
        person: usize,
    },
    /// Names a user on the contract, keeping the name and language the admin typed: until the
    /// person signs in, that is what this contract's admins see (tenancy).
    Name {
        who: Who,
        typed: Option<Person>,
    },
    GrantSeat {
        product: i64,
        who: Who,
        by_default: bool,
    },
    RevokeSeat {
        product: i64,
        who: Who,
    },
    SetContractAccess {
        who: Who,
        web_support: bool,
        cloud: BTreeSet<String>,
    },
    SetCoordinator {
        product: i64,
        who: Option<Who>,
    },
    SetDesignated {
        who: Who,
        designated: bool,
    },
    /// Takes the membership away (after its seats and roles went, R28).
    Unname {
        user: i64,
    },
}

/// An email a plan owes (R5, R9, R12, R14).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// Welcome on the contract in `role`, with what they can use now and the admin to contact
    /// (the CM, unless it is them; R9).
    GetStarted {
        role: Role,
        benefits: Vec<Benefit>,
        admin: Option<Contact>,
    },
    /// What the person now has; `removed` when they were taken off the contract.
    PermissionsChanged {
        benefits: Vec<Benefit>,
        removed: bool,
    },
}

/// An email to one person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owed {
    pub to: Who,
    /// Their address and name, as the email greets them.
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub notice: Notice,
}

/// One audit entry (R25); `emails_to` are the people whose emails of this change it lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub kind: &'static str,
    /// The person the entry is about; the store names a User ID it created by its id.
    pub subject: Option<Who>,
    pub detail: Value,
    pub emails_to: Vec<Who>,
}

/// What a change writes, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub people: Vec<Person>,
    pub steps: Vec<Step>,
    pub emails: Vec<Owed>,
    pub audit: Vec<AuditEntry>,
    /// The users the change concerns (added, changed), for the answer.
    pub concerned: Vec<Who>,
}

type Refusals = Vec<DomainError>;

fn entry(list: &str, i: usize) -> [String; 3] {
    ["input".to_string(), list.to_string(), i.to_string()]
}

fn not_a_member_at(field: [&str; 2]) -> DomainError {
    DomainError::new(
        UserErrorCode::NotAMember,
        "that user is not on this contract",
    )
    .at(field)
}

fn not_a_member(at: [String; 3]) -> DomainError {
    DomainError::new(
        UserErrorCode::NotAMember,
        "that user is not on this contract",
    )
    .under(at)
}

/// Checks that every product id of `ids` is on the contract; refusals name `field`'s entries.
fn check_products(snap: &Snapshot, ids: &[i64], field: &[&str], out: &mut Refusals) {
    for (i, id) in ids.iter().enumerate() {
        if !snap.products.contains_key(id) {
            let mut path: Vec<String> = field.iter().map(|s| s.to_string()).collect();
            path.push(i.to_string());
            out.push(DomainError::not_found("contract product").at(path));
        }
    }
}

/// People and access change only while the contract is ACTIVE (R19, R22): while PROCESSING
/// there is nothing to use yet, and while EXPIRED a change would be silently lost or restored
/// by a renewal.
fn require_active(snap: &Snapshot) -> Result<(), Refusals> {
    if snap.contract.status != ContractStatus::Active {
        return Err(vec![
            DomainError::new(
                UserErrorCode::ContractNotActive,
                format!(
                    "contract {} is {}; its people and access change only while it is ACTIVE",
                    snap.contract.number, snap.contract.status
                ),
            )
            .at(["input", "contractId"]),
        ]);
    }
    Ok(())
}

/// Gives `m` a seat of each product in `ids` (the seat count is checked on the result).
fn grant(after: &mut Snapshot, user: i64, spec: &AccessSpec) {
    let Some(m) = after.members.get_mut(&user) else {
        return;
    };
    for cp in &spec.contract_products {
        if m.products.insert(*cp)
            && let Some(p) = after.products.get_mut(cp)
        {
            p.seats_assigned += 1;
        }
    }
    if spec.web_support == Some(true) {
        m.web_support = true;
    }
    m.cloud.extend(spec.cloud_services.iter().cloned());
}

fn revoke(after: &mut Snapshot, user: i64, spec: &AccessSpec) {
    let Some(m) = after.members.get_mut(&user) else {
        return;
    };
    for cp in &spec.contract_products {
        if m.products.remove(cp)
            && let Some(p) = after.products.get_mut(cp)
        {
            p.seats_assigned -= 1;
        }
    }
    if spec.web_support == Some(true) {
        m.web_support = false;
    }
    m.cloud.retain(|s| !spec.cloud_services.contains(s));
}

/// Applies `command` to a copy of `snap`, checks the rules, and returns what to write.
pub fn plan(snap: &Snapshot, command: &Command) -> Result<Plan, Refusals> {
    let mut after = snap.clone();
    let mut plan = Plan::default();
    let mut problems = Refusals::new();
    // Users whose seat refusal names an entry of the input, by user id.
    let mut entries: BTreeMap<i64, [String; 3]> = BTreeMap::new();
    let mut extra_emails: Vec<(i64, Notice)> = Vec::new();
    let mut get_started: BTreeMap<i64, Role> = BTreeMap::new();
    match command {
        Command::AddUsers { people, access } => {
            require_active(snap)?;
            rules::check_bulk_size(people.len()).map_err(|e| vec![e.under(["input"])])?;
            check_products(
                snap,
                &access.contract_products,
                &["input", "access", "contractProductIds"],
                &mut problems,
            );
            let mut seen = BTreeSet::new();
            for (i, p) in people.iter().enumerate() {
                let person = match p {
                    Ok(p) => p,
                    Err(e) => {
                        problems.push(e.clone().under(entry("users", i)));
                        continue;
                    }
                };
                let email = person.email.as_str().to_lowercase();
                if !seen.insert(email.clone()) {
                    problems.push(
                        DomainError::new(
                            UserErrorCode::DuplicateEntry,
                            format!("{email} is named twice in this request"),
                        )
                        .at(["email"])
                        .under(entry("users", i)),
                    );
                    continue;
                }
                if snap.by_email(&email).is_some() {
                    problems.push(
                        DomainError::new(
                            UserErrorCode::AlreadyMember,
                            format!("{email} is already on this contract"),
                        )
                        .at(["email"])
                        .under(entry("users", i)),
                    );
                    continue;
                }
                let id = match snap.known.get(&email) {
                    Some(known) => known.user_id,
                    None => {
                        plan.people.push(person.clone());
                        new_user_id(plan.people.len() - 1)
                    }
                };
                let m = MemberFacts::new_member(id, person, snap.known.get(&email));
                after.members.insert(id, m);
                grant(&mut after, id, access);
                entries.insert(id, entry("users", i));
                get_started.insert(id, Role::User);
                plan.concerned.push(Who::from_id(id));
                plan.steps.push(Step::Name {
                    who: Who::from_id(id),
                    typed: Some(person.clone()),
                });
            }
        }
        Command::RemoveUser { user } => {
            require_active(snap)?;
            let Some(m) = snap.members.get(user) else {
                return Err(vec![not_a_member_at(["input", "userId"])]);
            };
            if m.is_manager {
                return Err(vec![
                    DomainError::new(
                        UserErrorCode::ContractManagerRequired,
                        "the Contract Manager cannot be removed; change the Contract Manager first",
                    )
                    .at(["input", "userId"]),
                ]);
            }
            let everything = AccessSpec {
                contract_products: m.products.iter().copied().collect(),
                web_support: Some(true),
                cloud_services: m.cloud.clone(),
            };
            revoke(&mut after, *user, &everything);
            for p in after.products.values_mut() {
                if p.coordinator == Some(*user) {
                    p.coordinator = None;
                }
            }
            if let Some(m) = after.members.get_mut(user) {
                m.designated = false;
            }
            after.members.remove(user);
        }
        Command::SetAccess {
            users,
            grant: g,
            revoke: r,
        } => {
            require_active(snap)?;
            check_products(
                snap,
                &g.contract_products,
                &["input", "grant", "contractProductIds"],
                &mut problems,
            );
            check_products(
                snap,
                &r.contract_products,
                &["input", "revoke", "contractProductIds"],
                &mut problems,
            );
            for (i, user) in users.iter().enumerate() {
                if !snap.members.contains_key(user) {
                    problems.push(not_a_member(entry("userIds", i)));
                    continue;
                }
                if !problems.is_empty() {
                    continue;
                }
                grant(&mut after, *user, g);
                revoke(&mut after, *user, r);
                entries.entry(*user).or_insert_with(|| entry("userIds", i));
                if !plan.concerned.contains(&Who::User(*user)) {
                    plan.concerned.push(Who::User(*user));
                }
            }
        }
        Command::AssignCoordinator { products, person } => {
            require_active(snap)?;
            if products.is_empty() {
                return Err(vec![
                    DomainError::new(
                        UserErrorCode::InvalidInput,
                        "name at least one contract product",
                    )
                    .at(["input", "contractProductIds"]),
                ]);
            }
            check_products(
                snap,
                products,
                &["input", "contractProductIds"],
                &mut problems,
            );
            if !problems.is_empty() {
                return Err(problems);
            }
            let email = person.email.as_str().to_lowercase();
            let id = match (snap.by_email(&email), snap.known.get(&email)) {
                (Some(m), _) => m.user_id,
                (None, known) => {
                    let id = match known {
                        Some(k) => k.user_id,
                        None => {
                            plan.people.push(person.clone());
                            new_user_id(0)
                        }
                    };
                    let m = MemberFacts::new_member(id, person, known);
                    after.members.insert(id, m);
                    get_started.insert(id, Role::SoftwareCoordinator);
                    plan.steps.push(Step::Name {
                        who: Who::from_id(id),
                        typed: Some(person.clone()),
                    });
                    id
                }
            };
            for cp in products {
                if let Some(p) = after.products.get_mut(cp) {
                    p.coordinator = Some(id);
                }
            }
            // R13: an SC is a Named Caller by role, so a designation they held ends (it would
            // count toward the limit again the day they stop coordinating).
            if let Some(m) = after.members.get_mut(&id) {
                m.designated = false;
            }
            // R5: a seat of each product they coordinate, where one is free.
            for cp in products {
                let free = after
                    .products
                    .get(cp)
                    .is_some_and(|p| p.seats_assigned < p.seats);
                if free {
                    grant(
                        &mut after,
                        id,
                        &AccessSpec {
                            contract_products: vec![*cp],
                            ..AccessSpec::default()
                        },
                    );
                }
            }
            plan.concerned.push(Who::from_id(id));
        }
        Command::RemoveCoordinator { products } => {
            require_active(snap)?;
            check_products(
                snap,
                products,
                &["input", "contractProductIds"],
                &mut problems,
            );
            if !problems.is_empty() {
                return Err(problems);
            }
            for cp in products {
                if let Some(p) = after.products.get_mut(cp) {
                    p.coordinator = None;
                }
            }
        }
        Command::NamedCallers { users, designate } => {
            require_active(snap)?;
            if *designate && snap.contract.support != SupportLevel::Advanced {
                return Err(vec![
                    DomainError::new(
                        UserErrorCode::BasicSupportContract,
                        "Named Callers exist only on ADVANCED support contracts",
                    )
                    .at(["input", "contractId"]),
                ]);
            }
            for (i, user) in users.iter().enumerate() {
                let Some(m) = after.members.get_mut(user) else {
                    let code = if *designate {
                        UserErrorCode::NotANamedUser
                    } else {
                        UserErrorCode::NotAMember
                    };
                    problems.push(
                        DomainError::new(
                            code,
                            "a Named Caller must be a Named User of the contract first",
                        )
                        .under(entry("userIds", i)),
                    );
                    continue;
                };
                // The CM and SCs are Named Callers by role; a designation adds nothing.
                let by_role = m.is_manager || !snap.coordinates(*user).is_empty();
                m.designated = *designate && !by_role;
                if !plan.concerned.contains(&Who::User(*user)) {
                    plan.concerned.push(Who::User(*user));
                }
            }
        }
        Command::Resend { user, kind } => {
            let Some(m) = snap.members.get(user) else {
                return Err(vec![not_a_member_at(["input", "userId"])]);
            };
            let notice = match kind {
                Resend::GetStarted => Notice::GetStarted {
                    role: snap.roles(m)[0],
                    benefits: snap.benefits(m),
                    admin: admin_of(snap, m.user_id),
                },
                Resend::PermissionsChanged => Notice::PermissionsChanged {
                    benefits: snap.benefits(m),
                    removed: false,
                },
            };
            extra_emails.push((*user, notice));
            plan.concerned.push(Who::User(*user));
        }
    }
    // R10: the seat limits are checked even when some entries are bad, so one bad email does
    // not hide another entry's missing seat; every problem is told at once, in input order.
    let invariants = check_invariants(snap, &after, &entries);
    if !problems.is_empty() {
        if let Err(more) = invariants {
            problems.extend(more);
        }
        problems.sort_by_key(entry_index);
        return Err(problems);
    }
    invariants?;
    diff(snap, &after, command, &mut plan, &get_started, extra_emails);
    Ok(plan)
}

/// The admin a newly named person contacts: the Contract Manager, unless it is them.
pub fn admin_of(snap: &Snapshot, user: i64) -> Option<Contact> {
    snap.members
        .values()
        .find(|m| m.is_manager && m.user_id != user)
        .map(|m| Contact {
            name: format!("{} {}", m.first_name, m.last_name),
            email: m.email.clone(),
        })
}

/// Where in the input's list a refusal points (`["input", "users", "3", ...]`), for ordering;
/// refusals about the whole request come first.
fn entry_index(e: &DomainError) -> (usize, usize) {
    match e.field.as_deref() {
        Some([_, _, i, ..]) => i.parse().map_or((0, 0), |i| (1, i)),
        _ => (0, 0),
    }
}

/// The rules that hold after any change: no product over its seat count (R11), no more
/// designated Named Callers than the limit when a change adds one (R13).
fn check_invariants(
    before: &Snapshot,
    after: &Snapshot,
    entries: &BTreeMap<i64, [String; 3]>,
) -> Result<(), Refusals> {
    let mut problems = Refusals::new();
    for p in after.products.values() {
        if p.seats_assigned <= p.seats {
            continue;
        }
        let free = before
            .products
            .get(&p.id)
            .map_or(0, |b| (b.seats - b.seats_assigned).max(0));
        // Name every entry past the free seats, in input order.
        let mut takers: Vec<(&[String; 3], &MemberFacts)> = after
            .members
            .values()
            .filter(|m| m.products.contains(&p.id))
            .filter(|m| {
                before
                    .members
                    .get(&m.user_id)
                    .is_none_or(|b| !b.products.contains(&p.id))
            })
            .filter_map(|m| entries.get(&m.user_id).map(|e| (e, m)))
            .collect();
        takers.sort_by(|a, b| {
            let n = |e: &[String; 3]| e[2].parse::<usize>().unwrap_or(usize::MAX);
            n(a.0).cmp(&n(b.0))
        });
        for (at, m) in takers.into_iter().skip(free as usize) {
            problems.push(
                DomainError::new(
                    UserErrorCode::SeatLimitReached,
                    format!(
                        "no seat of {} is left for {} ({} free)",
                        p.name, m.email, free
                    ),
                )
                .under(at.clone()),
            );
        }
        if problems.is_empty() {
            problems.push(DomainError::new(
                UserErrorCode::SeatLimitReached,
                format!("every seat of {} is taken", p.name),
            ));
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let (was, now) = (before.counted_callers(), after.counted_callers());
    if now > was {
        let limit = rules::named_caller_limit(after.total_seats());
        if now > limit {
            return Err(vec![
                DomainError::new(
                    UserErrorCode::NamedCallerLimitReached,
                    format!("this contract allows {limit} designated Named Callers and has {was}"),
                )
                .at(["input", "userIds"]),
            ]);
        }
    }
    Ok(())
}

/// Turns the difference between `before` and `after` into writes, emails and audit entries.
fn diff(
    before: &Snapshot,
    after: &Snapshot,
    command: &Command,
    plan: &mut Plan,
    get_started: &BTreeMap<i64, Role>,
    extra_emails: Vec<(i64, Notice)>,
) {
    for i in 0..plan.people.len() {
        plan.steps.insert(i, Step::CreateUser { person: i });
    }
    // Coordinators first go, then seats and access change, then memberships go.
    for (id, p) in &after.products {
        if before.products.get(id).map(|b| b.coordinator) != Some(p.coordinator) {
            plan.steps.push(Step::SetCoordinator {
                product: *id,
                who: p.coordinator.map(Who::from_id),
            });
        }
    }
    for (id, b) in &before.members {
        if !after.members.contains_key(id) {
            for cp in &b.products {
                plan.steps.push(Step::RevokeSeat {
                    product: *cp,
                    who: Who::User(*id),
                });
            }
        }
    }
    for (id, a) in &after.members {
        let who = Who::from_id(*id);
        let b = before.members.get(id);
        let held = b.map(|b| b.products.clone()).unwrap_or_default();
        for cp in held.difference(&a.products) {
            plan.steps.push(Step::RevokeSeat { product: *cp, who });
        }
        let by_default = matches!(command, Command::AssignCoordinator { .. });
        for cp in a.products.difference(&held) {
            plan.steps.push(Step::GrantSeat {
                product: *cp,
                who,
                by_default,
            });
        }
        let (web, cloud) = b.map_or((false, BTreeSet::new()), |b| {
            (b.web_support, b.cloud.clone())
        });
        if web != a.web_support || cloud != a.cloud {
            plan.steps.push(Step::SetContractAccess {
                who,
                web_support: a.web_support,
                cloud: a.cloud.clone(),
            });
        }
        if b.is_some_and(|b| b.designated) != a.designated {
            plan.steps.push(Step::SetDesignated {
                who,
                designated: a.designated,
            });
        }
    }
    for id in before.members.keys() {
        if !after.members.contains_key(id) {
            plan.steps.push(Step::Unname { user: *id });
        }
    }

    // Emails and audit: one Permissions Changed per person whose benefits changed (R12, R14),
    // Get Started for everyone newly named (R5, R9).
    let kind = command.audit_kind();
    let owe = |plan: &mut Plan, m: &MemberFacts, notice: Notice| {
        plan.emails.push(Owed {
            to: Who::from_id(m.user_id),
            email: m.email.clone(),
            first_name: m.first_name.clone(),
            last_name: m.last_name.clone(),
            notice,
        });
    };
    let mut people: BTreeSet<i64> = before.members.keys().copied().collect();
    people.extend(after.members.keys().copied());
    let mut changed_entries = Vec::new();
    for id in people {
        let (b, a) = (before.members.get(&id), after.members.get(&id));
        let before_benefits = b.map(|m| before.benefits(m)).unwrap_or_default();
        let after_benefits = a.map(|m| after.benefits(m)).unwrap_or_default();
        let who = Who::from_id(id);
        let mut told = false;
        if let (Some(a), Some(role)) = (a, get_started.get(&id)) {
            owe(
                plan,
                a,
                Notice::GetStarted {
                    role: *role,
                    benefits: after_benefits.clone(),
                    admin: admin_of(after, id),
                },
            );
            told = true;
        }
        match (b, a) {
            (Some(b), None) => {
                owe(
                    plan,
                    b,
                    Notice::PermissionsChanged {
                        benefits: vec![],
                        removed: true,
                    },
                );
                told = true;
            }
            (_, Some(a)) if before_benefits != after_benefits => {
                owe(
                    plan,
                    a,
                    Notice::PermissionsChanged {
                        benefits: after_benefits.clone(),
                        removed: false,
                    },
                );
                told = true;
            }
            _ => {}
        }
        let roles_changed = b.map(|m| before.roles(m)) != a.map(|m| after.roles(m));
        if told || roles_changed {
            changed_entries.push((id, who, b.cloned(), a.cloned()));
        }
    }
    for (user, notice) in extra_emails {
        if let Some(m) = before.members.get(&user) {
            owe(plan, m, notice);
        }
    }

    match command {
        // One entry for the request: which products, who held them before.
        Command::AssignCoordinator { products, .. } | Command::RemoveCoordinator { products } => {
            let former: BTreeSet<i64> = products
                .iter()
                .filter_map(|cp| before.products.get(cp).and_then(|p| p.coordinator))
                .collect();
            let coordinator = products
                .first()
                .and_then(|cp| after.products.get(cp))
                .and_then(|p| p.coordinator);
            let mut detail = json!({ "products": products, "former": former });
            if let Some(id) = coordinator.filter(|id| *id > 0) {
                detail["user"] = json!(id);
            }
            if let Some(m) = coordinator.and_then(|id| after.members.get(&id)) {
                detail["email"] = json!(m.email);
                detail["before"] = before.describe(before.members.get(&m.user_id));
                detail["after"] = after.describe(Some(m));
            }
            plan.audit.push(AuditEntry {
                kind,
                subject: coordinator.map(Who::from_id),
                detail,
                emails_to: changed_entries.iter().map(|(_, w, _, _)| *w).collect(),
            });
        }
        Command::Resend { user, kind: k } => plan.audit.push(AuditEntry {
            kind,
            subject: Some(Who::User(*user)),
            detail: json!({
                "user": user,
                "kind": match k { Resend::GetStarted => "get-started", Resend::PermissionsChanged => "permissions-changed" },
            }),
            emails_to: vec![Who::User(*user)],
        }),
        _ => {
            for (id, who, b, a) in changed_entries {
                let email = a.as_ref().or(b.as_ref()).map(|m| m.email.clone());
                let mut detail = json!({
                    "email": email,
                    "before": before.describe(b.as_ref()),
                    "after": after.describe(a.as_ref()),
                });
                if id > 0 {
                    detail["user"] = json!(id);
                }
                if let Command::NamedCallers { .. } = command {
                    detail["namedCaller"] = json!({
                        "before": b.as_ref().is_some_and(|m| before.is_named_caller(m)),
                        "after": a.as_ref().is_some_and(|m| after.is_named_caller(m)),
                    });
                }
                plan.audit.push(AuditEntry {
                    kind,
                    subject: Some(who),
                    detail,
                    emails_to: vec![who],
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{Decision, Principal, decide};

    const P1: i64 = 11;
    const P2: i64 = 12;

    fn member(id: i64, products: &[i64]) -> MemberFacts {
        MemberFacts {
            user_id: id,
            email: format!("u{id}@example.com"),
            first_name: format!("First{id}"),
            last_name: format!("Last{id}"),
            language: "en".into(),
            status: MemberStatus::Active,
            is_manager: false,
            designated: false,
            web_support: false,
            cloud: BTreeSet::new(),
            products: products.iter().copied().collect(),
            coordinator_terms_accepted: true,
        }
    }

    /// An ADVANCED contract: CM 1 on both products, SC 2 of P1, SC 3 of P2, users 4..=7.
    fn snapshot(seats: i64) -> Snapshot {
        let mut members = BTreeMap::new();
        let mut cm = member(1, &[P1, P2]);
        cm.is_manager = true;
        members.insert(1, cm);
        members.insert(2, member(2, &[]));
        members.insert(3, member(3, &[]));
        for id in 4..=7 {
            members.insert(id, member(id, &[]));
        }
        let product = |id, name: &str, coordinator| ProductFacts {
            id,
            name: name.into(),
            seats,
            seats_assigned: 1,
            coordinator: Some(coordinator),
        };
        Snapshot {
            contract: ContractFacts {
                id: 1,
                number: "C-1".into(),
                company: "Smith Architecture".into(),
                status: ContractStatus::Active,
                support: SupportLevel::Advanced,
                renewal: RenewalKind::Manual,
                billing_period: BillingPeriod::Annual,
                end_date: NaiveDate::from_ymd_opt(2027, 1, 1).unwrap(),
            },
            products: [
                (P1, product(P1, "AutoCAD", 2)),
                (P2, product(P2, "Revit", 3)),
            ]
            .into(),
            members,
            known: BTreeMap::new(),
        }
    }

    fn apply(snap: &mut Snapshot, command: &Command) -> Plan {
        let plan = plan(snap, command).expect("allowed");
        // Mirror the writes on the snapshot, as the store would.
        for step in &plan.steps {
            match step {
                Step::SetCoordinator { product, who } => {
                    snap.products.get_mut(product).unwrap().coordinator = who.map(|w| match w {
                        Who::User(id) => id,
                        Who::Person(_) => unreachable!(),
                    });
                }
                Step::SetDesignated {
                    who: Who::User(id),
                    designated,
                } => snap.members.get_mut(id).unwrap().designated = *designated,
                Step::GrantSeat {
                    product,
                    who: Who::User(id),
                    ..
                } => {
                    snap.members.get_mut(id).unwrap().products.insert(*product);
                    snap.products.get_mut(product).unwrap().seats_assigned += 1;
                }
                _ => {}
            }
        }
        plan
    }

    fn codes(r: Result<Plan, Refusals>) -> Vec<UserErrorCode> {
        r.expect_err("refused").iter().map(|e| e.code).collect()
    }

    #[test]
    fn r6_an_sc_cannot_remove_another_sc_even_one_holding_no_seat() {
        let snap = snapshot(10);
        let sc = snap.standing(2, false);
        for target in [3, 1] {
            let action = Command::RemoveUser { user: target }.action(&snap);
            assert_eq!(
                decide(Principal::User, Some(&sc), &action),
                Decision::Forbidden,
                "SC 2 removing {target}"
            );
        }
        // The CM may; an SC may remove a user holding only their products.
        let action = Command::RemoveUser { user: 3 }.action(&snap);
        assert!(decide(Principal::User, Some(&snap.standing(1, false)), &action).is_allowed());
        let mut with_seat = snap.clone();
        with_seat.members.get_mut(&4).unwrap().products.insert(P1);
        let action = Command::RemoveUser { user: 4 }.action(&with_seat);
        assert!(decide(Principal::User, Some(&sc), &action).is_allowed());
    }

    #[test]
    fn r13_the_limit_holds_when_a_designated_caller_stops_coordinating() {
        // 10 seats in all: the limit is 2.
        let mut snap = snapshot(5);
        let person =
            |id: i64| Person::parse(&format!("u{id}@example.com"), "F", "L", None).unwrap();
        apply(
            &mut snap,
            &Command::NamedCallers {
                users: vec![4, 5],
                designate: true,
            },
        );
        assert_eq!(snap.counted_callers(), 2);
        apply(
            &mut snap,
            &Command::AssignCoordinator {
                products: vec![P1],
                person: person(4),
            },
        );
        assert_eq!(snap.counted_callers(), 1, "an SC is a Named Caller by role");
        apply(
            &mut snap,
            &Command::NamedCallers {
                users: vec![6],
                designate: true,
            },
        );
        let p = apply(
            &mut snap,
            &Command::RemoveCoordinator { products: vec![P1] },
        );
        assert_eq!(snap.counted_callers(), 2, "never more than the limit");
        assert!(!snap.is_named_caller(&snap.members[&4]));
        // R14: the former SC is told they stopped being a Named Caller.
        let told: Vec<_> = p.emails.iter().map(|o| o.to).collect();
        assert!(told.contains(&Who::User(4)));
        assert_eq!(
            codes(plan(
                &snap,
                &Command::NamedCallers {
                    users: vec![7],
                    designate: true
                }
            )),
            [UserErrorCode::NamedCallerLimitReached]
        );
    }

    #[test]
    fn r22_people_and_access_do_not_change_while_expired() {
        let mut snap = snapshot(10);
        snap.contract.status = ContractStatus::Expired;
        let revoke = Command::SetAccess {
            users: vec![1],
            grant: AccessSpec::default(),
            revoke: AccessSpec {
                contract_products: vec![P1],
                ..AccessSpec::default()
            },
        };
        for command in [
            revoke,
            Command::RemoveUser { user: 4 },
            Command::RemoveCoordinator { products: vec![P1] },
            Command::NamedCallers {
                users: vec![4],
                designate: false,
            },
        ] {
            assert_eq!(
                codes(plan(&snap, &command)),
                [UserErrorCode::ContractNotActive],
                "{command:?}"
            );
        }
    }

    #[test]
    fn r10_a_bulk_request_reports_every_problem_of_every_entry() {
        let snap = snapshot(2);
        let person = |e: &str| Person::parse(e, "F", "L", None);
        let command = Command::AddUsers {
            people: vec![
                person("not an email"),
                person("u4@example.com"),
                person("new@example.com"),
                person("NEW@example.com"),
                person("other@example.com"),
            ],
            access: AccessSpec::default(),
        };
        let errs = plan(&snap, &command).unwrap_err();
        let got: Vec<(UserErrorCode, String)> = errs
            .iter()
            .map(|e| (e.code, e.field.clone().unwrap()[2].clone()))
            .collect();
        assert_eq!(
            got,
            [
                (UserErrorCode::InvalidEmail, "0".to_string()),
                (UserErrorCode::AlreadyMember, "1".to_string()),
                (UserErrorCode::DuplicateEntry, "3".to_string()),
            ]
        );
    }

    #[test]
    fn r10_a_bad_email_does_not_hide_other_entries_duplicates_members_or_missing_seats() {
        // One seat of P1 is free.
        let snap = snapshot(2);
        let person = |e: &str| Person::parse(e, "F", "L", None);
        let command = Command::AddUsers {
            people: vec![
                person("a@example.com"),
                person("not an email"),
                person("u4@example.com"),
                person("b@example.com"),
                person("A@example.com"),
            ],
            access: AccessSpec {
                contract_products: vec![P1],
                ..AccessSpec::default()
            },
        };
        let errs = plan(&snap, &command).unwrap_err();
        let got: Vec<(UserErrorCode, String)> = errs
            .iter()
            .map(|e| (e.code, e.field.clone().unwrap()[2].clone()))
            .collect();
        assert_eq!(
            got,
            [
                (UserErrorCode::InvalidEmail, "1".to_string()),
                (UserErrorCode::AlreadyMember, "2".to_string()),
                (UserErrorCode::SeatLimitReached, "3".to_string()),
                (UserErrorCode::DuplicateEntry, "4".to_string()),
            ]
        );
    }

    #[test]
    fn r11_seats_never_exceed_the_seat_count_and_refusals_name_the_entries() {
        // One seat of P1 is free.
        let snap = snapshot(2);
        let person = |e: &str| Person::parse(e, "F", "L", None);
        let command = Command::AddUsers {
            people: vec![person("a@example.com"), person("b@example.com")],
            access: AccessSpec {
                contract_products: vec![P1],
                ..AccessSpec::default()
            },
        };
        let errs = plan(&snap, &command).unwrap_err();
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].code, UserErrorCode::SeatLimitReached);
        assert_eq!(errs[0].field.as_ref().unwrap()[2], "1");
    }

    #[test]
    fn r12_one_permissions_changed_per_person_per_request() {
        let snap = snapshot(10);
        let command = Command::SetAccess {
            users: vec![4, 5, 4],
            grant: AccessSpec {
                contract_products: vec![P1, P2],
                web_support: Some(true),
                ..AccessSpec::default()
            },
            revoke: AccessSpec::default(),
        };
        let p = plan(&snap, &command).unwrap();
        let to: Vec<Who> = p.emails.iter().map(|o| o.to).collect();
        assert_eq!(to, [Who::User(4), Who::User(5)]);
        let Notice::PermissionsChanged { benefits, .. } = &p.emails[0].notice else {
            panic!("a Permissions Changed email");
        };
        assert_eq!(
            benefits,
            &[
                Benefit::Product("AutoCAD".into()),
                Benefit::Product("Revit".into()),
                Benefit::WebSupport
            ]
        );
        assert_eq!(p.audit.len(), 2);
    }

    #[test]
    fn r28_removing_a_user_frees_seats_and_hands_products_back_to_the_cm() {
        let mut snap = snapshot(10);
        snap.members.get_mut(&2).unwrap().products.insert(P1);
        snap.products.get_mut(&P1).unwrap().seats_assigned = 2;
        let p = plan(&snap, &Command::RemoveUser { user: 2 }).unwrap();
        assert_eq!(
            p.steps,
            [
                Step::SetCoordinator {
                    product: P1,
                    who: None
                },
                Step::RevokeSeat {
                    product: P1,
                    who: Who::User(2)
                },
                Step::Unname { user: 2 },
            ]
        );
        assert_eq!(
            codes(plan(&snap, &Command::RemoveUser { user: 1 })),
            [UserErrorCode::ContractManagerRequired]
        );
    }
}
