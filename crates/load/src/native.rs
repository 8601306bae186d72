//! `cpim-load native`: messages per second between two connected users
//! through cpimd's native API (`POST /v1/messages` in, the recipient's
//! `/v1/events` WebSocket out), with p50 and p99 of the POST's latency,
//! beside the floor: a bare axum handler that answers a constant, driven by
//! the same client with the same concurrency in the same run.
//!
//! The POST's answer comes only after the message was written to the
//! recipient's WebSocket (cpimd waits for that before it says `success`),
//! so its latency covers the whole path.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use futures_util::StreamExt;
use serde_json::{json, Value};

use crate::latency::Figures;

/// Flags of `cpim-load native`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Messages to send (after the warm-up).
    #[arg(long, default_value_t = 20_000)]
    pub messages: usize,
    /// Requests in flight at once (one keep-alive connection each).
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// The cpimd binary (default: beside this one).
    #[arg(long)]
    pub cpimd: Option<PathBuf>,
}

/// Why the run failed.
#[derive(Debug, thiserror::Error)]
pub enum NativeError {
    #[error("{0}")]
    Setup(String),
    #[error("request failed: {0}")]
    Request(String),
    #[error("{0}")]
    Unexpected(String),
}

/// Runs the benchmark and prints one line per target.
pub fn run(args: &Args) -> Result<(), NativeError> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| NativeError::Setup(e.to_string()))?;
    runtime.block_on(bench(args))
}

async fn bench(args: &Args) -> Result<(), NativeError> {
    let dir = tempfile::tempdir().map_err(|e| NativeError::Setup(e.to_string()))?;
    let (alice, bob) = {
        let mut accounts = cpim_store::accounts::Accounts::open(dir.path())
            .map_err(|e| NativeError::Setup(e.to_string()))?;
        let a = accounts
            .add("alice@example.com", 0)
            .map_err(|e| NativeError::Setup(e.to_string()))?;
        let b = accounts
            .add("bob@example.com", 0)
            .map_err(|e| NativeError::Setup(e.to_string()))?;
        (a.token, b.token)
    };
    let (mut child, url, _) = start_cpimd(args.cpimd.as_deref(), dir.path(), &[])?;
    let result = async {
        let floor_url = start_floor().await?;
        let received = Arc::new(AtomicUsize::new(0));
        let inbox = open_inbox(&url, &bob, received.clone()).await?;
        let body = json!({"to": "im:bob@example.com", "body": "hello, this is a short message"});
        let warm = args.messages / 10;
        drive(
            &format!("{url}/v1/messages"),
            &alice,
            &body,
            warm,
            args.concurrency,
            true,
        )
        .await?;
        let floor = drive(
            &format!("{floor_url}/floor"),
            &alice,
            &body,
            args.messages,
            args.concurrency,
            false,
        )
        .await?;
        let before = received.load(Ordering::Relaxed);
        let native = drive(
            &format!("{url}/v1/messages"),
            &alice,
            &body,
            args.messages,
            args.concurrency,
            true,
        )
        .await?;
        let delivered = received.load(Ordering::Relaxed) - before;
        inbox.abort();
        if delivered < args.messages {
            return Err(NativeError::Unexpected(format!(
                "{delivered} of {} messages reached the WebSocket",
                args.messages
            )));
        }
        println!(
            "native: {} messages, concurrency {}",
            args.messages, args.concurrency
        );
        for (name, f) in [
            ("floor (bare axum)", &floor),
            ("cpimd POST /v1/messages -> WebSocket", &native),
        ] {
            println!(
                "  {name:<40} {:>9.0} msg/s  p50 {:>7.3} ms  p99 {:>7.3} ms  p99/p50 {:.1}",
                f.rate,
                f.p50.as_secs_f64() * 1e3,
                f.p99.as_secs_f64() * 1e3,
                f.p99.as_secs_f64() / f.p50.as_secs_f64().max(1e-9)
            );
        }
        println!("  cpimd / floor rate: {:.2}", native.rate / floor.rate);
        Ok(())
    }
    .await;
    let _ = child.kill();
    let _ = child.wait();
    result
}

