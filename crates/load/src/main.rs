//! `cpim-load`: the project's load and benchmark tool. Each subcommand lives
//! in its own module; add one by adding a module and a variant below.

mod fanout;
mod latency;
mod memory;
mod native;
mod setup;
mod sip;
mod store;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cpim-load", about = "Load and benchmark cpim")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Presence fan-out: one presentity, many watchers, time from publish to
    /// the last notify handed to the bindings, beside a bare channel.
    Fanout(fanout::Args),
    /// Resident memory per live subscription.
    Memory(memory::Args),
    /// Durable state on SQLite: restart and publish rate.
    Store(store::Args),
    /// cpimd's native API: messages per second between two connected users,
    /// beside a bare axum handler.
    Native(native::Args),
    /// SIP MESSAGE requests per second over UDP to a native user through
    /// cpimd, beside Kamailio relaying the same load between two UDP
    /// endpoints.
    Sip(sip::Args),
}

// The same allocator as cpimd, so that what this tool measures of the
// engine and store (a restart allocates two blocks per watcher) is what
// the server does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Fanout(args) => fanout::run(&args),
        Command::Memory(args) => memory::run(&args),
        Command::Store(args) => store::run(&args).map_err(LoadError::from),
        Command::Native(args) => native::run(&args).map_err(LoadError::from),
        Command::Sip(args) => sip::run(&args).map_err(LoadError::from),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("cpim-load: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Why a run could not finish.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The engine refused a set-up input.
    #[error("engine refused set-up: {0}")]
    Engine(#[from] cpim_engine::InputError),
    /// A generated address or operation is invalid.
    #[error("invalid generated {what}: {reason}")]
    Generated {
        /// What was generated.
        what: &'static str,
        /// Why it is invalid.
        reason: String,
    },
    /// The engine did not behave as the benchmark expects.
    #[error("unexpected engine behaviour: {0}")]
    Unexpected(String),
    /// Reading `/proc/self/status` failed.
    #[error("cannot read resident memory: {0}")]
    Proc(#[from] std::io::Error),
    /// The channel closed early.
    #[error("channel closed")]
    Channel,
    /// A store benchmark failed.
    #[error(transparent)]
    Store(#[from] store::StoreBenchError),
    /// The native API benchmark failed.
    #[error(transparent)]
    Native(#[from] native::NativeError),
    /// The SIP benchmark failed.
    #[error(transparent)]
    Sip(#[from] sip::SipLoadError),
}
