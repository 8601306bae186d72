//! Parsing speed of SIP messages, beside an anchor measured in the same
//! run: httparse reading an HTTP/1.1 request with the same header lines.
//! cpim-sip does more (it types and checks every header it knows), so the
//! ratio is the figure to watch, not the absolute times.

use std::hint::black_box;

use cpim_sip::transaction::{Reliability, Timers, TransactionLayer};
use cpim_sip::Message;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const HEADERS: &str = "Via: SIP/2.0/UDP pc33.example.com:5060;branch=z9hG4bK776sgdkse;rport\r\n\
    Max-Forwards: 70\r\n\
    From: \"Alice\" <sip:alice@example.com>;tag=49583\r\n\
    To: <sip:bob@example.com>\r\n\
    Call-ID: asd88asd77a@1.2.3.4\r\n\
    CSeq: 1 MESSAGE\r\n\
    Contact: <sip:alice@pc33.example.com;transport=udp>\r\n\
    User-Agent: cpim\r\n\
    Content-Type: message/cpim\r\n\
    Content-Length: 0\r\n\r\n";

fn parse(c: &mut Criterion) {
    let sip = format!("MESSAGE sip:bob@example.com SIP/2.0\r\n{HEADERS}");
    let http = format!("POST /inbox/bob@example.com HTTP/1.1\r\n{HEADERS}");
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/sip");
    let wsinv = std::fs::read(format!("{fixtures}/wsinv.dat")).unwrap_or_default();
    let longreq = std::fs::read(format!("{fixtures}/longreq.dat")).unwrap_or_default();

    let mut group = c.benchmark_group("parse");
    group.throughput(Throughput::Bytes(sip.len() as u64));
    group.bench_function("sip_message_datagram", |b| {
        b.iter(|| Message::parse_datagram(black_box(sip.as_bytes())).map(|m| m.via().len()))
    });
    group.bench_function("anchor_httparse_same_headers", |b| {
        b.iter(|| {
            let mut headers = [httparse::EMPTY_HEADER; 16];
            let mut request = httparse::Request::new(&mut headers);
            request
                .parse(black_box(http.as_bytes()))
                .map(|s| s.is_complete())
        })
    });
    group.throughput(Throughput::Bytes(wsinv.len() as u64));
    group.bench_function("rfc4475_wsinv", |b| {
        b.iter(|| Message::parse_datagram(black_box(&wsinv)).map(|m| m.via().len()))
    });
    group.throughput(Throughput::Bytes(longreq.len() as u64));
    group.bench_function("rfc4475_longreq", |b| {
        b.iter(|| Message::parse_datagram(black_box(&longreq)).map(|m| m.via().len()))
    });
    group.finish();

    // A server transaction's whole life: receive, respond, absorb one
    // retransmission, timer J.
    let now = std::time::Instant::now();
    let message = match Message::parse_datagram(sip.as_bytes()) {
        Ok(message) => message,
        Err(error) => panic!("bench message: {error}"),
    };
    c.bench_function("transaction/server_lifecycle", |b| {
        b.iter(|| {
            let mut layer = TransactionLayer::new(Timers::default());
            let incoming = layer.receive(&message, Reliability::Unreliable, now);
            if let cpim_sip::transaction::Incoming::Request(key) = incoming {
                let _ = layer.respond(&key, 200, b"SIP/2.0 200 OK\r\n\r\n".to_vec(), now);
            }
            layer.receive(&message, Reliability::Unreliable, now);
            while layer.poll_transmit().is_some() {}
            layer.handle_timeout(now + std::time::Duration::from_secs(32));
            layer.len()
        })
    });
}

criterion_group!(benches, parse);
criterion_main!(benches);
