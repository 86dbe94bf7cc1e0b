//! Issue 14: GraphQL over HTTP as the specification says (beside the spec's own audits that
//! `scripts/conformance` runs), GraphiQL from the binary, paging with opaque cursors, one form
//! of global ID, and a complexity limit that counts `first`.

use roster_tests::{Backend, MEMBERS, TestApp, both_backends};
use serde_json::{Value, json};

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";
const CREATE_CASE: &str = "mutation($input: CreateSupportCaseInput!) { createSupportCase(input: $input) { supportCase { id } userErrors { code message } } }";
const CASES: &str = "query($n: String!, $first: Int, $after: String) { contract(number: $n) { supportCases(first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { caseId } } } } }";

async fn send(req: reqwest::RequestBuilder) -> (u16, String, String) {
    let resp = req.send().await.expect("the API answers");
    let status = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, ct, resp.text().await.unwrap())
}

async fn graphql_over_http_follows_the_specification(backend: Backend) {
    let app = TestApp::spawn_with(backend, false).await;
    let url = format!("{}/graphql", app.url);
    let http = reqwest::Client::new();
    let post = |accept: Option<&str>, body: &str| {
        let mut r = http
            .post(&url)
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(a) = accept {
            r = r.header("accept", a);
        }
        r
    };

    // application/json is answered as application/json (the MUST the issue found broken).
    let (status, ct, body) = send(post(
        Some("application/json"),
        r#"{"query":"{__typename}"}"#,
    ))
    .await;
    assert_eq!(
        (status, ct.as_str()),
        (200, "application/json; charset=utf-8")
    );
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["data"]["__typename"],
        "Query"
    );
    let (_, ct, _) = send(post(Some(GRAPHQL_RESPONSE), r#"{"query":"{__typename}"}"#)).await;
    assert!(ct.starts_with(GRAPHQL_RESPONSE), "{ct}");

    // Parse and validation failures: 200 with errors in application/json; 400 without data
    // in application/graphql-response+json.
    for doc in [r#"{"query":"{"}"#, r#"{"query":"{ noSuchField }"}"#] {
        let (status, _, body) = send(post(Some("application/json"), doc)).await;
        assert_eq!(status, 200, "{doc}: {body}");
        assert!(body.contains("\"errors\""), "{body}");
        let (status, _, body) = send(post(Some(GRAPHQL_RESPONSE), doc)).await;
        assert_eq!(status, 400, "{doc}: {body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        assert!(v.get("data").is_none(), "{body}");
        assert!(v["errors"][0]["message"].is_string(), "{body}");
    }
    // A token that is not valid: 401 in the GraphQL media type.
    let (status, _, body) = send(
        post(Some(GRAPHQL_RESPONSE), r#"{"query":"{__typename}"}"#).bearer_auth("rs_not-a-session"),
    )
    .await;
    assert_eq!(status, 401, "{body}");
    // A body that is not JSON, or a `query` that is not a string: 400.
    assert_eq!(send(post(None, "{")).await.0, 400);
    assert_eq!(send(post(None, r#"{"query":1}"#)).await.0, 400);
    // Not JSON at all: 415; accepting neither JSON type: 406.
    let (status, _, _) = send(
        http.post(&url)
            .header("content-type", "text/plain")
            .body("{__typename}"),
    )
    .await;
    assert_eq!(status, 415);
    assert_eq!(
        send(post(Some("text/html"), r#"{"query":"{__typename}"}"#))
            .await
            .0,
        406
    );

    // GET runs queries in the media type asked for, never GraphiQL's page for them...
    let (status, ct, body) = send(
        http.get(&url)
            .query(&[
                ("query", "query($t: String!) { __type(name: $t) { name } }"),
                ("variables", r#"{"t":"Contract"}"#),
            ])
            .header("accept", "application/json"),
    )
    .await;
    assert_eq!(
        (status, ct.as_str()),
        (200, "application/json; charset=utf-8"),
        "{body}"
    );
    assert!(body.contains("\"name\":\"Contract\""), "{body}");
    // ...refuses a mutation with 405 (and runs nothing)...
    let get_mutation = http
        .get(&url)
        .query(&[("query", "mutation { signOut { userErrors { code } } }")])
        .header("accept", "application/json");
    let resp = get_mutation.send().await.unwrap();
    assert_eq!(resp.status(), 405);
    assert!(resp.headers()["allow"].to_str().unwrap().contains("POST"));
    // ...and serves GraphiQL to a browser, with its assets from Roster itself.
    let (status, ct, page) = send(
        http.get(&url)
            .header("accept", "text/html,application/xhtml+xml,*/*;q=0.8"),
    )
    .await;
    assert_eq!(status, 200);
    assert!(ct.starts_with("text/html"), "{ct}");
    assert!(!page.contains("https://"), "nothing from a CDN: {page}");
    let scripts: Vec<&str> = page
        .split("src=\"")
        .skip(1)
        .map(|s| &s[..s.find('"').unwrap()])
        .collect();
    assert!(scripts.len() >= 4, "{page}");
    for path in scripts
        .iter()
        .chain(["/graphiql/assets/LICENSES.txt"].iter())
    {
        let resp = http.get(format!("{}{path}", app.url)).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{path}");
        assert!(!resp.bytes().await.unwrap().is_empty(), "{path}");
    }
    assert!(page.contains("integrity=\"sha384-"), "{page}");
    app.stop().await;
}

async fn r17_support_case_pages_keep_their_total_and_refuse_bad_cursors(backend: Backend) {
    let app = TestApp::spawn_with(backend, false).await;
    let c = app
        .contract_without_worker("PAGE-1", "cm@page.example", &[("ACAD", 5)])
        .await;
    let cm = app.session_for("cm@page.example").await;
    for i in 0..3 {
        let input = json!({ "input": { "contractId": c.id, "subject": format!("case {i}"), "description": "d" } });
        let data = app.data(Some(&cm), CREATE_CASE, input).await;
        assert_eq!(data["createSupportCase"]["userErrors"], json!([]));
    }
    let page = |first: i64, after: Value| json!({ "n": c.number, "first": first, "after": after });
    let first = app.data(Some(&cm), CASES, page(2, Value::Null)).await;
    let cases = &first["contract"]["supportCases"];
    assert_eq!(cases["totalCount"], 3);
    assert_eq!(cases["pageInfo"]["hasNextPage"], true);
    let second = app
        .data(
            Some(&cm),
            CASES,
            page(2, cases["pageInfo"]["endCursor"].clone()),
        )
        .await;
    let cases2 = &second["contract"]["supportCases"];
    assert_eq!(cases2["edges"].as_array().unwrap().len(), 1);
    assert_eq!(cases2["totalCount"], 3);
    // Past the end: no edges, the same total.
    let last = cases2["edges"][0]["cursor"].clone();
    let past = app.data(Some(&cm), CASES, page(2, last)).await;
    assert_eq!(past["contract"]["supportCases"]["edges"], json!([]));
    assert_eq!(past["contract"]["supportCases"]["totalCount"], 3);
    // A bad cursor is a clear error on every backend, never INTERNAL; a cursor of another
    // connection is a bad cursor here.
    let members = app
        .data(Some(&cm), MEMBERS, json!({ "n": c.number, "first": 1 }))
        .await;
    let member_cursor = members["contract"]["members"]["edges"][0]["cursor"].clone();
    assert!(member_cursor.is_string());
    for bad in [
        json!("-5"),
        json!("1"),
        json!("not a cursor"),
        member_cursor,
    ] {
        let resp = app.gql(Some(&cm), CASES, page(2, bad.clone())).await;
        let message = resp["errors"][0]["message"].as_str().unwrap_or("");
        assert!(
            message.contains("not a cursor of this connection"),
            "{bad}: {resp}"
        );
        assert_ne!(
            resp["errors"][0]["extensions"]["code"], "INTERNAL",
            "{resp}"
        );
    }
    app.stop().await;
}

async fn r27_member_pages_count_what_they_may_return(backend: Backend) {
    let app = TestApp::spawn_with(backend, false).await;
    let c = app
        .contract_without_worker("PAGE-2", "cm@page2.example", &[("ACAD", 5)])
        .await;
    let cm = app.session_for("cm@page2.example").await;
    // One page of 100 members with what the SPA shows is accepted...
    let one = app
        .gql(Some(&cm), MEMBERS, json!({ "n": c.number, "first": 100 }))
        .await;
    assert!(one.get("errors").is_none(), "{one}");
    // ...40 of them in one request are refused before anything runs.
    let aliases: String = (0..40)
        .map(|i| format!("m{i}: members(first: 100) {{ edges {{ node {{ user {{ email firstName }} roles status }} }} }} "))
        .collect();
    let doc = format!("query($n: String!) {{ contract(number: $n) {{ {aliases} }} }}");
    let resp = app.gql(Some(&cm), &doc, json!({ "n": c.number })).await;
    assert!(
        resp["errors"][0]["message"]
            .as_str()
            .unwrap_or("")
            .contains("too complex"),
        "{resp}"
    );
    assert!(resp["data"].is_null(), "{resp}");
    // Nested pages multiply: 100 contracts with 100 members each is refused too.
    let nested = "{ contracts(first: 100) { edges { node { members(first: 100) { edges { node { status } } } } } } }";
    let resp = app.gql(Some(&cm), nested, json!({})).await;
    assert!(resp.get("errors").is_some(), "{resp}");
    app.stop().await;
}

async fn global_ids_have_one_form(backend: Backend) {
    use base64::Engine as _;
    let app = TestApp::spawn_with(backend, false).await;
    let c = app
        .contract_without_worker("ID-1", "cm@id.example", &[("ACAD", 5)])
        .await;
    let cm = app.session_for("cm@id.example").await;
    let n =
        roster_api::graphql::ids::decode(roster_api::graphql::ids::Kind::Contract, &c.id).unwrap();
    let q = "query($id: ID!) { node(id: $id) { id } }";
    let found = app.data(Some(&cm), q, json!({ "id": c.id })).await;
    assert_eq!(found["node"]["id"], c.id);
    let b64 = |s: String| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    for other in [
        b64(format!("Contract:0{n}")),
        b64(format!("Contract:+{n}")),
        base64::engine::general_purpose::URL_SAFE.encode(format!("Contract:{n}")),
    ] {
        if other == c.id {
            continue;
        }
        let data = app.data(Some(&cm), q, json!({ "id": other })).await;
        assert!(data["node"].is_null(), "{other}: {data}");
    }
    app.stop().await;
}

/// A session ended by `signOut` (or by `changePassword`, for the other sessions) in one API
/// process is refused at once by another process that had it cached (production: the
/// processes share PostgreSQL and Redis); embedded, by the one process.
async fn sessions_end_at_once_in_every_process(backend: Backend) {
    let app = TestApp::spawn_with(backend, false).await;
    app.contract_without_worker("SESS-1", "cm@sess.example", &[("ACAD", 5)])
        .await;
    // A second API process on the same database and Redis (Postgres); the same one embedded.
    let other = match backend {
        Backend::Postgres => {
            let mut settings = app.settings.clone();
            settings.listen = Some("127.0.0.1:0".into());
            let config = settings.resolve().unwrap();
            Some(roster_api::app::start(&config, false).await.unwrap())
        }
        Backend::Sqlite => None,
    };
    let other_url = other
        .as_ref()
        .map_or(app.url.clone(), |r| format!("http://{}", r.addr));
    // Let the other process subscribe to invalidations (until then it reads the database,
    // which would pass this test without the cache).
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let http = reqwest::Client::new();
    let viewer = |url: String, token: String| {
        let http = http.clone();
        async move {
            let resp: Value = http
                .post(format!("{url}/graphql"))
                .bearer_auth(token)
                .json(&json!({ "query": "{ viewer { user { email } } }" }))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            resp
        }
    };
    let a = app.session_for("cm@sess.example").await;
    let b = app.session_for("cm@sess.example").await;
    for t in [&a, &b] {
        for _ in 0..2 {
            let r = viewer(other_url.clone(), t.clone()).await;
            assert_eq!(
                r["data"]["viewer"]["user"]["email"], "cm@sess.example",
                "{r}"
            );
        }
    }
    let out = app
        .data(Some(&a), "mutation { signOut { signedOut } }", json!({}))
        .await;
    assert_eq!(out["signOut"]["signedOut"], true);
    let r = viewer(other_url.clone(), a.clone()).await;
    assert_eq!(
        r["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{r}"
    );
    // The other session still works, cached or not.
    let r = viewer(other_url.clone(), b.clone()).await;
    assert_eq!(
        r["data"]["viewer"]["user"]["email"], "cm@sess.example",
        "{r}"
    );
    if let Some(other) = other {
        other.shutdown().await.unwrap();
    }
    app.stop().await;
}

/// Automatic persisted queries: after the document was sent once with its hash, the hash
/// alone runs it; an unknown hash asks for the document; a GET never runs a persisted mutation.
async fn persisted_queries_run_by_their_hash(backend: Backend) {
    use sha2::Digest as _;
    let app = TestApp::spawn_with(backend, false).await;
    let url = format!("{}/graphql", app.url);
    let http = reqwest::Client::new();
    let query = "query Persisted { __typename }";
    let hash = format!("{:x}", sha2::Sha256::digest(query.as_bytes()));
    let ext = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } });
    let post = |body: Value| {
        let http = http.clone();
        let url = url.clone();
        async move {
            http.post(url)
                .json(&body)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let r = post(json!({ "extensions": ext })).await;
    assert_eq!(r["errors"][0]["message"], "PersistedQueryNotFound", "{r}");
    let r = post(json!({ "query": query, "extensions": ext })).await;
    assert_eq!(r["data"]["__typename"], "Query", "{r}");
    let r = post(json!({ "extensions": ext })).await;
    assert_eq!(r["data"]["__typename"], "Query", "{r}");
    // A persisted mutation is refused over GET.
    let mutation = "mutation { signOut { signedOut } }";
    let mhash = format!("{:x}", sha2::Sha256::digest(mutation.as_bytes()));
    let mext = json!({ "persistedQuery": { "version": 1, "sha256Hash": mhash } });
    let r = post(json!({ "query": mutation, "extensions": mext })).await;
    assert_eq!(
        r["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{r}"
    );
    let resp = http
        .get(&url)
        .query(&[("extensions", mext.to_string())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
    app.stop().await;
}

both_backends!(
    sessions_end_at_once_in_every_process,
    persisted_queries_run_by_their_hash,
    graphql_over_http_follows_the_specification,
    r17_support_case_pages_keep_their_total_and_refuse_bad_cursors,
    r27_member_pages_count_what_they_may_return,
    global_ids_have_one_form,
);
