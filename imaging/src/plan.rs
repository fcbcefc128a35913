//! Which renditions, at which sizes, in which order; and the pixel cap read from the header.

use crate::Failure;
use crate::orient::Orientation;

/// One rendition to produce: its place in the options and its upright size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Target {
    pub(crate) index: usize,
    pub(crate) width: u32,
    pub(crate) height: u32,
}

impl Target {
    pub(crate) fn pixels(&self) -> u64 {
        u64::from(self.width) * u64::from(self.height)
    }
}

/// A photo's upright size and its renditions, from its stored size and EXIF orientation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Layout {
    pub(crate) width: u32,
    pub(crate) height: u32,
    pub(crate) orientation: Orientation,
    /// Every rendition's upright size, largest first.
    pub(crate) targets: Vec<Target>,
}

impl Layout {
    pub(crate) fn new(
        width: u32,
        height: u32,
        orientation: Orientation,
        sizes: &[(String, u32)],
    ) -> Self {
        let (width, height) = orientation.apply_to_size(width, height);
        Self {
            width,
            height,
            orientation,
            targets: plan(width, height, sizes),
        }
    }
}

/// Refuses images whose header announces more than `max_pixels`, before anything is allocated.
pub(crate) fn check_dimensions(width: u32, height: u32, max_pixels: u64) -> Result<(), Failure> {
    if width == 0 || height == 0 {
        return Err(Failure::decode(format!(
            "the header announces an empty {width}x{height} image"
        )));
    }
    let pixels = u64::from(width) * u64::from(height);
    if pixels > max_pixels {
        return Err(Failure::too_large(format!(
            "{width}x{height} is {:.1} MP, over the limit of {:.1} MP",
            pixels as f64 / 1e6,
            max_pixels as f64 / 1e6
        )));
    }
    Ok(())
}

/// The size that fits `width`×`height` in a `edge`-pixel long-edge box without upscaling.
///
/// The long edge becomes exactly `edge`; the short edge is rounded to the nearest pixel (at
/// least 1).
pub(crate) fn fit(width: u32, height: u32, edge: u32) -> (u32, u32) {
    let long = width.max(height);
    if long <= edge {
        return (width, height);
    }
    let scale = |d: u32| {
        let scaled = (u64::from(d) * u64::from(edge) + u64::from(long) / 2) / u64::from(long);
        u32::try_from(scaled).unwrap_or(u32::MAX).max(1)
    };
    (scale(width), scale(height))
}

/// Every rendition's upright size, largest first (each later one is resized from its
/// predecessor, so the order is what makes the chain work).
pub(crate) fn plan(width: u32, height: u32, sizes: &[(String, u32)]) -> Vec<Target> {
    let mut targets: Vec<Target> = sizes
        .iter()
        .enumerate()
        .map(|(index, &(_, edge))| {
            let (width, height) = fit(width, height, edge);
            Target {
                index,
                width,
                height,
            }
        })
        .collect();
    targets.sort_by_key(|t| std::cmp::Reverse(t.pixels()));
    targets
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ImageOptions;

    #[test]
    fn fit_keeps_the_long_edge_exact_and_never_upscales() {
        assert_eq!(fit(640, 427, 320), (320, 214));
        assert_eq!(fit(427, 640, 320), (214, 320));
        assert_eq!(fit(640, 427, 640), (640, 427));
        assert_eq!(fit(640, 427, 1920), (640, 427));
        assert_eq!(fit(6000, 4000, 1920), (1920, 1280));
        assert_eq!(fit(10_000, 1, 320), (320, 1));
    }

    #[test]
    fn plan_orders_largest_first_and_remembers_positions() {
        let sizes = ImageOptions::default().sizes;
        let targets = plan(6000, 4000, &sizes);
        let order: Vec<usize> = targets.iter().map(|t| t.index).collect();
        assert_eq!(order, [3, 2, 1, 0]);
        assert_eq!((targets[0].width, targets[0].height), (1920, 1280));
    }
}
