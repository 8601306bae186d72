//! `kill -9` under load, then restart: every message answered `success` was
//! delivered (written to the recipient's open inbox), and every
//! subscription answered `success` is still there. This is the driver's
//! group commit and write acknowledgement at work.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite;

use crate::harness::{data_dir, Server, User};

const SENDERS: usize = 6;
const WATCHERS: usize = 8;
const TARGETS: usize = 6;

#[test]
fn kill9_under_load_keeps_what_was_acknowledged() {
    let dir = data_dir();
    let config = dir.path().join("cpimd.toml");
    std::fs::write(
        &config,
        "[limits]\nrate_per_sec = 1000000.0\nrate_burst = 1000000.0\n[service]\ndefault_policy = \"allow\"\n",
    )
    .unwrap();
    let data = dir.path().join("data");
    let mut server = Server::start(&data, &["--config", config.to_str().unwrap()]);
    let alice = server.user("alice");
    let bob = server.user("bob");
    let watchers: Vec<User> = (0..WATCHERS)
        .map(|i| server.user(&format!("w{i}")))
        .collect();
    let targets: Vec<User> = (0..TARGETS)
        .map(|i| server.user(&format!("t{i}")))
        .collect();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let url = server.url.clone();
    let received = Arc::new(Mutex::new(HashSet::new()));
    let sent_ok = Arc::new(Mutex::new(Vec::new()));
    let subscribed_ok = Arc::new(Mutex::new(Vec::new()));
    let progress = Arc::new(AtomicUsize::new(0));

    // Bob's inbox, read until the connection dies.
    #[allow(clippy::async_yields_async)]
    let inbox = runtime.block_on(async {
        let mut request = tungstenite::client::IntoClientRequest::into_client_request(format!(
            "ws://{}/v1/events",
            server.addr()
        ))
        .unwrap();
        request.headers_mut().insert(
            "authorization",
            format!("Bearer {}", bob.token).parse().unwrap(),
        );
        let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
        let ready = socket.next().await.unwrap().unwrap();
        assert!(ready.to_text().unwrap().contains("\"ready\""));
        let received = received.clone();
        tokio::spawn(async move {
            while let Some(Ok(frame)) = socket.next().await {
                if let tungstenite::Message::Text(text) = frame {
                    let event: Value = serde_json::from_str(text.as_str()).unwrap();
                    if event["op"] == "message" {
                        received
                            .lock()
                            .unwrap()
                            .insert(event["transID"].as_str().unwrap().parse::<u64>().unwrap());
                    }
                }
            }
        })
    });

    let http = crate::harness::http();
    let mut tasks = Vec::new();
    for s in 0..SENDERS {
        let (http, url, token, to) = (http.clone(), url.clone(), alice.token.clone(), bob.im());
        let (sent_ok, progress) = (sent_ok.clone(), progress.clone());
        tasks.push(runtime.spawn(async move {
            for i in 0.. {
                let body = json!({"to": to, "body": format!("m-{s}-{i}")});
                let Ok(response) = http
                    .post(format!("{url}/v1/messages"))
                    .bearer_auth(&token)
                    .json(&body)
                    .send()
                    .await
                else {
                    break;
                };
                let Ok(answer) = response.json::<Value>().await else {
                    break;
                };
                if answer["status"] == "success" {
                    sent_ok
                        .lock()
                        .unwrap()
                        .push(answer["transID"].as_str().unwrap().parse::<u64>().unwrap());
                    progress.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for w in &watchers {
        let (http, url, token) = (http.clone(), url.clone(), w.token.clone());
        let watcher = w.pres();
        let targets: Vec<String> = targets.iter().map(User::pres).collect();
        let subscribed_ok = subscribed_ok.clone();
        tasks.push(runtime.spawn(async move {
            for round in 0.. {
                let target = &targets[round % targets.len()];
                let body = json!({"target": target, "duration": 3600 + round});
                let Ok(response) = http
                    .post(format!("{url}/v1/subscriptions"))
                    .bearer_auth(&token)
                    .json(&body)
                    .send()
                    .await
                else {
                    break;
                };
                let Ok(answer) = response.json::<Value>().await else {
                    break;
                };
                if answer["status"] == "success" {
                    subscribed_ok
                        .lock()
                        .unwrap()
                        .push((watcher.clone(), target.clone()));
                }
            }
        }));
    }

    // Kill once the load is well under way (a count, not a time).
    while progress.load(Ordering::Relaxed) < 300 || subscribed_ok.lock().unwrap().len() < 30 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    server.kill9();
    runtime.block_on(async {
        for task in tasks {
            task.await.unwrap();
        }
        inbox.await.unwrap();
    });

    let received = received.lock().unwrap();
    let sent_ok = sent_ok.lock().unwrap();
    assert!(sent_ok.len() >= 300);
    let lost: Vec<_> = sent_ok.iter().filter(|id| !received.contains(id)).collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged messages never arrived",
        lost.len(),
        sent_ok.len()
    );

    server.restart();
    let subscribed: HashSet<(String, String)> =
        subscribed_ok.lock().unwrap().iter().cloned().collect();
    for target in &targets {
        let (code, list) = server.cpim(target, &["watchers"]);
        assert_eq!(code, 0);
        let present: HashSet<String> = list["watchers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["watcher"].as_str().unwrap().to_owned())
            .collect();
        for (watcher, _) in subscribed.iter().filter(|(_, t)| *t == target.pres()) {
            assert!(
                present.contains(watcher),
                "{watcher} was told its subscription to {} succeeded, but it is gone",
                target.pres()
            );
        }
    }
}
