//! `im:`/`pres:` URIs against RFC 3860 section 3 / Appendix A, RFC 3859
//! section 3, and the draft's mailto-like form (sections 5.1, 5.2,
//! Appendices C, D): a table of valid URIs with their parts and canonical
//! form, and of invalid ones with the exact error and byte.

use cpim_formats::uri::{Expected, Scheme, Uri, UriErrorKind};

/// `valid!(name, input, scheme, [(local, domain), ..], [(name, value), ..], canonical)`
macro_rules! valid {
    ($name:ident, $input:expr, $scheme:expr, [$(($local:expr, $domain:expr)),+],
     [$(($hname:expr, $hvalue:expr)),*], $canonical:expr) => {
        #[test]
        fn $name() -> Result<(), Box<dyn std::error::Error>> {
            let uri = Uri::parse($input)?;
            assert_eq!(uri.scheme(), $scheme);
            let to: Vec<(&str, &str)> = uri.to().iter().map(|a| (a.local(), a.domain())).collect();
            assert_eq!(to, vec![$(($local, $domain)),+]);
            let headers: Vec<(&str, &str)> =
                uri.headers().iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
            let expected_headers: Vec<(&str, &str)> = vec![$(($hname, $hvalue)),*];
            assert_eq!(headers, expected_headers);
            assert_eq!(uri.to_string(), $canonical);
            assert_eq!(Uri::parse($canonical)?, uri, "canonical form parses back");
            Ok(())
        }
    };
}

/// `invalid!(name, input, kind, position)`
macro_rules! invalid {
    ($name:ident, $input:expr, $kind:expr, $position:expr) => {
        #[test]
        fn $name() {
            match Uri::parse($input) {
                Ok(uri) => panic!("{:?} parsed as {uri}", $input),
                Err(error) => {
                    assert_eq!(error.kind(), &$kind, "{error}");
                    assert_eq!(error.position(), $position, "{error}");
                    assert!(error
                        .to_string()
                        .ends_with(&format!("at byte {}", $position)));
                }
            }
        }
    };
}

fn unexpected(found: char, expected: Expected) -> UriErrorKind {
    UriErrorKind::Unexpected { found, expected }
}

fn end(expected: Expected) -> UriErrorKind {
    UriErrorKind::UnexpectedEnd { expected }
}

