//! Requests cpimd sends (RFC 3261 s17.1.2 client transactions) that get no
//! good answer: timer F is a 408 (a relayed message then has no answer, the
//! engine's `indeterminant`), bytes that cannot leave are a transport
//! error and a 503 (s17.1.4), and a NOTIFY answered 481 ends the
//! subscription (RFC 6665 s4.2.2). A next hop over TCP gets a connection
//! opened to it, reused for later requests, with the answers read on it
//! (s18.1.1, s18.2.2).

#![allow(clippy::unwrap_used)]

mod sip_support;

use std::time::Duration;

use serde_json::json;
use sip_support::{http, start, start_custom, Received, Ua};

/// A server for a.test (alice) routing b.test to `next_hop`, with T1 at
/// 10 ms so that timer F (64*T1) fires after 640 ms.
fn routed_to(next_hop: &str, sip: &str) -> sip_support::Server {
    start_custom(
        "a.test",
        &["alice@a.test"],
        &format!(
            "[service]\ndefault_policy = \"allow\"\n\n[sip]\nt1_ms = 10\n\n[[sip.route]]\ndomain = \"b.test\"\nnext_hop = \"{next_hop}\"\n"
        ),
        sip,
        &[],
    )
}

#[tokio::test]
async fn relayed_message_with_no_response_is_retransmitted_then_indeterminant() {
    // A next hop that reads and never answers.
    let silent = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let hop = silent.local_addr().unwrap();
    let server = routed_to(&format!("udp:{hop}"), "udp:127.0.0.1:0");
    let heard = tokio::spawn(async move {
        let mut copies = Vec::new();
        let mut buf = vec![0u8; 65_535];
        while let Ok(Ok((n, _))) =
            tokio::time::timeout(Duration::from_secs(3), silent.recv_from(&mut buf)).await
        {
            copies.push(buf[..n].to_vec());
        }
        copies
    });
    let (status, answer) = http(
        &server,
        "alice@a.test",
        reqwest::Method::POST,
        "/v1/messages",
        json!({"to": "im:bob@b.test", "body": "anyone?"}),
    )
    .await;
    assert!(status < 300, "{status} {answer}");
    assert_eq!(answer["status"], "indeterminant", "{answer}");
    let copies = heard.await.unwrap();
    // Timer E resent the very same request (same branch) before timer F.
    assert!(copies.len() >= 2, "{} copies", copies.len());
    assert!(copies.iter().all(|c| c == &copies[0]));
    let first = Received(copies[0].clone());
    assert_eq!(first.parse().method(), "MESSAGE");
    assert_eq!(first.parse().body(), b"anyone?");
}

#[tokio::test]
async fn relayed_message_that_cannot_leave_is_a_503_failure() {
    // A TCP next hop where nothing listens: the connection cannot open, so
    // the bytes cannot leave.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hop = closed.local_addr().unwrap();
    drop(closed);
    let server = routed_to(&format!("tcp:{hop}"), "udp:127.0.0.1:0,tcp:127.0.0.1:0");
    let (status, answer) = http(
        &server,
        "alice@a.test",
        reqwest::Method::POST,
        "/v1/messages",
        json!({"to": "im:bob@b.test", "body": "over TCP"}),
    )
    .await;
    assert!(status < 300, "{status} {answer}");
    assert_eq!(answer["status"], "failure", "{answer}");
    assert_eq!(answer["reason"], "503 Service Unavailable", "{answer}");
}

/// One message read off a stream: framed by Content-Length.
async fn read_message(stream: &mut tokio::net::TcpStream, buf: &mut Vec<u8>) -> Received {
    use tokio::io::AsyncReadExt;
    loop {
        if let Ok(cpim_sip::Status::Complete(_, used)) = cpim_sip::Message::parse_stream(buf) {
            return Received(buf.drain(..used).collect());
        }
        let mut chunk = [0u8; 8192];
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "cpimd closed the connection");
        buf.extend_from_slice(&chunk[..n]);
    }
}

