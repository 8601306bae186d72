//! The abstract CPIM operations of `draft-ietf-impp-cpim-02`: the messaging
//! service (section 2.4) and the presence service (section 3.4), with exactly
//! the parameters of the draft's DTDs (sections 6-9). RFC 3860 section 3.4 and
//! RFC 3859 section 3.4 publish the same operations.
//!
//! Two notations carry them:
//!
//! * the draft's XML notation ([`Operation::from_xml`], [`Operation::to_xml`]),
//!   e.g. `<subscribe watcher="pres:a@x" target="pres:b@y" duration="600"
//!   transID="42"/>`;
//! * a JSON shape ([`Operation::from_json`], [`Operation::to_json`], and the
//!   serde impls of [`Operation`]), one object per operation, tagged by `"op"`:
//!
//! ```text
//! {"op":"message","source":"im:a@x","destination":"im:b@y","transID":"1",
//!  "content_type":"text/plain","body":"hi"}          // or "body_base64":"..."
//! {"op":"response","status":"success","transID":"1","reason":null}
//!                                                     // + "duration", "lang"
//! {"op":"subscribe","watcher":"pres:a@x","target":"pres:b@y","duration":600,
//!  "transID":"42"}
//! {"op":"notify","watcher":"pres:a@x","target":"pres:b@y","transID":"7",
//!  "pidf":"<presence xmlns=...>...</presence>"}
//! {"op":"unsubscribe","watcher":"pres:a@x","target":"pres:b@y","transID":"3"}
//! ```
//!
//! `transID` is a decimal string in JSON (as in the HTTP API), `duration` a
//! number. A message body that is UTF-8 travels as `"body"`, any other body as
//! `"body_base64"` (standard alphabet, padded); exactly one of them is present.
//! A response always carries `"reason"` (`null` when absent); `duration` and
//! `lang` appear only when set. Unknown fields are refused.

use std::fmt;
use std::str::FromStr;

use crate::pidf::{PidfError, Presence};
use crate::uri::{Scheme, Uri, UriError};

mod body;
mod json;
mod xml;

/// The largest transaction id, and the largest duration: the draft's UNIQID
/// is `1..2147483647` and SECONDS `0..2147483647` (section 6).
pub const MAX_VALUE: u32 = 2_147_483_647;

/// A transaction identifier (the draft's `transID`, a UNIQID): `1..=2147483647`.
///
/// Section 2.4 asks that transaction ids "appear to be unpredictable", so
/// [`TransId::random`] draws them from a cryptographic generator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TransId(u32);

impl TransId {
    /// A fresh, unpredictable id from the operating-system-seeded
    /// cryptographic generator (`rand::rng()`, ChaCha reseeded from the OS).
    pub fn random() -> TransId {
        use rand::RngExt;
        TransId(rand::rng().random_range(1..=MAX_VALUE))
    }

    /// Refuses 0 and values above 2147483647.
    pub fn new(value: u32) -> Result<TransId, OpError> {
        if (1..=MAX_VALUE).contains(&value) {
            Ok(TransId(value))
        } else {
            Err(OpError::TransIdOutOfRange { value })
        }
    }

    /// Parses the decimal text form: ASCII digits only (no sign, no spaces).
    pub fn parse(text: &str) -> Result<TransId, NumberError> {
        match parse_decimal(text)? {
            0 => Err(NumberError::Zero),
            value => Ok(TransId(value)),
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

impl FromStr for TransId {
    type Err = NumberError;
    fn from_str(text: &str) -> Result<TransId, NumberError> {
        TransId::parse(text)
    }
}

impl fmt::Display for TransId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The `status` of a response operation (section 6), spelt as the draft
/// spells it (`indeterminant`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Status {
    Success,
    Failure,
    Indeterminant,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Success => "success",
            Status::Failure => "failure",
            Status::Indeterminant => "indeterminant",
        }
    }
}

