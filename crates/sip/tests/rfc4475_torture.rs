//! RFC 4475 section 3: every torture message, as the exact bytes of the
//! RFC's Appendix A archive (testdata/sip/*.dat). Valid messages parse with
//! their key fields checked and survive a print/parse round trip; invalid
//! ones are refused with the exact error and byte offset. Sections 3.2-3.4
//! (transaction and application semantics) are syntactically valid: they
//! parse, and the tests check what the layer above needs to decide.
#![allow(clippy::unwrap_used)]

use std::borrow::Cow;

use cpim_sip::headers::Contacts;
use cpim_sip::{
    Expected, Field, HeaderName, Host, Message, SipError, SipErrorKind, StartLine, Status, Uri,
};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../../testdata/sip/{name}.dat",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Offset of `needle` in `hay`, plus `skip`.
fn at(hay: &[u8], needle: &str, skip: usize) -> usize {
    hay.windows(needle.len())
        .position(|w| w == needle.as_bytes())
        .unwrap_or_else(|| panic!("{needle:?} not in fixture"))
        + skip
}

/// Printing a parsed message and parsing it again gives the same message.
fn round_trip(message: &Message<'_>) {
    let printed = message.to_bytes();
    let again = Message::parse_datagram(&printed).unwrap();
    assert_eq!(again.start_line(), message.start_line());
    let names = |m: &Message<'_>| -> Vec<(String, String)> {
        m.headers()
            .iter()
            .map(|h| (h.name().to_owned(), h.value().to_owned()))
            .collect()
    };
    assert_eq!(names(&again), names(message));
    assert_eq!(again.body(), message.body());
    assert_eq!(again.via(), message.via());
    assert_eq!(again.from(), message.from());
    assert_eq!(again.to(), message.to());
}

fn sip<'m>(uri: &'m Uri<'_>) -> &'m cpim_sip::SipUri<'m> {
    uri.as_sip().unwrap()
}

/// `valid!(name, "file", |message, bytes| { checks })`
macro_rules! valid {
    ($name:ident, $file:literal, |$m:ident, $bytes:ident| $body:block) => {
        #[test]
        fn $name() {
            let $bytes = fixture($file);
            let $m = match Message::parse_datagram(&$bytes) {
                Ok(message) => message,
                Err(error) => panic!("{}: {error}", $file),
            };
            $body
            round_trip(&$m);
        }
    };
}

/// `invalid!(name, "file", kind, offset)`: the offset is an expression of
/// the fixture `bytes`.
macro_rules! invalid {
    ($name:ident, $file:literal, $kind:expr, |$bytes:ident| $offset:expr) => {
        #[test]
        fn $name() {
            let $bytes = fixture($file);
            match Message::parse_datagram(&$bytes) {
                Ok(_) => panic!("{} parsed", $file),
                Err(error) => {
                    assert_eq!(error.kind(), &$kind, "{error}");
                    assert_eq!(error.offset(), $offset, "{error}");
                    assert!(error.to_string().ends_with(&format!("at byte {}", $offset)));
                }
            }
        }
    };
}

fn unexpected(found: char, expected: Expected) -> SipErrorKind {
    SipErrorKind::Unexpected { found, expected }
}

