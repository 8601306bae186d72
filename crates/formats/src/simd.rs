//! Byte classes of sixteen bytes at a time, as a mask with bit `k` for
//! byte `k`: SSE2 compares and one `pmovmskb` on x86, through `safe_arch`
//! (the `core::arch` intrinsics need `unsafe`, which the workspace
//! forbids), and a plain reading elsewhere. The tests hold each SSE2 mask
//! to the plain one for every byte value at every place of a chunk.

// The plain readings serve targets without SSE2 and the tests.
#![cfg_attr(
    all(
        any(target_arch = "x86", target_arch = "x86_64"),
        target_feature = "sse2",
        not(test)
    ),
    allow(dead_code)
)]

#[cfg(all(
    any(target_arch = "x86", target_arch = "x86_64"),
    target_feature = "sse2"
))]
mod sse2 {
    use safe_arch::{
        add_i8_m128i, cmp_eq_mask_i8_m128i, load_unaligned_m128i, m128i, min_u8_m128i,
        move_mask_i8_m128i, set_splat_i8_m128i,
    };

    fn splat(b: u8) -> m128i {
        set_splat_i8_m128i(b as i8)
    }

    /// Lanes of `v` within `lo..=hi`, unsigned: `v - lo <= hi - lo` as
    /// `min(x, hi - lo) == x` (SSE2 compares are signed).
    #[inline(always)]
    fn within(v: m128i, lo: u8, hi: u8) -> m128i {
        let x = add_i8_m128i(v, splat(lo.wrapping_neg()));
        cmp_eq_mask_i8_m128i(min_u8_m128i(x, splat(hi - lo)), x)
    }

    #[inline(always)]
    fn eq(v: m128i, b: u8) -> m128i {
        cmp_eq_mask_i8_m128i(v, splat(b))
    }

    #[inline(always)]
    fn mask(v: m128i) -> u32 {
        move_mask_i8_m128i(v) as u32
    }

    #[inline(always)]
    pub(crate) fn control(chunk: &[u8; 16]) -> u32 {
        let v = load_unaligned_m128i(chunk);
        mask(within(v, 0, 0x1f) | eq(v, 0x7f))
    }

    #[inline(always)]
    pub(crate) fn alnum(chunk: &[u8; 16]) -> u32 {
        let v = load_unaligned_m128i(chunk);
        // Setting the case bit maps letters onto a-z and no other byte
        // there.
        let letter = within(v | splat(0x20), b'a', b'z');
        mask(letter | within(v, b'0', b'9') | eq(v, b'-'))
    }

    #[inline(always)]
    pub(crate) fn mime_name_stops(chunk: &[u8; 16]) -> u32 {
        let v = load_unaligned_m128i(chunk);
        !mask(within(v, 0x21, 0x7e)) & 0xffff | mask(eq(v, b':'))
    }

    #[inline(always)]
    pub(crate) fn not_xml_char(chunk: &[u8; 16]) -> u32 {
        let v = load_unaligned_m128i(chunk);
        mask(within(v, 0, 0x1f)) & !mask(eq(v, b'\t') | eq(v, b'\n') | eq(v, b'\r'))
    }

    #[inline(always)]
    pub(crate) fn not_in_uri(chunk: &[u8; 16]) -> u32 {
        let v = load_unaligned_m128i(chunk);
        mask(within(v, 0, 0x20) | eq(v, 0x7f) | eq(v, b'<') | eq(v, b'>') | eq(v, b'"'))
    }

    /// The places of the digits and of the separators in
    /// `dddd-dd-ddTdd:dd`.
    const DIGITS: u32 = 0b1101_1011_0110_1111;
    const SEPARATORS: u32 = 0b0010_0100_1001_0000;

    #[inline(always)]
    pub(crate) fn date_time_shape(chunk: &[u8; 16]) -> bool {
        let v = load_unaligned_m128i(chunk);
        let digits = mask(within(v, b'0', b'9'));
        // The case bit set at the `T` only; the other places compare as
        // they are (and outside `SEPARATORS` do not count).
        let case = m128i::from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x20, 0, 0, 0, 0, 0u8]);
        let separators = mask(cmp_eq_mask_i8_m128i(
            v | case,
            m128i::from(*b"0000-00-00t00:00"),
        ));
        digits & DIGITS == DIGITS && separators & SEPARATORS == SEPARATORS
    }

    #[inline(always)]
    pub(crate) fn equal(chunk: &[u8; 16], b: u8) -> u32 {
        mask(eq(load_unaligned_m128i(chunk), b))
    }
}

/// The mask of the bytes of `chunk` that `class` takes, one at a time: the
/// definition the SSE2 masks are held to, and the reading off x86.
#[inline(always)]
pub(crate) fn mask_by(chunk: &[u8; 16], class: impl Fn(u8) -> bool) -> u32 {
    chunk
        .iter()
        .enumerate()
        .fold(0, |m, (k, &c)| m | (u32::from(class(c)) << k))
}

