//! RFC 3856 / RFC 6665 SUBSCRIBE/NOTIFY and RFC 3903 PUBLISH <-> the
//! presence service (RFC 3859, draft section 3.4).

#![allow(clippy::unwrap_used)]

mod sip_support;

use serde_json::json;
use sip_support::{http, start, start_with_policy, Received, Ua};

const PIDF: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="pres:alice@example.com">
  <tuple id="sip1"><status><basic>open</basic></status><note>from SIP</note></tuple>
</presence>"#;

/// The 200 to a SUBSCRIBE and the NOTIFYs that came with it, in either
/// order; each NOTIFY is answered.
async fn subscribe(
    ua: &mut Ua,
    expires: u32,
    to: &str,
    call_id: &str,
) -> (Received, Vec<Received>) {
    let mut notifies = Vec::new();
    let target = "sip:bob@example.com".to_owned();
    let to = to.to_owned();
    let call_id = call_id.to_owned();
    let ok = ua
        .transact(
            |ua| {
                ua.request("SUBSCRIBE", &target, &to, &call_id)
                    .header("Event", "presence")
                    .header("Expires", expires.to_string())
                    .header("Accept", "application/pidf+xml")
            },
            &mut notifies,
        )
        .await;
    for n in &notifies {
        ua.ok(n).await;
    }
    (ok, notifies)
}

async fn next_notify(ua: &mut Ua, pending: &mut Vec<Received>) -> Received {
    if !pending.is_empty() {
        return pending.remove(0);
    }
    ua.expect_request("NOTIFY").await
}

#[tokio::test]
async fn subscribe_gets_pidf_notifies_and_unsubscribe_ends_the_dialog() {
    let server = start();
    let (status, _) = http(
        &server,
        "bob@example.com",
        reqwest::Method::PUT,
        "/v1/presence/pres:bob@example.com",
        json!({"tuples": [{"id": "t1", "basic": "open", "note": "at desk"}]}),
    )
    .await;
    assert!(status < 300, "{status}");

    let mut alice = Ua::tcp(&server, "alice@example.com").await;
    let (ok, mut pending) = subscribe(&mut alice, 600, "<sip:bob@example.com>", "s1").await;
    assert_eq!(ok.code(), 200, "{}", ok.text());
    assert_eq!(ok.header("Expires").as_deref(), Some("600"));
    assert!(ok.header("Contact").is_some());
    let tag = ok.parse().to().tag().unwrap().to_owned();

    let first = next_notify(&mut alice, &mut pending).await;
    let n = first.parse();
    assert_eq!(n.call_id(), "s1");
    assert_eq!(n.from().tag(), Some(tag.as_str()));
    assert_eq!(n.to().tag(), Some(alice.tag.as_str()));
    assert_eq!(n.event().unwrap().package(), "presence");
    let state = n.subscription_state().unwrap();
    assert_eq!(state.state(), "active");
    assert!(state.expires().unwrap() <= 600);
    assert!(n.content_type().unwrap().is("application", "pidf+xml"));
    let body = String::from_utf8_lossy(n.body()).into_owned();
    assert!(
        body.contains("<basic>open</basic>") && body.contains("at desk"),
        "{body}"
    );
    let first_cseq = n.cseq().number;

    // A change of bob's presence gives another NOTIFY in the dialog.
    http(
        &server,
        "bob@example.com",
        reqwest::Method::PUT,
        "/v1/presence/pres:bob@example.com",
        json!({"tuples": [{"id": "t1", "basic": "closed"}]}),
    )
    .await;
    let second = next_notify(&mut alice, &mut pending).await;
    let n = second.parse();
    assert!(n.cseq().number > first_cseq);
    assert!(String::from_utf8_lossy(n.body()).contains("<basic>closed</basic>"));

    // Unsubscribe in the dialog: 200 and a final NOTIFY.
    let to = format!("<sip:bob@example.com>;tag={tag}");
    let (ok, mut pending) = subscribe(&mut alice, 0, &to, "s1").await;
    assert_eq!(ok.code(), 200);
    let last = next_notify(&mut alice, &mut pending).await;
    assert_eq!(
        last.parse().subscription_state().unwrap().state(),
        "terminated"
    );

    // The dialog is gone.
    let (gone, _) = subscribe(&mut alice, 600, &to, "s1").await;
    assert_eq!(gone.code(), 481);
}

#[tokio::test]
async fn fetch_gets_one_terminated_notify() {
    let server = start();
    http(
        &server,
        "bob@example.com",
        reqwest::Method::PUT,
        "/v1/presence/pres:bob@example.com",
        json!({"tuples": [{"id": "t1", "basic": "open"}]}),
    )
    .await;
    let mut alice = Ua::udp(&server, "alice@example.com").await;
    let (ok, mut pending) = subscribe(&mut alice, 0, "<sip:bob@example.com>", "f1").await;
    assert_eq!(ok.code(), 200, "{}", ok.text());
    let notify = next_notify(&mut alice, &mut pending).await;
    let n = notify.parse();
    let state = n.subscription_state().unwrap();
    assert_eq!(state.state(), "terminated");
    assert_eq!(state.reason(), Some("timeout"));
    assert!(String::from_utf8_lossy(n.body()).contains("<basic>open</basic>"));
}

