//! The engine's own changes through `SqliteStore` (draft section 3.4:
//! presence information and in-progress operations in persistent storage;
//! section 2.4.1 step 3d: a delegated message awaiting its authoritative
//! answer). Every kind of record the engine writes is produced by real
//! operations, committed as a driver would, and the engine restored from the
//! reopened file behaves as the one restored from `MemoryStore`.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use cpim_engine::{
    Config, Decision, Effect, Engine, Input, MemoryStore, Origin, PolicySubject, Principal,
    RelayId, Snapshot, Store, Timestamp,
};
use cpim_formats::op::{MessageOp, ResponseOp, Status, SubscribeOp, TransId};
use cpim_formats::pidf::{Basic, Presence, Tuple};
use cpim_formats::uri::{Address, Scheme, Uri};
use cpim_store::SqliteStore;

const START: u64 = 1_700_000_000_000;

fn config() -> Config {
    Config::new(["example.com", "xn--bcher-kva.example"])
        .with_route("example.net", "sip", true)
        .with_default_policy("example.com", Decision::Allow)
}

fn addr(s: &str) -> Address {
    let (local, domain) = s.rsplit_once('@').unwrap();
    Address::new(local, domain).unwrap()
}

fn pres(s: &str) -> Uri {
    addr(s).to_uri(Scheme::Pres)
}

fn trans(n: u32) -> TransId {
    TransId::new(n).unwrap()
}

/// An engine with both stores behind it, committing each call's changes
/// before looking at the effects that follow, as a driver must.
struct Driver {
    engine: Engine,
    sqlite: SqliteStore,
    memory: MemoryStore,
    now: Timestamp,
    out: Vec<Effect>,
}

impl Driver {
    fn handle(&mut self, input: Input) {
        self.engine.handle(input, self.now).unwrap();
        let mut batch = Vec::new();
        for effect in self.engine.drain_effects() {
            match effect {
                Effect::Persist(c) => batch.push(c),
                other => self.out.push(other),
            }
        }
        self.sqlite.apply(&batch).unwrap();
        self.memory.apply(&batch).unwrap();
    }

    fn subscribe(&mut self, watcher: &str, target: &str, duration: u32, t: u32) {
        self.handle(Input::Subscribe {
            origin: Origin(u64::from(t)),
            principal: Principal::Service,
            op: SubscribeOp {
                watcher: pres(watcher),
                target: pres(target),
                duration,
                trans_id: trans(t),
            },
        });
    }

    fn publish(&mut self, who: &str, publisher: &str, basic: Basic, note: &str, t: u32) {
        let mut presence = Presence::new(pres(who).to_string());
        let mut tuple = Tuple::new(format!("t-{publisher}"), Some(basic));
        tuple
            .notes
            .push(cpim_formats::pidf::Note::new(note.to_owned()));
        presence.tuples.push(tuple);
        self.handle(Input::Publish {
            origin: Origin(0),
            principal: Principal::Service,
            trans_id: trans(t),
            presentity: addr(who),
            publisher: publisher.into(),
            presence,
            duration: 3600,
        });
    }
}

fn sorted(mut s: Snapshot) -> Snapshot {
    s.users.sort();
    s.publications
        .sort_by(|a, b| (&a.presentity, &a.publisher).cmp(&(&b.presentity, &b.publisher)));
    s.subscriptions
        .sort_by(|a, b| (&a.watcher, &a.target).cmp(&(&b.watcher, &b.target)));
    s.policies
        .sort_by(|a, b| (&a.presentity, &a.subject).cmp(&(&b.presentity, &b.subject)));
    s.watchers
        .sort_by(|a, b| (&a.presentity, &a.watcher).cmp(&(&b.presentity, &b.watcher)));
    s.blocks
        .sort_by(|a, b| (&a.inbox, &a.blocked).cmp(&(&b.inbox, &b.blocked)));
    s.delegations.sort_by_key(|d| d.relay);
    s
}

/// What an engine shows of one presentity: watchers (address, state,
/// expiry), pending requests (address, since) and the composed presence.
#[derive(Debug, PartialEq)]
struct View {
    watchers: Vec<(String, String, u64)>,
    pending: Vec<(String, u64)>,
    presence: Option<Arc<Presence<'static>>>,
}

fn view(e: &Engine, who: &str) -> View {
    let a = addr(who);
    let mut watchers: Vec<_> = e
        .watchers(&a)
        .into_iter()
        .map(|w| {
            (
                w.watcher.to_string(),
                format!("{:?}", w.status),
                w.expires.as_millis(),
            )
        })
        .collect();
    watchers.sort();
    let mut pending: Vec<_> = e
        .pending_requests(&a)
        .into_iter()
        .map(|(w, since)| (w.to_string(), since.as_millis()))
        .collect();
    pending.sort();
    View {
        watchers,
        pending,
        presence: e.presence(&a),
    }
}

