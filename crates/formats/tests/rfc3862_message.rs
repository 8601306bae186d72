//! RFC 3862 (`message/cpim`): every example of the RFC, read from
//! testdata/message/, field by field and byte for byte; then invalid input
//! with the exact error and offset.

#![allow(clippy::unwrap_used)]

use cpim_formats::message::{
    ErrorKind, Form, Header, HeaderKind, Limits, Message, Understood, CORE_NAMESPACE,
};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../../testdata/message/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn headers(bytes: &[u8]) -> Vec<Header<'_>> {
    Message::parse_headers(bytes, &Limits::default()).unwrap()
}

fn names<'a>(headers: &[Header<'a>]) -> Vec<(&'a str, &'a str, &'a str)> {
    headers
        .iter()
        .map(|h| (h.namespace(), h.local_name(), h.value()))
        .collect()
}

// ---- Section 5.1: the whole example -------------------------------------

#[test]
fn s5_1_fields() {
    let bytes = fixture("s5_1_message.cpim");
    let m = Message::parse(&bytes).unwrap();
    assert_eq!(m.form(), Form::Mime);
    assert_eq!(m.mime_headers().len(), 1);
    assert_eq!(m.mime_headers()[0].name(), "Content-type");
    assert_eq!(m.mime_headers()[0].value(), b"Message/CPIM");

    let from = m.from().unwrap();
    assert_eq!(from.name().as_deref(), Some("MR SANDERS"));
    assert_eq!(from.uri(), "im:piglet@100akerwood.com");
    let to: Vec<_> = m
        .to()
        .map(|a| (a.name().unwrap().into_owned(), a.uri()))
        .collect();
    assert_eq!(
        to,
        [("Depressed Donkey".to_owned(), "im:eeyore@100akerwood.com")]
    );
    assert_eq!(m.cc().count(), 0);
    assert_eq!(m.datetime(), Some("2000-12-13T13:40:00-08:00"));
    let subjects: Vec<_> = m
        .subjects()
        .map(|h| (h.lang(), h.text().into_owned()))
        .collect();
    assert_eq!(
        subjects,
        [
            (None, "the weather will be fine today".to_owned()),
            (Some("fr"), "beau temps prevu pour aujourd'hui".to_owned()),
        ]
    );
    let ns: Vec<_> = m.namespaces().map(|n| (n.prefix, n.uri)).collect();
    assert_eq!(ns, [(Some("MyFeatures"), "mid:MessageFeatures@id.foo.com")]);
    let required: Vec<_> = m
        .required()
        .map(|r| (r.name, r.namespace, r.local))
        .collect();
    assert_eq!(
        required,
        [(
            "MyFeatures.VitalMessageOption",
            "mid:MessageFeatures@id.foo.com",
            "VitalMessageOption"
        )]
    );

    let all: Vec<_> = m.headers().iter().map(|h| (h.name(), h.value())).collect();
    assert_eq!(
        all,
        [
            ("From", "MR SANDERS <im:piglet@100akerwood.com>"),
            ("To", "Depressed Donkey <im:eeyore@100akerwood.com>"),
            ("DateTime", "2000-12-13T13:40:00-08:00"),
            ("Subject", "the weather will be fine today"),
            ("Subject", "beau temps prevu pour aujourd'hui"),
            ("NS", "MyFeatures <mid:MessageFeatures@id.foo.com>"),
            ("Require", "MyFeatures.VitalMessageOption"),
            ("MyFeatures.VitalMessageOption", "Confirmation-requested"),
            ("MyFeatures.WackyMessageOption", "Use-silly-font"),
        ]
    );
    let wacky = &m.headers()[8];
    assert_eq!(wacky.prefix(), Some("MyFeatures"));
    assert_eq!(wacky.local_name(), "WackyMessageOption");
    assert_eq!(wacky.namespace(), "mid:MessageFeatures@id.foo.com");
    assert_eq!(wacky.kind(), HeaderKind::Other);
    assert!(m.headers()[..8]
        .iter()
        .take(7)
        .all(|h| h.namespace() == CORE_NAMESPACE));
    assert_eq!(m.headers()[4].params(), ";lang=fr");
    assert_eq!(m.headers()[4].offset(), find(&bytes, b"Subject:;lang=fr"));

    let content = m.content();
    let ct = content.content_type().unwrap();
    assert_eq!(ct.name(), "Content-type");
    assert_eq!(ct.value(), b"text/xml; charset=utf-8");
    assert_eq!(content.headers()[1].name(), "Content-ID");
    assert_eq!(content.headers()[1].value(), b"<1234567890@foo.com>");
    assert_eq!(
        content.body(),
        b"<body>\r\nHere is the text of my message.\r\n</body>\r\n"
    );
    assert_eq!(&bytes[content.body_offset()..], content.body());
}