#[tokio::test]
async fn publish_sets_refreshes_modifies_and_removes() {
    let server = start();
    let mut alice = Ua::udp(&server, "alice@example.com").await;
    let mut others = Vec::new();
    let publish = |etag: Option<String>, expires: u32, body: Option<&'static str>| {
        move |ua: &mut Ua| {
            let mut r = ua
                .request(
                    "PUBLISH",
                    "sip:alice@example.com",
                    "<sip:alice@example.com>",
                    "p1",
                )
                .header("Event", "presence")
                .header("Expires", expires.to_string());
            if let Some(etag) = &etag {
                r = r.header("SIP-If-Match", etag.clone());
            }
            if let Some(body) = body {
                r = r.body("application/pidf+xml", body);
            }
            r
        }
    };
    let ok = alice
        .transact(publish(None, 600, Some(PIDF)), &mut others)
        .await;
    assert_eq!(ok.code(), 200, "{}", ok.text());
    let etag = ok.header("SIP-ETag").unwrap();
    assert_eq!(ok.header("Expires").as_deref(), Some("600"));

    let (status, seen) = http(
        &server,
        "alice@example.com",
        reqwest::Method::GET,
        "/v1/presence/pres:alice@example.com",
        json!(null),
    )
    .await;
    assert_eq!(status, 200, "{seen}");
    assert!(seen.to_string().contains("from SIP"), "{seen}");

    // Refresh: no body, a new entity-tag.
    let ok = alice
        .transact(publish(Some(etag.clone()), 300, None), &mut others)
        .await;
    assert_eq!(ok.code(), 200, "{}", ok.text());
    let refreshed = ok.header("SIP-ETag").unwrap();
    assert_ne!(refreshed, etag);

    // The old tag is spent.
    let stale = alice
        .transact(publish(Some(etag), 300, None), &mut others)
        .await;
    assert_eq!(stale.code(), 412);

    // Remove.
    let ok = alice
        .transact(publish(Some(refreshed), 0, None), &mut others)
        .await;
    assert_eq!(ok.code(), 200);
    let (_, seen) = http(
        &server,
        "alice@example.com",
        reqwest::Method::GET,
        "/v1/presence/pres:alice@example.com",
        json!(null),
    )
    .await;
    assert!(!seen.to_string().contains("from SIP"), "{seen}");

    // Not PIDF: 415; someone else's presence: 403.
    let bad = alice
        .transact(
            |ua| {
                ua.request(
                    "PUBLISH",
                    "sip:alice@example.com",
                    "<sip:alice@example.com>",
                    "p2",
                )
                .header("Event", "presence")
                .body("text/plain", "online")
            },
            &mut others,
        )
        .await;
    assert_eq!(bad.code(), 415);
    let other = alice
        .transact(
            |ua| {
                ua.request(
                    "PUBLISH",
                    "sip:bob@example.com",
                    "<sip:bob@example.com>",
                    "p3",
                )
                .header("Event", "presence")
                .body("application/pidf+xml", PIDF)
            },
            &mut others,
        )
        .await;
    assert_eq!(other.code(), 403);
}

#[tokio::test]
async fn asked_presentity_shows_pending_until_it_allows_and_refresh_keeps_the_dialog() {
    let server = start_with_policy("ask");
    http(
        &server,
        "bob@example.com",
        reqwest::Method::PUT,
        "/v1/presence/pres:bob@example.com",
        json!({"tuples": [{"id": "t1", "basic": "open"}]}),
    )
    .await;
    let mut alice = Ua::udp(&server, "alice@example.com").await;
    let (ok, mut pending) = subscribe(&mut alice, 600, "<sip:bob@example.com>", "a1").await;
    assert_eq!(ok.code(), 200, "{}", ok.text());
    let tag = ok.parse().to().tag().unwrap().to_owned();
    let first = next_notify(&mut alice, &mut pending).await;
    let n = first.parse();
    assert_eq!(n.subscription_state().unwrap().state(), "pending");
    assert!(!String::from_utf8_lossy(n.body()).contains("<tuple"));

    // Bob allows alice: the dialog turns active with his presence.
    let (status, answer) = http(
        &server,
        "bob@example.com",
        reqwest::Method::PUT,
        "/v1/policy/pres:bob@example.com/watchers/pres:alice@example.com",
        json!({"decision": "allow"}),
    )
    .await;
    assert!(status < 300, "{status} {answer}");
    let active = next_notify(&mut alice, &mut pending).await;
    let n = active.parse();
    assert_eq!(n.subscription_state().unwrap().state(), "active");
    assert!(String::from_utf8_lossy(n.body()).contains("<basic>open</basic>"));

    // A refresh inside the dialog is answered in the same dialog.
    let to = format!("<sip:bob@example.com>;tag={tag}");
    let (ok, _) = subscribe(&mut alice, 1200, &to, "a1").await;
    assert_eq!(ok.code(), 200, "{}", ok.text());
    assert_eq!(ok.parse().to().tag(), Some(tag.as_str()));
    assert_eq!(ok.header("Expires").as_deref(), Some("1200"));
}

#[tokio::test]
async fn denied_watcher_gets_403_and_no_notify() {
    let server = start_with_policy("deny");
    let mut alice = Ua::udp(&server, "alice@example.com").await;
    let (refused, notifies) = subscribe(&mut alice, 600, "<sip:bob@example.com>", "d1").await;
    assert_eq!(refused.code(), 403, "{}", refused.text());
    assert_eq!(
        refused.parse().reason(),
        Some("bob@example.com does not share its presence with alice@example.com")
    );
    assert!(notifies.is_empty());
    assert!(alice
        .try_recv(std::time::Duration::from_millis(300))
        .await
        .is_none());
}
