//! The registrar for cpimd's own domains (RFC 3261 s10.3) with digest
//! authentication (s22.4), and each SIP user's engine inbox.
//!
//! Credentials: the digest user name is the account's full address
//! (`alice@example.com`), the realm its domain; the stored `HA1` is
//! `MD5(alice@example.com:example.com:password)` (`cpim user add`).
//!
//! Requests other than REGISTER are accepted from a live registration's
//! flow (same transport, source address and port as its REGISTER) without
//! a challenge; from anywhere else they are challenged with 401.

use std::sync::Arc;
use std::time::{Duration, Instant};

use cpim_engine::Principal;
use cpim_formats::uri::Address;
use cpim_sip::digest::DigestError;
use cpim_sip::headers::Contacts;
use cpim_sip::{Message, ResponseBuilder};

use super::presence::Dialog;
use super::wire::{self, response};
use super::{lock, Binding, Inbox, Peer};

/// Shortest registration granted (s10.3 step 7: 423 below it).
pub const MIN_EXPIRES: u32 = 60;
/// Longest registration granted.
pub const MAX_EXPIRES: u32 = 86_400;
/// Registration lifetime when the request names none.
pub const DEFAULT_EXPIRES: u32 = 3_600;

/// What the binding holds for one local user.
#[derive(Default)]
pub struct SipUser {
    /// Registered contacts.
    pub bindings: Vec<ContactBinding>,
    /// SUBSCRIBE dialogs in which this user is the watcher.
    pub dialogs: Vec<Dialog>,
    /// The user's engine inbox, open while it has a binding or a dialog.
    pub inbox: Option<Inbox>,
}

/// One registered contact.
#[derive(Clone, Debug)]
pub struct ContactBinding {
    /// The Contact URI as written.
    pub uri: String,
    /// Where its REGISTER came from: requests for it go there.
    pub peer: Peer,
    pub call_id: String,
    pub cseq: u32,
    pub expires: Instant,
}

/// REGISTER (s10.3).
pub async fn register(
    binding: &Arc<Binding>,
    request: &Message<'_>,
    peer: &Peer,
) -> ResponseBuilder {
    let Some(aor) = wire::address(request.to().uri().as_str()) else {
        return response(request, peer, 404, "Not Found: To names no user", None);
    };
    if !binding.serves(aor.domain()) {
        return response(
            request,
            peer,
            403,
            "Forbidden: domain not served here",
            None,
        );
    }
    if let Err(refusal) = challenge_or_verify(binding, request, peer, &aor).await {
        return refusal;
    }
    let now = Instant::now();
    let default = request.expires().unwrap_or(DEFAULT_EXPIRES);
    let mut changes: Vec<(String, u32)> = Vec::new();
    match request.contact() {
        None => {}
        Some(Contacts::Wildcard) => {
            if request.expires() != Some(0) {
                return response(
                    request,
                    peer,
                    400,
                    "Bad Request: Contact * needs Expires: 0",
                    None,
                );
            }
            if let Some(user) = lock(&binding.users).get_mut(&aor) {
                user.bindings.clear();
            }
        }
        Some(Contacts::List(list)) => {
            for contact in list {
                let expires = contact.expires().unwrap_or(default);
                if expires > 0 && expires < MIN_EXPIRES {
                    return response(request, peer, 423, "Interval Too Brief", None)
                        .header("Min-Expires", MIN_EXPIRES.to_string());
                }
                changes.push((contact.uri().as_str().to_owned(), expires.min(MAX_EXPIRES)));
            }
        }
        Some(_) => {}
    }
    let call_id = request.call_id().to_owned();
    let cseq = request.cseq().number;
    let current = {
        let mut users = lock(&binding.users);
        let user = users.entry(aor.clone()).or_default();
        for (uri, expires) in changes {
            let existing = user.bindings.iter().position(|b| b.uri == uri);
            if let Some(i) = existing {
                // s10.3 step 7: an older request of the same Call-ID is
                // ignored for this binding.
                let b = &user.bindings[i];
                if b.call_id == call_id && b.cseq > cseq {
                    continue;
                }
                user.bindings.remove(i);
            }
            if expires > 0 {
                user.bindings.push(ContactBinding {
                    uri,
                    peer: peer.clone(),
                    call_id: call_id.clone(),
                    cseq,
                    expires: now + Duration::from_secs(u64::from(expires)),
                });
            }
        }
        user.bindings
            .iter()
            .map(|b| {
                let left = b.expires.saturating_duration_since(now).as_secs();
                format!("<{}>;expires={left}", b.uri)
            })
            .collect::<Vec<_>>()
    };
    sync_inbox(binding, &aor).await;
    let mut ok = response(request, peer, 200, "OK", None);
    for contact in current {
        ok = ok.header("Contact", contact);
    }
    ok
}

/// The local user a request comes from: its From address, proved by a live
/// registration's flow or by digest credentials.
pub async fn authenticate(
    binding: &Arc<Binding>,
    request: &Message<'_>,
    peer: &Peer,
) -> Result<Address, ResponseBuilder> {
    let Some(user) = wire::address(request.from().uri().as_str()) else {
        return Err(response(
            request,
            peer,
            403,
            "Forbidden: From names no user",
            None,
        ));
    };
    if !binding.serves(user.domain()) {
        return Err(response(
            request,
            peer,
            403,
            "Forbidden: From is not a user of this server",
            None,
        ));
    }
    let now = Instant::now();
    let registered = lock(&binding.users).get(&user).is_some_and(|u| {
        u.bindings
            .iter()
            .any(|b| b.peer == *peer && b.expires > now)
    });
    if !registered {
        challenge_or_verify(binding, request, peer, &user).await?;
    }
    Ok(user)
}

