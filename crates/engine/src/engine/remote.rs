//! Presence across domains (draft section 3.4; RFC 3859 section 4): a local
//! watcher's subscribe, fetch and unsubscribe for a presentity of another
//! domain go out through the route configured for that domain, and the
//! notify operations the other domain sends back reach the watcher.
//!
//! The other domain decides who sees its presentities; this side checks
//! only that the watcher is the authenticated principal and one of its own
//! domains (so that it never relays for strangers, and a subscription cannot
//! loop back through it), and that notifications come from the target's
//! domain for a subscription it relayed.

use std::sync::Arc;

use cpim_formats::op::{NotifyOp, ResponseOp, Status, SubscribeOp, TransId, UnsubscribeOp};
use cpim_formats::pidf::Presence;
use cpim_formats::uri::{Address, Scheme};

use super::{presence_pair, text, Engine, Id, Request};
use crate::io::{Effect, Origin, Principal, Reason, RelayId, SubState};
use crate::store::{
    Change, RelayedPhase, RelayedRequest, RemoteSubscriptionRecord, SubscriptionStatus,
};
use crate::time::Timestamp;

/// One relayed subscription or fetch, keyed by (watcher, target). The record
/// holds both ids.
#[derive(Debug)]
pub(super) struct RemoteSub {
    /// The binding it went through; an unsubscribe goes the same way.
    pub(super) binding: String,
    /// When it ends: the answer's deadline until answered, then the
    /// granted expiry.
    pub(super) expires: Timestamp,
    pub(super) phase: Phase,
}

#[derive(Clone, Copy, Debug)]
pub(super) enum Phase {
    /// The subscribe went out; the watcher's response waits for the answer.
    Awaiting {
        relay: RelayId,
        req: Request,
        fetch: bool,
        requested: u32,
    },
    /// A fetch was accepted; its response waits for the one notify, so that
    /// the watcher gets both together as for a local fetch.
    Fetching { req: Request },
    /// Accepted and stored; `pending` until the other side says presence
    /// flows.
    Established { pending: bool },
    /// Established, with a refresh relayed and its response waiting for the
    /// answer. Stored with the refresh, so that after a restart the answer
    /// still completes it.
    Refreshing {
        relay: RelayId,
        req: Request,
        requested: u32,
        pending: bool,
    },
}

impl RemoteSub {
    fn status(&self) -> SubscriptionStatus {
        match self.phase {
            Phase::Established { pending: false } | Phase::Refreshing { pending: false, .. } => {
                SubscriptionStatus::Active
            }
            _ => SubscriptionStatus::Pending,
        }
    }
}

impl Phase {
    /// The relay id of the subscribe or refresh awaiting an answer.
    pub(super) fn relay(self) -> Option<RelayId> {
        match self {
            Phase::Awaiting { relay, .. } | Phase::Refreshing { relay, .. } => Some(relay),
            _ => None,
        }
    }

    /// Established (or being refreshed), and whether still pending.
    fn established(self) -> Option<bool> {
        match self {
            Phase::Established { pending } | Phase::Refreshing { pending, .. } => Some(pending),
            _ => None,
        }
    }
}

