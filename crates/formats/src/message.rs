//! `message/cpim`: the CPIM message format, RFC 3862.
//!
//! A message is MIME headers (section 2.1, optional: a transport may carry
//! the message headers directly), a blank line, the message headers
//! (sections 2.2, 3 and 4), a blank line, and the encapsulated MIME object
//! (section 2.4) whose body is kept byte for byte. Section 5.2's
//! `multipart/signed` wrapping is read too; [`Form`] says which of the three
//! shapes was given.
//!
//! [`Message`] borrows everything from its input, keeps every span it read,
//! and writes the same bytes back ([`Message::to_vec`]): a signature over the
//! message or its content still verifies after a pass through this code.
//! [`MessageBuilder`] writes new messages.

use std::borrow::Cow;

mod build;
mod parse;
mod text;
pub(crate) use text::special_bytes;

pub use build::{BuildError, Field, MessageBuilder, Party};
pub use text::unescape;

/// The namespace of the core headers (section 4, section 7.2) and the
/// default namespace of `message/cpim` (section 7.1).
pub const CORE_NAMESPACE: &str = "urn:ietf:params:cpim-headers:";

/// The headers section 4 defines, always understood (section 3.5).
pub const CORE_HEADERS: [&str; 7] = ["From", "To", "cc", "DateTime", "Subject", "NS", "Require"];

/// Which of the three shapes the input had.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Form {
    /// The message headers, blank line and encapsulated object, as a
    /// transport that labels the content `message/cpim` itself carries them
    /// (e.g. a SIP MESSAGE body).
    Bare,
    /// A whole MIME entity: MIME headers with `Content-Type: message/cpim`
    /// first (the `m:` lines of section 5.1).
    Mime,
    /// A `multipart/signed` entity (RFC 1847) whose first part is a
    /// `message/cpim` entity (section 5.2).
    Signed,
}

impl Form {
    /// `"bare"`, `"mime"` or `"signed"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Form::Bare => "bare",
            Form::Mime => "mime",
            Form::Signed => "signed",
        }
    }
}

/// Bounds on what the parser accepts, so that a peer cannot make it hold or
/// scan without end. Section 2.2 asks processors not to limit line length;
/// the default line limit is generous and [`Limits::NONE`] lifts all three.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest whole input, in bytes.
    pub max_size: usize,
    /// Most header fields, counting MIME, message and content headers.
    pub max_headers: usize,
    /// Longest header line, in bytes without its CRLF (bodies are not
    /// limited by line). Lines over `u32::MAX` bytes are refused whatever
    /// this says.
    pub max_line: usize,
}

impl Limits {
    /// No limits (but the `u32::MAX` bytes of a header line).
    pub const NONE: Limits = Limits {
        max_size: usize::MAX,
        max_headers: usize::MAX,
        max_line: usize::MAX,
    };
}

impl Default for Limits {
    /// 1 MiB in all, 256 header fields, 8 KiB per header line.
    fn default() -> Limits {
        Limits {
            max_size: 1 << 20,
            max_headers: 256,
            max_line: 8 << 10,
        }
    }
}

/// A parsed `message/cpim` message, borrowing its input.
#[derive(Clone)]
pub struct Message<'a> {
    form: Form,
    /// Boxed: rare, and large enough to make every move of a message
    /// twice as long.
    signed: Option<Box<Signed<'a>>>,
    headers: Vec<Header<'a>>,
    /// Holds the message's MIME headers too (see [`Content`]).
    content: Content<'a>,
}

/// Part by part, the MIME headers of the message included.
impl PartialEq for Message<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.form == other.form
            && self.signed == other.signed
            && self.mime_headers() == other.mime_headers()
            && self.headers == other.headers
            && self.content == other.content
    }
}

impl Eq for Message<'_> {}

impl std::fmt::Debug for Message<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Message")
            .field("form", &self.form)
            .field("signed", &self.signed)
            .field("mime_headers", &self.mime_headers())
            .field("headers", &self.headers)
            .field("content", &self.content)
            .finish()
    }
}