#[test]
fn s5_1_round_trip() {
    let bytes = fixture("s5_1_message.cpim");
    let m = Message::parse(&bytes).unwrap();
    assert_eq!(m.to_vec(), bytes);
    assert_eq!(m.encoded_len(), bytes.len());
}

#[test]
fn s5_1_require_refused_unless_understood() {
    let bytes = fixture("s5_1_message.cpim");
    let m = Message::parse(&bytes).unwrap();
    let err = m.check_require(&Understood::new()).unwrap_err();
    assert_eq!(
        err.kind(),
        &ErrorKind::NotUnderstood {
            name: "MyFeatures.VitalMessageOption".into(),
            namespace: "mid:MessageFeatures@id.foo.com".into(),
        }
    );
    let require_line = find(&bytes, b"Require: ");
    assert_eq!(err.offset(), require_line + "Require: ".len());
    assert_eq!(
        err.to_string(),
        format!(
            "required header MyFeatures.VitalMessageOption (namespace mid:MessageFeatures@id.foo.com) is not understood at byte {}",
            err.offset()
        )
    );

    let mut understood = Understood::new();
    understood
        .insert_qualified("mid:MessageFeatures@id.foo.com#VitalMessageOption")
        .unwrap();
    m.check_require(&understood).unwrap();

    // Understanding the name in another namespace is not enough.
    let mut other = Understood::new();
    other.insert("urn:example", "VitalMessageOption");
    assert!(m.check_require(&other).is_err());
}

fn find(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).position(|w| w == needle).unwrap()
}

// ---- Section 5.2: multipart/signed ---------------------------------------

#[test]
fn s5_2_signed() {
    let bytes = fixture("s5_2_signed.cpim");
    let m = Message::parse(&bytes).unwrap();
    assert_eq!(m.form(), Form::Signed);
    let signed = m.signed().unwrap();
    assert_eq!(signed.boundary(), "next");
    assert_eq!(signed.headers().len(), 1);
    assert_eq!(
        &*signed.headers()[0].unfolded(),
        b"multipart/signed; boundary=next;              micalg=sha1;              protocol=application/pkcs7-signature"
    );
    let start = find(&bytes, b"Content-Type: Message/CPIM");
    let end = find(&bytes, b"</body>") + "</body>".len();
    assert_eq!(signed.signed_bytes(), &bytes[start..end]);
    assert_eq!(
        signed.signature_part(),
        b"Content-Type: application/pkcs7-signature\r\n\r\n(signature stuff)"
    );
    assert_eq!(m.mime_headers()[0].value(), b"Message/CPIM");
    assert_eq!(
        m.to().next().unwrap().name().as_deref(),
        Some("Dopey Donkey")
    );
    assert_eq!(m.headers().len(), 9);
    assert_eq!(
        m.content().body(),
        b"<body>\r\nHere is the text of my message.\r\n</body>"
    );
    assert_eq!(m.to_vec(), bytes);
}

#[test]
fn s5_2_signed_part_is_a_message_of_its_own() {
    // The signature covers the first part: it parses alone as the MIME form
    // and writes back the same bytes, so a verifier sees what was signed.
    let bytes = fixture("s5_2_signed.cpim");
    let outer = Message::parse(&bytes).unwrap();
    let part = outer.signed().unwrap().signed_bytes();
    let inner = Message::parse(part).unwrap();
    assert_eq!(inner.form(), Form::Mime);
    let pairs = |m: &Message<'_>| -> Vec<(String, String)> {
        m.headers()
            .iter()
            .map(|h| (h.name().to_owned(), h.value().to_owned()))
            .collect()
    };
    assert_eq!(pairs(&inner), pairs(&outer));
    assert_eq!(inner.to_vec(), part);
}

// ---- Header examples (sections 2-4), as header blocks --------------------

