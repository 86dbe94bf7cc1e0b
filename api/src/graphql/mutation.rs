//! The root mutation. Each mutation takes one `input` and answers a payload with
//! `userErrors`; resolvers translate, ask the policy, and call the store.

use super::context::Ctx;
use super::errors;
use super::errors::Result;
use super::objects::{Contract, User};
use super::scalars::{
    BillingPeriodGql, Date, RenewalKindGql, SupportLevelGql, TermsKindGql, UserError,
};
use crate::passwords;
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use roster_domain::policy::Action;
use roster_domain::rules::{self, OrderRequest};
use roster_domain::{DomainError, Person, UserErrorCode, check_password};
use roster_store::{auth, contracts, users};
use std::sync::Arc;

/// A person named by email.
#[derive(InputObject, Clone, Debug)]
pub struct PersonInput {
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub language: Option<String>,
}

impl PersonInput {
    /// Validates the person; errors name fields under `at`.
    pub fn parse(&self, at: &[&str]) -> Result<Person, DomainError> {
        Person::parse(
            &self.email,
            &self.first_name,
            &self.last_name,
            self.language.as_deref(),
        )
        .map_err(|e| e.under(at.iter().copied()))
    }
}

/// One line of an order.
#[derive(InputObject, Clone, Debug)]
pub struct OrderLineInput {
    pub product_code: String,
    pub product_name: String,
    pub seats: i32,
}

/// An order from the vendor's order intake (staff). The same `orderNumber` twice returns the
/// same contract and sends nothing new.
#[derive(InputObject, Clone, Debug)]
pub struct ProcessOrderInput {
    pub order_number: String,
    pub company: String,
    pub purchaser: PersonInput,
    pub support_level: SupportLevelGql,
    pub renewal_kind: RenewalKindGql,
    pub billing_period: BillingPeriodGql,
    pub start_date: Date,
    pub end_date: Date,
    pub reseller_id: Option<ID>,
    pub products: Vec<OrderLineInput>,
    /// The vendor's account number of the customer (R30): orders with the same one belong to
    /// one company; without one, the order is a company of its own.
    pub customer_number: Option<String>,
}

#[derive(SimpleObject)]
pub struct ProcessOrderPayload {
    pub contract: Option<Contract>,
    pub user_errors: Vec<UserError>,
}

#[derive(InputObject)]
pub struct SignInInput {
    pub email: String,
    pub password: String,
}

#[derive(SimpleObject, Default)]
pub struct SignInPayload {
    /// Session token for `Authorization: Bearer`.
    pub token: Option<String>,
    pub user: Option<User>,
    pub user_errors: Vec<UserError>,
}

#[derive(InputObject)]
pub struct ActivateAccountInput {
    /// The token from the Get Started email's activation link.
    pub token: String,
    pub password: String,
}

#[derive(SimpleObject)]
pub struct SignOutPayload {
    pub signed_out: bool,
    pub user_errors: Vec<UserError>,
}

#[derive(InputObject)]
pub struct ChangePasswordInput {
    pub current_password: String,
    pub new_password: String,
}

#[derive(SimpleObject)]
pub struct ChangePasswordPayload {
    pub user: Option<User>,
    pub user_errors: Vec<UserError>,
}

#[derive(InputObject)]
pub struct AcceptTermsInput {
    pub kind: TermsKindGql,
}

#[derive(InputObject)]
pub struct UpdateProfileInput {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub language: Option<String>,
}

#[derive(SimpleObject)]
pub struct UserPayload {
    pub user: Option<User>,
    pub user_errors: Vec<UserError>,
}

fn refused(e: DomainError) -> Vec<UserError> {
    vec![e.into()]
}

#[derive(Default)]
pub struct CoreMutation;

