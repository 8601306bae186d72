//! Fuzz body for SIP messages: parse as a datagram and as a stream; never
//! panic, keep error offsets inside the input, and for a message that
//! parses, print it, parse again and require the same message.

use cpim_sip::{Message, Status};

pub fn run(data: &[u8]) {
    match Message::parse_datagram(data) {
        Ok(message) => round_trip(&message),
        Err(error) => assert!(
            error.offset() <= data.len(),
            "{error} beyond {}",
            data.len()
        ),
    }
    match Message::parse_stream(data) {
        Ok(Status::Complete(message, used)) => {
            assert!(used <= data.len());
            assert!(message.body().len() <= used);
            round_trip(&message);
        }
        Ok(_) => {}
        Err(error) => assert!(
            error.offset() <= data.len(),
            "{error} beyond {}",
            data.len()
        ),
    }
}

fn round_trip(message: &Message<'_>) {
    let printed = message.to_bytes();
    let again = match Message::parse_datagram(&printed) {
        Ok(again) => again,
        Err(error) => panic!(
            "{:?} printed as {:?}, which fails: {error}",
            String::from_utf8_lossy(&message.to_bytes()),
            String::from_utf8_lossy(&printed)
        ),
    };
    assert_eq!(again.start_line(), message.start_line());
    let fields = |m: &Message<'_>| -> Vec<(String, String)> {
        m.headers()
            .iter()
            .map(|h| (h.name().to_owned(), h.value().to_owned()))
            .collect()
    };
    assert_eq!(fields(&again), fields(message));
    assert_eq!(again.body(), message.body());
    assert_eq!(again.via(), message.via());
    assert_eq!(again.from(), message.from());
    assert_eq!(again.to(), message.to());
    assert_eq!(again.cseq(), message.cseq());
    assert_eq!(again.contact(), message.contact());
    assert_eq!(again.to_bytes(), printed, "printing is not stable");
    // The decoded views must not panic either.
    for via in message.via() {
        let _ = (
            via.branch(),
            via.rport(),
            via.received(),
            via.has_rfc3261_branch(),
        );
    }
    if let Some(uri) = message.request_uri().and_then(|u| u.as_sip()) {
        let _ = (uri.user_decoded(), uri.header_values());
    }
    for auth in message.authorization() {
        let _ = auth.param("response");
    }
}
