//! A running cpimd with SIP listeners, and a small SIP user agent over UDP,
//! TCP or TLS built on cpim-sip, for the sip_*.rs tests.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use cpim_sip::digest::{self, Qop};
use cpim_sip::{Message, RequestBuilder};
use futures_util::StreamExt;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

/// Guard against a hung test; not an assertion about speed.
pub const PATIENCE: Duration = Duration::from_secs(15);

pub struct Server {
    child: Child,
    pub http: String,
    pub udp: SocketAddr,
    pub tcp: SocketAddr,
    pub tls: SocketAddr,
    pub users: Vec<cpim_store::accounts::NewAccount>,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts cpimd for example.com with alice and bob, policy `allow`.
pub fn start() -> Server {
    start_with_policy("allow")
}

/// Starts cpimd with this default watcher policy (`allow`, `deny`, `ask`).
pub fn start_with_policy(policy: &str) -> Server {
    start_custom(
        "example.com",
        &["alice@example.com", "bob@example.com"],
        &format!("[service]\ndefault_policy = \"{policy}\"\n"),
        "udp:127.0.0.1:0,tcp:127.0.0.1:0",
        &[],
    )
}

/// Starts cpimd serving `domain` with these users, this configuration
/// file, these SIP listeners and extra flags.
pub fn start_custom(
    domain: &str,
    users: &[&str],
    config_text: &str,
    sip: &str,
    extra: &[String],
) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let mut accounts = cpim_store::accounts::Accounts::open(dir.path()).unwrap();
    let users = users.iter().map(|u| accounts.add(u, 0).unwrap()).collect();
    drop(accounts);
    let config = dir.path().join("cpimd.toml");
    std::fs::write(&config, config_text).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_cpimd"))
        .arg("--config")
        .arg(&config)
        .arg("--data")
        .arg(dir.path())
        .args(["--domain", domain, "--http", "127.0.0.1:0"])
        .args(["--sip", sip])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stdout));
    let (mut udp, mut tcp, mut tls, mut http) = (None, None, None, None::<String>);
    while http.is_none() {
        let line = lines
            .next()
            .expect("cpimd exited before listening")
            .unwrap();
        if let Some(a) = line.strip_prefix("cpimd sip listening on udp:") {
            udp = Some(a.parse().unwrap());
        } else if let Some(a) = line.strip_prefix("cpimd sip listening on tcp:") {
            tcp = Some(a.parse().unwrap());
        } else if let Some(a) = line.strip_prefix("cpimd sip listening on tls:") {
            tls = Some(a.parse().unwrap());
        } else if let Some(a) = line.strip_prefix("cpimd listening on ") {
            http = Some(a.to_owned());
        }
    }
    // Keep reading stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Server {
        child,
        http: http.unwrap(),
        udp: udp.unwrap_or_else(|| ([127, 0, 0, 1], 0).into()),
        tcp: tcp.unwrap_or_else(|| ([127, 0, 0, 1], 0).into()),
        tls: tls.unwrap_or_else(|| ([127, 0, 0, 1], 0).into()),
        users,
        _dir: dir,
    }
}

impl Server {
    pub fn password(&self, user: &str) -> String {
        self.users
            .iter()
            .find(|u| u.user == user)
            .unwrap()
            .password
            .clone()
    }

    pub fn token(&self, user: &str) -> String {
        self.users
            .iter()
            .find(|u| u.user == user)
            .unwrap()
            .token
            .clone()
    }
}

/// A message received by the UA, owned.
#[derive(Debug, Clone)]
pub struct Received(pub Vec<u8>);

impl Received {
    pub fn parse(&self) -> Message<'_> {
        Message::parse_datagram(&self.0).unwrap()
    }
    pub fn code(&self) -> u16 {
        self.parse().status_code().unwrap_or(0)
    }
    pub fn header(&self, name: &str) -> Option<String> {
        self.parse()
            .header_values_by_name(name)
            .next()
            .map(str::to_owned)
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0).into_owned()
    }
}

/// A byte stream to cpimd: TCP, or TLS over TCP.
trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<S: AsyncRead + AsyncWrite + Unpin + Send> Stream for S {}

enum Link {
    Udp(UdpSocket, SocketAddr),
    /// The stream, bytes read but not yet framed, and "TCP" or "TLS".
    Stream(Box<dyn Stream>, Vec<u8>, &'static str),
}

/// A SIP user agent for one user.
pub struct Ua {
    link: Link,
    pub user: String,
    pub password: String,
    pub local: SocketAddr,
    pub tag: String,
    cseq: u32,
    branch: u32,
}

impl Ua {
    pub async fn udp(server: &Server, user: &str) -> Ua {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let local = socket.local_addr().unwrap();
        Ua::new(Link::Udp(socket, server.udp), local, server, user)
    }

