//! The JSON shapes of the native API's answers and events: response
//! operations (draft section 6), presence (RFC 3863 as JSON), and the events
//! of `GET /v1/events` (message, notify, response, watcher); and the same
//! events in the draft's XML notation (sections 6-9) for event streams that
//! ask for it.

use cpim_engine::{Notification, Reason, SubState, Timestamp};
use cpim_formats::op::{MessageOp, Operation, ResponseOp};
use cpim_formats::pidf::{Basic, Presence};
use cpim_formats::uri::{Address, Scheme};
use serde_json::{json, Value};

/// How an event stream writes the operations the draft has a notation for
/// (message, notify, response). Events the draft has no operation for
/// (`ready`, `watcher`) are JSON on every stream.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Notation {
    /// One JSON object per frame.
    #[default]
    Json,
    /// One element of the draft's XML notation per frame.
    Xml,
}

/// An event in the notation of one stream, written at most once per
/// notation however many streams it goes to.
pub struct Rendered<F> {
    render: F,
    json: Option<std::sync::Arc<str>>,
    xml: Option<std::sync::Arc<str>>,
}

impl<F: Fn(Notation) -> String> Rendered<F> {
    pub fn new(render: F) -> Rendered<F> {
        Rendered {
            render,
            json: None,
            xml: None,
        }
    }

    /// The text for a stream in `notation`.
    pub fn get(&mut self, notation: Notation) -> std::sync::Arc<str> {
        let slot = match notation {
            Notation::Json => &mut self.json,
            Notation::Xml => &mut self.xml,
        };
        slot.get_or_insert_with(|| (self.render)(notation).into())
            .clone()
    }
}

/// A message event in `notation`.
pub fn message_in(message: &MessageOp, notation: Notation) -> String {
    match notation {
        Notation::Json => self::message(message),
        Notation::Xml => Operation::Message(message.clone()).to_xml(),
    }
}

/// A notify event in `notation`. The draft's notify (section 8) carries
/// presence and no subscription state; with no presence to show (pending,
/// terminated) its PIDF has no tuples (`Notification::to_op`).
pub fn notify_in(notification: &Notification, now: Timestamp, notation: Notation) -> String {
    match notation {
        Notation::Json => notify(notification, now),
        Notation::Xml => Operation::Notify(notification.to_op()).to_xml(),
    }
}

/// A deferred response event in `notation`.
pub fn response_in(response_op: &ResponseOp, notation: Notation) -> String {
    match notation {
        Notation::Json => response(response_op),
        Notation::Xml => Operation::Response(response_op.clone()).to_xml(),
    }
}

/// A response operation: `{"status","transID","reason"}` plus `duration`
/// when the response carries one.
pub fn response_json(response: &ResponseOp) -> Value {
    let mut value = json!({
        "status": response.status.as_str(),
        "transID": response.trans_id.get().to_string(),
        "reason": response.reason,
    });
    if let (Some(duration), Some(map)) = (response.duration, value.as_object_mut()) {
        map.insert("duration".to_owned(), json!(duration));
    }
    value
}

/// A presence document as JSON; the PIDF text rides along for clients that
/// want the extensions JSON does not show.
pub fn presence_json(presence: &Presence) -> Value {
    let tuples: Vec<Value> = presence
        .tuples
        .iter()
        .map(|tuple| {
            json!({
                "id": tuple.id,
                "basic": tuple.status.basic.map(basic_str),
                "contact": tuple.contact.as_ref().map(|c| c.uri.clone()),
                "priority": tuple.contact.as_ref().and_then(|c| c.priority),
                "note": tuple.notes.first().map(|n| n.text.clone()),
                "timestamp": tuple.timestamp,
            })
        })
        .collect();
    json!({
        "entity": presence.entity,
        "tuples": tuples,
        "notes": presence.notes.iter().map(|n| n.text.clone()).collect::<Vec<_>>(),
        "pidf": presence.to_xml(),
    })
}

