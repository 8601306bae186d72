//! The JSON shape of the operations (documented on the parent module): a
//! plain serde mirror of the draft's attributes, checked on the way in by the
//! same rules as the XML notation.

use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{
    check_lang, parse_uri, FieldProblem, MessageOp, NotifyOp, NumberError, OpError, Operation,
    ResponseOp, Status, SubscribeOp, TransId, UnsubscribeOp, MAX_VALUE,
};
use crate::pidf::Presence;
use crate::uri::{Scheme, Uri};

pub(super) fn parse(json: &[u8]) -> Result<Operation, OpError> {
    let wire: Wire = serde_json::from_slice(json).map_err(|e| OpError::Json {
        detail: e.to_string(),
    })?;
    wire.into_operation()
}

pub(super) fn write(op: &Operation) -> serde_json::Value {
    // Serialising plain strings and numbers into a Value cannot fail.
    serde_json::to_value(Wire::from(op)).unwrap_or_default()
}

impl Serialize for Operation {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Wire::from(self).serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Operation {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Operation, D::Error> {
        Wire::deserialize(deserializer)?
            .into_operation()
            .map_err(serde::de::Error::custom)
    }
}

/// `transID` is a decimal string in JSON, as in the HTTP API.
impl Serialize for TransId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TransId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<TransId, D::Error> {
        let text = String::deserialize(deserializer)?;
        TransId::parse(&text).map_err(|e| serde::de::Error::custom(format_args!("transID {e}")))
    }
}

