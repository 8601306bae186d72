//! Bodies other than JSON: a raw `message/cpim` (RFC 3862) is passed on
//! whole, its extension headers intact; the draft's XML notation
//! (`application/cpim-op+xml`, draft sections 6-9) is taken and answered,
//! for publish (section 9's presence), unsubscribe, and on event streams
//! that ask for it (messages, notifies, deferred responses).

use cpim_formats::op::{MessageOp, Operation, Status, SubscribeOp};
use cpim_formats::uri::Uri;
use serde_json::Value;

use crate::harness::{data_dir, Server, PATIENCE};

#[test]
fn a_message_cpim_body_reaches_the_inbox_whole() {
    let dir = data_dir();
    let server = Server::start(dir.path(), &[]);
    let alice = server.user("alice");
    let bob = server.user("bob");
    let inbox = server.watch(&bob);
    let message = format!(
        "From: Alice <{}>\r\nTo: Bob <{}>\r\nSubject: the weather\r\nNS: MyFeatures <mid:MessageFeatures@id.foo.com>\r\nMyFeatures.WackyMessageOption: Use-silly-font\r\n\r\nContent-Type: text/plain\r\n\r\nfine today",
        alice.im(),
        bob.im()
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (status, answer) = runtime.block_on(async {
        let response = crate::harness::http()
            .post(format!("{}/v1/messages", server.url))
            .bearer_auth(&alice.token)
            .header("content-type", "message/cpim")
            .body(message.clone())
            .send()
            .await
            .unwrap();
        (
            response.status().as_u16(),
            response.json::<Value>().await.unwrap(),
        )
    });
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["status"], "success");
    let got = inbox.next(|e| e["op"] == "message");
    assert_eq!(got["from"], alice.im().as_str());
    assert_eq!(got["content_type"], "message/cpim");
    assert_eq!(got["body"], message.as_str());

    // A message/cpim without To is refused with the header named.
    let (status, answer) = runtime.block_on(async {
        let response = crate::harness::http()
            .post(format!("{}/v1/messages", server.url))
            .bearer_auth(&alice.token)
            .header("content-type", "message/cpim")
            .body(format!(
                "From: <{}>\r\n\r\nContent-Type: text/plain\r\n\r\nx",
                alice.im()
            ))
            .send()
            .await
            .unwrap();
        (
            response.status().as_u16(),
            response.json::<Value>().await.unwrap(),
        )
    });
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["field"], "To");
}

#[test]
fn operations_in_xml_notation_are_answered_in_it() {
    let dir = data_dir();
    let server = Server::start(dir.path(), &[]);
    let alice = server.user("alice");
    let bob = server.user("bob");
    let inbox = server.watch(&bob);
    let op = MessageOp::new(
        Uri::parse(&alice.im()).unwrap(),
        Uri::parse(&bob.im()).unwrap(),
        "text/plain",
        "in xml",
    )
    .unwrap();
    let trans_id = op.trans_id;
    let xml = Operation::Message(op).to_xml();
    let subscribe = Operation::Subscribe(
        SubscribeOp::new(
            Uri::parse(&bob.pres()).unwrap(),
            Uri::parse(&alice.pres()).unwrap(),
            120,
        )
        .unwrap(),
    )
    .to_xml();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let post = |path: &'static str, token: String, body: String| {
        let url = format!("{}{path}", server.url);
        runtime.block_on(async move {
            let response = crate::harness::http()
                .post(url)
                .bearer_auth(token)
                .header("content-type", "application/cpim-op+xml")
                .body(body)
                .send()
                .await
                .unwrap();
            let ct = response.headers()["content-type"]
                .to_str()
                .unwrap()
                .to_owned();
            (ct, response.text().await.unwrap())
        })
    };
    let (ct, text) = post("/v1/messages", alice.token.clone(), xml);
    assert_eq!(ct, "application/cpim-op+xml");
    let Operation::Response(response) = Operation::from_xml(text.as_bytes()).unwrap() else {
        panic!("not a response: {text}");
    };
    assert_eq!(response.status, Status::Success);
    assert_eq!(response.trans_id, trans_id);
    assert_eq!(inbox.next(|e| e["op"] == "message")["body"], "in xml");

    let (_, text) = post("/v1/subscriptions", bob.token.clone(), subscribe);
    let Operation::Response(response) = Operation::from_xml(text.as_bytes()).unwrap() else {
        panic!("not a response: {text}");
    };
    assert_eq!(response.status, Status::Success, "{text}");
    assert_eq!(response.duration, Some(120));

    // Malformed XML is a 400 naming the problem, in JSON.
    let (ct, text) = post("/v1/messages", alice.token.clone(), "<message".to_owned());
    assert!(ct.starts_with("application/json"), "{ct}");
    let error: Value = serde_json::from_str(&text).unwrap();
    assert!(
        error["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{text}"
    );
}