/// `open` or `closed`.
pub fn basic_str(basic: Basic) -> &'static str {
    match basic {
        Basic::Closed => "closed",
        _ => "open",
    }
}

/// `{"op":"message",...}`: a message for an open inbox.
pub fn message(message: &MessageOp) -> String {
    let mut value = json!({
        "op": "message",
        "from": message.source.to_string(),
        "to": message.destination.to_string(),
        "transID": message.trans_id.get().to_string(),
        "content_type": message.content_type,
    });
    if let Some(map) = value.as_object_mut() {
        // JSON carries text; a body that is not UTF-8 goes as base64.
        match std::str::from_utf8(&message.body) {
            Ok(text) => map.insert("body".to_owned(), json!(text)),
            Err(_) => map.insert("body_base64".to_owned(), json!(base64(&message.body))),
        };
    }
    value.to_string()
}

/// `{"op":"notify",...}`: a notify operation (draft section 3.4.2).
pub fn notify(notification: &Notification, now: Timestamp) -> String {
    notify_json(notification, now).to_string()
}

/// The notify event as a JSON value.
pub fn notify_json(notification: &Notification, now: Timestamp) -> Value {
    let (state, expires, reason) = match notification.state {
        SubState::Active { expires } => ("active", Some(expires.secs_after(now)), None),
        SubState::Pending { expires } => ("pending", Some(expires.secs_after(now)), None),
        SubState::Terminated(reason) => ("terminated", None, Some(reason_str(reason))),
        _ => ("unknown", None, None),
    };
    json!({
        "op": "notify",
        "watcher": pres(&notification.watcher),
        "target": pres(&notification.target),
        "transID": notification.trans_id.get().to_string(),
        "state": state,
        "expires": expires,
        "reason": reason,
        "presence": notification.presence.as_deref().map(presence_json),
    })
}

/// `{"op":"response",...}`: a response that came after its request stopped
/// waiting.
pub fn response(response: &ResponseOp) -> String {
    let mut value = response_json(response);
    if let Some(map) = value.as_object_mut() {
        map.insert("op".to_owned(), json!("response"));
    }
    value.to_string()
}

/// `{"op":"watcher",...}`: a new watcher asks to see the presentity.
pub fn watcher_request(presentity: &Address, watcher: &Address) -> String {
    json!({
        "op": "watcher",
        "presentity": pres(presentity),
        "watcher": pres(watcher),
    })
    .to_string()
}

/// The `pres:` URI of an address, as text.
pub fn pres(address: &Address) -> String {
    address.to_uri(Scheme::Pres).to_string()
}

/// Why a subscription ended, as the API spells it.
pub fn reason_str(reason: Reason) -> &'static str {
    match reason {
        Reason::Expired => "expired",
        Reason::Unsubscribed => "unsubscribed",
        Reason::Fetched => "fetched",
        Reason::Undecided => "undecided",
        Reason::Rejected => "rejected",
        Reason::Deactivated => "deactivated",
        _ => "other",
    }
}

