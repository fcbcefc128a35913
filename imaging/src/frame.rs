//! Pixels a tool has already decoded (a video's poster frame): packed 8-bit RGB, upright,
//! rendered like a photo without an image codec on the way in.

use crate::budget;
use crate::encode::Encoder;
use crate::orient::Orientation;
use crate::plan::{Layout, check_dimensions};
use crate::raster::Raster;
use crate::{Decoder, Failure, ImageOptions, Inspection};

pub(crate) fn inspect(
    pixels: &[u8],
    width: u32,
    height: u32,
    opts: &ImageOptions,
) -> Result<Inspection, Failure> {
    check_dimensions(width, height, opts.max_pixels)?;
    if pixels.len() != Raster::len_for(width, height, 3) {
        return Err(Failure::decode(format!(
            "{} bytes are not a {width}×{height} RGB frame",
            pixels.len()
        )));
    }
    let layout = Layout::new(width, height, Orientation::UPRIGHT, &opts.sizes);
    // The frame is held throughout (raw) and copied once into the raster the renditions are
    // resized from: the `image` crate's accounting with no decoder and no conversion.
    let estimate = budget::generic(
        pixels.len(),
        budget::Decode {
            width: u64::from(width),
            height: u64::from(height),
            bytes_per_pixel: 3,
        },
        false,
        false,
        false,
        &layout.targets,
        Orientation::UPRIGHT,
    );
    Ok(Inspection::new(Decoder::Rgb, layout, estimate, None))
}

pub(crate) fn decode(
    pixels: &[u8],
    layout: &Layout,
    opts: &ImageOptions,
) -> Result<(Raster, Encoder), Failure> {
    let raster = Raster {
        pixels: pixels.to_vec(),
        width: layout.width,
        height: layout.height,
        channels: 3,
    };
    Ok((raster, Encoder::jpeg(opts.quality)?))
}
