//! QUIC variable-length integers (RFC 9000 §16): the two high bits of the first
//! byte give the length (1, 2, 4 or 8 bytes), the rest is the big-endian value.

use bytes::BufMut;

use super::WireError;

/// The largest value a varint can hold: 2^62 - 1.
pub(crate) const MAX: u64 = (1 << 62) - 1;

/// The encoded length of `v` (which must be at most [`MAX`]).
pub(crate) fn len(v: u64) -> usize {
    match v {
        0..=0x3f => 1,
        0x40..=0x3fff => 2,
        0x4000..=0x3fff_ffff => 4,
        _ => 8,
    }
}

/// Checks that `v` fits a varint.
pub(crate) fn check(v: u64, field: &'static str) -> Result<(), WireError> {
    if v > MAX {
        return Err(WireError::InvalidField {
            field,
            reason: "larger than 2^62 - 1",
        });
    }
    Ok(())
}

/// Appends `v` in its shortest encoding. `v` must have passed [`check`].
pub(crate) fn put<B: BufMut>(out: &mut B, v: u64) {
    debug_assert!(v <= MAX);
    match len(v) {
        1 => out.put_u8(v as u8),
        2 => out.put_u16(0x4000 | v as u16),
        4 => out.put_u32(0x8000_0000 | v as u32),
        _ => out.put_u64(0xc000_0000_0000_0000 | v),
    }
}

/// Reads a varint from the start of `buf`; returns it and the bytes it used.
///
/// Non-shortest encodings are accepted, as in QUIC.
pub(crate) fn get(buf: &[u8], what: &'static str) -> Result<(u64, usize), WireError> {
    let first = *buf.first().ok_or(WireError::Truncated { what })?;
    let n = 1usize << (first >> 6);
    let bytes = buf.get(..n).ok_or(WireError::Truncated { what })?;
    let mut v = u64::from(first & 0x3f);
    for b in &bytes[1..] {
        v = (v << 8) | u64::from(*b);
    }
    Ok((v, n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries_round_trip_in_shortest_form() {
        let table: &[(u64, usize)] = &[
            (0, 1),
            (63, 1),
            (64, 2),
            (16_383, 2),
            (16_384, 4),
            ((1 << 30) - 1, 4),
            (1 << 30, 8),
            (MAX, 8),
        ];
        for &(v, n) in table {
            let mut out = Vec::new();
            put(&mut out, v);
            assert_eq!(out.len(), n, "length of {v}");
            assert_eq!(len(v), n);
            assert_eq!(get(&out, "v"), Ok((v, n)), "value {v}");
            assert!(matches!(
                get(&out[..n - 1], "v"),
                Err(WireError::Truncated { .. })
            ));
        }
    }

    #[test]
    fn rfc_9000_examples_decode() {
        let table: &[(&[u8], u64)] = &[
            (
                &[0xc2, 0x19, 0x7c, 0x5e, 0xff, 0x14, 0xe8, 0x8c],
                151_288_809_941_952_652,
            ),
            (&[0x9d, 0x7f, 0x3e, 0x7d], 494_878_333),
            (&[0x7b, 0xbd], 15_293),
            (&[0x25], 37),
            (&[0x40, 0x25], 37),
        ];
        for &(bytes, v) in table {
            assert_eq!(get(bytes, "v"), Ok((v, bytes.len())));
        }
    }

    #[test]
    fn too_large_values_are_refused() {
        assert!(check(MAX, "x").is_ok());
        assert!(check(MAX + 1, "x").is_err());
        assert!(get(&[], "x").is_err());
    }
}
