//! Fault injection, for proving that the chaos suite's checks can fail (`scripts/chaos
//! --expect-fail`). Off unless `TOQ_MEDIA_FAULT` is set; never set it in production.
//!
//! `TOQ_MEDIA_FAULT` is a comma-separated list of `NAME[:RATE]` (RATE a share of 0 to 1,
//! default 1): `http_5xx` answers that share of HTTP requests with a 500 before any handler
//! runs; `render_twice` makes the worker render that share of assets twice, dropping the first
//! result, as an undetected redelivery would. Each process logs an error line naming the
//! faults at start-up.

use std::sync::OnceLock;

use anyhow::{Context, bail};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Http5xx,
    RenderTwice,
}

impl Fault {
    const ALL: [Fault; 2] = [Fault::Http5xx, Fault::RenderTwice];

    fn name(self) -> &'static str {
        match self {
            Fault::Http5xx => "http_5xx",
            Fault::RenderTwice => "render_twice",
        }
    }
}

/// The rate of each fault, indexed like `Fault::ALL`; set once by [`init`].
static RATES: OnceLock<[f64; 2]> = OnceLock::new();

/// Reads `TOQ_MEDIA_FAULT`; a malformed value refuses to start.
pub fn init() -> anyhow::Result<()> {
    let Ok(spec) = std::env::var("TOQ_MEDIA_FAULT") else {
        return Ok(());
    };
    let rates = parse(&spec).with_context(|| format!("TOQ_MEDIA_FAULT={spec:?}"))?;
    tracing::error!(faults = %spec, "FAULT INJECTION ON (TOQ_MEDIA_FAULT): this process misbehaves on purpose");
    eprintln!("toq-media: FAULT INJECTION ON: TOQ_MEDIA_FAULT={spec}");
    let _ = RATES.set(rates);
    Ok(())
}

fn parse(spec: &str) -> anyhow::Result<[f64; 2]> {
    let mut rates = [0.0; 2];
    for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (name, rate) = item.split_once(':').unwrap_or((item, "1"));
        let Some(i) = Fault::ALL.iter().position(|f| f.name() == name) else {
            bail!("unknown fault {name:?}: expected http_5xx or render_twice");
        };
        let rate: f64 = rate
            .parse()
            .with_context(|| format!("{name}: rate {rate:?} is not a number"))?;
        if !(0.0..=1.0).contains(&rate) {
            bail!("{name}: rate {rate} is not between 0 and 1");
        }
        rates[i] = rate;
    }
    Ok(rates)
}

/// Whether `fault` strikes this time (never when fault injection is off).
pub fn fires(fault: Fault) -> bool {
    let Some(rates) = RATES.get() else {
        return false;
    };
    let rate = rates[fault as usize];
    let mut byte = [0u8; 4];
    rate > 0.0
        && getrandom::fill(&mut byte).is_ok()
        && f64::from(u32::from_le_bytes(byte)) < rate * f64::from(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_rates() {
        assert_eq!(parse("http_5xx:0.02").unwrap(), [0.02, 0.0]);
        assert_eq!(parse("render_twice, http_5xx:0.5").unwrap(), [0.5, 1.0]);
        assert!(parse("http_5xx:2").is_err());
        assert!(parse("http_5xx:x").is_err());
        assert!(parse("disk_full").is_err());
    }
}
