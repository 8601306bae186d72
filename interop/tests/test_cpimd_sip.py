"""A real SIP UA (pjsua2) registered at cpimd's SIP binding talks with a
native user: MESSAGE both ways (RFC 3428 <-> draft section 2.4) and presence
(RFC 3856 SUBSCRIBE/NOTIFY with PIDF <-> draft section 3.4)."""

import re

import pytest

from harness.peers import PeerError


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_registered_ua_and_native_user_exchange_messages(cpimd, user_agent, transport):
    dave = cpimd.add_user("dave@cpim.test")
    erin = cpimd.add_user("erin@cpim.test")
    erin.watch()
    ua = user_agent("sip:dave@cpim.test", cpimd.sip_address, transport=transport,
                    password=dave.password, auth_user="dave@cpim.test")

    ua.message("sip:erin@cpim.test", "Hi Erin, from a SIP phone")
    got = erin.expect("message")
    assert got["body"] == "Hi Erin, from a SIP phone"
    assert got["from"] == "im:dave@cpim.test"
    assert got["content_type"] == "text/plain"
    status = ua.expect("message_status")
    assert (status["code"], status["to"]) == (200, "sip:erin@cpim.test")

    answer = erin.send("im:dave@cpim.test", "Hi Dave, from the native API")
    assert answer["status"] == "success"
    back = ua.expect("message")
    assert back["body"] == "Hi Dave, from the native API"
    assert "erin@cpim.test" in back["from"]


def test_registered_ua_watches_native_user_through_pidf_notifies(cpimd, user_agent):
    dave = cpimd.add_user("dave@cpim.test")
    erin = cpimd.add_user("erin@cpim.test")
    erin.cli("allow", "pres:dave@cpim.test")
    ua = user_agent("sip:dave@cpim.test", cpimd.sip_address, password=dave.password,
                    auth_user="dave@cpim.test")

    ua.subscribe("sip:erin@cpim.test")
    ua.expect("buddy", uri="sip:erin@cpim.test", sub_state="ACTIVE")

    erin.publish("open", note="Reading RFC 3856")
    notify = ua.expect(lambda e: e["ev"] == "notify" and "Reading RFC 3856" in e["raw"])
    head, _, body = notify["raw"].partition("\r\n\r\n")
    assert re.search(r"(?im)^(content-type|c)\s*:\s*application/pidf\+xml", head), head
    assert re.search(r"(?im)^subscription-state\s*:\s*active", head), head
    assert re.findall(r"<(?:\w+:)?basic>(\w+)</(?:\w+:)?basic>", body) == ["open"]
    ua.expect("buddy", basic="open", note="Reading RFC 3856")

    erin.publish("closed", note="Away")
    notify = ua.expect(lambda e: e["ev"] == "notify" and "Away" in e["raw"])
    assert re.findall(r"<(?:\w+:)?basic>(\w+)</(?:\w+:)?basic>", notify["raw"]) == ["closed"]
    ua.expect("buddy", basic="closed")


def test_native_user_watches_what_registered_ua_publishes(cpimd, user_agent):
    dave = cpimd.add_user("dave@cpim.test")
    erin = cpimd.add_user("erin@cpim.test")
    dave.cli("allow", "pres:erin@cpim.test")
    erin.watch()
    ua = user_agent("sip:dave@cpim.test", cpimd.sip_address, password=dave.password,
                    auth_user="dave@cpim.test")
    assert erin.subscribe("pres:dave@cpim.test")["status"] == "success"

    def notify_with(basic, note):
        def match(e):
            tuples = ((e.get("presence") or {}).get("tuples")) or []
            return e.get("op") == "notify" and any(
                t.get("basic") == basic and t.get("note") == note for t in tuples)
        return match

    ua.publish("open", note="On the phone")
    notify = erin.expect(notify_with("open", "On the phone"))
    assert notify["target"] == "pres:dave@cpim.test"
    assert notify["state"] == "active"

    ua.publish("closed", note="Hung up")
    erin.expect(notify_with("closed", "Hung up"))


def test_ua_watching_an_asked_native_user_is_pending_until_allowed(cpimd, user_agent):
    dave = cpimd.add_user("dave@cpim.test")
    erin = cpimd.add_user("erin@cpim.test")
    erin.publish("open", note="Behind a question")
    ua = user_agent("sip:dave@cpim.test", cpimd.sip_address, password=dave.password,
                    auth_user="dave@cpim.test")

    # cpimd's default policy asks erin: the subscription waits, pending.
    ua.subscribe("sip:erin@cpim.test")
    notify = ua.expect(lambda e: e["ev"] == "notify")
    head = notify["raw"].partition("\r\n\r\n")[0]
    assert re.search(r"(?im)^subscription-state\s*:\s*pending", head), head
    ua.expect("buddy", uri="sip:erin@cpim.test", sub_state="PENDING")

    erin.cli("allow", "pres:dave@cpim.test")
    notify = ua.expect(lambda e: e["ev"] == "notify" and "Behind a question" in e["raw"])
    head = notify["raw"].partition("\r\n\r\n")[0]
    assert re.search(r"(?im)^subscription-state\s*:\s*active", head), head
    ua.expect("buddy", uri="sip:erin@cpim.test", sub_state="ACTIVE", basic="open")


def test_failures_seen_from_a_real_ua(cpimd, user_agent):
    dave = cpimd.add_user("dave@cpim.test")
    ua = user_agent("sip:dave@cpim.test", cpimd.sip_address, password=dave.password,
                    auth_user="dave@cpim.test")

    ua.message("sip:nobody@cpim.test", "Is anyone there?")
    status = ua.expect("message_status")
    assert (status["code"], status["to"]) == (404, "sip:nobody@cpim.test"), status

    # A domain cpimd neither serves nor routes: refused with the engine's
    # reason; there is no next hop it could have gone to.
    ua.message("sip:someone@elsewhere.test", "Out of here")
    status = ua.expect("message_status")
    assert (status["code"], status["to"]) == (404, "sip:someone@elsewhere.test"), status
    assert status["reason"] == "no route to elsewhere.test", status


def test_register_with_a_wrong_password_is_refused_after_the_challenge(cpimd, user_agent):
    cpimd.add_user("dave@cpim.test")
    with pytest.raises(PeerError, match=r"REGISTER answered 403 Forbidden: response does not match"):
        user_agent("sip:dave@cpim.test", cpimd.sip_address, password="not-the-password",
                   auth_user="dave@cpim.test")
