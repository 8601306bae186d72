//! Random operation sequences against the engine, with a restart-free twin
//! and a restarted twin side by side. Properties: no duplicate subscription,
//! no notify after expiry or unsubscribe, no presence to a watcher not
//! allowed, exactly one response per request with its transID (delegated
//! messages and relayed subscriptions included), consistent internal
//! indexes, and a restore from the store mid-sequence changes nothing a peer
//! could see. Target 3 is a presentity of another domain: subscriptions to it
//! are relayed, answered and notified at random.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::*;
use cpim_engine::{
    Config, Decision, Effect, Input, Origin, PolicySubject, Principal, Reason, RelayId, SessionId,
    SubState,
};
use cpim_formats::op::{
    MessageOp, NotifyOp, ResponseOp, Status, SubscribeOp, TransId, UnsubscribeOp,
};
use cpim_formats::pidf::{Basic, Presence, Tuple};
use proptest::prelude::*;

const LOCAL: [&str; 3] = ["a@example.com", "b@example.com", "c@example.com"];
/// Presentities subscribed to: the local ones, then one of another domain.
const TARGETS: [&str; 4] = [
    "a@example.com",
    "b@example.com",
    "c@example.com",
    "r@example.net",
];
const REMOTE: usize = 3;
const WATCHERS: [&str; 4] = [
    "a@example.com",
    "b@example.com",
    "c@example.com",
    "x@example.net",
];

