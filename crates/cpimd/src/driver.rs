//! The engine driver: one task owns the [`Engine`] and the [`Store`], takes
//! inputs from a bounded queue, and carries the effects out.
//!
//! Durability (draft section 3.4: state is kept "in persistent storage"):
//! the driver takes every input waiting in the queue, drains the effects they
//! cause, commits all their `Persist` changes in one [`Store::apply`] (a
//! group commit) and only then sends the responses, deliveries and notifies.
//! So an operation answered `success` is on disk, whatever happens next.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cpim_engine::{
    Effect, Engine, Input, InputError, Notification, Origin, Reason, SessionId, Store, SubState,
    Timestamp, WatcherInfo,
};
use cpim_formats::op::{ResponseOp, Status, TransId};
use cpim_formats::uri::Address;
use tokio::sync::{mpsc, oneshot};

use crate::events::{self, Notation, Rendered};
use crate::metrics::Metrics;

/// Cloneable handle to the driver task.
#[derive(Clone)]
pub struct Driver {
    tx: mpsc::Sender<Call>,
}

/// Which operation a request is, for metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpKind {
    Message,
    Publish,
    Subscribe,
    Fetch,
    Unsubscribe,
}

impl OpKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OpKind::Message => "message",
            OpKind::Publish => "publish",
            OpKind::Subscribe => "subscribe",
            OpKind::Fetch => "fetch",
            OpKind::Unsubscribe => "unsubscribe",
        }
    }
}

/// The engine's answer to a request.
#[derive(Debug)]
pub struct Answer {
    /// The response operation.
    pub response: ResponseOp,
    /// For a fetch: the notify that carried the presence (or refused it).
    pub fetched: Option<Notification>,
    /// For a message: one receiver per open inbox it went to; each fires
    /// once the event is written to that inbox's socket.
    pub acks: Vec<oneshot::Receiver<()>>,
}

/// Why the driver could not answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DriverError {
    /// The driver is stopping or stopped.
    #[error("the server is shutting down")]
    Stopped,
    /// The change could not be committed; nothing was acknowledged.
    #[error("storage failed: {0}")]
    Store(String),
    /// The engine refused an administrative input.
    #[error(transparent)]
    Input(#[from] InputError),
    /// Too many open inboxes for this user.
    #[error("too many open event streams for this user (limit {0})")]
    TooManySessions(usize),
}

/// One event on a WebSocket: serialised once, shared by every inbox it
/// goes to.
#[derive(Debug)]
pub struct Outbound {
    /// The JSON text.
    pub text: Arc<str>,
    /// Fired when written (a delivered message).
    pub ack: Option<oneshot::Sender<()>>,
}

/// An open inbox, as the WebSocket task holds it.
pub struct SessionHandle {
    /// The engine's id for it.
    pub id: SessionId,
    /// Events to write.
    pub events: mpsc::Receiver<Outbound>,
    /// Fires with a reason when the driver closes the session (slow reader,
    /// shutdown).
    pub kicked: oneshot::Receiver<String>,
}

/// Watchers of a presentity, as its owner sees them.
#[derive(Debug)]
pub struct Watchers {
    /// Subscriptions, active and pending.
    pub watchers: Vec<WatcherInfo>,
    /// Watchers waiting for a decision, with when each asked.
    pub pending: Vec<(Address, Timestamp)>,
}

type MakeInput = Box<dyn FnOnce(Origin) -> Input + Send>;

enum Call {
    Request {
        make: MakeInput,
        kind: OpKind,
        user: Address,
        fetch: Option<(Address, Address)>,
        reply: oneshot::Sender<Result<Answer, DriverError>>,
    },
    Admin {
        input: Box<Input>,
        reply: oneshot::Sender<Result<(), DriverError>>,
    },
    Open {
        user: Address,
        notation: Notation,
        reply: oneshot::Sender<Result<SessionHandle, DriverError>>,
    },
    Close(SessionId),
    Watchers {
        presentity: Address,
        reply: oneshot::Sender<Watchers>,
    },
    ActiveSubscription {
        watcher: Address,
        target: Address,
        reply: oneshot::Sender<Option<Arc<cpim_formats::pidf::Presence<'static>>>>,
    },
    Shutdown(oneshot::Sender<()>),
    SetRelay(mpsc::UnboundedSender<Effect>),
}

