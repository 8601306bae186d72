//! `SqliteStore` against the storage contract of `cpim_engine::Store` (draft
//! section 3.4: presence information and in-progress operations kept in
//! persistent storage), with `MemoryStore` as the reference model.
#![allow(clippy::unwrap_used)]

use cpim_engine::{
    BlockRecord, Change, Decision, DelegationRecord, MemoryStore, PolicyRecord, PolicySubject,
    PublicationRecord, Record, RelayedPhase, RelayedRequest, RemoteSubscriptionRecord, Snapshot,
    Store, StoreError, SubscriptionRecord, SubscriptionStatus, Timestamp, WatcherRecord,
};
use cpim_store::{Options, SqliteStore, SqliteStoreError, Synchronous, FILE_NAME, SCHEMA_VERSION};
use proptest::prelude::*;
use rusqlite::Connection;

/// A snapshot with every list in key order, so two stores compare equal
/// whatever order they return rows in.
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
    s.remote_subscriptions
        .sort_by(|a, b| (&a.watcher, &a.target).cmp(&(&b.watcher, &b.target)));
    s
}

fn every_put() -> Vec<Change> {
    vec![
        Change::PutUser("bob@example.com".into()),
        Change::PutPublication(PublicationRecord {
            presentity: "bob@example.com".into(),
            publisher: "phone".into(),
            pidf:
                "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" entity=\"pres:bob@example.com\"/>"
                    .into(),
            expires: Timestamp::from_millis(1_700_000_003_600),
        }),
        Change::PutSubscription(SubscriptionRecord {
            watcher: "alice@example.com".into(),
            target: "bob@example.com".into(),
            expires: Timestamp::from_millis(1_700_000_001_000),
            state: SubscriptionStatus::Active,
        }),
        Change::PutSubscription(SubscriptionRecord {
            watcher: "carol@example.org".into(),
            target: "bob@example.com".into(),
            expires: Timestamp::from_millis(1_700_000_002_000),
            state: SubscriptionStatus::Pending,
        }),
        Change::PutPolicy(PolicyRecord {
            presentity: "bob@example.com".into(),
            subject: PolicySubject::Watcher("alice@example.com".into()),
            decision: Decision::Allow,
        }),
        Change::PutPolicy(PolicyRecord {
            presentity: "bob@example.com".into(),
            subject: PolicySubject::Domain("example.org".into()),
            decision: Decision::Ask,
        }),
        Change::PutPolicy(PolicyRecord {
            presentity: "bob@example.com".into(),
            subject: PolicySubject::Anyone,
            decision: Decision::Deny,
        }),
        Change::PutWatcher(WatcherRecord {
            presentity: "bob@example.com".into(),
            watcher: "carol@example.org".into(),
            since: Timestamp::from_millis(1_700_000_000_500),
        }),
        Change::PutBlock(BlockRecord {
            inbox: "bob@example.com".into(),
            blocked: "spam@example.net".into(),
        }),
        Change::PutDelegation(DelegationRecord {
            relay: 7,
            origin: 3,
            trans_id: 2_147_483_647,
            deadline: Timestamp::from_millis(1_700_000_030_000),
        }),
        Change::PutRemoteSubscription(RemoteSubscriptionRecord {
            watcher: "bob@example.com".into(),
            target: "carol@example.net".into(),
            binding: "sip".into(),
            expires: Timestamp::from_millis(1_700_000_032_000),
            state: SubscriptionStatus::Pending,
            request: Some(RelayedRequest {
                relay: u64::MAX,
                origin: 12,
                trans_id: 2_147_483_647,
                duration: 600,
                phase: RelayedPhase::Awaiting,
            }),
        }),
        Change::PutRemoteSubscription(RemoteSubscriptionRecord {
            watcher: "dan@example.com".into(),
            target: "carol@example.net".into(),
            binding: "sip".into(),
            expires: Timestamp::from_millis(1_700_000_032_000),
            state: SubscriptionStatus::Pending,
            request: Some(RelayedRequest {
                relay: 0,
                origin: 13,
                trans_id: 5,
                duration: 0,
                phase: RelayedPhase::Answered,
            }),
        }),
        Change::PutRemoteSubscription(RemoteSubscriptionRecord {
            watcher: "bob@example.com".into(),
            target: "carol@example.net".into(),
            binding: "sip".into(),
            expires: Timestamp::from_millis(1_700_000_900_000),
            state: SubscriptionStatus::Active,
            request: None,
        }),
    ]
}

