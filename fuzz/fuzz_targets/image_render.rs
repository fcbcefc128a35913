//! Arbitrary bytes through the photo pipeline (`toq_imaging::inspect`, the budget check the
//! worker applies, then `render`), with a small pixel cap and budget so iterations stay fast.
//!
//! A HEIF file (whose pixels a sandboxed tool decodes, not this pipeline) goes through the box
//! reader that checks its declared size first (`toq_imaging::heif::primary_size`).
//!
//! Oracle: no panic; every refusal is one of the pipeline's codes; and a render the budget
//! admitted never allocates more than its estimate (a counting global allocator measures the
//! peak of the Rust heap over inspect + render; libjpeg's own C allocations do not pass through
//! it, so for JPEG this checks the Rust side only).
#![no_main]

use aggregates::FailureCode;
use libfuzzer_sys::fuzz_target;
use toq_imaging::ImageOptions;
use toq_imaging::measure::Counting;

#[global_allocator]
static HEAP: Counting = Counting::new();

const BUDGET_MIB: u32 = 16;

fuzz_target!(|data: &[u8]| {
    let opts = ImageOptions {
        max_pixels: 1_000_000,
        ..ImageOptions::default()
    };
    if toq_imaging::heif::is_heif(data) {
        let size = toq_imaging::heif::primary_size(data, opts.max_pixels);
        if let Err(failure) = size {
            assert!(
                [FailureCode::ImageTooLarge, FailureCode::DecodeFailed].contains(&failure.code),
                "unknown code {failure}"
            );
        }
        return;
    }
    let start = HEAP.reset();
    let outcome = toq_imaging::inspect(data, "image/jpeg", &opts).and_then(|inspection| {
        let estimate = inspection.estimate();
        estimate.check(BUDGET_MIB)?;
        let rendered = inspection.render(data, &opts);
        // the input is libFuzzer's, allocated before the reset: the working part is what counts
        let peak = HEAP.peak_above(start);
        assert!(
            peak as u64 <= estimate.working,
            "allocated {peak} bytes at the peak, estimated {estimate:?} ({} bytes in)",
            data.len()
        );
        rendered
    });
    if let Err(failure) = outcome {
        assert!(
            [
                FailureCode::UnsupportedMedia,
                FailureCode::ImageTooLarge,
                FailureCode::DecodeFailed
            ]
            .contains(&failure.code),
            "unknown code {failure}"
        );
    }
});
