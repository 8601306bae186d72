//! `store restart`: the time from opening a store that holds N subscriptions
//! to the first notify of the restored engine (`SqliteStore::open`,
//! `Engine::restore_from` reading the records through `Store::load_into`, a
//! publish, the first notify effect),
//! beside the floor: opening the same file with a bare SQLite connection and
//! reading the same rows with one `SELECT`, columns borrowed, nothing built.
//! Both read through the operating system's warm file cache.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cpim_engine::{
    Change, Effect, Engine, Input, Origin, Principal, Store, SubscriptionRecord,
    SubscriptionStatus, Timestamp,
};
use cpim_formats::op::TransId;
use cpim_formats::pidf::{Basic, Presence, Tuple};
use cpim_formats::uri::Address;
use cpim_store::SqliteStore;

use super::{config, median, ms, ratio, StoreBenchError};

/// When the restored engine serves its first notify; every subscription
/// expires a week later.
const NOW: Timestamp = Timestamp::from_millis(1_700_000_000_000);
/// Rows per fill transaction.
const FILL_BATCH: u32 = 10_000;

#[derive(clap::Args)]
pub struct Args {
    /// Subscriptions in the store, each with its own watcher.
    #[arg(long, default_value_t = 1_000_000)]
    subscriptions: u32,
    /// Presentities they are spread over.
    #[arg(long, default_value_t = 10_000)]
    presentities: u32,
    /// Measured rounds of each (the median is reported).
    #[arg(long, default_value_t = 3)]
    rounds: u32,
    /// Data directory to fill (or reuse, if it holds this many
    /// subscriptions); default: a fresh scratch directory.
    #[arg(long)]
    dir: Option<PathBuf>,
}

pub fn run(args: &Args) -> Result<(), StoreBenchError> {
    let scratch = tempfile::tempdir()?;
    let dir = args.dir.as_deref().unwrap_or(scratch.path());
    let presentities = args.presentities.max(1);
    let filled = match fill(dir, args.subscriptions, presentities)? {
        Some(took) => format!("filled in {:.1} s", took.as_secs_f64()),
        None => "reused".to_string(),
    };
    let file = dir.join(cpim_store::FILE_NAME);
    let bytes = std::fs::metadata(&file)?.len();
    let mut restart = Vec::new();
    let mut parts = Vec::new();
    let mut floor = Vec::new();
    // One warm-up of each, then alternate so both see the same cache.
    for round in 0..=args.rounds {
        let (total, split) = restart_once(dir, args.subscriptions)?;
        let bare = floor_once(&file, args.subscriptions)?;
        if round > 0 {
            restart.push(total);
            parts.push(split);
            floor.push(bare);
        }
    }
    let restart_median = median(&mut restart);
    let floor_median = median(&mut floor);
    parts.sort_by_key(|p| p.0 + p.1 + p.2);
    let (open, restore, notify) = parts.get(parts.len() / 2).copied().unwrap_or_default();
    println!(
        "store restart: {} subscriptions over {presentities} presentities, file {:.1} MiB \
         ({filled}), {} rounds (median)",
        args.subscriptions,
        bytes as f64 / (1024.0 * 1024.0),
        args.rounds
    );
    println!(
        "  restart to first notify:        {:>10.1} ms",
        ms(restart_median)
    );
    println!("    SqliteStore::open:            {:>10.1} ms", ms(open));
    println!("    Engine::restore_from:         {:>10.1} ms", ms(restore));
    println!("    publish -> first notify:      {:>10.3} ms", ms(notify));
    println!(
        "  floor (bare SELECT of the rows): {:>9.1} ms",
        ms(floor_median)
    );
    println!(
        "  ratio restart/floor: {:.2}",
        ratio(restart_median, floor_median)
    );
    Ok(())
}

