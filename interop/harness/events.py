"""Collects the JSON lines a peer process prints, and waits for them."""

import json
import threading
import time

# How long to wait for one event before the test fails: generous, since the
# machine may be loaded; an event that comes at all comes well within it.
WAIT = 15.0


class EventLog:
    """Events read from a process's stdout, each taken at most once.

    `kind` is the field that names an event ("ev" for the SIP UA, "op" for
    cpimd's event stream). `describe` returns text (logs) to show when a wait
    fails.
    """

    def __init__(self, proc, name, kind, describe=lambda: ""):
        self.proc, self.name, self.kind, self.describe = proc, name, kind, describe
        self._events = []
        self._taken = set()
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def expect(self, what, timeout=WAIT, **fields):
        """The first event not taken yet that matches, waiting for it.

        `what` is an event name (then `fields` must all be equal) or a
        predicate on the event. Fails with every event seen and the peer's
        logs when none comes.
        """
        if callable(what):
            match = what
        else:
            def match(e):
                return e.get(self.kind) == what and all(e.get(k) == v for k, v in fields.items())
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for i, event in enumerate(self._events):
                    if i not in self._taken and match(event):
                        self._taken.add(i)
                        return event
                left = deadline - time.monotonic()
                if left <= 0 or not self._reader.is_alive():
                    break
                self._cond.wait(min(left, 0.5))
            seen = "\n".join(json.dumps({k: v for k, v in e.items() if k != "raw"})
                             for e in self._events)
        ended = "" if self.proc.poll() is None else " (process exited %s)" % self.proc.returncode
        raise AssertionError("%s: no %s event %s within %.0f s%s; events:\n%s\n%s"
                             % (self.name, what if isinstance(what, str) else "matching",
                                fields or "", timeout, ended, seen, self.describe()))

    def all(self, name):
        with self._cond:
            return [e for e in self._events if e.get(self.kind) == name]

    def _read(self):
        for line in self.proc.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                event = {self.kind: "garbage", "line": line}
            with self._cond:
                self._events.append(event)
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()
