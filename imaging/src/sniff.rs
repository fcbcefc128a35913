//! The real format of an upload, from its magic bytes: a declared content type is a client's
//! claim, and a PDF posing as `image/jpeg` must be refused before any decoder runs.

use crate::Failure;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Jpeg,
    Png,
    WebP,
}

/// The decodable format of `bytes`, or why it is not one.
pub(crate) fn sniff(bytes: &[u8], declared: &str) -> Result<Format, Failure> {
    if bytes.is_empty() {
        return Err(Failure::decode(format!("empty file (declared {declared})")));
    }
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Ok(Format::Jpeg);
    }
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Ok(Format::Png);
    }
    if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        return Ok(Format::WebP);
    }
    Err(Failure::unsupported(format!(
        "{} (declared {declared})",
        describe_unsupported(bytes)
    )))
}

/// A human description of bytes we do not decode, so that a failed asset says what it was.
fn describe_unsupported(bytes: &[u8]) -> String {
    if let Some(brand) = heif_brand(bytes) {
        return format!(
            "HEIF/HEIC/AVIF image (brand {brand}): libheif decodes it outside this \
             pipeline (the worker's heif-convert)"
        );
    }
    let kind = if bytes.starts_with(b"%PDF-") {
        "a PDF document, not an image"
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        "a GIF image (not supported)"
    } else if bytes.starts_with(b"II*\0") || bytes.starts_with(b"MM\0*") {
        "a TIFF image (not supported)"
    } else if bytes.starts_with(b"BM") {
        "a BMP image (not supported)"
    } else if bytes.get(4..8) == Some(b"ftyp") {
        "an ISO media file (video?), not an image"
    } else {
        "not a JPEG, PNG or WebP image"
    };
    kind.to_owned()
}

/// The HEIF-family brand of an ISO-BMFF `ftyp` box (major or compatible), if any.
pub(crate) fn heif_brand(bytes: &[u8]) -> Option<String> {
    const HEIF_BRANDS: [&[u8; 4]; 12] = [
        b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs", b"mif1", b"msf1",
        b"avif", b"avis",
    ];
    if bytes.get(4..8) != Some(b"ftyp") {
        return None;
    }
    let box_len = u32::from_be_bytes(bytes[..4].try_into().ok()?) as usize;
    let ftyp = &bytes[8..box_len.clamp(8, bytes.len())];
    // major brand, minor version, then compatible brands
    ftyp.get(..4)
        .into_iter()
        .chain(ftyp.get(8..).unwrap_or_default().chunks_exact(4))
        .find(|brand| HEIF_BRANDS.iter().any(|h| h.as_slice() == *brand))
        .map(|brand| String::from_utf8_lossy(brand).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heif_brands_are_recognised() {
        let heic = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic";
        assert_eq!(heif_brand(heic).as_deref(), Some("heic"));
        let mif1 = b"\0\0\0\x14ftypmif1\0\0\0\0heic";
        assert_eq!(heif_brand(mif1).as_deref(), Some("mif1"));
        let mp4 = b"\0\0\0\x14ftypisom\0\0\0\0mp41";
        assert_eq!(heif_brand(mp4), None);
    }
}
