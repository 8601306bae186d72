//! Fuzz body for `message/cpim`: parse; if that succeeds, the message must
//! write back exactly the input, and parsing that again must give the same
//! message.

use cpim_formats::message::{Limits, Message};

pub fn run(data: &[u8]) {
    let limits = Limits {
        max_size: 1 << 16,
        ..Limits::default()
    };
    let Ok(message) = Message::parse_with(data, &limits) else {
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
