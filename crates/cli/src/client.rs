//! `cpim send|publish|fetch|subscribe|unsubscribe|watch|allow|deny`: a
//! client of cpimd's native HTTP/WebSocket API.
//!
//! Every command prints JSON on stdout and exits 0 on success, 1 on a
//! failure answer or an error (then the JSON is `{"error": ...}` and a line
//! on stderr says what went wrong). `watch` prints one JSON line per event.

use std::io::Write;
use std::process::ExitCode;

use clap::{Subcommand, ValueEnum};
use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite;

/// Where the server is and who we are.
#[derive(Clone, Debug, clap::Args)]
pub struct Connection {
    /// Base URL of the cpimd server.
    #[arg(long, env = "CPIM_SERVER", global = true, value_name = "URL")]
    pub server: Option<String>,
    /// Bearer token printed by `cpim user add`.
    #[arg(
        long,
        env = "CPIM_TOKEN",
        global = true,
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
}

/// The client commands.
#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Send an instant message; prints the response operation.
    Send {
        /// Recipient, an im: URI.
        #[arg(long, value_name = "IM-URI")]
        to: String,
        /// Sender, an im: URI (default: the token's own).
        #[arg(long, value_name = "IM-URI")]
        from: Option<String>,
        /// MIME type of the text.
        #[arg(long, default_value = "text/plain")]
        content_type: String,
        /// The message.
        text: String,
    },
    /// Publish the token's own presence.
    Publish {
        /// Basic status of the tuple.
        #[arg(long, value_enum)]
        status: BasicArg,
        /// A note on the tuple.
        #[arg(long)]
        note: Option<String>,
        /// Contact address of the tuple.
        #[arg(long)]
        contact: Option<String>,
        /// Tuple id.
        #[arg(long, default_value = "cli")]
        tuple: String,
        /// Lifetime of the publication, seconds.
        #[arg(long)]
        expires: Option<u32>,
    },
    /// Fetch a presentity's presence once (subscribe with duration 0).
    Fetch {
        /// The presentity, a pres: URI.
        #[arg(value_name = "PRES-URI")]
        target: String,
    },
    /// Subscribe to a presentity; notifies arrive on `watch`.
    Subscribe {
        /// The presentity, a pres: URI.
        #[arg(value_name = "PRES-URI")]
        target: String,
        /// Requested duration, seconds.
        #[arg(long, default_value_t = 3600)]
        duration: u32,
    },
    /// End a subscription.
    Unsubscribe {
        /// The presentity, a pres: URI.
        #[arg(value_name = "PRES-URI")]
        target: String,
    },
    /// Open the token's inbox and print every event as one JSON line until
    /// interrupted.
    Watch,
    /// Let a watcher see the token's presence.
    Allow {
        /// The watcher, a pres: URI.
        #[arg(value_name = "WATCHER-URI")]
        watcher: String,
    },
    /// Refuse a watcher.
    Deny {
        /// The watcher, a pres: URI.
        #[arg(value_name = "WATCHER-URI")]
        watcher: String,
    },
    /// List the watchers of the token's presence and those waiting.
    Watchers,
}

/// `open` or `closed` (RFC 3863 section 4.1.4).
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum BasicArg {
    Open,
    Closed,
}

/// Why a client command failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("no server given: pass --server URL or set CPIM_SERVER")]
    NoServer,
    #[error("no token given: pass --token TOKEN or set CPIM_TOKEN")]
    NoToken,
    #[error("cannot reach {url}: {detail}")]
    Connect { url: String, detail: String },
    #[error("server answered {status}: {body}")]
    Status { status: u16, body: Value },
    #[error("server answer is not JSON: {0}")]
    BadAnswer(String),
    #[error("event stream closed: {0}")]
    Closed(String),
    #[error("cannot start: {0}")]
    Runtime(String),
}

