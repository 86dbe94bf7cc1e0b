//! Corrections to people (R32): an admin fixing a member named with a wrong address, name or
//! language, through the change pipeline (policy, locked snapshot, domain rule, writes).

use super::context::Ctx;
use super::errors;
use super::errors::Result;
use super::ids::{self, Kind};
use super::objects::{Member, contract_by_id};
use super::scalars::UserError;
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use roster_domain::DomainError;
use roster_domain::change::Named;
use roster_domain::correction::Correction;
use roster_domain::policy::Action;
use roster_store::change::{self, ChangeError};
use roster_store::corrections;

/// A correction of a member who never signed in (admins, R32); fields left out are kept.
#[derive(InputObject)]
pub struct CorrectMemberInput {
    pub contract_id: ID,
    pub user_id: ID,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub language: Option<String>,
}

#[derive(SimpleObject)]
pub struct CorrectMemberPayload {
    pub member: Option<Member>,
    pub user_errors: Vec<UserError>,
}

/// A signed-in user's change of their own address (R32); the password is asked first.
#[derive(InputObject)]
pub struct RequestEmailChangeInput {
    pub new_email: String,
    pub password: String,
}

#[derive(SimpleObject)]
pub struct RequestEmailChangePayload {
    /// True when the link went out to the new address (the old one is in force until then).
    pub requested: bool,
    pub user_errors: Vec<UserError>,
}

/// The token of the link sent to the new address.
#[derive(InputObject)]
pub struct ConfirmEmailChangeInput {
    pub token: String,
}

#[derive(SimpleObject)]
pub struct ConfirmEmailChangePayload {
    /// The User ID's address from now on.
    pub email: Option<String>,
    pub user_errors: Vec<UserError>,
}

#[derive(Default)]
pub struct PeopleMutation;

#[Object]
impl PeopleMutation {
    /// Corrects the email, name or language of a member who never signed in and whose User ID
    /// this contract created (admins, R32). A corrected address gets a fresh Get Started email
    /// and the old link stops working; anyone else is MEMBER_ALREADY_ACTIVE.
    async fn correct_member(
        &self,
        ctx: &Context<'_>,
        input: CorrectMemberInput,
    ) -> Result<CorrectMemberPayload> {
        let c = ctx.data_unchecked::<Ctx>();
        let refused = |user_errors| CorrectMemberPayload {
            member: None,
            user_errors,
        };
        let contract = ids::decode(Kind::Contract, &input.contract_id);
        let user = ids::decode(Kind::User, &input.user_id).unwrap_or(0);
        let outcome = match contract {
            None if c.principal == roster_domain::policy::Principal::Anonymous => {
                Err(ChangeError::Unauthenticated)
            }
            None => Err(ChangeError::NotFound),
            Some(id) => {
                let named = Named {
                    emails: vec![],
                    users: vec![user],
                };
                match change::authorize(&c.store, &c.requester(), id, named, |_| {
                    Action::CorrectMember
                })
                .await
                {
                    Ok(auth) => {
                        let correction = Correction {
                            user,
                            email: input.email.clone(),
                            first_name: input.first_name.clone(),
                            last_name: input.last_name.clone(),
                            language: input.language.clone(),
                        };
                        corrections::correct_member(auth, &correction)
                            .await
                            .map(|()| id)
                    }
                    Err(e) => Err(e),
                }
            }
        };
        let contract_id = match outcome {
            Ok(id) => id,
            Err(e) => return Ok(refused(errors::change_refusals(e)?)),
        };
        c.members_changed(contract_id);
        let Some(contract) = contract_by_id(ctx, contract_id).await? else {
            return Ok(refused(vec![DomainError::not_found("contract").into()]));
        };
        let mut conn = c.store.pool().acquire().await?;
        let stored = roster_store::members::get(&mut conn, contract_id, user).await?;
        drop(conn);
        Ok(CorrectMemberPayload {
            member: Member::wrap(ctx, &contract, stored.into_iter().collect())
                .await?
                .pop(),
            user_errors: vec![],
        })
    }