impl<'a> Message<'a> {
    /// Parses one message in any of the three [`Form`]s, with the default
    /// [`Limits`].
    pub fn parse(input: &'a [u8]) -> Result<Message<'a>, MessageError> {
        Message::parse_with(input, &Limits::default())
    }

    /// Parses one message in any of the three [`Form`]s.
    ///
    /// The input is the whole message as framed by its transport; the
    /// encapsulated body runs to its end (section 2). An error for which
    /// [`MessageError::is_incomplete`] holds means the input stopped inside
    /// the headers and more bytes may make it valid.
    pub fn parse_with(input: &'a [u8], limits: &Limits) -> Result<Message<'a>, MessageError> {
        parse::message(input, limits, Vec::new())
    }

    /// [`Message::parse_with`] without its fast paths (every line read
    /// byte by byte), for the fuzzer to hold them to; built only under
    /// cargo-fuzz, not part of the API.
    #[cfg(fuzzing)]
    #[doc(hidden)]
    pub fn parse_without_fast_paths(
        input: &'a [u8],
        limits: &Limits,
    ) -> Result<Message<'a>, MessageError> {
        parse::message_with(input, limits, false, Vec::new())
    }

    /// Parses a block of message headers alone (the `h:` lines), each ending
    /// in CRLF, with no blank line, as the header examples of RFC 3862 are
    /// written.
    pub fn parse_headers(
        input: &'a [u8],
        limits: &Limits,
    ) -> Result<Vec<Header<'a>>, MessageError> {
        parse::header_block(input, limits)
    }

    /// Which shape the input had.
    pub fn form(&self) -> Form {
        self.form
    }

    /// The `multipart/signed` wrapping, for [`Form::Signed`].
    pub fn signed(&self) -> Option<&Signed<'a>> {
        self.signed.as_deref()
    }

    /// The MIME headers of the `message/cpim` entity (`m:` lines); empty for
    /// [`Form::Bare`].
    pub fn mime_headers(&self) -> &[MimeHeader<'a>] {
        self.content
            .mime
            .as_slice()
            .get(..self.content.split)
            .unwrap_or_default()
    }

    /// Every message header, in order (`h:` lines), known or not.
    pub fn headers(&self) -> &[Header<'a>] {
        &self.headers
    }

    /// The encapsulated MIME object.
    pub fn content(&self) -> &Content<'a> {
        &self.content
    }

    /// The first core `From` header.
    pub fn from(&self) -> Option<NameAddr<'a>> {
        self.headers.iter().find_map(|h| match h.kind() {
            HeaderKind::From(a) => Some(a),
            _ => None,
        })
    }

    /// Every core `To` header, in order.
    pub fn to(&self) -> impl Iterator<Item = NameAddr<'a>> + '_ {
        self.headers.iter().filter_map(|h| match h.kind() {
            HeaderKind::To(a) => Some(a),
            _ => None,
        })
    }

    /// Every core `cc` header, in order.
    pub fn cc(&self) -> impl Iterator<Item = NameAddr<'a>> + '_ {
        self.headers.iter().filter_map(|h| match h.kind() {
            HeaderKind::Cc(a) => Some(a),
            _ => None,
        })
    }

    /// The value of the first core `DateTime` header (RFC 3339 syntax, checked).
    pub fn datetime(&self) -> Option<&'a str> {
        self.headers
            .iter()
            .find(|h| matches!(h.kind, Kind::DateTime))
            .map(Header::value)
    }

    /// Every core `Subject` header, in order, with its language.
    pub fn subjects(&self) -> impl Iterator<Item = &Header<'a>> {
        self.headers
            .iter()
            .filter(|h| matches!(h.kind, Kind::Subject))
    }

    /// Every namespace declaration (core `NS` header), in order.
    pub fn namespaces(&self) -> impl Iterator<Item = Namespace<'a>> + '_ {
        self.headers.iter().filter_map(|h| match h.kind() {
            HeaderKind::Ns(ns) => Some(ns),
            _ => None,
        })
    }

    /// Every name listed by the core `Require` headers, in order.
    pub fn required(&self) -> impl Iterator<Item = Required<'a>> + '_ {
        let mut walk = parse::RequiredWalk::default();
        self.headers
            .iter()
            .flat_map(move |h| walk.step(h).into_iter().flatten())
    }

    /// Refuses the message if a `Require` header names something outside
    /// the core headers and `understood` (section 3.5, RFC 3922 4.2.7). The
    /// error names the first such header and where it was required.
    pub fn check_require(&self, understood: &Understood) -> Result<(), MessageError> {
        for required in self.required() {
            let core =
                required.namespace == CORE_NAMESPACE && CORE_HEADERS.contains(&required.local);
            if !core && !understood.contains(required.namespace, required.local) {
                return Err(MessageError::new(
                    ErrorKind::NotUnderstood {
                        name: required.name.to_owned(),
                        namespace: required.namespace.to_owned(),
                    },
                    required.offset,
                ));
            }
        }
        Ok(())
    }

    /// The encoded length: that of the parsed input.
    pub fn encoded_len(&self) -> usize {
        let mut len = 0;
        if let Some(signed) = &self.signed {
            len += signed
                .headers()
                .iter()
                .map(|h| h.raw.len() + 2)
                .sum::<usize>();
            len += 2 + signed.head.len() + signed.tail.len();
        }
        if self.form != Form::Bare {
            len += self
                .mime_headers()
                .iter()
                .map(|h| h.raw.len() + 2)
                .sum::<usize>()
                + 2;
        }
        len += self.headers.iter().map(Header::encoded_len).sum::<usize>() + 2;
        len += self
            .content
            .headers()
            .iter()
            .map(|h| h.raw.len() + 2)
            .sum::<usize>()
            + 2;
        len + self.content.body.len()
    }

    /// Writes the message from its parts; for a parsed message these are the
    /// input's bytes, unchanged.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.reserve(self.encoded_len());
        if let Some(signed) = &self.signed {
            write_mime(out, signed.headers());
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(signed.head);
        }
        if self.form != Form::Bare {
            write_mime(out, self.mime_headers());
            out.extend_from_slice(b"\r\n");
        }
        for header in &self.headers {
            header.write_to(out);
        }
        out.extend_from_slice(b"\r\n");
        write_mime(out, self.content.headers());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(self.content.body);
        if let Some(signed) = &self.signed {
            out.extend_from_slice(signed.tail);
        }
    }

    /// The message as bytes; see [`Message::write_to`].
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_to(&mut out);
        out
    }
}

