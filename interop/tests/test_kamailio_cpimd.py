"""Two domains, two implementations: Kamailio serves sip.test, cpimd serves
cpim.test, each the other's next hop. Messages (RFC 3428 <-> draft section
2.4) and presence (RFC 3856/3903 with PIDF <-> draft section 3.4) cross the
boundary in both directions."""

import re

import pytest


def basics(raw):
    return re.findall(r"<(?:\w+:)?basic>\s*(\w+)\s*</(?:\w+:)?basic>", raw)


def notify_with(basic, note=None):
    """A predicate for a native notify event carrying a tuple `basic` (and `note`)."""
    def match(e):
        tuples = ((e.get("presence") or {}).get("tuples")) or []
        return e.get("op") == "notify" and any(
            t.get("basic") == basic and (note is None or t.get("note") == note) for t in tuples)
    return match


def test_native_user_and_kamailio_ua_exchange_messages(kamailio_and_cpimd, user_agent):
    kamailio, cpimd = kamailio_and_cpimd
    bob = cpimd.add_user("bob@cpim.test")
    bob.watch()
    alice = user_agent("sip:alice@sip.test", kamailio.address)

    answer = bob.send("im:alice@sip.test", "Hello Alice, from cpim.test")
    got = alice.expect("message")
    assert got["body"] == "Hello Alice, from cpim.test"
    assert "bob@cpim.test" in got["from"]
    # Kamailio relayed it to the registered contact, adding its own Via.
    assert "SIP/2.0/UDP %s;branch=" % kamailio.address in got["raw"]
    assert answer["status"] == "success"

    alice.message("sip:bob@cpim.test", "Hello Bob, from sip.test \u00e0 bient\u00f4t")
    back = bob.expect("message")
    assert back["body"] == "Hello Bob, from sip.test \u00e0 bient\u00f4t"
    assert back["from"] == "im:alice@sip.test"
    status = alice.expect("message_status")
    assert (status["code"], status["to"]) == (200, "sip:bob@cpim.test")


@pytest.mark.parametrize("kamailio_and_cpimd", ["tcp"], indirect=True)
def test_native_user_reaches_kamailio_ua_with_kamailio_as_tcp_next_hop(kamailio_and_cpimd,
                                                                      user_agent):
    kamailio, cpimd = kamailio_and_cpimd
    bob = cpimd.add_user("bob@cpim.test")
    alice = user_agent("sip:alice@sip.test", kamailio.address)

    for text in ("First over TCP", "Second over TCP"):
        answer = bob.send("im:alice@sip.test", text)
        got = alice.expect("message")
        assert got["body"] == text
        # Kamailio's Via on top; cpimd's below it says it came over TCP.
        vias = re.findall(r"(?im)^(?:via|v)\s*:\s*(.*)$", got["raw"])
        assert vias[0].startswith("SIP/2.0/UDP %s;" % kamailio.address), vias
        assert vias[1].startswith("SIP/2.0/TCP "), vias
        # Kamailio's 200 came back on cpimd's connection.
        assert answer["status"] == "success", answer


def test_native_user_watches_kamailio_ua(kamailio_and_cpimd, user_agent):
    kamailio, cpimd = kamailio_and_cpimd
    watcher = cpimd.add_user("watcher@cpim.test")
    watcher.watch()
    alice = user_agent("sip:alice@sip.test", kamailio.address)

    assert watcher.subscribe("pres:alice@sip.test")["status"] == "success"

    alice.publish("open", note="At the desk")
    notify = watcher.expect(notify_with("open", "At the desk"))
    assert notify["target"] == "pres:alice@sip.test"

    alice.publish("closed", note="Gone home")
    notify = watcher.expect(notify_with("closed", "Gone home"))
    assert notify["target"] == "pres:alice@sip.test"

    watcher.unsubscribe("pres:alice@sip.test")
    watcher.expect("notify", target="pres:alice@sip.test", state="terminated")


def test_kamailio_ua_watches_native_user(kamailio_and_cpimd, user_agent):
    kamailio, cpimd = kamailio_and_cpimd
    carol = cpimd.add_user("carol@cpim.test")
    carol.cli("allow", "pres:alice@sip.test")
    alice = user_agent("sip:alice@sip.test", kamailio.address)

    alice.subscribe("sip:carol@cpim.test")
    alice.expect("buddy", uri="sip:carol@cpim.test", sub_state="ACTIVE")

    carol.publish("open", note="In the lab")
    notify = alice.expect(lambda e: e["ev"] == "notify" and "In the lab" in e["raw"])
    head, _, body = notify["raw"].partition("\r\n\r\n")
    assert re.search(r"(?im)^(content-type|c)\s*:\s*application/pidf\+xml", head), head
    assert re.search(r"(?im)^subscription-state\s*:\s*active", head), head
    # The NOTIFY came back along the record-routed path, through Kamailio.
    assert "SIP/2.0/UDP %s;branch=" % kamailio.address in head
    assert basics(body) == ["open"]
    alice.expect("buddy", basic="open", note="In the lab")

    carol.publish("closed", note="Out")
    notify = alice.expect(lambda e: e["ev"] == "notify" and "Out" in e["raw"]
                          and basics(e["raw"]) == ["closed"])
    alice.expect("buddy", basic="closed")


def test_kamailio_ua_denied_by_native_user_gets_no_subscription(kamailio_and_cpimd, user_agent):
    kamailio, cpimd = kamailio_and_cpimd
    carol = cpimd.add_user("carol@cpim.test")
    carol.cli("deny", "pres:alice@sip.test")
    carol.publish("open", note="Not for alice")
    alice = user_agent("sip:alice@sip.test", kamailio.address)

    alice.subscribe("sip:carol@cpim.test")
    # cpimd's refusal comes back through Kamailio (the UA's only peer) with
    # its reason; no NOTIFY, so nothing of carol's state reaches alice.
    refusal = alice.expect("subscribe_response", uri="sip:carol@cpim.test")
    status_line = refusal["raw"].split("\r\n", 1)[0]
    assert status_line == \
        "SIP/2.0 403 carol@cpim.test does not share its presence with alice@sip.test"
    alice.expect("buddy", uri="sip:carol@cpim.test", sub_state="TERMINATED")
    assert not alice.events("notify")
