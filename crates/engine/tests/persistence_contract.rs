//! The persistence contract of `Store` (draft section 3.4: presence and
//! in-progress operations in persistent storage): changes come before the
//! response they justify; a restore keeps every acknowledged subscription,
//! publication, policy, block and delegation, with its remaining duration,
//! and sends nothing again.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use cpim_engine::{
    Change, Config, Decision, Effect, Engine, Input, Origin, PolicySubject, Principal, Reason,
    Snapshot, Store, SubState, SubscriptionStatus, Timestamp,
};
use cpim_formats::op::{ResponseOp, Status, SubscribeOp, TransId};
use cpim_formats::pidf::Basic;

fn ready() -> Harness {
    let config = Config::new(["example.com"])
        .with_route("example.net", "sip", true)
        .with_default_policy("example.com", Decision::Allow);
    let mut h = Harness::new(config);
    h.add_user("alice@example.com");
    h.add_user("bob@example.com");
    h.publish("bob@example.com", "phone", Basic::Open, 3600);
    h.take();
    h
}

#[test]
fn changes_come_before_the_response_they_justify() {
    let mut h = ready();
    let t = h.trans();
    let op = SubscribeOp {
        watcher: pres("alice@example.com"),
        target: pres("bob@example.com"),
        duration: 600,
        trans_id: t,
    };
    h.engine
        .handle(
            Input::Subscribe {
                origin: Origin(1),
                principal: Principal::Service,
                op,
            },
            h.now,
        )
        .unwrap();
    let effects: Vec<Effect> = h.engine.drain_effects().collect();
    let put = effects
        .iter()
        .position(|e| matches!(e, Effect::Persist(Change::PutSubscription(_))))
        .unwrap();
    let respond = effects
        .iter()
        .position(|e| matches!(e, Effect::Respond { .. }))
        .unwrap();
    let notify = effects
        .iter()
        .position(|e| matches!(e, Effect::Notify(_)))
        .unwrap();
    assert!(put < respond && respond < notify);
}

#[test]
fn restore_keeps_remaining_duration_and_sends_nothing() {
    let mut h = ready();
    h.subscribe("alice@example.com", "bob@example.com", 600);
    h.take();
    h.advance(100_000);
    h.restart();
    assert!(h.engine.poll_effect().is_none(), "restore sends nothing");
    assert_eq!(
        h.engine.poll_timeout(),
        Some(Timestamp::from_millis(START).plus_secs(600))
    );
    let w = h.engine.watchers(&addr("bob@example.com"));
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].status, SubscriptionStatus::Active);
    // Presence survived, and changes still reach the restored watcher.
    assert_eq!(
        h.engine
            .presence(&addr("bob@example.com"))
            .unwrap()
            .tuples
            .len(),
        1
    );
    h.publish("bob@example.com", "phone", Basic::Closed, 3600);
    let n = notifies(&h.take());
    assert_eq!(n.len(), 1);
    assert_eq!(n[0].watcher.to_string(), "alice@example.com");
    // Step 3 still holds after the restart.
    let t = h.subscribe("alice@example.com", "bob@example.com", 600);
    assert_eq!(only_response(&h.take(), t).status, Status::Failure);
    h.advance(500_000 - 1);
    assert!(h.take().is_empty());
    h.advance(1);
    assert_eq!(
        notifies(&h.take())[0].state,
        SubState::Terminated(Reason::Expired)
    );
}

#[test]
fn restore_after_expiry_ends_the_subscription_at_the_first_timeout() {
    let mut h = ready();
    h.subscribe("alice@example.com", "bob@example.com", 60);
    h.take();
    h.restart();
    h.now = h.now.plus_secs(3600);
    h.engine.handle_timeout(h.now);
    h.drive();
    let n = notifies(&h.take());
    assert_eq!(n.len(), 1);
    assert_eq!(n[0].state, SubState::Terminated(Reason::Expired));
    assert!(h.store.load().unwrap().subscriptions.is_empty());
    assert!(
        h.store.load().unwrap().publications.is_empty(),
        "the publication expired too"
    );
}

