//! Storage errors.
//!
//! Policy: a refused business rule is a [`StoreError::Domain`] and reaches the client as a
//! userError; anything else the database says is [`StoreError::Database`], logged where it is
//! handled and shown to the client only as "internal error". A violated constraint that guards
//! a rule of DOMAIN.md is translated into the same [`DomainError`] the domain check would give
//! (see [`ConstraintExt::on_constraint`]), so the database is the last line of the rules.

use roster_domain::DomainError;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    Domain(DomainError),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("stored data is not valid: {0}")]
    Corrupt(String),
}

impl From<DomainError> for StoreError {
    fn from(e: DomainError) -> Self {
        StoreError::Domain(e)
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The name of the constraint or index a database error violated, on either backend.
/// PostgreSQL reports it; SQLite names it in the message ("UNIQUE constraint failed: index
/// 'users_email_key'", "CHECK constraint failed: contract_products_seat_limit").
pub fn violated_constraint(err: &sqlx::Error) -> Option<String> {
    let db = err.as_database_error()?;
    if let Some(name) = db.constraint() {
        return Some(name.to_string());
    }
    let msg = db.message();
    let rest = msg
        .strip_prefix("UNIQUE constraint failed: ")
        .or_else(|| msg.strip_prefix("CHECK constraint failed: "))?;
    let rest = rest.strip_prefix("index ").unwrap_or(rest);
    Some(rest.trim_matches('\'').to_string())
}

/// Turns the violation of a named constraint into the domain error it stands for.
pub trait ConstraintExt<T> {
    fn on_constraint(self, name: &str, to: impl FnOnce() -> DomainError) -> StoreResult<T>;
}

impl<T, E: Into<StoreError>> ConstraintExt<T> for Result<T, E> {
    fn on_constraint(self, name: &str, to: impl FnOnce() -> DomainError) -> StoreResult<T> {
        self.map_err(|e| match e.into() {
            StoreError::Database(db) if violated_constraint(&db).as_deref() == Some(name) => {
                StoreError::Domain(to())
            }
            other => other,
        })
    }
}
