//! Issue 18, production under faults: websockets held to the HTTP rules (the session as it is
//! now, the per-address sign-in throttle, the body limit) and one sign-in throttle shared by
//! every API process.

use roster_tests::process::RosterProcess;
use roster_tests::ws::Socket;
use roster_tests::{ADD_USERS, Backend, TestApp, both_backends};
use serde_json::{Value, json};
use std::time::Duration;

const ROSTER: &str = env!("CARGO_BIN_EXE_roster-proc");
const PASSWORD: &str = "correct horse battery";

/// The next message of `id` on the socket within a generous bound (the machine is loaded).
async fn next_for(ws: &mut Socket, id: &str) -> Value {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(30), ws.next_json())
            .await
            .expect("an answer within 30 s")
            .expect("the socket stays open");
        if msg["id"] == id {
            return msg;
        }
    }
}

/// How a session ends, through HTTP, while a socket opened with its token stays open.
#[derive(Clone, Copy)]
enum End {
    SignOut,
    ChangePassword,
}

/// Ends the session `token` of `email`: signing it out, or changing the password through
/// another session (which signs out every other session, R29).
async fn end_session(app: &TestApp, email: &str, token: &str, how: End) {
    match how {
        End::SignOut => {
            let r = app
                .data(Some(token), "mutation { signOut { signedOut } }", json!({}))
                .await;
            assert_eq!(r["signOut"]["signedOut"], true, "{r}");
        }
        End::ChangePassword => {
            let changer = app.session_for(email).await;
            let r = app
                .data(Some(&changer), "mutation { changePassword(input: {currentPassword: \"correct horse battery\", newPassword: \"a brand new secret\"}) { userErrors { code } } }", json!({}))
                .await;
            assert_eq!(r["changePassword"]["userErrors"], json!([]), "{r}");
        }
    }
}