/// How the driver is tuned.
#[derive(Clone, Debug)]
pub struct DriverOptions {
    pub queue: usize,
    pub ws_queue: usize,
    pub sessions_per_user: usize,
}

impl Driver {
    /// Starts the driver task over an engine restored from `store`.
    pub fn spawn<S: Store + Send + 'static>(
        engine: Engine,
        store: S,
        options: DriverOptions,
        metrics: Metrics,
    ) -> (Driver, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(options.queue);
        let task = Task {
            engine,
            store,
            options,
            metrics,
            next_origin: 1,
            next_session: 1,
            pending: HashMap::new(),
            fetches: HashMap::new(),
            sessions: HashMap::new(),
            by_user: HashMap::new(),
            admin_done: Vec::new(),
            deliveries: HashMap::new(),
            relay: None,
        };
        let join = tokio::spawn(task.run(rx));
        (Driver { tx }, join)
    }

    /// Sends an operation to the engine and waits for its response.
    ///
    /// `fetch` names (watcher, target) when the operation is a fetch whose
    /// notify belongs to this request rather than to the watcher's inboxes.
    pub async fn request(
        &self,
        kind: OpKind,
        user: Address,
        fetch: Option<(Address, Address)>,
        make: impl FnOnce(Origin) -> Input + Send + 'static,
    ) -> Result<oneshot::Receiver<Result<Answer, DriverError>>, DriverError> {
        let (reply, rx) = oneshot::channel();
        self.send(Call::Request {
            make: Box::new(make),
            kind,
            user,
            fetch,
            reply,
        })
        .await?;
        Ok(rx)
    }

    /// Applies an administrative input; returns once its changes are
    /// committed.
    pub async fn admin(&self, input: Input) -> Result<(), DriverError> {
        let (reply, rx) = oneshot::channel();
        self.send(Call::Admin {
            input: Box::new(input),
            reply,
        })
        .await?;
        rx.await.map_err(|_| DriverError::Stopped)?
    }

    /// Opens an inbox of `user` whose events are JSON.
    pub async fn open(&self, user: Address) -> Result<SessionHandle, DriverError> {
        self.open_in(user, Notation::Json).await
    }

    /// Opens an inbox of `user` whose events are written in `notation`.
    pub async fn open_in(
        &self,
        user: Address,
        notation: Notation,
    ) -> Result<SessionHandle, DriverError> {
        let (reply, rx) = oneshot::channel();
        self.send(Call::Open {
            user,
            notation,
            reply,
        })
        .await?;
        rx.await.map_err(|_| DriverError::Stopped)?
    }

    /// Closes an inbox (the WebSocket went away).
    pub fn close(&self, session: SessionId) {
        // A full queue must not block a closing socket's task; the session
        // is also dropped when its queue is found closed.
        if self.tx.try_send(Call::Close(session)).is_err() {
            let tx = self.tx.clone();
            tokio::spawn(async move {
                let _ = tx.send(Call::Close(session)).await;
            });
        }
    }

    /// The watchers of a local presentity.
    pub async fn watchers(&self, presentity: Address) -> Result<Watchers, DriverError> {
        let (reply, rx) = oneshot::channel();
        self.send(Call::Watchers { presentity, reply }).await?;
        rx.await.map_err(|_| DriverError::Stopped)
    }

    /// The presence `watcher` sees through its active subscription to
    /// `target`, if it has one.
    pub async fn active_subscription(
        &self,
        watcher: Address,
        target: Address,
    ) -> Result<Option<Arc<cpim_formats::pidf::Presence<'static>>>, DriverError> {
        let (reply, rx) = oneshot::channel();
        self.send(Call::ActiveSubscription {
            watcher,
            target,
            reply,
        })
        .await?;
        rx.await.map_err(|_| DriverError::Stopped)
    }

    /// Hands relay effects (`Relay`, `RelaySubscribe`, `RelayUnsubscribe`)
    /// and notifies for watchers with no open inbox here (watchers of other
    /// domains) to a binding from now on.
    pub async fn set_relay(&self, sink: mpsc::UnboundedSender<Effect>) -> Result<(), DriverError> {
        self.send(Call::SetRelay(sink)).await
    }

    /// Asks the driver to finish what is queued, commit, and stop.
    pub async fn shutdown(&self) {
        let (reply, rx) = oneshot::channel();
        if self.tx.send(Call::Shutdown(reply)).await.is_ok() {
            let _ = rx.await;
        }
    }

    async fn send(&self, call: Call) -> Result<(), DriverError> {
        self.tx.send(call).await.map_err(|_| DriverError::Stopped)
    }
}

