//! CPIM addresses to and from XMPP JIDs: RFC 3922 section 3 (address
//! mapping), with RFC 7247 section 6.4/6.5 escaping and RFC 6122 Nodeprep's
//! prohibited characters.

#![allow(clippy::unwrap_used)]

use cpim_formats::uri::{Address, Expected, JidErrorKind, Scheme, UriErrorKind};

/// `jid!(name, jid, local, domain, canonical jid, im uri)`
macro_rules! jid {
    ($name:ident, $jid:expr, $local:expr, $domain:expr, $to_jid:expr, $im:expr) => {
        #[test]
        fn $name() -> Result<(), Box<dyn std::error::Error>> {
            let address = Address::from_jid($jid)?;
            assert_eq!((address.local(), address.domain()), ($local, $domain));
            assert_eq!(address.to_jid()?, $to_jid);
            assert_eq!(
                Address::from_jid($to_jid)?,
                address,
                "written JID reads back"
            );
            assert_eq!(address.to_uri(Scheme::Im).to_string(), $im);
            Ok(())
        }
    };
}

/// `bad_jid!(name, jid, kind, position)`
macro_rules! bad_jid {
    ($name:ident, $jid:expr, $kind:expr, $position:expr) => {
        #[test]
        fn $name() {
            match Address::from_jid($jid) {
                Ok(address) => panic!("{:?} read as {address}", $jid),
                Err(error) => {
                    assert_eq!(error.kind(), &$kind, "{error}");
                    assert_eq!(error.position(), $position, "{error}");
                }
            }
        }
    };
}

jid!(
    bare,
    "alice@example.com",
    "alice",
    "example.com",
    "alice@example.com",
    "im:alice@example.com"
);
// RFC 3922 s3.2 step 1: the resource is discarded.
jid!(
    resource_dropped,
    "alice@Example.COM/laptop",
    "alice",
    "example.com",
    "alice@example.com",
    "im:alice@example.com"
);
// RFC 7247 s6.5 examples.
jid!(
    rfc7247_ampersand,
    "m\\26m@xmpp.example",
    "m&m",
    "xmpp.example",
    "m\\26m@xmpp.example",
    "im:m%26m@xmpp.example"
);
jid!(
    rfc7247_utf8,
    "tschüss@xmpp.example",
    "tschüss",
    "xmpp.example",
    "tschüss@xmpp.example",
    "im:tsch%C3%BCss@xmpp.example"
);
// RFC 3922 s3.2 step 3: #26; #27; #2f; read as & ' /.
jid!(
    rfc3922_escapes,
    "o#27;malley#2f;x#26;y@example.com",
    "o'malley/x&y",
    "example.com",
    "o\\27malley\\2fx\\26y@example.com",
    "im:o'malley/x%26y@example.com"
);
jid!(
    xep0106_all,
    "\\20\\22\\26\\27\\2f\\3a\\3c\\3e\\40\\5c@example.com",
    " \"&'/:<>@\\",
    "example.com",
    "\\20\\22\\26\\27\\2f\\3a\\3c\\3e\\40\\@example.com",
    "im:%22%20%5C%22%26'/:%3C%3E%40%5C%5C%22@example.com"
);
jid!(
    escaped_backslash_before_code,
    "a\\5c20b@x.example",
    "a\\20b",
    "x.example",
    "a\\5c20b@x.example",
    "im:%22a%5C%5C20b%22@x.example"
);
jid!(
    plain_backslash,
    "a\\b@x.example",
    "a\\b",
    "x.example",
    "a\\b@x.example",
    "im:%22a%5C%5Cb%22@x.example"
);
jid!(
    not_an_escape_code,
    "a\\41b@x.example",
    "a\\41b",
    "x.example",
    "a\\41b@x.example",
    "im:%22a%5C%5C41b%22@x.example"
);
// IDN domains: normalised to ASCII inside, written in Unicode for XMPP.
jid!(
    idn_domain,
    "juliet@Bücher.example",
    "juliet",
    "xn--bcher-kva.example",
    "juliet@bücher.example",
    "im:juliet@xn--bcher-kva.example"
);
jid!(
    ace_domain,
    "juliet@xn--bcher-kva.example",
    "juliet",
    "xn--bcher-kva.example",
    "juliet@bücher.example",
    "im:juliet@xn--bcher-kva.example"
);
jid!(
    trailing_dot,
    "juliet@example.com./r",
    "juliet",
    "example.com",
    "juliet@example.com",
    "im:juliet@example.com"
);
jid!(
    case_kept,
    "Juliet@example.com",
    "Juliet",
    "example.com",
    "Juliet@example.com",
    "im:Juliet@example.com"
);

