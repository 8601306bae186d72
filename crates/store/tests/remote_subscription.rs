//! Relayed subscriptions (draft section 3.4 across domains) through
//! `SqliteStore`: one accepted by the other domain survives a reopen with its
//! state and expiry, and its end removes it from the file; a refresh of one,
//! in progress, survives a reopen and its answer completes it.
#![allow(clippy::unwrap_used)]

use cpim_engine::{
    Config, Effect, Engine, Input, Origin, Principal, RelayId, RelayedPhase, RelayedRequest, Store,
    SubState, SubscriptionStatus, Timestamp,
};
use cpim_formats::op::{NotifyOp, ResponseOp, Status, SubscribeOp, TransId, UnsubscribeOp};
use cpim_formats::pidf::Presence;
use cpim_formats::uri::{Address, Scheme};
use cpim_store::SqliteStore;

fn addr(local: &str, domain: &str) -> Address {
    Address::new(local, domain).unwrap()
}

/// Hands `input` to the engine and commits its changes; returns the rest.
fn step(engine: &mut Engine, store: &mut SqliteStore, input: Input, now: Timestamp) -> Vec<Effect> {
    engine.handle(input, now).unwrap();
    let mut batch = Vec::new();
    let mut out = Vec::new();
    for effect in engine.drain_effects() {
        match effect {
            Effect::Persist(c) => batch.push(c),
            other => out.push(other),
        }
    }
    store.apply(&batch).unwrap();
    out
}

#[test]
fn accepted_relayed_subscription_survives_reopen_and_its_end_is_stored() {
    let config = Config::new(["example.com"]).with_route("example.net", "sip", true);
    let dir = tempfile::tempdir().unwrap();
    let mut store = SqliteStore::open(dir.path()).unwrap();
    let mut engine = Engine::new(config.clone());
    let now = Timestamp::from_millis(1_700_000_000_000);
    let alice = addr("alice", "example.com");
    let carol = addr("carol", "example.net");
    step(&mut engine, &mut store, Input::AddUser(alice.clone()), now);
    let subscribe = Input::Subscribe {
        origin: Origin(1),
        principal: Principal::User(alice.clone()),
        op: SubscribeOp {
            watcher: alice.to_uri(Scheme::Pres),
            target: carol.to_uri(Scheme::Pres),
            duration: 600,
            trans_id: TransId::new(1).unwrap(),
        },
    };
    let out = step(&mut engine, &mut store, subscribe, now);
    let relay: Vec<RelayId> = out
        .iter()
        .filter_map(|e| match e {
            Effect::RelaySubscribe { relay, .. } => Some(*relay),
            _ => None,
        })
        .collect();
    // In progress, it is in the file already, answer deadline and all.
    let in_progress = store.load().unwrap().remote_subscriptions;
    let q = in_progress[0].request.clone().unwrap();
    assert_eq!(
        (q.relay, q.origin, q.trans_id, q.duration),
        (relay[0].0, 1, 1, 600)
    );
    assert_eq!(in_progress[0].expires, now.plus_millis(32_000));
    let answer = Input::RelayAnswer {
        relay: relay[0],
        answer: Some(ResponseOp {
            status: Status::Success,
            trans_id: TransId::new(1).unwrap(),
            duration: Some(300),
            lang: None,
            reason: None,
        }),
    };
    step(&mut engine, &mut store, answer, now);
    let expires = now.plus_secs(300);
    let notify = Input::Notify {
        origin: Origin(2),
        principal: Principal::Domain("example.net".into()),
        op: NotifyOp {
            watcher: alice.to_uri(Scheme::Pres),
            target: carol.to_uri(Scheme::Pres),
            trans_id: TransId::new(2).unwrap(),
            presence: Presence::new("pres:carol@example.net"),
        },
        state: SubState::Active { expires },
    };
    step(&mut engine, &mut store, notify, now);
    drop(store);

    let mut store = SqliteStore::open(dir.path()).unwrap();
    let snapshot = store.load().unwrap();
    assert_eq!(snapshot.remote_subscriptions.len(), 1);
    let r = &snapshot.remote_subscriptions[0];
    assert_eq!(
        (r.watcher.as_str(), r.target.as_str(), r.binding.as_str()),
        ("alice@example.com", "carol@example.net", "sip")
    );
    assert_eq!((r.state, r.expires), (SubscriptionStatus::Active, expires));
    assert_eq!(r.request, None);
    let mut engine = Engine::restore(config, snapshot).unwrap();
    assert_eq!(engine.remote_subscription_count(), 1);
    assert_eq!(engine.poll_timeout(), Some(expires));

    let unsubscribe = Input::Unsubscribe {
        origin: Origin(3),
        principal: Principal::User(alice.clone()),
        op: UnsubscribeOp {
            watcher: alice.to_uri(Scheme::Pres),
            target: carol.to_uri(Scheme::Pres),
            trans_id: TransId::new(3).unwrap(),
        },
    };
    let out = step(&mut engine, &mut store, unsubscribe, now.plus_secs(10));
    assert!(out
        .iter()
        .any(|e| matches!(e, Effect::RelayUnsubscribe { binding, .. } if binding == "sip")));
    assert!(store.load().unwrap().remote_subscriptions.is_empty());
}

