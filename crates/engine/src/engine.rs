//! The messaging service (draft section 2.4.1) and presence service (draft
//! section 3.4.1-3.4.4) as one state machine.
//!
//! Memory layout, chosen for millions of subscriptions: addresses are
//! interned once as `u32` ids; a subscription is a 16-byte record in its
//! presentity's watcher map (the fan-out index); expiry is a `BTreeSet` of
//! `(expires, target, watcher)`.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;

use cpim_formats::op::{MessageOp, ResponseOp, Status, SubscribeOp, TransId, UnsubscribeOp};
use cpim_formats::pidf::Presence;
use cpim_formats::uri::{Address, Scheme, Uri};

use crate::config::Config;
use crate::io::{
    Effect, Input, Notification, Origin, Principal, Reason, RelayId, SessionId, SubState,
};
use crate::policy::{Decision, PolicySubject};
use crate::store::{
    BlockRecord, Change, DelegationRecord, PolicyRecord, PublicationRecord, StoreError,
    SubscriptionRecord, SubscriptionStatus, WatcherRecord,
};
use crate::time::Timestamp;

mod names;
mod remote;
mod restore;

use names::Names;
use remote::RemoteSub;

/// The service engine. See the crate documentation for how to drive it.
#[derive(Debug)]
pub struct Engine {
    config: Config,
    names: Names,
    users: FastMap<Id, User>,
    sessions: HashMap<SessionId, Id>,
    sub_timers: BTreeSet<(Timestamp, Id, Id)>,
    pub_timers: BTreeSet<(Timestamp, Id, String)>,
    relays: HashMap<RelayId, Delegation>,
    relay_timers: BTreeSet<(Timestamp, RelayId)>,
    /// Subscriptions relayed to other domains, by (watcher, target).
    remote: HashMap<(Id, Id), RemoteSub>,
    remote_relays: HashMap<RelayId, (Id, Id)>,
    remote_timers: BTreeSet<(Timestamp, Id, Id)>,
    effects: VecDeque<Effect>,
}

/// An administrative input the engine cannot apply. Protocol operations
/// never fail this way: they are answered with a `failure` response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// The address is not a local user.
    #[error("{0} is not a local user")]
    UnknownUser(Address),
    /// The address is in a domain not served here.
    #[error("{0} is not in a domain served here")]
    NotLocal(Address),
    /// A policy subject names no valid address.
    #[error("policy subject {0:?} is not a valid address")]
    InvalidSubject(String),
    /// No such session is open.
    #[error("session {0:?} is not open")]
    UnknownSession(SessionId),
    /// No relayed message awaits an answer under this id (it was answered,
    /// or the wait ended).
    #[error("no relayed message awaits an answer as {0:?}")]
    UnknownRelay(RelayId),
}

/// A watcher as a presentity sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatcherInfo {
    /// The watcher.
    pub watcher: Address,
    /// Its subscription's state.
    pub status: SubscriptionStatus,
    /// When its subscription ends.
    pub expires: Timestamp,
}

impl Engine {
    /// An engine with no state.
    pub fn new(config: Config) -> Engine {
        Engine {
            config,
            names: Names::default(),
            users: FastMap::default(),
            sessions: HashMap::new(),
            sub_timers: BTreeSet::new(),
            pub_timers: BTreeSet::new(),
            relays: HashMap::new(),
            relay_timers: BTreeSet::new(),
            remote: HashMap::new(),
            remote_relays: HashMap::new(),
            remote_timers: BTreeSet::new(),
            effects: VecDeque::new(),
        }
    }

    /// Takes one input at time `now`. Timers due at `now` run first.
    pub fn handle(&mut self, input: Input, now: Timestamp) -> Result<(), InputError> {
        self.handle_timeout(now);
        let result = self.dispatch(input, now);
        self.names.collect();
        result
    }

    fn dispatch(&mut self, input: Input, now: Timestamp) -> Result<(), InputError> {
        match input {
            Input::Message {
                origin,
                principal,
                op,
                hops,
            } => self.message(origin, &principal, op, hops, now),
            Input::Subscribe {
                origin,
                principal,
                op,
            } => self.subscribe(origin, &principal, &op, now),
            Input::Refresh {
                origin,
                principal,
                op,
            } => self.refresh(origin, &principal, &op, now),
            Input::Unsubscribe {
                origin,
                principal,
                op,
            } => self.unsubscribe(origin, &principal, &op),
            Input::Publish {
                origin,
                principal,
                trans_id,
                presentity,
                publisher,
                presence,
                duration,
            } => self.publish(
                Request { origin, trans_id },
                &principal,
                &presentity,
                publisher,
                presence,
                duration,
                now,
            ),
            Input::SetPolicy {
                presentity,
                subject,
                decision,
            } => return self.set_policy(&presentity, subject, decision),
            Input::SetBlock {
                inbox,
                sender,
                blocked,
            } => return self.set_block(&inbox, &sender, blocked),
            Input::AddUser(address) => return self.add_user(&address),
            Input::RemoveUser(address) => return self.remove_user(&address),
            Input::SessionOpened { session, user } => {
                let id = self
                    .local_user(&user)
                    .ok_or(InputError::UnknownUser(user))?;
                if let Some(old) = self.sessions.insert(session, id) {
                    if let Some(u) = self.users.get_mut(&old) {
                        u.sessions.retain(|s| *s != session);
                    }
                }
                if let Some(u) = self.users.get_mut(&id) {
                    u.sessions.push(session);
                }
            }
            Input::SessionClosed(session) => {
                let id = self
                    .sessions
                    .remove(&session)
                    .ok_or(InputError::UnknownSession(session))?;
                if let Some(u) = self.users.get_mut(&id) {
                    u.sessions.retain(|s| *s != session);
                }
            }
            Input::RelayAnswer { relay, answer } => {
                if self.remote_answer(relay, answer.clone(), now) {
                    return Ok(());
                }
                return self.relay_answer(relay, answer);
            }
            Input::Notify {
                origin,
                principal,
                op,
                state,
            } => self.remote_notify(origin, &principal, op, state, now),
        }
        Ok(())
    }

