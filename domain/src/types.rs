//! Validated values and the enums of the domain.
//!
//! Each newtype can only be built valid (`parse`), so code past the edge trusts it.

use crate::error::{DomainError, UserErrorCode};
use chrono::NaiveDate;
use std::fmt;
use std::str::FromStr;

/// Longest email address accepted (RFC 5321's path limit).
pub const MAX_EMAIL_LEN: usize = 254;
/// Longest first or last name accepted.
pub const MAX_NAME_LEN: usize = 100;
/// Longest free-text field (company name, subject, reason) accepted, in characters.
pub const MAX_TEXT_LEN: usize = 200;
/// Longest code (order number, product code, version) accepted.
pub const MAX_CODE_LEN: usize = 64;
/// Most seats one contract product may have.
pub const MAX_SEATS: i64 = 100_000;

fn invalid(field: &str, message: impl Into<String>) -> DomainError {
    DomainError::new(UserErrorCode::InvalidInput, message).at([field])
}

/// An email address, trimmed and lower-cased: the identity of a User ID (R2, R9).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let bad = |why: &str| {
            DomainError::new(
                UserErrorCode::InvalidEmail,
                format!(
                    "\"{}\" is not a valid email address: {why}",
                    truncate(raw, 60)
                ),
            )
            .at(["email"])
        };
        let s = raw.trim();
        if s.is_empty() {
            return Err(bad("it is empty"));
        }
        if s.len() > MAX_EMAIL_LEN {
            return Err(bad("it is too long"));
        }
        if s.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(bad("it contains spaces or control characters"));
        }
        let Some((local, domain)) = s.rsplit_once('@') else {
            return Err(bad("it has no @"));
        };
        if local.is_empty() || local.len() > 64 || local.contains('@') {
            return Err(bad("the part before @ is not valid"));
        }
        if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
            return Err(bad("the part before @ is not valid"));
        }
        if local.chars().any(|c| "<>()[]\\,;:\"".contains(c)) {
            return Err(bad("the part before @ has a character that is not allowed"));
        }
        let labels: Vec<&str> = domain.split('.').collect();
        if labels.len() < 2
            || labels.iter().any(|l| {
                l.is_empty()
                    || l.len() > 63
                    || l.starts_with('-')
                    || l.ends_with('-')
                    || !l.chars().all(|c| c.is_alphanumeric() || c == '-')
            })
        {
            return Err(bad("the domain is not valid"));
        }
        Ok(Self(s.to_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn truncate(s: &str, max: usize) -> String {
    let clean: String = s.chars().filter(|c| !c.is_control()).take(max).collect();
    clean
}

/// Trims `raw` and checks it is a single line of 1..=`max` characters.
pub fn parse_text(field: &str, raw: &str, max: usize) -> Result<String, DomainError> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(invalid(field, format!("{field} must not be empty")));
    }
    if s.chars().count() > max {
        return Err(invalid(
            field,
            format!("{field} must be at most {max} characters"),
        ));
    }
    if s.chars().any(char::is_control) {
        return Err(invalid(
            field,
            format!("{field} must not contain line breaks or control characters"),
        ));
    }
    Ok(s.to_string())
}

/// Like [`parse_text`] but keeps line breaks (descriptions, comments).
pub fn parse_multiline(field: &str, raw: &str, max: usize) -> Result<String, DomainError> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(invalid(field, format!("{field} must not be empty")));
    }
    if s.chars().count() > max {
        return Err(invalid(
            field,
            format!("{field} must be at most {max} characters"),
        ));
    }
    if s.chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err(invalid(
            field,
            format!("{field} must not contain control characters"),
        ));
    }
    Ok(s.to_string())
}

/// A code such as an order number or product code: letters, digits, `-`, `_`, `.`.
pub fn parse_code(field: &str, raw: &str) -> Result<String, DomainError> {
    let s = raw.trim();
    if s.is_empty() || s.len() > MAX_CODE_LEN {
        return Err(invalid(
            field,
            format!("{field} must be 1 to {MAX_CODE_LEN} characters"),
        ));
    }
    if !s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(invalid(
            field,
            format!("{field} may contain only letters, digits, '-', '_' and '.'"),
        ));
    }
    Ok(s.to_string())
}

/// The languages Roster writes emails in; anything else falls back to English (R24).
pub const LANGUAGES: &[&str] = &["en", "de", "fr", "ja"];