#[test]
fn s2_2_headers() {
    let bytes = fixture("s2_2_headers.txt");
    let h = headers(&bytes);
    assert_eq!(h.len(), 3);
    let HeaderKind::To(to) = h[0].kind() else {
        panic!("{:?}", h[0].kind())
    };
    assert_eq!(
        (to.name().as_deref(), to.uri()),
        (Some("Pooh Bear"), "im:pooh@100akerwood.com")
    );
    let HeaderKind::From(from) = h[1].kind() else {
        panic!("{:?}", h[1].kind())
    };
    assert_eq!(
        (from.name(), from.uri()),
        (None, "im:piglet@100akerwood.com")
    );
    assert_eq!(h[2].kind(), HeaderKind::DateTime);
    assert_eq!(h[2].value(), "2001-02-02T10:48:54-05:00");
}

#[test]
fn s2_4_content() {
    // The example is an encapsulated object; behind an empty header block it
    // is a whole bare message.
    let mut bytes = b"\r\n".to_vec();
    bytes.extend(fixture("s2_4_content.txt"));
    let m = Message::parse(&bytes).unwrap();
    assert_eq!(m.form(), Form::Bare);
    assert!(m.headers().is_empty());
    assert_eq!(
        m.content().content_type().unwrap().value(),
        b"text/plain; charset=utf-8"
    );
    assert_eq!(
        m.content().body(),
        b"This is my encapsulated text message content\r\n"
    );
    assert_eq!(m.to_vec(), bytes);
}

#[test]
fn s3_3_subject_lang() {
    let bytes = fixture("s3_3_subject_lang.txt");
    let h = headers(&bytes);
    assert_eq!(h[0].kind(), HeaderKind::Subject);
    assert_eq!(h[0].lang(), Some("fr"));
    assert_eq!(h[0].text(), "Objet de message");
    assert_eq!(h[0].param_pairs().collect::<Vec<_>>(), [("lang", "fr")]);
}

#[test]
fn s3_4_prefix() {
    let bytes = fixture("s3_4_prefix.txt");
    let h = headers(&bytes);
    assert_eq!(
        names(&h),
        [
            (
                CORE_NAMESPACE,
                "NS",
                "MyFeatures <mid:MessageFeatures@id.foo.com>"
            ),
            (
                "mid:MessageFeatures@id.foo.com",
                "WackyMessageOption",
                "Use-silly-font"
            ),
        ]
    );
}

#[test]
fn s3_4_undeclared_prefix_is_refused() {
    // "A namespace prefix declaration MUST precede any use of that prefix."
    let bytes = fixture("s3_4_undeclared.txt");
    let err = Message::parse_headers(&bytes, &Limits::default()).unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::UndeclaredPrefix("xxx".into()));
    assert_eq!(err.offset(), 0);
}

#[test]
fn s3_4_three_spellings_mean_the_same() {
    let want = ("http://id.acme.widgets/wily-headers/", "runner-trap", "set");
    for name in ["s3_4_acme.txt", "s3_4_widget.txt", "s3_4_default.txt"] {
        let bytes = fixture(name);
        let h = headers(&bytes);
        assert_eq!(names(&h)[1], want, "{name}");
        assert_eq!(h[1].kind(), HeaderKind::Other, "{name}");
    }
}

#[test]
fn s3_5_require() {
    // The section 3.5 lines follow the NS declaration of section 3.4.
    let mut bytes = fixture("s3_4_prefix.txt");
    bytes.truncate(find(&bytes, b"\r\n") + 2);
    bytes.extend(fixture("s3_5_require.txt"));
    let h = headers(&bytes);
    let HeaderKind::Require(list) = h[1].kind() else {
        panic!("{:?}", h[1].kind())
    };
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].name, "MyFeatures.VitalMessageOption");
    assert_eq!(list[0].namespace, "mid:MessageFeatures@id.foo.com");
    assert_eq!(h[2].namespace(), list[0].namespace);
    assert_eq!(h[2].local_name(), list[0].local);
}

