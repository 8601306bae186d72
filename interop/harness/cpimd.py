"""cpimd as a peer: the server built from this repository, started in a
scratch directory on a free port, and its native users, driven through the
project's own client (`cpim`)."""

import json
import os
import queue
import subprocess
import threading
from pathlib import Path

from .events import WAIT, EventLog
from .peers import INTEROP, PeerError, free_port, log_tail

REPO = INTEROP.parent


def binary(name):
    """A binary of this workspace: $CPIMD_BIN / $CPIM_BIN, else the debug build."""
    override = os.environ.get(name.upper() + "_BIN")
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    path = Path(override) if override else target / "debug" / name
    if not os.access(path, os.X_OK):
        raise PeerError("%s not found at %s: build it first (cargo build -p cpimd -p cpim-cli)"
                        % (name, path))
    return str(path)


class Cpimd:
    """A running cpimd serving `domains`; with `sip`, its SIP binding listens
    on UDP and TCP at `sip_address` (one port for both; `sip_port` when
    given, else a free one); with `sip_tls` (certificate and key PEM files)
    also on TLS at `sip_tls_address`, the HTTP side staying plain; `args`
    are extra command-line flags."""

    def __init__(self, workdir, domains=("cpim.test",), sip=False, args=(), sip_port=None,
                 sip_tls=None):
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.data = self.dir / "data"
        self.log = self.dir / "cpimd.log"
        self.pidfile = self.dir / "cpimd.pid"
        self.domains = list(domains)
        self.users = []
        cmd = [binary("cpimd"), "--data", str(self.data), "--http", "127.0.0.1:0"]
        for d in domains:
            cmd += ["--domain", d]
        self.sip_address = None
        if sip:
            self.sip_address = "127.0.0.1:%d" % (sip_port or free_port())
            listeners = "udp:%s,tcp:%s" % (self.sip_address, self.sip_address)
            self.sip_tls_address = None
            if sip_tls:
                self.sip_tls_address = "127.0.0.1:%d" % free_port()
                listeners += ",tls:" + self.sip_tls_address
                config = self.dir / "cpimd.toml"
                config.write_text('[sip.tls]\ncert = "%s"\nkey = "%s"\n' % tuple(sip_tls))
                cmd += ["--config", str(config)]
            cmd += ["--sip", listeners]
        self._log = open(self.log, "w")
        self.proc = subprocess.Popen(cmd + list(args), stdout=subprocess.PIPE, stderr=self._log,
                                     stdin=subprocess.DEVNULL, text=True)
        self.pidfile.write_text("%d\n" % self.proc.pid)
        self.url = self._wait_listening()

    def _wait_listening(self):
        lines = queue.Queue()

        def read():
            for line in self.proc.stdout:
                lines.put(line)
            lines.put(None)

        threading.Thread(target=read, daemon=True).start()
        # Each listener announces itself on a line of its own; wait for all.
        url, sip = None, set()
        want = {"udp:" + self.sip_address, "tcp:" + self.sip_address} if self.sip_address else set()
        if getattr(self, "sip_tls_address", None):
            want.add("tls:" + self.sip_tls_address)
        try:
            while url is None or not want <= sip:
                line = lines.get(timeout=WAIT * 2)
                if line is None:
                    break
                if line.startswith("cpimd listening on "):
                    url = line.split()[-1]
                elif line.startswith("cpimd sip listening on "):
                    sip.add(line.split()[-1])
            else:
                return url
        except queue.Empty:
            pass
        self.stop()
        raise PeerError("cpimd did not report listening; %s ends:\n%s"
                        % (self.log, log_tail(self.log)))

    def add_user(self, address):
        """Make an account (`cpim user add`) and return it as a NativeUser."""
        made = subprocess.run([binary("cpim"), "user", "add", address, "--data", str(self.data)],
                              capture_output=True, text=True)
        if made.returncode != 0:
            raise PeerError("cpim user add %s failed: %s" % (address, made.stderr))
        account = json.loads(made.stdout)
        user = NativeUser(self, account["user"], account["token"], account.get("password"))
        self.users.append(user)
        return user

    def stop(self):
        """TERM by pid (cpimd drains and flushes), KILL after 15 s; the exit code."""
        for user in self.users:
            user.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.pidfile.unlink(missing_ok=True)
        self._log.close()
        return self.proc.returncode


class NativeUser:
    """A user of cpimd's native API, through the `cpim` client."""

    def __init__(self, server, address, token, password):
        self.server, self.address, self.token, self.password = server, address, token, password
        self._watch = None

    def cli(self, *args):
        """Run one client command; its JSON answer, failing on a failure."""
        done = subprocess.run([binary("cpim"), "--server", self.server.url, "--token", self.token]
                              + list(args), capture_output=True, text=True, timeout=WAIT * 2)
        if done.returncode != 0:
            raise PeerError("cpim %s as %s failed (%d): %s %s"
                            % (" ".join(args), self.address, done.returncode, done.stdout,
                               done.stderr))
        return json.loads(done.stdout)

    def send(self, to, text, content_type="text/plain"):
        return self.cli("send", "--to", to, "--content-type", content_type, text)

    def publish(self, status, note=None):
        return self.cli("publish", "--status", status, *(["--note", note] if note else []))

    def subscribe(self, target, duration=3600):
        return self.cli("subscribe", target, "--duration", str(duration))

    def unsubscribe(self, target):
        return self.cli("unsubscribe", target)

    def watch(self):
        """Open the inbox (`cpim watch`); events are then read with expect()."""
        stderr = self.server.dir / ("watch-%s.stderr" % self.address.replace("@", "_at_"))
        self._watch_err = open(stderr, "w")
        proc = subprocess.Popen([binary("cpim"), "--server", self.server.url, "--token",
                                 self.token, "watch"], stdout=subprocess.PIPE,
                                stderr=self._watch_err, stdin=subprocess.DEVNULL, text=True)
        self._watch = EventLog(proc, "watch " + self.address, "op",
                               lambda: "stderr:\n%s\ncpimd log:\n%s"
                               % (log_tail(stderr, 10), log_tail(self.server.log, 30)))
        self.expect("ready")

    def expect(self, what, timeout=WAIT, **fields):
        if self._watch is None:
            raise PeerError("%s: call watch() before expecting events" % self.address)
        return self._watch.expect(what, timeout, **fields)

    def close(self):
        if self._watch is not None and self._watch.proc.poll() is None:
            self._watch.proc.terminate()
            try:
                self._watch.proc.wait(5)
            except subprocess.TimeoutExpired:
                self._watch.proc.kill()
                self._watch.proc.wait()
            self._watch_err.close()
