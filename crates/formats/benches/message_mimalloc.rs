//! The `message` bench with mimalloc as the global allocator, as cpimd and
//! the load tool run: the parse makes two allocations and the drop frees
//! them, so the allocator is part of its cost.
//!
//! Run: `cargo bench -p cpim-formats --bench message_mimalloc`.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "support/message_bench.rs"]
mod message_bench;
#[path = "support/message_inputs.rs"]
mod message_inputs;

const GROUP: &str = "message/cpim parse (mimalloc)";

criterion::criterion_main!(message_bench::benches);