/// After `signOut` or `changePassword` ended the session, a socket opened with its token runs
/// no more operations (an `addUsers` over it adds nobody) and its subscription delivers no
/// more events: the stream ends with UNAUTHENTICATED.
async fn websocket_operations_and_events_end_with_the_session(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for (n, how) in [(1, End::SignOut), (2, End::ChangePassword)] {
        let cm_email = format!("cm{n}@wss.example");
        let c = app
            .contract(
                &format!("WSS-{n}"),
                &cm_email,
                "BASIC",
                "MANUAL",
                &[("ACAD", 10)],
            )
            .await;
        app.drain().await;
        let cm = app.activate(&cm_email, PASSWORD).await;
        let (mut ws, ack) = Socket::connect(&app.url, Some(&cm)).await;
        assert_eq!(ack.unwrap()["type"], "connection_ack");
        // While the session stands, the socket works and events arrive.
        ws.subscribe(
            "events",
            "subscription($c: ID!) { contractChanged(contractId: $c) { kind } }",
            json!({ "c": c.id }),
        )
        .await;
        let mut first = None;
        for i in 0..30 {
            app.add_users(&cm, &c, &[&format!("before{i}@wss.example")], json!(null))
                .await;
            if let Ok(msg) =
                tokio::time::timeout(Duration::from_millis(500), next_for(&mut ws, "events")).await
            {
                first = Some(msg);
                break;
            }
        }
        let first = first.expect("an event while the session stands");
        assert_eq!(first["type"], "next", "{first}");
        assert_eq!(
            first["payload"]["data"]["contractChanged"]["kind"],
            "members"
        );

        // Events of the adds above still on their way are let through first.
        while let Ok(msg) =
            tokio::time::timeout(Duration::from_secs(2), next_for(&mut ws, "events")).await
        {
            assert_eq!(msg["type"], "next", "{msg}");
        }
        end_session(&app, &cm_email, &cm, how).await;
        let members_before = app.count("memberships").await;

        // A change made through another session is an event the ended session must not see.
        let other = app.session_for(&cm_email).await;
        app.add_users(&other, &c, &["after@wss.example"], json!(null))
            .await;
        let members_between = app.count("memberships").await;
        assert!(members_between > members_before, "staff added a member");
        let ended = next_for(&mut ws, "events").await;
        assert_eq!(ended["type"], "next", "{ended}");
        assert!(ended["payload"]["data"].is_null(), "no event data: {ended}");
        assert_eq!(
            ended["payload"]["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
            "{ended}"
        );
        let complete = next_for(&mut ws, "events").await;
        assert_eq!(complete["type"], "complete", "{complete}");

        // A mutation over the socket is refused and changes nothing.
        ws.subscribe(
            "add",
            ADD_USERS,
            json!({ "input": { "contractId": c.id, "users": [{ "email": "sneaky@wss.example", "firstName": "A", "lastName": "B" }] } }),
        )
        .await;
        let refused = next_for(&mut ws, "add").await;
        assert_eq!(
            refused["payload"]["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
            "{refused}"
        );
        assert!(refused["payload"]["data"].is_null(), "{refused}");
        assert_eq!(
            app.count("memberships").await,
            members_between,
            "nobody was added"
        );
        // And so is a query.
        ws.subscribe("me", "{ viewer { user { email } } }", json!({}))
            .await;
        let me = next_for(&mut ws, "me").await;
        assert_eq!(
            me["payload"]["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
            "{me}"
        );
    }
    app.stop().await;
}

/// Sign-in attempts over one socket count against the client's address as over HTTP: of 70,
/// the 61st and later are refused with TOO_MANY_ATTEMPTS.
async fn websocket_sign_in_attempts_are_throttled_per_address(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (mut ws, ack) = Socket::connect(&app.url, None).await;
    assert_eq!(ack.unwrap()["type"], "connection_ack");
    let mut codes = Vec::new();
    for batch in 0..7 {
        // Ten attempts a message, each for a different (unknown) account, so only the
        // per-address limit can refuse them.
        let guesses: String = (0..10)
            .map(|i| format!("g{i}: signIn(input: {{email: \"nobody{batch}x{i}@wst.example\", password: \"some guess\"}}) {{ userErrors {{ code }} }} "))
            .collect();
        let id = format!("b{batch}");
        ws.subscribe(&id, &format!("mutation {{ {guesses} }}"), json!({}))
            .await;
        let r = next_for(&mut ws, &id).await;
        for i in 0..10 {
            codes.push(
                r["payload"]["data"][format!("g{i}")]["userErrors"][0]["code"]
                    .as_str()
                    .unwrap_or_else(|| panic!("a code: {r}"))
                    .to_string(),
            );
        }
    }
    assert!(
        codes[..60].iter().all(|c| c == "INVALID_CREDENTIALS"),
        "{codes:?}"
    );
    assert!(
        codes[60..].iter().all(|c| c == "TOO_MANY_ATTEMPTS"),
        "{codes:?}"
    );
    app.stop().await;
}

/// A websocket message larger than HTTP's 64 KiB body limit is not executed: the socket is
/// closed instead. A message under the limit still runs.
async fn websocket_messages_over_the_body_limit_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let c = app
        .contract(
            "WSL-1",
            "cm@wsl.example",
            "BASIC",
            "MANUAL",
            &[("ACAD", 10)],
        )
        .await;
    app.drain().await;
    let cm = app.activate("cm@wsl.example", PASSWORD).await;
    let (mut ws, ack) = Socket::connect(&app.url, Some(&cm)).await;
    assert_eq!(ack.unwrap()["type"], "connection_ack");
    let padding = " ".repeat(1024);
    ws.subscribe(
        "small",
        &format!("{{ viewer {{ user {{ email }} }} }}{padding}"),
        json!({}),
    )
    .await;
    let small = next_for(&mut ws, "small").await;
    assert_eq!(
        small["payload"]["data"]["viewer"]["user"]["email"], "cm@wsl.example",
        "{small}"
    );

    // 1 MiB: a mutation padded with whitespace; were it run, a member would be added.
    let before = app.count("memberships").await;
    let padding = " ".repeat(1024 * 1024);
    let big = json!({ "id": "big", "type": "subscribe", "payload": {
        "query": format!("{ADD_USERS}{padding}"),
        "variables": { "input": { "contractId": c.id, "users": [{ "email": "big@wsl.example", "firstName": "A", "lastName": "B" }] } },
    }});
    ws.send_raw(big.to_string()).await;
    loop {
        let answer = tokio::time::timeout(Duration::from_secs(30), ws.next_json())
            .await
            .expect("the server answers or closes within 30 s");
        match answer {
            None => break,
            Some(msg) => assert_ne!(msg["id"], "big", "the big document was answered: {msg}"),
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        app.count("memberships").await,
        before,
        "the big document did not run"
    );
    app.stop().await;
}

both_backends!(
    websocket_operations_and_events_end_with_the_session,
    websocket_sign_in_attempts_are_throttled_per_address,
    websocket_messages_over_the_body_limit_are_refused,
);

/// Production: wrong passwords for one account sent alternately to two `roster serve`
/// processes on the same database and Redis are throttled at the 11th attempt, as one
/// process throttles them (the counts live in Redis).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_throttle_is_shared_by_every_api_process() {
    let app = TestApp::spawn(Backend::Postgres).await;
    app.contract("THS-1", "cm@ths.example", "BASIC", "MANUAL", &[("ACAD", 1)])
        .await;
    app.drain().await;
    app.activate("cm@ths.example", PASSWORD).await;
    let mut settings = app.worker_settings("second-api");
    settings.listen = Some("127.0.0.1:0".into());
    let second = RosterProcess::start(ROSTER, "second-api", &settings, &["serve"]).await;
    let second_url = format!("http://{}/graphql", second.addr.unwrap());
    let http = reqwest::Client::new();
    let mut codes = Vec::new();
    for i in 0..12 {
        let body = json!({ "query": format!("mutation {{ signIn(input: {{email: \"cm@ths.example\", password: \"wrong guess {i}\"}}) {{ userErrors {{ code }} }} }}") });
        let url = if i % 2 == 0 {
            format!("{}/graphql", app.url)
        } else {
            second_url.clone()
        };
        let r: Value = http
            .post(url)
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        codes.push(
            r["data"]["signIn"]["userErrors"][0]["code"]
                .as_str()
                .unwrap_or_else(|| panic!("a code: {r}"))
                .to_string(),
        );
    }
    assert!(
        codes[..10].iter().all(|c| c == "INVALID_CREDENTIALS"),
        "{codes:?}"
    );
    assert_eq!(codes[10], "TOO_MANY_ATTEMPTS", "{codes:?}");
    assert_eq!(codes[11], "TOO_MANY_ATTEMPTS", "{codes:?}");
    assert!(second.stop().await, "the second API process stops cleanly");
    app.stop().await;
}
