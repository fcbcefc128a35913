//! The first bytes of a file, checked before any tool sees it.
//!
//! ffmpeg's own probing is how a text HLS playlist or a concat script named `.mp4` makes it
//! open URLs and local files. Forcing the `mov` demuxer already closes that path; refusing
//! everything that does not even start like the ISO-BMFF/QuickTime family is the second
//! lock, and gives the client `UNSUPPORTED_MEDIA` rather than a decode error.

use std::path::Path;

use aggregates::FailureCode;
use tokio::io::AsyncReadExt;

use crate::{Failure, failure};

/// How far into a file the signatures are looked for (`%PDF-` may follow some junk).
const HEAD: u64 = 1024;

/// The QuickTime atoms a file without `ftyp` may start with.
const QUICKTIME_ATOMS: [&[u8; 4]; 5] = [b"moov", b"mdat", b"wide", b"free", b"skip"];

/// Accepts an ISO-BMFF/QuickTime file (MP4, MOV, M4V, 3GP).
pub(crate) async fn video(path: &Path) -> Result<(), Failure> {
    let (head, len) = read_head(path).await?;
    if is_mov_family(&head, len) {
        Ok(())
    } else {
        Err(unsupported("not an MP4/QuickTime file", &head))
    }
}

/// Accepts a HEIF-family image (HEIC, AVIF): an `ftyp` box with one of their brands.
pub(crate) async fn heif(path: &Path) -> Result<(), Failure> {
    let (head, _) = read_head(path).await?;
    if toq_imaging::heif::is_heif(&head) {
        Ok(())
    } else {
        Err(unsupported("not a HEIF image", &head))
    }
}

/// Accepts a PDF.
pub(crate) async fn pdf(path: &Path) -> Result<(), Failure> {
    let (head, _) = read_head(path).await?;
    if head.windows(5).any(|w| w == b"%PDF-") {
        Ok(())
    } else {
        Err(unsupported("not a PDF", &head))
    }
}

async fn read_head(path: &Path) -> Result<(Vec<u8>, u64), Failure> {
    let unreadable =
        |e: std::io::Error| failure(FailureCode::DecodeFailed, format!("unreadable file: {e}"));
    let file = tokio::fs::File::open(path).await.map_err(unreadable)?;
    let len = file.metadata().await.map_err(unreadable)?.len();
    let mut head = Vec::new();
    file.take(HEAD)
        .read_to_end(&mut head)
        .await
        .map_err(unreadable)?;
    if head.is_empty() {
        return Err(failure(FailureCode::DecodeFailed, "empty file"));
    }
    Ok((head, len))
}

fn unsupported(what: &str, head: &[u8]) -> Failure {
    let start = String::from_utf8_lossy(&head[..head.len().min(16)]).into_owned();
    failure(
        FailureCode::UnsupportedMedia,
        format!("{what} (starts with {start:?})"),
    )
}

/// An `ftyp` box first (a sane size and a brand list of printable four-character codes), or
/// a QuickTime atom of a sane size.
fn is_mov_family(head: &[u8], file_len: u64) -> bool {
    let Some((size, kind)) = atom_header(head) else {
        return false;
    };
    if kind == b"ftyp" {
        // Major brand and minor version, then whole compatible brands.
        let brands_fit = (16..=256).contains(&size) && size % 4 == 0 && size <= file_len;
        return brands_fit
            && head.len() as u64 >= size
            && head[8..size as usize]
                .chunks(4)
                .enumerate()
                // The second field is the minor version, a number.
                .filter(|&(i, _)| i != 1)
                .all(|(_, brand)| brand.iter().all(|b| b.is_ascii_graphic() || *b == b' '));
    }
    let known = QUICKTIME_ATOMS.contains(&kind);
    let sane = match size {
        // 64-bit size in the next 8 bytes.
        1 => head
            .get(8..16)
            .map(|b| u64::from_be_bytes(b.try_into().expect("8 bytes")))
            .is_some_and(|large| (16..=file_len).contains(&large)),
        size => (8..=file_len).contains(&size),
    };
    known && sane
}

/// The size and type of the atom at the start of `head`.
fn atom_header(head: &[u8]) -> Option<(u64, &[u8; 4])> {
    let size = u32::from_be_bytes(head.get(..4)?.try_into().ok()?);
    Some((u64::from(size), head.get(4..8)?.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ftyp(brands: &[&[u8; 4]]) -> Vec<u8> {
        let size = 16 + 4 * brands.len() as u32;
        let mut bytes = size.to_be_bytes().to_vec();
        bytes.extend_from_slice(b"ftypisom\0\0\x02\0");
        brands.iter().for_each(|b| bytes.extend_from_slice(*b));
        bytes.extend_from_slice(&[0; 64]);
        bytes
    }

    #[test]
    fn accepts_ftyp_with_brands() {
        let bytes = ftyp(&[b"isom", b"iso2", b"avc1", b"mp41"]);
        assert!(is_mov_family(&bytes, bytes.len() as u64));
        let qt = ftyp(&[b"qt  "]);
        assert!(is_mov_family(&qt, 1 << 20));
    }

    #[test]
    fn accepts_quicktime_atoms() {
        let wide = b"\0\0\0\x08wide\0\0\x10\0mdat";
        assert!(is_mov_family(wide, 1 << 20));
        let large = b"\0\0\0\x01mdat\0\0\0\0\0\x01\0\0";
        assert!(is_mov_family(large, 1 << 20));
    }

    #[test]
    fn refuses_everything_else() {
        let cases: [&[u8]; 7] = [
            b"#EXTM3U\n#EXT-X-VERSION:3\n",
            b"ffconcat version 1.0\nfile '/etc/passwd'\n",
            b"v=0\no=- 0 0 IN IP4 127.0.0.1\n",
            b"\x1aE\xdf\xa3 matroska",
            b"\0\0\0\x20ftyp",               // cut short
            b"\0\0\x10\0ftypisom\0\0\x02\0", // absurd ftyp size
            b"\0\0\0\x04moov",               // atom smaller than its header
        ];
        for bytes in cases {
            assert!(!is_mov_family(bytes, 1 << 20), "{bytes:?}");
        }
        let bytes = ftyp(&[b"is\nm"]);
        assert!(!is_mov_family(&bytes, 1 << 20));
        // A size beyond the end of the file.
        assert!(!is_mov_family(b"\0\0\x10\0moov", 100));
    }
}
