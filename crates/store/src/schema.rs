//! The on-disk schema and its ordered migrations.
//!
//! The schema version lives in SQLite's `user_version` header field; each
//! step runs in its own transaction together with the version bump, so a
//! crash mid-migration leaves the file at the previous version, never between
//! two. The statements are plain SQL that PostgreSQL also accepts (`TEXT`,
//! `BIGINT`, `BYTEA`-like `BLOB`, composite primary keys, ordinary indexes),
//! so a PostgreSQL backend can replay the same steps against a one-row
//! `schema_version` table instead of the header field; the one exception,
//! `WITHOUT ROWID` in step 4, it leaves out.

use rusqlite::{Connection, TransactionBehavior};

use crate::SqliteStoreError;

/// `PRAGMA application_id` of a cpim store ("CPIM" in ASCII), so that
/// opening some other program's SQLite file fails instead of altering it.
pub(crate) const APPLICATION_ID: i32 = 0x4350_494d;

/// One schema step: applied to a file at `version - 1`, leaves it at `version`.
pub(crate) struct Migration {
    pub(crate) version: u32,
    pub(crate) sql: &'static str,
}

/// Every step, oldest first; a step is never edited once released, only
/// followed by a new one.
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        sql: include_str!("migrations/0001_initial.sql"),
    },
    Migration {
        version: 2,
        sql: include_str!("migrations/0002_remote_subscription.sql"),
    },
    Migration {
        version: 3,
        sql: include_str!("migrations/0003_relayed_refresh.sql"),
    },
    Migration {
        version: 4,
        sql: include_str!("migrations/0004_subscription_by_target.sql"),
    },
];

/// The version this build writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// Brings the file to [`SCHEMA_VERSION`]; returns the version found before.
pub(crate) fn migrate(conn: &mut Connection) -> Result<u32, SqliteStoreError> {
    migrate_with(conn, MIGRATIONS, SCHEMA_VERSION)
}

/// Applies the steps of `steps` above the file's version, up to `target`
/// (tests build older files, and exercise the mechanism with steps of their
/// own).
pub(crate) fn migrate_with(
    conn: &mut Connection,
    steps: &[Migration],
    target: u32,
) -> Result<u32, SqliteStoreError> {
    let found = version(conn)?;
    check_application_id(conn, found)?;
    let supported = steps.last().map_or(0, |m| m.version);
    if found > supported {
        return Err(SqliteStoreError::SchemaTooNew { found, supported });
    }
    for step in steps
        .iter()
        .filter(|m| m.version > found && m.version <= target)
    {
        // IMMEDIATE: take the write lock before reading anything, so two
        // processes opening the same fresh file cannot both run step 1.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let now: u32 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if now >= step.version {
            // Another opener got here first.
            continue;
        }
        tx.execute_batch(step.sql)
            .map_err(|source| SqliteStoreError::Migration {
                version: step.version,
                source,
            })?;
        tx.pragma_update(None, "application_id", APPLICATION_ID)?;
        tx.pragma_update(None, "user_version", step.version)?;
        tx.commit()?;
    }
    Ok(found)
}

/// The schema version recorded in the file (0 for a new, empty file).
pub(crate) fn version(conn: &Connection) -> Result<u32, SqliteStoreError> {
    Ok(conn.pragma_query_value(None, "user_version", |r| r.get(0))?)
}

