//! The SIP/SIMPLE binding: cpimd's domains spoken over SIP (RFC 3261) with
//! MESSAGE (RFC 3428), SUBSCRIBE/NOTIFY for the presence event package
//! (RFC 3856, RFC 6665) and PUBLISH (RFC 3903), mapped onto the engine's
//! operations (RFC 3860, RFC 3859; draft sections 2.4 and 3.4).
//!
//! The syntax, the non-INVITE transactions (RFC 3261 s17) and digest
//! authentication (s22) come from the sans-IO `cpim-sip` crate; this module
//! is the I/O around it and the mapping:
//!
//! - [`transport`]: UDP, TCP and TLS listeners (s18, s26.2), framing by
//!   Content-Length.
//! - [`registrar`]: REGISTER for local users (s10) with digest; a user with
//!   a registered contact (or a SIP subscription) has one open inbox in the
//!   engine, and what the engine sends to it goes out as SIP requests.
//! - [`im`]: MESSAGE in both directions.
//! - [`presence`]: SUBSCRIBE/NOTIFY dialogs and PUBLISH.
//! - [`relay`]: other SIP domains through a configured next hop each.
//!
//! Requests go back where the peer's request came from (the flow: the source
//! address and transport of its REGISTER or SUBSCRIBE, as RFC 3581 does for
//! responses and RFC 5626 for requests); contact URIs are not resolved.

pub mod im;
pub mod presence;
pub mod registrar;
pub mod relay;
pub mod transport;
pub mod wire;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use cpim_engine::SessionId;
use cpim_formats::uri::Address;
use cpim_sip::digest::DigestServer;
use cpim_sip::transaction::{
    ClientEvent, ClientKey, Incoming, LayerEvent, Reliability, ServerKey, Timers, TransactionLayer,
    Transmit,
};
use cpim_sip::{Message, ResponseBuilder};
use serde::Deserialize;
use tokio::sync::oneshot;

use crate::auth::Auth;
use crate::driver::Driver;

pub use transport::{Listen, ListenError, TransportKind};

/// The `[sip]` section of the configuration file.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SipConfig {
    /// Listeners, `udp:ADDR:PORT,tcp:ADDR:PORT,tls:ADDR:PORT` (the `--sip`
    /// flag). No listener: no SIP.
    pub listen: Option<String>,
    /// Certificate and key for `tls:` listeners (`[sip.tls]`); without
    /// it they use the HTTP listener's (`--tls-cert`, `--tls-key`).
    pub tls: Option<crate::config::Tls>,
    /// Next hops for other domains (`[[sip.route]]`).
    pub route: Vec<SipRoute>,
    /// Timer T1 in milliseconds, the round-trip estimate every transaction
    /// timer derives from (RFC 3261 s17.1.1.1: 500 by default; a network
    /// known to be faster may lower it, s17.1.1.1 allows it).
    pub t1_ms: Option<u64>,
}

/// One `[[sip.route]]`: where requests for `domain` go, and the peer whose
/// requests are taken as that domain's.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SipRoute {
    /// The other domain.
    pub domain: String,
    /// `udp:HOST:PORT` or `tcp:HOST:PORT`.
    pub next_hop: String,
}

/// The engine's binding name for routes through this binding.
pub const BINDING: &str = "sip";

/// Methods served here, for `Allow` (RFC 3261 s20.5).
pub const ALLOW: &str = "REGISTER, MESSAGE, SUBSCRIBE, NOTIFY, PUBLISH, OPTIONS";

/// Seconds a digest nonce stays fresh.
const NONCE_LIFETIME: u64 = 300;