    /// The next effect to carry out, in order.
    pub fn poll_effect(&mut self) -> Option<Effect> {
        self.effects.pop_front()
    }

    /// All pending effects, in order.
    pub fn drain_effects(&mut self) -> std::collections::vec_deque::Drain<'_, Effect> {
        self.effects.drain(..)
    }

    /// When [`Engine::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        [
            self.sub_timers.first().map(|t| t.0),
            self.pub_timers.first().map(|t| t.0),
            self.relay_timers.first().map(|t| t.0),
            self.remote_timers.first().map(|t| t.0),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Ends what is due at `now`: subscriptions (the watcher gets a last
    /// notify), publications (watchers get the new presence), waits for
    /// relay answers (answered `indeterminant`).
    pub fn handle_timeout(&mut self, now: Timestamp) {
        while let Some(&(at, tid, wid)) = self.sub_timers.first() {
            if at > now {
                break;
            }
            self.sub_timers.pop_first();
            let removed = self
                .users
                .get_mut(&tid)
                .and_then(|u| u.watchers.remove(&wid));
            if removed.is_some() {
                self.persist(Change::RemoveSubscription {
                    watcher: text(self.names.addr(wid)),
                    target: text(self.names.addr(tid)),
                });
                self.notify(wid, tid, SubState::Terminated(Reason::Expired), None);
                self.names.release(wid);
            }
        }
        let mut changed = Vec::new();
        while let Some((at, _, _)) = self.pub_timers.first() {
            if *at > now {
                break;
            }
            let Some((_, tid, publisher)) = self.pub_timers.pop_first() else {
                break;
            };
            if let Some(user) = self.users.get_mut(&tid) {
                if user.publications.remove(&publisher).is_some() {
                    self.effects
                        .push_back(Effect::Persist(Change::RemovePublication {
                            presentity: text(self.names.addr(tid)),
                            publisher,
                        }));
                    changed.push(tid);
                }
            }
        }
        // One notify per presentity for the whole pass: its publications may
        // expire at different times, interleaved with other presentities'.
        let mut seen = HashSet::with_capacity(changed.len());
        changed.retain(|tid| seen.insert(*tid));
        for tid in changed {
            self.presence_changed(tid, now);
        }
        while let Some(&(at, relay)) = self.relay_timers.first() {
            if at > now {
                break;
            }
            self.relay_timers.pop_first();
            if let Some(d) = self.relays.remove(&relay) {
                self.persist(Change::RemoveDelegation { relay: relay.0 });
                self.respond(
                    Request {
                        origin: d.origin,
                        trans_id: d.trans_id,
                    },
                    Status::Indeterminant,
                    None,
                    Some("no answer came from the next hop in time".into()),
                );
            }
        }
        self.remote_timeouts(now);
        self.names.collect();
    }

    /// The combined presence of a local presentity: every publisher's tuples.
    pub fn presence(&self, presentity: &Address) -> Option<Arc<Presence<'static>>> {
        let id = self.local_user(presentity)?;
        self.users.get(&id).map(|u| u.document.clone())
    }

    /// The watchers of a local presentity, active and pending, in address
    /// order.
    pub fn watchers(&self, presentity: &Address) -> Vec<WatcherInfo> {
        let Some(user) = self
            .local_user(presentity)
            .and_then(|id| self.users.get(&id))
        else {
            return Vec::new();
        };
        let mut list: Vec<WatcherInfo> = user
            .watchers
            .iter()
            .map(|(wid, sub)| WatcherInfo {
                watcher: self.names.addr(*wid).clone(),
                status: sub.status(),
                expires: sub.expires,
            })
            .collect();
        list.sort_by(|a, b| a.watcher.cmp(&b.watcher));
        list
    }

    /// Watchers waiting for a local presentity's decision, with when each
    /// first asked, in address order.
    pub fn pending_requests(&self, presentity: &Address) -> Vec<(Address, Timestamp)> {
        let Some(user) = self
            .local_user(presentity)
            .and_then(|id| self.users.get(&id))
        else {
            return Vec::new();
        };
        let mut list: Vec<_> = user
            .requests
            .iter()
            .map(|(wid, since)| (self.names.addr(*wid).clone(), *since))
            .collect();
        list.sort();
        list
    }

    /// How many subscriptions (active and pending) are live.
    pub fn subscription_count(&self) -> usize {
        self.users.values().map(|u| u.watchers.len()).sum()
    }

    /// How many subscriptions relayed to other domains are live (accepted
    /// or awaiting an answer).
    pub fn remote_subscription_count(&self) -> usize {
        self.remote.len()
    }

    /// How many distinct addresses the engine holds (users, watchers,
    /// rule subjects, blocked senders).
    pub fn interned_addresses(&self) -> usize {
        self.names.live()
    }

    /// Checks the engine's internal consistency: every index agrees with the
    /// records it indexes, and every interned address is held exactly by the
    /// records that name it. For tests; `Err` says what disagrees.
    #[doc(hidden)]
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut holds: HashMap<Id, u32> = HashMap::new();
        let mut subs = BTreeSet::new();
        let mut pubs = BTreeSet::new();
        for (tid, user) in &self.users {
            *holds.entry(*tid).or_default() += 1;
            for (wid, sub) in &user.watchers {
                *holds.entry(*wid).or_default() += 1;
                subs.insert((sub.expires, *tid, *wid));
            }
            for id in user
                .watcher_rules
                .keys()
                .chain(user.requests.keys())
                .chain(user.blocked.iter())
            {
                *holds.entry(*id).or_default() += 1;
            }
            for (publisher, p) in &user.publications {
                pubs.insert((p.expires, *tid, publisher.clone()));
            }
            for session in &user.sessions {
                if self.sessions.get(session) != Some(tid) {
                    return Err(format!("session {session:?} not indexed to its user"));
                }
            }
        }
        if subs != self.sub_timers {
            return Err("subscription timers disagree with subscriptions".into());
        }
        if pubs != self.pub_timers {
            return Err("publication timers disagree with publications".into());
        }
        let relays: BTreeSet<_> = self.relays.iter().map(|(r, d)| (d.deadline, *r)).collect();
        if relays != self.relay_timers {
            return Err("relay timers disagree with delegations".into());
        }
        let mut remote_timers = BTreeSet::new();
        let mut remote_relays = HashMap::new();
        for (&(wid, tid), sub) in &self.remote {
            *holds.entry(wid).or_default() += 1;
            *holds.entry(tid).or_default() += 1;
            remote_timers.insert((sub.expires, wid, tid));
            if let Some(relay) = sub.phase.relay() {
                remote_relays.insert(relay, (wid, tid));
            }
        }
        if remote_timers != self.remote_timers {
            return Err("relayed subscription timers disagree with their records".into());
        }
        if remote_relays != self.remote_relays {
            return Err("relay ids disagree with relayed subscriptions awaiting answers".into());
        }
        if holds.len() != self.names.live() {
            return Err(format!(
                "{} addresses interned, {} held",
                self.names.live(),
                holds.len()
            ));
        }
        for (id, n) in holds {
            let address = self.names.addr(id);
            if self.names.id(address) != Some(id) || self.names.holds(id) != n {
                return Err(format!(
                    "{address} is named by {n} records but has {} holds",
                    self.names.holds(id)
                ));
            }
        }
        Ok(())
    }

    /// The configuration in use.
    pub fn config(&self) -> &Config {
        &self.config
    }

    // ---- messaging (draft section 2.4.1) ----

    fn message(
        &mut self,
        origin: Origin,
        principal: &Principal,
        op: MessageOp,
        hops: u8,
        now: Timestamp,
    ) {
        let req = Request {
            origin,
            trans_id: op.trans_id,
        };
        // Step 1: both ends must be single INSTANT INBOXes.
        let Some(source) = single(&op.source, Scheme::Im) else {
            return self.fail(req, "the source is not a single im: address");
        };
        let Some(dest) = single(&op.destination, Scheme::Im) else {
            return self.fail(req, "the destination is not a single im: address");
        };
        // Step 2: access control.
        if !principal.may_act_for(source) {
            let reason = format!("not authorised to send as {source}");
            return self.fail(req, &reason);
        }
        if self.config.is_local(dest.domain()) {
            let Some(user) = self.local_user(dest).and_then(|id| self.users.get(&id)) else {
                let reason = format!("there is no inbox {dest} here");
                return self.fail(req, &reason);
            };
            if self
                .names
                .id(source)
                .is_some_and(|sid| user.blocked.contains(&sid))
            {
                let reason = format!("{dest} does not accept messages from {source}");
                return self.fail(req, &reason);
            }
            // Step 3a/3b: deliver to every open inbox, or fail.
            if user.sessions.is_empty() {
                let reason = format!("{dest} has no open inbox; the message was not delivered");
                return self.fail(req, &reason);
            }
            let sessions = user.sessions.clone();
            let message = Arc::new(op);
            for session in sessions {
                self.effects.push_back(Effect::Deliver {
                    session,
                    message: message.clone(),
                });
            }
            return self.respond(req, Status::Success, None, None);
        }
        let Some(route) = self.config.route(dest.domain()).cloned() else {
            let reason = format!("no route to {}", dest.domain());
            return self.fail(req, &reason);
        };
        // Section 2.4.2: each relay takes one hop; none left means a loop.
        if hops == 0 {
            return self.fail(req, "hop count exhausted; the message may be looping");
        }
        if route.answers {
            // Step 3d: the response waits for the authoritative answer.
            let relay = self.fresh_relay();
            let deadline = now.plus_millis(self.config.relay_timeout_ms);
            self.persist(Change::PutDelegation(DelegationRecord {
                relay: relay.0,
                origin: origin.0,
                trans_id: req.trans_id.get(),
                deadline,
            }));
            self.relays.insert(
                relay,
                Delegation {
                    origin,
                    trans_id: req.trans_id,
                    deadline,
                },
            );
            self.relay_timers.insert((deadline, relay));
            self.effects.push_back(Effect::Relay {
                relay: Some(relay),
                binding: route.binding,
                message: op,
                hops: hops - 1,
            });
        } else {
            // Step 3c: no answer will come.
            let reason = format!("handed to {}; no delivery report will come", route.binding);
            self.effects.push_back(Effect::Relay {
                relay: None,
                binding: route.binding,
                message: op,
                hops: hops - 1,
            });
            self.respond(req, Status::Indeterminant, None, Some(reason));
        }
    }

    fn relay_answer(
        &mut self,
        relay: RelayId,
        answer: Option<ResponseOp>,
    ) -> Result<(), InputError> {
        let d = self
            .relays
            .remove(&relay)
            .ok_or(InputError::UnknownRelay(relay))?;
        self.relay_timers.remove(&(d.deadline, relay));
        self.persist(Change::RemoveDelegation { relay: relay.0 });
        let req = Request {
            origin: d.origin,
            trans_id: d.trans_id,
        };
        match answer {
            Some(a) => {
                let response = ResponseOp {
                    status: a.status,
                    trans_id: d.trans_id,
                    duration: None,
                    lang: a.lang,
                    reason: a.reason,
                };
                self.effects.push_back(Effect::Respond {
                    to: req.origin,
                    response,
                });
            }
            None => self.respond(
                req,
                Status::Indeterminant,
                None,
                Some("the next hop will give no answer".into()),
            ),
        }
        Ok(())
    }

    // ---- presence (draft section 3.4) ----

    fn subscribe(
        &mut self,
        origin: Origin,
        principal: &Principal,
        op: &SubscribeOp,
        now: Timestamp,
    ) {
        let req = Request {
            origin,
            trans_id: op.trans_id,
        };
        // Step 1: watcher and target must be PRESENTITIES; the target one of ours.
        let (watcher, target) = match presence_pair(&op.watcher, &op.target) {
            Ok(pair) => pair,
            Err(reason) => return self.fail(req, reason),
        };
        if !self.config.is_local(target.domain()) {
            // Draft section 3.4 across domains: relayed by route.
            if !principal.may_act_for(watcher) {
                let reason = format!("not authorised to subscribe as {watcher}");
                return self.fail(req, &reason);
            }
            return self.subscribe_remote(req, watcher, target, op.duration, now);
        }
        let Some(tid) = self.local_user(target) else {
            let reason = format!("{target} is not a presentity served here");
            return self.fail(req, &reason);
        };
        // Step 2: access control, for the requester and by the presentity.
        if !principal.may_act_for(watcher) {
            let reason = format!("not authorised to subscribe as {watcher}");
            return self.fail(req, &reason);
        }
        // Held for this operation; what stores the id takes its own hold.
        let wid = self.names.retain(watcher);
        self.subscribe_steps(req, tid, wid, op.duration, now);
        self.names.release(wid);
    }

    /// Steps 2 (the presentity's decision) to 4 of section 3.4.1.
    fn subscribe_steps(&mut self, req: Request, tid: Id, wid: Id, duration: u32, now: Timestamp) {
        let watcher = self.names.addr(wid).clone();
        let target = self.names.addr(tid).clone();
        let decision = self.decide(tid, wid);
        if decision == Decision::Deny {
            let reason = format!("{target} does not share its presence with {watcher}");
            return self.fail(req, &reason);
        }
        let existing = self
            .users
            .get(&tid)
            .and_then(|u| u.watchers.get(&wid).copied());
        // Step 3: one subscription per watcher and target.
        if duration != 0 && existing.is_some() {
            let reason = format!("{watcher} already has a subscription to {target}");
            return self.fail(req, &reason);
        }
        // Step 4.
        if duration == 0 {
            if let Some(sub) = existing {
                // Section 3.4.3: SUBSCRIBE 0 on an existing subscription ends it.
                self.drop_subscription(tid, wid, sub);
                self.respond(req, Status::Success, Some(0), None);
                let presence = self.visible(tid, wid, sub);
                self.notify(
                    wid,
                    tid,
                    SubState::Terminated(Reason::Unsubscribed),
                    presence,
                );
            } else if decision == Decision::Allow {
                // Section 3.4.4: a one-time fetch.
                self.respond(req, Status::Success, Some(0), None);
                let doc = self.users.get(&tid).map(|u| u.document.clone());
                self.notify(wid, tid, SubState::Terminated(Reason::Fetched), doc);
            } else {
                let asked = self.record_request(tid, wid, now);
                self.respond(req, Status::Success, Some(0), None);
                self.notify(wid, tid, SubState::Terminated(Reason::Undecided), None);
                if asked {
                    self.watcher_request(tid, wid);
                }
            }
            return;
        }
        let granted = self.config.clamp_subscription(duration);
        let expires = now.plus_secs(granted);
        let pending = decision != Decision::Allow;
        let sub = Sub { expires, pending };
        self.sub_timers.insert((expires, tid, wid));
        if let Some(u) = self.users.get_mut(&tid) {
            u.watchers.insert(wid, sub);
            self.names.retain_id(wid);
        }
        self.persist(Change::PutSubscription(self.sub_record(tid, wid, sub)));
        let asked = pending && self.record_request(tid, wid, now);
        self.respond(req, Status::Success, Some(granted), None);
        if pending {
            self.notify(wid, tid, SubState::Pending { expires }, None);
            if asked {
                self.watcher_request(tid, wid);
            }
        } else {
            let doc = self.users.get(&tid).map(|u| u.document.clone());
            self.notify(wid, tid, SubState::Active { expires }, doc);
        }
    }

    /// The refresh extension (RFC 6665 section 4.1.2.1): a new duration for
    /// a subscription that exists; its state stays as it is.
    fn refresh(&mut self, origin: Origin, principal: &Principal, op: &SubscribeOp, now: Timestamp) {
        let req = Request {
            origin,
            trans_id: op.trans_id,
        };
        let (watcher, target) = match presence_pair(&op.watcher, &op.target) {
            Ok(pair) => pair,
            Err(reason) => return self.fail(req, reason),
        };
        if !principal.may_act_for(watcher) {
            let reason = format!("not authorised to refresh as {watcher}");
            return self.fail(req, &reason);
        }
        if !self.config.is_local(target.domain()) {
            return self.refresh_remote(req, watcher, target, op.duration);
        }
        let found = self.local_user(target).and_then(|tid| {
            let wid = self.names.id(watcher)?;
            let sub = self.users.get(&tid)?.watchers.get(&wid).copied()?;
            Some((tid, wid, sub))
        });
        let Some((tid, wid, sub)) = found else {
            let reason = format!("{watcher} has no subscription to {target} to refresh");
            return self.fail(req, &reason);
        };
        if op.duration == 0 {
            // Ends it, as a subscribe 0 on an existing subscription does.
            return self.subscribe_steps(req, tid, wid, 0, now);
        }
        let granted = self.config.clamp_subscription(op.duration);
        let expires = now.plus_secs(granted);
        let renewed = Sub { expires, ..sub };
        self.sub_timers.remove(&(sub.expires, tid, wid));
        self.sub_timers.insert((expires, tid, wid));
        if let Some(s) = self
            .users
            .get_mut(&tid)
            .and_then(|u| u.watchers.get_mut(&wid))
        {
            *s = renewed;
        }
        self.persist(Change::PutSubscription(self.sub_record(tid, wid, renewed)));
        self.respond(req, Status::Success, Some(granted), None);
        // RFC 6665 section 4.2.1.2: a refresh is followed by a notify of the
        // current state.
        if renewed.pending {
            self.notify(wid, tid, SubState::Pending { expires }, None);
        } else {
            let doc = self.visible(tid, wid, renewed);
            self.notify(wid, tid, SubState::Active { expires }, doc);
        }
    }

    fn unsubscribe(&mut self, origin: Origin, principal: &Principal, op: &UnsubscribeOp) {
        let req = Request {
            origin,
            trans_id: op.trans_id,
        };
        let (watcher, target) = match presence_pair(&op.watcher, &op.target) {
            Ok(pair) => pair,
            Err(reason) => return self.fail(req, reason),
        };
        if !principal.may_act_for(watcher) {
            let reason = format!("not authorised to unsubscribe as {watcher}");
            return self.fail(req, &reason);
        }
        if !self.config.is_local(target.domain()) {
            return self.unsubscribe_remote(req, watcher, target);
        }
        let found = self.local_user(target).and_then(|tid| {
            let wid = self.names.id(watcher)?;
            let sub = self.users.get(&tid)?.watchers.get(&wid).copied()?;
            Some((tid, wid, sub))
        });
        let Some((tid, wid, sub)) = found else {
            let reason = format!("{watcher} has no subscription to {target}");
            return self.fail(req, &reason);
        };
        self.drop_subscription(tid, wid, sub);
        self.respond(req, Status::Success, None, None);
        self.notify(wid, tid, SubState::Terminated(Reason::Unsubscribed), None);
    }

    #[allow(clippy::too_many_arguments)]
    fn publish(
        &mut self,
        req: Request,
        principal: &Principal,
        presentity: &Address,
        publisher: String,
        presence: Presence<'static>,
        duration: u32,
        now: Timestamp,
    ) {
        let Some(tid) = self.local_user(presentity) else {
            let reason = format!("{presentity} is not a presentity served here");
            return self.fail(req, &reason);
        };
        if !principal.may_act_for(presentity) {
            let reason = format!("not authorised to publish for {presentity}");
            return self.fail(req, &reason);
        }
        let Some(user) = self.users.get_mut(&tid) else {
            return;
        };
        if duration == 0 {
            let removed = user.publications.remove(&publisher);
            if let Some(old) = &removed {
                self.pub_timers
                    .remove(&(old.expires, tid, publisher.clone()));
                self.persist(Change::RemovePublication {
                    presentity: text(presentity),
                    publisher,
                });
            }
            self.respond(req, Status::Success, Some(0), None);
            if removed.is_some() {
                self.presence_changed(tid, now);
            }
            return;
        }
        let granted = duration.min(self.config.max_publication).max(1);
        let expires = now.plus_secs(granted);
        let pidf = presence.to_xml();
        let old = user.publications.insert(
            publisher.clone(),
            Publication {
                presence: Arc::new(presence),
                expires,
            },
        );
        let same = match (&old, user.publications.get(&publisher)) {
            (Some(o), Some(n)) => o.presence == n.presence,
            _ => false,
        };
        if let Some(o) = &old {
            self.pub_timers.remove(&(o.expires, tid, publisher.clone()));
        }
        self.pub_timers.insert((expires, tid, publisher.clone()));
        self.persist(Change::PutPublication(PublicationRecord {
            presentity: text(presentity),
            publisher,
            pidf,
            expires,
        }));
        self.respond(req, Status::Success, Some(granted), None);
        if !same {
            self.presence_changed(tid, now);
        }
    }

    fn set_policy(
        &mut self,
        presentity: &Address,
        subject: PolicySubject,
        decision: Option<Decision>,
    ) -> Result<(), InputError> {
        let tid = self
            .local_user(presentity)
            .ok_or_else(|| InputError::UnknownUser(presentity.clone()))?;
        let (rule, subject) = match subject {
            PolicySubject::Watcher(w) => {
                let address =
                    parse_text(&w, "policy").map_err(|_| InputError::InvalidSubject(w.clone()))?;
                // Held for this operation; the rule takes its own hold.
                let wid = self.names.retain(&address);
                self.names.release(wid);
                (Rule::Watcher(wid), PolicySubject::Watcher(text(&address)))
            }
            PolicySubject::Domain(d) => {
                let d = d.to_ascii_lowercase();
                (Rule::Domain(d.clone()), PolicySubject::Domain(d))
            }
            PolicySubject::Anyone => (Rule::Anyone, PolicySubject::Anyone),
        };
        self.put_rule(tid, rule.clone(), decision);
        let affected: Vec<Id> = match (&rule, self.users.get(&tid)) {
            (_, None) => return Err(InputError::UnknownUser(presentity.clone())),
            (Rule::Watcher(wid), Some(_)) => vec![*wid],
            (_, Some(user)) => {
                let mut all: Vec<Id> = user.watchers.keys().copied().collect();
                all.extend(user.requests.keys().copied());
                all.sort_unstable();
                all.dedup();
                all
            }
        };
        self.persist(match decision {
            Some(decision) => Change::PutPolicy(PolicyRecord {
                presentity: text(presentity),
                subject,
                decision,
            }),
            None => Change::RemovePolicy {
                presentity: text(presentity),
                subject,
            },
        });
        let mut notes = Vec::new();
        for wid in affected {
            let d = self.decide(tid, wid);
            let Some(user) = self.users.get_mut(&tid) else {
                break;
            };
            let mut changes = Vec::new();
            if d != Decision::Ask && user.requests.remove(&wid).is_some() {
                self.names.release(wid);
                changes.push(Change::RemoveWatcher {
                    presentity: text(presentity),
                    watcher: text(self.names.addr(wid)),
                });
            }
            let watcher = text(self.names.addr(wid));
            let put = |sub: &Sub| {
                Change::PutSubscription(SubscriptionRecord {
                    watcher: watcher.clone(),
                    target: text(presentity),
                    expires: sub.expires,
                    state: sub.status(),
                })
            };
            match (user.watchers.get_mut(&wid), d) {
                (Some(sub), Decision::Allow) if sub.pending => {
                    sub.pending = false;
                    changes.push(put(sub));
                    notes.push((
                        wid,
                        SubState::Active {
                            expires: sub.expires,
                        },
                        true,
                    ));
                }
                (Some(sub), Decision::Ask) if !sub.pending => {
                    sub.pending = true;
                    changes.push(put(sub));
                    notes.push((
                        wid,
                        SubState::Pending {
                            expires: sub.expires,
                        },
                        false,
                    ));
                }
                (Some(_), Decision::Deny) => {
                    if let Some(sub) = user.watchers.remove(&wid) {
                        self.sub_timers.remove(&(sub.expires, tid, wid));
                        self.names.release(wid);
                    }
                    changes.push(Change::RemoveSubscription {
                        watcher: watcher.clone(),
                        target: text(presentity),
                    });
                    notes.push((wid, SubState::Terminated(Reason::Rejected), false));
                }
                _ => {}
            }
            for c in changes {
                self.persist(c);
            }
        }
        let doc = self.users.get(&tid).map(|u| u.document.clone());
        for (wid, state, show) in notes {
            let presence = if show { doc.clone() } else { None };
            self.notify(wid, tid, state, presence);
        }
        Ok(())
    }

    fn set_block(
        &mut self,
        inbox: &Address,
        sender: &Address,
        blocked: bool,
    ) -> Result<(), InputError> {
        let tid = self
            .local_user(inbox)
            .ok_or_else(|| InputError::UnknownUser(inbox.clone()))?;
        // Held for this operation; the block list takes its own hold.
        let sid = self.names.retain(sender);
        self.names.release(sid);
        let Some(user) = self.users.get_mut(&tid) else {
            return Err(InputError::UnknownUser(inbox.clone()));
        };
        let record = BlockRecord {
            inbox: text(inbox),
            blocked: text(sender),
        };
        if blocked {
            if user.blocked.insert(sid) {
                self.names.retain_id(sid);
                self.persist(Change::PutBlock(record));
            }
        } else if user.blocked.remove(&sid) {
            self.names.release(sid);
            self.persist(Change::RemoveBlock(record));
        }
        Ok(())
    }

    fn add_user(&mut self, address: &Address) -> Result<(), InputError> {
        if !self.config.is_local(address.domain()) {
            return Err(InputError::NotLocal(address.clone()));
        }
        if self.local_user(address).is_none() {
            let id = self.names.retain(address);
            self.users.insert(id, User::new(address));
            self.persist(Change::PutUser(text(address)));
        }
        Ok(())
    }

    fn remove_user(&mut self, address: &Address) -> Result<(), InputError> {
        let id = self
            .local_user(address)
            .ok_or_else(|| InputError::UnknownUser(address.clone()))?;
        let Some(user) = self.users.remove(&id) else {
            return Err(InputError::UnknownUser(address.clone()));
        };
        let me = text(address);
        let mut told = Vec::new();
        for (wid, sub) in &user.watchers {
            self.sub_timers.remove(&(sub.expires, id, *wid));
            self.persist(Change::RemoveSubscription {
                watcher: text(self.names.addr(*wid)),
                target: me.clone(),
            });
            told.push(*wid);
        }
        for (publisher, p) in user.publications {
            self.pub_timers.remove(&(p.expires, id, publisher.clone()));
            self.persist(Change::RemovePublication {
                presentity: me.clone(),
                publisher,
            });
        }
        let mut subjects: Vec<PolicySubject> = user
            .watcher_rules
            .keys()
            .map(|w| PolicySubject::Watcher(text(self.names.addr(*w))))
            .collect();
        subjects.extend(user.domain_rules.keys().cloned().map(PolicySubject::Domain));
        if user.anyone.is_some() {
            subjects.push(PolicySubject::Anyone);
        }
        for subject in subjects {
            self.persist(Change::RemovePolicy {
                presentity: me.clone(),
                subject,
            });
        }
        for wid in user.requests.keys() {
            self.persist(Change::RemoveWatcher {
                presentity: me.clone(),
                watcher: text(self.names.addr(*wid)),
            });
        }
        for sid in &user.blocked {
            self.persist(Change::RemoveBlock(BlockRecord {
                inbox: me.clone(),
                blocked: text(self.names.addr(*sid)),
            }));
        }
        for session in &user.sessions {
            self.sessions.remove(session);
        }
        // Its own subscriptions and requests elsewhere go with it.
        let mut subs_gone = Vec::new();
        let mut requests_gone = Vec::new();
        for (tid, other) in self.users.iter_mut() {
            if let Some(sub) = other.watchers.remove(&id) {
                subs_gone.push((*tid, sub.expires));
            }
            if other.requests.remove(&id).is_some() {
                requests_gone.push(*tid);
            }
        }
        let gone = subs_gone.len() + requests_gone.len();
        for (tid, expires) in subs_gone {
            self.sub_timers.remove(&(expires, tid, id));
            self.persist(Change::RemoveSubscription {
                watcher: me.clone(),
                target: text(self.names.addr(tid)),
            });
        }
        for tid in requests_gone {
            self.persist(Change::RemoveWatcher {
                presentity: text(self.names.addr(tid)),
                watcher: me.clone(),
            });
        }
        self.remove_remote_watcher(id);
        self.persist(Change::RemoveUser(me));
        for wid in &told {
            self.notify(*wid, id, SubState::Terminated(Reason::Deactivated), None);
        }
        // Every hold the user and its records had, and its own.
        let held = told
            .into_iter()
            .chain(user.watcher_rules.keys().copied())
            .chain(user.requests.keys().copied())
            .chain(user.blocked.iter().copied())
            .chain(std::iter::repeat_n(id, 1 + gone))
            .collect::<Vec<_>>();
        for h in held {
            self.names.release(h);
        }
        Ok(())
    }

    // ---- helpers ----

    fn presence_changed(&mut self, tid: Id, now: Timestamp) {
        let Some(user) = self.users.get_mut(&tid) else {
            return;
        };
        user.rebuild();
        let doc = user.document.clone();
        let target = self.names.addr(tid).clone();
        self.effects.reserve(user.watchers.len());
        for (wid, sub) in &user.watchers {
            let expires = sub.expires;
            if sub.pending || expires <= now {
                continue;
            }
            self.effects.push_back(Effect::Notify(Notification {
                watcher: self.names.addr(*wid).clone(),
                target: target.clone(),
                trans_id: TransId::random(),
                state: SubState::Active {
                    expires: sub.expires,
                },
                presence: Some(doc.clone()),
            }));
        }
    }

    /// What the watcher of `sub` may see now.
    fn visible(&self, tid: Id, wid: Id, sub: Sub) -> Option<Arc<Presence<'static>>> {
        if sub.pending || self.decide(tid, wid) != Decision::Allow {
            return None;
        }
        self.users.get(&tid).map(|u| u.document.clone())
    }

    fn drop_subscription(&mut self, tid: Id, wid: Id, sub: Sub) {
        if self
            .users
            .get_mut(&tid)
            .is_some_and(|u| u.watchers.remove(&wid).is_some())
        {
            self.names.release(wid);
        }
        self.sub_timers.remove(&(sub.expires, tid, wid));
        self.persist(Change::RemoveSubscription {
            watcher: text(self.names.addr(wid)),
            target: text(self.names.addr(tid)),
        });
    }

    /// Records a pending request; true when it is new.
    fn record_request(&mut self, tid: Id, wid: Id, now: Timestamp) -> bool {
        let Some(u) = self.users.get_mut(&tid) else {
            return false;
        };
        if u.requests.contains_key(&wid) {
            return false;
        }
        u.requests.insert(wid, now);
        self.names.retain_id(wid);
        self.persist(Change::PutWatcher(WatcherRecord {
            presentity: text(self.names.addr(tid)),
            watcher: text(self.names.addr(wid)),
            since: now,
        }));
        true
    }

    fn watcher_request(&mut self, tid: Id, wid: Id) {
        self.effects.push_back(Effect::WatcherRequest {
            presentity: self.names.addr(tid).clone(),
            watcher: self.names.addr(wid).clone(),
        });
    }

    fn sub_record(&self, tid: Id, wid: Id, sub: Sub) -> SubscriptionRecord {
        SubscriptionRecord {
            watcher: text(self.names.addr(wid)),
            target: text(self.names.addr(tid)),
            expires: sub.expires,
            state: sub.status(),
        }
    }

    fn decide(&self, tid: Id, wid: Id) -> Decision {
        if tid == wid {
            return Decision::Allow;
        }
        let domain = self.names.addr(wid).domain();
        let own = self.users.get(&tid).and_then(|u| {
            u.watcher_rules
                .get(&wid)
                .or_else(|| u.domain_rules.get(domain))
                .or(u.anyone.as_ref())
                .copied()
        });
        own.or_else(|| {
            self.config
                .default_policy
                .get(self.names.addr(tid).domain())
                .copied()
        })
        .unwrap_or(self.config.fallback_policy)
    }

    fn local_user(&self, address: &Address) -> Option<Id> {
        let id = self.names.id(address)?;
        self.users.contains_key(&id).then_some(id)
    }

    /// Sets or removes a rule; a watcher rule holds its watcher's id.
    fn put_rule(&mut self, tid: Id, rule: Rule, decision: Option<Decision>) {
        let Some(user) = self.users.get_mut(&tid) else {
            return;
        };
        match (rule, decision) {
            (Rule::Watcher(w), Some(d)) => {
                if user.watcher_rules.insert(w, d).is_none() {
                    self.names.retain_id(w);
                }
            }
            (Rule::Watcher(w), None) => {
                if user.watcher_rules.remove(&w).is_some() {
                    self.names.release(w);
                }
            }
            (Rule::Domain(s), Some(d)) => {
                user.domain_rules.insert(s, d);
            }
            (Rule::Domain(s), None) => {
                user.domain_rules.remove(&s);
            }
            (Rule::Anyone, d) => user.anyone = d,
        }
    }

    fn persist(&mut self, change: Change) {
        self.effects.push_back(Effect::Persist(change));
    }

    fn notify(
        &mut self,
        wid: Id,
        tid: Id,
        state: SubState,
        presence: Option<Arc<Presence<'static>>>,
    ) {
        self.effects.push_back(Effect::Notify(Notification {
            watcher: self.names.addr(wid).clone(),
            target: self.names.addr(tid).clone(),
            trans_id: TransId::random(),
            state,
            presence,
        }));
    }

    fn respond(
        &mut self,
        req: Request,
        status: Status,
        duration: Option<u32>,
        reason: Option<String>,
    ) {
        let lang = reason.as_ref().map(|_| "en".to_owned());
        self.effects.push_back(Effect::Respond {
            to: req.origin,
            response: ResponseOp {
                status,
                trans_id: req.trans_id,
                duration,
                lang,
                reason,
            },
        });
    }

    fn fail(&mut self, req: Request, reason: &str) {
        self.respond(req, Status::Failure, None, Some(reason.to_owned()));
    }
}

