//! Fuzz body for `im:`/`pres:` URIs and their SIP and XMPP mappings: parse;
//! if that succeeds, write, parse again and require the same value (and, for
//! `im:`/`pres:`, the same written form).

use cpim_formats::uri::{Address, Uri};

pub fn run(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(uri) = Uri::parse(text) {
        let printed = uri.to_string();
        match Uri::parse(&printed) {
            Ok(again) => {
                assert_eq!(again, uri, "{text:?} printed as {printed:?}");
                assert_eq!(again.to_string(), printed, "printing is not stable");
            }
            Err(error) => panic!("{text:?} printed as {printed:?}, which fails: {error}"),
        }
    }
    if let Ok(uri) = Uri::from_sip(text) {
        let sip = uri.to_sip().unwrap_or_else(|e| panic!("{text:?}: {e}"));
        let again = Uri::from_sip(&sip).unwrap_or_else(|e| panic!("{text:?} as {sip:?}: {e}"));
        assert_eq!(again, uri, "{text:?} written as {sip:?}");
    }
    if let Ok(address) = Address::from_jid(text) {
        // A local part holding an RFC 3922 `#26;` has no JID form.
        if let Ok(jid) = address.to_jid() {
            let again =
                Address::from_jid(&jid).unwrap_or_else(|e| panic!("{text:?} as {jid:?}: {e}"));
            assert_eq!(again, address, "{text:?} written as {jid:?}");
        }
    }
}
