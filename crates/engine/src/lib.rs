//! The CPIM service engine: the abstract messaging service (draft
//! `draft-ietf-impp-cpim-02` section 2.4, RFC 3860 section 4) and presence
//! service (draft section 3.4, RFC 3859 section 4) as a state machine with no
//! I/O and no clock.
//!
//! A driver (the daemon, a test harness, the load tool) feeds it:
//!
//! 1. [`Engine::handle`] with each [`Input`] and the current [`Timestamp`];
//! 2. [`Engine::handle_timeout`] when [`Engine::poll_timeout`] says so;
//!
//! and after each call carries out the [`Effect`]s from
//! [`Engine::poll_effect`] in order: it commits [`Effect::Persist`] changes to
//! a [`Store`] before sending any response that follows them (see the
//! persistence contract on [`Store`]).

/// What the operator decides: domains, routes, bounds, default policies.
pub mod config;
/// The messaging and presence services (draft sections 2.4.1, 3.4.1-3.4.4).
pub mod engine;
/// Inputs and effects: the CPIM operations in and out (draft sections 2.4, 3.4).
pub mod io;
/// Access control for presence (draft section 3.4.1, step 2).
pub mod policy;
/// Durable state behind a trait (draft section 3.4).
pub mod store;
/// Absolute time passed in by the driver (draft section 3.4.1, step 4c).
pub mod time;

pub use config::{Config, Route};
pub use engine::{Engine, InputError, WatcherInfo};
pub use io::{
    Effect, Input, Notification, Origin, Principal, Reason, RelayId, SessionId, SubState,
};
pub use policy::{Decision, PolicySubject};
pub use store::{
    BlockRecord, Change, DelegationRecord, MemoryStore, PolicyRecord, PublicationRecord, Snapshot,
    Store, StoreError, SubscriptionRecord, SubscriptionStatus, WatcherRecord,
};
pub use time::Timestamp;
