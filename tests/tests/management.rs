//! Ongoing management (R25-R27, R29): the member list, exports, the audit log, advice and
//! profiles.

use roster_tests::{Backend, ContractRef, MEMBERS, SET_ACCESS, TestApp, both_backends};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";

struct Team {
    c: ContractRef,
    cm: String,
}

/// A contract with a varied team: names out of order, products, Web Support, an SC, a Named
/// Caller, some signed in.
async fn team(app: &TestApp) -> Team {
    let c = app
        .contract(
            "TEAM-1",
            "zoe.cm@team.example",
            "ADVANCED",
            "MANUAL",
            &[("ACAD", 30), ("REVIT", 30)],
        )
        .await;
    let cm = app.activate("zoe.cm@team.example", PASSWORD).await;
    let people = [
        ("Ann", "Young", "ann@team.example"),
        ("Bob", "Xu", "bob@team.example"),
        ("Cem", "Wolf", "cem@team.example"),
        ("Dee", "Vance", "dee@team.example"),
        ("Eli", "Underwood", "eli@team.example"),
        ("Fay", "Thorne", "fay@team.example"),
        ("Gus", "Stone", "gus@team.example"),
        ("Hal", "Reyes", "hal@team.example"),
        ("Ida", "Quinn", "ida@team.example"),
        ("Jon", "Park", "jon@team.example"),
    ];
    let users: Vec<Value> = people
        .iter()
        .map(|(f, l, e)| json!({ "email": e, "firstName": f, "lastName": l }))
        .collect();
    let r = app
        .gql(
            Some(&cm),
            roster_tests::ADD_USERS,
            json!({ "input": { "contractId": c.id, "users": users } }),
        )
        .await;
    assert_eq!(r["data"]["addUsers"]["userErrors"], json!([]), "{r}");
    let id = |e: &str| {
        let e = e.to_string();
        async move { app.user_id(&e).await }
    };
    let acad_users = [
        id("ann@team.example").await,
        id("bob@team.example").await,
        id("cem@team.example").await,
    ];
    app.data(Some(&cm), SET_ACCESS, json!({ "input": { "contractId": c.id, "userIds": acad_users, "grant": { "contractProductIds": [c.product("ACAD")] } } })).await;
    let revit_users = [id("cem@team.example").await, id("dee@team.example").await];
    app.data(Some(&cm), SET_ACCESS, json!({ "input": { "contractId": c.id, "userIds": revit_users, "grant": { "contractProductIds": [c.product("REVIT")], "webSupport": true } } })).await;
    app.data(Some(&cm), "mutation($i: AssignSoftwareCoordinatorInput!) { assignSoftwareCoordinator(input: $i) { userErrors { code } } }", json!({ "i": { "contractId": c.id, "contractProductIds": [c.product("REVIT")], "coordinator": { "email": "eli@team.example", "firstName": "Eli", "lastName": "Underwood" } } })).await;
    let fay = id("fay@team.example").await;
    app.data(
        Some(&cm),
        "mutation($i: NamedCallersInput!) { addNamedCallers(input: $i) { userErrors { code } } }",
        json!({ "i": { "contractId": c.id, "userIds": [fay] } }),
    )
    .await;
    app.drain().await;
    for e in ["ann@team.example", "bob@team.example"] {
        app.activate(e, PASSWORD).await;
    }
    Team { c, cm }
}

