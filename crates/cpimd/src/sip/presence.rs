//! The presence event package (RFC 3856) over SUBSCRIBE/NOTIFY (RFC 6665)
//! and PUBLISH (RFC 3903), mapped to the engine's subscribe, unsubscribe,
//! notify and publication (RFC 3859 s4, draft section 3.4).
//!
//! Expires is the subscription's duration; Expires: 0 outside a dialog is a
//! fetch, inside one an unsubscribe. The engine's states show in
//! Subscription-State: active and pending with the time left, terminated
//! with a reason (expired, unsubscribed and fetched as `timeout`, rejected
//! as `rejected`, a removed presentity as `noresource`). NOTIFY bodies are
//! PIDF (RFC 3863); while nothing may be shown the document has no tuples.
//!
//! Several dialogs of one watcher for one presentity share the engine's one
//! subscription: each gets every notify, and only the last one to end
//! unsubscribes.
//!
//! A refresh (a SUBSCRIBE in the dialog with Expires above 0) is the
//! engine's refresh: the subscription is renewed in place (relayed in its
//! own dialog when the presentity is in another domain), and the notify of
//! the current state that follows goes out as the NOTIFY RFC 6665
//! s4.2.1.2 asks for after a refresh.

use std::sync::Arc;
use std::time::{Duration, Instant};

use cpim_engine::{Input, Principal, Reason, SubState};
use cpim_formats::op::{SubscribeOp, TransId, UnsubscribeOp};
use cpim_formats::pidf::Presence;
use cpim_formats::uri::{Address, Scheme};
use cpim_sip::{Message, RequestBuilder, ResponseBuilder};
use serde_json::Value;

use super::im::{answer_to_sip, call};
use super::registrar::{authenticate, sender, sync_inbox};
use super::wire::{self, response};
use super::{lock, Binding, Peer, TransportKind};
use crate::driver::OpKind;

/// Subscription lifetime when SUBSCRIBE names none (RFC 3856 s6.4).
pub const DEFAULT_SUBSCRIPTION: u32 = 3_600;

/// A SUBSCRIBE dialog, as the notifier holds it (RFC 6665 s4.1, s4.2).
#[derive(Clone, Debug)]
pub struct Dialog {
    pub call_id: String,
    /// Our tag (the To tag of our 200).
    pub local_tag: String,
    /// The subscriber's From tag.
    pub remote_tag: String,
    /// The presentity's URI (From of our NOTIFYs).
    pub local_uri: String,
    /// The subscriber's URI (To of our NOTIFYs).
    pub remote_uri: String,
    /// The subscriber's Contact: Request-URI of our NOTIFYs.
    pub remote_target: String,
    /// Record-Route of the SUBSCRIBE, in order (s12.1.1).
    pub route: Vec<String>,
    pub peer: Peer,
    pub cseq: u32,
    pub event_id: Option<String>,
    /// The presentity.
    pub target: Address,
}

/// A PUBLISH event state (RFC 3903 s6), by entity-tag.
#[derive(Clone, Debug)]
pub struct Publication {
    pub presentity: Address,
    /// The engine's publisher id, kept across refreshes.
    pub publisher: String,
    pub presence: Presence<'static>,
    pub expires: Instant,
}