/// Runs a client command; prints its JSON and returns the exit code.
pub fn run(connection: &Connection, command: ClientCommand) -> ExitCode {
    // One process-wide crypto provider for reqwest and tungstenite; an
    // error means one is installed already.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => return fail(&ClientError::Runtime(error.to_string())),
    };
    match runtime.block_on(execute(connection, command)) {
        Ok((value, success)) => {
            print_line(&value);
            if success {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(error) => fail(&error),
    }
}

fn fail(error: &ClientError) -> ExitCode {
    let value = match error {
        ClientError::Status { body, .. } if body.get("error").is_some() => body.clone(),
        other => json!({"error": other.to_string(), "field": null}),
    };
    print_line(&value);
    eprintln!("cpim: {error}");
    ExitCode::from(1)
}

fn print_line(value: &Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{value}");
    let _ = out.flush();
}

/// Runs the command: the JSON to print and whether it succeeded.
async fn execute(
    connection: &Connection,
    command: ClientCommand,
) -> Result<(Value, bool), ClientError> {
    let server = connection
        .server
        .as_deref()
        .ok_or(ClientError::NoServer)?
        .trim_end_matches('/')
        .to_owned();
    let token = connection.token.clone().ok_or(ClientError::NoToken)?;
    let api = Api {
        http: reqwest::Client::new(),
        server,
        token,
    };
    match command {
        ClientCommand::Send {
            to,
            from,
            content_type,
            text,
        } => {
            let mut body = json!({"to": to, "content_type": content_type, "body": text});
            if let Some(from) = from {
                body["from"] = json!(from);
            }
            let answer = api
                .call(reqwest::Method::POST, "/v1/messages", Some(&body))
                .await?;
            Ok(operation(answer))
        }
        ClientCommand::Publish {
            status,
            note,
            contact,
            tuple,
            expires,
        } => {
            let me = api.me().await?;
            let basic = match status {
                BasicArg::Open => "open",
                BasicArg::Closed => "closed",
            };
            let mut body = json!({"tuples": [{"id": tuple, "basic": basic}]});
            if let Some(note) = note {
                body["tuples"][0]["note"] = json!(note);
            }
            if let Some(contact) = contact {
                body["tuples"][0]["contact"] = json!(contact);
            }
            if let Some(expires) = expires {
                body["expires"] = json!(expires);
            }
            let path = format!("/v1/presence/{}", segment(&me.pres));
            let answer = api.call(reqwest::Method::PUT, &path, Some(&body)).await?;
            Ok(operation(answer))
        }
        ClientCommand::Fetch { target } => {
            let path = format!("/v1/presence/{}", segment(&target));
            let answer = api.call(reqwest::Method::GET, &path, None).await?;
            Ok(operation(answer))
        }
        ClientCommand::Subscribe { target, duration } => {
            let body = json!({"target": target, "duration": duration});
            let answer = api
                .call(reqwest::Method::POST, "/v1/subscriptions", Some(&body))
                .await?;
            Ok(operation(answer))
        }
        ClientCommand::Unsubscribe { target } => {
            let path = format!("/v1/subscriptions?target={}", segment(&target));
            let answer = api.call(reqwest::Method::DELETE, &path, None).await?;
            Ok(operation(answer))
        }
        ClientCommand::Allow { watcher } => api.policy(&watcher, "allow").await,
        ClientCommand::Deny { watcher } => api.policy(&watcher, "deny").await,
        ClientCommand::Watchers => {
            let me = api.me().await?;
            let path = format!("/v1/watchers/{}", segment(&me.pres));
            Ok((api.call(reqwest::Method::GET, &path, None).await?, true))
        }
        ClientCommand::Watch => api.watch().await,
    }
}

/// A response operation: success only when its status says so.
fn operation(answer: Value) -> (Value, bool) {
    let success = answer.get("status").and_then(Value::as_str) == Some("success");
    (answer, success)
}

struct Api {
    http: reqwest::Client,
    server: String,
    token: String,
}

struct Me {
    pres: String,
}

impl Api {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, ClientError> {
        let url = format!("{}{path}", self.server);
        let mut request = self
            .http
            .request(method, &url)
            .bearer_auth(&self.token)
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| ClientError::Connect {
            url: url.clone(),
            detail: error_chain(&e),
        })?;
        let status = response.status();
        let text = response.text().await.map_err(|e| ClientError::Connect {
            url,
            detail: error_chain(&e),
        })?;
        let value: Value =
            serde_json::from_str(&text).map_err(|_| ClientError::BadAnswer(text.clone()))?;
        if status.is_success() {
            Ok(value)
        } else {
            Err(ClientError::Status {
                status: status.as_u16(),
                body: value,
            })
        }
    }

    async fn me(&self) -> Result<Me, ClientError> {
        let value = self.call(reqwest::Method::GET, "/v1/me", None).await?;
        let pres = value
            .get("pres")
            .and_then(Value::as_str)
            .ok_or_else(|| ClientError::BadAnswer(value.to_string()))?
            .to_owned();
        Ok(Me { pres })
    }

    async fn policy(&self, watcher: &str, decision: &str) -> Result<(Value, bool), ClientError> {
        let me = self.me().await?;
        let path = format!(
            "/v1/policy/{}/watchers/{}",
            segment(&me.pres),
            segment(watcher)
        );
        let body = json!({"decision": decision});
        Ok((
            self.call(reqwest::Method::PUT, &path, Some(&body)).await?,
            true,
        ))
    }

    /// Prints every event until the user interrupts (exit 0) or the server
    /// closes the stream (exit 1, with the server's reason).
    async fn watch(&self) -> Result<(Value, bool), ClientError> {
        let url = match self.server.split_once("://") {
            Some(("https", rest)) => format!("wss://{rest}/v1/events"),
            Some((_, rest)) => format!("ws://{rest}/v1/events"),
            None => format!("ws://{}/v1/events", self.server),
        };
        let mut request = tungstenite::client::IntoClientRequest::into_client_request(url.as_str())
            .map_err(|e| ClientError::Connect {
                url: url.clone(),
                detail: e.to_string(),
            })?;
        let auth = format!("Bearer {}", self.token)
            .parse()
            .map_err(|_| ClientError::NoToken)?;
        request.headers_mut().insert("authorization", auth);
        let (mut socket, _) = match tokio_tungstenite::connect_async(request).await {
            Ok(connected) => connected,
            Err(tungstenite::Error::Http(response)) => {
                let status = response.status().as_u16();
                let body = response
                    .body()
                    .as_deref()
                    .and_then(|b| serde_json::from_slice(b).ok())
                    .unwrap_or_else(|| json!({"error": format!("HTTP {status}")}));
                return Err(ClientError::Status { status, body });
            }
            Err(error) => {
                return Err(ClientError::Connect {
                    url,
                    detail: error.to_string(),
                })
            }
        };
        loop {
            tokio::select! {
                frame = socket.next() => match frame {
                    Some(Ok(tungstenite::Message::Text(text))) => {
                        let mut out = std::io::stdout().lock();
                        let _ = writeln!(out, "{}", text.as_str());
                        let _ = out.flush();
                    }
                    Some(Ok(tungstenite::Message::Close(frame))) => {
                        let reason = frame.map_or_else(
                            || "no reason given".to_owned(),
                            |f| format!("{} {}", u16::from(f.code), f.reason.as_str()),
                        );
                        return Err(ClientError::Closed(reason));
                    }
                    Some(Ok(_)) => {}
                    Some(Err(error)) => return Err(ClientError::Closed(error.to_string())),
                    None => return Err(ClientError::Closed("connection closed".to_owned())),
                },
                _ = tokio::signal::ctrl_c() => {
                    let _ = socket.close(None).await;
                    return Ok((json!({"closed": "interrupted"}), true));
                }
            }
        }
    }
}

/// Percent-encodes a URI for use as one path segment or query value.
fn segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b':' | b'@') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_escapes_what_a_path_cannot_hold() {
        assert_eq!(segment("pres:alice@example.com"), "pres:alice@example.com");
        assert_eq!(segment("pres:a b@x/y?z"), "pres:a%20b@x%2Fy%3Fz");
    }

    #[test]
    fn only_success_succeeds() {
        assert!(operation(json!({"status": "success"})).1);
        assert!(!operation(json!({"status": "failure"})).1);
        assert!(!operation(json!({"status": "indeterminant"})).1);
        assert!(!operation(json!({})).1);
    }
}
