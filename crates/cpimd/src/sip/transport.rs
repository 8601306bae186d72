//! SIP transports (RFC 3261 s18): a UDP socket per listener, and TCP and
//! TLS (s26.2) listeners whose streams are framed by Content-Length
//! (s18.3) with `cpim-sip`'s stream parser. TLS uses the certificate
//! loading of the HTTP listener ([`crate::server::tls_acceptor`]).

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use cpim_sip::message::Status;
use cpim_sip::transaction::Transmit;
use cpim_sip::Message;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;

use super::{lock, Binding, Peer, StartError};

/// A transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransportKind {
    Udp,
    Tcp,
    Tls,
}

impl TransportKind {
    /// The name in Via (RFC 3261 s20.42).
    pub fn via(self) -> &'static str {
        match self {
            TransportKind::Udp => "UDP",
            TransportKind::Tcp => "TCP",
            TransportKind::Tls => "TLS",
        }
    }
}

impl fmt::Display for TransportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TransportKind::Udp => "udp",
            TransportKind::Tcp => "tcp",
            TransportKind::Tls => "tls",
        })
    }
}

/// One listener: `udp:ADDR:PORT`, `tcp:ADDR:PORT` or `tls:ADDR:PORT`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Listen {
    pub kind: TransportKind,
    pub addr: SocketAddr,
}

/// The `--sip` value is not a list of listeners.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ListenError {
    #[error("--sip: item {index} ({item:?}) is not TRANSPORT:ADDR:PORT")]
    Shape { index: usize, item: String },
    #[error("--sip: item {index}: transport {transport:?} is not udp, tcp or tls")]
    Transport { index: usize, transport: String },
    #[error("--sip: item {index}: {addr:?} is not ADDR:PORT")]
    Addr { index: usize, addr: String },
    #[error("--sip: no listener given")]
    Empty,
}

impl Listen {
    /// Parses `udp:127.0.0.1:5060,tcp:[::1]:5060,tls:127.0.0.1:5061`.
    pub fn parse_list(spec: &str) -> Result<Vec<Listen>, ListenError> {
        let mut out = Vec::new();
        for (index, item) in spec.split(',').map(str::trim).enumerate() {
            if item.is_empty() {
                continue;
            }
            let Some((transport, addr)) = item.split_once(':') else {
                return Err(ListenError::Shape {
                    index,
                    item: item.to_owned(),
                });
            };
            let kind = match transport.to_ascii_lowercase().as_str() {
                "udp" => TransportKind::Udp,
                "tcp" => TransportKind::Tcp,
                "tls" => TransportKind::Tls,
                _ => {
                    return Err(ListenError::Transport {
                        index,
                        transport: transport.to_owned(),
                    })
                }
            };
            let addr = addr.parse().map_err(|_| ListenError::Addr {
                index,
                addr: addr.to_owned(),
            })?;
            out.push(Listen { kind, addr });
        }
        if out.is_empty() {
            return Err(ListenError::Empty);
        }
        Ok(out)
    }
}

/// A bound listener.
pub struct Bound {
    pub kind: TransportKind,
    pub addr: SocketAddr,
    socket: BoundSocket,
}

enum BoundSocket {
    Udp(Arc<UdpSocket>),
    Tcp(TcpListener),
    Tls(TcpListener, TlsAcceptor),
}

/// Binds every listener; `tls` serves the TLS ones (the caller made sure
/// there is one when any is asked for).
pub async fn bind(listens: &[Listen], tls: Option<&TlsAcceptor>) -> Result<Vec<Bound>, StartError> {
    let mut out = Vec::new();
    for listen in listens {
        let error = |source| StartError::Bind {
            transport: listen.kind,
            addr: listen.addr,
            source,
        };
        let (socket, addr) = match listen.kind {
            TransportKind::Udp => {
                let socket = UdpSocket::bind(listen.addr).await.map_err(error)?;
                let addr = socket.local_addr().map_err(error)?;
                (BoundSocket::Udp(Arc::new(socket)), addr)
            }
            TransportKind::Tcp => {
                let socket = TcpListener::bind(listen.addr).await.map_err(error)?;
                let addr = socket.local_addr().map_err(error)?;
                (BoundSocket::Tcp(socket), addr)
            }
            TransportKind::Tls => {
                let Some(acceptor) = tls else {
                    return Err(StartError::Tls(format!(
                        "tls:{} needs a certificate and key",
                        listen.addr
                    )));
                };
                let socket = TcpListener::bind(listen.addr).await.map_err(error)?;
                let addr = socket.local_addr().map_err(error)?;
                (BoundSocket::Tls(socket, acceptor.clone()), addr)
            }
        };
        out.push(Bound {
            kind: listen.kind,
            addr,
            socket,
        });
    }
    Ok(out)
}

