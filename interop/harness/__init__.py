"""cpim's interop harness: real peers (Kamailio, SIP user agents, cpimd)
started on 127.0.0.1 in a scratch directory and stopped by pid."""
