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
//!
//! ```
//! use cpim_engine::{Config, Decision, Effect, Engine, Input, Origin, Principal, Timestamp};
//! use cpim_formats::op::{Status, SubscribeOp, TransId};
//! use cpim_formats::uri::Uri;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config = Config::new(["example.com"]).with_default_policy("example.com", Decision::Allow);
//! let mut engine = Engine::new(config);
//! let now = Timestamp::from_millis(1_700_000_000_000);
//! let bob = Uri::parse("pres:bob@example.com")?;
//! let bob_address = bob.address().ok_or("one address")?.clone();
//! engine.handle(Input::AddUser(bob_address), now)?;
//!
//! let op = SubscribeOp {
//!     watcher: Uri::parse("pres:alice@example.com")?,
//!     target: bob,
//!     duration: 600,
//!     trans_id: TransId::new(7)?,
//! };
//! engine.handle(Input::Subscribe { origin: Origin(1), principal: Principal::Service, op }, now)?;
//! let mut told = Vec::new();
//! while let Some(effect) = engine.poll_effect() {
//!     match effect {
//!         Effect::Persist(_change) => { /* commit before what follows */ }
//!         Effect::Respond { response, .. } => assert_eq!(response.status, Status::Success),
//!         Effect::Notify(n) => told.push(n.to_op()),
//!         _ => {}
//!     }
//! }
//! assert_eq!(told.len(), 1);
//! assert_eq!(engine.poll_timeout(), Some(now.plus_secs(600)));
//! # Ok(())
//! # }
//! ```

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
    BlockRecord, Change, DelegationRecord, MemoryStore, PolicyRecord, PublicationRecord,
    PublicationRef, Record, RecordSink, RelayedPhase, RelayedRequest, RemoteSubscriptionRecord,
    Snapshot, Store, StoreError, SubscriptionRecord, SubscriptionRef, SubscriptionStatus,
    WatcherRecord,
};
pub use time::Timestamp;
