//! Starts the real `cpimd` on loopback and drives it with the real `cpim`.
//!
//! `cpimd` is this package's binary (`CARGO_BIN_EXE_cpimd`). `cpim` belongs
//! to the `cpim-cli` package: `cargo test --workspace` builds it into the
//! same directory as `cpimd` before any test runs, and the tests use it
//! from there. When it is missing (`cargo test -p cpimd` on a fresh tree),
//! the first test that needs it runs `cargo build -p cpim-cli --bin cpim`
//! into the same target directory. `CPIM_BIN=/path/to/cpim` overrides both.
//! (After changing the CLI, `cargo test -p cpimd` alone uses the old
//! binary: build it, or run the workspace tests.)

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long a test waits for something that should happen at once; only a
/// broken server takes this long.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// The `cpim` binary, built on first use.
pub fn cpim_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("CPIM_BIN") {
            return PathBuf::from(bin);
        }
        let cpimd = PathBuf::from(env!("CARGO_BIN_EXE_cpimd"));
        let dir = cpimd.parent().expect("cpimd has a directory").to_path_buf();
        let bin = dir.join(format!("cpim{}", std::env::consts::EXE_SUFFIX));
        if bin.exists() {
            return bin;
        }
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let mut build = Command::new(cargo);
        build.args(["build", "--quiet", "-p", "cpim-cli", "--bin", "cpim"]);
        if dir.file_name().is_some_and(|n| n == "release") {
            build.arg("--release");
        }
        // target/<profile>/cpimd -> target
        if let Some(target) = dir.parent() {
            build.env("CARGO_TARGET_DIR", target);
        }
        let status = build.status().expect("cargo runs");
        assert!(status.success(), "cargo build -p cpim-cli failed");
        bin
    })
}

/// A running `cpimd`.
pub struct Server {
    child: Option<Child>,
    pub url: String,
    pub data: PathBuf,
    args: Vec<String>,
    /// Environment for the `cpim` processes run against this server
    /// (`SSL_CERT_FILE` for a test CA).
    client_env: Vec<(String, String)>,
}

/// An account: its user name and token.
#[derive(Clone, Debug)]
pub struct User {
    pub user: String,
    pub token: String,
}

impl User {
    pub fn im(&self) -> String {
        format!("im:{}", self.user)
    }
    pub fn pres(&self) -> String {
        format!("pres:{}", self.user)
    }
}

impl Server {
    /// Starts cpimd serving `example.com` with its state in `data`, on an
    /// ephemeral loopback port; `extra` are more flags.
    pub fn start(data: &Path, extra: &[&str]) -> Server {
        let mut args = vec![
            "--data".to_owned(),
            data.display().to_string(),
            "--domain".to_owned(),
            "example.com".to_owned(),
            "--http".to_owned(),
            "127.0.0.1:0".to_owned(),
        ];
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        Server::spawn(data, args)
    }

    /// Starts cpimd again with the same flags and data (a new port).
    pub fn restart(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let mut again = Server::spawn(&self.data, self.args.clone());
        again.client_env = std::mem::take(&mut self.client_env);
        *self = again;
    }

