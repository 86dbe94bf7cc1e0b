//! The GraphQL schema (API.md, "GraphQL conventions").

pub mod cases;
pub mod context;
pub mod documents;
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
/// Largest query complexity accepted: each field counts 1, and a connection counts its
/// `first` (default 20, at most 100) times what one item of its selection costs
/// ([`scalars::page_cost`]), so nested and aliased pages multiply.
pub const MAX_COMPLEXITY: usize = 10_000;

/// Builds the schema; `introspection` can be switched off for production.
pub fn schema(introspection: bool) -> RosterSchema {
    schema_with(introspection, documents::Documents::default())
}

/// Builds the schema over `documents`, the cache of parsed and persisted documents.
pub fn schema_with(introspection: bool, documents: documents::Documents) -> RosterSchema {
    let builder = Schema::build(
        query::Query,
        Mutation::default(),
        subscription::Subscription,
    )
    .limit_depth(MAX_DEPTH)
    .limit_complexity(MAX_COMPLEXITY)
    .extension(crate::metrics::OperationMetrics)
    .extension(documents.persisted())
    .extension(documents);
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
