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

/// Builds the schema; `introspection` can be switched off for production. It has no
/// extension, on purpose: see [`documents`].
pub fn schema(introspection: bool) -> RosterSchema {
    let builder = Schema::build(
        query::Query,
        Mutation::default(),
        subscription::Subscription,
    )
    .limit_depth(MAX_DEPTH)
    .limit_complexity(MAX_COMPLEXITY);
    let builder = if introspection {
        builder
    } else {
        builder.disable_introspection().disable_suggestions()
    };
    builder.finish()
}

/// Runs one request as HTTP and websockets run it: its document from `documents` (persisted,
/// cached or parsed now), then the schema; counted and timed by operation
/// ([`crate::metrics::record_operation`]).
pub async fn execute(
    schema: &RosterSchema,
    documents: &documents::Documents,
    request: async_graphql::Request,
) -> async_graphql::Response {
    let started = std::time::Instant::now();
    let mut request = match documents.prepare(request).await {
        Ok(request) => request,
        Err(e) => {
            crate::metrics::record_operation(None, false, started.elapsed());
            return async_graphql::Response::from_errors(vec![e]);
        }
    };
    let name = operation_name(&mut request);
    let response = schema.execute(request).await;
    let executed = (!is_request_error(&response)).then_some(name.as_deref());
    crate::metrics::record_operation(executed, response.is_ok(), started.elapsed());
    response
}

/// The name of the operation a request runs: the one it names, else its document's only
/// named operation.
fn operation_name(request: &mut async_graphql::Request) -> Option<String> {
    let named = request.operation_name.clone();
    let doc = request.parsed_query().ok()?;
    let (name, _) = documents::selected(doc, named.as_deref())?;
    name.map(str::to_string)
}

/// A request error: the response carries no `data` because execution never started (the
/// document did not parse or validate, the variables did not coerce, the request was refused
/// before running). Field errors always carry a path.
pub fn is_request_error(response: &async_graphql::Response) -> bool {
    response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty())
}

/// The SDL that `roster schema` prints and `schema.graphql` holds.
pub fn sdl() -> String {
    schema(true).sdl()
}
