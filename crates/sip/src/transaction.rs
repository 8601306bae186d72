//! Non-INVITE transactions: the client (RFC 3261 s17.1.2) and server
//! (s17.2.2) state machines, matching of responses (s17.1.3) and requests
//! (s17.2.3), and a table of live transactions.
//!
//! Sans-IO in the quinn style: the caller passes the time in
//! (`handle_timeout(now)`), asks when to call next (`poll_timeout()`), and
//! takes the bytes to send (`poll_transmit()`). Each state is a value that a
//! transition consumes, so a handler cannot act on a state it has left.
//!
//! Only RFC 3261 branches (`z9hG4bK...`) identify transactions; RFC 2543
//! matching is not implemented. INVITE transactions are not here: the
//! layer reports INVITE and ACK requests as
//! [`Incoming::NotHandled`](crate::transaction::Incoming::NotHandled).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::headers::MAGIC_COOKIE;
use crate::message::Message;

/// Timer values (RFC 3261 s17.1.1.1, Table 4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timers {
    /// RTT estimate, 500 ms by default.
    pub t1: Duration,
    /// Longest retransmit interval for non-INVITE requests, 4 s by default.
    pub t2: Duration,
    /// Longest time a message stays in the network, 5 s by default.
    pub t4: Duration,
}

impl Default for Timers {
    fn default() -> Timers {
        Timers {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
        }
    }
}

impl Timers {
    /// Timer F and timer J: 64*T1.
    pub fn timeout(&self) -> Duration {
        self.t1 * 64
    }
}

/// Whether the transport retransmits for us (TCP, TLS, SCTP, WS) or not
/// (UDP). Timers E, K and J depend on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reliability {
    Unreliable,
    Reliable,
}

/// Why a message does not identify a transaction.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    #[error("the top Via has no branch starting with z9hG4bK (RFC 2543 peers are not supported)")]
    NoRfc3261Branch,
    #[error("an INVITE or ACK is not a non-INVITE transaction")]
    Invite,
    #[error("a response where a request was expected, or the reverse")]
    WrongDirection,
}

/// A client transaction's identity for matching responses (s17.1.3):
/// the top Via branch and the CSeq method.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientKey {
    // Shared text: a key is cloned into the table, the ready queue and the
    // deadline heap, and handed to the user; a clone is a count increment.
    branch: Arc<str>,
    method: Arc<str>,
}

impl ClientKey {
    /// The key of a request we send, or of a response we receive.
    pub fn of(message: &Message<'_>) -> Result<ClientKey, KeyError> {
        let branch = rfc3261_branch(message)?;
        Ok(ClientKey {
            branch: branch.into(),
            method: message.cseq().method.into(),
        })
    }

    pub fn branch(&self) -> &str {
        &self.branch
    }

    pub fn method(&self) -> &str {
        &self.method
    }
}

/// A server transaction's identity for matching requests (s17.2.3): the
/// top Via branch and sent-by, and the method (ACK matches INVITE).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServerKey {
    // Shared text, as in `ClientKey`.
    branch: Arc<str>,
    host: Arc<str>,
    port: Option<u16>,
    method: Arc<str>,
}

impl ServerKey {
    /// The key of a request we receive.
    pub fn of(request: &Message<'_>) -> Result<ServerKey, KeyError> {
        if !request.is_request() {
            return Err(KeyError::WrongDirection);
        }
        let branch = rfc3261_branch(request)?;
        let via = request.via().first().ok_or(KeyError::NoRfc3261Branch)?;
        let method = match request.method() {
            "ACK" => "INVITE",
            other => other,
        };
        Ok(ServerKey {
            branch: branch.into(),
            host: via.host().to_string().to_ascii_lowercase().into(),
            port: via.port(),
            method: method.into(),
        })
    }

    pub fn branch(&self) -> &str {
        &self.branch
    }

    pub fn method(&self) -> &str {
        &self.method
    }
}

fn rfc3261_branch<'a>(message: &Message<'a>) -> Result<&'a str, KeyError> {
    let via = message.via().first().ok_or(KeyError::NoRfc3261Branch)?;
    match via.branch() {
        Some(b) if b.len() > MAGIC_COOKIE.len() && b.starts_with(MAGIC_COOKIE) => Ok(b),
        _ => Err(KeyError::NoRfc3261Branch),
    }
}

