//! Time as the engine sees it: an absolute instant passed in by the driver.
//!
//! Subscription and publication expiry (draft section 3.4.1, step 4c) is kept
//! as absolute time so that it survives a restart: a subscription granted for
//! an hour before a crash still ends an hour after it was granted.

use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch (UTC). The engine never reads a clock;
/// every call that depends on time takes one of these.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct Timestamp(u64);

impl Timestamp {
    /// The instant `millis` milliseconds after the Unix epoch.
    pub const fn from_millis(millis: u64) -> Timestamp {
        Timestamp(millis)
    }

    /// Milliseconds since the Unix epoch.
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// This instant plus `secs` seconds, saturating at the far future.
    pub const fn plus_secs(self, secs: u32) -> Timestamp {
        Timestamp(self.0.saturating_add(secs as u64 * 1000))
    }

    /// This instant plus `millis` milliseconds, saturating at the far future.
    pub const fn plus_millis(self, millis: u64) -> Timestamp {
        Timestamp(self.0.saturating_add(millis))
    }

    /// Whole seconds from `now` until this instant, rounded up; 0 if it has
    /// passed. Used to tell a watcher how long its subscription has left.
    pub fn secs_after(self, now: Timestamp) -> u32 {
        let ms = self.0.saturating_sub(now.0);
        u32::try_from(ms.div_ceil(1000)).unwrap_or(u32::MAX)
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}ms", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plus_and_remaining_round_up() {
        let t = Timestamp::from_millis(1_000);
        assert_eq!(t.plus_secs(3).as_millis(), 4_000);
        assert_eq!(t.plus_secs(3).secs_after(Timestamp::from_millis(1_001)), 3);
        assert_eq!(t.secs_after(Timestamp::from_millis(5_000)), 0);
        assert_eq!(
            Timestamp::from_millis(u64::MAX).plus_secs(1).as_millis(),
            u64::MAX
        );
    }
}
