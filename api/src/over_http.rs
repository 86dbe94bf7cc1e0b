//! GraphQL over HTTP, as the specification says (graphql.github.io/graphql-over-http): which
//! media type answers (`Accept`), what a request must look like (POST `application/json`, GET
//! `?query=&variables=&operationName=&extensions=`), and which status code a response carries.
//!
//! - `application/json` (also for `*/*` and a missing `Accept`): every well-formed request is
//!   answered 200, whatever GraphQL errors it holds; a body that is not JSON, or parameters of
//!   the wrong type, 400.
//! - `application/graphql-response+json` (preferred when the client accepts both): a request
//!   error (the document does not parse or validate, variables do not coerce, the token is not
//!   valid) is answered without `data`, with 400 (401 for a token that is not valid); once
//!   execution started, 200 with `data`.
//! - An `Accept` that allows neither: 406. A POST that is not `application/json`: 415. A GET
//!   that names a mutation: 405 with `Allow: POST`, and nothing runs.
//!
//! The pure parts (negotiation, parameters, status) are here and unit-tested; `http.rs` wires
//! them to the schema.

use async_graphql::parser::types::OperationType;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// `application/graphql-response+json`.
pub const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";
/// `application/json`.
pub const JSON: &str = "application/json";

/// The media type a response is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaType {
    Json,
    GraphqlResponse,
}

impl MediaType {
    fn content_type(self) -> &'static str {
        match self {
            MediaType::Json => "application/json; charset=utf-8",
            MediaType::GraphqlResponse => "application/graphql-response+json; charset=utf-8",
        }
    }
}

/// One media range of an `Accept` header and its weight.
fn ranges(accept: &str) -> impl Iterator<Item = (String, f32)> + '_ {
    accept.split(',').filter_map(|part| {
        let mut pieces = part.split(';');
        let range = pieces.next()?.trim().to_ascii_lowercase();
        if range.is_empty() {
            return None;
        }
        let mut q = 1.0_f32;
        for p in pieces {
            if let Some((k, v)) = p.split_once('=')
                && k.trim().eq_ignore_ascii_case("q")
            {
                q = v.trim().parse().unwrap_or(0.0);
            }
        }
        Some((range, q))
    })
}

/// The media type to answer in, or `None` when the client accepts neither (406). No `Accept`
/// is `application/json`; so is `*/*`; of two equally weighted, the GraphQL one.
pub fn negotiate(headers: &HeaderMap) -> Option<MediaType> {
    let accept = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(",");
    if accept.trim().is_empty() {
        return Some(MediaType::Json);
    }
    let mut best: Option<(MediaType, f32, u8)> = None;
    for (range, q) in ranges(&accept) {
        if q <= 0.0 {
            continue;
        }
        // Specificity breaks ties: the exact GraphQL type, then application/json, then
        // wildcards (which mean application/json).
        let (media, rank) = match range.as_str() {
            GRAPHQL_RESPONSE => (MediaType::GraphqlResponse, 3),
            JSON => (MediaType::Json, 2),
            "application/*" | "*/*" => (MediaType::Json, 1),
            _ => continue,
        };
        if best.is_none_or(|(_, bq, br)| q > bq || (q == bq && rank > br)) {
            best = Some((media, q, rank));
        }
    }
    best.map(|(m, _, _)| m)
}

/// Whether the client is a browser asking for a page (GraphiQL).
pub fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|a| ranges(a).collect::<Vec<_>>())
        .any(|(r, q)| q > 0.0 && r == "text/html")
}

/// Why a request is not a GraphQL-over-HTTP request at all.
#[derive(Debug, PartialEq, Eq)]
pub struct Refusal {
    pub status: StatusCode,
    pub message: &'static str,
}

fn bad(message: &'static str) -> Refusal {
    Refusal {
        status: StatusCode::BAD_REQUEST,
        message,
    }
}