/// The current time as the engine counts it.
pub fn now() -> Timestamp {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    Timestamp::from_millis(millis)
}

struct Pending {
    kind: OpKind,
    user: Address,
    fetch: Option<(Address, Address)>,
    fetched: Option<Notification>,
    started: Instant,
    reply: oneshot::Sender<Result<Answer, DriverError>>,
}

struct Session {
    user: Address,
    notation: Notation,
    queue: mpsc::Sender<Outbound>,
    kick: Option<oneshot::Sender<String>>,
}

struct Task<S> {
    engine: Engine,
    store: S,
    options: DriverOptions,
    metrics: Metrics,
    next_origin: u64,
    next_session: u64,
    pending: HashMap<Origin, Pending>,
    fetches: HashMap<(Address, Address), Origin>,
    sessions: HashMap<SessionId, Session>,
    by_user: HashMap<Address, Vec<SessionId>>,
    admin_done: Vec<oneshot::Sender<Result<(), DriverError>>>,
    /// Write acknowledgements of messages delivered in the current round,
    /// by the message's transID, handed to the response that follows.
    deliveries: HashMap<TransId, Vec<oneshot::Receiver<()>>>,
    /// The binding to other domains, once one is running.
    relay: Option<mpsc::UnboundedSender<Effect>>,
}

/// Inputs taken into one group commit at most.
const GROUP: usize = 512;

impl<S: Store> Task<S> {
    async fn run(mut self, mut rx: mpsc::Receiver<Call>) {
        let mut stopping = None;
        loop {
            let call = match self.engine.poll_timeout() {
                Some(at) => {
                    let wait =
                        Duration::from_millis(at.as_millis().saturating_sub(now().as_millis()));
                    tokio::select! {
                        call = rx.recv() => call.map(Some),
                        () = tokio::time::sleep(wait) => Some(None),
                    }
                }
                None => rx.recv().await.map(Some),
            };
            let Some(call) = call else {
                // Every handle is gone: nothing more can come.
                break;
            };
            match call {
                Some(call) => self.accept(call, &mut stopping),
                None => self.engine.handle_timeout(now()),
            }
            let mut taken = 1;
            while taken < GROUP && stopping.is_none() {
                match rx.try_recv() {
                    Ok(call) => self.accept(call, &mut stopping),
                    Err(_) => break,
                }
                taken += 1;
            }
            self.flush();
            if stopping.is_some() {
                break;
            }
        }
        // Take what is still queued so no caller waits forever.
        rx.close();
        while let Ok(call) = rx.try_recv() {
            self.accept(call, &mut stopping);
        }
        self.flush();
        for (_, session) in self.sessions.drain() {
            if let Some(kick) = session.kick {
                let _ = kick.send("server shutting down".to_owned());
            }
        }
        self.metrics.sessions.set(0);
        if let Some(done) = stopping {
            let _ = done.send(());
        }
    }