fn every_remove() -> Vec<Change> {
    vec![
        Change::RemoveUser("bob@example.com".into()),
        Change::RemovePublication {
            presentity: "bob@example.com".into(),
            publisher: "phone".into(),
        },
        Change::RemoveSubscription {
            watcher: "alice@example.com".into(),
            target: "bob@example.com".into(),
        },
        Change::RemoveSubscription {
            watcher: "carol@example.org".into(),
            target: "bob@example.com".into(),
        },
        Change::RemovePolicy {
            presentity: "bob@example.com".into(),
            subject: PolicySubject::Watcher("alice@example.com".into()),
        },
        Change::RemovePolicy {
            presentity: "bob@example.com".into(),
            subject: PolicySubject::Domain("example.org".into()),
        },
        Change::RemovePolicy {
            presentity: "bob@example.com".into(),
            subject: PolicySubject::Anyone,
        },
        Change::RemoveWatcher {
            presentity: "bob@example.com".into(),
            watcher: "carol@example.org".into(),
        },
        Change::RemoveBlock(BlockRecord {
            inbox: "bob@example.com".into(),
            blocked: "spam@example.net".into(),
        }),
        Change::RemoveDelegation { relay: 7 },
        Change::RemoveRemoteSubscription {
            watcher: "bob@example.com".into(),
            target: "carol@example.net".into(),
        },
        Change::RemoveRemoteSubscription {
            watcher: "dan@example.com".into(),
            target: "carol@example.net".into(),
        },
    ]
}

fn model(batches: &[&[Change]]) -> Snapshot {
    let mut m = MemoryStore::new();
    for b in batches {
        m.apply(b).unwrap();
    }
    sorted(m.load().unwrap())
}

#[test]
fn open_creates_one_wal_file_in_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("nested").join("data");
    let store = SqliteStore::open(&data).unwrap();
    assert_eq!(store.path(), data.join(FILE_NAME));
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    let raw = Connection::open(data.join(FILE_NAME)).unwrap();
    let mode: String = raw
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn every_change_kind_round_trips() -> Result<(), StoreError> {
    let dir = tempfile::tempdir().unwrap();
    let mut store = SqliteStore::open(dir.path()).unwrap();
    let puts = every_put();
    store.apply(&puts)?;
    let snap = sorted(store.load()?);
    assert_eq!(snap, model(&[&puts]));
    assert_eq!(snap.users.len(), 1);
    assert_eq!(snap.publications.len(), 1);
    assert_eq!(snap.subscriptions.len(), 2);
    assert_eq!(snap.policies.len(), 3);
    assert_eq!(snap.watchers.len(), 1);
    assert_eq!(snap.blocks.len(), 1);
    assert_eq!(snap.delegations.len(), 1);
    assert_eq!(snap.remote_subscriptions.len(), 2);
    assert_eq!(
        (
            snap.remote_subscriptions[0].state,
            &snap.remote_subscriptions[0].request
        ),
        (SubscriptionStatus::Active, &None)
    );
    assert!(snap.remote_subscriptions[1]
        .request
        .as_ref()
        .is_some_and(|q| q.phase == RelayedPhase::Answered));

    let removes = every_remove();
    store.apply(&removes)?;
    assert_eq!(sorted(store.load()?), Snapshot::default());
    // Removing what is gone is not an error (replay after an uncertain commit).
    store.apply(&removes)?;
    assert_eq!(sorted(store.load()?), Snapshot::default());
    Ok(())
}