impl FromStr for Status {
    type Err = FieldProblem;
    fn from_str(text: &str) -> Result<Status, FieldProblem> {
        match text {
            "success" => Ok(Status::Success),
            "failure" => Ok(Status::Failure),
            "indeterminant" => Ok(Status::Indeterminant),
            other => Err(FieldProblem::Status(other.to_owned())),
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The message operation (section 2.4.1): `source` and `destination` are
/// `im:` URIs with one address each; the content is one MIME object, here its
/// `Content-Type` and its decoded bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct MessageOp {
    pub source: Uri,
    pub destination: Uri,
    pub trans_id: TransId,
    pub content_type: String,
    pub body: Vec<u8>,
}

/// The response operation (section 6): `reason` is the element's text.
#[derive(Clone, Debug, PartialEq)]
pub struct ResponseOp {
    pub status: Status,
    pub trans_id: TransId,
    pub duration: Option<u32>,
    pub lang: Option<String>,
    pub reason: Option<String>,
}

/// The subscribe operation (section 3.4.1); `duration` 0 is a one-time poll.
#[derive(Clone, Debug, PartialEq)]
pub struct SubscribeOp {
    pub watcher: Uri,
    pub target: Uri,
    pub duration: u32,
    pub trans_id: TransId,
}

/// The notify operation (section 3.4.2) with the target's presence.
#[derive(Clone, Debug, PartialEq)]
pub struct NotifyOp {
    pub watcher: Uri,
    pub target: Uri,
    pub trans_id: TransId,
    pub presence: Presence<'static>,
}

/// The unsubscribe operation (section 8's DTD; section 3.4.3 also allows a
/// subscribe with duration 0).
#[derive(Clone, Debug, PartialEq)]
pub struct UnsubscribeOp {
    pub watcher: Uri,
    pub target: Uri,
    pub trans_id: TransId,
}

/// Any one CPIM operation.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Operation {
    Message(MessageOp),
    Response(ResponseOp),
    Subscribe(SubscribeOp),
    Notify(NotifyOp),
    Unsubscribe(UnsubscribeOp),
}

impl MessageOp {
    /// A message operation with a fresh transaction id; checks that both URIs
    /// are `im:` with one address.
    pub fn new(
        source: Uri,
        destination: Uri,
        content_type: impl Into<String>,
        body: impl Into<Vec<u8>>,
    ) -> Result<MessageOp, OpError> {
        check_op_uri("message", "source", &source, Scheme::Im)?;
        check_op_uri("message", "destination", &destination, Scheme::Im)?;
        Ok(MessageOp {
            source,
            destination,
            trans_id: TransId::random(),
            content_type: content_type.into(),
            body: body.into(),
        })
    }
}

impl ResponseOp {
    /// A response with no duration, language or reason.
    pub fn new(status: Status, trans_id: TransId) -> ResponseOp {
        ResponseOp {
            status,
            trans_id,
            duration: None,
            lang: None,
            reason: None,
        }
    }
}

impl SubscribeOp {
    /// A subscribe operation with a fresh transaction id; checks that both
    /// URIs are `pres:` with one address and that the duration fits SECONDS.
    pub fn new(watcher: Uri, target: Uri, duration: u32) -> Result<SubscribeOp, OpError> {
        check_op_uri("subscribe", "watcher", &watcher, Scheme::Pres)?;
        check_op_uri("subscribe", "target", &target, Scheme::Pres)?;
        if duration > MAX_VALUE {
            return Err(OpError::InvalidField {
                op: "subscribe",
                field: "duration",
                problem: FieldProblem::Number(NumberError::TooLarge),
            });
        }
        Ok(SubscribeOp {
            watcher,
            target,
            duration,
            trans_id: TransId::random(),
        })
    }
}

impl UnsubscribeOp {
    /// An unsubscribe operation with a fresh transaction id.
    pub fn new(watcher: Uri, target: Uri) -> Result<UnsubscribeOp, OpError> {
        check_op_uri("unsubscribe", "watcher", &watcher, Scheme::Pres)?;
        check_op_uri("unsubscribe", "target", &target, Scheme::Pres)?;
        Ok(UnsubscribeOp {
            watcher,
            target,
            trans_id: TransId::random(),
        })
    }
}

impl NotifyOp {
    /// A notify operation with a fresh transaction id.
    pub fn new(
        watcher: Uri,
        target: Uri,
        presence: Presence<'static>,
    ) -> Result<NotifyOp, OpError> {
        check_op_uri("notify", "watcher", &watcher, Scheme::Pres)?;
        check_op_uri("notify", "target", &target, Scheme::Pres)?;
        Ok(NotifyOp {
            watcher,
            target,
            trans_id: TransId::random(),
            presence,
        })
    }
}

impl Operation {
    /// Parses the draft's XML notation with the default [`Limits`].
    pub fn from_xml(xml: &[u8]) -> Result<Operation, OpError> {
        xml::parse(xml, &Limits::default())
    }

