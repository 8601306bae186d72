//! The zero-copy parser. Positions are absolute offsets into the input at
//! every level, so errors inside a `multipart/signed` part still point into
//! the bytes the caller holds.
//!
//! Hand-parsed: RFC 3862's header grammar is its own (exact case, no
//! folding, escapes), and its own section 5.2 example writes a parameter
//! value with an unquoted `/` that strict MIME parsers (the `mime` crate)
//! refuse, so the outer `Content-Type` is read leniently here too.

use memchr::{memchr, memmem};

use crate::simd;

use super::text::{
    eq_ignore_case, is_absolute_uri, is_absolute_uri_without_fragment, is_date_time,
    is_mime_tokenchar, is_tokenchar, language_tag_end, line_name_end, namechar_end, skip_mime_name,
    starts_ignore_case, tokenchar_end,
};
use std::ptr;

use super::{
    AddrAt, Content, ErrorKind, Form, Header, HeaderKind, Kind, Limits, Message, MessageError,
    MimeHeader, MimeList, NsAt, Required, RequiredList, Signed, CORE_NAMESPACE,
};

type Result<T> = std::result::Result<T, MessageError>;

fn fail<T>(kind: ErrorKind, offset: usize) -> Result<T> {
    Err(MessageError::new(kind, offset))
}

/// Parses a message; its headers go into `spare` when it has room (see
/// [`super::HeaderStore`]), else into a vector made for them.
pub(super) fn message<'a>(
    input: &'a [u8],
    limits: &Limits,
    spare: Vec<Header<'a>>,
) -> Result<Message<'a>> {
    message_with(input, limits, true, spare)
}

/// [`message`], with the fast paths (`fast`) or without them, so that
/// tests can hold the two to the same results.
pub(super) fn message_with<'a>(
    input: &'a [u8],
    limits: &Limits,
    fast: bool,
    spare: Vec<Header<'a>>,
) -> Result<Message<'a>> {
    if input.len() > limits.max_size {
        return fail(
            ErrorKind::TooLarge {
                limit: limits.max_size,
            },
            limits.max_size,
        );
    }
    let mut parser = Parser {
        input,
        limits,
        fields: 0,
        fast,
        spare,
    };
    let end = input.len();
    // Built first and filled where it lies: its list of MIME headers keeps
    // its first fields in place, so that each move of the message would be
    // a copy of them.
    let mut message = Message {
        form: Form::Bare,
        signed: None,
        headers: Vec::new(),
        content: Content {
            mime: MimeList::new(),
            split: 0,
            body: &[],
            body_offset: 0,
        },
    };
    // The bare form (the common one: a transport such as SIP labels the
    // content itself) is read as such at once when the fast paths are on,
    // rather than after a first pass over its headers looking for a
    // `Content-Type`: a reading that succeeds with no header line so named
    // is what that pass would have led to. Otherwise the pass decides, as
    // without the fast paths. The MIME form names `Content-Type` first, as
    // a rule, which the one comparison here settles.
    let bare = if !fast {
        !first_block_has_content_type(input)
    } else if starts_ignore_case(input, b"content-type:") {
        // What the first-block pass would find at once.
        false
    } else {
        let read = parser.cpim(&mut message.content.mime, &mut message.headers, 0, end);
        // The colon's place first: it rules out nearly every line at once.
        let names_content_type = |h: &Header<'_>| {
            let line = h.line.as_bytes();
            line.get(12) == Some(&b':') && starts_ignore_case(line, b"content-type:")
        };
        let settled = read.is_ok() && !message.headers.iter().any(names_content_type);
        if settled || !first_block_has_content_type(input) {
            let body_pos = read?;
            message.content.body = &input[body_pos..end];
            message.content.body_offset = body_pos;
            return Ok(message);
        }
        // MIME headers after all: read again from the start.
        parser.fields = 0;
        message.content.mime = MimeList::new();
        message.headers.clear();
        parser.spare = std::mem::take(&mut message.headers);
        false
    };
    let mime = &mut message.content.mime;
    let (pos, end) = if bare {
        (0, end)
    } else {
        let block = parser.mime_block(mime, 0, end, "the MIME headers")?;
        let pos = block.next;
        let media = media_type(block.content_type.and_then(|i| mime.as_slice().get(i)), 0)?;
        let ct_offset = media.at;
        match media.essence {
            Media::Cpim => {
                message.form = Form::Mime;
                (pos, end)
            }
            Media::Signed => {
                let Some(boundary) = media.boundary else {
                    return fail(ErrorKind::MissingBoundary, ct_offset);
                };
                let parts = parser.multipart(pos, boundary.as_bytes())?;
                // Those were the outer headers; the message's own are the
                // first part's.
                let outer = std::mem::replace(mime, MimeList::new());
                let first_part = "the MIME headers of the first part";
                let block = parser.mime_block(mime, parts.first.0, parts.first.1, first_part)?;
                let body_pos = block.next;
                let inner_media = media_type(
                    block.content_type.and_then(|i| mime.as_slice().get(i)),
                    parts.first.0,
                )?;
                if !matches!(inner_media.essence, Media::Cpim) {
                    return fail(
                        ErrorKind::UnsupportedContentType {
                            found: inner_media.essence.into_name(),
                            expected: "message/cpim as the first part",
                        },
                        inner_media.at,
                    );
                }
                message.form = Form::Signed;
                message.signed = Some(Box::new(Signed {
                    headers: outer,
                    boundary,
                    head: &input[pos..parts.first.0],
                    part: &input[parts.first.0..parts.first.1],
                    signature: &input[parts.second.0..parts.second.1],
                    tail: &input[parts.first.1..],
                }));
                (body_pos, parts.first.1)
            }
            other => {
                return fail(
                    ErrorKind::UnsupportedContentType {
                        found: other.into_name(),
                        expected: "message/cpim or multipart/signed",
                    },
                    ct_offset,
                )
            }
        }
    };
    let mime = &mut message.content.mime;
    message.content.split = mime.len();
    let body_pos = parser.cpim(mime, &mut message.headers, pos, end)?;
    message.content.body = &input[body_pos..end];
    message.content.body_offset = body_pos;
    Ok(message)
}

/// Puts message headers in `out`. An empty vector there that holds
/// nothing to free (as the message is built) is forgotten rather than
/// dropped: the drop was a call, about 19 instructions. (Pushing into
/// `out` directly cost more: its `reserve` took the growing path, +50.)
#[inline(always)]
fn set_headers<'a>(out: &mut Vec<Header<'a>>, headers: Vec<Header<'a>>) {
    if out.capacity() == 0 {
        std::mem::forget(std::mem::replace(out, headers));
    } else {
        *out = headers;
    }
}

pub(super) fn header_block<'a>(input: &'a [u8], limits: &Limits) -> Result<Vec<Header<'a>>> {
    if input.len() > limits.max_size {
        return fail(
            ErrorKind::TooLarge {
                limit: limits.max_size,
            },
            limits.max_size,
        );
    }
    let mut parser = Parser {
        input,
        limits,
        fields: 0,
        fast: true,
        spare: Vec::new(),
    };
    let mut scope = Scope::at(0);
    let mut headers = Vec::new();
    let mut pos = 0;
    while pos < input.len() {
        let (line_end, next, clean) = parser.line(pos, input.len(), "the message headers")?;
        if line_end == pos {
            return fail(ErrorKind::EmptyName, pos);
        }
        parser.count(pos)?;
        parser.message_header(pos, line_end, clean, &mut scope, &mut headers)?;
        pos = next;
    }
    Ok(headers)
}

/// Whether the first header block names a `Content-Type` (any case): then it
/// is a MIME header block, otherwise the message headers of a bare message,
/// where no core header has that name (section 4).
pub(super) fn first_block_has_content_type(input: &[u8]) -> bool {
    let mut pos = 0;
    while pos < input.len() {
        // Before looking for the line's end: no byte of `content-type:` is
        // LF, so a match is within the line, and the MIME form's first
        // line needs no search.
        if starts_ignore_case(&input[pos..], b"content-type:") {
            return true;
        }
        let line_end = memchr(b'\n', &input[pos..]).map_or(input.len(), |i| pos + i);
        let line = &input[pos..line_end];
        if line.is_empty() || line == b"\r" {
            return false;
        }
        pos = line_end + 1;
    }
    false
}