/// What to do with a response a client transaction received.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Disposition {
    /// Pass it to the transaction user.
    Deliver,
    /// A retransmission, or too late: drop it.
    Absorb,
}

/// The client transaction's state (Figure 6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientState {
    Trying,
    Proceeding,
    Completed,
    Terminated,
}

/// What a client transaction tells its user apart from responses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientEvent {
    /// Timer F fired with no final response (s17.1.2.2): treat as 408.
    Timeout,
    /// The transport failed (s17.1.4): treat as 503.
    TransportError,
}

/// The state and its timers. Transitions consume the old state.
#[derive(Clone, Debug)]
enum Client {
    Trying {
        /// Timer E: next retransmission (unreliable transports only).
        e: Option<Instant>,
        e_interval: Duration,
        /// Timer F.
        f: Instant,
    },
    Proceeding {
        e: Option<Instant>,
        f: Instant,
    },
    Completed {
        /// Timer K.
        k: Instant,
    },
    Terminated,
}

/// What a timer firing asks of the transaction.
enum Action {
    None,
    Retransmit,
    Event(ClientEvent),
}

impl Client {
    fn on_response(
        self,
        code: u16,
        now: Instant,
        timers: &Timers,
        rel: Reliability,
    ) -> (Client, Disposition) {
        match self {
            Client::Trying { e, f, .. } | Client::Proceeding { e, f } if code < 200 => {
                (Client::Proceeding { e, f }, Disposition::Deliver)
            }
            Client::Trying { .. } | Client::Proceeding { .. } => {
                let next = match rel {
                    // Timer K is zero on reliable transports.
                    Reliability::Reliable => Client::Terminated,
                    Reliability::Unreliable => Client::Completed { k: now + timers.t4 },
                };
                (next, Disposition::Deliver)
            }
            state @ (Client::Completed { .. } | Client::Terminated) => (state, Disposition::Absorb),
        }
    }

    fn deadline(&self) -> Option<Instant> {
        match self {
            Client::Trying { e, f, .. } | Client::Proceeding { e, f } => {
                Some(e.map_or(*f, |e| e.min(*f)))
            }
            Client::Completed { k } => Some(*k),
            Client::Terminated => None,
        }
    }

    /// Fires the earliest timer, due at `at`. Timer F wins a tie with E.
    fn on_timer(self, at: Instant, timers: &Timers) -> (Client, Action) {
        match self {
            Client::Trying { f, .. } | Client::Proceeding { f, .. } if f <= at => {
                (Client::Terminated, Action::Event(ClientEvent::Timeout))
            }
            Client::Trying {
                e: Some(e),
                e_interval,
                f,
            } if e <= at => {
                let interval = (e_interval * 2).min(timers.t2);
                let next = Client::Trying {
                    e: Some(e + interval),
                    e_interval: interval,
                    f,
                };
                (next, Action::Retransmit)
            }
            Client::Proceeding { e: Some(e), f } if e <= at => (
                Client::Proceeding {
                    e: Some(e + timers.t2),
                    f,
                },
                Action::Retransmit,
            ),
            Client::Completed { k } if k <= at => (Client::Terminated, Action::None),
            state => (state, Action::None),
        }
    }

    fn state(&self) -> ClientState {
        match self {
            Client::Trying { .. } => ClientState::Trying,
            Client::Proceeding { .. } => ClientState::Proceeding,
            Client::Completed { .. } => ClientState::Completed,
            Client::Terminated => ClientState::Terminated,
        }
    }
}

/// A non-INVITE client transaction (RFC 3261 s17.1.2).
#[derive(Clone, Debug)]
pub struct ClientTransaction {
    key: ClientKey,
    request: Vec<u8>,
    timers: Timers,
    reliability: Reliability,
    state: Client,
    pending: usize,
    events: VecDeque<ClientEvent>,
}

