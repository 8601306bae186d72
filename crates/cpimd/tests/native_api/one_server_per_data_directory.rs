//! One engine per file: while a cpimd runs on a data directory, a second one
//! started on the same directory is refused, with an error naming the
//! directory, before it serves anything; `cpim user add` still works beside
//! the running server; after the first is killed with SIGKILL, a new one
//! starts on the directory (the kernel released the lock).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{data_dir, Server};

#[test]
fn a_second_server_on_the_same_data_is_refused_and_user_add_works_beside() {
    let dir = data_dir();
    let mut server = Server::start(dir.path(), &[]);
    let data = dir.path().display().to_string();
    let mut second = Command::new(env!("CARGO_BIN_EXE_cpimd"))
        .args([
            "--data",
            &data,
            "--domain",
            "example.com",
            "--http",
            "127.0.0.1:0",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cpimd runs");
    // Refused at once; a second server that starts serving would never
    // exit, so it is given a bounded time and then counted a failure.
    let deadline = Instant::now() + Duration::from_secs(20);
    while second.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = second.kill();
            let _ = second.wait();
            panic!("a second cpimd ran on a data directory in use");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let second = second.wait_with_output().expect("output");
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("is in use by another cpim store") && stderr.contains(&data),
        "{stderr}"
    );
    assert!(
        !String::from_utf8_lossy(&second.stdout).contains("listening"),
        "the second server must not serve"
    );

    // Accounts are added beside the running server, which takes them.
    let carol = server.user("carol");
    let (code, answer) = server.cpim(&carol, &["watchers"]);
    assert_eq!(code, 0, "{answer}");

    server.kill9();
    server.restart();
    let (code, answer) = server.cpim(&carol, &["watchers"]);
    assert_eq!(code, 0, "{answer}");
}
