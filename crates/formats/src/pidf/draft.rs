//! The presence information of `draft-ietf-impp-cpim-02` section 9 (and the
//! `<presence>` inside the `notify` operation of section 8), and its mapping
//! onto the RFC 3863 model (written down in `docs/decisions.md`).

use super::{Basic, Contact, Note, Presence, Tuple};

/// The draft's `<presence entityInfo=..>`: one or more tuples, each an
/// address with an open/closed status and free text.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct DraftPresence {
    /// The `entityInfo` attribute: a URI with more about the presentity
    /// (`None` when absent; the DTD's default is the empty string).
    pub entity_info: Option<String>,
    /// The `<tuple>` elements, in order.
    pub tuples: Vec<DraftTuple>,
}

/// The draft's `<tuple destination=.. status=..>#PCDATA</tuple>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DraftTuple {
    /// The `destination` attribute: where to reach the presentity.
    pub destination: String,
    /// The `status` attribute.
    pub status: Basic,
    /// The element's character data, as written.
    pub text: String,
}

impl DraftPresence {
    /// The RFC 3863 form of this presence information. The draft's
    /// `<presence>` does not name its presentity (the enclosing `notify`
    /// does), so the caller passes it as `entity`.
    ///
    /// Each draft tuple `n` (from 1) becomes tuple id `t{n}` with `<basic>`
    /// from `status`, `<contact>` from `destination`, and a `<note>` from
    /// its text when that is not blank. `entityInfo` has no RFC 3863
    /// counterpart and is not carried.
    pub fn to_presence(&self, entity: &str) -> Presence<'static> {
        let mut presence = Presence::new(entity.to_owned());
        for (n, draft) in self.tuples.iter().enumerate() {
            let mut tuple = Tuple::new(format!("t{}", n + 1), Some(draft.status));
            tuple.contact = Some(Contact::new(draft.destination.trim().to_owned()));
            if !draft.text.trim().is_empty() {
                tuple.notes.push(Note::new(draft.text.clone()));
            }
            presence.tuples.push(tuple);
        }
        presence
    }

    /// The draft form of an RFC 3863 presence: one draft tuple for each
    /// tuple that has both a `<basic>` status and a `<contact>` (the draft
    /// requires both), its text from the tuple's first note. Everything the
    /// draft cannot say (ids, priorities, timestamps, extensions) is left out.
    pub fn from_presence(presence: &Presence<'_>) -> DraftPresence {
        let tuples = presence
            .tuples
            .iter()
            .filter_map(|tuple| {
                let status = tuple.status.basic?;
                let contact = tuple.contact.as_ref()?;
                Some(DraftTuple {
                    destination: contact.uri.to_string(),
                    status,
                    text: tuple
                        .notes
                        .first()
                        .map(|n| n.text.to_string())
                        .unwrap_or_default(),
                })
            })
            .collect();
        DraftPresence {
            entity_info: None,
            tuples,
        }
    }

    /// Serialises in the draft's notation (attributes quoted with `'`, as the
    /// draft's examples are).
    pub fn to_xml(&self) -> String {
        let mut out = String::from("<presence");
        if let Some(info) = &self.entity_info {
            out.push_str(" entityInfo='");
            escape(&mut out, info);
            out.push('\'');
        }
        out.push_str(">\n");
        for tuple in &self.tuples {
            out.push_str("<tuple destination='");
            escape(&mut out, &tuple.destination);
            out.push_str("' status='");
            out.push_str(tuple.status.as_str());
            if tuple.text.is_empty() {
                out.push_str("'/>\n");
            } else {
                out.push_str("'>");
                escape(&mut out, &tuple.text);
                out.push_str("</tuple>\n");
            }
        }
        out.push_str("</presence>\n");
        out
    }
}

fn escape(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\'' => out.push_str("&apos;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
}
