//! `cpim parse pidf` and `cpim fmt pidf`: a PIDF document (RFC 3863), or the
//! draft's `<presence entityInfo=..>` form, as JSON or re-serialised.

use cpim_formats::pidf::{Document, Note, Presence};
use serde_json::{json, Value};

use crate::CliError;

/// `{"entity":s,"tuples":[{"id","basic","contact","priority","notes",
/// "timestamp"}],"notes":[{"lang","text"}]}`. The draft's form is first
/// converted (`DraftPresence::to_presence`), its `entityInfo` standing in for
/// the entity it does not name.
pub fn parse(input: &[u8]) -> Result<Value, CliError> {
    let presence = match read(input)? {
        Document::Draft(draft) => {
            let entity = draft.entity_info.clone().unwrap_or_default();
            draft.to_presence(&entity)
        }
        document => document.into_presence(""),
    };
    Ok(to_json(&presence))
}

/// The document written back in its own form: PIDF as the serialiser writes
/// it (extensions kept), the draft's form in the draft's notation.
pub fn fmt(input: &[u8]) -> Result<Vec<u8>, CliError> {
    Ok(match read(input)? {
        Document::Draft(draft) => draft.to_xml().into_bytes(),
        document => document.into_presence("").to_xml().into_bytes(),
    })
}

fn read(input: &[u8]) -> Result<Document<'_>, CliError> {
    Document::parse(input).map_err(|error| CliError::Invalid(error.to_string()))
}

fn to_json(presence: &Presence) -> Value {
    let tuples: Vec<Value> = presence
        .tuples
        .iter()
        .map(|tuple| {
            let contact = tuple.contact.as_ref();
            // The written decimal, so 0.8 prints as 0.8 and not as its f32.
            let priority = contact
                .and_then(|c| c.priority_text())
                .and_then(|p| p.parse::<f64>().ok());
            json!({
                "id": tuple.id,
                "basic": tuple.status.basic.map(|b| b.as_str()),
                "contact": contact.map(|c| &*c.uri),
                "priority": priority,
                "notes": notes(&tuple.notes),
                "timestamp": tuple.timestamp,
            })
        })
        .collect();
    json!({
        "entity": presence.entity,
        "tuples": tuples,
        "notes": notes(&presence.notes),
    })
}

fn notes(notes: &[Note]) -> Vec<Value> {
    notes
        .iter()
        .map(|n| json!({"lang": n.lang, "text": n.text}))
        .collect()
}
