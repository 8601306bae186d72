//! Durable state behind a trait (draft section 3.4: "An implementation of the
//! service must maintain information about both presence information and
//! in-progress operations in persistent storage").
//!
//! Records hold addresses and documents in their text form so that a backend
//! stores them as plain text columns without knowing the CPIM formats; the
//! engine parses them back on restore. An address is written as it follows
//! `pres:` in its URI (`local@domain`, percent-encoded where needed); a
//! publication is a PIDF document (RFC 3863).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::policy::{Decision, PolicySubject};
use crate::time::Timestamp;

/// Where the engine's durable state lives (SQLite embedded, PostgreSQL shared
/// by several nodes, memory in tests).
///
/// # Persistence contract
///
/// - The engine hands its state changes to the driver as
///   [`Effect::Persist`](crate::Effect::Persist) effects, always *before* the
///   response (or notify) effect that depends on them. A driver that commits
///   the changes seen so far, in one [`Store::apply`] call, before it sends
///   any response that follows them guarantees that every acknowledged
///   subscription, publication, policy and delegated operation survives a
///   crash.
/// - One `apply` call is one transaction: all of the batch or none of it.
///   Changes in a batch are applied in order; a `Put` replaces the record with
///   the same key, a `Remove` of a missing record is not an error (so replay
///   after an uncertain commit is harmless).
/// - [`Store::load`] returns everything committed, as a [`Snapshot`] for
///   `Engine::restore`. Subscriptions and publications carry their absolute
///   expiry, so each keeps its remaining duration across a restart; expired
///   ones are dropped by the engine on restore.
/// - Restore sends nothing: no notify is re-sent for a change that was already
///   notified. Notifications are at most once; a watcher re-synchronises at
///   the next change or when it subscribes again.
/// - Sessions (open inboxes) are not stored: after a restart no inbox is open
///   until its binding opens it again.
pub trait Store {
    /// Hands every committed record to `sink`, one at a time, from one
    /// consistent view of the state: all users first, then the other kinds
    /// in any order. Records are lent, not given: a backend passes text
    /// straight from its rows, and a restart with millions of subscriptions
    /// builds no intermediate copy of them ([`Engine::restore_from`]). An
    /// error from `sink` stops the load and is returned as is.
    ///
    /// [`Engine::restore_from`]: crate::Engine::restore_from
    fn load_into(&mut self, sink: &mut RecordSink<'_>) -> Result<(), StoreError>;

    /// Reads all committed state into one owned [`Snapshot`].
    fn load(&mut self) -> Result<Snapshot, StoreError> {
        let mut snapshot = Snapshot::default();
        self.load_into(&mut |record| {
            snapshot.push(record);
            Ok(())
        })?;
        Ok(snapshot)
    }

    /// Commits `batch` atomically, in order.
    fn apply(&mut self, batch: &[Change]) -> Result<(), StoreError>;
}

/// What [`Store::load_into`] hands the records to.
pub type RecordSink<'s> = dyn FnMut(Record<'_>) -> Result<(), StoreError> + 's;