/// Maps keyed by interned ids or addresses the engine itself made: a fast
/// hash suffices (keys are not chosen to collide by anyone outside).
type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// An interned address id. Four bytes instead of an `Address` in every
/// subscription record and index entry.
type Id = u32;

#[derive(Clone, Copy, Debug)]
struct Request {
    origin: Origin,
    trans_id: TransId,
}

#[derive(Debug)]
struct Delegation {
    origin: Origin,
    trans_id: TransId,
    deadline: Timestamp,
}

/// A subscription as its presentity's watcher map keeps it. Packed to
/// 4-byte alignment: 12 bytes, so a map entry (watcher id and this) takes
/// 16 bytes instead of 24; a million subscriptions are a million entries.
/// Fields are read and written by value only (a reference to a packed
/// field is refused by the compiler).
#[derive(Clone, Copy, Debug)]
#[repr(Rust, packed(4))]
struct Sub {
    expires: Timestamp,
    pending: bool,
}

impl Sub {
    fn status(self) -> SubscriptionStatus {
        if self.pending {
            SubscriptionStatus::Pending
        } else {
            SubscriptionStatus::Active
        }
    }
}

#[derive(Debug)]
struct Publication {
    /// Shared with the user's document while it is the only publication.
    presence: Arc<Presence<'static>>,
    expires: Timestamp,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Rule {
    Watcher(Id),
    Domain(String),
    Anyone,
}

/// A local user: inbox, presentity, and what it decided.
#[derive(Debug)]
struct User {
    entity: String,
    sessions: Vec<SessionId>,
    blocked: HashSet<Id>,
    /// Each value is 16 bytes (the document behind an `Arc`): a B-tree
    /// leaf keeps room for eleven, and most users have one publisher.
    publications: BTreeMap<String, Publication>,
    document: Arc<Presence<'static>>,
    watchers: FastMap<Id, Sub>,
    watcher_rules: HashMap<Id, Decision>,
    domain_rules: HashMap<String, Decision>,
    anyone: Option<Decision>,
    requests: BTreeMap<Id, Timestamp>,
}

impl User {
    fn new(address: &Address) -> User {
        let entity = address.to_uri(Scheme::Pres).to_string();
        User {
            document: Arc::new(Presence::new(entity.clone())),
            entity,
            sessions: Vec::new(),
            blocked: HashSet::new(),
            publications: BTreeMap::new(),
            watchers: FastMap::default(),
            watcher_rules: HashMap::new(),
            domain_rules: HashMap::new(),
            anyone: None,
            requests: BTreeMap::new(),
        }
    }