// 3.1.1.1 A Short Tortuous INVITE.
valid!(wsinv, "wsinv", |m, bytes| {
    assert_eq!(m.method(), "INVITE");
    let ruri = sip(m.request_uri().unwrap());
    assert_eq!(ruri.user(), Some("vivekg"));
    assert_eq!(ruri.host(), &Host::Name("chair-dnrc.example.com"));
    assert_eq!(ruri.param("unknownparam").unwrap().value(), None);
    assert_eq!(m.to().tag(), Some("1918181833n"));
    assert_eq!(m.to().display_name(), None);
    assert_eq!(m.from().display_name(), Some("J Rosenberg \\\""));
    assert_eq!(m.from().tag(), Some("98asjd8"));
    assert_eq!(m.max_forwards(), Some(68));
    assert_eq!(m.call_id(), "wsinv.ndaksdj@192.0.2.1");
    assert_eq!(m.content_length(), Some(150));
    assert_eq!(m.cseq().number, 9);
    assert_eq!(m.cseq().method, "INVITE");
    let via: Vec<_> = m
        .via()
        .iter()
        .map(|v| (v.transport(), v.host().to_string(), v.branch()))
        .collect();
    assert_eq!(
        via,
        [
            ("UDP", "192.0.2.2".to_owned(), Some("390skdjuw")),
            (
                "TCP",
                "spindle.example.com".to_owned(),
                Some("z9hG4bK9ikj8")
            ),
            ("UDP", "192.168.255.111".to_owned(), Some("z9hG4bK30239")),
        ]
    );
    assert_eq!(
        m.header_values(HeaderName::Subject).collect::<Vec<_>>(),
        [""]
    );
    assert_eq!(
        m.header_values_by_name("newfangledheader")
            .collect::<Vec<_>>(),
        ["newfangled value\r\n continued newfangled value"]
    );
    assert_eq!(
        m.header_values_by_name("UnknownHeaderWithUnusualValue")
            .collect::<Vec<_>>(),
        [";;,,;;,;"]
    );
    assert_eq!(m.route().len(), 1);
    let route = sip(m.route()[0].uri());
    assert!(route.param("lr").is_some());
    assert_eq!(
        route.param("unknownwith").unwrap().raw_value(),
        Some("value")
    );
    let Some(Contacts::List(contacts)) = m.contact() else {
        panic!("contact")
    };
    assert_eq!(contacts[0].display_name(), Some("Quoted string \"\""));
    assert_eq!(
        contacts[0].param("newparam").unwrap().raw_value(),
        Some("newvalue")
    );
    assert!(contacts[0].param("secondparam").is_some());
    assert_eq!(contacts[0].q(), Some("0.33"));
    assert_eq!(m.content_type().unwrap().sub(), "sdp");
    assert_eq!(m.body(), &bytes[bytes.len() - 150..]);
});

// 3.1.1.2 Wide Range of Valid Characters.
valid!(intmeth, "intmeth", |m, _bytes| {
    let method = "!interesting-Method0123456789_*+`.%indeed'~";
    assert_eq!(m.method(), method);
    assert_eq!(m.cseq().method, method);
    let ruri = sip(m.request_uri().unwrap());
    assert_eq!(
        ruri.user(),
        Some("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*")
    );
    assert_eq!(
        ruri.password(),
        Some("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)")
    );
    assert_eq!(ruri.host(), &Host::Name("example.com"));
    assert_eq!(m.via()[0].branch(), Some("z9hG4bK-.!%66*_+`'~"));
    assert_eq!(m.to().display_name(), Some("BEL:\x07 NUL:\0 DEL:\x7F"));
    assert_eq!(
        sip(m.to().uri()).user(),
        Some("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*")
    );
    assert_eq!(
        m.from().display_name(),
        Some("token1~` token2'+_ token3*%!.-")
    );
    assert_eq!(m.from().tag(), Some("_token~1'+`*%!-."));
    let param = m.from().param("fromParam''~+*_!.-%").unwrap();
    assert!(param.is_quoted());
    assert_eq!(
        param.value().as_deref(),
        Some("\u{0440}\u{0430}\u{0431}\u{043e}\u{0442}\u{0430}\u{044e}\u{0449}\u{0438}\u{0439}")
    );
    assert_eq!(m.call_id(), "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{");
    assert_eq!(
        m.header_values_by_name("extensionHeader-!.%*+_`'~")
            .collect::<Vec<_>>(),
        ["\u{FEFF}\u{5927}\u{505C}\u{96FB}"]
    );
});

// 3.1.1.3 Valid Use of the % Escaping Mechanism.
valid!(esc01, "esc01", |m, _bytes| {
    let ruri = sip(m.request_uri().unwrap());
    assert_eq!(ruri.user(), Some("sips%3Auser%40example.com"));
    assert_eq!(
        ruri.user_decoded().as_deref(),
        Some(&b"sips:user@example.com"[..])
    );
    assert_eq!(ruri.host(), &Host::Name("example.net"));
    assert_eq!(
        sip(m.to().uri()).user_decoded().as_deref(),
        Some(&b"user"[..])
    );
    assert_eq!(
        sip(m.from().uri()).user_decoded().as_deref(),
        Some(&b"I have spaces"[..])
    );
    assert_eq!(m.call_id(), "esc01.239409asdfakjkn23onasd0-3234");
    assert!(m.content_type().unwrap().is("application", "sdp"));
    let Some(Contacts::List(contacts)) = m.contact() else {
        panic!("contact")
    };
    let contact = sip(contacts[0].uri());
    assert_eq!(contact.user_decoded().as_deref(), Some(&b"caller"[..]));
    let params: Vec<_> = contact
        .params()
        .iter()
        .map(|p| (p.name(), p.raw_value()))
        .collect();
    assert_eq!(
        params,
        [("%6C%72", None), ("n%61me", Some("v%61lue%25%34%31"))]
    );
});