impl Engine {
    /// Section 3.4.1 for a target of another domain: relay, or fail.
    /// `duration` 0 is a fetch, or ends an existing subscription.
    pub(super) fn subscribe_remote(
        &mut self,
        req: Request,
        watcher: &Address,
        target: &Address,
        duration: u32,
        now: Timestamp,
    ) {
        if !self.config.is_local(watcher.domain()) {
            let reason = format!(
                "{target} is not a presentity served here, and presence is relayed only for watchers of this service's domains"
            );
            return self.fail(req, &reason);
        }
        let Some(route) = self.config.route(target.domain()).cloned() else {
            let reason = format!(
                "{target} is not a presentity served here and there is no route to {}",
                target.domain()
            );
            return self.fail(req, &reason);
        };
        // Held for this operation; the record takes its own holds.
        let wid = self.names.retain(watcher);
        let tid = self.names.retain(target);
        let key = (wid, tid);
        match self.remote.get(&key).map(|s| s.phase) {
            Some(_) if duration != 0 => {
                let reason = format!("{watcher} already has a subscription to {target}");
                self.fail(req, &reason);
            }
            Some(Phase::Established { .. } | Phase::Refreshing { .. }) => {
                // Section 3.4.3: SUBSCRIBE 0 on an existing subscription ends it.
                self.end_remote(key, Some(req), Some(0));
            }
            Some(_) => {
                let reason = format!("a subscribe of {watcher} to {target} is still under way");
                self.fail(req, &reason);
            }
            None => {
                let relay = self.fresh_relay();
                let expires = now.plus_millis(self.config.relay_timeout_ms);
                let fetch = duration == 0;
                let requested = if fetch {
                    0
                } else {
                    self.config.clamp_subscription(duration)
                };
                self.names.retain_id(wid);
                self.names.retain_id(tid);
                self.remote.insert(
                    key,
                    RemoteSub {
                        binding: route.binding.clone(),
                        expires,
                        phase: Phase::Awaiting {
                            relay,
                            req,
                            fetch,
                            requested,
                        },
                    },
                );
                self.remote_timers.insert((expires, wid, tid));
                self.remote_relays.insert(relay, key);
                // An operation in progress is stored too (draft section 3.4),
                // so that after a restart the answer still completes it.
                self.persist_remote(key);
                self.effects.push_back(Effect::RelaySubscribe {
                    relay,
                    binding: route.binding,
                    op: SubscribeOp {
                        watcher: watcher.to_uri(Scheme::Pres),
                        target: target.to_uri(Scheme::Pres),
                        duration: requested,
                        trans_id: req.trans_id,
                    },
                });
            }
        }
        self.names.release(wid);
        self.names.release(tid);
    }

    /// The refresh extension for a target of another domain: relayed the
    /// way the subscription went; the watcher's response waits for the
    /// answer. Meanwhile the subscription goes on as it was.
    pub(super) fn refresh_remote(
        &mut self,
        req: Request,
        watcher: &Address,
        target: &Address,
        duration: u32,
    ) {
        let key = self.names.id(watcher).zip(self.names.id(target));
        let found = key.and_then(|k| self.remote.get(&k).map(|s| (k, s.phase, s.binding.clone())));
        let Some((key, phase, binding)) = found else {
            let reason = format!("{watcher} has no subscription to {target} to refresh");
            return self.fail(req, &reason);
        };
        match phase {
            Phase::Established { .. } if duration == 0 => {
                self.end_remote(key, Some(req), Some(0));
            }
            Phase::Established { pending } => {
                let relay = self.fresh_relay();
                let requested = self.config.clamp_subscription(duration);
                if let Some(sub) = self.remote.get_mut(&key) {
                    sub.phase = Phase::Refreshing {
                        relay,
                        req,
                        requested,
                        pending,
                    };
                }
                self.remote_relays.insert(relay, key);
                // Stored like a subscribe in progress (draft section 3.4).
                self.persist_remote(key);
                self.effects.push_back(Effect::RelaySubscribe {
                    relay,
                    binding,
                    op: SubscribeOp {
                        watcher: watcher.to_uri(Scheme::Pres),
                        target: target.to_uri(Scheme::Pres),
                        duration: requested,
                        trans_id: req.trans_id,
                    },
                });
            }
            _ => {
                let reason =
                    format!("a subscribe or refresh of {watcher} to {target} is still under way");
                self.fail(req, &reason);
            }
        }
    }

    /// The other side's answer to a relayed refresh. A refused or lost
    /// refresh leaves the subscription until its known expiry (RFC 6665
    /// section 4.1.2.2).
    fn refresh_answer(
        &mut self,
        key: (Id, Id),
        req: Request,
        requested: u32,
        pending: bool,
        answer: Option<ResponseOp>,
        now: Timestamp,
    ) {
        match answer {
            Some(a) if a.status == Status::Success => {
                let granted = a
                    .duration
                    .unwrap_or(requested)
                    .min(self.config.max_subscription);
                if granted == 0 {
                    self.drop_remote(key);
                    self.respond(req, Status::Success, Some(0), None);
                    self.notify(key.0, key.1, SubState::Terminated(Reason::Expired), None);
                    return;
                }
                let Some(sub) = self.remote.get_mut(&key) else {
                    return;
                };
                let expires = now.plus_secs(granted);
                self.remote_timers.remove(&(sub.expires, key.0, key.1));
                sub.expires = expires;
                sub.phase = Phase::Established { pending };
                self.remote_timers.insert((expires, key.0, key.1));
                self.persist_remote(key);
                self.respond(req, Status::Success, Some(granted), None);
            }
            other => {
                if let Some(sub) = self.remote.get_mut(&key) {
                    sub.phase = Phase::Established { pending };
                }
                self.persist_remote(key);
                match other {
                    Some(a) => self.effects.push_back(Effect::Respond {
                        to: req.origin,
                        response: ResponseOp {
                            status: a.status,
                            trans_id: req.trans_id,
                            duration: None,
                            lang: a.lang,
                            reason: a.reason,
                        },
                    }),
                    None => self.respond(
                        req,
                        Status::Indeterminant,
                        None,
                        Some("the next hop will give no answer".into()),
                    ),
                }
            }
        }
    }

