//! Durable state for the service engine on embedded SQLite.
//!
//! Draft section 3.4 (`draft-ietf-impp-cpim-02`): "An implementation of the
//! service must maintain information about both presence information and
//! in-progress operations in persistent storage." [`SqliteStore`] keeps the
//! engine's state (publications, subscriptions, access policy, watcher
//! lists, block lists, local users, delegated operations, section 2.4.1 step
//! 3d) in one file, `cpim.sqlite3`, under a data directory; `cpim.lock`
//! beside it keeps a second store, in this or another process, from opening
//! the same directory while one is open.
//!
//! Durability: the file runs in WAL mode; each [`Store::apply`] batch is one
//! transaction, committed before `apply` returns. With the default
//! [`Synchronous::Normal`] a committed batch survives the process being killed at
//! any point (`kill -9`), but the last batches may be lost if the machine
//! itself loses power; [`Synchronous::Full`] also survives power loss, at the price
//! of one `fsync` per batch.
//!
//! The schema is plain relational SQL with portable semantics (upserts by
//! `ON CONFLICT`, times as integer milliseconds since the Unix epoch, no
//! reliance on `rowid` or SQLite's loose typing), so that a PostgreSQL
//! backend of the same trait can use the same tables.
//!
//! ```
//! use cpim_engine::{Change, Store};
//! use cpim_store::{Options, SqliteStore, Synchronous};
//!
//! let dir = tempfile::tempdir()?;
//! let options = Options::default().with_synchronous(Synchronous::Full);
//! let mut store = SqliteStore::open_with(dir.path(), &options)?;
//! store.apply(&[Change::PutUser("alice@example.com".into())])?;
//! drop(store);
//! let mut store = SqliteStore::open(dir.path())?;
//! assert_eq!(store.load()?.users, ["alice@example.com"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::path::{Path, PathBuf};

use cpim_engine::{
    BlockRecord, Change, Decision, DelegationRecord, PolicyRecord, PolicySubject, PublicationRef,
    Record, RecordSink, RelayedPhase, RelayedRequest, RemoteSubscriptionRecord, Store, StoreError,
    SubscriptionRef, SubscriptionStatus, Timestamp, WatcherRecord,
};
use rusqlite::{params, Connection, Row, Transaction, TransactionBehavior};

pub mod accounts;
mod read_ahead;
mod schema;

pub use schema::SCHEMA_VERSION;

/// File name of the store inside its data directory.
pub const FILE_NAME: &str = "cpim.sqlite3";

/// File beside it that an open store holds locked (an advisory `flock`,
/// which the kernel releases when the holding process ends, however it
/// ends). It holds the holder's process id, for people to read.
pub const LOCK_FILE_NAME: &str = "cpim.lock";

/// How hard a commit presses the data to the disk (SQLite's `synchronous`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Synchronous {
    /// `synchronous=NORMAL`: a commit is in the WAL in the operating system's
    /// cache when `apply` returns. Survives the process crashing or being
    /// killed; the last commits may be lost on power loss or a kernel crash.
    #[default]
    Normal,
    /// `synchronous=FULL`: the WAL is flushed to the disk at every commit.
    /// Survives power loss too, on disks that honour flushes.
    Full,
}

/// How to open a store: `Options::default()`, then `with_` methods.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct Options {
    /// Commit durability; see [`Synchronous`].
    pub synchronous: Synchronous,
}

impl Options {
    /// These options with commit durability `synchronous`.
    pub fn with_synchronous(mut self, synchronous: Synchronous) -> Options {
        self.synchronous = synchronous;
        self
    }
}