/// Room for message headers kept from one parse to the next: a worker or
/// connection that parses many messages makes the vector of headers once
/// rather than once a message (`malloc` and `free` are about a twentieth
/// of a parse), as an HTTP parser is handed its array of headers.
///
/// ```
/// use cpim_formats::message::HeaderStore;
///
/// let mut store = HeaderStore::new();
/// for input in [&b"From: <im:a@example.com>\r\n\r\nContent-Type: text/plain\r\n\r\nhi"[..]] {
///     let message = store.parse(input)?;
///     assert_eq!(message.headers().len(), 1);
///     store.reclaim(message);
/// }
/// # Ok::<(), cpim_formats::message::MessageError>(())
/// ```
#[derive(Debug, Default)]
pub struct HeaderStore {
    /// Always empty: only its allocation is kept.
    spare: Vec<Header<'static>>,
}

impl HeaderStore {
    /// A store with no room yet; the first message parsed makes it.
    pub fn new() -> HeaderStore {
        HeaderStore::default()
    }

    /// [`Message::parse`], its headers kept in this store's room.
    pub fn parse<'a>(&mut self, input: &'a [u8]) -> Result<Message<'a>, MessageError> {
        self.parse_with(input, &Limits::default())
    }

    /// [`Message::parse_with`], its headers kept in this store's room. On
    /// an error the room is given up (the next parse makes it again).
    pub fn parse_with<'a>(
        &mut self,
        input: &'a [u8],
        limits: &Limits,
    ) -> Result<Message<'a>, MessageError> {
        parse::message(input, limits, relabel(std::mem::take(&mut self.spare)))
    }

    /// Takes back the room of a message that is no longer needed.
    pub fn reclaim(&mut self, message: Message<'_>) {
        let mut headers = message.headers;
        headers.clear();
        self.spare = relabel(headers);
    }

    /// How many headers fit in the room kept.
    pub fn capacity(&self) -> usize {
        self.spare.capacity()
    }
}

/// An empty vector of headers of one lifetime as one of another, keeping
/// its allocation: collecting a vector's own iterator into a vector of the
/// same layout is done in place, and the headers' lifetime is not part of
/// their layout. (A test holds that the room is kept.)
// `filter` cannot change the lifetime, which is the point here.
#[allow(clippy::unnecessary_filter_map)]
fn relabel<'b>(headers: Vec<Header<'_>>) -> Vec<Header<'b>> {
    headers.into_iter().filter_map(|_| None).collect()
}

fn write_mime(out: &mut Vec<u8>, headers: &[MimeHeader<'_>]) {
    for header in headers {
        out.extend_from_slice(header.raw);
        out.extend_from_slice(b"\r\n");
    }
}

/// The `multipart/signed` wrapper of a [`Form::Signed`] message (RFC 1847,
/// RFC 3862 section 5.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signed<'a> {
    headers: MimeList<'a>,
    boundary: String,
    /// After the blank line that ends the outer headers, up to the first
    /// part: preamble and first delimiter line.
    head: &'a [u8],
    /// The first part, exactly the bytes the signature covers.
    part: &'a [u8],
    /// The second part (headers and body), as given.
    signature: &'a [u8],
    /// From the CRLF before the second delimiter to the end of the input.
    tail: &'a [u8],
}

impl<'a> Signed<'a> {
    /// The outer MIME headers (`x:` lines).
    pub fn headers(&self) -> &[MimeHeader<'a>] {
        self.headers.as_slice()
    }

    /// The `boundary` parameter.
    pub fn boundary(&self) -> &str {
        &self.boundary
    }

