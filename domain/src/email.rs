//! The emails Roster sends, one variant per kind with what its templates need (API.md,
//! "Emails"; R24).
//!
//! The store owes an [`Email`] in the transaction of the change it tells of: the kind goes to
//! the ledger's `kind` column and [`Email::params`] to its `params` column. The worker reads
//! the row back with [`Email::from_stored`], adds what only sending knows (the contract as it
//! is now, links, the recipient's first name) and renders the templates of
//! [`Email::kind`] in the recipient's language, in strict mode: a variable a template names
//! and the email does not carry is an error, not an empty string.
//!
//! Serialised, an email is `{"kind": "<X-Roster-Kind>", "params": {...}}` with camelCase
//! field names; the params are the shape stored before emails were typed, so rows owed then
//! still read (fields those rows held and no template reads are ignored).

use crate::change::Benefit;
use crate::email_kind::EmailKind;
use crate::{Role, SupportLevel};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// One email, typed by kind. Fields are what the templates of the kind read, captured when the
/// email was owed; the worker adds the contract's current facts, the links and the recipient's
/// name (see `roster_worker::templates::SendFacts`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    content = "params",
    rename_all = "kebab-case",
    rename_all_fields = "camelCase"
)]
pub enum Email {
    /// The receipt of a processed order, to the Contract Manager (R19).
    OrderProcessed {
        contract_number: String,
        order_number: String,
        company: String,
        first_name: String,
        support_level: SupportLevel,
        start_date: NaiveDate,
        end_date: NaiveDate,
        products: Vec<OrderedProduct>,
        /// An add-on order for a running contract (R31): the products are what it added, and
        /// no Get Started follows. Rows owed before add-ons read as `false`.
        #[serde(default)]
        add_on: bool,
    },
    /// Benefits are ready: a contract's member (with an activation link while their User ID
    /// has no password), or a reseller's user, who has no contract.
    GetStarted {
        contract_number: Option<String>,
        company: String,
        first_name: String,
        role: StartedAs,
        /// The contract's products, listed when a whole contract became ready.
        #[serde(default)]
        products: Vec<ProductRef>,
        /// What the person can use now (empty: their admin will grant access; R9).
        #[serde(default)]
        benefits: Vec<Benefit>,
        /// The admin to contact (the Contract Manager), unless the person is that admin.
        #[serde(default)]
        admin: Option<Contact>,
    },
    /// What a member now has (R12); `removed` when they were taken off the contract.
    PermissionsChanged {
        contract_number: String,
        company: String,
        first_name: String,
        benefits: Vec<Benefit>,
        #[serde(default)]
        removed: bool,
        /// Why they changed: a request (the default), the contract's expiry (then `benefits`
        /// are what stopped), or a renewal that gave them back (R22).
        #[serde(default)]
        reason: PermissionsReason,
    },
    /// The notice of threshold `days` (R20) for the term ending on `term_end`, owed with
    /// `days_left` real days to go (what it states); obsolete once that term is renewed or over.
    RenewalNotice {
        days: u32,
        term_end: NaiveDate,
        #[serde(default)]
        days_left: Option<i64>,
    },
    /// The term was renewed until `end_date` (R20, R22).
    RenewalConfirmation {
        end_date: NaiveDate,
        automatic: bool,
    },
    /// A support case was opened (R17).
    SupportCaseReceived {
        case_id: String,
        subject: String,
        contract_number: String,
        company: String,
        first_name: String,
    },
    /// A release of a product, to the contract product's effective Software Coordinator (R23).
    NewRelease {
        product_name: String,
        version: String,
    },
    /// The Contract Manager changed (R15), to the old and the new one.
    ContractManagerChanged {
        contract_number: String,
        company: String,
        first_name: String,
        new_manager_name: String,
        new_manager_email: String,
        previous_manager_name: String,
    },
    /// A contract was not renewed and expired (R22), to its Contract Manager: what stopped
    /// (its products, for how many members) and how to renew.
    ContractExpired {
        contract_number: String,
        company: String,
        first_name: String,
        end_date: NaiveDate,
        products: Vec<String>,
        members_affected: i64,
    },
    /// R32: to the new address, the link that confirms it (`confirmed: false`); to the old
    /// address once confirmed, that the User ID's address changed (`confirmed: true`).
    EmailChange {
        first_name: String,
        new_email: String,
        confirmed: bool,
        /// The pending change the worker issues the confirmation link for.
        change_id: i64,
    },
    // Added for R18 and R34 (issue 17).
    /// Staff commented on a case or changed its status (R34), to the submitter.
    SupportCaseUpdated {
        case_id: String,
        subject: String,
        contract_number: String,
        company: String,
        first_name: String,
        /// The new status, when it changed.
        #[serde(default)]
        status: Option<crate::CaseStatus>,
        /// Staff's comment, when there is one.
        #[serde(default)]
        comment: Option<String>,
    },
    /// Someone asked for a new Contract Manager (R15, R34), to the current one.
    ContractManagerChangeRequested {
        case_id: String,
        contract_number: String,
        company: String,
        first_name: String,
        proposed_name: String,
        proposed_email: String,
        requested_by: String,
    },
    /// A contract let the recipient's reseller read its cases (R18), to the reseller's users.
    ResellerAccessGranted {
        contract_number: String,
        company: String,
        first_name: String,
        reseller_name: String,
    },
}