/// Where bytes go out: the UDP sockets, and the open TCP and TLS
/// connections by transport and peer address.
pub struct Sockets {
    udp: Vec<Option<Arc<UdpSocket>>>,
    streams: Mutex<HashMap<(TransportKind, SocketAddr), StreamSender>>,
    /// Next hops a TCP connection is being opened to, and the requests
    /// waiting for it (bytes, and the transmit to fail if it cannot open).
    connecting: Mutex<HashMap<SocketAddr, Vec<Waiting>>>,
}

/// A request waiting for its connection: its bytes, and the transmit that
/// names its transaction should the connection not open.
type Waiting = (Vec<u8>, Transmit);

/// Queues bytes for one connection's writer.
type StreamSender = mpsc::Sender<Vec<u8>>;

/// Messages queued for one connection before it counts as stuck.
const STREAM_QUEUE: usize = 256;

/// Longest a TCP connection to a next hop may take to open.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Longest a TLS handshake may take before the connection is dropped.
const HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Largest datagram read (RFC 3261 s18.1.1 leaves the limit to us; a
/// larger one is cut and then fails to parse).
const MAX_DATAGRAM: usize = 65_535;

impl Sockets {
    pub fn new(bound: &[Bound]) -> Sockets {
        Sockets {
            udp: bound
                .iter()
                .map(|b| match &b.socket {
                    BoundSocket::Udp(s) => Some(s.clone()),
                    BoundSocket::Tcp(_) | BoundSocket::Tls(..) => None,
                })
                .collect(),
            streams: Mutex::new(HashMap::new()),
            connecting: Mutex::new(HashMap::new()),
        }
    }

    /// Whether bytes for `peer` can go out now: UDP always, a stream
    /// transport when a connection to it is open.
    pub fn can_reach(&self, peer: &Peer) -> bool {
        match peer.transport {
            TransportKind::Udp => true,
            _ => lock(&self.streams).contains_key(&(peer.transport, peer.addr)),
        }
    }

    /// Queues a request for a next hop a TCP connection is to be opened
    /// to; true when no connection attempt runs yet (the caller starts
    /// [`connect`]).
    pub fn wait_for_connection(&self, peer: &Peer, bytes: Vec<u8>, failure: Transmit) -> bool {
        let mut connecting = lock(&self.connecting);
        let waiting = connecting.entry(peer.addr).or_default();
        waiting.push((bytes, failure));
        waiting.len() == 1
    }

    /// Sends bytes to a peer. An error means the bytes cannot leave (no
    /// connection to that peer, a socket error): a transport error in RFC
    /// 3261 s17.1.4's sense. A lost datagram is no error; the
    /// transaction's timers notice it.
    pub fn send(&self, peer: &Peer, bytes: Vec<u8>) -> Result<(), SendError> {
        match peer.transport {
            TransportKind::Udp => {
                let Some(Some(socket)) = self.udp.get(peer.local) else {
                    return Err(SendError::NoSocket);
                };
                match socket.try_send_to(&bytes, peer.addr) {
                    Ok(_) => Ok(()),
                    Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {
                        let socket = socket.clone();
                        let addr = peer.addr;
                        tokio::spawn(async move {
                            let _ = socket.send_to(&bytes, addr).await;
                        });
                        Ok(())
                    }
                    Err(error) => {
                        tracing::debug!(%error, addr = %peer.addr, "SIP UDP send failed");
                        Err(SendError::Io(error.kind()))
                    }
                }
            }
            TransportKind::Tcp | TransportKind::Tls => {
                let sender = lock(&self.streams)
                    .get(&(peer.transport, peer.addr))
                    .cloned();
                let Some(sender) = sender else {
                    tracing::debug!(addr = %peer.addr, transport = %peer.transport, "no SIP connection to peer");
                    return Err(SendError::NoConnection);
                };
                sender.try_send(bytes).map_err(|_| {
                    tracing::debug!(addr = %peer.addr, transport = %peer.transport, "SIP connection stuck or closed");
                    SendError::Stuck
                })
            }
        }
    }
}

/// Why bytes could not be sent to a peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    #[error("no socket for the listener")]
    NoSocket,
    #[error("no open connection to the peer")]
    NoConnection,
    #[error("the connection's queue is full or closed")]
    Stuck,
    #[error("socket error: {0}")]
    Io(std::io::ErrorKind),
}