    /// The first body part, the `message/cpim` entity: the bytes over which
    /// the signature is computed (RFC 1847 section 2.1).
    pub fn signed_bytes(&self) -> &'a [u8] {
        self.part
    }

    /// The second body part (its headers and the signature), as given.
    pub fn signature_part(&self) -> &'a [u8] {
        self.signature
    }
}

/// A MIME header field (RFC 2045/2822 syntax; may be folded), as given.
///
/// The field and where its value starts; the name is found again when asked
/// for, so that parsing does not check it as UTF-8 (it is visible ASCII).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct MimeHeader<'a> {
    raw: &'a [u8],
    offset: usize,
    /// Offsets within `raw`, as `u32` so that a field is 32 bytes (a
    /// message keeps its first ones in place, see `MimeList`): both lie
    /// in the first line, which the parser holds to [`MimeHeader::MAX_LINE`].
    name_len: u32,
    value_start: u32,
}

impl std::fmt::Debug for MimeHeader<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MimeHeader")
            .field("raw", &self.raw)
            .field("name", &self.name())
            .field("value", &self.value())
            .field("offset", &self.offset)
            .finish()
    }
}

impl<'a> MimeHeader<'a> {
    /// The longest first line of a field the parser takes whatever the
    /// [`Limits`], so that the offsets kept within it fit their `u32`.
    pub(crate) const MAX_LINE: usize = u32::MAX as usize;

    /// The field name, as written (MIME names are case-insensitive).
    pub fn name(&self) -> &'a str {
        // The parser lets only visible ASCII (33-126) into a name, so this
        // never falls back.
        std::str::from_utf8(&self.raw[..self.name_len as usize]).unwrap_or_default()
    }

    /// Whether the name is `Content-Type`, in any case.
    #[inline]
    pub(crate) fn is_content_type(&self) -> bool {
        text::eq_ignore_case(&self.raw[..self.name_len as usize], b"content-type")
    }

    /// The value after the colon and leading white space, folds included.
    pub fn value(&self) -> &'a [u8] {
        &self.raw[self.value_start as usize..]
    }

    /// The value with folding undone (RFC 2822 section 2.2.3: CRLF removed).
    pub fn unfolded(&self) -> Cow<'a, [u8]> {
        let value = self.value();
        if memchr::memchr(b'\r', value).is_none() {
            return Cow::Borrowed(value);
        }
        let mut out = Vec::with_capacity(value.len());
        let mut rest = value;
        while let Some(i) = memchr::memmem::find(rest, b"\r\n") {
            out.extend_from_slice(&rest[..i]);
            rest = &rest[i + 2..];
        }
        out.extend_from_slice(rest);
        Cow::Owned(out)
    }

    /// The whole field as given, without its final CRLF.
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// Byte offset of the field in the input.
    pub fn offset(&self) -> usize {
        self.offset
    }
}

/// MIME header fields in order, the first [`MimeList::INLINE`] in place:
/// a message's MIME headers are few (the RFC 3862 example has three), and
/// keeping them in a vector cost an allocation and its `free` per message,
/// more than reading them.
#[derive(Clone)]
pub(crate) struct MimeList<'a> {
    /// The first fields while there are no more than fit.
    inline: [MimeHeader<'a>; MimeList::INLINE],
    /// How many of `inline` are used.
    len: usize,
    /// Every field, once there are more than fit in place (never
    /// allocated before).
    spilled: Vec<MimeHeader<'a>>,
}

impl<'a> MimeList<'a> {
    const INLINE: usize = 4;

    /// No fields.
    pub(crate) fn new() -> MimeList<'a> {
        const EMPTY: MimeHeader<'static> = MimeHeader {
            raw: &[],
            offset: 0,
            name_len: 0,
            value_start: 0,
        };
        MimeList {
            inline: [EMPTY; MimeList::INLINE],
            len: 0,
            spilled: Vec::new(),
        }
    }

    /// Adds a field after the others.
    #[inline(always)]
    pub(crate) fn push(&mut self, header: MimeHeader<'a>) {
        if self.spilled.is_empty() {
            if let Some(slot) = self.inline.get_mut(self.len) {
                *slot = header;
                self.len += 1;
                return;
            }
            self.spill();
        }
        self.spilled.push(header);
    }

    /// Moves the fields kept in place into `spilled`.
    #[cold]
    fn spill(&mut self) {
        self.spilled.reserve(2 * MimeList::INLINE);
        self.spilled.extend_from_slice(&self.inline);
    }

    /// How many fields there are.
    #[inline(always)]
    pub(crate) fn len(&self) -> usize {
        if self.spilled.is_empty() {
            self.len
        } else {
            self.spilled.len()
        }
    }

    /// The fields in order.
    #[inline]
    pub(crate) fn as_slice(&self) -> &[MimeHeader<'a>] {
        if self.spilled.is_empty() {
            self.inline.get(..self.len).unwrap_or_default()
        } else {
            &self.spilled
        }
    }
}

