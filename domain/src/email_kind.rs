//! The kinds of email Roster sends (API.md, "Emails").

use std::fmt;
use std::str::FromStr;

/// One kind of lifecycle email; its `as_str` is the `X-Roster-Kind` header value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EmailKind {
    OrderProcessed,
    GetStarted,
    PermissionsChanged,
    RenewalNotice,
    RenewalConfirmation,
    SupportCaseReceived,
    NewRelease,
    ContractManagerChanged,
    ContractExpired,
    /// R32: confirm a new address (to it), or the address changed (to the old one).
    EmailChange,
    SupportCaseUpdated,
    ContractManagerChangeRequested,
    ResellerAccessGranted,
}

impl EmailKind {
    pub const ALL: &'static [EmailKind] = &[
        Self::OrderProcessed,
        Self::GetStarted,
        Self::PermissionsChanged,
        Self::RenewalNotice,
        Self::RenewalConfirmation,
        Self::SupportCaseReceived,
        Self::NewRelease,
        Self::ContractManagerChanged,
        Self::ContractExpired,
        Self::EmailChange,
        Self::SupportCaseUpdated,
        Self::ContractManagerChangeRequested,
        Self::ResellerAccessGranted,
    ];

    /// The `X-Roster-Kind` header value and the template folder name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OrderProcessed => "order-processed",
            Self::GetStarted => "get-started",
            Self::PermissionsChanged => "permissions-changed",
            Self::RenewalNotice => "renewal-notice",
            Self::RenewalConfirmation => "renewal-confirmation",
            Self::SupportCaseReceived => "support-case-received",
            Self::NewRelease => "new-release",
            Self::ContractManagerChanged => "contract-manager-changed",
            Self::ContractExpired => "contract-expired",
            Self::EmailChange => "email-change",
            Self::SupportCaseUpdated => "support-case-updated",
            Self::ContractManagerChangeRequested => "contract-manager-change-requested",
            Self::ResellerAccessGranted => "reseller-access-granted",
        }
    }
}

impl FromStr for EmailKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .iter()
            .copied()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown email kind {s:?}"))
    }
}

impl fmt::Display for EmailKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_their_header_value() {
        for k in EmailKind::ALL {
            assert_eq!(k.as_str().parse::<EmailKind>().unwrap(), *k);
        }
        assert!("nonsense".parse::<EmailKind>().is_err());
    }
}
