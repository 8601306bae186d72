//! `cpim parse message` and `cpim fmt message` (RFC 3862).
//!
//! `parse` prints `{"form","from","to","cc","datetime","subject","ns",
//! "require","headers","content_type","body_len"}`: names decoded, the
//! `headers` list with every message header's name and value as written, and
//! the encapsulated object's `Content-Type` and body length. A `Require`
//! naming a non-core header not given with `--understand NS-URI#NAME` is
//! refused like invalid input. `fmt` writes the message back, which for a
//! valid message is its input byte for byte.

use cpim_formats::message::{Message, NameAddr, Understood};
use serde_json::{json, Value};

use crate::CliError;

pub fn parse(input: &[u8], understand: &[String]) -> Result<Value, CliError> {
    let mut understood = Understood::new();
    for name in understand {
        understood
            .insert_qualified(name)
            .map_err(|error| CliError::Usage(format!("--understand: {error}")))?;
    }
    let message = Message::parse(input).map_err(invalid)?;
    message.check_require(&understood).map_err(invalid)?;

    let party = |a: NameAddr<'_>| json!({"name": a.name(), "uri": a.uri()});
    let subject: Vec<_> = message
        .subjects()
        .map(|h| json!({"lang": h.lang(), "text": h.text()}))
        .collect();
    let ns: Vec<_> = message
        .namespaces()
        .map(|n| json!({"prefix": n.prefix, "uri": n.uri}))
        .collect();
    let headers: Vec<_> = message
        .headers()
        .iter()
        .map(|h| json!([h.name(), h.value()]))
        .collect();
    let content = message.content();
    let content_type = content
        .content_type()
        .map(|h| String::from_utf8_lossy(&h.unfolded()).into_owned());
    Ok(json!({
        "form": message.form().as_str(),
        "from": message.from().map(party),
        "to": message.to().map(party).collect::<Vec<_>>(),
        "cc": message.cc().map(party).collect::<Vec<_>>(),
        "datetime": message.datetime(),
        "subject": subject,
        "ns": ns,
        "require": message.required().map(|r| r.name).collect::<Vec<_>>(),
        "headers": headers,
        "content_type": content_type,
        "body_len": content.body().len(),
    }))
}

pub fn fmt(input: &[u8]) -> Result<Vec<u8>, CliError> {
    Ok(Message::parse(input).map_err(invalid)?.to_vec())
}

fn invalid(error: cpim_formats::message::MessageError) -> CliError {
    CliError::Invalid(error.to_string())
}
