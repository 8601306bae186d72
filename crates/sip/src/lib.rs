//! Sans-IO SIP for cpim's SIP/SIMPLE binding (RFC 3261, RFC 3428, RFC 3903,
//! RFC 6665): message syntax, non-INVITE transactions and digest
//! authentication. No sockets, no clock: the transport and the binding's
//! mapping onto the engine drive this code and pass the time in.

/// Owned requests and responses, serialised (RFC 3261 s7, s8.2.6).
pub mod builder;
/// Digest authentication (RFC 3261 s22.4, RFC 2617 s3): MD5, qop=auth.
pub mod digest;
/// Errors of message syntax (RFC 3261 s7, s25).
pub mod error;
/// Header field names and raw fields (RFC 3261 s7.3).
pub mod header;
/// Typed header values (RFC 3261 s20, RFC 6665 s8.4, RFC 3903 s11.3).
pub mod headers;
/// SIP messages: framing, start line, headers (RFC 3261 s7, s18.3).
pub mod message;
/// Header and URI parameters (RFC 3261 s25.1).
pub mod param;
/// Non-INVITE client and server transactions (RFC 3261 s17.1.2, s17.2.2).
pub mod transaction;
/// SIP and SIPS URIs (RFC 3261 s19.1).
pub mod uri;

mod scan;

pub use builder::{BuildError, RequestBuilder, ResponseBuilder};
pub use error::{Expected, Fault, Field, SipError, SipErrorKind};
pub use header::{Header, HeaderName};
pub use message::{Limits, Message, StartLine, Status};
pub use uri::{Host, SipUri, Uri};
