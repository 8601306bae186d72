//! MESSAGE (RFC 3428) to and from the engine's message operation (RFC 3860
//! s3, draft section 2.4).
//!
//! Body and Content-Type cross unchanged (a `message/cpim` body byte for
//! byte). `sip:user@domain` maps to `im:user@domain`; Max-Forwards is the
//! hop count. Responses: success is 200, indeterminant 202, failure a 4xx
//! chosen by [`failure_code`] with the engine's reason as the phrase.

use std::sync::Arc;

use cpim_engine::Input;
use cpim_formats::op::{MessageOp, ResponseOp, Status};
use cpim_formats::uri::{Address, Scheme, Uri};
use cpim_sip::{HeaderName, Message, RequestBuilder, ResponseBuilder};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use super::registrar::sender;
use super::wire::{self, response};
use super::{lock, Binding, Peer};
use crate::driver::{Answer, OpKind, Outbound};

/// Hop count given to a message whose request has no Max-Forwards.
const DEFAULT_HOPS: u8 = 70;

/// An incoming MESSAGE.
pub async fn message(
    binding: &Arc<Binding>,
    request: &Message<'_>,
    peer: &Peer,
) -> ResponseBuilder {
    let (user, principal) = match sender(binding, request, peer).await {
        Ok(sender) => sender,
        Err(refusal) => return refusal,
    };
    let target = request
        .request_uri()
        .map(cpim_sip::Uri::as_str)
        .unwrap_or_default();
    let Some(to) = wire::address(target) else {
        return response(
            request,
            peer,
            404,
            "Not Found: Request-URI names no user",
            None,
        );
    };
    let content_type = request
        .header_values(HeaderName::ContentType)
        .next()
        .map_or_else(|| "text/plain".to_owned(), |v| v.trim().to_owned());
    let op = match MessageOp::new(
        user.to_uri(Scheme::Im),
        to.to_uri(Scheme::Im),
        content_type,
        request.body().to_vec(),
    ) {
        Ok(op) => op,
        Err(error) => {
            let reason = format!("Bad Request: {error}");
            return response(request, peer, 400, &reason, None);
        }
    };
    if binding.serves(to.domain()) {
        if let Err(error) = binding.auth.ensure_user(&to).await {
            tracing::warn!(%error, "recipient lookup");
        }
    }
    let hops = request.max_forwards().unwrap_or(DEFAULT_HOPS);
    let answer = call(binding, OpKind::Message, &user, None, move |origin| {
        Input::Message {
            origin,
            principal,
            op,
            hops,
        }
    })
    .await;
    match answer {
        Ok(answer) => answer_to_sip(request, peer, &answer.response),
        Err(reason) => response(request, peer, 500, &reason, None),
    }
}

/// Sends a request to the engine and waits for its answer, and for a
/// delivered message until one inbox took it.
pub async fn call(
    binding: &Arc<Binding>,
    kind: OpKind,
    user: &Address,
    fetch: Option<(Address, Address)>,
    make: impl FnOnce(cpim_engine::Origin) -> Input + Send + 'static,
) -> Result<Answer, String> {
    let rx = binding
        .driver
        .request(kind, user.clone(), fetch, make)
        .await
        .map_err(|e| format!("Server Internal Error: {e}"))?;
    let wait = binding.response_wait;
    let mut answer = match tokio::time::timeout(wait, rx).await {
        Ok(Ok(Ok(answer))) => answer,
        Ok(Ok(Err(error))) => return Err(format!("Server Internal Error: {error}")),
        Ok(Err(_)) => return Err("Server Internal Error: no answer".to_owned()),
        Err(_) => return Err("Server Internal Error: the engine did not answer".to_owned()),
    };
    if !answer.acks.is_empty() {
        let mut delivered = false;
        for ack in std::mem::take(&mut answer.acks) {
            if let Ok(Ok(())) = tokio::time::timeout(wait, ack).await {
                delivered = true;
            }
        }
        if !delivered {
            answer.response.status = Status::Failure;
            answer.response.reason = Some("the recipient's inbox closed before delivery".into());
        }
    }
    Ok(answer)
}

/// The SIP response for an engine response.
pub fn answer_to_sip(request: &Message<'_>, peer: &Peer, answer: &ResponseOp) -> ResponseBuilder {
    match answer.status {
        Status::Success => response(request, peer, 200, "OK", None),
        Status::Failure => {
            let reason = answer.reason.as_deref().unwrap_or("failure");
            response(request, peer, failure_code(reason), reason, None)
        }
        _ => response(request, peer, 202, "Accepted", None),
    }
}

/// The 4xx for an engine failure, from its reason (draft section 2.4.1
/// names the cases: no such inbox, access control, not delivered, loop; a
/// presentity refusing a watcher is 403, RFC 6665 s4.2.1.2).
pub fn failure_code(reason: &str) -> u16 {
    if reason.contains("there is no inbox") || reason.contains("no route to") {
        404
    } else if reason.contains("hop count") {
        483
    } else if reason.contains("not authorised")
        || reason.contains("does not accept")
        || reason.contains("does not share its presence")
        || reason.contains("denied")
    {
        403
    } else {
        480
    }
}

