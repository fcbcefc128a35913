//! How far an image is from black or flat.

/// The luma variance of an image: near zero when it is black or flat.
pub fn luma_variance(image: &image::DynamicImage) -> f64 {
    let gray = image.to_luma8();
    let pixels = gray.as_raw();
    let n = pixels.len() as f64;
    let mean = pixels.iter().map(|&p| f64::from(p)).sum::<f64>() / n;
    pixels
        .iter()
        .map(|&p| (f64::from(p) - mean).powi(2))
        .sum::<f64>()
        / n
}