impl PartialEq for MimeList<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for MimeList<'_> {}

impl std::fmt::Debug for MimeList<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

/// The encapsulated MIME object (section 2.4).
#[derive(Clone)]
pub struct Content<'a> {
    /// The MIME headers of the message (`m:` lines) and then those of this
    /// object, in one list, kept in place while there are few.
    mime: MimeList<'a>,
    /// Where this object's headers start in `mime`.
    split: usize,
    body: &'a [u8],
    body_offset: usize,
}

impl<'a> Content<'a> {
    /// Its MIME headers, in order.
    pub fn headers(&self) -> &[MimeHeader<'a>] {
        self.mime.as_slice().get(self.split..).unwrap_or_default()
    }

    /// The value of its first `Content-Type` header, as given.
    pub fn content_type(&self) -> Option<&MimeHeader<'a>> {
        self.headers().iter().find(|h| h.is_content_type())
    }

    /// The body, byte for byte.
    pub fn body(&self) -> &'a [u8] {
        self.body
    }

    /// Byte offset of the body in the input.
    pub fn body_offset(&self) -> usize {
        self.body_offset
    }
}

/// By its own headers and body only, as before they shared a vector.
impl PartialEq for Content<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.headers() == other.headers()
            && self.body == other.body
            && self.body_offset == other.body_offset
    }
}

impl Eq for Content<'_> {}

impl std::fmt::Debug for Content<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Content")
            .field("headers", &self.headers())
            .field("body", &self.body)
            .field("body_offset", &self.body_offset)
            .finish()
    }
}

/// One message header (section 3): `Name:` parameters, a space, the value.
///
/// Kept small (56 bytes: the line, the namespace, and positions within the
/// line; the parts and the typed [`HeaderKind`] are found again from them
/// when asked for): a message holds one per header line, and writing them
/// is much of what parsing costs.
#[derive(Clone, PartialEq, Eq)]
pub struct Header<'a> {
    /// The line without its CRLF: name, `:`, parameters, space, value.
    line: &'a str,
    /// The name's namespace; for `Require` naming one header, that
    /// header's namespace instead (the `Require` header itself is core);
    /// for `Require` naming several, the header block from its start
    /// through this line, where their namespaces are found again.
    namespace: &'a str,
    offset: usize,
    /// Where the value starts in `line`; the name ends at the first `:`
    /// (NAMECHAR excludes it). Lines are at most `u32::MAX` bytes
    /// ([`Limits::max_line`]).
    value_start: u32,
    kind: Kind,
}

/// What [`HeaderKind`] is made from: positions in the header's line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Other,
    From(AddrAt),
    To(AddrAt),
    Cc(AddrAt),
    DateTime,
    Subject,
    Ns(NsAt),
    /// One name, the whole value; its namespace is the header's
    /// `namespace` field.
    RequireOne {
        /// Where the name's prefix ends in the value, if it has one.
        dot: Option<u32>,
    },
    /// Several names (rare). Their list is not kept but found again when
    /// asked for: with it, a header had a drop, and the parser then put
    /// each header together on the stack (for the unwinding path of the
    /// push) and copied it into the vector in sixteen-byte chunks, which
    /// stalled on every line (a load takes its bytes from one earlier
    /// store only); dropping a message also walked its headers. About 5 %
    /// of a parse.
    RequireMany,
}

/// `[ Formal-name ] "<" URI ">"` as positions in the line: the
/// Formal-name is `value_start..formal_end` (none when equal), the URI runs
/// from `uri_start` to the `>` that ends the line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct AddrAt {
    pub(crate) formal_end: u32,
    pub(crate) uri_start: u32,
}

/// `[ Name-prefix ] "<" URI ">"` as positions in the line: the prefix is
/// `value_start..prefix_end` (none when equal), the URI runs from
/// `uri_start` to the `>` that ends the line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct NsAt {
    pub(crate) prefix_end: u32,
    pub(crate) uri_start: u32,
}

impl std::fmt::Debug for Header<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Header")
            .field("name", &self.name())
            .field("params", &self.params())
            .field("value", &self.value())
            .field("namespace", &self.namespace())
            .field("offset", &self.offset)
            .field("kind", &self.kind())
            .finish()
    }
}