/// `load_into` lends every record, users before any other kind (a
/// streaming restore finds each record's user already there), and stops at
/// the first error of the sink, returning it.
#[test]
fn load_into_lends_users_first_and_stops_at_a_sink_error() -> Result<(), StoreError> {
    let dir = tempfile::tempdir().unwrap();
    let mut store = SqliteStore::open(dir.path()).unwrap();
    let puts = every_put();
    store.apply(&puts)?;
    let mut lent = Snapshot::default();
    let mut kinds = Vec::new();
    store.load_into(&mut |record| {
        kinds.push(matches!(record, Record::User(_)));
        lent.push(record);
        Ok(())
    })?;
    assert_eq!(sorted(lent), model(&[&puts]));
    let first_other = kinds.iter().position(|user| !user).unwrap();
    assert!(kinds[..first_other].iter().all(|user| *user));
    assert!(kinds[first_other..].iter().all(|user| !user), "{kinds:?}");

    let mut seen = 0;
    let err = store
        .load_into(&mut |_| {
            seen += 1;
            Err(StoreError::Corrupt {
                record: "test".into(),
                reason: "refused by the sink".into(),
            })
        })
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Corrupt { reason, .. } if reason == "refused by the sink"),
        "{err:?}"
    );
    assert_eq!(seen, 1);
    // The read transaction ended with the error: the store still writes.
    store.apply(&[Change::PutUser("carol@example.com".into())])?;
    assert_eq!(store.load()?.users.len(), 2);
    Ok(())
}

/// Past the size of the batches the store reads ahead in (thousands of
/// rows, on a thread of its own), every record still comes once, in kind
/// order, text intact; and a sink failing mid-way, while the reader waits
/// with batches in flight, gets its own error back, and the store is left
/// free to write.
#[test]
fn load_into_across_many_read_batches() -> Result<(), StoreError> {
    let dir = tempfile::tempdir().unwrap();
    let mut store = SqliteStore::open(dir.path()).unwrap();
    let mut puts: Vec<Change> = (0..300)
        .map(|u| Change::PutUser(format!("user{u}@example.com")))
        .collect();
    puts.extend((0..300).map(|u| {
        Change::PutPublication(PublicationRecord {
            presentity: format!("user{u}@example.com"),
            publisher: format!("device-{u}"),
            // Long enough that some batches end by size, not row count.
            pidf: format!(
                "<presence entity=\"pres:user{u}@example.com\"/>{}",
                "x".repeat(4000)
            ),
            expires: Timestamp::from_millis(1_000 + u),
        })
    }));
    puts.extend((0..30_000u64).map(|w| {
        Change::PutSubscription(SubscriptionRecord {
            watcher: format!("watcher{w}@example.net"),
            target: format!("user{}@example.com", w % 300),
            expires: Timestamp::from_millis(5_000 + w),
            state: if w % 7 == 0 {
                SubscriptionStatus::Pending
            } else {
                SubscriptionStatus::Active
            },
        })
    }));
    puts.push(Change::PutBlock(BlockRecord {
        inbox: "user1@example.com".into(),
        blocked: "spam@example.org".into(),
    }));
    store.apply(&puts)?;

    let mut lent = Snapshot::default();
    let mut kinds = Vec::new();
    store.load_into(&mut |record| {
        let kind = match record {
            Record::User(_) => 0,
            Record::Publication(_) => 1,
            Record::Subscription(_) => 2,
            _ => 3,
        };
        if kinds.last() != Some(&kind) {
            kinds.push(kind);
        }
        lent.push(record);
        Ok(())
    })?;
    assert_eq!(kinds, [0, 1, 2, 3], "each kind in one run, users first");
    assert_eq!(sorted(lent), model(&[&puts]));

    let mut seen = 0;
    let err = store
        .load_into(&mut |_| {
            seen += 1;
            if seen == 10_000 {
                return Err(StoreError::Corrupt {
                    record: "test".into(),
                    reason: "refused mid-way".into(),
                });
            }
            Ok(())
        })
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Corrupt { reason, .. } if reason == "refused mid-way"),
        "{err:?}"
    );
    assert_eq!(seen, 10_000, "no record after the sink's error");
    store.apply(&[Change::PutUser("late@example.com".into())])?;
    assert_eq!(store.load()?.users.len(), 301);
    Ok(())
}

