//! Draft section 2.4.1 (the message operation), each step, and 2.4.2
//! (looping), on the engine alone.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use cpim_engine::{Effect, Input, InputError, Origin, Principal, RelayId, SessionId};
use cpim_formats::op::{MessageOp, ResponseOp, Status};

fn ready() -> Harness {
    let mut h = Harness::standard();
    h.add_user("alice@example.com");
    h.add_user("bob@example.com");
    h.take();
    h
}

fn raw(
    h: &mut Harness,
    source: &str,
    destination: &str,
    principal: Principal,
    hops: u8,
) -> cpim_formats::op::TransId {
    let t = h.trans();
    let op = MessageOp {
        source: cpim_formats::uri::Uri::parse(source).unwrap(),
        destination: cpim_formats::uri::Uri::parse(destination).unwrap(),
        trans_id: t,
        content_type: "text/plain".into(),
        body: b"hi".to_vec(),
    };
    h.handle(Input::Message {
        origin: Origin(9),
        principal,
        op,
        hops,
    })
    .unwrap();
    t
}

#[test]
fn step_1_source_or_destination_not_an_instant_inbox_fails() {
    let mut h = ready();
    h.open(1, "bob@example.com");
    let svc = Principal::Service;
    let t = raw(
        &mut h,
        "pres:alice@example.com",
        "im:bob@example.com",
        svc.clone(),
        70,
    );
    let r = only_response(&h.take(), t);
    assert_eq!(r.status, Status::Failure);
    assert_eq!(
        r.reason.as_deref(),
        Some("the source is not a single im: address")
    );
    let t = raw(
        &mut h,
        "im:alice@example.com",
        "im:bob@example.com,carol@example.com",
        svc,
        70,
    );
    let out = h.take();
    let r = only_response(&out, t);
    assert_eq!(r.status, Status::Failure);
    assert_eq!(
        r.reason.as_deref(),
        Some("the destination is not a single im: address")
    );
    assert!(!out.iter().any(|e| matches!(e, Effect::Deliver { .. })));
}

#[test]
fn step_2_sender_may_not_use_that_source() {
    let mut h = ready();
    h.open(1, "bob@example.com");
    let as_carol = Principal::User(addr("carol@example.com"));
    let t = raw(
        &mut h,
        "im:alice@example.com",
        "im:bob@example.com",
        as_carol,
        70,
    );
    let out = h.take();
    let r = only_response(&out, t);
    assert_eq!(r.status, Status::Failure);
    assert!(r
        .reason
        .unwrap()
        .contains("not authorised to send as alice@example.com"));
    assert!(!out.iter().any(|e| matches!(e, Effect::Deliver { .. })));
    // A peer authenticated for a domain may send for its addresses only.
    let peer = Principal::Domain("example.net".into());
    let t = raw(
        &mut h,
        "im:x@example.net",
        "im:bob@example.com",
        peer.clone(),
        70,
    );
    assert_eq!(only_response(&h.take(), t).status, Status::Success);
    let t = raw(&mut h, "im:x@example.org", "im:bob@example.com", peer, 70);
    assert_eq!(only_response(&h.take(), t).status, Status::Failure);
}

#[test]
fn step_2_destination_block_list_refuses() {
    let mut h = ready();
    h.open(1, "bob@example.com");
    h.handle(Input::SetBlock {
        inbox: addr("bob@example.com"),
        sender: addr("alice@example.com"),
        blocked: true,
    })
    .unwrap();
    let t = h.message("alice@example.com", "bob@example.com", "hi");
    let out = h.take();
    assert_eq!(only_response(&out, t).status, Status::Failure);
    assert!(!out.iter().any(|e| matches!(e, Effect::Deliver { .. })));
    h.handle(Input::SetBlock {
        inbox: addr("bob@example.com"),
        sender: addr("alice@example.com"),
        blocked: false,
    })
    .unwrap();
    let t = h.message("alice@example.com", "bob@example.com", "hi");
    assert_eq!(only_response(&h.take(), t).status, Status::Success);
}

#[test]
fn step_3a_delivered_to_every_open_inbox_then_success() {
    let mut h = ready();
    h.open(1, "bob@example.com");
    h.open(2, "bob@example.com");
    h.open(3, "alice@example.com");
    h.take();
    let t = h.message("alice@example.com", "bob@example.com", "hello");
    let out = h.take();
    let sessions: Vec<SessionId> = out
        .iter()
        .filter_map(|e| match e {
            Effect::Deliver { session, message } => {
                assert_eq!(message.body, b"hello");
                assert_eq!(message.trans_id, t);
                Some(*session)
            }
            _ => None,
        })
        .collect();
    assert_eq!(sessions, vec![SessionId(1), SessionId(2)]);
    let r = only_response(&out, t);
    assert_eq!(r.status, Status::Success);
    assert!(matches!(
        out.last(),
        Some(Effect::Respond { to: Origin(1), .. })
    ));
}