/// Why a Permissions Changed email went out (R12, R22).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PermissionsReason {
    /// An admin's request changed them.
    #[default]
    Change,
    /// The contract expired: product access stopped.
    Expired,
    /// A renewal gave back what the expiry stopped.
    Renewed,
}

/// A person to contact (defined beside the rules that name one).
pub use crate::change::Contact;

/// A product line of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderedProduct {
    pub name: String,
    pub code: String,
    pub seats: i64,
}

/// A product of a contract, by name and code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductRef {
    pub name: String,
    pub code: String,
}

/// Whom a Get Started email welcomes: a contract's member in a role, or a reseller's user.
/// Stored as the role's name (`CONTRACT_MANAGER`, ...) or `RESELLER`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartedAs {
    Member(Role),
    Reseller,
}

impl StartedAs {
    pub fn as_str(self) -> &'static str {
        match self {
            StartedAs::Member(role) => role.as_str(),
            StartedAs::Reseller => "RESELLER",
        }
    }
}

impl FromStr for StartedAs {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s == "RESELLER" {
            return Ok(StartedAs::Reseller);
        }
        s.parse::<Role>()
            .map(StartedAs::Member)
            .map_err(|_| format!("unknown Get Started role {s:?}"))
    }
}

impl fmt::Display for StartedAs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for StartedAs {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for StartedAs {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

impl Email {
    /// The kind: the `X-Roster-Kind` header, the ledger's `kind` column, the templates' name.
    pub fn kind(&self) -> EmailKind {
        match self {
            Email::OrderProcessed { .. } => EmailKind::OrderProcessed,
            Email::GetStarted { .. } => EmailKind::GetStarted,
            Email::PermissionsChanged { .. } => EmailKind::PermissionsChanged,
            Email::RenewalNotice { .. } => EmailKind::RenewalNotice,
            Email::RenewalConfirmation { .. } => EmailKind::RenewalConfirmation,
            Email::SupportCaseReceived { .. } => EmailKind::SupportCaseReceived,
            Email::NewRelease { .. } => EmailKind::NewRelease,
            Email::ContractManagerChanged { .. } => EmailKind::ContractManagerChanged,
            Email::ContractExpired { .. } => EmailKind::ContractExpired,
            Email::EmailChange { .. } => EmailKind::EmailChange,
            Email::SupportCaseUpdated { .. } => EmailKind::SupportCaseUpdated,
            Email::ContractManagerChangeRequested { .. } => {
                EmailKind::ContractManagerChangeRequested
            }
            Email::ResellerAccessGranted { .. } => EmailKind::ResellerAccessGranted,
        }
    }

    /// The parameters as the ledger's `params` column stores them (a JSON object).
    pub fn params(&self) -> serde_json::Value {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(mut tagged)) => {
                tagged.remove("params").unwrap_or_default()
            }
            // Every field serialises to JSON (no maps with non-string keys, no floats).
            other => unreachable!("an email serialises to a tagged object, not {other:?}"),
        }
    }

    /// The email a ledger row holds: its `kind` column and its `params` column.
    pub fn from_stored(kind: &str, params: &str) -> Result<Email, EmailDecodeError> {
        let params: serde_json::Value =
            serde_json::from_str(params).map_err(|e| EmailDecodeError(e.to_string()))?;
        serde_json::from_value(serde_json::json!({ "kind": kind, "params": params }))
            .map_err(|e| EmailDecodeError(format!("{kind} email: {e}")))
    }