fn check_application_id(conn: &Connection, version: u32) -> Result<(), SqliteStoreError> {
    let id: i32 = conn.pragma_query_value(None, "application_id", |r| r.get(0))?;
    let has_tables: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table')",
        [],
        |r| r.get(0),
    )?;
    // A new file has neither our id nor any table; anything else without our
    // id belongs to someone else.
    if id != APPLICATION_ID && (version != 0 || has_tables || id != 0) {
        return Err(SqliteStoreError::ForeignFile { application_id: id });
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Every table and index with its SQL, sorted: two files built by
    /// different migration paths must agree on it exactly.
    fn shape(conn: &Connection) -> Vec<(String, String, Option<String>)> {
        let mut stmt = conn
            .prepare("SELECT type, name, sql FROM sqlite_schema ORDER BY type, name")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// The released steps followed by a later one of the kind a real
    /// release would add: a new column with a default, and an index.
    fn with_step(sql: &'static str) -> Vec<Migration> {
        let mut steps: Vec<Migration> = MIGRATIONS
            .iter()
            .map(|m| Migration {
                version: m.version,
                sql: m.sql,
            })
            .collect();
        steps.push(Migration {
            version: SCHEMA_VERSION + 1,
            sql,
        });
        steps
    }

    const NEXT: &str = "ALTER TABLE subscription ADD COLUMN note TEXT NOT NULL DEFAULT '';
         CREATE INDEX subscription_by_target ON subscription (target);";

    #[test]
    fn versions_are_dense_and_ordered() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version as usize, i + 1);
        }
    }

    #[test]
    fn empty_file_migrates_to_latest() {
        let mut conn = Connection::open_in_memory().unwrap();
        assert_eq!(migrate(&mut conn).unwrap(), 0);
        assert_eq!(version(&conn).unwrap(), SCHEMA_VERSION);
        let id: i32 = conn
            .pragma_query_value(None, "application_id", |r| r.get(0))
            .unwrap();
        assert_eq!(id, APPLICATION_ID);
    }

    #[test]
    fn each_older_version_migrates_to_the_same_shape() {
        let mut fresh = Connection::open_in_memory().unwrap();
        migrate(&mut fresh).unwrap();
        let want = shape(&fresh);
        for start in 0..SCHEMA_VERSION {
            let mut conn = Connection::open_in_memory().unwrap();
            migrate_with(&mut conn, MIGRATIONS, start).unwrap();
            assert_eq!(version(&conn).unwrap(), start);
            assert_eq!(migrate(&mut conn).unwrap(), start);
            assert_eq!(version(&conn).unwrap(), SCHEMA_VERSION);
            assert_eq!(shape(&conn), want, "migrated from version {start}");
        }
    }

    #[test]
    fn later_step_keeps_rows_written_before_it() {
        let steps = with_step(NEXT);
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        conn.execute(
            "INSERT INTO subscription (watcher, target, expires_at, state)
             VALUES ('alice@example.com', 'bob@example.com', 1234, 'active')",
            [],
        )
        .unwrap();
        assert_eq!(
            migrate_with(&mut conn, &steps, SCHEMA_VERSION + 1).unwrap(),
            SCHEMA_VERSION
        );
        assert_eq!(version(&conn).unwrap(), SCHEMA_VERSION + 1);
        let row: (String, i64, String) = conn
            .query_row(
                "SELECT watcher, expires_at, note FROM subscription WHERE target = 'bob@example.com'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!(row, ("alice@example.com".into(), 1234, String::new()));
        // This build, which only knows the released steps, refuses the file.
        let err = migrate(&mut conn).unwrap_err();
        assert!(
            matches!(
                err,
                SqliteStoreError::SchemaTooNew { found, supported }
                    if found == SCHEMA_VERSION + 1 && supported == SCHEMA_VERSION
            ),
            "{err:?}"
        );
    }

    #[test]
    fn version_1_file_gains_remote_subscriptions_and_keeps_its_rows() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate_with(&mut conn, MIGRATIONS, 1).unwrap();
        conn.execute(
            "INSERT INTO subscription (watcher, target, expires_at, state)
             VALUES ('alice@example.com', 'bob@example.com', 1234, 'active')",
            [],
        )
        .unwrap();
        assert!(conn
            .execute("SELECT 1 FROM remote_subscription", [])
            .is_err());
        assert_eq!(migrate(&mut conn).unwrap(), 1);
        assert_eq!(version(&conn).unwrap(), SCHEMA_VERSION);
        let kept: i64 = conn
            .query_row("SELECT expires_at FROM subscription", [], |r| r.get(0))
            .unwrap();
        assert_eq!(kept, 1234);
        conn.execute(
            "INSERT INTO remote_subscription (watcher, target, binding, expires_at, state)
             VALUES ('alice@example.com', 'carol@example.net', 'sip', 99, 'pending')",
            [],
        )
        .unwrap();
        let half = conn.execute(
            "INSERT INTO remote_subscription (watcher, target, binding, expires_at, state,
                 request_phase)
             VALUES ('alice@example.com', 'erin@example.net', 'sip', 99, 'pending', 'awaiting')",
            [],
        );
        assert!(half.is_err(), "a request in progress is all or nothing");
        let bad = conn.execute(
            "INSERT INTO remote_subscription (watcher, target, binding, expires_at, state)
             VALUES ('alice@example.com', 'dan@example.net', 'sip', 99, 'gone')",
            [],
        );
        assert!(bad.is_err(), "the state is checked");
    }

    #[test]
    fn version_2_file_keeps_its_relayed_subscriptions_and_takes_refreshes() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate_with(&mut conn, MIGRATIONS, 2).unwrap();
        conn.execute(
            "INSERT INTO remote_subscription (watcher, target, binding, expires_at, state,
                 request_phase, request_relay, request_origin, request_trans_id,
                 request_duration)
             VALUES ('alice@example.com', 'carol@example.net', 'sip', 99, 'pending',
                 'awaiting', -5, 4, 77, 600)",
            [],
        )
        .unwrap();
        let refreshing = "INSERT INTO remote_subscription (watcher, target, binding,
                 expires_at, state, request_phase, request_relay, request_origin,
                 request_trans_id, request_duration)
             VALUES ('alice@example.com', 'dan@example.net', 'sip', 99, 'active',
                 'refreshing', 6, 4, 78, 900)";
        assert!(
            conn.execute(refreshing, []).is_err(),
            "version 2 has no refreshes"
        );
        assert_eq!(migrate(&mut conn).unwrap(), 2);
        assert_eq!(version(&conn).unwrap(), SCHEMA_VERSION);
        let kept: (String, String, i64, i64) = conn
            .query_row(
                "SELECT state, request_phase, request_relay, request_duration
                 FROM remote_subscription WHERE target = 'carol@example.net'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .unwrap();
        assert_eq!(kept, ("pending".into(), "awaiting".into(), -5, 600));
        conn.execute(refreshing, []).unwrap();
        let bad = conn.execute(
            "INSERT INTO remote_subscription (watcher, target, binding, expires_at, state,
                 request_phase, request_relay, request_origin, request_trans_id,
                 request_duration)
             VALUES ('alice@example.com', 'erin@example.net', 'sip', 99, 'active',
                 'lost', 6, 4, 78, 900)",
            [],
        );
        assert!(bad.is_err(), "the phase is still checked");
    }

    #[test]
    fn version_3_file_keeps_its_subscriptions_in_target_order() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate_with(&mut conn, MIGRATIONS, 3).unwrap();
        // Written watcher by watcher, as version 3 kept them.
        for (watcher, target, expires, state) in [
            ("alice@example.com", "zed@example.com", 1, "active"),
            ("alice@example.com", "bob@example.com", 2, "pending"),
            ("carol@example.com", "zed@example.com", 3, "active"),
            ("carol@example.com", "bob@example.com", 4, "active"),
        ] {
            conn.execute(
                "INSERT INTO subscription (watcher, target, expires_at, state)
                 VALUES (?1, ?2, ?3, ?4)",
                rusqlite::params![watcher, target, expires, state],
            )
            .unwrap();
        }
        assert_eq!(migrate(&mut conn).unwrap(), 3);
        assert_eq!(version(&conn).unwrap(), SCHEMA_VERSION);
        let mut stmt = conn.prepare(crate::SUBSCRIPTIONS_IN_ORDER).unwrap();
        let rows: Vec<(String, String, i64, String)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let expected = [
            ("alice@example.com", "bob@example.com", 2, "pending"),
            ("carol@example.com", "bob@example.com", 4, "active"),
            ("alice@example.com", "zed@example.com", 1, "active"),
            ("carol@example.com", "zed@example.com", 3, "active"),
        ]
        .map(|(w, t, e, s)| (w.to_owned(), t.to_owned(), e, s.to_owned()));
        assert_eq!(rows, expected);
        // Still one subscription per watcher and target, and a checked state.
        let again = conn.execute(
            "INSERT INTO subscription (watcher, target, expires_at, state)
             VALUES ('alice@example.com', 'bob@example.com', 9, 'active')",
            [],
        );
        assert!(again.is_err(), "the key is unique");
        let bad = conn.execute(
            "INSERT INTO subscription (watcher, target, expires_at, state)
             VALUES ('dan@example.com', 'bob@example.com', 9, 'gone')",
            [],
        );
        assert!(bad.is_err(), "the state is checked");
    }

    #[test]
    fn subscriptions_are_read_in_key_order_without_a_sort() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        let plan = format!("EXPLAIN QUERY PLAN {}", crate::SUBSCRIPTIONS_IN_ORDER);
        let mut stmt = conn.prepare(&plan).unwrap();
        let steps: Vec<String> = stmt
            .query_map([], |r| r.get::<_, String>(3))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(steps, ["SCAN subscription"], "no temporary B-tree");
    }

    #[test]
    fn migrating_twice_changes_nothing() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        let before = shape(&conn);
        assert_eq!(migrate(&mut conn).unwrap(), SCHEMA_VERSION);
        assert_eq!(shape(&conn), before);
    }

    #[test]
    fn foreign_database_is_refused_untouched() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE notes (body TEXT)")
            .unwrap();
        let before = shape(&conn);
        let err = migrate(&mut conn).unwrap_err();
        assert!(
            matches!(err, SqliteStoreError::ForeignFile { application_id: 0 }),
            "{err:?}"
        );
        assert_eq!(shape(&conn), before);
        assert_eq!(version(&conn).unwrap(), 0);
    }

    #[test]
    fn failed_step_rolls_back_whole() {
        let steps = with_step(NEXT);
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        // The step's first statement succeeds, its second collides; the
        // added column must be rolled back with it.
        conn.execute_batch("CREATE TABLE subscription_by_target (x TEXT)")
            .unwrap();
        let before = shape(&conn);
        let err = migrate_with(&mut conn, &steps, SCHEMA_VERSION + 1).unwrap_err();
        assert!(
            matches!(err, SqliteStoreError::Migration { version, .. } if version == SCHEMA_VERSION + 1),
            "{err:?}"
        );
        assert_eq!(version(&conn).unwrap(), SCHEMA_VERSION);
        assert_eq!(shape(&conn), before);
    }
}
