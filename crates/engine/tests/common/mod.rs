//! A test driver for the engine: a fake clock, a `MemoryStore`, and an
//! outbox. It commits each run of persist effects before carrying out the
//! effects that follow, as a real driver must, and checks that order.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::sync::Arc;

use cpim_engine::{
    Config, Effect, Engine, Input, InputError, MemoryStore, Notification, Origin, Principal,
    SessionId, Store, Timestamp,
};
use cpim_formats::op::{MessageOp, ResponseOp, Status, SubscribeOp, TransId, UnsubscribeOp};
use cpim_formats::pidf::{Basic, Presence, Tuple};
use cpim_formats::uri::{Address, Uri};

pub const START: u64 = 1_700_000_000_000;

pub struct Harness {
    pub config: Config,
    pub engine: Engine,
    pub store: MemoryStore,
    pub now: Timestamp,
    /// Every effect but persistence, in order, since the last `take`.
    pub outbox: Vec<Effect>,
    /// When each outbox entry was handed out.
    pub stamps: Vec<Timestamp>,
    /// How many changes were committed before each outbox entry.
    pub committed: usize,
    next_trans: u32,
}

impl Harness {
    pub fn new(config: Config) -> Harness {
        Harness {
            engine: Engine::new(config.clone()),
            config,
            store: MemoryStore::new(),
            now: Timestamp::from_millis(START),
            outbox: Vec::new(),
            stamps: Vec::new(),
            committed: 0,
            next_trans: 1,
        }
    }

    /// `example.com` served here; `example.net` reached through a binding
    /// that answers, `example.org` through one that does not.
    pub fn standard() -> Harness {
        let config = Config::new(["example.com"])
            .with_route("example.net", "sip", true)
            .with_route("example.org", "xmpp", false);
        Harness::new(config)
    }

    pub fn handle(&mut self, input: Input) -> Result<(), InputError> {
        let r = self.engine.handle(input, self.now);
        self.drive();
        r
    }

    /// Carries out every pending effect, committing persistence first.
    pub fn drive(&mut self) {
        let mut batch = Vec::new();
        while let Some(effect) = self.engine.poll_effect() {
            match effect {
                Effect::Persist(change) => batch.push(change),
                other => {
                    self.commit(&mut batch);
                    self.outbox.push(other);
                    self.stamps.push(self.now);
                }
            }
        }
        self.commit(&mut batch);
    }

    fn commit(&mut self, batch: &mut Vec<cpim_engine::Change>) {
        if !batch.is_empty() {
            self.store.apply(batch).unwrap();
            self.committed += batch.len();
            batch.clear();
        }
    }

    /// Moves the clock forward by `ms`, running every timer on its due time.
    pub fn advance(&mut self, ms: u64) {
        let end = self.now.plus_millis(ms);
        while let Some(at) = self.engine.poll_timeout() {
            if at > end {
                break;
            }
            self.now = self.now.max(at);
            self.engine.handle_timeout(self.now);
            self.drive();
        }
        self.now = end;
    }

    /// Drops the engine and builds a new one from what the store holds,
    /// streamed as a driver does (`Engine::restore_from`); the same state
    /// restored from an owned snapshot must agree with it.
    pub fn restart(&mut self) {
        let engine = Engine::restore_from(self.config.clone(), &mut self.store).unwrap();
        let snapshot = self.store.load().unwrap();
        let twin = Engine::restore(self.config.clone(), snapshot).unwrap();
        assert_eq!(engine.subscription_count(), twin.subscription_count());
        assert_eq!(
            engine.remote_subscription_count(),
            twin.remote_subscription_count()
        );
        assert_eq!(engine.interned_addresses(), twin.interned_addresses());
        assert_eq!(engine.poll_timeout(), twin.poll_timeout());
        self.engine = engine;
    }

    pub fn take(&mut self) -> Vec<Effect> {
        self.stamps.clear();
        std::mem::take(&mut self.outbox)
    }

    /// Like `take`, with the time each effect was handed out.
    pub fn take_timed(&mut self) -> Vec<(Timestamp, Effect)> {
        let stamps = std::mem::take(&mut self.stamps);
        stamps
            .into_iter()
            .zip(std::mem::take(&mut self.outbox))
            .collect()
    }