/// Standard base64 (RFC 4648 section 4) with padding; written here because
/// it is the one place a binary value meets JSON.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use cpim_formats::op::{Status, TransId};
    use cpim_formats::pidf::Tuple;
    use cpim_formats::uri::Uri;

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (input, expected) in cases {
            assert_eq!(base64(input.as_bytes()), expected, "{input}");
        }
    }

    #[test]
    fn response_carries_duration_only_when_given() {
        let mut r = ResponseOp::new(Status::Success, TransId::new(7).unwrap());
        assert_eq!(
            response_json(&r),
            json!({"status":"success","transID":"7","reason":null})
        );
        r.duration = Some(60);
        r.reason = Some("ok".into());
        assert_eq!(
            response_json(&r),
            json!({"status":"success","transID":"7","reason":"ok","duration":60})
        );
        let event: Value = serde_json::from_str(&response(&r)).unwrap();
        assert_eq!(event["op"], "response");
    }

    #[test]
    fn message_event_shows_text_or_base64() {
        let from = Uri::parse("im:alice@example.com").unwrap();
        let to = Uri::parse("im:bob@example.com").unwrap();
        let op = MessageOp::new(from.clone(), to.clone(), "text/plain", "hi").unwrap();
        let event: Value = serde_json::from_str(&message(&op)).unwrap();
        assert_eq!(event["op"], "message");
        assert_eq!(event["from"], "im:alice@example.com");
        assert_eq!(event["to"], "im:bob@example.com");
        assert_eq!(event["body"], "hi");
        assert_eq!(event["transID"], op.trans_id.get().to_string());
        let op = MessageOp::new(from, to, "application/octet-stream", vec![0xff, 0]).unwrap();
        let event: Value = serde_json::from_str(&message(&op)).unwrap();
        assert_eq!(event["body_base64"], "/wA=");
        assert!(event.get("body").is_none());
    }

    #[test]
    fn xml_events_are_the_drafts_operations() {
        let alice = Address::new("alice", "example.com").unwrap();
        let bob = Address::new("bob", "example.com").unwrap();
        let ended = Notification {
            watcher: bob.clone(),
            target: alice.clone(),
            trans_id: TransId::new(9).unwrap(),
            state: SubState::Terminated(Reason::Expired),
            presence: None,
        };
        let now = Timestamp::from_millis(0);
        let text = notify_in(&ended, now, Notation::Xml);
        let Ok(Operation::Notify(op)) = Operation::from_xml(text.as_bytes()) else {
            panic!("not a notify: {text}");
        };
        assert_eq!(op.watcher.to_string(), "pres:bob@example.com");
        assert_eq!(op.target.to_string(), "pres:alice@example.com");
        assert_eq!(op.trans_id.get(), 9);
        assert!(op.presence.tuples.is_empty());
        let json: Value = serde_json::from_str(&notify_in(&ended, now, Notation::Json)).unwrap();
        assert_eq!(json["state"], "terminated");

        let from = Uri::parse("im:alice@example.com").unwrap();
        let to = Uri::parse("im:bob@example.com").unwrap();
        let message_op = MessageOp::new(from, to, "text/plain", "a < b").unwrap();
        let text = message_in(&message_op, Notation::Xml);
        assert_eq!(
            Operation::from_xml(text.as_bytes()).unwrap(),
            Operation::Message(message_op.clone())
        );
        let mut r = ResponseOp::new(Status::Failure, TransId::new(3).unwrap());
        r.reason = Some("no".into());
        let text = response_in(&r, Notation::Xml);
        assert_eq!(
            Operation::from_xml(text.as_bytes()).unwrap(),
            Operation::Response(r)
        );
    }

    #[test]
    fn an_event_is_rendered_once_per_notation() {
        let calls = std::cell::Cell::new(0);
        let mut event = Rendered::new(|notation| {
            calls.set(calls.get() + 1);
            format!("{notation:?}")
        });
        let a = event.get(Notation::Json);
        let b = event.get(Notation::Json);
        assert!(std::sync::Arc::ptr_eq(&a, &b));
        assert_eq!(&*event.get(Notation::Xml), "Xml");
        event.get(Notation::Xml);
        assert_eq!(calls.get(), 2);
    }

    #[test]
    fn presence_json_shows_tuples() {
        let mut presence = Presence::new("pres:alice@example.com");
        presence.tuples.push(Tuple::new("t1", Some(Basic::Closed)));
        let value = presence_json(&presence);
        assert_eq!(value["entity"], "pres:alice@example.com");
        assert_eq!(value["tuples"][0]["id"], "t1");
        assert_eq!(value["tuples"][0]["basic"], "closed");
        assert!(value["pidf"]
            .as_str()
            .unwrap()
            .contains("<basic>closed</basic>"));
    }
}
