//! PNG and WebP: the `image` crate's decoders, converted to 8-bit RGB or RGBA.

use std::io::Cursor;

use image::{ColorType, DynamicImage, ImageDecoder, ImageFormat, ImageReader};

use crate::budget;
use crate::encode::Encoder;
use crate::orient::Orientation;
use crate::plan::{Layout, check_dimensions};
use crate::raster::Raster;
use crate::{Decoder, Failure, ImageOptions, Inspection};

/// A decoder over `bytes`; `into_decoder` parses only the header (and the metadata chunks
/// before the pixel data).
fn decoder(bytes: &[u8], format: ImageFormat) -> Result<impl ImageDecoder + '_, Failure> {
    ImageReader::with_format(Cursor::new(bytes), format)
        .into_decoder()
        .map_err(|e| image_failed(format, e))
}

fn image_failed(format: ImageFormat, e: image::ImageError) -> Failure {
    match e {
        image::ImageError::Limits(_) => Failure::too_large(format!("{format:?}: {e}")),
        _ => Failure::decode(format!("{format:?}: {e}")),
    }
}

pub(crate) fn inspect(
    bytes: &[u8],
    format: ImageFormat,
    opts: &ImageOptions,
) -> Result<Inspection, Failure> {
    let mut decoder = decoder(bytes, format)?;
    let (width, height) = decoder.dimensions();
    check_dimensions(width, height, opts.max_pixels)?;
    let orientation = decoder
        .orientation()
        .map_or(Orientation::UPRIGHT, Orientation::from_image);
    let layout = Layout::new(width, height, orientation, &opts.sizes);
    let color = decoder.color_type();
    let estimate = budget::generic(
        bytes.len(),
        budget::Decode {
            width: u64::from(width),
            height: u64::from(height),
            bytes_per_pixel: u64::from(color.bytes_per_pixel()),
        },
        format == ImageFormat::WebP,
        color.has_alpha(),
        // anything but 8-bit RGB(A) is converted into a second buffer
        !matches!(color, ColorType::Rgb8 | ColorType::Rgba8),
        &layout.targets,
        orientation,
    );
    // A profile that cannot be read is ignored, like one that is not RGB (`colour`).
    let icc = decoder.icc_profile().ok().flatten();
    Ok(Inspection::new(
        Decoder::Image(format),
        layout,
        estimate,
        icc,
    ))
}

/// The decoded 8-bit raster, and the encoder its renditions need.
pub(crate) fn decode(
    bytes: &[u8],
    format: ImageFormat,
    opts: &ImageOptions,
) -> Result<(Raster, Encoder), Failure> {
    let decoded =
        DynamicImage::from_decoder(decoder(bytes, format)?).map_err(|e| image_failed(format, e))?;
    let raster = into_raster(decoded);
    let encoder = if raster.channels == 4 {
        Encoder::Png
    } else {
        Encoder::jpeg(opts.quality)?
    };
    Ok((raster, encoder))
}

/// 8-bit RGB, or RGBA when the alpha channel is actually used (an all-opaque alpha channel,
/// common in PNG exports, would otherwise turn a photo into a large PNG rendition).
fn into_raster(decoded: DynamicImage) -> Raster {
    let (width, height) = (decoded.width(), decoded.height());
    if !decoded.color().has_alpha() {
        return Raster {
            pixels: decoded.into_rgb8().into_raw(),
            width,
            height,
            channels: 3,
        };
    }
    let mut pixels = decoded.into_rgba8().into_raw();
    if pixels.chunks_exact(4).any(|p| p[3] != u8::MAX) {
        return Raster {
            pixels,
            width,
            height,
            channels: 4,
        };
    }
    drop_alpha(&mut pixels);
    Raster {
        pixels,
        width,
        height,
        channels: 3,
    }
}

/// RGBA → RGB in place (no second buffer).
fn drop_alpha(pixels: &mut Vec<u8>) {
    let count = pixels.len() / 4;
    for i in 0..count {
        pixels.copy_within(i * 4..i * 4 + 3, i * 3);
    }
    pixels.truncate(count * 3);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alpha_compaction() {
        let mut rgba = vec![1, 2, 3, 255, 4, 5, 6, 255];
        drop_alpha(&mut rgba);
        assert_eq!(rgba, [1, 2, 3, 4, 5, 6]);
    }
}
