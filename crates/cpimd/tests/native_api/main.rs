//! Process-level tests: the real `cpimd` on loopback, driven by the real
//! `cpim` client and by raw HTTP/WebSocket. One binary; each file is named
//! after what it proves. See `harness.rs` for how the binaries are found.

#![allow(clippy::unwrap_used)]

mod connection_limit;
mod draft_2_4_message;
mod draft_3_4_1_access_control;
mod draft_3_4_presence;
mod harness;
mod kill9_keeps_acknowledged;
mod one_server_per_data_directory;
mod openapi_names_every_route;
mod refusals_are_4xx;
mod restart_keeps_state;
mod rfc3862_and_op_xml_bodies;
mod tls_https_and_wss;
