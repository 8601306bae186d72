//! `limits.connections`: cpimd serves at most that many TCP connections at
//! once. One more is not refused by cpimd: it waits in the kernel's backlog,
//! unserved, until a served connection closes, and is then served.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::harness::{data_dir, Server, PATIENCE};

/// Sends `GET /healthz` on a keep-alive connection and reads one answer:
/// its status line, or the read error (a timeout when nothing came).
fn healthz(stream: &mut TcpStream, wait: Duration) -> std::io::Result<String> {
    stream.set_read_timeout(Some(wait))?;
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")?;
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&got[..end]).into_owned();
            let length: usize = head
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse().ok())?
                })
                .unwrap_or(0);
            if got.len() >= end + 4 + length {
                return Ok(head.lines().next().unwrap_or_default().to_owned());
            }
        }
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Err(ErrorKind::UnexpectedEof.into());
        }
        got.extend_from_slice(&buf[..n]);
    }
}

#[test]
fn connections_past_the_limit_wait_until_one_closes() {
    let dir = data_dir();
    let config = dir.path().join("cpimd.toml");
    std::fs::write(&config, "[limits]\nconnections = 2\n").unwrap();
    let server = Server::start(
        &dir.path().join("data"),
        &["--config", config.to_str().unwrap()],
    );
    let addr = server.addr();

    let mut first = TcpStream::connect(&addr).unwrap();
    let mut second = TcpStream::connect(&addr).unwrap();
    assert_eq!(healthz(&mut first, PATIENCE).unwrap(), "HTTP/1.1 200 OK");
    assert_eq!(healthz(&mut second, PATIENCE).unwrap(), "HTTP/1.1 200 OK");

    // The third connects (the kernel completes the handshake) but is not
    // served while both others stay open.
    let mut third = TcpStream::connect(&addr).unwrap();
    let held = healthz(&mut third, Duration::from_secs(2));
    match &held {
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
        other => panic!("a connection past the limit was not held: {other:?}"),
    }
    // The served ones keep working meanwhile.
    assert_eq!(healthz(&mut first, PATIENCE).unwrap(), "HTTP/1.1 200 OK");

    // Closing one frees its place: the waiting request is answered.
    drop(first);
    assert_eq!(healthz_answer(&mut third), "HTTP/1.1 200 OK");
    assert_eq!(healthz(&mut second, PATIENCE).unwrap(), "HTTP/1.1 200 OK");

    // And still only two: with `second` and `third` open, a fourth waits.
    let mut fourth = TcpStream::connect(&addr).unwrap();
    let held = healthz(&mut fourth, Duration::from_secs(1));
    assert!(held.is_err(), "a fourth connection was served: {held:?}");
    drop(second);
    assert_eq!(healthz_answer(&mut fourth), "HTTP/1.1 200 OK");
}

/// The status line of the answer to a request already sent.
fn healthz_answer(stream: &mut TcpStream) -> String {
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "the held connection was closed instead of served");
        answer.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}
