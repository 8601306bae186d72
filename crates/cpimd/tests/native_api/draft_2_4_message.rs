//! Draft section 2.4.1: a message to an open inbox is delivered and answered
//! `success`; to a user with no open inbox it fails.

use crate::harness::{data_dir, Server};

#[test]
fn two_users_message_each_other() {
    let dir = data_dir();
    let server = Server::start(dir.path(), &[]);
    let alice = server.user("alice");
    let bob = server.user("bob");
    let alice_inbox = server.watch(&alice);
    let bob_inbox = server.watch(&bob);

    let (code, answer) = server.cpim(&alice, &["send", "--to", &bob.im(), "hello bob"]);
    assert_eq!(code, 0, "{answer}");
    assert_eq!(answer["status"], "success");
    let id = answer["transID"].as_str().unwrap().to_owned();
    assert!(id.parse::<u32>().is_ok_and(|n| n >= 1), "transID {id}");
    let got = bob_inbox.next(|e| e["op"] == "message");
    assert_eq!(got["from"], alice.im().as_str());
    assert_eq!(got["to"], bob.im().as_str());
    assert_eq!(got["body"], "hello bob");
    assert_eq!(got["content_type"], "text/plain");
    assert_eq!(got["transID"].as_str(), Some(id.as_str()));

    let (code, answer) = server.cpim(
        &bob,
        &["send", "--to", &alice.im(), "--from", &bob.im(), "hi alice"],
    );
    assert_eq!(code, 0, "{answer}");
    let got = alice_inbox.next(|e| e["op"] == "message");
    assert_eq!(got["from"], bob.im().as_str());
    assert_eq!(got["body"], "hi alice");
}

#[test]
fn message_to_a_closed_inbox_fails() {
    let dir = data_dir();
    let server = Server::start(dir.path(), &[]);
    let alice = server.user("alice");
    let bob = server.user("bob");
    let (code, answer) = server.cpim(&alice, &["send", "--to", &bob.im(), "anyone?"]);
    assert_eq!(code, 1, "{answer}");
    assert_eq!(answer["status"], "failure");

    let (code, answer) = server.cpim(&alice, &["send", "--to", "im:nobody@example.com", "x"]);
    assert_eq!(code, 1, "{answer}");
    assert_eq!(answer["status"], "failure");
}

#[test]
fn a_user_added_while_running_can_receive_at_once() {
    let dir = data_dir();
    let server = Server::start(dir.path(), &[]);
    let alice = server.user("alice");
    let (code, _) = server.cpim(&alice, &["send", "--to", "im:carol@example.com", "x"]);
    assert_eq!(code, 1);
    let carol = server.user("carol");
    let inbox = server.watch(&carol);
    let (code, answer) = server.cpim(&alice, &["send", "--to", &carol.im(), "welcome"]);
    assert_eq!(code, 0, "{answer}");
    assert_eq!(inbox.next(|e| e["op"] == "message")["body"], "welcome");
}
