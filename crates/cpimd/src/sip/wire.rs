//! Building responses (RFC 3261 s8.2.6, s18.2.1 with RFC 3581 `rport`),
//! answering requests that do not parse (s8.2, s21.4.1), and mapping
//! addresses between `sip:` and `im:`/`pres:` (RFC 3860 s4, RFC 3859 s4).

use cpim_formats::op::TransId;
use cpim_formats::uri::{Address, Scheme, Uri};
use cpim_sip::{HeaderName, Limits, Message, ResponseBuilder, SipError};

use super::{Binding, Peer};

/// Parser limits: messages above 32 KiB are refused with 513.
pub fn limits() -> Limits {
    Limits {
        max_message: 32 * 1024,
        ..Limits::default()
    }
}

/// A random token for tags, branches and Call-IDs (RFC 3261 s19.3 asks for
/// at least 32 random bits).
pub fn token() -> String {
    format!(
        "{:08x}{:08x}",
        TransId::random().get(),
        TransId::random().get()
    )
}

/// A response to `request` (s8.2.6.2): Via, From, Call-ID and CSeq copied,
/// the top Via stamped with `received` and `rport` (RFC 3581 s4), and a
/// To tag added when the request had none (`to_tag`, or a fresh one).
pub fn response(
    request: &Message<'_>,
    peer: &Peer,
    code: u16,
    reason: &str,
    to_tag: Option<&str>,
) -> ResponseBuilder {
    let mut response = ResponseBuilder::new(code, phrase(reason));
    let mut top = true;
    for header in request.headers() {
        let Some(name) = header.known() else { continue };
        let value = unfold(header.value());
        match name {
            HeaderName::Via => {
                let value = if top { stamp_via(&value, peer) } else { value };
                top = false;
                response = response.header(name.as_str(), value);
            }
            HeaderName::From | HeaderName::CallId | HeaderName::CSeq => {
                response = response.header(name.as_str(), value);
            }
            HeaderName::To => {
                let mut value = value;
                if request.to().tag().is_none() && code > 100 {
                    value.push_str(";tag=");
                    match to_tag {
                        Some(tag) => value.push_str(tag),
                        None => value.push_str(&token()),
                    }
                }
                response = response.header(name.as_str(), value);
            }
            _ => {}
        }
    }
    response
}

/// A reason phrase as the wire allows it: no control characters, bounded.
pub fn phrase(reason: &str) -> String {
    reason
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(200)
        .collect()
}

/// The `sip:` URI of an address.
pub fn sip_uri(address: &Address) -> String {
    address
        .to_uri(Scheme::Im)
        .to_sip()
        .unwrap_or_else(|_| format!("sip:{address}"))
}

/// The address a `sip:` URI names (user part and host).
pub fn address(sip: &str) -> Option<Address> {
    Uri::from_sip(sip).ok()?.address().cloned()
}

/// Answers a request that does not parse, when enough of it can be read to
/// address a response (Via, From, To, Call-ID, CSeq); drops it otherwise,
/// and always drops responses (RFC 3261 s18.1.2).
pub fn reject_malformed(binding: &Binding, bytes: &[u8], peer: &Peer, error: &SipError) {
    tracing::debug!(%error, addr = %peer.addr, "malformed SIP message");
    let head_end = find(bytes, b"\r\n\r\n").unwrap_or(bytes.len());
    let Some(head) = bytes.get(..head_end) else {
        return;
    };
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n");
    let Some(start) = lines.next() else { return };
    if start.starts_with("SIP/") || !start.contains(" SIP/") {
        return;
    }
    let mut copied: Vec<(&'static str, String)> = Vec::new();
    let mut top = true;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let Some(known) = HeaderName::from_wire(name.trim()) else {
            continue;
        };
        let value = value.trim().to_owned();
        match known {
            HeaderName::Via => {
                let value = if top { stamp_via(&value, peer) } else { value };
                top = false;
                copied.push((known.as_str(), value));
            }
            HeaderName::From | HeaderName::To | HeaderName::CallId | HeaderName::CSeq => {
                copied.push((known.as_str(), value));
            }
            _ => {}
        }
    }
    for needed in ["Via", "From", "To", "Call-ID", "CSeq"] {
        if !copied.iter().any(|(n, _)| *n == needed) {
            return;
        }
    }
    let code = error.status_code();
    let reason = match code {
        513 => "Message Too Large",
        505 => "Version Not Supported",
        _ => "Bad Request",
    };
    let mut response = ResponseBuilder::new(code, phrase(&format!("{reason}: {error}")));
    for (name, value) in copied {
        response = response.header(name, value);
    }
    if let Ok(out) = response.build() {
        // The peer's bytes were bad already; a failure to answer ends here.
        let _ = binding.sockets.send(peer, out);
    }
}

/// Adds `received` and fills `rport` in the first Via value.
fn stamp_via(value: &str, peer: &Peer) -> String {
    let (top, rest) = match value.find(',') {
        Some(i) => value.split_at(i),
        None => (value, ""),
    };
    let mut parts = top.split(';');
    let mut out = parts.next().unwrap_or_default().trim_end().to_owned();
    for param in parts {
        let p = param.trim();
        let name = p.split('=').next().unwrap_or_default();
        if name.eq_ignore_ascii_case("received") {
            continue;
        }
        if name.eq_ignore_ascii_case("rport") {
            out.push_str(&format!(";rport={}", peer.addr.port()));
        } else {
            out.push(';');
            out.push_str(p);
        }
    }
    out.push_str(&format!(";received={}", peer.addr.ip()));
    out.push_str(rest);
    out
}

fn unfold(value: &str) -> String {
    value.chars().filter(|c| *c != '\r' && *c != '\n').collect()
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::sip::TransportKind;

    fn peer() -> Peer {
        Peer {
            local: 0,
            transport: TransportKind::Udp,
            addr: "192.0.2.7:40000".parse().unwrap(),
        }
    }

    #[test]
    fn via_gets_received_and_rport() {
        assert_eq!(
            stamp_via("SIP/2.0/UDP host.example;branch=z9hG4bK1;rport", &peer()),
            "SIP/2.0/UDP host.example;branch=z9hG4bK1;rport=40000;received=192.0.2.7"
        );
        assert_eq!(
            stamp_via(
                "SIP/2.0/UDP a;branch=z9hG4bK1;received=1.1.1.1, SIP/2.0/UDP b",
                &peer()
            ),
            "SIP/2.0/UDP a;branch=z9hG4bK1;received=192.0.2.7, SIP/2.0/UDP b"
        );
    }

    #[test]
    fn phrase_drops_control_characters() {
        assert_eq!(phrase("a\r\nb"), "a  b");
        assert_eq!(phrase(&"x".repeat(300)).len(), 200);
    }

    #[test]
    fn sip_and_im_addresses_map() {
        let a = address("sip:alice@Example.COM;transport=tcp").unwrap();
        assert_eq!(a.to_string(), "alice@example.com");
        assert_eq!(sip_uri(&a), "sip:alice@example.com");
        assert!(address("sip:example.com").is_none());
    }
}
