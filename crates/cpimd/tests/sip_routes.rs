//! Other SIP domains: two cpimd processes, each routing the other's domain
//! to it over SIP (RFC 3428 MESSAGE, RFC 3856 SUBSCRIBE/NOTIFY; draft
//! sections 2.4.1 step 3d and 3.4.1), the peer trusted by its address.

#![allow(clippy::unwrap_used)]

mod sip_support;

use serde_json::json;
use sip_support::{events, http, next_event, start_custom, Server};

/// A port free right now on the loopback interface for `transport`: each
/// server must know the other's address before either starts.
fn free_port(transport: &str) -> u16 {
    if transport == "udp" {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.local_addr().unwrap().port()
    } else {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    }
}

/// A serves a.test (alice), B serves b.test (bob); A routes b.test to B by
/// the configuration file, B routes a.test to A by the flag, both over
/// `transport`.
fn pair_over(transport: &str) -> (Server, Server) {
    let (port_a, port_b) = (free_port(transport), free_port(transport));
    let a = start_custom(
        "a.test",
        &["alice@a.test"],
        &format!(
            "[service]\ndefault_policy = \"allow\"\n\n[[sip.route]]\ndomain = \"b.test\"\nnext_hop = \"{transport}:127.0.0.1:{port_b}\"\n"
        ),
        &format!("{transport}:127.0.0.1:{port_a}"),
        &[],
    );
    let b = start_custom(
        "b.test",
        &["bob@b.test"],
        "[service]\ndefault_policy = \"allow\"\n",
        &format!("{transport}:127.0.0.1:{port_b}"),
        &[
            "--sip-route".to_owned(),
            format!("a.test={transport}:127.0.0.1:{port_a}"),
        ],
    );
    (a, b)
}

#[tokio::test]
async fn messages_cross_domains_both_ways() {
    messages_cross_domains_both_ways_over("udp").await;
}

/// Over TCP each server opens its own connection to the other, from an
/// ephemeral port: the peer is still recognised as the other domain.
#[tokio::test]
async fn messages_cross_domains_both_ways_over_tcp() {
    messages_cross_domains_both_ways_over("tcp").await;
}

#[tokio::test]
async fn subscription_to_a_user_of_another_domain_gets_its_notifies() {
    subscription_to_a_user_of_another_domain_over("udp").await;
}

#[tokio::test]
async fn subscription_to_a_user_of_another_domain_over_tcp_gets_its_notifies() {
    subscription_to_a_user_of_another_domain_over("tcp").await;
}

async fn messages_cross_domains_both_ways_over(transport: &str) {
    let (a, b) = pair_over(transport);
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

async fn subscription_to_a_user_of_another_domain_over(transport: &str) {
    let (a, b) = pair_over(transport);
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

/// One request from `socket` to `to`; the final response's code.
async fn ask(socket: &tokio::net::UdpSocket, to: std::net::SocketAddr, request: Vec<u8>) -> u16 {
    socket.send_to(&request, to).await.unwrap();
    let mut buf = vec![0u8; 65_536];
    loop {
        let (n, _) = tokio::time::timeout(sip_support::PATIENCE, socket.recv_from(&mut buf))
            .await
            .expect("no response")
            .unwrap();
        let message = cpim_sip::Message::parse_datagram(&buf[..n]).unwrap();
        if let Some(code) = message.status_code() {
            if code >= 200 {
                return code;
            }
        }
    }
}

fn request(
    method: &str,
    local: std::net::SocketAddr,
    from: &str,
    to: &str,
    call_id: &str,
) -> cpim_sip::RequestBuilder {
    cpim_sip::RequestBuilder::new(method, to.to_owned())
        .header(
            "Via",
            format!("SIP/2.0/UDP {local};branch=z9hG4bK{call_id};rport"),
        )
        .header("Max-Forwards", "70")
        .header("From", format!("<{from}>;tag=t{call_id}"))
        .header("To", format!("<{to}>"))
        .header("Call-ID", call_id.to_owned())
        .header("CSeq", format!("1 {method}"))
}

#[tokio::test]
async fn the_peer_address_speaks_only_for_its_own_domain() {
    // The peer for a.test is this socket: what it sends is a.test's.
    let peer = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let local = peer.local_addr().unwrap();
    let b = start_custom(
        "b.test",
        &["bob@b.test"],
        "[service]\ndefault_policy = \"allow\"\n",
        "udp:127.0.0.1:0",
        &["--sip-route".to_owned(), format!("a.test=udp:{local}")],
    );
    let mut bob_events = events(&b, "bob@b.test").await;

    let from_a = request("MESSAGE", local, "sip:carol@a.test", "sip:bob@b.test", "m1")
        .body("text/plain", b"from the peer".to_vec())
        .build()
        .unwrap();
    assert_eq!(ask(&peer, b.udp, from_a).await, 200);
    let got = next_event(&mut bob_events).await;
    assert_eq!(got["from"], "im:carol@a.test");
    assert_eq!(got["body"], "from the peer");

    // Another domain's From from the same address, or a user of b.test
    // itself: refused.
    for (from, call_id) in [("sip:mallory@c.test", "m2"), ("sip:bob@b.test", "m3")] {
        let forged = request("MESSAGE", local, from, "sip:bob@b.test", call_id)
            .body("text/plain", b"x".to_vec())
            .build()
            .unwrap();
        assert_eq!(ask(&peer, b.udp, forged).await, 403, "{from}");
    }

    // A NOTIFY in no dialog of B's.
    let notify = request("NOTIFY", local, "sip:carol@a.test", "sip:bob@b.test", "n1")
        .header("Event", "presence")
        .header("Subscription-State", "active;expires=600")
        .build()
        .unwrap();
    assert_eq!(ask(&peer, b.udp, notify).await, 481);
}