#[test]
fn put_replaces_the_record_with_the_same_key() -> Result<(), StoreError> {
    let dir = tempfile::tempdir().unwrap();
    let mut store = SqliteStore::open(dir.path()).unwrap();
    let first = every_put();
    let second = vec![
        Change::PutUser("bob@example.com".into()),
        Change::PutPublication(PublicationRecord {
            presentity: "bob@example.com".into(),
            publisher: "phone".into(),
            pidf: "<presence/>".into(),
            expires: Timestamp::from_millis(9),
        }),
        Change::PutSubscription(SubscriptionRecord {
            watcher: "carol@example.org".into(),
            target: "bob@example.com".into(),
            expires: Timestamp::from_millis(10),
            state: SubscriptionStatus::Active,
        }),
        Change::PutPolicy(PolicyRecord {
            presentity: "bob@example.com".into(),
            subject: PolicySubject::Anyone,
            decision: Decision::Ask,
        }),
        Change::PutWatcher(WatcherRecord {
            presentity: "bob@example.com".into(),
            watcher: "carol@example.org".into(),
            since: Timestamp::from_millis(11),
        }),
        Change::PutBlock(BlockRecord {
            inbox: "bob@example.com".into(),
            blocked: "spam@example.net".into(),
        }),
        Change::PutDelegation(DelegationRecord {
            relay: 7,
            origin: 4,
            trans_id: 1,
            deadline: Timestamp::from_millis(12),
        }),
    ];
    store.apply(&first)?;
    store.apply(&second)?;
    let snap = sorted(store.load()?);
    assert_eq!(snap, model(&[&first, &second]));
    assert_eq!(snap.publications[0].pidf, "<presence/>");
    assert_eq!(snap.delegations[0].origin, 4);
    Ok(())
}

#[test]
fn changes_in_a_batch_apply_in_order() -> Result<(), StoreError> {
    let dir = tempfile::tempdir().unwrap();
    let mut store = SqliteStore::open(dir.path()).unwrap();
    let batch = vec![
        Change::PutUser("a@example.com".into()),
        Change::RemoveUser("a@example.com".into()),
        Change::RemoveUser("b@example.com".into()),
        Change::PutUser("b@example.com".into()),
    ];
    store.apply(&batch)?;
    assert_eq!(store.load()?.users, vec!["b@example.com".to_string()]);
    Ok(())
}

#[test]
fn extreme_times_and_ids_round_trip() -> Result<(), StoreError> {
    let dir = tempfile::tempdir().unwrap();
    let mut store = SqliteStore::open(dir.path()).unwrap();
    let batch = vec![
        Change::PutSubscription(SubscriptionRecord {
            watcher: "a@example.com".into(),
            target: "b@example.com".into(),
            expires: Timestamp::from_millis(u64::MAX),
            state: SubscriptionStatus::Active,
        }),
        Change::PutSubscription(SubscriptionRecord {
            watcher: "c@example.com".into(),
            target: "b@example.com".into(),
            expires: Timestamp::from_millis(0),
            state: SubscriptionStatus::Active,
        }),
        Change::PutDelegation(DelegationRecord {
            relay: u64::MAX,
            origin: 1 << 63,
            trans_id: u32::MAX,
            deadline: Timestamp::from_millis(i64::MAX as u64 - 1),
        }),
    ];
    store.apply(&batch)?;
    let snap = sorted(store.load()?);
    assert_eq!(snap, model(&[&batch]));
    Ok(())
}

