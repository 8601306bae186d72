//! Runs the `message` fuzz body on stable over the testdata/message seeds
//! and seeded mutations of them. Header fragments are made whole messages
//! (blank line, content headers, body) so they parse as seeds.

#[path = "fuzz_bodies/message.rs"]
mod body;
#[path = "fuzz_bodies/mutate.rs"]
mod mutate;

#[test]
fn message_fuzz_smoke() -> std::io::Result<()> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/message");
    let mut seeds = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let mut bytes = std::fs::read(&path)?;
        if path.extension().is_some_and(|e| e == "txt") {
            bytes.extend_from_slice(b"\r\nContent-Type: text/plain\r\n\r\nbody");
        }
        seeds.push(bytes);
    }
    assert!(seeds.len() >= 19, "seeds missing from {dir}");
    mutate::run_mutations(&seeds, 8_000, body::run);
    Ok(())
}