impl ClientTransaction {
    /// Starts a transaction for `request` (the bytes to send), which must
    /// parse and carry an RFC 3261 branch. The first transmission is queued.
    pub fn start(
        request: Vec<u8>,
        reliability: Reliability,
        timers: Timers,
        now: Instant,
    ) -> Result<ClientTransaction, StartError> {
        let message = Message::parse_datagram(&request).map_err(StartError::Syntax)?;
        if !message.is_request() {
            return Err(StartError::Key(KeyError::WrongDirection));
        }
        if matches!(message.method(), "INVITE" | "ACK") {
            return Err(StartError::Key(KeyError::Invite));
        }
        let key = ClientKey::of(&message).map_err(StartError::Key)?;
        let e = match reliability {
            Reliability::Unreliable => Some(now + timers.t1),
            Reliability::Reliable => None,
        };
        Ok(ClientTransaction {
            key,
            request,
            timers,
            reliability,
            state: Client::Trying {
                e,
                e_interval: timers.t1,
                f: now + timers.timeout(),
            },
            pending: 1,
            events: VecDeque::new(),
        })
    }

    pub fn key(&self) -> &ClientKey {
        &self.key
    }

    pub fn state(&self) -> ClientState {
        self.state.state()
    }

    /// The request bytes to send now, once per queued (re)transmission.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        if self.pending == 0 {
            return None;
        }
        self.pending -= 1;
        Some(self.request.clone())
    }

    /// When `handle_timeout` must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.state.deadline()
    }

    /// Fires every timer due at or before `now`, in order.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(at) = self.state.deadline().filter(|at| *at <= now) {
            let state = std::mem::replace(&mut self.state, Client::Terminated);
            let (next, action) = state.on_timer(at, &self.timers);
            self.state = next;
            match action {
                Action::Retransmit => self.pending += 1,
                Action::Event(event) => self.events.push_back(event),
                Action::None => {}
            }
        }
    }

    /// A response matched to this transaction: deliver it to the user or
    /// absorb it.
    pub fn handle_response(&mut self, code: u16, now: Instant) -> Disposition {
        let state = std::mem::replace(&mut self.state, Client::Terminated);
        let (next, disposition) = state.on_response(code, now, &self.timers, self.reliability);
        self.state = next;
        disposition
    }

    /// The transport could not send the request (s17.1.4).
    pub fn handle_transport_error(&mut self) {
        if !matches!(self.state, Client::Terminated) {
            self.state = Client::Terminated;
            self.events.push_back(ClientEvent::TransportError);
        }
        self.pending = 0;
    }

    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop_front()
    }

    pub fn is_terminated(&self) -> bool {
        matches!(self.state, Client::Terminated)
    }
}

/// A client transaction could not start.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    #[error("the request does not parse: {0}")]
    Syntax(crate::error::SipError),
    #[error(transparent)]
    Key(KeyError),
}

/// The server transaction's state (Figure 8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerState {
    Trying,
    Proceeding,
    Completed,
    Terminated,
}

#[derive(Clone, Debug)]
enum Server {
    Trying,
    Proceeding { last: Vec<u8> },
    Completed { last: Vec<u8>, j: Instant },
    Terminated,
}

/// The user tried to respond where the transaction no longer can.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RespondError {
    #[error("a final response was already sent (s17.2.2: later ones are discarded)")]
    AlreadyCompleted,
    #[error("no server transaction with this key")]
    NoTransaction,
    #[error("status code {0} is outside 100..=699")]
    InvalidStatusCode(u16),
}

impl Server {
    fn respond(
        self,
        code: u16,
        bytes: Vec<u8>,
        now: Instant,
        timers: &Timers,
        rel: Reliability,
    ) -> Result<Server, (Server, RespondError)> {
        match self {
            Server::Trying | Server::Proceeding { .. } if code < 200 => {
                Ok(Server::Proceeding { last: bytes })
            }
            Server::Trying | Server::Proceeding { .. } => Ok(match rel {
                // Timer J is zero on reliable transports; the response is
                // still sent.
                Reliability::Reliable => Server::Terminated,
                Reliability::Unreliable => Server::Completed {
                    last: bytes,
                    j: now + timers.timeout(),
                },
            }),
            state => Err((state, RespondError::AlreadyCompleted)),
        }
    }

    fn state(&self) -> ServerState {
        match self {
            Server::Trying => ServerState::Trying,
            Server::Proceeding { .. } => ServerState::Proceeding,
            Server::Completed { .. } => ServerState::Completed,
            Server::Terminated => ServerState::Terminated,
        }
    }
}