impl<'a> Header<'a> {
    /// A header from its parts, as the parser pushes it.
    #[inline(always)]
    pub(crate) fn new(
        line: &'a str,
        namespace: &'a str,
        offset: usize,
        value_start: u32,
        kind: Kind,
    ) -> Header<'a> {
        Header {
            line,
            namespace,
            offset,
            value_start,
            kind,
        }
    }

    /// The header name as written, prefix included (`MyFeatures.Wacky`).
    pub fn name(&self) -> &'a str {
        // The first ':' ends the name: the parser checked that it is there.
        self.line
            .split_once(':')
            .map_or(self.line, |(name, _)| name)
    }

    /// The namespace prefix, if the name has one.
    pub fn prefix(&self) -> Option<&'a str> {
        // NAMECHAR excludes `.`, so a name holds at most the one dot that
        // ends its prefix.
        self.name().split_once('.').map(|(prefix, _)| prefix)
    }

    /// The name within its namespace (after the prefix and `.`).
    pub fn local_name(&self) -> &'a str {
        let name = self.name();
        name.split_once('.').map_or(name, |(_, local)| local)
    }

    /// The namespace URI the name belongs to (section 3.4).
    pub fn namespace(&self) -> &'a str {
        match self.kind {
            // Only a core header is read as `Require`.
            Kind::RequireOne { .. } | Kind::RequireMany => CORE_NAMESPACE,
            _ => self.namespace,
        }
    }

    /// The parameters as written, each with its leading `;` (e.g. `;lang=fr`).
    pub fn params(&self) -> &'a str {
        // From after the colon to the space before the value.
        let value_start = self.value_start();
        self.line
            .get(self.name().len() + 1..value_start - 1)
            .unwrap_or_default()
    }

    /// Each parameter as `(name, value)`; string values keep their quotes
    /// and escapes.
    pub fn param_pairs(&self) -> impl Iterator<Item = (&'a str, &'a str)> {
        parse::param_pairs(self.params())
    }

    /// The `lang` parameter (section 3.3), checked as an RFC 3066 tag; the
    /// first one if several are given.
    pub fn lang(&self) -> Option<&'a str> {
        self.param_pairs()
            .find(|&(name, _)| name == "lang")
            .map(|(_, value)| value)
    }

    /// The value as written, escapes included.
    pub fn value(&self) -> &'a str {
        self.line.get(self.value_start()..).unwrap_or_default()
    }

    /// The value with escapes decoded (section 2.3).
    pub fn text(&self) -> Cow<'a, str> {
        unescape(self.value())
    }

    /// What the value means, for core headers.
    pub fn kind(&self) -> HeaderKind<'a> {
        // The positions were checked by the parser to lie on ASCII bytes of
        // the line, so these slices do not fail.
        let part = |from: u32, to: usize| self.line.get(from as usize..to).unwrap_or_default();
        let uri_end = self.line.len().saturating_sub(1);
        let addr = |at: AddrAt| NameAddr {
            formal: (at.formal_end > self.value_start)
                .then(|| part(self.value_start, at.formal_end as usize)),
            uri: part(at.uri_start, uri_end),
        };
        match &self.kind {
            Kind::Other => HeaderKind::Other,
            Kind::From(at) => HeaderKind::From(addr(*at)),
            Kind::To(at) => HeaderKind::To(addr(*at)),
            Kind::Cc(at) => HeaderKind::Cc(addr(*at)),
            Kind::DateTime => HeaderKind::DateTime,
            Kind::Subject => HeaderKind::Subject,
            Kind::Ns(at) => HeaderKind::Ns(Namespace {
                prefix: (at.prefix_end > self.value_start)
                    .then(|| part(self.value_start, at.prefix_end as usize)),
                uri: part(at.uri_start, uri_end),
            }),
            Kind::RequireOne { dot } => {
                let name = self.value();
                let local = match dot {
                    Some(d) => name.get(*d as usize + 1..).unwrap_or_default(),
                    None => name,
                };
                HeaderKind::Require(RequiredList::one(Required {
                    name,
                    namespace: self.namespace,
                    local,
                    offset: self.offset + self.value_start(),
                }))
            }
            Kind::RequireMany => HeaderKind::Require(parse::required_again(self)),
        }
    }

    /// Byte offset of the header line in the input.
    pub fn offset(&self) -> usize {
        self.offset
    }

    fn value_start(&self) -> usize {
        self.value_start as usize
    }

    fn encoded_len(&self) -> usize {
        self.line.len() + 2
    }

    fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.line.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
}

