//! Runs the `op` fuzz body on stable over the testdata/op seeds (one
//! operation per file) and seeded mutations of them.

#[path = "fuzz_bodies/op.rs"]
mod body;
#[path = "fuzz_bodies/mutate.rs"]
mod mutate;

#[test]
fn op_fuzz_smoke() -> std::io::Result<()> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/op");
    let mut seeds = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        seeds.push(std::fs::read(entry?.path())?);
    }
    seeds.sort();
    assert!(seeds.len() >= 9, "seeds missing from {dir}");
    mutate::run_mutations(&seeds, 20_000, body::run);
    Ok(())
}