/// The parameters of a request, checked for type.
#[derive(Debug, Default)]
pub struct Params {
    pub query: String,
    pub operation_name: Option<String>,
    pub variables: Map<String, Value>,
    pub extensions: Map<String, Value>,
}

impl Params {
    /// From a POST body's JSON object.
    pub fn from_body(body: &[u8]) -> Result<Params, Refusal> {
        if body.is_empty() {
            return Err(bad(
                "the request body is empty: send a JSON object with `query`",
            ));
        }
        let value: Value =
            serde_json::from_slice(body).map_err(|_| bad("the request body is not JSON"))?;
        let Value::Object(mut o) = value else {
            return Err(bad("the request body is not a JSON object"));
        };
        let query = match o.remove("query") {
            Some(Value::String(q)) => Some(q),
            None | Some(Value::Null) => None,
            Some(_) => return Err(bad("`query` is not a string")),
        };
        let operation_name = match o.remove("operationName") {
            Some(Value::String(s)) => Some(s),
            None | Some(Value::Null) => None,
            Some(_) => return Err(bad("`operationName` is not a string")),
        };
        let variables = map_param(o.remove("variables"), "`variables` is not an object")?;
        let extensions = map_param(o.remove("extensions"), "`extensions` is not an object")?;
        Self::finish(query, operation_name, variables, extensions)
    }

    /// From a GET's query string (`variables` and `extensions` are JSON-encoded).
    pub fn from_query_string(qs: &str) -> Result<Params, Refusal> {
        let (mut query, mut operation_name, mut variables, mut extensions) =
            (None, None, None, None);
        for (k, v) in url::form_urlencoded::parse(qs.as_bytes()) {
            let v = v.into_owned();
            match k.as_ref() {
                "query" => query = Some(v),
                "operationName" if !v.is_empty() => operation_name = Some(v),
                "variables" if !v.is_empty() => variables = Some(v),
                "extensions" if !v.is_empty() => extensions = Some(v),
                _ => {}
            }
        }
        let json = |s: Option<String>, message| match s {
            None => Ok(Map::new()),
            Some(s) => map_param(
                Some(serde_json::from_str(&s).map_err(|_| bad(message))?),
                message,
            ),
        };
        let variables = json(variables, "`variables` is not a JSON object")?;
        let extensions = json(extensions, "`extensions` is not a JSON object")?;
        Self::finish(query, operation_name, variables, extensions)
    }

    fn finish(
        query: Option<String>,
        operation_name: Option<String>,
        variables: Map<String, Value>,
        extensions: Map<String, Value>,
    ) -> Result<Params, Refusal> {
        // An automatic persisted query may come without its document (the hash names it).
        let persisted = extensions.contains_key("persistedQuery");
        let query = match query {
            Some(q) => q,
            None if persisted => String::new(),
            None => return Err(bad("`query` is missing")),
        };
        Ok(Params {
            query,
            operation_name,
            variables,
            extensions,
        })
    }

    /// The request to run.
    pub fn into_request(self) -> async_graphql::Request {
        let mut request = async_graphql::Request::new(self.query).variables(
            async_graphql::Variables::from_json(Value::Object(self.variables)),
        );
        if let Some(name) = self.operation_name {
            request = request.operation_name(name);
        }
        for (k, v) in self.extensions {
            if let Ok(v) = async_graphql::Value::from_json(v) {
                request.extensions.insert(k, v);
            }
        }
        request
    }

    /// The hash of an automatic persisted query sent without its document.
    pub fn persisted_hash(&self) -> Option<&str> {
        if !self.query.is_empty() {
            return None;
        }
        self.extensions
            .get("persistedQuery")
            .and_then(|p| p.get("sha256Hash"))
            .and_then(Value::as_str)
    }

    /// Whether the operation this request would run is a mutation (or a subscription), which
    /// a GET must not run. A document that does not parse is left to execution to report.
    pub fn is_mutation(&self) -> bool {
        let Ok(doc) = async_graphql::parser::parse_query(&self.query) else {
            return false;
        };
        self.runs_mutation(&doc)
    }

