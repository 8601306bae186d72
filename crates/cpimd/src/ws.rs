//! `GET /v1/events`: a WebSocket (RFC 6455) carrying one event per text
//! frame. While it is open it is an open INSTANT INBOX of its user (draft
//! section 2.3) and receives that user's notifies, deferred responses and
//! watcher requests.
//!
//! Events are JSON objects unless the upgrade request asks for the draft's
//! XML notation, by `?notation=xml` (browsers cannot set headers on a
//! WebSocket) or `Accept: application/cpim-op+xml`: then messages, notifies
//! and responses are one XML element each, and `ready` and `watcher`, which
//! the draft has no operation for, stay JSON.
//!
//! The socket is written from a bounded queue; a reader that lets the queue
//! fill is disconnected with close code 1008 and the reason, rather than
//! buffered without bound.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};

use crate::api::{user, ApiError, AppState};
use crate::driver::SessionHandle;
use crate::events::Notation;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    notation: Option<NotationName>,
}

#[derive(Clone, Copy, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
enum NotationName {
    Json,
    Xml,
}

/// Close code for "policy violation" (RFC 6455 section 7.4.1), used for a
/// reader that fell behind.
const POLICY: u16 = 1008;
/// Close code for "going away": the server stops.
const GOING_AWAY: u16 = 1001;

pub async fn events(
    State(state): State<Arc<AppState>>,
    query: Result<Query<EventsQuery>, QueryRejection>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let me = user(&state, &headers).await?;
    let Query(query) = query.map_err(|e| {
        ApiError::field(
            axum::http::StatusCode::BAD_REQUEST,
            "notation",
            format!("{}; notation is json or xml", e.body_text()),
        )
    })?;
    let accept = headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    // The query, when given, wins over Accept.
    let notation = match query.notation {
        Some(NotationName::Xml) => Notation::Xml,
        Some(NotationName::Json) => Notation::Json,
        None if accept.contains(crate::api::OP_XML) => Notation::Xml,
        None => Notation::Json,
    };
    let Ok(upgrade) = upgrade else {
        return Err(ApiError::new(
            axum::http::StatusCode::UPGRADE_REQUIRED,
            "GET /v1/events is a WebSocket: send Connection: Upgrade, Upgrade: websocket",
        ));
    };
    let mut ready = crate::api::me_json(&me);
    ready["op"] = "ready".into();
    let ready = ready.to_string();
    let session = state.driver.open_in(me, notation).await?;
    let driver = state.driver.clone();
    let shutdown = state.shutdown.clone();
    Ok(upgrade
        .max_message_size(64 * 1024)
        // tungstenite zero-fills the free part of its read buffer before
        // every read attempt, and the socket is polled for reads after each
        // event written: at the default 128 KiB that memset was a tenth of
        // cpimd's CPU per message. Clients send only close and ping frames;
        // a larger frame still grows the buffer as it needs.
        .read_buffer_size(4 * 1024)
        .on_failed_upgrade({
            let driver = driver.clone();
            let id = session.id;
            move |_| driver.close(id)
        })
        .on_upgrade(move |socket| async move {
            let id = session.id;
            serve(socket, session, ready, shutdown).await;
            driver.close(id);
        })
        .into_response())
}

async fn serve(
    socket: WebSocket,
    session: SessionHandle,
    ready: String,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let SessionHandle {
        mut events,
        mut kicked,
        ..
    } = session;
    let (mut tx, mut rx) = socket.split();
    let close = |code: u16, reason: String| {
        Message::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        }))
    };
    // The first frame tells the client its inbox is open: events for it
    // flow from here on.
    if tx.send(Message::Text(ready.into())).await.is_err() {
        return;
    }
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Some(event) => {
                    let write = tx.send(Message::Text(event.text.as_ref().into()));
                    tokio::select! {
                        written = write => {
                            if written.is_err() {
                                break;
                            }
                            if let Some(ack) = event.ack {
                                let _ = ack.send(());
                            }
                        }
                        // The write is stuck because the reader reads
                        // nothing: no close frame can get through either,
                        // so the connection is dropped.
                        reason = &mut kicked => {
                            let reason = reason.unwrap_or_default();
                            tracing::info!(%reason, "event stream dropped");
                            return;
                        }
                    }
                }
                None => {
                    // The driver closed the queue; the reason, if it gave
                    // one, is already in `kicked`.
                    let (code, reason) = match kicked.try_recv() {
                        Ok(reason) if !reason.contains("shutting down") => (POLICY, reason),
                        Ok(reason) => (GOING_AWAY, reason),
                        Err(_) => (GOING_AWAY, "session closed".to_owned()),
                    };
                    let _ = tx.send(close(code, reason)).await;
                    break;
                }
            },
            reason = &mut kicked => {
                let reason = reason.unwrap_or_else(|_| "session closed".to_owned());
                let code = if reason.contains("shutting down") { GOING_AWAY } else { POLICY };
                let _ = tx.send(close(code, reason)).await;
                break;
            }
            incoming = rx.next() => match incoming {
                // The client speaks only to close or ping; tungstenite
                // answers pings itself.
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            },
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    let _ = tx.send(close(GOING_AWAY, "server shutting down".to_owned())).await;
                    break;
                }
            }
        }
    }
    let _ = tx.close().await;
}
