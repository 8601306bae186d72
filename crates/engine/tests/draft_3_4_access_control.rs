//! Access control and watcher information (draft section 3.4.1 step 2,
//! RFC 2779 section 5.1): allow, deny, ask (pending), per-domain defaults,
//! watcher lists and requests.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use cpim_engine::{
    Config, Decision, Effect, Input, InputError, PolicySubject, Reason, SubState,
    SubscriptionStatus,
};
use cpim_formats::op::Status;
use cpim_formats::pidf::Basic;

fn ready(config: Config) -> Harness {
    let mut h = Harness::new(config);
    h.add_user("bob@example.com");
    h.publish("bob@example.com", "phone", Basic::Open, 3600);
    h.take();
    h
}

fn decide(h: &mut Harness, watcher: &str, decision: Option<Decision>) {
    h.handle(Input::SetPolicy {
        presentity: addr("bob@example.com"),
        subject: PolicySubject::Watcher(watcher.into()),
        decision,
    })
    .unwrap();
}

#[test]
fn ask_makes_a_pending_subscription_and_tells_the_presentity() {
    let mut h = ready(Config::new(["example.com"]));
    let t = h.subscribe("carol@example.net", "bob@example.com", 600);
    let out = h.take();
    assert_eq!(only_response(&out, t).status, Status::Success);
    let n = notifies(&out);
    assert_eq!(n.len(), 1);
    assert!(matches!(n[0].state, SubState::Pending { .. }));
    assert!(n[0].presence.is_none(), "pending learns no presence");
    assert!(out.iter().any(|e| matches!(e, Effect::WatcherRequest { presentity, watcher }
        if presentity.to_string() == "bob@example.com" && watcher.to_string() == "carol@example.net")));
    let list = h.engine.watchers(&addr("bob@example.com"));
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].status, SubscriptionStatus::Pending);
    let pending = h.engine.pending_requests(&addr("bob@example.com"));
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].0.to_string(), "carol@example.net");

    h.publish("bob@example.com", "phone", Basic::Closed, 3600);
    assert!(notifies(&h.take()).is_empty(), "no presence while pending");

    decide(&mut h, "carol@example.net", Some(Decision::Allow));
    let n = notifies(&h.take());
    assert_eq!(n.len(), 1);
    assert!(matches!(n[0].state, SubState::Active { .. }));
    assert_eq!(
        basics(&n[0].presence),
        vec![("phone".to_string(), Some(Basic::Closed))]
    );
    assert!(h
        .engine
        .pending_requests(&addr("bob@example.com"))
        .is_empty());
    assert_eq!(
        h.engine.watchers(&addr("bob@example.com"))[0].status,
        SubscriptionStatus::Active
    );
}

#[test]
fn a_second_request_is_not_announced_twice() {
    let mut h = ready(Config::new(["example.com"]));
    h.subscribe("carol@example.net", "bob@example.com", 0);
    let first = h.take();
    assert_eq!(
        notifies(&first)[0].state,
        SubState::Terminated(Reason::Undecided)
    );
    assert!(
        notifies(&first)[0].presence.is_none(),
        "a fetch while undecided learns nothing"
    );
    assert!(first
        .iter()
        .any(|e| matches!(e, Effect::WatcherRequest { .. })));
    h.subscribe("carol@example.net", "bob@example.com", 600);
    assert!(!h
        .take()
        .iter()
        .any(|e| matches!(e, Effect::WatcherRequest { .. })));
}

