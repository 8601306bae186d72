//! Rebuilding the engine from stored records ([`Engine::restore`],
//! [`Engine::restore_from`]), one record at a time as the store lends them.
//!
//! A restart reads millions of subscriptions: each is taken from the
//! store's row text without a copy, its target found by that text in a
//! table of the users alone (or, as the store gives each presentity's
//! subscriptions together, taken from the row before), and only a watcher
//! not seen before is built as an address. Each presentity's subscriptions
//! are gathered while its rows come and put in its watcher map, sized once,
//! when they end; the expiry index is sorted once at the end.

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
        restorer.timers.reserve(snapshot.subscriptions.len());
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
    /// The subscriptions of the presentity whose rows are coming in, put in
    /// its watcher map (sized once) when a row of another one comes.
    /// Inserting each row into its map at once would grow the map step by
    /// step, and for a store that does not give the rows together touch a
    /// random map per row; this way any order gives the same engine.
    group: Vec<(Id, Sub)>,
    /// The target of `group`, and the text it was found by: the next row
    /// of the same presentity needs no lookup.
    group_target: Option<(Id, String)>,
    /// Every subscription as a timer key (expiry, target, watcher), sorted
    /// into the expiry index at the end.
    timers: Vec<u128>,
    /// Whether a watcher map already held a subscription put again (a store
    /// never gives two for one watcher and target; if it did, the later
    /// stands): `timers` then holds a stale key and is built from the maps.
    replaced: bool,
}

impl Restorer {
    fn new(config: Config) -> Restorer {
        Restorer {
            engine: Engine::new(config),
            users: HashTable::new(),
            user_texts: String::new(),
            hasher: foldhash::fast::RandomState::default(),
            published: Vec::new(),
            group: Vec::new(),
            group_target: None,
            timers: Vec::new(),
            replaced: false,
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
                // Builds before XML's `Char` was checked stored what they
                // were sent: such characters become U+FFFD rather than
                // losing the publication.
                let pidf = cpim_formats::pidf::replace_non_xml_chars(p.pidf);
                let presence = Presence::parse(pidf.as_bytes())
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
        let tid = match &self.group_target {
            Some((tid, text)) if text == s.target => *tid,
            _ => {
                self.flush_group();
                let tid = self.stored_user(s.target, "subscription")?;
                let mut text = self
                    .group_target
                    .take()
                    .map(|(_, text)| text)
                    .unwrap_or_default();
                text.clear();
                text.push_str(s.target);
                self.group_target = Some((tid, text));
                tid
            }
        };
        let wid = self
            .engine
            .names
            .retain_text(s.watcher, |text| parse_text(text, "subscription"))?;
        let sub = Sub {
            expires: s.expires,
            pending: s.state != SubscriptionStatus::Active,
        };
        self.group.push((wid, sub));
        self.timers.push(timer_key(s.expires, tid, wid));
        Ok(())
    }

    /// Puts the gathered subscriptions in their presentity's watcher map.
    fn flush_group(&mut self) {
        let Some((tid, _)) = &self.group_target else {
            return;
        };
        let e = &mut self.engine;
        // `stored_user` finds only users the engine holds.
        if let Some(user) = e.users.get_mut(tid) {
            user.watchers.reserve(self.group.len());
            for &(wid, sub) in &self.group {
                if user.watchers.insert(wid, sub).is_some() {
                    e.names.release(wid);
                    self.replaced = true;
                }
            }
        }
        self.group.clear();
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
        self.flush_group();
        let mut e = self.engine;
        self.published.sort_unstable();
        self.published.dedup();
        for tid in self.published {
            if let Some(user) = e.users.get_mut(&tid) {
                user.rebuild();
            }
        }
        let mut timers = self.timers;
        if self.replaced {
            timers.clear();
            for (&tid, user) in &e.users {
                timers.extend(
                    user.watchers
                        .iter()
                        .map(|(&wid, sub)| timer_key(sub.expires, tid, wid)),
                );
            }
        }
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
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::store::SubscriptionRecord;

    /// An engine restored from two users and `subscriptions` (watcher,
    /// target, expiry, pending), in the order given.
    fn restored(subscriptions: &[(&str, &str, u64, bool)]) -> Engine {
        let snapshot = Snapshot {
            users: vec!["ann@example.com".into(), "bob@example.com".into()],
            subscriptions: subscriptions
                .iter()
                .map(|&(watcher, target, expires, pending)| SubscriptionRecord {
                    watcher: watcher.into(),
                    target: target.into(),
                    expires: Timestamp::from_millis(expires),
                    state: if pending {
                        SubscriptionStatus::Pending
                    } else {
                        SubscriptionStatus::Active
                    },
                })
                .collect(),
            ..Snapshot::default()
        };
        let engine = Engine::restore(Config::new(["example.com"]), snapshot).unwrap();
        engine.check_invariants().unwrap();
        engine
    }

    /// Every subscription in the watcher maps: (target, watcher, expiry,
    /// pending).
    fn watcher_maps(e: &Engine) -> BTreeSet<(String, String, u64, bool)> {
        e.users
            .iter()
            .flat_map(|(&tid, user)| {
                user.watchers.iter().map(move |(&wid, sub)| {
                    (
                        e.names.addr(tid).to_string(),
                        e.names.addr(wid).to_string(),
                        sub.expires.as_millis(),
                        sub.pending,
                    )
                })
            })
            .collect()
    }

    #[test]
    fn subscriptions_restore_alike_in_any_order() {
        let grouped = [
            ("w1@example.net", "ann@example.com", 30, false),
            ("w2@example.net", "ann@example.com", 10, true),
            ("w1@example.net", "bob@example.com", 20, false),
            ("w3@example.net", "bob@example.com", 40, true),
        ];
        let interleaved = [grouped[2], grouped[0], grouped[3], grouped[1]];
        let a = restored(&grouped);
        let b = restored(&interleaved);
        assert_eq!(watcher_maps(&a).len(), 4);
        assert_eq!(watcher_maps(&a), watcher_maps(&b));
        assert_eq!(a.poll_timeout(), Some(Timestamp::from_millis(10)));
        assert_eq!(b.poll_timeout(), Some(Timestamp::from_millis(10)));
        assert_eq!(a.interned_addresses(), b.interned_addresses());
    }

    #[test]
    fn a_subscription_given_twice_keeps_the_later() {
        let e = restored(&[
            ("w1@example.net", "ann@example.com", 5, false),
            ("w2@example.net", "bob@example.com", 50, false),
            ("w1@example.net", "ann@example.com", 300, true),
        ]);
        let maps = watcher_maps(&e);
        let expected: BTreeSet<_> = [
            ("ann@example.com", "w1@example.net", 300, true),
            ("bob@example.com", "w2@example.net", 50, false),
        ]
        .map(|(t, w, at, p)| (t.to_owned(), w.to_owned(), at, p))
        .into();
        assert_eq!(maps, expected);
        // The earlier expiry left no timer behind (`check_invariants`
        // compares the index with the maps).
        assert_eq!(e.poll_timeout(), Some(Timestamp::from_millis(50)));
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
