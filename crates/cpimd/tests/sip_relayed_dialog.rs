//! A SUBSCRIBE dialog cpimd opens towards another domain (RFC 6665 s4.1,
//! draft section 3.4.1 relayed), seen from the other domain's side: the
//! test plays b.test's server at cpimd's configured next hop, and alice is
//! a SIP UA of cpimd's a.test. alice's in-dialog refresh is relayed in the
//! same dialog; NOTIFYs that do not belong (from another
//! address, without Subscription-State, with a body that is not PIDF) are
//! refused with 403 and 400 and change nothing.

#![allow(clippy::unwrap_used)]

mod sip_support;

use std::net::SocketAddr;
use std::time::Duration;

use cpim_sip::{Message, RequestBuilder, ResponseBuilder};
use sip_support::{start_custom, Received, Server, Ua, PATIENCE};
use tokio::net::UdpSocket;

const PIDF_OPEN: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="pres:bob@b.test">
  <tuple id="b1"><status><basic>open</basic></status><note>at b</note></tuple>
</presence>"#;

/// b.test's side: a UDP socket at cpimd's next hop for b.test.
struct OtherDomain {
    socket: UdpSocket,
    cpimd: SocketAddr,
    cseq: std::cell::Cell<u32>,
}

impl OtherDomain {
    async fn recv(&self) -> Received {
        let mut buf = vec![0u8; 65_535];
        let (n, _) = tokio::time::timeout(PATIENCE, self.socket.recv_from(&mut buf))
            .await
            .expect("nothing from cpimd")
            .unwrap();
        buf.truncate(n);
        Received(buf)
    }

    /// The next request from cpimd, skipping responses.
    async fn request(&self) -> Received {
        loop {
            let got = self.recv().await;
            if got.parse().is_request() {
                return got;
            }
        }
    }

    async fn answer(&self, request: &Received, code: u16, extra: &[(&str, &str)]) {
        let message = request.parse();
        let mut response = ResponseBuilder::for_request(&message, code, "OK", Some("btag"));
        for (name, value) in extra {
            response = response.header(*name, *value);
        }
        self.socket
            .send_to(&response.build().unwrap(), self.cpimd)
            .await
            .unwrap();
    }

    /// A NOTIFY in the dialog `subscribe` opened, sent from `from`.
    async fn notify(
        &self,
        from: &UdpSocket,
        subscribe: &Received,
        state: Option<&str>,
        body: Option<(&str, &str)>,
    ) -> Received {
        let cseq = self.cseq.get() + 1;
        self.cseq.set(cseq);
        let sub = subscribe.parse();
        let local = from.local_addr().unwrap();
        let mut notify = RequestBuilder::new("NOTIFY", sub.contact_uri().unwrap_or_default())
            .header(
                "Via",
                format!("SIP/2.0/UDP {local};branch=z9hG4bKn{}x{cseq}", local.port()),
            )
            .header("Max-Forwards", "70")
            .header("From", "<sip:bob@b.test>;tag=btag")
            .header(
                "To",
                format!("<sip:alice@a.test>;tag={}", sub.from().tag().unwrap()),
            )
            .header("Call-ID", sub.call_id())
            .header("CSeq", format!("{cseq} NOTIFY"))
            .header("Event", "presence")
            .header("Contact", format!("<sip:{local}>"));
        if let Some(state) = state {
            notify = notify.header("Subscription-State", state);
        }
        if let Some((content_type, text)) = body {
            notify = notify.body(content_type, text);
        }
        from.send_to(&notify.build().unwrap(), self.cpimd)
            .await
            .unwrap();
        let mut buf = vec![0u8; 65_535];
        loop {
            let (n, _) = tokio::time::timeout(PATIENCE, from.recv_from(&mut buf))
                .await
                .expect("no answer to the NOTIFY")
                .unwrap();
            let got = Received(buf[..n].to_vec());
            if got.parse().status_code().is_some() {
                return got;
            }
        }
    }
}

trait ContactUri {
    fn contact_uri(&self) -> Option<String>;
}

impl ContactUri for Message<'_> {
    /// The URI inside the first Contact value.
    fn contact_uri(&self) -> Option<String> {
        let value = self.header_values_by_name("Contact").next()?;
        let start = value.find('<')? + 1;
        let end = value[start..].find('>')? + start;
        Some(value[start..end].to_owned())
    }
}

async fn setup() -> (Server, OtherDomain) {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let hop = socket.local_addr().unwrap();
    let server = start_custom(
        "a.test",
        &["alice@a.test"],
        &format!(
            "[service]\ndefault_policy = \"allow\"\n\n[[sip.route]]\ndomain = \"b.test\"\nnext_hop = \"udp:{hop}\"\n"
        ),
        "udp:127.0.0.1:0",
        &[],
    );
    let cpimd = server.udp;
    (
        server,
        OtherDomain {
            socket,
            cpimd,
            cseq: std::cell::Cell::new(0),
        },
    )
}

