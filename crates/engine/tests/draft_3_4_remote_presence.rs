//! Presence across domains (draft section 3.4; RFC 3859 section 4): a local
//! watcher's subscribe, fetch and unsubscribe for a presentity of another
//! domain are relayed by route, the other side's answer completes the
//! watcher's response, its notifications reach the watcher; and watchers of
//! other domains are held to the local presentities' access rules.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use cpim_engine::Store;
use cpim_engine::{
    Config, Decision, Effect, Input, InputError, Origin, PolicySubject, Principal, Reason, RelayId,
    RelayedPhase, SubState, SubscriptionStatus, Timestamp,
};
use cpim_formats::op::{NotifyOp, ResponseOp, Status, SubscribeOp, TransId, UnsubscribeOp};
use cpim_formats::pidf::{Basic, Presence, Tuple};

const ALICE: &str = "alice@example.com";
const CAROL: &str = "carol@example.net";

fn ready() -> Harness {
    let mut h = Harness::standard();
    h.add_user(ALICE);
    h.take();
    h
}

/// The one relayed subscribe in `out`: its relay id, binding and operation.
fn relayed(out: &[Effect]) -> (RelayId, String, SubscribeOp) {
    let found: Vec<_> = out
        .iter()
        .filter_map(|e| match e {
            Effect::RelaySubscribe { relay, binding, op } => {
                Some((*relay, binding.clone(), op.clone()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(found.len(), 1, "expected one relayed subscribe in {out:?}");
    found[0].clone()
}

fn unsubscribes(out: &[Effect]) -> Vec<(String, UnsubscribeOp)> {
    out.iter()
        .filter_map(|e| match e {
            Effect::RelayUnsubscribe { binding, op } => Some((binding.clone(), op.clone())),
            _ => None,
        })
        .collect()
}

fn answer(h: &mut Harness, relay: RelayId, status: Status, duration: Option<u32>) {
    let reason = (status != Status::Success).then(|| "refused over there".to_string());
    h.handle(Input::RelayAnswer {
        relay,
        answer: Some(ResponseOp {
            status,
            trans_id: TransId::new(999).unwrap(),
            duration,
            lang: reason.as_ref().map(|_| "en".into()),
            reason,
        }),
    })
    .unwrap();
}

fn doc(basic: Basic) -> Presence<'static> {
    let mut p = Presence::new(format!("pres:{CAROL}"));
    p.tuples.push(Tuple::new("desk", Some(basic)));
    p
}

/// A notify from `principal` for `watcher` and `target`; returns its transID.
fn remote_notify_as(
    h: &mut Harness,
    principal: Principal,
    watcher: &str,
    target: &str,
    state: SubState,
    basic: Basic,
) -> TransId {
    let t = h.trans();
    h.handle(Input::Notify {
        origin: Origin(9),
        principal,
        op: NotifyOp {
            watcher: pres(watcher),
            target: pres(target),
            trans_id: t,
            presence: doc(basic),
        },
        state,
    })
    .unwrap();
    t
}

fn remote_notify(h: &mut Harness, state: SubState, basic: Basic) -> TransId {
    let principal = Principal::Domain("example.net".into());
    remote_notify_as(h, principal, ALICE, CAROL, state, basic)
}

fn active_in(h: &Harness, secs: u32) -> SubState {
    SubState::Active {
        expires: h.now.plus_secs(secs),
    }
}

fn pending_in(h: &Harness, secs: u32) -> SubState {
    SubState::Pending {
        expires: h.now.plus_secs(secs),
    }
}

/// Subscribes Alice to Carol and has the other side accept for `granted`.
fn established(h: &mut Harness, granted: u32) -> RelayId {
    let t = h.subscribe(ALICE, CAROL, 600);
    let (relay, _, _) = relayed(&h.take());
    answer(h, relay, Status::Success, Some(granted));
    let out = h.take();
    assert_eq!(only_response(&out, t).duration, Some(granted));
    relay
}

fn stored(h: &mut Harness) -> Vec<(String, String, String, SubscriptionStatus, Timestamp)> {
    h.store
        .load()
        .unwrap()
        .remote_subscriptions
        .into_iter()
        .map(|r| (r.watcher, r.target, r.binding, r.state, r.expires))
        .collect()
}

#[test]
fn subscribe_to_another_domain_is_relayed_and_answered_with_the_granted_duration() {
    let mut h = ready();
    let t = h.subscribe(ALICE, CAROL, 600);
    let out = h.take();
    assert!(responses(&out).is_empty(), "the response waits: {out:?}");
    let (relay, binding, op) = relayed(&out);
    assert_eq!(binding, "sip");
    assert_eq!(op.watcher, pres(ALICE));
    assert_eq!(op.target, pres(CAROL));
    assert_eq!(op.duration, 600);
    assert_eq!(op.trans_id, t);
    assert_eq!(h.engine.remote_subscription_count(), 1);
    // In progress, and stored as such: the answer's deadline, no state yet.
    let snapshot = h.store.load().unwrap();
    let record = &snapshot.remote_subscriptions[0];
    assert_eq!(record.state, SubscriptionStatus::Pending);
    assert_eq!(record.expires, h.now.plus_millis(32_000));
    let request = record.request.clone().unwrap();
    assert_eq!(
        (request.relay, request.trans_id, request.duration),
        (relay.0, t.get(), 600)
    );

    answer(&mut h, relay, Status::Success, Some(300));
    let out = h.take();
    let r = only_response(&out, t);
    assert_eq!((r.status, r.duration), (Status::Success, Some(300)));
    let expires = h.now.plus_secs(300);
    assert_eq!(
        stored(&mut h),
        vec![(
            ALICE.into(),
            CAROL.into(),
            "sip".into(),
            SubscriptionStatus::Pending,
            expires
        )]
    );
    // Presence flows once the other side says so.
    let state = active_in(&h, 300);
    let nt = remote_notify(&mut h, state, Basic::Open);
    let out = h.take();
    assert_eq!(only_response(&out, nt).status, Status::Success);
    let n = notifies(&out);
    assert_eq!(n.len(), 1);
    assert_eq!(n[0].watcher.to_string(), ALICE);
    assert_eq!(n[0].target.to_string(), CAROL);
    assert_eq!(n[0].state, SubState::Active { expires });
    assert_eq!(
        basics(&n[0].presence),
        vec![("desk".into(), Some(Basic::Open))]
    );
    assert_eq!(stored(&mut h)[0].3, SubscriptionStatus::Active);
    assert_eq!(
        h.engine.remote_subscriptions(),
        vec![(
            addr(ALICE),
            addr(CAROL),
            SubscriptionStatus::Active,
            expires
        )]
    );
    h.engine.check_invariants().unwrap();
}

#[test]
fn the_granted_duration_is_bounded_and_defaults_to_the_requested_one() {
    let mut h = ready();
    h.subscribe(ALICE, CAROL, 600);
    let (relay, _, _) = relayed(&h.take());
    h.handle(Input::RelayAnswer {
        relay,
        answer: Some(ResponseOp {
            status: Status::Success,
            trans_id: TransId::new(5).unwrap(),
            duration: None,
            lang: None,
            reason: None,
        }),
    })
    .unwrap();
    assert_eq!(responses(&h.take())[0].duration, Some(600));
    h.unsubscribe(ALICE, CAROL);
    h.take();
    h.subscribe(ALICE, CAROL, 600);
    let (relay, _, _) = relayed(&h.take());
    answer(&mut h, relay, Status::Success, Some(10_000_000));
    assert_eq!(responses(&h.take())[0].duration, Some(86_400));
}

#[test]
fn failure_answer_reaches_the_watcher_and_leaves_nothing() {
    let mut h = ready();
    let t = h.subscribe(ALICE, CAROL, 600);
    let (relay, _, _) = relayed(&h.take());
    answer(&mut h, relay, Status::Failure, None);
    let out = h.take();
    let r = only_response(&out, t);
    assert_eq!(r.status, Status::Failure);
    assert_eq!(r.reason.as_deref(), Some("refused over there"));
    assert!(notifies(&out).is_empty());
    assert_eq!(h.engine.remote_subscription_count(), 0);
    assert!(stored(&mut h).is_empty());
    // A notify that still comes is refused, so the other side ends its own.
    let state = active_in(&h, 60);
    let nt = remote_notify(&mut h, state, Basic::Open);
    let out = h.take();
    let r = only_response(&out, nt);
    assert_eq!(r.status, Status::Failure);
    assert_eq!(
        r.reason.as_deref(),
        Some("alice@example.com has no subscription to carol@example.net through this service")
    );
    assert!(notifies(&out).is_empty());
    h.engine.check_invariants().unwrap();
}

#[test]
fn no_answer_in_time_is_indeterminant_and_the_other_side_is_told() {
    let mut h = ready();
    let t = h.subscribe(ALICE, CAROL, 600);
    let (relay, _, _) = relayed(&h.take());
    h.advance(31_999);
    assert!(h.take().is_empty());
    h.advance(1);
    let out = h.take();
    let r = only_response(&out, t);
    assert_eq!(r.status, Status::Indeterminant);
    assert_eq!(
        r.reason.as_deref(),
        Some("no answer came from the next hop in time")
    );
    let u = unsubscribes(&out);
    assert_eq!(u.len(), 1);
    assert_eq!((u[0].0.as_str(), &u[0].1.target), ("sip", &pres(CAROL)));
    // The late answer finds nothing.
    let late = h.handle(Input::RelayAnswer {
        relay,
        answer: None,
    });
    assert_eq!(late, Err(InputError::UnknownRelay(relay)));
    assert_eq!(h.engine.remote_subscription_count(), 0);
    h.engine.check_invariants().unwrap();
}

#[test]
fn no_answer_coming_is_indeterminant() {
    let mut h = ready();
    let t = h.subscribe(ALICE, CAROL, 600);
    let (relay, _, _) = relayed(&h.take());
    h.handle(Input::RelayAnswer {
        relay,
        answer: None,
    })
    .unwrap();
    let r = only_response(&h.take(), t);
    assert_eq!(r.status, Status::Indeterminant);
    assert_eq!(
        r.reason.as_deref(),
        Some("the next hop will give no answer")
    );
    assert_eq!(h.engine.poll_timeout(), None);
}

#[test]
fn pending_then_active_then_rejected_as_the_other_side_says() {
    let mut h = ready();
    established(&mut h, 300);
    let expires = h.now.plus_secs(300);
    let state = pending_in(&h, 300);
    let nt = remote_notify(&mut h, state, Basic::Open);
    let out = h.take();
    assert_eq!(only_response(&out, nt).status, Status::Success);
    let n = notifies(&out);
    assert_eq!(n[0].state, SubState::Pending { expires });
    assert_eq!(n[0].presence, None, "nothing shown while pending");
    assert_eq!(stored(&mut h)[0].3, SubscriptionStatus::Pending);

    let state = active_in(&h, 300);
    remote_notify(&mut h, state, Basic::Closed);
    let n = notifies(&h.take());
    assert_eq!(
        basics(&n[0].presence),
        vec![("desk".into(), Some(Basic::Closed))]
    );

    remote_notify(
        &mut h,
        SubState::Terminated(Reason::Rejected),
        Basic::Closed,
    );
    let out = h.take();
    let n = notifies(&out);
    assert_eq!(n[0].state, SubState::Terminated(Reason::Rejected));
    assert_eq!(n[0].presence, None);
    assert!(unsubscribes(&out).is_empty(), "the other side ended it");
    assert!(stored(&mut h).is_empty());
    assert_eq!(h.engine.poll_timeout(), None);
    h.engine.check_invariants().unwrap();
}

#[test]
fn notifies_only_from_the_targets_domain() {
    let mut h = ready();
    established(&mut h, 300);
    for principal in [
        Principal::Domain("example.org".into()),
        Principal::User(addr("mallory@example.net")),
        Principal::User(addr(ALICE)),
    ] {
        let state = active_in(&h, 60);
        let nt = remote_notify_as(&mut h, principal, ALICE, CAROL, state, Basic::Open);
        let out = h.take();
        let r = only_response(&out, nt);
        assert_eq!(r.status, Status::Failure);
        assert_eq!(
            r.reason.as_deref(),
            Some("not authorised to notify for carol@example.net")
        );
        assert!(notifies(&out).is_empty());
    }
    // Carol's own server may notify; one for another watcher is refused.
    let principal = Principal::Domain("example.net".into());
    let state = active_in(&h, 60);
    let nt = remote_notify_as(
        &mut h,
        principal,
        "bob@example.com",
        CAROL,
        state,
        Basic::Open,
    );
    let out = h.take();
    assert_eq!(only_response(&out, nt).status, Status::Failure);
    assert!(notifies(&out).is_empty());
}

#[test]
fn unsubscribe_is_relayed_and_ends_the_subscription_here_at_once() {
    let mut h = ready();
    established(&mut h, 300);
    let t = h.unsubscribe(ALICE, CAROL);
    let out = h.take();
    assert_eq!(only_response(&out, t).status, Status::Success);
    let n = notifies(&out);
    assert_eq!(n.len(), 1);
    assert_eq!(n[0].state, SubState::Terminated(Reason::Unsubscribed));
    let u = unsubscribes(&out);
    assert_eq!(u.len(), 1);
    assert_eq!(u[0].0, "sip");
    assert_eq!(
        (&u[0].1.watcher, &u[0].1.target),
        (&pres(ALICE), &pres(CAROL))
    );
    assert!(stored(&mut h).is_empty());
    // A second one has nothing to end.
    let t = h.unsubscribe(ALICE, CAROL);
    let out = h.take();
    assert_eq!(only_response(&out, t).status, Status::Failure);
    assert!(unsubscribes(&out).is_empty());
    h.engine.check_invariants().unwrap();
}

#[test]
fn subscribe_zero_on_a_relayed_subscription_ends_it() {
    let mut h = ready();
    established(&mut h, 300);
    let t = h.subscribe(ALICE, CAROL, 0);
    let out = h.take();
    let r = only_response(&out, t);
    assert_eq!((r.status, r.duration), (Status::Success, Some(0)));
    assert_eq!(unsubscribes(&out).len(), 1);
    assert_eq!(
        notifies(&out)[0].state,
        SubState::Terminated(Reason::Unsubscribed)
    );
    assert_eq!(h.engine.remote_subscription_count(), 0);
}

#[test]
fn unsubscribe_before_the_answer_withdraws_the_subscribe() {
    let mut h = ready();
    let first = h.subscribe(ALICE, CAROL, 600);
    let (relay, _, _) = relayed(&h.take());
    let t = h.unsubscribe(ALICE, CAROL);
    let out = h.take();
    let r = responses(&out);
    assert_eq!(r.len(), 2);
    assert_eq!((r[0].trans_id, r[0].status), (first, Status::Failure));
    assert_eq!((r[1].trans_id, r[1].status), (t, Status::Success));
    assert_eq!(unsubscribes(&out).len(), 1);
    assert_eq!(
        h.handle(Input::RelayAnswer {
            relay,
            answer: None
        }),
        Err(InputError::UnknownRelay(relay))
    );
    h.engine.check_invariants().unwrap();
}

#[test]
fn expiry_is_relayed() {
    let mut h = ready();
    established(&mut h, 120);
    h.advance(119_999);
    assert!(h.take().is_empty());
    h.advance(1);
    let out = h.take();
    let n = notifies(&out);
    assert_eq!(n.len(), 1);
    assert_eq!(n[0].state, SubState::Terminated(Reason::Expired));
    let u = unsubscribes(&out);
    assert_eq!(u.len(), 1);
    assert_eq!(u[0].1.target, pres(CAROL));
    assert!(stored(&mut h).is_empty());
    assert_eq!(h.engine.poll_timeout(), None);
    h.engine.check_invariants().unwrap();
}

#[test]
fn restart_keeps_relayed_subscriptions_and_their_expiry() {
    let mut h = ready();
    established(&mut h, 300);
    let state = active_in(&h, 300);
    remote_notify(&mut h, state, Basic::Open);
    h.take();
    let expires = h.now.plus_secs(300);
    h.advance(100_000);
    h.restart();
    h.engine.check_invariants().unwrap();
    assert_eq!(h.engine.poll_timeout(), Some(expires));
    assert_eq!(
        h.engine.remote_subscriptions(),
        vec![(
            addr(ALICE),
            addr(CAROL),
            SubscriptionStatus::Active,
            expires
        )]
    );
    // Notifications still reach the watcher, with the same expiry.
    let state = active_in(&h, 200);
    remote_notify(&mut h, state, Basic::Closed);
    let n = notifies(&h.take());
    assert_eq!(n[0].state, SubState::Active { expires });
    // One per watcher and target, across the restart too.
    let t = h.subscribe(ALICE, CAROL, 600);
    let out = h.take();
    assert_eq!(only_response(&out, t).status, Status::Failure);
    assert!(!out
        .iter()
        .any(|e| matches!(e, Effect::RelaySubscribe { .. })));
    h.advance(200_000);
    let out = h.take();
    assert_eq!(unsubscribes(&out).len(), 1);
    assert_eq!(
        notifies(&out)[0].state,
        SubState::Terminated(Reason::Expired)
    );
}

#[test]
fn restart_keeps_a_subscribe_in_progress_and_its_answer_completes_it() {
    let mut h = ready();
    let t = h.subscribe(ALICE, CAROL, 600);
    let (relay, _, _) = relayed(&h.take());
    h.advance(1_000);
    h.restart();
    h.engine.check_invariants().unwrap();
    answer(&mut h, relay, Status::Success, Some(300));
    let out = h.take();
    assert_eq!(only_response(&out, t).duration, Some(300));
    assert_eq!(stored(&mut h)[0].4, h.now.plus_secs(300));
    assert_eq!(
        h.store.load().unwrap().remote_subscriptions[0].request,
        None
    );

    // Unanswered, it still ends at its deadline after a restart.
    let t = h.subscribe(ALICE, "dan@example.net", 600);
    h.take();
    h.restart();
    h.advance(32_000);
    let out = h.take();
    assert_eq!(only_response(&out, t).status, Status::Indeterminant);
    assert_eq!(unsubscribes(&out).len(), 1);
    h.engine.check_invariants().unwrap();
}

#[test]
fn restart_keeps_an_accepted_fetch_waiting_for_its_notify() {
    let mut h = ready();
    let t = h.subscribe(ALICE, CAROL, 0);
    let (relay, _, _) = relayed(&h.take());
    answer(&mut h, relay, Status::Success, Some(0));
    h.restart();
    h.engine.check_invariants().unwrap();
    let state = active_in(&h, 0);
    remote_notify(&mut h, state, Basic::Open);
    let out = h.take();
    assert_eq!(responses(&out)[1].trans_id, t);
    let n = notifies(&out);
    assert_eq!(n[0].state, SubState::Terminated(Reason::Fetched));
    assert!(n[0].presence.is_some());
    assert!(stored(&mut h).is_empty());
}

#[test]
fn one_relayed_subscription_per_watcher_and_target() {
    let mut h = ready();
    h.subscribe(ALICE, CAROL, 600);
    h.take();
    let t = h.subscribe(ALICE, CAROL, 600);
    let out = h.take();
    let r = only_response(&out, t);
    assert_eq!(r.status, Status::Failure);
    assert_eq!(
        r.reason.as_deref(),
        Some("alice@example.com already has a subscription to carol@example.net")
    );
    assert!(!out
        .iter()
        .any(|e| matches!(e, Effect::RelaySubscribe { .. })));
}

#[test]
fn the_watcher_must_be_the_principal_and_of_a_domain_served_here() {
    let mut h = ready();
    let t = h.trans();
    let op = SubscribeOp {
        watcher: pres(ALICE),
        target: pres(CAROL),
        duration: 600,
        trans_id: t,
    };
    h.handle(Input::Subscribe {
        origin: Origin(2),
        principal: Principal::User(addr("bob@example.com")),
        op: op.clone(),
    })
    .unwrap();
    let r = only_response(&h.take(), t);
    assert_eq!(
        r.reason.as_deref(),
        Some("not authorised to subscribe as alice@example.com")
    );
    // Another domain's server cannot have this one subscribe for it.
    let op = SubscribeOp {
        watcher: pres("dave@example.org"),
        ..op
    };
    h.handle(Input::Subscribe {
        origin: Origin(2),
        principal: Principal::Domain("example.org".into()),
        op,
    })
    .unwrap();
    let out = h.take();
    let r = only_response(&out, t);
    assert_eq!(r.status, Status::Failure);
    assert_eq!(
        r.reason.as_deref(),
        Some("carol@example.net is not a presentity served here, and presence is relayed only for watchers of this service's domains")
    );
    assert!(!out
        .iter()
        .any(|e| matches!(e, Effect::RelaySubscribe { .. })));
    // No route: fails at once.
    let t = h.subscribe(ALICE, "eve@elsewhere.test", 600);
    let r = only_response(&h.take(), t);
    assert_eq!(
        r.reason.as_deref(),
        Some("eve@elsewhere.test is not a presentity served here and there is no route to elsewhere.test")
    );
    assert_eq!(h.engine.remote_subscription_count(), 0);
    h.engine.check_invariants().unwrap();
}

#[test]
fn fetch_is_relayed_and_answered_with_its_one_notify() {
    let mut h = ready();
    let t = h.subscribe(ALICE, CAROL, 0);
    let (relay, _, op) = relayed(&h.take());
    assert_eq!(op.duration, 0);
    answer(&mut h, relay, Status::Success, Some(0));
    assert!(h.take().is_empty(), "the response waits for the presence");
    remote_notify(&mut h, SubState::Terminated(Reason::Fetched), Basic::Open);
    let out = h.take();
    let r = responses(&out);
    assert_eq!(r.len(), 2, "the notify's answer and the fetch's");
    assert_eq!((r[1].trans_id, r[1].duration), (t, Some(0)));
    let n = notifies(&out);
    assert_eq!(n[0].state, SubState::Terminated(Reason::Fetched));
    assert_eq!(
        basics(&n[0].presence),
        vec![("desk".into(), Some(Basic::Open))]
    );
    assert!(stored(&mut h).is_empty(), "a fetch is never stored");
    assert_eq!(h.engine.remote_subscription_count(), 0);
    h.engine.check_invariants().unwrap();
}

#[test]
fn fetch_with_no_notify_in_time_is_indeterminant() {
    let mut h = ready();
    let t = h.subscribe(ALICE, CAROL, 0);
    let (relay, _, _) = relayed(&h.take());
    answer(&mut h, relay, Status::Success, Some(0));
    h.advance(32_000);
    let out = h.take();
    let r = only_response(&out, t);
    assert_eq!(r.status, Status::Indeterminant);
    assert!(notifies(&out).is_empty());
    assert!(unsubscribes(&out).is_empty());
    h.engine.check_invariants().unwrap();
}

#[test]
fn a_notify_before_the_answer_means_accepted() {
    let mut h = ready();
    let t = h.subscribe(ALICE, CAROL, 600);
    let (relay, _, _) = relayed(&h.take());
    let state = active_in(&h, 500);
    remote_notify(&mut h, state, Basic::Open);
    let out = h.take();
    let r: Vec<_> = responses(&out)
        .into_iter()
        .filter(|r| r.trans_id == t)
        .collect();
    assert_eq!((r[0].status, r[0].duration), (Status::Success, Some(500)));
    let n = notifies(&out);
    assert_eq!(
        n[0].state,
        SubState::Active {
            expires: h.now.plus_secs(500)
        }
    );
    assert_eq!(stored(&mut h)[0].3, SubscriptionStatus::Active);
    assert_eq!(
        h.handle(Input::RelayAnswer {
            relay,
            answer: None
        }),
        Err(InputError::UnknownRelay(relay))
    );
    assert_eq!(h.engine.remote_subscription_count(), 1);
    h.engine.check_invariants().unwrap();
}

#[test]
fn removing_the_watcher_ends_its_relayed_subscriptions() {
    let mut h = ready();
    established(&mut h, 300);
    let t = h.subscribe(ALICE, "dan@example.net", 600);
    h.take();
    h.handle(Input::RemoveUser(addr(ALICE))).unwrap();
    let out = h.take();
    assert_eq!(only_response(&out, t).status, Status::Failure);
    assert_eq!(unsubscribes(&out).len(), 2);
    assert!(stored(&mut h).is_empty());
    assert_eq!(h.engine.remote_subscription_count(), 0);
    assert_eq!(h.engine.poll_timeout(), None);
    h.engine.check_invariants().unwrap();
}

#[test]
fn a_route_without_answers_still_awaits_the_subscribe_answer() {
    // A subscription needs the other side's answer to exist at all.
    let mut h = ready();
    h.subscribe(ALICE, "dave@example.org", 600);
    let out = h.take();
    let (relay, binding, _) = relayed(&out);
    assert_eq!(binding, "xmpp");
    assert!(responses(&out).is_empty());
    answer(&mut h, relay, Status::Success, Some(60));
    assert_eq!(responses(&h.take())[0].duration, Some(60));
}

// ---- watchers of other domains subscribing here (section 3.4.1 step 2) ----

fn with_bob(config: Config) -> Harness {
    let mut h = Harness::new(config);
    h.add_user("bob@example.com");
    h.publish("bob@example.com", "phone", Basic::Open, 3600);
    h.take();
    h
}

/// `watcher` subscribes to Bob through its domain's server.
fn from_peer(h: &mut Harness, domain: &str, watcher: &str) -> Vec<Effect> {
    let t = h.trans();
    h.handle(Input::Subscribe {
        origin: Origin(7),
        principal: Principal::Domain(domain.into()),
        op: SubscribeOp {
            watcher: pres(watcher),
            target: pres("bob@example.com"),
            duration: 600,
            trans_id: t,
        },
    })
    .unwrap();
    let out = h.take();
    assert_eq!(responses(&out)[0].trans_id, t);
    out
}

fn rule(h: &mut Harness, subject: PolicySubject, decision: Decision) {
    h.handle(Input::SetPolicy {
        presentity: addr("bob@example.com"),
        subject,
        decision: Some(decision),
    })
    .unwrap();
}

#[test]
fn a_peer_domain_may_subscribe_only_for_its_own_watchers() {
    let mut h =
        with_bob(Config::new(["example.com"]).with_default_policy("example.com", Decision::Allow));
    let out = from_peer(&mut h, "example.net", CAROL);
    assert_eq!(responses(&out)[0].status, Status::Success);
    assert!(notifies(&out)[0].presence.is_some());
    for watcher in ["dave@example.org", ALICE] {
        let out = from_peer(&mut h, "example.net", watcher);
        let r = &responses(&out)[0];
        assert_eq!(r.status, Status::Failure);
        assert_eq!(
            r.reason.clone().unwrap(),
            format!("not authorised to subscribe as {watcher}")
        );
    }
    // Case of the domain does not matter: addresses are normalised.
    let out = from_peer(&mut h, "example.net", "erin@EXAMPLE.NET");
    assert_eq!(responses(&out)[0].status, Status::Success);
}

#[test]
fn remote_watchers_follow_watcher_then_domain_rules_then_domain_default() {
    let mut h =
        with_bob(Config::new(["example.com"]).with_default_policy("example.com", Decision::Deny));
    // The service default for the presentity's domain applies to strangers.
    let out = from_peer(&mut h, "example.org", "dave@example.org");
    assert_eq!(responses(&out)[0].status, Status::Failure);
    // A domain rule lets a whole domain in.
    rule(
        &mut h,
        PolicySubject::Domain("example.net".into()),
        Decision::Allow,
    );
    let out = from_peer(&mut h, "example.net", CAROL);
    let n = notifies(&out);
    assert_eq!(responses(&out)[0].status, Status::Success);
    assert!(matches!(n[0].state, SubState::Active { .. }));
    assert_eq!(
        basics(&n[0].presence),
        vec![("phone".into(), Some(Basic::Open))]
    );
    // A watcher's own rule beats its domain's.
    rule(
        &mut h,
        PolicySubject::Watcher("mallory@example.net".into()),
        Decision::Deny,
    );
    let out = from_peer(&mut h, "example.net", "mallory@example.net");
    assert_eq!(responses(&out)[0].status, Status::Failure);
    assert!(notifies(&out).is_empty());
    // Ask: pending, no presence, and the presentity is asked.
    rule(
        &mut h,
        PolicySubject::Watcher("frank@example.org".into()),
        Decision::Ask,
    );
    let out = from_peer(&mut h, "example.org", "frank@example.org");
    assert!(matches!(notifies(&out)[0].state, SubState::Pending { .. }));
    assert_eq!(notifies(&out)[0].presence, None);
    assert!(out.iter().any(|e| matches!(
        e,
        Effect::WatcherRequest { watcher, .. } if watcher.to_string() == "frank@example.org"
    )));
    // Denying the domain later ends the allowed remote watcher's subscription.
    rule(
        &mut h,
        PolicySubject::Domain("example.net".into()),
        Decision::Deny,
    );
    let n = notifies(&h.take());
    assert_eq!(n.len(), 1);
    assert_eq!(n[0].watcher.to_string(), CAROL);
    assert_eq!(n[0].state, SubState::Terminated(Reason::Rejected));
    h.engine.check_invariants().unwrap();
}

#[test]
fn refresh_is_relayed_and_its_answer_renews_the_subscription() {
    let mut h = ready();
    established(&mut h, 600);
    h.advance(500_000);
    let t = h.refresh(ALICE, CAROL, 900);
    let out = h.take();
    let (relay, binding, op) = relayed(&out);
    assert_eq!((binding.as_str(), op.duration), ("sip", 900));
    assert_eq!(op.watcher, pres(ALICE));
    assert_eq!(op.target, pres(CAROL));
    assert!(
        responses(&out).is_empty(),
        "the response waits for the answer"
    );
    h.engine.check_invariants().unwrap();
    // Meanwhile the subscription goes on: notifies still reach the watcher.
    let state = active_in(&h, 100);
    remote_notify(&mut h, state, Basic::Open);
    assert_eq!(notifies(&h.take()).len(), 1);
    answer(&mut h, relay, Status::Success, Some(800));
    let out = h.take();
    let r = only_response(&out, t);
    assert_eq!((r.status, r.duration), (Status::Success, Some(800)));
    let expires = h.now.plus_secs(800);
    assert_eq!(
        stored(&mut h),
        vec![(
            ALICE.to_string(),
            CAROL.to_string(),
            "sip".to_string(),
            SubscriptionStatus::Active,
            expires
        )]
    );
    h.engine.check_invariants().unwrap();
    // The old expiry passes; the new one ends it and is relayed.
    h.advance(799_000);
    assert!(h.take().is_empty());
    h.advance(1_000);
    let out = h.take();
    assert_eq!(unsubscribes(&out).len(), 1);
    assert_eq!(h.engine.remote_subscription_count(), 0);
}

#[test]
fn a_refused_or_lost_refresh_leaves_the_subscription_until_its_expiry() {
    let mut h = ready();
    established(&mut h, 600);
    let t = h.refresh(ALICE, CAROL, 900);
    let (relay, _, _) = relayed(&h.take());
    answer(&mut h, relay, Status::Failure, None);
    let out = h.take();
    let r = only_response(&out, t);
    assert_eq!(
        (r.status, r.reason.as_deref()),
        (Status::Failure, Some("refused over there"))
    );
    assert_eq!(h.engine.remote_subscription_count(), 1);
    assert_eq!(stored(&mut h)[0].4, h.now.plus_secs(600));
    h.engine.check_invariants().unwrap();

    let t = h.refresh(ALICE, CAROL, 900);
    let (relay, _, _) = relayed(&h.take());
    h.handle(Input::RelayAnswer {
        relay,
        answer: None,
    })
    .unwrap();
    let r = only_response(&h.take(), t);
    assert_eq!(r.status, Status::Indeterminant);
    assert_eq!(h.engine.remote_subscription_count(), 1);
    // The known expiry still ends it.
    h.advance(600_000);
    assert_eq!(h.engine.remote_subscription_count(), 0);
    h.engine.check_invariants().unwrap();
}

#[test]
fn refresh_of_a_relayed_subscription_needs_one_and_ends_it_with_zero() {
    let mut h = ready();
    let t = h.refresh(ALICE, CAROL, 600);
    let r = only_response(&h.take(), t);
    assert_eq!(
        (r.status, r.reason.as_deref()),
        (
            Status::Failure,
            Some("alice@example.com has no subscription to carol@example.net to refresh")
        )
    );
    established(&mut h, 600);
    let t = h.refresh(ALICE, CAROL, 900);
    h.take();
    // A second refresh while one is under way is refused.
    let t2 = h.refresh(ALICE, CAROL, 900);
    let r = only_response(&h.take(), t2);
    assert_eq!(r.status, Status::Failure);
    // Unsubscribing withdraws the waiting refresh.
    h.unsubscribe(ALICE, CAROL);
    let out = h.take();
    let r: Vec<_> = responses(&out)
        .into_iter()
        .map(|r| (r.trans_id, r.status))
        .collect();
    assert!(r.contains(&(t, Status::Failure)));
    assert_eq!(unsubscribes(&out).len(), 1);
    assert_eq!(h.engine.remote_subscription_count(), 0);

    established(&mut h, 600);
    let t = h.refresh(ALICE, CAROL, 0);
    let out = h.take();
    assert_eq!(only_response(&out, t).duration, Some(0));
    assert_eq!(unsubscribes(&out).len(), 1);
    assert_eq!(h.engine.remote_subscription_count(), 0);
    h.engine.check_invariants().unwrap();
}

/// Draft section 3.4: in-progress operations are kept in persistent
/// storage. A relayed refresh waiting for its answer is stored with the
/// subscription; after a restart the answer still completes the watcher's
/// response, and a refused one leaves the subscription as it was, stored
/// without the refresh.
#[test]
fn restart_keeps_a_relayed_refresh_in_progress_and_its_answer_completes_it() {
    let mut h = ready();
    established(&mut h, 600);
    let state = active_in(&h, 600);
    remote_notify(&mut h, state, Basic::Open);
    h.take();
    let first_end = h.now.plus_secs(600);
    h.advance(100_000);
    let t = h.refresh(ALICE, CAROL, 900);
    let (relay, _, _) = relayed(&h.take());
    let request = h.store.load().unwrap().remote_subscriptions[0]
        .request
        .clone()
        .unwrap();
    assert_eq!(
        (
            request.relay,
            request.trans_id,
            request.duration,
            request.phase
        ),
        (relay.0, t.get(), 900, RelayedPhase::Refreshing)
    );
    assert_eq!(stored(&mut h)[0].3, SubscriptionStatus::Active);
    assert_eq!(stored(&mut h)[0].4, first_end);
    h.advance(1_000);
    h.restart();
    h.engine.check_invariants().unwrap();
    // Still under way after the restart: a second refresh is refused, and
    // the subscription goes on meanwhile.
    let t2 = h.refresh(ALICE, CAROL, 900);
    assert_eq!(only_response(&h.take(), t2).status, Status::Failure);
    let state = active_in(&h, 400);
    remote_notify(&mut h, state, Basic::Closed);
    let n = notifies(&h.take());
    assert_eq!(n[0].state, SubState::Active { expires: first_end });
    answer(&mut h, relay, Status::Success, Some(800));
    let out = h.take();
    let r = only_response(&out, t);
    assert_eq!((r.status, r.duration), (Status::Success, Some(800)));
    let renewed = h.now.plus_secs(800);
    assert_eq!(stored(&mut h)[0].4, renewed);
    assert_eq!(
        h.store.load().unwrap().remote_subscriptions[0].request,
        None
    );
    assert_eq!(h.engine.poll_timeout(), Some(renewed));
    h.engine.check_invariants().unwrap();

    // Refused after a restart: the watcher hears it, the record loses the
    // refresh and keeps its expiry.
    let t = h.refresh(ALICE, CAROL, 900);
    let (relay, _, _) = relayed(&h.take());
    h.restart();
    answer(&mut h, relay, Status::Failure, None);
    let r = only_response(&h.take(), t);
    assert_eq!(r.status, Status::Failure);
    assert_eq!(
        h.store.load().unwrap().remote_subscriptions[0].request,
        None
    );
    assert_eq!(stored(&mut h)[0].4, renewed);
    h.restart();
    h.engine.check_invariants().unwrap();
    assert_eq!(h.engine.poll_timeout(), Some(renewed));
}
