//! Helpers shared by the parsers' unit tests.

/// Calls `check` with `input` whole, with every prefix of it, and with
/// each of its bytes in turn replaced by each of `replacements`: the
/// inputs on which a parser's fast path and its byte-by-byte path are
/// compared.
pub(crate) fn each_mutation(input: &[u8], replacements: &[u8], mut check: impl FnMut(&[u8])) {
    check(input);
    let mut bytes = input.to_vec();
    for at in 0..input.len() {
        check(&input[..at]);
        for &b in replacements {
            bytes[at] = b;
            check(&bytes);
        }
        bytes[at] = input[at];
    }
}
