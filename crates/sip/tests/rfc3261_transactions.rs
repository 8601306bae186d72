//! Non-INVITE transactions (RFC 3261 s17.1.2, s17.2.2) on a fake clock:
//! every timer and retransmission counted exactly, and matching (s17.1.3,
//! s17.2.3) through the transaction table.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use cpim_sip::transaction::{
    ClientEvent, ClientKey, ClientState, ClientTransaction, Disposition, Incoming, KeyError,
    LayerEvent, Reliability, RespondError, ServerState, ServerTransaction, Timers,
    TransactionLayer, Transmit,
};
use cpim_sip::{Message, ResponseBuilder};

const UDP: Reliability = Reliability::Unreliable;
const TCP: Reliability = Reliability::Reliable;

fn request(method: &str, branch: &str, sent_by: &str) -> Vec<u8> {
    format!(
        "{method} sip:bob@example.com SIP/2.0\r\n\
         Via: SIP/2.0/UDP {sent_by};branch={branch}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:alice@example.com>;tag=a1\r\n\
         To: <sip:bob@example.com>\r\n\
         Call-ID: c1@example.com\r\n\
         CSeq: 1 {method}\r\n\
         Content-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

fn response(req: &[u8], code: u16) -> Vec<u8> {
    let message = Message::parse_datagram(req).unwrap();
    ResponseBuilder::for_request(&message, code, "Reason", Some("b1"))
        .build()
        .unwrap()
}

fn ms(base: Instant, at: Instant) -> u64 {
    at.duration_since(base).as_millis() as u64
}

/// Send times, events and response dispositions, each in ms from the start.
type Trace = (Vec<u64>, Vec<(u64, ClientEvent)>, Vec<(u64, Disposition)>);

/// Runs a client transaction alone until it ends or `until`, answering
/// with `answers` (ms, code) as time passes. Returns send times in ms and
/// the events with their times.
fn drive(tx: &mut ClientTransaction, base: Instant, answers: &[(u64, u16)], until: u64) -> Trace {
    let mut sends = Vec::new();
    let mut events = Vec::new();
    let mut dispositions = Vec::new();
    let mut now = base;
    let mut answers = answers.iter().peekable();
    loop {
        while tx.poll_transmit().is_some() {
            sends.push(ms(base, now));
        }
        while let Some(event) = tx.poll_event() {
            events.push((ms(base, now), event));
        }
        let timer = tx.poll_timeout();
        let answer = answers
            .peek()
            .map(|(at, _)| base + Duration::from_millis(*at));
        match (timer, answer) {
            (_, Some(at)) if timer.is_none_or(|t| at < t) => {
                now = at;
                let (_, code) = answers.next().unwrap();
                dispositions.push((ms(base, now), tx.handle_response(*code, now)));
            }
            (Some(t), _) if ms(base, t) <= until => {
                now = t;
                tx.handle_timeout(now);
            }
            _ => break,
        }
    }
    (sends, events, dispositions)
}

#[test]
fn udp_timer_e_doubles_to_t2_then_timer_f_fires() {
    let base = Instant::now();
    let mut tx = ClientTransaction::start(
        request("MESSAGE", "z9hG4bK1", "a.example.com"),
        UDP,
        Timers::default(),
        base,
    )
    .unwrap();
    let (sends, events, _) = drive(&mut tx, base, &[], u64::MAX);
    // The first send, then timer E at T1, 2T1, 4T1, then every T2 (4 s):
    // ten retransmissions before timer F at 64*T1 = 32 s.
    assert_eq!(
        sends,
        [0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]
    );
    assert_eq!(sends.len() - 1, 10);
    assert_eq!(events, [(32_000, ClientEvent::Timeout)]);
    assert_eq!(tx.state(), ClientState::Terminated);
    assert_eq!(tx.poll_timeout(), None);
}

#[test]
fn reliable_transport_sends_once_and_times_out_at_64_t1() {
    let base = Instant::now();
    let mut tx = ClientTransaction::start(
        request("MESSAGE", "z9hG4bK1", "a.example.com"),
        TCP,
        Timers::default(),
        base,
    )
    .unwrap();
    let (sends, events, _) = drive(&mut tx, base, &[], u64::MAX);
    assert_eq!(sends, [0]);
    assert_eq!(events, [(32_000, ClientEvent::Timeout)]);
}

#[test]
fn other_t1_scales_every_timer() {
    let base = Instant::now();
    let timers = Timers {
        t1: Duration::from_millis(100),
        t2: Duration::from_millis(400),
        t4: Duration::from_millis(1000),
    };
    let mut tx = ClientTransaction::start(
        request("OPTIONS", "z9hG4bK1", "a.example.com"),
        UDP,
        timers,
        base,
    )
    .unwrap();
    let (sends, events, _) = drive(&mut tx, base, &[], u64::MAX);
    let mut expected = vec![0, 100, 300, 700];
    let mut t = 700;
    while t + 400 < 6400 {
        t += 400;
        expected.push(t);
    }
    assert_eq!(sends, expected);
    assert_eq!(events, [(6400, ClientEvent::Timeout)]);
}

#[test]
fn provisional_response_moves_to_proceeding_and_retransmits_every_t2() {
    let base = Instant::now();
    let mut tx = ClientTransaction::start(
        request("SUBSCRIBE", "z9hG4bK1", "a.example.com"),
        UDP,
        Timers::default(),
        base,
    )
    .unwrap();
    let (sends, events, dispositions) = drive(&mut tx, base, &[(1000, 100)], u64::MAX);
    // Timer E set in Trying (due at 1.5 s) still fires; from then on T2.
    assert_eq!(
        sends,
        [0, 500, 1500, 5500, 9500, 13500, 17500, 21500, 25500, 29500]
    );
    assert_eq!(dispositions, [(1000, Disposition::Deliver)]);
    assert_eq!(events, [(32_000, ClientEvent::Timeout)]);
}

#[test]
fn final_response_completes_then_timer_k_after_t4() {
    let base = Instant::now();
    let mut tx = ClientTransaction::start(
        request("PUBLISH", "z9hG4bK1", "a.example.com"),
        UDP,
        Timers::default(),
        base,
    )
    .unwrap();
    let (sends, events, dispositions) = drive(
        &mut tx,
        base,
        &[(600, 180), (2000, 200), (2500, 200), (6000, 500)],
        6999,
    );
    assert_eq!(sends, [0, 500, 1500]);
    assert_eq!(
        dispositions,
        [
            (600, Disposition::Deliver),
            (2000, Disposition::Deliver),
            // Retransmissions of the final response are absorbed in Completed.
            (2500, Disposition::Absorb),
            (6000, Disposition::Absorb),
        ]
    );
    assert_eq!(tx.state(), ClientState::Completed);
    assert_eq!(tx.poll_timeout(), Some(base + Duration::from_millis(7000)));
    tx.handle_timeout(base + Duration::from_millis(6999));
    assert_eq!(tx.state(), ClientState::Completed);
    tx.handle_timeout(base + Duration::from_millis(7000));
    assert_eq!(tx.state(), ClientState::Terminated);
    assert!(events.is_empty());
}

#[test]
fn reliable_final_response_terminates_at_once() {
    let base = Instant::now();
    let mut tx = ClientTransaction::start(
        request("MESSAGE", "z9hG4bK1", "a.example.com"),
        TCP,
        Timers::default(),
        base,
    )
    .unwrap();
    assert_eq!(tx.handle_response(202, base), Disposition::Deliver);
    assert_eq!(tx.state(), ClientState::Terminated);
    assert_eq!(tx.handle_response(202, base), Disposition::Absorb);
}

#[test]
fn transport_error_ends_the_client_transaction() {
    let base = Instant::now();
    let mut tx = ClientTransaction::start(
        request("MESSAGE", "z9hG4bK1", "a.example.com"),
        UDP,
        Timers::default(),
        base,
    )
    .unwrap();
    assert!(tx.poll_transmit().is_some());
    tx.handle_transport_error();
    assert_eq!(tx.poll_event(), Some(ClientEvent::TransportError));
    assert_eq!(tx.state(), ClientState::Terminated);
    assert_eq!(tx.poll_timeout(), None);
}

#[test]
fn client_refuses_invite_and_missing_branch() {
    let base = Instant::now();
    let invite = ClientTransaction::start(
        request("INVITE", "z9hG4bK1", "a"),
        UDP,
        Timers::default(),
        base,
    );
    assert!(matches!(
        invite,
        Err(cpim_sip::transaction::StartError::Key(KeyError::Invite))
    ));
    let cookie_only = ClientTransaction::start(
        request("MESSAGE", "z9hG4bK", "a"),
        UDP,
        Timers::default(),
        base,
    );
    assert!(matches!(
        cookie_only,
        Err(cpim_sip::transaction::StartError::Key(
            KeyError::NoRfc3261Branch
        ))
    ));
}

#[test]
fn udp_server_absorbs_then_resends_the_last_response_until_timer_j() {
    let base = Instant::now();
    let req = request("MESSAGE", "z9hG4bKs1", "a.example.com");
    let message = Message::parse_datagram(&req).unwrap();
    let mut tx = ServerTransaction::new(&message, UDP, Timers::default()).unwrap();
    assert_eq!(tx.state(), ServerState::Trying);
    // A retransmission in Trying is absorbed.
    tx.handle_retransmission();
    assert_eq!(tx.poll_transmit(), None);
    // A provisional response, then the request again: the provisional again.
    let trying = response(&req, 100);
    tx.respond(100, trying.clone(), base).unwrap();
    assert_eq!(tx.state(), ServerState::Proceeding);
    assert_eq!(tx.poll_transmit(), Some(trying.clone()));
    tx.handle_retransmission();
    assert_eq!(tx.poll_transmit(), Some(trying));
    // The final response; retransmissions get it, the user cannot send more.
    let ok = response(&req, 200);
    let at = base + Duration::from_millis(1000);
    tx.respond(200, ok.clone(), at).unwrap();
    assert_eq!(tx.state(), ServerState::Completed);
    assert_eq!(tx.poll_transmit(), Some(ok.clone()));
    for _ in 0..3 {
        tx.handle_retransmission();
        assert_eq!(tx.poll_transmit(), Some(ok.clone()));
    }
    assert_eq!(
        tx.respond(500, response(&req, 500), at),
        Err(RespondError::AlreadyCompleted)
    );
    assert_eq!(tx.state(), ServerState::Completed);
    // Timer J: 64*T1 after the final response.
    assert_eq!(tx.poll_timeout(), Some(at + Duration::from_secs(32)));
    tx.handle_timeout(at + Duration::from_millis(31_999));
    assert_eq!(tx.state(), ServerState::Completed);
    tx.handle_timeout(at + Duration::from_secs(32));
    assert_eq!(tx.state(), ServerState::Terminated);
    tx.handle_retransmission();
    assert_eq!(tx.poll_transmit(), None);
}

#[test]
fn reliable_server_terminates_on_the_final_response() {
    let base = Instant::now();
    let req = request("MESSAGE", "z9hG4bKs1", "a.example.com");
    let message = Message::parse_datagram(&req).unwrap();
    let mut tx = ServerTransaction::new(&message, TCP, Timers::default()).unwrap();
    let ok = response(&req, 200);
    tx.respond(200, ok.clone(), base).unwrap();
    assert_eq!(tx.state(), ServerState::Terminated);
    assert_eq!(tx.poll_transmit(), Some(ok));
    assert_eq!(tx.poll_timeout(), None);
}

#[test]
fn server_transport_error_ends_it() {
    let req = request("MESSAGE", "z9hG4bKs1", "a.example.com");
    let message = Message::parse_datagram(&req).unwrap();
    let mut tx = ServerTransaction::new(&message, UDP, Timers::default()).unwrap();
    tx.respond(200, response(&req, 200), Instant::now())
        .unwrap();
    tx.handle_transport_error();
    assert_eq!(tx.state(), ServerState::Terminated);
    assert_eq!(tx.poll_transmit(), None);
}

#[test]
fn layer_matches_requests_by_branch_sent_by_and_method() {
    let now = Instant::now();
    let mut layer = TransactionLayer::new(Timers::default());
    let a = request("MESSAGE", "z9hG4bKm1", "a.example.com");
    let first = Message::parse_datagram(&a).unwrap();
    let Incoming::Request(key) = layer.receive(&first, UDP, now) else {
        panic!("new request")
    };
    assert_eq!(key.branch(), "z9hG4bKm1");
    // The same request again is a retransmission; sent-by compares
    // case-insensitively.
    let again = request("MESSAGE", "z9hG4bKm1", "A.Example.COM");
    assert_eq!(
        layer.receive(&Message::parse_datagram(&again).unwrap(), UDP, now),
        Incoming::Retransmission(key.clone())
    );
    // Same branch from another sent-by, or with another method: new.
    let other_host = request("MESSAGE", "z9hG4bKm1", "b.example.com");
    assert!(matches!(
        layer.receive(&Message::parse_datagram(&other_host).unwrap(), UDP, now),
        Incoming::Request(_)
    ));
    let other_method = request("OPTIONS", "z9hG4bKm1", "a.example.com");
    assert!(matches!(
        layer.receive(&Message::parse_datagram(&other_method).unwrap(), UDP, now),
        Incoming::Request(_)
    ));
    assert_eq!(layer.len(), (0, 3));
    // Answer the first; its retransmission gets the answer.
    let ok = response(&a, 200);
    layer.respond(&key, 200, ok.clone(), now).unwrap();
    let mut sent = Vec::new();
    while let Some(t) = layer.poll_transmit() {
        sent.push(t);
    }
    assert_eq!(
        sent,
        [Transmit::Response {
            key: key.clone(),
            bytes: ok.clone()
        }]
    );
    layer.receive(&first, UDP, now);
    assert_eq!(
        layer.poll_transmit(),
        Some(Transmit::Response {
            key: key.clone(),
            bytes: ok
        })
    );
    // Timer J removes it; the same request then starts a new transaction.
    layer.handle_timeout(now + Duration::from_secs(32));
    assert!(layer.server(&key).is_none());
    assert_eq!(layer.receive(&first, UDP, now), Incoming::Request(key));
}

#[test]
fn layer_matches_responses_by_branch_and_cseq_method() {
    let base = Instant::now();
    let mut layer = TransactionLayer::new(Timers::default());
    let req = request("SUBSCRIBE", "z9hG4bKc1", "a.example.com");
    let key = layer.send_request(req.clone(), UDP, base).unwrap();
    assert!(matches!(
        layer.poll_transmit(),
        Some(Transmit::Request { .. })
    ));
    assert_eq!(layer.poll_transmit(), None);
    // Same branch, other CSeq method: not ours.
    let notify = response(&request("NOTIFY", "z9hG4bKc1", "a.example.com"), 200);
    assert_eq!(
        layer.receive(&Message::parse_datagram(&notify).unwrap(), UDP, base),
        Incoming::Stray
    );
    let ok = response(&req, 200);
    let ok = Message::parse_datagram(&ok).unwrap();
    assert_eq!(ClientKey::of(&ok).unwrap(), key);
    assert_eq!(
        layer.receive(&ok, UDP, base),
        Incoming::Response(key.clone())
    );
    assert_eq!(
        layer.receive(&ok, UDP, base),
        Incoming::Absorbed(key.clone())
    );
    layer.handle_timeout(base + Duration::from_secs(5));
    assert_eq!(layer.len(), (0, 0));
    assert_eq!(layer.receive(&ok, UDP, base), Incoming::Stray);
}

#[test]
fn layer_reports_timeouts_and_keeps_time_per_transaction() {
    let base = Instant::now();
    let mut layer = TransactionLayer::new(Timers::default());
    let first = layer
        .send_request(request("MESSAGE", "z9hG4bK1", "a"), UDP, base)
        .unwrap();
    let later = base + Duration::from_secs(10);
    let second = layer
        .send_request(request("MESSAGE", "z9hG4bK2", "a"), TCP, later)
        .unwrap();
    let mut sends = 0;
    let mut events = Vec::new();
    let mut now = base;
    loop {
        while layer.poll_transmit().is_some() {
            sends += 1;
        }
        while let Some(LayerEvent::Client { key, event }) = layer.poll_event() {
            events.push((ms(base, now), key, event));
        }
        let Some(t) = layer.poll_timeout() else { break };
        now = t;
        layer.handle_timeout(now);
    }
    // 11 over UDP, 1 over TCP.
    assert_eq!(sends, 12);
    assert_eq!(
        events,
        [
            (32_000, first, ClientEvent::Timeout),
            (42_000, second, ClientEvent::Timeout)
        ]
    );
    assert_eq!(layer.len(), (0, 0));
}

#[test]
fn layer_ignores_a_deadline_the_transaction_left_behind() {
    let base = Instant::now();
    let mut layer = TransactionLayer::new(Timers::default());
    let req = request("MESSAGE", "z9hG4bKs1", "a");
    let key = layer.send_request(req.clone(), UDP, base).unwrap();
    assert!(layer.poll_transmit().is_some());
    // Timer E was due at 500 ms; the 200 at 100 ms moves the transaction to
    // Completed with timer K at 5,100 ms.
    let ok = response(&req, 200);
    let at_100 = base + Duration::from_millis(100);
    assert_eq!(
        layer.receive(&Message::parse_datagram(&ok).unwrap(), UDP, at_100),
        Incoming::Response(key.clone())
    );
    // The stale 500 ms entry fires nothing: no retransmission, no event.
    layer.handle_timeout(base + Duration::from_millis(500));
    assert_eq!(layer.poll_transmit(), None);
    assert_eq!(layer.poll_event(), None);
    assert_eq!(
        layer.client(&key).map(ClientTransaction::state),
        Some(ClientState::Completed)
    );
    assert_eq!(
        layer.poll_timeout(),
        Some(base + Duration::from_millis(5_100))
    );
    layer.handle_timeout(base + Duration::from_millis(5_099));
    assert_eq!(layer.len(), (1, 0));
    layer.handle_timeout(base + Duration::from_millis(5_100));
    assert_eq!(layer.len(), (0, 0));
    assert_eq!(layer.poll_timeout(), None);
}

#[test]
fn layer_with_many_answered_transactions_sends_only_what_is_new() {
    let base = Instant::now();
    let mut layer = TransactionLayer::new(Timers::default());
    let mut keys = Vec::new();
    for i in 0..10_000 {
        let now = base + Duration::from_micros(i);
        let req = request("MESSAGE", &format!("z9hG4bKn{i}"), "a");
        let Incoming::Request(key) =
            layer.receive(&Message::parse_datagram(&req).unwrap(), UDP, now)
        else {
            panic!("new request")
        };
        layer.respond(&key, 200, response(&req, 200), now).unwrap();
        // Exactly this response goes out, once.
        assert!(
            matches!(layer.poll_transmit(), Some(Transmit::Response { key: k, .. }) if k == key)
        );
        assert_eq!(layer.poll_transmit(), None);
        keys.push(key);
    }
    assert_eq!(layer.len(), (0, 10_000));
    // Timer J, 32 s after each answer, ends them in order.
    assert_eq!(layer.poll_timeout(), Some(base + Duration::from_secs(32)));
    layer.handle_timeout(base + Duration::from_secs(32) + Duration::from_micros(4_999));
    assert_eq!(layer.len(), (0, 5_000));
    assert!(layer.server(&keys[4_999]).is_none());
    assert!(layer.server(&keys[5_000]).is_some());
    layer.handle_timeout(base + Duration::from_secs(33));
    assert_eq!(layer.len(), (0, 0));
    // Each ended transaction is reported once, in order.
    let ended: Vec<_> = std::iter::from_fn(|| layer.poll_event()).collect();
    assert_eq!(ended.len(), 10_000);
    assert_eq!(
        ended[0],
        LayerEvent::ServerEnded {
            key: keys[0].clone()
        }
    );
}

#[test]
fn rfc4475_messages_without_a_transaction_id() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/sip");
    let now = Instant::now();
    let mut layer = TransactionLayer::new(Timers::default());
    // s3.2.1: the branch is the bare cookie.
    let bytes = std::fs::read(format!("{dir}/badbranch.dat")).unwrap();
    let message = Message::parse_datagram(&bytes).unwrap();
    assert_eq!(
        layer.receive(&message, UDP, now),
        Incoming::NotHandled(KeyError::NoRfc3261Branch)
    );
    // s3.3.10: a response nobody asked for.
    let bytes = std::fs::read(format!("{dir}/bcast.dat")).unwrap();
    let message = Message::parse_datagram(&bytes).unwrap();
    assert_eq!(layer.receive(&message, UDP, now), Incoming::Stray);
    // s3.4.1: RFC 2543 INVITE, no branch.
    let bytes = std::fs::read(format!("{dir}/inv2543.dat")).unwrap();
    let message = Message::parse_datagram(&bytes).unwrap();
    assert_eq!(
        layer.receive(&message, UDP, now),
        Incoming::NotHandled(KeyError::Invite)
    );
}

/// A client and a server layer on a simulated UDP network that loses the
/// first two requests and the first response; no sockets, no sleeps.
#[test]
fn lossy_udp_pair_delivers_one_response() {
    let base = Instant::now();
    let mut client = TransactionLayer::new(Timers::default());
    let mut server = TransactionLayer::new(Timers::default());
    let req = request("MESSAGE", "z9hG4bKnet", "a.example.com");
    let ok = response(&req, 200);
    let key = client.send_request(req, UDP, base).unwrap();
    let (mut lose_requests, mut lose_responses) = (2, 1);
    let mut log = Vec::new();
    let mut now = base;
    loop {
        let mut moved = true;
        while moved {
            moved = false;
            while let Some(transmit) = client.poll_transmit() {
                moved = true;
                let Transmit::Request { bytes, .. } = transmit else {
                    panic!()
                };
                if lose_requests > 0 {
                    lose_requests -= 1;
                    log.push((ms(base, now), "request lost"));
                    continue;
                }
                let message = Message::parse_datagram(&bytes).unwrap();
                match server.receive(&message, UDP, now) {
                    Incoming::Request(k) => {
                        log.push((ms(base, now), "server: new request"));
                        server.respond(&k, 200, ok.clone(), now).unwrap();
                    }
                    Incoming::Retransmission(_) => {
                        log.push((ms(base, now), "server: retransmission"))
                    }
                    other => panic!("{other:?}"),
                }
            }
            while let Some(transmit) = server.poll_transmit() {
                moved = true;
                let Transmit::Response { bytes, .. } = transmit else {
                    panic!()
                };
                if lose_responses > 0 {
                    lose_responses -= 1;
                    log.push((ms(base, now), "response lost"));
                    continue;
                }
                let message = Message::parse_datagram(&bytes).unwrap();
                match client.receive(&message, UDP, now) {
                    Incoming::Response(k) => {
                        assert_eq!(k, key);
                        log.push((ms(base, now), "client: response"));
                    }
                    other => panic!("{other:?}"),
                }
            }
        }
        let next = [client.poll_timeout(), server.poll_timeout()]
            .into_iter()
            .flatten()
            .min();
        let Some(next) = next else { break };
        now = next;
        let client_live = client.len() != (0, 0);
        client.handle_timeout(now);
        server.handle_timeout(now);
        if client_live && client.len() == (0, 0) {
            log.push((ms(base, now), "client gone"));
        }
        if client.len() == (0, 0) && server.len() == (0, 0) {
            log.push((ms(base, now), "all gone"));
        }
    }
    assert_eq!(
        log,
        [
            (0, "request lost"),
            (500, "request lost"),
            (1500, "server: new request"),
            (1500, "response lost"),
            (3500, "server: retransmission"),
            (3500, "client: response"),
            // Timer K (T4 after the response) ends the client; timer J
            // (64*T1 after the first response) ends the server.
            (8500, "client gone"),
            (33_500, "all gone"),
        ]
    );
    assert_eq!(client.poll_event(), None);
}