    fn accept(&mut self, call: Call, stopping: &mut Option<oneshot::Sender<()>>) {
        let now = now();
        match call {
            Call::Request {
                make,
                kind,
                user,
                fetch,
                reply,
            } => {
                let origin = Origin(self.next_origin);
                self.next_origin += 1;
                if let Some(pair) = &fetch {
                    self.fetches.insert(pair.clone(), origin);
                }
                self.pending.insert(
                    origin,
                    Pending {
                        kind,
                        user,
                        fetch,
                        fetched: None,
                        started: Instant::now(),
                        reply,
                    },
                );
                if let Err(error) = self.engine.handle(make(origin), now) {
                    if let Some(p) = self.pending.remove(&origin) {
                        if let Some(pair) = p.fetch {
                            self.fetches.remove(&pair);
                        }
                        let _ = p.reply.send(Err(error.into()));
                    }
                }
            }
            Call::Admin { input, reply } => match self.engine.handle(*input, now) {
                Ok(()) => self.admin_done.push(reply),
                Err(error) => {
                    let _ = reply.send(Err(error.into()));
                }
            },
            Call::Open {
                user,
                notation,
                reply,
            } => {
                let open = self.by_user.get(&user).map_or(0, Vec::len);
                if open >= self.options.sessions_per_user {
                    let _ = reply.send(Err(DriverError::TooManySessions(
                        self.options.sessions_per_user,
                    )));
                    return;
                }
                let id = SessionId(self.next_session);
                self.next_session += 1;
                let input = Input::SessionOpened {
                    session: id,
                    user: user.clone(),
                };
                if let Err(error) = self.engine.handle(input, now) {
                    let _ = reply.send(Err(error.into()));
                    return;
                }
                let (queue, events) = mpsc::channel(self.options.ws_queue);
                let (kick, kicked) = oneshot::channel();
                self.sessions.insert(
                    id,
                    Session {
                        user: user.clone(),
                        notation,
                        queue,
                        kick: Some(kick),
                    },
                );
                self.by_user.entry(user).or_default().push(id);
                self.metrics.sessions.inc();
                let _ = reply.send(Ok(SessionHandle { id, events, kicked }));
            }
            Call::Close(id) => self.drop_session(id, None),
            Call::Watchers { presentity, reply } => {
                let _ = reply.send(Watchers {
                    watchers: self.engine.watchers(&presentity),
                    pending: self.engine.pending_requests(&presentity),
                });
            }
            Call::ActiveSubscription {
                watcher,
                target,
                reply,
            } => {
                let active = self.engine.watchers(&target).into_iter().any(|w| {
                    w.watcher == watcher
                        && w.status == cpim_engine::SubscriptionStatus::Active
                        && w.expires > now
                });
                let _ = reply.send(if active {
                    self.engine.presence(&target)
                } else {
                    None
                });
            }
            Call::Shutdown(done) => *stopping = Some(done),
            Call::SetRelay(sink) => self.relay = Some(sink),
        }
    }

