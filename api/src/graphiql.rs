//! GraphiQL, served by Roster itself: the page is built once and kept in memory, and its
//! scripts and styles are compiled into the binary (`api/assets/graphiql/`, pinned versions,
//! their licences in `LICENSES.txt`), so it works on a machine without internet access.
//! Each asset's path carries its version and the page names it with a Subresource Integrity
//! hash, so browsers may cache it for good.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use sha2::{Digest, Sha384};
use std::sync::LazyLock;

/// Where the assets are served.
pub const ASSETS: &str = "/graphiql/assets";

/// One embedded file.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $ty:expr) => {
        Asset {
            name: $name,
            content_type: $ty,
            bytes: include_bytes!(concat!("../assets/graphiql/", $name)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

/// The files, in the order the page loads the scripts (the stylesheet first).
static FILES: [Asset; 7] = [
    asset!("graphiql-3.8.3.min.css", "text/css; charset=utf-8"),
    asset!("react-18.3.1.production.min.js", JS),
    asset!("react-dom-18.3.1.production.min.js", JS),
    asset!("graphql-ws-5.16.2.min.js", JS),
    asset!("graphiql-3.8.3.min.js", JS),
    asset!("roster-graphiql.js", JS),
    asset!("LICENSES.txt", "text/plain; charset=utf-8"),
];

fn integrity(bytes: &[u8]) -> String {
    let digest = Sha384::digest(bytes);
    format!(
        "sha384-{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// The page, built on first use.
static PAGE: LazyLock<String> = LazyLock::new(|| {
    let mut head = String::new();
    let mut scripts = String::new();
    for a in &FILES {
        let (name, sri) = (a.name, integrity(a.bytes));
        if name.ends_with(".css") {
            head.push_str(&format!(
                r#"<link rel="stylesheet" href="{ASSETS}/{name}" integrity="{sri}">"#
            ));
        } else if name.ends_with(".js") {
            scripts.push_str(&format!(
                r#"<script src="{ASSETS}/{name}" integrity="{sri}"></script>"#
            ));
        }
    }
    format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Roster GraphiQL</title><meta name="viewport" content="width=device-width, initial-scale=1">{head}<style>body{{margin:0;height:100vh}}#graphiql{{height:100vh}}</style></head><body><div id="graphiql">Loading GraphiQL…</div>{scripts}<!-- GraphiQL, React, graphql-ws: MIT, see {ASSETS}/LICENSES.txt --></body></html>"#
    )
});

/// The GraphiQL page.
pub fn page() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        PAGE.as_str(),
    )
        .into_response()
}

/// `GET /graphiql/assets/{name}`.
pub async fn asset(Path(name): Path<String>) -> Response {
    let Some(a) = FILES.iter().find(|a| a.name == name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut r = a.bytes.into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(a.content_type),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_names_every_asset_with_its_integrity_and_nothing_from_elsewhere() {
        for a in FILES.iter().filter(|a| !a.name.ends_with(".txt")) {
            assert!(PAGE.contains(&format!("{ASSETS}/{}", a.name)), "{}", a.name);
            assert!(PAGE.contains(&integrity(a.bytes)), "{}", a.name);
        }
        assert!(
            !PAGE.contains("//cdn") && !PAGE.contains("https://"),
            "{}",
            *PAGE
        );
        let licences = std::str::from_utf8(FILES[6].bytes).unwrap();
        for p in [
            "graphiql 3.8.3",
            "react 18.3.1",
            "react-dom 18.3.1",
            "graphql-ws 5.16.2",
        ] {
            assert!(licences.contains(p), "{p}");
        }
    }
}
