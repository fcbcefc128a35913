//! HEIF containers (HEIC, AVIF): the primary image's size from the boxes alone.
//!
//! HEIF pixels are decoded by libheif in a sandboxed child process (`toq_tools`); this is
//! what runs before it, in process and in pure Rust, so that a header declaring more than
//! `max_pixels` is refused before any decoder sees the file. Only the boxes on the path to the
//! primary item's `ispe` (image spatial extents) are read: `meta` → `pitm`, `iprp` → `ipco`,
//! `ipma`. A tile grid declares its whole output size in its own `ispe`, and a rotation
//! (`irot`) does not change the pixel count.

use crate::Failure;
use crate::plan::check_dimensions;

/// The primary image's stored size (before `irot`), checked against `max_pixels`.
pub fn primary_size(bytes: &[u8], max_pixels: u64) -> Result<(u32, u32), Failure> {
    let (width, height) =
        read_primary_size(bytes).map_err(|e| Failure::decode(format!("HEIF: {e}")))?;
    check_dimensions(width, height, max_pixels)?;
    Ok((width, height))
}

/// Whether `bytes` start with an `ftyp` box naming a HEIF-family brand.
pub fn is_heif(bytes: &[u8]) -> bool {
    crate::sniff::heif_brand(bytes).is_some()
}

fn read_primary_size(bytes: &[u8]) -> Result<(u32, u32), &'static str> {
    let meta = children(bytes)
        .find_map(|b| b.ok().filter(|(kind, _)| kind == b"meta"))
        .ok_or("no meta box")?
        .1;
    // `meta` is a full box: version and flags, then its children.
    let meta = meta.get(4..).ok_or("meta box cut short")?;
    let mut primary = None;
    let mut iprp = None;
    for child in children(meta) {
        match child? {
            (kind, body) if &kind == b"pitm" => primary = Some(pitm(body)?),
            (kind, body) if &kind == b"iprp" => iprp = Some(body),
            _ => {}
        }
    }
    let primary = primary.ok_or("no primary item (pitm)")?;
    let iprp = iprp.ok_or("no item properties (iprp)")?;
    let mut properties = Vec::new();
    let mut associations = None;
    for child in children(iprp) {
        match child? {
            (kind, body) if &kind == b"ipco" => {
                properties = children(body).collect::<Result<Vec<_>, _>>()?;
            }
            (kind, body) if &kind == b"ipma" && associations.is_none() => {
                associations = associated(body, primary)?;
            }
            _ => {}
        }
    }
    let associations = associations.ok_or("the primary item has no properties")?;
    associations
        .into_iter()
        .filter_map(|index| properties.get(index.checked_sub(1)?))
        .find(|(kind, _)| kind == b"ispe")
        .ok_or("the primary item has no size (ispe)")
        .and_then(|(_, body)| ispe(body))
}

/// A box: its type and its body.
type Bmff<'a> = ([u8; 4], &'a [u8]);

/// The boxes laid end to end in `bytes`, or why the next one is malformed.
fn children(bytes: &[u8]) -> impl Iterator<Item = Result<Bmff<'_>, &'static str>> {
    let mut rest = bytes;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let next = split_box(rest);
        rest = match next {
            Ok((_, after)) => after,
            Err(_) => &[],
        };
        Some(next.map(|(found, _)| found))
    })
}

/// The first box of `bytes`, and what follows it.
fn split_box(bytes: &[u8]) -> Result<(Bmff<'_>, &[u8]), &'static str> {
    const SHORT: &str = "box header cut short";
    let size = u64::from(be_u32(bytes, 0).ok_or(SHORT)?);
    let kind: [u8; 4] = bytes.get(4..8).ok_or(SHORT)?.try_into().expect("4 bytes");
    let (header, size) = match size {
        0 => (8, bytes.len() as u64),
        1 => (16, be_u64(bytes, 8).ok_or(SHORT)?),
        size => (8, size),
    };
    if size < header || size > bytes.len() as u64 {
        return Err("a box size beyond its container");
    }
    let (whole, after) = bytes.split_at(size as usize);
    Ok(((kind, &whole[header as usize..]), after))
}

/// The item id of a `pitm` full box.
fn pitm(body: &[u8]) -> Result<u32, &'static str> {
    let id = match body.first() {
        Some(0) => be_u16(body, 4).map(u32::from),
        Some(_) => be_u32(body, 4),
        None => None,
    };
    id.ok_or("pitm box cut short")
}

