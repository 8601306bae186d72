#!/usr/bin/env python3
"""A scriptable SIP user agent for the interop tests, built on PJSIP's pjsua2.

One process is one UA: one account (address of record), one transport bound
to 127.0.0.1. It reads commands as JSON lines on standard input and writes
events as JSON lines on standard output, so a test (or a person at a shell)
drives it without sharing a process with PJSIP: pjsua2 allows one library
instance per process and can crash on interpreter exit, and a separate
process keeps both problems away from the test runner.

    python3 sipua.py --aor sip:alice@sip.test --proxy 127.0.0.1:25060
    {"op": "message", "to": "sip:bob@sip.test", "text": "hello"}
    {"op": "subscribe", "to": "sip:bob@sip.test"}
    {"op": "publish", "basic": "open", "note": "at lunch", "activity": "away"}
    {"op": "unsubscribe", "to": "sip:bob@sip.test"}
    {"op": "quit"}

Events (field "ev"): ready, registered (code, reason, expires), message
(from, to, content_type, body, raw), message_status (to, code, reason, body),
notify (uri, raw: the whole NOTIFY as received), subscribe_response (uri,
raw: a response to the buddy's SUBSCRIBE as received), buddy (uri, basic, note,
activity, status_text, sub_state), done (op, after each command that was
accepted), error (op, error).

Presence follows RFC 3856 (SUBSCRIBE/NOTIFY, event "presence") and RFC 3903
(PUBLISH); the body is PIDF (RFC 3863), written and read by pjsua2.
"""

import argparse
import json
import os
import queue
import sys
import threading

import pjsua2 as pj


# Events go to the original standard output only; anything PJSIP prints on
# its own (it logs its start to stdout before its log settings apply) is
# sent to standard error instead, so the event stream stays pure JSON lines.
EVENTS = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)


def main():
    args = parse_args()
    try:
        ua = Agent(args)
    except pj.Error as e:
        emit("error", op="start", error=e.info())
        os._exit(1)
    try:
        ua.run()
    finally:
        # pjsua2's objects must go before the library; skip Python's own
        # teardown, which may otherwise free them in the wrong order.
        ua.shutdown()
        EVENTS.flush()
        os._exit(0)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--aor", required=True, help="address of record, e.g. sip:alice@sip.test")
    p.add_argument("--proxy", required=True,
                   help="HOST:PORT every request goes through (outbound proxy and registrar)")
    p.add_argument("--transport", choices=["udp", "tcp"], default="udp")
    p.add_argument("--port", type=int, default=0, help="local port (0: any free one)")
    p.add_argument("--password", help="digest password, when the registrar asks for one")
    p.add_argument("--auth-user", help="digest user name (default: the AOR's user part)")
    p.add_argument("--no-register", action="store_true", help="send no REGISTER")
    p.add_argument("--expires", type=int, default=300, help="registration lifetime, seconds")
    p.add_argument("--log", help="PJSIP log file (level 5: every SIP message)")
    return p.parse_args()


def emit(ev, **fields):
    fields["ev"] = ev
    EVENTS.write(json.dumps(fields) + "\n")
    EVENTS.flush()


def whole_message(event):
    """The raw text of the SIP message behind a transaction event, if any."""
    try:
        if event.type == pj.PJSIP_EVENT_TSX_STATE and \
                event.body.tsxState.type == pj.PJSIP_EVENT_RX_MSG:
            return event.body.tsxState.src.rdata.wholeMsg
    except AttributeError:
        pass
    return None


class Account(pj.Account):
    def onRegState(self, prm):
        emit("registered", code=prm.code, reason=prm.reason, expires=prm.expiration)

    def onInstantMessage(self, prm):
        emit("message", **{"from": prm.fromUri}, to=prm.toUri,
             content_type=prm.contentType, body=prm.msgBody, raw=prm.rdata.wholeMsg)

    def onInstantMessageStatus(self, prm):
        emit("message_status", to=prm.toUri, code=prm.code, reason=prm.reason,
             body=prm.msgBody)


class Buddy(pj.Buddy):
    def onBuddyEvSubState(self, prm):
        raw = whole_message(prm.e)
        if raw is not None and raw.startswith("NOTIFY "):
            emit("notify", uri=self.getInfo().uri, raw=raw)
        elif raw is not None and raw.startswith("SIP/2.0 ") and " SUBSCRIBE\r\n" in raw:
            emit("subscribe_response", uri=self.getInfo().uri, raw=raw)

    def onBuddyState(self):
        info = self.getInfo()
        pres = info.presStatus
        basic = {pj.PJSUA_BUDDY_STATUS_ONLINE: "open",
                 pj.PJSUA_BUDDY_STATUS_OFFLINE: "closed"}.get(pres.status)
        activity = {pj.PJRPID_ACTIVITY_AWAY: "away",
                    pj.PJRPID_ACTIVITY_BUSY: "busy"}.get(pres.activity)
        emit("buddy", uri=info.uri, basic=basic, note=pres.note, activity=activity,
             status_text=pres.statusText, sub_state=info.subStateName)