#[test]
fn failed_batch_leaves_nothing_behind() -> Result<(), StoreError> {
    let dir = tempfile::tempdir().unwrap();
    let mut store = SqliteStore::open(dir.path()).unwrap();
    store.apply(&[Change::PutUser("kept@example.com".into())])?;
    // Make the last change of the next batch fail inside SQLite.
    let raw = Connection::open(store.path()).unwrap();
    raw.execute_batch(
        "CREATE TRIGGER refuse BEFORE INSERT ON delegation
         BEGIN SELECT RAISE(ABORT, 'disk says no'); END",
    )
    .unwrap();
    let mut batch = every_put();
    batch.insert(0, Change::RemoveUser("kept@example.com".into()));
    let err = store.apply(&batch).unwrap_err();
    assert!(err.to_string().contains("disk says no"), "{err}");
    let snap = store.load()?;
    assert_eq!(snap.users, vec!["kept@example.com".to_string()]);
    assert!(snap.subscriptions.is_empty() && snap.publications.is_empty());
    // The store is still usable afterwards.
    raw.execute_batch("DROP TRIGGER refuse").unwrap();
    store.apply(&batch)?;
    assert_eq!(sorted(store.load()?), model(&[&batch]));
    Ok(())
}

#[test]
fn reopening_keeps_everything() -> Result<(), StoreError> {
    let dir = tempfile::tempdir().unwrap();
    let puts = every_put();
    {
        let mut store = SqliteStore::open_with(
            dir.path(),
            &Options::default().with_synchronous(Synchronous::Full),
        )
        .unwrap();
        store.apply(&puts)?;
    }
    let mut store = SqliteStore::open(dir.path()).unwrap();
    assert_eq!(sorted(store.load()?), model(&[&puts]));
    Ok(())
}

#[test]
fn negative_time_in_the_file_is_reported_as_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = SqliteStore::open(dir.path()).unwrap();
    let raw = Connection::open(store.path()).unwrap();
    raw.execute(
        "INSERT INTO subscription (watcher, target, expires_at, state)
         VALUES ('a@example.com', 'b@example.com', -5, 'active')",
        [],
    )
    .unwrap();
    match store.load() {
        Err(StoreError::Corrupt { record, reason }) => {
            assert_eq!(record, "subscription.expires_at");
            assert_eq!(reason, "negative time -5");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

/// One engine per file: while a store is open, a second one on the same
/// directory is refused with a typed error naming the directory and the
/// holder; the database file stays readable by other tools meanwhile, and
/// the directory opens again once the first store is gone.
#[test]
fn one_open_store_per_directory() {
    let dir = tempfile::tempdir().unwrap();
    let first = SqliteStore::open(dir.path()).unwrap();
    match SqliteStore::open(dir.path()) {
        Err(SqliteStoreError::InUse { dir: d, holder }) => {
            assert_eq!(d, dir.path());
            assert_eq!(holder, Some(std::process::id()));
        }
        Err(other) => panic!("expected InUse, got {other:?}"),
        Ok(_) => panic!("opened a directory that is in use"),
    }
    let message = SqliteStore::open(dir.path()).err().unwrap().to_string();
    assert!(
        message.contains(&dir.path().display().to_string()),
        "{message}"
    );
    let raw = Connection::open(first.path()).unwrap();
    let n: i64 = raw
        .query_row("SELECT count(*) FROM subscription", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 0);
    // Closing another handle on the lock file does not drop the lock (it
    // would with POSIX record locks).
    drop(std::fs::File::open(dir.path().join(cpim_store::LOCK_FILE_NAME)).unwrap());
    assert!(matches!(
        SqliteStore::open(dir.path()),
        Err(SqliteStoreError::InUse { .. })
    ));
    drop(first);
    SqliteStore::open(dir.path()).unwrap();
}

#[test]
fn another_programs_database_is_not_opened() {
    let dir = tempfile::tempdir().unwrap();
    let raw = Connection::open(dir.path().join(FILE_NAME)).unwrap();
    raw.execute_batch("CREATE TABLE notes (body TEXT)").unwrap();
    drop(raw);
    match SqliteStore::open(dir.path()) {
        Err(SqliteStoreError::ForeignFile { application_id: 0 }) => {}
        Err(other) => panic!("expected ForeignFile, got {other:?}"),
        Ok(_) => panic!("opened a foreign database"),
    }
}

fn addr() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "alice@example.com".to_string(),
        "bob@example.com".to_string(),
        "Carol@example.org".to_string(),
        "\u{e9}l\u{e8}ve@xn--bcher-kva.example".to_string(),
    ])
}