/// The 1-based `ipco` indexes associated with `item` by an `ipma` full box, if it lists it.
fn associated(body: &[u8], item: u32) -> Result<Option<Vec<usize>>, &'static str> {
    const SHORT: &str = "ipma box cut short";
    let version = *body.first().ok_or(SHORT)?;
    let wide_index = body.get(3).ok_or(SHORT)? & 1 == 1;
    let entries = be_u32(body, 4).ok_or(SHORT)?;
    let mut at = 8;
    for _ in 0..entries {
        let id = if version < 1 {
            let id = be_u16(body, at).map(u32::from);
            at += 2;
            id
        } else {
            let id = be_u32(body, at);
            at += 4;
            id
        }
        .ok_or(SHORT)?;
        let count = usize::from(*body.get(at).ok_or(SHORT)?);
        at += 1;
        let width = if wide_index { 2 } else { 1 };
        let list = body.get(at..at + count * width).ok_or(SHORT)?;
        at += count * width;
        if id == item {
            let indexes = if wide_index {
                list.chunks_exact(2)
                    .map(|c| usize::from(u16::from_be_bytes([c[0], c[1]]) & 0x7FFF))
                    .collect()
            } else {
                list.iter().map(|b| usize::from(b & 0x7F)).collect()
            };
            return Ok(Some(indexes));
        }
    }
    Ok(None)
}

/// Width and height of an `ispe` full box.
fn ispe(body: &[u8]) -> Result<(u32, u32), &'static str> {
    match (be_u32(body, 4), be_u32(body, 8)) {
        (Some(w), Some(h)) if w > 0 && h > 0 => Ok((w, h)),
        (Some(_), Some(_)) => Err("an image size of zero"),
        _ => Err("ispe box cut short"),
    }
}

fn be_u16(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

fn be_u32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

fn be_u64(bytes: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aggregates::FailureCode;
    use proptest::prelude::*;

    fn boxed(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let size = u32::try_from(8 + body.len()).expect("small box");
        [&size.to_be_bytes()[..], kind, body].concat()
    }

    /// A full box of version 0, flags 0.
    fn full(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        boxed(kind, &[&[0u8; 4][..], body].concat())
    }

    /// A minimal HEIF: ftyp, then meta with pitm and iprp (ipco: hvcC, ispe; ipma).
    fn heif(width: u32, height: u32, primary: u16) -> Vec<u8> {
        let ispe = full(
            b"ispe",
            &[width.to_be_bytes(), height.to_be_bytes()].concat(),
        );
        let hvcc = boxed(b"hvcC", &[1, 2, 3]);
        let ipco = boxed(b"ipco", &[hvcc, ispe].concat());
        // entry count 2: item 9 → [1], item `primary` → [1 essential, 2]
        let mut ipma = 2u32.to_be_bytes().to_vec();
        ipma.extend_from_slice(&[0, 9, 1, 0x81]);
        ipma.extend_from_slice(&primary.to_be_bytes());
        ipma.extend_from_slice(&[2, 0x81, 0x02]);
        let iprp = boxed(b"iprp", &[ipco, full(b"ipma", &ipma)].concat());
        let pitm = full(b"pitm", &1u16.to_be_bytes());
        let meta = full(b"meta", &[pitm, iprp].concat());
        [boxed(b"ftyp", b"heic\0\0\0\0mif1heic"), meta].concat()
    }

    #[test]
    fn reads_the_primary_items_size() {
        let file = heif(4032, 3024, 1);
        assert!(is_heif(&file));
        assert_eq!(primary_size(&file, 100_000_000), Ok((4032, 3024)));
    }

    #[test]
    fn refuses_a_size_over_the_limit_from_the_header() {
        let file = heif(20_000, 20_000, 1);
        let refused = primary_size(&file, 100_000_000).unwrap_err();
        assert_eq!(refused.code, FailureCode::ImageTooLarge);
    }

    #[test]
    fn malformed_boxes_are_decode_failures() {
        let file = heif(64, 64, 1);
        for cut in [30, file.len() - 3] {
            let refused = primary_size(&file[..cut], 1 << 30).unwrap_err();
            assert_eq!(refused.code, FailureCode::DecodeFailed, "{cut}");
        }
        // the primary item has no properties of its own
        let orphan = primary_size(&heif(64, 64, 7), 1 << 30).unwrap_err();
        assert!(
            orphan.message.contains("no properties"),
            "{}",
            orphan.message
        );
    }

    proptest! {
        /// Damaged boxes (bytes changed, the file cut anywhere) are refused, never a panic.
        #[test]
        fn damage_is_a_refusal_not_a_panic(
            cut in 0usize..160,
            changes in proptest::collection::vec((0usize..160, any::<u8>()), 0..8),
        ) {
            let mut file = heif(640, 480, 1);
            for (at, byte) in changes {
                if let Some(b) = file.get_mut(at) {
                    *b = byte;
                }
            }
            file.truncate(cut);
            if let Err(refused) = primary_size(&file, 1 << 30) {
                prop_assert!(
                    [FailureCode::DecodeFailed, FailureCode::ImageTooLarge].contains(&refused.code)
                );
            }
        }
    }
}