/// A non-INVITE server transaction (RFC 3261 s17.2.2).
#[derive(Clone, Debug)]
pub struct ServerTransaction {
    key: ServerKey,
    timers: Timers,
    reliability: Reliability,
    state: Server,
    transmits: VecDeque<Vec<u8>>,
}

impl ServerTransaction {
    /// A transaction for a request just received (state Trying); the
    /// request goes to the user.
    pub fn new(
        request: &Message<'_>,
        reliability: Reliability,
        timers: Timers,
    ) -> Result<ServerTransaction, KeyError> {
        if matches!(request.method(), "INVITE" | "ACK") {
            return Err(KeyError::Invite);
        }
        Ok(ServerTransaction {
            key: ServerKey::of(request)?,
            timers,
            reliability,
            state: Server::Trying,
            transmits: VecDeque::new(),
        })
    }

    pub fn key(&self) -> &ServerKey {
        &self.key
    }

    pub fn state(&self) -> ServerState {
        self.state.state()
    }

    /// The request arrived again: absorbed in Trying, answered with the last
    /// response in Proceeding and Completed.
    pub fn handle_retransmission(&mut self) {
        match &self.state {
            Server::Proceeding { last } | Server::Completed { last, .. } => {
                self.transmits.push_back(last.clone());
            }
            Server::Trying | Server::Terminated => {}
        }
    }

    /// The user sends a response (`bytes`, with status `code`).
    pub fn respond(&mut self, code: u16, bytes: Vec<u8>, now: Instant) -> Result<(), RespondError> {
        if !(100..=699).contains(&code) {
            return Err(RespondError::InvalidStatusCode(code));
        }
        let state = std::mem::replace(&mut self.state, Server::Terminated);
        match state.respond(code, bytes.clone(), now, &self.timers, self.reliability) {
            Ok(next) => {
                self.state = next;
                self.transmits.push_back(bytes);
                Ok(())
            }
            Err((state, error)) => {
                self.state = state;
                Err(error)
            }
        }
    }

    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.transmits.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            Server::Completed { j, .. } => Some(j),
            _ => None,
        }
    }

    /// Timer J: Completed ends when it fires.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Server::Completed { j, .. } = self.state {
            if j <= now {
                self.state = Server::Terminated;
            }
        }
    }

    /// The transport could not send a response (s17.2.4).
    pub fn handle_transport_error(&mut self) {
        self.state = Server::Terminated;
        self.transmits.clear();
    }

    pub fn is_terminated(&self) -> bool {
        matches!(self.state, Server::Terminated)
    }
}

/// What the layer did with a received message.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Incoming {
    /// A new request: a server transaction was created; pass the request
    /// to the user and answer with [`TransactionLayer::respond`].
    Request(ServerKey),
    /// A retransmitted request, absorbed or answered by its transaction.
    Retransmission(ServerKey),
    /// A response for a client transaction; pass it to the user.
    Response(ClientKey),
    /// A response its transaction absorbed.
    Absorbed(ClientKey),
    /// A response that matches no transaction (s17.1.3: drop it, or hand
    /// it to the core of a stateless proxy).
    Stray,
    /// An INVITE or ACK, or a request without an RFC 3261 branch: not for
    /// this layer.
    NotHandled(KeyError),
}

/// Bytes to send, and which transaction they belong to (the caller knows
/// where that transaction sends).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Transmit {
    Request { key: ClientKey, bytes: Vec<u8> },
    Response { key: ServerKey, bytes: Vec<u8> },
}

/// What the layer tells the user apart from messages.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LayerEvent {
    Client {
        key: ClientKey,
        event: ClientEvent,
    },
    /// A server transaction ended and left the table: whatever the user
    /// keeps for it (where its responses go) can go too.
    ServerEnded {
        key: ServerKey,
    },
}