    /// Parses the draft's XML notation. DTDs and entities other than the five
    /// predefined ones are refused; every error names the element or attribute
    /// and the byte position.
    pub fn from_xml_with(xml: &[u8], limits: &Limits) -> Result<Operation, OpError> {
        xml::parse(xml, limits)
    }

    /// The draft's XML notation, one element, no XML declaration. A notify's
    /// presence is written as PIDF (RFC 3863).
    pub fn to_xml(&self) -> String {
        xml::write(self)
    }

    /// Parses the JSON shape described in the module documentation.
    pub fn from_json(json: &[u8]) -> Result<Operation, OpError> {
        json::parse(json)
    }

    /// The JSON shape described in the module documentation.
    pub fn to_json(&self) -> serde_json::Value {
        json::write(self)
    }

    /// The operation's element name: `message`, `response`, ...
    pub fn name(&self) -> &'static str {
        match self {
            Operation::Message(_) => "message",
            Operation::Response(_) => "response",
            Operation::Subscribe(_) => "subscribe",
            Operation::Notify(_) => "notify",
            Operation::Unsubscribe(_) => "unsubscribe",
        }
    }

    pub fn trans_id(&self) -> TransId {
        match self {
            Operation::Message(op) => op.trans_id,
            Operation::Response(op) => op.trans_id,
            Operation::Subscribe(op) => op.trans_id,
            Operation::Notify(op) => op.trans_id,
            Operation::Unsubscribe(op) => op.trans_id,
        }
    }
}

impl From<MessageOp> for Operation {
    fn from(op: MessageOp) -> Operation {
        Operation::Message(op)
    }
}
impl From<ResponseOp> for Operation {
    fn from(op: ResponseOp) -> Operation {
        Operation::Response(op)
    }
}
impl From<SubscribeOp> for Operation {
    fn from(op: SubscribeOp) -> Operation {
        Operation::Subscribe(op)
    }
}
impl From<NotifyOp> for Operation {
    fn from(op: NotifyOp) -> Operation {
        Operation::Notify(op)
    }
}
impl From<UnsubscribeOp> for Operation {
    fn from(op: UnsubscribeOp) -> Operation {
        Operation::Unsubscribe(op)
    }
}

/// Bounds on what the XML parser accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Largest input, in bytes (the message body is inside it).
    pub max_bytes: usize,
    /// Bounds for a notify's `<presence>`, in either form.
    pub pidf: crate::pidf::Limits,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_bytes: 1 << 20,
            pidf: crate::pidf::Limits::default(),
        }
    }
}

