//! JPEG: turbojpeg with DCT scaling, and the marker walk that finds EXIF and the frame layout.

use turbojpeg::{Colorspace, DecompressHeader, Decompressor, PixelFormat, ScalingFactor};

use crate::budget;
use crate::orient::Orientation;
use crate::plan::{Layout, check_dimensions};
use crate::raster::Raster;
use crate::{Decoder, Failure, ImageOptions, Inspection};

/// Guards against the progressive-JPEG "many scans" CPU exhaustion; real encoders write < 20.
const MAX_JPEG_SCANS: u32 = 500;

/// How an inspected JPEG is decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Plan {
    scale: ScalingFactor,
    /// CMYK/YCCK, decoded through CMYK (4 bytes per pixel) and converted in place.
    cmyk: bool,
}

fn tj_failed(e: turbojpeg::Error) -> Failure {
    Failure::decode(format!("JPEG: {e}"))
}

pub(crate) fn inspect(bytes: &[u8], opts: &ImageOptions) -> Result<Inspection, Failure> {
    let header = Decompressor::new()
        .and_then(|mut d| d.read_header(bytes))
        .map_err(tj_failed)?;
    let width =
        u32::try_from(header.width).map_err(|_| Failure::decode("JPEG width overflow".into()))?;
    let height =
        u32::try_from(header.height).map_err(|_| Failure::decode("JPEG height overflow".into()))?;
    check_dimensions(width, height, opts.max_pixels)?;

    let markers = Markers::read(bytes);
    let orientation = markers
        .exif
        .map_or(Orientation::UPRIGHT, Orientation::from_exif_payload);
    let layout = Layout::new(width, height, orientation, &opts.sizes);
    let needed = layout
        .targets
        .first()
        .map_or((1, 1), |t| orientation.apply_to_size(t.width, t.height));
    let scale = if header.is_lossless {
        ScalingFactor::ONE
    } else {
        dct_scale(header.width, header.height, needed)
    };
    let cmyk = matches!(header.colorspace, Colorspace::CMYK | Colorspace::YCCK);
    let scaled = header.scaled(scale);
    // libjpeg keeps every coefficient of the image when it must read all scans before
    // producing a row: progressive files, and sequential ones whose first scan lacks a component.
    let whole_image = header.is_progressive || markers.multiple_scans();
    let estimate = budget::jpeg(
        bytes.len(),
        budget::Decode {
            width: scaled.width as u64,
            height: scaled.height as u64,
            bytes_per_pixel: if cmyk { 4 } else { 3 },
        },
        header.width as u64,
        whole_image.then(|| markers.coefficient_bytes(&header)),
        &layout.targets,
        orientation,
    );
    Ok(Inspection::new(
        Decoder::Jpeg(Plan { scale, cmyk }),
        layout,
        estimate,
        markers.icc(),
    ))
}

/// The smallest DCT scale (1/8, 1/4, 1/2 or 1) whose output still covers `needed` (the
/// largest rendition, in stored orientation) in both dimensions, so no rendition is ever
/// upscaled from a shrunken decode.
///
/// Only powers of two, as libvips does: libjpeg-turbo has SIMD inverse DCTs for 1, 1/2 and
/// 1/4 (1/8 is the DC coefficient alone) while the other eighths are scalar C, and on 12–20 MP
/// photos allowing 3/8 etc. measured no faster overall (within noise) than decoding at the next
/// power of two and resizing the difference.
fn dct_scale(width: usize, height: usize, needed: (u32, u32)) -> ScalingFactor {
    [
        ScalingFactor::ONE_EIGHTH,
        ScalingFactor::ONE_QUARTER,
        ScalingFactor::ONE_HALF,
    ]
    .into_iter()
    .find(|s| s.scale(width) >= needed.0 as usize && s.scale(height) >= needed.1 as usize)
    .unwrap_or(ScalingFactor::ONE)
}

