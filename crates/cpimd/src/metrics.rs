//! Prometheus metrics, served at `/metrics` in the text exposition format.

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts,
    Registry, TextEncoder,
};

/// Every metric cpimd keeps. Cheap to clone (each field is a handle).
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    /// Message operations by response status (success, failure, indeterminant).
    pub messages: IntCounterVec,
    /// Live subscriptions, active and pending.
    pub subscriptions: IntGauge,
    /// Open inboxes (event WebSockets).
    pub sessions: IntGauge,
    /// Notify operations sent.
    pub notifies: IntCounter,
    /// Time from a request reaching the driver to its response, by operation.
    pub op_seconds: HistogramVec,
    /// Time of one group commit.
    pub commit_seconds: Histogram,
    /// Inboxes closed because their reader fell behind.
    pub slow_readers: IntCounter,
    /// Commits that failed.
    pub store_failures: IntCounter,
    /// Requests refused before reaching the engine, by reason.
    pub rejected: IntCounterVec,
}

impl Metrics {
    /// Registers every metric in a fresh registry.
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new_custom(Some("cpimd".to_owned()), None)?;
        let buckets = vec![
            0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1,
            0.25, 0.5, 1.0, 2.5, 5.0,
        ];
        let metrics = Metrics {
            messages: IntCounterVec::new(
                Opts::new("messages_total", "Message operations by outcome"),
                &["outcome"],
            )?,
            subscriptions: IntGauge::new("subscriptions", "Live subscriptions")?,
            sessions: IntGauge::new("sessions", "Open event WebSockets (inboxes)")?,
            notifies: IntCounter::new("notifies_total", "Notify operations sent")?,
            op_seconds: HistogramVec::new(
                HistogramOpts::new("operation_seconds", "Latency of operations in the engine")
                    .buckets(buckets.clone()),
                &["op"],
            )?,
            commit_seconds: Histogram::with_opts(
                HistogramOpts::new("commit_seconds", "Latency of one group commit")
                    .buckets(buckets),
            )?,
            slow_readers: IntCounter::new(
                "slow_readers_total",
                "Event WebSockets closed because the reader fell behind",
            )?,
            store_failures: IntCounter::new("store_failures_total", "Commits that failed")?,
            rejected: IntCounterVec::new(
                Opts::new("rejected_total", "Requests refused at the API, by reason"),
                &["reason"],
            )?,
            registry,
        };
        let r = &metrics.registry;
        r.register(Box::new(metrics.messages.clone()))?;
        r.register(Box::new(metrics.subscriptions.clone()))?;
        r.register(Box::new(metrics.sessions.clone()))?;
        r.register(Box::new(metrics.notifies.clone()))?;
        r.register(Box::new(metrics.op_seconds.clone()))?;
        r.register(Box::new(metrics.commit_seconds.clone()))?;
        r.register(Box::new(metrics.slow_readers.clone()))?;
        r.register(Box::new(metrics.store_failures.clone()))?;
        r.register(Box::new(metrics.rejected.clone()))?;
        Ok(metrics)
    }

    /// The text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        if let Err(error) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::warn!(%error, "metrics encoding failed");
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn render_names_every_family() {
        let metrics = Metrics::new().unwrap();
        metrics.messages.with_label_values(&["success"]).inc();
        metrics
            .op_seconds
            .with_label_values(&["message"])
            .observe(0.001);
        metrics.rejected.with_label_values(&["auth"]).inc();
        let text = metrics.render();
        for name in [
            "cpimd_messages_total{outcome=\"success\"} 1",
            "cpimd_subscriptions 0",
            "cpimd_sessions 0",
            "cpimd_notifies_total 0",
            "cpimd_operation_seconds_bucket{op=\"message\"",
            "cpimd_commit_seconds_count 0",
            "cpimd_rejected_total{reason=\"auth\"} 1",
        ] {
            assert!(text.contains(name), "{name} missing from:\n{text}");
        }
    }
}