/// Why an operation was refused. Every variant describes input that is
/// invalid (the peer's fault); positions are byte offsets into the XML input.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum OpError {
    #[error("transaction id {value} is outside 1..=2147483647")]
    TransIdOutOfRange { value: u32 },
    #[error("input is not UTF-8 at byte {position}")]
    NotUtf8 { position: usize },
    #[error("input is {size} bytes, over the limit of {limit}")]
    TooLarge { size: usize, limit: usize },
    #[error("XML is not well-formed at byte {position}: {detail}")]
    Xml { position: usize, detail: String },
    #[error("document type declaration at byte {position} refused")]
    Dtd { position: usize },
    #[error("entity reference &{name}; at byte {position} refused (only the five predefined entities and character references are accepted)")]
    Entity { name: String, position: usize },
    #[error("character U+{code:04X} at byte {position} is not allowed in XML")]
    IllegalChar { code: u32, position: usize },
    #[error("encoding {encoding:?} declared at byte {position}; only UTF-8 is accepted")]
    Encoding { encoding: String, position: usize },
    #[error("no operation element in the input (at byte {position})")]
    NoOperation { position: usize },
    #[error("<{found}> at byte {position} is not an operation (message, response, subscribe, notify, unsubscribe)")]
    UnknownOperation { found: String, position: usize },
    #[error("<{element}> at byte {position} lacks the required attribute {attribute}")]
    MissingAttribute {
        element: &'static str,
        attribute: &'static str,
        position: usize,
    },
    #[error("<{element}> has the unknown attribute {attribute} at byte {position}")]
    UnknownAttribute {
        element: &'static str,
        attribute: String,
        position: usize,
    },
    #[error("attribute {attribute} of <{element}> at byte {position}: {problem}")]
    InvalidAttribute {
        element: &'static str,
        attribute: &'static str,
        position: usize,
        problem: FieldProblem,
    },
    #[error("<{element}> may not contain {found} (at byte {position})")]
    UnexpectedContent {
        element: &'static str,
        found: String,
        position: usize,
    },
    #[error("<{element}> at byte {position} lacks its <{child}> child")]
    MissingChild {
        element: &'static str,
        child: &'static str,
        position: usize,
    },
    /// The notify's `<presence>` was refused by the presence parser;
    /// `position` is in the whole input.
    #[error("<presence> at byte {position}: {}", source.kind())]
    Pidf { position: usize, source: PidfError },
    #[error("message content at byte {position}: {problem}")]
    Body {
        position: usize,
        problem: BodyProblem,
    },
    #[error("content after the operation element at byte {position}")]
    TrailingContent { position: usize },
    /// The JSON is malformed or has the wrong shape; serde_json's text, which
    /// names the line and column when it knows them.
    #[error("JSON: {detail}")]
    Json { detail: String },
    #[error("field {field} of the JSON {op} operation: {problem}")]
    InvalidField {
        op: &'static str,
        field: &'static str,
        problem: FieldProblem,
    },
}

impl OpError {
    /// The byte offset into the XML input, where the error has one.
    pub fn position(&self) -> Option<usize> {
        match self {
            OpError::NotUtf8 { position }
            | OpError::Xml { position, .. }
            | OpError::Dtd { position }
            | OpError::Entity { position, .. }
            | OpError::IllegalChar { position, .. }
            | OpError::Encoding { position, .. }
            | OpError::NoOperation { position }
            | OpError::UnknownOperation { position, .. }
            | OpError::MissingAttribute { position, .. }
            | OpError::UnknownAttribute { position, .. }
            | OpError::InvalidAttribute { position, .. }
            | OpError::UnexpectedContent { position, .. }
            | OpError::MissingChild { position, .. }
            | OpError::Pidf { position, .. }
            | OpError::Body { position, .. }
            | OpError::TrailingContent { position } => Some(*position),
            OpError::TransIdOutOfRange { .. }
            | OpError::TooLarge { .. }
            | OpError::Json { .. }
            | OpError::InvalidField { .. } => None,
        }
    }
}

/// What is wrong with one parameter's value (an XML attribute or JSON field).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum FieldProblem {
    #[error("missing")]
    Missing,
    #[error("{0}")]
    Number(NumberError),
    #[error("invalid URI: {0}")]
    Uri(UriError),
    #[error("must be a {expected} URI, found {found:?}")]
    Scheme {
        expected: &'static str,
        found: String,
    },
    #[error("must name exactly one address, found {count}")]
    AddressCount { count: usize },
    #[error("{0:?} is none of success, failure, indeterminant")]
    Status(String),
    #[error("{0:?} is not a language tag")]
    Lang(String),
    #[error("both body and body_base64 are present")]
    TwoBodies,
    #[error("invalid base64: {0}")]
    Base64(String),
    #[error("PIDF: {0}")]
    Pidf(PidfError),
    #[error("{0:?} is not a one-line MIME type")]
    ContentType(String),
}

/// What is wrong with a decimal number (transID, duration).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NumberError {
    #[error("is empty")]
    Empty,
    #[error("has {found:?} at offset {offset} where only digits 0-9 may stand")]
    NotDigit { offset: usize, found: char },
    #[error("is 0; the smallest transaction id is 1")]
    Zero,
    #[error("is larger than 2147483647")]
    TooLarge,
}

