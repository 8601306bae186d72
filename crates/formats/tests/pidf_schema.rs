//! What the serialiser writes validates against the RFC 3863 section 4.4
//! schema (`testdata/schema/pidf.xsd`), checked with libxml2's `xmllint`:
//! the RFC examples re-serialised, and a few hundred generated documents.
#![allow(clippy::unwrap_used)]

mod pidf_gen;

use cpim_formats::pidf::Presence;
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs `xmllint --schema` over `files`; panics with xmllint's report.
fn validate(files: &[PathBuf]) {
    let schema = root().join("testdata/schema/pidf.xsd");
    let output = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(&schema)
        .args(files)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run xmllint ({e}): the schema test needs it; install Debian's \
                 libxml2-utils (scripts/test does)"
            )
        });
    let report = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "xmllint refused:\n{report}");
    // One "validates" line per file, so none was skipped.
    assert_eq!(
        report.matches(" validates").count(),
        files.len(),
        "{report}"
    );
}

fn write(dir: &Path, name: &str, xml: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, xml).unwrap();
    path
}

fn out_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn reserialised_rfc_examples_validate() {
    let dir = out_dir("pidf_schema_examples");
    let mut files = Vec::new();
    for entry in std::fs::read_dir(root().join("testdata/pidf")).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let Ok(presence) = Presence::parse(&bytes) else {
            continue; // the draft form and the RFC 4479 example without entity
        };
        let name = path.file_name().unwrap().to_str().unwrap();
        files.push(write(&dir, name, &presence.to_xml()));
    }
    assert_eq!(files.len(), 7);
    validate(&files);
}

#[test]
fn generated_documents_validate() {
    let dir = out_dir("pidf_schema_generated");
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]),
    );
    let strategy = pidf_gen::presence();
    let files: Vec<_> = (0..200)
        .map(|i| {
            let presence = strategy.new_tree(&mut runner).unwrap().current();
            write(&dir, &format!("gen{i}.xml"), &presence.to_xml())
        })
        .collect();
    validate(&files);
}

#[test]
fn the_schema_refuses_what_pidf_refuses() {
    // The check can fail: a document without `entity` does not validate.
    let dir = out_dir("pidf_schema_negative");
    let bad = write(
        &dir,
        "no_entity.xml",
        r#"<presence xmlns="urn:ietf:params:xml:ns:pidf"/>"#,
    );
    let output = Command::new("xmllint")
        .args(["--noout", "--schema"])
        .arg(root().join("testdata/schema/pidf.xsd"))
        .arg(&bad)
        .output()
        .expect("xmllint is needed: install Debian's libxml2-utils");
    assert!(!output.status.success());
}