// RFC 3860 section 3.2 example, and its pres: twin (RFC 3859 section 3.2).
valid!(
    rfc3860_example,
    "im:fred@example.com",
    Scheme::Im,
    [("fred", "example.com")],
    [],
    "im:fred@example.com"
);
valid!(
    rfc3859_pres,
    "pres:fred@example.com",
    Scheme::Pres,
    [("fred", "example.com")],
    [],
    "pres:fred@example.com"
);
// Scheme and domain are case-insensitive, the local part is kept.
valid!(
    case_folding,
    "IM:Fred@EXAMPLE.Com",
    Scheme::Im,
    [("Fred", "example.com")],
    [],
    "im:Fred@example.com"
);
valid!(
    pres_case,
    "Pres:Fred@Example.com",
    Scheme::Pres,
    [("Fred", "example.com")],
    [],
    "pres:Fred@example.com"
);
// Draft Appendix C.2: `to = #mailbox`.
valid!(
    draft_mailbox_list,
    "im:a@x.example,b@y.example",
    Scheme::Im,
    [("a", "x.example"), ("b", "y.example")],
    [],
    "im:a@x.example,b@y.example"
);
// Appendix A.2 headers.
valid!(
    headers,
    "im:fred@example.com?subject=hello%20there&priority=urgent",
    Scheme::Im,
    [("fred", "example.com")],
    [("subject", "hello there"), ("priority", "urgent")],
    "im:fred@example.com?subject=hello%20there&priority=urgent"
);
valid!(
    header_value_with_reserved,
    "im:a@b.example?x=1=2?3",
    Scheme::Im,
    [("a", "b.example")],
    [("x", "1=2?3")],
    "im:a@b.example?x=1%3D2?3"
);
valid!(
    header_empty_value,
    "pres:a@b.example?x=",
    Scheme::Pres,
    [("a", "b.example")],
    [("x", "")],
    "pres:a@b.example?x="
);
valid!(
    header_escaped_utf8,
    "im:a@b.example?s=%C3%A9t%C3%A9",
    Scheme::Im,
    [("a", "b.example")],
    [("s", "été")],
    "im:a@b.example?s=%C3%A9t%C3%A9"
);
valid!(
    headers_with_list,
    "im:a@x.example,b@y.example?s=1",
    Scheme::Im,
    [("a", "x.example"), ("b", "y.example")],
    [("s", "1")],
    "im:a@x.example,b@y.example?s=1"
);
// RFC 2822 quoted-string local parts, raw or percent-encoded.
valid!(
    quoted_raw,
    "im:\"john smith\"@example.com",
    Scheme::Im,
    [("john smith", "example.com")],
    [],
    "im:%22john%20smith%22@example.com"
);
valid!(
    quoted_escaped,
    "im:%22john%20smith%22@example.com",
    Scheme::Im,
    [("john smith", "example.com")],
    [],
    "im:%22john%20smith%22@example.com"
);
valid!(
    quoted_needless,
    "im:\"john\"@example.com",
    Scheme::Im,
    [("john", "example.com")],
    [],
    "im:john@example.com"
);
valid!(
    quoted_pairs,
    "im:\"a\\\"b\\\\c\"@example.com",
    Scheme::Im,
    [("a\"b\\c", "example.com")],
    [],
    "im:%22a%5C%22b%5C%5Cc%22@example.com"
);
valid!(
    quoted_separators,
    "im:\"a?b,c\"@example.com,d@example.com",
    Scheme::Im,
    [("a?b,c", "example.com"), ("d", "example.com")],
    [],
    "im:%22a%3Fb%2Cc%22@example.com,d@example.com"
);
valid!(
    quoted_dots,
    "im:\".a..b.\"@example.com",
    Scheme::Im,
    [(".a..b.", "example.com")],
    [],
    "im:%22.a..b.%22@example.com"
);
// Percent-decoding of the mailbox (mailto style).
valid!(
    escaped_utf8_local,
    "im:j%C3%B6rg@example.com",
    Scheme::Im,
    [("jörg", "example.com")],
    [],
    "im:j%C3%B6rg@example.com"
);
valid!(
    raw_utf8_local,
    "im:jörg@example.com",
    Scheme::Im,
    [("jörg", "example.com")],
    [],
    "im:j%C3%B6rg@example.com"
);
valid!(
    escaped_at,
    "im:fred%40example.com",
    Scheme::Im,
    [("fred", "example.com")],
    [],
    "im:fred@example.com"
);
valid!(
    escaped_question_mark,
    "im:a%3Fb@example.com",
    Scheme::Im,
    [("a?b", "example.com")],
    [],
    "im:a%3Fb@example.com"
);
valid!(
    lowercase_hex,
    "im:a%3fb@example.com",
    Scheme::Im,
    [("a?b", "example.com")],
    [],
    "im:a%3Fb@example.com"
);
valid!(
    atext_specials,
    "im:o'brien+tag=x@example.com",
    Scheme::Im,
    [("o'brien+tag=x", "example.com")],
    [],
    "im:o'brien+tag=x@example.com"
);
valid!(
    atext_escaped_on_output,
    "im:a{b}|c&d@example.com",
    Scheme::Im,
    [("a{b}|c&d", "example.com")],
    [],
    "im:a%7Bb%7D%7Cc%26d@example.com"
);
valid!(
    dotted_local,
    "im:fred.bloggs@example.com",
    Scheme::Im,
    [("fred.bloggs", "example.com")],
    [],
    "im:fred.bloggs@example.com"
);
// IDN domains: Unicode, punycode in any case, percent-encoded UTF-8.
valid!(
    idn_unicode,
    "im:fred@Bücher.example",
    Scheme::Im,
    [("fred", "xn--bcher-kva.example")],
    [],
    "im:fred@xn--bcher-kva.example"
);
valid!(
    idn_punycode,
    "im:fred@XN--BCHER-KVA.example",
    Scheme::Im,
    [("fred", "xn--bcher-kva.example")],
    [],
    "im:fred@xn--bcher-kva.example"
);
valid!(
    idn_escaped,
    "im:fred@b%C3%BCcher.example",
    Scheme::Im,
    [("fred", "xn--bcher-kva.example")],
    [],
    "im:fred@xn--bcher-kva.example"
);
valid!(
    numeric_domain,
    "im:fred@192.0.2.1",
    Scheme::Im,
    [("fred", "192.0.2.1")],
    [],
    "im:fred@192.0.2.1"
);
valid!(
    single_label_domain,
    "pres:fred@localhost",
    Scheme::Pres,
    [("fred", "localhost")],
    [],
    "pres:fred@localhost"
);

