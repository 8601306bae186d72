"""A second, independent SIP implementation: baresip registered at Kamailio
exchanges MESSAGEs (RFC 3428) with a pjsua2 UA."""

import re


def test_baresip_and_pjsua2_exchange_messages(kamailio, user_agent, baresip):
    bob = baresip("sip:bob@sip.test", kamailio.address, contacts=["sip:alice@sip.test"])
    bob.wait_log("bob@sip.test: {0/UDP/v4} 200 OK")
    assert "sip:bob@sip.test" in bob.command("reginfo")
    alice = user_agent("sip:alice@sip.test", kamailio.address)

    alice.message("sip:bob@sip.test", "Hello baresip, from pjsua2")
    status = alice.expect("message_status")
    assert (status["code"], status["to"]) == (200, "sip:bob@sip.test")
    log = bob.wait_log("Hello baresip, from pjsua2")
    # Relayed to baresip's registered contact (its user part carries a suffix).
    assert re.search(r"MESSAGE sip:bob[^@\s]*@127\.0\.0\.1:%d SIP/2\.0" % bob.port, log), log

    bob.command("message", "Hello pjsua2, from baresip")
    got = alice.expect("message")
    assert got["body"] == "Hello pjsua2, from baresip"
    assert "sip:bob@sip.test" in got["from"]