    /// Drains the effects, commits their changes, then carries out the rest.
    fn flush(&mut self) {
        let mut batch = Vec::new();
        let mut out = Vec::new();
        loop {
            let mut unanswered = Vec::new();
            while let Some(effect) = self.engine.poll_effect() {
                match effect {
                    Effect::Persist(change) => batch.push(change),
                    Effect::Relay {
                        relay: Some(relay),
                        binding,
                        ..
                    }
                    | Effect::RelaySubscribe { relay, binding, .. }
                        if self.relay.is_none() =>
                    {
                        tracing::warn!(%binding, "no binding to relay to");
                        unanswered.push(relay);
                    }
                    other => out.push(other),
                }
            }
            if unanswered.is_empty() {
                break;
            }
            // No binding to another server runs in this daemon, so no answer
            // will come: say so now rather than let the request wait.
            for relay in unanswered {
                let input = Input::RelayAnswer {
                    relay,
                    answer: None,
                };
                if let Err(error) = self.engine.handle(input, now()) {
                    tracing::warn!(%error, "relay answer refused");
                }
            }
        }
        let committed = if batch.is_empty() {
            Ok(())
        } else {
            let started = Instant::now();
            let result = tokio::task::block_in_place(|| self.store.apply(&batch));
            self.metrics
                .commit_seconds
                .observe(started.elapsed().as_secs_f64());
            result.map_err(|e| e.to_string())
        };
        if let Err(error) = &committed {
            // The engine's memory now runs ahead of the disk: answer nothing
            // that depended on it, and stop so that a restart reloads the
            // committed state.
            tracing::error!(%error, changes = batch.len(), "commit failed; stopping");
            for (_, p) in self.pending.drain() {
                let _ = p.reply.send(Err(DriverError::Store(error.clone())));
            }
            for reply in self.admin_done.drain(..) {
                let _ = reply.send(Err(DriverError::Store(error.clone())));
            }
            self.metrics.store_failures.inc();
            std::process::exit(70);
        }
        // A fetch's notify may come before or after its response; either
        // way it belongs to the fetch, not to the watcher's inboxes.
        let out: Vec<Effect> = out
            .into_iter()
            .filter_map(|effect| match effect {
                Effect::Notify(n) => self.claim_fetch(n).map(Effect::Notify),
                other => Some(other),
            })
            .collect();
        for effect in out {
            self.dispatch(effect);
        }
        for reply in self.admin_done.drain(..) {
            let _ = reply.send(Ok(()));
        }
        self.deliveries.clear();
        self.metrics
            .subscriptions
            .set(i64::try_from(self.engine.subscription_count()).unwrap_or(i64::MAX));
    }

    fn dispatch(&mut self, effect: Effect) {
        match effect {
            Effect::Respond { to, response } => self.respond(to, response),
            Effect::Deliver { session, message } => {
                let Some(notation) = self.sessions.get(&session).map(|s| s.notation) else {
                    return;
                };
                let (ack, acked) = oneshot::channel();
                let text: Arc<str> = events::message_in(&message, notation).into();
                if self.push(session, text, Some(ack)) {
                    self.deliveries
                        .entry(message.trans_id)
                        .or_default()
                        .push(acked);
                }
            }
            Effect::Notify(notification) => self.notify(notification),
            Effect::WatcherRequest {
                presentity,
                watcher,
            } => {
                // No draft operation asks a presentity about a watcher: JSON
                // on every stream.
                let text: Arc<str> = events::watcher_request(&presentity, &watcher).into();
                self.push_user(&presentity, &mut Rendered::new(|_| text.to_string()));
            }
            Effect::Relay { .. }
            | Effect::RelaySubscribe { .. }
            | Effect::RelayUnsubscribe { .. } => {
                self.relay_out(effect);
            }
            other => tracing::warn!(?other, "effect not handled by this driver"),
        }
    }