/// A language preference: a BCP 47 primary tag Roster knows, e.g. `en`, `de`, `fr`, `ja`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Language(String);

impl Language {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let s = raw.trim().to_ascii_lowercase();
        let primary = s.split(['-', '_']).next().unwrap_or("");
        let well_formed = !s.is_empty()
            && s.len() <= 35
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            && (2..=3).contains(&primary.len());
        if !well_formed {
            return Err(invalid(
                "language",
                format!(
                    "language must be a language tag such as {}",
                    LANGUAGES.join(", ")
                ),
            ));
        }
        if !LANGUAGES.contains(&primary) {
            return Err(invalid(
                "language",
                format!("language must be one of {}", LANGUAGES.join(", ")),
            ));
        }
        Ok(Self(primary.to_string()))
    }

    pub fn english() -> Self {
        Self("en".into())
    }

    /// Reads a stored value, falling back to English for anything unknown.
    pub fn from_stored(s: &str) -> Self {
        Self::parse(s).unwrap_or_else(|_| Self::english())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for Language {
    fn default() -> Self {
        Self::english()
    }
}

/// A person named by email, as orders and admins name them (API.md `PersonInput`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub email: Email,
    pub first_name: String,
    pub last_name: String,
    pub language: Language,
}

impl Person {
    pub fn parse(
        email: &str,
        first_name: &str,
        last_name: &str,
        language: Option<&str>,
    ) -> Result<Self, DomainError> {
        Ok(Self {
            email: Email::parse(email)?,
            first_name: parse_text("firstName", first_name, MAX_NAME_LEN)?,
            last_name: parse_text("lastName", last_name, MAX_NAME_LEN)?,
            language: match language {
                Some(l) => Language::parse(l)?,
                None => Language::english(),
            },
        })
    }
}

/// A password a user sets: long enough, not absurdly long (argon2 work stays bounded).
pub fn check_password(raw: &str) -> Result<(), DomainError> {
    let n = raw.chars().count();
    if n < 10 {
        return Err(DomainError::new(
            UserErrorCode::WeakPassword,
            "the password must be at least 10 characters",
        )
        .at(["password"]));
    }
    if raw.len() > 256 {
        return Err(DomainError::new(
            UserErrorCode::WeakPassword,
            "the password must be at most 256 bytes",
        )
        .at(["password"]));
    }
    Ok(())
}

macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored and transmitted spelling.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl FromStr for $name {
            type Err = DomainError;
            fn from_str(s: &str) -> Result<Self, DomainError> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(DomainError::new(
                        UserErrorCode::InvalidInput,
                        format!("unknown {} {other:?}", stringify!($name)),
                    )),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        /// How a stored value becomes typed where it leaves the store (sqlx's
        /// `#[sqlx(try_from = "String")]`): an unknown value fails to decode, an internal error.
        impl TryFrom<String> for $name {
            type Error = DomainError;
            fn try_from(s: String) -> Result<Self, DomainError> {
                s.parse()
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <String as serde::Deserialize>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

string_enum!(
    /// Support level of a contract: Named Callers exist only on ADVANCED (R13).
    SupportLevel { Basic => "BASIC", Advanced => "ADVANCED" }
);
string_enum!(
    /// How a contract renews (R20, R22).
    RenewalKind { Auto => "AUTO", Reseller => "RESELLER", Manual => "MANUAL" }
);
string_enum!(
    /// Length of one term.
    BillingPeriod { Monthly => "MONTHLY", Quarterly => "QUARTERLY", Annual => "ANNUAL", MultiYear => "MULTI_YEAR" }
);
string_enum!(
    /// Lifecycle of a contract (R19, R22).
    ContractStatus { Processing => "PROCESSING", Active => "ACTIVE", Expired => "EXPIRED" }
);
string_enum!(
    /// The four roles of R1.
    Role { ContractManager => "CONTRACT_MANAGER", SoftwareCoordinator => "SOFTWARE_COORDINATOR", User => "USER", NamedCaller => "NAMED_CALLER" }
);
string_enum!(
    /// Membership status (R21).
    MemberStatus { Pending => "PENDING", Active => "ACTIVE" }
);
string_enum!(
    /// Where a support case stands (R17).
    CaseStatus { Open => "OPEN", InProgress => "IN_PROGRESS", Resolved => "RESOLVED", Closed => "CLOSED" }
);
string_enum!(
    /// What a support case is about (R15, R17).
    CaseKind { General => "GENERAL", ChangeContractManager => "CHANGE_CONTRACT_MANAGER" }
);
string_enum!(
    /// The topic a case is about (R34); CHANGE_CONTRACT_MANAGER only on R15's cases.
    CaseTopic { General => "GENERAL", Installation => "INSTALLATION", Licensing => "LICENSING", Account => "ACCOUNT", Technical => "TECHNICAL", ChangeContractManager => "CHANGE_CONTRACT_MANAGER" }
);
string_enum!(
    /// Terms a user accepts (R5).
    TermsKind { Subscriber => "SUBSCRIBER", Coordinator => "COORDINATOR" }
);

impl BillingPeriod {
    /// Months in one billing period; MULTI_YEAR is three years.
    pub fn months(self) -> u32 {
        match self {
            BillingPeriod::Monthly => 1,
            BillingPeriod::Quarterly => 3,
            BillingPeriod::Annual => 12,
            BillingPeriod::MultiYear => 36,
        }
    }
}

/// A contract term (start and end date, billing period), valid by construction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Term {
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub billing_period: BillingPeriod,
}

impl Term {
    pub fn new(
        start: NaiveDate,
        end: NaiveDate,
        billing_period: BillingPeriod,
    ) -> Result<Self, DomainError> {
        if end <= start {
            return Err(invalid("endDate", "endDate must be after startDate"));
        }
        Ok(Self {
            start,
            end,
            billing_period,
        })
    }
}

/// Parses a `YYYY-MM-DD` date.
pub fn parse_date(field: &str, raw: &str) -> Result<NaiveDate, DomainError> {
    NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d")
        .map_err(|_| invalid(field, format!("{field} must be a date written YYYY-MM-DD")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_lowercased_and_trimmed() {
        assert_eq!(
            Email::parse("  Ann.Lee@Example.COM ").unwrap().as_str(),
            "ann.lee@example.com"
        );
    }

    #[test]
    fn malformed_emails_are_refused_with_invalid_email() {
        for bad in [
            "",
            "no-at",
            "a@b",
            "a@@b.com",
            "a b@c.com",
            "a@b..com",
            "a\r\nBcc: x@y.com@c.com",
            ".a@b.com",
            "a@-b.com",
            "<a>@b.com",
        ] {
            let err = Email::parse(bad).expect_err(bad);
            assert_eq!(err.code, UserErrorCode::InvalidEmail, "{bad:?}");
        }
    }

    #[test]
    fn names_refuse_line_breaks_and_overlong_values() {
        assert!(parse_text("firstName", "Ann\r\nBcc: x", MAX_NAME_LEN).is_err());
        assert!(parse_text("firstName", &"x".repeat(101), MAX_NAME_LEN).is_err());
        assert!(parse_text("firstName", "   ", MAX_NAME_LEN).is_err());
        assert_eq!(
            parse_text("firstName", " Zoë ", MAX_NAME_LEN).unwrap(),
            "Zoë"
        );
    }

    #[test]
    fn languages_are_known_tags_only() {
        assert_eq!(Language::parse("de-AT").unwrap().as_str(), "de");
        assert_eq!(Language::parse("JA").unwrap().as_str(), "ja");
        assert!(Language::parse("xx").is_err());
        assert!(Language::parse("en;DROP").is_err());
        assert!(Language::parse("e").is_err());
        assert_eq!(Language::from_stored("zz").as_str(), "en");
    }

    #[test]
    fn terms_end_after_they_start() {
        let d = |s| parse_date("d", s).unwrap();
        assert!(Term::new(d("2026-01-01"), d("2026-01-01"), BillingPeriod::Annual).is_err());
        assert!(Term::new(d("2026-01-01"), d("2027-01-01"), BillingPeriod::Annual).is_ok());
        assert!(parse_date("startDate", "2026-13-01").is_err());
    }

    #[test]
    fn enums_round_trip_through_their_spelling() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), *r);
        }
        for p in BillingPeriod::ALL {
            assert_eq!(p.as_str().parse::<BillingPeriod>().unwrap(), *p);
        }
    }
}

/// A calendar day as the store keeps it (`YYYY-MM-DD`), typed where it leaves the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day(pub NaiveDate);

impl TryFrom<String> for Day {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, DomainError> {
        parse_date("date", &s).map(Day)
    }
}

impl std::ops::Deref for Day {
    type Target = NaiveDate;
    fn deref(&self) -> &NaiveDate {
        &self.0
    }
}

impl serde::Serialize for Day {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%d"))
    }
}
