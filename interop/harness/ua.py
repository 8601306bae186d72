"""Drives interop/ua/sipua.py, a pjsua2 user agent in its own process, and
waits for what it reports."""

import json
import subprocess
import sys
from pathlib import Path

from .events import WAIT, EventLog
from .peers import INTEROP, PeerError, log_tail

DRIVER = INTEROP / "ua" / "sipua.py"


class UserAgent:
    """One SIP UA (one address of record) behind an outbound proxy."""

    def __init__(self, workdir, aor, proxy, transport="udp", password=None, auth_user=None,
                 register=True):
        self.aor = aor
        name = aor.split(":", 1)[1].replace("@", "_at_")
        self.log = Path(workdir) / ("ua-%s-%s.log" % (name, transport))
        self.stderr_path = Path(workdir) / ("ua-%s-%s.stderr" % (name, transport))
        cmd = [sys.executable, str(DRIVER), "--aor", aor, "--proxy", proxy,
               "--transport", transport, "--log", str(self.log)]
        if password:
            cmd += ["--password", password]
        if auth_user:
            cmd += ["--auth-user", auth_user]
        if not register:
            cmd.append("--no-register")
        self._stderr = open(self.stderr_path, "w")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self._stderr, text=True, bufsize=1)
        self.log_events = EventLog(self.proc, aor, "ev", lambda: "stderr:\n%s\nlog:\n%s" % (
            log_tail(self.stderr_path, 20), log_tail(self.log, 60)))
        try:
            ready = self.expect("ready")
            self.port = ready["port"]
            if register:
                reg = self.expect("registered")
                if reg["code"] != 200:
                    raise PeerError("%s: REGISTER answered %d %s"
                                    % (aor, reg["code"], reg["reason"]))
        except BaseException:
            self.close()
            raise

    # --- commands ---------------------------------------------------------

    def send(self, op, **fields):
        """Send one command and wait until the UA has acted on it."""
        fields["op"] = op
        self.proc.stdin.write(json.dumps(fields) + "\n")
        self.proc.stdin.flush()
        answer = self.expect(lambda e: e["ev"] in ("done", "error") and e.get("op") == op)
        if answer["ev"] == "error":
            raise PeerError("%s: %s failed: %s" % (self.aor, op, answer["error"]))

    def message(self, to, text, content_type="text/plain"):
        self.send("message", to=to, text=text, content_type=content_type)

    def subscribe(self, to):
        self.send("subscribe", to=to)

    def unsubscribe(self, to):
        self.send("unsubscribe", to=to)

    def publish(self, basic, note="", activity=None):
        self.send("publish", basic=basic, note=note, activity=activity)

    # --- events ---------------------------------------------------------

    def expect(self, what, timeout=WAIT, **fields):
        """The next matching event not yet taken (see EventLog.expect)."""
        return self.log_events.expect(what, timeout, **fields)

    def events(self, ev):
        return self.log_events.all(ev)

    # --- end --------------------------------------------------------------

    def quit(self):
        """Ask the UA to quit (it unregisters first) without waiting."""
        if self.proc.poll() is None and not self.proc.stdin.closed:
            try:
                self.proc.stdin.write('{"op": "quit"}\n')
                self.proc.stdin.flush()
                self.proc.stdin.close()
            except OSError:
                pass

    def close(self):
        """Quit, or kill the process when it has not quit within 5 s."""
        self.quit()
        if self.proc.poll() is None:
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._stderr.close()
