//! Property: any seeded mix of valid and invalid commands over many batches and listings leaves
//! live read tables equal to a rebuild from the events (SQLite).

mod common;

use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn live_tables_equal_a_rebuild(seed in any::<u64>(), steps in 50u64..400, listings in 1u64..10) {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            let engine = common::fresh_engine("sqlite:").await;
            let mut w = toq_media::ops::workload::Workload::resume(&engine, seed, listings).await.unwrap();
            w.run(steps, &indicatif::ProgressBar::hidden()).await.unwrap();
            let report = toq_media::ops::verify::verify(engine.store(), &indicatif::ProgressBar::hidden()).await.unwrap();
            assert!(report.differences.is_empty(), "seed {seed}: {:?}", report.differences);
            assert!(report.events > 0);
        });
    }
}