/// The media type of a MIME header block given its first `Content-Type`
/// field (`None`: it has none, and `block` is where it starts): lowercase
/// `type/subtype`, the `boundary` parameter, and the offset of the value.
// Inlined: the common case is a few instructions, less than the call.
#[inline(always)]
fn media_type(ct: Option<&MimeHeader<'_>>, block: usize) -> Result<MediaType> {
    let Some(ct) = ct else {
        return fail(ErrorKind::MissingContentType("the MIME headers"), block);
    };
    let at = ct.offset + ct.value_start as usize;
    // The common case, which the general reading below also gives.
    if eq_ignore_case(ct.value(), b"message/cpim") {
        return Ok(MediaType {
            essence: Media::Cpim,
            boundary: None,
            at,
        });
    }
    read_content_type(ct, at)
}

/// [`media_type`] of any `Content-Type` value.
fn read_content_type(ct: &MimeHeader<'_>, at: usize) -> Result<MediaType> {
    let unfolded = ct.unfolded();
    match std::str::from_utf8(&unfolded)
        .ok()
        .and_then(read_media_type)
    {
        Some((essence, boundary)) => Ok(MediaType {
            essence,
            boundary,
            at,
        }),
        None => fail(
            ErrorKind::InvalidValue {
                header: "Content-Type",
                expected: "a MIME media type",
            },
            at,
        ),
    }
}

struct MediaType {
    essence: Media,
    boundary: Option<String>,
    at: usize,
}

/// `type "/" subtype *(";" name "=" value)` (RFC 2045 section 5.1), values
/// as tokens, quoted strings, or (leniently) anything up to the next `;`.
fn read_media_type(value: &str) -> Option<(Media, Option<String>)> {
    let is_token = |s: &str| !s.is_empty() && s.bytes().all(is_mime_tokenchar);
    let (essence, mut rest) = value.split_once(';').unwrap_or((value, ""));
    let (kind, subtype) = essence.trim().split_once('/')?;
    if !is_token(kind) || !is_token(subtype) {
        return None;
    }
    let mut boundary = None;
    loop {
        rest = rest.trim_start_matches([' ', '\t', ';']);
        if rest.is_empty() {
            break;
        }
        let (name, after) = rest.split_once('=')?;
        let name = name.trim();
        if !is_token(name) {
            return None;
        }
        let after = after.trim_start_matches([' ', '\t']);
        let (param, more) = match after.strip_prefix('"') {
            Some(quoted) => {
                let end = string_end(after.as_bytes(), 0)?;
                let inner = &quoted[..end - 2];
                (unquote(inner), &after[end..])
            }
            None => {
                let end = after.find(';').unwrap_or(after.len());
                (after[..end].trim_end().to_owned(), &after[end..])
            }
        };
        if name.eq_ignore_ascii_case("boundary") && boundary.is_none() && !param.is_empty() {
            boundary = Some(param);
        }
        rest = more;
    }
    let essence = essence.trim();
    let media = if essence.eq_ignore_ascii_case("message/cpim") {
        Media::Cpim
    } else if essence.eq_ignore_ascii_case("multipart/signed") {
        Media::Signed
    } else {
        Media::Other(essence.to_ascii_lowercase())
    };
    Some((media, boundary))
}

/// The media types that matter here; others are named in errors.
enum Media {
    Cpim,
    Signed,
    Other(String),
}

impl Media {
    fn into_name(self) -> String {
        match self {
            Media::Cpim => "message/cpim".to_owned(),
            Media::Signed => "multipart/signed".to_owned(),
            Media::Other(name) => name,
        }
    }
}

/// The content of an RFC 2822 quoted-string: `\x` stands for `x`.
fn unquote(inner: &str) -> String {
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            c => out.push(c),
        }
    }
    out
}

/// The spans of the two parts of a `multipart/signed` body.
struct Parts {
    first: (usize, usize),
    second: (usize, usize),
}

/// What [`Parser::mime_block`] read besides the fields themselves.
struct MimeBlock {
    /// The offset after the blank line that ends the block.
    next: usize,
    /// Where the block's first `Content-Type` field is in the list the
    /// block was added to.
    content_type: Option<usize>,
}

/// Namespace declarations in force at a point of the message (section 3.4).
/// The first few prefixes are kept in place, so that a message declaring
/// one or two costs no allocation.
struct Scope<'a> {
    /// Where the header block starts in the input.
    start: usize,
    default: &'a str,
    first: [(&'a str, &'a str); 4],
    first_len: usize,
    more: Vec<(&'a str, &'a str)>,
}

impl Default for Scope<'_> {
    fn default() -> Self {
        Scope {
            start: 0,
            default: CORE_NAMESPACE,
            first: [("", ""); 4],
            first_len: 0,
            more: Vec::new(),
        }
    }
}

impl<'a> Scope<'a> {
    /// The scope at the start of a header block at `start` in the input.
    fn at(start: usize) -> Scope<'a> {
        Scope {
            start,
            ..Scope::default()
        }
    }

    /// Takes an `NS` header's declaration: of the default namespace when
    /// it has no prefix.
    fn enter(&mut self, prefix: Option<&'a str>, uri: &'a str) {
        match prefix {
            None => self.default = uri,
            Some(prefix) => self.declare(prefix, uri),
        }
    }

    /// Declares `prefix` from here on.
    fn declare(&mut self, prefix: &'a str, uri: &'a str) {
        match self.first.get_mut(self.first_len) {
            Some(slot) => {
                *slot = (prefix, uri);
                self.first_len += 1;
            }
            None => self.more.push((prefix, uri)),
        }
    }

    /// The namespace of a name with or without prefix; the latest
    /// declaration of a prefix wins.
    #[inline(always)]
    fn resolve(&self, prefix: Option<&str>, offset: usize) -> Result<&'a str> {
        match prefix {
            None => Ok(self.default),
            Some(prefix) => self.resolve_prefix(prefix.as_bytes(), offset),
        }
    }

    // Inlined, its error made apart (`undeclared_prefix`): the call saved
    // registers for the error's `String` at every lookup.
    #[inline(always)]
    fn resolve_prefix(&self, prefix: &[u8], offset: usize) -> Result<&'a str> {
        match self.lookup(prefix) {
            Some(uri) => Ok(uri),
            None => undeclared_prefix(prefix, offset),
        }
    }

    /// The namespace `prefix` is declared for. Returned in registers (a
    /// `Result` is returned through memory): the URI was stored a word at a
    /// time when declared, often just before, and copying it out in one
    /// sixteen-byte load stalled until those stores were done.
    fn lookup(&self, prefix: &[u8]) -> Option<&'a str> {
        self.more
            .iter()
            .rev()
            .chain(self.first[..self.first_len].iter().rev())
            .find(|(p, _)| eq_short(p.as_bytes(), prefix))
            .map(|&(_, uri)| uri)
    }
}

/// [`ErrorKind::UndeclaredPrefix`] for `prefix`, made apart from the
/// lookups that find it missing.
#[cold]
#[inline(never)]
fn undeclared_prefix<T>(prefix: &[u8], offset: usize) -> Result<T> {
    fail(
        ErrorKind::UndeclaredPrefix(String::from_utf8_lossy(prefix).into_owned()),
        offset,
    )
}

/// `a == b`, without a call to `memcmp` for the short strings compared
/// here (namespace prefixes): lengths 4 to 16 as two overlapping words
/// from each end.
#[inline]
pub(super) fn eq_short(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let n = a.len();
    match (a.first_chunk::<8>(), b.first_chunk::<8>()) {
        (Some(a8), Some(b8)) if n <= 16 => a8 == b8 && a.last_chunk::<8>() == b.last_chunk::<8>(),
        _ => match (a.first_chunk::<4>(), b.first_chunk::<4>()) {
            (Some(a4), Some(b4)) if n <= 8 => {
                a4 == b4 && a.last_chunk::<4>() == b.last_chunk::<4>()
            }
            _ => a == b,
        },
    }
}

struct Parser<'a, 'l> {
    input: &'a [u8],
    limits: &'l Limits,
    fields: usize,
    /// Whether to take the fast paths for clean lines (always, but in the
    /// tests that compare them with the byte-by-byte checks).
    fast: bool,
    /// An empty vector whose room the message headers take first.
    spare: Vec<Header<'a>>,
}