/// SUBSCRIBE (RFC 6665 s4.2.1).
pub async fn subscribe(
    binding: &Arc<Binding>,
    request: &Message<'_>,
    peer: &Peer,
) -> ResponseBuilder {
    if let Some(refusal) = check_event(request, peer) {
        return refusal;
    }
    let Some(target) = request
        .request_uri()
        .and_then(|u| wire::address(u.as_str()))
    else {
        return response(
            request,
            peer,
            404,
            "Not Found: Request-URI names no user",
            None,
        );
    };
    let expires = request.expires().unwrap_or(DEFAULT_SUBSCRIPTION);
    if let Some(local_tag) = request.to().tag() {
        return in_dialog(binding, request, peer, local_tag, &target, expires).await;
    }
    let (watcher, principal) = match sender(binding, request, peer).await {
        Ok(sender) => sender,
        Err(refusal) => return refusal,
    };
    if binding.serves(target.domain()) {
        if let Err(error) = binding.auth.ensure_user(&target).await {
            tracing::warn!(%error, "presentity lookup");
        }
    }
    let local_tag = wire::token();
    let dialog = new_dialog(request, peer, &local_tag, &target);
    let op = match SubscribeOp::new(
        watcher.to_uri(Scheme::Pres),
        target.to_uri(Scheme::Pres),
        expires,
    ) {
        Ok(op) => op,
        Err(error) => {
            let reason = format!("Bad Request: {error}");
            return response(request, peer, 400, &reason, None);
        }
    };
    if expires == 0 {
        // A fetch (RFC 6665 s4.4.3): one NOTIFY, then the dialog is over.
        let answer = call(
            binding,
            OpKind::Fetch,
            &watcher,
            Some((watcher.clone(), target.clone())),
            move |origin| Input::Subscribe {
                origin,
                principal,
                op,
            },
        )
        .await;
        let answer = match answer {
            Ok(answer) => answer,
            Err(reason) => return response(request, peer, 500, &reason, None),
        };
        if answer.response.status != cpim_formats::op::Status::Success {
            return answer_to_sip(request, peer, &answer.response);
        }
        let presence = answer.fetched.as_ref().and_then(|n| match n.state {
            SubState::Terminated(Reason::Fetched) => n.presence.as_deref().cloned(),
            _ => None,
        });
        let task_binding = binding.clone();
        let body = presence.unwrap_or_else(|| empty(&target)).to_xml();
        tokio::spawn(async move {
            let mut dialog = dialog;
            send_notify(
                &task_binding,
                &mut dialog,
                "terminated;reason=timeout",
                body,
            )
            .await;
        });
        return dialog_response(binding, request, peer, &local_tag, 0);
    }
    lock(&binding.users)
        .entry(watcher.clone())
        .or_default()
        .dialogs
        .push(dialog);
    sync_inbox(binding, &watcher).await;
    let answer = call(binding, OpKind::Subscribe, &watcher, None, move |origin| {
        Input::Subscribe {
            origin,
            principal,
            op,
        }
    })
    .await;
    match answer {
        Ok(answer) if answer.response.status == cpim_formats::op::Status::Success => {
            let granted = answer.response.duration.unwrap_or(expires);
            dialog_response(binding, request, peer, &local_tag, granted)
        }
        other => {
            remove_dialog(binding, &watcher, |d| d.local_tag == local_tag);
            sync_inbox(binding, &watcher).await;
            match other {
                Ok(answer) => answer_to_sip(request, peer, &answer.response),
                Err(reason) => response(request, peer, 500, &reason, None),
            }
        }
    }
}

/// A SUBSCRIBE inside a dialog: refresh, or unsubscribe with Expires: 0.
async fn in_dialog(
    binding: &Arc<Binding>,
    request: &Message<'_>,
    peer: &Peer,
    local_tag: &str,
    target: &Address,
    expires: u32,
) -> ResponseBuilder {
    let Some(watcher) = wire::address(request.from().uri().as_str()) else {
        return response(request, peer, 481, "Subscription Does Not Exist", None);
    };
    let call_id = request.call_id();
    let remote_tag = request.from().tag().unwrap_or_default();
    let matches =
        |d: &Dialog| d.call_id == call_id && d.local_tag == local_tag && d.remote_tag == remote_tag;
    let found = lock(&binding.users)
        .get(&watcher)
        .and_then(|u| u.dialogs.iter().find(|d| matches(d)).cloned());
    let Some(mut dialog) = found else {
        return response(request, peer, 481, "Subscription Does Not Exist", None);
    };
    let principal = if binding.speaks_for(peer, watcher.domain()) {
        Principal::Domain(watcher.domain().to_owned())
    } else {
        Principal::User(watcher.clone())
    };
    if expires == 0 {
        remove_dialog(binding, &watcher, matches);
        unsubscribe_unless_other_dialogs(binding, &watcher, target, principal).await;
        let body = empty(target).to_xml();
        let task_binding = binding.clone();
        let task_watcher = watcher.clone();
        tokio::spawn(async move {
            send_notify(
                &task_binding,
                &mut dialog,
                "terminated;reason=timeout",
                body,
            )
            .await;
            sync_inbox(&task_binding, &task_watcher).await;
        });
        return dialog_response(binding, request, peer, local_tag, 0);
    }
    let Ok(op) = SubscribeOp::new(
        watcher.to_uri(Scheme::Pres),
        target.to_uri(Scheme::Pres),
        expires,
    ) else {
        return response(request, peer, 400, "Bad Request: watcher or target", None);
    };
    // The engine renews the subscription in place (and relays the refresh
    // when the presentity is in another domain); a NOTIFY of the current
    // state follows (RFC 6665 s4.2.1.2).
    let answer = call(binding, OpKind::Subscribe, &watcher, None, move |origin| {
        Input::Refresh {
            origin,
            principal,
            op,
        }
    })
    .await;
    match answer {
        Ok(answer) if answer.response.status == cpim_formats::op::Status::Success => {
            let granted = answer.response.duration.unwrap_or(expires);
            dialog_response(binding, request, peer, local_tag, granted)
        }
        Ok(answer) => answer_to_sip(request, peer, &answer.response),
        Err(reason) => response(request, peer, 500, &reason, None),
    }
}