/// Why the binding could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The `--sip` value is not a list of listeners.
    #[error(transparent)]
    Listen(#[from] ListenError),
    /// A `[[sip.route]]` next hop is not `TRANSPORT:ADDR:PORT`, or no
    /// listener of its transport runs.
    #[error("sip route for {domain}: {reason}")]
    Route { domain: String, reason: String },
    /// A `tls:` listener has no usable certificate and key.
    #[error("sip TLS: {0}")]
    Tls(String),
    /// A socket could not be bound.
    #[error("cannot listen on {transport}:{addr}: {source}")]
    Bind {
        transport: TransportKind,
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// Where a message came from or goes to: a listener and a peer address.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Peer {
    /// Index of the local listener.
    pub local: usize,
    /// UDP or TCP.
    pub transport: TransportKind,
    /// The peer's address.
    pub addr: SocketAddr,
}

impl Peer {
    fn reliability(&self) -> Reliability {
        match self.transport {
            TransportKind::Udp => Reliability::Unreliable,
            _ => Reliability::Reliable,
        }
    }
}

/// Starts the listeners named by `spec`; prints `cpimd sip listening on
/// TRANSPORT:ADDR:PORT` for each (tests read the bound ports from it).
pub async fn start(
    spec: &str,
    config: &crate::config::Config,
    driver: Driver,
    auth: Arc<Auth>,
) -> Result<Arc<Binding>, StartError> {
    let listens = Listen::parse_list(spec)?;
    let tls = if listens.iter().any(|l| l.kind == TransportKind::Tls) {
        let files = config
            .sip
            .tls
            .as_ref()
            .or(config.tls.as_ref())
            .ok_or_else(|| {
                StartError::Tls(
                    "a tls: listener needs [sip.tls] or --tls-cert and --tls-key".to_owned(),
                )
            })?;
        Some(crate::server::tls_acceptor(files).map_err(|e| StartError::Tls(e.to_string()))?)
    } else {
        None
    };
    let bound = transport::bind(&listens, tls.as_ref()).await?;
    let secret: Vec<u8> = (0..8)
        .flat_map(|_| cpim_formats::op::TransId::random().get().to_be_bytes())
        .collect();
    let digest = config
        .domains
        .iter()
        .map(|d| {
            (
                d.clone(),
                DigestServer::new(d.clone(), secret.clone(), NONCE_LIFETIME),
            )
        })
        .collect();
    let mut routes = HashMap::new();
    for route in &config.sip.route {
        let domain = route.domain.to_ascii_lowercase();
        let hop = Listen::parse_list(&route.next_hop)
            .ok()
            .and_then(|l| l.into_iter().next())
            .ok_or_else(|| StartError::Route {
                domain: domain.clone(),
                reason: format!("next hop {:?} is not TRANSPORT:ADDR:PORT", route.next_hop),
            })?;
        if hop.kind == TransportKind::Tls {
            // Outbound TLS needs the peer's name and certificate checks:
            // refused plainly rather than failing every request later.
            return Err(StartError::Route {
                domain,
                reason: "a tls: next hop is not supported yet (use udp: or tcp:)".to_owned(),
            });
        }
        let local = bound
            .iter()
            .position(|b| b.kind == hop.kind)
            .ok_or_else(|| StartError::Route {
                domain: domain.clone(),
                reason: format!("no {} listener to reach it from", hop.kind),
            })?;
        routes.insert(
            domain,
            Peer {
                local,
                transport: hop.kind,
                addr: hop.addr,
            },
        );
    }
    let binding = Arc::new(Binding {
        routes,
        relayed: Mutex::new(HashMap::new()),
        driver,
        auth,
        data: config.data.clone(),
        domains: config.domains.clone(),
        default_publication: config.service.default_publication,
        response_wait: std::time::Duration::from_millis(config.limits.response_wait_ms),
        digest,
        locals: bound.iter().map(|b| (b.kind, b.addr)).collect(),
        sockets: transport::Sockets::new(&bound),
        layer: Mutex::new(TransactionLayer::new(transaction_timers(&config.sip))),
        server_peers: Mutex::new(HashMap::new()),
        waits: Mutex::new(HashMap::new()),
        users: Mutex::new(HashMap::new()),
        publications: Mutex::new(HashMap::new()),
        accounts: Mutex::new(None),
        sessions_gate: tokio::sync::Mutex::new(()),
        timer: tokio::sync::Notify::new(),
    });
    {
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        for (kind, addr) in &binding.locals {
            let _ = writeln!(out, "cpimd sip listening on {kind}:{addr}");
        }
        let _ = out.flush();
    }
    transport::spawn(&binding, bound);
    tokio::spawn(timers(binding.clone()));
    tokio::spawn(registrar::sweep(binding.clone()));
    if !binding.routes.is_empty() {
        let (sink, effects) = tokio::sync::mpsc::unbounded_channel();
        if binding.driver.set_relay(sink).await.is_ok() {
            tokio::spawn(relay::run(binding.clone(), effects));
        }
    }
    Ok(binding)
}

/// The binding's shared state.
pub struct Binding {
    /// Next hop by other domain.
    routes: HashMap<String, Peer>,
    /// SUBSCRIBE dialogs this binding opened towards other domains.
    relayed: Mutex<HashMap<String, relay::OutSub>>,
    driver: Driver,
    auth: Arc<Auth>,
    data: PathBuf,
    domains: Vec<String>,
    default_publication: u32,
    response_wait: std::time::Duration,
    digest: HashMap<String, DigestServer>,
    locals: Vec<(TransportKind, SocketAddr)>,
    sockets: transport::Sockets,
    layer: Mutex<TransactionLayer>,
    server_peers: Mutex<HashMap<ServerKey, Peer>>,
    waits: Mutex<HashMap<ClientKey, Wait>>,
    users: Mutex<HashMap<Address, registrar::SipUser>>,
    publications: Mutex<HashMap<String, presence::Publication>>,
    accounts: Mutex<Option<cpim_store::accounts::Accounts>>,
    /// Serialises opening and closing users' inboxes.
    sessions_gate: tokio::sync::Mutex<()>,
    timer: tokio::sync::Notify,
}

/// A client transaction's waiter.
struct Wait {
    peer: Peer,
    reply: oneshot::Sender<Reply>,
}

/// A final response: code, reason phrase and, when one came, its bytes.
type Reply = (u16, String, Option<Vec<u8>>);

impl Binding {
    /// One message from the transport (a datagram, or a framed stream
    /// message).
    pub fn receive(self: &Arc<Binding>, bytes: Vec<u8>, peer: Peer) {
        // A request is parsed once, in the task that answers it; a response
        // only hands its code to the waiting client transaction.
        if !bytes.starts_with(b"SIP/2.0 ") {
            let binding = self.clone();
            tokio::spawn(async move { binding.serve(bytes, peer).await });
            return;
        }
        let answered = match Message::parse_datagram_with(&bytes, &wire::limits()) {
            Err(error) => {
                wire::reject_malformed(self, &bytes, &peer, &error);
                None
            }
            Ok(message) => {
                let incoming =
                    lock(&self.layer).receive(&message, peer.reliability(), Instant::now());
                match (incoming, message.status_code()) {
                    (Incoming::Response(key), Some(code)) if code >= 200 => {
                        Some((key, code, message.reason().unwrap_or_default().to_owned()))
                    }
                    _ => None,
                }
            }
        };
        if let Some((key, code, reason)) = answered {
            if let Some(wait) = lock(&self.waits).remove(&key) {
                let _ = wait.reply.send((code, reason, Some(bytes)));
            }
        }
        self.pump();
    }

    /// Answers one request: in its server transaction (a retransmission is
    /// absorbed or answered by it), or without one for a request the layer
    /// does not handle (no RFC 3261 branch, INVITE); ACK is never answered.
    async fn serve(self: Arc<Binding>, bytes: Vec<u8>, peer: Peer) {
        let request = match Message::parse_datagram_with(&bytes, &wire::limits()) {
            Ok(request) => request,
            Err(error) => {
                wire::reject_malformed(&self, &bytes, &peer, &error);
                return;
            }
        };
        let incoming = lock(&self.layer).receive(&request, peer.reliability(), Instant::now());
        let key = match incoming {
            Incoming::Request(key) => {
                lock(&self.server_peers).insert(key.clone(), peer.clone());
                Some(key)
            }
            Incoming::NotHandled(_) if request.is_request() && request.method() != "ACK" => None,
            _ => {
                self.pump();
                return;
            }
        };
        let response = self.answer(&request, &peer).await;
        let code = response.code();
        let out = match response.build() {
            Ok(out) => out,
            Err(error) => {
                tracing::warn!(%error, "SIP response could not be built");
                match wire::response(&request, &peer, 500, "Server Internal Error", None).build() {
                    Ok(out) => out,
                    Err(_) => return,
                }
            }
        };
        match key {
            Some(key) => {
                if let Err(error) = lock(&self.layer).respond(&key, code, out, Instant::now()) {
                    tracing::debug!(%error, "SIP response not sent");
                }
                self.pump();
                self.timer.notify_one();
            }
            None => {
                // Answered outside a transaction: nothing to tell.
                let _ = self.sockets.send(&peer, out);
            }
        }
    }

    /// The response to a request, by method (RFC 3261 s8.2).
    async fn answer(self: &Arc<Binding>, request: &Message<'_>, peer: &Peer) -> ResponseBuilder {
        let method = request.method();
        if let Some(scheme) = request.request_uri().map(cpim_sip::Uri::scheme) {
            if !scheme.eq_ignore_ascii_case("sip") && !scheme.eq_ignore_ascii_case("sips") {
                return wire::response(request, peer, 416, "Unsupported URI Scheme", None);
            }
        }
        if request.max_forwards() == Some(0) && method != "OPTIONS" {
            return wire::response(request, peer, 483, "Too Many Hops", None);
        }
        match method {
            "REGISTER" => registrar::register(self, request, peer).await,
            "MESSAGE" => im::message(self, request, peer).await,
            "SUBSCRIBE" => presence::subscribe(self, request, peer).await,
            "PUBLISH" => presence::publish(self, request, peer).await,
            "OPTIONS" => wire::response(request, peer, 200, "OK", Some(&wire::token()))
                .header("Allow", ALLOW)
                .header("Accept", "application/pidf+xml, message/cpim, text/plain")
                .header("Allow-Events", "presence"),
            "NOTIFY" => relay::notify(self, request, peer).await,
            "INVITE" | "BYE" | "CANCEL" | "INFO" | "UPDATE" | "PRACK" | "REFER" => {
                wire::response(request, peer, 405, "Method Not Allowed", None)
                    .header("Allow", ALLOW)
            }
            _ => wire::response(request, peer, 501, "Not Implemented", None).header("Allow", ALLOW),
        }
    }

    /// Sends a request in a client transaction and waits for its final
    /// response: code and reason phrase (408 on timer F, 503 on a
    /// transport error, RFC 3261 s8.1.3.1).
    pub async fn request(self: &Arc<Binding>, peer: &Peer, bytes: Vec<u8>) -> (u16, String) {
        let (code, reason, _) = self.request_full(peer, bytes).await;
        (code, reason)
    }

    /// As [`Binding::request`], with the final response's bytes.
    pub async fn request_full(self: &Arc<Binding>, peer: &Peer, bytes: Vec<u8>) -> Reply {
        let (reply, rx) = oneshot::channel();
        let started = lock(&self.layer).send_request(bytes, peer.reliability(), Instant::now());
        match started {
            Ok(key) => {
                lock(&self.waits).insert(
                    key,
                    Wait {
                        peer: peer.clone(),
                        reply,
                    },
                );
            }
            Err(error) => {
                tracing::warn!(%error, "SIP request not sent");
                return (503, "Service Unavailable".to_owned(), None);
            }
        }
        self.pump();
        self.timer.notify_one();
        rx.await
            .unwrap_or_else(|_| (408, "Request Timeout".to_owned(), None))
    }

    /// Sends what the transactions have queued and hands their events out;
    /// bytes that cannot leave are the transaction's transport error
    /// (RFC 3261 s17.1.4: a client transaction then ends with 503).
    fn pump(self: &Arc<Binding>) {
        loop {
            let mut transmits = Vec::new();
            let mut events = Vec::new();
            {
                let mut layer = lock(&self.layer);
                while let Some(t) = layer.poll_transmit() {
                    transmits.push(t);
                }
                while let Some(e) = layer.poll_event() {
                    events.push(e);
                }
            }
            let mut failed = Vec::new();
            for transmit in transmits {
                let (peer, bytes, failure) = match transmit {
                    Transmit::Request { key, bytes } => (
                        lock(&self.waits).get(&key).map(|w| w.peer.clone()),
                        bytes,
                        Transmit::Request {
                            key,
                            bytes: Vec::new(),
                        },
                    ),
                    Transmit::Response { key, bytes } => (
                        lock(&self.server_peers).get(&key).cloned(),
                        bytes,
                        Transmit::Response {
                            key,
                            bytes: Vec::new(),
                        },
                    ),
                    _ => continue,
                };
                let Some(peer) = peer else { continue };
                if peer.transport == TransportKind::Tcp
                    && matches!(failure, Transmit::Request { .. })
                    && self.is_next_hop(&peer)
                    && !self.sockets.can_reach(&peer)
                {
                    if self.sockets.wait_for_connection(&peer, bytes, failure) {
                        tokio::spawn(transport::connect(self.clone(), peer));
                    }
                } else if self.sockets.send(&peer, bytes).is_err() {
                    failed.push(failure);
                }
            }
            self.hand_out(events);
            if failed.is_empty() {
                break;
            }
            let mut layer = lock(&self.layer);
            for failure in &failed {
                layer.handle_transport_error(failure);
            }
        }
    }

    /// Transmits that could not leave: their transactions' transport
    /// errors, and what follows from them.
    fn transport_failed(self: &Arc<Binding>, failed: &[Transmit]) {
        if failed.is_empty() {
            return;
        }
        {
            let mut layer = lock(&self.layer);
            for failure in failed {
                layer.handle_transport_error(failure);
            }
        }
        self.pump();
    }

    /// Whether `peer` is exactly (transport, address and port) a configured
    /// next hop: connections to it are opened here when none is open, and
    /// nobody but that domain sends from there.
    fn is_next_hop(&self, peer: &Peer) -> bool {
        self.routes
            .values()
            .any(|hop| hop.transport == peer.transport && hop.addr == peer.addr)
    }

    /// Gives client transactions' outcomes to their waiters and forgets
    /// ended server transactions' peers.
    fn hand_out(&self, events: Vec<LayerEvent>) {
        for event in events {
            match event {
                LayerEvent::Client { key, event } => {
                    let answer = match event {
                        ClientEvent::Timeout => (408, "Request Timeout".to_owned(), None),
                        _ => (503, "Service Unavailable".to_owned(), None),
                    };
                    if let Some(wait) = lock(&self.waits).remove(&key) {
                        let _ = wait.reply.send(answer);
                    }
                }
                LayerEvent::ServerEnded { key } => {
                    lock(&self.server_peers).remove(&key);
                }
                _ => {}
            }
        }
    }

    /// The listener a peer talks to: its transport and address, for Via
    /// and Contact.
    fn local(&self, peer: &Peer) -> (TransportKind, SocketAddr) {
        self.locals
            .get(peer.local)
            .copied()
            .unwrap_or((peer.transport, peer.addr))
    }

    /// Whether `peer` is `domain`'s configured next hop, so its requests
    /// with a From of that domain are taken as the domain's (address-based
    /// peer trust). Over UDP the source must be the next hop's address and
    /// port; a TCP connection the next hop opens comes from an ephemeral
    /// port, so there its address alone counts.
    fn speaks_for(&self, peer: &Peer, domain: &str) -> bool {
        self.routes.get(domain).is_some_and(|hop| {
            hop.transport == peer.transport
                && (hop.addr == peer.addr
                    || (peer.transport != TransportKind::Udp && hop.addr.ip() == peer.addr.ip()))
        })
    }

    fn serves(&self, domain: &str) -> bool {
        self.domains.iter().any(|d| d == domain)
    }

    /// Runs `f` on the account table on a blocking thread.
    async fn with_accounts<T: Send + 'static>(
        self: &Arc<Binding>,
        f: impl FnOnce(&cpim_store::accounts::Accounts) -> Option<T> + Send + 'static,
    ) -> Option<T> {
        let binding = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut slot = lock(&binding.accounts);
            if slot.is_none() {
                match cpim_store::accounts::Accounts::open(&binding.data) {
                    Ok(accounts) => *slot = Some(accounts),
                    Err(error) => {
                        tracing::error!(%error, "SIP: account table not readable");
                        return None;
                    }
                }
            }
            slot.as_ref().and_then(f)
        })
        .await
        .ok()
        .flatten()
    }
}

/// The transaction timers: the defaults, with T1 from the configuration
/// (T2 stays at least T1).
fn transaction_timers(config: &SipConfig) -> Timers {
    let mut timers = Timers::default();
    if let Some(ms) = config.t1_ms.filter(|ms| *ms > 0) {
        timers.t1 = std::time::Duration::from_millis(ms);
        timers.t2 = timers.t2.max(timers.t1);
    }
    timers
}

/// Fires transaction timers.
async fn timers(binding: Arc<Binding>) {
    loop {
        let next = lock(&binding.layer).poll_timeout();
        match next {
            Some(at) => {
                tokio::select! {
                    () = tokio::time::sleep_until(at.into()) => {}
                    () = binding.timer.notified() => {}
                }
            }
            None => binding.timer.notified().await,
        }
        {
            let mut layer = lock(&binding.layer);
            layer.handle_timeout(Instant::now());
        }
        binding.pump();
    }
}

/// The open engine inbox of a SIP user.
pub struct Inbox {
    id: SessionId,
    reader: tokio::task::JoinHandle<()>,
}

/// Locks a mutex, taking it over from a thread that panicked while holding
/// it (every update here is a single insert, remove or field change).
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