    fn spawn(data: &Path, args: Vec<String>) -> Server {
        std::fs::create_dir_all(data).expect("data dir");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(data.join("cpimd.log"))
            .expect("log file");
        let mut child = Command::new(env!("CARGO_BIN_EXE_cpimd"))
            .args(&args)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("cpimd starts");
        let stdout = child.stdout.take().expect("stdout piped");
        let mut lines = BufReader::new(stdout).lines();
        let url = loop {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(url) = line.strip_prefix("cpimd listening on ") {
                        break url.trim().to_owned();
                    }
                }
                _ => {
                    let _ = child.kill();
                    let log = std::fs::read_to_string(data.join("cpimd.log")).unwrap_or_default();
                    panic!("cpimd exited before listening:\n{log}");
                }
            }
        };
        // Keep reading so the pipe never fills.
        std::thread::spawn(move || for _ in lines {});
        Server {
            child: Some(child),
            url,
            data: data.to_path_buf(),
            args,
            client_env: Vec::new(),
        }
    }

    /// Sets `key=value` in the environment of every `cpim` run against
    /// this server.
    pub fn with_client_env(mut self, key: &str, value: &str) -> Server {
        self.client_env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Makes an account with `cpim user add` (works while the server runs).
    pub fn user(&self, local: &str) -> User {
        let output = Command::new(cpim_bin())
            .args(["user", "add", &format!("{local}@example.com"), "--data"])
            .arg(&self.data)
            .output()
            .expect("cpim runs");
        assert!(
            output.status.success(),
            "cpim user add: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let value: Value = serde_json::from_slice(&output.stdout).expect("JSON");
        assert!(value["password"].as_str().is_some_and(|p| p.len() >= 16));
        User {
            user: value["user"].as_str().expect("user").to_owned(),
            token: value["token"].as_str().expect("token").to_owned(),
        }
    }

    /// Runs `cpim ARGS` as `user`: its exit code and its one JSON line.
    pub fn cpim(&self, user: &User, args: &[&str]) -> (i32, Value) {
        let output = Command::new(cpim_bin())
            .args(args)
            .env("CPIM_SERVER", &self.url)
            .env("CPIM_TOKEN", &user.token)
            .envs(self.client_env.iter().map(|(k, v)| (k, v)))
            .output()
            .expect("cpim runs");
        let text = String::from_utf8_lossy(&output.stdout);
        let value: Value = serde_json::from_str(text.trim()).unwrap_or_else(|e| {
            panic!(
                "cpim {args:?} printed no JSON ({e}): {text:?}, stderr {:?}",
                String::from_utf8_lossy(&output.stderr)
            )
        });
        (output.status.code().unwrap_or(-1), value)
    }

    /// Starts `cpim watch` as `user` and waits until its inbox is open.
    pub fn watch(&self, user: &User) -> Watch {
        let mut child = Command::new(cpim_bin())
            .arg("watch")
            .env("CPIM_SERVER", &self.url)
            .env("CPIM_TOKEN", &user.token)
            .envs(self.client_env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("cpim watch starts");
        let stdout = child.stdout.take().expect("stdout piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Ok(value) = serde_json::from_str::<Value>(&line) {
                    if tx.send(value).is_err() {
                        break;
                    }
                }
            }
        });
        let watch = Watch { child, rx };
        let ready = watch.next(|e| e["op"] == "ready");
        assert_eq!(ready["user"], user.user.as_str());
        watch
    }

    /// Stops the server with SIGTERM and waits for it to exit.
    pub fn terminate(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
        child.wait().expect("cpimd exits")
    }

    /// Kills the server with SIGKILL: no chance to flush anything.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The bound address, `127.0.0.1:PORT`.
    pub fn addr(&self) -> String {
        let url = &self.url;
        url.strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))
            .unwrap_or(url)
            .to_owned()
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data.join("cpimd.log")).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A running `cpim watch`: the events it printed, in order.
pub struct Watch {
    child: Child,
    rx: mpsc::Receiver<Value>,
}

impl Watch {
    /// The next event matching `want`, skipping others; panics after
    /// [`PATIENCE`].
    pub fn next(&self, want: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(event) if want(&event) => return event,
                Ok(_) => {}
                Err(_) => panic!("no matching event within {PATIENCE:?}"),
            }
        }
    }

    /// Every event received so far, without waiting.
    pub fn drain(&self) -> Vec<Value> {
        self.rx.try_iter().collect()
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh temporary data directory.
pub fn data_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

/// An HTTP client. `cpim-cli` builds reqwest with rustls but no crypto
/// provider, and Cargo unifies features across the workspace, so the
/// provider is installed here before the first client is made.
pub fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}
