//! Mutations of R34 and R36: comments on support cases, cloud credits and usage. Each walks the
//! pipeline: the policy on the case's or contract's action, the contract locked and loaded
//! (`store::change::authorize`), the rule in `roster_domain::support`, the writes, then the
//! effects (relay woken, subscribers told).

use super::context::Ctx;
use super::errors;
use super::errors::Result;
use super::events::Event;
use super::ids::{self, Kind};
use super::mutation::{Gate, gate};
use super::objects::SupportCase;
use super::scalars::UserError;
use super::support_objects::CloudCredits;
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use roster_domain::policy::{Action, Principal};
use roster_domain::support::{CaseAuthor, MAX_COMMENT_LEN};
use roster_domain::{DomainError, parse_code, parse_multiline};
use roster_store::cases::{self, CaseRow};
use roster_store::change::{self, Authorized, ChangeError};
use roster_store::cloud;
use std::sync::Arc;

/// A case a mutation may change, or why not.
pub enum CaseGate {
    Open(Box<(Authorized, CaseRow)>),
    Refused(Vec<UserError>),
}

/// The pipeline's first steps for a case: the case's contract locked and loaded, the policy
/// asked about `action` (which may depend on the case, e.g. whether the requester opened it).
/// A case the requester may not know of is NOT_FOUND, like one that does not exist.
pub async fn case_gate(
    ctx: &Context<'_>,
    id: &ID,
    action: impl FnOnce(&CaseRow) -> Action,
) -> Result<CaseGate> {
    let c = ctx.data_unchecked::<Ctx>();
    if c.principal == Principal::Anonymous {
        return Err(errors::unauthenticated().into());
    }
    let not_found = || {
        CaseGate::Refused(vec![
            DomainError::not_found("support case")
                .at(["input", "supportCaseId"])
                .into(),
        ])
    };
    let Some(pk) = ids::decode(Kind::SupportCase, id) else {
        return Ok(not_found());
    };
    let Some(row) = cases::by_pk(c.store.pool(), pk).await? else {
        return Ok(not_found());
    };
    let action = action(&row);
    match change::authorize(
        &c.store,
        &c.requester(),
        row.contract_id,
        Default::default(),
        |_| action,
    )
    .await
    {
        Ok(auth) => Ok(CaseGate::Open(Box::new((auth, row)))),
        Err(ChangeError::NotFound) => Ok(not_found()),
        Err(e) => Ok(CaseGate::Refused(errors::change_refusals(e)?)),
    }
}

#[derive(InputObject)]
pub struct AddSupportCaseCommentInput {
    pub support_case_id: ID,
    pub body: String,
}

#[derive(SimpleObject)]
pub struct AddSupportCaseCommentPayload {
    pub support_case: Option<SupportCase>,
    pub user_errors: Vec<UserError>,
}

#[derive(InputObject)]
pub struct AddCloudCreditsInput {
    pub contract_id: ID,
    pub order_number: String,
    pub credits: i64,
}

#[derive(InputObject)]
pub struct RecordCloudUsageInput {
    pub contract_id: ID,
    pub user_id: ID,
    pub service: String,
    pub credits: i64,
    /// When the credits were spent, as the vendor's cloud reports it; now when absent.
    pub at: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(SimpleObject)]
pub struct CloudCreditsPayload {
    /// The contract's credits after the change.
    pub cloud_credits: Option<CloudCredits>,
    pub user_errors: Vec<UserError>,
}

fn credits_refused(user_errors: Vec<UserError>) -> CloudCreditsPayload {
    CloudCreditsPayload {
        cloud_credits: None,
        user_errors,
    }
}

#[derive(Default)]
pub struct SupportMutation;