#[test]
fn step_3b_unknown_user_or_no_open_inbox_fails_with_a_reason() {
    let mut h = ready();
    let t = h.message("alice@example.com", "nobody@example.com", "hi");
    let r = only_response(&h.take(), t);
    assert_eq!(r.status, Status::Failure);
    assert_eq!(
        r.reason.as_deref(),
        Some("there is no inbox nobody@example.com here")
    );
    let t = h.message("alice@example.com", "bob@example.com", "hi");
    let r = only_response(&h.take(), t);
    assert_eq!(r.status, Status::Failure);
    assert_eq!(
        r.reason.as_deref(),
        Some("bob@example.com has no open inbox; the message was not delivered")
    );
    // A closed session no longer receives.
    h.open(1, "bob@example.com");
    h.handle(Input::SessionClosed(SessionId(1))).unwrap();
    let t = h.message("alice@example.com", "bob@example.com", "hi");
    assert_eq!(only_response(&h.take(), t).status, Status::Failure);
    assert_eq!(
        h.handle(Input::SessionClosed(SessionId(1))),
        Err(InputError::UnknownSession(SessionId(1)))
    );
}

#[test]
fn step_3b_domain_without_route_fails() {
    let mut h = ready();
    let t = h.message("alice@example.com", "zed@elsewhere.test", "hi");
    let r = only_response(&h.take(), t);
    assert_eq!(r.status, Status::Failure);
    assert_eq!(r.reason.as_deref(), Some("no route to elsewhere.test"));
}

#[test]
fn step_3c_delegation_without_answer_is_indeterminant() {
    let mut h = ready();
    let t = h.message("alice@example.com", "carol@example.org", "hi");
    let out = h.take();
    assert!(
        matches!(&out[0], Effect::Relay { relay: None, binding, hops: 69, message } if binding == "xmpp" && message.trans_id == t)
    );
    assert_eq!(only_response(&out, t).status, Status::Indeterminant);
}

fn relay_of(out: &[Effect]) -> RelayId {
    out.iter()
        .find_map(|e| match e {
            Effect::Relay { relay: Some(r), .. } => Some(*r),
            _ => None,
        })
        .unwrap()
}

#[test]
fn step_3d_response_waits_for_the_authoritative_answer() {
    let mut h = ready();
    let t = h.message("alice@example.com", "dave@example.net", "hi");
    let out = h.take();
    assert!(responses(&out).is_empty(), "no response before the answer");
    let relay = relay_of(&out);
    let mut answer = ResponseOp::new(
        Status::Failure,
        cpim_formats::op::TransId::new(4242).unwrap(),
    );
    answer.reason = Some("user unknown".into());
    h.handle(Input::RelayAnswer {
        relay,
        answer: Some(answer),
    })
    .unwrap();
    let out = h.take();
    let r = only_response(&out, t);
    assert_eq!(r.status, Status::Failure);
    assert_eq!(r.reason.as_deref(), Some("user unknown"));
    assert!(matches!(out[0], Effect::Respond { to: Origin(1), .. }));
    // A second answer for the same relay is refused.
    assert_eq!(
        h.handle(Input::RelayAnswer {
            relay,
            answer: None
        }),
        Err(InputError::UnknownRelay(relay))
    );
}

#[test]
fn step_3d_no_answer_will_come_or_too_late_is_indeterminant() {
    let mut h = ready();
    let t = h.message("alice@example.com", "dave@example.net", "hi");
    let relay = relay_of(&h.take());
    h.handle(Input::RelayAnswer {
        relay,
        answer: None,
    })
    .unwrap();
    assert_eq!(only_response(&h.take(), t).status, Status::Indeterminant);

    let t = h.message("alice@example.com", "dave@example.net", "again");
    h.take();
    h.advance(h.config.relay_timeout_ms - 1);
    assert!(h.take().is_empty());
    h.advance(1);
    let r = only_response(&h.take(), t);
    assert_eq!(r.status, Status::Indeterminant);
    assert!(h.engine.poll_timeout().is_none());
}

#[test]
fn section_2_4_2_each_relay_takes_a_hop_and_none_left_is_a_loop() {
    let mut h = ready();
    let t = raw(
        &mut h,
        "im:alice@example.com",
        "im:carol@example.org",
        Principal::Service,
        1,
    );
    let out = h.take();
    assert!(matches!(&out[0], Effect::Relay { hops: 0, .. }));
    assert_eq!(only_response(&out, t).status, Status::Indeterminant);
    let t = raw(
        &mut h,
        "im:alice@example.com",
        "im:carol@example.org",
        Principal::Service,
        0,
    );
    let out = h.take();
    assert!(!out.iter().any(|e| matches!(e, Effect::Relay { .. })));
    let r = only_response(&out, t);
    assert_eq!(r.status, Status::Failure);
    assert_eq!(
        r.reason.as_deref(),
        Some("hop count exhausted; the message may be looping")
    );
    // Local delivery needs no hop.
    h.open(1, "bob@example.com");
    let t = raw(
        &mut h,
        "im:alice@example.com",
        "im:bob@example.com",
        Principal::Service,
        0,
    );
    assert_eq!(only_response(&h.take(), t).status, Status::Success);
}
