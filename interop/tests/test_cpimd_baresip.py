"""A second SIP implementation registered at cpimd: baresip logs in with
digest (user name dave@cpim.test, the password `cpim user add` printed),
exchanges MESSAGEs (RFC 3428 <-> draft section 2.4) with a native user, and
watches and is watched (RFC 3856 SUBSCRIBE/NOTIFY, RFC 3903 PUBLISH <->
draft section 3.4)."""

import re
import subprocess
import time

from harness.cpimd import Cpimd
from harness.peers import log_tail


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



def wait_contact_status(ua, status, timeout=15.0):
    """Poll baresip's address book until its one contact shows `status`."""
    deadline = time.monotonic() + timeout
    while True:
        listing = ua.command("contacts")
        if status in listing:
            return listing
        if time.monotonic() > deadline:
            raise AssertionError("contact not %s within %.0f s: %r" % (status, timeout, listing))
        time.sleep(0.2)


def test_baresip_registered_at_cpimd_and_native_user_watch_each_other(cpimd, baresip):
    dave = cpimd.add_user("dave@cpim.test")
    erin = cpimd.add_user("erin@cpim.test")
    erin.cli("allow", "pres:dave@cpim.test")
    dave.cli("allow", "pres:erin@cpim.test")
    erin.watch()
    assert erin.subscribe("pres:dave@cpim.test")["status"] == "success"
    erin.publish("open", note="Reading RFC 3856")
    ua = baresip("sip:dave@cpim.test", cpimd.sip_address, contacts=["sip:erin@cpim.test"],
                 auth_user="dave@cpim.test", password=dave.password, presence=True)
    ua.wait_log("dave@cpim.test: {0/UDP/v4} 200 OK")

    # baresip's PUBLISH (RFC 3903) reaches the native watcher as a notify.
    def dave_open(e):
        tuples = ((e.get("presence") or {}).get("tuples")) or []
        return e.get("op") == "notify" and any(t.get("basic") == "open" for t in tuples)
    notify = erin.expect(dave_open)
    assert notify["target"] == "pres:dave@cpim.test"
    assert notify["state"] == "active"

    # baresip's SUBSCRIBE to erin: cpimd's NOTIFYs turn her Online, then Offline.
    wait_contact_status(ua, "Online")
    log = ua.log.read_text(errors="replace")
    assert re.search(r"SUBSCRIBE sip:erin@cpim\.test SIP/2\.0", log), log[-3000:]
    erin.publish("closed", note="Away")
    wait_contact_status(ua, "Offline")


def test_baresip_over_tls_registers_and_exchanges_messages(tmp_path, baresip):
    # A throwaway certificate for 127.0.0.1, which baresip is told to trust.
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    server = Cpimd(tmp_path / "cpimd-tls", sip=True, sip_tls=(cert, key))
    try:
        dave = server.add_user("dave@cpim.test")
        erin = server.add_user("erin@cpim.test")
        erin.watch()
        ua = baresip("sip:dave@cpim.test", server.sip_tls_address,
                     contacts=["sip:erin@cpim.test"], auth_user="dave@cpim.test",
                     password=dave.password, transport="tls", cafile=cert)
        log = ua.wait_log("dave@cpim.test: {0/TLS/v4} 200 OK")
        assert re.search(r"REGISTER sip:cpim\.test;transport=tls SIP/2\.0|"
                         r"Via: SIP/2\.0/TLS ", log), log[-3000:]

        ua.command("message", "Hi Erin, over TLS")
        got = erin.expect("message")
        assert (got["body"], got["from"]) == ("Hi Erin, over TLS", "im:dave@cpim.test")

        answer = erin.send("im:dave@cpim.test", "Hi Dave, back over TLS")
        assert answer["status"] == "success", answer
        log = ua.wait_log("Hi Dave, back over TLS")
        assert re.search(r"TLS 127\.0\.0\.1:\d+ -> 127\.0\.0\.1:\d+\s+MESSAGE sip:dave", log) \
            or "Via: SIP/2.0/TLS %s" % server.sip_tls_address in log, log[-3000:]
    finally:
        code = server.stop()
        print("--- cpimd.log ---\n%s" % log_tail(server.log, 40))
    assert code == 0
