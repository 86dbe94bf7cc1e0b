//! The GraphQL schema (API.md, "GraphQL conventions").

pub mod cases;
pub mod context;
pub mod errors;
pub mod events;
pub mod ids;
pub mod mutation;
pub mod objects;
pub mod orders;
pub mod people;
pub mod query;
pub mod roles;
pub mod scalars;
pub mod subscription;
pub mod support;
pub mod support_objects;

use async_graphql::{MergedObject, Schema};

/// Every mutation, merged.
#[derive(MergedObject, Default)]
pub struct Mutation(
    mutation::CoreMutation,
    roles::RolesMutation,
    cases::CasesMutation,
    orders::OrdersMutation,
    people::PeopleMutation,
    support::SupportMutation,
);

pub type RosterSchema = Schema<query::Query, Mutation, subscription::Subscription>;

/// Deepest query accepted.
pub const MAX_DEPTH: usize = 12;
/// Largest query complexity accepted (each field counts 1, connections count per item asked).
pub const MAX_COMPLEXITY: usize = 2_000;

/// Builds the schema; `introspection` can be switched off for production.
pub fn schema(introspection: bool) -> RosterSchema {
    let builder = Schema::build(
        query::Query,
        Mutation::default(),
        subscription::Subscription,
    )
    .limit_depth(MAX_DEPTH)
    .limit_complexity(MAX_COMPLEXITY)
    .extension(crate::metrics::OperationMetrics);
    let builder = if introspection {
        builder
    } else {
        builder.disable_introspection().disable_suggestions()
    };
    builder.finish()
}

/// The SDL that `roster schema` prints and `schema.graphql` holds.
pub fn sdl() -> String {
    schema(true).sdl()
}
