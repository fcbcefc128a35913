//! SSIM (Wang et al. 2004) of two same-size RGB images on BT.601 luma, 8×8 windows every 4
//! pixels, for the quality columns of `scripts/bench images`.

const C1: f64 = (0.01 * 255.0) * (0.01 * 255.0);
const C2: f64 = (0.03 * 255.0) * (0.03 * 255.0);
const WINDOW: u32 = 8;
const STEP: u32 = 4;

fn luma(image: &image::RgbImage) -> Vec<f64> {
    image
        .pixels()
        .map(|p| 0.299 * f64::from(p[0]) + 0.587 * f64::from(p[1]) + 0.114 * f64::from(p[2]))
        .collect()
}

/// The mean SSIM over the windows; 1.0 for identical images.
pub fn ssim(one: &image::RgbImage, two: &image::RgbImage) -> f64 {
    assert_eq!(
        one.dimensions(),
        two.dimensions(),
        "SSIM of different sizes"
    );
    let (width, height) = one.dimensions();
    let (a, b) = (luma(one), luma(two));
    let (mut total, mut windows) = (0.0, 0u64);
    let mut y = 0;
    while y + WINDOW <= height {
        let mut x = 0;
        while x + WINDOW <= width {
            let (mut sa, mut sb, mut saa, mut sbb, mut sab) = (0.0, 0.0, 0.0, 0.0, 0.0);
            for dy in 0..WINDOW {
                let row = ((y + dy) * width + x) as usize;
                for i in row..row + WINDOW as usize {
                    let (p, q) = (a[i], b[i]);
                    sa += p;
                    sb += q;
                    saa += p * p;
                    sbb += q * q;
                    sab += p * q;
                }
            }
            let n = f64::from(WINDOW * WINDOW);
            let (ma, mb) = (sa / n, sb / n);
            let (va, vb, cov) = (saa / n - ma * ma, sbb / n - mb * mb, sab / n - ma * mb);
            total += ((2.0 * ma * mb + C1) * (2.0 * cov + C2))
                / ((ma * ma + mb * mb + C1) * (va + vb + C2));
            windows += 1;
            x += STEP;
        }
        y += STEP;
    }
    if windows == 0 {
        1.0
    } else {
        total / windows as f64
    }
}