// 3.1.1.4 Escaped Nulls in URIs.
valid!(escnull, "escnull", |m, _bytes| {
    assert_eq!(
        sip(m.to().uri()).user_decoded().as_deref(),
        Some(&b"null-\0-null"[..])
    );
    let Some(Contacts::List(contacts)) = m.contact() else {
        panic!("contact")
    };
    let users: Vec<_> = contacts
        .iter()
        .map(|c| sip(c.uri()).user_decoded().unwrap().into_owned())
        .collect();
    assert_eq!(users, [b"\0".to_vec(), b"\0\0".to_vec()]);
    assert_eq!(m.content_length(), Some(0));
});

// 3.1.1.5 Use of % When It Is Not an Escape.
valid!(esc02, "esc02", |m, _bytes| {
    assert_eq!(m.method(), "RE%47IST%45R");
    assert_eq!(m.to().display_name(), Some("%Z%45"));
    assert_eq!(m.via()[0].branch(), Some("z9hG4bK209%fzsnel234"));
    // "C%6Fntact" is an unknown header, not a Contact.
    let Some(Contacts::List(contacts)) = m.contact() else {
        panic!("contact")
    };
    assert_eq!(contacts.len(), 2);
    assert_eq!(
        m.header_values_by_name("C%6Fntact").collect::<Vec<_>>(),
        ["<sip:alias2@host2.example.com>"]
    );
});

// 3.1.1.6 Message with No LWS between Display Name and <.
valid!(lwsdisp, "lwsdisp", |m, _bytes| {
    assert_eq!(m.from().display_name(), Some("caller"));
    assert_eq!(sip(m.from().uri()).user(), Some("caller"));
    assert_eq!(m.from().tag(), Some("323"));
});

// 3.1.1.7 Long Values in Header Fields.
valid!(longreq, "longreq", |m, _bytes| {
    assert_eq!(m.via().len(), 34);
    assert_eq!(m.via()[0].host(), &Host::Name("sip33.example.com"));
    let last = &m.via()[33];
    assert_eq!(last.received(), Some("192.0.2.5"));
    assert_eq!(last.branch().map(str::len), Some(215));
    assert_eq!(sip(m.to().uri()).port(), Some(6000));
    assert_eq!(m.to().display_name().map(str::len), Some(103));
    assert_eq!(m.from().tag().map(str::len), Some(155));
    assert_eq!(m.content_length(), Some(150));
});

// 3.1.1.8 Extra Trailing Octets in a UDP Datagram: the first message only.
valid!(dblreq, "dblreq", |m, bytes| {
    assert_eq!(m.method(), "REGISTER");
    assert_eq!(m.call_id(), "dblreq.0ha0isndaksdj99sdfafnl3lk233412");
    assert_eq!(m.body(), b"");
    // On a stream the rest is the next message.
    let Ok(Status::Complete(first, used)) = Message::parse_stream(&bytes) else {
        panic!("stream")
    };
    assert_eq!(first.method(), "REGISTER");
    let Ok(Status::Complete(second, _)) = Message::parse_stream(&bytes[used..]) else {
        panic!("second")
    };
    assert_eq!(second.method(), "INVITE");
    assert_eq!(second.to().uri().as_str(), "sip:joe@example.com");
});

// 3.1.1.9 Semicolon-Separated Parameters in URI User Part.
valid!(semiuri, "semiuri", |m, _bytes| {
    let ruri = sip(m.request_uri().unwrap());
    assert_eq!(ruri.user(), Some("user;par=u%40example.net"));
    assert_eq!(ruri.host(), &Host::Name("example.com"));
    assert!(ruri.params().is_empty());
    assert_eq!(
        m.header_values(HeaderName::Accept)
            .collect::<Vec<_>>()
            .len(),
        1
    );
});

// 3.1.1.10 Varied and Unknown Transport Types.
valid!(transports, "transports", |m, _bytes| {
    let transports: Vec<_> = m.via().iter().map(|v| v.transport()).collect();
    assert_eq!(transports, ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]);
});

