//! Draft section 3.4.1 (the subscribe operation), each step in order, with
//! 3.4.2 (notify), 3.4.3 (SUBSCRIBE 0 ends a subscription), 3.4.4 (fetch) and
//! the unsubscribe operation, on the engine alone.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use cpim_engine::{Decision, Effect, Input, Origin, PolicySubject, Principal, Reason, SubState};
use cpim_formats::op::{Status, SubscribeOp};
use cpim_formats::pidf::Basic;
use cpim_formats::uri::Uri;

/// bob allows alice; bob publishes "open" from his phone.
fn ready() -> Harness {
    let mut h = Harness::standard();
    h.add_user("alice@example.com");
    h.add_user("bob@example.com");
    allow(&mut h, "bob@example.com", "alice@example.com");
    h.publish("bob@example.com", "phone", Basic::Open, 3600);
    h.take();
    h
}

fn allow(h: &mut Harness, presentity: &str, watcher: &str) {
    h.handle(Input::SetPolicy {
        presentity: addr(presentity),
        subject: PolicySubject::Watcher(watcher.into()),
        decision: Some(Decision::Allow),
    })
    .unwrap();
}

fn raw(
    h: &mut Harness,
    watcher: &str,
    target: &str,
    principal: Principal,
    duration: u32,
) -> cpim_formats::op::TransId {
    let t = h.trans();
    let op = SubscribeOp {
        watcher: Uri::parse(watcher).unwrap(),
        target: Uri::parse(target).unwrap(),
        duration,
        trans_id: t,
    };
    h.handle(Input::Subscribe {
        origin: Origin(5),
        principal,
        op,
    })
    .unwrap();
    t
}

#[test]
fn step_1_watcher_or_target_not_a_presentity_fails() {
    let mut h = ready();
    let svc = Principal::Service;
    for (w, t, reason) in [
        (
            "im:alice@example.com",
            "pres:bob@example.com",
            "the watcher is not a single pres: address",
        ),
        (
            "pres:alice@example.com",
            "im:bob@example.com",
            "the target is not a single pres: address",
        ),
        (
            "pres:alice@example.com",
            "pres:nobody@example.com",
            "nobody@example.com is not a presentity served here",
        ),
    ] {
        let trans = raw(&mut h, w, t, svc.clone(), 600);
        let out = h.take();
        let r = only_response(&out, trans);
        assert_eq!(r.status, Status::Failure);
        assert_eq!(r.reason.as_deref(), Some(reason));
        assert!(notifies(&out).is_empty());
    }
    assert_eq!(h.engine.subscription_count(), 0);
}

#[test]
fn step_2_access_control_refuses_requester_and_denied_watcher() {
    let mut h = ready();
    let t = raw(
        &mut h,
        "pres:alice@example.com",
        "pres:bob@example.com",
        Principal::User(addr("carol@example.com")),
        600,
    );
    let out = h.take();
    assert_eq!(only_response(&out, t).status, Status::Failure);
    assert!(notifies(&out).is_empty());

    h.handle(Input::SetPolicy {
        presentity: addr("bob@example.com"),
        subject: PolicySubject::Watcher("carol@example.com".into()),
        decision: Some(Decision::Deny),
    })
    .unwrap();
    for duration in [600, 0] {
        let t = h.subscribe("carol@example.com", "bob@example.com", duration);
        let out = h.take();
        let r = only_response(&out, t);
        assert_eq!(r.status, Status::Failure);
        assert_eq!(
            r.reason.as_deref(),
            Some("bob@example.com does not share its presence with carol@example.com")
        );
        assert!(
            notifies(&out).is_empty(),
            "a denied watcher learns nothing, not even by fetch"
        );
    }
}

#[test]
fn step_3_second_subscription_of_same_watcher_and_target_fails() {
    let mut h = ready();
    h.subscribe("alice@example.com", "bob@example.com", 600);
    h.take();
    let t = h.subscribe("alice@example.com", "bob@example.com", 900);
    let out = h.take();
    let r = only_response(&out, t);
    assert_eq!(r.status, Status::Failure);
    assert_eq!(
        r.reason.as_deref(),
        Some("alice@example.com already has a subscription to bob@example.com")
    );
    assert!(notifies(&out).is_empty());
    assert_eq!(h.engine.subscription_count(), 1);
}

#[test]
fn step_4a_success_with_granted_duration_clamped() {
    let mut h = ready();
    let t = h.subscribe("alice@example.com", "bob@example.com", 10);
    assert_eq!(
        only_response(&h.take(), t).duration,
        Some(h.config.min_subscription)
    );
    h.unsubscribe("alice@example.com", "bob@example.com");
    h.take();
    let t = h.subscribe("alice@example.com", "bob@example.com", u32::MAX);
    assert_eq!(
        only_response(&h.take(), t).duration,
        Some(h.config.max_subscription)
    );
    h.unsubscribe("alice@example.com", "bob@example.com");
    h.take();
    let t = h.subscribe("alice@example.com", "bob@example.com", 600);
    let r = only_response(&h.take(), t);
    assert_eq!((r.status, r.duration), (Status::Success, Some(600)));
}

