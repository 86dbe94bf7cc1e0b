//! Roster's API: configuration, GraphQL over axum, and the `roster` command's pieces.

pub mod app;
pub mod cli;
pub mod config;
pub mod export;
pub mod graphql;
pub mod http;
pub mod passwords;
pub mod throttle;
