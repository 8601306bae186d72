//! `message/cpim` parse time as a ratio to `httparse`'s on the same header
//! lines, measured in pairs: each round times a batch of one and then a
//! batch of the other, and the ratio is taken within the round. On a
//! shared machine the speed drifts between criterion's separate runs of
//! the two by more than the difference looked for; within a round of a
//! few milliseconds it hardly does, and the median over rounds drops the
//! rounds a neighbour disturbed.
//!
//! Run: `cargo bench -p cpim-formats --bench message_ratio` (optionally
//! `-- ROUNDS`, 400 by default).

use std::cell::RefCell;
use std::hint::black_box;
use std::time::Instant;

use cpim_formats::message::{HeaderStore, Message};

#[path = "support/message_inputs.rs"]
mod message_inputs;

/// Iterations per batch: about a millisecond of the smaller input.
const BATCH: u32 = 2_000;

fn main() {
    // `cargo bench` passes `--bench`; a number among the arguments is the
    // round count.
    let rounds = std::env::args()
        .skip(1)
        .find_map(|arg| arg.parse::<usize>().ok())
        .unwrap_or(400);
    for (name, cpim, http) in &message_inputs::inputs() {
        // Fewer iterations a batch for the large input, so that a round
        // stays about as long.
        let batch = if cpim.len() > 4096 { BATCH / 20 } else { BATCH };
        let parse_cpim = || {
            black_box(Message::parse(black_box(cpim)).map(|m| m.headers().len())).ok();
        };
        let parse_http = || {
            black_box(message_inputs::httparse_headers(black_box(http)));
        };
        let [cpim_ns, http_ns, ratio] = paired(rounds, batch, &parse_cpim, &parse_http);
        println!(
            "{name}: cpim {:.1} ns, httparse {:.1} ns (medians); ratio per round: \
             median {:.3}x, quartiles {:.3}x-{:.3}x, {rounds} rounds",
            cpim_ns.1, http_ns.1, ratio.1, ratio.0, ratio.2,
        );
        // With the headers' room kept between parses, as httparse is
        // handed its array of headers.
        let store = RefCell::new(HeaderStore::new());
        let parse_stored = || {
            black_box(message_inputs::stored_headers(
                &mut store.borrow_mut(),
                black_box(cpim),
            ));
        };
        let [cpim_ns, http_ns, ratio] = paired(rounds, batch, &parse_stored, &parse_http);
        println!(
            "{name} (HeaderStore): cpim {:.1} ns, httparse {:.1} ns (medians); ratio per \
             round: median {:.3}x, quartiles {:.3}x-{:.3}x, {rounds} rounds",
            cpim_ns.1, http_ns.1, ratio.1, ratio.0, ratio.2,
        );
    }
    // The bare form beside the MIME form of the same message (no anchor
    // of its own): what the form costs.
    let inputs = message_inputs::inputs();
    let mime = inputs
        .first()
        .map(|(_, cpim, _)| cpim.as_slice())
        .unwrap_or_default();
    let bare = message_inputs::bare();
    let parse_bare = || {
        black_box(Message::parse(black_box(bare)).map(|m| m.headers().len())).ok();
    };
    let parse_mime = || {
        black_box(Message::parse(black_box(mime)).map(|m| m.headers().len())).ok();
    };
    let [bare_ns, mime_ns, ratio] = paired(rounds, BATCH, &parse_bare, &parse_mime);
    println!(
        "bare-rfc3862-5.1: cpim {:.1} ns beside the MIME form's {:.1} ns (medians); \
         ratio per round: median {:.3}x",
        bare_ns.1, mime_ns.1, ratio.1,
    );
}

/// Times `rounds` rounds of a batch of `first` then a batch of `second`
/// (after a tenth as many rounds of warm-up: caches, branch predictors,
/// the allocator's free lists): the quartiles of each one's time per
/// call, in nanoseconds, and of their ratio within a round.
fn paired(rounds: usize, batch: u32, first: &dyn Fn(), second: &dyn Fn()) -> [(f64, f64, f64); 3] {
    let time = |f: &dyn Fn()| {
        let start = Instant::now();
        for _ in 0..batch {
            f();
        }
        start.elapsed().as_nanos() as f64 / f64::from(batch)
    };
    for _ in 0..rounds / 10 + 1 {
        time(first);
        time(second);
    }
    let (mut a, mut b, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let x = time(first);
        let y = time(second);
        a.push(x);
        b.push(y);
        ratios.push(x / y);
    }
    [quartiles(&mut a), quartiles(&mut b), quartiles(&mut ratios)]
}

/// The first quartile, median and third quartile.
fn quartiles(values: &mut [f64]) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    let at = |q: usize| values[(values.len() - 1) * q / 4];
    (at(1), at(2), at(3))
}
