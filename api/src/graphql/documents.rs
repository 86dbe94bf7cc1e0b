//! Parsed documents, kept so that a client repeating an operation (an SPA asks the same few
//! again and again) is not parsed again, and automatic persisted queries (Apollo's
//! `extensions.persistedQuery { version: 1, sha256Hash }`): a client sends the hash instead of
//! the document once the server has seen it. Both share one LRU of documents keyed by the
//! SHA-256 of their text, per process (a process that does not know a hash answers
//! `PersistedQueryNotFound`, and the client sends the document again).

use async_graphql::extensions::apollo_persisted_queries::{
    ApolloPersistedQueries, CacheStorage, LruCacheStorage,
};
use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{ServerResult, Variables};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// Documents kept per process.
pub const CAPACITY: usize = 1024;
/// Longer documents are parsed every time (they are not an SPA's repeated operations).
const LONGEST_KEPT: usize = 16 * 1024;

/// The shared LRU, its parse-cache extension and its persisted-query extension.
#[derive(Clone)]
pub struct Documents(LruCacheStorage);

impl Default for Documents {
    fn default() -> Self {
        Self(LruCacheStorage::new(CAPACITY))
    }
}

impl Documents {
    /// The automatic persisted queries extension over the same documents.
    pub fn persisted(&self) -> ApolloPersistedQueries<LruCacheStorage> {
        ApolloPersistedQueries::new(self.0.clone())
    }

    /// The document a persisted-query hash names, if this process has it (GET checks that it
    /// is not a mutation before running it).
    pub async fn by_hash(&self, sha256_hex: &str) -> Option<ExecutableDocument> {
        self.0.get(sha256_hex.to_string()).await
    }
}

impl ExtensionFactory for Documents {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(self.clone())
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for Documents {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        // An empty query is a persisted one, already parsed.
        if query.is_empty() || query.len() > LONGEST_KEPT {
            return next.run(ctx, query, variables).await;
        }
        let key = format!("{:x}", Sha256::digest(query.as_bytes()));
        if let Some(doc) = self.0.get(key.clone()).await {
            return Ok(doc);
        }
        // Only a document that parsed (and passed the depth checks) is kept.
        let doc = next.run(ctx, query, variables).await?;
        self.0.set(key, doc.clone()).await;
        Ok(doc)
    }
}