    /// Whether `doc`, with this request's `operationName`, runs a mutation or subscription.
    pub fn runs_mutation(&self, doc: &async_graphql::parser::types::ExecutableDocument) -> bool {
        matches!(
            crate::graphql::documents::selected(doc, self.operation_name.as_deref()),
            Some((_, OperationType::Mutation | OperationType::Subscription))
        )
    }
}

fn map_param(value: Option<Value>, message: &'static str) -> Result<Map<String, Value>, Refusal> {
    match value {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(o)) => Ok(o),
        Some(_) => Err(bad(message)),
    }
}

/// Whether a POST's `Content-Type` is `application/json` (any `charset` must be UTF-8).
pub fn is_json_body(headers: &HeaderMap) -> bool {
    let Some(ct) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let mut parts = ct.split(';');
    let essence = parts.next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case(JSON) {
        return false;
    }
    parts.all(|p| match p.split_once('=') {
        Some((k, v)) if k.trim().eq_ignore_ascii_case("charset") => {
            v.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
        }
        _ => true,
    })
}

fn error_code(response: &async_graphql::Response) -> Option<&str> {
    response.errors.iter().find_map(|e| {
        e.extensions.as_ref().and_then(|x| match x.get("code") {
            Some(async_graphql::Value::String(s)) => Some(s.as_str()),
            _ => None,
        })
    })
}

/// A request error's answer: no `data` entry at all, as execution never started (the spec's
/// "not present").
#[derive(serde::Serialize)]
struct NoData<'a> {
    errors: &'a [async_graphql::ServerError],
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    extensions: &'a BTreeMap<String, async_graphql::Value>,
}

/// The HTTP answer to an executed (or refused-before-running) GraphQL request.
pub fn respond(media: MediaType, response: async_graphql::Response) -> Response {
    let request_error = crate::graphql::is_request_error(&response);
    let status = match media {
        MediaType::Json => StatusCode::OK,
        MediaType::GraphqlResponse if !request_error => StatusCode::OK,
        MediaType::GraphqlResponse => match error_code(&response) {
            Some("UNAUTHENTICATED") => StatusCode::UNAUTHORIZED,
            Some("FORBIDDEN") => StatusCode::FORBIDDEN,
            _ => StatusCode::BAD_REQUEST,
        },
    };
    // Written straight from the response: through a `serde_json::Value` first, every key and
    // string of the answer was copied and hashed once more.
    let body = if request_error {
        serde_json::to_vec(&NoData {
            errors: &response.errors,
            extensions: &response.extensions,
        })
    } else {
        serde_json::to_vec(&response)
    };
    let Ok(body) = body else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let extra_headers = response.http_headers;
    let mut out = (status, [(header::CONTENT_TYPE, media.content_type())], body).into_response();
    for (k, v) in &extra_headers {
        out.headers_mut().append(k, v.clone());
    }
    if status == StatusCode::UNAUTHORIZED {
        out.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    out
}

/// A request that is not GraphQL over HTTP: the status and one error, no `data`.
pub fn refuse(media: MediaType, refusal: Refusal) -> Response {
    let body = serde_json::json!({ "errors": [{ "message": refusal.message }] });
    (
        refusal.status,
        [(header::CONTENT_TYPE, media.content_type())],
        body.to_string(),
    )
        .into_response()
}

/// 406: the client accepts neither JSON media type.
pub fn not_acceptable() -> Response {
    (
        StatusCode::NOT_ACCEPTABLE,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "GraphQL answers in application/graphql-response+json or application/json",
    )
        .into_response()
}

/// 405 for a mutation sent with GET.
pub fn mutation_over_get(media: MediaType) -> Response {
    let mut r = refuse(
        media,
        Refusal {
            status: StatusCode::METHOD_NOT_ALLOWED,
            message: "mutations are sent with POST",
        },
    );
    r.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("GET, POST"));
    r
}

