//! HTTP Digest authentication as SIP uses it (RFC 3261 s22.4, RFC 2617
//! s3): MD5, `qop=auth`, and the RFC 2069 form without qop.
//!
//! Nonces are stateless: `hex(timestamp) || hex(HMAC-SHA256(secret,
//! timestamp || realm))[..32]`. A server checks one by recomputing the MAC
//! and the age, with nothing stored (RFC 2617 s3.2.1 suggests this shape).
//! The caller passes the time in as seconds since the Unix epoch. Replay
//! protection by nonce-count needs state and is left to the caller.

use std::borrow::Cow;
use std::fmt::Write;

use hmac::{Hmac, KeyInit, Mac};
use md5::{Digest, Md5};
use sha2::Sha256;

use crate::headers::AuthValue;

/// A Digest check failed, and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DigestError {
    #[error("credentials are not of the Digest scheme")]
    NotDigest,
    #[error("credentials lack the {0} parameter")]
    MissingParam(&'static str),
    #[error("realm differs from ours")]
    RealmMismatch,
    #[error("algorithm is not MD5")]
    UnsupportedAlgorithm,
    #[error("qop is not auth")]
    UnsupportedQop,
    #[error("digest uri differs from the Request-URI")]
    UriMismatch,
    #[error("nonce was not issued by us")]
    BadNonce,
    /// The nonce is ours but too old; challenge again with `stale=true`.
    #[error("nonce has expired")]
    Stale,
    #[error("response does not match")]
    WrongResponse,
}

/// `HA1 = MD5(username ":" realm ":" password)` in lowercase hex, the form a
/// store keeps instead of the password.
pub fn ha1(username: &str, realm: &str, password: &str) -> String {
    md5_hex(&[username, realm, password])
}

/// The request-digest (RFC 2617 s3.2.2.1) for MD5: with `qop=auth`,
/// `MD5(HA1:nonce:nc:cnonce:qop:HA2)`; without qop, `MD5(HA1:nonce:HA2)`;
/// `HA2 = MD5(method:uri)`.
pub fn response(ha1: &str, nonce: &str, qop: Option<Qop<'_>>, method: &str, uri: &str) -> String {
    let ha2 = md5_hex(&[method, uri]);
    match qop {
        Some(q) => md5_hex(&[ha1, nonce, q.nc, q.cnonce, "auth", &ha2]),
        None => md5_hex(&[ha1, nonce, &ha2]),
    }
}

/// The nonce-count and client nonce sent with `qop=auth`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Qop<'a> {
    pub nc: &'a str,
    pub cnonce: &'a str,
}

/// Issues challenges and verifies credentials for one realm.
#[derive(Clone)]
pub struct DigestServer {
    realm: String,
    secret: Vec<u8>,
    lifetime: u64,
}

impl std::fmt::Debug for DigestServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret stays out of logs.
        f.debug_struct("DigestServer")
            .field("realm", &self.realm)
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

impl DigestServer {
    /// `secret` keys the nonce MAC; `lifetime` is how many seconds a nonce
    /// stays fresh.
    pub fn new(
        realm: impl Into<String>,
        secret: impl Into<Vec<u8>>,
        lifetime: u64,
    ) -> DigestServer {
        DigestServer {
            realm: realm.into(),
            secret: secret.into(),
            lifetime,
        }
    }

    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// A nonce for time `now` (seconds since the Unix epoch).
    pub fn nonce(&self, now: u64) -> String {
        let mut nonce = format!("{now:016x}");
        for b in self.mac(now).iter().take(16) {
            let _ = write!(nonce, "{b:02x}");
        }
        nonce
    }

    /// The value of a WWW-Authenticate (or Proxy-Authenticate) header field
    /// challenging for this realm at time `now`.
    pub fn challenge(&self, now: u64, stale: bool) -> String {
        let mut value = format!(
            "Digest realm=\"{}\", nonce=\"{}\", algorithm=MD5, qop=\"auth\"",
            self.realm.replace(['\\', '"'], ""),
            self.nonce(now)
        );
        if stale {
            value.push_str(", stale=true");
        }
        value
    }

