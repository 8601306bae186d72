//! The CPIM formats, free of I/O: everything a binding or the service engine
//! passes around.
//!
//! Founding document: `draft-ietf-impp-cpim-02`; its published successors
//! settle the formats (RFC 3859, 3860, 3862, 3863, 3922).

/// `im:` and `pres:` URIs (RFC 3860 section 3, RFC 3859 section 3, draft
/// section 4.2), and their mapping to `sip:`/`sips:` URIs and XMPP JIDs
/// (RFC 3922 section 3).
pub mod uri;

/// `message/cpim` (RFC 3862): the CPIM message format.
pub mod message;

/// PIDF, `application/pidf+xml` (RFC 3863): the presence format.
pub mod pidf;

/// The abstract CPIM operations (draft sections 6-9): `message`, `response`,
/// `subscribe`, `notify`, `unsubscribe`, with transaction ids.
pub mod op;

/// Byte classes sixteen bytes at a time, for the parsers.
mod simd;

/// The characters XML allows.
mod xml;

#[cfg(test)]
mod test_support;