    /// RFC 3859 section 3.4 for a target of another domain.
    pub(super) fn unsubscribe_remote(&mut self, req: Request, watcher: &Address, target: &Address) {
        let key = self.names.id(watcher).zip(self.names.id(target));
        let phase = key.and_then(|k| self.remote.get(&k)).map(|s| s.phase);
        match (key, phase) {
            (
                Some(key),
                Some(
                    Phase::Established { .. }
                    | Phase::Refreshing { .. }
                    | Phase::Awaiting { fetch: false, .. },
                ),
            ) => {
                self.end_remote(key, Some(req), None);
            }
            _ => {
                let reason = format!("{watcher} has no subscription to {target}");
                self.fail(req, &reason);
            }
        }
    }

    /// The other side's answer to a relayed subscribe; false when `relay` is
    /// not one of them.
    pub(super) fn remote_answer(
        &mut self,
        relay: RelayId,
        answer: Option<ResponseOp>,
        now: Timestamp,
    ) -> bool {
        let Some(key) = self.remote_relays.remove(&relay) else {
            return false;
        };
        if let Some(Phase::Refreshing {
            req,
            requested,
            pending,
            ..
        }) = self.remote.get(&key).map(|s| s.phase)
        {
            self.refresh_answer(key, req, requested, pending, answer, now);
            return true;
        }
        let Some(Phase::Awaiting {
            req,
            fetch,
            requested,
            ..
        }) = self.remote.get(&key).map(|s| s.phase)
        else {
            return true;
        };
        match answer {
            Some(a) if a.status == Status::Success && fetch => {
                if let Some(sub) = self.remote.get_mut(&key) {
                    sub.phase = Phase::Fetching { req };
                }
                self.persist_remote(key);
            }
            Some(a) if a.status == Status::Success => {
                let granted = a
                    .duration
                    .unwrap_or(requested)
                    .min(self.config.max_subscription);
                if granted == 0 {
                    self.drop_remote(key);
                    self.respond(req, Status::Success, Some(0), None);
                    self.notify(key.0, key.1, SubState::Terminated(Reason::Expired), None);
                } else {
                    self.establish(key, req, now.plus_secs(granted), true, granted);
                }
            }
            Some(a) => {
                self.drop_remote(key);
                self.effects.push_back(Effect::Respond {
                    to: req.origin,
                    response: ResponseOp {
                        status: a.status,
                        trans_id: req.trans_id,
                        duration: None,
                        lang: a.lang,
                        reason: a.reason,
                    },
                });
            }
            None => {
                self.drop_remote(key);
                self.respond(
                    req,
                    Status::Indeterminant,
                    None,
                    Some("the next hop will give no answer".into()),
                );
            }
        }
        true
    }