/// What went wrong opening or using the SQLite file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SqliteStoreError {
    /// The data directory could not be created.
    #[error("cannot create data directory {path}: {source}")]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Another open store, in this process or another, holds the data
    /// directory: two engines writing one file would each miss the other's
    /// changes.
    #[error(
        "data directory {} is in use by another cpim store{} (lock file {LOCK_FILE_NAME} is held); stop it first",
        dir.display(),
        holder.map(|pid| format!(" (process {pid})")).unwrap_or_default()
    )]
    InUse {
        dir: PathBuf,
        /// The holder's process id as it wrote it in the lock file, if
        /// readable.
        holder: Option<u32>,
    },
    /// The lock file could not be opened or locked.
    #[error("cannot lock {}: {source}", path.display())]
    Lock {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file was written by a newer cpim; this build will not touch it.
    #[error("store schema version {found} is newer than this build supports ({supported})")]
    SchemaTooNew { found: u32, supported: u32 },
    /// The file is an SQLite database, but not a cpim store.
    #[error("not a cpim store: SQLite application_id is {application_id:#010x}")]
    ForeignFile { application_id: i32 },
    /// SQLite refused to switch the file to WAL mode.
    #[error("cannot enable WAL mode: journal_mode is {0:?}")]
    NoWal(String),
    /// A migration step failed; the file stays at the version before it.
    #[error("schema migration to version {version} failed: {source}")]
    Migration {
        version: u32,
        #[source]
        source: rusqlite::Error,
    },
    /// A row holds a value the schema allows but the engine cannot take
    /// (the file was edited by hand, or is damaged).
    #[error("bad value in table {table}, column {column}: {detail}")]
    BadRow {
        table: &'static str,
        column: &'static str,
        detail: String,
    },
    /// The engine handed over a kind of change or value this version of the
    /// store does not know how to keep; nothing of the batch was written.
    #[error("store cannot keep {0}")]
    Unsupported(String),
    /// Any other SQLite failure (I/O error, full disk, locked file, damage).
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

impl From<SqliteStoreError> for StoreError {
    fn from(e: SqliteStoreError) -> StoreError {
        match e {
            SqliteStoreError::BadRow {
                table,
                column,
                detail,
            } => StoreError::Corrupt {
                record: format!("{table}.{column}"),
                reason: detail,
            },
            other => StoreError::Backend(Box::new(other)),
        }
    }
}

/// The engine's state in one SQLite file.
pub struct SqliteStore {
    conn: Connection,
    path: PathBuf,
    // Declared after `conn`, so dropped after it: the lock goes last.
    _lock: std::fs::File,
}

impl SqliteStore {
    /// Opens (creating if needed) `dir/cpim.sqlite3` with default options.
    pub fn open(dir: impl AsRef<Path>) -> Result<SqliteStore, SqliteStoreError> {
        SqliteStore::open_with(dir, &Options::default())
    }

    /// Opens (creating if needed) `dir/cpim.sqlite3`, bringing its schema to
    /// [`SCHEMA_VERSION`]. Fails with [`SqliteStoreError::InUse`] while
    /// another store has the directory open.
    pub fn open_with(
        dir: impl AsRef<Path>,
        options: &Options,
    ) -> Result<SqliteStore, SqliteStoreError> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|source| SqliteStoreError::CreateDir {
            path: dir.to_path_buf(),
            source,
        })?;
        let lock = lock(dir)?;
        let path = dir.join(FILE_NAME);
        let mut conn = Connection::open(&path)?;
        configure(&conn, options)?;
        schema::migrate(&mut conn)?;
        Ok(SqliteStore {
            conn,
            path,
            _lock: lock,
        })
    }

    /// Path of the database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Schema version of the open file (always [`SCHEMA_VERSION`] after open).
    pub fn schema_version(&self) -> Result<u32, SqliteStoreError> {
        schema::version(&self.conn)
    }
}

impl Store for SqliteStore {
    fn load_into(&mut self, sink: &mut RecordSink<'_>) -> Result<(), StoreError> {
        // One read transaction, so the records are consistent even if
        // another connection writes meanwhile.
        if let Some(loaded) = read_ahead::load(&mut self.conn, sink) {
            return loaded;
        }
        // No second thread to be had: read on this one.
        let tx = self.conn.transaction().map_err(SqliteStoreError::from)?;
        read_records(&tx, sink)?;
        tx.commit().map_err(SqliteStoreError::from)?;
        Ok(())
    }

    fn apply(&mut self, batch: &[Change]) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        // IMMEDIATE takes the write lock up front: a batch never fails half
        // way because another connection started writing.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(SqliteStoreError::from)?;
        for change in batch {
            write_change(&tx, change)?;
        }
        // Dropping `tx` on an error above rolls the whole batch back.
        tx.commit().map_err(SqliteStoreError::from)?;
        Ok(())
    }
}