#[test]
fn step_4b_notify_with_current_presence_right_after_the_response() {
    let mut h = ready();
    let t = h.subscribe("alice@example.com", "bob@example.com", 600);
    let out = h.take();
    assert!(matches!(&out[0], Effect::Respond { response, .. } if response.trans_id == t));
    let n = notifies(&out);
    assert_eq!(n.len(), 1);
    assert_eq!(n[0].watcher.to_string(), "alice@example.com");
    assert_eq!(n[0].target.to_string(), "bob@example.com");
    assert_eq!(
        n[0].state,
        SubState::Active {
            expires: h.now.plus_secs(600)
        }
    );
    assert_eq!(
        basics(&n[0].presence),
        vec![("phone".to_string(), Some(Basic::Open))]
    );
    assert_eq!(
        n[0].presence.as_ref().unwrap().entity,
        "pres:bob@example.com"
    );
    assert_ne!(
        n[0].trans_id, t,
        "the notify carries the service's own transID"
    );
}

#[test]
fn step_4c_notify_on_each_change_until_expiry_then_a_last_notify() {
    let mut h = ready();
    h.subscribe("alice@example.com", "bob@example.com", 600);
    h.take();
    h.advance(1000);
    h.publish("bob@example.com", "phone", Basic::Closed, 3600);
    let n = notifies(&h.take());
    assert_eq!(n.len(), 1);
    assert_eq!(
        basics(&n[0].presence),
        vec![("phone".to_string(), Some(Basic::Closed))]
    );

    h.advance(599_000 - 1);
    assert!(h.take().is_empty());
    h.advance(1);
    let n = notifies(&h.take());
    assert_eq!(n.len(), 1);
    assert_eq!(n[0].state, SubState::Terminated(Reason::Expired));
    assert!(n[0].presence.is_none());
    assert_eq!(h.engine.subscription_count(), 0);

    h.publish("bob@example.com", "phone", Basic::Open, 3600);
    assert!(notifies(&h.take()).is_empty(), "no notify after expiry");
}

#[test]
fn section_3_4_4_fetch_is_one_notify_and_leaves_no_subscription() {
    let mut h = ready();
    let t = h.subscribe("alice@example.com", "bob@example.com", 0);
    let out = h.take();
    let r = only_response(&out, t);
    assert_eq!((r.status, r.duration), (Status::Success, Some(0)));
    let n = notifies(&out);
    assert_eq!(n.len(), 1);
    assert_eq!(n[0].state, SubState::Terminated(Reason::Fetched));
    assert_eq!(
        basics(&n[0].presence),
        vec![("phone".to_string(), Some(Basic::Open))]
    );
    assert_eq!(h.engine.subscription_count(), 0);
    h.publish("bob@example.com", "phone", Basic::Closed, 3600);
    assert!(notifies(&h.take()).is_empty());
}

#[test]
fn section_3_4_3_subscribe_0_on_an_existing_subscription_ends_it() {
    let mut h = ready();
    h.subscribe("alice@example.com", "bob@example.com", 600);
    h.take();
    let t = h.subscribe("alice@example.com", "bob@example.com", 0);
    let out = h.take();
    assert_eq!(only_response(&out, t).status, Status::Success);
    let n = notifies(&out);
    assert_eq!(n.len(), 1);
    assert_eq!(n[0].state, SubState::Terminated(Reason::Unsubscribed));
    assert_eq!(h.engine.subscription_count(), 0);
    h.publish("bob@example.com", "phone", Basic::Closed, 3600);
    assert!(notifies(&h.take()).is_empty());
    assert!(
        h.engine
            .poll_timeout()
            .is_some_and(|t| t > h.now.plus_secs(600)),
        "its timer went with it"
    );
}

#[test]
fn unsubscribe_ends_a_subscription_and_fails_without_one() {
    let mut h = ready();
    h.subscribe("alice@example.com", "bob@example.com", 600);
    h.take();
    let t = h.unsubscribe("alice@example.com", "bob@example.com");
    let out = h.take();
    assert_eq!(only_response(&out, t).status, Status::Success);
    assert_eq!(
        notifies(&out)[0].state,
        SubState::Terminated(Reason::Unsubscribed)
    );
    let t = h.unsubscribe("alice@example.com", "bob@example.com");
    let r = only_response(&h.take(), t);
    assert_eq!(r.status, Status::Failure);
    assert_eq!(
        r.reason.as_deref(),
        Some("alice@example.com has no subscription to bob@example.com")
    );
    // A new subscription is allowed once the old one is gone.
    let t = h.subscribe("alice@example.com", "bob@example.com", 600);
    assert_eq!(only_response(&h.take(), t).status, Status::Success);
}

#[test]
fn section_3_4_2_notify_operation_for_a_binding() {
    let mut h = ready();
    h.subscribe("alice@example.com", "bob@example.com", 600);
    let n = notifies(&h.take()).remove(0);
    let op = n.to_op();
    assert_eq!(op.watcher.to_string(), "pres:alice@example.com");
    assert_eq!(op.target.to_string(), "pres:bob@example.com");
    assert_eq!(op.trans_id, n.trans_id);
    assert_eq!(op.presence.tuples.len(), 1);
    // Without presence to show, the document shows nothing.
    let t = h.unsubscribe("alice@example.com", "bob@example.com");
    let out = h.take();
    assert_eq!(only_response(&out, t).status, Status::Success);
    let op = notifies(&out)[0].to_op();
    assert!(op.presence.tuples.is_empty());
    assert_eq!(op.presence.entity, "pres:bob@example.com");
}
