//! Rebuilding the engine from stored records ([`Engine::restore`],
//! [`Engine::restore_from`]), one record at a time as the store lends them.
//!
//! A restart reads millions of subscriptions: each is taken from the
//! store's row text without a copy, its target found by that text in a
//! table of the users alone, and only a watcher not seen before is built as
//! an address. The watcher maps and the expiry index are built at the end,
//! one presentity at a time, from the subscriptions gathered in a vector.

use std::hash::BuildHasher;
use std::sync::Arc;

use cpim_formats::op::TransId;
use cpim_formats::pidf::Presence;
use hashbrown::HashTable;

use super::names::widen;
use super::{parse_text, Delegation, Engine, Id, Publication, Rule, Sub, User};
use crate::config::Config;
use crate::io::{Origin, RelayId};
use crate::policy::PolicySubject;
use crate::store::{Record, Snapshot, Store, StoreError, SubscriptionRef, SubscriptionStatus};
use crate::time::Timestamp;

impl Engine {
    /// An engine holding the state of `snapshot` (from [`Store::load`]).
    /// Nothing is sent on restore; subscriptions and publications that
    /// expired meanwhile end at the first [`Engine::handle_timeout`].
    pub fn restore(config: Config, snapshot: Snapshot) -> Result<Engine, StoreError> {
        let mut restorer = Restorer::new(config);
        restorer
            .engine
            .names
            .reserve(snapshot.users.len() + snapshot.subscriptions.len());
        restorer.subscriptions.reserve(snapshot.subscriptions.len());
        for record in snapshot.records() {
            restorer.take(record)?;
        }
        Ok(restorer.finish())
    }

    /// An engine holding the state committed in `store`, read with
    /// [`Store::load_into`]: the same as [`Engine::restore`] of
    /// [`Store::load`], without an owned copy of every record in between.
    pub fn restore_from<S: Store + ?Sized>(
        config: Config,
        store: &mut S,
    ) -> Result<Engine, StoreError> {
        let mut restorer = Restorer::new(config);
        store.load_into(&mut |record| restorer.take(record))?;
        Ok(restorer.finish())
    }
}

/// An engine being rebuilt record by record.
struct Restorer {
    engine: Engine,
    /// The users' ids by the text the store gave for them: a table and a
    /// text block as small as the number of users, so that finding each
    /// subscription's target stays in the cache where the interner (and
    /// the addresses it points to) would not.
    users: HashTable<UserKey>,
    user_texts: String,
    hasher: foldhash::fast::RandomState,
    /// Users whose publications were restored; their combined document is
    /// built once, at the end.
    published: Vec<Id>,
    /// Subscriptions as timer keys (expiry, target, watcher), in the
    /// store's order: put in their presentities' watcher maps at the end,
    /// one presentity at a time, each map sized once. Inserting them as
    /// they come would touch a random map of millions of entries per row
    /// and grow each map many times. 16 bytes a row, and the buffer is
    /// used again for the expiry index.
    subscriptions: Vec<u128>,
    /// Which of `subscriptions` (by position) are pending, one bit each.
    pending: Bits,
    /// How many of `subscriptions` each target (by id) has.
    per_target: Vec<u32>,
}

impl Restorer {
    fn new(config: Config) -> Restorer {
        Restorer {
            engine: Engine::new(config),
            users: HashTable::new(),
            user_texts: String::new(),
            hasher: foldhash::fast::RandomState::default(),
            published: Vec::new(),
            subscriptions: Vec::new(),
            pending: Bits::default(),
            per_target: Vec::new(),
        }
    }