/// One committed record, lent by [`Store::load_into`]. Users, publications
/// and subscriptions (the kinds that number in millions) are views of their
/// text; the rarer kinds lend their record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Record<'a> {
    /// A local user, `local@domain`.
    User(&'a str),
    /// One publisher's presence.
    Publication(PublicationRef<'a>),
    /// A subscription.
    Subscription(SubscriptionRef<'a>),
    /// An access rule.
    Policy(&'a PolicyRecord),
    /// A pending watcher request.
    Watcher(&'a WatcherRecord),
    /// A block-list entry.
    Block(&'a BlockRecord),
    /// A delegated message operation.
    Delegation(&'a DelegationRecord),
    /// A subscription relayed to another domain.
    RemoteSubscription(&'a RemoteSubscriptionRecord),
}

/// A [`PublicationRecord`] as lent text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PublicationRef<'a> {
    /// The presentity, `local@domain`.
    pub presentity: &'a str,
    /// The publisher's id.
    pub publisher: &'a str,
    /// The PIDF document.
    pub pidf: &'a str,
    /// When the publication ends unless refreshed.
    pub expires: Timestamp,
}

/// A [`SubscriptionRecord`] as lent text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SubscriptionRef<'a> {
    /// The watcher, `local@domain`.
    pub watcher: &'a str,
    /// The presentity watched, `local@domain`.
    pub target: &'a str,
    /// When the subscription ends.
    pub expires: Timestamp,
    /// Whether the watcher may see presence yet.
    pub state: SubscriptionStatus,
}

impl PublicationRecord {
    /// This record as lent text.
    pub fn view(&self) -> PublicationRef<'_> {
        PublicationRef {
            presentity: &self.presentity,
            publisher: &self.publisher,
            pidf: &self.pidf,
            expires: self.expires,
        }
    }
}

impl SubscriptionRecord {
    /// This record as lent text.
    pub fn view(&self) -> SubscriptionRef<'_> {
        SubscriptionRef {
            watcher: &self.watcher,
            target: &self.target,
            expires: self.expires,
            state: self.state,
        }
    }
}

/// Why the store could not do what was asked. The engine's state is not
/// changed by a failed `apply`; the driver must not send the responses that
/// depended on it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The backend (database, file system) failed.
    #[error("storage backend failed: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A stored record cannot be read back.
    #[error("stored {record} is invalid: {reason}")]
    Corrupt {
        /// Which kind of record, and its key.
        record: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// One change to the durable state. `Put` replaces the record with the same
/// key (given in each record's doc); `Remove` names the key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Change {
    /// A local user (inbox and presentity) exists. Key: the address.
    PutUser(String),
    /// A local user is gone.
    RemoveUser(String),
    /// One publisher's presence for a presentity.
    PutPublication(PublicationRecord),
    /// One publisher's presence is withdrawn or expired.
    RemovePublication {
        /// The presentity, `local@domain`.
        presentity: String,
        /// The publisher's id.
        publisher: String,
    },
    /// A subscription, active or pending.
    PutSubscription(SubscriptionRecord),
    /// A subscription ended.
    RemoveSubscription {
        /// The watcher, `local@domain`.
        watcher: String,
        /// The presentity watched, `local@domain`.
        target: String,
    },
    /// An access rule of a presentity.
    PutPolicy(PolicyRecord),
    /// An access rule is withdrawn.
    RemovePolicy {
        /// The presentity, `local@domain`.
        presentity: String,
        /// Whom the rule was about.
        subject: PolicySubject,
    },
    /// A watcher asked and waits for the presentity's decision.
    PutWatcher(WatcherRecord),
    /// The presentity decided (or the request went away).
    RemoveWatcher {
        /// The presentity, `local@domain`.
        presentity: String,
        /// The watcher, `local@domain`.
        watcher: String,
    },
    /// An inbox refuses messages from a sender.
    PutBlock(BlockRecord),
    /// An inbox accepts a sender again.
    RemoveBlock(BlockRecord),
    /// A message handed to another server whose authoritative answer is
    /// awaited (draft section 2.4.1, step 3d).
    PutDelegation(DelegationRecord),
    /// The answer came, or the wait ended.
    RemoveDelegation {
        /// The relay id of the delegation.
        relay: u64,
    },
    /// A subscription of a local watcher to a presentity of another domain,
    /// accepted there (draft section 3.4 across domains).
    PutRemoteSubscription(RemoteSubscriptionRecord),
    /// A relayed subscription ended.
    RemoveRemoteSubscription {
        /// The local watcher, `local@domain`.
        watcher: String,
        /// The remote presentity, `local@domain`.
        target: String,
    },
}

/// One publisher's presence for a presentity. Key: (presentity, publisher).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicationRecord {
    /// The presentity, `local@domain`.
    pub presentity: String,
    /// The publisher's id (a device, a binding's publication tag).
    pub publisher: String,
    /// This publisher's presence as a PIDF document (RFC 3863).
    pub pidf: String,
    /// When the publication ends unless refreshed.
    pub expires: Timestamp,
}

/// A subscription. Key: (watcher, target).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionRecord {
    /// The watcher, `local@domain`.
    pub watcher: String,
    /// The presentity watched, `local@domain`.
    pub target: String,
    /// When the subscription ends (absolute, so it survives restarts).
    pub expires: Timestamp,
    /// Whether the watcher may see presence yet.
    pub state: SubscriptionStatus,
}

/// Whether a subscription delivers presence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum SubscriptionStatus {
    /// Allowed: every change is notified.
    Active,
    /// Waiting for the presentity's decision: nothing is notified.
    Pending,
}

/// An access rule. Key: (presentity, subject).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyRecord {
    /// The presentity the rule protects, `local@domain`.
    pub presentity: String,
    /// Whom the rule is about.
    pub subject: PolicySubject,
    /// What the presentity decided.
    pub decision: Decision,
}

/// A pending watcher request. Key: (presentity, watcher).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatcherRecord {
    /// The presentity asked, `local@domain`.
    pub presentity: String,
    /// The watcher asking, `local@domain`.
    pub watcher: String,
    /// When it first asked.
    pub since: Timestamp,
}

