//! `message/cpim` parse speed beside `httparse` on an HTTP request made of
//! the same header lines (the anchor), with the system allocator; see
//! `support/message_bench.rs`.
//!
//! Run: `cargo bench -p cpim-formats --bench message`.

#[path = "support/message_bench.rs"]
mod message_bench;
#[path = "support/message_inputs.rs"]
mod message_inputs;

const GROUP: &str = "message/cpim parse";

criterion::criterion_main!(message_bench::benches);
