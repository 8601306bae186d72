//! [`Store::load_into`](cpim_engine::Store::load_into) with SQLite's reading
//! on a thread of its own: the rows are read in batches (their text back to
//! back in one buffer) and passed over a bounded channel to the calling
//! thread, which lends them to the sink. On two cores a restart then takes
//! about as long as the longer of reading and rebuilding, not their sum.
//! The sink still runs on the caller's thread, one record at a time, in the
//! order and with the consistency (one read transaction) of a plain read.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

use cpim_engine::{
    PublicationRef, Record, RecordSink, Snapshot, StoreError, SubscriptionRef, SubscriptionStatus,
    Timestamp,
};
use rusqlite::{Connection, Row, Transaction};

use crate::{
    int, read_rare_records, status_from_sql, text, time_from_sql, SqliteStoreError,
    SUBSCRIPTIONS_IN_ORDER,
};

/// Rows per batch: enough that the channel's cost per batch vanishes, few
/// enough that a batch stays in the cache between the two threads.
const ROWS_PER_BATCH: usize = 2048;
/// Text per batch past which it is sent early (publications' documents can
/// be long).
const BYTES_PER_BATCH: usize = 256 * 1024;
/// Batches read ahead of the sink: bounds the memory a slow sink lets pile up.
const BATCHES_AHEAD: usize = 8;

/// What the reading thread sends.
enum Batch {
    Users(Rows<()>),
    Publications(Rows<Timestamp>),
    Subscriptions(Rows<(Timestamp, SubscriptionStatus)>),
    /// The rarer kinds, read after the bulk ones, owned.
    Rest(Box<Snapshot>),
}

/// Rows of one table: their text columns back to back in `text`, where
/// each ends at the next entry of `ends`, and the other columns in `extra`.
struct Rows<X> {
    text: String,
    ends: Vec<usize>,
    extra: Vec<X>,
}

impl<X> Default for Rows<X> {
    fn default() -> Self {
        Rows {
            text: String::new(),
            ends: Vec::new(),
            extra: Vec::new(),
        }
    }
}

impl<X: Copy> Rows<X> {
    /// An empty batch sized for a typical full one (rows of two short
    /// addresses), so that filling it does not grow it step by step.
    fn with_capacity() -> Self {
        Rows {
            text: String::with_capacity(ROWS_PER_BATCH * 64),
            ends: Vec::with_capacity(ROWS_PER_BATCH * 2),
            extra: Vec::with_capacity(ROWS_PER_BATCH),
        }
    }

    fn push_text(&mut self, column: &str) {
        self.text.push_str(column);
        self.ends.push(self.text.len());
    }

    fn full(&self) -> bool {
        self.extra.len() >= ROWS_PER_BATCH || self.text.len() >= BYTES_PER_BATCH
    }

    /// Each row's `N` text columns and other columns.
    fn each<const N: usize>(&self) -> impl Iterator<Item = ([&str; N], X)> + '_ {
        self.extra.iter().enumerate().map(move |(row, &extra)| {
            let columns = std::array::from_fn(|column| {
                let i = row * N + column;
                let start = if i == 0 { 0 } else { self.ends[i - 1] };
                // Cut where `push_text` ended a whole `str`: a char boundary.
                &self.text[start..self.ends[i]]
            });
            (columns, extra)
        })
    }
}

/// Why the reading thread stopped early.
enum Stop {
    Failed(StoreError),
    /// The sink failed and the caller stopped listening.
    Gone,
}

impl From<SqliteStoreError> for Stop {
    fn from(e: SqliteStoreError) -> Stop {
        Stop::Failed(e.into())
    }
}

impl From<rusqlite::Error> for Stop {
    fn from(e: rusqlite::Error) -> Stop {
        Stop::Failed(SqliteStoreError::from(e).into())
    }
}

