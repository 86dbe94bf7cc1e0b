//! Roster's API: configuration, GraphQL over axum, and the `roster` command's pieces.

pub mod admin;
pub mod app;
pub mod cli;
pub mod config;
pub mod export;
pub mod graphql;
pub mod http;
pub mod metrics;
pub mod passwords;
pub mod state;
pub mod telemetry;
pub mod throttle;
pub mod ws;
