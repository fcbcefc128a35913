//! Fitting a frame inside a long-edge box.

/// `width`×`height` scaled to fit `long_edge`, never upscaled, both sides at least 1 (or,
/// with `even`, at least 2 and even, as 4:2:0 chroma needs).
pub(crate) fn fit(width: u32, height: u32, long_edge: u32, even: bool) -> (u32, u32) {
    let long = width.max(height);
    let scale = |side: u32| -> u32 {
        let scaled = if long <= long_edge {
            side
        } else {
            // Rounded; fits u32 because the result is at most `side`.
            ((u64::from(side) * u64::from(long_edge) + u64::from(long) / 2) / u64::from(long))
                as u32
        };
        if even {
            (scaled & !1).max(2)
        } else {
            scaled.max(1)
        }
    };
    (scale(width), scale(height))
}

#[cfg(test)]
mod tests {
    use super::fit;

    #[test]
    fn fits_the_long_edge_and_never_upscales() {
        assert_eq!(fit(3840, 2160, 1920, true), (1920, 1080));
        assert_eq!(fit(720, 1280, 1920, true), (720, 1280));
        assert_eq!(fit(2160, 3840, 1920, true), (1080, 1920));
        assert_eq!(fit(1001, 3, 1920, true), (1000, 2));
        assert_eq!(fit(1001, 3, 1920, false), (1001, 3));
        assert_eq!(fit(4000, 1, 1000, false), (1000, 1));
    }
}
