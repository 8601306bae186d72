//! RFC 3261 s7, s19.1, s20, s25 message syntax beyond the RFC 4475
//! messages: SIP URIs, compact forms, multi-value headers, each typed
//! header, limits, stream framing, and the builders. Valid inputs are
//! checked part by part; invalid ones give the exact error and byte.
#![allow(clippy::unwrap_used)]

use cpim_sip::headers::Contacts;
use cpim_sip::{
    BuildError, Expected, Field, HeaderName, Host, Limits, Message, RequestBuilder,
    ResponseBuilder, SipErrorKind, SipUri, StartLine, Status, Uri,
};

fn unexpected(found: char, expected: Expected) -> SipErrorKind {
    SipErrorKind::Unexpected { found, expected }
}

fn end(expected: Expected) -> SipErrorKind {
    SipErrorKind::UnexpectedEnd { expected }
}

/// `uri_ok!(name, input, |uri| checks)`
macro_rules! uri_ok {
    ($name:ident, $input:expr, |$u:ident| $body:block) => {
        #[test]
        fn $name() {
            let $u = SipUri::parse($input).unwrap();
            $body
            assert_eq!($u.to_string(), $input);
        }
    };
}

/// `uri_err!(name, input, kind, offset)`
macro_rules! uri_err {
    ($name:ident, $input:expr, $kind:expr, $offset:expr) => {
        #[test]
        fn $name() {
            let error = Uri::parse($input).unwrap_err();
            assert_eq!(error.kind(), &$kind, "{error}");
            assert_eq!(error.offset(), $offset, "{error}");
        }
    };
}

uri_ok!(
    uri_full,
    "sips:alice:pw@Example.COM:5061;transport=tcp;lr?subject=hi&x=",
    |u| {
        assert_eq!(u.scheme(), cpim_sip::uri::SipScheme::Sips);
        assert_eq!(u.user(), Some("alice"));
        assert_eq!(u.password(), Some("pw"));
        assert_eq!(u.host(), &Host::Name("Example.COM"));
        assert_eq!(u.port(), Some(5061));
        assert_eq!(u.param("TRANSPORT").unwrap().raw_value(), Some("tcp"));
        assert_eq!(u.param("lr").unwrap().raw_value(), None);
        assert_eq!(u.headers(), [("subject", "hi"), ("x", "")]);
    }
);

uri_ok!(uri_host_only, "sip:example.com", |u| {
    assert_eq!(u.user(), None);
    assert_eq!(u.port(), None);
});

uri_ok!(uri_ipv4, "sip:bob@192.0.2.4:5060", |u| {
    assert_eq!(u.host(), &Host::Ipv4("192.0.2.4".parse().unwrap()));
});

uri_ok!(uri_ipv6, "sip:bob@[2001:db8::10]:5070", |u| {
    assert_eq!(u.host(), &Host::Ipv6("2001:db8::10".parse().unwrap()));
    assert_eq!(u.port(), Some(5070));
});

uri_ok!(uri_escaped_user, "sip:a%40b%20c@example.com", |u| {
    assert_eq!(u.user_decoded().as_deref(), Some(&b"a@b c"[..]));
});

uri_ok!(
    uri_telephone_user,
    "sip:+1-212-555-1212:1234@gateway.com;user=phone",
    |u| {
        assert_eq!(u.user(), Some("+1-212-555-1212"));
        assert_eq!(u.password(), Some("1234"));
    }
);

#[test]
fn other_schemes_are_kept() {
    let uri = Uri::parse("tel:+1-201-555-0123").unwrap();
    assert_eq!(uri.scheme(), "tel");
    assert!(uri.as_sip().is_none());
    assert_eq!(Uri::parse("im:fred@example.com").unwrap().scheme(), "im");
    assert_eq!(
        Uri::parse("pres:fred@example.com").unwrap().to_string(),
        "pres:fred@example.com"
    );
}

