//! Digest authentication (RFC 3261 s22.4, RFC 2617 s3): the RFC 2617
//! s3.5 vector, and a SIP REGISTER challenged and answered through the
//! parser, with each way verification can fail.
#![allow(clippy::unwrap_used)]

use cpim_sip::digest::{self, DigestError, DigestServer, Qop};
use cpim_sip::{Message, RequestBuilder};

#[test]
fn rfc2617_section_3_5_example() {
    let ha1 = digest::ha1("Mufasa", "testrealm@host.com", "Circle Of Life");
    assert_eq!(ha1, "939e7578ed9e3c518a452acee763bce9");
    let qop = Qop {
        nc: "00000001",
        cnonce: "0a4f113b",
    };
    let response = digest::response(
        &ha1,
        "dcd98b7102dd2f0e8b11d0f600bfb0c093",
        Some(qop),
        "GET",
        "/dir/index.html",
    );
    assert_eq!(response, "6629fae49393a05397450978507c4ef1");
}

#[test]
fn rfc2069_form_without_qop() {
    // MD5(HA1:nonce:MD5(GET:/dir/index.html)) for the same example, as
    // computed by Python's hashlib.
    let ha1 = digest::ha1("Mufasa", "testrealm@host.com", "Circle Of Life");
    let response = digest::response(
        &ha1,
        "dcd98b7102dd2f0e8b11d0f600bfb0c093",
        None,
        "GET",
        "/dir/index.html",
    );
    assert_eq!(response, "670fd8c2df070c60b045671b8b24ff02");
}

const NOW: u64 = 1_790_000_000;
const URI: &str = "sip:example.com";

fn server() -> DigestServer {
    DigestServer::new("example.com", b"server secret".to_vec(), 300)
}

/// A REGISTER with an Authorization answering `nonce`, as a client would
/// build it, plus `extra` parameters.
fn register(nonce: &str, password: &str, extra: &str) -> Vec<u8> {
    let ha1 = digest::ha1("alice", "example.com", password);
    let qop = Qop {
        nc: "00000001",
        cnonce: "c0ffee",
    };
    let response = digest::response(&ha1, nonce, Some(qop), "REGISTER", URI);
    let auth = format!(
        "Digest username=\"alice\", realm=\"example.com\", nonce=\"{nonce}\", \
         uri=\"{URI}\", response=\"{response}\", algorithm=MD5, qop=auth, \
         nc=00000001, cnonce=\"c0ffee\"{extra}"
    );
    RequestBuilder::new("REGISTER", URI)
        .header("Via", "SIP/2.0/UDP a.example.com;branch=z9hG4bKr1")
        .header("From", "<sip:alice@example.com>;tag=1")
        .header("To", "<sip:alice@example.com>")
        .header("Call-ID", "r1@a.example.com")
        .header("CSeq", "2 REGISTER")
        .header("Authorization", auth)
        .build()
        .unwrap()
}

fn verify(bytes: &[u8], now: u64) -> Result<(), DigestError> {
    let message = Message::parse_datagram(bytes).unwrap();
    let credentials = &message.authorization()[0];
    let server = server();
    assert_eq!(server.username(credentials).unwrap(), "alice");
    let stored = digest::ha1("alice", "example.com", "secret");
    server.verify(credentials, message.method(), URI, &stored, now)
}

#[test]
fn challenge_parses_as_a_digest_challenge() {
    let value = server().challenge(NOW, false);
    let response = cpim_sip::ResponseBuilder::new(401, "Unauthorized")
        .header("Via", "SIP/2.0/UDP a.example.com;branch=z9hG4bKr1")
        .header("From", "<sip:alice@example.com>;tag=1")
        .header("To", "<sip:alice@example.com>;tag=2")
        .header("Call-ID", "r1@a.example.com")
        .header("CSeq", "1 REGISTER")
        .header("WWW-Authenticate", value)
        .build()
        .unwrap();
    let message = Message::parse_datagram(&response).unwrap();
    let challenge = &message.www_authenticate()[0];
    assert!(challenge.is_digest());
    assert_eq!(challenge.param("realm").unwrap(), "example.com");
    assert_eq!(challenge.param("nonce").unwrap(), server().nonce(NOW));
    assert_eq!(challenge.param("qop").unwrap(), "auth");
    assert_eq!(challenge.param("stale"), None);
    assert!(server().challenge(NOW, true).ends_with(", stale=true"));
}

