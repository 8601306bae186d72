//! The inputs of the message benches: the RFC 3862 section 5.1 example and
//! the same message with a 64 KiB body, each beside the HTTP request that
//! `httparse` reads as its anchor (the same header lines), and the bare
//! form of the example.

use cpim_formats::message::{HeaderStore, Message};

const EXAMPLE: &[u8] = include_bytes!("../../../../testdata/message/s5_1_message.cpim");

/// The same header lines as a `message/cpim` message (MIME, message and
/// content headers) behind an HTTP request line, then the same body.
fn as_http_request(cpim: &[u8]) -> Vec<u8> {
    let mut out = b"POST /cpim HTTP/1.1\r\n".to_vec();
    let mut rest = cpim;
    let mut blank_lines = 0;
    // Copy header lines, skipping the two blank separators of message/cpim
    // and keeping the third (the end of the encapsulated headers).
    while let Some(i) = rest.windows(2).position(|w| w == b"\r\n") {
        let line = &rest[..i + 2];
        rest = &rest[i + 2..];
        if line == b"\r\n" {
            blank_lines += 1;
            if blank_lines == 3 {
                break;
            }
            continue;
        }
        out.extend_from_slice(line);
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(rest);
    out
}

fn with_body(size: usize) -> Vec<u8> {
    let head_end = EXAMPLE
        .windows(4)
        .rposition(|w| w == b"\r\n\r\n")
        .map_or(EXAMPLE.len(), |i| i + 4);
    let mut out = EXAMPLE[..head_end].to_vec();
    out.extend((0..size).map(|i| b"abcdefghijklmnopqrstuvwxyz\r\n"[i % 28]));
    out
}

pub fn httparse_headers(request: &[u8]) -> usize {
    let mut headers = [httparse::EMPTY_HEADER; 16];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(request) {
        Ok(httparse::Status::Complete(n)) => n + req.headers.len(),
        other => panic!("anchor request does not parse: {other:?}"),
    }
}

/// A parse with the headers' room kept in `store` (as httparse is handed
/// its array of headers): the number of message headers, the room handed
/// back.
pub fn stored_headers(store: &mut HeaderStore, cpim: &[u8]) -> Option<usize> {
    let message = store.parse(cpim).ok()?;
    let count = message.headers().len();
    store.reclaim(message);
    Some(count)
}

/// The measured inputs, by name: the message/cpim bytes and the HTTP
/// request made of the same header lines, checked to hold as many.
pub fn inputs() -> Vec<(&'static str, Vec<u8>, Vec<u8>)> {
    let big = with_body(64 << 10);
    [("rfc3862-5.1", EXAMPLE.to_vec()), ("64KiB-body", big)]
        .into_iter()
        .map(|(name, cpim)| {
            let http = as_http_request(&cpim);
            // Same number of header lines on both sides.
            let lines = {
                let message = Message::parse(&cpim).expect("benchmark input parses");
                message.mime_headers().len()
                    + message.headers().len()
                    + message.content().headers().len()
            };
            let mut headers = [httparse::EMPTY_HEADER; 16];
            let mut req = httparse::Request::new(&mut headers);
            assert!(req.parse(&http).is_ok_and(|s| s.is_complete()));
            assert_eq!(req.headers.len(), lines);
            (name, cpim, http)
        })
        .collect()
}

/// The bare form (no MIME headers before the message headers), as a SIP
/// MESSAGE body carries it: the example without its first two lines.
pub fn bare() -> &'static [u8] {
    let bare = EXAMPLE
        .strip_prefix(b"Content-type: Message/CPIM\r\n\r\n".as_slice())
        .expect("the example starts with its MIME header");
    Message::parse(bare).expect("the bare example parses");
    bare
}