/// Draft section 3.4 keeps in-progress operations in persistent storage: a
/// refresh of a relayed subscription, waiting for the other side's answer,
/// is in the file, and after a reopen the answer still reaches the watcher
/// who asked, with the new expiry stored.
#[test]
fn relayed_refresh_in_progress_survives_reopen_and_its_answer_completes_it() {
    let config = Config::new(["example.com"]).with_route("example.net", "sip", true);
    let dir = tempfile::tempdir().unwrap();
    let mut store = SqliteStore::open(dir.path()).unwrap();
    let mut engine = Engine::new(config.clone());
    let now = Timestamp::from_millis(1_700_000_000_000);
    let alice = addr("alice", "example.com");
    let carol = addr("carol", "example.net");
    step(&mut engine, &mut store, Input::AddUser(alice.clone()), now);
    let op = |duration, trans| SubscribeOp {
        watcher: alice.to_uri(Scheme::Pres),
        target: carol.to_uri(Scheme::Pres),
        duration,
        trans_id: TransId::new(trans).unwrap(),
    };
    let relay_of = |out: &[Effect]| {
        out.iter()
            .find_map(|e| match e {
                Effect::RelaySubscribe { relay, .. } => Some(*relay),
                _ => None,
            })
            .unwrap()
    };
    let success = |relay, duration| Input::RelayAnswer {
        relay,
        answer: Some(ResponseOp {
            status: Status::Success,
            trans_id: TransId::new(99).unwrap(),
            duration: Some(duration),
            lang: None,
            reason: None,
        }),
    };
    let subscribe = Input::Subscribe {
        origin: Origin(1),
        principal: Principal::User(alice.clone()),
        op: op(600, 1),
    };
    let out = step(&mut engine, &mut store, subscribe, now);
    step(&mut engine, &mut store, success(relay_of(&out), 300), now);
    let first_end = now.plus_secs(300);

    let later = now.plus_secs(100);
    let refresh = Input::Refresh {
        origin: Origin(7),
        principal: Principal::User(alice.clone()),
        op: op(900, 2),
    };
    let out = step(&mut engine, &mut store, refresh, later);
    let relay = relay_of(&out);
    assert!(
        !out.iter().any(|e| matches!(e, Effect::Respond { .. })),
        "the watcher's response waits for the answer: {out:?}"
    );
    let stored = store.load().unwrap().remote_subscriptions;
    assert_eq!(stored.len(), 1);
    // Stored with the refresh, the subscription as it was meanwhile
    // (accepted, no notify yet: pending).
    assert_eq!(
        (stored[0].state, stored[0].expires),
        (SubscriptionStatus::Pending, first_end)
    );
    assert_eq!(
        stored[0].request,
        Some(RelayedRequest {
            relay: relay.0,
            origin: 7,
            trans_id: 2,
            duration: 900,
            phase: RelayedPhase::Refreshing,
        })
    );
    drop(engine);
    drop(store);

    let mut store = SqliteStore::open(dir.path()).unwrap();
    let mut engine = Engine::restore_from(config, &mut store).unwrap();
    engine.check_invariants().unwrap();
    assert_eq!(engine.poll_timeout(), Some(first_end));
    let answered = later.plus_secs(1);
    let out = step(&mut engine, &mut store, success(relay, 900), answered);
    let responses: Vec<_> = out
        .iter()
        .filter_map(|e| match e {
            Effect::Respond { to, response } => Some((*to, response.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(responses.len(), 1, "{out:?}");
    assert_eq!(responses[0].0, Origin(7));
    assert_eq!(
        (
            responses[0].1.status,
            responses[0].1.trans_id.get(),
            responses[0].1.duration
        ),
        (Status::Success, 2, Some(900))
    );
    let stored = store.load().unwrap().remote_subscriptions;
    assert_eq!(stored[0].request, None);
    assert_eq!(
        (stored[0].state, stored[0].expires),
        (SubscriptionStatus::Pending, answered.plus_secs(900))
    );
    assert_eq!(engine.poll_timeout(), Some(answered.plus_secs(900)));
}
