//! Other SIP domains (RFC 3261 s16-style next hop per domain; RFC 3860 s3
//! and RFC 3859 s3 for the mapping; draft sections 2.4.1 step 3d and
//! 3.4.1).
//!
//! The engine's relay effects for a domain routed through this binding go
//! out to the domain's configured next hop: a message as MESSAGE, whose
//! final response becomes the relay answer (2xx success, 202 indeterminant,
//! 3xx-6xx failure with the reason phrase, a timeout no answer), and a
//! subscribe as SUBSCRIBE (Event: presence) whose dialog is kept here:
//! a later subscribe for the same pair refreshes it in the dialog, an
//! unsubscribe ends it with Expires: 0, and the NOTIFYs in it are answered
//! and given to the engine as notifies.
//!
//! The other way, requests from a next hop's address are taken as its
//! domain's ([`super::registrar::sender`]), and notifies for its watchers
//! (who have no inbox here) go out in their SUBSCRIBE dialogs.

use std::sync::Arc;

use cpim_engine::{Effect, Input, Principal, Reason, RelayId, SubState};
use cpim_formats::op::{MessageOp, NotifyOp, ResponseOp, Status, SubscribeOp, TransId};
use cpim_formats::pidf::Presence;
use cpim_formats::uri::{Address, Scheme};
use cpim_sip::{HeaderName, Message, RequestBuilder, ResponseBuilder};
use tokio::sync::mpsc;

use super::im::call;
use super::wire::{self, response};
use super::{lock, Binding, Peer};
use crate::driver::{now, OpKind};

/// Longest wait for a SUBSCRIBE's answer before its first NOTIFY is taken,
/// in 20 ms steps: a NOTIFY may overtake the 2xx (RFC 6665 s4.1.2.4).
const ANSWER_WAIT_STEPS: u32 = 100;

/// A SUBSCRIBE dialog opened towards another domain.
#[derive(Clone, Debug)]
pub struct OutSub {
    call_id: String,
    from_tag: String,
    to_tag: Option<String>,
    cseq: u32,
    peer: Peer,
    domain: String,
    watcher: Address,
    target: Address,
    /// Set once the engine has the subscribe's answer.
    answered: bool,
}

/// Carries out the driver's relay effects.
pub async fn run(binding: Arc<Binding>, mut effects: mpsc::UnboundedReceiver<Effect>) {
    while let Some(effect) = effects.recv().await {
        let binding = binding.clone();
        match effect {
            Effect::Relay {
                relay,
                message,
                hops,
                ..
            } => {
                tokio::spawn(async move { message_out(&binding, relay, message, hops).await });
            }
            Effect::RelaySubscribe { relay, op, .. } => {
                tokio::spawn(async move { subscribe_out(&binding, relay, op).await });
            }
            Effect::RelayUnsubscribe { op, .. } => {
                let (Some(watcher), Some(target)) = (op.watcher.address(), op.target.address())
                else {
                    continue;
                };
                let (watcher, target) = (watcher.clone(), target.clone());
                tokio::spawn(async move { unsubscribe_out(&binding, &watcher, &target).await });
            }
            Effect::Notify(notification) => {
                if binding.serves(notification.watcher.domain()) {
                    // A local watcher whose inbox closed meanwhile.
                    continue;
                }
                let text = crate::events::notify(&notification, now());
                let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) else {
                    continue;
                };
                let watcher = notification.watcher.clone();
                tokio::spawn(async move {
                    super::presence::notify_event(&binding, &watcher, &value).await;
                });
            }
            other => tracing::debug!(?other, "effect not for the SIP relay"),
        }
    }
}

