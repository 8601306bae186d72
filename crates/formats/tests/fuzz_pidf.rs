//! Runs the `pidf` fuzz body on stable over the testdata/pidf fixtures, a few
//! hand-made corner cases, and seeded mutations of them all.
//! `PIDF_FUZZ_ROUNDS=N` runs longer (the default keeps the suite quick).

#[path = "fuzz_bodies/pidf.rs"]
mod body;
#[path = "fuzz_bodies/mutate.rs"]
mod mutate;

const CORNERS: &[&str] = &[
    r#"<presence xmlns="urn:ietf:params:xml:ns:pi&#100;f" entity="e"><tuple id="a"><status/></tuple></presence>"#,
    r#"<p:presence xmlns:p="urn:ietf:params:xml:ns:pidf" xmlns:xml="http://www.w3.org/XML/1998/namespace" xmlns="urn:d" entity="e"><x a="&amp;&#9;"><!--c-->t<![CDATA[<]]>&lt;</x></p:presence>"#,
    r#"<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="e"><tuple id="a" xmlns:q="urn:q&amp;r" q:at="v"><status><basic> closed </basic><q:s xmlns=""><n/></q:s></status><contact priority="0.0005">  im:a@b  </contact><timestamp> 2001-10-27T16:49:29.123-05:00 </timestamp></tuple></presence>"#,
    "<presence entityInfo='i'><tuple destination='im:a@b' status='closed'>x\r\ny</tuple></presence>",
];

#[test]
fn pidf_fuzz_smoke() -> std::io::Result<()> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/pidf");
    let mut seeds: Vec<Vec<u8>> = CORNERS.iter().map(|s| s.as_bytes().to_vec()).collect();
    for entry in std::fs::read_dir(dir)? {
        seeds.push(std::fs::read(entry?.path())?);
    }
    assert!(seeds.len() >= 13, "seeds missing from {dir}");
    let rounds = std::env::var("PIDF_FUZZ_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(1_000);
    mutate::run_mutations(&seeds, rounds, body::run);
    Ok(())
}