fn write_change(tx: &Transaction<'_>, change: &Change) -> Result<(), SqliteStoreError> {
    match change {
        Change::PutUser(address) => {
            tx.prepare_cached(
                "INSERT INTO local_user (address) VALUES (?1) ON CONFLICT (address) DO NOTHING",
            )?
            .execute(params![address])?;
        }
        Change::RemoveUser(address) => {
            tx.prepare_cached("DELETE FROM local_user WHERE address = ?1")?
                .execute(params![address])?;
        }
        Change::PutPublication(r) => {
            tx.prepare_cached(
                "INSERT INTO publication (presentity, publisher, pidf, expires_at)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (presentity, publisher)
                 DO UPDATE SET pidf = excluded.pidf, expires_at = excluded.expires_at",
            )?
            .execute(params![
                r.presentity,
                r.publisher,
                r.pidf,
                time_to_sql(r.expires)
            ])?;
        }
        Change::RemovePublication {
            presentity,
            publisher,
        } => {
            tx.prepare_cached("DELETE FROM publication WHERE presentity = ?1 AND publisher = ?2")?
                .execute(params![presentity, publisher])?;
        }
        Change::PutSubscription(r) => {
            tx.prepare_cached(
                "INSERT INTO subscription (watcher, target, expires_at, state)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (watcher, target)
                 DO UPDATE SET expires_at = excluded.expires_at, state = excluded.state",
            )?
            .execute(params![
                r.watcher,
                r.target,
                time_to_sql(r.expires),
                status_to_sql(r.state)?
            ])?;
        }
        Change::RemoveSubscription { watcher, target } => {
            tx.prepare_cached("DELETE FROM subscription WHERE watcher = ?1 AND target = ?2")?
                .execute(params![watcher, target])?;
        }
        Change::PutPolicy(r) => {
            let (kind, subject) = subject_to_sql(&r.subject)?;
            tx.prepare_cached(
                "INSERT INTO policy (presentity, subject_kind, subject, decision)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (presentity, subject_kind, subject)
                 DO UPDATE SET decision = excluded.decision",
            )?
            .execute(params![
                r.presentity,
                kind,
                subject,
                decision_to_sql(r.decision)?
            ])?;
        }
        Change::RemovePolicy {
            presentity,
            subject,
        } => {
            let (kind, subject) = subject_to_sql(subject)?;
            tx.prepare_cached(
                "DELETE FROM policy WHERE presentity = ?1 AND subject_kind = ?2 AND subject = ?3",
            )?
            .execute(params![presentity, kind, subject])?;
        }
        Change::PutWatcher(r) => {
            tx.prepare_cached(
                "INSERT INTO watcher_request (presentity, watcher, since) VALUES (?1, ?2, ?3)
                 ON CONFLICT (presentity, watcher) DO UPDATE SET since = excluded.since",
            )?
            .execute(params![r.presentity, r.watcher, time_to_sql(r.since)])?;
        }
        Change::RemoveWatcher {
            presentity,
            watcher,
        } => {
            tx.prepare_cached(
                "DELETE FROM watcher_request WHERE presentity = ?1 AND watcher = ?2",
            )?
            .execute(params![presentity, watcher])?;
        }
        Change::PutBlock(r) => {
            tx.prepare_cached(
                "INSERT INTO block (inbox, blocked) VALUES (?1, ?2)
                 ON CONFLICT (inbox, blocked) DO NOTHING",
            )?
            .execute(params![r.inbox, r.blocked])?;
        }
        Change::RemoveBlock(r) => {
            tx.prepare_cached("DELETE FROM block WHERE inbox = ?1 AND blocked = ?2")?
                .execute(params![r.inbox, r.blocked])?;
        }
        Change::PutDelegation(r) => {
            tx.prepare_cached(
                "INSERT INTO delegation (relay, origin, trans_id, deadline)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (relay) DO UPDATE SET origin = excluded.origin,
                     trans_id = excluded.trans_id, deadline = excluded.deadline",
            )?
            .execute(params![
                id_to_sql(r.relay),
                id_to_sql(r.origin),
                i64::from(r.trans_id),
                time_to_sql(r.deadline)
            ])?;
        }
        Change::RemoveDelegation { relay } => {
            tx.prepare_cached("DELETE FROM delegation WHERE relay = ?1")?
                .execute(params![id_to_sql(*relay)])?;
        }
        Change::PutRemoteSubscription(r) => {
            let q = r.request.as_ref();
            tx.prepare_cached(
                "INSERT INTO remote_subscription (watcher, target, binding, expires_at, state,
                     request_phase, request_relay, request_origin, request_trans_id,
                     request_duration)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                 ON CONFLICT (watcher, target)
                 DO UPDATE SET binding = excluded.binding, expires_at = excluded.expires_at,
                     state = excluded.state, request_phase = excluded.request_phase,
                     request_relay = excluded.request_relay,
                     request_origin = excluded.request_origin,
                     request_trans_id = excluded.request_trans_id,
                     request_duration = excluded.request_duration",
            )?
            .execute(params![
                r.watcher,
                r.target,
                r.binding,
                time_to_sql(r.expires),
                status_to_sql(r.state)?,
                q.map(|q| phase_to_sql(q.phase)).transpose()?,
                q.map(|q| id_to_sql(q.relay)),
                q.map(|q| id_to_sql(q.origin)),
                q.map(|q| i64::from(q.trans_id)),
                q.map(|q| i64::from(q.duration)),
            ])?;
        }
        Change::RemoveRemoteSubscription { watcher, target } => {
            tx.prepare_cached(
                "DELETE FROM remote_subscription WHERE watcher = ?1 AND target = ?2",
            )?
            .execute(params![watcher, target])?;
        }
        other => return Err(SqliteStoreError::Unsupported(format!("{other:?}"))),
    }
    Ok(())
}

