//! Draft section 3.4.1 step 2: a watcher the presentity refused learns
//! nothing; one it has not decided about waits until it is asked and
//! allowed. A token acts only as its own addresses.

use crate::harness::{data_dir, Server};

#[test]
fn a_denied_watcher_is_refused_and_learns_nothing() {
    let dir = data_dir();
    let server = Server::start(dir.path(), &[]);
    let alice = server.user("alice");
    let eve = server.user("eve");
    let eve_inbox = server.watch(&eve);
    let (code, _) = server.cpim(&alice, &["publish", "--status", "open", "--note", "secret"]);
    assert_eq!(code, 0);
    let (code, answer) = server.cpim(&alice, &["deny", &eve.pres()]);
    assert_eq!(code, 0, "{answer}");
    assert_eq!(answer["decision"], "deny");

    let (code, answer) = server.cpim(&eve, &["subscribe", &alice.pres()]);
    assert_eq!(code, 1, "{answer}");
    assert_eq!(answer["status"], "failure");
    let (code, answer) = server.cpim(&eve, &["fetch", &alice.pres()]);
    assert_eq!(code, 1, "{answer}");
    assert!(answer["presence"].is_null(), "{answer}");

    let (code, _) = server.cpim(
        &alice,
        &["publish", "--status", "closed", "--note", "secret 2"],
    );
    assert_eq!(code, 0);
    let (code, _) = server.cpim(&alice, &["send", "--to", &eve.im(), "marker"]);
    assert_eq!(code, 0);
    eve_inbox.next(|e| e["op"] == "message");
    for event in eve_inbox.drain() {
        assert!(
            !event.to_string().contains("secret"),
            "eve learned something: {event}"
        );
    }
}

#[test]
fn ask_then_allow() {
    let dir = data_dir();
    let server = Server::start(dir.path(), &[]);
    let alice = server.user("alice");
    let bob = server.user("bob");
    let alice_inbox = server.watch(&alice);
    let bob_inbox = server.watch(&bob);
    let (code, _) = server.cpim(&alice, &["publish", "--status", "open", "--note", "hello"]);
    assert_eq!(code, 0);

    let (code, answer) = server.cpim(&bob, &["subscribe", &alice.pres()]);
    assert_eq!(code, 0, "{answer}");
    let asked = alice_inbox.next(|e| e["op"] == "watcher");
    assert_eq!(asked["presentity"], alice.pres().as_str());
    assert_eq!(asked["watcher"], bob.pres().as_str());
    let (_, watchers) = server.cpim(&alice, &["watchers"]);
    assert_eq!(
        watchers["requests"][0]["watcher"],
        bob.pres().as_str(),
        "{watchers}"
    );
    let pending = bob_inbox.next(|e| e["op"] == "notify");
    assert_eq!(pending["state"], "pending");
    assert!(pending["presence"].is_null(), "{pending}");

    let (code, _) = server.cpim(&alice, &["allow", &bob.pres()]);
    assert_eq!(code, 0);
    let active = bob_inbox.next(|e| e["op"] == "notify" && e["state"] == "active");
    assert_eq!(active["presence"]["tuples"][0]["note"], "hello");
    let (_, watchers) = server.cpim(&alice, &["watchers"]);
    assert_eq!(watchers["watchers"][0]["status"], "active", "{watchers}");
}

#[test]
fn a_token_acts_only_as_its_own_user() {
    let dir = data_dir();
    let server = Server::start(dir.path(), &[]);
    let alice = server.user("alice");
    let bob = server.user("bob");
    let (code, answer) = server.cpim(
        &bob,
        &["send", "--from", &alice.im(), "--to", &bob.im(), "forged"],
    );
    assert_eq!(code, 1);
    assert_eq!(answer["field"], "from", "{answer}");
    assert!(
        answer["error"].as_str().unwrap().contains("acts only as"),
        "{answer}"
    );
}
