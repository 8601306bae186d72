//! Fuzz body for PIDF (RFC 3863) and the draft's presence form: parse; if
//! that succeeds, serialise, parse again and require the same value and the
//! same serialised form. With a `mustUnderstand` check and tight limits too,
//! which must refuse or accept but never panic.

use cpim_formats::pidf::{Document, DraftPresence, Limits, Presence};

pub fn run(data: &[u8]) {
    let mut tight = Limits::default();
    tight.max_depth = 4;
    tight.max_tuples = 2;
    tight.max_attributes = 3;
    tight.max_elements = 20;
    let _ = Presence::parse_with(data, &tight);
    let _ = Presence::parse_understanding(
        data,
        &Limits::default(),
        &["urn:ietf:params:xml:ns:pidf:rpid"],
    );

    match Document::parse(data) {
        Ok(Document::Pidf(presence)) => check_pidf(&presence),
        Ok(Document::Draft(draft)) => {
            let xml = draft.to_xml();
            match Document::parse(xml.as_bytes()) {
                Ok(Document::Draft(again)) => assert_eq!(again, draft, "{xml}"),
                other => panic!("draft form written as {xml:?} reads back as {other:?}"),
            }
            check_pidf(&draft.to_presence("pres:fuzz@example.com"));
            let _ = DraftPresence::from_presence(&draft.to_presence("pres:x@example.com"));
        }
        Ok(_) | Err(_) => {}
    }
}

fn check_pidf(presence: &Presence) {
    let xml = presence.to_xml();
    match Presence::parse(xml.as_bytes()) {
        Ok(again) => {
            assert_eq!(&again, presence, "{xml}");
            assert_eq!(again.to_xml(), xml, "serialising is not stable");
        }
        Err(error) => panic!("{presence:?} serialised as {xml:?}, which fails: {error}"),
    }
}
