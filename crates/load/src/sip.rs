//! `cpim-load sip`: SIP MESSAGE requests per second over UDP on loopback,
//! with p50 and p99 of each request's time to its final response, through
//! two servers in the same run and from the same generator:
//!
//! - cpimd: the generator is `alice@example.com`, registered (with digest)
//!   at cpimd's SIP binding from its sending socket, and sends MESSAGE to
//!   `sip:bob@example.com`, a native user holding the `/v1/events`
//!   WebSocket. cpimd answers 200 only after the message was written to
//!   bob's socket, so the latency covers the whole path.
//! - the anchor, Kamailio (started with the interop suite's script, with
//!   its fast memory manager `-x fm` and 1 GiB of shared memory): the
//!   generator registers `bob@sip.test` with a second UDP socket as its
//!   contact, which answers every relayed MESSAGE with 200, and sends
//!   MESSAGE from the first socket to `sip:bob@sip.test` through Kamailio.
//!
//! A floor run sends the same MESSAGEs straight to the endpoint with no
//! server between: the generator's own ceiling on this machine. Then the
//! measured runs go Kamailio, cpimd, cpimd, Kamailio, each after a 6 s
//! pause, so neither server always runs first or pays for the other's
//! finished transactions.
//!
//! Each run keeps `concurrency` transactions in flight (a closed loop), and
//! retransmits like a UAC over UDP (RFC 3261 s17.1.2.2: timer E from T1 =
//! 500 ms doubling to T2 = 4 s, timer F at 64*T1), so a lost datagram costs
//! latency, not the run; requests with no final response by timer F count
//! as failed and fail the run.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cpim_sip::{Message, RequestBuilder, ResponseBuilder};
use tokio::net::UdpSocket;

use crate::latency;
use crate::native;

/// Flags of `cpim-load sip`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// MESSAGE requests per server (after a warm-up of a tenth as many).
    #[arg(long, default_value_t = 20_000)]
    pub messages: usize,
    /// Transactions in flight at once.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// The cpimd binary (default: beside this one).
    #[arg(long)]
    pub cpimd: Option<PathBuf>,
    /// The script that starts Kamailio; `stop-pidfile` beside it stops it.
    #[arg(long, default_value = "interop/peers/kamailio-start")]
    pub kamailio_start: PathBuf,
    /// Kamailio's shared memory in MiB: it keeps each finished UDP
    /// transaction a few seconds, and the default runs out at full rate.
    #[arg(long, default_value_t = 1024)]
    pub kamailio_shm_mb: u32,
    /// Kamailio's memory manager (`-x`): `fm`, its fast allocator; `qm`,
    /// its default, walks its free lists on every allocation and is about
    /// three times slower at this load with 1 GiB of shared memory.
    #[arg(long, default_value = "fm")]
    pub kamailio_mem: String,
}

/// Why the run failed.
#[derive(Debug, thiserror::Error)]
pub enum SipLoadError {
    #[error("set-up: {0}")]
    Setup(String),
    #[error("socket: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Unexpected(String),
    #[error(transparent)]
    Native(#[from] native::NativeError),
}

/// Runs the benchmark and prints one line per server.
pub fn run(args: &Args) -> Result<(), SipLoadError> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| SipLoadError::Setup(e.to_string()))?;
    runtime.block_on(bench(args))
}

/// What one driven run measured.
struct Figures {
    rate: f64,
    p50: Duration,
    p99: Duration,
    retransmissions: usize,
}

/// The body of every MESSAGE.
const BODY: &str = "hello, this is a short message";

