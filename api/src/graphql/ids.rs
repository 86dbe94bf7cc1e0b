//! Relay global IDs: base64url of `Type:number`, opaque to clients.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The object types that have global IDs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Contract,
    ContractProduct,
    User,
    Company,
    Reseller,
    SupportCase,
    AuditEntry,
    Email,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Contract => "Contract",
            Kind::ContractProduct => "ContractProduct",
            Kind::User => "User",
            Kind::Company => "Company",
            Kind::Reseller => "Reseller",
            Kind::SupportCase => "SupportCase",
            Kind::AuditEntry => "AuditEntry",
            Kind::Email => "Email",
        }
    }

    const ALL: [Kind; 8] = [
        Kind::Contract,
        Kind::ContractProduct,
        Kind::User,
        Kind::Company,
        Kind::Reseller,
        Kind::SupportCase,
        Kind::AuditEntry,
        Kind::Email,
    ];
}

pub fn encode(kind: Kind, id: i64) -> async_graphql::ID {
    async_graphql::ID(URL_SAFE_NO_PAD.encode(format!("{}:{id}", kind.as_str())))
}

/// Decodes any global ID.
pub fn decode_any(id: &str) -> Option<(Kind, i64)> {
    let raw = URL_SAFE_NO_PAD.decode(id.as_bytes()).ok()?;
    let raw = std::str::from_utf8(&raw).ok()?;
    let (kind, num) = raw.split_once(':')?;
    let kind = Kind::ALL.into_iter().find(|k| k.as_str() == kind)?;
    let num: i64 = num.parse().ok()?;
    // One form only: `Contract:01` and `Contract:+1` do not name Contract 1.
    (num > 0 && encode(kind, num).0 == id).then_some((kind, num))
}

/// Decodes a global ID that must be of `kind`.
pub fn decode(kind: Kind, id: &str) -> Option<i64> {
    match decode_any(id) {
        Some((k, n)) if k == kind => Some(n),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_refuse_other_kinds() {
        let id = encode(Kind::Contract, 42);
        assert_eq!(decode(Kind::Contract, &id), Some(42));
        assert_eq!(decode(Kind::User, &id), None);
        assert_eq!(decode_any("not base64!"), None);
        assert_eq!(decode_any(&URL_SAFE_NO_PAD.encode("Contract:-1")), None);
        for other in ["Contract:01", "Contract:+1", "Contract: 1", "Contract:1 "] {
            assert_eq!(decode_any(&URL_SAFE_NO_PAD.encode(other)), None, "{other}");
        }
        // Padded base64 of the same text is another form, too.
        let padded = base64::engine::general_purpose::URL_SAFE.encode("Contract:1");
        assert_ne!(padded, encode(Kind::Contract, 1).0);
        assert_eq!(decode_any(&padded), None);
    }
}