impl<'a> Parser<'a, '_> {
    /// The line at `pos`: the offset of its CR, of the byte after its LF,
    /// and whether it is clean (see [`clean_line`]: no control character,
    /// so no stray CR either).
    // Inlined: called for every MIME header line and blank line, where
    // the call cost a tenth of the line's scan.
    #[inline(always)]
    fn line(&self, pos: usize, end: usize, part: &'static str) -> Result<(usize, usize, bool)> {
        let max = self.max_line();
        if let Some(cr) = clean_line(self.input, pos, end).filter(|_| self.fast) {
            // The first LF is the one after `cr`: the same checks as below.
            if cr - pos > max {
                return fail(ErrorKind::LineTooLong { limit: max }, pos + max);
            }
            return Ok((cr, cr + 2, true));
        }
        let hay = &self.input[pos..end];
        let Some(lf) = memchr(b'\n', hay) else {
            if hay.len() > max {
                return fail(ErrorKind::LineTooLong { limit: max }, pos + max);
            }
            if end == self.input.len() {
                return fail(ErrorKind::Incomplete(part), end);
            }
            return fail(ErrorKind::PartEnds(part), end);
        };
        if lf == 0 || hay[lf - 1] != b'\r' {
            return fail(ErrorKind::BareLf, pos + lf);
        }
        if lf - 1 > max {
            return fail(ErrorKind::LineTooLong { limit: max }, pos + max);
        }
        Ok((pos + lf - 1, pos + lf + 1, false))
    }

    /// A vector for `lines` message headers: the spare one when it has
    /// room, made to size otherwise (`reserve` on an empty vector takes
    /// its growing path, dearer than making it).
    #[inline(always)]
    fn header_vec(&mut self, lines: usize) -> Vec<Header<'a>> {
        let mut headers = std::mem::take(&mut self.spare);
        if headers.capacity() == 0 {
            return Vec::with_capacity(lines);
        }
        headers.reserve(lines);
        headers
    }

    /// [`Limits::max_line`], at most `u32::MAX`: a header keeps positions
    /// within its line as `u32`.
    fn max_line(&self) -> usize {
        self.limits.max_line.min(u32::MAX as usize)
    }

    fn count(&mut self, pos: usize) -> Result<()> {
        self.fields += 1;
        if self.fields > self.limits.max_headers {
            return fail(
                ErrorKind::TooManyHeaders {
                    limit: self.limits.max_headers,
                },
                pos,
            );
        }
        Ok(())
    }

    /// The message header block at `pos` when every line of it is clean
    /// (see [`clean_line`]) and it is UTF-8: its lines are found in one
    /// pass, the block is checked as UTF-8 at once, then each line is
    /// parsed. `None` sends it to [`Parser::slow_headers`], which finds the
    /// exact error (so does a block over the line or header limit); any
    /// error returned here is the one the slow path would return, as both
    /// take the lines in the same order with the same checks.
    #[allow(clippy::type_complexity)]
    fn fast_headers(&mut self, pos: usize, end: usize) -> Option<Result<(Vec<Header<'a>>, usize)>> {
        let input = self.input;
        // Line ends (offsets of the CRs from `pos`) of the first lines, so
        // the second pass need not search again; later lines are found
        // again.
        let mut ends = [0u32; 32];
        let block = block_lines(input.get(pos..end)?, &mut ends)?;
        let (lines, longest, block_end) = (block.lines, block.longest, pos + block.end);
        // A line over the length limit, or more headers than the limit
        // lets through: the slow path finds which error comes first, so
        // that the loop below checks neither line by line.
        let room = self.limits.max_headers.saturating_sub(self.fields);
        if longest > self.max_line() || lines > room {
            return None;
        }
        // Any error is found again, with its offset, by the slow path.
        let text = simdutf8::basic::from_utf8(&input[pos..block_end]).ok()?;
        self.fields += lines;
        let mut scope = Scope::at(pos);
        // At most 64 at first, so that a block of many short lines under
        // lifted limits cannot make a large allocation at once.
        let mut headers = self.header_vec(lines.min(64));
        let mut rest = text;
        let mut at = pos;
        for n in 0..lines {
            let cr = match ends.get(n) {
                Some(&cr) => pos + cr as usize,
                None => clean_line(input, at, end)?,
            };
            // Each line ends at an ASCII CR, so these splits fall on
            // character boundaries; one check each instead of two.
            let (line, after) = rest.split_at_checked(cr - at)?;
            if let Err(e) = self.parse_line(line, at, &mut scope, &mut headers) {
                return Some(Err(e));
            }
            rest = after.get(2..)?;
            at = cr + 2;
        }
        Some(Ok((headers, block_end + 2)))
    }

    /// The message header block at `pos`, line by line.
    fn slow_headers(&mut self, mut pos: usize, end: usize) -> Result<(Vec<Header<'a>>, usize)> {
        let mut scope = Scope::at(pos);
        let mut headers = self.header_vec(0);
        loop {
            let (line_end, next, clean) = self.line(pos, end, "the message headers")?;
            if line_end == pos {
                return Ok((headers, next));
            }
            self.count(pos)?;
            self.message_header(pos, line_end, clean, &mut scope, &mut headers)?;
            pos = next;
        }
    }

    /// Message headers, blank line, encapsulated object up to `end`: the
    /// message headers go to `out`, the object's MIME headers are added to
    /// `mime`, and where the body starts is returned. (A returned pair of
    /// headers and position was read back in sixteen-byte chunks from the
    /// word stores that wrote it: a stall at every message.)
    fn cpim(
        &mut self,
        mime: &mut MimeList<'a>,
        out: &mut Vec<Header<'a>>,
        mut pos: usize,
        end: usize,
    ) -> Result<usize> {
        let fields = self.fields;
        let fast = if self.fast {
            self.fast_headers(pos, end)
        } else {
            None
        };
        let (headers, next) = match fast {
            Some(done) => done?,
            None => {
                self.fields = fields;
                self.slow_headers(pos, end)?
            }
        };
        set_headers(out, headers);
        pos = next;
        let part = "the headers of the encapsulated MIME object";
        let block = self.mime_block(mime, pos, end, part)?;
        if block.content_type.is_none() {
            return fail(
                ErrorKind::MissingContentType("the encapsulated MIME object"),
                pos,
            );
        }
        Ok(block.next)
    }

    /// One message header line, `start..end` without its CRLF (section 3);
    /// `clean` when [`clean_line`] found no control character in it.
    fn message_header(
        &self,
        start: usize,
        end: usize,
        clean: bool,
        scope: &mut Scope<'a>,
        headers: &mut Vec<Header<'a>>,
    ) -> Result<()> {
        let raw = &self.input[start..end];
        if matches!(raw[0], b' ' | b'\t') {
            return fail(ErrorKind::LeadingWhitespace, start);
        }
        let control = if clean {
            None
        } else {
            raw.iter().position(|&b| b < 0x20 || b == 0x7f)
        };
        if let Some(i) = control {
            return fail(ErrorKind::ControlChar(raw[i]), start + i);
        }
        let line = match std::str::from_utf8(raw) {
            Ok(line) => line,
            Err(e) => return fail(ErrorKind::InvalidUtf8, start + e.valid_up_to()),
        };
        self.parse_line(line, start, scope, headers)
    }

    /// The syntax of one message header line whose bytes are already known
    /// to be UTF-8 without control characters, at most `u32::MAX` bytes
    /// long (see [`Parser::max_line`]). Works on bytes and positions: the
    /// line is the only `str` kept, and the parts are found again from
    /// their positions when asked for.
    // Inlined (in the slow path's caller too): as a call it cost about 13
    // instructions a line in moving arguments and the result.
    #[inline(always)]
    fn parse_line(
        &self,
        line: &'a str,
        start: usize,
        scope: &mut Scope<'a>,
        headers: &mut Vec<Header<'a>>,
    ) -> Result<()> {
        let b = line.as_bytes();
        let end = start + b.len();
        if b.first() == Some(&b' ') {
            return fail(ErrorKind::LeadingWhitespace, start);
        }
        // The usual core lines (`To: `, no prefix or parameters) are known
        // by their first bytes while the default namespace is the core one;
        // others take the general reading, which gives the same for them.
        let plain =
            plain_core_name(b).filter(|_| self.fast && ptr::eq(scope.default, CORE_NAMESPACE));
        let (namespace, value_start, core) = match plain {
            Some((value_start, name)) => {
                if b.len() > value_start && b.last() == Some(&b' ') {
                    return fail(ErrorKind::TrailingWhitespace, end - 1);
                }
                (scope.default, value_start, Some(name))
            }
            None => {
                let (namespace, value_start, local) = general_name(b, start, scope)?;
                let core = if is_core(namespace) {
                    CoreName::of(local)
                } else {
                    None
                };
                (namespace, value_start, core)
            }
        };
        // Positions fit: the line is at most `u32::MAX` bytes.
        let at = |i: usize| i as u32;
        let value = b.get(value_start..).unwrap_or_default();
        let value_at = start + value_start;
        let mut namespace = namespace;
        let kind = match core {
            None => Kind::Other,
            Some(CoreName::From) => Kind::From(name_addr(value, value_at, "From")?.at(value_start)),
            Some(CoreName::To) => Kind::To(name_addr(value, value_at, "To")?.at(value_start)),
            Some(CoreName::Cc) => Kind::Cc(name_addr(value, value_at, "cc")?.at(value_start)),
            Some(CoreName::DateTime) if is_date_time(value) => Kind::DateTime,
            Some(CoreName::DateTime) => {
                return fail(
                    ErrorKind::InvalidValue {
                        header: "DateTime",
                        expected: "an RFC 3339 date-time",
                    },
                    value_at,
                )
            }
            Some(CoreName::Subject) => Kind::Subject,
            Some(CoreName::Ns) => {
                let ns = ns_value(value, value_at)?;
                let uri = line.get(value_start + ns.uri_start..end - start - 1);
                let prefix = line.get(value_start..value_start + ns.prefix_len);
                if let Some(uri) = uri {
                    scope.enter(prefix.filter(|_| ns.prefix_len > 0), uri);
                }
                Kind::Ns(NsAt {
                    prefix_end: at(value_start + ns.prefix_len),
                    uri_start: at(value_start + ns.uri_start),
                })
            }
            Some(CoreName::Require) => {
                let value = line.get(value_start..).unwrap_or_default();
                match require_list(value, value_at, scope)? {
                    Requires::One(required) => {
                        namespace = required.namespace;
                        let dot = required.name.len() - required.local.len();
                        Kind::RequireOne {
                            dot: dot.checked_sub(1).map(at),
                        }
                    }
                    Requires::Many(_) => {
                        // Not kept (see [`Kind::RequireMany`]): the block
                        // through this line is, to resolve them again. Its
                        // lines were each found to be UTF-8.
                        namespace = self
                            .input
                            .get(scope.start..end)
                            .and_then(|block| std::str::from_utf8(block).ok())
                            .unwrap_or(line);
                        Kind::RequireMany
                    }
                }
            }
        };
        // Pushed whole: a `Header` has no drop, so it is written straight
        // into the vector (see [`Kind::RequireMany`]).
        headers.push(Header::new(line, namespace, start, at(value_start), kind));
        Ok(())
    }

    /// A block of MIME header fields (RFC 2822 section 2.2, folding allowed)
    /// ending in a blank line; adds the fields to `headers` and returns the
    /// offset after the blank line and where the block's first
    /// `Content-Type` is in `headers`, noted here so that no caller searches
    /// for it again.
    ///
    /// Plain lines (see [`plain_mime_line`]) are taken here; any other
    /// line goes to [`Parser::mime_field`], the byte-by-byte reading, which
    /// finds the exact error. The tests hold the two to the same results.
    // Inlined: the call, its saved registers and its returned block cost
    // about 40 instructions a block, more than a plain line.
    #[inline(always)]
    fn mime_block(
        &mut self,
        headers: &mut MimeList<'a>,
        mut pos: usize,
        end: usize,
        part: &'static str,
    ) -> Result<MimeBlock> {
        let mut content_type = None;
        // Read once: `self.limits` is behind a reference.
        let Limits {
            max_line,
            max_headers,
            ..
        } = *self.limits;
        // A longer line goes to `mime_field`, which refuses it.
        let max_line = max_line.min(MimeHeader::MAX_LINE);
        loop {
            if self.fast {
                let mut rest = self.input.get(pos..end).unwrap_or_default();
                // Counted here, and written back before anything else reads it.
                let mut fields = self.fields;
                loop {
                    // The blank line as `line` takes it, without a scan.
                    if rest.first_chunk::<2>() == Some(b"\r\n") {
                        self.fields = fields;
                        return Ok(MimeBlock {
                            next: pos + 2,
                            content_type,
                        });
                    }
                    let Some(line) = plain_mime_line(rest).filter(|l| l.raw.len() <= max_line)
                    else {
                        self.fields = fields;
                        break;
                    };
                    fields += 1;
                    if fields > max_headers {
                        return fail(ErrorKind::TooManyHeaders { limit: max_headers }, pos);
                    }
                    if content_type.is_none() && line.is_content_type() {
                        content_type = Some(headers.len());
                    }
                    // Both within the line, held to `MAX_LINE` above.
                    headers.push(MimeHeader {
                        raw: line.raw,
                        offset: pos,
                        name_len: line.colon as u32,
                        value_start: line.value_start as u32,
                    });
                    pos += line.raw.len() + 2;
                    rest = line.rest;
                }
            }
            match self.mime_field(pos, end, part)? {
                Some((header, next)) => {
                    if content_type.is_none() && header.is_content_type() {
                        content_type = Some(headers.len());
                    }
                    headers.push(header);
                    pos = next;
                }
                None => {
                    return Ok(MimeBlock {
                        next: pos + 2,
                        content_type,
                    })
                }
            }
        }
    }

    /// The MIME header field at `pos`, folds included, and the offset after
    /// it; `None` for the blank line that ends the block (two bytes).
    // Not inlined: the plain lines of `mime_block` need none of it.
    #[inline(never)]
    fn mime_field(
        &mut self,
        pos: usize,
        end: usize,
        part: &'static str,
    ) -> Result<Option<(MimeHeader<'a>, usize)>> {
        let input = self.input;
        let (line_end, mut next, clean) = self.line(pos, end, part)?;
        if line_end == pos {
            return Ok(None);
        }
        long_mime_line(pos, line_end - pos)?;
        self.count(pos)?;
        let line = &input[pos..line_end];
        let mut colon = skip_mime_name(line, 0);
        while colon < line.len() && line[colon] != b':' {
            let c = line[colon];
            if !(33..=126).contains(&c) {
                let kind = if colon == 0 && matches!(c, b' ' | b'\t') {
                    ErrorKind::InvalidMimeHeader
                } else {
                    ErrorKind::InvalidNameChar(c)
                };
                return fail(kind, pos + colon);
            }
            colon += 1;
        }
        if colon == line.len() {
            return fail(ErrorKind::ExpectedColon, pos + colon);
        }
        if colon == 0 {
            return fail(ErrorKind::EmptyName, pos);
        }
        if !clean {
            no_bare_cr(line, pos)?;
        }
        let mut field_end = line_end;
        while next < end && matches!(input[next], b' ' | b'\t') {
            let (cont_end, cont_next, clean) = self.line(next, end, part)?;
            if !clean {
                no_bare_cr(&input[next..cont_end], next)?;
            }
            field_end = cont_end;
            next = cont_next;
        }
        let mut value_start = pos + colon + 1;
        while value_start < field_end && matches!(input[value_start], b' ' | b'\t') {
            value_start += 1;
        }
        // The name is visible ASCII (checked above), so UTF-8. Both
        // offsets are within the first line, checked by `long_mime_line`.
        let header = MimeHeader {
            raw: &input[pos..field_end],
            offset: pos,
            name_len: colon as u32,
            value_start: (value_start - pos) as u32,
        };
        Ok(Some((header, next)))
    }

    /// Finds the two body parts of a `multipart/signed` body starting at
    /// `pos` (RFC 2046 section 5.1.1, RFC 1847 section 2.1).
    fn multipart(&self, pos: usize, boundary: &[u8]) -> Result<Parts> {
        let input = self.input;
        let mut delimiter = Vec::with_capacity(boundary.len() + 4);
        delimiter.extend_from_slice(b"\r\n--");
        delimiter.extend_from_slice(boundary);
        let finder = memmem::Finder::new(&delimiter);
        let body = "the multipart/signed body";
        let first = if input[pos..].starts_with(&delimiter[2..]) {
            pos + delimiter.len() - 2
        } else {
            match finder.find(&input[pos..]) {
                Some(i) => pos + i + delimiter.len(),
                None => return fail(ErrorKind::Incomplete(body), input.len()),
            }
        };
        let first_start = self.delimiter_end(first)?;
        let Some(i) = finder.find(&input[first_start..]) else {
            return fail(ErrorKind::Incomplete(body), input.len());
        };
        let first_end = first_start + i;
        let second_start = self.delimiter_end(first_end + delimiter.len())?;
        let Some(i) = finder.find(&input[second_start..]) else {
            return fail(ErrorKind::Incomplete(body), input.len());
        };
        let second_end = second_start + i;
        let close = second_end + delimiter.len();
        if !input[close..].starts_with(b"--") {
            if input.len() < close + 2 {
                return fail(ErrorKind::Incomplete(body), input.len());
            }
            return fail(ErrorKind::InvalidDelimiter, close);
        }
        Ok(Parts {
            first: (first_start, first_end),
            second: (second_start, second_end),
        })
    }

    /// After a boundary: transport padding, then CRLF; the offset after it.
    fn delimiter_end(&self, mut at: usize) -> Result<usize> {
        let input = self.input;
        while at < input.len() && matches!(input[at], b' ' | b'\t') {
            at += 1;
        }
        if input[at..].starts_with(b"\r\n") {
            return Ok(at + 2);
        }
        if input.len() < at + 2 {
            return fail(
                ErrorKind::Incomplete("the multipart/signed body"),
                input.len(),
            );
        }
        fail(ErrorKind::InvalidDelimiter, at)
    }
}