/// Every subscription, each presentity's together (the engine's restore
/// fills one watcher map at a time). The table is clustered on this order
/// (schema step 4), so SQLite reads it straight, with no sort
/// (`subscriptions_are_read_in_key_order_without_a_sort`).
pub const SUBSCRIPTIONS_IN_ORDER: &str =
    "SELECT watcher, target, expires_at, state FROM subscription ORDER BY target, watcher";

/// Lends every record to `sink`, users first, text borrowed from the rows.
fn read_records(tx: &Transaction<'_>, sink: &mut RecordSink<'_>) -> Result<(), StoreError> {
    each_row(tx, "SELECT address FROM local_user", |r| {
        sink(Record::User(text(r, 0, "local_user", "address")?))
    })?;
    each_row(
        tx,
        "SELECT presentity, publisher, pidf, expires_at FROM publication",
        |r| {
            sink(Record::Publication(PublicationRef {
                presentity: text(r, 0, "publication", "presentity")?,
                publisher: text(r, 1, "publication", "publisher")?,
                pidf: text(r, 2, "publication", "pidf")?,
                expires: time_from_sql("publication", "expires_at", int(r, 3)?)?,
            }))
        },
    )?;
    each_row(tx, SUBSCRIPTIONS_IN_ORDER, |r| {
        sink(Record::Subscription(SubscriptionRef {
            watcher: text(r, 0, "subscription", "watcher")?,
            target: text(r, 1, "subscription", "target")?,
            expires: time_from_sql("subscription", "expires_at", int(r, 2)?)?,
            state: status_from_sql(text(r, 3, "subscription", "state")?)?,
        }))
    })?;
    read_rare_records(tx, sink)
}