/// What is wrong with the MIME object inside `<message>`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BodyProblem {
    #[error("no empty line ends the MIME header section")]
    NoHeaderEnd,
    #[error("header line {line:?} has no colon")]
    NoColon { line: String },
    #[error(
        "MIME header {name} is not supported (only Content-Type and Content-Transfer-Encoding)"
    )]
    UnsupportedHeader { name: String },
    #[error("MIME header {name} appears twice")]
    DuplicateHeader { name: String },
    #[error("Content-Type {0:?} is empty or not one line")]
    ContentType(String),
    #[error("Content-Transfer-Encoding {0:?} is not supported (7bit, 8bit, binary, base64)")]
    UnsupportedEncoding(String),
    #[error("invalid base64: {0}")]
    Base64(String),
}

/// Decimal digits to a value in 0..=2147483647.
fn parse_decimal(text: &str) -> Result<u32, NumberError> {
    if text.is_empty() {
        return Err(NumberError::Empty);
    }
    let mut value: u64 = 0;
    for (offset, found) in text.char_indices() {
        let Some(digit) = found.to_digit(10).filter(|_| found.is_ascii_digit()) else {
            return Err(NumberError::NotDigit { offset, found });
        };
        value = value * 10 + u64::from(digit);
        if value > u64::from(MAX_VALUE) {
            return Err(NumberError::TooLarge);
        }
    }
    u32::try_from(value).map_err(|_| NumberError::TooLarge)
}

/// A duration (SECONDS): decimal `0..=2147483647`.
fn parse_duration(text: &str) -> Result<u32, NumberError> {
    parse_decimal(text)
}

/// Parses a URI parameter and checks its scheme and address count.
fn parse_uri(text: &str, expected: Scheme) -> Result<Uri, (usize, FieldProblem)> {
    let uri = Uri::parse(text).map_err(|e| (e.position(), FieldProblem::Uri(e)))?;
    check_uri(&uri, expected).map_err(|problem| (0, problem))?;
    Ok(uri)
}

fn check_uri(uri: &Uri, expected: Scheme) -> Result<(), FieldProblem> {
    if uri.scheme() != expected {
        return Err(FieldProblem::Scheme {
            expected: scheme_name(expected),
            found: uri.to_string(),
        });
    }
    if uri.address().is_none() {
        return Err(FieldProblem::AddressCount {
            count: uri.to().len(),
        });
    }
    Ok(())
}

fn check_op_uri(
    op: &'static str,
    field: &'static str,
    uri: &Uri,
    expected: Scheme,
) -> Result<(), OpError> {
    check_uri(uri, expected).map_err(|problem| OpError::InvalidField { op, field, problem })
}

fn scheme_name(scheme: Scheme) -> &'static str {
    match scheme {
        Scheme::Im => "im:",
        _ => "pres:",
    }
}

/// A Content-Type value both notations can carry: not empty, no surrounding
/// whitespace, no line break, only characters XML allows.
fn is_one_line_type(text: &str) -> bool {
    !text.is_empty()
        && text.trim() == text
        && text
            .chars()
            .all(|c| crate::xml::is_xml_char(c) && c != '\r' && c != '\n')
}

