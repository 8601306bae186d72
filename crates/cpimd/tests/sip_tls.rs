//! SIP over TLS (RFC 3261 s26.2, s18.3 framing as on TCP): a UA on a
//! `tls:` listener registers with digest and exchanges MESSAGE with a
//! native user both ways; a `tls:` listener without a certificate stops
//! cpimd at start with a message that says so.

#![allow(clippy::unwrap_used)]

mod sip_support;

use serde_json::json;
use sip_support::{events, next_event, start_custom, Ua};

/// A self-signed certificate for 127.0.0.1 written as PEM files; returns
/// the `[sip.tls]` section naming them and the certificate's DER.
fn certificate(dir: &std::path::Path) -> (String, Vec<u8>) {
    let generated =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .unwrap();
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    std::fs::write(&cert, generated.cert.pem()).unwrap();
    std::fs::write(&key, generated.signing_key.serialize_pem()).unwrap();
    let section = format!(
        "[sip.tls]\ncert = {:?}\nkey = {:?}\n[service]\ndefault_policy = \"allow\"\n",
        cert.display().to_string(),
        key.display().to_string()
    );
    (section, generated.cert.der().to_vec())
}

#[tokio::test]
async fn register_and_message_over_tls_both_ways() {
    let certs = tempfile::tempdir().unwrap();
    let (config, root) = certificate(certs.path());
    let server = start_custom(
        "example.com",
        &["alice@example.com", "bob@example.com"],
        &config,
        "tls:127.0.0.1:0",
        &[],
    );
    assert_ne!(server.tls.port(), 0, "no tls listener announced");
    // The HTTP side stays plain: [sip.tls] is the SIP listeners' own.
    assert!(server.http.starts_with("http://"), "{}", server.http);
    let mut bob = events(&server, "bob@example.com").await;
    let mut alice = Ua::tls(&server, "alice@example.com", &root).await;

    // REGISTER over TLS, with the digest challenge answered.
    let registered = alice.register(600).await;
    assert_eq!(registered.code(), 200, "{}", registered.text());
    let via = registered.header("Via").unwrap();
    assert!(via.starts_with("SIP/2.0/TLS "), "{via}");

    // MESSAGE from the registered TLS flow to the native user.
    let request = alice
        .request(
            "MESSAGE",
            "sip:bob@example.com",
            "<sip:bob@example.com>",
            "tls-m1",
        )
        .body("text/plain", "over TLS");
    alice.send(&request).await;
    let event = next_event(&mut bob).await;
    assert_eq!(event["op"], "message");
    assert_eq!(event["from"], "im:alice@example.com");
    assert_eq!(event["body"], "over TLS");
    let ok = alice.recv().await;
    assert_eq!(ok.code(), 200, "{}", ok.text());

    // Back: the native user's message comes down the same TLS connection,
    // with cpimd's Via naming TLS.
    let sender = tokio::spawn({
        let (url, token) = (server.http.clone(), server.token("bob@example.com"));
        async move {
            sip_support::client()
                .post(format!("{url}/v1/messages"))
                .bearer_auth(token)
                .json(&json!({"to": "im:alice@example.com", "body": "back over TLS"}))
                .send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()
        }
    });
    let got = alice.expect_request("MESSAGE").await;
    let message = got.parse();
    assert_eq!(message.body(), b"back over TLS");
    assert_eq!(message.via()[0].transport(), "TLS");
    assert_eq!(message.from().uri().as_str(), "sip:bob@example.com");
    let answer = sender.await.unwrap();
    assert_eq!(answer["status"], "success", "{answer}");
}

/// Starts cpimd in a fresh data directory with `args` after its usual
/// ones, expects it to stop with a failure, and returns what it printed on
/// stderr.
fn start_fails(dir: &std::path::Path, args: &[&std::ffi::OsStr]) -> String {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_cpimd"))
        .arg("--data")
        .arg(dir)
        .args(["--domain", "example.com", "--http", "127.0.0.1:0"])
        .args(args)
        .output()
        .unwrap();
    assert!(!output.status.success());
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn tls_listener_without_certificate_stops_cpimd_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let stderr = start_fails(dir.path(), &["--sip".as_ref(), "tls:127.0.0.1:0".as_ref()]);
    assert!(
        stderr.contains("a tls: listener needs [sip.tls] or --tls-cert and --tls-key"),
        "{stderr}"
    );
}

#[test]
fn tls_listener_with_an_unreadable_certificate_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pem");
    let config = dir.path().join("cpimd.toml");
    std::fs::write(
        &config,
        format!(
            "[sip.tls]\ncert = {:?}\nkey = {:?}\n",
            missing.display().to_string(),
            missing.display().to_string()
        ),
    )
    .unwrap();
    let stderr = start_fails(
        dir.path(),
        &[
            "--config".as_ref(),
            config.as_os_str(),
            "--sip".as_ref(),
            "tls:127.0.0.1:0".as_ref(),
        ],
    );
    assert!(
        stderr.contains("sip TLS") && stderr.contains("missing.pem"),
        "{stderr}"
    );
}

#[test]
fn tls_next_hop_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let stderr = start_fails(
        dir.path(),
        &[
            "--sip".as_ref(),
            "udp:127.0.0.1:0".as_ref(),
            "--sip-route".as_ref(),
            "b.test=tls:127.0.0.1:5061".as_ref(),
        ],
    );
    assert!(
        stderr.contains("sip route for b.test: a tls: next hop is not supported yet"),
        "{stderr}"
    );
}