/// The records of the kinds that number in tens, not millions, in order.
fn read_rare_records(tx: &Transaction<'_>, sink: &mut RecordSink<'_>) -> Result<(), StoreError> {
    each_row(
        tx,
        "SELECT presentity, subject_kind, subject, decision FROM policy",
        |r| {
            sink(Record::Policy(&PolicyRecord {
                presentity: r.get(0).map_err(SqliteStoreError::from)?,
                subject: subject_from_sql(
                    text(r, 1, "policy", "subject_kind")?,
                    r.get(2).map_err(SqliteStoreError::from)?,
                )?,
                decision: decision_from_sql(text(r, 3, "policy", "decision")?)?,
            }))
        },
    )?;
    each_row(
        tx,
        "SELECT presentity, watcher, since FROM watcher_request",
        |r| {
            sink(Record::Watcher(&WatcherRecord {
                presentity: r.get(0).map_err(SqliteStoreError::from)?,
                watcher: r.get(1).map_err(SqliteStoreError::from)?,
                since: time_from_sql("watcher_request", "since", int(r, 2)?)?,
            }))
        },
    )?;
    each_row(tx, "SELECT inbox, blocked FROM block", |r| {
        sink(Record::Block(&BlockRecord {
            inbox: r.get(0).map_err(SqliteStoreError::from)?,
            blocked: r.get(1).map_err(SqliteStoreError::from)?,
        }))
    })?;
    each_row(
        tx,
        "SELECT relay, origin, trans_id, deadline FROM delegation",
        |r| {
            let trans_id = int(r, 2)?;
            sink(Record::Delegation(&DelegationRecord {
                relay: id_from_sql(int(r, 0)?),
                origin: id_from_sql(int(r, 1)?),
                trans_id: u32::try_from(trans_id).map_err(|_| SqliteStoreError::BadRow {
                    table: "delegation",
                    column: "trans_id",
                    detail: format!("{trans_id} is not a transID"),
                })?,
                deadline: time_from_sql("delegation", "deadline", int(r, 3)?)?,
            }))
        },
    )?;
    each_row(
        tx,
        "SELECT watcher, target, binding, expires_at, state, request_phase, request_relay,
             request_origin, request_trans_id, request_duration FROM remote_subscription",
        |r| {
            sink(Record::RemoteSubscription(&RemoteSubscriptionRecord {
                watcher: r.get(0).map_err(SqliteStoreError::from)?,
                target: r.get(1).map_err(SqliteStoreError::from)?,
                binding: r.get(2).map_err(SqliteStoreError::from)?,
                expires: time_from_sql("remote_subscription", "expires_at", int(r, 3)?)?,
                state: status_from_sql(text(r, 4, "remote_subscription", "state")?)?,
                request: relayed_request_from_sql(r)?,
            }))
        },
    )?;
    Ok(())
}

/// Runs `sql` and hands every row to `f`.
fn each_row(
    tx: &Transaction<'_>,
    sql: &str,
    mut f: impl FnMut(&Row<'_>) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let mut stmt = tx.prepare_cached(sql).map_err(SqliteStoreError::from)?;
    let mut rows = stmt.query([]).map_err(SqliteStoreError::from)?;
    while let Some(row) = rows.next().map_err(SqliteStoreError::from)? {
        f(row)?;
    }
    Ok(())
}

/// Column `i` of `r` as an integer.
fn int(r: &Row<'_>, i: usize) -> Result<i64, SqliteStoreError> {
    Ok(r.get(i)?)
}

/// Column `i` of `r` as borrowed text (enumerations are matched without
/// allocating: a restart reads them once per row).
fn text<'r>(
    r: &'r Row<'_>,
    i: usize,
    table: &'static str,
    column: &'static str,
) -> Result<&'r str, SqliteStoreError> {
    r.get_ref(i)?
        .as_str()
        .map_err(|e| SqliteStoreError::BadRow {
            table,
            column,
            detail: e.to_string(),
        })
}

// Times are stored as signed 64-bit milliseconds (SQL BIGINT). Instants past
// i64::MAX ms (some 292 million years) are the engine's "far future"
// (`Timestamp` saturates at u64::MAX); they are stored as i64::MAX and come
// back as u64::MAX.
fn time_to_sql(t: Timestamp) -> i64 {
    i64::try_from(t.as_millis()).unwrap_or(i64::MAX)
}

fn time_from_sql(
    table: &'static str,
    column: &'static str,
    ms: i64,
) -> Result<Timestamp, SqliteStoreError> {
    match ms {
        i64::MAX => Ok(Timestamp::from_millis(u64::MAX)),
        _ => u64::try_from(ms)
            .map(Timestamp::from_millis)
            .map_err(|_| SqliteStoreError::BadRow {
                table,
                column,
                detail: format!("negative time {ms}"),
            }),
    }
}

