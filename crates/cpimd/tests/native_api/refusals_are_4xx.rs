//! Bad requests get a 4xx with `{"error", "field"}`, never a crash: bad or
//! missing tokens, malformed JSON, wrong content type, invalid URIs,
//! oversized bodies, unknown routes, too many requests, a slow reader.

use serde_json::{json, Value};

use crate::harness::{data_dir, Server};

struct Reply {
    status: u16,
    body: Value,
}

fn send(
    server: &Server,
    method: &str,
    path: &str,
    token: Option<&str>,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> Reply {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let http = crate::harness::http();
        let mut request = http.request(method.parse().unwrap(), format!("{}{path}", server.url));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(ct) = content_type {
            request = request.header("content-type", ct);
        }
        let response = request.body(body).send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text:?}"));
        Reply { status, body }
    })
}

#[test]
fn every_refusal_names_what_is_wrong() {
    let dir = data_dir();
    let server = Server::start(dir.path(), &[]);
    let alice = server.user("alice");
    let json_ct = Some("application/json");
    let good = json!({"to": "im:bob@example.com", "body": "x"})
        .to_string()
        .into_bytes();

    let r = send(&server, "POST", "/v1/messages", None, json_ct, good.clone());
    assert_eq!(r.status, 401);
    assert!(
        r.body["error"].as_str().unwrap().contains("Bearer"),
        "{}",
        r.body
    );

    let r = send(
        &server,
        "POST",
        "/v1/messages",
        Some("cpim_wrong"),
        json_ct,
        good.clone(),
    );
    assert_eq!(r.status, 401);
    assert_eq!(r.body["error"], "unknown token");

    let t = Some(alice.token.as_str());
    let r = send(
        &server,
        "POST",
        "/v1/messages",
        t,
        json_ct,
        b"{\"to\": ".to_vec(),
    );
    assert_eq!(r.status, 400);
    assert!(
        r.body["error"]
            .as_str()
            .unwrap()
            .starts_with("invalid JSON body"),
        "{}",
        r.body
    );

    let r = send(
        &server,
        "POST",
        "/v1/messages",
        t,
        json_ct,
        b"{\"to\":\"im:b@example.com\",\"body\":\"x\",\"bogus\":1}".to_vec(),
    );
    assert_eq!(r.status, 400);
    assert!(
        r.body["error"].as_str().unwrap().contains("bogus"),
        "{}",
        r.body
    );

    let r = send(
        &server,
        "POST",
        "/v1/messages",
        t,
        Some("text/plain"),
        good.clone(),
    );
    assert_eq!(r.status, 415);
    assert_eq!(r.body["field"], "Content-Type");

    let bad_uri = json!({"to": "im:bob@@example.com", "body": "x"})
        .to_string()
        .into_bytes();
    let r = send(&server, "POST", "/v1/messages", t, json_ct, bad_uri);
    assert_eq!(r.status, 400);
    assert_eq!(r.body["field"], "to");
    assert!(
        r.body["error"].as_str().unwrap().contains("byte"),
        "{}",
        r.body
    );

    let pres_to = json!({"to": "pres:bob@example.com", "body": "x"})
        .to_string()
        .into_bytes();
    let r = send(&server, "POST", "/v1/messages", t, json_ct, pres_to);
    assert_eq!(r.status, 400, "{}", r.body);

    let big = json!({"to": "im:bob@example.com", "body": "x".repeat(100_000)})
        .to_string()
        .into_bytes();
    let r = send(&server, "POST", "/v1/messages", t, json_ct, big);
    assert_eq!(r.status, 413);
    assert!(
        r.body["error"].as_str().unwrap().contains("larger than"),
        "{}",
        r.body
    );

    let r = send(&server, "GET", "/v1/nothing", t, None, Vec::new());
    assert_eq!(r.status, 404);
    assert_eq!(r.body["error"], "no such route");

    let r = send(
        &server,
        "GET",
        "/v1/presence/not%20a%20uri",
        t,
        None,
        Vec::new(),
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.body["field"], "uri");

    let r = send(
        &server,
        "PUT",
        "/v1/presence/pres:bob@example.com",
        t,
        json_ct,
        b"{\"tuples\":[]}".to_vec(),
    );
    assert_eq!(r.status, 403);

    let r = send(
        &server,
        "PUT",
        "/v1/presence/pres:alice@example.com",
        t,
        Some("application/pidf+xml"),
        b"<presence".to_vec(),
    );
    assert_eq!(r.status, 400, "{}", r.body);

    let r = send(&server, "GET", "/v1/events", t, None, Vec::new());
    assert_eq!(r.status, 426, "{}", r.body);

    let r = send(
        &server,
        "PUT",
        "/v1/policy/pres:alice@example.com/watchers/pres:bob@example.com",
        t,
        json_ct,
        b"{\"decision\":\"maybe\"}".to_vec(),
    );
    assert_eq!(r.status, 400, "{}", r.body);

    // Still serving after all that.
    let r = send(&server, "GET", "/healthz", None, None, Vec::new());
    assert_eq!(r.status, 200);
    assert_eq!(r.body["status"], "ok");
}

