//! The CPIM service engine: the abstract messaging service (draft
//! `draft-ietf-impp-cpim-02` section 2.4, RFC 3860 section 4) and presence
//! service (draft section 3.4, RFC 3859 section 4) as a state machine with no
//! I/O and no clock. A driver passes inputs and the time in, and carries the
//! effects out (responses, deliveries, relays, notifications, state changes
//! to persist).

/// Access control for presence (draft section 3.4.1, step 2).
pub mod policy;
/// Durable state behind a trait (draft section 3.4).
pub mod store;
/// Absolute time passed in by the driver (draft section 3.4.1, step 4c).
pub mod time;

pub use policy::{Decision, PolicySubject};
pub use store::{
    BlockRecord, Change, DelegationRecord, MemoryStore, PolicyRecord, PublicationRecord, Snapshot,
    Store, StoreError, SubscriptionRecord, SubscriptionStatus, WatcherRecord,
};
pub use time::Timestamp;