async fn bench(args: &Args) -> Result<(), SipLoadError> {
    let kamailio = Kamailio::start(
        &args.kamailio_start,
        args.kamailio_shm_mb,
        &args.kamailio_mem,
    )?;
    let dir = tempfile::tempdir().map_err(|e| SipLoadError::Setup(e.to_string()))?;
    let (alice_password, bob_token) = {
        let mut accounts = cpim_store::accounts::Accounts::open(dir.path())
            .map_err(|e| SipLoadError::Setup(e.to_string()))?;
        let a = accounts
            .add("alice@example.com", 0)
            .map_err(|e| SipLoadError::Setup(e.to_string()))?;
        let b = accounts
            .add("bob@example.com", 0)
            .map_err(|e| SipLoadError::Setup(e.to_string()))?;
        (a.password, b.token)
    };
    let (mut child, url, lines) = native::start_cpimd(
        args.cpimd.as_deref(),
        dir.path(),
        &["--sip", "udp:127.0.0.1:0"],
    )?;
    let result = async {
        let cpimd_sip: SocketAddr = lines
            .iter()
            .find_map(|l| l.strip_prefix("cpimd sip listening on udp:"))
            .and_then(|a| a.trim().parse().ok())
            .ok_or_else(|| SipLoadError::Setup("cpimd printed no SIP UDP listener".into()))?;

        // Kamailio: bob's contact is our endpoint socket, alice sends.
        let endpoint = Arc::new(UdpSocket::bind("127.0.0.1:0").await?);
        register(&endpoint, kamailio.addr, "bob", "sip.test", None).await?;
        let relayed = Arc::new(AtomicUsize::new(0));
        let answering = tokio::spawn(answer_messages(endpoint.clone(), relayed.clone()));
        let to_kamailio = Arc::new(UdpSocket::bind("127.0.0.1:0").await?);

        // cpimd: alice registered from the sending socket, bob native.
        let to_cpimd = Arc::new(UdpSocket::bind("127.0.0.1:0").await?);
        register(
            &to_cpimd,
            cpimd_sip,
            "alice",
            "example.com",
            Some(&alice_password),
        )
        .await?;
        let delivered = Arc::new(AtomicUsize::new(0));
        let inbox = native::open_inbox(&url, &bob_token, delivered.clone()).await?;

        let kamailio_target = Target {
            socket: to_kamailio,
            server: kamailio.addr,
            from: "sip:alice@sip.test",
            to: "sip:bob@sip.test",
        };
        let cpimd_target = Target {
            socket: to_cpimd,
            server: cpimd_sip,
            from: "sip:alice@example.com",
            to: "sip:bob@example.com",
        };
        // The generator's own ceiling: straight to the endpoint, no server.
        let floor_target = Target {
            socket: Arc::new(UdpSocket::bind("127.0.0.1:0").await?),
            server: endpoint.local_addr()?,
            from: "sip:alice@sip.test",
            to: "sip:bob@sip.test",
        };
        let warm = (args.messages / 10).max(1);
        drive(&floor_target, 1, warm, args.concurrency).await?;
        drive(&kamailio_target, 1, warm, args.concurrency).await?;
        drive(&cpimd_target, 1, warm, args.concurrency).await?;

        let floor = drive(&floor_target, 2, args.messages, args.concurrency).await?;

        // Kamailio, cpimd, cpimd, Kamailio: neither always runs first, and a
        // pause before each lets the previous run's finished transactions go
        // (Kamailio keeps each about 5 s) so that neither pays the other's.
        let mut runs: Vec<(bool, Figures)> = Vec::new();
        for (round, to_cpimd) in [false, true, true, false].into_iter().enumerate() {
            tokio::time::sleep(Duration::from_secs(6)).await;
            let round = 2 + u32::try_from(round).unwrap_or(0);
            if to_cpimd {
                let before = delivered.load(Ordering::Relaxed);
                let figures = drive(&cpimd_target, round, args.messages, args.concurrency).await?;
                runs.push((true, figures));
                // cpimd answers once a frame is written to bob's socket; the
                // inbox task here may not have read the last frames yet.
                for _ in 0..100 {
                    if delivered.load(Ordering::Relaxed) - before >= args.messages {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                let count = delivered.load(Ordering::Relaxed) - before;
                if count < args.messages {
                    return Err(SipLoadError::Unexpected(format!(
                        "{count} of {} messages reached bob's WebSocket",
                        args.messages
                    )));
                }
            } else {
                let before = relayed.load(Ordering::Relaxed);
                let figures =
                    drive(&kamailio_target, round, args.messages, args.concurrency).await?;
                runs.push((false, figures));
                let count = relayed.load(Ordering::Relaxed) - before;
                if count < args.messages {
                    return Err(SipLoadError::Unexpected(format!(
                        "Kamailio relayed {count} of {} messages to the endpoint",
                        args.messages
                    )));
                }
            }
        }
        answering.abort();
        inbox.abort();
        println!(
            "sip: {} MESSAGE requests over UDP per run, concurrency {}",
            args.messages, args.concurrency
        );
        let name = |to_cpimd: bool| {
            if to_cpimd {
                "cpimd MESSAGE -> WebSocket"
            } else {
                "Kamailio relay -> UDP endpoint"
            }
        };
        let rows = std::iter::once(("floor: generator -> endpoint", &floor))
            .chain(runs.iter().map(|(to_cpimd, f)| (name(*to_cpimd), f)));
        for (name, f) in rows {
            println!(
                "  {name:<32} {:>9.0} msg/s  p50 {:>7.3} ms  p99 {:>7.3} ms  retransmitted {}",
                f.rate,
                f.p50.as_secs_f64() * 1e3,
                f.p99.as_secs_f64() * 1e3,
                f.retransmissions
            );
        }
        let mean = |to_cpimd: bool| {
            let rates: Vec<f64> = runs
                .iter()
                .filter(|(c, _)| *c == to_cpimd)
                .map(|(_, f)| f.rate)
                .collect();
            rates.iter().sum::<f64>() / rates.len().max(1) as f64
        };
        println!(
            "  cpimd / Kamailio rate (means of two runs each): {:.2}",
            mean(true) / mean(false)
        );
        Ok(())
    }
    .await;
    let _ = child.kill();
    let _ = child.wait();
    drop(kamailio);
    result
}

/// Where a run sends its MESSAGEs.
struct Target {
    socket: Arc<UdpSocket>,
    server: SocketAddr,
    from: &'static str,
    to: &'static str,
}

/// One request waiting for its final response.
struct Outstanding {
    first_sent: Instant,
    resend_at: Instant,
    interval: Duration,
    bytes: Vec<u8>,
}

const T1: Duration = Duration::from_millis(500);
const T2: Duration = Duration::from_secs(4);
const TIMER_F: Duration = Duration::from_secs(32);

/// Sends `count` MESSAGEs with `concurrency` in flight and waits for every
/// final response; a non-200 or a timed-out request fails the run. The
/// Call-ID carries `round` and the sequence number, which is how responses
/// are matched (one task does it all, so nothing is locked).
async fn drive(
    target: &Target,
    round: u32,
    count: usize,
    concurrency: usize,
) -> Result<Figures, SipLoadError> {
    let local = target.socket.local_addr()?;
    let tag = format!("cpimload{round}x");
    let mut pending: HashMap<u64, Outstanding> = HashMap::with_capacity(concurrency * 2);
    let mut latencies = Vec::with_capacity(count);
    let mut retransmissions = 0usize;
    let mut next: u64 = 0;
    let mut buf = vec![0u8; 65_535];
    let started = Instant::now();
    let mut sweep = tokio::time::interval(Duration::from_millis(50));
    while latencies.len() < count {
        while pending.len() < concurrency.max(1) && (next as usize) < count {
            let bytes = message_request(target, local, &tag, next)?;
            target.socket.send_to(&bytes, target.server).await?;
            let now = Instant::now();
            pending.insert(
                next,
                Outstanding {
                    first_sent: now,
                    resend_at: now + T1,
                    interval: T1,
                    bytes,
                },
            );
            next += 1;
        }
        tokio::select! {
            received = target.socket.recv_from(&mut buf) => {
                let (n, _) = received?;
                let datagram = buf.get(..n).unwrap_or_default();
                let Some(code) = status_code(datagram) else { continue };
                if code < 200 {
                    continue;
                }
                let Some(seq) = sequence(datagram, tag.as_bytes()) else { continue };
                // A response to a retransmission after the first one came.
                let Some(done) = pending.remove(&seq) else { continue };
                if code != 200 {
                    return Err(SipLoadError::Unexpected(format!(
                        "MESSAGE {seq} to {} answered {}",
                        target.to,
                        String::from_utf8_lossy(datagram.split(|b| *b == b'\r').next().unwrap_or_default())
                    )));
                }
                latencies.push(done.first_sent.elapsed());
            }
            _ = sweep.tick() => {
                let now = Instant::now();
                for (seq, out) in &mut pending {
                    if now.duration_since(out.first_sent) >= TIMER_F {
                        return Err(SipLoadError::Unexpected(format!(
                            "MESSAGE {seq} to {} had no final response in {TIMER_F:?}",
                            target.to
                        )));
                    }
                    if now >= out.resend_at {
                        target.socket.send_to(&out.bytes, target.server).await?;
                        retransmissions += 1;
                        out.interval = (out.interval * 2).min(T2);
                        out.resend_at = now + out.interval;
                    }
                }
            }
        }
    }
    let elapsed = started.elapsed();
    let latency::Figures { rate, p50, p99 } = latency::Figures::of(&mut latencies, elapsed);
    Ok(Figures {
        rate,
        p50,
        p99,
        retransmissions,
    })
}

/// MESSAGE number `seq` of a run.
fn message_request(
    target: &Target,
    local: SocketAddr,
    tag: &str,
    seq: u64,
) -> Result<Vec<u8>, SipLoadError> {
    RequestBuilder::new("MESSAGE", target.to)
        .header(
            "Via",
            format!("SIP/2.0/UDP {local};branch=z9hG4bK{tag}{seq};rport"),
        )
        .header("Max-Forwards", "70")
        .header("From", format!("<{}>;tag={tag}{seq}", target.from))
        .header("To", format!("<{}>", target.to))
        .header("Call-ID", format!("{tag}{seq}@cpim-load"))
        .header("CSeq", "1 MESSAGE")
        .body("text/plain", BODY)
        .build()
        .map_err(|e| SipLoadError::Unexpected(format!("MESSAGE not built: {e}")))
}

/// The status code of a response datagram; `None` for a request.
fn status_code(datagram: &[u8]) -> Option<u16> {
    let code = datagram.strip_prefix(b"SIP/2.0 ")?.get(..3)?;
    std::str::from_utf8(code).ok()?.parse().ok()
}

/// The sequence number after `tag` in the datagram (our Call-ID, branch
/// and From tag all carry it). A byte scan, not a full parse: this runs
/// once per response in the generator, whose own cost is shared with the
/// server under test on the same cores.
fn sequence(datagram: &[u8], tag: &[u8]) -> Option<u64> {
    let at = datagram.windows(tag.len()).position(|w| w == tag)? + tag.len();
    let digits = datagram.get(at..)?;
    let len = digits.iter().take_while(|b| b.is_ascii_digit()).count();
    std::str::from_utf8(digits.get(..len)?).ok()?.parse().ok()
}

/// The UDP endpoint Kamailio relays to: answers every MESSAGE with 200
/// (a UAS response built by `cpim-sip`, RFC 3261 s8.2.6) and counts them.
async fn answer_messages(socket: Arc<UdpSocket>, relayed: Arc<AtomicUsize>) {
    let mut buf = vec![0u8; 65_535];
    loop {
        let Ok((n, from)) = socket.recv_from(&mut buf).await else {
            continue;
        };
        let Ok(request) = Message::parse_datagram(buf.get(..n).unwrap_or_default()) else {
            continue;
        };
        if !request.is_request() || request.method() == "ACK" {
            continue;
        }
        let response = if request.method() == "MESSAGE" {
            relayed.fetch_add(1, Ordering::Relaxed);
            ResponseBuilder::for_request(&request, 200, "OK", Some("endpoint"))
        } else {
            ResponseBuilder::for_request(&request, 501, "Not Implemented", Some("endpoint"))
        };
        if let Ok(bytes) = response.build() {
            let _ = socket.send_to(&bytes, from).await;
        }
    }
}

/// Registers `user@domain` at `server` with the socket's own address as
/// contact; answers a 401 challenge with digest credentials when a
/// password is given (user name `user@domain`, cpimd's convention).
async fn register(
    socket: &UdpSocket,
    server: SocketAddr,
    user: &str,
    domain: &str,
    password: Option<&str>,
) -> Result<(), SipLoadError> {
    let local = socket.local_addr()?;
    let uri = format!("sip:{domain}");
    let call_id = format!("register-{user}-{}@cpim-load", local.port());
    let request = |cseq: u32, authorization: Option<String>| {
        let mut builder = RequestBuilder::new("REGISTER", uri.clone())
            .header(
                "Via",
                format!("SIP/2.0/UDP {local};branch=z9hG4bKreg{cseq}{user};rport"),
            )
            .header("Max-Forwards", "70")
            .header("From", format!("<sip:{user}@{domain}>;tag=reg{user}"))
            .header("To", format!("<sip:{user}@{domain}>"))
            .header("Call-ID", call_id.clone())
            .header("CSeq", format!("{cseq} REGISTER"))
            .header("Contact", format!("<sip:{user}@{local}>"))
            .header("Expires", "3600");
        if let Some(value) = authorization {
            builder = builder.header("Authorization", value);
        }
        builder
            .build()
            .map_err(|e| SipLoadError::Unexpected(format!("REGISTER not built: {e}")))
    };
    let mut buf = vec![0u8; 65_535];
    let first = exchange(socket, server, &request(1, None)?, &mut buf).await?;
    let answer = Message::parse_datagram(&first)
        .map_err(|e| SipLoadError::Unexpected(format!("REGISTER response: {e}")))?;
    let code = answer.status_code().unwrap_or_default();
    if code == 200 {
        return Ok(());
    }
    let (401, Some(password)) = (code, password) else {
        return Err(SipLoadError::Setup(format!(
            "REGISTER {user}@{domain} at {server}: {code} {}",
            answer.reason().unwrap_or_default()
        )));
    };
    let challenge = answer
        .www_authenticate()
        .first()
        .ok_or_else(|| SipLoadError::Setup("401 without WWW-Authenticate".into()))?;
    let param = |name: &str| {
        challenge
            .param(name)
            .map(|v| v.into_owned())
            .ok_or_else(|| SipLoadError::Setup(format!("challenge without {name}")))
    };
    let (realm, nonce) = (param("realm")?, param("nonce")?);
    let username = format!("{user}@{domain}");
    let ha1 = cpim_sip::digest::ha1(&username, &realm, password);
    let cnonce = format!("{:08x}", local.port());
    let qop = cpim_sip::digest::Qop {
        nc: "00000001",
        cnonce: &cnonce,
    };
    let digest = cpim_sip::digest::response(&ha1, &nonce, Some(qop), "REGISTER", &uri);
    let authorization = format!(
        "Digest username=\"{username}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", \
         response=\"{digest}\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"{cnonce}\""
    );
    let second = exchange(socket, server, &request(2, Some(authorization))?, &mut buf).await?;
    match status_code(&second) {
        Some(200) => Ok(()),
        _ => Err(SipLoadError::Setup(format!(
            "REGISTER {username} with credentials: {}",
            String::from_utf8_lossy(second.split(|b| *b == b'\r').next().unwrap_or_default())
        ))),
    }
}

/// Sends a request and returns its first final response, retransmitting
/// every T1 for a few seconds.
async fn exchange(
    socket: &UdpSocket,
    server: SocketAddr,
    request: &[u8],
    buf: &mut [u8],
) -> Result<Vec<u8>, SipLoadError> {
    for _ in 0..8 {
        socket.send_to(request, server).await?;
        let deadline = tokio::time::Instant::now() + T1;
        loop {
            match tokio::time::timeout_at(deadline, socket.recv_from(buf)).await {
                Err(_) => break,
                Ok(received) => {
                    let (n, _) = received?;
                    let datagram = buf.get(..n).unwrap_or_default();
                    if status_code(datagram).is_some_and(|c| c >= 200) {
                        return Ok(datagram.to_vec());
                    }
                }
            }
        }
    }
    Err(SipLoadError::Setup(format!("{server} did not answer")))
}

/// A Kamailio started for the run in a scratch directory, stopped by its
/// pid file on drop.
struct Kamailio {
    dir: tempfile::TempDir,
    stop: PathBuf,
    addr: SocketAddr,
}

impl Kamailio {
    fn start(script: &Path, shm_mb: u32, mem_manager: &str) -> Result<Kamailio, SipLoadError> {
        if !script.exists() {
            return Err(SipLoadError::Setup(format!(
                "{} not found: run from the repository root or pass --kamailio-start",
                script.display()
            )));
        }
        let dir = tempfile::tempdir().map_err(|e| SipLoadError::Setup(e.to_string()))?;
        let port = free_port()?;
        let output = std::process::Command::new(script)
            .arg(dir.path())
            .env("KAMAILIO_PORT", port.to_string())
            .env("KAMAILIO_SHM_MB", shm_mb.to_string())
            .env("KAMAILIO_MEM_MANAGER", mem_manager)
            .env("KAMAILIO_DOMAIN", "sip.test")
            .output()
            .map_err(|e| SipLoadError::Setup(format!("{}: {e}", script.display())))?;
        if !output.status.success() {
            return Err(SipLoadError::Setup(format!(
                "Kamailio did not start: {}",
                String::from_utf8_lossy(&output.stderr)
            )));
        }
        Ok(Kamailio {
            stop: script.with_file_name("stop-pidfile"),
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            dir,
        })
    }
}

impl Drop for Kamailio {
    fn drop(&mut self) {
        let _ = std::process::Command::new(&self.stop)
            .arg(self.dir.path().join("kamailio.pid"))
            .status();
    }
}

/// A port free on 127.0.0.1 for both UDP and TCP (Kamailio takes both).
fn free_port() -> Result<u16, SipLoadError> {
    for _ in 0..20 {
        let udp = std::net::UdpSocket::bind("127.0.0.1:0")?;
        let port = udp.local_addr()?.port();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    Err(SipLoadError::Setup("no free port for Kamailio".into()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn responses_are_matched_by_the_tagged_sequence_number() {
        let response = b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5;branch=z9hG4bKcpimload2x417;rport=5\r\nCall-ID: cpimload2x417@cpim-load\r\n\r\n";
        assert_eq!(status_code(response), Some(200));
        assert_eq!(sequence(response, b"cpimload2x"), Some(417));
        assert_eq!(sequence(response, b"cpimload1x"), None);
        assert_eq!(status_code(b"MESSAGE sip:bob@x SIP/2.0\r\n"), None);
        assert_eq!(status_code(b"SIP/2.0 4"), None);
    }
}