/// An open `/v1/events` WebSocket read frame by frame.
struct Stream {
    socket: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
}

impl Stream {
    /// Opens the event stream of `token`; `query` and `accept` ask for a
    /// notation. Waits for the `ready` frame, which is JSON in every
    /// notation.
    async fn open(server: &Server, token: &str, query: &str, accept: Option<&str>) -> Stream {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let url = format!("ws://{}/v1/events{query}", server.addr());
        let mut request = url.into_client_request().unwrap();
        let headers = request.headers_mut();
        headers.insert("authorization", format!("Bearer {token}").parse().unwrap());
        if let Some(accept) = accept {
            headers.insert("accept", accept.parse().unwrap());
        }
        let (socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
        let mut stream = Stream { socket };
        let ready: Value = serde_json::from_str(&stream.frame().await).unwrap();
        assert_eq!(ready["op"], "ready");
        stream
    }

    /// The next text frame.
    async fn frame(&mut self) -> String {
        use futures_util::StreamExt;
        use tokio_tungstenite::tungstenite::Message;
        loop {
            let next = tokio::time::timeout(PATIENCE, self.socket.next()).await;
            match next.expect("no frame in time") {
                Some(Ok(Message::Text(text))) => return text.to_string(),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                other => panic!("event stream ended: {other:?}"),
            }
        }
    }

    /// The next frame, which must be one operation in the XML notation.
    async fn op(&mut self) -> Operation {
        let text = self.frame().await;
        Operation::from_xml(text.as_bytes())
            .unwrap_or_else(|e| panic!("not the XML notation ({e}): {text}"))
    }
}

/// Sends one request: status, Content-Type and body of the answer.
async fn call(
    method: reqwest::Method,
    url: String,
    token: &str,
    content_type: Option<&str>,
    body: String,
) -> (u16, String, String) {
    let mut request = crate::harness::http()
        .request(method, url)
        .bearer_auth(token)
        .header("accept", "application/cpim-op+xml");
    if let Some(ct) = content_type {
        request = request.header("content-type", ct);
    }
    let response = request.body(body).send().await.unwrap();
    let status = response.status().as_u16();
    let ct = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, ct, response.text().await.unwrap())
}

fn response_op(text: &str) -> cpim_formats::op::ResponseOp {
    match Operation::from_xml(text.as_bytes()) {
        Ok(Operation::Response(response)) => response,
        other => panic!("not a response ({other:?}): {text}"),
    }
}