/// Loads every record of `conn` into `sink`, reading on a second thread;
/// `None` if that thread could not be started (nothing was read then).
pub(crate) fn load(
    conn: &mut Connection,
    sink: &mut RecordSink<'_>,
) -> Option<Result<(), StoreError>> {
    std::thread::scope(|scope| {
        let (tx, rx) = sync_channel(BATCHES_AHEAD);
        let reader = std::thread::Builder::new()
            .name("cpim-store-read".into())
            .spawn_scoped(scope, move || read(conn, &tx))
            .ok()?;
        // Returns when the reader is done, or (dropping `rx`, which stops
        // the reader at its next send) when the sink fails.
        let lent = lend(rx, sink);
        let read = match reader.join() {
            Ok(read) => read,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        Some(lent.and(match read {
            Ok(()) | Err(Stop::Gone) => Ok(()),
            Err(Stop::Failed(e)) => Err(e),
        }))
    })
}

/// Hands each record of each batch to `sink`, in order.
fn lend(rx: Receiver<Batch>, sink: &mut RecordSink<'_>) -> Result<(), StoreError> {
    for batch in rx {
        match batch {
            Batch::Users(rows) => {
                for ([user], ()) in rows.each::<1>() {
                    sink(Record::User(user))?;
                }
            }
            Batch::Publications(rows) => {
                for ([presentity, publisher, pidf], expires) in rows.each::<3>() {
                    sink(Record::Publication(PublicationRef {
                        presentity,
                        publisher,
                        pidf,
                        expires,
                    }))?;
                }
            }
            Batch::Subscriptions(rows) => {
                for ([watcher, target], (expires, state)) in rows.each::<2>() {
                    sink(Record::Subscription(SubscriptionRef {
                        watcher,
                        target,
                        expires,
                        state,
                    }))?;
                }
            }
            Batch::Rest(snapshot) => {
                for record in snapshot.records() {
                    sink(record)?;
                }
            }
        }
    }
    Ok(())
}

/// The reading thread: every table in one read transaction.
fn read(conn: &mut Connection, tx: &SyncSender<Batch>) -> Result<(), Stop> {
    let txn = conn.transaction()?;
    each_batch(
        &txn,
        "SELECT address FROM local_user",
        tx,
        Batch::Users,
        |r, rows| {
            rows.push_text(text(r, 0, "local_user", "address")?);
            rows.extra.push(());
            Ok(())
        },
    )?;
    each_batch(
        &txn,
        "SELECT presentity, publisher, pidf, expires_at FROM publication",
        tx,
        Batch::Publications,
        |r, rows| {
            rows.push_text(text(r, 0, "publication", "presentity")?);
            rows.push_text(text(r, 1, "publication", "publisher")?);
            rows.push_text(text(r, 2, "publication", "pidf")?);
            rows.extra
                .push(time_from_sql("publication", "expires_at", int(r, 3)?)?);
            Ok(())
        },
    )?;
    each_batch(
        &txn,
        SUBSCRIPTIONS_IN_ORDER,
        tx,
        Batch::Subscriptions,
        |r, rows| {
            rows.push_text(text(r, 0, "subscription", "watcher")?);
            rows.push_text(text(r, 1, "subscription", "target")?);
            rows.extra.push((
                time_from_sql("subscription", "expires_at", int(r, 2)?)?,
                status_from_sql(text(r, 3, "subscription", "state")?)?,
            ));
            Ok(())
        },
    )?;
    let mut rest = Snapshot::default();
    read_rare_records(&txn, &mut |record| {
        rest.push(record);
        Ok(())
    })
    .map_err(Stop::Failed)?;
    txn.commit()?;
    tx.send(Batch::Rest(Box::new(rest))).map_err(|_| Stop::Gone)
}

/// Runs `sql` and sends its rows in batches, each row put in the batch by
/// `row`.
fn each_batch<X: Copy>(
    txn: &Transaction<'_>,
    sql: &str,
    tx: &SyncSender<Batch>,
    wrap: fn(Rows<X>) -> Batch,
    mut row: impl FnMut(&Row<'_>, &mut Rows<X>) -> Result<(), SqliteStoreError>,
) -> Result<(), Stop> {
    let mut stmt = txn.prepare_cached(sql)?;
    let mut rows = stmt.query([])?;
    let mut batch = Rows::with_capacity();
    while let Some(r) = rows.next()? {
        row(r, &mut batch)?;
        if batch.full() {
            tx.send(wrap(std::mem::replace(&mut batch, Rows::with_capacity())))
                .map_err(|_| Stop::Gone)?;
        }
    }
    if !batch.extra.is_empty() {
        tx.send(wrap(batch)).map_err(|_| Stop::Gone)?;
    }
    Ok(())
}
