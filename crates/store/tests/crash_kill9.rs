//! Durable state across `kill -9` (draft section 3.4: presence information
//! and in-progress operations kept in persistent storage).
//!
//! This binary is both sides. Run by `cargo test`, it re-executes itself as a
//! child driver loop that subscribes, unsubscribes and publishes through a
//! `SqliteStore`, committing each batch before printing the
//! acknowledgements it justifies. The parent kills the child with SIGKILL
//! (`Child::kill`) at seeded random points, several rounds over the same
//! data directory, then reopens the store: every acknowledged subscription
//! and publication must be there with its absolute expiry, and every
//! acknowledged unsubscribe must have stuck.
//!
//! `CPIM_CRASH_SEED=<u64>` replays one run; `CPIM_CRASH_ROUNDS=<n>` changes
//! the number of kills.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use cpim_engine::{
    Change, PublicationRecord, Store, SubscriptionRecord, SubscriptionStatus, Timestamp,
};
use cpim_store::SqliteStore;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

const CHILD_DIR: &str = "CPIM_CRASH_CHILD_DIR";
const CHILD_ROUND: &str = "CPIM_CRASH_CHILD_ROUND";
const CHILD_SEED: &str = "CPIM_CRASH_CHILD_SEED";
/// Largest number of operations the child commits in one batch.
const MAX_BATCH: usize = 24;
/// The child stops by itself after this many operations, should its parent
/// never kill it.
const CHILD_OP_LIMIT: u64 = 200_000;

fn main() {
    match std::env::var_os(CHILD_DIR) {
        Some(dir) => child(Path::new(&dir)),
        None => parent(),
    }
}

/// One operation as the child announces it.
#[derive(Clone, Debug)]
enum Op {
    Sub(String, String, u64),
    Unsub(String, String),
    Pub(String, String, u64),
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
        }
    }
}

/// The parent's view: the state every acknowledged operation leads to, and
/// the operations announced but not acknowledged yet (the batch the child
/// may or may not have committed when it died).
#[derive(Default)]
struct Tracker {
    acked: State,
    pending: std::collections::VecDeque<Op>,
    acks: usize,
}

