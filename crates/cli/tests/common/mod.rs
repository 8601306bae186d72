//! What the command-line tests share.

use std::io::Write;
use std::process::{Command, Output, Stdio};

/// Runs `cpim` with `args`, `input` on its standard input.
pub fn cpim_stdin(args: &[&str], input: &[u8]) -> std::io::Result<Output> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cpim"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(input)?;
    }
    child.wait_with_output()
}
