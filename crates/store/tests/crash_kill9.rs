//! Durable state across `kill -9` (draft section 3.4: presence information
//! and in-progress operations kept in persistent storage).
//!
//! This binary is both sides. Run by `cargo test`, it re-executes itself as a
//! child: the service engine (`cpim_engine::Engine`) restored from a
//! `SqliteStore`, driven under load with subscribe, unsubscribe and publish
//! operations. Like a real driver it gathers the persist effects of a batch of
//! operations, commits them in one `Store::apply`, and only then prints the
//! responses (the acknowledgements). The parent kills the child with SIGKILL
//! (`Child::kill`) at seeded random points, several rounds over the same data
//! directory, then reopens the store: every acknowledged subscription and
//! publication is there with the absolute expiry its response implied, every
//! acknowledged unsubscribe stuck, and the batch in flight at the kill is
//! there whole or not at all. While the child runs, the parent cannot open
//! the same store; once it is killed, it can. A restored engine then
//! notifies exactly the acknowledged watchers of a presentity.
//!
//! `CPIM_CRASH_SEED=<u64>` replays one run; `CPIM_CRASH_ROUNDS=<n>` changes
//! the number of kills.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use cpim_engine::{
    Change, Config, Decision, Effect, Engine, Input, Origin, Principal, Store, Timestamp,
};
use cpim_formats::op::{Status, SubscribeOp, TransId, UnsubscribeOp};
use cpim_formats::pidf::{Basic, Presence, Tuple};
use cpim_formats::uri::{Address, Uri};
use cpim_store::SqliteStore;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

const CHILD_DIR: &str = "CPIM_CRASH_CHILD_DIR";
const CHILD_ROUND: &str = "CPIM_CRASH_CHILD_ROUND";
const CHILD_SEED: &str = "CPIM_CRASH_CHILD_SEED";
/// Presentities served: `p0@example.com` ..
const PRESENTITIES: u32 = 20;
/// Largest number of operations the child handles per commit.
const MAX_BATCH: usize = 24;
/// The child stops by itself after this many operations, should its parent
/// never kill it.
const CHILD_OP_LIMIT: u64 = 200_000;
/// The child's clock: far enough apart per round that no two rounds share an
/// instant, close enough that nothing granted expires during the test.
const START_MS: u64 = 1_700_000_000_000;
const ROUND_MS: u64 = 300_000;

fn main() {
    match std::env::var_os(CHILD_DIR) {
        Some(dir) => child(Path::new(&dir)),
        None => parent(),
    }
}

fn config() -> Config {
    let mut config = Config::new(["example.com"]);
    config.fallback_policy = Decision::Allow;
    config
}

/// One change to subscriptions or publications, as the child announces it.
#[derive(Clone, Debug)]
enum Op {
    Sub(String, String, u64),
    Unsub(String, String),
    Pub(String, String, u64),
    Unpub(String, String),
}

/// Subscriptions and publications by key, with their expiry in ms.
#[derive(Clone, Debug, Default, PartialEq)]
struct State {
    subscriptions: BTreeMap<(String, String), u64>,
    publications: BTreeMap<(String, String), u64>,
}

impl State {
    fn apply(&mut self, op: &Op) {
        match op {
            Op::Sub(w, t, e) => {
                self.subscriptions.insert((w.clone(), t.clone()), *e);
            }
            Op::Unsub(w, t) => {
                self.subscriptions.remove(&(w.clone(), t.clone()));
            }
            Op::Pub(p, id, e) => {
                self.publications.insert((p.clone(), id.clone()), *e);
            }
            Op::Unpub(p, id) => {
                self.publications.remove(&(p.clone(), id.clone()));
            }
        }
    }

    fn with(&self, ops: &[Op]) -> State {
        let mut s = self.clone();
        for op in ops {
            s.apply(op);
        }
        s
    }
}

/// The parent's view of the child's output. `base` is the state after every
/// batch the child finished (it went on to the next one, so it committed);
/// `tail` is the batch in flight, `tail_acked` whether any of its
/// acknowledgements came out (then it was committed).
#[derive(Default)]
struct Tracker {
    base: State,
    tail: Vec<Op>,
    tail_acked: bool,
    acks: usize,
}