uri_err!(
    uri_bad_escape,
    "sip:a%4@example.com",
    SipErrorKind::BadEscape,
    5
);
uri_err!(
    uri_space_in_user,
    "sip:a b@example.com",
    unexpected(' ', Expected::User),
    5
);
uri_err!(
    uri_empty_user,
    "sip:@example.com",
    unexpected('@', Expected::User),
    4
);
uri_err!(uri_no_host, "sip:alice@", end(Expected::Host), 10);
uri_err!(
    uri_empty_label,
    "sip:a..b",
    unexpected('.', Expected::Host),
    6
);
uri_err!(
    uri_port_too_big,
    "sip:a@b:70000",
    SipErrorKind::OutOfRange { field: Field::Port },
    8
);
uri_err!(uri_port_missing, "sip:a@b:", end(Expected::Digit), 8);
uri_err!(
    uri_empty_param,
    "sip:a@b;;lr",
    unexpected(';', Expected::ParamName),
    8
);
uri_err!(
    uri_header_no_equals,
    "sip:a@b?subject",
    end(Expected::Equals),
    15
);
uri_err!(
    uri_no_scheme,
    "alice@example.com",
    unexpected('@', Expected::Colon),
    5
);
uri_err!(
    uri_bad_ipv6,
    "sip:[::g]",
    unexpected('g', Expected::Host),
    7
);
uri_err!(
    uri_bad_ipv6_address,
    "sip:[1:2]",
    unexpected('[', Expected::Host),
    4
);
uri_err!(
    uri_trailing,
    "sip:a@b>",
    unexpected('>', Expected::EndOfValue),
    7
);

const HEAD: &str = "MESSAGE sip:bob@example.com SIP/2.0\r\n\
    Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1\r\n\
    From: <sip:alice@example.com>;tag=1\r\n\
    To: <sip:bob@example.com>\r\n\
    Call-ID: c@a\r\n\
    CSeq: 1 MESSAGE\r\n";

/// A MESSAGE with `extra` header lines and no body.
fn with(extra: &str) -> Vec<u8> {
    format!("{HEAD}{extra}Content-Length: 0\r\n\r\n").into_bytes()
}

/// `header_err!(name, extra_lines, kind, needle, skip)`: the offset is
/// where `needle` is in the message, plus `skip`.
macro_rules! header_err {
    ($name:ident, $extra:expr, $kind:expr, $needle:expr, $skip:expr) => {
        #[test]
        fn $name() {
            let bytes = with($extra);
            let error = Message::parse_datagram(&bytes).unwrap_err();
            let text = String::from_utf8_lossy(&bytes);
            let at = text.find($needle).expect("needle") + $skip;
            assert_eq!(error.kind(), &$kind, "{error}");
            assert_eq!(error.offset(), at, "{error}");
        }
    };
}