#[test]
fn publish_unsubscribe_and_events_in_xml_notation() {
    let dir = data_dir();
    let server = Server::start(dir.path(), &[]);
    let alice = server.user("alice");
    let bob = server.user("bob");
    let carol = server.user("carol");
    let (code, _) = server.cpim(&alice, &["allow", &bob.pres()]);
    assert_eq!(code, 0);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut by_query = Stream::open(&server, &bob.token, "?notation=xml", None).await;
        let mut by_accept =
            Stream::open(&server, &bob.token, "", Some("application/cpim-op+xml")).await;
        let mut json = Stream::open(&server, &bob.token, "", None).await;

        // A subscribe's first notify: alice has published nothing, so the
        // draft's notify carries a presence with no tuples.
        let (code, answer) =
            server.cpim(&bob, &["subscribe", &alice.pres(), "--duration", "600"]);
        assert_eq!(code, 0, "{answer}");
        for stream in [&mut by_query, &mut by_accept] {
            let Operation::Notify(notify) = stream.op().await else {
                panic!("not a notify");
            };
            assert_eq!(notify.watcher.to_string(), bob.pres());
            assert_eq!(notify.target.to_string(), alice.pres());
            assert!(notify.presence.tuples.is_empty());
        }
        let first: Value = serde_json::from_str(&json.frame().await).unwrap();
        assert_eq!(first["op"], "notify");

        // Publish in the draft's presence notation (section 9).
        let presence = format!(
            "<presence entityInfo='http://example.com/alice'><tuple destination='{}' status='open'/></presence>",
            alice.im()
        );
        let (status, ct, text) = call(
            reqwest::Method::PUT,
            format!("{}/v1/presence/{}?expires=300", server.url, alice.pres()),
            &alice.token,
            Some("application/cpim-op+xml"),
            presence,
        )
        .await;
        assert_eq!(status, 200, "{text}");
        assert_eq!(ct, "application/cpim-op+xml");
        let response = response_op(&text);
        assert_eq!(response.status, Status::Success, "{text}");
        assert_eq!(response.duration, Some(300));
        for stream in [&mut by_query, &mut by_accept] {
            let Operation::Notify(notify) = stream.op().await else {
                panic!("not a notify");
            };
            assert_eq!(notify.presence.tuples.len(), 1);
            let tuple = &notify.presence.tuples[0];
            assert_eq!(tuple.status.basic, Some(cpim_formats::pidf::Basic::Open));
            assert_eq!(
                tuple.contact.as_ref().map(|c| &*c.uri),
                Some(alice.im().as_str())
            );
        }
        let notify: Value = serde_json::from_str(&json.frame().await).unwrap();
        assert_eq!(notify["presence"]["tuples"][0]["basic"], "open");

        // A fetch in the draft's notation is answered with the notify it
        // yields (section 3.4.4): by a first-time reader (alice herself)
        // and by a watcher whose subscription is active (bob); one that
        // yields no presence (carol: alice has not decided about her) with
        // the response alone.
        let presence_url = format!("{}/v1/presence/{}", server.url, alice.pres());
        for (reader, name) in [(&alice, "alice"), (&bob, "bob")] {
            let (status, ct, text) = call(
                reqwest::Method::GET,
                presence_url.clone(),
                &reader.token,
                None,
                String::new(),
            )
            .await;
            assert_eq!(status, 200, "{name}: {text}");
            assert_eq!(ct, "application/cpim-op+xml");
            let Ok(Operation::Notify(fetched)) = Operation::from_xml(text.as_bytes()) else {
                panic!("{name}: not a notify: {text}");
            };
            assert_eq!(fetched.watcher.to_string(), reader.pres());
            assert_eq!(fetched.target.to_string(), alice.pres());
            assert_eq!(fetched.presence.tuples.len(), 1, "{name}: {text}");
        }
        let (status, _, text) = call(
            reqwest::Method::GET,
            presence_url,
            &carol.token,
            None,
            String::new(),
        )
        .await;
        assert_eq!(status, 200, "{text}");
        response_op(&text);

        // A message event is the draft's <message>.
        let (code, _) = server.cpim(&alice, &["send", "--to", &bob.im(), "in xml"]);
        assert_eq!(code, 0);
        for stream in [&mut by_query, &mut by_accept] {
            let Operation::Message(message) = stream.op().await else {
                panic!("not a message");
            };
            assert_eq!(message.source.to_string(), alice.im());
            assert_eq!(message.destination.to_string(), bob.im());
            assert_eq!(message.content_type, "text/plain");
            assert_eq!(message.body, b"in xml");
        }
        let message: Value = serde_json::from_str(&json.frame().await).unwrap();
        assert_eq!(message["body"], "in xml");

        // Unsubscribe as the draft's <unsubscribe>; the response carries
        // its transID.
        let unsubscribe = format!(
            "<unsubscribe watcher='{}' target='{}' transID='77'/>",
            bob.pres(),
            alice.pres()
        );
        let url = format!("{}/v1/subscriptions", server.url);
        let (status, ct, text) = call(
            reqwest::Method::DELETE,
            url.clone(),
            &bob.token,
            Some("application/cpim-op+xml"),
            unsubscribe.clone(),
        )
        .await;
        assert_eq!(status, 200, "{text}");
        assert_eq!(ct, "application/cpim-op+xml");
        let response = response_op(&text);
        assert_eq!(response.status, Status::Success, "{text}");
        assert_eq!(response.trans_id.get(), 77);
        // The subscription ended: its last notify shows nothing.
        let Operation::Notify(last) = by_query.op().await else {
            panic!("not a notify");
        };
        assert!(last.presence.tuples.is_empty());

        // After it, a change of alice's presence reaches bob no more: the
        // next frame is the marker message.
        let (code, _) = server.cpim(&alice, &["publish", "--status", "closed"]);
        assert_eq!(code, 0);
        let (code, _) = server.cpim(&alice, &["send", "--to", &bob.im(), "marker"]);
        assert_eq!(code, 0);
        match by_query.op().await {
            Operation::Message(m) => assert_eq!(m.body, b"marker"),
            other => panic!("notified after unsubscribing: {other:?}"),
        }

        // Refusals name what is wrong.
        let (status, _, text) = call(
            reqwest::Method::DELETE,
            format!("{url}?target={}", alice.pres()),
            &bob.token,
            Some("application/cpim-op+xml"),
            unsubscribe,
        )
        .await;
        assert_eq!(status, 400, "{text}");
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap()["field"], "query");
        let subscribe = format!(
            "<subscribe watcher='{}' target='{}' duration='60' transID='5'/>",
            bob.pres(),
            alice.pres()
        );
        let (status, _, text) = call(
            reqwest::Method::DELETE,
            url.clone(),
            &bob.token,
            Some("application/cpim-op+xml"),
            subscribe,
        )
        .await;
        assert_eq!(status, 400, "{text}");
        assert!(text.contains("expected a unsubscribe operation"), "{text}");
        let (status, _, text) =
            call(reqwest::Method::DELETE, url, &bob.token, None, String::new()).await;
        assert_eq!(status, 400, "{text}");
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap()["field"], "target");
        let (status, _, text) = call(
            reqwest::Method::PUT,
            format!("{}/v1/presence/{}", server.url, alice.pres()),
            &alice.token,
            Some("application/cpim-op+xml"),
            "<presence><tuple status='open'/></presence>".to_owned(),
        )
        .await;
        assert_eq!(status, 400, "{text}");
        assert!(text.contains("destination"), "{text}");
    });
}