impl Tracker {
    fn take(&mut self, line: &str) {
        let f: Vec<&str> = line.split(' ').collect();
        match f.as_slice() {
            ["READY"] => {}
            ["BATCH"] => {
                self.base = self.base.with(&self.tail);
                self.tail.clear();
                self.tail_acked = false;
            }
            ["WILL", "SUB", w, t, e] => {
                self.tail
                    .push(Op::Sub(w.to_string(), t.to_string(), e.parse().unwrap()));
            }
            ["WILL", "UNSUB", w, t] => self.tail.push(Op::Unsub(w.to_string(), t.to_string())),
            ["WILL", "PUB", p, id, e] => {
                self.tail
                    .push(Op::Pub(p.to_string(), id.to_string(), e.parse().unwrap()));
            }
            ["WILL", "UNPUB", p, id] => self.tail.push(Op::Unpub(p.to_string(), id.to_string())),
            ["ACK", kind, a, b, rest @ ..] => {
                // The acknowledgement must match what the batch commits: the
                // absolute expiry the response implies is the one stored.
                let after = self.base.with(&self.tail);
                let key = (a.to_string(), b.to_string());
                let (stored, want) = match (*kind, rest) {
                    ("SUB", [e]) => (after.subscriptions.get(&key), Some(e.parse().unwrap())),
                    ("UNSUB", []) => (after.subscriptions.get(&key), None),
                    ("PUB", [e]) => (after.publications.get(&key), Some(e.parse().unwrap())),
                    _ => panic!("child printed {line:?}"),
                };
                assert_eq!(stored.copied(), want, "{line}: not what the batch commits");
                self.tail_acked = true;
                self.acks += 1;
            }
            _ => panic!("child printed {line:?}"),
        }
    }
}