#[test]
fn right_password_verifies() {
    let nonce = server().nonce(NOW);
    assert_eq!(verify(&register(&nonce, "secret", ""), NOW + 10), Ok(()));
}

#[test]
fn wrong_password_is_refused() {
    let nonce = server().nonce(NOW);
    assert_eq!(
        verify(&register(&nonce, "guess", ""), NOW + 10),
        Err(DigestError::WrongResponse)
    );
}

#[test]
fn nonce_expires_after_its_lifetime() {
    let nonce = server().nonce(NOW);
    assert_eq!(verify(&register(&nonce, "secret", ""), NOW + 300), Ok(()));
    assert_eq!(
        verify(&register(&nonce, "secret", ""), NOW + 301),
        Err(DigestError::Stale)
    );
}

#[test]
fn forged_or_foreign_nonce_is_refused() {
    let nonce = server().nonce(NOW);
    // Move the timestamp forward: the MAC no longer matches.
    let forged = format!("{:016x}{}", NOW + 1000, &nonce[16..]);
    assert_eq!(
        verify(&register(&forged, "secret", ""), NOW + 1000),
        Err(DigestError::BadNonce)
    );
    let other = DigestServer::new("example.com", b"other secret".to_vec(), 300).nonce(NOW);
    assert_eq!(
        verify(&register(&other, "secret", ""), NOW),
        Err(DigestError::BadNonce)
    );
    assert_eq!(
        verify(
            &register("dcd98b7102dd2f0e8b11d0f600bfb0c093", "secret", ""),
            NOW
        ),
        Err(DigestError::BadNonce)
    );
}

#[test]
fn other_algorithm_qop_realm_and_uri_are_refused() {
    let nonce = server().nonce(NOW);
    let message_for = |auth: &str| {
        RequestBuilder::new("REGISTER", URI)
            .header("Via", "SIP/2.0/UDP a;branch=z9hG4bKr1")
            .header("From", "<sip:alice@example.com>;tag=1")
            .header("To", "<sip:alice@example.com>")
            .header("Call-ID", "r1@a")
            .header("CSeq", "2 REGISTER")
            .header("Authorization", auth)
            .build()
            .unwrap()
    };
    let base = format!(
        "Digest username=\"alice\", realm=\"example.com\", nonce=\"{nonce}\", uri=\"{URI}\", response=\"00\""
    );
    let cases = [
        (
            format!("{base}, algorithm=SHA-256"),
            DigestError::UnsupportedAlgorithm,
        ),
        (format!("{base}, qop=auth-int"), DigestError::UnsupportedQop),
        (
            base.replace("example.com\", nonce", "evil.example\", nonce"),
            DigestError::RealmMismatch,
        ),
        (
            base.replace(URI, "sip:other.example.com"),
            DigestError::UriMismatch,
        ),
        (
            base.replace(", response=\"00\"", ""),
            DigestError::MissingParam("response"),
        ),
        (format!("{base}, qop=auth"), DigestError::MissingParam("nc")),
        ("Basic YWxpY2U6c2VjcmV0".to_owned(), DigestError::NotDigest),
    ];
    for (auth, expected) in cases {
        let bytes = message_for(&auth);
        let message = Message::parse_datagram(&bytes).unwrap();
        let stored = digest::ha1("alice", "example.com", "secret");
        let result = server().verify(&message.authorization()[0], "REGISTER", URI, &stored, NOW);
        assert_eq!(result, Err(expected), "{auth}");
    }
}

#[test]
fn wrong_response_is_refused_before_staleness_is_told() {
    let nonce = server().nonce(NOW);
    assert_eq!(
        verify(&register(&nonce, "guess", ""), NOW + 10_000),
        Err(DigestError::WrongResponse)
    );
}