/// A block-list entry. Key: the whole record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockRecord {
    /// The inbox that refuses, `local@domain`.
    pub inbox: String,
    /// The sender refused, `local@domain`.
    pub blocked: String,
}

/// A message operation delegated to another server, awaiting its
/// authoritative answer. Key: `relay`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DelegationRecord {
    /// The engine's id for the relay (the `RelayId` of the relay effect).
    pub relay: u64,
    /// The driver's handle for where the response goes.
    pub origin: u64,
    /// The transID of the original message operation.
    pub trans_id: u32,
    /// When the engine stops waiting and answers `indeterminant`.
    pub deadline: Timestamp,
}

/// A subscription relayed to another domain and accepted there. Key:
/// (watcher, target).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteSubscriptionRecord {
    /// The local watcher, `local@domain`.
    pub watcher: String,
    /// The remote presentity, `local@domain`.
    pub target: String,
    /// The route's binding it went through.
    pub binding: String,
    /// When it ends (absolute, so it survives restarts).
    pub expires: Timestamp,
    /// Whether the other side lets presence flow yet (`Pending` while the
    /// subscribe is in progress).
    pub state: SubscriptionStatus,
    /// The watcher's subscribe, fetch or refresh while it is in progress
    /// (its response not yet sent); `None` when nothing is under way. For a
    /// subscribe or fetch `expires` is then the deadline for the answer;
    /// for a refresh of an accepted subscription it stays the
    /// subscription's end, which is also the refresh's deadline.
    #[serde(default)]
    pub request: Option<RelayedRequest>,
}

/// A relayed subscribe, fetch or refresh whose response to the watcher is
/// still to be sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayedRequest {
    /// The relay id its answer comes back with.
    pub relay: u64,
    /// The driver's handle for where the watcher's response goes.
    pub origin: u64,
    /// The transID of the watcher's operation.
    pub trans_id: u32,
    /// The duration asked of the other side; 0 for a fetch.
    pub duration: u32,
    /// Where it stands.
    pub phase: RelayedPhase,
}

/// Where a relayed request of a watcher stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum RelayedPhase {
    /// A subscribe or fetch went out; its answer is awaited.
    Awaiting,
    /// A fetch the other side accepted, whose one notify is awaited.
    Answered,
    /// A refresh of an accepted subscription went out; its answer is
    /// awaited while the subscription goes on as it was.
    Refreshing,
}

/// Everything `Engine::restore` needs: the committed state, in no particular
/// order (an engine restores the same state from any order).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Snapshot {
    /// Local users, `local@domain`.
    pub users: Vec<String>,
    /// Publications, one per (presentity, publisher).
    pub publications: Vec<PublicationRecord>,
    /// Subscriptions, one per (watcher, target).
    pub subscriptions: Vec<SubscriptionRecord>,
    /// Access rules, one per (presentity, subject).
    pub policies: Vec<PolicyRecord>,
    /// Pending watcher requests, one per (presentity, watcher).
    pub watchers: Vec<WatcherRecord>,
    /// Block-list entries.
    pub blocks: Vec<BlockRecord>,
    /// Delegated message operations awaiting an answer.
    pub delegations: Vec<DelegationRecord>,
    /// Subscriptions relayed to other domains, one per (watcher, target).
    #[serde(default)]
    pub remote_subscriptions: Vec<RemoteSubscriptionRecord>,
}

impl Snapshot {
    /// Adds one lent record, copied.
    pub fn push(&mut self, record: Record<'_>) {
        match record {
            Record::User(user) => self.users.push(user.to_owned()),
            Record::Publication(p) => self.publications.push(PublicationRecord {
                presentity: p.presentity.to_owned(),
                publisher: p.publisher.to_owned(),
                pidf: p.pidf.to_owned(),
                expires: p.expires,
            }),
            Record::Subscription(s) => self.subscriptions.push(SubscriptionRecord {
                watcher: s.watcher.to_owned(),
                target: s.target.to_owned(),
                expires: s.expires,
                state: s.state,
            }),
            Record::Policy(r) => self.policies.push(r.clone()),
            Record::Watcher(r) => self.watchers.push(r.clone()),
            Record::Block(r) => self.blocks.push(r.clone()),
            Record::Delegation(r) => self.delegations.push(r.clone()),
            Record::RemoteSubscription(r) => self.remote_subscriptions.push(r.clone()),
        }
    }

