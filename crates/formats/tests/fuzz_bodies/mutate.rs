//! A small deterministic mutator, so the fuzz target bodies also run on the
//! stable toolchain inside `cargo test` (cargo-fuzz needs nightly sanitizers).
//! Seeded, so a failure reproduces exactly.

/// Calls `body` on every seed and on `rounds` mutations of each seed.
pub fn run_mutations(seeds: &[Vec<u8>], rounds: usize, body: impl Fn(&[u8])) {
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    for seed in seeds {
        body(seed);
        let mut input = seed.clone();
        for round in 0..rounds {
            // Restart from the seed now and then so mutations stay near valid input.
            if round % 16 == 0 {
                input.clone_from(seed);
            }
            mutate(&mut input, &mut rng);
            body(&input);
        }
    }
}

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

/// Bytes that matter to the CPIM grammars: separators, quoting, XML and MIME.
const INTERESTING: &[u8] = b":;,@%?&=<>\"'\\/\r\n \t#x0&;]]>-";

fn mutate(input: &mut Vec<u8>, rng: &mut XorShift) {
    match rng.below(6) {
        0 if !input.is_empty() => {
            let at = rng.below(input.len());
            input[at] ^= 1 << rng.below(8);
        }
        1 => {
            let at = rng.below(input.len() + 1);
            input.insert(at, INTERESTING[rng.below(INTERESTING.len())]);
        }
        2 if !input.is_empty() => {
            let at = rng.below(input.len());
            input.remove(at);
        }
        3 => {
            let at = rng.below(input.len() + 1);
            input.truncate(at);
        }
        4 if !input.is_empty() => {
            // Duplicate a slice: repeats headers, elements, escapes.
            let start = rng.below(input.len());
            let end = (start + rng.below(32)).min(input.len());
            let chunk = input[start..end].to_vec();
            let at = rng.below(input.len() + 1);
            input.splice(at..at, chunk);
        }
        _ => {
            let at = rng.below(input.len() + 1);
            input.insert(at, rng.next() as u8);
        }
    }
}