/// A notify from the engine for `user`'s inbox: NOTIFY in each of its
/// dialogs with that presentity.
pub async fn notify_event(binding: &Arc<Binding>, user: &Address, event: &Value) {
    let text = |k: &str| event.get(k).and_then(Value::as_str).unwrap_or_default();
    let Some(target) = cpim_formats::uri::Uri::parse(text("target"))
        .ok()
        .and_then(|u| u.address().cloned())
    else {
        return;
    };
    let expires = event.get("expires").and_then(Value::as_u64).unwrap_or(0);
    let state = match text("state") {
        "active" => format!("active;expires={expires}"),
        "pending" => format!("pending;expires={expires}"),
        _ => {
            let reason = match text("reason") {
                "rejected" => "rejected",
                "deactivated" => "noresource",
                _ => "timeout",
            };
            format!("terminated;reason={reason}")
        }
    };
    let terminated = state.starts_with("terminated");
    let body = event
        .get("presence")
        .and_then(|p| p.get("pidf"))
        .and_then(Value::as_str)
        .map_or_else(|| empty(&target).to_xml(), str::to_owned);
    let dialogs: Vec<Dialog> = {
        let mut users = lock(&binding.users);
        let Some(u) = users.get_mut(user) else { return };
        let found = u
            .dialogs
            .iter()
            .filter(|d| d.target == target)
            .cloned()
            .collect();
        if terminated {
            u.dialogs.retain(|d| d.target != target);
        }
        found
    };
    for mut dialog in dialogs {
        let binding = binding.clone();
        let state = state.clone();
        let body = body.clone();
        let user = user.clone();
        tokio::spawn(async move {
            let code = send_notify(&binding, &mut dialog, &state, body).await;
            // RFC 6665 s4.2.2: 481 or a timeout ends the subscription: the
            // dialog here, and the engine's subscription when no other
            // dialog of the watcher needs it.
            if !terminated && (code == 481 || code == 408) {
                remove_dialog(&binding, &user, |d| d.local_tag == dialog.local_tag);
                let principal = if binding.speaks_for(&dialog.peer, user.domain()) {
                    Principal::Domain(user.domain().to_owned())
                } else {
                    Principal::User(user.clone())
                };
                unsubscribe_unless_other_dialogs(&binding, &user, &dialog.target, principal).await;
                sync_inbox(&binding, &user).await;
            }
        });
    }
    if terminated {
        sync_inbox(binding, user).await;
    }
}