// 3.1.1.11 Multipart MIME Message.
valid!(mpart01, "mpart01", |m, _bytes| {
    assert_eq!(m.method(), "MESSAGE");
    assert_eq!(m.via()[0].rport(), Some(None));
    let ct = m.content_type().unwrap();
    assert!(ct.is("multipart", "mixed"));
    assert_eq!(
        ct.param("boundary").unwrap().raw_value(),
        Some("7a9cbec02ceef655")
    );
    assert_eq!(m.body().len(), 553);
    assert!(m.body().starts_with(b"--7a9cbec02ceef655\r\n"));
});

// 3.1.1.12 Unusual Reason Phrase.
valid!(unreason, "unreason", |m, _bytes| {
    assert_eq!(m.status_code(), Some(200));
    let reason = m.reason().unwrap();
    assert!(reason.starts_with("= 2**3 * 5**2 \u{043d}\u{043e} "));
    assert!(reason.ends_with("\u{043f}\u{0440}\u{043e}\u{0441}\u{0442}\u{043e}\u{0435}"));
    assert_eq!(m.method(), "INVITE");
});

// 3.1.1.13 Empty Reason Phrase.
valid!(noreason, "noreason", |m, _bytes| {
    assert_eq!(
        m.start_line(),
        &StartLine::Response {
            code: 100,
            reason: ""
        }
    );
});

// 3.1.2.1 Extraneous Header Field Separators: empty Via parameter.
invalid!(
    badinv01,
    "badinv01",
    unexpected(';', Expected::ParamName),
    |b| at(&b, "192.0.2.15;;", 11)
);

// 3.1.2.2 Content Length Larger Than Message.
invalid!(
    clerr,
    "clerr",
    SipErrorKind::BodyTruncated {
        declared: 9999,
        available: 154
    },
    |b| b.len() - 154
);

// 3.1.2.3 Negative Content-Length.
invalid!(ncl, "ncl", unexpected('-', Expected::Digit), |b| at(
    &b, "-999", 0
));

// 3.1.2.4 Request Scalar Fields with Overlarge Values: the CSeq comes first.
invalid!(
    scalar02,
    "scalar02",
    SipErrorKind::OutOfRange { field: Field::CSeq },
    |b| at(&b, "36893488147419103232", 0)
);

// 3.1.2.5 Response Scalar Fields with Overlarge Values.
invalid!(
    scalarlg,
    "scalarlg",
    SipErrorKind::OutOfRange { field: Field::CSeq },
    |b| at(&b, "9292394834772304023312", 0)
);

// 3.1.2.6 Unterminated Quoted String in Display Name.
invalid!(quotbal, "quotbal", SipErrorKind::UnterminatedQuote, |b| at(
    &b,
    "\"Mr. J. User",
    0
));

// 3.1.2.7 <> Enclosing Request-URI.
invalid!(
    ltgtruri,
    "ltgtruri",
    unexpected('<', Expected::RequestUri),
    |_b| 7
);

// 3.1.2.8 Malformed SIP Request-URI (embedded LWS).
invalid!(
    lwsruri,
    "lwsruri",
    unexpected(' ', Expected::ParamName),
    |b| at(&b, "; lr", 1)
);

// 3.1.2.9 Multiple SP Separating Request-Line Elements.
invalid!(
    lwsstart,
    "lwsstart",
    unexpected(' ', Expected::RequestUri),
    |_b| 7
);

// 3.1.2.10 SP Characters at End of Request-Line.
invalid!(trws, "trws", unexpected(' ', Expected::Crlf), |b| at(
    &b,
    "SIP/2.0  ",
    7
));

// 3.1.2.11 Escaped Headers in SIP Request-URI.
invalid!(escruri, "escruri", SipErrorKind::HeadersInRequestUri, |b| {
    at(&b, "?Route", 0)
});

// 3.1.2.13 Failure to Enclose name-addr URI in <>.
invalid!(
    regbadct,
    "regbadct",
    SipErrorKind::UnbracketedUriHeaders,
    |b| at(&b, "?Route", 0)
);

// 3.1.2.14 Spaces within addr-spec.
invalid!(
    badaspec,
    "badaspec",
    unexpected(' ', Expected::Uri),
    |b| at(&b, "< sip:t.watson", 1)
);

// 3.1.2.15 Non-token Characters in Display Name. The datagram also lacks the
// empty line ending the headers, which is found first; with it added, the
// display name is refused.
invalid!(
    baddn,
    "baddn",
    SipErrorKind::UnexpectedEnd {
        expected: Expected::EmptyLine
    },
    |b| b.len()
);

