#![no_main]

#[path = "../../crates/sip/tests/fuzz_bodies/sip.rs"]
mod body;

libfuzzer_sys::fuzz_target!(|data: &[u8]| body::run(data));
