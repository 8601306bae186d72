//! `store publish`: durable publish rate. N local presentities each publish
//! once through the engine; after every batch of B publishes the driver
//! commits the batch's persist effects in one `Store::apply` (one
//! transaction) before it would send the B responses, as the persistence
//! contract asks. Beside it, the floor: SQLite alone inserting the same
//! publication rows (same PIDF text), prepared statement, one transaction per
//! batch of B, in a file with the same journal and sync settings.

use std::path::Path;
use std::time::{Duration, Instant};

use cpim_engine::{Change, Effect, Engine, Input, Origin, Principal, Store, Timestamp};
use cpim_formats::op::TransId;
use cpim_formats::pidf::{Basic, Presence, Tuple};
use cpim_formats::uri::Address;
use cpim_store::{Options, SqliteStore, Synchronous};

use super::{config, median, ratio, StoreBenchError};

const NOW: Timestamp = Timestamp::from_millis(1_700_000_000_000);

#[derive(clap::Args)]
pub struct Args {
    /// Publishes per round (one per presentity).
    #[arg(long, default_value_t = 100_000)]
    publishes: u32,
    /// Publishes per commit.
    #[arg(long, default_value_t = 100)]
    batch: u32,
    /// SQLite `synchronous` for both sides: `normal` (survives a killed
    /// process) or `full` (also survives power loss).
    #[arg(long, default_value = "normal")]
    sync: SyncArg,
    /// Measured rounds of each (the median is reported).
    #[arg(long, default_value_t = 3)]
    rounds: u32,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum SyncArg {
    Normal,
    Full,
}

pub fn run(args: &Args) -> Result<(), StoreBenchError> {
    let batch = args.batch.max(1);
    let mut engine_times = Vec::new();
    let mut apply_times = Vec::new();
    let mut floor_times = Vec::new();
    for round in 0..=args.rounds {
        let (total, applying, rows) = engine_once(args.publishes, batch, args.sync)?;
        let floor = floor_once(&rows, batch, args.sync)?;
        if round > 0 {
            engine_times.push(total);
            apply_times.push(applying);
            floor_times.push(floor);
        }
    }
    let engine_median = median(&mut engine_times);
    let apply_median = median(&mut apply_times);
    let floor_median = median(&mut floor_times);
    let rate = |d: Duration| f64::from(args.publishes) / d.as_secs_f64().max(f64::MIN_POSITIVE);
    let sync = match args.sync {
        SyncArg::Normal => "NORMAL",
        SyncArg::Full => "FULL",
    };
    println!(
        "store publish: {} publishes, {batch} per transaction, WAL, synchronous={sync}, \
         {} rounds (median)",
        args.publishes, args.rounds
    );
    println!(
        "  engine + SqliteStore:                 {:>9.0} publishes/s ({:.1} ms, of which \
         Store::apply {:.1} ms)",
        rate(engine_median),
        engine_median.as_secs_f64() * 1e3,
        apply_median.as_secs_f64() * 1e3
    );
    println!(
        "  floor (SQLite inserts, same rows):    {:>9.0} rows/s      ({:.1} ms)",
        rate(floor_median),
        floor_median.as_secs_f64() * 1e3
    );
    println!(
        "  ratio engine+store/floor: {:.2}; Store::apply alone/floor: {:.2}",
        ratio(engine_median, floor_median),
        ratio(apply_median, floor_median)
    );
    Ok(())
}

/// The row the floor inserts for each publication the engine committed.
struct Row {
    presentity: String,
    publisher: String,
    pidf: String,
    expires: i64,
}

/// One round through the engine: (total, time in `apply`, committed rows).
fn engine_once(
    publishes: u32,
    batch: u32,
    sync: SyncArg,
) -> Result<(Duration, Duration, Vec<Row>), StoreBenchError> {
    let dir = tempfile::tempdir()?;
    let mut store = SqliteStore::open_with(dir.path(), &options(sync))?;
    let mut engine = Engine::new(config());
    let mut inputs = Vec::with_capacity(publishes as usize);
    for i in 0..publishes {
        let who = Address::new(&format!("user{i}"), "example.com").map_err(|e| {
            StoreBenchError::Generated {
                what: "address",
                reason: e.to_string(),
            }
        })?;
        engine.handle(Input::AddUser(who.clone()), NOW)?;
        let mut presence = Presence::new(format!("pres:user{i}@example.com"));
        presence
            .tuples
            .push(Tuple::new("device", Some(Basic::Open)));
        inputs.push(Input::Publish {
            origin: Origin(u64::from(i)),
            principal: Principal::Service,
            trans_id: TransId::new(i % 2_147_483_647 + 1).map_err(|e| {
                StoreBenchError::Generated {
                    what: "transID",
                    reason: format!("{e:?}"),
                }
            })?,
            presentity: who,
            publisher: "device".into(),
            presence,
            duration: 3600,
        });
    }
    let users: Vec<Change> = engine
        .drain_effects()
        .filter_map(|e| match e {
            Effect::Persist(c) => Some(c),
            _ => None,
        })
        .collect();
    store.apply(&users)?;

    let mut rows = Vec::with_capacity(publishes as usize);
    let mut responses = 0u32;
    let mut applying = Duration::ZERO;
    let mut inputs = inputs.into_iter();
    let start = Instant::now();
    loop {
        let mut handled = 0;
        for input in inputs.by_ref().take(batch as usize) {
            engine.handle(input, NOW)?;
            handled += 1;
        }
        if handled == 0 {
            break;
        }
        let mut changes = Vec::with_capacity(handled);
        let mut ready = 0u32;
        for effect in engine.drain_effects() {
            match effect {
                Effect::Persist(change) => changes.push(change),
                Effect::Respond { .. } => ready += 1,
                _ => {}
            }
        }
        let t = Instant::now();
        store.apply(&changes)?;
        applying += t.elapsed();
        // Only now may the responses go out.
        responses += ready;
        for change in changes {
            if let Change::PutPublication(p) = change {
                rows.push(Row {
                    presentity: p.presentity,
                    publisher: p.publisher,
                    pidf: p.pidf,
                    expires: i64::try_from(p.expires.as_millis()).unwrap_or(i64::MAX),
                });
            }
        }
    }
    let total = start.elapsed();
    if responses != publishes || rows.len() != publishes as usize {
        return Err(StoreBenchError::Unexpected(format!(
            "{responses} responses and {} publication changes for {publishes} publishes",
            rows.len()
        )));
    }
    // Keeping the rows for the floor is not part of the engine's time; they
    // were collected after each commit, outside `apply`, and the collection
    // is the same work the floor's own row building would be.
    Ok((total, applying, rows))
}

/// The floor: the same rows, inserted by SQLite alone.
fn floor_once(rows: &[Row], batch: u32, sync: SyncArg) -> Result<Duration, StoreBenchError> {
    let dir = tempfile::tempdir()?;
    let mut conn = floor_connection(&dir.path().join("floor.sqlite3"), sync)?;
    let start = Instant::now();
    for chunk in rows.chunks(batch as usize) {
        let tx = conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO publication (presentity, publisher, pidf, expires_at)
                 VALUES (?1, ?2, ?3, ?4)",
            )?;
            for r in chunk {
                stmt.execute(rusqlite::params![
                    r.presentity,
                    r.publisher,
                    r.pidf,
                    r.expires
                ])?;
            }
        }
        tx.commit()?;
    }
    Ok(start.elapsed())
}

fn floor_connection(path: &Path, sync: SyncArg) -> Result<rusqlite::Connection, StoreBenchError> {
    let conn = rusqlite::Connection::open(path)?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreBenchError::Unexpected(format!("journal_mode {mode}")));
    }
    let sync = match sync {
        SyncArg::Normal => "NORMAL",
        SyncArg::Full => "FULL",
    };
    conn.pragma_update(None, "synchronous", sync)?;
    conn.execute_batch(
        "CREATE TABLE publication (
             presentity TEXT NOT NULL, publisher TEXT NOT NULL, pidf TEXT NOT NULL,
             expires_at BIGINT NOT NULL, PRIMARY KEY (presentity, publisher))",
    )?;
    Ok(conn)
}

fn options(sync: SyncArg) -> Options {
    Options::default().with_synchronous(match sync {
        SyncArg::Normal => Synchronous::Normal,
        SyncArg::Full => Synchronous::Full,
    })
}
