//! Roster's API: configuration, GraphQL over axum, and the `roster` command's pieces.

pub mod admin;
pub mod app;
pub mod cli;
pub mod config;
pub mod confirm_email;
pub mod export;
pub mod graphiql;
pub mod graphql;
pub mod http;
pub mod metrics;
pub mod over_http;
pub mod pages;
pub mod passwords;
pub mod sessions;
pub mod state;
pub mod telemetry;
pub mod throttle;
pub mod usage_export;
pub mod ws;