/// Starts cpimd (`bin`, default: beside this binary) for `example.com` on
/// `data` with every rate limit lifted and `extra` flags; returns the child,
/// its HTTP URL and the lines it printed before that URL (the SIP binding
/// prints its `cpimd sip listening on` lines first).
pub(crate) fn start_cpimd(
    bin: Option<&std::path::Path>,
    data: &std::path::Path,
    extra: &[&str],
) -> Result<(std::process::Child, String, Vec<String>), NativeError> {
    use std::io::BufRead;
    let bin = match bin {
        Some(bin) => bin.to_owned(),
        None => std::env::current_exe()
            .map_err(|e| NativeError::Setup(e.to_string()))?
            .with_file_name(format!("cpimd{}", std::env::consts::EXE_SUFFIX)),
    };
    let config = data.join("cpimd.toml");
    std::fs::write(
        &config,
        "[limits]\nrate_per_sec = 1e9\nrate_burst = 1e9\nconnections = 100000\n",
    )
    .map_err(|e| NativeError::Setup(e.to_string()))?;
    let mut child = std::process::Command::new(&bin)
        .arg("--config")
        .arg(&config)
        .arg("--data")
        .arg(data)
        .args(["--domain", "example.com", "--http", "127.0.0.1:0"])
        .args(extra)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .map_err(|e| NativeError::Setup(format!("cannot start {}: {e}", bin.display())))?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| NativeError::Setup("no stdout".into()))?;
    let mut lines = std::io::BufReader::new(stdout).lines();
    let mut before = Vec::new();
    let url = loop {
        match lines.next() {
            Some(Ok(line)) => {
                if let Some(url) = line.strip_prefix("cpimd listening on ") {
                    break url.trim().to_owned();
                }
                before.push(line);
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(NativeError::Setup("cpimd exited before listening".into()));
            }
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Ok((child, url, before))
}

/// The floor: an axum handler that returns a constant response operation.
async fn start_floor() -> Result<String, NativeError> {
    let app = axum::Router::new().route(
        "/floor",
        axum::routing::post(|_body: axum::body::Bytes| async {
            (
                [(axum::http::header::CONTENT_TYPE, "application/json")],
                r#"{"status":"success","transID":"1","reason":null}"#,
            )
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| NativeError::Setup(e.to_string()))?;
    let addr = listener
        .local_addr()
        .map_err(|e| NativeError::Setup(e.to_string()))?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(format!("http://{addr}"))
}

pub(crate) async fn open_inbox(
    url: &str,
    token: &str,
    received: Arc<AtomicUsize>,
) -> Result<tokio::task::JoinHandle<()>, NativeError> {
    use tokio_tungstenite::tungstenite;
    let ws = url.replacen("http://", "ws://", 1) + "/v1/events";
    let mut request = tungstenite::client::IntoClientRequest::into_client_request(ws.as_str())
        .map_err(|e| NativeError::Setup(e.to_string()))?;
    let auth = format!("Bearer {token}")
        .parse()
        .map_err(|_| NativeError::Setup("token is not a header value".into()))?;
    request.headers_mut().insert("authorization", auth);
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .map_err(|e| NativeError::Setup(format!("WebSocket: {e}")))?;
    // The first frame says the inbox is open.
    socket.next().await;
    Ok(tokio::spawn(async move {
        while let Some(Ok(frame)) = socket.next().await {
            if let tungstenite::Message::Text(text) = frame {
                if text.as_str().contains("\"op\":\"message\"") {
                    received.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }))
}

/// Sends `count` POSTs with `concurrency` in flight; every answer must be
/// a `success` response when `check` is set.
async fn drive(
    url: &str,
    token: &str,
    body: &Value,
    count: usize,
    concurrency: usize,
    check: bool,
) -> Result<Figures, NativeError> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .map_err(|e| NativeError::Setup(e.to_string()))?;
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (client, url, token, body, next) = (
            client.clone(),
            url.to_owned(),
            token.to_owned(),
            body.to_string(),
            next.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while next.fetch_add(1, Ordering::Relaxed) < count {
                let sent = Instant::now();
                let response = client
                    .post(&url)
                    .bearer_auth(&token)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await
                    .map_err(|e| NativeError::Request(e.to_string()))?;
                let answer = response
                    .bytes()
                    .await
                    .map_err(|e| NativeError::Request(e.to_string()))?;
                latencies.push(sent.elapsed());
                if check && !answer.windows(9).any(|w| w == b"\"success\"") {
                    return Err(NativeError::Unexpected(format!(
                        "answer was not success: {}",
                        String::from_utf8_lossy(&answer)
                    )));
                }
            }
            Ok::<_, NativeError>(latencies)
        }));
    }
    let mut all = Vec::with_capacity(count);
    for worker in workers {
        let latencies = worker
            .await
            .map_err(|e| NativeError::Unexpected(e.to_string()))??;
        all.extend(latencies);
    }
    let elapsed = started.elapsed();
    Ok(Figures::of(&mut all, elapsed))
}