#[test]
fn s3_5_kanji() {
    // Alone, the prefix Locale is undeclared; declared, it names a feature
    // that a receiver must understand.
    let bytes = fixture("s3_5_kanji.txt");
    let err = Message::parse_headers(&bytes, &Limits::default()).unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::UndeclaredPrefix("Locale".into()));
    assert_eq!(err.offset(), "Require: ".len());

    let mut message = b"NS: Locale <urn:example:locale>\r\n".to_vec();
    message.extend(&bytes);
    message.extend(b"\r\nContent-Type: text/plain\r\n\r\n");
    let m = Message::parse(&message).unwrap();
    let err = m.check_require(&Understood::new()).unwrap_err();
    assert_eq!(
        err.kind(),
        &ErrorKind::NotUnderstood {
            name: "Locale.MustRenderKanji".into(),
            namespace: "urn:example:locale".into()
        }
    );
    let mut understood = Understood::new();
    understood.insert("urn:example:locale", "MustRenderKanji");
    m.check_require(&understood).unwrap();
}

#[test]
fn s4_1_to_s4_3_addresses() {
    for (file, name) in [
        ("s4_1_from.txt", "From"),
        ("s4_2_to.txt", "To"),
        ("s4_3_cc.txt", "cc"),
    ] {
        let bytes = fixture(file);
        let h = headers(&bytes);
        let parties: Vec<_> = h
            .iter()
            .map(|h| {
                assert_eq!(h.name(), name);
                match h.kind() {
                    HeaderKind::From(a) | HeaderKind::To(a) | HeaderKind::Cc(a) => {
                        (a.name().map(|n| n.into_owned()), a.uri())
                    }
                    other => panic!("{other:?}"),
                }
            })
            .collect();
        assert_eq!(
            parties,
            [
                (
                    Some("Winnie the Pooh".to_owned()),
                    "im:pooh@100akerwood.com"
                ),
                (None, "im:tigger@100akerwood.com"),
            ],
            "{file}"
        );
    }
}

#[test]
fn s4_4_datetime() {
    let bytes = fixture("s4_4_datetime.txt");
    let h = headers(&bytes);
    assert_eq!(h[0].kind(), HeaderKind::DateTime);
    assert_eq!(h[0].value(), "2001-02-01T12:16:49-05:00");
}

#[test]
fn s4_5_subject() {
    let bytes = fixture("s4_5_subject.txt");
    let h = headers(&bytes);
    assert_eq!(h[0].lang(), Some("en"));
    assert_eq!(h[0].text(), "Eeyore's feeling very depressed today");
}

#[test]
fn s4_6_and_4_7_ns_and_require() {
    let mut bytes = fixture("s4_6_ns.txt");
    let h = headers(&bytes);
    assert_eq!(
        h[0].kind(),
        HeaderKind::Ns(cpim_formats::message::Namespace {
            prefix: Some("MyAlias"),
            uri: "mid:MessageFeatures@id.foo.com"
        })
    );
    assert_eq!(h[1].namespace(), "mid:MessageFeatures@id.foo.com");
    assert_eq!(h[1].local_name(), "MyHeader");
    assert_eq!(h[1].value(), "private-extension-data");

    bytes.extend(fixture("s4_7_require.txt"));
    let h = headers(&bytes);
    let HeaderKind::Require(list) = h[2].kind() else {
        panic!()
    };
    assert_eq!(
        (list[0].namespace, list[0].local),
        ("mid:MessageFeatures@id.foo.com", "VitalHeader")
    );
}

#[test]
fn every_fixture_round_trips() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/message");
    let mut messages = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        if path.extension().is_some_and(|e| e == "cpim") {
            assert_eq!(Message::parse(&bytes).unwrap().to_vec(), bytes, "{path:?}");
            messages += 1;
        }
    }
    assert_eq!(messages, 2);
}

// ---- Invalid input: exact error and byte offset --------------------------

/// A valid tail for bare messages: blank line, content headers, body.
const TAIL: &[u8] = b"\r\nContent-Type: text/plain\r\n\r\nhi";

fn bare(headers: &[u8]) -> Vec<u8> {
    [headers, TAIL].concat()
}

macro_rules! invalid {
    ($name:ident, $input:expr, $kind:expr, $offset:expr) => {
        #[test]
        fn $name() {
            let input: Vec<u8> = $input;
            let err = Message::parse(&input).unwrap_err();
            assert_eq!((err.kind(), err.offset()), (&$kind, $offset), "{err}");
        }
    };
}