/// The core headers (section 4), as the parser tells them apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CoreName {
    From,
    To,
    Cc,
    DateTime,
    Subject,
    Ns,
    Require,
}

impl CoreName {
    /// The core header a local name in the core namespace names.
    #[inline(always)]
    fn of(local: &[u8]) -> Option<CoreName> {
        Some(match local {
            b"From" => CoreName::From,
            b"To" => CoreName::To,
            b"cc" => CoreName::Cc,
            b"DateTime" => CoreName::DateTime,
            b"Subject" => CoreName::Subject,
            b"NS" => CoreName::Ns,
            b"Require" => CoreName::Require,
            _ => return None,
        })
    }
}

/// Up to eight bytes as a little-endian word, zeros after them.
const fn word(bytes: &[u8]) -> u64 {
    let mut w = 0;
    let mut i = 0;
    while i < bytes.len() && i < 8 {
        w |= (bytes[i] as u64) << (8 * i);
        i += 1;
    }
    w
}

/// The core header a line starts with when it is written `Name: ` with
/// no prefix and no parameters, and where its value starts: the first
/// eight bytes as one word (two more for `DateTime`), in place of the name
/// scan and its checks. `None` leaves the line to [`general_name`].
#[inline(always)]
fn plain_core_name(b: &[u8]) -> Option<(usize, CoreName)> {
    const LOW4: u64 = 0xffff_ffff;
    const LOW6: u64 = 0xffff_ffff_ffff;
    let w = u64::from_le_bytes(*b.first_chunk::<8>()?);
    let found = match w & LOW4 {
        x if x == word(b"To: ") => (4, CoreName::To),
        x if x == word(b"cc: ") => (4, CoreName::Cc),
        x if x == word(b"NS: ") => (4, CoreName::Ns),
        _ if w & LOW6 == word(b"From: ") => (6, CoreName::From),
        _ if w == word(b"Subject:") && b.get(8) == Some(&b' ') => (9, CoreName::Subject),
        _ if w == word(b"Require:") && b.get(8) == Some(&b' ') => (9, CoreName::Require),
        _ if w == word(b"DateTime") && b.get(8..10) == Some(b": ") => (10, CoreName::DateTime),
        _ => return None,
    };
    Some(found)
}

