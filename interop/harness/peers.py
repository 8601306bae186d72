"""Peers run as background processes: Kamailio and baresip through
interop/peers/, and the helpers every peer shares (free ports, stopping by
pid file)."""

import json
import os
import socket
import subprocess
import time
from pathlib import Path

INTEROP = Path(__file__).resolve().parent.parent
PEERS = INTEROP / "peers"


class PeerError(Exception):
    """A peer could not be started or stopped; the message says why."""


# Ports already handed out by `free_port` in this run: each is released
# before its peer binds it, so the kernel may offer it again, and two
# listeners of one peer (SIP over TCP and over TLS) must not get the same.
_handed_out = set()


def free_port():
    """A port free on 127.0.0.1 for both UDP and TCP right now, and not
    handed out before in this run.

    Each peer still binds it itself, so another process may take it in
    between; the start scripts then fail loudly rather than share it.
    """
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = tcp.getsockname()[1]
            if port in _handed_out:
                continue
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                _handed_out.add(port)
                return port
    raise PeerError("no port free for both UDP and TCP on 127.0.0.1")


def stop_pidfile(pidfile):
    """Stop the process a pid file names (TERM, then KILL), never by name."""
    subprocess.run([str(PEERS / "stop-pidfile"), str(pidfile)], check=False)


def log_tail(path, lines=40):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError as e:
        return "(no log: %s)" % e


class Kamailio:
    """Kamailio as SIP domain `domain`, with requests for `next_domain`
    relayed to `next_hop` (HOST:PORT), running until stop()."""

    def __init__(self, workdir, domain="sip.test", next_domain="cpim.test", next_hop=None):
        self.dir = Path(workdir)
        self.domain = domain
        self.next_domain = next_domain
        self.port = free_port()
        self.next_hop = next_hop or "127.0.0.1:%d" % free_port()
        self.address = "127.0.0.1:%d" % self.port
        self.pidfile = self.dir / "kamailio.pid"
        self.log = self.dir / "kamailio.log"
        env = dict(os.environ, KAMAILIO_PORT=str(self.port), KAMAILIO_DOMAIN=domain,
                   KAMAILIO_NEXT_DOMAIN=next_domain, KAMAILIO_NEXT_HOP=self.next_hop)
        started = subprocess.run([str(PEERS / "kamailio-start"), str(self.dir)], env=env,
                                 capture_output=True, text=True)
        if started.returncode != 0:
            raise PeerError("Kamailio did not start (exit %d):\n%s%s"
                            % (started.returncode, started.stdout, started.stderr))
        self.pid = int(started.stdout.split()[-1])

    def stop(self):
        stop_pidfile(self.pidfile)

    def alive(self):
        try:
            os.kill(self.pid, 0)
            return True
        except OSError:
            return False


class Baresip:
    """baresip as a SIP UA registered through `proxy`, commanded over its
    ctrl_tcp socket; `contacts` fill its address book (the first is where
    message() sends). `auth_user` and `password` answer digest challenges;
    `presence` makes it watch its contacts and publish its own state;
    `transport` is how it reaches the proxy, `cafile` the CA it trusts."""

    def __init__(self, workdir, aor, proxy, contacts=(), auth_user=None, password=None,
                 presence=False, transport="udp", cafile=None):
        self.dir = Path(workdir)
        self.aor = aor
        self.pidfile = self.dir / "baresip.pid"
        self.log = self.dir / "baresip.log"
        self.port = free_port()
        # baresip also takes port+1, for SIP over TLS.
        while not _free(self.port + 1):
            self.port = free_port()
        self.ctrl_port = free_port()
        env = dict(os.environ, BARESIP_PORT=str(self.port), BARESIP_CTRL_PORT=str(self.ctrl_port))
        if auth_user:
            env.update(BARESIP_AUTH_USER=auth_user, BARESIP_AUTH_PASS=password or "")
        if presence:
            env["BARESIP_PRESENCE"] = "1"
        env["BARESIP_TRANSPORT"] = transport
        if cafile:
            env["BARESIP_CAFILE"] = str(cafile)
        started = subprocess.run([str(PEERS / "baresip-start"), str(self.dir), aor, proxy]
                                 + list(contacts), env=env, capture_output=True, text=True)
        if started.returncode != 0:
            raise PeerError("baresip did not start (exit %d):\n%s%s"
                            % (started.returncode, started.stdout, started.stderr))
        self._ctrl = socket.create_connection(("127.0.0.1", self.ctrl_port), timeout=15)
        self._buf = b""
        self._token = 0

    def command(self, command, params=None):
        """Run one menu command (ctrl_tcp: netstring-framed JSON); its output."""
        self._token += 1
        request = {"command": command, "token": str(self._token)}
        if params is not None:
            request["params"] = params
        data = json.dumps(request).encode()
        self._ctrl.sendall(b"%d:%s," % (len(data), data))
        while True:
            answer = self._read_netstring()
            if answer.get("response") and answer.get("token") == str(self._token):
                if not answer.get("ok"):
                    raise PeerError("baresip %s %s failed: %s" % (command, params, answer))
                return answer.get("data", "")

    def wait_log(self, text, timeout=15.0):
        """Wait until baresip's log contains `text`; the log then."""
        deadline = time.monotonic() + timeout
        while True:
            log = self.log.read_text(errors="replace")
            if text in log:
                return log
            if time.monotonic() > deadline:
                raise AssertionError("%r not in baresip's log within %.0f s:\n%s"
                                     % (text, timeout, log[-3000:]))
            time.sleep(0.1)

    def stop(self):
        try:
            self._ctrl.close()
        finally:
            stop_pidfile(self.pidfile)

    def _read_netstring(self):
        while True:
            head, sep, rest = self._buf.partition(b":")
            if sep and len(rest) > int(head):
                length = int(head)
                body, self._buf = rest[:length], rest[length + 1:]
                return json.loads(body)
            chunk = self._ctrl.recv(65536)
            if not chunk:
                raise PeerError("baresip closed its control connection")
            self._buf += chunk


def _free(port):
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