#[test]
fn compact_forms_and_any_case() {
    let bytes = b"SUBSCRIBE sip:bob@example.com SIP/2.0\r\n\
        v: SIP/2.0/TCP a.example.com:5070;branch=z9hG4bKc;rport=5071;received=192.0.2.1\r\n\
        F: \"Alice\" <sip:alice@example.com>;tag=1\r\n\
        t: Bob <sip:bob@example.com>\r\n\
        I: c@a\r\n\
        cseq: 4 SUBSCRIBE\r\n\
        m: <sip:alice@192.0.2.1>;expires=600\r\n\
        o: presence;id=7\r\n\
        U: presence, message-summary\r\n\
        k: eventlist\r\n\
        s: hello\r\n\
        e: gzip\r\n\
        C: application/pidf+xml;charset=UTF-8\r\n\
        X-Custom: kept\r\n\
        L: 3\r\n\r\nabc";
    let m = Message::parse_datagram(bytes).unwrap();
    let known: Vec<_> = m.headers().iter().map(|h| h.known()).collect();
    assert_eq!(
        known,
        [
            Some(HeaderName::Via),
            Some(HeaderName::From),
            Some(HeaderName::To),
            Some(HeaderName::CallId),
            Some(HeaderName::CSeq),
            Some(HeaderName::Contact),
            Some(HeaderName::Event),
            Some(HeaderName::AllowEvents),
            Some(HeaderName::Supported),
            Some(HeaderName::Subject),
            Some(HeaderName::ContentEncoding),
            Some(HeaderName::ContentType),
            None,
            Some(HeaderName::ContentLength),
        ]
    );
    let via = &m.via()[0];
    assert_eq!(via.transport(), "TCP");
    assert_eq!(
        (via.host(), via.port()),
        (&Host::Name("a.example.com"), Some(5070))
    );
    assert_eq!(via.rport(), Some(Some(5071)));
    assert_eq!(via.received(), Some("192.0.2.1"));
    assert!(via.has_rfc3261_branch());
    assert_eq!(m.from().display_name(), Some("Alice"));
    assert_eq!(m.to().display_name(), Some("Bob"));
    assert_eq!(m.to().tag(), None);
    assert_eq!(m.call_id(), "c@a");
    let Some(Contacts::List(contacts)) = m.contact() else {
        panic!()
    };
    assert_eq!(contacts[0].expires(), Some(600));
    assert_eq!(m.event().unwrap().package(), "presence");
    assert_eq!(m.event().unwrap().id(), Some("7"));
    let ct = m.content_type().unwrap();
    assert!(ct.is("Application", "PIDF+XML"));
    assert_eq!(ct.param("charset").unwrap().raw_value(), Some("UTF-8"));
    assert_eq!(m.body(), b"abc");
    assert_eq!(
        m.header_values_by_name("x-custom").collect::<Vec<_>>(),
        ["kept"]
    );
    assert_eq!(HeaderName::CallId.compact(), Some('i'));
    assert_eq!(HeaderName::CSeq.compact(), None);
}

#[test]
fn lists_split_on_commas_outside_quotes_and_brackets() {
    let bytes = with(
        "Contact: \"Smith, J\" <sip:a,b@x.example.com>;q=0.5, <sip:c@y.example.com>\r\n\
         Contact: sip:d@z.example.com;expires=0\r\n\
         Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>\r\n\
         Record-Route: <sip:rr.example.com;lr>\r\n\
         Allow: MESSAGE, SUBSCRIBE,NOTIFY , PUBLISH\r\n\
         Allow: OPTIONS\r\n",
    );
    let m = Message::parse_datagram(&bytes).unwrap();
    let Some(Contacts::List(contacts)) = m.contact() else {
        panic!()
    };
    assert_eq!(contacts.len(), 3);
    assert_eq!(contacts[0].display_name(), Some("Smith, J"));
    assert_eq!(contacts[0].uri().as_sip().unwrap().user(), Some("a,b"));
    assert_eq!(contacts[0].q(), Some("0.5"));
    assert_eq!(contacts[2].expires(), Some(0));
    let route: Vec<_> = m.route().iter().map(|r| r.uri().to_string()).collect();
    assert_eq!(route, ["sip:p1.example.com;lr", "sip:p2.example.com;lr"]);
    assert_eq!(m.record_route().len(), 1);
    assert_eq!(
        m.allow().unwrap(),
        ["MESSAGE", "SUBSCRIBE", "NOTIFY", "PUBLISH", "OPTIONS"]
    );
}

#[test]
fn token_lists_are_read_on_demand() {
    let bytes = with("Supported: eventlist,\r\n 100rel\r\nSupported: path\r\nRequire: a b\r\n");
    let m = Message::parse_datagram(&bytes).unwrap();
    assert_eq!(
        m.tokens(HeaderName::Supported).unwrap(),
        ["eventlist", "100rel", "path"]
    );
    let error = m.tokens(HeaderName::Require).unwrap_err();
    assert_eq!(error.kind(), &unexpected('b', Expected::EndOfValue));
    let text = String::from_utf8_lossy(&bytes);
    assert_eq!(error.offset(), text.find("a b").unwrap() + 2);
}

