//! The MIME object carried as the text of `<message>` (draft section 2.3 and
//! the messaging DTD, section 7): a header section, an empty line, the body.
//!
//! Only the two headers the operation models are accepted: `Content-Type`
//! (default `text/plain; charset=us-ascii`, RFC 2045 section 5.2) and
//! `Content-Transfer-Encoding`, so that bodies that XML text cannot carry
//! (not UTF-8, or holding characters XML forbids) travel as base64.

use base64::Engine as _;

use super::BodyProblem;

/// RFC 2045 section 5.2: the type of a MIME object without `Content-Type`.
pub(super) const DEFAULT_CONTENT_TYPE: &str = "text/plain; charset=us-ascii";

/// A parsed MIME object: its type, its decoded bytes, and the offset of the
/// problem (in characters of `text`) when it fails.
pub(super) fn parse(text: &str) -> Result<(String, Vec<u8>), (usize, BodyProblem)> {
    // Pretty-printed XML puts a line break and indentation before the header;
    // so an empty header section cannot be written, and `write` never does.
    let start = text.len() - text.trim_start().len();
    let rest = &text[start..];
    let (header, body, body_offset) =
        split_header(rest).ok_or((start, BodyProblem::NoHeaderEnd))?;
    let mut content_type: Option<(String, usize)> = None;
    let mut encoding: Option<(String, usize)> = None;
    for (line, offset) in unfolded_lines(header, start) {
        let Some((name, value)) = line.split_once(':') else {
            return Err((offset, BodyProblem::NoColon { line }));
        };
        let name = name.trim();
        let value = value.trim().to_owned();
        let slot = if name.eq_ignore_ascii_case("Content-Type") {
            &mut content_type
        } else if name.eq_ignore_ascii_case("Content-Transfer-Encoding") {
            &mut encoding
        } else {
            return Err((
                offset,
                BodyProblem::UnsupportedHeader {
                    name: name.to_owned(),
                },
            ));
        };
        if slot.is_some() {
            return Err((
                offset,
                BodyProblem::DuplicateHeader {
                    name: name.to_owned(),
                },
            ));
        }
        *slot = Some((value, offset));
    }
    let content_type = match content_type {
        Some((value, offset)) if !super::is_one_line_type(&value) => {
            return Err((offset, BodyProblem::ContentType(value)))
        }
        Some((value, _)) => value,
        None => DEFAULT_CONTENT_TYPE.to_owned(),
    };
    let body_start = start + body_offset;
    let bytes = match encoding {
        None => body.as_bytes().to_vec(),
        Some((name, offset)) => match name.to_ascii_lowercase().as_str() {
            "7bit" | "8bit" | "binary" => body.as_bytes().to_vec(),
            "base64" => {
                let compact: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
                base64::engine::general_purpose::STANDARD
                    .decode(compact)
                    .map_err(|e| (body_start, BodyProblem::Base64(e.to_string())))?
            }
            _ => return Err((offset, BodyProblem::UnsupportedEncoding(name))),
        },
    };
    Ok((content_type, bytes))
}

/// What goes inside `<message>`, before XML escaping: text when the body is
/// UTF-8 free of characters XML forbids, base64 otherwise.
pub(super) fn write(content_type: &str, body: &[u8]) -> String {
    // A header value is one line; a line break would end the header early.
    let content_type: String = content_type
        .chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect();
    match std::str::from_utf8(body) {
        Ok(text) if text.chars().all(crate::xml::is_xml_char) => {
            format!("Content-Type: {content_type}\n\n{text}")
        }
        _ => {
            let encoded = base64::engine::general_purpose::STANDARD.encode(body);
            let mut out =
                format!("Content-Type: {content_type}\nContent-Transfer-Encoding: base64\n\n");
            // RFC 2045 section 6.8: lines of at most 76 characters.
            for (i, chunk) in encoded.as_bytes().chunks(76).enumerate() {
                if i > 0 {
                    out.push('\n');
                }
                out.push_str(&String::from_utf8_lossy(chunk));
            }
            out
        }
    }
}