/// Who sends a request and as what principal: a request from the
/// configured next hop of another domain, with a From of that domain, comes
/// from that domain without digest (address-based peer trust, see
/// docs/decisions.md); any other from an authenticated local user.
pub async fn sender(
    binding: &Arc<Binding>,
    request: &Message<'_>,
    peer: &Peer,
) -> Result<(Address, Principal), ResponseBuilder> {
    let from = wire::address(request.from().uri().as_str());
    if let Some(user) = from.filter(|user| binding.speaks_for(peer, user.domain())) {
        let principal = Principal::Domain(user.domain().to_owned());
        return Ok((user, principal));
    }
    if binding.is_next_hop(peer) {
        return Err(response(
            request,
            peer,
            403,
            "Forbidden: From is not of the peer's domain",
            None,
        ));
    }
    let user = authenticate(binding, request, peer).await?;
    Ok((user.clone(), Principal::User(user)))
}

/// Checks the request's digest credentials for `user`; the refusal is a
/// 401 challenge or a 403.
async fn challenge_or_verify(
    binding: &Arc<Binding>,
    request: &Message<'_>,
    peer: &Peer,
    user: &Address,
) -> Result<(), ResponseBuilder> {
    let Some(server) = binding.digest.get(user.domain()) else {
        return Err(response(
            request,
            peer,
            403,
            "Forbidden: domain not served here",
            None,
        ));
    };
    let now = unix_secs();
    let challenge = |stale: bool| {
        response(request, peer, 401, "Unauthorized", None)
            .header("WWW-Authenticate", server.challenge(now, stale))
    };
    let credentials = request
        .authorization()
        .iter()
        .find(|c| c.param("realm").is_some_and(|r| r == server.realm()));
    let Some(credentials) = credentials else {
        return Err(challenge(false));
    };
    let name = user.to_string();
    match server.username(credentials) {
        Ok(given) if given == name => {}
        Ok(_) => {
            return Err(response(
                request,
                peer,
                403,
                "Forbidden: digest username is not the From/To address",
                None,
            ))
        }
        Err(error) => {
            let reason = format!("Forbidden: {error}");
            return Err(response(request, peer, 403, &reason, None));
        }
    }
    let lookup = name.clone();
    let ha1 = binding
        .with_accounts(move |accounts| accounts.sip_ha1_md5(&lookup).ok().flatten())
        .await;
    let Some(ha1) = ha1 else {
        return Err(response(
            request,
            peer,
            404,
            "Not Found: no such user",
            None,
        ));
    };
    let uri = request
        .request_uri()
        .map(cpim_sip::Uri::as_str)
        .unwrap_or_default();
    match server.verify(credentials, request.method(), uri, &ha1, now) {
        Ok(()) => {}
        Err(DigestError::Stale) => return Err(challenge(true)),
        Err(error) => {
            let reason = format!("Forbidden: {error}");
            return Err(response(request, peer, 403, &reason, None));
        }
    }
    if let Err(error) = binding.auth.ensure_user(user).await {
        tracing::warn!(%error, "SIP user not made known to the engine");
    }
    Ok(())
}

/// Opens the user's engine inbox when it has a binding or a dialog, and
/// closes it when it has neither.
///
/// Boxed: the inbox's reader calls this again, and a future that spawns
/// itself needs a named, `Send` type.
pub fn sync_inbox(
    binding: &Arc<Binding>,
    user: &Address,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    let binding = binding.clone();
    let user = user.clone();
    Box::pin(async move { sync_inbox_now(&binding, &user).await })
}

async fn sync_inbox_now(binding: &Arc<Binding>, user: &Address) {
    let _gate = binding.sessions_gate.lock().await;
    let (wanted, open) = {
        let users = lock(&binding.users);
        match users.get(user) {
            Some(u) => (
                !u.bindings.is_empty() || !u.dialogs.is_empty(),
                u.inbox.is_some(),
            ),
            None => (false, false),
        }
    };
    if wanted && !open && binding.serves(user.domain()) {
        match binding.driver.open(user.clone()).await {
            Ok(handle) => {
                let id = handle.id;
                let reader = tokio::spawn(super::im::reader(
                    binding.clone(),
                    user.clone(),
                    handle.events,
                    handle.kicked,
                ));
                lock(&binding.users).entry(user.clone()).or_default().inbox =
                    Some(Inbox { id, reader });
            }
            Err(error) => tracing::warn!(%error, %user, "SIP user's inbox not opened"),
        }
    } else if !wanted {
        let inbox = {
            let mut users = lock(&binding.users);
            let inbox = users.get_mut(user).and_then(|u| u.inbox.take());
            if users
                .get(user)
                .is_some_and(|u| u.bindings.is_empty() && u.dialogs.is_empty())
            {
                users.remove(user);
            }
            inbox
        };
        if let Some(inbox) = inbox {
            inbox.reader.abort();
            binding.driver.close(inbox.id);
        }
    }
}

/// Drops expired registrations once a second.
pub async fn sweep(binding: Arc<Binding>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        let now = Instant::now();
        let emptied: Vec<Address> = {
            let mut users = lock(&binding.users);
            users
                .iter_mut()
                .filter_map(|(address, user)| {
                    let before = user.bindings.len();
                    user.bindings.retain(|b| b.expires > now);
                    let gone = user.bindings.is_empty() && user.dialogs.is_empty();
                    (before != user.bindings.len() || (gone && user.inbox.is_some()))
                        .then(|| address.clone())
                })
                .collect()
        };
        for user in emptied {
            sync_inbox(&binding, &user).await;
        }
    }
}

fn unix_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