#[test]
fn contact_wildcard_and_expires() {
    let bytes = with("Contact: *\r\nExpires: 0\r\n");
    let m = Message::parse_datagram(&bytes).unwrap();
    assert_eq!(m.contact(), Some(&Contacts::Wildcard));
    assert_eq!(m.expires(), Some(0));
}

#[test]
fn presence_and_publication_headers() {
    let bytes = with(
        "Event: presence\r\n\
         Subscription-State: active;expires=3600\r\n\
         SIP-ETag: dx200xyz\r\n\
         SIP-If-Match: kwj449x\r\n",
    );
    let m = Message::parse_datagram(&bytes).unwrap();
    assert_eq!(m.event().unwrap().package(), "presence");
    let state = m.subscription_state().unwrap();
    assert_eq!((state.state(), state.expires()), ("active", Some(3600)));
    assert_eq!(m.sip_etag(), Some("dx200xyz"));
    assert_eq!(m.sip_if_match(), Some("kwj449x"));
    let bytes = with("Subscription-State: terminated;reason=timeout;retry-after=30\r\n");
    let m = Message::parse_datagram(&bytes).unwrap();
    let state = m.subscription_state().unwrap();
    assert_eq!(state.reason(), Some("timeout"));
    assert_eq!(state.retry_after(), Some(30));
}

#[test]
fn digest_challenge_and_credentials() {
    let bytes = with(
        "WWW-Authenticate: Digest realm=\"atlanta.com\",\r\n \
         domain=\"sip:ss1.carrier.com\", qop=\"auth\",\r\n \
         nonce=\"f84f1cec41e6cbe5aea9c8e88d359\", opaque=\"\", stale=FALSE, algorithm=MD5\r\n\
         Proxy-Authorization: Digest username=\"Alice\", realm=\"atlanta.com\", \
         nonce=\"c60f3082ee1212b402a21831ae\", response=\"245f23415f11432b3434341c022\", \
         uri=\"sip:bob@biloxi.com\"\r\n",
    );
    let m = Message::parse_datagram(&bytes).unwrap();
    let challenge = &m.www_authenticate()[0];
    assert!(challenge.is_digest());
    assert_eq!(challenge.param("realm").unwrap(), "atlanta.com");
    assert_eq!(challenge.param("opaque").unwrap(), "");
    assert_eq!(challenge.param("stale").unwrap(), "FALSE");
    assert_eq!(challenge.params().len(), 7);
    let credentials = &m.proxy_authorization()[0];
    assert_eq!(credentials.param("username").unwrap(), "Alice");
    assert_eq!(credentials.param("uri").unwrap(), "sip:bob@biloxi.com");
}

#[test]
fn folding_and_white_space_around_separators() {
    let bytes = with(
        "Subject: I know you're there,\r\n pick up the phone\r\n\tand talk to me!\r\n\
         Max-Forwards :\r\n 70 \r\n",
    );
    let m = Message::parse_datagram(&bytes).unwrap();
    assert_eq!(
        m.header_values(HeaderName::Subject).collect::<Vec<_>>(),
        ["I know you're there,\r\n pick up the phone\r\n\tand talk to me!"]
    );
    assert_eq!(m.max_forwards(), Some(70));
}

