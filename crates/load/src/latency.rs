//! What a request-driving benchmark reports from its per-request latencies.

use std::time::Duration;

/// Rate and latency quantiles of one driven run.
pub struct Figures {
    pub rate: f64,
    pub p50: Duration,
    pub p99: Duration,
}

impl Figures {
    /// Summarises `latencies` (one per answered request, sorted here)
    /// gathered over `elapsed`.
    pub fn of(latencies: &mut [Duration], elapsed: Duration) -> Figures {
        latencies.sort_unstable();
        let at = |q: f64| {
            latencies
                .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
                .copied()
                .unwrap_or_default()
        };
        Figures {
            rate: latencies.len() as f64 / elapsed.as_secs_f64(),
            p50: at(0.50),
            p99: at(0.99),
        }
    }
}