/// Decompresses once at the planned scale to RGB (CMYK/YCCK JPEGs through CMYK).
///
/// Any libjpeg warning is a failure: a truncated file decodes "successfully" with its missing
/// rows grey, which must be `DECODE_FAILED`, not a grey-bottomed rendition. (sharp's default,
/// `failOn: 'warning'`, is equally strict; the cost is that a rare non-conformant camera file
/// that browsers still display is refused.)
pub(crate) fn decode(bytes: &[u8], plan: Plan) -> Result<Raster, Failure> {
    let mut decompressor = Decompressor::new().map_err(tj_failed)?;
    let header = decompressor.read_header(bytes).map_err(tj_failed)?;
    decompressor
        .set_scaling_factor(plan.scale)
        .map_err(tj_failed)?;
    decompressor
        .set_scan_limit(MAX_JPEG_SCANS)
        .map_err(tj_failed)?;
    let scaled = header.scaled(plan.scale);
    let format = if plan.cmyk {
        PixelFormat::CMYK
    } else {
        PixelFormat::RGB
    };
    let mut pixels = vec![0u8; scaled.width * scaled.height * format.size()];
    let output = turbojpeg::Image {
        pixels: pixels.as_mut_slice(),
        width: scaled.width,
        pitch: scaled.width * format.size(),
        height: scaled.height,
        format,
    };
    decompressor.decompress(bytes, output).map_err(tj_failed)?;
    if plan.cmyk {
        cmyk_to_rgb(&mut pixels);
    }
    // both fit in u32: they are at most the header's, which passed `check_dimensions`
    Ok(Raster {
        pixels,
        width: scaled.width as u32,
        height: scaled.height as u32,
        channels: 3,
    })
}

/// Converts Adobe (inverted) CMYK, as Photoshop writes it, to RGB in place, compacting
/// 4 bytes per pixel to 3. Naive (no ICC profile), which is what browsers do too.
fn cmyk_to_rgb(pixels: &mut Vec<u8>) {
    let count = pixels.len() / 4;
    for i in 0..count {
        let [c, m, y, k] = [0, 1, 2, 3].map(|j| u16::from(pixels[i * 4 + j]));
        let ink = |v: u16| ((v * k + 127) / 255) as u8;
        pixels[i * 3..i * 3 + 3].copy_from_slice(&[ink(c), ink(m), ink(y)]);
    }
    pixels.truncate(count * 3);
}

/// How an APP2 segment holding (a chunk of) an ICC profile starts; a sequence number and the
/// chunk count follow.
const ICC_SIGNATURE: &[u8] = b"ICC_PROFILE\0";

/// What the marker segments before the first scan say, as far as they are well formed.
#[derive(Debug, Default)]
struct Markers<'a> {
    /// The TIFF payload of the first `Exif` APP1 segment.
    exif: Option<&'a [u8]>,
    /// The chunks of an ICC profile (APP2 `ICC_PROFILE` segments), by sequence number.
    icc: Vec<(u8, &'a [u8])>,
    /// Each frame component's (horizontal, vertical) sampling factors, from the SOF segment.
    sampling: Vec<(u8, u8)>,
    /// How many components the first scan (SOS) codes.
    first_scan: Option<u8>,
}

