//! Access control for presence (draft section 3.4.1, step 2; RFC 2779
//! section 5.1): what a presentity decides about its watchers.

use serde::{Deserialize, Serialize};

/// What a presentity decided about a watcher (or a group of them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Decision {
    /// The watcher may see the presence information.
    Allow,
    /// The watcher may not subscribe and learns no presence, ever.
    Deny,
    /// The watcher's subscription waits, pending, for the presentity to decide.
    Ask,
}

/// Whom a policy rule is about. The most specific rule wins: a watcher's own
/// rule, then its domain's, then the presentity's rule for anyone, then the
/// service default for the presentity's domain.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[non_exhaustive]
pub enum PolicySubject {
    /// One watcher, by address (`local@domain`, the `Address` display form).
    Watcher(String),
    /// Every watcher of one domain (normalised, lowercase).
    Domain(String),
    /// Every watcher.
    Anyone,
}