bad_jid!(server_jid, "example.com", JidErrorKind::NoNode, 0);
bad_jid!(
    server_with_resource,
    "example.com/a@b",
    JidErrorKind::NoNode,
    0
);
bad_jid!(empty_node, "@example.com", JidErrorKind::EmptyNode, 0);
bad_jid!(empty_domain, "alice@", JidErrorKind::EmptyDomain, 6);
bad_jid!(
    empty_domain_with_resource,
    "alice@/r",
    JidErrorKind::EmptyDomain,
    6
);
bad_jid!(
    empty_resource,
    "alice@example.com/",
    JidErrorKind::EmptyResource,
    18
);
bad_jid!(
    apostrophe,
    "al'ice@example.com",
    JidErrorKind::Prohibited('\''),
    2
);
bad_jid!(
    ampersand,
    "a&b@example.com",
    JidErrorKind::Prohibited('&'),
    1
);
bad_jid!(
    space,
    "al ice@example.com",
    JidErrorKind::Prohibited(' '),
    2
);
bad_jid!(colon, "a:b@example.com", JidErrorKind::Prohibited(':'), 1);
bad_jid!(quote, "a\"b@example.com", JidErrorKind::Prohibited('"'), 1);
bad_jid!(
    zero_width_space,
    "a\u{200B}b@example.com",
    JidErrorKind::Prohibited('\u{200B}'),
    1
);
bad_jid!(
    private_use,
    "ab\u{E000}@example.com",
    JidErrorKind::Prohibited('\u{E000}'),
    2
);
bad_jid!(
    control,
    "a\u{7}b@example.com",
    JidErrorKind::Prohibited('\u{7}'),
    1
);
bad_jid!(
    bad_domain,
    "alice@exa_mple.com",
    JidErrorKind::Address(UriErrorKind::Unexpected {
        found: '_',
        expected: Expected::Domain
    }),
    9
);
bad_jid!(
    ip6_domain,
    "alice@[::1]",
    JidErrorKind::Address(UriErrorKind::DomainLiteral),
    6
);

#[test]
fn node_over_1023_bytes() {
    let jid = format!("{}@example.com", "a".repeat(1024));
    let error = Address::from_jid(&jid).map(|a| a.to_string()).unwrap_err();
    assert_eq!(
        (error.kind(), error.position()),
        (&JidErrorKind::TooLong, 0)
    );
    let jid = format!("{}@example.com", "a".repeat(1023));
    assert!(Address::from_jid(&jid).is_ok());
}

#[test]
fn to_jid_refuses_what_has_no_jid() -> Result<(), Box<dyn std::error::Error>> {
    let error = Address::new("a#26;b", "example.com")?.to_jid().unwrap_err();
    assert_eq!(
        (error.kind(), error.position()),
        (&JidErrorKind::Ambiguous, 1)
    );
    let error = Address::new("ab\u{E000}", "example.com")?
        .to_jid()
        .unwrap_err();
    assert_eq!(
        (error.kind(), error.position()),
        (&JidErrorKind::Prohibited('\u{E000}'), 2)
    );
    let error = Address::new(&"a".repeat(1024), "example.com")?
        .to_jid()
        .unwrap_err();
    assert_eq!(
        (error.kind(), error.position()),
        (&JidErrorKind::TooLong, 0)
    );
    // '#' not forming an RFC 3922 escape is fine.
    assert_eq!(
        Address::new("a#26b", "example.com")?.to_jid()?,
        "a#26b@example.com"
    );
    Ok(())
}
