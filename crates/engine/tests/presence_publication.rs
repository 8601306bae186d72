//! Publication: several publishers per presentity, combined into one
//! document (RFC 3863 section 4.1, tuples), each with its own expiry.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use cpim_engine::{Config, Decision, Input, Origin, Principal};
use cpim_formats::op::Status;
use cpim_formats::pidf::{Basic, Presence};

fn ready() -> Harness {
    let mut h = Harness::new(
        Config::new(["example.com"]).with_default_policy("example.com", Decision::Allow),
    );
    h.add_user("alice@example.com");
    h.add_user("bob@example.com");
    h.subscribe("alice@example.com", "bob@example.com", 3600);
    h.take();
    h
}

#[test]
fn publishers_are_combined_into_one_document() {
    let mut h = ready();
    let t = h.publish("bob@example.com", "phone", Basic::Open, 600);
    let out = h.take();
    assert_eq!(only_response(&out, t).duration, Some(600));
    h.publish("bob@example.com", "laptop", Basic::Closed, 600);
    let n = notifies(&h.take());
    assert_eq!(n.len(), 1);
    assert_eq!(
        basics(&n[0].presence),
        vec![
            ("laptop".to_string(), Some(Basic::Closed)),
            ("phone".to_string(), Some(Basic::Open))
        ]
    );
    let doc = h.engine.presence(&addr("bob@example.com")).unwrap();
    assert_eq!(doc.tuples.len(), 2);
    assert_eq!(doc.entity, "pres:bob@example.com");
}

#[test]
fn withdrawal_and_expiry_remove_only_that_publisher() {
    let mut h = ready();
    h.publish("bob@example.com", "phone", Basic::Open, 600);
    h.publish("bob@example.com", "laptop", Basic::Open, 60);
    h.take();
    h.advance(60_000);
    let n = notifies(&h.take());
    assert_eq!(n.len(), 1, "the laptop's expiry is a change");
    assert_eq!(
        basics(&n[0].presence),
        vec![("phone".to_string(), Some(Basic::Open))]
    );
    let t = h.publish("bob@example.com", "phone", Basic::Open, 0);
    let out = h.take();
    assert_eq!(only_response(&out, t).duration, Some(0));
    let n = notifies(&out);
    assert_eq!(n.len(), 1);
    assert!(basics(&n[0].presence).is_empty());
}

#[test]
fn refresh_with_the_same_document_notifies_nobody() {
    let mut h = ready();
    h.publish("bob@example.com", "phone", Basic::Open, 600);
    h.take();
    let t = h.publish("bob@example.com", "phone", Basic::Open, 10 * 86_400);
    let out = h.take();
    assert_eq!(
        only_response(&out, t).duration,
        Some(h.config.max_publication)
    );
    assert!(notifies(&out).is_empty());
    // The refresh moved the expiry: nothing happens at the old one.
    h.advance(600_000);
    assert!(h.take().is_empty());
}

#[test]
fn publishing_for_someone_else_or_a_stranger_fails() {
    let mut h = ready();
    for (principal, who, reason) in [
        (
            Principal::User(addr("alice@example.com")),
            "bob@example.com",
            "not authorised to publish for bob@example.com",
        ),
        (
            Principal::Service,
            "nobody@example.com",
            "nobody@example.com is not a presentity served here",
        ),
    ] {
        let t = h.trans();
        h.handle(Input::Publish {
            origin: Origin(3),
            principal,
            trans_id: t,
            presentity: addr(who),
            publisher: "x".into(),
            presence: Presence::new("pres:x@example.com"),
            duration: 60,
        })
        .unwrap();
        let out = h.take();
        let r = only_response(&out, t);
        assert_eq!(r.status, Status::Failure);
        assert_eq!(r.reason.as_deref(), Some(reason));
        assert!(notifies(&out).is_empty());
    }
}

#[test]
fn publications_expiring_at_different_times_in_one_pass_notify_once() {
    let mut h = ready();
    h.add_user("carol@example.com");
    h.add_user("dave@example.com");
    h.subscribe("alice@example.com", "carol@example.com", 3600);
    h.subscribe("dave@example.com", "bob@example.com", 3600);
    // Bob's and Carol's publications expire interleaved: bob, carol, bob, bob, carol.
    h.publish("bob@example.com", "phone", Basic::Open, 60);
    h.publish("carol@example.com", "phone", Basic::Open, 61);
    h.publish("bob@example.com", "laptop", Basic::Open, 62);
    h.publish("bob@example.com", "tablet", Basic::Open, 63);
    h.publish("carol@example.com", "laptop", Basic::Open, 64);
    h.take();
    // One pass after all of them expired.
    h.now = h.now.plus_secs(100);
    let now = h.now;
    h.engine.handle_timeout(now);
    h.drive();
    let mut told: Vec<(String, String)> = notifies(&h.take())
        .iter()
        .map(|n| (n.watcher.to_string(), n.target.to_string()))
        .collect();
    told.sort();
    assert_eq!(
        told,
        vec![
            (
                "alice@example.com".to_string(),
                "bob@example.com".to_string()
            ),
            (
                "alice@example.com".to_string(),
                "carol@example.com".to_string()
            ),
            (
                "dave@example.com".to_string(),
                "bob@example.com".to_string()
            ),
        ]
    );
    assert!(h
        .engine
        .presence(&addr("bob@example.com"))
        .unwrap()
        .tuples
        .is_empty());
    h.engine.check_invariants().unwrap();
}