/// Starts the receive tasks.
pub fn spawn(binding: &Arc<Binding>, bound: Vec<Bound>) {
    for (local, b) in bound.into_iter().enumerate() {
        let binding = binding.clone();
        match b.socket {
            BoundSocket::Udp(socket) => {
                tokio::spawn(udp_loop(binding, socket, local));
            }
            BoundSocket::Tcp(listener) => {
                tokio::spawn(tcp_accept(binding, listener, local, None));
            }
            BoundSocket::Tls(listener, acceptor) => {
                tokio::spawn(tcp_accept(binding, listener, local, Some(acceptor)));
            }
        }
    }
}

async fn udp_loop(binding: Arc<Binding>, socket: Arc<UdpSocket>, local: usize) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        match socket.recv_from(&mut buf).await {
            Ok((n, addr)) => {
                let Some(bytes) = buf.get(..n) else { continue };
                // Keep-alives (RFC 5626 s3.5.1) and stray blank datagrams.
                if bytes.iter().all(|b| matches!(b, b'\r' | b'\n' | 0)) {
                    continue;
                }
                let peer = Peer {
                    local,
                    transport: TransportKind::Udp,
                    addr,
                };
                binding.receive(bytes.to_vec(), peer);
            }
            Err(error) => {
                // ICMP errors surface here on some systems; keep serving.
                tracing::debug!(%error, "SIP UDP receive");
            }
        }
    }
}

/// Accepts connections; with `tls`, each does its TLS handshake first.
async fn tcp_accept(
    binding: Arc<Binding>,
    listener: TcpListener,
    local: usize,
    tls: Option<TlsAcceptor>,
) {
    loop {
        match listener.accept().await {
            Ok((stream, addr)) => {
                let binding = binding.clone();
                match tls.clone() {
                    None => {
                        let rx = register(&binding, TransportKind::Tcp, addr);
                        tokio::spawn(connection(
                            binding,
                            stream,
                            addr,
                            local,
                            TransportKind::Tcp,
                            rx,
                        ));
                    }
                    Some(acceptor) => {
                        tokio::spawn(async move {
                            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream))
                                .await
                            {
                                Ok(Ok(stream)) => {
                                    let rx = register(&binding, TransportKind::Tls, addr);
                                    connection(
                                        binding,
                                        stream,
                                        addr,
                                        local,
                                        TransportKind::Tls,
                                        rx,
                                    )
                                    .await;
                                }
                                Ok(Err(error)) => {
                                    tracing::debug!(%addr, %error, "SIP TLS handshake failed");
                                }
                                Err(_) => tracing::debug!(%addr, "SIP TLS handshake timed out"),
                            }
                        });
                    }
                }
            }
            Err(error) => {
                tracing::warn!(%error, "SIP TCP accept");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}

/// Makes `addr` reachable over `transport`: what is sent to it from now on
/// queues for the connection's writer.
fn register(
    binding: &Binding,
    transport: TransportKind,
    addr: SocketAddr,
) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel::<Vec<u8>>(STREAM_QUEUE);
    lock(&binding.sockets.streams).insert((transport, addr), tx);
    rx
}

