"""A second SIP implementation registered at cpimd: baresip logs in with
digest (user name dave@cpim.test, the password `cpim user add` printed) and
exchanges MESSAGEs (RFC 3428 <-> draft section 2.4) with a native user."""

import re


def test_baresip_registered_at_cpimd_exchanges_messages_with_native_user(cpimd, baresip):
    dave = cpimd.add_user("dave@cpim.test")
    erin = cpimd.add_user("erin@cpim.test")
    erin.watch()
    ua = baresip("sip:dave@cpim.test", cpimd.sip_address, contacts=["sip:erin@cpim.test"],
                 auth_user="dave@cpim.test", password=dave.password)
    log = ua.wait_log("dave@cpim.test: {0/UDP/v4} 200 OK")
    # Registered only after answering cpimd's challenge with credentials.
    assert re.search(r"SIP/2\.0 401 ", log), log[-3000:]
    assert re.search(r'Authorization: Digest username="dave@cpim\.test"', log), log[-3000:]
    assert "sip:dave@cpim.test" in ua.command("reginfo")

    ua.command("message", "Hi Erin, from baresip")
    got = erin.expect("message")
    assert got["body"] == "Hi Erin, from baresip"
    assert got["from"] == "im:dave@cpim.test"
    assert got["to"] == "im:erin@cpim.test"

    # cpimd answers the native send with success only after baresip's 200.
    answer = erin.send("im:dave@cpim.test", "Hi Dave, from the native API")
    assert answer["status"] == "success", answer
    log = ua.wait_log("Hi Dave, from the native API")
    # Sent to the contact baresip registered, down its flow.
    assert re.search(r"MESSAGE sip:dave[^@\s]*@127\.0\.0\.1:%d[;\s]" % ua.port, log), log[-3000:]
