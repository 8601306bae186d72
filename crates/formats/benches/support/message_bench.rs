//! The body of the `message` and `message_mimalloc` benches: `message/cpim`
//! parse speed beside `httparse` on an HTTP request made of the same header
//! lines (the anchor), in one criterion group so both run on the same
//! machine in the same run. The two binaries differ only in the global
//! allocator (the system one, and mimalloc as cpimd runs).

use std::hint::black_box;

use cpim_formats::message::{HeaderStore, Message};
use criterion::{criterion_group, Criterion};

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group(super::GROUP);
    for (name, cpim, http) in &super::message_inputs::inputs() {
        group.bench_function(format!("cpim/{name}"), |b| {
            b.iter(|| Message::parse(black_box(cpim)).map(|m| m.headers().len()))
        });
        // The headers' room kept between parses, as httparse is handed
        // its array of headers.
        let mut store = HeaderStore::new();
        group.bench_function(format!("cpim-store/{name}"), |b| {
            b.iter(|| super::message_inputs::stored_headers(&mut store, black_box(cpim)))
        });
        group.bench_function(format!("httparse/{name}"), |b| {
            b.iter(|| super::message_inputs::httparse_headers(black_box(http)))
        });
    }
    // No anchor of its own; it shows what the bare form costs.
    let bare = super::message_inputs::bare();
    group.bench_function("cpim/bare-rfc3862-5.1", |b| {
        b.iter(|| Message::parse(black_box(bare)).map(|m| m.headers().len()))
    });
    group.finish();
}

criterion_group!(benches, bench);