    /// A notify operation from the target's domain (draft section 3.4.2),
    /// for a subscription relayed there; answered to `origin`.
    pub(super) fn remote_notify(
        &mut self,
        origin: Origin,
        principal: &Principal,
        op: NotifyOp,
        state: SubState,
        now: Timestamp,
    ) {
        let req = Request {
            origin,
            trans_id: op.trans_id,
        };
        let (watcher, target) = match presence_pair(&op.watcher, &op.target) {
            Ok(pair) => pair,
            Err(reason) => return self.fail(req, reason),
        };
        if !principal.may_act_for(target) {
            let reason = format!("not authorised to notify for {target}");
            return self.fail(req, &reason);
        }
        let key = self.names.id(watcher).zip(self.names.id(target));
        let Some((key, phase)) = key.and_then(|k| self.remote.get(&k).map(|s| (k, s.phase))) else {
            let reason = format!("{watcher} has no subscription to {target} through this service");
            return self.fail(req, &reason);
        };
        self.respond(req, Status::Success, None, None);
        let presence = Arc::new(op.presence);
        match (phase, state) {
            (
                Phase::Awaiting {
                    fetch: true, req, ..
                }
                | Phase::Fetching { req },
                state,
            ) => {
                // The one notify of a fetch (section 3.4.4), whatever state
                // the other side gave it.
                self.drop_remote(key);
                self.respond(req, Status::Success, Some(0), None);
                let (reason, shown) = match state {
                    SubState::Active { .. } => (Reason::Fetched, true),
                    SubState::Pending { .. } => (Reason::Undecided, false),
                    SubState::Terminated(r) => (r, r == Reason::Fetched),
                };
                let shown = shown.then_some(presence);
                self.notify(key.0, key.1, SubState::Terminated(reason), shown);
            }
            (Phase::Awaiting { req, .. }, SubState::Terminated(reason)) => {
                // Accepted and over at once.
                self.drop_remote(key);
                self.respond(req, Status::Success, Some(0), None);
                self.notify(key.0, key.1, SubState::Terminated(reason), None);
            }
            (Phase::Awaiting { req, requested, .. }, SubState::Active { expires })
            | (Phase::Awaiting { req, requested, .. }, SubState::Pending { expires }) => {
                // A notify before the answer: the other side accepted. The
                // answer, when it comes, finds nothing left to complete.
                let pending = matches!(state, SubState::Pending { .. });
                let granted = match expires.secs_after(now) {
                    0 => requested,
                    left => left,
                }
                .clamp(1, self.config.max_subscription.max(1));
                self.establish(key, req, now.plus_secs(granted), pending, granted);
                self.tell_remote_state(key, pending, presence);
            }
            (Phase::Established { .. }, SubState::Terminated(reason)) => {
                self.drop_remote(key);
                self.notify(key.0, key.1, SubState::Terminated(reason), None);
            }
            (Phase::Refreshing { req, .. }, SubState::Terminated(reason)) => {
                self.drop_remote(key);
                self.fail(
                    req,
                    "the subscription ended before the refresh was answered",
                );
                self.notify(key.0, key.1, SubState::Terminated(reason), None);
            }
            (
                Phase::Established { pending: was } | Phase::Refreshing { pending: was, .. },
                state,
            ) => {
                let pending = matches!(state, SubState::Pending { .. });
                if pending != was {
                    if let Some(sub) = self.remote.get_mut(&key) {
                        sub.phase = match sub.phase {
                            Phase::Refreshing {
                                relay,
                                req,
                                requested,
                                ..
                            } => Phase::Refreshing {
                                relay,
                                req,
                                requested,
                                pending,
                            },
                            _ => Phase::Established { pending },
                        };
                    }
                    self.persist_remote(key);
                }
                self.tell_remote_state(key, pending, presence);
            }
        }
    }

    /// Ends what is due at `now` among relayed subscriptions.
    pub(super) fn remote_timeouts(&mut self, now: Timestamp) {
        while let Some(&(at, wid, tid)) = self.remote_timers.first() {
            if at > now {
                break;
            }
            let key = (wid, tid);
            let Some(phase) = self.remote.get(&key).map(|s| s.phase) else {
                self.remote_timers.pop_first();
                continue;
            };
            match phase {
                Phase::Awaiting { req, fetch, .. } => {
                    let binding = self.drop_remote(key);
                    self.respond(
                        req,
                        Status::Indeterminant,
                        None,
                        Some("no answer came from the next hop in time".into()),
                    );
                    // Whatever the other side made of it, it is not wanted now.
                    if !fetch {
                        self.relay_unsubscribe(key, binding);
                    }
                }
                Phase::Fetching { req } => {
                    self.drop_remote(key);
                    self.respond(
                        req,
                        Status::Indeterminant,
                        None,
                        Some("the next hop accepted the fetch but sent no presence in time".into()),
                    );
                }
                Phase::Established { .. } | Phase::Refreshing { .. } => {
                    let binding = self.drop_remote(key);
                    if let Phase::Refreshing { req, .. } = phase {
                        self.respond(
                            req,
                            Status::Indeterminant,
                            None,
                            Some("the subscription expired before the refresh was answered".into()),
                        );
                    }
                    self.notify(wid, tid, SubState::Terminated(Reason::Expired), None);
                    self.relay_unsubscribe(key, binding);
                }
            }
        }
    }