class Agent:
    def __init__(self, args):
        self.args = args
        self.commands = queue.Queue()
        self.buddies = {}  # uri -> Buddy: kept referenced, or SWIG frees them
        self.running = True
        self.ep = pj.Endpoint()
        self.ep.libCreate()
        cfg = pj.EpConfig()
        # Every callback on this thread, from libHandleEvents: no PJSIP
        # worker thread ever runs Python code.
        cfg.uaConfig.threadCnt = 0
        cfg.uaConfig.mainThreadOnly = True
        cfg.uaConfig.userAgent = "cpim-interop-ua (pjsua2)"
        cfg.logConfig.consoleLevel = 0
        if args.log:
            cfg.logConfig.filename = args.log
            cfg.logConfig.level = 5
        else:
            cfg.logConfig.level = 0
        self.ep.libInit(cfg)
        tcfg = pj.TransportConfig()
        tcfg.port = args.port
        tcfg.boundAddress = "127.0.0.1"
        tcfg.publicAddress = "127.0.0.1"
        kind = pj.PJSIP_TRANSPORT_TCP if args.transport == "tcp" else pj.PJSIP_TRANSPORT_UDP
        self.transport = self.ep.transportCreate(kind, tcfg)
        self.ep.libStart()
        self.ep.audDevManager().setNullDev()

        suffix = ";transport=tcp" if args.transport == "tcp" else ""
        acfg = pj.AccountConfig()
        acfg.idUri = args.aor
        acfg.regConfig.registrarUri = "sip:%s%s" % (args.proxy, suffix)
        acfg.regConfig.registerOnAdd = not args.no_register
        acfg.regConfig.timeoutSec = args.expires
        acfg.sipConfig.proxies.append("sip:%s%s;lr" % (args.proxy, suffix))
        acfg.sipConfig.transportId = self.transport
        # Loopback only: no NAT discovery, no rewriting of Contact or Via,
        # no RFC 5626 outbound parameters.
        acfg.natConfig.contactRewriteUse = 0
        acfg.natConfig.viaRewriteUse = 0
        acfg.natConfig.sdpNatRewriteUse = 0
        acfg.natConfig.sipOutboundUse = 0
        acfg.presConfig.publishEnabled = True
        if args.password:
            user = args.auth_user or args.aor.split(":", 1)[1].split("@", 1)[0]
            acfg.sipConfig.authCreds.append(pj.AuthCredInfo("digest", "*", user, 0, args.password))
        self.account = Account()
        self.account.create(acfg)

        local = self.ep.transportGetInfo(self.transport).localName
        emit("ready", aor=args.aor, transport=args.transport, local=local,
             port=int(local.rsplit(":", 1)[1]), pid=os.getpid())

    def run(self):
        threading.Thread(target=self.read_commands, daemon=True).start()
        while self.running:
            self.ep.libHandleEvents(20)
            while True:
                try:
                    line = self.commands.get_nowait()
                except queue.Empty:
                    break
                self.handle(line)

    def read_commands(self):
        for line in sys.stdin:
            if line.strip():
                self.commands.put(line)
        self.commands.put('{"op": "quit", "why": "end of input"}')

    def handle(self, line):
        op = None
        try:
            cmd = json.loads(line)
            op = cmd.get("op")
            run = getattr(self, "op_" + str(op), None)
            if run is None:
                emit("error", op=op, error="unknown op %r" % op)
                return
            run(cmd)
            emit("done", op=op)
        except (ValueError, KeyError, AttributeError, pj.Error) as e:
            text = e.info() if isinstance(e, pj.Error) else repr(e)
            emit("error", op=op, error=text)

    def buddy(self, uri, subscribe):
        b = self.buddies.get(uri)
        if b is None:
            cfg = pj.BuddyConfig()
            cfg.uri = uri
            cfg.subscribe = subscribe
            b = Buddy()
            b.create(self.account, cfg)
            self.buddies[uri] = b
        elif subscribe:
            b.subscribePresence(True)
        return b

    def op_message(self, cmd):
        prm = pj.SendInstantMessageParam()
        prm.content = cmd["text"]
        prm.contentType = cmd.get("content_type", "text/plain")
        self.buddy(cmd["to"], False).sendInstantMessage(prm)

    def op_subscribe(self, cmd):
        self.buddy(cmd["to"], True)

    def op_unsubscribe(self, cmd):
        self.buddies[cmd["to"]].subscribePresence(False)

    def op_publish(self, cmd):
        ps = pj.PresenceStatus()
        ps.status = {"open": pj.PJSUA_BUDDY_STATUS_ONLINE,
                     "closed": pj.PJSUA_BUDDY_STATUS_OFFLINE}[cmd["basic"]]
        ps.activity = {None: pj.PJRPID_ACTIVITY_UNKNOWN, "away": pj.PJRPID_ACTIVITY_AWAY,
                       "busy": pj.PJRPID_ACTIVITY_BUSY}[cmd.get("activity")]
        ps.note = cmd.get("note", "")
        self.account.setOnlineStatus(ps)

    def op_unregister(self, cmd):
        self.account.setRegistration(False)

    def op_quit(self, cmd):
        self.running = False

    def shutdown(self):
        try:
            self.buddies.clear()
            self.account.shutdown()
            self.ep.libDestroy()
        except pj.Error:
            pass


if __name__ == "__main__":
    main()