#[derive(Clone, Debug)]
enum Op {
    Subscribe {
        w: usize,
        t: usize,
        duration: u32,
    },
    Unsubscribe {
        w: usize,
        t: usize,
    },
    /// The refresh extension, for local targets and (relayed) the remote one.
    Refresh {
        w: usize,
        t: usize,
        duration: u32,
    },
    Publish {
        t: usize,
        publisher: usize,
        open: bool,
        duration: u32,
    },
    Policy {
        t: usize,
        w: usize,
        decision: Option<Decision>,
    },
    Message {
        from: usize,
        to: usize,
    },
    Answer {
        k: usize,
        answer: Option<bool>,
    },
    Open {
        user: usize,
    },
    Close {
        user: usize,
    },
    Advance {
        ms: u64,
    },
    Restart,
    /// The other domain notifies watcher `w` about the remote target.
    RemoteNotify {
        w: usize,
        state: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let decision = prop_oneof![
        Just(None),
        Just(Some(Decision::Allow)),
        Just(Some(Decision::Deny)),
        Just(Some(Decision::Ask)),
    ];
    prop_oneof![
        4 => (0..4usize, 0..4usize, prop_oneof![Just(0u32), Just(60), Just(120), Just(600)])
            .prop_map(|(w, t, duration)| Op::Subscribe { w, t, duration }),
        1 => (0..4usize, 0..4usize).prop_map(|(w, t)| Op::Unsubscribe { w, t }),
        2 => (0..4usize, 0..4usize, prop_oneof![Just(0u32), Just(60), Just(600)])
            .prop_map(|(w, t, duration)| Op::Refresh { w, t, duration }),
        2 => (0..4usize, 0..4usize).prop_map(|(w, state)| Op::RemoteNotify { w, state }),
        3 => (0..3usize, 0..2usize, any::<bool>(), prop_oneof![Just(0u32), Just(30), Just(300)])
            .prop_map(|(t, publisher, open, duration)| Op::Publish { t, publisher, open, duration }),
        2 => (0..3usize, 0..4usize, decision).prop_map(|(t, w, decision)| Op::Policy { t, w, decision }),
        2 => (0..3usize, 0..4usize).prop_map(|(from, to)| Op::Message { from, to }),
        1 => (0..8usize, prop_oneof![Just(None), Just(Some(true)), Just(Some(false))])
            .prop_map(|(k, answer)| Op::Answer { k, answer }),
        1 => (0..3usize).prop_map(|user| Op::Open { user }),
        1 => (0..3usize).prop_map(|user| Op::Close { user }),
        3 => (0..200_000u64).prop_map(|ms| Op::Advance { ms }),
        1 => Just(Op::Restart),
    ]
}

/// What a peer sees of one step, in a canonical order (fan-out order and
/// notify transIDs are the engine's own business).
fn visible(effects: &[Effect]) -> Vec<String> {
    let mut v: Vec<String> = effects
        .iter()
        .map(|e| match e {
            Effect::Respond { to, response } => format!(
                "respond {to:?} {} {:?} {:?} {:?}",
                response.trans_id.get(),
                response.status,
                response.duration,
                response.reason
            ),
            Effect::Notify(n) => format!(
                "notify {} {} {:?} {:?}",
                n.watcher,
                n.target,
                n.state,
                n.presence.as_ref().map(|p| p.to_xml())
            ),
            Effect::Deliver { session, message } => {
                format!("deliver {session:?} {}", message.trans_id.get())
            }
            Effect::WatcherRequest {
                presentity,
                watcher,
            } => format!("ask {presentity} {watcher}"),
            // Relay ids are random: only whether an answer is awaited shows.
            Effect::Relay {
                relay,
                binding,
                message,
                hops,
            } => format!(
                "relay {binding} {} {hops} {}",
                message.trans_id.get(),
                relay.is_some()
            ),
            Effect::RelaySubscribe { binding, op, .. } => format!(
                "relay-subscribe {binding} {} {} {} {}",
                op.watcher,
                op.target,
                op.duration,
                op.trans_id.get()
            ),
            Effect::RelayUnsubscribe { binding, op } => {
                format!("relay-unsubscribe {binding} {} {}", op.watcher, op.target)
            }
            other => format!("{other:?}"),
        })
        .collect();
    v.sort();
    v
}

struct Model {
    subs: BTreeMap<(usize, usize), bool>,
    rules: BTreeMap<(usize, usize), Decision>,
    open: BTreeSet<usize>,
}

impl Model {
    fn decision(&self, t: usize, w: usize) -> Decision {
        if w == t {
            return Decision::Allow;
        }
        self.rules.get(&(t, w)).copied().unwrap_or(Decision::Ask)
    }
}

fn index(list: &[&str], s: &str) -> usize {
    list.iter().position(|x| *x == s).unwrap()
}

fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let config = Config::new(["example.com"])
        .with_route("example.org", "xmpp", false)
        .with_route("example.net", "sip", true);
    let relay_wait = config.relay_timeout_ms;
    // A relayed refresh has no deadline of its own: its subscription's end.
    let longest_subscription_ms = u64::from(config.max_subscription) * 1000;
    // Each twin's awaited relays, in the order they were handed out.
    let mut relays: [Vec<RelayId>; 2] = [Vec::new(), Vec::new()];
    let mut awaiting: BTreeSet<TransId> = BTreeSet::new();
    let mut plain = Harness::new(config.clone());
    let mut restarted = Harness::new(config);
    let mut model = Model {
        subs: BTreeMap::new(),
        rules: BTreeMap::new(),
        open: BTreeSet::new(),
    };
    // Watchers with a relayed subscription (or fetch) to the remote target,
    // and the transIDs of their relayed subscribes.
    let mut remote_live: BTreeSet<usize> = BTreeSet::new();
    let mut remote_trans: BTreeMap<TransId, usize> = BTreeMap::new();
    let mut trans = 1u32;
    for h in [&mut plain, &mut restarted] {
        for u in LOCAL {
            h.add_user(u);
        }
        h.take();
    }
    for op in ops {
        let mut request: Option<TransId> = None;
        let mut fetch = None;
        let mut next = || {
            trans += 1;
            TransId::new(trans).unwrap()
        };
        let input = match &op {
            Op::Subscribe { w, t, duration } => {
                let id = next();
                request = Some(id);
                if *duration == 0 {
                    fetch = Some((*w, *t));
                }
                Some(Input::Subscribe {
                    origin: Origin(1),
                    principal: Principal::Service,
                    op: SubscribeOp {
                        watcher: pres(WATCHERS[*w]),
                        target: pres(TARGETS[*t]),
                        duration: *duration,
                        trans_id: id,
                    },
                })
            }
            Op::Refresh { w, t, duration } => {
                let id = next();
                request = Some(id);
                Some(Input::Refresh {
                    origin: Origin(1),
                    principal: Principal::Service,
                    op: SubscribeOp {
                        watcher: pres(WATCHERS[*w]),
                        target: pres(TARGETS[*t]),
                        duration: *duration,
                        trans_id: id,
                    },
                })
            }
            Op::Unsubscribe { w, t } => {
                let id = next();
                request = Some(id);
                Some(Input::Unsubscribe {
                    origin: Origin(1),
                    principal: Principal::Service,
                    op: UnsubscribeOp {
                        watcher: pres(WATCHERS[*w]),
                        target: pres(TARGETS[*t]),
                        trans_id: id,
                    },
                })
            }
            Op::Publish {
                t,
                publisher,
                open,
                duration,
            } => {
                let id = next();
                request = Some(id);
                let mut presence = Presence::new("pres:ignored@example.com");
                let basic = if *open { Basic::Open } else { Basic::Closed };
                presence
                    .tuples
                    .push(Tuple::new(format!("t{publisher}"), Some(basic)));
                Some(Input::Publish {
                    origin: Origin(2),
                    principal: Principal::User(addr(LOCAL[*t])),
                    trans_id: id,
                    presentity: addr(LOCAL[*t]),
                    publisher: format!("p{publisher}"),
                    presence,
                    duration: *duration,
                })
            }
            Op::Policy { t, w, decision } => {
                match decision {
                    Some(d) => model.rules.insert((*t, *w), *d),
                    None => model.rules.remove(&(*t, *w)),
                };
                Some(Input::SetPolicy {
                    presentity: addr(LOCAL[*t]),
                    subject: PolicySubject::Watcher(WATCHERS[*w].into()),
                    decision: *decision,
                })
            }
            Op::Message { from, to } => {
                let id = next();
                request = Some(id);
                let destination = match to {
                    2 => im("z@example.org"),
                    3 => im("z@example.net"),
                    _ => im(LOCAL[*to]),
                };
                Some(Input::Message {
                    origin: Origin(3),
                    principal: Principal::User(addr(LOCAL[*from])),
                    op: MessageOp {
                        source: im(LOCAL[*from]),
                        destination,
                        trans_id: id,
                        content_type: "text/plain".into(),
                        body: b"x".to_vec(),
                    },
                    hops: 10,
                })
            }
            Op::Open { user } => {
                if !model.open.insert(*user) {
                    continue;
                }
                Some(Input::SessionOpened {
                    session: SessionId(*user as u64),
                    user: addr(LOCAL[*user]),
                })
            }
            Op::Close { user } => {
                if !model.open.remove(user) {
                    continue;
                }
                Some(Input::SessionClosed(SessionId(*user as u64)))
            }
            Op::RemoteNotify { w, state } => {
                let id = next();
                request = Some(id);
                let expires = plain.now.plus_secs(300);
                let state = match state {
                    0 => SubState::Active { expires },
                    1 => SubState::Pending { expires },
                    2 => SubState::Terminated(Reason::Rejected),
                    _ => SubState::Terminated(Reason::Fetched),
                };
                let mut presence = Presence::new(format!("pres:{}", TARGETS[REMOTE]));
                presence.tuples.push(Tuple::new("far", Some(Basic::Open)));
                Some(Input::Notify {
                    origin: Origin(4),
                    principal: Principal::Domain("example.net".into()),
                    op: NotifyOp {
                        watcher: pres(WATCHERS[*w]),
                        target: pres(TARGETS[REMOTE]),
                        trans_id: id,
                        presence,
                    },
                    state,
                })
            }
            Op::Advance { .. } | Op::Restart | Op::Answer { .. } => None,
        };
        let mut seen = Vec::new();
        for (i, h) in [&mut plain, &mut restarted].into_iter().enumerate() {
            match (&op, &input) {
                (Op::Advance { ms }, _) => h.advance(*ms),
                (Op::Restart, _) if i == 1 => {
                    h.restart();
                    // Sessions are connections: the driver opens them again.
                    for u in &model.open {
                        h.handle(Input::SessionOpened {
                            session: SessionId(*u as u64),
                            user: addr(LOCAL[*u]),
                        })
                        .unwrap();
                    }
                }
                (_, Some(input)) => h.handle(input.clone()).unwrap(),
                (Op::Answer { k, answer }, _) if !relays[i].is_empty() => {
                    let relay = relays[i].remove(k % relays[i].len());
                    let answer = answer.map(|ok| {
                        let status = if ok { Status::Success } else { Status::Failure };
                        ResponseOp::new(status, TransId::new(999).unwrap())
                    });
                    // Refused when the wait ended already; that is checked below.
                    let _ = h.handle(Input::RelayAnswer { relay, answer });
                }
                _ => {}
            }
            for e in &h.outbox {
                match e {
                    Effect::Relay { relay: Some(r), .. }
                    | Effect::RelaySubscribe { relay: r, .. } => relays[i].push(*r),
                    _ => {}
                }
            }
            seen.push(h.take_timed());
        }
        let at: Vec<_> = seen[0].iter().map(|(t, _)| *t).collect();
        let seen: Vec<Vec<Effect>> = seen
            .into_iter()
            .map(|v| v.into_iter().map(|(_, e)| e).collect())
            .collect();
        prop_assert_eq!(
            visible(&seen[0]),
            visible(&seen[1]),
            "restore changed behaviour at {:?}",
            op
        );
        for h in [&plain, &restarted] {
            if let Err(broken) = h.engine.check_invariants() {
                return Err(TestCaseError::fail(format!("after {op:?}: {broken}")));
            }
        }
        let out = &seen[0];

        // Exactly one response per request, at once or (delegated) later.
        let answers = responses(out);
        let mut ids: Vec<TransId> = answers.iter().map(|r| r.trans_id).collect();
        for id in &ids {
            prop_assert!(
                Some(*id) == request || awaiting.remove(id),
                "unexpected response {:?}: {:?}",
                id,
                out
            );
        }
        ids.sort();
        ids.dedup();
        prop_assert_eq!(ids.len(), answers.len(), "two responses to one request");
        if let Some(id) = request {
            if !ids.contains(&id) {
                let delegated = matches!(
                    op,
                    Op::Message { to: 3, .. }
                        | Op::Subscribe { t: REMOTE, .. }
                        | Op::Refresh { t: REMOTE, .. }
                );
                prop_assert!(delegated, "no response to {:?}: {:?}", op, out);
                awaiting.insert(id);
            }
        }
        let this = answers.iter().find(|r| Some(r.trans_id) == request);
        if let (Op::Subscribe { w, t, duration }, Some(r)) = (&op, this) {
            let existed = if *t == REMOTE {
                remote_live.contains(w)
            } else {
                model.subs.contains_key(&(*w, *t))
            };
            if *duration != 0 && existed {
                prop_assert_eq!(r.status, Status::Failure, "duplicate subscription accepted");
            }
            if *duration != 0 && r.status == Status::Success && *t != REMOTE {
                model.subs.insert((*w, *t), true);
            }
        }
        if let (Op::Refresh { w, t, .. }, Some(r)) = (&op, this) {
            let existed = if *t == REMOTE {
                remote_live.contains(w)
            } else {
                model.subs.contains_key(&(*w, *t))
            };
            if !existed {
                prop_assert_eq!(r.status, Status::Failure, "refresh of nothing accepted");
            }
        }
        // Relayed subscriptions: live from the relayed subscribe until a
        // terminated notify, a relayed unsubscribe or a refusal.
        for e in out {
            if let Effect::RelaySubscribe { op: relayed, .. } = e {
                let w = index(&WATCHERS, &relayed.watcher.to_string()[5..]);
                if matches!(op, Op::Refresh { .. }) {
                    // A refresh goes out for a live subscription only, and
                    // its refusal leaves the subscription.
                    prop_assert!(remote_live.contains(&w), "refresh of nothing relayed");
                    continue;
                }
                prop_assert!(
                    remote_live.insert(w),
                    "two relayed subscriptions: {:?}",
                    out
                );
                remote_trans.insert(relayed.trans_id, w);
            }
        }
        for r in &answers {
            if let Some(w) = remote_trans.get(&r.trans_id) {
                if r.status != Status::Success {
                    remote_live.remove(w);
                }
            }
        }
        for e in out {
            if let Effect::RelayUnsubscribe { op, .. } = e {
                prop_assert_eq!(op.target.to_string(), format!("pres:{}", TARGETS[REMOTE]));
                remote_live.remove(&index(&WATCHERS, &op.watcher.to_string()[5..]));
            }
        }
        for (i, n) in notifies(out).into_iter().enumerate() {
            let now = out
                .iter()
                .zip(&at)
                .filter(|(e, _)| matches!(e, Effect::Notify(_)))
                .nth(i)
                .map(|(_, t)| *t)
                .unwrap();
            let key = (
                index(&WATCHERS, &n.watcher.to_string()),
                index(&TARGETS, &n.target.to_string()),
            );
            if let SubState::Active { expires } | SubState::Pending { expires } = n.state {
                prop_assert!(expires > now, "notify after expiry: {:?}", n);
            }
            if key.1 == REMOTE {
                match n.state {
                    SubState::Terminated(_) => {
                        // Ended by the relayed unsubscribe of this step, or now.
                        let ended = out.iter().any(|e| {
                            matches!(e,
                            Effect::RelayUnsubscribe { op, .. }
                                if op.watcher.to_string()[5..] == *WATCHERS[key.0])
                        });
                        let was = remote_live.remove(&key.0);
                        prop_assert!(was || ended, "terminated notify for nothing: {:?}", n);
                    }
                    _ => prop_assert!(
                        remote_live.contains(&key.0),
                        "notify without a relayed subscription: {:?}",
                        n
                    ),
                }
                continue;
            }
            if n.presence.is_some() {
                prop_assert_eq!(
                    model.decision(key.1, key.0),
                    Decision::Allow,
                    "presence to a watcher not allowed: {:?}",
                    n
                );
            }
            match n.state {
                SubState::Active { .. } | SubState::Pending { .. } => {
                    prop_assert!(
                        model.subs.contains_key(&key),
                        "notify without subscription: {:?}",
                        n
                    );
                }
                SubState::Terminated(_) => {
                    let was = model.subs.remove(&key).is_some();
                    prop_assert!(
                        was || fetch == Some(key),
                        "terminated notify for nothing: {:?}",
                        n
                    );
                }
                _ => {}
            }
        }
        prop_assert_eq!(model.subs.len(), plain.engine.subscription_count());
        prop_assert_eq!(remote_live.len(), plain.engine.remote_subscription_count());
    }
    // Every delegated request is answered by the end of its wait at the
    // latest: the relay wait for a message or subscribe, the subscription's
    // end for a relayed refresh.
    plain.advance(relay_wait.max(longest_subscription_ms) + 1);
    for r in responses(&plain.take()) {
        awaiting.remove(&r.trans_id);
    }
    prop_assert!(awaiting.is_empty(), "never answered: {:?}", awaiting);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_sequences_keep_the_service_properties(ops in proptest::collection::vec(op(), 1..60)) {
        run(ops)?;
    }
}