#[Object]
impl CoreMutation {
    /// Processes an order (staff): creates the contract in PROCESSING with the purchaser as
    /// Contract Manager, sends Order Processed, and provisions it after the configured delay
    /// (R2, R3, R19).
    async fn process_order(
        &self,
        ctx: &Context<'_>,
        input: ProcessOrderInput,
    ) -> Result<ProcessOrderPayload> {
        let c = ctx.data_unchecked::<Ctx>();
        c.allow(&roster_domain::policy::Action::ProcessOrder)?;
        let payload = |errs: Vec<DomainError>| ProcessOrderPayload {
            contract: None,
            user_errors: errs
                .into_iter()
                .map(|e| e.under(["input"]).into())
                .collect(),
        };
        let purchaser = match input.purchaser.parse(&["purchaser"]) {
            Ok(p) => p,
            Err(e) => return Ok(payload(vec![e])),
        };
        let reseller_id = match &input.reseller_id {
            None => None,
            Some(id) => match super::objects::find_reseller(ctx, id).await? {
                Some(r) => Some(r.id),
                None => {
                    return Ok(payload(vec![
                        DomainError::not_found("reseller").at(["resellerId"]),
                    ]));
                }
            },
        };
        let order = rules::validate_order(OrderRequest {
            order_number: &input.order_number,
            company: &input.company,
            purchaser,
            support_level: input.support_level.into(),
            renewal_kind: input.renewal_kind.into(),
            billing_period: input.billing_period.into(),
            start_date: input.start_date.0,
            end_date: input.end_date.0,
            lines: input
                .products
                .iter()
                .map(|l| {
                    (
                        l.product_code.as_str(),
                        l.product_name.as_str(),
                        i64::from(l.seats),
                    )
                })
                .collect(),
            customer_number: input.customer_number.as_deref(),
        });
        let order = match order {
            Ok(o) => o,
            Err(errs) => return Ok(payload(errs)),
        };
        let delay = i64::try_from(c.provisioning_delay.as_millis()).unwrap_or(i64::MAX);
        match contracts::process_order(&c.store, &order, reseller_id, &c.actor(), delay).await {
            Ok(outcome) => {
                if outcome.created {
                    c.wake.notify_one();
                }
                Ok(ProcessOrderPayload {
                    contract: Contract::visible(ctx, outcome.contract).await?,
                    user_errors: vec![],
                })
            }
            Err(e) => Ok(ProcessOrderPayload {
                contract: None,
                user_errors: errors::user_errors(e)?,
            }),
        }
    }

    /// Signs in with email and password; the first sign-in activates pending memberships (R21).
    async fn sign_in(&self, ctx: &Context<'_>, input: SignInInput) -> Result<SignInPayload> {
        let c = ctx.data_unchecked::<Ctx>();
        let invalid = || SignInPayload {
            user_errors: refused(DomainError::new(
                UserErrorCode::InvalidCredentials,
                "the email or password is not correct",
            )),
            ..SignInPayload::default()
        };
        let throttled = || SignInPayload {
            user_errors: refused(DomainError::new(
                UserErrorCode::TooManyAttempts,
                "too many sign-in attempts; wait a few minutes and try again",
            )),
            ..SignInPayload::default()
        };
        if !c.throttle.attempt(c.client).await || !c.throttle.account_open(input.email.trim()).await
        {
            return Ok(throttled());
        }
        if input.password.len() > 256 {
            c.throttle.failed(input.email.trim()).await;
            return Ok(invalid());
        }
        let user = match roster_domain::Email::parse(&input.email) {
            Ok(email) => users::by_email(c.store.pool(), &email).await?,
            Err(_) => None,
        };
        // Unknown users cost a hash too, so timing does not tell which emails exist.
        let stored = user
            .as_ref()
            .and_then(|u| u.password_hash.clone())
            .unwrap_or_else(|| passwords::DUMMY_HASH.clone());
        let ok = passwords::verify(input.password, stored).await?;
        let Some(user) = user.filter(|u| ok && u.is_activated()) else {
            c.throttle.failed(input.email.trim()).await;
            return Ok(invalid());
        };
        let token = start_session(c, user.id).await?;
        Ok(SignInPayload {
            token: Some(token),
            user: Some(User(Arc::new(user))),
            user_errors: vec![],
        })
    }

    /// Sets the first password with the token of a Get Started link, and signs in.
    async fn activate_account(
        &self,
        ctx: &Context<'_>,
        input: ActivateAccountInput,
    ) -> Result<SignInPayload> {
        let c = ctx.data_unchecked::<Ctx>();
        if !c.throttle.attempt(c.client).await {
            return Ok(SignInPayload {
                user_errors: refused(DomainError::new(
                    UserErrorCode::TooManyAttempts,
                    "too many attempts; wait a minute and try again",
                )),
                ..SignInPayload::default()
            });
        }
        if let Err(e) = check_password(&input.password) {
            return Ok(SignInPayload {
                user_errors: refused(e.under(["input"])),
                ..SignInPayload::default()
            });
        }
        let hash = passwords::hash(input.password).await?;
        let mut tx = c.store.begin().await?;
        let Some(user_id) = auth::consume_activation_token(&mut tx, input.token.trim()).await?
        else {
            return Ok(SignInPayload {
                user_errors: refused(
                    DomainError::new(
                        UserErrorCode::InvalidToken,
                        "this activation link is not valid any more; ask for a new one",
                    )
                    .at(["input", "token"]),
                ),
                ..SignInPayload::default()
            });
        };
        users::set_password(&mut tx, user_id, &hash).await?;
        users::record_sign_in(&mut tx, user_id).await?;
        let token = auth::create_session(&mut tx, user_id).await?;
        tx.commit().await?;
        c.sessions.forget_user(user_id).await;
        let user = users::by_id(c.store.pool(), user_id).await?;
        Ok(SignInPayload {
            token: Some(token),
            user: user.map(|u| User(Arc::new(u))),
            user_errors: vec![],
        })
    }

