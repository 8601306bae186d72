//! Runs the `uri` fuzz body on stable over the testdata/uri seeds (one URI per
//! line) and seeded mutations of them.

#[path = "fuzz_bodies/uri.rs"]
mod body;
#[path = "fuzz_bodies/mutate.rs"]
mod mutate;

#[test]
fn uri_fuzz_smoke() -> std::io::Result<()> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/uri");
    let mut seeds = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let text = std::fs::read_to_string(entry?.path())?;
        seeds.extend(text.lines().map(|line| line.as_bytes().to_vec()));
    }
    assert!(seeds.len() >= 10, "seeds missing from {dir}");
    mutate::run_mutations(&seeds, 10_000, body::run);
    Ok(())
}
