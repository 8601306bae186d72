//! RFC 3261 s10.3: REGISTER for cpimd's users, with digest (s22.4).

#![allow(clippy::unwrap_used)]

mod sip_support;

use sip_support::{start, Ua};

#[tokio::test]
async fn register_is_challenged_then_accepted_with_digest() {
    let server = start();
    let mut ua = Ua::udp(&server, "alice@example.com").await;
    let aor = "<sip:alice@example.com>".to_owned();

    // No credentials: 401 with a digest challenge for the user's domain.
    let plain = ua.request("REGISTER", "sip:example.com", &aor, "r1");
    ua.send(&plain).await;
    let challenge = ua.recv().await;
    assert_eq!(challenge.code(), 401);
    let www = challenge.header("WWW-Authenticate").unwrap();
    assert!(www.contains("realm=\"example.com\""), "{www}");
    assert!(www.contains("qop=\"auth\""), "{www}");
    let via = challenge.header("Via").unwrap();
    assert!(via.contains(&format!("rport={}", ua.local.port())), "{via}");
    assert!(via.contains("received=127.0.0.1"), "{via}");

    // Right password: 200 listing the contact with its expiry.
    let ok = ua.register(600).await;
    assert_eq!(ok.code(), 200, "{}", ok.text());
    let contact = ok.header("Contact").unwrap();
    assert!(
        contact.contains(&format!("sip:ua@{}", ua.local)),
        "{contact}"
    );
    assert!(
        contact.contains("expires=600") || contact.contains("expires=599"),
        "{contact}"
    );

    // Unregister: 200 with no contact left.
    let ok = ua.register(0).await;
    assert_eq!(ok.code(), 200);
    assert!(ok.header("Contact").is_none(), "{}", ok.text());
}

#[tokio::test]
async fn wrong_password_and_short_expiry_are_refused() {
    let server = start();
    let mut ua = Ua::udp(&server, "alice@example.com").await;
    ua.password = "not-the-password".into();
    let ok = ua.register(600).await;
    assert_eq!(ok.code(), 403, "{}", ok.text());
    assert!(
        ok.parse().reason().unwrap().contains("does not match"),
        "{}",
        ok.text()
    );

    let mut ua = Ua::udp(&server, "alice@example.com").await;
    let brief = ua.register(10).await;
    assert_eq!(brief.code(), 423);
    assert_eq!(brief.header("Min-Expires").as_deref(), Some("60"));
}

#[tokio::test]
async fn register_over_tcp_and_for_a_foreign_domain() {
    let server = start();
    let mut ua = Ua::tcp(&server, "bob@example.com").await;
    let ok = ua.register(300).await;
    assert_eq!(ok.code(), 200, "{}", ok.text());

    let mut other = Ua::udp(&server, "carol@elsewhere.example").await;
    let request = other.request(
        "REGISTER",
        "sip:elsewhere.example",
        "<sip:carol@elsewhere.example>",
        "r9",
    );
    other.send(&request).await;
    let refused = other.recv().await;
    assert_eq!(refused.code(), 403);
    assert!(refused.parse().reason().unwrap().contains("not served"));
}