/// `[ Name-prefix "." ] Name ":" *( ";" Parameter ) SP` at the start of a
/// line (section 3.1): the name's namespace, where the value starts, and
/// the local name.
#[inline(always)]
fn general_name<'a, 'b>(
    b: &'b [u8],
    start: usize,
    scope: &Scope<'a>,
) -> Result<(&'a str, usize, &'b [u8])> {
    let end = start + b.len();
    let (mut i, dot) = scan_name(b, 0);
    if i == 0 {
        return match b.first() {
            Some(b':' | b'.') => fail(ErrorKind::EmptyName, start),
            Some(&c) => fail(ErrorKind::InvalidNameChar(c), start),
            None => fail(ErrorKind::EmptyName, start),
        };
    }
    if dot == Some(i - 1) {
        return fail(ErrorKind::EmptyName, start + i);
    }
    match b.get(i) {
        Some(b':') => {}
        Some(&c) => return fail(ErrorKind::InvalidNameChar(c), start + i),
        None => return fail(ErrorKind::ExpectedColon, start + i),
    }
    let name_end = i;
    i += 1;
    while b.get(i) == Some(&b';') {
        i = param(b, start, i + 1)?;
    }
    if b.get(i) != Some(&b' ') {
        return fail(ErrorKind::ExpectedSpace, start + i);
    }
    let value_start = i + 1;
    if b.len() > value_start && b.last() == Some(&b' ') {
        return fail(ErrorKind::TrailingWhitespace, end - 1);
    }
    let (namespace, local) = match dot {
        None => (scope.default, b.get(..name_end)),
        Some(d) => (
            scope.resolve_prefix(b.get(..d).unwrap_or_default(), start)?,
            b.get(d + 1..name_end),
        ),
    };
    Ok((namespace, value_start, local.unwrap_or_default()))
}

/// Refuses the first line of a MIME field at `pos` if it is longer than
/// [`MimeHeader::MAX_LINE`] (only possible under lifted [`Limits`]), as a
/// line over that limit: the offsets a field keeps within it are `u32`.
fn long_mime_line(pos: usize, len: usize) -> Result<()> {
    let max = MimeHeader::MAX_LINE;
    if len > max {
        return fail(ErrorKind::LineTooLong { limit: max }, pos + max);
    }
    Ok(())
}

fn no_bare_cr(line: &[u8], pos: usize) -> Result<()> {
    match memchr(b'\r', line) {
        Some(i) => fail(ErrorKind::ControlChar(b'\r'), pos + i),
        None => Ok(()),
    }
}

/// Whether `namespace` is the core one. Names without a prefix in a
/// message without a default `NS` resolve to the constant itself, so the
/// pointer comparison settles most calls; an `NS` header may still name the
/// core URI in its own bytes.
#[inline]
fn is_core(namespace: &str) -> bool {
    std::ptr::eq(namespace, CORE_NAMESPACE) || namespace == CORE_NAMESPACE
}

/// `[ Name-prefix "." ] Name` from `i`: where it stops and where its dot is.
#[inline(always)]
fn scan_name(b: &[u8], start: usize) -> (usize, Option<usize>) {
    let i = line_name_end(b, start);
    if i == start || b.get(i) != Some(&b'.') {
        return (i, None);
    }
    (line_name_end(b, i + 1), Some(i))
}

/// Where a String starting with `"` at `i` ends (after its closing quote).
/// A backslash takes the next byte whatever it is (section 2.3.1: unknown
/// escapes stand for the character).
fn string_end(b: &[u8], mut i: usize) -> Option<usize> {
    i += 1;
    loop {
        match b.get(i)? {
            b'"' => return Some(i + 1),
            b'\\' => i += 2,
            _ => i += 1,
        }
    }
}

/// One `Parameter` after its `;` (section 3.6); returns where it ends.
fn param(b: &[u8], start: usize, mut i: usize) -> Result<usize> {
    // `lang` (the parameter section 3.3 defines, and the usual one) read
    // as the general reading below reads it, without the name scan.
    if b.get(i..i + 5) == Some(b"lang=") {
        return lang_param(b, start, i + 5);
    }
    let name_start = i;
    i = namechar_end(b, i);
    if i == name_start {
        return fail(
            ErrorKind::InvalidParameter("expected a parameter name"),
            start + i,
        );
    }
    if b.get(i) != Some(&b'=') {
        return fail(ErrorKind::InvalidParameter("expected '='"), start + i);
    }
    let name = b.get(name_start..i);
    i += 1;
    let value_start = i;
    if name == Some(b"lang") {
        return lang_param(b, start, value_start);
    } else if b.get(i) == Some(&b'"') {
        match string_end(b, i) {
            Some(end) if end <= b.len() => i = end,
            _ => {
                return fail(
                    ErrorKind::InvalidParameter("unterminated string"),
                    start + b.len(),
                )
            }
        }
    } else {
        i = tokenchar_end(b, i);
        if i == value_start {
            return fail(
                ErrorKind::InvalidParameter("expected a parameter value"),
                start + i,
            );
        }
    }
    Ok(i)
}

/// The value of a `lang` parameter starting at `i`, up to a space or `;`,
/// checked as an RFC 3066 tag; returns where it ends.
#[inline(always)]
fn lang_param(b: &[u8], start: usize, i: usize) -> Result<usize> {
    match language_tag_end(b, i) {
        Some(end) => Ok(end),
        None => fail(ErrorKind::InvalidLanguageTag, start + i),
    }
}

/// Splits parameters already checked by [`param`].
pub(super) fn param_pairs(params: &str) -> impl Iterator<Item = (&str, &str)> {
    let mut rest = params;
    std::iter::from_fn(move || {
        let after = rest.strip_prefix(';')?;
        let (name, value_and_more) = after.split_once('=')?;
        let b = value_and_more.as_bytes();
        let end = if b.first() == Some(&b'"') {
            string_end(b, 0).unwrap_or(b.len()).min(b.len())
        } else {
            memchr(b';', b).unwrap_or(b.len())
        };
        let (value, more) = value_and_more.split_at(end);
        rest = more;
        Some((name, value))
    })
}