/// An xml:lang value: a language tag, letters, digits and hyphens
/// (RFC 1766), the draft's LANG.
fn check_lang(text: &str) -> Result<(), FieldProblem> {
    let ok = !text.is_empty()
        && !text.starts_with('-')
        && !text.ends_with('-')
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(FieldProblem::Lang(text.to_owned()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn trans_id_new_bounds() {
        assert_eq!(TransId::new(1).unwrap().get(), 1);
        assert_eq!(TransId::new(MAX_VALUE).unwrap().get(), 2_147_483_647);
        assert_eq!(
            TransId::new(0),
            Err(OpError::TransIdOutOfRange { value: 0 })
        );
        assert_eq!(
            TransId::new(2_147_483_648),
            Err(OpError::TransIdOutOfRange {
                value: 2_147_483_648
            })
        );
        assert_eq!(
            TransId::new(u32::MAX).unwrap_err().to_string(),
            "transaction id 4294967295 is outside 1..=2147483647"
        );
    }

    #[test]
    fn trans_id_parse_exact_errors() {
        assert_eq!("42".parse::<TransId>().unwrap().get(), 42);
        assert_eq!("0042".parse::<TransId>().unwrap().get(), 42);
        assert_eq!(
            "2147483647".parse::<TransId>().unwrap().get(),
            2_147_483_647
        );
        assert_eq!(TransId::parse(""), Err(NumberError::Empty));
        assert_eq!(TransId::parse("0"), Err(NumberError::Zero));
        assert_eq!(TransId::parse("000"), Err(NumberError::Zero));
        assert_eq!(TransId::parse("2147483648"), Err(NumberError::TooLarge));
        assert_eq!(
            TransId::parse("99999999999999999999"),
            Err(NumberError::TooLarge)
        );
        assert_eq!(
            TransId::parse("+1"),
            Err(NumberError::NotDigit {
                offset: 0,
                found: '+'
            })
        );
        assert_eq!(
            TransId::parse("12 "),
            Err(NumberError::NotDigit {
                offset: 2,
                found: ' '
            })
        );
        // Non-ASCII digits are not decimal digits here.
        assert_eq!(
            TransId::parse("1\u{0663}"),
            Err(NumberError::NotDigit {
                offset: 1,
                found: '\u{0663}'
            })
        );
        assert_eq!(
            TransId::parse("4x").unwrap_err().to_string(),
            "has 'x' at offset 1 where only digits 0-9 may stand"
        );
    }

    #[test]
    fn sizes() {
        // A transaction id is a plain 32-bit value, cheap to copy and store.
        assert_eq!(std::mem::size_of::<TransId>(), 4);
        assert_eq!(std::mem::size_of::<Status>(), 1);
    }

    #[test]
    fn trans_id_display_round_trips() {
        for v in [1, 7, 42, 1_000_000, MAX_VALUE] {
            let id = TransId::new(v).unwrap();
            assert_eq!(id.to_string().parse::<TransId>().unwrap(), id);
        }
    }

    #[test]
    fn trans_id_random_stays_in_range_and_does_not_repeat() {
        let mut seen = std::collections::HashSet::new();
        let mut high_half = 0;
        for _ in 0..10_000 {
            let id = TransId::random();
            assert!((1..=MAX_VALUE).contains(&id.get()), "{id}");
            if id.get() > MAX_VALUE / 2 {
                high_half += 1;
            }
            seen.insert(id);
        }
        // 10 000 draws from 2^31 values: a repeat has odds of about 2.3%, so
        // allow a couple; a broken generator repeats far more.
        assert!(seen.len() >= 9_998, "only {} distinct ids", seen.len());
        // Both halves of the range are used (a stuck high bit would fail).
        assert!((4_000..=6_000).contains(&high_half), "{high_half}");
    }

    #[test]
    fn status_text_forms() {
        for (status, text) in [
            (Status::Success, "success"),
            (Status::Failure, "failure"),
            (Status::Indeterminant, "indeterminant"),
        ] {
            assert_eq!(status.to_string(), text);
            assert_eq!(text.parse::<Status>().unwrap(), status);
        }
        assert_eq!(
            "indeterminate".parse::<Status>(),
            Err(FieldProblem::Status("indeterminate".into()))
        );
        assert_eq!(
            "Success".parse::<Status>(),
            Err(FieldProblem::Status("Success".into()))
        );
    }

    #[test]
    fn durations_and_langs() {
        assert_eq!(parse_duration("0"), Ok(0));
        assert_eq!(parse_duration("86400"), Ok(86_400));
        assert_eq!(
            parse_duration("-1"),
            Err(NumberError::NotDigit {
                offset: 0,
                found: '-'
            })
        );
        assert_eq!(parse_duration("2147483648"), Err(NumberError::TooLarge));
        assert!(check_lang("en").is_ok());
        assert!(check_lang("en-US").is_ok());
        assert_eq!(check_lang(""), Err(FieldProblem::Lang(String::new())));
        assert_eq!(check_lang("en US"), Err(FieldProblem::Lang("en US".into())));
        assert_eq!(check_lang("-en"), Err(FieldProblem::Lang("-en".into())));
    }
}