/// 415 for a POST whose body is not `application/json`.
pub fn unsupported_media(media: MediaType) -> Response {
    refuse(
        media,
        Refusal {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            message: "send the request as Content-Type: application/json",
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn the_answer_is_in_the_media_type_the_client_accepts() {
        assert_eq!(negotiate(&HeaderMap::new()), Some(MediaType::Json));
        assert_eq!(
            negotiate(&accept("application/json")),
            Some(MediaType::Json)
        );
        assert_eq!(negotiate(&accept("*/*")), Some(MediaType::Json));
        assert_eq!(
            negotiate(&accept(GRAPHQL_RESPONSE)),
            Some(MediaType::GraphqlResponse)
        );
        assert_eq!(
            negotiate(&accept(
                "application/json, application/graphql-response+json"
            )),
            Some(MediaType::GraphqlResponse)
        );
        assert_eq!(
            negotiate(&accept(
                "application/graphql-response+json;q=0.5, application/json"
            )),
            Some(MediaType::Json)
        );
        assert_eq!(
            negotiate(&accept("application/json;charset=utf-8")),
            Some(MediaType::Json)
        );
        assert_eq!(negotiate(&accept("text/html")), None);
        assert_eq!(negotiate(&accept("application/json;q=0")), None);
        assert!(wants_html(&accept(
            "text/html,application/xhtml+xml,*/*;q=0.8"
        )));
        assert!(!wants_html(&accept("application/json")));
    }

    #[test]
    fn parameters_of_the_wrong_type_are_refused() {
        assert!(Params::from_body(br#"{"query":"{a}"}"#).is_ok());
        assert!(
            Params::from_body(
                br#"{"query":"{a}","variables":null,"operationName":null,"extensions":null}"#
            )
            .is_ok()
        );
        for body in [
            &b""[..],
            b"{",
            b"[]",
            br#"{"query":1}"#,
            br#"{"variables":{}}"#,
            br#"{"query":"{a}","variables":"x"}"#,
            br#"{"query":"{a}","operationName":1}"#,
            br#"{"query":"{a}","extensions":[]}"#,
        ] {
            assert_eq!(
                Params::from_body(body).unwrap_err().status,
                StatusCode::BAD_REQUEST,
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        assert!(Params::from_query_string("query=%7Ba%7D&variables=%7B%7D").is_ok());
        assert!(Params::from_query_string("query=%7Ba%7D&variables=%5B%5D").is_err());
        assert!(Params::from_query_string("variables=%7B%7D").is_err());
    }

    #[test]
    fn a_get_never_runs_a_mutation() {
        let p = |q: &str, op: Option<&str>| Params {
            query: q.into(),
            operation_name: op.map(Into::into),
            ..Params::default()
        };
        assert!(p("mutation { a }", None).is_mutation());
        assert!(!p("{ a }", None).is_mutation());
        assert!(p("query A { a } mutation B { b }", Some("B")).is_mutation());
        assert!(!p("query A { a } mutation B { b }", Some("A")).is_mutation());
        assert!(!p("mutation {", None).is_mutation());
    }

    #[test]
    fn request_errors_carry_no_data_and_a_4xx_in_the_graphql_media_type() {
        let err = || {
            async_graphql::Response::from_errors(vec![async_graphql::ServerError::new(
                "syntax", None,
            )])
        };
        let r = respond(MediaType::GraphqlResponse, err());
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert_eq!(respond(MediaType::Json, err()).status(), StatusCode::OK);
        let mut field = async_graphql::ServerError::new("boom", None);
        field.path = vec![async_graphql::PathSegment::Field("a".into())];
        let r = respond(
            MediaType::GraphqlResponse,
            async_graphql::Response::from_errors(vec![field]),
        );
        assert_eq!(r.status(), StatusCode::OK);
    }
}
