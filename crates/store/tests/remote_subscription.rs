//! Relayed subscriptions (draft section 3.4 across domains) through
//! `SqliteStore`: one accepted by the other domain survives a reopen with its
//! state and expiry, and its end removes it from the file.
#![allow(clippy::unwrap_used)]

use cpim_engine::{
    Config, Effect, Engine, Input, Origin, Principal, RelayId, Store, SubState, SubscriptionStatus,
    Timestamp,
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