/// A NOTIFY: in a dialog opened by [`subscribe_out`], or 481.
pub async fn notify(binding: &Arc<Binding>, request: &Message<'_>, peer: &Peer) -> ResponseBuilder {
    let call_id = request.call_id().to_owned();
    let mut sub = None;
    for _ in 0..ANSWER_WAIT_STEPS {
        sub = lock(&binding.relayed).get(&call_id).cloned();
        match &sub {
            Some(s) if !s.answered => {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            _ => break,
        }
    }
    let Some(sub) = sub else {
        return response(request, peer, 481, "Subscription Does Not Exist", None);
    };
    if !binding.speaks_for(peer, &sub.domain) {
        return response(request, peer, 403, "Forbidden: not the dialog's peer", None);
    }
    if !request
        .event()
        .is_some_and(|e| e.package().eq_ignore_ascii_case("presence"))
    {
        return response(request, peer, 489, "Bad Event", None).header("Allow-Events", "presence");
    }
    if sub.to_tag.is_none() {
        // The dialog is made by the first NOTIFY when no 2xx came first.
        if let Some(s) = lock(&binding.relayed).get_mut(&call_id) {
            s.to_tag = request.from().tag().map(str::to_owned);
        }
    }
    let state = request
        .subscription_state()
        .and_then(|s| sub_state(s.state(), s.expires(), s.reason(), now()));
    let state = match state {
        Some(state) => state,
        None => {
            return response(
                request,
                peer,
                400,
                "Bad Request: Subscription-State missing or unknown",
                None,
            )
        }
    };
    let presence = if request.body().is_empty() {
        Presence::new(sub.target.to_uri(Scheme::Pres).to_string())
    } else {
        match Presence::parse(request.body()) {
            Ok(p) => p.into_owned(),
            Err(error) => {
                let reason = format!("Bad Request: PIDF: {error}");
                return response(request, peer, 400, &reason, None);
            }
        }
    };
    if matches!(state, SubState::Terminated(_)) {
        lock(&binding.relayed).remove(&call_id);
    }
    let op = NotifyOp {
        watcher: sub.watcher.to_uri(Scheme::Pres),
        target: sub.target.to_uri(Scheme::Pres),
        trans_id: TransId::random(),
        presence,
    };
    let principal = Principal::Domain(sub.domain.clone());
    let answer = call(
        binding,
        OpKind::Subscribe,
        &sub.watcher,
        None,
        move |origin| Input::Notify {
            origin,
            principal,
            op,
            state,
        },
    )
    .await;
    match answer {
        Ok(a) if a.response.status == Status::Success => response(request, peer, 200, "OK", None),
        Ok(_) => response(request, peer, 481, "Subscription Does Not Exist", None),
        Err(reason) => response(request, peer, 500, &reason, None),
    }
}

/// The engine's state for a Subscription-State (RFC 6665 s8.4, reasons
/// s4.1.3); `None` for a state it does not know.
fn sub_state(
    state: &str,
    expires: Option<u32>,
    reason: Option<&str>,
    at: cpim_engine::Timestamp,
) -> Option<SubState> {
    let expires = at.plus_secs(expires.unwrap_or(0));
    if state.eq_ignore_ascii_case("active") {
        Some(SubState::Active { expires })
    } else if state.eq_ignore_ascii_case("pending") {
        Some(SubState::Pending { expires })
    } else if state.eq_ignore_ascii_case("terminated") {
        Some(SubState::Terminated(match reason {
            Some("rejected") => Reason::Rejected,
            Some("noresource" | "deactivated" | "giveup") => Reason::Deactivated,
            Some("timeout") => Reason::Expired,
            _ => Reason::Unsubscribed,
        }))
    } else {
        None
    }
}

/// A message for another domain: MESSAGE to its next hop.
async fn message_out(binding: &Arc<Binding>, relay: Option<RelayId>, message: MessageOp, hops: u8) {
    let trans_id = message.trans_id;
    let answer = match build_message(binding, &message, hops) {
        Some((peer, bytes)) => {
            let (code, reason, _) = binding.request_full(&peer, bytes).await;
            message_answer(code, &reason, trans_id)
        }
        None => Some(failure(trans_id, "no SIP route for the destination")),
    };
    if let Some(relay) = relay {
        give_answer(binding, relay, answer).await;
    }
}

/// The relay answer for a MESSAGE's final response (RFC 3860 s3: 2xx is
/// delivered, 202 accepted onward; a timeout tells nothing).
fn message_answer(code: u16, reason: &str, trans_id: TransId) -> Option<ResponseOp> {
    match code {
        202 => Some(ResponseOp::new(Status::Indeterminant, trans_id)),
        200..=299 => Some(ResponseOp::new(Status::Success, trans_id)),
        408 => None,
        _ => Some(failure(trans_id, &format!("{code} {reason}"))),
    }
}

fn failure(trans_id: TransId, reason: &str) -> ResponseOp {
    let mut response = ResponseOp::new(Status::Failure, trans_id);
    response.reason = Some(reason.to_owned());
    response
}

fn build_message(binding: &Binding, message: &MessageOp, hops: u8) -> Option<(Peer, Vec<u8>)> {
    let from = message.source.address()?;
    let to = message.destination.address()?;
    let peer = binding.routes.get(to.domain())?.clone();
    let (kind, local) = binding.local(&peer);
    let request = RequestBuilder::new("MESSAGE", wire::sip_uri(to))
        .header(
            "Via",
            format!(
                "SIP/2.0/{} {local};branch=z9hG4bK{};rport",
                kind.via(),
                wire::token()
            ),
        )
        .header("Max-Forwards", hops.to_string())
        .header(
            "From",
            format!("<{}>;tag={}", wire::sip_uri(from), wire::token()),
        )
        .header("To", format!("<{}>", wire::sip_uri(to)))
        .header("Call-ID", format!("{}@{}", wire::token(), local.ip()))
        .header("CSeq", "1 MESSAGE")
        .body(&message.content_type, message.body.clone());
    request.build().ok().map(|bytes| (peer, bytes))
}

/// A subscribe for another domain: a new SUBSCRIBE dialog, or a refresh in
/// the one this pair already has.
async fn subscribe_out(binding: &Arc<Binding>, relay: RelayId, op: SubscribeOp) {
    let trans_id = op.trans_id;
    let (Some(watcher), Some(target)) = (op.watcher.address(), op.target.address()) else {
        give_answer(
            binding,
            relay,
            Some(failure(trans_id, "bad watcher or target")),
        )
        .await;
        return;
    };
    let Some(peer) = binding.routes.get(target.domain()).cloned() else {
        let reason = "no SIP route for the target";
        give_answer(binding, relay, Some(failure(trans_id, reason))).await;
        return;
    };
    let existing = find(binding, watcher, target);
    let call_id = match existing {
        Some(call_id) => call_id,
        None => {
            let (_, local) = binding.local(&peer);
            let call_id = format!("{}@{}", wire::token(), local.ip());
            lock(&binding.relayed).insert(
                call_id.clone(),
                OutSub {
                    call_id: call_id.clone(),
                    from_tag: wire::token(),
                    to_tag: None,
                    cseq: 0,
                    peer: peer.clone(),
                    domain: target.domain().to_owned(),
                    watcher: watcher.clone(),
                    target: target.clone(),
                    answered: false,
                },
            );
            call_id
        }
    };
    let Some(bytes) = build_subscribe(binding, &call_id, op.duration) else {
        lock(&binding.relayed).remove(&call_id);
        give_answer(
            binding,
            relay,
            Some(failure(trans_id, "SUBSCRIBE not built")),
        )
        .await;
        return;
    };
    let (code, reason, bytes) = binding.request_full(&peer, bytes).await;
    let answer = match code {
        200..=299 => {
            let parsed = bytes
                .as_deref()
                .and_then(|b| Message::parse_datagram_with(b, &wire::limits()).ok());
            let expires = parsed.as_ref().and_then(Message::expires);
            if let Some(s) = lock(&binding.relayed).get_mut(&call_id) {
                if let Some(p) = &parsed {
                    if let Some(tag) = p.to().tag() {
                        s.to_tag = Some(tag.to_owned());
                    }
                }
            }
            let mut ok = ResponseOp::new(Status::Success, trans_id);
            ok.duration = Some(expires.unwrap_or(op.duration));
            Some(ok)
        }
        408 => None,
        _ => Some(failure(trans_id, &format!("{code} {reason}"))),
    };
    let refused = !answer.as_ref().is_some_and(|a| a.status == Status::Success);
    if refused || op.duration == 0 {
        lock(&binding.relayed).remove(&call_id);
    }
    give_answer(binding, relay, answer).await;
    if let Some(s) = lock(&binding.relayed).get_mut(&call_id) {
        s.answered = true;
    }
}

/// Ends a relayed subscription: SUBSCRIBE with Expires: 0 in its dialog.
async fn unsubscribe_out(binding: &Arc<Binding>, watcher: &Address, target: &Address) {
    let Some(call_id) = find(binding, watcher, target) else {
        return;
    };
    let bytes = build_subscribe(binding, &call_id, 0);
    let sub = lock(&binding.relayed).remove(&call_id);
    if let (Some(bytes), Some(sub)) = (bytes, sub) {
        let (code, reason) = binding.request(&sub.peer, bytes).await;
        tracing::debug!(code, %reason, "relayed unsubscribe answered");
    }
}

fn find(binding: &Binding, watcher: &Address, target: &Address) -> Option<String> {
    lock(&binding.relayed)
        .values()
        .find(|s| s.watcher == *watcher && s.target == *target)
        .map(|s| s.call_id.clone())
}

/// The next SUBSCRIBE in a dialog (RFC 6665 s4.1.2), counting its CSeq.
fn build_subscribe(binding: &Binding, call_id: &str, expires: u32) -> Option<Vec<u8>> {
    let sub = {
        let mut relayed = lock(&binding.relayed);
        let s = relayed.get_mut(call_id)?;
        s.cseq += 1;
        s.clone()
    };
    let (kind, local) = binding.local(&sub.peer);
    let target_uri = wire::sip_uri(&sub.target);
    let to = match &sub.to_tag {
        Some(tag) => format!("<{target_uri}>;tag={tag}"),
        None => format!("<{target_uri}>"),
    };
    // The Request-URI names the presentity even inside the dialog: the
    // request goes to the domain's next hop, which routes on it, not to the
    // remote target (RFC 3261 s16.12: a proxy between the domains).
    RequestBuilder::new("SUBSCRIBE", target_uri.clone())
        .header(
            "Via",
            format!(
                "SIP/2.0/{} {local};branch=z9hG4bK{};rport",
                kind.via(),
                wire::token()
            ),
        )
        .header("Max-Forwards", "70")
        .header(
            "From",
            format!("<{}>;tag={}", wire::sip_uri(&sub.watcher), sub.from_tag),
        )
        .header("To", to)
        .header("Call-ID", sub.call_id.clone())
        .header("CSeq", format!("{} SUBSCRIBE", sub.cseq))
        .header("Contact", format!("<sip:{local}>"))
        .header("Event", "presence")
        .header(HeaderName::Expires.as_str(), expires.to_string())
        .header("Accept", "application/pidf+xml")
        .build()
        .ok()
}

async fn give_answer(binding: &Binding, relay: RelayId, answer: Option<ResponseOp>) {
    if let Err(error) = binding
        .driver
        .admin(Input::RelayAnswer { relay, answer })
        .await
    {
        tracing::warn!(%error, "relay answer not taken");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cpim_engine::Timestamp;

    #[test]
    fn message_final_responses_map_to_relay_answers() {
        let id = TransId::new(7).unwrap_or_else(|_| TransId::random());
        let status = |code| message_answer(code, "Phrase", id).map(|a| a.status);
        assert_eq!(status(200), Some(Status::Success));
        assert_eq!(status(299), Some(Status::Success));
        assert_eq!(status(202), Some(Status::Indeterminant));
        assert_eq!(status(408), None);
        let failed = message_answer(480, "Temporarily Unavailable", id);
        assert_eq!(failed.as_ref().map(|a| a.status), Some(Status::Failure));
        assert_eq!(
            failed.and_then(|a| a.reason).as_deref(),
            Some("480 Temporarily Unavailable")
        );
        assert_eq!(status(603), Some(Status::Failure));
    }

    #[test]
    fn subscription_states_map_to_engine_states() {
        let at = Timestamp::from_millis(1_000_000);
        assert_eq!(
            sub_state("Active", Some(60), None, at),
            Some(SubState::Active {
                expires: Timestamp::from_millis(1_060_000)
            })
        );
        assert_eq!(
            sub_state("pending", Some(5), None, at),
            Some(SubState::Pending {
                expires: Timestamp::from_millis(1_005_000)
            })
        );
        let ended = |reason| sub_state("terminated", None, reason, at);
        assert_eq!(
            ended(Some("rejected")),
            Some(SubState::Terminated(Reason::Rejected))
        );
        assert_eq!(
            ended(Some("noresource")),
            Some(SubState::Terminated(Reason::Deactivated))
        );
        assert_eq!(
            ended(Some("timeout")),
            Some(SubState::Terminated(Reason::Expired))
        );
        assert_eq!(
            ended(None),
            Some(SubState::Terminated(Reason::Unsubscribed))
        );
        assert_eq!(sub_state("waiting", Some(5), None, at), None);
    }
}