#[test]
fn baddn_display_name() {
    let mut bytes = fixture("baddn");
    bytes.extend_from_slice(b"\r\n");
    let error = Message::parse_datagram(&bytes).unwrap_err();
    assert_eq!(error.kind(), &unexpected(',', Expected::LAngle));
    assert_eq!(error.offset(), at(&bytes, "Bell, Alexander", 4));
}

// 3.1.2.16 Unknown Protocol Version: 505, not 400.
invalid!(
    badvers,
    "badvers",
    SipErrorKind::UnsupportedVersion,
    |b| at(&b, "SIP/7.0", 0)
);

#[test]
fn badvers_is_505() {
    let error = Message::parse_datagram(&fixture("badvers")).unwrap_err();
    assert_eq!(error.status_code(), 505);
}

// 3.1.2.17 Start Line and CSeq Method Mismatch.
invalid!(
    mismatch01,
    "mismatch01",
    SipErrorKind::CSeqMethodMismatch,
    |b| at(&b, "8 INVITE", 0)
);

// 3.1.2.18 Unknown Method with CSeq Method Mismatch.
invalid!(
    mismatch02,
    "mismatch02",
    SipErrorKind::CSeqMethodMismatch,
    |b| at(&b, "8 INVITE", 0)
);

// 3.1.2.19 Overlarge Response Code.
invalid!(
    bigcode,
    "bigcode",
    SipErrorKind::OutOfRange {
        field: Field::StatusCode
    },
    |_b| 8
);

// 3.1.2.12 Invalid Time Zone in Date Header Field: accepted. RFC 4475 says
// an element should not reject it unless Date matters to its processing,
// and cpim never reads Date.
valid!(baddate, "baddate", |m, _bytes| {
    assert_eq!(
        m.header_values(HeaderName::Date).collect::<Vec<_>>(),
        ["Fri, 01 Jan 2010 16:00:00 EST"]
    );
});

// 3.2.1 Missing Transaction Identifier: parses; the branch is the bare
// cookie, so it cannot identify a transaction.
valid!(badbranch, "badbranch", |m, _bytes| {
    assert_eq!(m.via()[0].branch(), Some("z9hG4bK"));
    assert!(!m.via()[0].has_rfc3261_branch());
});

// 3.3.1 Missing Required Header Fields: refused (400).
invalid!(
    insuf,
    "insuf",
    SipErrorKind::MissingHeader {
        name: HeaderName::To
    },
    |b| at(&b, "\r\n\r\n", 0)
);

// 3.3.2 Request-URI with Unknown Scheme: parses; the binding answers 416.
valid!(unkscm, "unkscm", |m, _bytes| {
    let Some(Uri::Other(uri)) = m.request_uri() else {
        panic!("uri")
    };
    assert_eq!(uri.scheme(), "nobodyKnowsThisScheme");
    assert_eq!(uri.rest(), "totallyopaquecontent");
});

// 3.3.3 Request-URI with Known but Atypical Scheme.
valid!(novelsc, "novelsc", |m, _bytes| {
    assert_eq!(m.request_uri().unwrap().scheme(), "soap.beep");
});

// 3.3.4 Unknown URI Schemes in Header Fields.
valid!(unksm2, "unksm2", |m, _bytes| {
    assert_eq!(m.to().uri().scheme(), "isbn");
    assert_eq!(m.from().uri().as_str(), "http://www.example.com");
    let Some(Contacts::List(contacts)) = m.contact() else {
        panic!("contact")
    };
    assert_eq!(contacts[0].uri().as_str(), "name:John_Smith");
});

// 3.3.5 Proxy-Require and Require: kept for the layer above (420).
valid!(bext01, "bext01", |m, _bytes| {
    assert_eq!(
        m.header_values(HeaderName::Require).collect::<Vec<_>>(),
        ["nothingSupportsThis, nothingSupportsThisEither"]
    );
    assert_eq!(
        m.tokens(HeaderName::ProxyRequire).unwrap(),
        ["noProxiesSupportThis", "norDoAnyProxiesSupportThis"]
    );
    assert_eq!(
        m.tokens(HeaderName::Require).unwrap(),
        ["nothingSupportsThis", "nothingSupportsThisEither"]
    );
    assert_eq!(m.tokens(HeaderName::Supported).unwrap(), Vec::<&str>::new());
});

// 3.3.6 Unknown Content-Type: parses (415 is the binding's decision).
valid!(invut, "invut", |m, _bytes| {
    assert!(m.content_type().unwrap().is("application", "unknownformat"));
    assert_eq!(m.body().len(), 40);
});