invalid!(
    no_space_after_colon,
    bare(b"From:<im:a@b>\r\n"),
    ErrorKind::ExpectedSpace,
    5
);
invalid!(
    leading_space,
    bare(b" From: <im:a@b>\r\n"),
    ErrorKind::LeadingWhitespace,
    0
);
invalid!(
    folded_header,
    bare(b"Subject: a\r\n b\r\n"),
    ErrorKind::LeadingWhitespace,
    12
);
invalid!(
    trailing_space,
    bare(b"Subject: hi \r\n"),
    ErrorKind::TrailingWhitespace,
    11
);
invalid!(
    tab_in_value,
    bare(b"Subject: a\tb\r\n"),
    ErrorKind::ControlChar(9),
    10
);
invalid!(
    del_in_value,
    bare(b"Subject: a\x7f\r\n"),
    ErrorKind::ControlChar(0x7f),
    10
);
invalid!(bare_lf, bare(b"Subject: a\nb\r\n"), ErrorKind::BareLf, 10);
invalid!(
    bad_utf8,
    bare(b"Subject: \xc3\x28\r\n"),
    ErrorKind::InvalidUtf8,
    9
);
invalid!(
    space_in_name,
    bare(b"Sub ject: x\r\n"),
    ErrorKind::InvalidNameChar(b' '),
    3
);
invalid!(no_colon, bare(b"Subject\r\n"), ErrorKind::ExpectedColon, 7);
invalid!(empty_name, bare(b": x\r\n"), ErrorKind::EmptyName, 0);
invalid!(
    two_dots,
    bare(b"NS: a <urn:x>\r\na.b.c: x\r\n"),
    ErrorKind::InvalidNameChar(b'.'),
    18
);
invalid!(
    empty_local_name,
    bare(b"a.: x\r\n"),
    ErrorKind::EmptyName,
    2
);
invalid!(
    bad_lang,
    bare(b"Subject:;lang=1x y\r\n"),
    ErrorKind::InvalidLanguageTag,
    14
);
invalid!(
    lang_without_value_space,
    bare(b"Subject:;lang=en\r\n"),
    ErrorKind::ExpectedSpace,
    16
);
invalid!(
    empty_param_value,
    bare(b"Foo:;x= y\r\n"),
    ErrorKind::InvalidParameter("expected a parameter value"),
    7
);
invalid!(
    param_without_equals,
    bare(b"Foo:;x y\r\n"),
    ErrorKind::InvalidParameter("expected '='"),
    6
);
invalid!(
    unterminated_param_string,
    bare(b"Foo:;x=\"a b\r\n"),
    ErrorKind::InvalidParameter("unterminated string"),
    11
);
invalid!(
    from_without_angle,
    bare(b"From: piglet\r\n"),
    ErrorKind::InvalidValue {
        header: "From",
        expected: "a space after each word of the name"
    },
    12
);
invalid!(
    from_unclosed,
    bare(b"From: <im:a@b\r\n"),
    ErrorKind::InvalidValue {
        header: "From",
        expected: "'>' at the end"
    },
    13
);
invalid!(
    from_relative_uri,
    bare(b"From: <piglet>\r\n"),
    ErrorKind::InvalidValue {
        header: "From",
        expected: "an absolute URI"
    },
    7
);
invalid!(
    to_name_glued_to_uri,
    bare(b"To: MR SANDERS<im:a@b>\r\n"),
    ErrorKind::InvalidValue {
        header: "To",
        expected: "a space after each word of the name"
    },
    14
);
invalid!(
    cc_unclosed_string,
    bare(b"cc: \"Pooh <im:a@b>\r\n"),
    ErrorKind::InvalidValue {
        header: "cc",
        expected: "a closing '\"'"
    },
    18
);
invalid!(
    datetime_date_only,
    bare(b"DateTime: 2000-12-13\r\n"),
    ErrorKind::InvalidValue {
        header: "DateTime",
        expected: "an RFC 3339 date-time"
    },
    10
);
invalid!(
    ns_relative_uri,
    bare(b"NS: x <rel/path>\r\n"),
    ErrorKind::InvalidValue {
        header: "NS",
        expected: "an absolute URI without a fragment"
    },
    7
);
invalid!(
    ns_fragment,
    bare(b"NS: <http://a/#f>\r\n"),
    ErrorKind::InvalidValue {
        header: "NS",
        expected: "an absolute URI without a fragment"
    },
    5
);
invalid!(
    require_empty_item,
    bare(b"Require: a,,b\r\n"),
    ErrorKind::InvalidValue {
        header: "Require",
        expected: "a header name"
    },
    11
);
invalid!(
    require_bad_separator,
    bare(b"Require: a;b\r\n"),
    ErrorKind::InvalidValue {
        header: "Require",
        expected: "',' or the end of the line"
    },
    10
);
invalid!(
    undeclared_prefix,
    bare(b"x.Foo: bar\r\n"),
    ErrorKind::UndeclaredPrefix("x".into()),
    0
);
invalid!(
    prefix_declared_after_use,
    bare(b"x.Foo: bar\r\nNS: x <urn:x>\r\n"),
    ErrorKind::UndeclaredPrefix("x".into()),
    0
);
invalid!(
    no_content_type,
    b"From: <im:a@b>\r\n\r\nContent-ID: <x>\r\n\r\nbody".to_vec(),
    ErrorKind::MissingContentType("the encapsulated MIME object"),
    18
);
invalid!(
    content_header_without_colon,
    b"\r\nContent-Type: text/plain\r\nBad header\r\n\r\n".to_vec(),
    ErrorKind::InvalidNameChar(b' '),
    31
);
invalid!(
    outer_type_not_cpim,
    b"Content-Type: text/plain\r\n\r\nhello".to_vec(),
    ErrorKind::UnsupportedContentType {
        found: "text/plain".into(),
        expected: "message/cpim or multipart/signed"
    },
    14
);
invalid!(
    signed_without_boundary,
    b"Content-Type: multipart/signed\r\n\r\n".to_vec(),
    ErrorKind::MissingBoundary,
    14
);
invalid!(
    bad_outer_type,
    b"Content-Type: cpim\r\n\r\n".to_vec(),
    ErrorKind::InvalidValue {
        header: "Content-Type",
        expected: "a MIME media type"
    },
    14
);