// Ids are opaque 64-bit values with no order: stored bit for bit in a BIGINT.
/// Columns 5-9 of a `remote_subscription` row: the request in progress, if
/// any (the table's CHECK keeps them all NULL or all set).
fn relayed_request_from_sql(r: &Row<'_>) -> Result<Option<RelayedRequest>, SqliteStoreError> {
    let phase: Option<String> = r.get(5)?;
    let Some(phase) = phase else {
        return Ok(None);
    };
    let phase = match phase.as_str() {
        "awaiting" => RelayedPhase::Awaiting,
        "answered" => RelayedPhase::Answered,
        "refreshing" => RelayedPhase::Refreshing,
        _ => {
            return Err(SqliteStoreError::BadRow {
                table: "remote_subscription",
                column: "request_phase",
                detail: format!("unknown phase {phase:?}"),
            })
        }
    };
    let narrow = |column: &'static str, v: i64| {
        u32::try_from(v).map_err(|_| SqliteStoreError::BadRow {
            table: "remote_subscription",
            column,
            detail: format!("{v} is out of range"),
        })
    };
    Ok(Some(RelayedRequest {
        relay: id_from_sql(r.get(6)?),
        origin: id_from_sql(r.get(7)?),
        trans_id: narrow("request_trans_id", r.get(8)?)?,
        duration: narrow("request_duration", r.get(9)?)?,
        phase,
    }))
}

fn phase_to_sql(phase: RelayedPhase) -> Result<&'static str, SqliteStoreError> {
    match phase {
        RelayedPhase::Awaiting => Ok("awaiting"),
        RelayedPhase::Answered => Ok("answered"),
        RelayedPhase::Refreshing => Ok("refreshing"),
        other => Err(SqliteStoreError::Unsupported(format!(
            "relayed request phase {other:?}"
        ))),
    }
}

fn id_to_sql(id: u64) -> i64 {
    i64::from_ne_bytes(id.to_ne_bytes())
}

fn id_from_sql(v: i64) -> u64 {
    u64::from_ne_bytes(v.to_ne_bytes())
}

fn status_to_sql(s: SubscriptionStatus) -> Result<&'static str, SqliteStoreError> {
    match s {
        SubscriptionStatus::Active => Ok("active"),
        SubscriptionStatus::Pending => Ok("pending"),
        other => Err(SqliteStoreError::Unsupported(format!(
            "subscription state {other:?}"
        ))),
    }
}

fn status_from_sql(s: &str) -> Result<SubscriptionStatus, SqliteStoreError> {
    match s {
        "active" => Ok(SubscriptionStatus::Active),
        "pending" => Ok(SubscriptionStatus::Pending),
        _ => Err(SqliteStoreError::BadRow {
            table: "subscription",
            column: "state",
            detail: format!("unknown state {s:?}"),
        }),
    }
}

fn decision_to_sql(d: Decision) -> Result<&'static str, SqliteStoreError> {
    match d {
        Decision::Allow => Ok("allow"),
        Decision::Deny => Ok("deny"),
        Decision::Ask => Ok("ask"),
        other => Err(SqliteStoreError::Unsupported(format!(
            "policy decision {other:?}"
        ))),
    }
}

fn decision_from_sql(s: &str) -> Result<Decision, SqliteStoreError> {
    match s {
        "allow" => Ok(Decision::Allow),
        "deny" => Ok(Decision::Deny),
        "ask" => Ok(Decision::Ask),
        _ => Err(SqliteStoreError::BadRow {
            table: "policy",
            column: "decision",
            detail: format!("unknown decision {s:?}"),
        }),
    }
}

fn subject_to_sql(s: &PolicySubject) -> Result<(&'static str, &str), SqliteStoreError> {
    match s {
        PolicySubject::Watcher(w) => Ok(("watcher", w)),
        PolicySubject::Domain(d) => Ok(("domain", d)),
        PolicySubject::Anyone => Ok(("anyone", "")),
        other => Err(SqliteStoreError::Unsupported(format!(
            "policy subject {other:?}"
        ))),
    }
}

