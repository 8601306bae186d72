//! What goes into the engine and what comes out: the CPIM operations of the
//! messaging service (draft section 2.4) and presence service (section 3.4),
//! plus the administrative inputs a driver needs.

use std::sync::Arc;

use cpim_formats::op::{MessageOp, NotifyOp, ResponseOp, SubscribeOp, TransId, UnsubscribeOp};
use cpim_formats::pidf::Presence;
use cpim_formats::uri::{Address, Scheme};

use crate::policy::{Decision, PolicySubject};
use crate::store::Change;
use crate::time::Timestamp;

/// The driver's handle for where a response goes (a connection, a binding's
/// transaction). Opaque to the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Origin(pub u64);

/// An open inbox of a local user (a client connection). A user with several
/// sessions gets each message on every one of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(pub u64);

/// The engine's id for a message handed to another server whose answer it
/// awaits: random, so never reused across restarts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RelayId(pub u64);

/// Who asks, as authenticated by the binding (draft section 2.4.1, step 2 and
/// 3.4.1, step 2: "if access control does not permit the application to
/// request this operation").
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Principal {
    /// A user authenticated as this address: it may act only as itself.
    User(Address),
    /// A peer server or binding authenticated for a domain: it may act for
    /// any address of that domain (normalised).
    Domain(String),
    /// The operator's own tooling: it may act for anyone.
    Service,
}

impl Principal {
    /// Whether this principal may act as `address`.
    pub fn may_act_for(&self, address: &Address) -> bool {
        match self {
            Principal::User(a) => a == address,
            Principal::Domain(d) => d == address.domain(),
            Principal::Service => true,
        }
    }
}

/// One input to [`Engine::handle`](crate::Engine::handle).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Input {
    /// The message operation (draft section 2.4.1). `hops` is how many more
    /// relays the message may pass (section 2.4.2); each relay takes one.
    Message {
        /// Where the response goes.
        origin: Origin,
        /// Who sends it.
        principal: Principal,
        /// The operation.
        op: MessageOp,
        /// Relays left before the message is taken for a loop.
        hops: u8,
    },
    /// The subscribe operation (draft section 3.4.1); duration 0 is a fetch
    /// (3.4.4) or, on an existing subscription, ends it (3.4.3).
    Subscribe {
        /// Where the response goes.
        origin: Origin,
        /// Who asks.
        principal: Principal,
        /// The operation.
        op: SubscribeOp,
    },
    /// Renews an existing subscription for `op.duration` seconds from now
    /// (RFC 6665 section 4.1.2.1, RFC 3265 section 3.1.4.2): an extension to
    /// the draft, whose subscribe refuses a second subscription (section
    /// 3.4.1 step 3). Answered with a response carrying the granted
    /// duration, then a notify of the current state; duration 0 ends the
    /// subscription as a subscribe 0 does. A subscription relayed to another
    /// domain has its refresh relayed there. Fails when there is no
    /// subscription to renew.
    Refresh {
        /// Where the response goes.
        origin: Origin,
        /// Who asks.
        principal: Principal,
        /// The operation: watcher, target, new duration, transID.
        op: SubscribeOp,
    },
    /// The unsubscribe operation (RFC 3859 section 3.4): ends a subscription.
    Unsubscribe {
        /// Where the response goes.
        origin: Origin,
        /// Who asks.
        principal: Principal,
        /// The operation.
        op: UnsubscribeOp,
    },
    /// One publisher's presence for a local presentity, for `duration`
    /// seconds (0 withdraws it). Answered with a response carrying the
    /// granted duration.
    Publish {
        /// Where the response goes.
        origin: Origin,
        /// Who publishes.
        principal: Principal,
        /// The transaction id the response carries.
        trans_id: TransId,
        /// Whose presence.
        presentity: Address,
        /// The publisher's id (a device, a binding's publication tag).
        publisher: String,
        /// This publisher's tuples and notes.
        presence: Presence<'static>,
        /// Requested lifetime, seconds.
        duration: u32,
    },
    /// A presentity's access rule: `None` withdraws it.
    SetPolicy {
        /// Whose rule.
        presentity: Address,
        /// Whom it is about.
        subject: PolicySubject,
        /// The decision, or `None` to remove the rule.
        decision: Option<Decision>,
    },
    /// Adds `sender` to (or removes it from) the block list of `inbox`.
    SetBlock {
        /// The local inbox.
        inbox: Address,
        /// The sender.
        sender: Address,
        /// `true`: refuse its messages; `false`: accept them again.
        blocked: bool,
    },
    /// A local user (an inbox and a presentity) is created.
    AddUser(Address),
    /// A local user is removed with all its state; its watchers are told.
    RemoveUser(Address),
    /// An inbox of a local user opens.
    SessionOpened {
        /// The session's id.
        session: SessionId,
        /// Whose inbox.
        user: Address,
    },
    /// An inbox closes.
    SessionClosed(SessionId),
    /// Another server answered a relayed message or subscribe (`Some`), or
    /// no answer will come (`None`). For a subscribe, a `success` answer
    /// carries the granted duration (none: the requested one stands).
    RelayAnswer {
        /// The relay id from [`Effect::Relay`] or [`Effect::RelaySubscribe`].
        relay: RelayId,
        /// The authoritative answer.
        answer: Option<ResponseOp>,
    },
    /// A notify operation (draft section 3.4.2) from another domain, for a
    /// subscription relayed there with [`Effect::RelaySubscribe`]. The
    /// principal must be able to act for the target (its domain). Answered
    /// with a response to `origin`: `failure` when no such relayed
    /// subscription exists here, so the other side can end its own.
    Notify {
        /// Where the response goes.
        origin: Origin,
        /// Who sends it: the target's domain.
        principal: Principal,
        /// The operation.
        op: NotifyOp,
        /// Where the subscription stands on the other side, expiry as an
        /// absolute time (`Active`, `Pending`), or why it ended.
        state: SubState,
    },
}