/// Reads what the engine sends to a SIP user's inbox: messages go out as
/// MESSAGE to every registered contact, notifies as NOTIFY in the user's
/// SUBSCRIBE dialogs.
pub async fn reader(
    binding: Arc<Binding>,
    user: Address,
    mut events: mpsc::Receiver<Outbound>,
    kicked: oneshot::Receiver<String>,
) {
    tokio::pin!(kicked);
    loop {
        let event = tokio::select! {
            event = events.recv() => event,
            reason = &mut kicked => {
                tracing::info!(%user, reason = ?reason.ok(), "SIP user's inbox closed by the server");
                None
            }
        };
        let Some(event) = event else { break };
        let Ok(value) = serde_json::from_str::<Value>(&event.text) else {
            continue;
        };
        match value.get("op").and_then(Value::as_str) {
            Some("message") => {
                let binding = binding.clone();
                let user = user.clone();
                tokio::spawn(async move { deliver(&binding, &user, &value, event.ack).await });
            }
            Some("notify") => super::presence::notify_event(&binding, &user, &value).await,
            _ => {}
        }
    }
    if let Some(user_state) = lock(&binding.users).get_mut(&user) {
        user_state.inbox = None;
    }
}

/// Sends a message to every contact of `user`; the ack fires at the first
/// 2xx.
async fn deliver(
    binding: &Arc<Binding>,
    user: &Address,
    event: &Value,
    ack: Option<oneshot::Sender<()>>,
) {
    let text = |k: &str| event.get(k).and_then(Value::as_str).unwrap_or_default();
    let body = match (event.get("body"), event.get("body_base64")) {
        (Some(Value::String(b)), _) => b.clone().into_bytes(),
        (_, Some(Value::String(b))) => match base64_decode(b) {
            Some(body) => body,
            None => return,
        },
        _ => Vec::new(),
    };
    let (Ok(from), Ok(to)) = (Uri::parse(text("from")), Uri::parse(text("to"))) else {
        return;
    };
    let (Ok(from), Ok(to)) = (from.to_sip(), to.to_sip()) else {
        return;
    };
    let contacts = lock(&binding.users)
        .get(user)
        .map(|u| u.bindings.clone())
        .unwrap_or_default();
    let mut ack = ack;
    let (done, mut results) = mpsc::channel(contacts.len().max(1));
    for contact in contacts {
        let (kind, local) = binding.local(&contact.peer);
        let request = RequestBuilder::new("MESSAGE", contact.uri.clone())
            .header(
                "Via",
                format!(
                    "SIP/2.0/{} {local};branch=z9hG4bK{};rport",
                    kind.via(),
                    wire::token()
                ),
            )
            .header("Max-Forwards", "70")
            .header("From", format!("<{from}>;tag={}", wire::token()))
            .header("To", format!("<{to}>"))
            .header("Call-ID", format!("{}@{}", wire::token(), local.ip()))
            .header("CSeq", "1 MESSAGE")
            .body(text("content_type"), body.clone());
        let Ok(bytes) = request.build() else {
            tracing::warn!(uri = %contact.uri, "MESSAGE for a contact could not be built");
            continue;
        };
        let binding = binding.clone();
        let done = done.clone();
        tokio::spawn(async move {
            let (code, _) = binding.request(&contact.peer, bytes).await;
            let _ = done.send(code).await;
        });
    }
    drop(done);
    while let Some(code) = results.recv().await {
        if (200..300).contains(&code) {
            if let Some(ack) = ack.take() {
                let _ = ack.send(());
            }
        }
    }
}

/// Standard base64 with padding (RFC 4648 s4), the inverse of the event
/// stream's encoding of bodies that are not UTF-8.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        match c {
            b'A'..=b'Z' => Some(u32::from(c - b'A')),
            b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
            b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    };
    let bytes = text.trim_end_matches('=').as_bytes();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            n |= value(*c)? << (18 - 6 * i);
        }
        let [_, a, b, c] = n.to_be_bytes();
        out.push(a);
        if chunk.len() > 2 {
            out.push(b);
        }
        if chunk.len() > 3 {
            out.push(c);
        }
    }
    Some(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn base64_decodes_rfc_4648_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64_decode(encoded).unwrap(), plain.as_bytes());
        }
        assert_eq!(base64_decode("/wA=").unwrap(), vec![0xff, 0]);
        assert!(base64_decode("*").is_none());
    }

    #[test]
    fn failures_map_to_4xx() {
        assert_eq!(failure_code("there is no inbox bob@example.com here"), 404);
        assert_eq!(failure_code("not authorised to send as x"), 403);
        assert_eq!(
            failure_code("carol@cpim.test does not share its presence with alice@sip.test"),
            403
        );
        assert_eq!(
            failure_code("hop count exhausted; the message may be looping"),
            483
        );
        assert_eq!(
            failure_code("bob@example.com has no open inbox; the message was not delivered"),
            480
        );
    }
}