fn subject_from_sql(kind: &str, subject: String) -> Result<PolicySubject, SqliteStoreError> {
    match kind {
        "watcher" => Ok(PolicySubject::Watcher(subject)),
        "domain" => Ok(PolicySubject::Domain(subject)),
        "anyone" => Ok(PolicySubject::Anyone),
        _ => Err(SqliteStoreError::BadRow {
            table: "policy",
            column: "subject_kind",
            detail: format!("unknown subject kind {kind:?}"),
        }),
    }
}

/// Takes the data directory's lock: an exclusive `flock` on `cpim.lock`,
/// held by the returned file for the store's life. Not SQLite's own locks:
/// those are POSIX record locks, which any close of the same file elsewhere
/// in the process drops; a `flock` belongs to this one open file and ends
/// only with it or with the process.
fn lock(dir: &Path) -> Result<std::fs::File, SqliteStoreError> {
    use std::io::{Read, Seek, Write};

    let path = dir.join(LOCK_FILE_NAME);
    let failed = |source| SqliteStoreError::Lock {
        path: path.clone(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(failed)?;
    match fs4::FileExt::try_lock(&file) {
        Ok(()) => {}
        Err(fs4::TryLockError::WouldBlock) => {
            let mut text = String::new();
            let holder = file
                .read_to_string(&mut text)
                .ok()
                .and_then(|_| text.trim().parse().ok());
            return Err(SqliteStoreError::InUse {
                dir: dir.to_path_buf(),
                holder,
            });
        }
        Err(fs4::TryLockError::Error(e)) => return Err(failed(e)),
    }
    file.set_len(0).map_err(failed)?;
    file.rewind().map_err(failed)?;
    writeln!(file, "{}", std::process::id()).map_err(failed)?;
    Ok(file)
}

fn configure(conn: &Connection, options: &Options) -> Result<(), SqliteStoreError> {
    // Another process (an operator's `sqlite3` shell, `cpim user add`
    // writing accounts) may hold SQLite's lock briefly; wait rather than
    // fail at once.
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(SqliteStoreError::NoWal(mode));
    }
    let sync = match options.synchronous {
        Synchronous::Normal => "NORMAL",
        Synchronous::Full => "FULL",
    };
    conn.pragma_update(None, "synchronous", sync)?;
    conn.pragma_update(None, "foreign_keys", true)?;
    // Every statement the store runs is cached; make room for all of them.
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn synchronous(store: &SqliteStore) -> i64 {
        store
            .conn
            .pragma_query_value(None, "synchronous", |r| r.get(0))
            .unwrap()
    }

    /// A driver moves the store to a blocking thread of its runtime.
    #[test]
    fn store_is_send() {
        fn send<T: Send>() {}
        send::<SqliteStore>();
    }

    #[test]
    fn sync_option_sets_the_pragma() {
        let dir = tempfile::tempdir().unwrap();
        let normal = SqliteStore::open(dir.path()).unwrap();
        assert_eq!(synchronous(&normal), 1);
        drop(normal);
        let full = SqliteStore::open_with(
            dir.path(),
            &Options::default().with_synchronous(Synchronous::Full),
        )
        .unwrap();
        assert_eq!(synchronous(&full), 2);
    }

    #[test]
    fn times_past_i64_are_the_far_future() {
        assert_eq!(time_to_sql(Timestamp::from_millis(u64::MAX)), i64::MAX);
        assert_eq!(
            time_from_sql("t", "c", i64::MAX).unwrap(),
            Timestamp::from_millis(u64::MAX)
        );
        assert_eq!(time_to_sql(Timestamp::from_millis(42)), 42);
        assert!(matches!(
            time_from_sql("t", "c", -1),
            Err(SqliteStoreError::BadRow {
                table: "t",
                column: "c",
                ..
            })
        ));
    }

    #[test]
    fn ids_keep_every_bit() {
        for id in [0, 1, u64::MAX, 1 << 63, (1 << 63) - 1] {
            assert_eq!(id_from_sql(id_to_sql(id)), id);
        }
    }
}