/// Where the parts of a `From`, `To` or `cc` value lie in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct AddrSpans {
    /// The length of the Formal-name (0: none; a name is never empty).
    formal_len: usize,
    /// Where the URI starts (after `<`); it ends before the final `>`.
    uri_start: usize,
}

impl AddrSpans {
    /// As positions in the line, the value starting at `value_start`.
    fn at(self, value_start: usize) -> AddrAt {
        AddrAt {
            formal_end: (value_start + self.formal_len) as u32,
            uri_start: (value_start + self.uri_start) as u32,
        }
    }
}

/// `[ Formal-name ] "<" URI ">"` (sections 4.1-4.3). The plain reading
/// inline, the rest in [`read_name_addr`]: as a call whose result came
/// back through memory, the usual value cost about 30 instructions more.
#[inline(always)]
fn name_addr(b: &[u8], at: usize, header: &'static str) -> Result<AddrSpans> {
    match plain_name_addr(b) {
        Some(spans) => Ok(spans),
        None => read_name_addr(b, at, header),
    }
}

/// [`name_addr`] of a value whose Formal-name is plain (see
/// [`plain_formal_name`]) and which is valid; `None` for anything else.
#[inline(always)]
fn plain_name_addr(b: &[u8]) -> Option<AddrSpans> {
    let lt = plain_formal_name(b)?;
    let uri = b.get(lt + 1..b.len().checked_sub(1)?)?;
    if b.last() != Some(&b'>') || !is_absolute_uri(uri) {
        return None;
    }
    Some(AddrSpans {
        formal_len: lt.saturating_sub(1),
        uri_start: lt + 1,
    })
}

/// [`name_addr`] part by part, for any value: finds the exact error (the
/// Formal-name read as [`plain_formal_name`] reads a plain one).
fn read_name_addr(b: &[u8], at: usize, header: &'static str) -> Result<AddrSpans> {
    let bad = |i: usize, expected: &'static str| {
        fail(ErrorKind::InvalidValue { header, expected }, at + i)
    };
    let (formal_len, i) = formal_name(b, at, header)?;
    if b.get(i) != Some(&b'<') {
        return bad(i, "'<'");
    }
    if b.len() < i + 2 || b.last() != Some(&b'>') {
        return bad(b.len(), "'>' at the end");
    }
    if !b.get(i + 1..b.len() - 1).is_some_and(is_absolute_uri) {
        return bad(i + 1, "an absolute URI");
    }
    Ok(AddrSpans {
        formal_len,
        uri_start: i + 1,
    })
}

/// The Formal-name at the start of a `From`, `To` or `cc` value, if any:
/// its length and where what follows it starts.
fn formal_name(b: &[u8], at: usize, header: &'static str) -> Result<(usize, usize)> {
    let bad = |i: usize, expected: &'static str| {
        fail(ErrorKind::InvalidValue { header, expected }, at + i)
    };
    if b.first() == Some(&b'"') {
        let Some(end) = string_end(b, 0).filter(|&e| e <= b.len()) else {
            return bad(b.len(), "a closing '\"'");
        };
        // The grammar has no space after a quoted Formal-name, but the
        // token form and every example put one before '<'.
        let next = if b.get(end) == Some(&b' ') {
            end + 1
        } else {
            end
        };
        return Ok((end, next));
    }
    let mut i = 0;
    while b.get(i).is_some_and(|&c| is_tokenchar(c)) {
        i = tokenchar_end(b, i);
        if b.get(i) != Some(&b' ') {
            return bad(i, "a space after each word of the name");
        }
        i += 1;
    }
    Ok((i.saturating_sub(1), i))
}

/// Where the `<` of a `From`, `To` or `cc` value is when what comes before
/// it is empty or words of letters, digits and `-`, each followed by one
/// space (as names are mostly written), found from the first 32 bytes at
/// once without a branch per word; [`formal_name`] reads it the same way
/// (held by a test). `None` leaves the value to that reading.
#[inline(always)]
fn plain_formal_name(b: &[u8]) -> Option<usize> {
    let first = b.first_chunk::<16>()?;
    let mut less_than = simd::equal(first, b'<');
    let mut word = simd::alnum(first);
    let mut space = simd::equal(first, b' ');
    if less_than == 0 {
        // The next sixteen bytes, or the last sixteen (overlapping the
        // first, whose bytes give the same bits).
        let from = if b.len() >= 32 { 16 } else { b.len() - 16 };
        let chunk = b.get(from..)?.first_chunk::<16>()?;
        less_than = simd::equal(chunk, b'<') << from;
        word |= simd::alnum(chunk) << from;
        space |= simd::equal(chunk, b' ') << from;
    }
    if less_than == 0 {
        return None;
    }
    let lt = less_than.trailing_zeros();
    let before = (1u32 << lt) - 1;
    let words_and_spaces = (word | space) & before == before;
    let single_spaces = space & (space >> 1) & before == 0 && space & 1 == 0;
    let space_last = lt == 0 || space & (1 << (lt - 1)) != 0;
    (words_and_spaces && single_spaces && space_last).then_some(lt as usize)
}

/// Where the parts of an `NS` value lie in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct NsSpans {
    /// The length of the prefix (0: none, the default namespace).
    prefix_len: usize,
    /// Where the URI starts (after `<`); it ends before the final `>`.
    uri_start: usize,
}

/// `[ Name-prefix ] "<" URI ">"` (section 4.6); see docs/decisions.md for
/// the space after the prefix.
fn ns_value(b: &[u8], at: usize) -> Result<NsSpans> {
    let bad = |i: usize, expected: &'static str| {
        fail(
            ErrorKind::InvalidValue {
                header: "NS",
                expected,
            },
            at + i,
        )
    };
    let prefix_len = namechar_end(b, 0);
    let mut i = prefix_len;
    if prefix_len > 0 && b.get(i) == Some(&b' ') {
        i += 1;
    }
    if b.get(i) != Some(&b'<') {
        return bad(i, "'<'");
    }
    if b.len() < i + 2 || b.last() != Some(&b'>') {
        return bad(b.len(), "'>' at the end");
    }
    if !b
        .get(i + 1..b.len() - 1)
        .is_some_and(is_absolute_uri_without_fragment)
    {
        return bad(i + 1, "an absolute URI without a fragment");
    }
    Ok(NsSpans {
        prefix_len,
        uri_start: i + 1,
    })
}

/// A walk over a block's headers in order that resolves the names of each
/// `Require` in the scope the `NS` headers before it make, as the parser
/// did: a `Require` naming several headers keeps no list of them (see
/// [`Kind::RequireMany`]).
#[derive(Default)]
pub(crate) struct RequiredWalk<'a> {
    scope: Scope<'a>,
}

impl<'a> RequiredWalk<'a> {
    /// The names `header` requires, if it is a core `Require`; an `NS`
    /// header's declaration is taken for the headers after it.
    pub(crate) fn step(&mut self, header: &Header<'a>) -> Option<RequiredList<'a>> {
        // Before `kind`, which would find the names again its own way.
        if header.kind == Kind::RequireMany {
            return Some(self.names(header));
        }
        match header.kind() {
            HeaderKind::Ns(ns) => {
                self.scope.enter(ns.prefix, ns.uri);
                None
            }
            HeaderKind::Require(list) => Some(list),
            _ => None,
        }
    }

    /// The names of a `Require` header naming several, in this scope.
    fn names(&self, header: &Header<'a>) -> RequiredList<'a> {
        let at = header.offset + header.value_start();
        match require_list_by_names(header.value(), at, &self.scope) {
            Ok(Requires::Many(list)) => RequiredList::many(list),
            Ok(Requires::One(one)) => RequiredList::one(one),
            // The parser resolved these names in the same scope.
            Err(_) => RequiredList::many(Vec::new()),
        }
    }
}

/// The names of a `Require` header naming several, found again from the
/// header block through its line (its `namespace` field): the headers
/// before it are read again for their `NS` declarations.
pub(super) fn required_again<'a>(header: &Header<'a>) -> RequiredList<'a> {
    let block = header.namespace;
    let before = block
        .get(..block.len().saturating_sub(header.line.len()))
        .unwrap_or_default();
    let mut walk = RequiredWalk::default();
    if let Ok(headers) = header_block(before.as_bytes(), &Limits::NONE) {
        for h in &headers {
            walk.step(h);
        }
    }
    walk.names(header)
}