const SIGNED_HEAD: &[u8] = b"Content-Type: multipart/signed; boundary=b\r\n\r\n--b\r\n";

invalid!(
    signed_first_part_not_cpim,
    [
        SIGNED_HEAD,
        b"Content-Type: text/plain\r\n\r\nx\r\n--b\r\n\r\nsig\r\n--b--\r\n"
    ]
    .concat(),
    ErrorKind::UnsupportedContentType {
        found: "text/plain".into(),
        expected: "message/cpim as the first part"
    },
    65
);
invalid!(
    signed_part_ends_in_headers,
    [
        SIGNED_HEAD,
        b"Content-Type: message/cpim\r\n\r\nFrom: <im:a@b>\r\n--b\r\n\r\nsig\r\n--b--\r\n"
    ]
    .concat(),
    ErrorKind::PartEnds("the message headers"),
    95
);
invalid!(
    signed_third_part,
    [SIGNED_HEAD, b"Content-Type: message/cpim\r\n\r\n\r\nContent-Type: text/plain\r\n\r\nx\r\n--b\r\n\r\nsig\r\n--b\r\nmore\r\n--b--\r\n"].concat(),
    ErrorKind::InvalidDelimiter,
    129
);

#[test]
fn lower_case_from_is_another_header() {
    // Section 2.2: header names match exactly.
    let input = bare(b"from: <im:a@b>\r\n");
    let m = Message::parse(&input).unwrap();
    assert!(m.from().is_none());
    assert_eq!(m.headers()[0].kind(), HeaderKind::Other);
}

#[test]
fn incomplete_is_not_invalid() {
    let whole = fixture("s5_1_message.cpim");
    let body = find(&whole, b"<body>");
    for cut in [0, 10, 40, 300, body - 1] {
        let err = Message::parse(&whole[..cut]).unwrap_err();
        assert!(err.is_incomplete(), "cut at {cut}: {err}");
        assert_eq!(err.offset(), cut);
    }
    // Once the headers are complete, any prefix of the body is a message.
    assert!(Message::parse(&whole[..body]).is_ok());

    let signed = fixture("s5_2_signed.cpim");
    let cut = find(&signed, b"--next--");
    let err = Message::parse(&signed[..cut]).unwrap_err();
    assert_eq!(
        (err.kind(), err.offset()),
        (&ErrorKind::Incomplete("the multipart/signed body"), cut)
    );
    let err = Message::parse(b"From: <im:a@b>\r\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        "input ends inside the message headers at byte 16"
    );
}