invalid!(empty, "", end(Expected::Scheme), 0);
invalid!(no_colon, "im", end(Expected::Colon), 2);
invalid!(
    bad_scheme_start,
    "1m:a@b",
    unexpected('1', Expected::Scheme),
    0
);
invalid!(
    bad_scheme_char,
    "i_m:a@b",
    unexpected('_', Expected::Colon),
    1
);
invalid!(
    mailto,
    "mailto:a@b.example",
    UriErrorKind::UnknownScheme("mailto".into()),
    0
);
invalid!(
    sip_is_not_im,
    "sip:a@b.example",
    UriErrorKind::UnknownScheme("sip".into()),
    0
);
invalid!(no_mailbox, "im:", end(Expected::Mailbox), 3);
invalid!(
    headers_only,
    "im:?subject=x",
    unexpected('?', Expected::Mailbox),
    3
);
invalid!(no_at, "im:fred", end(Expected::At), 7);
invalid!(
    no_at_before_headers,
    "im:fred?a=b",
    unexpected('?', Expected::At),
    7
);
invalid!(no_domain, "im:fred@", end(Expected::DomainLabel), 8);
invalid!(
    no_local,
    "im:@example.com",
    unexpected('@', Expected::Mailbox),
    3
);
invalid!(
    double_dot_local,
    "im:fred..x@example.com",
    unexpected('.', Expected::Atom),
    8
);
invalid!(
    leading_dot_local,
    "im:.fred@example.com",
    unexpected('.', Expected::Mailbox),
    3
);
invalid!(
    trailing_dot_local,
    "im:fred.@example.com",
    unexpected('@', Expected::Atom),
    8
);
invalid!(
    space_in_atom,
    "im:fred smith@example.com",
    unexpected(' ', Expected::At),
    7
);
invalid!(
    escaped_space_in_atom,
    "im:fred%20smith@example.com",
    unexpected(' ', Expected::At),
    7
);
invalid!(
    angle_in_atom,
    "im:fred<x>@example.com",
    unexpected('<', Expected::At),
    7
);
invalid!(
    display_name,
    "im:Fred%20%3Cfred@example.com%3E",
    unexpected(' ', Expected::At),
    7
);
invalid!(
    short_escape,
    "im:fred%2@example.com",
    UriErrorKind::InvalidEscape,
    7
);
invalid!(
    non_hex_escape,
    "im:fred%zz@example.com",
    UriErrorKind::InvalidEscape,
    7
);
invalid!(
    truncated_escape,
    "im:fred@example.com%",
    UriErrorKind::InvalidEscape,
    19
);
invalid!(
    truncated_utf8,
    "im:fred%C3@example.com",
    UriErrorKind::InvalidUtf8,
    7
);
invalid!(
    invalid_utf8_lead,
    "im:fred%FF@example.com",
    UriErrorKind::InvalidUtf8,
    7
);
invalid!(
    overlong_utf8,
    "im:fred%C0%80@example.com",
    UriErrorKind::InvalidUtf8,
    7
);
invalid!(
    surrogate_utf8,
    "im:fred%ED%A0%80@example.com",
    UriErrorKind::InvalidUtf8,
    7
);
invalid!(
    fragment,
    "im:fred@example.com#x",
    UriErrorKind::Fragment,
    19
);
invalid!(
    fragment_in_header,
    "im:fred@example.com?a=b#x",
    UriErrorKind::Fragment,
    23
);
invalid!(
    underscore_domain,
    "im:fred@exa_mple.com",
    unexpected('_', Expected::Domain),
    11
);
invalid!(
    empty_label,
    "im:fred@example..com",
    unexpected('.', Expected::DomainLabel),
    16
);
invalid!(
    leading_dot_domain,
    "im:fred@.example.com",
    unexpected('.', Expected::DomainLabel),
    8
);
invalid!(
    trailing_dot_domain,
    "im:fred@example.com.",
    end(Expected::DomainLabel),
    20
);
invalid!(
    domain_literal,
    "im:fred@[192.0.2.1]",
    UriErrorKind::DomainLiteral,
    8
);
invalid!(
    leading_hyphen,
    "im:fred@-example.com",
    UriErrorKind::InvalidDomain,
    8
);
valid!(
    label_of_63,
    "im:fred@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example",
    Scheme::Im,
    [(
        "fred",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example"
    )],
    [],
    "im:fred@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example"
);
invalid!(
    bad_punycode,
    "im:fred@xn--a.example",
    UriErrorKind::InvalidDomain,
    8
);
invalid!(
    long_label,
    "im:fred@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example",
    UriErrorKind::InvalidDomain,
    8
);
invalid!(
    empty_list_item,
    "im:a@x.example,,b@y.example",
    unexpected(',', Expected::Mailbox),
    15
);
invalid!(
    trailing_comma,
    "im:a@x.example,",
    end(Expected::Mailbox),
    15
);
invalid!(
    space_after_comma,
    "im:a@x.example, b@y.example",
    unexpected(' ', Expected::Mailbox),
    15
);
invalid!(
    unclosed_quote,
    "im:\"fred@example.com",
    end(Expected::QuotedText),
    20
);
invalid!(
    empty_quoted,
    "im:\"\"@example.com",
    UriErrorKind::EmptyLocalPart,
    3
);
invalid!(
    control_in_quotes,
    "im:\"a%0Ab\"@example.com",
    unexpected('\n', Expected::QuotedText),
    5
);
invalid!(
    control_after_backslash,
    "im:\"a\\%09\"@example.com",
    unexpected('\t', Expected::QuotedPair),
    6
);
invalid!(
    empty_query,
    "im:a@example.com?",
    end(Expected::HeaderName),
    17
);
invalid!(
    header_without_equals,
    "im:a@example.com?subject",
    end(Expected::Equals),
    24
);
invalid!(
    header_ends_at_amp,
    "im:a@example.com?a=1&b&c=2",
    unexpected('&', Expected::Equals),
    22
);
invalid!(
    empty_header_name,
    "im:a@example.com?=x",
    unexpected('=', Expected::HeaderName),
    17
);
invalid!(
    trailing_amp,
    "im:a@example.com?a=1&",
    end(Expected::HeaderName),
    21
);
invalid!(
    space_in_header,
    "im:a@example.com?a=b c",
    unexpected(' ', Expected::HeaderValue),
    20
);
invalid!(
    raw_utf8_in_header,
    "im:a@example.com?a=é",
    unexpected('é', Expected::HeaderValue),
    19
);
invalid!(
    bad_escape_in_header,
    "im:a@example.com?a=%G1",
    UriErrorKind::InvalidEscape,
    19
);
