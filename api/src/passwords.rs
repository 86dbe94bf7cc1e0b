//! Password hashing with argon2id at OWASP's parameters (19 MiB, 2 passes, 1 lane).
//!
//! Hashing is deliberately slow and memory-hungry, so it runs on the blocking pool and at most
//! [`MAX_CONCURRENT`] at once: a flood of sign-ins queues here instead of starving the runtime
//! or exhausting memory.

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::LazyLock;
use tokio::sync::Semaphore;

/// Hashes computed at the same time, process-wide.
pub const MAX_CONCURRENT: usize = 4;

static PERMITS: LazyLock<Semaphore> = LazyLock::new(|| Semaphore::new(MAX_CONCURRENT));

fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("OWASP argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password to a PHC string.
pub async fn hash(password: String) -> anyhow::Result<String> {
    let _permit = PERMITS.acquire().await?;
    tokio::task::spawn_blocking(move || {
        argon2()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("hashing failed: {e}"))
    })
    .await?
}

/// Checks a password against a stored PHC string.
pub async fn verify(password: String, stored: String) -> anyhow::Result<bool> {
    let _permit = PERMITS.acquire().await?;
    tokio::task::spawn_blocking(move || {
        let parsed = PasswordHash::new(&stored).map_err(|e| anyhow::anyhow!("stored hash: {e}"))?;
        Ok(argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok())
    })
    .await?
}

/// A hash to verify against when the user does not exist, so a sign-in for an unknown email
/// takes as long as one for a known email.
pub static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    argon2()
        .hash_password(b"roster-dummy-password")
        .expect("hashing a constant works")
        .to_string()
});

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn hashes_verify_and_use_argon2id() {
        let h = super::hash("correct horse battery".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(
            super::verify("correct horse battery".into(), h.clone())
                .await
                .unwrap()
        );
        assert!(!super::verify("wrong".into(), h).await.unwrap());
    }
}
