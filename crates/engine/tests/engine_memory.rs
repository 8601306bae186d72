//! Addresses are interned while something holds them and freed after: a
//! long-running service does not grow with every watcher it ever saw.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use cpim_engine::{Config, Decision, Input, PolicySubject};

#[test]
fn watchers_that_come_and_go_leave_nothing_interned() {
    let mut h = Harness::new(
        Config::new(["example.com"]).with_default_policy("example.com", Decision::Allow),
    );
    h.add_user("bob@example.com");
    let baseline = h.engine.interned_addresses();
    for i in 0..500 {
        h.subscribe(&format!("w{i}@example.net"), "bob@example.com", 60);
    }
    for i in 500..1000 {
        h.subscribe(&format!("w{i}@example.net"), "bob@example.com", 0);
    }
    assert_eq!(h.engine.interned_addresses(), baseline + 500);
    h.engine.check_invariants().unwrap();
    h.advance(60_000);
    assert_eq!(h.engine.subscription_count(), 0);
    assert_eq!(h.engine.interned_addresses(), baseline);
    h.engine.check_invariants().unwrap();
    // Freed ids are reused without mixing addresses up.
    h.subscribe("again@example.net", "bob@example.com", 60);
    let list = h.engine.watchers(&addr("bob@example.com"));
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].watcher.to_string(), "again@example.net");
    h.engine.check_invariants().unwrap();
}

#[test]
fn refused_requests_and_withdrawn_records_intern_nothing() {
    let mut h = Harness::new(
        Config::new(["example.com"]).with_default_policy("example.com", Decision::Deny),
    );
    h.add_user("bob@example.com");
    let baseline = h.engine.interned_addresses();
    h.subscribe("x@example.net", "bob@example.com", 60);
    h.subscribe("y@example.net", "bob@example.com", 0);
    h.message("z@example.net", "bob@example.com", "hi");
    assert_eq!(h.engine.interned_addresses(), baseline);
    for decision in [Some(Decision::Allow), None] {
        h.handle(Input::SetPolicy {
            presentity: addr("bob@example.com"),
            subject: PolicySubject::Watcher("x@example.net".into()),
            decision,
        })
        .unwrap();
    }
    for blocked in [true, false] {
        h.handle(Input::SetBlock {
            inbox: addr("bob@example.com"),
            sender: addr("s@example.net"),
            blocked,
        })
        .unwrap();
    }
    assert_eq!(h.engine.interned_addresses(), baseline);
    h.handle(Input::RemoveUser(addr("bob@example.com")))
        .unwrap();
    assert_eq!(h.engine.interned_addresses(), 0);
    h.engine.check_invariants().unwrap();
}
