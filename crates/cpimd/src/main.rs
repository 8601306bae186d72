//! `cpimd`: the CPIM server. It runs the service engine (`cpim-engine`) over
//! the SQLite store (`cpim-store`) and serves the native HTTP/WebSocket API.
//!
//! Start-up prints, on standard output, the line `cpimd listening on
//! http://ADDR:PORT` (tests and scripts read the bound port from it) and how
//! to add a user. Logs go to standard error (`RUST_LOG` filters them;
//! `CPIMD_LOG=json` makes them JSON lines).

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;

mod api;
mod auth;
mod config;
mod driver;
mod events;
mod metrics;
mod openapi;
mod server;
mod sip;
mod ws;

use config::{Args, Config, PolicyName};

// The server allocates and frees many small, short-lived buffers per request
// (SIP transactions, JSON, WebSocket frames) from several threads; glibc's
// allocator showed as the largest single cost under load (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args = Args::parse();
    init_logging();
    let config = match Config::load(&args) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("cpimd: {error}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cpimd: cannot start the runtime: {error}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("cpimd: {error}");
            ExitCode::from(1)
        }
    }
}

/// Why the server could not start (or stopped badly).
#[derive(Debug, thiserror::Error)]
enum RunError {
    #[error("store {path}: {source}")]
    Store {
        path: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Server(#[from] server::ServerError),
    #[error("accounts: {0}")]
    Auth(#[from] auth::AuthError),
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    #[error("sip: {0}")]
    Sip(#[from] sip::StartError),
}

async fn run(config: Config) -> Result<(), RunError> {
    let metrics = metrics::Metrics::new()?;
    let data = config.data.display().to_string();
    let store_error = |source: Box<dyn std::error::Error + Send + Sync>| RunError::Store {
        path: data.clone(),
        source,
    };
    let mut store =
        cpim_store::SqliteStore::open(&config.data).map_err(|e| store_error(Box::new(e)))?;
    let engine = cpim_engine::Engine::restore_from(engine_config(&config), &mut store)
        .map_err(|e| store_error(Box::new(e)))?;
    let tls = config.tls.as_ref().map(server::tls_acceptor).transpose()?;
    let (driver, driver_task) = driver::Driver::spawn(
        engine,
        store,
        driver::DriverOptions {
            queue: config.limits.engine_queue,
            ws_queue: config.limits.ws_queue,
            sessions_per_user: config.limits.sessions_per_user,
        },
        metrics.clone(),
    );
    let auth = auth::Auth::load(
        config.data.clone(),
        driver.clone(),
        config.limits.rate_per_sec,
        config.limits.rate_burst,
    )
    .await?;
    let listener = tokio::net::TcpListener::bind(config.http)
        .await
        .map_err(|source| RunError::Listen {
            addr: config.http,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| RunError::Listen {
        addr: config.http,
        source,
    })?;
    let _sip = match &config.sip.listen {
        Some(spec) => Some(sip::start(spec, &config, driver.clone(), auth.clone()).await?),
        None => None,
    };
    let (shutdown_tx, shutdown) = tokio::sync::watch::channel(false);
    let config = Arc::new(config);
    let state = Arc::new(api::AppState {
        driver: driver.clone(),
        auth,
        config: config.clone(),
        metrics,
        shutdown,
    });
    let router = api::router(state);
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(%addr, domains = ?config.domains, "listening");
    announce(scheme, addr, &config);

    server::serve(
        listener,
        router,
        tls,
        config.limits.connections,
        stop_signal(),
        Duration::from_secs(30),
    )
    .await;
    tracing::info!("requests drained; flushing state");
    driver.shutdown().await;
    let _ = shutdown_tx.send(true);
    drop(driver);
    let _ = driver_task.await;
    tracing::info!("stopped");
    Ok(())
}

fn engine_config(config: &Config) -> cpim_engine::Config {
    let mut engine = cpim_engine::Config::new(config.domains.iter().cloned());
    engine.min_subscription = config.service.min_subscription;
    engine.max_subscription = config.service.max_subscription;
    engine.max_publication = config.service.max_publication;
    engine.fallback_policy = match config.service.default_policy {
        PolicyName::Allow => cpim_engine::Decision::Allow,
        PolicyName::Deny => cpim_engine::Decision::Deny,
        _ => cpim_engine::Decision::Ask,
    };
    for route in &config.sip.route {
        engine = engine.with_route(&route.domain, sip::BINDING, true);
    }
    engine
}

/// Tells the person at the terminal where the server is and what to do next.
fn announce(scheme: &str, addr: std::net::SocketAddr, config: &Config) {
    let domain = config.domains.first().map_or("localhost", String::as_str);
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "cpimd listening on {scheme}://{addr}");
    let _ = writeln!(out, "serving domains: {}", config.domains.join(", "));
    let _ = writeln!(
        out,
        "add a user:  cpim user add alice@{domain} --data {}",
        config.data.display()
    );
    let _ = writeln!(
        out,
        "then:        cpim --server {scheme}://{addr} --token TOKEN watch"
    );
    let _ = out.flush();
}

/// Resolves at SIGINT or SIGTERM.
async fn stop_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => tracing::info!("SIGINT: shutting down"),
        () = terminate => tracing::info!("SIGTERM: shutting down"),
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::env::var("CPIMD_LOG").is_ok_and(|v| v == "json") {
        builder.json().init();
    } else {
        builder.init();
    }
}
