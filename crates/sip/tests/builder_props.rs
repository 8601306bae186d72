//! Properties: whatever the builders accept parses back to the same parts,
//! frames the same on a stream, and prints back to the same bytes.
#![allow(clippy::unwrap_used)]

use cpim_sip::{Message, RequestBuilder, ResponseBuilder, Status};
use proptest::prelude::*;

fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9][A-Za-z0-9.!%*_+`'~-]{0,15}"
}

fn user() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9_.!~*'()&=+$,;?/-]{1,12}"
}

fn host() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9-]{0,8}[a-z0-9](\\.[a-z][a-z0-9]{0,8}){0,2}"
}

/// Display names: printable text with quotes, backslashes and UTF-8.
fn display() -> impl Strategy<Value = String> {
    "[ -~\u{e9}\u{4e2d}]{0,20}"
}

fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

proptest! {
    #[test]
    fn built_requests_parse_back(
        method in "[A-Z]{3,10}",
        ruser in user(),
        rhost in host(),
        port in proptest::option::of(1u16..),
        name in display(),
        fuser in user(),
        tag in token(),
        branch in "[A-Za-z0-9]{1,20}",
        cseq in 0u32..0x8000_0000,
        subject in "[ -~\u{e9}]{0,40}",
        body in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let uri = match port {
            Some(p) => format!("sip:{}@{rhost}:{p}", ruser.replace(['?'], "%3F")),
            None => format!("sip:{}@{rhost}", ruser.replace(['?'], "%3F")),
        };
        let bytes = RequestBuilder::new(method.clone(), uri.clone())
            .header("Via", format!("SIP/2.0/UDP {rhost};branch=z9hG4bK{branch}"))
            .header("From", format!("{} <sip:{fuser}@{rhost}>;tag={tag}", quote(&name)))
            .header("To", format!("<{uri}>"))
            .header("Call-ID", format!("{branch}@{rhost}"))
            .header("CSeq", format!("{cseq} {method}"))
            .header("Subject", subject.clone())
            .body("application/octet-stream", body.clone())
            .build()
            .unwrap();
        let m = Message::parse_datagram(&bytes).unwrap();
        prop_assert_eq!(m.method(), method.as_str());
        prop_assert_eq!(m.request_uri().unwrap().as_str(), uri.as_str());
        let ruri = m.request_uri().unwrap().as_sip().unwrap();
        prop_assert_eq!(ruri.port(), port);
        prop_assert_eq!(m.from().display_name(), Some(name.as_str()));
        prop_assert_eq!(m.from().uri().as_sip().unwrap().user(), Some(fuser.as_str()));
        prop_assert_eq!(m.from().tag(), Some(tag.as_str()));
        prop_assert_eq!(m.cseq().number, cseq);
        prop_assert_eq!(m.via()[0].branch().unwrap(), format!("z9hG4bK{branch}"));
        prop_assert_eq!(
            m.header_values(cpim_sip::HeaderName::Subject).next(),
            Some(subject.trim())
        );
        prop_assert_eq!(m.body(), body.as_slice());
        prop_assert_eq!(m.to_bytes(), bytes.clone());
        match Message::parse_stream(&bytes).unwrap() {
            Status::Complete(s, used) => {
                prop_assert_eq!(used, bytes.len());
                prop_assert_eq!(s.body(), body.as_slice());
            }
            other => prop_assert!(false, "{:?}", other),
        }
    }

    #[test]
    fn responses_echo_the_request(code in 100u16..700, reason in "[ -~]{0,20}", tag in token()) {
        let request = RequestBuilder::new("OPTIONS", "sip:b@example.com")
            .header("Via", "SIP/2.0/TCP a.example.com;branch=z9hG4bKp")
            .header("Via", "SIP/2.0/UDP b.example.com:5070;branch=z9hG4bKq;received=192.0.2.1")
            .header("From", "<sip:a@example.com>;tag=1")
            .header("To", "<sip:b@example.com>")
            .header("Call-ID", "x@y")
            .header("CSeq", "5 OPTIONS")
            .build()
            .unwrap();
        let request = Message::parse_datagram(&request).unwrap();
        let bytes = ResponseBuilder::for_request(&request, code, reason.clone(), Some(&tag))
            .build()
            .unwrap();
        let m = Message::parse_datagram(&bytes).unwrap();
        prop_assert_eq!(m.status_code(), Some(code));
        prop_assert_eq!(m.reason(), Some(reason.as_str()));
        prop_assert_eq!(m.via(), request.via());
        prop_assert_eq!(m.to().tag(), Some(tag.as_str()));
        prop_assert_eq!(m.cseq(), request.cseq());
    }
}
