//! Other SIP domains: two cpimd processes, each routing the other's domain
//! to it over SIP (RFC 3428 MESSAGE, RFC 3856 SUBSCRIBE/NOTIFY; draft
//! sections 2.4.1 step 3d and 3.4.1), the peer trusted by its address.

#![allow(clippy::unwrap_used)]

mod sip_support;

use serde_json::json;
use sip_support::{events, http, next_event, start_custom, Server};

/// A UDP port free right now on the loopback interface: each server must
/// know the other's address before either starts.
fn free_udp_port() -> u16 {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.local_addr().unwrap().port()
}

/// A serves a.test (alice), B serves b.test (bob); A routes b.test to B by
/// the configuration file, B routes a.test to A by the flag.
fn pair() -> (Server, Server) {
    let (port_a, port_b) = (free_udp_port(), free_udp_port());
    let a = start_custom(
        "a.test",
        &["alice@a.test"],
        &format!(
            "[service]\ndefault_policy = \"allow\"\n\n[[sip.route]]\ndomain = \"b.test\"\nnext_hop = \"udp:127.0.0.1:{port_b}\"\n"
        ),
        &format!("udp:127.0.0.1:{port_a}"),
        &[],
    );
    let b = start_custom(
        "b.test",
        &["bob@b.test"],
        "[service]\ndefault_policy = \"allow\"\n",
        &format!("udp:127.0.0.1:{port_b}"),
        &[
            "--sip-route".to_owned(),
            format!("a.test=udp:127.0.0.1:{port_a}"),
        ],
    );
    (a, b)
}

#[tokio::test]
async fn messages_cross_domains_both_ways() {
    let (a, b) = pair();
    let mut bob_events = events(&b, "bob@b.test").await;
    let mut alice_events = events(&a, "alice@a.test").await;

    let (status, answer) = http(
        &a,
        "alice@a.test",
        reqwest::Method::POST,
        "/v1/messages",
        json!({"to": "im:bob@b.test", "body": "hello from a"}),
    )
    .await;
    assert!(status < 300, "{status} {answer}");
    assert_eq!(answer["status"], "success", "{answer}");
    let got = next_event(&mut bob_events).await;
    assert_eq!(got["op"], "message");
    assert_eq!(got["from"], "im:alice@a.test");
    assert_eq!(got["to"], "im:bob@b.test");
    assert_eq!(got["body"], "hello from a");

    let (status, answer) = http(
        &b,
        "bob@b.test",
        reqwest::Method::POST,
        "/v1/messages",
        json!({"to": "im:alice@a.test", "body": "hello from b"}),
    )
    .await;
    assert!(status < 300, "{status} {answer}");
    assert_eq!(answer["status"], "success", "{answer}");
    let got = next_event(&mut alice_events).await;
    assert_eq!(got["op"], "message");
    assert_eq!(got["from"], "im:bob@b.test");
    assert_eq!(got["body"], "hello from b");

    // A user B does not have: the failure and its reason come back to A.
    let (_, answer) = http(
        &a,
        "alice@a.test",
        reqwest::Method::POST,
        "/v1/messages",
        json!({"to": "im:nobody@b.test", "body": "x"}),
    )
    .await;
    assert_eq!(answer["status"], "failure", "{answer}");
    assert!(
        answer["reason"].as_str().unwrap().starts_with("404"),
        "{answer}"
    );
}

#[tokio::test]
async fn subscription_to_a_user_of_another_domain_gets_its_notifies() {
    let (a, b) = pair();
    let mut alice_events = events(&a, "alice@a.test").await;
    let (status, _) = http(
        &b,
        "bob@b.test",
        reqwest::Method::PUT,
        "/v1/presence/pres:bob@b.test",
        json!({"tuples": [{"id": "t1", "basic": "open", "note": "at desk"}]}),
    )
    .await;
    assert!(status < 300, "{status}");

    let (status, answer) = http(
        &a,
        "alice@a.test",
        reqwest::Method::POST,
        "/v1/subscriptions",
        json!({"target": "pres:bob@b.test", "duration": 600}),
    )
    .await;
    assert!(status < 300, "{status} {answer}");
    assert_eq!(answer["status"], "success", "{answer}");

    let first = next_event(&mut alice_events).await;
    assert_eq!(first["op"], "notify", "{first}");
    assert_eq!(first["target"], "pres:bob@b.test");
    assert_eq!(first["state"], "active", "{first}");
    assert_eq!(first["presence"]["tuples"][0]["basic"], "open", "{first}");

    let (status, _) = http(
        &b,
        "bob@b.test",
        reqwest::Method::PUT,
        "/v1/presence/pres:bob@b.test",
        json!({"tuples": [{"id": "t1", "basic": "closed", "note": "away"}]}),
    )
    .await;
    assert!(status < 300, "{status}");
    let change = next_event(&mut alice_events).await;
    assert_eq!(change["op"], "notify", "{change}");
    assert_eq!(
        change["presence"]["tuples"][0]["basic"], "closed",
        "{change}"
    );

    let response = sip_support::client()
        .delete(format!(
            "{}/v1/subscriptions?target=pres:bob@b.test",
            a.http
        ))
        .bearer_auth(a.token("alice@a.test"))
        .send()
        .await
        .unwrap();
    assert!(response.status().as_u16() < 300, "{}", response.status());
    let ended = next_event(&mut alice_events).await;
    assert_eq!(ended["op"], "notify", "{ended}");
    assert_eq!(ended["state"], "terminated", "{ended}");

    // B's subscription ends once A's unsubscribe reaches it, which may be
    // after A's own terminated notify: look until it is gone.
    let mut watchers = json!(null);
    for _ in 0..300 {
        let (status, now) = http(
            &b,
            "bob@b.test",
            reqwest::Method::GET,
            "/v1/watchers/pres:bob@b.test",
            json!({}),
        )
        .await;
        assert!(status < 300, "{status}");
        watchers = now;
        if watchers["watchers"].as_array().is_some_and(Vec::is_empty) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        watchers["watchers"].as_array().map(Vec::len),
        Some(0),
        "{watchers}"
    );
}