/// Splits at the first empty line (LF or CRLF line ends): header, body, and
/// the body's offset in `text`.
fn split_header(text: &str) -> Option<(&str, &str, usize)> {
    if let Some(body) = text.strip_prefix("\r\n") {
        return Some(("", body, 2));
    }
    if let Some(body) = text.strip_prefix('\n') {
        return Some(("", body, 1));
    }
    let mut search = 0;
    while let Some(found) = text[search..].find('\n') {
        let line_end = search + found;
        let after = &text[line_end + 1..];
        let blank = if after.starts_with("\r\n") {
            Some(2)
        } else if after.starts_with('\n') {
            Some(1)
        } else {
            None
        };
        if let Some(len) = blank {
            let body_offset = line_end + 1 + len;
            return Some((&text[..line_end], &text[body_offset..], body_offset));
        }
        search = line_end + 1;
    }
    None
}

/// Header lines with folded continuations joined (RFC 5322 section 2.2.3),
/// each with its offset.
fn unfolded_lines(header: &str, base: usize) -> Vec<(String, usize)> {
    let mut lines: Vec<(String, usize)> = Vec::new();
    let mut offset = base;
    for raw in header.split('\n') {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        match lines.last_mut() {
            Some((last, _)) if line.starts_with([' ', '\t']) => last.push_str(line),
            _ => lines.push((line.to_owned(), offset)),
        }
        offset += raw.len() + 1;
    }
    lines
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_header_and_body() {
        let (ct, body) =
            parse("Content-Type: text/plain; charset=\"us-ascii\"\n\nYabba, dabba, doo!").unwrap();
        assert_eq!(ct, "text/plain; charset=\"us-ascii\"");
        assert_eq!(body, b"Yabba, dabba, doo!");
    }

    #[test]
    fn crlf_folding_and_leading_whitespace() {
        let (ct, body) =
            parse("\n   content-type: text/plain;\r\n charset=utf-8\r\n\r\nhi\r\nthere").unwrap();
        assert_eq!(ct, "text/plain; charset=utf-8");
        assert_eq!(body, b"hi\r\nthere");
    }

    #[test]
    fn without_content_type_the_default_applies() {
        let (ct, body) = parse("Content-Transfer-Encoding: 8bit\n\nplain").unwrap();
        assert_eq!(ct, DEFAULT_CONTENT_TYPE);
        assert_eq!(body, b"plain");
        // Leading blank lines are indentation, not an empty header section.
        assert_eq!(parse("\n\nplain"), Err((2, BodyProblem::NoHeaderEnd)));
    }

    #[test]
    fn base64_body() {
        let (ct, body) = parse(
            "Content-Type: application/octet-stream\nContent-Transfer-Encoding: BASE64\n\nAP/+\n",
        )
        .unwrap();
        assert_eq!(ct, "application/octet-stream");
        assert_eq!(body, vec![0, 255, 254]);
    }

    #[test]
    fn writes_text_or_base64() {
        assert_eq!(write("text/plain", b"hi"), "Content-Type: text/plain\n\nhi");
        assert_eq!(
            write("application/octet-stream", &[0, 255, 254]),
            "Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\nAP/+"
        );
        let long = vec![0u8; 100];
        let written = write("x/y", &long);
        assert!(written.lines().all(|l| l.len() <= 76));
        assert_eq!(parse(&written).unwrap(), ("x/y".to_owned(), long));
    }

    #[test]
    fn exact_errors() {
        assert_eq!(
            parse("Content-Type: text/plain"),
            Err((0, BodyProblem::NoHeaderEnd))
        );
        assert_eq!(
            parse("Content-Type: a/b\nbogus\n\nx"),
            Err((
                18,
                BodyProblem::NoColon {
                    line: "bogus".into()
                }
            ))
        );
        assert_eq!(
            parse("Content-Type: a/b\nContent-ID: <x>\n\nx"),
            Err((
                18,
                BodyProblem::UnsupportedHeader {
                    name: "Content-ID".into()
                }
            ))
        );
        assert_eq!(
            parse("Content-Type: a/b\ncontent-type: c/d\n\nx"),
            Err((
                18,
                BodyProblem::DuplicateHeader {
                    name: "content-type".into()
                }
            ))
        );
        assert_eq!(
            parse("Content-Type:  \n\nx"),
            Err((0, BodyProblem::ContentType(String::new())))
        );
        assert_eq!(
            parse("Content-Transfer-Encoding: quoted-printable\n\nx"),
            Err((
                0,
                BodyProblem::UnsupportedEncoding("quoted-printable".into())
            ))
        );
        assert!(matches!(
            parse("Content-Transfer-Encoding: base64\n\n!!!!"),
            Err((35, BodyProblem::Base64(_)))
        ));
    }
}