#[test]
fn policies_pending_requests_blocks_and_users_survive() {
    let mut h = ready();
    h.handle(Input::SetPolicy {
        presentity: addr("bob@example.com"),
        subject: PolicySubject::Watcher("carol@example.net".into()),
        decision: Some(Decision::Ask),
    })
    .unwrap();
    h.subscribe("carol@example.net", "bob@example.com", 600);
    h.handle(Input::SetBlock {
        inbox: addr("alice@example.com"),
        sender: addr("bob@example.com"),
        blocked: true,
    })
    .unwrap();
    h.take();
    h.restart();
    assert_eq!(h.engine.pending_requests(&addr("bob@example.com")).len(), 1);
    assert_eq!(
        h.engine.watchers(&addr("bob@example.com"))[0].status,
        SubscriptionStatus::Pending
    );
    h.open(1, "alice@example.com");
    let t = h.message("bob@example.com", "alice@example.com", "hi");
    assert_eq!(
        only_response(&h.take(), t).status,
        Status::Failure,
        "the block survived"
    );
    h.handle(Input::SetPolicy {
        presentity: addr("bob@example.com"),
        subject: PolicySubject::Watcher("carol@example.net".into()),
        decision: Some(Decision::Allow),
    })
    .unwrap();
    let n = notifies(&h.take());
    assert!(matches!(n[0].state, SubState::Active { .. }));
    assert!(n[0].presence.is_some());
}

#[test]
fn a_delegated_message_is_answered_after_a_restart() {
    let mut h = ready();
    let t = h.message("alice@example.com", "dave@example.net", "hi");
    let relay = h
        .take()
        .iter()
        .find_map(|e| match e {
            Effect::Relay { relay, .. } => *relay,
            _ => None,
        })
        .unwrap();
    h.restart();
    h.handle(Input::RelayAnswer {
        relay,
        answer: Some(ResponseOp::new(Status::Success, TransId::new(77).unwrap())),
    })
    .unwrap();
    let out = h.take();
    assert!(
        matches!(&out[0], Effect::Respond { to: Origin(1), response } if response.trans_id == t && response.status == Status::Success)
    );
    // New relay ids do not collide with the restored one.
    h.message("alice@example.com", "dave@example.net", "again");
    let next = h
        .take()
        .iter()
        .find_map(|e| match e {
            Effect::Relay { relay, .. } => *relay,
            _ => None,
        })
        .unwrap();
    assert_ne!(next, relay);
}

#[test]
fn a_corrupt_record_is_a_typed_error() {
    let mut snap = Snapshot::default();
    snap.users.push("not an address".into());
    let err = Engine::restore(Config::new(["example.com"]), snap).unwrap_err();
    assert!(
        matches!(err, cpim_engine::StoreError::Corrupt { .. }),
        "{err}"
    );
    let mut snap = Snapshot::default();
    snap.subscriptions.push(cpim_engine::SubscriptionRecord {
        watcher: "a@example.com".into(),
        target: "ghost@example.com".into(),
        expires: Timestamp::from_millis(1),
        state: SubscriptionStatus::Active,
    });
    let err = Engine::restore(Config::new(["example.com"]), snap).unwrap_err();
    assert_eq!(
        err.to_string(),
        "stored subscription of ghost@example.com is invalid: not a stored user"
    );
}

/// A publication stored by a build that let characters XML does not allow
/// into a document is restored, each such character as U+FFFD, rather
/// than refused as corrupt (nothing accepted is lost).
#[test]
fn a_stored_publication_with_characters_xml_refuses_is_restored() {
    let mut snap = Snapshot::default();
    snap.users.push("alice@example.com".into());
    snap.publications.push(cpim_engine::PublicationRecord {
        presentity: "alice@example.com".into(),
        publisher: "phone".into(),
        pidf: "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" entity=\"pres:alice@example.com\">\
               <tuple id=\"t\"><status><basic>open</basic></status>\
               <note>a\u{1}b\u{fffe}</note></tuple></presence>"
            .into(),
        expires: Timestamp::from_millis(u64::MAX / 2),
    });
    let engine = Engine::restore(Config::new(["example.com"]), snap).unwrap();
    let alice = cpim_formats::uri::Address::new("alice", "example.com").unwrap();
    let presence = engine.presence(&alice).unwrap();
    assert_eq!(presence.tuples[0].notes[0].text, "a\u{fffd}b\u{fffd}");
}
