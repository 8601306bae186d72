//! `fanout`: one presentity, N watchers. Measures the time from handing the
//! engine a publish to the last notify received from the channel a driver
//! would feed its bindings with, beside the same number of pre-built
//! notifications pushed through the same kind of channel (the floor).

use std::time::{Duration, Instant};

use cpim_engine::{Effect, Notification};
use tokio::sync::mpsc;

use crate::setup::{self, NOW};
use crate::LoadError;

#[derive(clap::Args)]
pub struct Args {
    /// Watchers of the one presentity.
    #[arg(long, default_value_t = 100_000)]
    watchers: u32,
    /// Measured rounds (the median is reported).
    #[arg(long, default_value_t = 7)]
    rounds: u32,
}

pub fn run(args: &Args) -> Result<(), LoadError> {
    let mut engine = setup::engine();
    let bob = setup::address("bob", "example.com")?;
    setup::add_user(&mut engine, &bob)?;
    for i in 0..args.watchers {
        let w = setup::address(&format!("w{i}"), "example.net")?;
        setup::subscribe(&mut engine, &w, &bob)?;
    }
    let (tx, mut rx) = mpsc::unbounded_channel::<Notification>();
    let mut engine_times = Vec::new();
    let mut floor_times = Vec::new();
    let mut prebuilt: Vec<Notification> = Vec::new();
    for round in 0..args.rounds + 1 {
        // Engine: publish, drain effects into the channel, receive them all.
        let input = setup::publish(&bob, round % 2 == 0, round + 1)?;
        let start = Instant::now();
        engine.handle(input, NOW)?;
        let mut sent = 0u32;
        while let Some(effect) = engine.poll_effect() {
            if let Effect::Notify(n) = effect {
                tx.send(n).map_err(|_| LoadError::Channel)?;
                sent += 1;
            }
        }
        let received = drain(&mut rx, &mut prebuilt, round == 0)?;
        let engine_time = start.elapsed();
        if sent != args.watchers || received != args.watchers {
            return Err(LoadError::Unexpected(format!(
                "{sent} notifies sent, {received} received, for {} watchers",
                args.watchers
            )));
        }
        // Floor: the same number of ready notifications through the channel.
        let batch: Vec<Notification> = prebuilt.clone();
        let start = Instant::now();
        for n in batch {
            tx.send(n).map_err(|_| LoadError::Channel)?;
        }
        let mut sink = Vec::new();
        let received = drain(&mut rx, &mut sink, false)?;
        let floor_time = start.elapsed();
        if received != args.watchers {
            return Err(LoadError::Unexpected("floor lost notifications".into()));
        }
        // Round 0 warms up allocators and caches.
        if round > 0 {
            engine_times.push(engine_time);
            floor_times.push(floor_time);
        }
    }
    let engine_median = median(&mut engine_times);
    let floor_median = median(&mut floor_times);
    let ratio = engine_median.as_secs_f64() / floor_median.as_secs_f64().max(f64::MIN_POSITIVE);
    println!(
        "fanout: {} watchers, {} rounds (median)",
        args.watchers, args.rounds
    );
    println!(
        "  engine publish -> last notify received: {:>10.3} ms ({:.0} ns/notify)",
        ms(engine_median),
        per(engine_median, args.watchers)
    );
    println!(
        "  floor (bare tokio mpsc, pre-built):     {:>10.3} ms ({:.0} ns/notify)",
        ms(floor_median),
        per(floor_median, args.watchers)
    );
    println!("  ratio engine/floor: {ratio:.2}");
    Ok(())
}

/// Receives everything queued; keeps the notifications when asked (to build
/// the floor's batch from real ones).
fn drain(
    rx: &mut mpsc::UnboundedReceiver<Notification>,
    keep: &mut Vec<Notification>,
    keeping: bool,
) -> Result<u32, LoadError> {
    let mut n = 0u32;
    loop {
        match rx.try_recv() {
            Ok(note) => {
                n += 1;
                if keeping {
                    keep.push(note);
                } else {
                    drop(note);
                }
            }
            Err(mpsc::error::TryRecvError::Empty) => return Ok(n),
            Err(mpsc::error::TryRecvError::Disconnected) => return Err(LoadError::Channel),
        }
    }
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times.get(times.len() / 2).copied().unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn per(d: Duration, n: u32) -> f64 {
    d.as_secs_f64() * 1e9 / f64::from(n.max(1))
}