    fn take(&mut self, record: Record<'_>) -> Result<(), StoreError> {
        let e = &mut self.engine;
        match record {
            Record::User(user) => {
                let address = parse_text(user, "user")?;
                if e.local_user(&address).is_none() {
                    let user_record = User::new(&address);
                    let id = e.names.retain_owned(address);
                    e.users.insert(id, user_record);
                    self.index_user(user, id);
                }
            }
            Record::Publication(p) => {
                let tid = self.stored_user(p.presentity, "publication")?;
                let e = &mut self.engine;
                let presence = Presence::parse(p.pidf.as_bytes())
                    .map(Presence::into_owned)
                    .map_err(|err| StoreError::Corrupt {
                        record: format!("publication {}/{}", p.presentity, p.publisher),
                        reason: err.to_string(),
                    })?;
                if let Some(user) = e.users.get_mut(&tid) {
                    let old = user.publications.insert(
                        p.publisher.to_owned(),
                        Publication {
                            presence: Arc::new(presence),
                            expires: p.expires,
                        },
                    );
                    if let Some(old) = old {
                        e.pub_timers
                            .remove(&(old.expires, tid, p.publisher.to_owned()));
                    }
                    e.pub_timers
                        .insert((p.expires, tid, p.publisher.to_owned()));
                    self.published.push(tid);
                }
            }
            Record::Subscription(s) => self.subscription(s)?,
            Record::Policy(p) => {
                let tid = self.stored_user(&p.presentity, "policy")?;
                let e = &mut self.engine;
                let rule = match &p.subject {
                    PolicySubject::Watcher(w) => {
                        Rule::Watcher(e.names.retain_owned(parse_text(w, "policy")?))
                    }
                    PolicySubject::Domain(d) => Rule::Domain(d.clone()),
                    PolicySubject::Anyone => Rule::Anyone,
                };
                let held = match &rule {
                    Rule::Watcher(w) => Some(*w),
                    _ => None,
                };
                e.put_rule(tid, rule, Some(p.decision));
                if let Some(w) = held {
                    e.names.release(w);
                }
            }
            Record::Watcher(w) => {
                let tid = self.stored_user(&w.presentity, "watcher request")?;
                let e = &mut self.engine;
                let wid = e
                    .names
                    .retain_owned(parse_text(&w.watcher, "watcher request")?);
                let replaced = e
                    .users
                    .get_mut(&tid)
                    .and_then(|user| user.requests.insert(wid, w.since));
                if replaced.is_some() {
                    e.names.release(wid);
                }
            }
            Record::Block(b) => {
                let tid = self.stored_user(&b.inbox, "block")?;
                let e = &mut self.engine;
                let sid = e.names.retain_owned(parse_text(&b.blocked, "block")?);
                let added = e.users.get_mut(&tid).is_some_and(|u| u.blocked.insert(sid));
                if !added {
                    e.names.release(sid);
                }
            }
            Record::Delegation(d) => {
                let trans_id = TransId::new(d.trans_id).map_err(|_| StoreError::Corrupt {
                    record: format!("delegation {}", d.relay),
                    reason: format!("transID {} is out of range", d.trans_id),
                })?;
                let relay = RelayId(d.relay);
                if let Some(old) = e.relays.insert(
                    relay,
                    Delegation {
                        origin: Origin(d.origin),
                        trans_id,
                        deadline: d.deadline,
                    },
                ) {
                    e.relay_timers.remove(&(old.deadline, relay));
                }
                e.relay_timers.insert((d.deadline, relay));
            }
            Record::RemoteSubscription(r) => e.restore_remote(r)?,
        }
        Ok(())
    }

    /// One subscription: the hot path of a restart.
    fn subscription(&mut self, s: SubscriptionRef<'_>) -> Result<(), StoreError> {
        let tid = self.stored_user(s.target, "subscription")?;
        let wid = self
            .engine
            .names
            .retain_text(s.watcher, |text| parse_text(text, "subscription"))?;
        self.pending.push(s.state != SubscriptionStatus::Active);
        self.subscriptions.push(timer_key(s.expires, tid, wid));
        let t = tid as usize;
        if t >= self.per_target.len() {
            self.per_target.resize(t + 1, 0);
        }
        self.per_target[t] += 1;
        Ok(())
    }

    /// The id of a stored user, found by the text the engine wrote for it.
    fn stored_user(&mut self, text: &str, record: &str) -> Result<Id, StoreError> {
        let hash = self.hash_text(text);
        let found = self.users.find(widen(hash), |key| {
            key.hash == hash
                && self.user_texts.get(key.start as usize..key.end as usize) == Some(text)
        });
        if let Some(key) = found {
            return Ok(key.id);
        }
        // Written in another form than the user's own record.
        let e = &self.engine;
        let id = e.names.id(&parse_text(text, record)?);
        id.filter(|id| e.users.contains_key(id))
            .ok_or_else(|| StoreError::Corrupt {
                record: format!("{record} of {text}"),
                reason: "not a stored user".into(),
            })
    }

    /// Makes user `id` findable by `text`, the form its record has.
    fn index_user(&mut self, text: &str, id: Id) {
        let hash = self.hash_text(text);
        let start = self.user_texts.len();
        let (Ok(start32), Ok(end)) = (u32::try_from(start), u32::try_from(start + text.len()))
        else {
            // Past 4 GiB of user text: found the slow way, by address.
            return;
        };
        self.user_texts.push_str(text);
        let key = UserKey {
            hash,
            id,
            start: start32,
            end,
        };
        self.users
            .insert_unique(widen(hash), key, |key| widen(key.hash));
    }

    fn hash_text(&self, text: &str) -> u32 {
        let h = self.hasher.hash_one(text);
        (h >> 32) as u32 ^ h as u32
    }

