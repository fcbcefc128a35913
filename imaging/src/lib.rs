//! The photo rendition pipeline: sniff, bound, decode small, orient, resize, encode.
//!
//! A crate of its own so that a fuzz target can build it without the service. [`inspect`] and
//! [`Inspection::render`] are pure and synchronous: rendering is CPU-bound, so the worker runs
//! it in `spawn_blocking`. Neither touches storage, the clock or the network, which keeps them
//! testable on bytes alone and makes a redelivered job produce the same renditions.
//!
//! The order of the steps is what bounds memory:
//! 1. the real format comes from the magic bytes (a declared `content_type` is a claim made by
//!    a client, not a fact), so a PDF posing as `image/jpeg` is refused before any decoder runs
//!    (`sniff`);
//! 2. the dimensions come from the header alone, and `width × height > max_pixels` is refused
//!    with `IMAGE_TOO_LARGE` before a single pixel buffer exists (a 20000×20000 header or a PNG
//!    bomb costs a few hundred bytes of parsing);
//! 3. [`inspect`] also estimates, from the header, every byte the render will hold at its peak
//!    (`budget`), so that the worker can refuse what no budget fits and wait for room for the
//!    rest before a pixel is allocated;
//! 4. JPEGs are decoded once, at the smallest DCT scale that still covers the largest
//!    rendition (shrink-on-load), which is both the biggest speed-up and the biggest memory
//!    saving for camera photos (`jpeg`); PNG and WebP go through the `image` crate
//!    (`generic`);
//! 5. the largest rendition is resized from the decoded image in its stored orientation and
//!    only then rotated/flipped upright (a permutation commutes with resampling, and rotating
//!    a 2 MP rendition is far cheaper than rotating a 6 MP decode); the decoded buffer is then
//!    reused as scratch space; each smaller rendition is resized from the previous one
//!    (`raster`, `orient`, `encode`).
//!
//! Outputs carry no metadata at all: turbojpeg writes only a JFIF header and the PNG encoder
//! writes no `eXIf`, so EXIF (including GPS) and ICC profiles are dropped.

mod budget;
mod colour;
mod encode;
mod frame;
mod generic;
pub mod heif;
mod jpeg;
pub mod measure;
mod orient;
mod plan;
mod raster;
mod sniff;

pub use budget::Estimate;

use aggregates::FailureCode;
use image::ImageFormat;

use colour::ToSrgb;
use encode::Encoder;
use plan::Layout;
use sniff::Format;

/// What to produce and what to refuse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageOptions {
    /// Images with more pixels than this are refused from their header (`IMAGE_TOO_LARGE`).
    pub max_pixels: u64,
    /// Named long-edge boxes; each rendition fits its box and is never upscaled.
    pub sizes: Vec<(String, u32)>,
    /// JPEG quality (1–100) of the renditions.
    pub quality: u8,
}

impl Default for ImageOptions {
    /// 100 MP, the four boxes of the design (320/640/1280/1920), quality 82.
    fn default() -> Self {
        let sizes = [
            ("thumbnail", 320),
            ("small", 640),
            ("medium", 1280),
            ("large", 1920),
        ];
        Self {
            max_pixels: 100_000_000,
            sizes: sizes
                .iter()
                .map(|&(name, edge)| (name.to_owned(), edge))
                .collect(),
            quality: 82,
        }
    }
}

/// One encoded rendition, upright, without metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendition {
    /// The name of its box in [`ImageOptions::sizes`].
    pub name: String,
    pub bytes: Vec<u8>,
    pub width: u32,
    pub height: u32,
    /// `image/jpeg`, or `image/png` when the source uses transparency.
    pub content_type: &'static str,
    /// `jpg` or `png`, for storage keys.
    pub extension: &'static str,
}

/// The result for one photo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Processed {
    /// Width of the original once its EXIF orientation is applied (what a viewer shows).
    pub width: u32,
    /// Height of the original once its EXIF orientation is applied.
    pub height: u32,
    /// One per entry of [`ImageOptions::sizes`], in that order.
    pub renditions: Vec<Rendition>,
}

/// Why a photo produced no renditions; `code` is the per-asset error code of the API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct Failure {
    /// `UnsupportedMedia`: not an image format this build decodes (PDF, HEIC, GIF, unknown
    /// bytes, ...). `ImageTooLarge`: the header announces more than `max_pixels` pixels, or more
    /// memory than the budget. `DecodeFailed`: the bytes look like a supported format but are
    /// empty, truncated or corrupt (also the never-expected failure of an encoder or resizer
    /// on valid pixels).
    pub code: FailureCode,
    pub message: String,
}

