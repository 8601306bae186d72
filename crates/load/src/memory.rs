//! `memory`: resident bytes per live subscription. Reads `VmRSS` from
//! `/proc/self/status` before and after creating the subscriptions (Linux).

use crate::setup;
use crate::LoadError;

#[derive(clap::Args)]
pub struct Args {
    /// Live subscriptions to create, each with its own watcher.
    #[arg(long, default_value_t = 1_000_000)]
    subscriptions: u32,
    /// Presentities they are spread over.
    #[arg(long, default_value_t = 1_000)]
    presentities: u32,
}

pub fn run(args: &Args) -> Result<(), LoadError> {
    let presentities = args.presentities.max(1);
    let mut engine = setup::engine();
    let mut targets = Vec::with_capacity(presentities as usize);
    for i in 0..presentities {
        let t = setup::address(&format!("user{i}"), "example.com")?;
        setup::add_user(&mut engine, &t)?;
        targets.push(t);
    }
    let before = vm_rss()?;
    for i in 0..args.subscriptions {
        let w = setup::address(&format!("watcher{i}"), "example.net")?;
        let t = &targets[(i % presentities) as usize];
        setup::subscribe(&mut engine, &w, t)?;
    }
    let after = vm_rss()?;
    let live = engine.subscription_count();
    if live != args.subscriptions as usize {
        return Err(LoadError::Unexpected(format!("{live} live subscriptions")));
    }
    let per = after.saturating_sub(before) as f64 / live.max(1) as f64;
    println!(
        "memory: {live} live subscriptions over {presentities} presentities, each with its own watcher"
    );
    println!(
        "  VmRSS before: {} KiB, after: {} KiB",
        before / 1024,
        after / 1024
    );
    println!("  resident bytes per live subscription: {per:.0}");
    Ok(())
}

/// `VmRSS` of this process, in bytes.
fn vm_rss() -> Result<u64, LoadError> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kib| kib * 1024)
        .ok_or_else(|| LoadError::Unexpected("no VmRSS in /proc/self/status".into()))
}
