//! End-to-end signatures survive `cpim` (RFC 3862 section 5.2, RFC 3922
//! section 4.2.7): a `message/cpim` entity is signed by a real signer
//! (OpenSSL for S/MIME, RFC 2633 and 1847; GnuPG for OpenPGP, RFC 3156),
//! passed through `cpim fmt message` (the parse and write-back a gateway
//! does), and the signer's own verifier must still accept what comes out.
//! Each test also changes one byte of the signed part and checks that the
//! verifier then refuses, so that a verification that could not fail does
//! not count.
//!
//! Needs `openssl` and `gpg` with `gpg-agent` (Debian's openssl, gpg and
//! gpg-agent; `scripts/test` installs them). A missing tool fails the test.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use cpim_formats::message::Message;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// A directory of its own for one test, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(test: &str) -> Result<Scratch> {
        let dir = std::env::temp_dir().join(format!("cpim-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        Ok(Scratch(dir))
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs a tool the test depends on; a tool that cannot be started fails
/// the test with what to install.
fn run(program: &str, args: &[&dyn AsRef<std::ffi::OsStr>], package: &str) -> Result<Output> {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| {
            format!("cannot run {program} ({e}): this test needs Debian's {package} (scripts/test installs it)")
                .into()
        })
}

fn succeeded(what: &str, out: &Output) -> Result<()> {
    if out.status.success() {
        return Ok(());
    }
    Err(format!(
        "{what} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
    .into())
}

/// `cpim fmt message -` over `input`: what a gateway would send on.
fn cpim_fmt(input: &[u8]) -> Result<Vec<u8>> {
    let out = common::cpim_stdin(&["fmt", "message", "-"], input)?;
    succeeded("cpim fmt message", &out)?;
    Ok(out.stdout)
}

/// The messages signed: the RFC 3862 section 5.1 example (namespaces,
/// `Require`, a Subject with a language), and one with UTF-8 in its
/// headers and body and a body that ends without a line break.
fn contents() -> Result<Vec<Vec<u8>>> {
    let example = std::fs::read(format!(
        "{}/../../testdata/message/s5_1_message.cpim",
        env!("CARGO_MANIFEST_DIR")
    ))?;
    let utf8 = "Content-type: Message/CPIM\r\n\r\n\
        From: \"\u{5c71}\u{7530} \u{592a}\u{90ce}\" <im:taro@example.jp>\r\n\
        To: <im:hanako@example.jp>\r\n\
        NS: Locale <urn:example:locale>\r\n\
        Require: Locale.MustRenderKanji\r\n\
        Subject:;lang=ja \u{4eca}\u{65e5}\u{306f}\r\n\
        Locale.MustRenderKanji: yes\r\n\
        \r\n\
        Content-Type: text/plain; charset=utf-8\r\n\
        \r\n\
        \u{3053}\u{3093}\u{306b}\u{3061}\u{306f}\r\n\t trailing white space \t"
        .as_bytes()
        .to_vec();
    Ok(vec![example, utf8])
}

/// `bytes` with one byte of `part` (which lies in it) changed.
fn tampered(bytes: &[u8], part: &[u8]) -> Result<Vec<u8>> {
    let start = bytes
        .windows(part.len())
        .position(|w| w == part)
        .ok_or("the signed part is not in the output")?;
    // A byte of the body, near the end of the part: still a valid message.
    let at = start + part.len() - 3;
    let mut changed = bytes.to_vec();
    changed[at] ^= 0x01;
    Ok(changed)
}

#[test]
fn smime_signature_verifies_after_cpim_fmt() -> Result<()> {
    let dir = Scratch::new("smime")?;
    let (key, cert) = (dir.path("key.pem"), dir.path("cert.pem"));
    let out = run(
        "openssl",
        &[
            &"req",
            &"-x509",
            &"-newkey",
            &"rsa:2048",
            &"-nodes",
            &"-days",
            &"2",
            &"-subj",
            &"/CN=piglet@100akerwood.com",
            &"-keyout",
            &key,
            &"-out",
            &cert,
        ],
        "openssl",
    )?;
    succeeded("openssl req", &out)?;
    for (n, content) in contents()?.iter().enumerate() {
        let (plain, signed) = (dir.path("plain.cpim"), dir.path("signed.eml"));
        std::fs::write(&plain, content)?;
        // `-binary`: the entity is signed as its bytes are, CRLFs included.
        let out = run(
            "openssl",
            &[
                &"smime",
                &"-sign",
                &"-binary",
                &"-crlfeol",
                &"-in",
                &plain,
                &"-signer",
                &cert,
                &"-inkey",
                &key,
                &"-out",
                &signed,
            ],
            "openssl",
        )?;
        succeeded("openssl smime -sign", &out)?;
        let input = std::fs::read(&signed)?;

        let output = cpim_fmt(&input)?;
        assert_eq!(output, input, "message {n}: cpim fmt changed the bytes");
        let message = Message::parse(&output)?;
        let part = message.signed().ok_or("not read as signed")?.signed_bytes();
        assert!(part.starts_with(b"Content-type: Message/CPIM\r\n"));

        let verify = |bytes: &[u8]| -> Result<Output> {
            let through = dir.path("through.eml");
            std::fs::write(&through, bytes)?;
            run(
                "openssl",
                &[
                    &"smime",
                    &"-verify",
                    &"-in",
                    &through,
                    &"-CAfile",
                    &cert,
                    &"-out",
                    &"/dev/null",
                ],
                "openssl",
            )
        };
        succeeded(
            &format!("message {n}: openssl smime -verify"),
            &verify(&output)?,
        )?;
        let refused = verify(&tampered(&output, part)?)?;
        assert!(
            !refused.status.success(),
            "message {n}: a changed byte still verifies"
        );
    }
    Ok(())
}

/// A GnuPG home of its own with one signing key, its agent stopped when
/// dropped.
struct Gpg {
    home: PathBuf,
}

impl Gpg {
    fn new(home: PathBuf) -> Result<Gpg> {
        std::fs::create_dir_all(&home)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700))?;
        }
        let gpg = Gpg { home };
        let out = gpg.run(&[
            &"--passphrase",
            &"",
            &"--quick-gen-key",
            &"Piglet <piglet@100akerwood.com>",
            &"ed25519",
            &"sign",
            &"1d",
        ])?;
        succeeded("gpg --quick-gen-key", &out)?;
        Ok(gpg)
    }

    fn run(&self, args: &[&dyn AsRef<std::ffi::OsStr>]) -> Result<Output> {
        let mut all: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![
            &"--batch",
            &"--pinentry-mode",
            &"loopback",
            &"--homedir",
            &self.home,
        ];
        all.extend_from_slice(args);
        run("gpg", &all, "gpg and gpg-agent")
    }

    /// An ASCII-armoured detached signature of `data`.
    fn sign(&self, data: &Path, signature: &Path) -> Result<()> {
        let out = self.run(&[
            &"--passphrase",
            &"",
            &"--yes",
            &"--armor",
            &"--digest-algo",
            &"SHA256",
            &"--output",
            &signature,
            &"--detach-sign",
            &data,
        ])?;
        succeeded("gpg --detach-sign", &out)
    }

    fn verify(&self, signature: &Path, data: &Path) -> Result<Output> {
        self.run(&[&"--verify", &signature, &data])
    }
}