#[test]
fn limits_each_have_their_error() {
    let bytes = fixture("s5_1_message.cpim");
    let size = Limits {
        max_size: 100,
        ..Limits::default()
    };
    let err = Message::parse_with(&bytes, &size).unwrap_err();
    assert_eq!(
        (err.kind(), err.offset()),
        (&ErrorKind::TooLarge { limit: 100 }, 100)
    );

    let count = Limits {
        max_headers: 3,
        ..Limits::default()
    };
    let err = Message::parse_with(&bytes, &count).unwrap_err();
    assert_eq!(
        (err.kind(), err.offset()),
        (
            &ErrorKind::TooManyHeaders { limit: 3 },
            find(&bytes, b"DateTime")
        )
    );

    let line = Limits {
        max_line: 20,
        ..Limits::default()
    };
    let err = Message::parse_with(&bytes, &line).unwrap_err();
    assert_eq!(
        (err.kind(), err.offset()),
        (&ErrorKind::LineTooLong { limit: 20 }, 20)
    );
    assert_eq!(
        err.to_string(),
        "header line exceeds the limit of 20 bytes at byte 20"
    );

    // A line with no end in sight is refused as too long, not awaited.
    let err = Message::parse_with(&[b'a'; 30], &line).unwrap_err();
    assert_eq!(
        (err.kind(), err.offset()),
        (&ErrorKind::LineTooLong { limit: 20 }, 20)
    );

    assert!(Message::parse_with(&bytes, &Limits::NONE).is_ok());
}

#[test]
fn escapes_in_names_and_values() {
    let input = bare(
        b"From: \"Pooh \\\"Bear\\\" \\\\ Sanders\" <im:pooh@100akerwood.com>\r\n\
          To: \"Tab\\there\"<im:t@x>\r\n\
          Subject: line\\nbreak \\u00e9t\\u00E9 caf\xc3\xa9\r\n\
          Foo:;p=\"a;b c\";q=1.5 v\r\n",
    );
    let m = Message::parse(&input).unwrap();
    assert_eq!(
        m.from().unwrap().name().as_deref(),
        Some("Pooh \"Bear\" \\ Sanders")
    );
    assert_eq!(
        m.from().unwrap().formal_raw(),
        Some("\"Pooh \\\"Bear\\\" \\\\ Sanders\"")
    );
    assert_eq!(m.to().next().unwrap().name().as_deref(), Some("Tab\there"));
    assert_eq!(m.subjects().next().unwrap().text(), "line\nbreak été café");
    let foo = &m.headers()[3];
    assert_eq!(
        foo.param_pairs().collect::<Vec<_>>(),
        [("p", "\"a;b c\""), ("q", "1.5")]
    );
    assert_eq!(foo.value(), "v");
    assert_eq!(m.to_vec(), input);
}

#[test]
fn default_namespace_moves_core_names() {
    // After `NS: <uri>`, unprefixed names belong to uri: this `From` is not
    // the core header, and the core one is reached through a prefix.
    let input = bare(
        b"NS: cpim <urn:ietf:params:cpim-headers:>\r\n\
          NS: <urn:example>\r\n\
          From: anything goes\r\n\
          cpim.From: <im:a@b>\r\n",
    );
    let m = Message::parse(&input).unwrap();
    assert_eq!(m.headers()[2].namespace(), "urn:example");
    assert_eq!(m.headers()[2].kind(), HeaderKind::Other);
    assert_eq!(m.from().unwrap().uri(), "im:a@b");
}

#[test]
fn empty_value_and_lenient_forms() {
    // An empty value leaves only the separator space; ", " in Require and a
    // space after a quoted name are read, and kept as written.
    let input = bare(
        b"Subject: \r\n\
          From: \"Pooh\" <im:a@b>\r\n\
          NS: e<urn:e>\r\n\
          Require: e.A, e.B,From\r\n",
    );
    let m = Message::parse(&input).unwrap();
    assert_eq!(m.subjects().next().unwrap().text(), "");
    assert_eq!(m.from().unwrap().name().as_deref(), Some("Pooh"));
    let names: Vec<_> = m.required().map(|r| (r.namespace, r.local)).collect();
    assert_eq!(
        names,
        [("urn:e", "A"), ("urn:e", "B"), (CORE_NAMESPACE, "From")]
    );
    let mut understood = Understood::new();
    understood.insert("urn:e", "A");
    let err = m.check_require(&understood).unwrap_err();
    assert_eq!(
        err.kind(),
        &ErrorKind::NotUnderstood {
            name: "e.B".into(),
            namespace: "urn:e".into()
        }
    );
    understood.insert_qualified("urn:e#B").unwrap();
    m.check_require(&understood).unwrap();
    assert!(understood.insert_qualified("no-hash").is_err());
    assert_eq!(m.to_vec(), input);
}