#[test]
fn a_token_over_its_rate_is_told_to_slow_down() {
    let dir = data_dir();
    let config = dir.path().join("cpimd.toml");
    std::fs::write(
        &config,
        "[limits]\nrate_per_sec = 0.001\nrate_burst = 3.0\n",
    )
    .unwrap();
    let server = Server::start(
        &dir.path().join("data"),
        &["--config", config.to_str().unwrap()],
    );
    let alice = server.user("alice");
    let t = Some(alice.token.as_str());
    for _ in 0..3 {
        assert_eq!(
            send(&server, "GET", "/v1/me", t, None, Vec::new()).status,
            200
        );
    }
    let r = send(&server, "GET", "/v1/me", t, None, Vec::new());
    assert_eq!(r.status, 429);
    assert!(
        r.body["error"].as_str().unwrap().contains("rate limit"),
        "{}",
        r.body
    );
    // Another user has its own budget.
    let bob = server.user("bob");
    assert_eq!(
        send(
            &server,
            "GET",
            "/v1/me",
            Some(bob.token.as_str()),
            None,
            Vec::new()
        )
        .status,
        200
    );
}

#[test]
fn metrics_count_messages_by_outcome() {
    let dir = data_dir();
    let server = Server::start(dir.path(), &[]);
    let alice = server.user("alice");
    let (code, _) = server.cpim(&alice, &["send", "--to", "im:nobody@example.com", "x"]);
    assert_eq!(code, 1);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let text = runtime.block_on(async {
        reqwest::get(format!("{}/metrics", server.url))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    });
    assert!(
        text.contains("cpimd_messages_total{outcome=\"failure\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("cpimd_operation_seconds_count{op=\"message\"} 1"),
        "{text}"
    );
}

#[test]
fn a_slow_reader_is_disconnected_not_buffered() {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite;

    let dir = data_dir();
    let config = dir.path().join("cpimd.toml");
    std::fs::write(
        &config,
        "[limits]\nws_queue = 2\nresponse_wait_ms = 2000\nrate_per_sec = 100000.0\nrate_burst = 100000.0\n",
    )
    .unwrap();
    let server = Server::start(
        &dir.path().join("data"),
        &["--config", config.to_str().unwrap()],
    );
    let alice = server.user("alice");
    let bob = server.user("bob");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut request = tungstenite::client::IntoClientRequest::into_client_request(format!(
            "ws://{}/v1/events",
            server.addr()
        ))
        .unwrap();
        request.headers_mut().insert(
            "authorization",
            format!("Bearer {}", bob.token).parse().unwrap(),
        );
        // Bob opens his inbox and then reads nothing.
        let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
        let http = crate::harness::http();
        let body = json!({"to": bob.im(), "body": "x".repeat(60_000)});
        let mut refused = false;
        // Enough to fill any socket buffers many times over; stops at the
        // first refusal.
        for _round in 0..200 {
            let sends = (0..16).map(|_| {
                http.post(format!("{}/v1/messages", server.url))
                    .bearer_auth(&alice.token)
                    .json(&body)
                    .send()
            });
            for response in futures_util::future::join_all(sends).await {
                let answer: Value = response.unwrap().json().await.unwrap();
                if answer["status"] == "failure" {
                    refused = true;
                }
            }
            if refused {
                break;
            }
        }
        assert!(refused, "a reader that reads nothing kept receiving");
        // The server closed bob's stream: reading it ends.
        let mut frames = 0usize;
        while let Some(Ok(frame)) = socket.next().await {
            if let tungstenite::Message::Close(Some(close)) = &frame {
                assert!(close.reason.as_str().contains("too slow"), "{close:?}");
            }
            frames += 1;
        }
        assert!(frames > 0);
        let metrics = http
            .get(format!("{}/metrics", server.url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(metrics.contains("cpimd_slow_readers_total 1"), "{metrics}");
    });
}
