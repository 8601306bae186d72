//! Draft section 3.4: publish, subscribe, notify (3.4.2), fetch (3.4.4) and
//! expiry (3.4.1 step 4c) through the native API.

use crate::harness::{data_dir, Server};

#[test]
fn a_watcher_sees_presence_change() {
    let dir = data_dir();
    let server = Server::start(dir.path(), &[]);
    let alice = server.user("alice");
    let bob = server.user("bob");
    let bob_inbox = server.watch(&bob);
    let (code, _) = server.cpim(&alice, &["allow", &bob.pres()]);
    assert_eq!(code, 0);

    let (code, answer) = server.cpim(&bob, &["subscribe", &alice.pres(), "--duration", "600"]);
    assert_eq!(code, 0, "{answer}");
    assert_eq!(answer["status"], "success");
    assert_eq!(answer["duration"], 600);

    let (code, answer) = server.cpim(
        &alice,
        &["publish", "--status", "open", "--note", "at my desk"],
    );
    assert_eq!(code, 0, "{answer}");
    let notify =
        bob_inbox.next(|e| e["op"] == "notify" && e["presence"]["tuples"][0]["basic"] == "open");
    assert_eq!(notify["target"], alice.pres().as_str());
    assert_eq!(notify["watcher"], bob.pres().as_str());
    assert_eq!(notify["state"], "active");
    assert_eq!(notify["presence"]["tuples"][0]["note"], "at my desk");

    let (code, _) = server.cpim(&alice, &["publish", "--status", "closed"]);
    assert_eq!(code, 0);
    let notify = bob_inbox.next(|e| e["op"] == "notify");
    assert_eq!(notify["presence"]["tuples"][0]["basic"], "closed");

    let (code, answer) = server.cpim(&bob, &["unsubscribe", &alice.pres()]);
    assert_eq!(code, 0, "{answer}");
    let (code, _) = server.cpim(&alice, &["publish", "--status", "open"]);
    assert_eq!(code, 0);
    // A marker message proves every earlier event has been delivered.
    let (code, _) = server.cpim(&alice, &["send", "--to", &bob.im(), "marker"]);
    assert_eq!(code, 0);
    bob_inbox.next(|e| e["op"] == "message");
    let after: Vec<_> = bob_inbox
        .drain()
        .into_iter()
        .filter(|e| e["op"] == "notify" && e["state"] == "active")
        .collect();
    assert!(after.is_empty(), "notified after unsubscribing: {after:?}");
}

#[test]
fn fetch_returns_presence_once() {
    let dir = data_dir();
    let server = Server::start(dir.path(), &[]);
    let alice = server.user("alice");
    let bob = server.user("bob");
    let (code, _) = server.cpim(&alice, &["publish", "--status", "open", "--note", "lunch"]);
    assert_eq!(code, 0);
    let (code, _) = server.cpim(&alice, &["allow", &bob.pres()]);
    assert_eq!(code, 0);
    let (code, answer) = server.cpim(&bob, &["fetch", &alice.pres()]);
    assert_eq!(code, 0, "{answer}");
    assert_eq!(answer["status"], "success");
    assert_eq!(answer["presence"]["entity"], alice.pres().as_str());
    assert_eq!(answer["presence"]["tuples"][0]["basic"], "open");
    assert_eq!(answer["presence"]["tuples"][0]["note"], "lunch");
    // A fetch leaves no subscription behind.
    let (_, watchers) = server.cpim(&alice, &["watchers"]);
    assert_eq!(
        watchers["watchers"].as_array().map(Vec::len),
        Some(0),
        "{watchers}"
    );
}