// 3.3.7 Unknown Authorization Scheme.
valid!(regaut01, "regaut01", |m, _bytes| {
    let auth = &m.authorization()[0];
    assert_eq!(auth.scheme(), "NoOneKnowsThisScheme");
    assert!(!auth.is_digest());
    assert_eq!(auth.param("opaque-data"), Some(Cow::Borrowed("here")));
});

// 3.3.8 Multiple Values in Single Value Required Fields: refused at the
// second CSeq.
invalid!(
    multi01,
    "multi01",
    SipErrorKind::DuplicateHeader {
        name: HeaderName::CSeq
    },
    |b| at(&b, "CSeq: 59", 0)
);

// 3.3.9 Multiple Content-Length Values.
invalid!(
    mcl01,
    "mcl01",
    SipErrorKind::DuplicateHeader {
        name: HeaderName::ContentLength
    },
    |b| at(&b, "Content-Length: 5", 0)
);

// 3.3.10 200 OK Response with Broadcast Via Header Field Value: parses; the
// transaction layer finds no transaction for it.
valid!(bcast, "bcast", |m, _bytes| {
    assert_eq!(
        m.via()[1].host(),
        &Host::Ipv4(std::net::Ipv4Addr::BROADCAST)
    );
});

// 3.3.11 Max-Forwards of Zero.
valid!(zeromf, "zeromf", |m, _bytes| {
    assert_eq!(m.max_forwards(), Some(0));
});

// 3.3.12 REGISTER with a Contact Header Parameter.
valid!(cparam01, "cparam01", |m, _bytes| {
    let Some(Contacts::List(contacts)) = m.contact() else {
        panic!("contact")
    };
    assert!(!contacts[0].is_bracketed());
    assert!(contacts[0].param("unknownparam").is_some());
    assert!(sip(contacts[0].uri()).params().is_empty());
    assert_eq!(sip(contacts[0].uri()).user(), Some("+19725552222"));
});

// 3.3.13 REGISTER with a url-parameter.
valid!(cparam02, "cparam02", |m, _bytes| {
    let Some(Contacts::List(contacts)) = m.contact() else {
        panic!("contact")
    };
    assert!(contacts[0].params().is_empty());
    assert!(sip(contacts[0].uri()).param("unknownparam").is_some());
});

// 3.3.14 REGISTER with a URL Escaped Header.
valid!(regescrt, "regescrt", |m, _bytes| {
    let Some(Contacts::List(contacts)) = m.contact() else {
        panic!("contact")
    };
    let uri = sip(contacts[0].uri());
    assert_eq!(uri.headers(), [("Route", "%3Csip:sip.example.com%3E")]);
    let decoded = uri.header_values();
    assert_eq!(decoded[0].1.as_ref(), b"<sip:sip.example.com>");
});

// 3.3.15 Unacceptable Accept Offering.
valid!(sdp01, "sdp01", |m, _bytes| {
    assert_eq!(
        m.header_values(HeaderName::Accept).collect::<Vec<_>>(),
        ["text/nobodyKnowsThis"]
    );
});

// 3.4.1 INVITE with RFC 2543 Syntax: accepted. No branch, no Max-Forwards,
// no Content-Length (the body is the rest of the datagram).
valid!(inv2543, "inv2543", |m, bytes| {
    assert_eq!(m.via()[0].branch(), None);
    assert_eq!(m.max_forwards(), None);
    assert_eq!(m.content_length(), None);
    assert_eq!(m.to().tag(), None);
    // Without <>, ";user=phone" is a To parameter, not a URI parameter.
    assert_eq!(m.to().param("user").unwrap().raw_value(), Some("phone"));
    assert!(sip(m.to().uri()).params().is_empty());
    assert_eq!(m.record_route().len(), 1);
    assert_eq!(m.body(), &bytes[at(&bytes, "\r\n\r\n", 4)..]);
});

#[test]
fn inv2543_needs_content_length_on_a_stream() {
    let bytes = fixture("inv2543");
    let error: SipError = Message::parse_stream(&bytes).unwrap_err();
    assert_eq!(
        error.kind(),
        &SipErrorKind::MissingHeader {
            name: HeaderName::ContentLength
        }
    );
}

#[test]
fn every_fixture_has_a_test() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/sip");
    let source = include_str!("rfc4475_torture.rs");
    let mut count = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "dat") {
            let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
            assert!(source.contains(&format!("\"{stem}\"")), "{stem} untested");
            count += 1;
        }
    }
    assert_eq!(count, 49);
}