/// Opens a TCP connection to a next hop that has none (RFC 3261 s18.1.1:
/// the client opens one when it has none to reuse), serves it like an
/// accepted one (responses and the hop's requests come back on it), and
/// sends what waited for it. When it cannot be opened, every waiting
/// request has its transport error.
pub async fn connect(binding: Arc<Binding>, peer: Peer) {
    let opened = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(peer.addr)).await;
    let waiting = |binding: &Binding| {
        lock(&binding.sockets.connecting)
            .remove(&peer.addr)
            .unwrap_or_default()
    };
    let failed: Vec<Transmit> = match opened {
        Ok(Ok(stream)) => {
            let rx = register(&binding, TransportKind::Tcp, peer.addr);
            tokio::spawn(connection(
                binding.clone(),
                stream,
                peer.addr,
                peer.local,
                TransportKind::Tcp,
                rx,
            ));
            waiting(&binding)
                .into_iter()
                .filter_map(|(bytes, failure)| {
                    binding.sockets.send(&peer, bytes).err().map(|_| failure)
                })
                .collect()
        }
        Ok(Err(error)) => {
            tracing::debug!(%error, addr = %peer.addr, "SIP TCP connection to next hop failed");
            waiting(&binding)
                .into_iter()
                .map(|(_, failure)| failure)
                .collect()
        }
        Err(_) => {
            tracing::debug!(addr = %peer.addr, "SIP TCP connection to next hop timed out");
            waiting(&binding)
                .into_iter()
                .map(|(_, failure)| failure)
                .collect()
        }
    };
    binding.transport_failed(&failed);
}

/// Serves one TCP or TLS connection: messages framed out of the byte
/// stream go to the binding; what the binding sends to this peer is
/// written in order.
async fn connection<S>(
    binding: Arc<Binding>,
    stream: S,
    addr: SocketAddr,
    local: usize,
    transport: TransportKind,
    mut rx: mpsc::Receiver<Vec<u8>>,
) where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (mut read, mut write) = tokio::io::split(stream);
    let writer = tokio::spawn(async move {
        while let Some(bytes) = rx.recv().await {
            if write.write_all(&bytes).await.is_err() {
                break;
            }
            if write.flush().await.is_err() {
                break;
            }
        }
    });
    let peer = Peer {
        local,
        transport,
        addr,
    };
    let limits = super::wire::limits();
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let mut chunk = vec![0u8; 16 * 1024];
    'read: loop {
        let n = match read.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        buf.extend_from_slice(chunk.get(..n).unwrap_or(&[]));
        loop {
            // Keep-alive CRLFs between messages (RFC 5626 s3.5.1).
            let blank = buf
                .iter()
                .take_while(|b| matches!(b, b'\r' | b'\n'))
                .count();
            if blank == buf.len() {
                buf.clear();
                break;
            }
            let framed = match Message::parse_stream_with(&buf, &limits) {
                Ok(Status::Complete(_, used)) => Ok(Some(used)),
                Ok(_) => Ok(None),
                Err(error) => Err(error),
            };
            match framed {
                Ok(Some(used)) => {
                    let message: Vec<u8> = buf.drain(..used).skip(blank).collect();
                    binding.receive(message, peer.clone());
                }
                Ok(None) => {
                    if buf.len() > limits.max_message {
                        break 'read;
                    }
                    break;
                }
                Err(error) => {
                    // A stream cannot be resynchronised after a framing
                    // error (RFC 3261 s18.3): answer if possible, then close.
                    super::wire::reject_malformed(&binding, &buf, &peer, &error);
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    break 'read;
                }
            }
        }
    }
    lock(&binding.sockets.streams).remove(&(transport, addr));
    writer.abort();
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn listen_list_parses_and_names_bad_items() {
        let list =
            Listen::parse_list("udp:127.0.0.1:5060, tcp:[::1]:0,TLS:127.0.0.1:5061").unwrap();
        assert_eq!(list.len(), 3);
        assert_eq!(list[0].kind, TransportKind::Udp);
        assert_eq!(list[1].kind, TransportKind::Tcp);
        assert_eq!(list[1].addr.port(), 0);
        assert_eq!(list[2].kind, TransportKind::Tls);
        assert_eq!(list[2].kind.via(), "TLS");
        assert_eq!(
            Listen::parse_list("sctp:127.0.0.1:1").unwrap_err(),
            ListenError::Transport {
                index: 0,
                transport: "sctp".into()
            }
        );
        assert_eq!(
            Listen::parse_list("udp:127.0.0.1:1,tcp:nohost").unwrap_err(),
            ListenError::Addr {
                index: 1,
                addr: "nohost".into()
            }
        );
        assert_eq!(Listen::parse_list(" , ").unwrap_err(), ListenError::Empty);
        assert!(matches!(
            Listen::parse_list("udp").unwrap_err(),
            ListenError::Shape { index: 0, .. }
        ));
    }
}
