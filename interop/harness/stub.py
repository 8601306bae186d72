"""A bare SIP endpoint on UDP for checking where a proxy sends requests: it
records each request and answers it with a final status, nothing more. It
stands where cpimd's SIP side will be until that exists (RFC 3261 s8.2.6:
the response copies Via, From, To, Call-ID and CSeq, and adds a To tag)."""

import socket
import threading
import time


class SipStub:
    def __init__(self, port, status=200, reason="OK"):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", port))
        self.sock.settimeout(0.2)
        self.status, self.reason = status, reason
        self.requests = []
        self._running = True
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def wait_request(self, method, timeout=15.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for req in self.requests:
                if req.startswith(method + " "):
                    return req
            time.sleep(0.05)
        raise AssertionError("no %s reached the stub within %.0f s; got %r"
                             % (method, timeout, self.requests))

    def close(self):
        self._running = False
        self._thread.join()
        self.sock.close()

    def _serve(self):
        while self._running:
            try:
                data, peer = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            text = data.decode("utf-8", "replace")
            if text.startswith("SIP/2.0 ") or text.startswith("ACK "):
                continue
            if text not in self.requests:
                self.requests.append(text)
            self.sock.sendto(self._answer(text).encode(), peer)

    def _answer(self, request):
        head = request.split("\r\n\r\n", 1)[0].split("\r\n")[1:]
        copied = []
        for line in head:
            name = line.split(":", 1)[0].strip().lower()
            if name in ("via", "v", "from", "f", "call-id", "i", "cseq"):
                copied.append(line)
            elif name in ("to", "t"):
                copied.append(line if ";tag=" in line else line + ";tag=stub")
        return ("SIP/2.0 %d %s\r\n%s\r\nContent-Length: 0\r\n\r\n"
                % (self.status, self.reason, "\r\n".join(copied)))