    /// Ends every relayed subscription of a local watcher being removed.
    pub(super) fn remove_remote_watcher(&mut self, wid: Id) {
        let keys: Vec<(Id, Id)> = self
            .remote
            .keys()
            .filter(|(w, _)| *w == wid)
            .copied()
            .collect();
        for key in keys {
            let phase = self.remote.get(&key).map(|s| s.phase);
            let binding = self.drop_remote(key);
            if let Some(
                Phase::Awaiting { req, .. }
                | Phase::Fetching { req }
                | Phase::Refreshing { req, .. },
            ) = phase
            {
                let reason = format!("{} was removed", self.names.addr(wid));
                self.fail(req, &reason);
            }
            self.relay_unsubscribe(key, binding);
        }
    }

    /// A relay id used by no message or subscription under way. Random, so
    /// an id is never reused across restarts: a late answer to an old relay
    /// cannot complete a new one.
    pub(super) fn fresh_relay(&mut self) -> RelayId {
        loop {
            let candidate = RelayId(rand::random::<u64>());
            if !self.relays.contains_key(&candidate) && !self.remote_relays.contains_key(&candidate)
            {
                return candidate;
            }
        }
    }

    /// The relayed subscriptions that are accepted, in (watcher, target)
    /// order, with whether presence flows and when each ends.
    pub fn remote_subscriptions(&self) -> Vec<(Address, Address, SubscriptionStatus, Timestamp)> {
        let mut list: Vec<_> = self
            .remote
            .iter()
            .filter(|(_, s)| s.phase.established().is_some())
            .map(|((w, t), s)| {
                (
                    self.names.addr(*w).clone(),
                    self.names.addr(*t).clone(),
                    s.status(),
                    s.expires,
                )
            })
            .collect();
        list.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        list
    }

    /// Rebuilds one stored relayed subscription (`Engine::restore`).
    pub(super) fn restore_remote(
        &mut self,
        r: &RemoteSubscriptionRecord,
    ) -> Result<(), crate::store::StoreError> {
        let wid = self
            .names
            .retain(&super::parse_text(&r.watcher, "remote subscription")?);
        let tid = self
            .names
            .retain(&super::parse_text(&r.target, "remote subscription")?);
        let phase = match &r.request {
            None => Phase::Established {
                pending: r.state != SubscriptionStatus::Active,
            },
            Some(q) => {
                let trans_id =
                    TransId::new(q.trans_id).map_err(|_| crate::store::StoreError::Corrupt {
                        record: format!("remote subscription {} to {}", r.watcher, r.target),
                        reason: format!("transID {} is out of range", q.trans_id),
                    })?;
                let req = Request {
                    origin: Origin(q.origin),
                    trans_id,
                };
                match q.phase {
                    RelayedPhase::Answered => Phase::Fetching { req },
                    RelayedPhase::Awaiting => Phase::Awaiting {
                        relay: RelayId(q.relay),
                        req,
                        fetch: q.duration == 0,
                        requested: q.duration,
                    },
                    RelayedPhase::Refreshing => Phase::Refreshing {
                        relay: RelayId(q.relay),
                        req,
                        requested: q.duration,
                        pending: r.state != SubscriptionStatus::Active,
                    },
                }
            }
        };
        if self.remote.contains_key(&(wid, tid)) {
            // One per key; a store never holds two.
            self.names.release(wid);
            self.names.release(tid);
            return Ok(());
        }
        self.remote_timers.insert((r.expires, wid, tid));
        if let Some(relay) = phase.relay() {
            self.remote_relays.insert(relay, (wid, tid));
        }
        self.remote.insert(
            (wid, tid),
            RemoteSub {
                binding: r.binding.clone(),
                expires: r.expires,
                phase,
            },
        );
        Ok(())
    }

    // ---- helpers ----