impl Drop for Gpg {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .arg("--homedir")
            .arg(&self.home)
            .args(["--kill", "gpg-agent"])
            .output();
    }
}

#[test]
fn openpgp_signature_verifies_after_cpim_fmt() -> Result<()> {
    let dir = Scratch::new("openpgp")?;
    let gpg = Gpg::new(dir.path("gnupg"))?;
    let boundary = "cpim-signed-3156";
    for (n, content) in contents()?.iter().enumerate() {
        // The first part is the entity as it is (RFC 3156 section 5: the
        // signature covers it up to, not including, the CRLF before the
        // next delimiter).
        let (data, signature) = (dir.path("part"), dir.path("part.asc"));
        std::fs::write(&data, content)?;
        gpg.sign(&data, &signature)?;
        let armoured = std::fs::read_to_string(&signature)?.replace("\r\n", "\n");
        let mut input = format!(
            "Content-Type: multipart/signed; micalg=pgp-sha256;\r\n \
             protocol=\"application/pgp-signature\"; boundary=\"{boundary}\"\r\n\
             \r\n\
             --{boundary}\r\n"
        )
        .into_bytes();
        input.extend_from_slice(content);
        input.extend_from_slice(
            format!(
                "\r\n--{boundary}\r\n\
                 Content-Type: application/pgp-signature; name=\"signature.asc\"\r\n\
                 \r\n\
                 {}\r\n\
                 --{boundary}--\r\n",
                armoured.trim_end().replace('\n', "\r\n")
            )
            .as_bytes(),
        );

        let output = cpim_fmt(&input)?;
        assert_eq!(output, input, "message {n}: cpim fmt changed the bytes");
        // Verified as a receiver would: the two parts as found in what
        // came through.
        let message = Message::parse(&output)?;
        let signed = message.signed().ok_or("not read as signed")?;
        assert_eq!(signed.signed_bytes(), content.as_slice());
        let second = signed.signature_part();
        let sig_start = second
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or("signature part without a body")?
            + 4;
        let (got_data, got_sig) = (dir.path("got"), dir.path("got.asc"));
        std::fs::write(&got_data, signed.signed_bytes())?;
        std::fs::write(&got_sig, &second[sig_start..])?;
        succeeded(
            &format!("message {n}: gpg --verify"),
            &gpg.verify(&got_sig, &got_data)?,
        )?;

        let changed = tampered(&output, signed.signed_bytes())?;
        let message = Message::parse(&changed)?;
        let signed = message.signed().ok_or("changed copy not read as signed")?;
        std::fs::write(&got_data, signed.signed_bytes())?;
        let refused = gpg.verify(&got_sig, &got_data)?;
        assert!(
            !refused.status.success(),
            "message {n}: a changed byte still verifies"
        );
    }
    Ok(())
}