#[test]
fn pidf_in_and_out() {
    let dir = data_dir();
    let server = Server::start(dir.path(), &[]);
    let alice = server.user("alice");
    let pidf = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" entity=\"{}\"><tuple id=\"x1\"><status><basic>open</basic></status><contact priority=\"0.8\">im:alice@example.com</contact></tuple></presence>",
        alice.pres()
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let http = crate::harness::http();
        let url = format!("{}/v1/presence/{}", server.url, alice.pres());
        let put = http
            .put(&url)
            .bearer_auth(&alice.token)
            .header("content-type", "application/pidf+xml")
            .body(pidf)
            .send()
            .await
            .unwrap();
        assert_eq!(put.status(), 200);
        let get = http
            .get(&url)
            .bearer_auth(&alice.token)
            .header("accept", "application/pidf+xml")
            .send()
            .await
            .unwrap();
        assert_eq!(get.status(), 200);
        assert_eq!(
            get.headers()["content-type"].to_str().unwrap(),
            "application/pidf+xml"
        );
        let text = get.text().await.unwrap();
        let back = cpim_formats::pidf::Presence::parse(text.as_bytes()).unwrap();
        assert_eq!(back.tuples.len(), 1);
        assert_eq!(back.tuples[0].id, "x1");
        assert_eq!(
            back.tuples[0].contact.as_ref().map(|c| &*c.uri),
            Some("im:alice@example.com")
        );
    });
}

#[test]
fn a_subscription_expires() {
    let dir = data_dir();
    let config = dir.path().join("cpimd.toml");
    std::fs::write(
        &config,
        "[service]\nmin_subscription = 1\ndefault_policy = \"allow\"\n",
    )
    .unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data, &["--config", config.to_str().unwrap()]);
    let alice = server.user("alice");
    let bob = server.user("bob");
    let inbox = server.watch(&bob);
    let (code, answer) = server.cpim(&bob, &["subscribe", &alice.pres(), "--duration", "1"]);
    assert_eq!(code, 0, "{answer}");
    assert_eq!(answer["duration"], 1);
    let ended = inbox.next(|e| e["op"] == "notify" && e["state"] == "terminated");
    assert_eq!(ended["reason"], "expired");
    assert!(ended["presence"].is_null());
    let (_, watchers) = server.cpim(&alice, &["watchers"]);
    assert_eq!(
        watchers["watchers"].as_array().map(Vec::len),
        Some(0),
        "{watchers}"
    );
}

#[test]
fn a_lapsed_publication_leaves_its_watchers() {
    let dir = data_dir();
    let server = Server::start(dir.path(), &[]);
    let alice = server.user("alice");
    let bob = server.user("bob");
    let inbox = server.watch(&bob);
    let (code, _) = server.cpim(&alice, &["allow", &bob.pres()]);
    assert_eq!(code, 0);
    let (code, answer) = server.cpim(&bob, &["subscribe", &alice.pres(), "--duration", "600"]);
    assert_eq!(code, 0, "{answer}");

    let (code, answer) = server.cpim(
        &alice,
        &[
            "publish",
            "--status",
            "open",
            "--expires",
            "1",
            "--note",
            "brief",
        ],
    );
    assert_eq!(code, 0, "{answer}");
    assert_eq!(answer["duration"], 1, "{answer}");
    let shown =
        inbox.next(|e| e["op"] == "notify" && e["presence"]["tuples"][0]["basic"] == "open");
    assert_eq!(shown["presence"]["tuples"][0]["note"], "brief");

    // Once the publication lapses the subscription goes on, and its notify
    // carries presence with no tuples: nothing is published any more.
    let gone = inbox.next(|e| {
        e["op"] == "notify"
            && e["presence"]["tuples"]
                .as_array()
                .is_some_and(Vec::is_empty)
    });
    assert_eq!(gone["state"], "active", "{gone}");
    assert_eq!(gone["target"], alice.pres().as_str());
    let (code, answer) = server.cpim(&bob, &["fetch", &alice.pres()]);
    assert_eq!(code, 0, "{answer}");
    assert_eq!(
        answer["presence"]["tuples"].as_array().map(Vec::len),
        Some(0),
        "{answer}"
    );
}