#[test]
fn a_deferred_response_comes_in_the_streams_notation() {
    // The next hop for other.test is this socket, which answers only when
    // the test says so: the message's response comes after the POST
    // stopped waiting.
    let peer = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    peer.set_read_timeout(Some(PATIENCE)).unwrap();
    let dir = data_dir();
    let config = dir.path().join("cpimd.toml");
    std::fs::write(&config, "[limits]\nresponse_wait_ms = 200\n").unwrap();
    let route = format!("other.test=udp:{}", peer.local_addr().unwrap());
    let server = Server::start(
        &dir.path().join("data"),
        &[
            "--config",
            config.to_str().unwrap(),
            "--sip",
            "udp:127.0.0.1:0",
            "--sip-route",
            &route,
        ],
    );
    let alice = server.user("alice");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut xml = Stream::open(&server, &alice.token, "?notation=xml", None).await;
        let mut json = Stream::open(&server, &alice.token, "?notation=json", None).await;
        let message = format!(
            "<message source='{}' destination='im:xavier@other.test' transID='4242'>Content-Type: text/plain\r\n\r\nfar away</message>",
            alice.im()
        );
        let (status, _, text) = call(
            reqwest::Method::POST,
            format!("{}/v1/messages", server.url),
            &alice.token,
            Some("application/cpim-op+xml"),
            message,
        )
        .await;
        assert_eq!(status, 202, "{text}");

        // Now the next hop accepts the MESSAGE.
        let request = tokio::task::spawn_blocking(move || {
            let mut buf = vec![0u8; 65536];
            let (n, from) = peer.recv_from(&mut buf).unwrap();
            let request = String::from_utf8_lossy(&buf[..n]).into_owned();
            peer.send_to(sip_ok(&request).as_bytes(), from).unwrap();
            request
        })
        .await
        .unwrap();
        assert!(request.starts_with("MESSAGE sip:xavier@other.test"), "{request}");
        assert!(request.contains("far away"), "{request}");

        let response = loop {
            if let Operation::Response(r) = xml.op().await {
                break r;
            }
        };
        assert_eq!(response.trans_id.get(), 4242);
        assert_eq!(response.status, Status::Success);
        let deferred = loop {
            let event: Value = serde_json::from_str(&json.frame().await).unwrap();
            if event["op"] == "response" {
                break event;
            }
        };
        assert_eq!(deferred["transID"], "4242");
        assert_eq!(deferred["status"], "success");
    });

    // A notation the server does not know is refused before the upgrade.
    let answer = runtime.block_on(async {
        crate::harness::http()
            .get(format!("{}/v1/events?notation=yaml", server.url))
            .bearer_auth(&alice.token)
            .send()
            .await
            .unwrap()
    });
    assert_eq!(answer.status(), 400);
    let body: Value = runtime.block_on(answer.json()).unwrap();
    assert_eq!(body["field"], "notation", "{body}");
}

/// A `200 OK` to a SIP request (RFC 3261 section 8.2.6.2): its Via, From,
/// Call-ID and CSeq copied, a tag added to To.
fn sip_ok(request: &str) -> String {
    let mut response = String::from("SIP/2.0 200 OK\r\n");
    for line in request.split("\r\n").skip(1) {
        if line.is_empty() {
            break;
        }
        let name = line.split(':').next().unwrap_or_default().trim();
        match name.to_ascii_lowercase().as_str() {
            "via" | "v" | "from" | "f" | "call-id" | "i" | "cseq" => {
                response.push_str(line);
                response.push_str("\r\n");
            }
            "to" | "t" => {
                response.push_str(line);
                response.push_str(";tag=nexthop\r\n");
            }
            _ => {}
        }
    }
    response.push_str("Content-Length: 0\r\n\r\n");
    response
}