/// alice's SUBSCRIBE (or refresh, with `to_tag`) for bob@b.test through
/// cpimd, and b.test's side answering the SUBSCRIBE cpimd relays with 200
/// and `expires`. Returns alice's final response, the SUBSCRIBE b.test got
/// and the NOTIFYs alice got meanwhile.
async fn subscribe_through(
    alice: &mut Ua,
    b: &OtherDomain,
    to_tag: Option<&str>,
    expires: u32,
) -> (Received, Received, Vec<Received>) {
    let to = match to_tag {
        Some(tag) => format!("<sip:bob@b.test>;tag={tag}"),
        None => "<sip:bob@b.test>".to_owned(),
    };
    let mut notifies = Vec::new();
    let (answer, relayed) = tokio::join!(
        alice.transact(
            |ua| {
                ua.request("SUBSCRIBE", "sip:bob@b.test", &to, "relayed-sub")
                    .header("Event", "presence")
                    .header("Expires", expires.to_string())
            },
            &mut notifies,
        ),
        async {
            let relayed = b.request().await;
            let value = expires.to_string();
            b.answer(
                &relayed,
                200,
                &[("Expires", &value), ("Contact", "<sip:b.test>")],
            )
            .await;
            relayed
        }
    );
    (answer, relayed, notifies)
}

/// The next NOTIFY alice gets (answered 200), from `pending` first.
async fn next_notify(alice: &mut Ua, pending: &mut Vec<Received>) -> Received {
    if !pending.is_empty() {
        let notify = pending.remove(0);
        alice.ok(&notify).await;
        return notify;
    }
    alice.expect_request("NOTIFY").await
}

#[tokio::test]
async fn refresh_goes_in_the_dialog_and_stray_notifies_are_refused() {
    let (server, b) = setup().await;
    let mut alice = Ua::udp(&server, "alice@a.test").await;

    let (ok, first, mut pending) = subscribe_through(&mut alice, &b, None, 600).await;
    assert_eq!(ok.code(), 200, "{}", ok.text());
    assert_eq!(first.parse().method(), "SUBSCRIBE");
    let dialog_tag = ok.parse().to().tag().unwrap().to_owned();

    // A NOTIFY in the relayed dialog, from the next hop: taken, and alice
    // gets it in her own dialog.
    let taken = b
        .notify(
            &b.socket,
            &first,
            Some("active;expires=600"),
            Some(("application/pidf+xml", PIDF_OPEN)),
        )
        .await;
    assert_eq!(taken.code(), 200, "{}", taken.text());
    loop {
        let notify = next_notify(&mut alice, &mut pending).await;
        if notify.text().contains("<note>at b</note>") {
            break;
        }
    }

    // alice refreshes in her dialog: cpimd renews the subscription and
    // relays the refresh in its dialog with b.test (same Call-ID and From
    // tag, b.test's To tag, a higher CSeq, the new Expires).
    let (refreshed, refresh, _) = subscribe_through(&mut alice, &b, Some(&dialog_tag), 900).await;
    assert_eq!(refreshed.code(), 200, "{}", refreshed.text());
    assert_eq!(refreshed.parse().expires(), Some(900));
    {
        let (r, f) = (refresh.parse(), first.parse());
        assert_eq!(r.method(), "SUBSCRIBE");
        assert_eq!(r.call_id(), f.call_id());
        assert_eq!(r.from().tag(), f.from().tag());
        assert_eq!(r.to().tag(), Some("btag"));
        assert!(r.cseq().number > f.cseq().number);
        assert_eq!(r.expires(), Some(900));
    }

    // From an address that is not the dialog's peer: 403.
    let stranger = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let refused = b
        .notify(
            &stranger,
            &first,
            Some("active;expires=600"),
            Some(("application/pidf+xml", PIDF_OPEN)),
        )
        .await;
    assert_eq!(refused.code(), 403, "{}", refused.text());

    // Without Subscription-State, or with a body that is not PIDF: 400.
    let missing = b
        .notify(
            &b.socket,
            &first,
            None,
            Some(("application/pidf+xml", PIDF_OPEN)),
        )
        .await;
    assert_eq!(missing.code(), 400, "{}", missing.text());
    let bad = b
        .notify(
            &b.socket,
            &first,
            Some("active;expires=600"),
            Some(("application/pidf+xml", "<presence>not closed")),
        )
        .await;
    assert_eq!(bad.code(), 400, "{}", bad.text());

    // The refused body never reached alice (the refresh's own NOTIFY, with
    // the state b.test gave, may still come).
    while let Some(got) = alice.try_recv(Duration::from_millis(400)).await {
        let text = got.text();
        assert!(!text.contains("not closed"), "{text}");
        let message = got.parse();
        if message.is_request() {
            drop(message);
            alice.ok(&got).await;
        }
    }
}