fn parent() {
    let seed: u64 = std::env::var("CPIM_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_c0de);
    let rounds: u32 = std::env::var("CPIM_CRASH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(8);
    println!("crash_kill9: seed {seed}, {rounds} rounds");
    let mut rng = StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let mut tracker = Tracker::default();
    let (mut tail_kept, mut tail_lost) = (0, 0);
    for round in 0..rounds {
        // Kill after a random number of acknowledgements: early (the first
        // batches after a restart), or deep into a run.
        let kill_after = if rng.random_bool(0.25) {
            rng.random_range(1..=5)
        } else {
            rng.random_range(1..=600)
        };
        let before = tracker.acks;
        run_and_kill(dir.path(), round, rng.random(), kill_after, &mut tracker);
        let found = stored(dir.path());
        let with_tail = tracker.base.with(&tracker.tail);
        if found == with_tail {
            tail_kept += usize::from(!tracker.tail.is_empty());
        } else if found == tracker.base && !tracker.tail_acked {
            tail_lost += 1;
        } else {
            panic!(
                "round {round}: store differs from the acknowledged state\n{}",
                diff(&with_tail, &found)
            );
        }
        tracker.base = found;
        tracker.tail.clear();
        tracker.tail_acked = false;
        notifies_every_watcher(dir.path(), round, &tracker.base);
        println!(
            "round {round}: killed after {} acknowledgements; {} subscriptions, \
             {} publications stored, as acknowledged",
            tracker.acks - before,
            tracker.base.subscriptions.len(),
            tracker.base.publications.len()
        );
    }
    assert!(tracker.acks > 0);
    println!(
        "crash_kill9: ok (batch in flight at the kill: kept whole {tail_kept} times, \
         lost whole {tail_lost} times)"
    );
}

fn run_and_kill(dir: &Path, round: u32, seed: u64, kill_after: usize, tracker: &mut Tracker) {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .env(CHILD_DIR, dir)
        .env(CHILD_ROUND, round.to_string())
        .env(CHILD_SEED, seed.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    let start = tracker.acks;
    while tracker.acks - start < kill_after {
        line.clear();
        if out.read_line(&mut line).unwrap() == 0 {
            panic!("round {round}: child ended before it was killed");
        }
        tracker.take(line.trim_end_matches('\n'));
    }
    // One engine per file: while the child holds the store, no second
    // store opens on its directory.
    match SqliteStore::open(dir) {
        Err(cpim_store::SqliteStoreError::InUse { holder, .. }) => {
            assert_eq!(holder, Some(child.id()), "round {round}");
        }
        Err(e) => panic!("round {round}: expected InUse, got {e}"),
        Ok(_) => panic!("round {round}: opened a store another process holds"),
    }
    // SIGKILL on Unix: no destructor, no flush, no checkpoint runs; the
    // kernel releases the child's lock (the reopen below proves it).
    child.kill().unwrap();
    child.wait().unwrap();
    // Lines printed before the kill but not read yet count too; a line cut
    // short by the kill was never a whole acknowledgement.
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    let mut lines: Vec<&str> = rest.split('\n').collect();
    lines.pop();
    for l in lines {
        tracker.take(l);
    }
}

/// What a fresh open of the store finds.
fn stored(dir: &Path) -> State {
    let mut store = SqliteStore::open(dir).unwrap();
    let snap = store.load().unwrap();
    State {
        subscriptions: snap
            .subscriptions
            .iter()
            .map(|s| ((s.watcher.clone(), s.target.clone()), s.expires.as_millis()))
            .collect(),
        publications: snap
            .publications
            .iter()
            .map(|p| {
                (
                    (p.presentity.clone(), p.publisher.clone()),
                    p.expires.as_millis(),
                )
            })
            .collect(),
    }
}

/// An engine restored from the file notifies, on the next publication, exactly
/// the watchers the acknowledged state says it has.
fn notifies_every_watcher(dir: &Path, round: u32, state: &State) {
    let mut store = SqliteStore::open(dir).unwrap();
    let mut engine = Engine::restore(config(), store.load().unwrap()).unwrap();
    let target = "p0@example.com";
    let mut want: Vec<String> = state
        .subscriptions
        .keys()
        .filter(|(_, t)| t == target)
        .map(|(w, _)| w.clone())
        .collect();
    // End what expired since (that notifies too), then publish.
    let now = Timestamp::from_millis(START_MS + u64::from(round + 1) * ROUND_MS - 1);
    engine.handle_timeout(now);
    engine.drain_effects().for_each(drop);
    engine
        .handle(publish(target, "check", 60, TransId::new(1).unwrap()), now)
        .unwrap();
    let mut got: Vec<String> = engine
        .drain_effects()
        .filter_map(|e| match e {
            Effect::Notify(n) if n.target.to_string() == target => Some(n.watcher.to_string()),
            _ => None,
        })
        .collect();
    want.sort();
    got.sort();

    assert_eq!(
        got, want,
        "round {round}: restored engine's watchers of {target}"
    );
}

fn diff(want: &State, found: &State) -> String {
    let mut out = String::new();
    let mut keys =
        |kind: &str, w: &BTreeMap<(String, String), u64>, f: &BTreeMap<(String, String), u64>| {
            for k in w.keys().chain(f.keys().filter(|k| !w.contains_key(*k))) {
                if w.get(k) != f.get(k) {
                    out += &format!(
                        "{kind} {k:?}: expected {:?}, stored {:?}\n",
                        w.get(k),
                        f.get(k)
                    );
                }
            }
        };
    keys("subscription", &want.subscriptions, &found.subscriptions);
    keys("publication", &want.publications, &found.publications);
    out
}

fn publish(presentity: &str, publisher: &str, duration: u32, trans_id: TransId) -> Input {
    let mut presence = Presence::new(format!("pres:{presentity}"));
    presence
        .tuples
        .push(Tuple::new(format!("t-{publisher}"), Some(Basic::Open)));
    Input::Publish {
        origin: Origin(0),
        principal: Principal::Service,
        trans_id,
        presentity: address(presentity),
        publisher: publisher.to_string(),
        presence,
        duration,
    }
}

fn address(a: &str) -> Address {
    let (local, domain) = a.split_once('@').unwrap();
    Address::new(local, domain).unwrap()
}

/// What an operation's response acknowledges, once it comes.
/// Subscriptions and publications carry the instant they were handled at.
enum Pending {
    Sub(String, String, Timestamp),
    Unsub(String, String),
    Pub(String, String, Timestamp),
}

/// The driver loop under load: a batch of operations into the engine, one
/// commit of their persist effects, then their responses.
fn child(dir: &Path) {
    let round: u32 = std::env::var(CHILD_ROUND).unwrap().parse().unwrap();
    let seed: u64 = std::env::var(CHILD_SEED).unwrap().parse().unwrap();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut store = SqliteStore::open(dir).unwrap();
    let snapshot = store.load().unwrap();
    let mut live: Vec<(String, String)> = snapshot
        .subscriptions
        .iter()
        .map(|s| (s.watcher.clone(), s.target.clone()))
        .collect();
    let mut engine = Engine::restore(config(), snapshot).unwrap();
    let mut now = Timestamp::from_millis(START_MS + u64::from(round) * ROUND_MS);
    let out = std::io::stdout();
    let mut out = out.lock();
    // The first input also ends what expired while the service was down.
    for p in 0..PRESENTITIES {
        engine
            .handle(Input::AddUser(address(&format!("p{p}@example.com"))), now)
            .unwrap();
    }
    let changes: Vec<Change> = engine
        .drain_effects()
        .filter_map(|e| match e {
            Effect::Persist(c) => Some(c),
            _ => None,
        })
        .collect();
    if !announce_and_commit(&mut out, &mut store, &changes) {
        return;
    }
    writeln!(out, "READY").unwrap();
    let mut trans: u32 = 0;
    let mut n: u64 = 0;
    while n < CHILD_OP_LIMIT {
        let mut pending: BTreeMap<TransId, Pending> = BTreeMap::new();
        // Each key at most once per batch, so that every acknowledgement can
        // be checked against what the whole batch commits; subscriptions made
        // in this batch are not candidates for unsubscribing until the next.
        let mut published = std::collections::BTreeSet::new();
        let mut added = Vec::new();
        for _ in 0..rng.random_range(1..=MAX_BATCH) {
            n += 1;
            now = now.plus_millis(1);
            trans = trans % 2_147_483_646 + 1;
            let trans_id = TransId::new(trans).unwrap();
            let target = format!("p{}@example.com", rng.random_range(0..PRESENTITIES));
            let input = match rng.random_range(0..10) {
                0..=4 => {
                    let watcher = format!("w{round}-{n}@example.net");
                    pending.insert(trans_id, Pending::Sub(watcher.clone(), target.clone(), now));
                    added.push((watcher.clone(), target.clone()));
                    Input::Subscribe {
                        origin: Origin(0),
                        principal: Principal::Service,
                        op: SubscribeOp {
                            watcher: Uri::parse(&format!("pres:{watcher}")).unwrap(),
                            target: Uri::parse(&format!("pres:{target}")).unwrap(),
                            duration: rng.random_range(3_600..=7_200),
                            trans_id,
                        },
                    }
                }
                5 if !live.is_empty() => {
                    let (watcher, target) = live.swap_remove(rng.random_range(0..live.len()));
                    pending.insert(trans_id, Pending::Unsub(watcher.clone(), target.clone()));
                    Input::Unsubscribe {
                        origin: Origin(0),
                        principal: Principal::Service,
                        op: UnsubscribeOp {
                            watcher: Uri::parse(&format!("pres:{watcher}")).unwrap(),
                            target: Uri::parse(&format!("pres:{target}")).unwrap(),
                            trans_id,
                        },
                    }
                }
                _ => {
                    let publisher = format!("d{round}-{}", rng.random_range(0..4));
                    if !published.insert((target.clone(), publisher.clone())) {
                        continue;
                    }
                    pending.insert(
                        trans_id,
                        Pending::Pub(target.clone(), publisher.clone(), now),
                    );
                    publish(&target, &publisher, rng.random_range(600..=3_600), trans_id)
                }
            };
            engine.handle(input, now).unwrap();
        }
        live.append(&mut added);
        // Announce what will be committed, commit it, and only then let the
        // responses out.
        let mut changes = Vec::new();
        let mut responses = Vec::new();
        for effect in engine.drain_effects() {
            match effect {
                Effect::Persist(c) => changes.push(c),
                Effect::Respond { response, .. } => responses.push(response),
                _ => {}
            }
        }
        if !announce_and_commit(&mut out, &mut store, &changes) {
            return; // the parent is gone
        }
        let mut text = String::new();
        for r in responses {
            assert_eq!(r.status, Status::Success, "{r:?}");
            let granted_ms = u64::from(r.duration.unwrap_or(0)) * 1000;
            match pending.remove(&r.trans_id).unwrap() {
                Pending::Sub(w, t, at) => {
                    let e = at.as_millis() + granted_ms;
                    text += &format!("ACK SUB {w} {t} {e}\n")
                }
                Pending::Unsub(w, t) => text += &format!("ACK UNSUB {w} {t}\n"),
                Pending::Pub(p, id, at) => {
                    let e = at.as_millis() + granted_ms;
                    text += &format!("ACK PUB {p} {id} {e}\n")
                }
            }
        }
        if out
            .write_all(text.as_bytes())
            .and_then(|()| out.flush())
            .is_err()
        {
            return;
        }
    }
}

/// Prints the subscription and publication changes of a batch, commits the
/// batch, and says whether the parent is still listening.
fn announce_and_commit(out: &mut impl Write, store: &mut SqliteStore, changes: &[Change]) -> bool {
    let mut text = String::from("BATCH\n");
    for c in changes {
        match c {
            Change::PutSubscription(s) => {
                let e = s.expires.as_millis();
                text += &format!("WILL SUB {} {} {e}\n", s.watcher, s.target);
            }
            Change::RemoveSubscription { watcher, target } => {
                text += &format!("WILL UNSUB {watcher} {target}\n");
            }
            Change::PutPublication(p) => {
                let e = p.expires.as_millis();
                text += &format!("WILL PUB {} {} {e}\n", p.presentity, p.publisher);
            }
            Change::RemovePublication {
                presentity,
                publisher,
            } => text += &format!("WILL UNPUB {presentity} {publisher}\n"),
            _ => {}
        }
    }
    if out
        .write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .is_err()
    {
        return false;
    }
    store.apply(changes).unwrap();
    true
}
