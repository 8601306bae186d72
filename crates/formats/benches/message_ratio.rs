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

use std::hint::black_box;
use std::time::Instant;

use cpim_formats::message::Message;

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
    let bare = message_inputs::bare();
    for (name, cpim, http) in &message_inputs::inputs() {
        let batch = if cpim.len() > 4096 { BATCH / 20 } else { BATCH };
        let time = |f: &dyn Fn()| {
            let start = Instant::now();
            for _ in 0..batch {
                f();
            }
            start.elapsed().as_nanos() as f64 / f64::from(batch)
        };
        let parse_cpim = || {
            black_box(Message::parse(black_box(cpim)).map(|m| m.headers().len())).ok();
        };
        let parse_http = || {
            black_box(message_inputs::httparse_headers(black_box(http)));
        };
        let parse_bare = || {
            black_box(Message::parse(black_box(bare)).map(|m| m.headers().len())).ok();
        };
        // Warm-up: caches, branch predictors, the allocator's free lists.
        for _ in 0..rounds / 10 + 1 {
            time(&parse_cpim);
            time(&parse_http);
        }
        let (mut cpim_ns, mut http_ns, mut bare_ns, mut ratios) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for _ in 0..rounds {
            let c = time(&parse_cpim);
            let h = time(&parse_http);
            cpim_ns.push(c);
            http_ns.push(h);
            ratios.push(c / h);
            if *name == "rfc3862-5.1" {
                bare_ns.push(time(&parse_bare));
            }
        }
        let ratio = quartiles(&mut ratios);
        println!(
            "{name}: cpim {:.1} ns, httparse {:.1} ns (medians); ratio per round: \
             median {:.3}x, quartiles {:.3}x-{:.3}x, {} rounds",
            quartiles(&mut cpim_ns).1,
            quartiles(&mut http_ns).1,
            ratio.1,
            ratio.0,
            ratio.2,
            rounds
        );
        if !bare_ns.is_empty() {
            println!(
                "bare-rfc3862-5.1: cpim {:.1} ns (median)",
                quartiles(&mut bare_ns).1
            );
        }
    }
}

/// The first quartile, median and third quartile.
fn quartiles(values: &mut [f64]) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    let at = |q: usize| values[(values.len() - 1) * q / 4];
    (at(1), at(2), at(3))
}