impl Failure {
    fn unsupported(message: String) -> Self {
        Self {
            code: FailureCode::UnsupportedMedia,
            message,
        }
    }

    fn too_large(message: String) -> Self {
        Self {
            code: FailureCode::ImageTooLarge,
            message,
        }
    }

    fn decode(message: String) -> Self {
        Self {
            code: FailureCode::DecodeFailed,
            message,
        }
    }
}

/// A photo whose header was read and accepted: what rendering it will do and cost.
///
/// Plain data (no decoder state), so the worker can hold it across the wait for memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspection {
    decoder: Decoder,
    layout: Layout,
    estimate: Estimate,
    /// The embedded ICC profile when its pixels need converting, which happens once the
    /// largest rendition exists.
    icc: Option<Vec<u8>>,
}

/// How the pixels will be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decoder {
    Jpeg(jpeg::Plan),
    Image(ImageFormat),
    /// Packed RGB a tool decoded, `layout`'s size.
    Rgb,
}

impl Inspection {
    /// Keeps `icc` only when its pixels need converting to sRGB, and then counts what the
    /// conversion holds in the estimate.
    fn new(decoder: Decoder, layout: Layout, mut estimate: Estimate, icc: Option<Vec<u8>>) -> Self {
        let icc = icc.filter(|icc| colour::converts(icc));
        if let (Some(icc), Some(largest)) = (&icc, layout.targets.first()) {
            let conversion = colour::working_bytes(icc.len(), largest.width.max(largest.height));
            estimate.working = estimate.working.saturating_add(conversion);
        }
        Self {
            decoder,
            layout,
            estimate,
            icc,
        }
    }

    /// The photo's size once its orientation is applied (what a viewer shows).
    pub fn size(&self) -> (u32, u32) {
        (self.layout.width, self.layout.height)
    }

    /// The memory rendering will hold at its peak, the input bytes included.
    pub fn estimate(&self) -> Estimate {
        self.estimate
    }

    /// Renders every rendition of the photo `bytes` (the same bytes that were inspected).
    pub fn render(&self, bytes: &[u8], opts: &ImageOptions) -> Result<Processed, Failure> {
        let (decoded, mut encoder) = match self.decoder {
            Decoder::Jpeg(plan) => (jpeg::decode(bytes, plan)?, Encoder::jpeg(opts.quality)?),
            Decoder::Image(format) => generic::decode(bytes, format, opts)?,
            Decoder::Rgb => frame::decode(bytes, &self.layout, opts)?,
        };
        let to_srgb = self
            .icc
            .as_deref()
            .and_then(|icc| ToSrgb::new(icc, decoded.channels));
        let renditions = raster::produce(
            decoded,
            to_srgb.as_ref(),
            self.layout.orientation,
            &self.layout.targets,
            &opts.sizes,
            &mut encoder,
        )?;
        Ok(Processed {
            width: self.layout.width,
            height: self.layout.height,
            renditions,
        })
    }
}

/// Reads the header of one photo: format, size, orientation and the memory rendering needs.
///
/// The format is sniffed from `bytes`; `content_type` (the client's claim) only appears in
/// messages. Zero bytes are `DECODE_FAILED`: the upload is not of an unsupported kind, it is
/// a missing or broken image. JPEG, PNG and WebP are decoded; HEIC/HEIF/AVIF, PDF, GIF, TIFF
/// and anything else are `UNSUPPORTED_MEDIA`.
pub fn inspect(
    bytes: &[u8],
    content_type: &str,
    opts: &ImageOptions,
) -> Result<Inspection, Failure> {
    match sniff::sniff(bytes, content_type)? {
        Format::Jpeg => jpeg::inspect(bytes, opts),
        Format::Png => generic::inspect(bytes, ImageFormat::Png, opts),
        Format::WebP => generic::inspect(bytes, ImageFormat::WebP, opts),
    }
}

/// Accepts `pixels`, packed 8-bit RGB of an upright `width`×`height` frame that a tool
/// decoded (a video's poster), for [`Inspection::render`] of the same pixels.
pub fn inspect_rgb(
    pixels: &[u8],
    width: u32,
    height: u32,
    opts: &ImageOptions,
) -> Result<Inspection, Failure> {
    frame::inspect(pixels, width, height, opts)
}

/// Inspects and renders in one go, without a memory budget (tools, benchmarks, tests).
pub fn render(bytes: &[u8], content_type: &str, opts: &ImageOptions) -> Result<Processed, Failure> {
    inspect(bytes, content_type, opts)?.render(bytes, opts)
}