header_err!(
    max_forwards_256,
    "Max-Forwards: 256\r\n",
    SipErrorKind::OutOfRange {
        field: Field::MaxForwards
    },
    "256",
    0
);
header_err!(
    expires_2_32,
    "Expires: 4294967296\r\n",
    SipErrorKind::OutOfRange {
        field: Field::Expires
    },
    "4294967296",
    0
);
header_err!(
    contact_expires_2_32,
    "Contact: <sip:a@b>;expires=4294967296\r\n",
    SipErrorKind::OutOfRange {
        field: Field::Expires
    },
    "4294967296",
    0
);
header_err!(
    state_expires_text,
    "Subscription-State: active;expires=soon\r\n",
    unexpected('s', Expected::Digit),
    "soon",
    0
);
header_err!(
    header_without_colon,
    "Foobar roobar\r\n",
    unexpected('r', Expected::Colon),
    "roobar",
    0
);
header_err!(
    header_name_not_token,
    "Bad@Name: x\r\n",
    unexpected('@', Expected::Colon),
    "@Name",
    0
);
header_err!(
    via_without_slash,
    "Via: SIP 2.0/UDP h\r\n",
    unexpected(' ', Expected::Slash),
    " 2.0/UDP h",
    0
);
header_err!(
    via_without_host,
    "Via: SIP/2.0/UDP ;branch=z9hG4bKx\r\n",
    unexpected(';', Expected::Host),
    ";branch=z9hG4bKx",
    0
);
header_err!(
    wildcard_with_contacts,
    "Contact: *\r\nContact: <sip:a@b>\r\n",
    SipErrorKind::DuplicateHeader {
        name: HeaderName::Contact
    },
    "Contact: <sip",
    0
);
header_err!(
    route_needs_brackets,
    "Route: sip:p.example.com\r\n",
    unexpected('s', Expected::LAngle),
    "sip:p.example",
    0
);
header_err!(
    unclosed_angle,
    "Route: <sip:p.example.com\r\n",
    end(Expected::RAngle),
    "Route: <",
    25
);
header_err!(
    cseq_without_method,
    "Event: a b\r\n",
    unexpected('b', Expected::EndOfValue),
    "a b",
    2
);
header_err!(
    etag_twice,
    "SIP-ETag: a\r\nSIP-ETag: b\r\n",
    SipErrorKind::DuplicateHeader {
        name: HeaderName::SipETag
    },
    "SIP-ETag: b",
    0
);
header_err!(
    from_twice_compact,
    "f: <sip:x@y>\r\n",
    SipErrorKind::DuplicateHeader {
        name: HeaderName::From
    },
    "f: <sip:x@y>",
    0
);
header_err!(
    content_type_no_subtype,
    "Content-Type: text\r\n",
    end(Expected::Slash),
    "text\r\n",
    4
);
header_err!(
    display_name_without_uri,
    "To: Bob\r\n",
    end(Expected::LAngle),
    "To: Bob",
    7
);

/// `message_err!(name, bytes, kind, offset)`
macro_rules! message_err {
    ($name:ident, $bytes:expr, $kind:expr, $offset:expr) => {
        #[test]
        fn $name() {
            let error = Message::parse_datagram($bytes).unwrap_err();
            assert_eq!(error.kind(), &$kind, "{error}");
            assert_eq!(error.offset(), $offset, "{error}");
        }
    };
}

message_err!(empty, b"", end(Expected::EmptyLine), 0);
message_err!(
    status_code_two_digits,
    b"SIP/2.0 99 Low\r\n\r\n",
    SipErrorKind::OutOfRange {
        field: Field::StatusCode
    },
    8
);
message_err!(
    status_code_700,
    b"SIP/2.0 700 High\r\n\r\n",
    SipErrorKind::OutOfRange {
        field: Field::StatusCode
    },
    8
);
message_err!(
    status_no_space,
    b"SIP/2.0 200\r\n\r\n",
    end(Expected::Sp),
    11
);
message_err!(
    version_garbage,
    b"SIP/x 200 OK\r\n\r\n",
    unexpected('x', Expected::SipVersion),
    4
);
message_err!(
    request_no_version,
    b"OPTIONS sip:a@b\r\n\r\n",
    end(Expected::Sp),
    15
);
message_err!(
    bare_lf,
    b"OPTIONS sip:a@b SIP/2.0\nVia: x\r\n\r\n",
    unexpected('\n', Expected::Crlf),
    23
);
message_err!(
    invalid_utf8,
    b"OPTIONS sip:a@b SIP/2.0\r\nSubject: \xff\r\n\r\n",
    SipErrorKind::InvalidUtf8,
    34
);
message_err!(
    method_not_token,
    b"OPT(IONS sip:a@b SIP/2.0\r\n\r\n",
    unexpected('(', Expected::Sp),
    3
);
message_err!(missing_via, b"OPTIONS sip:a@b SIP/2.0\r\nTo: <sip:a@b>\r\nFrom: <sip:c@d>;tag=1\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n\r\n", SipErrorKind::MissingHeader { name: HeaderName::Via }, 90);

