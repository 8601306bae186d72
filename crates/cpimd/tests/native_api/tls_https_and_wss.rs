//! TLS for the HTTP listener (`--tls-cert`/`--tls-key`): with a certificate
//! from a CA made for the test, the real `cpim` sends over HTTPS and holds
//! its event stream over `wss:` trusting only that CA; a raw TLS client gets
//! `/healthz` over HTTP/1.1 and HTTP/2; plain HTTP on the same port gets no
//! HTTP answer.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::harness::{data_dir, Server};

/// PEM files: the CA's certificate, and the server's chain and key.
struct Pki {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

/// A CA, and a server certificate it signs for `localhost` and 127.0.0.1.
fn make_pki(dir: &Path) -> Pki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "cpim test CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut params =
        CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "cpimd test server");
    let cert = params.signed_by(&key, &ca).unwrap();
    let pki = Pki {
        ca: dir.join("ca.pem"),
        cert: dir.join("server.pem"),
        key: dir.join("server.key"),
    };
    std::fs::write(&pki.ca, ca.pem()).unwrap();
    std::fs::write(&pki.cert, cert.pem()).unwrap();
    std::fs::write(&pki.key, key.serialize_pem()).unwrap();
    pki
}

/// One `GET /healthz` over TLS offering `alpn`: the protocol the server
/// chose and the status line or HTTP/2 frames it sent back.
async fn tls_get_healthz(addr: &str, ca: &Path, alpn: &[u8]) -> (Vec<u8>, Vec<u8>) {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName};
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![alpn.to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    let chosen = tls.get_ref().1.alpn_protocol().unwrap_or_default().to_vec();
    if alpn == b"h2" {
        // The client preface and an empty SETTINGS frame; the server's
        // first frame must be its SETTINGS (RFC 9113 section 3.4).
        tls.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0")
            .await
            .unwrap();
        let mut head = [0u8; 9];
        tls.read_exact(&mut head).await.unwrap();
        return (chosen, head.to_vec());
    }
    tls.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    tls.read_to_end(&mut answer).await.unwrap();
    (chosen, answer)
}

#[test]
fn https_and_wss_are_served_and_plain_http_is_not() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = data_dir();
    let pki = make_pki(dir.path());
    let server = Server::start(
        &dir.path().join("data"),
        &[
            "--tls-cert",
            pki.cert.to_str().unwrap(),
            "--tls-key",
            pki.key.to_str().unwrap(),
        ],
    )
    // `cpim` trusts the system's roots; this file replaces them, so the
    // test CA is the only one it trusts.
    .with_client_env("SSL_CERT_FILE", pki.ca.to_str().unwrap());
    assert!(
        server.url.starts_with("https://127.0.0.1:"),
        "{}",
        server.url
    );
    let alice = server.user("alice");
    let bob = server.user("bob");

    // The event stream over wss, and a message over HTTPS reaching it.
    let inbox = server.watch(&bob);
    let (code, answer) = server.cpim(&alice, &["send", "--to", &bob.im(), "over tls"]);
    assert_eq!(code, 0, "{answer}");
    assert_eq!(answer["status"], "success");
    let got = inbox.next(|e| e["op"] == "message");
    assert_eq!(got["body"], "over tls");
    assert_eq!(got["from"], alice.im().as_str());

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let addr = server.addr();
    let (alpn, answer) = runtime.block_on(tls_get_healthz(&addr, &pki.ca, b"http/1.1"));
    assert_eq!(alpn, b"http/1.1");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"ok\""), "{answer}");
    let (alpn, frame) = runtime.block_on(tls_get_healthz(&addr, &pki.ca, b"h2"));
    assert_eq!(alpn, b"h2");
    assert_eq!(
        frame[3], 0x4,
        "first HTTP/2 frame is not SETTINGS: {frame:?}"
    );

    // Plain HTTP to the TLS port: the handshake fails and no HTTP answer
    // comes back (a TLS alert or nothing, then the connection closes).
    let mut plain = std::net::TcpStream::connect(&addr).unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    plain
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let mut got = Vec::new();
    let read = plain.read_to_end(&mut got);
    assert!(
        read.is_ok(),
        "the server kept a plain-HTTP connection open: {read:?}"
    );
    assert!(
        !got.starts_with(b"HTTP/"),
        "plain HTTP answered on the TLS port: {:?}",
        String::from_utf8_lossy(&got)
    );
    if let Some(&first) = got.first() {
        assert_eq!(first, 0x15, "not a TLS alert record: {got:?}");
    }

    // The server still serves TLS clients after the bad one.
    let (code, answer) = server.cpim(&alice, &["send", "--to", &bob.im(), "still here"]);
    assert_eq!(code, 0, "{answer}");
    assert_eq!(inbox.next(|e| e["op"] == "message")["body"], "still here");
}

/// Starts cpimd with `--tls-cert cert --tls-key key`; it must exit at once
/// with status 1 and one line naming the problem, which is returned.
fn refused_tls(data: &Path, cert: &Path, key: &Path) -> String {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_cpimd"))
        .arg("--data")
        .arg(data)
        .args(["--domain", "example.com", "--http", "127.0.0.1:0"])
        .arg("--tls-cert")
        .arg(cert)
        .arg("--tls-key")
        .arg(key)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!stdout.contains("listening"), "it started: {stdout}");
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    String::from_utf8_lossy(&output.stderr)
        .lines()
        .find(|l| l.starts_with("cpimd: "))
        .unwrap_or_else(|| panic!("no error line: {output:?}"))
        .to_owned()
}

#[test]
fn unusable_certificates_are_refused_at_start_with_the_file_named() {
    let dir = data_dir();
    let pki = make_pki(dir.path());
    let data = dir.path().join("data");
    let missing = dir.path().join("missing.pem");

    let error = refused_tls(&data, &missing, &pki.key);
    assert!(error.contains("missing.pem"), "{error}");

    // A key where the certificate should be.
    let error = refused_tls(&data, &pki.key, &pki.key);
    assert!(error.contains("server.key"), "{error}");
    assert!(error.contains("no certificate"), "{error}");

    // A certificate where the key should be.
    let error = refused_tls(&data, &pki.cert, &pki.cert);
    assert!(
        error.contains("server.pem: no usable private key"),
        "{error}"
    );

    // A key that is not the certificate's.
    let other = dir.path().join("other.key");
    std::fs::write(&other, KeyPair::generate().unwrap().serialize_pem()).unwrap();
    let error = refused_tls(&data, &pki.cert, &other);
    assert!(error.contains("other.key"), "{error}");
    assert!(
        error.contains("the private key does not belong to the certificate"),
        "{error}"
    );
}