impl Tracker {
    fn take(&mut self, line: &str) {
        let f: Vec<&str> = line.split(' ').collect();
        match f.as_slice() {
            ["READY"] => {}
            ["WILL", "SUB", w, t, e] => {
                self.pending
                    .push_back(Op::Sub(w.to_string(), t.to_string(), e.parse().unwrap()));
            }
            ["WILL", "UNSUB", w, t] => {
                self.pending
                    .push_back(Op::Unsub(w.to_string(), t.to_string()));
            }
            ["WILL", "PUB", p, id, e] => {
                self.pending
                    .push_back(Op::Pub(p.to_string(), id.to_string(), e.parse().unwrap()));
            }
            ["ACK"] => {
                let op = self
                    .pending
                    .pop_front()
                    .unwrap_or_else(|| panic!("acknowledgement without an operation"));
                self.acked.apply(&op);
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
    let (mut committed_tails, mut lost_tails) = (0, 0);
    for round in 0..rounds {
        // Kill after a random number of acknowledgements: early (the first
        // batches after open), or deep into a run.
        let kill_after = if rng.random_bool(0.25) {
            rng.random_range(1..=5)
        } else {
            rng.random_range(1..=600)
        };
        let before = tracker.acks;
        run_and_kill(dir.path(), round, rng.random(), kill_after, &mut tracker);
        let found = stored(dir.path());
        // Every acknowledged operation is there. The batch in flight at the
        // kill is there whole or not at all.
        let mut with_tail = tracker.acked.clone();
        for op in &tracker.pending {
            with_tail.apply(op);
        }
        if found == tracker.acked {
            lost_tails += usize::from(!tracker.pending.is_empty());
        } else if found == with_tail {
            committed_tails += 1;
            tracker.acked = with_tail;
        } else {
            panic!(
                "round {round}: store differs from the acknowledged state\n{}",
                diff(&tracker.acked, &found)
            );
        }
        tracker.pending.clear();
        println!(
            "round {round}: killed after {} acknowledgements; {} subscriptions, \
             {} publications, all acknowledged ones present",
            tracker.acks - before,
            found.subscriptions.len(),
            found.publications.len()
        );
    }
    println!(
        "crash_kill9: ok (unacknowledged batch committed whole in {committed_tails} rounds, \
         not at all in {lost_tails})"
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
    // SIGKILL on Unix: no destructor, no flush, no checkpoint runs.
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

fn diff(want: &State, found: &State) -> String {
    let mut out = String::new();
    for (k, e) in &want.subscriptions {
        if found.subscriptions.get(k) != Some(e) {
            out += &format!(
                "subscription {k:?}: acknowledged {e}, stored {:?}\n",
                found.subscriptions.get(k)
            );
        }
    }
    for (k, e) in &want.publications {
        if found.publications.get(k) != Some(e) {
            out += &format!(
                "publication {k:?}: acknowledged {e}, stored {:?}\n",
                found.publications.get(k)
            );
        }
    }
    for k in found
        .subscriptions
        .keys()
        .filter(|k| !want.subscriptions.contains_key(*k))
    {
        out += &format!("subscription {k:?}: stored, never acknowledged\n");
    }
    for k in found
        .publications
        .keys()
        .filter(|k| !want.publications.contains_key(*k))
    {
        out += &format!("publication {k:?}: stored, never acknowledged\n");
    }
    out
}

/// The driver loop under load: a batch of operations, one commit, then the
/// acknowledgements, and again.
fn child(dir: &Path) {
    let round: u32 = std::env::var(CHILD_ROUND).unwrap().parse().unwrap();
    let seed: u64 = std::env::var(CHILD_SEED).unwrap().parse().unwrap();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut store = SqliteStore::open(dir).unwrap();
    store.load().unwrap();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    writeln!(out, "READY").unwrap();
    out.flush().unwrap();
    let mut live: Vec<(String, String)> = Vec::new();
    let mut n: u64 = 0;
    while n < CHILD_OP_LIMIT {
        let size = rng.random_range(1..=MAX_BATCH);
        let mut batch = Vec::with_capacity(size);
        let mut will = Vec::with_capacity(size);
        for _ in 0..size {
            n += 1;
            let now = now_ms();
            match rng.random_range(0..10) {
                0..=4 => {
                    let watcher = format!("w{round}-{n}@example.com");
                    let target = format!("p{}@example.org", rng.random_range(0..50));
                    let expires = now + 1000 * rng.random_range(1..=7200);
                    will.push(format!("WILL SUB {watcher} {target} {expires}"));
                    live.push((watcher.clone(), target.clone()));
                    batch.push(Change::PutSubscription(SubscriptionRecord {
                        watcher,
                        target,
                        expires: Timestamp::from_millis(expires),
                        state: SubscriptionStatus::Active,
                    }));
                }
                5 if !live.is_empty() => {
                    let (watcher, target) = live.swap_remove(rng.random_range(0..live.len()));
                    will.push(format!("WILL UNSUB {watcher} {target}"));
                    batch.push(Change::RemoveSubscription { watcher, target });
                }
                _ => {
                    let presentity = format!("p{}@example.org", rng.random_range(0..50));
                    let publisher = format!("d{round}-{}", rng.random_range(0..4));
                    let expires = now + 1000 * rng.random_range(1..=3600);
                    will.push(format!("WILL PUB {presentity} {publisher} {expires}"));
                    batch.push(Change::PutPublication(PublicationRecord {
                        presentity: presentity.clone(),
                        publisher,
                        pidf: format!(
                            "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" \
                             entity=\"pres:{presentity}\"><tuple id=\"t{n}\"><status>\
                             <basic>open</basic></status></tuple></presence>"
                        ),
                        expires: Timestamp::from_millis(expires),
                    }));
                }
            }
        }
        // Announce the batch (so the parent knows what may be committed
        // unacknowledged), commit it, and only then acknowledge it.
        for w in &will {
            if writeln!(out, "{w}").is_err() {
                return; // the parent is gone
            }
        }
        if out.flush().is_err() {
            return;
        }
        store.apply(&batch).unwrap();
        for _ in &will {
            if writeln!(out, "ACK").is_err() {
                return;
            }
        }
        if out.flush().is_err() {
            return;
        }
    }
}

fn now_ms() -> u64 {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    u64::try_from(d.as_millis()).unwrap()
}