#[test]
fn engine_state_survives_a_restart_through_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let mut d = Driver {
        engine: Engine::new(config()),
        sqlite: SqliteStore::open(dir.path()).unwrap(),
        memory: MemoryStore::new(),
        now: Timestamp::from_millis(START),
        out: Vec::new(),
    };
    let users = [
        "alice@example.com",
        "bob@example.com",
        "\u{e9}l\u{e8}ve@b\u{fc}cher.example",
    ];
    for u in users {
        d.handle(Input::AddUser(addr(u)));
    }
    d.handle(Input::AddUser(addr("gone@example.com")));
    // Publications, one replaced, one from a second device.
    d.publish("bob@example.com", "phone", Basic::Open, "on the phone", 1);
    d.publish("bob@example.com", "desk", Basic::Closed, "away", 2);
    d.publish(
        "bob@example.com",
        "phone",
        Basic::Open,
        "caf\u{e9} <ok> & \"x\"",
        3,
    );
    d.publish(
        "\u{e9}l\u{e8}ve@b\u{fc}cher.example",
        "pc",
        Basic::Open,
        "",
        4,
    );
    // Access rules of every subject kind; a pending watcher request.
    let bucher = "\u{e9}l\u{e8}ve@b\u{fc}cher.example";
    for (subject, decision) in [
        (
            PolicySubject::Watcher("carol@example.org".into()),
            Decision::Allow,
        ),
        (PolicySubject::Domain("example.org".into()), Decision::Deny),
        (PolicySubject::Anyone, Decision::Ask),
    ] {
        d.handle(Input::SetPolicy {
            presentity: addr(bucher),
            subject,
            decision: Some(decision),
        });
    }
    d.handle(Input::SetPolicy {
        presentity: addr("bob@example.com"),
        subject: PolicySubject::Domain("example.org".into()),
        decision: Some(Decision::Deny),
    });
    d.handle(Input::SetPolicy {
        presentity: addr("bob@example.com"),
        subject: PolicySubject::Domain("example.org".into()),
        decision: None,
    });
    // Active subscriptions, one ended, one pending (the presentity asks).
    d.subscribe("alice@example.com", "bob@example.com", 600, 10);
    d.subscribe("carol@example.org", "bob@example.com", 7200, 11);
    d.subscribe("dave@example.net", "bob@example.com", 900, 12);
    d.subscribe("dave@example.net", "bob@example.com", 0, 13);
    d.subscribe("carol@example.org", bucher, 3600, 14);
    d.subscribe("zed@example.net", bucher, 3600, 15);
    // Block lists, one lifted.
    for (sender, blocked) in [
        ("spam@example.net", true),
        ("ham@example.net", true),
        ("ham@example.net", false),
    ] {
        d.handle(Input::SetBlock {
            inbox: addr("alice@example.com"),
            sender: addr(sender),
            blocked,
        });
    }
    // A user with state, removed again.
    d.subscribe("alice@example.com", "gone@example.com", 600, 16);
    d.handle(Input::RemoveUser(addr("gone@example.com")));
    // A message handed to a server that will answer (draft 2.4.1, 3d).
    d.handle(Input::Message {
        origin: Origin(77),
        principal: Principal::Service,
        op: MessageOp {
            source: addr("alice@example.com").to_uri(Scheme::Im),
            destination: addr("rex@example.net").to_uri(Scheme::Im),
            trans_id: trans(42),
            content_type: "text/plain".into(),
            body: b"hello".to_vec(),
        },
        hops: 5,
    });
    let relay = d
        .out
        .iter()
        .find_map(|e| match e {
            Effect::Relay { relay, .. } => *relay,
            _ => None,
        })
        .unwrap();

    // The file holds exactly what the reference store holds, and every kind
    // of record is among it.
    let want = sorted(d.memory.load().unwrap());
    assert_eq!(sorted(d.sqlite.load().unwrap()), want);
    assert_eq!(want.users.len(), 3);
    assert_eq!(want.publications.len(), 3);
    assert_eq!(want.subscriptions.len(), 4);
    assert_eq!(want.policies.len(), 3);
    assert_eq!(want.watchers.len(), 1);
    assert_eq!(want.blocks.len(), 1);
    assert_eq!(want.delegations.len(), 1);

    // Restart from the file: the same engine as restored from memory.
    let before: Vec<_> = users.iter().map(|u| view(&d.engine, u)).collect();
    let Driver { sqlite, memory, .. } = d;
    drop(sqlite);
    let mut reopened = SqliteStore::open(dir.path()).unwrap();
    let from_file = Engine::restore(config(), reopened.load().unwrap()).unwrap();
    let mut memory = memory;
    let from_memory = Engine::restore(config(), memory.load().unwrap()).unwrap();
    for (u, b) in users.iter().zip(&before) {
        assert_eq!(&view(&from_file, u), b, "{u} after restart");
        assert_eq!(view(&from_file, u), view(&from_memory, u), "{u}");
    }
    assert_eq!(from_file.subscription_count(), 4);

    // The delegated message is still awaited: its answer goes to the
    // original requester with the original transID.
    let mut engine = from_file;
    let now = Timestamp::from_millis(START + 1_000);
    engine
        .handle(
            Input::RelayAnswer {
                relay: RelayId(relay.0),
                answer: Some(ResponseOp {
                    status: Status::Success,
                    trans_id: trans(9),
                    duration: None,
                    lang: None,
                    reason: None,
                }),
            },
            now,
        )
        .unwrap();
    let effects: Vec<Effect> = engine.drain_effects().collect();
    let responded = effects.iter().any(|e| {
        matches!(e, Effect::Respond { to: Origin(77), response }
            if response.trans_id == trans(42) && response.status == Status::Success)
    });
    assert!(responded, "{effects:?}");
}