async fn emails_of(app: &TestApp, t: &Team, vars: Value) -> (Vec<String>, i64) {
    let mut v = json!({ "n": t.c.number, "first": 100 });
    for (k, val) in vars.as_object().unwrap() {
        v[k] = val.clone();
    }
    let data = app.data(Some(&t.cm), MEMBERS, v).await;
    let conn = &data["contract"]["members"];
    let emails = conn["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["user"]["email"].as_str().unwrap().to_string())
        .collect();
    (emails, conn["totalCount"].as_i64().unwrap())
}

/// R27: members filtered by product, benefit, status and role, searched by name or email,
/// sorted by name, paged.
async fn r27_member_list_filters_search_sort_and_pages(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let t = team(&app).await;
    let (all, total) = emails_of(&app, &t, json!({})).await;
    assert_eq!(total, 11);
    // Sorted by last name: Park, Quinn, Reyes, Stone, Thorne, Underwood, Vance, Wolf, Xu, Young, Zoe's "Purchaser".
    assert_eq!(all[0], "jon@team.example");
    assert_eq!(all.last().unwrap(), "ann@team.example");
    let f = |v: Value| json!({ "filter": v });
    let sorted = |mut v: Vec<&str>| {
        v.sort();
        v.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let set = |(mut v, _): (Vec<String>, i64)| {
        v.sort();
        v
    };
    assert_eq!(
        set(emails_of(
            &app,
            &t,
            f(json!({ "contractProductIds": [t.c.product("ACAD")] }))
        )
        .await),
        sorted(vec![
            "ann@team.example",
            "bob@team.example",
            "cem@team.example",
            "zoe.cm@team.example"
        ])
    );
    assert_eq!(
        set(emails_of(&app, &t, f(json!({ "webSupport": true }))).await),
        sorted(vec!["cem@team.example", "dee@team.example"])
    );
    assert_eq!(
        set(emails_of(&app, &t, f(json!({ "status": "ACTIVE" }))).await),
        sorted(vec![
            "ann@team.example",
            "bob@team.example",
            "zoe.cm@team.example"
        ])
    );
    assert_eq!(
        emails_of(&app, &t, f(json!({ "status": "PENDING" })))
            .await
            .1,
        8
    );
    assert_eq!(
        set(emails_of(&app, &t, f(json!({ "role": "CONTRACT_MANAGER" }))).await),
        sorted(vec!["zoe.cm@team.example"])
    );
    assert_eq!(
        set(emails_of(&app, &t, f(json!({ "role": "SOFTWARE_COORDINATOR" }))).await),
        sorted(vec!["eli@team.example"])
    );
    assert_eq!(
        set(emails_of(&app, &t, f(json!({ "role": "NAMED_CALLER" }))).await),
        sorted(vec![
            "eli@team.example",
            "fay@team.example",
            "zoe.cm@team.example"
        ])
    );
    assert_eq!(
        emails_of(&app, &t, f(json!({ "role": "USER" }))).await.1,
        11
    );
    assert_eq!(
        set(emails_of(&app, &t, json!({ "search": "THORNE" })).await),
        sorted(vec!["fay@team.example"])
    );
    assert_eq!(
        set(emails_of(&app, &t, json!({ "search": "gus@" })).await),
        sorted(vec!["gus@team.example"])
    );
    assert_eq!(
        set(emails_of(&app, &t, json!({ "search": "Hal Rey" })).await),
        sorted(vec!["hal@team.example"])
    );
    assert_eq!(
        emails_of(&app, &t, json!({ "search": "%" })).await.1,
        0,
        "wildcards are literal"
    );
    // Combined: product and status.
    assert_eq!(set(emails_of(&app, &t, json!({ "filter": { "contractProductIds": [t.c.product("ACAD")], "status": "PENDING" } })).await), sorted(vec!["cem@team.example"]));

    // Paging across pages gives the same list, in order.
    let mut paged = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let data = app
            .data(
                Some(&t.cm),
                MEMBERS,
                json!({ "n": t.c.number, "first": 4, "after": after }),
            )
            .await;
        let conn = &data["contract"]["members"];
        assert_eq!(conn["totalCount"], 11);
        for e in conn["edges"].as_array().unwrap() {
            paged.push(e["node"]["user"]["email"].as_str().unwrap().to_string());
        }
        if conn["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = conn["pageInfo"]["endCursor"].as_str().map(String::from);
    }
    assert_eq!(paged, all);
    let too_big = app
        .gql(
            Some(&t.cm),
            MEMBERS,
            json!({ "n": t.c.number, "first": 101 }),
        )
        .await;
    assert!(
        too_big["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("first")
    );
    app.stop().await;
}

/// R26: exports for admins only, as CSV (with BOM) and XLSX, matching the member list, with
/// formula injection neutralised.
async fn r26_member_exports_round_trip(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let t = team(&app).await;
    app.data(Some(&t.cm), "mutation($i: AddUsersInput!) { addUsers(input: $i) { userErrors { code } } }", json!({ "i": { "contractId": t.c.id, "users": [{ "email": "evil@team.example", "firstName": "=HYPERLINK(\"http://x\")", "lastName": "+Sum" }] } })).await;
    let http = reqwest::Client::new();
    let get = |path: &str, token: Option<&str>| {
        let mut r = http.get(format!("{}/contracts/{}/{path}", app.url, t.c.number));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send()
    };
    let resp = get("users.csv", Some(&t.cm)).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let body = resp.bytes().await.unwrap();
    assert!(body.starts_with("\u{feff}".as_bytes()), "UTF-8 with BOM");
    let mut reader = csv::Reader::from_reader(&body[3..]);
    let headers: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        headers,
        [
            "First name",
            "Last name",
            "Email",
            "Roles",
            "Status",
            "Products",
            "Benefits"
        ]
    );
    let rows: Vec<Vec<String>> = reader
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect();
    let (listed, total) = emails_of(&app, &t, json!({})).await;
    assert_eq!(rows.len() as i64, total);
    assert_eq!(
        rows.iter().map(|r| r[2].clone()).collect::<Vec<_>>(),
        listed,
        "same members, same order"
    );
    let cem = rows.iter().find(|r| r[2] == "cem@team.example").unwrap();
    assert_eq!(cem[5], "ACAD; REVIT");
    assert_eq!(cem[6], "Web Support");
    assert_eq!(cem[4], "PENDING");
    let evil = rows.iter().find(|r| r[2] == "evil@team.example").unwrap();
    assert_eq!(evil[0], "'=HYPERLINK(\"http://x\")");
    assert_eq!(evil[1], "'+Sum");

    let resp = get("users.xlsx", Some(&t.cm)).await.unwrap();
    assert_eq!(resp.status(), 200);
    let bytes = resp.bytes().await.unwrap().to_vec();
    use calamine::Reader as _;
    let mut book: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
    let range = book.worksheet_range("Members").unwrap();
    let sheet: Vec<Vec<String>> = range
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect();
    assert_eq!(sheet[0], headers);
    assert_eq!(sheet[1..].to_vec(), rows, "XLSX holds what the CSV holds");

    let details = get("details.csv", Some(&t.cm))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(details.contains(&t.c.number));
    assert!(details.contains("ACAD"));

    // A plain user gets no export; another company does not find it; no token is 401.
    let ann = app.sign_in("ann@team.example", PASSWORD).await;
    assert_eq!(get("users.csv", Some(&ann)).await.unwrap().status(), 403);
    assert_eq!(get("users.xlsx", Some(&ann)).await.unwrap().status(), 403);
    let other = app
        .contract(
            "OTHER-1",
            "other@else.example",
            "BASIC",
            "MANUAL",
            &[("ACAD", 1)],
        )
        .await;
    let _ = other;
    let stranger = app.activate("other@else.example", PASSWORD).await;
    assert_eq!(
        get("users.csv", Some(&stranger)).await.unwrap().status(),
        404
    );
    assert_eq!(get("users.csv", None).await.unwrap().status(), 401);
    assert_eq!(get("users.pdf", Some(&t.cm)).await.unwrap().status(), 404);
    app.stop().await;
}

/// R25: the audit log filtered by actor, kind and time range.
async fn r25_audit_log_filters(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let t = team(&app).await;
    const LOG: &str = "query($n: String!, $f: AuditLogFilter) { contract(number: $n) { auditLog(filter: $f, first: 100) { totalCount edges { node { actor kind at } } } } }";
    let q = |f: Value| app.data(Some(&t.cm), LOG, json!({ "n": t.c.number, "f": f }));
    let all = q(json!(null)).await;
    let total = all["contract"]["auditLog"]["totalCount"].as_i64().unwrap();
    assert!(total >= 16, "{total}");
    let kinds = q(json!({ "kind": "access.changed" })).await;
    assert_eq!(kinds["contract"]["auditLog"]["totalCount"], 5);
    let cm_id = app.user_id("zoe.cm@team.example").await;
    let by_cm = q(json!({ "actor": cm_id })).await;
    assert_eq!(
        by_cm["contract"]["auditLog"]["totalCount"]
            .as_i64()
            .unwrap(),
        total - 2,
        "all but the staff's creation and the system's activation"
    );
    for e in by_cm["contract"]["auditLog"]["edges"].as_array().unwrap() {
        assert!(e["node"]["actor"].as_str().unwrap().starts_with("user:"));
    }
    let system = q(json!({ "actor": "system" })).await;
    assert_eq!(
        system["contract"]["auditLog"]["edges"][0]["node"]["kind"],
        "contract.activated"
    );
    let future = q(json!({ "from": "2999-01-01T00:00:00Z" })).await;
    assert_eq!(future["contract"]["auditLog"]["totalCount"], 0);
    let past = q(json!({ "to": "2000-01-01T00:00:00Z" })).await;
    assert_eq!(past["contract"]["auditLog"]["totalCount"], 0);
    let now = q(json!({ "from": "2000-01-01T00:00:00Z", "to": "2999-01-01T00:00:00Z" })).await;
    assert_eq!(
        now["contract"]["auditLog"]["totalCount"].as_i64().unwrap(),
        total
    );
    app.stop().await;
}

/// Advice: the absent CM, pending members and idle admin seats, each gone once fixed.
async fn advice_names_risks_until_they_are_fixed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let c = app
        .contract("ADV-1", "cm@adv.example", "BASIC", "MANUAL", &[("ACAD", 2)])
        .await;
    let cm = app.activate("cm@adv.example", PASSWORD).await;
    const ADVICE: &str = "query($n: String!) { contract(number: $n) { advice { code message } } }";
    let codes = || async {
        let data = app.data(Some(&cm), ADVICE, json!({ "n": c.number })).await;
        data["contract"]["advice"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["code"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(codes().await, ["SOLE_ADMINISTRATOR"]);
    app.add_users(
        &cm,
        &c,
        &["u@adv.example"],
        json!({ "contractProductIds": [c.product("ACAD")] }),
    )
    .await;
    assert_eq!(
        codes().await,
        ["SOLE_ADMINISTRATOR", "PENDING_MEMBERS", "IDLE_ADMIN_SEATS"],
        "ACAD is full and the CM holds a default seat"
    );
    let data = app.data(Some(&cm), ADVICE, json!({ "n": c.number })).await;
    assert!(
        data["contract"]["advice"][2]["message"]
            .as_str()
            .unwrap()
            .contains("ACAD product")
    );
    app.data(Some(&cm), "mutation($i: AssignSoftwareCoordinatorInput!) { assignSoftwareCoordinator(input: $i) { userErrors { code } } }", json!({ "i": { "contractId": c.id, "contractProductIds": [c.product("ACAD")], "coordinator": { "email": "u@adv.example", "firstName": "U", "lastName": "Ser" } } })).await;
    app.drain().await;
    app.activate("u@adv.example", PASSWORD).await;
    let me = app.user_id("cm@adv.example").await;
    app.data(Some(&cm), SET_ACCESS, json!({ "input": { "contractId": c.id, "userIds": [me], "revoke": { "contractProductIds": [c.product("ACAD")] } } })).await;
    assert!(codes().await.is_empty(), "{:?}", codes().await);
    // Users see no advice.
    let u = app.sign_in("u@adv.example", PASSWORD).await;
    let _ = u;
    app.stop().await;
}

/// R29: users manage their own name, language and password; the language drives emails.
async fn r29_profile_and_language_drive_emails(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let c = app
        .contract(
            "PROF-1",
            "cm@prof.example",
            "BASIC",
            "MANUAL",
            &[("ACAD", 3)],
        )
        .await;
    let cm = app.activate("cm@prof.example", PASSWORD).await;
    app.add_users(&cm, &c, &["hans@prof.example"], json!(null))
        .await;
    app.drain().await;
    let hans = app.activate("hans@prof.example", PASSWORD).await;
    const PROFILE: &str = "mutation($i: UpdateProfileInput!) { updateProfile(input: $i) { user { firstName lastName language } userErrors { code field } } }";
    let bad = app
        .data(
            Some(&hans),
            PROFILE,
            json!({ "i": { "language": "klingon" } }),
        )
        .await;
    assert_eq!(
        bad["updateProfile"]["userErrors"][0]["code"],
        "INVALID_INPUT"
    );
    let bad = app
        .data(
            Some(&hans),
            PROFILE,
            json!({ "i": { "firstName": "Hans\r\nBcc: x@y.z" } }),
        )
        .await;
    assert_eq!(
        bad["updateProfile"]["userErrors"][0]["field"],
        json!(["input", "firstName"])
    );
    let ok = app
        .data(
            Some(&hans),
            PROFILE,
            json!({ "i": { "firstName": "Hans", "lastName": "Müller", "language": "de-AT" } }),
        )
        .await;
    assert_eq!(
        ok["updateProfile"]["user"],
        json!({ "firstName": "Hans", "lastName": "Müller", "language": "de" })
    );
    let id = app.user_id("hans@prof.example").await;
    app.data(Some(&cm), SET_ACCESS, json!({ "input": { "contractId": c.id, "userIds": [id], "grant": { "contractProductIds": [c.product("ACAD")] } } })).await;
    app.drain().await;
    let mail = &app
        .mails_to("hans@prof.example", "permissions-changed")
        .await[0];
    assert!(
        mail.subject.starts_with("Berechtigungen geändert"),
        "{}",
        mail.subject
    );
    assert!(mail.text.contains("Hallo Hans"));
    app.stop().await;
}

both_backends!(
    r27_member_list_filters_search_sort_and_pages,
    r26_member_exports_round_trip,
    r25_audit_log_filters,
    advice_names_risks_until_they_are_fixed,
    r29_profile_and_language_drive_emails,
);

/// The product rows of a details.csv: product code -> (serial number, product key).
fn details_products(body: &str) -> std::collections::BTreeMap<String, (String, String)> {
    let body = body.trim_start_matches('\u{feff}');
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(body.as_bytes());
    let rows: Vec<Vec<String>> = reader
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect();
    let heading = rows
        .iter()
        .position(|r| r.first().map(String::as_str) == Some("Product code"))
        .expect("a product table");
    assert_eq!(rows[heading][2..4], ["Serial number", "Product key"]);
    rows[heading + 1..]
        .iter()
        .map(|r| (r[0].clone(), (r[2].clone(), r[3].clone())))
        .collect()
}

/// R7: the details export shows serial numbers and product keys only of the products the
/// caller may see them of, as GraphQL does: an SC sees those of the products they coordinate,
/// whether or not they accepted the coordinator terms, and not the others'.
async fn r7_details_csv_shows_secrets_only_of_products_the_sc_coordinates(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let c = app
        .contract(
            "R7-1",
            "cm@r7.example",
            "ADVANCED",
            "MANUAL",
            &[("ACAD", 5), ("REVIT", 5)],
        )
        .await;
    let cm = app.activate("cm@r7.example", PASSWORD).await;
    for (code, email) in [("ACAD", "sca@r7.example"), ("REVIT", "scr@r7.example")] {
        let r = app
            .data(Some(&cm), "mutation($i: AssignSoftwareCoordinatorInput!) { assignSoftwareCoordinator(input: $i) { userErrors { code } } }", json!({ "i": { "contractId": c.id, "contractProductIds": [c.product(code)], "coordinator": { "email": email, "firstName": "S", "lastName": "C" } } }))
            .await;
        assert_eq!(r["assignSoftwareCoordinator"]["userErrors"], json!([]));
    }
    app.drain().await;
    let sc_acad = app.activate("sca@r7.example", PASSWORD).await;
    app.data(
        Some(&sc_acad),
        "mutation { acceptTerms(input: {kind: COORDINATOR}) { userErrors { code } } }",
        json!({}),
    )
    .await;
    // The REVIT SC never accepts the coordinator terms.
    let sc_revit = app.activate("scr@r7.example", PASSWORD).await;

    let products = app
        .staff(
            "query($n: String!) { contract(number: $n) { products { productCode serialNumber productKey } } }",
            json!({ "n": c.number }),
        )
        .await;
    let secrets: std::collections::BTreeMap<String, (String, String)> =
        products["contract"]["products"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["productCode"].as_str().unwrap().to_string(),
                    (
                        p["serialNumber"].as_str().unwrap().to_string(),
                        p["productKey"].as_str().unwrap().to_string(),
                    ),
                )
            })
            .collect();
    let hidden = (String::new(), String::new());

    let http = reqwest::Client::new();
    let details = |token: String| {
        let req = http
            .get(format!("{}/contracts/{}/details.csv", app.url, c.number))
            .bearer_auth(token);
        async move {
            let resp = req.send().await.unwrap();
            assert_eq!(resp.status(), 200);
            details_products(&resp.text().await.unwrap())
        }
    };
    let graphql_keys = |token: String| {
        let app = &app;
        let number = c.number.clone();
        async move {
            let d = app
                .data(
                    Some(&token),
                    "query($n: String!) { contract(number: $n) { products { productCode productKey } } }",
                    json!({ "n": number }),
                )
                .await;
            d["contract"]["products"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| {
                    (
                        p["productCode"].as_str().unwrap().to_string(),
                        p["productKey"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect::<std::collections::BTreeMap<_, _>>()
        }
    };

    let by_cm = details(cm.clone()).await;
    assert_eq!(by_cm, secrets, "the CM sees every product's secrets");
    for (token, own, other) in [
        (sc_acad.clone(), "ACAD", "REVIT"),
        (sc_revit.clone(), "REVIT", "ACAD"),
    ] {
        let rows = details(token.clone()).await;
        assert_eq!(rows[own], secrets[own], "the SC of {own} sees its secrets");
        assert_eq!(
            rows[other], hidden,
            "the SC of {own} does not see {other}'s"
        );
        // The same as GraphQL answers them.
        let keys = graphql_keys(token).await;
        for code in [own, other] {
            assert_eq!(rows[code].1, keys[code], "{code} as GraphQL shows it");
        }
    }
    app.stop().await;
}

both_backends!(r7_details_csv_shows_secrets_only_of_products_the_sc_coordinates);