    /// The user name in credentials, to look up the HA1 with.
    pub fn username<'a>(&self, credentials: &AuthValue<'a>) -> Result<Cow<'a, str>, DigestError> {
        if !credentials.is_digest() {
            return Err(DigestError::NotDigest);
        }
        credentials
            .param("username")
            .ok_or(DigestError::MissingParam("username"))
    }

    /// Verifies credentials for a request with `method` and `request_uri`
    /// (as written), against the stored `ha1`, at time `now`.
    ///
    /// The response is checked before the nonce's age, so `Stale` is only
    /// returned to a client that knows the password (RFC 2617 s3.2.1).
    pub fn verify(
        &self,
        credentials: &AuthValue<'_>,
        method: &str,
        request_uri: &str,
        ha1: &str,
        now: u64,
    ) -> Result<(), DigestError> {
        if !credentials.is_digest() {
            return Err(DigestError::NotDigest);
        }
        let get = |name: &'static str| {
            credentials
                .param(name)
                .ok_or(DigestError::MissingParam(name))
        };
        get("username")?;
        let realm = get("realm")?;
        let nonce = get("nonce")?;
        let uri = get("uri")?;
        let given = get("response")?;
        if realm != self.realm {
            return Err(DigestError::RealmMismatch);
        }
        if let Some(algorithm) = credentials.param("algorithm") {
            if !algorithm.eq_ignore_ascii_case("MD5") {
                return Err(DigestError::UnsupportedAlgorithm);
            }
        }
        if uri != request_uri {
            return Err(DigestError::UriMismatch);
        }
        let issued = self.check_nonce(&nonce)?;
        let expected = match credentials.param("qop") {
            None => response(ha1, &nonce, None, method, &uri),
            Some(qop) if qop.eq_ignore_ascii_case("auth") => {
                let nc = get("nc")?;
                let cnonce = get("cnonce")?;
                let q = Qop {
                    nc: &nc,
                    cnonce: &cnonce,
                };
                response(ha1, &nonce, Some(q), method, &uri)
            }
            Some(_) => return Err(DigestError::UnsupportedQop),
        };
        if !constant_time_eq(expected.as_bytes(), given.to_ascii_lowercase().as_bytes()) {
            return Err(DigestError::WrongResponse);
        }
        if now.saturating_sub(issued) > self.lifetime || issued > now {
            return Err(DigestError::Stale);
        }
        Ok(())
    }

    /// Checks that we issued `nonce`; returns its timestamp.
    fn check_nonce(&self, nonce: &str) -> Result<u64, DigestError> {
        let (ts, mac) = match (nonce.get(..16), nonce.get(16..)) {
            (Some(ts), Some(mac)) if nonce.len() == 48 => (ts, mac),
            _ => return Err(DigestError::BadNonce),
        };
        let issued = u64::from_str_radix(ts, 16).map_err(|_| DigestError::BadNonce)?;
        let mut expected = String::with_capacity(32);
        for b in self.mac(issued).iter().take(16) {
            let _ = write!(expected, "{b:02x}");
        }
        if constant_time_eq(expected.as_bytes(), mac.as_bytes()) {
            Ok(issued)
        } else {
            Err(DigestError::BadNonce)
        }
    }

    fn mac(&self, ts: u64) -> Vec<u8> {
        // HMAC accepts keys of any length, so this cannot fail.
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.secret) else {
            return Vec::new();
        };
        mac.update(&ts.to_be_bytes());
        mac.update(self.realm.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }
}

fn md5_hex(parts: &[&str]) -> String {
    let mut hasher = Md5::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            hasher.update(b":");
        }
        hasher.update(part.as_bytes());
    }
    let mut out = String::with_capacity(32);
    for b in hasher.finalize().iter() {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Compares without an early exit, so timing does not tell how much matched.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