    fn finish(mut self) -> Engine {
        let mut e = self.engine;
        self.published.sort_unstable();
        self.published.dedup();
        for tid in self.published {
            if let Some(user) = e.users.get_mut(&tid) {
                user.rebuild();
            }
        }
        // Grouped by presentity: a counting sort on the target's id (ids
        // are dense), which keeps the store's order within each group.
        let mut subscriptions = self.subscriptions;
        let mut starts = Vec::with_capacity(self.per_target.len() + 1);
        let mut total = 0usize;
        for &count in &self.per_target {
            starts.push(total);
            total += count as usize;
        }
        starts.push(total);
        // Zeroes, so the allocator can hand over fresh pages unwritten.
        let mut grouped = vec![0u128; subscriptions.len()];
        let mut grouped_pending = Bits::zeroed(subscriptions.len());
        let mut next = starts.clone();
        for (row, &key) in subscriptions.iter().enumerate() {
            let (_, tid, _) = timer_of_key(key);
            let slot = &mut next[tid as usize];
            grouped[*slot] = key;
            if self.pending.get(row) {
                grouped_pending.set(*slot);
            }
            *slot += 1;
        }
        // The expiry index is built in the buffer the rows came in.
        subscriptions.clear();
        let mut timers = subscriptions;
        for (tid, range) in starts.windows(2).enumerate() {
            let group = &grouped[range[0]..range[1]];
            let tid = tid as Id;
            let Some(user) = e.users.get_mut(&tid).filter(|_| !group.is_empty()) else {
                continue;
            };
            user.watchers.reserve(group.len());
            for (at, &key) in (range[0]..).zip(group) {
                let (expires, _, wid) = timer_of_key(key);
                let sub = Sub {
                    expires,
                    pending: grouped_pending.get(at),
                };
                // One per (watcher, target); a store never holds two, and if
                // it did the later would stand.
                if user.watchers.insert(wid, sub).is_some() {
                    e.names.release(wid);
                }
            }
            timers.extend(
                user.watchers
                    .iter()
                    .map(|(&wid, sub)| timer_key(sub.expires, tid, wid)),
            );
        }
        drop(grouped);
        // Built in bulk from the sorted whole: far cheaper than one insert
        // per subscription.
        timers.sort_unstable();
        e.sub_timers = timers.into_iter().map(timer_of_key).collect();
        e.names.collect();
        e
    }
}

/// A subscription timer `(expires, target, watcher)` as one integer that
/// sorts the same way.
fn timer_key(expires: Timestamp, tid: Id, wid: Id) -> u128 {
    (u128::from(expires.as_millis()) << 64) | (u128::from(tid) << 32) | u128::from(wid)
}

fn timer_of_key(key: u128) -> (Timestamp, Id, Id) {
    (
        Timestamp::from_millis((key >> 64) as u64),
        (key >> 32) as Id,
        key as Id,
    )
}

/// One bit per position.
#[derive(Debug, Default)]
struct Bits {
    words: Vec<u64>,
    len: usize,
}

impl Bits {
    fn zeroed(len: usize) -> Bits {
        Bits {
            words: vec![0; len.div_ceil(64)],
            len,
        }
    }

    fn push(&mut self, bit: bool) {
        if self.len % 64 == 0 {
            self.words.push(0);
        }
        self.words[self.len / 64] |= u64::from(bit) << (self.len % 64);
        self.len += 1;
    }

    fn set(&mut self, at: usize) {
        self.words[at / 64] |= 1 << (at % 64);
    }

    fn get(&self, at: usize) -> bool {
        self.words
            .get(at / 64)
            .is_some_and(|w| w >> (at % 64) & 1 == 1)
    }
}

/// Where a user's record text is in `Restorer::user_texts` (16 bytes: the
/// table is read once per subscription and should stay in the cache).
#[derive(Clone, Copy, Debug)]
struct UserKey {
    hash: u32,
    id: Id,
    start: u32,
    end: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_keep_each_position_across_word_boundaries() {
        let pattern = |i: usize| i % 3 == 0 || i == 64 || i == 127;
        let mut pushed = Bits::default();
        let mut set = Bits::zeroed(130);
        for i in 0..130 {
            pushed.push(pattern(i));
            if pattern(i) {
                set.set(i);
            }
        }
        for i in 0..130 {
            assert_eq!(pushed.get(i), pattern(i), "pushed bit {i}");
            assert_eq!(set.get(i), pattern(i), "set bit {i}");
        }
        assert!(!pushed.get(130), "past the end reads as unset");
    }

    #[test]
    fn timer_keys_sort_as_their_triples_and_read_back() {
        let triples = [
            (Timestamp::from_millis(5), 2, 1),
            (Timestamp::from_millis(5), 1, u32::MAX),
            (Timestamp::from_millis(u64::MAX), 0, 0),
            (Timestamp::from_millis(4), u32::MAX, 7),
        ];
        let mut keys: Vec<u128> = triples
            .iter()
            .map(|&(at, tid, wid)| timer_key(at, tid, wid))
            .collect();
        keys.sort_unstable();
        let mut sorted = triples;
        sorted.sort_unstable();
        assert_eq!(
            keys.into_iter().map(timer_of_key).collect::<Vec<_>>(),
            sorted
        );
    }
}