// ---- The builder ----------------------------------------------------------

#[test]
fn builder_writes_section_5_1() {
    use cpim_formats::message::MessageBuilder;
    let built = MessageBuilder::new()
        .mime_entity(true)
        .from(Some("MR SANDERS"), "im:piglet@100akerwood.com")
        .to(Some("Depressed Donkey"), "im:eeyore@100akerwood.com")
        .datetime("2000-12-13T13:40:00-08:00")
        .subject(None, "the weather will be fine today")
        .subject(Some("fr"), "beau temps prevu pour aujourd'hui")
        .ns(Some("MyFeatures"), "mid:MessageFeatures@id.foo.com")
        .require(&["MyFeatures.VitalMessageOption"])
        .header("MyFeatures.VitalMessageOption", "Confirmation-requested")
        .header("MyFeatures.WackyMessageOption", "Use-silly-font")
        .content_header("Content-type", "text/xml; charset=utf-8")
        .content_header("Content-ID", "<1234567890@foo.com>")
        .body(b"<body>\r\nHere is the text of my message.\r\n</body>\r\n".to_vec())
        .build()
        .unwrap();
    // The RFC writes the media type as "Content-type: Message/CPIM"; the
    // builder writes the registered lower-case form.
    let mut want = fixture("s5_1_message.cpim");
    want.splice(..26, b"Content-Type: message/cpim".iter().copied());
    assert_eq!(
        String::from_utf8(built).unwrap(),
        String::from_utf8(want).unwrap()
    );
}

#[test]
fn builder_escapes_and_quotes() {
    use cpim_formats::message::MessageBuilder;
    let built = MessageBuilder::new()
        .from(Some("Pooh \"Bear\""), "im:pooh@x")
        .to(Some("Zoë Tab\there"), "im:z@x")
        .cc(Some("Eeyore"), "im:e@x")
        .subject(None, "back\\slash\nand \u{1}")
        .content_type("text/plain")
        .build()
        .unwrap();
    let text = String::from_utf8(built).unwrap();
    assert_eq!(
        text,
        "From: \"Pooh \\\"Bear\\\"\" <im:pooh@x>\r\n\
         To: \"Zoë Tab\\there\" <im:z@x>\r\n\
         cc: Eeyore <im:e@x>\r\n\
         Subject: back\\\\slash\\nand \\u0001\r\n\
         \r\nContent-Type: text/plain\r\n\r\n"
    );
}

#[test]
fn builder_errors() {
    use cpim_formats::message::{BuildError, MessageBuilder};
    let ok = || MessageBuilder::new().content_type("text/plain");
    assert_eq!(
        ok().subject(None, "trailing ").build(),
        Err(BuildError::TrailingSpace {
            what: "Subject".into()
        })
    );
    assert_eq!(
        ok().header("X", "a")
            .content_header("Content-ID", "a\r\nInjected: 1")
            .build(),
        Err(BuildError::LineBreak {
            what: "Content-ID".into()
        })
    );
    assert_eq!(
        ok().from(None, "im:a@b>\r\nTo: <im:c@d").build(),
        Err(BuildError::LineBreak { what: "URI".into() })
    );
    let Err(BuildError::Invalid(err)) = ok().datetime("yesterday").build() else {
        panic!("a bad date-time must be refused")
    };
    assert_eq!(
        (err.kind(), err.offset()),
        (
            &ErrorKind::InvalidValue {
                header: "DateTime",
                expected: "an RFC 3339 date-time"
            },
            10
        )
    );
    let Err(BuildError::Invalid(err)) = ok().header("x.Foo", "bar").build() else {
        panic!("an undeclared prefix must be refused")
    };
    assert_eq!(err.kind(), &ErrorKind::UndeclaredPrefix("x".into()));
    let Err(BuildError::Invalid(err)) = MessageBuilder::new().build() else {
        panic!("the encapsulated object needs a Content-Type")
    };
    assert_eq!(
        err.kind(),
        &ErrorKind::MissingContentType("the encapsulated MIME object")
    );
}
