//! Header field names (RFC 3261 s7.3, s20; compact forms s7.3.3 and the
//! IANA registry) and the raw header fields of a message.

use std::fmt;

/// A header field as written: name and value borrowed from the message.
///
/// The value has the leading and trailing white space removed; folded
/// continuation lines stay in it as written (CRLF followed by SP or HTAB).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header<'a> {
    name: &'a str,
    value: &'a str,
    offset: usize,
    value_offset: usize,
}

impl<'a> Header<'a> {
    pub(crate) fn new(name: &'a str, value: &'a str, offset: usize, value_offset: usize) -> Self {
        Header {
            name,
            value,
            offset,
            value_offset,
        }
    }

    /// The name as written (`v`, `VIA`, `Via`...).
    pub fn name(&self) -> &'a str {
        self.name
    }

    /// The value as written, folds included.
    pub fn value(&self) -> &'a str {
        self.value
    }

    /// The known header this is, whatever form and case it was written in.
    pub fn known(&self) -> Option<HeaderName> {
        HeaderName::from_wire(self.name)
    }

    /// Whether this field is the header `name`.
    pub fn is(&self, name: HeaderName) -> bool {
        self.known() == Some(name)
    }

    /// Byte offset of the field's name in the message.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// Byte offset of the field's value in the message.
    pub fn value_offset(&self) -> usize {
        self.value_offset
    }
}

macro_rules! header_names {
    ($( $variant:ident => $long:literal $(, $compact:literal)? ;)*) => {
        /// The header fields cpim knows by name. Others are kept as
        /// [`Header`]s with their names as written.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum HeaderName {
            $( $variant, )*
        }

        impl HeaderName {
            /// The long form, as cpim writes it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( HeaderName::$variant => $long, )*
                }
            }

            /// The compact form (RFC 3261 s7.3.3), if there is one.
            pub fn compact(self) -> Option<char> {
                match self {
                    $( $( HeaderName::$variant => Some($compact), )? )*
                    #[allow(unreachable_patterns)]
                    _ => None,
                }
            }

            /// Looks up a name as written: long or compact form, any case.
            pub fn from_wire(name: &str) -> Option<HeaderName> {
                $(
                    if name.eq_ignore_ascii_case($long) {
                        return Some(HeaderName::$variant);
                    }
                    $(
                        if name.len() == 1
                            && name.chars().next().is_some_and(|c| c.eq_ignore_ascii_case(&$compact))
                        {
                            return Some(HeaderName::$variant);
                        }
                    )?
                )*
                None
            }
        }
    };
}

header_names! {
    Accept => "Accept";
    AcceptContact => "Accept-Contact", 'a';
    Allow => "Allow";
    AllowEvents => "Allow-Events", 'u';
    Authorization => "Authorization";
    CallId => "Call-ID", 'i';
    Contact => "Contact", 'm';
    ContentEncoding => "Content-Encoding", 'e';
    ContentLength => "Content-Length", 'l';
    ContentType => "Content-Type", 'c';
    CSeq => "CSeq";
    Date => "Date";
    Event => "Event", 'o';
    Expires => "Expires";
    From => "From", 'f';
    Identity => "Identity", 'y';
    MaxForwards => "Max-Forwards";
    MinExpires => "Min-Expires";
    ProxyAuthenticate => "Proxy-Authenticate";
    ProxyAuthorization => "Proxy-Authorization";
    ProxyRequire => "Proxy-Require";
    RecordRoute => "Record-Route";
    ReferTo => "Refer-To", 'r';
    ReferredBy => "Referred-By", 'b';
    RejectContact => "Reject-Contact", 'j';
    Require => "Require";
    RetryAfter => "Retry-After";
    Route => "Route";
    Server => "Server";
    SessionExpires => "Session-Expires", 'x';
    SipETag => "SIP-ETag";
    SipIfMatch => "SIP-If-Match";
    Subject => "Subject", 's';
    SubscriptionState => "Subscription-State";
    Supported => "Supported", 'k';
    To => "To", 't';
    Unsupported => "Unsupported";
    UserAgent => "User-Agent";
    Via => "Via", 'v';
    WwwAuthenticate => "WWW-Authenticate";
}

impl fmt::Display for HeaderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