    /// One document holding every publisher's tuples (RFC 3863 section 4.1:
    /// a presentity's presence may be several tuples). A single publisher's
    /// document is kept whole, extensions included.
    fn rebuild(&mut self) {
        let mut doc = if self.publications.len() == 1 {
            let Some(p) = self.publications.values().next() else {
                return;
            };
            // Named as the user's record names the presentity, the one
            // publisher's document is the user's as it stands: shared,
            // not copied.
            if p.presence.entity == self.entity.as_str() {
                self.document = Arc::clone(&p.presence);
                return;
            }
            Presence::clone(&p.presence)
        } else {
            let mut doc = Presence::new(self.entity.clone());
            for p in self.publications.values() {
                doc.tuples.extend(p.presence.tuples.iter().cloned());
                doc.notes.extend(p.presence.notes.iter().cloned());
            }
            doc
        };
        doc.entity = self.entity.clone().into();
        self.document = Arc::new(doc);
    }
}

/// Draft 3.4.1 step 1 for presence operations: the watcher and the target
/// must each be a single `pres:` address.
fn presence_pair<'a>(
    watcher: &'a Uri,
    target: &'a Uri,
) -> Result<(&'a Address, &'a Address), &'static str> {
    let watcher =
        single(watcher, Scheme::Pres).ok_or("the watcher is not a single pres: address")?;
    let target = single(target, Scheme::Pres).ok_or("the target is not a single pres: address")?;
    Ok((watcher, target))
}

