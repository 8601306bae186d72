//! XMPP addresses (JIDs, RFC 6122) to and from CPIM addresses: RFC 3922
//! section 3, with the escaping of RFC 7247 section 6.4/6.5 (XEP-0106).
//!
//! CPIM to XMPP (RFC 3922 s3.3): the decoded local part becomes the node,
//! with the characters a node may not hold (`"` `&` `'` `/` `:` `<` `>` `@`
//! and space) written as XEP-0106 escapes (`\26` for `&`, ...; a `\` is
//! escaped as `\5c` only before such a code). RFC 3922 wrote these as `#26;`;
//! RFC 7247 replaced that with XEP-0106, which XMPP software decodes, so cpim
//! writes the XEP-0106 form and reads both. The domain is written with
//! Unicode labels (RFC 6122 s2.2 asks for them in place of ACE labels).
//!
//! XMPP to CPIM (RFC 3922 s3.2): the resource is dropped, escapes are
//! decoded, and the domain is normalised like any CPIM domain. The optional
//! Nodeprep step (case folding, NFKC) is not applied: the local part is kept
//! as written, as for `im:` URIs; Nodeprep's prohibited characters are
//! refused.

use super::{Address, UriError, UriErrorKind};

impl Address {
    /// The bare JID `node@domain` for this address.
    pub fn to_jid(&self) -> Result<String, JidError> {
        let mut node = String::with_capacity(self.local().len());
        for (i, ch) in self.local().char_indices() {
            let rest = &self.local()[i + ch.len_utf8()..];
            match escape_code(ch) {
                Some(_) if ch == '\\' && unescape_xep0106(rest).is_none() => node.push('\\'),
                Some(code) => {
                    node.push('\\');
                    node.push_str(code);
                }
                // A literal `#26;` would read back as `&` (RFC 3922 s3.2
                // step 3), and XEP-0106 has no escape for `#`.
                None if ch == '#' && unescape_rfc3922(&self.local()[i..]).is_some() => {
                    return Err(JidError::new(JidErrorKind::Ambiguous, i));
                }
                None if nodeprep_prohibited(ch) => {
                    return Err(JidError::new(JidErrorKind::Prohibited(ch), i));
                }
                None => node.push(ch),
            }
        }
        if node.len() > MAX_PART {
            return Err(JidError::new(JidErrorKind::TooLong, 0));
        }
        Ok(format!("{node}@{}", self.domain_unicode()))
    }

    /// Reads a JID `node@domain[/resource]`; the resource is dropped. Error
    /// positions are bytes of `jid`.
    pub fn from_jid(jid: &str) -> Result<Address, JidError> {
        let bare = match jid.find('/') {
            Some(slash) if slash + 1 == jid.len() => {
                return Err(JidError::new(JidErrorKind::EmptyResource, slash + 1));
            }
            Some(slash) => &jid[..slash],
            None => jid,
        };
        let Some(at) = bare.find('@') else {
            return Err(JidError::new(JidErrorKind::NoNode, 0));
        };
        let (node, domain) = (&bare[..at], &bare[at + 1..]);
        if node.is_empty() {
            return Err(JidError::new(JidErrorKind::EmptyNode, 0));
        }
        if node.len() > MAX_PART {
            return Err(JidError::new(JidErrorKind::TooLong, 0));
        }
        if domain.is_empty() {
            return Err(JidError::new(JidErrorKind::EmptyDomain, at + 1));
        }
        let mut local = String::with_capacity(node.len());
        let mut i = 0;
        while let Some(ch) = node[i..].chars().next() {
            let rest = &node[i + ch.len_utf8()..];
            if let Some(decoded) = (ch == '\\').then(|| unescape_xep0106(rest)).flatten() {
                local.push(decoded);
                i += 3;
            } else if let Some(decoded) =
                (ch == '#').then(|| unescape_rfc3922(&node[i..])).flatten()
            {
                local.push(decoded);
                i += 4;
            } else if nodeprep_prohibited(ch) {
                return Err(JidError::new(JidErrorKind::Prohibited(ch), i));
            } else {
                local.push(ch);
                i += ch.len_utf8();
            }
        }
        // RFC 6122 s2.2 allows one trailing dot on a domain.
        let domain = domain.strip_suffix('.').unwrap_or(domain);
        Address::new(&local, domain).map_err(|error: UriError| {
            // Address::new counts domain bytes after `local@`.
            let position = match error.position().checked_sub(local.len() + 1) {
                Some(offset) => at + 1 + offset,
                None => 0,
            };
            JidError::new(JidErrorKind::Address(error.kind().clone()), position)
        })
    }
}

/// Why a JID could not be read as a CPIM address, or an address has no JID.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{kind} at byte {position}")]
pub struct JidError {
    kind: JidErrorKind,
    position: usize,
}

impl JidError {
    fn new(kind: JidErrorKind, position: usize) -> JidError {
        JidError { kind, position }
    }