/// PUBLISH (RFC 3903 s6).
pub async fn publish(
    binding: &Arc<Binding>,
    request: &Message<'_>,
    peer: &Peer,
) -> ResponseBuilder {
    if let Some(refusal) = check_event(request, peer) {
        return refusal;
    }
    let user = match authenticate(binding, request, peer).await {
        Ok(user) => user,
        Err(refusal) => return refusal,
    };
    let presentity = request
        .request_uri()
        .and_then(|u| wire::address(u.as_str()));
    if presentity.as_ref() != Some(&user) {
        return response(
            request,
            peer,
            403,
            "Forbidden: a user publishes only its own presence",
            None,
        );
    }
    let body = request.body();
    let document = if body.is_empty() {
        None
    } else {
        if !request
            .content_type()
            .is_some_and(|t| t.is("application", "pidf+xml"))
        {
            return response(request, peer, 415, "Unsupported Media Type", None)
                .header("Accept", "application/pidf+xml");
        }
        match Presence::parse(body) {
            Ok(p) => Some(p.into_owned()),
            Err(error) => {
                let reason = format!("Bad Request: PIDF: {error}");
                return response(request, peer, 400, &reason, None);
            }
        }
    };
    let expires = request.expires().unwrap_or(binding.default_publication);
    let now = Instant::now();
    let (publisher, presence) = match request.sip_if_match() {
        Some(etag) => {
            let previous = lock(&binding.publications).remove(etag.trim());
            match previous {
                Some(p) if p.expires > now && p.presentity == user => {
                    (p.publisher, document.unwrap_or(p.presence))
                }
                _ => {
                    return response(request, peer, 412, "Conditional Request Failed", None);
                }
            }
        }
        None => match document {
            Some(p) if expires > 0 => (format!("sip-{}", wire::token()), p),
            _ => {
                return response(
                    request,
                    peer,
                    400,
                    "Bad Request: an initial PUBLISH needs a PIDF body and Expires above 0",
                    None,
                )
            }
        },
    };
    let principal = Principal::User(user.clone());
    let presentity = user.clone();
    let kept = presence.clone();
    let engine_publisher = publisher.clone();
    let answer = call(binding, OpKind::Publish, &user, None, move |origin| {
        Input::Publish {
            origin,
            principal,
            trans_id: TransId::random(),
            presentity,
            publisher: engine_publisher,
            presence,
            duration: expires,
        }
    })
    .await;
    let answer = match answer {
        Ok(answer) => answer,
        Err(reason) => return response(request, peer, 500, &reason, None),
    };
    if answer.response.status != cpim_formats::op::Status::Success {
        return answer_to_sip(request, peer, &answer.response);
    }
    if expires == 0 {
        return response(request, peer, 200, "OK", None).header("Expires", "0");
    }
    let granted = answer.response.duration.unwrap_or(expires);
    let etag = wire::token();
    lock(&binding.publications).insert(
        etag.clone(),
        Publication {
            presentity: user,
            publisher,
            presence: kept,
            expires: now + Duration::from_secs(u64::from(granted)),
        },
    );
    response(request, peer, 200, "OK", None)
        .header("SIP-ETag", etag)
        .header("Expires", granted.to_string())
}

/// 489 unless the request is for the presence package.
fn check_event(request: &Message<'_>, peer: &Peer) -> Option<ResponseBuilder> {
    let ok = request
        .event()
        .is_some_and(|e| e.package().eq_ignore_ascii_case("presence"));
    (!ok)
        .then(|| response(request, peer, 489, "Bad Event", None).header("Allow-Events", "presence"))
}

fn new_dialog(request: &Message<'_>, peer: &Peer, local_tag: &str, target: &Address) -> Dialog {
    let remote_target = match request.contact() {
        Some(cpim_sip::headers::Contacts::List(list)) => list
            .first()
            .map(|c| c.uri().as_str().to_owned())
            .unwrap_or_default(),
        _ => String::new(),
    };
    let remote_target = if remote_target.is_empty() {
        request.from().uri().as_str().to_owned()
    } else {
        remote_target
    };
    Dialog {
        call_id: request.call_id().to_owned(),
        local_tag: local_tag.to_owned(),
        remote_tag: request.from().tag().unwrap_or_default().to_owned(),
        local_uri: wire::sip_uri(target),
        remote_uri: request.from().uri().as_str().to_owned(),
        remote_target,
        route: request
            .record_route()
            .iter()
            .map(|r| format!("<{}>", r.uri().as_str()))
            .collect(),
        peer: peer.clone(),
        cseq: 0,
        event_id: request.event().and_then(|e| e.id()).map(str::to_owned),
        target: target.clone(),
    }
}