impl Serialize for Status {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Status {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Status, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase", deny_unknown_fields)]
enum Wire {
    Message {
        source: String,
        destination: String,
        #[serde(rename = "transID")]
        trans_id: String,
        content_type: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        body: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        body_base64: Option<String>,
    },
    Response {
        status: String,
        #[serde(rename = "transID")]
        trans_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        duration: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        lang: Option<String>,
        #[serde(default)]
        reason: Option<String>,
    },
    Subscribe {
        watcher: String,
        target: String,
        duration: u64,
        #[serde(rename = "transID")]
        trans_id: String,
    },
    Notify {
        watcher: String,
        target: String,
        #[serde(rename = "transID")]
        trans_id: String,
        pidf: String,
    },
    Unsubscribe {
        watcher: String,
        target: String,
        #[serde(rename = "transID")]
        trans_id: String,
    },
}

impl From<&Operation> for Wire {
    fn from(op: &Operation) -> Wire {
        match op {
            Operation::Message(m) => {
                let (body, body_base64) = match std::str::from_utf8(&m.body) {
                    Ok(text) => (Some(text.to_owned()), None),
                    Err(_) => (
                        None,
                        Some(base64::engine::general_purpose::STANDARD.encode(&m.body)),
                    ),
                };
                Wire::Message {
                    source: m.source.to_string(),
                    destination: m.destination.to_string(),
                    trans_id: m.trans_id.to_string(),
                    content_type: m.content_type.clone(),
                    body,
                    body_base64,
                }
            }
            Operation::Response(r) => Wire::Response {
                status: r.status.as_str().to_owned(),
                trans_id: r.trans_id.to_string(),
                duration: r.duration.map(u64::from),
                lang: r.lang.clone(),
                reason: r.reason.clone(),
            },
            Operation::Subscribe(s) => Wire::Subscribe {
                watcher: s.watcher.to_string(),
                target: s.target.to_string(),
                duration: u64::from(s.duration),
                trans_id: s.trans_id.to_string(),
            },
            Operation::Notify(n) => Wire::Notify {
                watcher: n.watcher.to_string(),
                target: n.target.to_string(),
                trans_id: n.trans_id.to_string(),
                pidf: n.presence.to_xml(),
            },
            Operation::Unsubscribe(u) => Wire::Unsubscribe {
                watcher: u.watcher.to_string(),
                target: u.target.to_string(),
                trans_id: u.trans_id.to_string(),
            },
        }
    }
}

impl Wire {
    fn into_operation(self) -> Result<Operation, OpError> {
        Ok(match self {
            Wire::Message {
                source,
                destination,
                trans_id,
                content_type,
                body,
                body_base64,
            } => {
                const OP: &str = "message";
                let body = match (body, body_base64) {
                    (Some(_), Some(_)) => return Err(invalid(OP, "body", FieldProblem::TwoBodies)),
                    (None, None) => return Err(invalid(OP, "body", FieldProblem::Missing)),
                    (Some(text), None) => text.into_bytes(),
                    (None, Some(encoded)) => base64::engine::general_purpose::STANDARD
                        .decode(encoded)
                        .map_err(|e| {
                            invalid(OP, "body_base64", FieldProblem::Base64(e.to_string()))
                        })?,
                };
                if !super::is_one_line_type(&content_type) {
                    return Err(invalid(
                        OP,
                        "content_type",
                        FieldProblem::ContentType(content_type),
                    ));
                }
                Operation::Message(MessageOp {
                    source: uri(OP, "source", &source, Scheme::Im)?,
                    destination: uri(OP, "destination", &destination, Scheme::Im)?,
                    trans_id: trans_id_field(OP, &trans_id)?,
                    content_type,
                    body,
                })
            }
            Wire::Response {
                status,
                trans_id,
                duration,
                lang,
                reason,
            } => {
                const OP: &str = "response";
                let status: Status = status
                    .parse()
                    .map_err(|problem| invalid(OP, "status", problem))?;
                if let Some(lang) = &lang {
                    check_lang(lang).map_err(|problem| invalid(OP, "lang", problem))?;
                }
                Operation::Response(ResponseOp {
                    status,
                    trans_id: trans_id_field(OP, &trans_id)?,
                    duration: duration.map(|d| duration_field(OP, d)).transpose()?,
                    lang,
                    // The XML notation cannot tell an empty reason from none.
                    reason: reason.filter(|r| !r.is_empty()),
                })
            }
            Wire::Subscribe {
                watcher,
                target,
                duration,
                trans_id,
            } => {
                const OP: &str = "subscribe";
                Operation::Subscribe(SubscribeOp {
                    watcher: uri(OP, "watcher", &watcher, Scheme::Pres)?,
                    target: uri(OP, "target", &target, Scheme::Pres)?,
                    duration: duration_field(OP, duration)?,
                    trans_id: trans_id_field(OP, &trans_id)?,
                })
            }
            Wire::Notify {
                watcher,
                target,
                trans_id,
                pidf,
            } => {
                const OP: &str = "notify";
                Operation::Notify(NotifyOp {
                    watcher: uri(OP, "watcher", &watcher, Scheme::Pres)?,
                    target: uri(OP, "target", &target, Scheme::Pres)?,
                    trans_id: trans_id_field(OP, &trans_id)?,
                    presence: Presence::parse(pidf.as_bytes())
                        .map_err(|e| invalid(OP, "pidf", FieldProblem::Pidf(e)))?
                        .into_owned(),
                })
            }
            Wire::Unsubscribe {
                watcher,
                target,
                trans_id,
            } => {
                const OP: &str = "unsubscribe";
                Operation::Unsubscribe(UnsubscribeOp {
                    watcher: uri(OP, "watcher", &watcher, Scheme::Pres)?,
                    target: uri(OP, "target", &target, Scheme::Pres)?,
                    trans_id: trans_id_field(OP, &trans_id)?,
                })
            }
        })
    }
}

fn invalid(op: &'static str, field: &'static str, problem: FieldProblem) -> OpError {
    OpError::InvalidField { op, field, problem }
}

fn uri(op: &'static str, field: &'static str, text: &str, scheme: Scheme) -> Result<Uri, OpError> {
    parse_uri(text, scheme).map_err(|(_, problem)| invalid(op, field, problem))
}

fn trans_id_field(op: &'static str, text: &str) -> Result<TransId, OpError> {
    TransId::parse(text).map_err(|e| invalid(op, "transID", FieldProblem::Number(e)))
}

fn duration_field(op: &'static str, value: u64) -> Result<u32, OpError> {
    u32::try_from(value)
        .ok()
        .filter(|v| *v <= MAX_VALUE)
        .ok_or(invalid(
            op,
            "duration",
            FieldProblem::Number(NumberError::TooLarge),
        ))
}
