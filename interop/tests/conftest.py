"""Fixtures: each test gets its own peers in its own scratch directory, and
they are stopped by pid when the test ends, whether it passed or not."""

import pytest

from harness.cpimd import Cpimd
from harness.peers import Baresip, Kamailio, free_port, log_tail
from harness.ua import UserAgent


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, "report_" + report.when, report)
    # A peer that is missing must fail the run, not thin it out: a skip is
    # turned into a failure that names its reason.
    if report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = "skipped tests are not allowed in the interop suite: %s" % reason


def failed(request):
    return any(getattr(getattr(request.node, "report_" + w, None), "failed", False)
               for w in ("setup", "call"))


@pytest.fixture
def kamailio(tmp_path, request):
    """Kamailio serving sip.test; requests for cpim.test go to its next_hop."""
    peer = Kamailio(tmp_path / "kamailio")
    yield peer
    alive = peer.alive()
    peer.stop()
    if failed(request) or not alive:
        print("--- kamailio.log (%s) ---\n%s" % (peer.log, log_tail(peer.log, 60)))
    assert alive, "Kamailio died during the test"


@pytest.fixture
def user_agent(tmp_path):
    """Factory: user_agent(aor, proxy, transport="udp") -> a registered UA."""
    started = []

    def start(aor, proxy, **kwargs):
        ua = UserAgent(tmp_path, aor, proxy, **kwargs)
        started.append(ua)
        return ua

    yield start
    # Unregistering takes each UA a round trip or two: let them all do it at once.
    for ua in started:
        ua.quit()
    for ua in started:
        ua.close()


@pytest.fixture
def cpimd(tmp_path, request):
    """cpimd from this workspace's build, serving cpim.test, with its SIP
    binding on UDP and TCP at cpimd.sip_address."""
    server = Cpimd(tmp_path / "cpimd", sip=True)
    yield server
    code = server.stop()
    if failed(request) or code != 0:
        print("--- cpimd.log (%s) ---\n%s" % (server.log, log_tail(server.log, 60)))
    assert code == 0, "cpimd exited with %s on TERM" % code


@pytest.fixture
def baresip(tmp_path, request):
    """Factory: baresip(aor, proxy, contacts=(), auth_user=None, password=None,
    presence=False) -> a running baresip UA."""
    started = []

    def start(aor, proxy, contacts=(), **kwargs):
        name = aor.split(":", 1)[1].replace("@", "_at_")
        ua = Baresip(tmp_path / ("baresip-" + name), aor, proxy, contacts, **kwargs)
        started.append(ua)
        return ua

    yield start
    for ua in started:
        ua.stop()
        if failed(request):
            print("--- baresip.log (%s) ---\n%s" % (ua.log, log_tail(ua.log, 60)))


@pytest.fixture
def kamailio_and_cpimd(tmp_path, request):
    """Kamailio (sip.test) and cpimd (cpim.test) as each other's next hop:
    Kamailio relays cpim.test to cpimd's SIP port, cpimd routes sip.test to
    Kamailio over UDP (or the transport given as the fixture's parameter,
    e.g. parametrize("kamailio_and_cpimd", ["tcp"], indirect=True)).
    Yields (kamailio, cpimd)."""
    transport = getattr(request, "param", "udp")
    sip_port = free_port()
    proxy = Kamailio(tmp_path / "kamailio", next_hop="127.0.0.1:%d" % sip_port)
    try:
        server = Cpimd(tmp_path / "cpimd", sip=True, sip_port=sip_port,
                       args=["--sip-route", "sip.test=%s:%s" % (transport, proxy.address)])
    except BaseException:
        proxy.stop()
        raise
    yield proxy, server
    code = server.stop()
    alive = proxy.alive()
    proxy.stop()
    if failed(request) or code != 0 or not alive:
        print("--- cpimd.log (%s) ---\n%s" % (server.log, log_tail(server.log, 60)))
        print("--- kamailio.log (%s) ---\n%s" % (proxy.log, log_tail(proxy.log, 60)))
    assert code == 0, "cpimd exited with %s on TERM" % code
    assert alive, "Kamailio died during the test"