#[test]
fn deny_ends_existing_subscriptions_without_presence() {
    let mut h =
        ready(Config::new(["example.com"]).with_default_policy("example.com", Decision::Allow));
    h.subscribe("carol@example.net", "bob@example.com", 600);
    assert!(notifies(&h.take())[0].presence.is_some());
    decide(&mut h, "carol@example.net", Some(Decision::Deny));
    let n = notifies(&h.take());
    assert_eq!(n.len(), 1);
    assert_eq!(n[0].state, SubState::Terminated(Reason::Rejected));
    assert!(n[0].presence.is_none());
    assert_eq!(h.engine.subscription_count(), 0);
    h.publish("bob@example.com", "phone", Basic::Closed, 3600);
    assert!(notifies(&h.take()).is_empty());
    // Withdrawing the rule falls back to the domain default.
    decide(&mut h, "carol@example.net", None);
    let t = h.subscribe("carol@example.net", "bob@example.com", 600);
    assert_eq!(only_response(&h.take(), t).status, Status::Success);
}

#[test]
fn most_specific_rule_wins_then_domain_default_then_fallback() {
    let config = Config::new(["example.com"]).with_default_policy("example.com", Decision::Deny);
    let mut h = ready(config);
    let t = h.subscribe("carol@example.net", "bob@example.com", 600);
    assert_eq!(only_response(&h.take(), t).status, Status::Failure);
    h.handle(Input::SetPolicy {
        presentity: addr("bob@example.com"),
        subject: PolicySubject::Domain("EXAMPLE.net".into()),
        decision: Some(Decision::Allow),
    })
    .unwrap();
    let t = h.subscribe("carol@example.net", "bob@example.com", 600);
    assert_eq!(only_response(&h.take(), t).status, Status::Success);
    decide(&mut h, "dave@example.net", Some(Decision::Deny));
    let t = h.subscribe("dave@example.net", "bob@example.com", 600);
    assert_eq!(only_response(&h.take(), t).status, Status::Failure);
    h.handle(Input::SetPolicy {
        presentity: addr("bob@example.com"),
        subject: PolicySubject::Anyone,
        decision: Some(Decision::Allow),
    })
    .unwrap();
    let t = h.subscribe("erin@example.org", "bob@example.com", 600);
    assert_eq!(only_response(&h.take(), t).status, Status::Success);
    // A presentity always sees itself.
    let mut h =
        ready(Config::new(["example.com"]).with_default_policy("example.com", Decision::Deny));
    let t = h.subscribe("bob@example.com", "bob@example.com", 0);
    let out = h.take();
    assert_eq!(only_response(&out, t).status, Status::Success);
    assert!(notifies(&out)[0].presence.is_some());
}

#[test]
fn policy_for_unknown_presentity_or_bad_subject_is_an_input_error() {
    let mut h = ready(Config::new(["example.com"]));
    let err = h.handle(Input::SetPolicy {
        presentity: addr("nobody@example.com"),
        subject: PolicySubject::Anyone,
        decision: Some(Decision::Allow),
    });
    assert_eq!(
        err,
        Err(InputError::UnknownUser(addr("nobody@example.com")))
    );
    let err = h.handle(Input::SetPolicy {
        presentity: addr("bob@example.com"),
        subject: PolicySubject::Watcher("not an address".into()),
        decision: Some(Decision::Allow),
    });
    assert_eq!(
        err,
        Err(InputError::InvalidSubject("not an address".into()))
    );
    assert_eq!(
        h.handle(Input::AddUser(addr("x@example.net"))),
        Err(InputError::NotLocal(addr("x@example.net")))
    );
}

#[test]
fn removing_a_presentity_ends_its_subscriptions() {
    let mut h =
        ready(Config::new(["example.com"]).with_default_policy("example.com", Decision::Allow));
    h.subscribe("carol@example.net", "bob@example.com", 600);
    h.take();
    h.handle(Input::RemoveUser(addr("bob@example.com")))
        .unwrap();
    let n = notifies(&h.take());
    assert_eq!(n[0].state, SubState::Terminated(Reason::Deactivated));
    assert_eq!(h.engine.subscription_count(), 0);
    assert!(h.engine.poll_timeout().is_none());
    let snap = cpim_engine::Store::load(&mut h.store).unwrap();
    assert_eq!(
        snap,
        cpim_engine::Snapshot::default(),
        "nothing of bob is left in the store"
    );
}