    /// Ends the session of this request's token at once.
    async fn sign_out(&self, ctx: &Context<'_>) -> Result<SignOutPayload> {
        let c = ctx.data_unchecked::<Ctx>();
        c.require_user()?;
        let token = c.token.as_deref().unwrap_or_default();
        let signed_out = auth::revoke_session(c.store.pool(), token).await?;
        // Ended in every process before the answer leaves (see `crate::sessions`).
        if let Some(user) = &c.user {
            c.sessions.forget_user(user.id).await;
        }
        Ok(SignOutPayload {
            signed_out,
            user_errors: vec![],
        })
    }

    /// Changes the signed-in user's password (R29); other sessions are signed out.
    async fn change_password(
        &self,
        ctx: &Context<'_>,
        input: ChangePasswordInput,
    ) -> Result<ChangePasswordPayload> {
        let c = ctx.data_unchecked::<Ctx>();
        let user = c.require_user()?.clone();
        let refuse = |e: DomainError| ChangePasswordPayload {
            user: None,
            user_errors: refused(e.under(["input"])),
        };
        if let Err(e) = check_password(&input.new_password) {
            return Ok(refuse(e.at(["newPassword"])));
        }
        let stored = user.password_hash.clone().unwrap_or_default();
        let ok = input.current_password.len() <= 256
            && passwords::verify(input.current_password, stored).await?;
        if !ok {
            return Ok(refuse(
                DomainError::new(
                    UserErrorCode::InvalidCredentials,
                    "the current password is not correct",
                )
                .at(["currentPassword"]),
            ));
        }
        let hash = passwords::hash(input.new_password).await?;
        let mut tx = c.store.begin().await?;
        users::set_password(&mut tx, user.id, &hash).await?;
        auth::revoke_other_sessions(&mut tx, user.id, c.token.as_deref().unwrap_or_default())
            .await?;
        tx.commit().await?;
        c.sessions.forget_user(user.id).await;
        Ok(ChangePasswordPayload {
            user: Some(User(user)),
            user_errors: vec![],
        })
    }

    /// Accepts the subscriber or coordinator terms (R5).
    async fn accept_terms(
        &self,
        ctx: &Context<'_>,
        input: AcceptTermsInput,
    ) -> Result<UserPayload> {
        let c = ctx.data_unchecked::<Ctx>();
        let user = c.require_user()?;
        users::accept_terms(c.store.pool(), user.id, input.kind.into()).await?;
        c.sessions.forget_user(user.id).await;
        let user = users::by_id(c.store.pool(), user.id).await?;
        Ok(UserPayload {
            user: user.map(|u| User(Arc::new(u))),
            user_errors: vec![],
        })
    }

    /// Updates the signed-in user's name and language (R29); the language drives emails (R24).
    async fn update_profile(
        &self,
        ctx: &Context<'_>,
        input: UpdateProfileInput,
    ) -> Result<UserPayload> {
        let c = ctx.data_unchecked::<Ctx>();
        let user = c.require_user()?;
        let refuse = |e: DomainError| UserPayload {
            user: None,
            user_errors: refused(e.under(["input"])),
        };
        let first = input.first_name.unwrap_or_else(|| user.first_name.clone());
        let last = input.last_name.unwrap_or_else(|| user.last_name.clone());
        let lang = input.language.unwrap_or_else(|| user.language.clone());
        let person = match Person::parse(&user.email, &first, &last, Some(&lang)) {
            Ok(p) => p,
            Err(e) => return Ok(refuse(e)),
        };
        users::update_profile(c.store.pool(), user.id, &person).await?;
        c.sessions.forget_user(user.id).await;
        let user = users::by_id(c.store.pool(), user.id).await?;
        Ok(UserPayload {
            user: user.map(|u| User(Arc::new(u))),
            user_errors: vec![],
        })
    }
}

async fn start_session(c: &Ctx, user_id: i64) -> Result<String> {
    let mut tx = c.store.begin().await?;
    users::record_sign_in(&mut tx, user_id).await?;
    let token = auth::create_session(&mut tx, user_id).await?;
    tx.commit().await?;
    // The first sign-in changes the user's row that other sessions may have cached.
    c.sessions.forget_user(user_id).await;
    Ok(token)
}

/// A contract a mutation may change, or why not.
pub enum Gate {
    Open(roster_store::change::Authorized),
    Refused(Vec<UserError>),
}

/// Steps 1-3 of the change pipeline for the mutations that are not people changes: the
/// contract locked and loaded, the policy asked about `action` on it. What it opens is the
/// proof the store's functions require; not visible is NOT_FOUND (as a userError), not allowed
/// a top-level FORBIDDEN, an SC without the coordinator terms TERMS_NOT_ACCEPTED (R5).
pub async fn gate(
    ctx: &Context<'_>,
    contract_id: &ID,
    action: impl FnOnce(&roster_domain::change::Snapshot) -> Action,
) -> Result<Gate> {
    let c = ctx.data_unchecked::<Ctx>();
    match c.authorize(contract_id, action).await {
        Ok(auth) => Ok(Gate::Open(auth)),
        Err(e) => Ok(Gate::Refused(errors::change_refusals(e)?)),
    }
}