/// Writes the users and subscriptions and says how long it took, unless
/// `dir` already holds them (`None`).
fn fill(
    dir: &Path,
    subscriptions: u32,
    presentities: u32,
) -> Result<Option<Duration>, StoreBenchError> {
    let start = Instant::now();
    let mut store = SqliteStore::open(dir)?;
    let held = store.load()?;
    if held.subscriptions.len() == subscriptions as usize
        && held.users.len() == presentities as usize
    {
        return Ok(None);
    }
    if !held.subscriptions.is_empty() || !held.users.is_empty() {
        return Err(StoreBenchError::Unexpected(format!(
            "{} holds {} subscriptions and {} users; give an empty or matching directory",
            dir.display(),
            held.subscriptions.len(),
            held.users.len()
        )));
    }
    drop(held);
    let users: Vec<Change> = (0..presentities)
        .map(|p| Change::PutUser(format!("user{p}@example.com")))
        .collect();
    store.apply(&users)?;
    let expires = NOW.plus_secs(7 * 86_400);
    let mut first = 0;
    while first < subscriptions {
        let end = subscriptions.min(first + FILL_BATCH);
        let batch: Vec<Change> = (first..end)
            .map(|i| {
                Change::PutSubscription(SubscriptionRecord {
                    watcher: format!("watcher{i}@example.net"),
                    target: format!("user{}@example.com", i % presentities),
                    expires,
                    state: SubscriptionStatus::Active,
                })
            })
            .collect();
        store.apply(&batch)?;
        first = end;
    }
    Ok(Some(start.elapsed()))
}

/// One restart: total, and (open, load + restore, publish -> first notify).
fn restart_once(
    dir: &Path,
    subscriptions: u32,
) -> Result<(Duration, (Duration, Duration, Duration)), StoreBenchError> {
    let presentity = Address::new("user0", "example.com").map_err(|e| generated("address", e))?;
    let mut presence = Presence::new("pres:user0@example.com");
    presence
        .tuples
        .push(Tuple::new("device", Some(Basic::Open)));
    let publish = Input::Publish {
        origin: Origin(0),
        principal: Principal::Service,
        trans_id: TransId::new(1).map_err(|e| generated("transID", e))?,
        presentity,
        publisher: "device".into(),
        presence,
        duration: 3600,
    };
    let start = Instant::now();
    let mut store = SqliteStore::open(dir)?;
    let opened = start.elapsed();
    let mut engine = Engine::restore_from(config(), &mut store)?;
    let restored = start.elapsed();
    engine.handle(publish, NOW)?;
    let mut notified = None;
    while let Some(effect) = engine.poll_effect() {
        if let Effect::Notify(_) = effect {
            notified = Some(start.elapsed());
            break;
        }
    }
    let Some(notified) = notified else {
        return Err(StoreBenchError::Unexpected(
            "no notify after restart".into(),
        ));
    };
    if engine.subscription_count() != subscriptions as usize {
        return Err(StoreBenchError::Unexpected(format!(
            "restored {} subscriptions of {subscriptions}",
            engine.subscription_count()
        )));
    }
    Ok((notified, (opened, restored - opened, notified - restored)))
}

/// The floor: a bare connection reads every subscription row's columns,
/// with the store's own query.
fn floor_once(file: &Path, subscriptions: u32) -> Result<Duration, StoreBenchError> {
    let start = Instant::now();
    let conn = rusqlite::Connection::open(file)?;
    let mut stmt = conn.prepare(cpim_store::SUBSCRIPTIONS_IN_ORDER)?;
    let mut rows = stmt.query([])?;
    let (mut n, mut bytes) = (0u32, 0usize);
    while let Some(row) = rows.next()? {
        let watcher = row.get_ref(0)?.as_str().map_err(rusqlite::Error::from)?;
        let target = row.get_ref(1)?.as_str().map_err(rusqlite::Error::from)?;
        let expires: i64 = row.get(2)?;
        let state = row.get_ref(3)?.as_str().map_err(rusqlite::Error::from)?;
        bytes += watcher.len() + target.len() + state.len() + usize::from(expires > 0);
        n += 1;
    }
    let elapsed = start.elapsed();
    if n != subscriptions || bytes == 0 {
        return Err(StoreBenchError::Unexpected(format!("floor read {n} rows")));
    }
    Ok(elapsed)
}

fn generated(what: &'static str, e: impl std::fmt::Debug) -> StoreBenchError {
    StoreBenchError::Generated {
        what,
        reason: format!("{e:?}"),
    }
}
