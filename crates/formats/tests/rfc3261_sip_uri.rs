//! `sip:`/`sips:` URIs (RFC 3261 section 19.1) to and from `im:` URIs, with
//! the local-part mapping of RFC 7247 section 6.2-6.5: user part decoded,
//! port and URI parameters dropped, headers kept, passwords, hostless and
//! IPv6 URIs refused.

#![allow(clippy::unwrap_used)]

use cpim_formats::uri::{Expected, SipErrorKind, Uri, UriErrorKind};

/// `sip!(name, sip uri, im uri, sip uri written back)`
macro_rules! sip {
    ($name:ident, $sip:expr, $im:expr, $back:expr) => {
        #[test]
        fn $name() -> Result<(), Box<dyn std::error::Error>> {
            let uri = Uri::from_sip($sip)?;
            assert_eq!(uri.to_string(), $im);
            assert_eq!(uri.to_sip()?, $back);
            assert_eq!(Uri::from_sip($back)?, uri, "written SIP URI reads back");
            assert_eq!(Uri::parse($im)?, uri);
            Ok(())
        }
    };
}

/// `bad_sip!(name, sip uri, kind, position)`
macro_rules! bad_sip {
    ($name:ident, $sip:expr, $kind:expr, $position:expr) => {
        #[test]
        fn $name() {
            match Uri::from_sip($sip) {
                Ok(uri) => panic!("{:?} read as {uri}", $sip),
                Err(error) => {
                    assert_eq!(error.kind(), &$kind, "{error}");
                    assert_eq!(error.position(), $position, "{error}");
                }
            }
        }
    };
}

fn syntax(found: char, expected: Expected) -> SipErrorKind {
    SipErrorKind::Syntax(UriErrorKind::Unexpected { found, expected })
}

sip!(
    plain,
    "sip:alice@example.com",
    "im:alice@example.com",
    "sip:alice@example.com"
);
sip!(
    case,
    "SIP:Alice@EXAMPLE.com",
    "im:Alice@example.com",
    "sip:Alice@example.com"
);
sip!(
    sips,
    "sips:bob@example.com:5061;transport=tls",
    "im:bob@example.com",
    "sip:bob@example.com"
);
// RFC 7247 s6.4 examples.
sip!(
    rfc7247_utf8,
    "sip:f%C3%BC@sip.example",
    "im:f%C3%BC@sip.example",
    "sip:f%C3%BC@sip.example"
);
sip!(
    rfc7247_apostrophe,
    "sip:o'malley@sip.example",
    "im:o'malley@sip.example",
    "sip:o'malley@sip.example"
);
sip!(
    gr_dropped,
    "sip:foo@sip.example;gr=bar",
    "im:foo@sip.example",
    "sip:foo@sip.example"
);
sip!(
    phone_user,
    "sip:+1-212-555-1212@gateway.example;user=phone",
    "im:+1-212-555-1212@gateway.example",
    "sip:+1-212-555-1212@gateway.example"
);
sip!(
    escaped_space,
    "sip:john%20smith@example.com",
    "im:%22john%20smith%22@example.com",
    "sip:john%20smith@example.com"
);
sip!(
    user_unreserved,
    "sip:a;b?c&d@example.com",
    "im:%22a;b%3Fc%26d%22@example.com",
    "sip:a%3Bb%3Fc&d@example.com"
);
sip!(
    headers_kept,
    "sip:bob@example.com.;lr?Subject=hi%20there&Priority=urgent",
    "im:bob@example.com?Subject=hi%20there&Priority=urgent",
    "sip:bob@example.com?Subject=hi%20there&Priority=urgent"
);
sip!(
    escaped_parameter,
    "sip:bob@example.com;x=%41%42",
    "im:bob@example.com",
    "sip:bob@example.com"
);

bad_sip!(
    http,
    "http://example.com",
    SipErrorKind::UnknownScheme("http".into()),
    0
);
bad_sip!(
    im_is_not_sip,
    "im:alice@example.com",
    SipErrorKind::UnknownScheme("im".into()),
    0
);
bad_sip!(
    no_colon,
    "sip",
    SipErrorKind::Syntax(UriErrorKind::UnexpectedEnd {
        expected: Expected::Colon
    }),
    3
);
bad_sip!(host_only, "sip:example.com", SipErrorKind::NoUser, 4);
bad_sip!(empty_user, "sip:@example.com", SipErrorKind::NoUser, 4);
bad_sip!(
    password,
    "sip:alice:pw@example.com",
    SipErrorKind::Password,
    9
);
bad_sip!(ipv6, "sip:alice@[2001:db8::1]", SipErrorKind::Ipv6Host, 10);
bad_sip!(
    empty_port,
    "sip:alice@example.com:",
    SipErrorKind::Syntax(UriErrorKind::UnexpectedEnd {
        expected: Expected::Port
    }),
    22
);
bad_sip!(
    bad_port,
    "sip:alice@example.com:50x",
    syntax('x', Expected::Parameter),
    24
);
bad_sip!(
    space_in_user,
    "sip:al ice@example.com",
    syntax(' ', Expected::SipUser),
    6
);
bad_sip!(
    bad_escape,
    "sip:al%ZZ@example.com",
    SipErrorKind::Syntax(UriErrorKind::InvalidEscape),
    6
);
bad_sip!(
    escaped_nul,
    "sip:al%00@example.com",
    syntax('\0', Expected::SipUser),
    6
);
bad_sip!(
    bad_host,
    "sip:alice@exa_mple.com",
    syntax('_', Expected::Domain),
    13
);
bad_sip!(
    empty_host,
    "sip:alice@;x",
    SipErrorKind::Syntax(UriErrorKind::UnexpectedEnd {
        expected: Expected::DomainLabel
    }),
    10
);
bad_sip!(
    empty_parameter,
    "sip:alice@example.com;;x",
    syntax(';', Expected::Parameter),
    22
);
bad_sip!(
    bad_parameter_char,
    "sip:alice@example.com;a b",
    syntax(' ', Expected::Parameter),
    23
);
bad_sip!(
    empty_query,
    "sip:alice@example.com?",
    SipErrorKind::Syntax(UriErrorKind::UnexpectedEnd {
        expected: Expected::HeaderName
    }),
    22
);

#[test]
fn several_addresses_have_no_sip_form() -> Result<(), Box<dyn std::error::Error>> {
    let uri = Uri::parse("im:a@x.example,b@y.example")?;
    let error = uri.to_sip().unwrap_err();
    assert_eq!(
        (error.kind(), error.position()),
        (&SipErrorKind::NotOneAddress, 0)
    );
    Ok(())
}