    /// The contract number the email captured, if it names one.
    pub fn contract_number(&self) -> Option<&str> {
        match self {
            Email::OrderProcessed {
                contract_number, ..
            }
            | Email::PermissionsChanged {
                contract_number, ..
            }
            | Email::SupportCaseReceived {
                contract_number, ..
            }
            | Email::ContractManagerChanged {
                contract_number, ..
            }
            | Email::ContractExpired {
                contract_number, ..
            }
            | Email::SupportCaseUpdated {
                contract_number, ..
            }
            | Email::ContractManagerChangeRequested {
                contract_number, ..
            }
            | Email::ResellerAccessGranted {
                contract_number, ..
            } => Some(contract_number),
            Email::GetStarted {
                contract_number, ..
            } => contract_number.as_deref(),
            Email::RenewalNotice { .. }
            | Email::RenewalConfirmation { .. }
            | Email::NewRelease { .. }
            | Email::EmailChange { .. } => None,
        }
    }
}

/// A ledger row that holds no email of its kind: an unknown kind or parameters that do not fit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stored email does not decode: {0}")]
pub struct EmailDecodeError(pub String);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    /// One email of each kind.
    fn every_kind() -> Vec<Email> {
        vec![
            Email::OrderProcessed {
                contract_number: "1234-567890".into(),
                order_number: "SO-1".into(),
                company: "Acme".into(),
                first_name: "Ann".into(),
                support_level: SupportLevel::Advanced,
                start_date: day("2026-01-01"),
                end_date: day("2027-01-01"),
                products: vec![OrderedProduct {
                    name: "AutoCAD".into(),
                    code: "ACAD".into(),
                    seats: 3,
                }],
                add_on: false,
            },
            Email::GetStarted {
                contract_number: None,
                company: "Channel Partners".into(),
                first_name: "Ann".into(),
                role: StartedAs::Reseller,
                products: vec![],
                benefits: vec![],
                admin: None,
            },
            Email::PermissionsChanged {
                contract_number: "1234-567890".into(),
                company: "Acme".into(),
                first_name: "Ann".into(),
                benefits: vec![
                    Benefit::Product("AutoCAD".into()),
                    Benefit::WebSupport,
                    Benefit::CloudService("Rendering".into()),
                    Benefit::NamedCaller,
                    Benefit::Coordinator("AutoCAD".into()),
                ],
                removed: false,
                reason: PermissionsReason::Change,
            },
            Email::RenewalNotice {
                days: 30,
                term_end: day("2027-01-01"),
                days_left: None,
            },
            Email::RenewalConfirmation {
                end_date: day("2028-01-01"),
                automatic: true,
            },
            Email::SupportCaseReceived {
                case_id: "RC-1".into(),
                subject: "Help".into(),
                contract_number: "1234-567890".into(),
                company: "Acme".into(),
                first_name: "Ann".into(),
            },
            Email::NewRelease {
                product_name: "AutoCAD".into(),
                version: "2027.1".into(),
            },
            Email::ContractManagerChanged {
                contract_number: "1234-567890".into(),
                company: "Acme".into(),
                first_name: "Ann".into(),
                new_manager_name: "Nia Next".into(),
                new_manager_email: "nia@acme.example".into(),
                previous_manager_name: "Pat Smith".into(),
            },
            Email::ContractExpired {
                contract_number: "1234-567890".into(),
                company: "Acme".into(),
                first_name: "Ann".into(),
                end_date: day("2027-01-01"),
                products: vec!["AutoCAD".into()],
                members_affected: 3,
            },
            Email::EmailChange {
                first_name: "Ann".into(),
                new_email: "ann@new.example".into(),
                confirmed: false,
                change_id: 1,
            },
            Email::SupportCaseUpdated {
                case_id: "RC-1".into(),
                subject: "Help".into(),
                contract_number: "1234-567890".into(),
                company: "Acme".into(),
                first_name: "Ann".into(),
                status: Some(crate::CaseStatus::InProgress),
                comment: Some("We are on it.".into()),
            },
            Email::ContractManagerChangeRequested {
                case_id: "RC-2".into(),
                contract_number: "1234-567890".into(),
                company: "Acme".into(),
                first_name: "Pat".into(),
                proposed_name: "Nia Next".into(),
                proposed_email: "nia@acme.example".into(),
                requested_by: "Nia Next".into(),
            },
            Email::ResellerAccessGranted {
                contract_number: "1234-567890".into(),
                company: "Acme".into(),
                first_name: "Rita".into(),
                reseller_name: "Channel Partners".into(),
            },
        ]
    }

    #[test]
    fn every_kind_round_trips_through_its_ledger_columns() {
        let emails = every_kind();
        let kinds: Vec<EmailKind> = emails.iter().map(Email::kind).collect();
        assert_eq!(kinds, EmailKind::ALL, "one sample per kind, in order");
        for email in emails {
            let stored = email.params().to_string();
            let back = Email::from_stored(email.kind().as_str(), &stored).unwrap();
            assert_eq!(back, email);
            // The serde tag is the header value.
            assert_eq!(
                serde_json::to_value(&email).unwrap()["kind"],
                email.kind().as_str()
            );
        }
    }

    #[test]
    fn benefits_are_stored_tagged_for_the_templates() {
        let email = &every_kind()[2];
        assert_eq!(
            email.params()["benefits"],
            json!([
                { "kind": "product", "name": "AutoCAD" },
                { "kind": "webSupport" },
                { "kind": "cloudService", "name": "Rendering" },
                { "kind": "namedCaller" },
                { "kind": "coordinator", "product": "AutoCAD" },
            ])
        );
    }

    /// Rows owed before emails were typed, as each enqueue site wrote them, still read.
    #[test]
    fn rows_in_the_untyped_shape_still_read() {
        let rows = [
            (
                "order-processed",
                json!({ "contractNumber": "1234-567890", "orderNumber": "SO-1", "company": "Acme",
                        "firstName": "Ann", "lastName": "Lee", "supportLevel": "BASIC",
                        "startDate": "2026-01-01", "endDate": "2027-01-01",
                        "products": [{ "name": "AutoCAD", "code": "ACAD", "seats": 3 }] }),
            ),
            (
                "get-started",
                json!({ "contractNumber": "1234-567890", "company": "Acme", "firstName": "Ann",
                        "lastName": "Lee", "role": "USER" }),
            ),
            (
                "get-started",
                json!({ "contractNumber": "1234-567890", "company": "Acme", "firstName": "Ann",
                        "role": "CONTRACT_MANAGER",
                        "products": [{ "name": "AutoCAD", "code": "ACAD" }] }),
            ),
            (
                "get-started",
                json!({ "company": "Channel Partners", "firstName": "Ann", "role": "RESELLER" }),
            ),
            (
                "permissions-changed",
                json!({ "contractNumber": "1234-567890", "company": "Acme", "firstName": "Ann",
                        "lastName": "Lee", "removed": true,
                        "benefits": ["AutoCAD", "Web Support", "Cloud services: Rendering",
                                     "Named Caller (phone support)", "Software Coordinator of AutoCAD"] }),
            ),
            (
                "renewal-notice",
                json!({ "days": 4, "termEnd": "2027-01-01" }),
            ),
            (
                "renewal-confirmation",
                json!({ "endDate": "2028-01-01", "automatic": false }),
            ),
            (
                "support-case-received",
                json!({ "caseId": "RC-1", "subject": "Help", "contractNumber": "1234-567890",
                        "company": "Acme", "firstName": "Ann" }),
            ),
            (
                "new-release",
                json!({ "productName": "AutoCAD", "version": "2027.1" }),
            ),
            (
                "contract-manager-changed",
                json!({ "contractNumber": "1234-567890", "company": "Acme", "firstName": "Ann",
                        "newManagerName": "Nia Next", "newManagerEmail": "nia@acme.example",
                        "previousManagerName": "Pat Smith" }),
            ),
        ];
        for (kind, params) in &rows {
            let email = Email::from_stored(kind, &params.to_string())
                .unwrap_or_else(|e| panic!("{kind}: {e}"));
            assert_eq!(email.kind().as_str(), *kind);
        }
        // English labels read back as typed benefits.
        let (kind, params) = &rows[4];
        let Email::PermissionsChanged {
            benefits, removed, ..
        } = Email::from_stored(kind, &params.to_string()).unwrap()
        else {
            panic!("not a Permissions Changed email");
        };
        assert_eq!(benefits, every_kind_benefits());
        assert!(removed);
    }

    fn every_kind_benefits() -> Vec<Benefit> {
        match &every_kind()[2] {
            Email::PermissionsChanged { benefits, .. } => benefits.clone(),
            _ => unreachable!(),
        }
    }

    #[test]
    fn labels_read_back_as_their_benefit() {
        for b in every_kind_benefits() {
            assert_eq!(Benefit::from_label(&b.label()), b);
        }
    }

    #[test]
    fn a_row_that_does_not_fit_its_kind_is_refused() {
        assert!(Email::from_stored("nonsense", "{}").is_err());
        assert!(Email::from_stored("new-release", "{}").is_err());
        assert!(Email::from_stored("new-release", "not json").is_err());
        assert!(
            Email::from_stored(
                "get-started",
                &json!({ "company": "A", "firstName": "B", "role": "OWNER" }).to_string()
            )
            .is_err()
        );
    }
}
