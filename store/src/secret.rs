//! Secrets handed to clients (session tokens, activation tokens, staff keys).
//!
//! A secret is 32 random bytes, base64url, with a short prefix saying what it is. Only its
//! SHA-256 is stored, so a leaked database holds nothing a client could present.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};

/// Prefix of session tokens from `signIn` / `activateAccount`.
pub const SESSION_PREFIX: &str = "rs_";
/// Prefix of staff API keys from `roster staff-key create`.
pub const STAFF_PREFIX: &str = "rk_";
/// Prefix of activation tokens in Get Started links.
pub const ACTIVATION_PREFIX: &str = "ra_";

/// A new random secret with `prefix`.
pub fn generate(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// The stored form of a secret.
pub fn hash(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Random digits, for human-friendly numbers (contract numbers, serial numbers).
pub fn digits(n: usize) -> String {
    let mut rng = rand::rng();
    (0..n)
        .map(|_| char::from(b'0' + (rng.next_u32() % 10) as u8))
        .collect()
}

/// Random upper-case letters and digits without look-alikes, for product keys and case IDs.
pub fn code(n: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..n)
        .map(|_| char::from(ALPHABET[(rng.next_u32() as usize) % ALPHABET.len()]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_unique_prefixed_and_hashed() {
        let a = generate(SESSION_PREFIX);
        let b = generate(SESSION_PREFIX);
        assert_ne!(a, b);
        assert!(a.starts_with("rs_"));
        assert_eq!(a.len(), 3 + 43);
        assert_eq!(hash(&a).len(), 64);
        assert_ne!(hash(&a), hash(&b));
        assert_eq!(hash(&a), hash(&a));
    }
}