impl<'a> Markers<'a> {
    /// Walks the marker segments up to the first scan (kamadak-exif's own container reader
    /// would scan the entropy-coded data of a JPEG without EXIF to its end).
    fn read(bytes: &'a [u8]) -> Self {
        let mut markers = Self::default();
        let mut pos = 2;
        loop {
            while bytes.get(pos) == Some(&0xFF) && bytes.get(pos + 1) == Some(&0xFF) {
                pos += 1; // fill bytes
            }
            let (Some(&0xFF), Some(&marker)) = (bytes.get(pos), bytes.get(pos + 1)) else {
                return markers;
            };
            if marker == 0xD9 {
                return markers; // EOI
            }
            if matches!(marker, 0x01 | 0xD0..=0xD7) {
                pos += 2; // stand-alone markers carry no length
                continue;
            }
            let Some(len) = bytes
                .get(pos + 2..pos + 4)
                .map(|l| usize::from(u16::from_be_bytes([l[0], l[1]])))
            else {
                return markers;
            };
            let Some(segment) = bytes.get(pos + 4..pos + 2 + len) else {
                return markers;
            };
            match marker {
                0xDA => {
                    markers.first_scan = segment.first().copied();
                    return markers;
                }
                0xE1 if markers.exif.is_none() && segment.starts_with(b"Exif\0\0") => {
                    markers.exif = Some(&segment[6..]);
                }
                0xE2 if segment.len() > 14 && segment.starts_with(ICC_SIGNATURE) => {
                    markers.icc.push((segment[12], &segment[14..]));
                }
                // SOF0–SOF15 except DHT (C4), JPG (C8) and DAC (CC)
                0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                    let count = segment.get(5).map_or(0, |&n| usize::from(n));
                    markers.sampling = segment
                        .get(6..6 + 3 * count)
                        .unwrap_or_default()
                        .chunks_exact(3)
                        .map(|c| (c[1] >> 4, c[1] & 0x0F))
                        .collect();
                }
                _ => {}
            }
            pos += 2 + len;
        }
    }

    /// The embedded ICC profile, its chunks joined in sequence order.
    fn icc(&self) -> Option<Vec<u8>> {
        if self.icc.is_empty() {
            return None;
        }
        let mut chunks = self.icc.clone();
        chunks.sort_by_key(|(sequence, _)| *sequence);
        Some(
            chunks
                .into_iter()
                .flat_map(|(_, chunk)| chunk)
                .copied()
                .collect(),
        )
    }

    /// Whether libjpeg will see more than one scan: the first codes fewer components than the
    /// frame has (or the walk could not tell, which is counted as the costly case).
    fn multiple_scans(&self) -> bool {
        match self.first_scan {
            Some(n) => usize::from(n) < self.sampling.len(),
            None => true,
        }
    }

    /// The bytes of libjpeg's whole-image coefficient arrays: per component, its blocks (the
    /// component's resolution rounded up to whole MCUs) × 64 coefficients × 2 bytes. Without
    /// a readable frame layout, four full-resolution components.
    fn coefficient_bytes(&self, header: &DecompressHeader) -> u64 {
        let (w, h) = (header.width as u64, header.height as u64);
        let valid = !self.sampling.is_empty()
            && self
                .sampling
                .iter()
                .all(|&(h, v)| (1..=4).contains(&h) && (1..=4).contains(&v));
        let sampling: &[(u8, u8)] = if valid { &self.sampling } else { &[(1, 1); 4] };
        let h_max = sampling.iter().map(|s| u64::from(s.0)).max().unwrap_or(1);
        let v_max = sampling.iter().map(|s| u64::from(s.1)).max().unwrap_or(1);
        sampling
            .iter()
            .map(|&(hs, vs)| {
                let (hs, vs) = (u64::from(hs), u64::from(vs));
                let blocks_w = (w * hs).div_ceil(h_max * 8).next_multiple_of(hs);
                let blocks_h = (h * vs).div_ceil(v_max * 8).next_multiple_of(vs);
                blocks_w * blocks_h * 64 * 2
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dct_scale_is_the_smallest_that_covers() {
        assert_eq!(dct_scale(6000, 4000, (1920, 1280)), ScalingFactor::ONE_HALF);
        assert_eq!(
            dct_scale(8000, 6000, (1920, 1440)),
            ScalingFactor::ONE_QUARTER
        );
        assert_eq!(dct_scale(4000, 3000, (1920, 1440)), ScalingFactor::ONE_HALF);
        assert_eq!(dct_scale(3000, 2000, (1920, 1280)), ScalingFactor::ONE);
        assert_eq!(dct_scale(640, 427, (80, 53)), ScalingFactor::ONE_EIGHTH);
        assert_eq!(dct_scale(640, 427, (100, 67)), ScalingFactor::ONE_QUARTER);
    }

    #[test]
    fn icc_chunks_are_joined_in_sequence_order() {
        let app2 = |sequence: u8, chunk: &[u8]| {
            let len = u16::try_from(2 + 14 + chunk.len()).unwrap();
            let mut segment = vec![0xFF, 0xE2];
            segment.extend_from_slice(&len.to_be_bytes());
            segment.extend_from_slice(ICC_SIGNATURE);
            segment.extend_from_slice(&[sequence, 2]);
            segment.extend_from_slice(chunk);
            segment
        };
        let mut jpeg = vec![0xFF, 0xD8];
        jpeg.extend(app2(2, b"world"));
        jpeg.extend(app2(1, b"hello "));
        jpeg.extend([0xFF, 0xD9]);
        assert_eq!(
            Markers::read(&jpeg).icc().as_deref(),
            Some(&b"hello world"[..])
        );
        assert_eq!(Markers::read(&[0xFF, 0xD8, 0xFF, 0xD9]).icc(), None);
    }

    #[test]
    fn cmyk_compaction() {
        let mut cmyk = vec![255, 0, 0, 255, 0, 0, 0, 0];
        cmyk_to_rgb(&mut cmyk);
        assert_eq!(cmyk, [255, 0, 0, 0, 0, 0]);
    }
}