/// The live non-INVITE transactions, keyed as s17.1.3 and s17.2.3 say.
/// Terminated transactions are removed.
///
/// Every operation costs in proportion to the transactions it touches, not
/// to all live ones: a server on UDP keeps each answered transaction for
/// timer J (32 s), so at thousands of requests a second the table holds
/// hundreds of thousands. Transactions with bytes to send wait in a queue,
/// and deadlines in a min-heap that may hold stale entries (a deadline that
/// moved, a transaction that ended); a stale entry costs one look-up when
/// it comes due, and [`TransactionLayer::poll_timeout`] may name a time
/// when nothing is due, which only wakes the caller early.
#[derive(Clone, Debug, Default)]
pub struct TransactionLayer {
    timers: Timers,
    clients: HashMap<ClientKey, Entry<ClientTransaction>>,
    servers: HashMap<ServerKey, Entry<ServerTransaction>>,
    /// Transactions that may have bytes to send, in order.
    ready: VecDeque<TxKey>,
    /// Deadlines, earliest first.
    deadlines: BinaryHeap<Reverse<(Instant, TxKey)>>,
    events: VecDeque<LayerEvent>,
}

/// A transaction and the deadline the heap has for it.
#[derive(Clone, Debug)]
struct Entry<T> {
    tx: T,
    scheduled: Option<Instant>,
}

/// Either kind of key, for the queue and the heap.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum TxKey {
    Client(ClientKey),
    Server(ServerKey),
}

impl TransactionLayer {
    pub fn new(timers: Timers) -> TransactionLayer {
        TransactionLayer {
            timers,
            ..TransactionLayer::default()
        }
    }

    /// A message from the transport, already parsed.
    pub fn receive(
        &mut self,
        message: &Message<'_>,
        reliability: Reliability,
        now: Instant,
    ) -> Incoming {
        if message.is_request() {
            if matches!(message.method(), "INVITE" | "ACK") {
                return Incoming::NotHandled(KeyError::Invite);
            }
            let key = match ServerKey::of(message) {
                Ok(key) => key,
                Err(error) => return Incoming::NotHandled(error),
            };
            if let Some(entry) = self.servers.get_mut(&key) {
                entry.tx.handle_retransmission();
                self.ready.push_back(TxKey::Server(key.clone()));
                return Incoming::Retransmission(key);
            }
            match ServerTransaction::new(message, reliability, self.timers) {
                Ok(tx) => {
                    self.servers.insert(
                        key.clone(),
                        Entry {
                            tx,
                            scheduled: None,
                        },
                    );
                    Incoming::Request(key)
                }
                Err(error) => Incoming::NotHandled(error),
            }
        } else {
            let Ok(key) = ClientKey::of(message) else {
                return Incoming::Stray;
            };
            let Some(entry) = self.clients.get_mut(&key) else {
                return Incoming::Stray;
            };
            let code = message.status_code().unwrap_or(0);
            let disposition = entry.tx.handle_response(code, now);
            self.settle(TxKey::Client(key.clone()));
            match disposition {
                Disposition::Deliver => Incoming::Response(key),
                Disposition::Absorb => Incoming::Absorbed(key),
            }
        }
    }

    /// Starts a client transaction for a request to send.
    pub fn send_request(
        &mut self,
        request: Vec<u8>,
        reliability: Reliability,
        now: Instant,
    ) -> Result<ClientKey, StartError> {
        let tx = ClientTransaction::start(request, reliability, self.timers, now)?;
        let key = tx.key().clone();
        self.clients.insert(
            key.clone(),
            Entry {
                tx,
                scheduled: None,
            },
        );
        self.ready.push_back(TxKey::Client(key.clone()));
        self.settle(TxKey::Client(key.clone()));
        Ok(key)
    }

    /// The user's response to a request the layer reported as new.
    pub fn respond(
        &mut self,
        key: &ServerKey,
        code: u16,
        bytes: Vec<u8>,
        now: Instant,
    ) -> Result<(), RespondError> {
        let entry = self
            .servers
            .get_mut(key)
            .ok_or(RespondError::NoTransaction)?;
        entry.tx.respond(code, bytes, now)?;
        self.ready.push_back(TxKey::Server(key.clone()));
        self.settle(TxKey::Server(key.clone()));
        Ok(())
    }

    pub fn client(&self, key: &ClientKey) -> Option<&ClientTransaction> {
        self.clients.get(key).map(|e| &e.tx)
    }

    pub fn server(&self, key: &ServerKey) -> Option<&ServerTransaction> {
        self.servers.get(key).map(|e| &e.tx)
    }