#[Object]
impl SupportMutation {
    /// Comments on a case (R34): its submitter, anyone on the contract who may see its cases,
    /// or staff; never a reseller's user (they only read, R18). A staff comment emails the
    /// submitter (support-case-updated); subscribers of `supportCaseUpdated` are told.
    async fn add_support_case_comment(
        &self,
        ctx: &Context<'_>,
        input: AddSupportCaseCommentInput,
    ) -> Result<AddSupportCaseCommentPayload> {
        let c = ctx.data_unchecked::<Ctx>();
        let refused = |user_errors| AddSupportCaseCommentPayload {
            support_case: None,
            user_errors,
        };
        let me = c.user.as_ref().map(|u| u.id);
        let (auth, row) =
            match case_gate(ctx, &input.support_case_id, |case| Action::CommentOnCase {
                own_case: me == Some(case.submitter_user_id),
            })
            .await?
            {
                CaseGate::Open(open) => *open,
                CaseGate::Refused(e) => return Ok(refused(e)),
            };
        let body = match parse_multiline("body", &input.body, MAX_COMMENT_LEN) {
            Ok(b) => b,
            Err(e) => return Ok(refused(vec![e.under(["input"]).into()])),
        };
        let by = match me {
            Some(id) => CaseAuthor::User(id),
            None => CaseAuthor::Staff,
        };
        match cases::update(auth, row.id, by, None, Some(&body)).await {
            Ok(row) => {
                c.committed(Event::CaseUpdated {
                    contract_id: row.contract_id,
                    case_pk: row.id,
                });
                Ok(AddSupportCaseCommentPayload {
                    support_case: Some(SupportCase { row: Arc::new(row) }),
                    user_errors: vec![],
                })
            }
            Err(e) => Ok(refused(errors::user_errors(e)?)),
        }
    }

    /// Staff add purchased cloud credits to a contract (R36). The same order number again
    /// adds nothing (idempotent); used for other credits it is ORDER_CONFLICT.
    async fn add_cloud_credits(
        &self,
        ctx: &Context<'_>,
        input: AddCloudCreditsInput,
    ) -> Result<CloudCreditsPayload> {
        let c = ctx.data_unchecked::<Ctx>();
        c.allow(&Action::ManageCloudCredits)?;
        let order = match parse_code("orderNumber", &input.order_number) {
            Ok(o) => o,
            Err(e) => return Ok(credits_refused(vec![e.under(["input"]).into()])),
        };
        let auth = match gate(ctx, &input.contract_id, |_| Action::ManageCloudCredits).await? {
            Gate::Open(auth) => auth,
            Gate::Refused(e) => return Ok(credits_refused(e)),
        };
        let contract_id = auth.contract_id();
        match cloud::add_credits(auth, &order, input.credits).await {
            Ok(credits) => {
                c.committed(Event::ContractChanged {
                    contract_id,
                    kind: "cloud_credits".into(),
                });
                Ok(CloudCreditsPayload {
                    cloud_credits: Some(credits.into()),
                    user_errors: vec![],
                })
            }
            Err(e) => Ok(credits_refused(errors::user_errors(e)?)),
        }
    }

    /// Staff record cloud usage as the vendor's cloud reports it (R36): only for a member who
    /// holds that cloud service, never below zero (CLOUD_CREDITS_EXHAUSTED). Concurrent
    /// records queue on the contract's lock.
    async fn record_cloud_usage(
        &self,
        ctx: &Context<'_>,
        input: RecordCloudUsageInput,
    ) -> Result<CloudCreditsPayload> {
        let c = ctx.data_unchecked::<Ctx>();
        c.allow(&Action::ManageCloudCredits)?;
        let user = ids::decode(Kind::User, &input.user_id);
        let Some(contract_id) = ids::decode(Kind::Contract, &input.contract_id) else {
            return Ok(credits_refused(vec![
                DomainError::not_found("contract")
                    .at(["input", "contractId"])
                    .into(),
            ]));
        };
        let named = roster_domain::change::Named {
            users: user.into_iter().collect(),
            ..Default::default()
        };
        let auth = match change::authorize(&c.store, &c.requester(), contract_id, named, |_| {
            Action::ManageCloudCredits
        })
        .await
        {
            Ok(auth) => auth,
            Err(e) => return Ok(credits_refused(errors::change_refusals(e)?)),
        };
        let usage = cloud::Usage {
            user_id: user.unwrap_or(0),
            service: &input.service,
            credits: input.credits,
            at: input.at.map_or_else(
                || chrono::Utc::now().timestamp_millis(),
                |t| t.timestamp_millis(),
            ),
        };
        match cloud::record_usage(auth, usage).await {
            Ok(credits) => {
                c.committed(Event::ContractChanged {
                    contract_id,
                    kind: "cloud_usage".into(),
                });
                Ok(CloudCreditsPayload {
                    cloud_credits: Some(credits.into()),
                    user_errors: vec![],
                })
            }
            Err(e) => Ok(credits_refused(errors::user_errors(e)?)),
        }
    }
}
