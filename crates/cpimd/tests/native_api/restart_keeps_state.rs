//! Draft section 3.4: state is kept in persistent storage. After a clean
//! stop (SIGTERM) and a start on the same data, accounts, policy,
//! subscriptions and presence are all still there.

use crate::harness::{data_dir, Server};

#[test]
fn restart_keeps_state() {
    let dir = data_dir();
    let mut server = Server::start(dir.path(), &[]);
    let alice = server.user("alice");
    let bob = server.user("bob");
    assert_eq!(server.cpim(&alice, &["allow", &bob.pres()]).0, 0);
    assert_eq!(
        server
            .cpim(&bob, &["subscribe", &alice.pres(), "--duration", "3000"])
            .0,
        0
    );
    assert_eq!(
        server
            .cpim(&alice, &["publish", "--status", "open", "--note", "before"])
            .0,
        0
    );

    let status = server.terminate();
    assert!(
        status.success(),
        "cpimd exited with {status:?}:\n{}",
        server.log()
    );
    server.restart();

    let (code, watchers) = server.cpim(&alice, &["watchers"]);
    assert_eq!(code, 0);
    assert_eq!(
        watchers["watchers"][0]["watcher"],
        bob.pres().as_str(),
        "{watchers}"
    );
    assert_eq!(watchers["watchers"][0]["status"], "active");
    let left = watchers["watchers"][0]["expires"].as_u64().unwrap();
    assert!(left > 0 && left <= 3000, "{left}");

    let (code, answer) = server.cpim(&bob, &["fetch", &alice.pres()]);
    assert_eq!(code, 0, "{answer}");
    assert_eq!(answer["presence"]["tuples"][0]["note"], "before");

    // The subscription still notifies.
    let inbox = server.watch(&bob);
    assert_eq!(
        server
            .cpim(
                &alice,
                &["publish", "--status", "closed", "--note", "after"]
            )
            .0,
        0
    );
    let notify = inbox.next(|e| e["op"] == "notify");
    assert_eq!(notify["presence"]["tuples"][0]["note"], "after");
}
