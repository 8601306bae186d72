"""The peers and the harness themselves, before cpimd speaks SIP: real
pjsua2 user agents registered at Kamailio (domain sip.test) exchange
messages (RFC 3428) and presence (RFC 3856, RFC 3903, PIDF RFC 3863)."""

import re

from harness.stub import SipStub


def pidf_of(notify):
    """The PIDF body of a raw NOTIFY, checked to be declared as PIDF."""
    head, _, body = notify.partition("\r\n\r\n")
    assert re.search(r"(?im)^(content-type|c)\s*:\s*application/pidf\+xml\s*$", head), head
    assert re.search(r"(?im)^(event|o)\s*:\s*presence\b", head), head
    assert "urn:ietf:params:xml:ns:pidf" in body
    return body


def basic_of(pidf):
    found = re.findall(r"<(?:\w+:)?basic>\s*(\w+)\s*</(?:\w+:)?basic>", pidf)
    assert found, pidf
    return found


def test_message_round_trip_through_kamailio(kamailio, user_agent):
    alice = user_agent("sip:alice@sip.test", kamailio.address)
    bob = user_agent("sip:bob@sip.test", kamailio.address)

    alice.message("sip:bob@sip.test", "Hello Bob, lunch at noon?")
    got = bob.expect("message")
    assert got["body"] == "Hello Bob, lunch at noon?"
    assert got["content_type"] == "text/plain"
    assert "sip:alice@sip.test" in got["from"]
    assert "sip:bob@sip.test" in got["to"]
    # Kamailio relayed it to the registered contact, adding its own Via.
    assert got["raw"].startswith("MESSAGE sip:bob@127.0.0.1:%d" % bob.port)
    assert "SIP/2.0/UDP %s;branch=" % kamailio.address in got["raw"]
    status = alice.expect("message_status")
    assert (status["code"], status["to"]) == (200, "sip:bob@sip.test")

    bob.message("sip:alice@sip.test", "Noon works. \u00c0 tout \u00e0 l'heure!")
    reply = alice.expect("message")
    assert reply["body"] == "Noon works. \u00c0 tout \u00e0 l'heure!"
    assert "sip:bob@sip.test" in reply["from"]
    assert bob.expect("message_status")["code"] == 200


def test_message_between_tcp_and_udp(kamailio, user_agent):
    carol = user_agent("sip:carol@sip.test", kamailio.address, transport="tcp")
    dave = user_agent("sip:dave@sip.test", kamailio.address, transport="udp")

    carol.message("sip:dave@sip.test", "over TCP, then UDP")
    assert dave.expect("message")["body"] == "over TCP, then UDP"
    assert carol.expect("message_status")["code"] == 200

    dave.message("sip:carol@sip.test", "over UDP, then TCP")
    got = carol.expect("message")
    assert got["body"] == "over UDP, then TCP"
    assert "SIP/2.0/TCP %s;branch=" % kamailio.address in got["raw"]
    assert dave.expect("message_status")["code"] == 200


def test_message_to_unregistered_user_is_404(kamailio, user_agent):
    alice = user_agent("sip:alice@sip.test", kamailio.address)
    alice.message("sip:nobody@sip.test", "anyone there?")
    status = alice.expect("message_status")
    assert (status["code"], status["reason"]) == (404, "Not Found")


def test_publish_reaches_subscribed_watcher_as_pidf(kamailio, user_agent):
    alice = user_agent("sip:alice@sip.test", kamailio.address)
    bob = user_agent("sip:bob@sip.test", kamailio.address)

    bob.subscribe("sip:alice@sip.test")
    bob.expect("buddy", uri="sip:alice@sip.test", sub_state="ACTIVE")

    alice.publish("open", note="Writing the interop suite", activity="busy")
    notify = bob.expect(lambda e: e["ev"] == "notify" and "<" in e["raw"].partition("\r\n\r\n")[2])
    pidf = pidf_of(notify["raw"])
    assert basic_of(pidf) == ["open"]
    assert "Writing the interop suite" in pidf
    assert re.search(r"(?im)^(subscription-state)\s*:\s*active", notify["raw"])
    state = bob.expect("buddy", basic="open", note="Writing the interop suite")
    assert state["activity"] == "busy"

    alice.publish("closed", note="Gone home")
    notify = bob.expect(lambda e: e["ev"] == "notify" and "Gone home" in e["raw"])
    assert basic_of(pidf_of(notify["raw"])) == ["closed"]
    bob.expect("buddy", basic="closed", note="Gone home")


def test_subscription_after_publish_gets_current_state(kamailio, user_agent):
    alice = user_agent("sip:alice@sip.test", kamailio.address)
    # pjsua2 does not report the PUBLISH's answer; alice watching herself
    # shows when Kamailio holds the state, so carol surely comes after it.
    alice.subscribe("sip:alice@sip.test")
    # Publishing before the subscription is active races Kamailio's first
    # NOTIFY; wait for it so the publication's NOTIFY is the one that follows.
    alice.expect("buddy", uri="sip:alice@sip.test", sub_state="ACTIVE")
    alice.publish("open", note="Here before you looked", activity="away")
    alice.expect("buddy", basic="open", note="Here before you looked")

    carol = user_agent("sip:carol@sip.test", kamailio.address, transport="tcp")
    carol.subscribe("sip:alice@sip.test")
    state = carol.expect("buddy", basic="open")
    assert (state["note"], state["activity"]) == ("Here before you looked", "away")


def test_requests_for_cpimd_domain_go_to_next_hop(kamailio, user_agent):
    # Nothing speaks SIP for cpim.test yet: a bare endpoint at the next hop
    # shows that Kamailio hands it MESSAGE and SUBSCRIBE unchanged.
    host, port = kamailio.next_hop.split(":")
    stub = SipStub(int(port))
    try:
        alice = user_agent("sip:alice@sip.test", kamailio.address)
        alice.message("sip:native@cpim.test", "to the other side")
        request = stub.wait_request("MESSAGE")
        assert request.startswith("MESSAGE sip:native@cpim.test SIP/2.0\r\n")
        assert request.endswith("\r\n\r\nto the other side")
        assert alice.expect("message_status")["code"] == 200

        alice.subscribe("sip:native@cpim.test")
        subscribe = stub.wait_request("SUBSCRIBE")
        assert subscribe.startswith("SUBSCRIBE sip:native@cpim.test SIP/2.0\r\n")
        # Kamailio stays on the dialog's path, so NOTIFYs come back through it.
        assert re.search(r"(?im)^record-route:\s*<sip:127\.0\.0\.1:%d;lr" % kamailio.port,
                         subscribe), subscribe
    finally:
        stub.close()