/// The 200 that makes (or keeps) the dialog, with Expires and Contact.
fn dialog_response(
    binding: &Binding,
    request: &Message<'_>,
    peer: &Peer,
    local_tag: &str,
    expires: u32,
) -> ResponseBuilder {
    response(request, peer, 200, "OK", Some(local_tag))
        .header("Expires", expires.to_string())
        .header("Contact", contact(binding, peer))
}

fn contact(binding: &Binding, peer: &Peer) -> String {
    let (kind, local) = binding.local(peer);
    match kind {
        TransportKind::Udp => format!("<sip:{local}>"),
        _ => format!("<sip:{local};transport={kind}>"),
    }
}

/// Sends one NOTIFY in a dialog; returns the final response code.
async fn send_notify(
    binding: &Arc<Binding>,
    dialog: &mut Dialog,
    state: &str,
    body: String,
) -> u16 {
    dialog.cseq = next_cseq(binding, dialog);
    let (kind, local) = binding.local(&dialog.peer);
    let mut notify = RequestBuilder::new("NOTIFY", dialog.remote_target.clone())
        .header(
            "Via",
            format!(
                "SIP/2.0/{} {local};branch=z9hG4bK{};rport",
                kind.via(),
                wire::token()
            ),
        )
        .header("Max-Forwards", "70");
    for route in &dialog.route {
        notify = notify.header("Route", route.clone());
    }
    let to = if dialog.remote_tag.is_empty() {
        format!("<{}>", dialog.remote_uri)
    } else {
        format!("<{}>;tag={}", dialog.remote_uri, dialog.remote_tag)
    };
    let event = match &dialog.event_id {
        Some(id) => format!("presence;id={id}"),
        None => "presence".to_owned(),
    };
    let notify = notify
        .header(
            "From",
            format!("<{}>;tag={}", dialog.local_uri, dialog.local_tag),
        )
        .header("To", to)
        .header("Call-ID", dialog.call_id.clone())
        .header("CSeq", format!("{} NOTIFY", dialog.cseq))
        .header("Contact", contact(binding, &dialog.peer))
        .header("Event", event)
        .header("Subscription-State", state.to_owned())
        .body("application/pidf+xml", body);
    match notify.build() {
        Ok(bytes) => binding.request(&dialog.peer, bytes).await.0,
        Err(error) => {
            tracing::warn!(%error, "NOTIFY could not be built");
            500
        }
    }
}

/// The dialog's next CSeq (RFC 3261 s12.2.1.1), counted in the stored
/// dialog when there is one.
fn next_cseq(binding: &Binding, dialog: &Dialog) -> u32 {
    let mut users = lock(&binding.users);
    for user in users.values_mut() {
        if let Some(d) = user
            .dialogs
            .iter_mut()
            .find(|d| d.local_tag == dialog.local_tag)
        {
            d.cseq = d.cseq.max(dialog.cseq) + 1;
            return d.cseq;
        }
    }
    dialog.cseq + 1
}

/// Ends the engine's subscription of `watcher` to `target` when no
/// SUBSCRIBE dialog of the watcher for that target is left.
async fn unsubscribe_unless_other_dialogs(
    binding: &Arc<Binding>,
    watcher: &Address,
    target: &Address,
    principal: Principal,
) {
    let others = lock(&binding.users)
        .get(watcher)
        .is_some_and(|u| u.dialogs.iter().any(|d| d.target == *target));
    if others {
        return;
    }
    if let Ok(op) = UnsubscribeOp::new(watcher.to_uri(Scheme::Pres), target.to_uri(Scheme::Pres)) {
        let _ = call(binding, OpKind::Unsubscribe, watcher, None, move |origin| {
            Input::Unsubscribe {
                origin,
                principal,
                op,
            }
        })
        .await;
    }
}

fn remove_dialog(binding: &Binding, watcher: &Address, matches: impl Fn(&Dialog) -> bool) {
    if let Some(user) = lock(&binding.users).get_mut(watcher) {
        user.dialogs.retain(|d| !matches(d));
    }
}

/// A document with no tuples: nothing about the presentity.
fn empty(target: &Address) -> Presence<'static> {
    Presence::new(target.to_uri(Scheme::Pres).to_string())
}