/// The one address of `uri` when it has the wanted scheme.
fn single(uri: &Uri, scheme: Scheme) -> Option<&Address> {
    if uri.scheme() != scheme {
        return None;
    }
    uri.address()
}

/// The text form of an address in records: what follows `pres:` in its URI.
fn text(address: &Address) -> String {
    // Nearly every address is plain, and its text is already held.
    if let Some(text) = address.canonical_text() {
        return text.to_owned();
    }
    let uri = address.to_uri(Scheme::Pres).to_string();
    match uri.strip_prefix("pres:") {
        Some(rest) => rest.to_owned(),
        None => uri,
    }
}

fn parse_text(s: &str, record: &str) -> Result<Address, StoreError> {
    // What the engine wrote is nearly always the plain canonical form.
    if let Ok(address) = Address::from_canonical(s) {
        return Ok(address);
    }
    let uri = Uri::parse(&format!("pres:{s}")).map_err(|err| StoreError::Corrupt {
        record: format!("{record} {s:?}"),
        reason: err.to_string(),
    })?;
    uri.address().cloned().ok_or_else(|| StoreError::Corrupt {
        record: format!("{record} {s:?}"),
        reason: "not a single address".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lone_publication_is_the_document_and_others_are_combined() {
        let alice = Address::new("alice", "example.com").unwrap_or_else(|e| panic!("{e}"));
        let mut user = User::new(&alice);
        let publication = |entity: &str, tuple: &str| Publication {
            presence: Arc::new({
                let mut p = Presence::new(entity.to_string());
                p.tuples.push(cpim_formats::pidf::Tuple::new(
                    tuple.to_string(),
                    Some(cpim_formats::pidf::Basic::Open),
                ));
                p
            }),
            expires: Timestamp::from_millis(1),
        };
        // Named as the user's record names it: shared, not copied.
        let phone = publication(&user.entity, "phone");
        user.publications.insert("phone".into(), phone);
        user.rebuild();
        assert!(Arc::ptr_eq(
            &user.document,
            &user.publications["phone"].presence
        ));
        // Named otherwise: a copy under the user's own entity.
        let spelled = publication("pres:Alice@example.com", "phone");
        user.publications.insert("phone".into(), spelled);
        user.rebuild();
        assert!(!Arc::ptr_eq(
            &user.document,
            &user.publications["phone"].presence
        ));
        assert_eq!(user.document.entity, user.entity.as_str());
        assert_eq!(user.document.tuples.len(), 1);
        // Two publishers: one document with both tuples.
        let laptop = publication(&user.entity, "laptop");
        user.publications.insert("laptop".into(), laptop);
        user.rebuild();
        let ids: Vec<&str> = user.document.tuples.iter().map(|t| t.id.as_ref()).collect();
        assert_eq!(ids, ["laptop", "phone"]);
    }

    proptest::proptest! {
        /// The record text of an address is what its `pres:` URI says
        /// after the scheme, whether or not it takes the plain shortcut,
        /// and reads back as the same address.
        #[test]
        fn record_text_is_the_uri_after_its_scheme(
            local in r#"[aZ09.!~*'_%"@ é-]{1,6}"#,
            domain in r"(xn--[a-z]{2}|[a-z0-9-]{1,4})(\.[a-z]{2,3})?",
        ) {
            if let Ok(address) = Address::new(&local, &domain) {
                let uri = address.to_uri(Scheme::Pres).to_string();
                let written = text(&address);
                proptest::prop_assert_eq!(Some(written.as_str()), uri.strip_prefix("pres:"));
                if let Some(plain) = address.canonical_text() {
                    proptest::prop_assert_eq!(Address::from_canonical(plain).ok(), Some(address.clone()));
                }
                proptest::prop_assert_eq!(parse_text(&written, "test").ok(), Some(address));
            }
        }
    }

    #[test]
    fn subscription_record_stays_small() {
        // The per-subscription budget (512 B with 1,000,000 of them) counts on it.
        assert_eq!(std::mem::size_of::<Sub>(), 12);
        assert_eq!(std::mem::size_of::<(Id, Sub)>(), 16, "a watcher map entry");
        assert_eq!(std::mem::size_of::<(Timestamp, Id, Id)>(), 16);
    }
}