    pub fn trans(&mut self) -> TransId {
        let t = TransId::new(self.next_trans).unwrap();
        self.next_trans += 1;
        t
    }

    pub fn add_user(&mut self, a: &str) {
        self.handle(Input::AddUser(addr(a))).unwrap();
    }

    pub fn open(&mut self, session: u64, user: &str) {
        self.handle(Input::SessionOpened {
            session: SessionId(session),
            user: addr(user),
        })
        .unwrap();
    }

    pub fn message(&mut self, from: &str, to: &str, body: &str) -> TransId {
        let t = self.trans();
        let op = MessageOp {
            source: im(from),
            destination: im(to),
            trans_id: t,
            content_type: "text/plain".into(),
            body: body.as_bytes().to_vec(),
        };
        self.handle(Input::Message {
            origin: Origin(1),
            principal: Principal::User(addr(from)),
            op,
            hops: 70,
        })
        .unwrap();
        t
    }

    pub fn subscribe(&mut self, watcher: &str, target: &str, duration: u32) -> TransId {
        let t = self.trans();
        let op = SubscribeOp {
            watcher: pres(watcher),
            target: pres(target),
            duration,
            trans_id: t,
        };
        self.handle(Input::Subscribe {
            origin: Origin(2),
            principal: Principal::User(addr(watcher)),
            op,
        })
        .unwrap();
        t
    }

    pub fn refresh(&mut self, watcher: &str, target: &str, duration: u32) -> TransId {
        let t = self.trans();
        let op = SubscribeOp {
            watcher: pres(watcher),
            target: pres(target),
            duration,
            trans_id: t,
        };
        self.handle(Input::Refresh {
            origin: Origin(2),
            principal: Principal::User(addr(watcher)),
            op,
        })
        .unwrap();
        t
    }

    pub fn unsubscribe(&mut self, watcher: &str, target: &str) -> TransId {
        let t = self.trans();
        let op = UnsubscribeOp {
            watcher: pres(watcher),
            target: pres(target),
            trans_id: t,
        };
        self.handle(Input::Unsubscribe {
            origin: Origin(2),
            principal: Principal::User(addr(watcher)),
            op,
        })
        .unwrap();
        t
    }

    pub fn publish(&mut self, who: &str, publisher: &str, basic: Basic, duration: u32) -> TransId {
        let t = self.trans();
        let mut presence = Presence::new(format!("pres:{who}"));
        presence
            .tuples
            .push(Tuple::new(publisher.to_owned(), Some(basic)));
        self.handle(Input::Publish {
            origin: Origin(3),
            principal: Principal::User(addr(who)),
            trans_id: t,
            presentity: addr(who),
            publisher: publisher.into(),
            presence,
            duration,
        })
        .unwrap();
        t
    }
}

pub fn addr(s: &str) -> Address {
    Uri::parse(&format!("im:{s}"))
        .unwrap()
        .address()
        .unwrap()
        .clone()
}

pub fn im(s: &str) -> Uri {
    Uri::parse(&format!("im:{s}")).unwrap()
}

pub fn pres(s: &str) -> Uri {
    Uri::parse(&format!("pres:{s}")).unwrap()
}

/// The responses in `effects`.
pub fn responses(effects: &[Effect]) -> Vec<ResponseOp> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Respond { response, .. } => Some(response.clone()),
            _ => None,
        })
        .collect()
}

/// The one response in `effects`, checked to carry `trans`.
pub fn only_response(effects: &[Effect], trans: TransId) -> ResponseOp {
    let r = responses(effects);
    assert_eq!(r.len(), 1, "expected one response in {effects:?}");
    assert_eq!(r[0].trans_id, trans);
    r[0].clone()
}

pub fn notifies(effects: &[Effect]) -> Vec<Notification> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Notify(n) => Some(n.clone()),
            _ => None,
        })
        .collect()
}

/// The basic status of each tuple in a notified document, by tuple id.
pub fn basics(presence: &Option<Arc<Presence<'static>>>) -> Vec<(String, Option<Basic>)> {
    let Some(p) = presence else {
        return Vec::new();
    };
    let mut v: Vec<_> = p
        .tuples
        .iter()
        .map(|t| (t.id.to_string(), t.status.basic))
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

pub fn is_status(r: &ResponseOp, s: Status) -> bool {
    r.status == s
}