/// What a header is, once its namespace is known. Only headers in
/// [`CORE_NAMESPACE`] are interpreted; the rest are [`HeaderKind::Other`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeaderKind<'a> {
    /// `From` (section 4.1).
    From(NameAddr<'a>),
    /// `To` (section 4.2).
    To(NameAddr<'a>),
    /// `cc` (section 4.3).
    Cc(NameAddr<'a>),
    /// `DateTime` (section 4.4); the value is an RFC 3339 date-time.
    DateTime,
    /// `Subject` (section 4.5); see [`Header::lang`] and [`Header::text`].
    Subject,
    /// `NS` (section 4.6).
    Ns(Namespace<'a>),
    /// `Require` (section 4.7).
    Require(RequiredList<'a>),
    /// Any other header, kept as given.
    Other,
}

/// `[ Formal-name ] "<" URI ">"` (sections 4.1-4.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NameAddr<'a> {
    formal: Option<&'a str>,
    uri: &'a str,
}

impl<'a> NameAddr<'a> {
    /// The Formal-name, decoded: tokens joined by single spaces, or the
    /// quoted string with its escapes decoded.
    pub fn name(&self) -> Option<Cow<'a, str>> {
        let formal = self.formal?;
        Some(match formal.strip_prefix('"') {
            Some(quoted) => unescape(quoted.strip_suffix('"').unwrap_or(quoted)),
            None => Cow::Borrowed(formal),
        })
    }

    /// The Formal-name as written (without the space before `<`).
    pub fn formal_raw(&self) -> Option<&'a str> {
        self.formal
    }

    /// The URI between `<` and `>`.
    pub fn uri(&self) -> &'a str {
        self.uri
    }
}

/// A namespace declaration, `NS: [prefix] <uri>` (sections 3.4, 4.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Namespace<'a> {
    /// The prefix; `None` declares the default namespace.
    pub prefix: Option<&'a str>,
    /// The namespace URI.
    pub uri: &'a str,
}

/// One name listed by `Require` (section 4.7), with its namespace resolved
/// where it was listed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Required<'a> {
    /// The name as written, prefix included.
    pub name: &'a str,
    /// The namespace URI.
    pub namespace: &'a str,
    /// The name within the namespace.
    pub local: &'a str,
    /// Byte offset of the name in the input.
    pub offset: usize,
}

/// The names one `Require` header lists, in order; a slice through
/// `Deref`. One name (the usual case) is kept in place, so that parsing a
/// message with `Require` costs no allocation for it.
#[derive(Clone, PartialEq, Eq)]
pub struct RequiredList<'a>(RequiredRepr<'a>);