    /// Every record, lent, users first (the order [`Store::load_into`]
    /// promises).
    pub fn records(&self) -> impl Iterator<Item = Record<'_>> {
        let users = self.users.iter().map(|u| Record::User(u));
        let publications = self
            .publications
            .iter()
            .map(|p| Record::Publication(p.view()));
        let subscriptions = self
            .subscriptions
            .iter()
            .map(|s| Record::Subscription(s.view()));
        users
            .chain(publications)
            .chain(subscriptions)
            .chain(self.policies.iter().map(Record::Policy))
            .chain(self.watchers.iter().map(Record::Watcher))
            .chain(self.blocks.iter().map(Record::Block))
            .chain(self.delegations.iter().map(Record::Delegation))
            .chain(
                self.remote_subscriptions
                    .iter()
                    .map(Record::RemoteSubscription),
            )
    }
}

/// A [`Store`] in memory, for tests and for running without durability.
/// `load` returns records sorted by key.
#[derive(Clone, Debug, Default)]
pub struct MemoryStore {
    users: BTreeMap<String, ()>,
    publications: BTreeMap<(String, String), PublicationRecord>,
    subscriptions: BTreeMap<(String, String), SubscriptionRecord>,
    policies: BTreeMap<(String, PolicySubject), PolicyRecord>,
    watchers: BTreeMap<(String, String), WatcherRecord>,
    blocks: BTreeMap<(String, String), BlockRecord>,
    delegations: BTreeMap<u64, DelegationRecord>,
    remote_subscriptions: BTreeMap<(String, String), RemoteSubscriptionRecord>,
    batches: usize,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// How many batches were committed so far.
    pub fn batches(&self) -> usize {
        self.batches
    }

    fn apply_one(&mut self, change: &Change) {
        match change {
            Change::PutUser(user) => {
                self.users.insert(user.clone(), ());
            }
            Change::RemoveUser(user) => {
                self.users.remove(user);
            }
            Change::PutPublication(r) => {
                let key = (r.presentity.clone(), r.publisher.clone());
                self.publications.insert(key, r.clone());
            }
            Change::RemovePublication {
                presentity,
                publisher,
            } => {
                self.publications
                    .remove(&(presentity.clone(), publisher.clone()));
            }
            Change::PutSubscription(r) => {
                let key = (r.watcher.clone(), r.target.clone());
                self.subscriptions.insert(key, r.clone());
            }
            Change::RemoveSubscription { watcher, target } => {
                self.subscriptions
                    .remove(&(watcher.clone(), target.clone()));
            }
            Change::PutPolicy(r) => {
                let key = (r.presentity.clone(), r.subject.clone());
                self.policies.insert(key, r.clone());
            }
            Change::RemovePolicy {
                presentity,
                subject,
            } => {
                self.policies.remove(&(presentity.clone(), subject.clone()));
            }
            Change::PutWatcher(r) => {
                let key = (r.presentity.clone(), r.watcher.clone());
                self.watchers.insert(key, r.clone());
            }
            Change::RemoveWatcher {
                presentity,
                watcher,
            } => {
                self.watchers.remove(&(presentity.clone(), watcher.clone()));
            }
            Change::PutBlock(r) => {
                let key = (r.inbox.clone(), r.blocked.clone());
                self.blocks.insert(key, r.clone());
            }
            Change::RemoveBlock(r) => {
                self.blocks.remove(&(r.inbox.clone(), r.blocked.clone()));
            }
            Change::PutDelegation(r) => {
                self.delegations.insert(r.relay, r.clone());
            }
            Change::RemoveDelegation { relay } => {
                self.delegations.remove(relay);
            }
            Change::PutRemoteSubscription(r) => {
                let key = (r.watcher.clone(), r.target.clone());
                self.remote_subscriptions.insert(key, r.clone());
            }
            Change::RemoveRemoteSubscription { watcher, target } => {
                self.remote_subscriptions
                    .remove(&(watcher.clone(), target.clone()));
            }
        }
    }
}

impl Store for MemoryStore {
    fn load_into(&mut self, sink: &mut RecordSink<'_>) -> Result<(), StoreError> {
        for user in self.users.keys() {
            sink(Record::User(user))?;
        }
        for p in self.publications.values() {
            sink(Record::Publication(p.view()))?;
        }
        for s in self.subscriptions.values() {
            sink(Record::Subscription(s.view()))?;
        }
        for r in self.policies.values() {
            sink(Record::Policy(r))?;
        }
        for r in self.watchers.values() {
            sink(Record::Watcher(r))?;
        }
        for r in self.blocks.values() {
            sink(Record::Block(r))?;
        }
        for r in self.delegations.values() {
            sink(Record::Delegation(r))?;
        }
        for r in self.remote_subscriptions.values() {
            sink(Record::RemoteSubscription(r))?;
        }
        Ok(())
    }

