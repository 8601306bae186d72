//! Runs the `sip` fuzz body on stable over the RFC 4475 messages in
//! testdata/sip and seeded mutations of them.

#[path = "fuzz_bodies/sip.rs"]
mod body;
#[path = "../../formats/tests/fuzz_bodies/mutate.rs"]
mod mutate;

#[test]
fn sip_fuzz_smoke() -> std::io::Result<()> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/sip");
    let mut seeds = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        seeds.push(std::fs::read(entry?.path())?);
    }
    seeds.sort();
    assert!(seeds.len() >= 49, "seeds missing from {dir}");
    mutate::run_mutations(&seeds, 3_000, body::run);
    Ok(())
}
