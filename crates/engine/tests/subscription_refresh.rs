//! The refresh extension (RFC 6665 section 4.1.2.1, RFC 3265 section
//! 3.1.4.2) for local presentities: a new duration for an existing
//! subscription, while a second subscribe still fails (draft section 3.4.1
//! step 3).
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use cpim_engine::{Decision, Input, Origin, PolicySubject, Principal, Reason, Store, SubState};
use cpim_formats::op::{Status, SubscribeOp};
use cpim_formats::pidf::Basic;

const ALICE: &str = "alice@example.com";
const BOB: &str = "bob@example.com";

/// bob allows alice and publishes "open"; alice subscribes for 600 s.
fn ready() -> Harness {
    let mut h = Harness::standard();
    h.add_user(ALICE);
    h.add_user(BOB);
    h.handle(Input::SetPolicy {
        presentity: addr(BOB),
        subject: PolicySubject::Watcher(ALICE.into()),
        decision: Some(Decision::Allow),
    })
    .unwrap();
    h.publish(BOB, "phone", Basic::Open, 86_400);
    h.subscribe(ALICE, BOB, 600);
    h.take();
    h
}

#[test]
fn refresh_renews_the_duration_answers_and_notifies_the_current_state() {
    let mut h = ready();
    h.advance(500_000);
    let t = h.refresh(ALICE, BOB, 900);
    let out = h.take();
    let r = only_response(&out, t);
    assert_eq!((r.status, r.duration), (Status::Success, Some(900)));
    let n = notifies(&out);
    assert_eq!(n.len(), 1);
    assert_eq!(
        n[0].state,
        SubState::Active {
            expires: h.now.plus_secs(900)
        }
    );
    assert_eq!(
        basics(&n[0].presence),
        vec![("phone".to_string(), Some(Basic::Open))]
    );
    assert_eq!(h.engine.subscription_count(), 1);
    h.engine.check_invariants().unwrap();
    // Nothing happens at the old expiry; the subscription ends at the new one.
    h.advance(100_000);
    assert!(h.take().is_empty());
    h.advance(800_000);
    let n = notifies(&h.take());
    assert_eq!(n.len(), 1);
    assert_eq!(n[0].state, SubState::Terminated(Reason::Expired));
}

#[test]
fn refresh_is_clamped_and_persisted() {
    let mut h = ready();
    let t = h.refresh(ALICE, BOB, u32::MAX);
    let max = h.config.max_subscription;
    assert_eq!(only_response(&h.take(), t).duration, Some(max));
    let stored = h.store.load().unwrap().subscriptions;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].expires, h.now.plus_secs(max));
    // A restart keeps the renewed expiry.
    h.restart();
    h.advance(u64::from(max - 1) * 1000);
    assert_eq!(h.engine.subscription_count(), 1);
    h.advance(1000);
    assert_eq!(h.engine.subscription_count(), 0);
}

#[test]
fn a_plain_second_subscribe_still_fails() {
    let mut h = ready();
    let t = h.subscribe(ALICE, BOB, 900);
    let r = only_response(&h.take(), t);
    assert_eq!(r.status, Status::Failure);
    assert_eq!(
        r.reason.as_deref(),
        Some("alice@example.com already has a subscription to bob@example.com")
    );
}

#[test]
fn refresh_without_a_subscription_or_as_someone_else_fails() {
    let mut h = ready();
    h.add_user("carol@example.com");
    h.take();
    let t = h.refresh("carol@example.com", BOB, 600);
    let out = h.take();
    let r = only_response(&out, t);
    assert_eq!(r.status, Status::Failure);
    assert_eq!(
        r.reason.as_deref(),
        Some("carol@example.com has no subscription to bob@example.com to refresh")
    );
    assert!(notifies(&out).is_empty());
    assert_eq!(h.engine.subscription_count(), 1);

    let t = h.trans();
    h.handle(Input::Refresh {
        origin: Origin(2),
        principal: Principal::User(addr("carol@example.com")),
        op: SubscribeOp {
            watcher: pres(ALICE),
            target: pres(BOB),
            duration: 600,
            trans_id: t,
        },
    })
    .unwrap();
    let r = only_response(&h.take(), t);
    assert_eq!(r.status, Status::Failure);
    assert_eq!(
        r.reason.as_deref(),
        Some("not authorised to refresh as alice@example.com")
    );
}

#[test]
fn refresh_zero_ends_the_subscription() {
    let mut h = ready();
    let t = h.refresh(ALICE, BOB, 0);
    let out = h.take();
    assert_eq!(only_response(&out, t).duration, Some(0));
    let n = notifies(&out);
    assert_eq!(n.len(), 1);
    assert_eq!(n[0].state, SubState::Terminated(Reason::Unsubscribed));
    assert_eq!(h.engine.subscription_count(), 0);
    assert!(h.store.load().unwrap().subscriptions.is_empty());
}

#[test]
fn refresh_of_a_pending_subscription_stays_pending() {
    let mut h = ready();
    h.add_user("dave@example.com");
    h.handle(Input::SetPolicy {
        presentity: addr(BOB),
        subject: PolicySubject::Watcher("dave@example.com".into()),
        decision: Some(Decision::Ask),
    })
    .unwrap();
    h.subscribe("dave@example.com", BOB, 600);
    h.take();
    let t = h.refresh("dave@example.com", BOB, 1200);
    let out = h.take();
    assert_eq!(only_response(&out, t).duration, Some(1200));
    let n = notifies(&out);
    assert_eq!(n.len(), 1);
    assert_eq!(
        n[0].state,
        SubState::Pending {
            expires: h.now.plus_secs(1200)
        }
    );
    assert!(n[0].presence.is_none());
    h.engine.check_invariants().unwrap();
}