    /// Accepted: stores the subscription and answers the watcher.
    fn establish(
        &mut self,
        key: (Id, Id),
        req: Request,
        expires: Timestamp,
        pending: bool,
        granted: u32,
    ) {
        let Some(sub) = self.remote.get_mut(&key) else {
            return;
        };
        if let Phase::Awaiting { relay, .. } = sub.phase {
            self.remote_relays.remove(&relay);
        }
        self.remote_timers.remove(&(sub.expires, key.0, key.1));
        sub.expires = expires;
        sub.phase = Phase::Established { pending };
        self.remote_timers.insert((expires, key.0, key.1));
        self.persist_remote(key);
        self.respond(req, Status::Success, Some(granted), None);
    }

    /// Passes the other side's state on to the watcher, with the local
    /// expiry.
    fn tell_remote_state(
        &mut self,
        key: (Id, Id),
        pending: bool,
        presence: Arc<Presence<'static>>,
    ) {
        let Some(expires) = self.remote.get(&key).map(|s| s.expires) else {
            return;
        };
        if pending {
            self.notify(key.0, key.1, SubState::Pending { expires }, None);
        } else {
            self.notify(key.0, key.1, SubState::Active { expires }, Some(presence));
        }
    }

    /// Ends a subscription on the watcher's request (`req`) or otherwise,
    /// and tells the other side.
    fn end_remote(&mut self, key: (Id, Id), req: Option<Request>, duration: Option<u32>) {
        let phase = self.remote.get(&key).map(|s| s.phase);
        let binding = self.drop_remote(key);
        if let Some(Phase::Awaiting { req: waiting, .. } | Phase::Refreshing { req: waiting, .. }) =
            phase
        {
            self.respond(
                waiting,
                Status::Failure,
                None,
                Some("withdrawn by the watcher before the next hop answered".into()),
            );
        }
        if let Some(req) = req {
            self.respond(req, Status::Success, duration, None);
        }
        self.notify(
            key.0,
            key.1,
            SubState::Terminated(Reason::Unsubscribed),
            None,
        );
        self.relay_unsubscribe(key, binding);
    }

    /// Removes the record, its timer, its relay id and its stored form;
    /// returns its binding. Its holds go at the end of the call.
    fn drop_remote(&mut self, key: (Id, Id)) -> String {
        let Some(sub) = self.remote.remove(&key) else {
            return String::new();
        };
        self.remote_timers.remove(&(sub.expires, key.0, key.1));
        if let Some(relay) = sub.phase.relay() {
            self.remote_relays.remove(&relay);
        }
        self.persist(Change::RemoveRemoteSubscription {
            watcher: text(self.names.addr(key.0)),
            target: text(self.names.addr(key.1)),
        });
        self.names.release(key.0);
        self.names.release(key.1);
        sub.binding
    }

    fn persist_remote(&mut self, key: (Id, Id)) {
        let Some(sub) = self.remote.get(&key) else {
            return;
        };
        let request = match sub.phase {
            Phase::Awaiting {
                relay,
                req,
                requested,
                ..
            } => Some((relay, req, requested, RelayedPhase::Awaiting)),
            Phase::Fetching { req } => Some((RelayId(0), req, 0, RelayedPhase::Answered)),
            Phase::Refreshing {
                relay,
                req,
                requested,
                ..
            } => Some((relay, req, requested, RelayedPhase::Refreshing)),
            Phase::Established { .. } => None,
        };
        let record = RemoteSubscriptionRecord {
            watcher: text(self.names.addr(key.0)),
            target: text(self.names.addr(key.1)),
            binding: sub.binding.clone(),
            expires: sub.expires,
            state: sub.status(),
            request: request.map(|(relay, req, duration, phase)| RelayedRequest {
                relay: relay.0,
                origin: req.origin.0,
                trans_id: req.trans_id.get(),
                duration,
                phase,
            }),
        };
        self.persist(Change::PutRemoteSubscription(record));
    }

    fn relay_unsubscribe(&mut self, key: (Id, Id), binding: String) {
        self.effects.push_back(Effect::RelayUnsubscribe {
            binding,
            op: UnsubscribeOp {
                watcher: self.names.addr(key.0).to_uri(Scheme::Pres),
                target: self.names.addr(key.1).to_uri(Scheme::Pres),
                trans_id: TransId::random(),
            },
        });
    }
}