#[derive(Clone, PartialEq, Eq)]
enum RequiredRepr<'a> {
    One(Required<'a>),
    Many(Vec<Required<'a>>),
}

impl<'a> RequiredList<'a> {
    pub(crate) fn one(required: Required<'a>) -> RequiredList<'a> {
        RequiredList(RequiredRepr::One(required))
    }

    pub(crate) fn many(list: Vec<Required<'a>>) -> RequiredList<'a> {
        RequiredList(RequiredRepr::Many(list))
    }

    /// The names as a slice.
    pub fn as_slice(&self) -> &[Required<'a>] {
        match &self.0 {
            RequiredRepr::One(required) => std::slice::from_ref(required),
            RequiredRepr::Many(list) => list,
        }
    }
}

/// The names, in order, by value.
impl<'a> IntoIterator for RequiredList<'a> {
    type Item = Required<'a>;
    type IntoIter =
        std::iter::Chain<std::option::IntoIter<Required<'a>>, std::vec::IntoIter<Required<'a>>>;

    fn into_iter(self) -> Self::IntoIter {
        match self.0 {
            RequiredRepr::One(required) => Some(required).into_iter().chain(Vec::new()),
            RequiredRepr::Many(list) => None.into_iter().chain(list),
        }
    }
}

impl<'a> std::ops::Deref for RequiredList<'a> {
    type Target = [Required<'a>];

    fn deref(&self) -> &[Required<'a>] {
        self.as_slice()
    }
}

impl std::fmt::Debug for RequiredList<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

/// The extension headers a receiver implements, as namespace URI and name
/// (e.g. `urn:example` and `Foo`). Core headers need not be listed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Understood {
    names: Vec<(String, String)>,
}

impl Understood {
    /// An empty set: only the core headers are understood.
    pub fn new() -> Understood {
        Understood::default()
    }

    /// Adds one header by namespace URI and name.
    pub fn insert(&mut self, namespace: &str, name: &str) {
        self.names.push((namespace.to_owned(), name.to_owned()));
    }

    /// Adds one header written `NS-URI#NAME`. The split is at the first `#`:
    /// namespace URIs carry no fragment (section 3.4) while names may contain
    /// `#`.
    pub fn insert_qualified(&mut self, qualified: &str) -> Result<(), InvalidQualifiedName> {
        match qualified.split_once('#') {
            Some((ns, name)) if !ns.is_empty() && !name.is_empty() => {
                self.insert(ns, name);
                Ok(())
            }
            _ => Err(InvalidQualifiedName(qualified.to_owned())),
        }
    }

    /// Whether the header `name` in `namespace` is understood.
    pub fn contains(&self, namespace: &str, name: &str) -> bool {
        self.names.iter().any(|(n, l)| n == namespace && l == name)
    }
}

/// An `NS-URI#NAME` string without a `#` or with an empty side.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not NS-URI#NAME")]
pub struct InvalidQualifiedName(pub String);

/// Why a message was refused, and the byte offset where that was found.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{kind} at byte {offset}")]
pub struct MessageError {
    kind: ErrorKind,
    offset: usize,
}

impl MessageError {
    fn new(kind: ErrorKind, offset: usize) -> MessageError {
        MessageError { kind, offset }
    }

    /// What was wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// The byte offset in the input.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// The input ended before the headers did: more bytes may make it
    /// valid (stream framing), unlike every other error.
    pub fn is_incomplete(&self) -> bool {
        matches!(self.kind, ErrorKind::Incomplete(_))
    }
}

/// What was wrong with a message. Every variant but [`ErrorKind::Incomplete`]
/// and [`ErrorKind::NotUnderstood`] means the sender wrote an invalid
/// message; `NotUnderstood` means it is valid but needs more than this
/// receiver implements.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The input ended inside the named part.
    #[error("input ends inside {0}")]
    Incomplete(&'static str),
    /// A `multipart/signed` part ended inside the named part.
    #[error("the first part ends inside {0}")]
    PartEnds(&'static str),
    /// The input is larger than [`Limits::max_size`].
    #[error("message exceeds the size limit of {limit} bytes")]
    TooLarge { limit: usize },
    /// More header fields than [`Limits::max_headers`].
    #[error("more than the limit of {limit} header fields")]
    TooManyHeaders { limit: usize },
    /// A header line longer than [`Limits::max_line`].
    #[error("header line exceeds the limit of {limit} bytes")]
    LineTooLong { limit: usize },
    /// A line ends in LF without CR (section 2.2: CRLF ends each line).
    #[error("line ends in LF without CR")]
    BareLf,
    /// A control character in a header (section 2.2; use escapes).
    #[error("control character 0x{0:02x} in a header")]
    ControlChar(u8),
    /// Bytes that are not UTF-8 (RFC 3629) in a message header.
    #[error("invalid UTF-8 in a message header")]
    InvalidUtf8,
    /// White space at the start of a message header line (section 2.2; no
    /// folding).
    #[error("white space at the start of a message header line")]
    LeadingWhitespace,
    /// White space at the end of a message header line (section 2.2).
    #[error("white space at the end of a message header line")]
    TrailingWhitespace,
    /// A byte that cannot appear in a header name (section 3.1).
    #[error("invalid character 0x{0:02x} in a header name")]
    InvalidNameChar(u8),
    /// A header name, prefix or parameter name with no characters.
    #[error("empty name")]
    EmptyName,
    /// The header line has no `:` after the name.
    #[error("expected ':' after the header name")]
    ExpectedColon,
    /// No space after the colon and parameters (section 3).
    #[error("expected a space after the header name, colon and parameters")]
    ExpectedSpace,
    /// A parameter that is not `name=value` (section 3.6).
    #[error("invalid header parameter: {0}")]
    InvalidParameter(&'static str),
    /// A `lang` parameter that is not an RFC 3066 tag.
    #[error("invalid language tag")]
    InvalidLanguageTag,
    /// A prefix used before any `NS` header declared it (section 3.4).
    #[error("namespace prefix {0:?} is not declared by an earlier NS header")]
    UndeclaredPrefix(String),
    /// A core header value that does not match its syntax (section 4).
    #[error("invalid {header} value: expected {expected}")]
    InvalidValue {
        header: &'static str,
        expected: &'static str,
    },
    /// A MIME header line that is not `name: value`.
    #[error("invalid MIME header line")]
    InvalidMimeHeader,
    /// A MIME header block without `Content-Type`.
    #[error("no Content-Type in {0}")]
    MissingContentType(&'static str),
    /// An outer or first-part media type other than the accepted ones.
    #[error("content type {found:?} where {expected} was expected")]
    UnsupportedContentType {
        found: String,
        expected: &'static str,
    },
    /// `multipart/signed` without a usable `boundary` parameter.
    #[error("multipart/signed without a boundary parameter")]
    MissingBoundary,
    /// A multipart delimiter line with more after the boundary.
    #[error("malformed multipart delimiter line")]
    InvalidDelimiter,
    /// `Require` names a header the receiver does not understand
    /// (section 3.5).
    #[error("required header {name} (namespace {namespace}) is not understood")]
    NotUnderstood { name: String, namespace: String },
}

#[cfg(test)]
mod tests;
