//! Parsed documents, kept so that a client repeating an operation (an SPA asks the same few
//! again and again) is not parsed again, and automatic persisted queries (Apollo's
//! `extensions.persistedQuery { version: 1, sha256Hash }`): a client sends the hash instead of
//! the document once the server has seen it. Both share one LRU of documents keyed by the
//! SHA-256 of their text, per process (a process that does not know a hash answers
//! `PersistedQueryNotFound`, and the client sends the document again).
//!
//! [`Documents::prepare`] does this before the schema runs a request, rather than an
//! async-graphql extension: a schema with any extension resolves every field through the
//! extensions' hooks (a registry lookup and a boxed future per extension per field), which on
//! the contract page of 50 members cost more than the rest of the execution.

use async_graphql::extensions::apollo_persisted_queries::{CacheStorage, LruCacheStorage};
use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, OperationType};
use async_graphql::{Request, ServerError, ServerResult};
use sha2::{Digest, Sha256};

/// Documents kept per process.
pub const CAPACITY: usize = 1024;
/// Longer documents are parsed every time (they are not an SPA's repeated operations).
const LONGEST_KEPT: usize = 16 * 1024;

/// Parsed documents by the SHA-256 of their text, most recently used kept.
#[derive(Clone)]
pub struct Documents(LruCacheStorage);

impl Default for Documents {
    fn default() -> Self {
        Self(LruCacheStorage::new(CAPACITY))
    }
}

/// The `persistedQuery` extension of a request.
#[derive(serde::Deserialize)]
struct PersistedQuery {
    version: i32,
    #[serde(rename = "sha256Hash")]
    sha256_hash: String,
}

impl Documents {
    /// The document a persisted-query hash names, if this process has it (GET checks that it
    /// is not a mutation before running it).
    pub async fn by_hash(&self, sha256_hex: &str) -> Option<ExecutableDocument> {
        self.0.get(sha256_hex.to_string()).await
    }

    /// Gives `request` its parsed document: the one its persisted-query hash names, the one
    /// this process parsed before from the same text, or its text parsed now (and kept when it
    /// parses). Answers as async-graphql's `ApolloPersistedQueries` does.
    pub async fn prepare(&self, mut request: Request) -> ServerResult<Request> {
        if let Some(value) = request.extensions.remove("persistedQuery") {
            let persisted: PersistedQuery = async_graphql::from_value(value).map_err(|_| {
                ServerError::new("Invalid \"PersistedQuery\" extension configuration.", None)
            })?;
            if persisted.version != 1 {
                return Err(ServerError::new(
                    format!(
                        "Only the \"PersistedQuery\" extension of version \"1\" is supported, and the current version is \"{}\".",
                        persisted.version
                    ),
                    None,
                ));
            }
            if request.query.is_empty() {
                let doc = self
                    .0
                    .get(persisted.sha256_hash)
                    .await
                    .ok_or_else(|| ServerError::new("PersistedQueryNotFound", None))?;
                request.set_parsed_query(doc);
                return Ok(request);
            }
            if persisted.sha256_hash != hash(&request.query) {
                return Err(ServerError::new("provided sha does not match query", None));
            }
        }
        if request.query.len() > LONGEST_KEPT {
            return Ok(request);
        }
        let key = hash(&request.query);
        let doc = match self.0.get(key.clone()).await {
            Some(doc) => doc,
            None => {
                let doc = async_graphql::parser::parse_query(&request.query)?;
                self.0.set(key, doc.clone()).await;
                doc
            }
        };
        request.set_parsed_query(doc);
        Ok(request)
    }
}

/// The operation `doc` runs for a request naming `operation_name`, as async-graphql picks it
/// (the named one; without a name, the only one), with its name: `None` when the document has
/// no such operation (execution then reports it).
pub fn selected<'d>(
    doc: &'d ExecutableDocument,
    operation_name: Option<&str>,
) -> Option<(Option<&'d str>, OperationType)> {
    match (&doc.operations, operation_name) {
        (DocumentOperations::Single(op), _) => Some((None, op.node.ty)),
        (DocumentOperations::Multiple(ops), Some(name)) => ops
            .get_key_value(name)
            .map(|(n, op)| (Some(n.as_str()), op.node.ty)),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops
            .iter()
            .next()
            .map(|(n, op)| (Some(n.as_str()), op.node.ty)),
        (DocumentOperations::Multiple(_), None) => None,
    }
}

/// The SHA-256 of a document's text, in lower-case hex (the persisted-query hash).
fn hash(query: &str) -> String {
    format!("{:x}", Sha256::digest(query.as_bytes()))
}