/// The names of one `Require` value, resolved.
#[derive(Debug, PartialEq, Eq)]
enum Requires<'a> {
    /// One name, the whole value.
    One(Required<'a>),
    Many(Vec<Required<'a>>),
}

/// `Header-name *( "," Header-name )` (section 4.7), each resolved in the
/// scope where it is listed.
fn require_list<'a>(value: &'a str, at: usize, scope: &Scope<'a>) -> Result<Requires<'a>> {
    let b = value.as_bytes();
    // One name, the whole value (the usual case): what the loop below
    // gives for it, without the list's bookkeeping.
    let (end, dot) = scan_name(b, 0);
    if end == b.len() && end > 0 && dot != Some(end - 1) {
        let (prefix, local) = match dot {
            Some(d) => (Some(&value[..d]), &value[d + 1..]),
            None => (None, value),
        };
        return Ok(Requires::One(Required {
            name: value,
            namespace: scope.resolve(prefix, at)?,
            local,
            offset: at,
        }));
    }
    require_list_by_names(value, at, scope)
}

/// [`require_list`] name by name, for any number of names.
fn require_list_by_names<'a>(value: &'a str, at: usize, scope: &Scope<'a>) -> Result<Requires<'a>> {
    let b = value.as_bytes();
    // The first name is kept in place; a vector is made for a second.
    let mut first = None;
    let mut list = Vec::new();
    let mut i = 0;
    loop {
        let start = i;
        let (end, dot) = scan_name(b, i);
        i = end;
        if i == start || dot == Some(i - 1) {
            return fail(
                ErrorKind::InvalidValue {
                    header: "Require",
                    expected: "a header name",
                },
                at + i,
            );
        }
        let name = &value[start..i];
        let prefix = dot.map(|d| &value[start..d]);
        let local = dot.map_or(name, |d| &value[d + 1..i]);
        let namespace = scope.resolve(prefix, at + start)?;
        let required = Required {
            name,
            namespace,
            local,
            offset: at + start,
        };
        match first {
            None => first = Some(required),
            Some(first) => {
                if list.is_empty() {
                    list.push(first);
                }
                list.push(required);
            }
        }
        match b.get(i) {
            None if list.is_empty() => {
                return Ok(Requires::One(required));
            }
            None => return Ok(Requires::Many(list)),
            Some(b',') => {
                i += 1;
                // Lenient: ", " as people write lists.
                if b.get(i) == Some(&b' ') {
                    i += 1;
                }
            }
            Some(_) => {
                return fail(
                    ErrorKind::InvalidValue {
                        header: "Require",
                        expected: "',' or the end of the line",
                    },
                    at + i,
                )
            }
        }
    }
}

/// Where the line at `pos` ends (the offset of its CR) if it is plainly
/// clean: every byte before its CRLF is neither a control character nor
/// DEL, and CRLF comes before `end`. `None` for anything else (no CRLF,
/// a lone CR or LF, a control character), which the callers hand to the
/// byte-by-byte checks that name the exact error.
///
/// Hand-written rather than `memchr` calls: header lines are a few dozen
/// bytes, where one pass sixteen bytes at a time beats two searches (for
/// LF, then for a stray CR) and a third pass for control characters.
#[inline(always)]
fn clean_line(input: &[u8], pos: usize, end: usize) -> Option<usize> {
    // Offsets within `hay`, whose length bounds every read: one bounds
    // check per chunk.
    let hay = input.get(pos..end)?;
    // A blank line (the end of each block) without a scan.
    if hay.first_chunk::<2>() == Some(b"\r\n") {
        return Some(pos);
    }
    let mut i = 0;
    // Thirty-two bytes a turn, then sixteen: header lines are mostly 20
    // to 60 bytes (89 instructions fewer a message than sixteen a turn).
    while let Some(pair) = hay.get(i..).and_then(<[u8]>::first_chunk::<32>) {
        let (low, high) = pair.split_at(16);
        let (Ok(low), Ok(high)) = (<&[u8; 16]>::try_from(low), <&[u8; 16]>::try_from(high)) else {
            return None;
        };
        let mask = simd::control(low) | simd::control(high) << 16;
        if mask != 0 {
            return crlf_at(hay, i + mask.trailing_zeros() as usize).map(|at| pos + at);
        }
        i += 32;
    }
    if let Some(chunk) = hay.get(i..).and_then(<[u8]>::first_chunk::<16>) {
        let mask = simd::control(chunk);
        if mask != 0 {
            return crlf_at(hay, i + mask.trailing_zeros() as usize).map(|at| pos + at);
        }
        i += 16;
    }
    // The last bytes before `end`, padded with spaces (not special).
    let rest = hay.get(i..)?;
    let mut last = [b' '; 16];
    last.get_mut(..rest.len())?.copy_from_slice(rest);
    let mask = simd::control(&last);
    if mask == 0 {
        return None;
    }
    crlf_at(hay, i + mask.trailing_zeros() as usize).map(|at| pos + at)
}

/// The lines of a header block: how many, the longest, and where the
/// blank line that ends the block starts.
struct BlockLines {
    lines: usize,
    longest: usize,
    end: usize,
}

/// The lines of the header block at the start of `hay` if they are all
/// plainly clean (see [`clean_line`]): each control character before the
/// blank line is the CR or the LF of a CRLF. The CRs of the first lines go
/// to `ends`. `None` for anything else, which the callers hand to the
/// line-by-line checks.
///
/// Sixty-four bytes a turn, as a bit map of control characters, so that a
/// line's end is not a branch of its own: a scan from each line's start
/// left the loop at every line, a jump the processor could not foresee.
/// The lowest control character left in a turn must start a CRLF (one
/// two-byte comparison), whose two bits are then cleared: a map of LFs
/// beside it cost more than that comparison.
#[inline(always)]
fn block_lines(hay: &[u8], ends: &mut [u32; 32]) -> Option<BlockLines> {
    let mut block = BlockLines {
        lines: 0,
        longest: 0,
        end: 0,
    };
    let mut line_start = 0;
    // The LF of a CRLF whose CR was the turn before's last byte.
    let mut carried_lf = 0u64;
    let mut base = 0;
    loop {
        let mut control = match hay.get(base..).and_then(<[u8]>::first_chunk::<64>) {
            Some(turn) => control64(turn),
            None => {
                // The last bytes, padded with spaces (not special).
                let rest = hay.get(base..)?;
                let mut last = [b' '; 64];
                last.get_mut(..rest.len())?.copy_from_slice(rest);
                control64(&last)
            }
        } & !carried_lf;
        carried_lf = 0;
        while control != 0 {
            let bit = control.trailing_zeros();
            let at = base + bit as usize;
            if hay.get(at..at + 2) != Some(b"\r\n") {
                return None;
            }
            if at == line_start {
                block.end = at;
                return Some(block);
            }
            if let Some(slot) = ends.get_mut(block.lines) {
                *slot = u32::try_from(at).ok()?;
            }
            block.longest = block.longest.max(at - line_start);
            block.lines += 1;
            line_start = at + 2;
            // The CR's bit and the LF's (the next turn's first when the CR
            // is this turn's last).
            control &= !(3 << bit);
            carried_lf = u64::from(bit == 63);
        }
        base += 64;
    }
}

/// Control characters of sixty-four bytes, bit `k` for byte `k`.
#[inline(always)]
fn control64(turn: &[u8; 64]) -> u64 {
    let mut control = 0;
    for (k, chunk) in turn.chunks_exact(16).enumerate() {
        let Ok(chunk) = <&[u8; 16]>::try_from(chunk) else {
            continue;
        };
        control |= u64::from(simd::control(chunk)) << (16 * k);
    }
    control
}

/// `Some(at)` when the control character at `at` starts a CRLF within
/// `hay`.
#[inline(always)]
fn crlf_at(hay: &[u8], at: usize) -> Option<usize> {
    (hay.get(at..at + 2) == Some(b"\r\n")).then_some(at)
}

/// A MIME header line that the byte-by-byte reading of
/// [`Parser::mime_block`] would take as it stands: see [`plain_mime_line`].
struct PlainMimeLine<'a> {
    /// The line without its CRLF.
    raw: &'a [u8],
    colon: usize,
    value_start: usize,
    /// The line's first sixteen bytes (the name is within them).
    head: &'a [u8; 16],
    /// What follows the line's CRLF.
    rest: &'a [u8],
}

impl PlainMimeLine<'_> {
    /// Whether the name is `Content-Type`, in any case.
    #[inline(always)]
    fn is_content_type(&self) -> bool {
        self.colon == 12 && starts_ignore_case(self.head, b"content-type")
    }
}