/// Control characters and DEL (what ends a clean line); off x86 the
/// word reading serves, so this is the tests' definition only.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) fn is_control(c: u8) -> bool {
    c < 0x20 || c == 0x7f
}

/// ASCII letters, digits and `-`: NAMECHAR and TOKENCHAR alike, and most
/// of any name.
pub(crate) fn is_alnum(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-'
}

/// Where a MIME header name stops: `:` or a byte outside 33-126.
pub(crate) fn is_mime_name_stop(c: u8) -> bool {
    c == b':' || !(0x21..=0x7e).contains(&c)
}

/// Bytes that are characters XML 1.0 does not allow (section 2.2,
/// `Char`): the control characters but tab, LF and CR.
pub(crate) fn is_not_xml_char(c: u8) -> bool {
    matches!(c, 0..=8 | 11 | 12 | 14..=31)
}

/// Bytes refused in a URI here: space, controls, DEL, `<`, `>`, `"`.
pub(crate) fn is_not_in_uri(c: u8) -> bool {
    c <= b' ' || c == 0x7f || matches!(c, b'<' | b'>' | b'"')
}

/// [`control`] from two words with the word test of the line scan, for
/// targets without SSE2.
#[inline(always)]
pub(crate) fn control_words(chunk: &[u8; 16]) -> u32 {
    let word = |half: &[u8]| {
        let w = u64::from_le_bytes(half.try_into().unwrap_or([0; 8]));
        // The high bit of byte `k` to bit `k`: the shifted bits meet in
        // the top byte without carries (each product bit comes from one
        // byte).
        ((crate::message::special_bytes(w) >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56) as u32
    };
    let (low, high) = chunk.split_at(8);
    word(low) | (word(high) << 8)
}

/// Whether `chunk` is shaped as the first sixteen bytes of an RFC 3339
/// date-time, `dddd-dd-ddTdd:dd` (`T` in either case), one byte at a time:
/// the definition the SSE2 reading is held to.
pub(crate) fn date_time_shape_bytes(chunk: &[u8; 16]) -> bool {
    chunk.iter().enumerate().all(|(k, &c)| match k {
        4 | 7 => c == b'-',
        10 => matches!(c, b'T' | b't'),
        13 => c == b':',
        _ => c.is_ascii_digit(),
    })
}

/// [`date_time_shape_bytes`], by SSE2 on x86.
#[inline(always)]
pub(crate) fn date_time_shape(chunk: &[u8; 16]) -> bool {
    #[cfg(all(
        any(target_arch = "x86", target_arch = "x86_64"),
        target_feature = "sse2"
    ))]
    return sse2::date_time_shape(chunk);
    #[cfg(not(all(
        any(target_arch = "x86", target_arch = "x86_64"),
        target_feature = "sse2"
    )))]
    return date_time_shape_bytes(chunk);
}

/// The bytes of `chunk` equal to `b`.
#[inline(always)]
pub(crate) fn equal(chunk: &[u8; 16], b: u8) -> u32 {
    #[cfg(all(
        any(target_arch = "x86", target_arch = "x86_64"),
        target_feature = "sse2"
    ))]
    return sse2::equal(chunk, b);
    #[cfg(not(all(
        any(target_arch = "x86", target_arch = "x86_64"),
        target_feature = "sse2"
    )))]
    return mask_by(chunk, |c| c == b);
}

/// Each mask: the SSE2 reading on x86, the given plain one elsewhere.
macro_rules! masks {
    ($($(#[$doc:meta])* $name:ident => $plain:expr;)*) => {$(
        $(#[$doc])*
        #[inline(always)]
        pub(crate) fn $name(chunk: &[u8; 16]) -> u32 {
            #[cfg(all(
                any(target_arch = "x86", target_arch = "x86_64"),
                target_feature = "sse2"
            ))]
            return sse2::$name(chunk);
            #[cfg(not(all(
                any(target_arch = "x86", target_arch = "x86_64"),
                target_feature = "sse2"
            )))]
            return $plain(chunk);
        }
    )*};
}

masks! {
    /// Control characters and DEL ([`is_control`]).
    control => control_words;
    /// Letters, digits and `-` ([`is_alnum`]).
    alnum => |chunk| mask_by(chunk, is_alnum);
    /// `:` and bytes outside 33-126 ([`is_mime_name_stop`]).
    mime_name_stops => |chunk| mask_by(chunk, is_mime_name_stop);
    /// Bytes refused in a URI ([`is_not_in_uri`]).
    not_in_uri => |chunk| mask_by(chunk, is_not_in_uri);
    /// Control characters XML does not allow ([`is_not_xml_char`]).
    not_xml_char => |chunk| mask_by(chunk, is_not_xml_char);
}
