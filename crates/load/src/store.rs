//! `store`: durable state on SQLite (`cpim_store::SqliteStore`, draft
//! section 3.4), each figure beside what SQLite alone does with the same rows.

mod publish;
mod restart;

use std::time::Duration;

use clap::Subcommand;
use cpim_engine::{Config, Decision};

/// What went wrong in a store benchmark.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreBenchError {
    /// Opening or migrating the store failed.
    #[error("store: {0}")]
    Open(#[from] cpim_store::SqliteStoreError),
    /// Loading or committing through the `Store` trait failed.
    #[error("store: {0}")]
    Store(#[from] cpim_engine::StoreError),
    /// The bare SQLite floor failed.
    #[error("sqlite floor: {0}")]
    Floor(#[from] rusqlite::Error),
    /// A scratch directory could not be made.
    #[error("scratch directory: {0}")]
    Io(#[from] std::io::Error),
    /// The engine refused an input the benchmark generated.
    #[error("engine refused input: {0}")]
    Engine(#[from] cpim_engine::InputError),
    /// A generated address or operation is invalid.
    #[error("invalid generated {what}: {reason}")]
    Generated {
        /// What was generated.
        what: &'static str,
        /// Why it is invalid.
        reason: String,
    },
    /// The engine or store did not behave as the benchmark expects.
    #[error("unexpected: {0}")]
    Unexpected(String),
}

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    bench: Bench,
}

#[derive(Subcommand)]
enum Bench {
    /// Restart: open a store holding N subscriptions, restore the engine and
    /// serve the first notify, beside reading the same rows with a bare
    /// SELECT.
    Restart(restart::Args),
    /// Durable publish rate: publishes through the engine, their changes
    /// committed one transaction per batch, beside SQLite inserting the same
    /// rows with one transaction per batch of the same size.
    Publish(publish::Args),
}

pub fn run(args: &Args) -> Result<(), StoreBenchError> {
    match &args.bench {
        Bench::Restart(a) => restart::run(a),
        Bench::Publish(a) => publish::run(a),
    }
}

/// The engine configuration both benchmarks restore or run with: every
/// watcher allowed, subscriptions up to a week.
fn config() -> Config {
    let mut config =
        Config::new(["example.com"]).with_default_policy("example.com", Decision::Allow);
    config.max_subscription = 7 * 86_400;
    config
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times.get(times.len() / 2).copied().unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn ratio(a: Duration, floor: Duration) -> f64 {
    a.as_secs_f64() / floor.as_secs_f64().max(f64::MIN_POSITIVE)
}
