//! Fuzz body for `message/cpim`: parse; a `HeaderStore` that has parsed
//! another message first must give the same result, and so must (under
//! cargo-fuzz) the parse without fast paths; if that succeeds, the
//! message must write back exactly the input, and parsing that again must
//! give the same message.

use cpim_formats::message::{HeaderStore, Limits, Message};

/// A message the store parses before each input, so that the input's
/// headers go into room another message held.
const EARLIER: &[u8] =
    b"From: <im:a@example.com>\r\nSubject: x\r\n\r\nContent-Type: text/plain\r\n\r\n";

pub fn run(data: &[u8]) {
    let limits = Limits {
        max_size: 1 << 16,
        ..Limits::default()
    };
    let parsed = Message::parse_with(data, &limits);
    let mut store = HeaderStore::new();
    if let Ok(earlier) = store.parse(EARLIER) {
        store.reclaim(earlier);
    }
    assert_eq!(
        store.parse_with(data, &limits),
        parsed,
        "the store's parse differs"
    );
    // Under cargo-fuzz: the fast paths give what the byte-by-byte reading
    // gives, the same message or the same error at the same byte.
    #[cfg(fuzzing)]
    assert_eq!(
        Message::parse_without_fast_paths(data, &limits),
        parsed,
        "the fast paths differ"
    );
    let Ok(message) = parsed else {
        return;
    };
    let written = message.to_vec();
    assert_eq!(written, data, "a parsed message must write back its input");
    assert_eq!(message.encoded_len(), data.len());
    match Message::parse_with(&written, &limits) {
        Ok(again) => assert_eq!(again, message),
        Err(error) => panic!("written form fails: {error}"),
    }
    // Whatever came in, the signed part of a signed message is a message.
    if let Some(signed) = message.signed() {
        let part = Message::parse_with(signed.signed_bytes(), &limits);
        assert!(part.is_ok(), "signed part fails: {part:?}");
    }
}
