#![no_main]

#[path = "../../crates/formats/tests/fuzz_bodies/message.rs"]
mod body;

libfuzzer_sys::fuzz_target!(|data: &[u8]| body::run(data));
