"""cpimd as a peer, through its native API only (the SIP binding does not
exist yet): the fixture that the SIP interop cases will stand on, checked
end to end with the project's own client. Message delivery follows draft
section 2.4 (message operation), presence section 3.4 (subscribe, notify)."""


def notify_with(basic):
    """Matches a notify event whose first tuple has this basic status."""
    def match(event):
        tuples = ((event.get("presence") or {}).get("tuples")) or [{}]
        return event.get("op") == "notify" and tuples[0].get("basic") == basic
    return match


def test_native_message_reaches_open_inbox(cpimd):
    alice = cpimd.add_user("alice@cpim.test")
    bob = cpimd.add_user("bob@cpim.test")
    bob.watch()

    answer = alice.send("im:bob@cpim.test", "Hello from the native side")
    assert answer["status"] == "success"
    got = bob.expect("message")
    assert got["body"] == "Hello from the native side"
    assert got["from"] == "im:alice@cpim.test"
    assert got["to"] == "im:bob@cpim.test"
    assert got["content_type"] == "text/plain"


def test_native_watcher_sees_each_publish(cpimd):
    alice = cpimd.add_user("alice@cpim.test")
    bob = cpimd.add_user("bob@cpim.test")
    bob.watch()
    # The default policy asks the presentity, so alice lets bob in first.
    alice.cli("allow", "pres:bob@cpim.test")

    assert bob.subscribe("pres:alice@cpim.test")["status"] == "success"
    alice.publish("open", note="In the lab")
    notify = bob.expect(notify_with("open"))
    assert notify["target"] == "pres:alice@cpim.test"
    assert notify["state"] == "active"
    assert notify["presence"]["tuples"][0]["note"] == "In the lab"
    assert "<basic>open</basic>" in notify["presence"]["pidf"]

    alice.publish("closed", note="Out")
    notify = bob.expect(notify_with("closed"))
    assert notify["presence"]["tuples"][0]["note"] == "Out"