#[test]
fn error_maps_to_one_status_code() {
    let malformed = Message::parse_datagram(b"SIP/2.0 99 Low\r\n\r\n").unwrap_err();
    assert_eq!(malformed.status_code(), 400);
    let limits = Limits {
        max_message: 10,
        ..Limits::default()
    };
    let large = Message::parse_datagram_with(&with(""), &limits).unwrap_err();
    assert_eq!(large.status_code(), 513);
    assert!(malformed.to_string().ends_with("at byte 8"));
}

#[test]
fn limits_each_have_their_error() {
    let bytes = with("Subject: a long subject line\r\nX-A: 1\r\nX-B: 2\r\n");
    let limits = Limits {
        max_message: 100,
        ..Limits::default()
    };
    let error = Message::parse_datagram_with(&bytes, &limits).unwrap_err();
    assert_eq!(error.kind(), &SipErrorKind::MessageTooLarge { limit: 100 });
    assert_eq!(error.offset(), 100);

    let limits = Limits {
        max_headers: 6,
        ..Limits::default()
    };
    let error = Message::parse_datagram_with(&bytes, &limits).unwrap_err();
    assert_eq!(error.kind(), &SipErrorKind::TooManyHeaders { limit: 6 });
    assert_eq!(
        error.offset(),
        HEAD.len() + "Subject: a long subject line\r\n".len()
    );

    // The start line has 35 bytes, the Via field 46.
    let limits = Limits {
        max_line: 40,
        ..Limits::default()
    };
    let error = Message::parse_datagram_with(&bytes, &limits).unwrap_err();
    assert_eq!(error.kind(), &SipErrorKind::LineTooLong { limit: 40 });
    assert_eq!(error.offset(), HEAD.find("Via:").unwrap());

    // On a stream, an over-long line is refused before the headers end.
    let limits = Limits {
        max_line: 40,
        ..Limits::default()
    };
    let partial = b"OPTIONS sip:a@b SIP/2.0\r\nSubject: 0123456789012345678901234567890123456789";
    let error = Message::parse_stream_with(partial, &limits).unwrap_err();
    assert_eq!(error.kind(), &SipErrorKind::LineTooLong { limit: 40 });
    assert_eq!(error.offset(), 25);
}

#[test]
fn stream_framing_by_content_length() {
    let one = format!("{HEAD}Content-Length: 5\r\n\r\nhello").into_bytes();
    // A CRLF before the start line is skipped (s7.5) and counted.
    let mut stream = b"\r\n".to_vec();
    stream.extend_from_slice(&one);
    stream.extend_from_slice(&one);
    // Every strict prefix of the first message is partial.
    for cut in 0..2 + one.len() {
        assert_eq!(
            Message::parse_stream(&stream[..cut]),
            Ok(Status::Partial),
            "cut at {cut}"
        );
    }
    let Ok(Status::Complete(first, used)) = Message::parse_stream(&stream) else {
        panic!()
    };
    assert_eq!(used, 2 + one.len());
    assert_eq!(first.body(), b"hello");
    let Ok(Status::Complete(second, used2)) = Message::parse_stream(&stream[used..]) else {
        panic!()
    };
    assert_eq!(used2, one.len());
    assert_eq!(second.call_id(), "c@a");
}

#[test]
fn double_crlf_is_a_keep_alive() {
    let mut stream = b"\r\n\r\n".to_vec();
    stream.extend_from_slice(&with(""));
    assert_eq!(Message::parse_stream(&stream[..2]), Ok(Status::Partial));
    assert_eq!(Message::parse_stream(&stream), Ok(Status::KeepAlive(4)));
    assert!(matches!(
        Message::parse_stream(&stream[4..]),
        Ok(Status::Complete(_, n)) if n == stream.len() - 4
    ));
}