    pub async fn tcp(server: &Server, user: &str) -> Ua {
        let stream = TcpStream::connect(server.tcp).await.unwrap();
        let local = stream.local_addr().unwrap();
        Ua::new(
            Link::Stream(Box::new(stream), Vec::new(), "TCP"),
            local,
            server,
            user,
        )
    }

    /// A UA on TLS to the server's `tls:` listener, trusting `root` (DER)
    /// and checking the certificate names 127.0.0.1.
    pub async fn tls(server: &Server, user: &str, root: &[u8]) -> Ua {
        use rustls::pki_types::{CertificateDer, ServerName};
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        roots.add(CertificateDer::from(root.to_vec())).unwrap();
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
        let tcp = TcpStream::connect(server.tls).await.unwrap();
        let local = tcp.local_addr().unwrap();
        let name = ServerName::IpAddress(server.tls.ip().into());
        let stream = connector.connect(name, tcp).await.unwrap();
        Ua::new(
            Link::Stream(Box::new(stream), Vec::new(), "TLS"),
            local,
            server,
            user,
        )
    }

    fn new(link: Link, local: SocketAddr, server: &Server, user: &str) -> Ua {
        let password = server
            .users
            .iter()
            .find(|u| u.user == user)
            .map(|u| u.password.clone())
            .unwrap_or_default();
        Ua {
            link,
            user: user.to_owned(),
            password,
            local,
            tag: format!("t{}", local.port()),
            cseq: 0,
            branch: 0,
        }
    }

    fn transport(&self) -> &'static str {
        match self.link {
            Link::Udp(..) => "UDP",
            Link::Stream(_, _, name) => name,
        }
    }

    /// A request with the mandatory headers; `call_id` fixed by the caller.
    pub fn request(&mut self, method: &str, uri: &str, to: &str, call_id: &str) -> RequestBuilder {
        self.cseq += 1;
        self.branch += 1;
        RequestBuilder::new(method, uri)
            .header(
                "Via",
                format!(
                    "SIP/2.0/{} {};branch=z9hG4bK{}x{};rport",
                    self.transport(),
                    self.local,
                    self.local.port(),
                    self.branch
                ),
            )
            .header("Max-Forwards", "70")
            .header("From", format!("<sip:{}>;tag={}", self.user, self.tag))
            .header("To", to.to_owned())
            .header("Call-ID", call_id.to_owned())
            .header("CSeq", format!("{} {method}", self.cseq))
            .header("Contact", format!("<sip:ua@{}>", self.local))
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) {
        match &mut self.link {
            Link::Udp(socket, to) => {
                socket.send_to(bytes, *to).await.unwrap();
            }
            Link::Stream(stream, _, _) => {
                stream.write_all(bytes).await.unwrap();
                stream.flush().await.unwrap();
            }
        }
    }

    pub async fn send(&mut self, request: &RequestBuilder) {
        let bytes = request.build().unwrap();
        self.send_raw(&bytes).await;
    }

    /// The next message from the server.
    pub async fn recv(&mut self) -> Received {
        tokio::time::timeout(PATIENCE, self.recv_inner())
            .await
            .expect("no SIP message from cpimd")
    }

    /// The next message, or None when nothing comes for `wait`.
    pub async fn try_recv(&mut self, wait: Duration) -> Option<Received> {
        tokio::time::timeout(wait, self.recv_inner()).await.ok()
    }

    async fn recv_inner(&mut self) -> Received {
        match &mut self.link {
            Link::Udp(socket, _) => {
                let mut buf = vec![0u8; 65_535];
                let (n, _) = socket.recv_from(&mut buf).await.unwrap();
                buf.truncate(n);
                Received(buf)
            }
            Link::Stream(stream, buf, _) => loop {
                if let Ok(cpim_sip::Status::Complete(_, used)) = Message::parse_stream(buf) {
                    let bytes: Vec<u8> = buf.drain(..used).collect();
                    let start = bytes
                        .iter()
                        .position(|b| *b != b'\r' && *b != b'\n')
                        .unwrap_or(0);
                    return Received(bytes[start..].to_vec());
                }
                let mut chunk = [0u8; 8192];
                let n = stream.read(&mut chunk).await.unwrap();
                assert!(n > 0, "cpimd closed the connection");
                buf.extend_from_slice(&chunk[..n]);
            },
        }
    }