    fn apply(&mut self, batch: &[Change]) -> Result<(), StoreError> {
        for change in batch {
            self.apply_one(change);
        }
        self.batches += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(watcher: &str, expires: u64) -> Change {
        Change::PutSubscription(SubscriptionRecord {
            watcher: watcher.into(),
            target: "bob@example.com".into(),
            expires: Timestamp::from_millis(expires),
            state: SubscriptionStatus::Active,
        })
    }

    #[test]
    fn put_replaces_by_key_and_remove_is_idempotent() -> Result<(), StoreError> {
        let mut store = MemoryStore::new();
        store.apply(&[sub("alice@example.com", 10), sub("alice@example.com", 20)])?;
        let snap = store.load()?;
        assert_eq!(snap.subscriptions.len(), 1);
        assert_eq!(snap.subscriptions[0].expires, Timestamp::from_millis(20));
        let remove = Change::RemoveSubscription {
            watcher: "alice@example.com".into(),
            target: "bob@example.com".into(),
        };
        store.apply(std::slice::from_ref(&remove))?;
        store.apply(&[remove])?;
        assert!(store.load()?.subscriptions.is_empty());
        assert_eq!(store.batches(), 3);
        Ok(())
    }

    #[test]
    fn every_record_kind_round_trips() -> Result<(), StoreError> {
        let mut store = MemoryStore::new();
        let batch = vec![
            Change::PutUser("bob@example.com".into()),
            Change::PutPublication(PublicationRecord {
                presentity: "bob@example.com".into(),
                publisher: "phone".into(),
                pidf: "<presence/>".into(),
                expires: Timestamp::from_millis(5),
            }),
            Change::PutPolicy(PolicyRecord {
                presentity: "bob@example.com".into(),
                subject: PolicySubject::Domain("example.org".into()),
                decision: Decision::Ask,
            }),
            Change::PutWatcher(WatcherRecord {
                presentity: "bob@example.com".into(),
                watcher: "carol@example.org".into(),
                since: Timestamp::from_millis(1),
            }),
            Change::PutBlock(BlockRecord {
                inbox: "bob@example.com".into(),
                blocked: "spam@example.net".into(),
            }),
            Change::PutDelegation(DelegationRecord {
                relay: 7,
                origin: 3,
                trans_id: 42,
                deadline: Timestamp::from_millis(9),
            }),
        ];
        store.apply(&batch)?;
        let snap = store.load()?;
        assert_eq!(snap.users, vec!["bob@example.com".to_string()]);
        assert_eq!(snap.publications.len(), 1);
        assert_eq!(snap.policies[0].decision, Decision::Ask);
        assert_eq!(snap.watchers.len(), 1);
        assert_eq!(snap.blocks.len(), 1);
        assert_eq!(snap.delegations[0].trans_id, 42);
        store.apply(&[
            Change::RemoveUser("bob@example.com".into()),
            Change::RemoveDelegation { relay: 7 },
        ])?;
        let snap = store.load()?;
        assert!(snap.users.is_empty() && snap.delegations.is_empty());
        let remote = RemoteSubscriptionRecord {
            watcher: "alice@example.com".into(),
            target: "carol@example.net".into(),
            binding: "sip".into(),
            expires: Timestamp::from_millis(11),
            state: SubscriptionStatus::Pending,
            request: Some(RelayedRequest {
                relay: 9,
                origin: 4,
                trans_id: 77,
                duration: 600,
                phase: RelayedPhase::Awaiting,
            }),
        };
        store.apply(&[
            Change::PutRemoteSubscription(remote.clone()),
            Change::PutRemoteSubscription(RemoteSubscriptionRecord {
                state: SubscriptionStatus::Active,
                request: None,
                ..remote.clone()
            }),
        ])?;
        let snap = store.load()?;
        assert_eq!(snap.remote_subscriptions.len(), 1);
        assert_eq!(
            snap.remote_subscriptions[0].state,
            SubscriptionStatus::Active
        );
        assert_eq!(snap.remote_subscriptions[0].request, None);
        store.apply(&[Change::RemoveRemoteSubscription {
            watcher: remote.watcher,
            target: remote.target,
        }])?;
        assert!(store.load()?.remote_subscriptions.is_empty());
        Ok(())
    }
}