#[test]
fn stream_refuses_what_will_never_fit() {
    let limits = Limits {
        max_message: 200,
        ..Limits::default()
    };
    let bytes = format!("{HEAD}Content-Length: 1000\r\n\r\n").into_bytes();
    let error = Message::parse_stream_with(&bytes, &limits).unwrap_err();
    assert_eq!(error.kind(), &SipErrorKind::MessageTooLarge { limit: 200 });
}

#[test]
fn request_builder_round_trips() {
    let bytes = RequestBuilder::new("MESSAGE", "sip:bob@example.com")
        .header("Via", "SIP/2.0/UDP a.example.com;branch=z9hG4bK77")
        .header("Max-Forwards", "70")
        .header("From", "\"Alice\" <sip:alice@example.com>;tag=9")
        .header("To", "<sip:bob@example.com>")
        .header("Call-ID", "b1@a.example.com")
        .header("CSeq", "1 MESSAGE")
        .body("message/cpim", b"body".to_vec())
        .build()
        .unwrap();
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(text.starts_with("MESSAGE sip:bob@example.com SIP/2.0\r\nVia: "));
    assert!(text.ends_with("Content-Type: message/cpim\r\nContent-Length: 4\r\n\r\nbody"));
    let m = Message::parse_datagram(&bytes).unwrap();
    assert_eq!(m.method(), "MESSAGE");
    assert_eq!(m.from().display_name(), Some("Alice"));
    assert!(m.content_type().unwrap().is("message", "cpim"));
    assert_eq!(m.body(), b"body");
    assert_eq!(m.to_bytes(), bytes);
}

#[test]
fn response_for_request_copies_the_dialog_headers() {
    let request = with("Via: SIP/2.0/UDP p.example.com;branch=z9hG4bK2;received=192.0.2.9\r\n");
    let request = Message::parse_datagram(&request).unwrap();
    let bytes = ResponseBuilder::for_request(&request, 200, "OK", Some("b7"))
        .build()
        .unwrap();
    let response = Message::parse_datagram(&bytes).unwrap();
    assert_eq!(
        response.start_line(),
        &StartLine::Response {
            code: 200,
            reason: "OK"
        }
    );
    assert_eq!(response.via(), request.via());
    assert_eq!(response.from(), request.from());
    assert_eq!(response.to().tag(), Some("b7"));
    assert_eq!(response.call_id(), request.call_id());
    assert_eq!(response.cseq(), request.cseq());
    assert_eq!(response.content_length(), Some(0));
}

#[test]
fn builders_refuse_what_would_not_parse() {
    let base = || RequestBuilder::new("MESSAGE", "sip:bob@example.com");
    assert_eq!(
        RequestBuilder::new("MES SAGE", "sip:b@c").build(),
        Err(BuildError::InvalidMethod)
    );
    assert!(matches!(
        RequestBuilder::new("MESSAGE", "<sip:b@c>").build(),
        Err(BuildError::InvalidUri(_))
    ));
    assert_eq!(
        base().header("Bad Name", "x").build(),
        Err(BuildError::InvalidHeaderName { index: 0 })
    );
    assert_eq!(
        base().header("Subject", "a\r\nInjected: 1").build(),
        Err(BuildError::InvalidHeaderValue { index: 0 })
    );
    assert_eq!(
        base().header("To", "<sip:a@b>").header("l", "3").build(),
        Err(BuildError::ContentLengthGiven { index: 1 })
    );
    assert_eq!(
        ResponseBuilder::new(99, "x").build(),
        Err(BuildError::InvalidStatusCode(99))
    );
    assert_eq!(
        ResponseBuilder::new(200, "O\nK").build(),
        Err(BuildError::InvalidReason)
    );
}