    /// Sends a request; answers a 401 once with digest credentials; returns
    /// the final response. Requests from the server that arrive meanwhile
    /// are kept in `others`.
    pub async fn transact(
        &mut self,
        mut make: impl FnMut(&mut Ua) -> RequestBuilder,
        others: &mut Vec<Received>,
    ) -> Received {
        let first = make(self);
        self.send(&first).await;
        let mut challenged = false;
        loop {
            let got = self.recv().await;
            let message = got.parse();
            if message.is_request() {
                others.push(got.clone());
                continue;
            }
            let code = got.code();
            if code < 200 {
                continue;
            }
            if code == 401 && !challenged {
                challenged = true;
                let challenge = got.header("WWW-Authenticate").unwrap();
                let retry = make(self);
                let bytes = retry.build().unwrap();
                let parsed = Message::parse_datagram(&bytes).unwrap();
                let method = parsed.method().to_owned();
                let uri = parsed.request_uri().unwrap().as_str().to_owned();
                let auth = self.authorization(&challenge, &method, &uri);
                let retry = retry.header("Authorization", auth);
                self.send(&retry).await;
                continue;
            }
            return got;
        }
    }

    pub fn authorization(&self, challenge: &str, method: &str, uri: &str) -> String {
        let param = |name: &str| {
            let start = challenge.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
            let end = challenge[start..].find('"').unwrap() + start;
            challenge[start..end].to_owned()
        };
        let realm = param("realm");
        let nonce = param("nonce");
        let ha1 = digest::ha1(&self.user, &realm, &self.password);
        let q = Qop {
            nc: "00000001",
            cnonce: "c0ffee",
        };
        let response = digest::response(&ha1, &nonce, Some(q), method, uri);
        format!(
            "Digest username=\"{}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", \
             response=\"{response}\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"c0ffee\"",
            self.user
        )
    }

    /// REGISTER with digest; returns the 200.
    pub async fn register(&mut self, expires: u32) -> Received {
        let call_id = format!("reg-{}", self.local);
        let aor = format!("<sip:{}>", self.user);
        let mut others = Vec::new();
        self.transact(
            |ua| {
                ua.request("REGISTER", "sip:example.com", &aor, &call_id)
                    .header("Expires", expires.to_string())
            },
            &mut others,
        )
        .await
    }

    /// Answers a request from the server with 200 OK.
    pub async fn ok(&mut self, request: &Received) {
        let message = request.parse();
        let response = cpim_sip::ResponseBuilder::for_request(&message, 200, "OK", Some("uas"))
            .build()
            .unwrap();
        self.send_raw(&response).await;
    }

    /// Waits for a request from the server with this method, answering 200
    /// to it; other requests are answered too and dropped.
    pub async fn expect_request(&mut self, method: &str) -> Received {
        loop {
            let got = self.recv().await;
            let message = got.parse();
            if message.is_request() {
                let is = message.method() == method;
                drop(message);
                self.ok(&got).await;
                if is {
                    return got;
                }
            }
        }
    }
}

/// A native client's event WebSocket: opens it and waits for `ready`.
pub async fn events(
    server: &Server,
    user: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let url = format!("{}/v1/events", server.http.replace("http://", "ws://"));
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert(
        "Authorization",
        format!("Bearer {}", server.token(user)).parse().unwrap(),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let ready = next_event(&mut ws).await;
    assert_eq!(ready["op"], "ready");
    ws
}

/// The next JSON event on a WebSocket.
pub async fn next_event(
    ws: &mut tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>,
) -> serde_json::Value {
    loop {
        let frame = tokio::time::timeout(PATIENCE, ws.next())
            .await
            .expect("no event")
            .unwrap()
            .unwrap();
        if let tokio_tungstenite::tungstenite::Message::Text(text) = frame {
            return serde_json::from_str(&text).unwrap();
        }
    }
}

/// An HTTP client. reqwest may be built without a TLS crypto provider when
/// the workspace's features unify; ring is the one cpimd uses.
pub fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// An HTTP request with a user's token.
pub async fn http(
    server: &Server,
    user: &str,
    method: reqwest::Method,
    path: &str,
    body: serde_json::Value,
) -> (u16, serde_json::Value) {
    let response = client()
        .request(method, format!("{}{path}", server.http))
        .bearer_auth(server.token(user))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let value = response.json().await.unwrap_or(serde_json::Value::Null);
    (status, value)
}