    fn respond(&mut self, to: Origin, response: ResponseOp) {
        let Some(p) = self.pending.remove(&to) else {
            tracing::debug!(?to, "response for a request no longer waiting");
            return;
        };
        if let Some(pair) = &p.fetch {
            self.fetches.remove(pair);
        }
        self.metrics
            .op_seconds
            .with_label_values(&[p.kind.as_str()])
            .observe(p.started.elapsed().as_secs_f64());
        if p.kind == OpKind::Message {
            self.metrics
                .messages
                .with_label_values(&[response.status.as_str()])
                .inc();
        }
        let acks = if p.kind == OpKind::Message && response.status == Status::Success {
            self.deliveries
                .remove(&response.trans_id)
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        let answer = Answer {
            response,
            fetched: p.fetched,
            acks,
        };
        if let Err(Ok(answer)) = p.reply.send(Ok(answer)) {
            // The request gave up waiting: the response goes to the
            // requester's open inboxes as a deferred response.
            let response = &answer.response;
            self.push_user(
                &p.user,
                &mut Rendered::new(|notation| events::response_in(response, notation)),
            );
        }
    }

    /// Hands a fetch's notify to the waiting fetch; gives back any other.
    fn claim_fetch(&mut self, notification: Notification) -> Option<Notification> {
        let is_fetch_answer = matches!(
            notification.state,
            SubState::Terminated(Reason::Fetched | Reason::Undecided | Reason::Rejected)
        );
        if is_fetch_answer {
            let key = (notification.watcher.clone(), notification.target.clone());
            if let Some(origin) = self.fetches.get(&key) {
                if let Some(p) = self.pending.get_mut(origin) {
                    self.metrics.notifies.inc();
                    p.fetched = Some(notification);
                    return None;
                }
            }
        }
        Some(notification)
    }

    /// Hands a relay effect to the binding; with none, a relay awaiting an
    /// answer gets none.
    fn relay_out(&mut self, effect: Effect) {
        let effect = match &self.relay {
            Some(sink) => match sink.send(effect) {
                Ok(()) => return,
                Err(mpsc::error::SendError(effect)) => effect,
            },
            None => effect,
        };
        tracing::warn!(?effect, "no binding to relay to");
        let relay = match effect {
            Effect::Relay { relay, .. } => relay,
            Effect::RelaySubscribe { relay, .. } => Some(relay),
            _ => None,
        };
        if let Some(relay) = relay {
            let input = Input::RelayAnswer {
                relay,
                answer: None,
            };
            if let Err(error) = self.engine.handle(input, now()) {
                tracing::warn!(%error, "relay answer refused");
            }
        }
    }

    fn notify(&mut self, notification: Notification) {
        if !self.by_user.contains_key(&notification.watcher) {
            if let Some(sink) = &self.relay {
                self.metrics.notifies.inc();
                let _ = sink.send(Effect::Notify(notification));
                return;
            }
        }
        self.metrics.notifies.inc();
        let now = now();
        let mut rendered =
            Rendered::new(|notation| events::notify_in(&notification, now, notation));
        self.push_user(&notification.watcher, &mut rendered);
    }

    /// Queues an event for every open inbox of `user`, each in its
    /// stream's notation.
    fn push_user<F: Fn(Notation) -> String>(&mut self, user: &Address, event: &mut Rendered<F>) {
        let ids = self.by_user.get(user).cloned().unwrap_or_default();
        for id in ids {
            let Some(notation) = self.sessions.get(&id).map(|s| s.notation) else {
                continue;
            };
            self.push(id, event.get(notation), None);
        }
    }

    /// Queues an event for one inbox; a full queue closes the inbox.
    fn push(&mut self, id: SessionId, text: Arc<str>, ack: Option<oneshot::Sender<()>>) -> bool {
        let Some(session) = self.sessions.get(&id) else {
            return false;
        };
        match session.queue.try_send(Outbound { text, ack }) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.metrics.slow_readers.inc();
                let reason = format!(
                    "event queue full ({} events): reader too slow",
                    self.options.ws_queue
                );
                self.drop_session(id, Some(reason));
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                self.drop_session(id, None);
                false
            }
        }
    }

    fn drop_session(&mut self, id: SessionId, reason: Option<String>) {
        let Some(mut session) = self.sessions.remove(&id) else {
            return;
        };
        if let (Some(kick), Some(reason)) = (session.kick.take(), reason) {
            let _ = kick.send(reason);
        }
        if let Some(ids) = self.by_user.get_mut(&session.user) {
            ids.retain(|s| *s != id);
            if ids.is_empty() {
                self.by_user.remove(&session.user);
            }
        }
        self.metrics.sessions.dec();
        if let Err(error) = self.engine.handle(Input::SessionClosed(id), now()) {
            tracing::debug!(%error, "session close");
        }
    }
}