#[tokio::test]
async fn relayed_messages_over_tcp_share_one_connection_opened_to_the_next_hop() {
    use tokio::io::AsyncWriteExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hop = listener.local_addr().unwrap();
    let server = routed_to(&format!("tcp:{hop}"), "udp:127.0.0.1:0,tcp:127.0.0.1:0");
    // b.test's side: accepts one connection, answers each MESSAGE on it.
    let other = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut buf = Vec::new();
        let mut bodies = Vec::new();
        for _ in 0..2 {
            let request = read_message(&mut stream, &mut buf).await;
            let message = request.parse();
            assert_eq!(message.method(), "MESSAGE");
            assert_eq!(message.via()[0].transport(), "TCP");
            bodies.push(String::from_utf8_lossy(message.body()).into_owned());
            let ok = cpim_sip::ResponseBuilder::for_request(&message, 200, "OK", Some("b"))
                .build()
                .unwrap();
            drop(message);
            stream.write_all(&ok).await.unwrap();
        }
        // No second connection was opened.
        let again = tokio::time::timeout(Duration::from_millis(300), listener.accept()).await;
        (bodies, again.is_err())
    });
    for body in ["first over TCP", "second over TCP"] {
        let (status, answer) = http(
            &server,
            "alice@a.test",
            reqwest::Method::POST,
            "/v1/messages",
            json!({"to": "im:bob@b.test", "body": body}),
        )
        .await;
        assert!(status < 300, "{status} {answer}");
        assert_eq!(answer["status"], "success", "{answer}");
    }
    let (bodies, one_connection) = other.await.unwrap();
    assert_eq!(bodies, ["first over TCP", "second over TCP"]);
    assert!(one_connection);
}

/// Sends a SUBSCRIBE for bob's presence; returns the final response and
/// the NOTIFYs that came meanwhile (not yet answered).
async fn subscribe(ua: &mut Ua) -> (Received, Vec<Received>) {
    let mut notifies = Vec::new();
    let ok = ua
        .transact(
            |ua| {
                ua.request(
                    "SUBSCRIBE",
                    "sip:bob@example.com",
                    "<sip:bob@example.com>",
                    "sub481",
                )
                .header("Event", "presence")
                .header("Expires", "600")
            },
            &mut notifies,
        )
        .await;
    (ok, notifies)
}

async fn answer(ua: &mut Ua, request: &Received, code: u16, reason: &str) {
    let message = request.parse();
    let bytes = cpim_sip::ResponseBuilder::for_request(&message, code, reason, Some("uas"))
        .build()
        .unwrap();
    drop(message);
    ua.send_raw(&bytes).await;
}

async fn publish(server: &sip_support::Server, basic: &str) {
    let (status, answer) = http(
        server,
        "bob@example.com",
        reqwest::Method::PUT,
        "/v1/presence/pres:bob@example.com",
        json!({"tuples": [{"id": "t1", "basic": basic}]}),
    )
    .await;
    assert!(status < 300, "{status} {answer}");
}

async fn watchers(server: &sip_support::Server) -> serde_json::Value {
    let (status, list) = http(
        server,
        "bob@example.com",
        reqwest::Method::GET,
        "/v1/watchers/pres:bob@example.com",
        serde_json::Value::Null,
    )
    .await;
    assert_eq!(status, 200, "{list}");
    list["watchers"].clone()
}

#[tokio::test]
async fn notify_answered_481_ends_the_subscription() {
    let server = start();
    publish(&server, "open").await;
    let mut alice = Ua::udp(&server, "alice@example.com").await;
    let (ok, mut notifies) = subscribe(&mut alice).await;
    assert_eq!(ok.code(), 200, "{}", ok.text());
    let first = match notifies.pop() {
        Some(n) => n,
        None => alice.recv().await,
    };
    assert_eq!(first.parse().method(), "NOTIFY");
    answer(&mut alice, &first, 200, "OK").await;
    assert_eq!(
        watchers(&server).await[0]["watcher"],
        "pres:alice@example.com"
    );

    // The next NOTIFY is answered 481: the watcher no longer knows the
    // subscription.
    publish(&server, "closed").await;
    let second = alice.recv().await;
    assert_eq!(second.parse().method(), "NOTIFY");
    assert!(second.text().contains("<basic>closed</basic>"));
    answer(&mut alice, &second, 481, "Subscription Does Not Exist").await;

    // The engine's subscription ends too, and nothing more is sent.
    let mut left = watchers(&server).await;
    for _ in 0..50 {
        if left.as_array().is_some_and(Vec::is_empty) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        left = watchers(&server).await;
    }
    assert_eq!(left, json!([]));
    publish(&server, "open").await;
    assert!(alice.try_recv(Duration::from_millis(500)).await.is_none());
}