/// One thing for the driver to do, in order.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Effect {
    /// Commit this change before sending any later response (see the
    /// persistence contract on [`Store`](crate::Store)).
    Persist(Change),
    /// The response operation to a request.
    Respond {
        /// The origin given with the request.
        to: Origin,
        /// The response; its transID is the request's.
        response: ResponseOp,
    },
    /// A message for an open inbox.
    Deliver {
        /// Which inbox.
        session: SessionId,
        /// The message, shared by all sessions of the recipient.
        message: Arc<MessageOp>,
    },
    /// A message handed to another binding or server.
    Relay {
        /// Set when an answer is awaited: give it back in
        /// [`Input::RelayAnswer`].
        relay: Option<RelayId>,
        /// The route's binding name.
        binding: String,
        /// The message operation, unchanged.
        message: MessageOp,
        /// Relays left after this one.
        hops: u8,
    },
    /// A subscribe operation (draft section 3.4.1) for a presentity of
    /// another domain, for the route's binding to carry out. Its duration is
    /// 0 for a fetch (section 3.4.4). Give the answer back in
    /// [`Input::RelayAnswer`] and the other side's notifications in
    /// [`Input::Notify`].
    RelaySubscribe {
        /// The id to answer with.
        relay: RelayId,
        /// The route's binding name.
        binding: String,
        /// The operation: the local watcher, the remote target, the granted
        /// duration, the watcher's transID.
        op: SubscribeOp,
    },
    /// A relayed subscription ended here (unsubscribed, expired, watcher
    /// removed, or the subscribe was given up): the binding tells the other
    /// side (RFC 3859 section 3.4). No answer is awaited; the subscription
    /// is already over locally.
    RelayUnsubscribe {
        /// The binding the subscription went through.
        binding: String,
        /// The operation, with a fresh transID.
        op: UnsubscribeOp,
    },
    /// A notify operation (draft section 3.4.2).
    Notify(Notification),
    /// A new watcher asks to see a presentity; the presentity should decide
    /// with [`Input::SetPolicy`].
    WatcherRequest {
        /// Who is asked.
        presentity: Address,
        /// Who asks.
        watcher: Address,
    },
}

/// A notify operation for one watcher.
#[derive(Clone, Debug, PartialEq)]
pub struct Notification {
    /// The watcher.
    pub watcher: Address,
    /// The presentity.
    pub target: Address,
    /// The service's own transaction id, unpredictable.
    pub trans_id: TransId,
    /// Where the subscription stands.
    pub state: SubState,
    /// The presence information; `None` when the watcher may not see it
    /// (pending, rejected) or the subscription ended on request.
    pub presence: Option<Arc<Presence<'static>>>,
}

impl Notification {
    /// The notify operation (draft section 3.4.2) for a binding to send.
    /// With no presence to show, the document has no tuples, so it tells
    /// nothing about the presentity.
    pub fn to_op(&self) -> NotifyOp {
        let target = self.target.to_uri(Scheme::Pres);
        let presence = match &self.presence {
            Some(p) => Presence::clone(p),
            None => Presence::new(target.to_string()),
        };
        NotifyOp {
            watcher: self.watcher.to_uri(Scheme::Pres),
            target,
            trans_id: self.trans_id,
            presence,
        }
    }
}

/// The state of a subscription as told in a notify.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SubState {
    /// Presence flows until `expires`.
    Active {
        /// When it ends unless renewed.
        expires: Timestamp,
    },
    /// Waiting for the presentity's decision; nothing flows.
    Pending {
        /// When it ends unless renewed.
        expires: Timestamp,
    },
    /// Over; nothing more will come.
    Terminated(Reason),
}

/// Why a subscription is over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reason {
    /// Its duration ran out.
    Expired,
    /// The watcher ended it.
    Unsubscribed,
    /// A one-time fetch (duration 0): this was the only notify.
    Fetched,
    /// A fetch while the presentity has not decided: nothing to see yet.
    Undecided,
    /// The presentity denied the watcher.
    Rejected,
    /// The presentity no longer exists.
    Deactivated,
}