    /// What was wrong.
    pub fn kind(&self) -> &JidErrorKind {
        &self.kind
    }

    /// Byte offset in the JID ([`Address::from_jid`]) or in the local part
    /// ([`Address::to_jid`]).
    pub fn position(&self) -> usize {
        self.position
    }
}

/// What was wrong with a JID or a local part.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JidErrorKind {
    /// No `@`: the JID names a server, not an inbox or presentity.
    #[error("no node, expected 'node@domain'")]
    NoNode,
    /// `@domain`.
    #[error("empty node")]
    EmptyNode,
    /// `node@` or `node@/resource`.
    #[error("empty domain")]
    EmptyDomain,
    /// `node@domain/`.
    #[error("empty resource after '/'")]
    EmptyResource,
    /// A character Nodeprep (RFC 6122 Appendix A.5) prohibits.
    #[error("character {0:?} is not allowed in a JID node")]
    Prohibited(char),
    /// A node over 1023 bytes (RFC 6122 s2.3).
    #[error("node longer than 1023 bytes")]
    TooLong,
    /// A local part holding `#26;`, `#27;` or `#2f;`, which would read back
    /// as `&`, `'` or `/` (RFC 3922 s3.2).
    #[error("'#..;' sequence would be read back as an RFC 3922 escape")]
    Ambiguous,
    /// The domain (or the decoded node) is not valid in a CPIM address.
    #[error("{0}")]
    Address(UriErrorKind),
}

/// RFC 6122 s2.3: a node is at most 1023 bytes.
const MAX_PART: usize = 1023;

/// XEP-0106 escape code for a character a node may not hold.
fn escape_code(ch: char) -> Option<&'static str> {
    Some(match ch {
        ' ' => "20",
        '"' => "22",
        '&' => "26",
        '\'' => "27",
        '/' => "2f",
        ':' => "3a",
        '<' => "3c",
        '>' => "3e",
        '@' => "40",
        '\\' => "5c",
        _ => return None,
    })
}

/// The character of the XEP-0106 escape whose code starts `rest` (after the
/// backslash).
fn unescape_xep0106(rest: &str) -> Option<char> {
    let code = rest.get(..2)?;
    [' ', '"', '&', '\'', '/', ':', '<', '>', '@', '\\']
        .into_iter()
        .find(|&ch| escape_code(ch) == Some(code))
}

/// The character of the RFC 3922 escape (`#26;`, `#27;`, `#2f;`) starting
/// `text`.
fn unescape_rfc3922(text: &str) -> Option<char> {
    match text.get(..4)? {
        "#26;" => Some('&'),
        "#27;" => Some('\''),
        "#2f;" => Some('/'),
        _ => None,
    }
}

/// Nodeprep's prohibited output (RFC 6122 Appendix A.5): the eight ASCII
/// characters, spaces (C.1), controls (C.2), private use (C.3),
/// non-characters (C.4), and C.6-C.9.
fn nodeprep_prohibited(ch: char) -> bool {
    let c = u32::from(ch);
    matches!(ch, '"' | '&' | '\'' | '/' | ':' | '<' | '>' | '@')
        || ch.is_whitespace()
        || ch.is_control()
        || matches!(
            c,
            0x06DD
                | 0x070F
                | 0x180E
                | 0x200B..=0x200F
                | 0x2028..=0x202E
                | 0x2060..=0x2063
                | 0x206A..=0x206F
                | 0x0340
                | 0x0341
                | 0x2FF0..=0x2FFB
                | 0xE000..=0xF8FF
                | 0xFDD0..=0xFDEF
                | 0xFEFF
                | 0xFFF9..=0xFFFD
                | 0x1D173..=0x1D17A
                | 0xE0001
                | 0xE0020..=0xE007F
                | 0xF0000..=0xFFFFD
                | 0x100000..=0x10FFFD
        )
        || c & 0xFFFE == 0xFFFE
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_a_node_cannot_hold() {
        let address = Address::new("m&m o'malley", "Bücher.example").unwrap();
        assert_eq!(
            address.to_jid().unwrap(),
            "m\\26m\\20o\\27malley@bücher.example"
        );
        assert_eq!(
            Address::from_jid("m\\26m\\20o\\27malley@bücher.example/phone").unwrap(),
            address
        );
    }

    #[test]
    fn reads_rfc3922_escapes() {
        let address = Address::from_jid("a#26;b#2f;c@example.com").unwrap();
        assert_eq!(address.local(), "a&b/c");
        assert_eq!(address.to_jid().unwrap(), "a\\26b\\2fc@example.com");
    }

    #[test]
    fn refuses_a_server_jid() {
        let error = Address::from_jid("example.com/res").unwrap_err();
        assert_eq!((error.kind(), error.position()), (&JidErrorKind::NoNode, 0));
    }
}