fn time() -> impl Strategy<Value = Timestamp> {
    prop_oneof![
        (0u64..5_000).prop_map(Timestamp::from_millis),
        Just(Timestamp::from_millis(u64::MAX)),
    ]
}

fn subject() -> impl Strategy<Value = PolicySubject> {
    prop_oneof![
        addr().prop_map(PolicySubject::Watcher),
        prop::sample::select(vec!["example.com".to_string(), "example.org".to_string()])
            .prop_map(PolicySubject::Domain),
        Just(PolicySubject::Anyone),
    ]
}

fn change() -> impl Strategy<Value = Change> {
    let decision = prop::sample::select(vec![Decision::Allow, Decision::Deny, Decision::Ask]);
    let state = prop::sample::select(vec![
        SubscriptionStatus::Active,
        SubscriptionStatus::Pending,
    ]);
    prop_oneof![
        addr().prop_map(Change::PutUser),
        addr().prop_map(Change::RemoveUser),
        (addr(), "[a-z]{1,3}", ".{0,20}", time()).prop_map(
            |(presentity, publisher, pidf, expires)| {
                Change::PutPublication(PublicationRecord {
                    presentity,
                    publisher,
                    pidf,
                    expires,
                })
            }
        ),
        (addr(), "[a-z]{1,3}").prop_map(|(presentity, publisher)| Change::RemovePublication {
            presentity,
            publisher
        }),
        (addr(), addr(), time(), state).prop_map(|(watcher, target, expires, state)| {
            Change::PutSubscription(SubscriptionRecord {
                watcher,
                target,
                expires,
                state,
            })
        }),
        (addr(), addr())
            .prop_map(|(watcher, target)| Change::RemoveSubscription { watcher, target }),
        (addr(), subject(), decision).prop_map(|(presentity, subject, decision)| {
            Change::PutPolicy(PolicyRecord {
                presentity,
                subject,
                decision,
            })
        }),
        (addr(), subject()).prop_map(|(presentity, subject)| Change::RemovePolicy {
            presentity,
            subject
        }),
        (addr(), addr(), time()).prop_map(|(presentity, watcher, since)| {
            Change::PutWatcher(WatcherRecord {
                presentity,
                watcher,
                since,
            })
        }),
        (addr(), addr()).prop_map(|(presentity, watcher)| Change::RemoveWatcher {
            presentity,
            watcher
        }),
        (addr(), addr())
            .prop_map(|(inbox, blocked)| Change::PutBlock(BlockRecord { inbox, blocked })),
        (addr(), addr())
            .prop_map(|(inbox, blocked)| Change::RemoveBlock(BlockRecord { inbox, blocked })),
        (
            prop_oneof![0u64..4, Just(u64::MAX)],
            any::<u64>(),
            1u32..=2_147_483_647,
            time()
        )
            .prop_map(|(relay, origin, trans_id, deadline)| {
                Change::PutDelegation(DelegationRecord {
                    relay,
                    origin,
                    trans_id,
                    deadline,
                })
            }),
        prop_oneof![0u64..4, Just(u64::MAX)].prop_map(|relay| Change::RemoveDelegation { relay }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any sequence of batches leaves the SQLite store holding what the
    /// in-memory reference holds, before and after reopening the file.
    #[test]
    fn matches_the_memory_store(batches in prop::collection::vec(prop::collection::vec(change(), 0..12), 1..8)) {
        let dir = tempfile::tempdir().unwrap();
        let mut sqlite = SqliteStore::open(dir.path()).unwrap();
        let mut memory = MemoryStore::new();
        for batch in &batches {
            sqlite.apply(batch).unwrap();
            memory.apply(batch).unwrap();
            prop_assert_eq!(sorted(sqlite.load().unwrap()), sorted(memory.load().unwrap()));
        }
        drop(sqlite);
        let mut reopened = SqliteStore::open(dir.path()).unwrap();
        prop_assert_eq!(sorted(reopened.load().unwrap()), sorted(memory.load().unwrap()));
    }
}