/// The MIME header line at the start of `hay` when it is plain: its name
/// ends at a `:` within its first sixteen bytes, no control character
/// comes before its CRLF, and a byte follows that does not continue it
/// (no fold). `None` for anything else (a longer name, a tab, folding, a
/// line near the end of `hay`, any error), which the byte-by-byte reading
/// takes.
///
/// The name is checked by the stop mask of the first sixteen bytes, the
/// line's end found by the control masks of the same chunk and the next
/// ones.
#[inline(always)]
fn plain_mime_line(hay: &[u8]) -> Option<PlainMimeLine<'_>> {
    let head = hay.first_chunk::<16>()?;
    // A control character, LF and CR among them, is a stop too: the
    // first stop being `:` puts the colon within this line.
    let colon = simd::mime_name_stops(head).trailing_zeros() as usize;
    if colon == 0 || head.get(colon) != Some(&b':') {
        return None;
    }
    // The first control character, from the head on; whole chunks only
    // (a line near the end of `hay` is left to the general reading).
    let mut chunks = hay.chunks_exact(16);
    let mut at = 0;
    let cr = loop {
        let controls = simd::control(chunks.next()?.first_chunk::<16>()?);
        if controls != 0 {
            break at + controls.trailing_zeros() as usize;
        }
        at += 16;
    };
    let (raw, tail) = hay.split_at_checked(cr)?;
    // CRLF, and a next line that does not continue this one.
    let [b'\r', b'\n', next] = *tail.first_chunk::<3>()? else {
        return None;
    };
    if matches!(next, b' ' | b'\t') {
        return None;
    }
    // The spaces after the colon (no tab in a clean line, and the CR
    // stops the run): those within the head by its mask, then any more.
    let mut value_start =
        colon + 1 + (simd::equal(head, b' ') >> (colon + 1)).trailing_ones() as usize;
    while raw.get(value_start) == Some(&b' ') {
        value_start += 1;
    }
    Some(PlainMimeLine {
        raw,
        colon,
        value_start,
        head,
        rest: tail.get(2..)?,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// Where the plain reading of a Formal-name finds its `<`, the token
    /// reading finds it too, with the same name; where the plain reading of
    /// the whole value takes it, the part-by-part reading gives the same
    /// spans: on values with each byte replaced by one that matters to
    /// either and cut short.
    #[test]
    fn plain_formal_names_match_token_reading() {
        let mut taken = 0;
        let mut whole = 0;
        for value in [
            "MR SANDERS <im:piglet@100akerwood.com>",
            "Depressed Donkey <im:eeyore@100akerwood.com>",
            "A B C D E F G H I J K L M <im:a@b>",
            "<im:piglet@100akerwood.com>",
            "Jane-Doe x1 <sip:j@example.com>",
        ] {
            crate::test_support::each_mutation(value.as_bytes(), b" <>a-.:!\"\x80\t", |bytes| {
                if let Some(spans) = plain_name_addr(bytes) {
                    assert_eq!(
                        read_name_addr(bytes, 0, "From"),
                        Ok(spans),
                        "{:?}",
                        String::from_utf8_lossy(bytes)
                    );
                    whole += 1;
                }
                if let Some(lt) = plain_formal_name(bytes) {
                    assert_eq!(
                        formal_name(bytes, 0, "From"),
                        Ok((lt.saturating_sub(1), lt)),
                        "{:?}",
                        String::from_utf8_lossy(bytes)
                    );
                    taken += 1;
                }
            });
        }
        assert!(taken > 500, "{taken}");
        assert!(whole > 300, "{whole}");
    }

    /// What `mime_block` gives for `input` up to `end`: the fields, the
    /// offset after the block and the noted `Content-Type`, or the error.
    fn read_mime_block<'a>(
        input: &'a [u8],
        end: usize,
        limits: &Limits,
        fast: bool,
    ) -> Result<(Vec<MimeHeader<'a>>, usize, Option<usize>)> {
        let mut parser = Parser {
            input,
            limits,
            fields: 0,
            fast,
            spare: Vec::new(),
        };
        let mut headers = MimeList::new();
        let block = parser.mime_block(&mut headers, 0, end, "the MIME headers")?;
        Ok((headers.as_slice().to_vec(), block.next, block.content_type))
    }

    /// The plain-line path of `mime_block` gives what the byte-by-byte
    /// reading of each field gives (the same fields, end and noted
    /// `Content-Type`, or the same error at the same byte), and the noted
    /// `Content-Type` is the first field so named: on blocks with names
    /// around sixteen bytes, values ending around a chunk's end, folds,
    /// tabs and runs of spaces (past the first chunk too), each byte
    /// replaced by one that matters to the scans and cut short, within the
    /// whole input and within a part of it, under default and tight limits.
    #[test]
    fn plain_mime_lines_match_field_reading() {
        let blocks: [&[u8]; 10] = [
            b"Content-Type: message/cpim\r\n\r\nFrom: <im:a@b.c>\r\n",
            b"content-type:text/plain\r\nContent-ID: <1234567890@foo.com>\r\n\r\nbody",
            b"Content-Transfer-Encoding: 8bit\r\nCONTENT-TYPE:   a/b\r\n\r\n",
            b"Content-Type: multipart/signed;\r\n\tboundary=x\r\nX: y\r\n z\r\n\r\n",
            b"A:\r\nB: \r\nC:\t v\r\nContent-Typf: x\r\n\r\n",
            b"Abcdefghijklmno: v\r\nAbcdefghijklmnop: v\r\nX: 1\r\n\r\n",
            b"Content-Type: ab\r\nContent-Type: abc\r\nX: 0123456789abcdefghijklm\r\n\r\n",
            b"X-Long: 0123456789abcdefghijklmnopqrstuvwxyz0123456789\r\n\r\n\r\n",
            b"Y: 1\r\n\r\n",
            b"Ab:              v\r\nAbcdefghijklmn:  \r\nX:\r\n\r\n",
        ];
        let tight = Limits {
            max_size: 4096,
            max_headers: 2,
            max_line: 20,
        };
        let mut compared = 0;
        for block in blocks {
            for limits in [Limits::default(), tight] {
                crate::test_support::each_mutation(block, b"\r\n\t :\x00\x7f\x80cC-", |bytes| {
                    for end in [bytes.len(), bytes.len().saturating_sub(3)] {
                        let fast = read_mime_block(bytes, end, &limits, true);
                        let slow = read_mime_block(bytes, end, &limits, false);
                        assert_eq!(fast, slow, "{:?} to {end}", String::from_utf8_lossy(bytes));
                        if let Ok((headers, _, content_type)) = &fast {
                            let first = headers.iter().position(MimeHeader::is_content_type);
                            assert_eq!(*content_type, first);
                        }
                        compared += 1;
                    }
                });
            }
        }
        assert!(compared > 10_000, "{compared}");
    }

    /// A MIME line longer than a `MimeHeader` can hold offsets in (only
    /// under lifted limits; too large to build here) is refused as over a
    /// line limit at the byte past it, and one of that length is taken.
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn mime_lines_beyond_u32_are_refused() {
        let max = MimeHeader::MAX_LINE;
        assert_eq!(max, u32::MAX as usize);
        assert_eq!(long_mime_line(7, max), Ok(()));
        assert_eq!(
            long_mime_line(7, max + 1),
            fail(ErrorKind::LineTooLong { limit: max }, 7 + max)
        );
        assert_eq!(std::mem::size_of::<MimeHeader<'_>>(), 32);
        // Plain data, written straight into the vector (see `Kind`).
        assert!(!std::mem::needs_drop::<Header<'_>>());
        #[cfg(target_pointer_width = "64")]
        assert_eq!(std::mem::size_of::<Header<'_>>(), 56);
    }

    /// The one-name shortcut of `require_list` gives what the name-by-name
    /// reading gives (the same list or the same error at the same byte), on
    /// values with each byte replaced by one that matters to it and cut
    /// short, with a declared prefix and without.
    #[test]
    fn one_required_name_matches_name_by_name_reading() {
        let mut scope = Scope::default();
        scope.declare("MyFeatures", "mid:MessageFeatures@id.foo.com");
        let mut compared = 0;
        for value in [
            "MyFeatures.VitalMessageOption",
            "Locale",
            "MyFeatures.A,Subject",
            "x.y",
        ] {
            crate::test_support::each_mutation(value.as_bytes(), b".,: \x80aZ-", |bytes| {
                let Ok(value) = std::str::from_utf8(bytes) else {
                    return;
                };
                for scope in [&scope, &Scope::default()] {
                    assert_eq!(
                        require_list(value, 7, scope),
                        require_list_by_names(value, 7, scope),
                        "{value:?}"
                    );
                    compared += 1;
                }
            });
        }
        assert!(compared > 500, "{compared}");
    }
}
