//! `GET /confirm-email?token=...` (API.md, R32): the page the link of an email-change
//! confirmation opens. Following the link confirms the change (the user asked for it with their
//! password), exactly as the `confirmEmailChange` mutation does, and says what happened.

use crate::graphql::people::{Confirmed, confirm};
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use std::sync::Arc;

#[derive(serde::Deserialize)]
pub struct ConfirmQuery {
    token: Option<String>,
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body style=\"font-family:sans-serif\"><h1>{title}</h1><p>{body}</p></body></html>\n"
    );
    (status, Html(html)).into_response()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

pub async fn confirm_email(
    State(state): State<Arc<AppState>>,
    Query(q): Query<ConfirmQuery>,
) -> Response {
    let invalid = || {
        page(
            StatusCode::BAD_REQUEST,
            "This link is not valid any more",
            "Ask for the change again from your profile; your current address stays in force.",
        )
    };
    let Some(token) = q.token else {
        return invalid();
    };
    match confirm(&state.shared.store, &state.shared.wake, &token).await {
        Ok(Confirmed::Changed(email)) => page(
            StatusCode::OK,
            "Your email address was changed",
            &format!(
                "Your User ID is now <strong>{}</strong>. <a href=\"/sign-in\">Sign in</a> with it.",
                escape(&email)
            ),
        ),
        Ok(Confirmed::Invalid) => invalid(),
        Ok(Confirmed::Refused(e)) => page(StatusCode::CONFLICT, "Not changed", &escape(&e.message)),
        Err(e) => {
            tracing::error!(error = %e, "confirming an email change failed");
            page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "Try the link again in a minute.",
            )
        }
    }
}
