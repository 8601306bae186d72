//! Property: every generated `Presence` survives `to_xml` and `parse`
//! unchanged (RFC 3863 model, extensions included).

mod pidf_gen;

use cpim_formats::pidf::Presence;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn parse_of_to_xml_is_identity(p in pidf_gen::presence()) {
        let xml = p.to_xml();
        let again = Presence::parse(xml.as_bytes());
        prop_assert_eq!(again.as_ref(), Ok(&p), "{}", xml);
    }
}
