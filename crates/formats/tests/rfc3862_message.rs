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
    assert_eq!(wacky.kind(), &HeaderKind::Other);
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
    assert_eq!(h[2].kind(), &HeaderKind::DateTime);
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
    assert_eq!(h[0].kind(), &HeaderKind::Subject);
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
        assert_eq!(h[1].kind(), &HeaderKind::Other, "{name}");
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
    assert_eq!(h[0].kind(), &HeaderKind::DateTime);
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
        &HeaderKind::Ns(cpim_formats::message::Namespace {
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