    /// The transport failed for a transaction's message.
    pub fn handle_transport_error(&mut self, transmit: &Transmit) {
        match transmit {
            Transmit::Request { key, .. } => {
                if let Some(entry) = self.clients.get_mut(key) {
                    entry.tx.handle_transport_error();
                    self.settle(TxKey::Client(key.clone()));
                }
            }
            Transmit::Response { key, .. } => {
                if let Some(entry) = self.servers.get_mut(key) {
                    entry.tx.handle_transport_error();
                    self.settle(TxKey::Server(key.clone()));
                }
            }
        }
    }

    /// The next bytes to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        while let Some(key) = self.ready.front().cloned() {
            let bytes = match &key {
                TxKey::Client(k) => self.clients.get_mut(k).and_then(|e| e.tx.poll_transmit()),
                TxKey::Server(k) => self.servers.get_mut(k).and_then(|e| e.tx.poll_transmit()),
            };
            match bytes {
                Some(bytes) => {
                    return Some(match key {
                        TxKey::Client(key) => Transmit::Request { key, bytes },
                        TxKey::Server(key) => Transmit::Response { key, bytes },
                    })
                }
                None => {
                    self.ready.pop_front();
                    self.settle(key);
                }
            }
        }
        None
    }

    /// The earliest timer of any transaction (or earlier: see the type's
    /// documentation).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadlines.peek().map(|Reverse((at, _))| *at)
    }

    /// Fires the timers due at or before `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(Reverse((at, _))) = self.deadlines.peek() {
            if *at > now {
                break;
            }
            let Some(Reverse((at, key))) = self.deadlines.pop() else {
                break;
            };
            match &key {
                TxKey::Client(k) => match self.clients.get_mut(k) {
                    Some(entry) if entry.scheduled == Some(at) => {
                        entry.scheduled = None;
                        let before = entry.tx.pending;
                        entry.tx.handle_timeout(now);
                        if entry.tx.pending > before {
                            self.ready.push_back(key.clone());
                        }
                    }
                    _ => continue,
                },
                TxKey::Server(k) => match self.servers.get_mut(k) {
                    Some(entry) if entry.scheduled == Some(at) => {
                        entry.scheduled = None;
                        entry.tx.handle_timeout(now);
                    }
                    _ => continue,
                },
            }
            self.settle(key);
        }
    }

    pub fn poll_event(&mut self) -> Option<LayerEvent> {
        self.events.pop_front()
    }

    /// Number of live client and server transactions.
    pub fn len(&self) -> (usize, usize) {
        (self.clients.len(), self.servers.len())
    }

    /// After a transaction was touched: moves its events to the layer,
    /// schedules its next deadline when it changed (the heap entry for the
    /// old one stays behind, stale), and drops the transaction once
    /// terminated with nothing left to send.
    fn settle(&mut self, key: TxKey) {
        let push = match &key {
            TxKey::Client(k) => {
                let Some(entry) = self.clients.get_mut(k) else {
                    return;
                };
                while let Some(event) = entry.tx.poll_event() {
                    self.events.push_back(LayerEvent::Client {
                        key: k.clone(),
                        event,
                    });
                }
                if entry.tx.is_terminated() && entry.tx.pending == 0 {
                    self.clients.remove(k);
                    return;
                }
                reschedule(entry, entry.tx.poll_timeout())
            }
            TxKey::Server(k) => {
                let Some(entry) = self.servers.get_mut(k) else {
                    return;
                };
                if entry.tx.is_terminated() && entry.tx.transmits.is_empty() {
                    self.servers.remove(k);
                    self.events
                        .push_back(LayerEvent::ServerEnded { key: k.clone() });
                    return;
                }
                reschedule(entry, entry.tx.poll_timeout())
            }
        };
        if let Some(at) = push {
            self.deadlines.push(Reverse((at, key)));
        }
    }
}

/// Records `deadline` as the entry's; returns it when it is new and must go
/// on the heap.
fn reschedule<T>(entry: &mut Entry<T>, deadline: Option<Instant>) -> Option<Instant> {
    if deadline == entry.scheduled {
        return None;
    }
    entry.scheduled = deadline;
    deadline
}