    /// Asks to change the signed-in user's own address (R32): the password first, then a
    /// link to the new address; the old address stays in force until it is followed. An
    /// address another User ID holds is refused without saying whose.
    async fn request_email_change(
        &self,
        ctx: &Context<'_>,
        input: RequestEmailChangeInput,
    ) -> Result<RequestEmailChangePayload> {
        let c = ctx.data_unchecked::<Ctx>();
        let user = c.require_user()?.clone();
        let refused = |e: DomainError| RequestEmailChangePayload {
            requested: false,
            user_errors: vec![e.into()],
        };
        let stored = user.password_hash.clone().unwrap_or_default();
        let ok =
            input.password.len() <= 256 && crate::passwords::verify(input.password, stored).await?;
        if !ok {
            return Ok(refused(
                DomainError::new(
                    roster_domain::UserErrorCode::InvalidCredentials,
                    "the password is not correct",
                )
                .at(["input", "password"]),
            ));
        }
        let mut tx = c.store.begin().await?;
        let taken =
            roster_store::email_changes::taken(&mut tx, input.new_email.trim(), user.id).await?;
        let email = match roster_domain::correction::plan_email_change(
            &user.email,
            &input.new_email,
            taken,
        ) {
            Ok(e) => e,
            Err(e) => return Ok(refused(e)),
        };
        roster_store::email_changes::request(&mut tx, &user, &email).await?;
        tx.commit().await?;
        c.wake.notify_one();
        Ok(RequestEmailChangePayload {
            requested: true,
            user_errors: vec![],
        })
    }

    /// Confirms an email change with the token of the link sent to the new address (R32); no
    /// sign-in needed, the token is the proof. The old address is told.
    async fn confirm_email_change(
        &self,
        ctx: &Context<'_>,
        input: ConfirmEmailChangeInput,
    ) -> Result<ConfirmEmailChangePayload> {
        let c = ctx.data_unchecked::<Ctx>();
        let refused = |e: DomainError| ConfirmEmailChangePayload {
            email: None,
            user_errors: vec![e.into()],
        };
        Ok(match confirm(&c.store, &c.wake, &input.token).await? {
            Confirmed::Changed(email) => ConfirmEmailChangePayload {
                email: Some(email),
                user_errors: vec![],
            },
            Confirmed::Invalid => refused(
                DomainError::new(
                    roster_domain::UserErrorCode::InvalidToken,
                    "this link is not valid any more; ask for the change again",
                )
                .at(["input", "token"]),
            ),
            Confirmed::Refused(e) => refused(e),
        })
    }
}

/// What confirming a token did.
pub enum Confirmed {
    /// The User ID's address is now this one.
    Changed(String),
    /// Unknown, used, replaced or expired.
    Invalid,
    /// A refused rule (the address was taken meanwhile).
    Refused(roster_domain::DomainError),
}

/// Confirms an email change by its token, in one transaction, and wakes the relay for the
/// notice to the old address. Shared by the page and the mutation.
pub async fn confirm(
    store: &roster_store::Store,
    wake: &tokio::sync::Notify,
    token: &str,
) -> Result<Confirmed, roster_store::StoreError> {
    let token = token.trim();
    if token.is_empty() || token.len() > 128 {
        return Ok(Confirmed::Invalid);
    }
    let mut tx = store.begin().await?;
    match roster_store::email_changes::confirm(&mut tx, token).await {
        Ok(Some((_, email))) => {
            tx.commit().await?;
            wake.notify_one();
            Ok(Confirmed::Changed(email))
        }
        Ok(None) => Ok(Confirmed::Invalid),
        Err(roster_store::StoreError::Domain(e)) => Ok(Confirmed::Refused(e)),
        Err(e) => Err(e),
    }
}
