//! The agent's Prometheus metrics: applies, failures by kind, the request-to-flip latency
//! histogram, the live generation, entries per map, and — read from the pinned counters map
//! at every scrape — the datapath's verdict counters by reason and direction.

use std::collections::BTreeMap;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::kernel::NodeKernel;

type Labels = Vec<(String, String)>;

/// Every metric of the agent.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    applies: Counter,
    failures: Family<Labels, Counter>,
    apply_latency: Histogram,
    generation: Gauge,
    map_entries: Family<Labels, Gauge>,
}

impl Metrics {
    /// The metrics of an agent whose datapath is pinned under `kernel`.
    pub fn new(kernel: NodeKernel) -> Metrics {
        let mut registry = Registry::default();
        let applies = Counter::default();
        let failures = Family::<Labels, Counter>::default();
        // 1 ms to about 33 s.
        let apply_latency = Histogram::new(exponential_buckets(0.001, 2.0, 16));
        let generation = Gauge::default();
        let map_entries = Family::<Labels, Gauge>::default();
        registry.register("polc_agent_applies", "Bundles made live", applies.clone());
        registry.register("polc_agent_apply_failures", "Applies refused or failed, by kind", failures.clone());
        registry.register("polc_agent_apply_latency_seconds", "Time from receiving an apply request to the generation flip", apply_latency.clone());
        registry.register("polc_agent_generation", "The live generation (0 before the first apply)", generation.clone());
        registry.register("polc_agent_map_entries", "Entries of each map of the live generation", map_entries.clone());
        registry.register_collector(Box::new(DatapathCounters { kernel }));
        Metrics { registry, applies, failures, apply_latency, generation, map_entries }
    }

    pub fn record_apply(&self, request_to_flip_seconds: f64) {
        self.applies.inc();
        self.apply_latency.observe(request_to_flip_seconds);
    }

    pub fn record_failure(&self, kind: &str) {
        self.failures.get_or_create(&vec![("kind".to_owned(), kind.to_owned())]).inc();
    }

    /// Sets the generation and the entries per map of the live generation.
    pub fn set_generation(&self, generation: u64, maps: &BTreeMap<String, u64>) {
        self.generation.set(generation as i64);
        self.map_entries.clear();
        for (name, entries) in maps {
            self.map_entries.get_or_create(&vec![("map".to_owned(), name.clone())]).set(*entries as i64);
        }
    }

    /// The text exposition format.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        if prometheus_client::encoding::text::encode(&mut text, &self.registry).is_err() {
            text.clear();
        }
        text
    }
}

/// Reads `polc_counters` from the bpffs at every scrape.
#[derive(Debug)]
struct DatapathCounters {
    kernel: NodeKernel,
}

impl Collector for DatapathCounters {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Ok(Some(counters)) = self.kernel.counters() else {
            return Ok(());
        };
        for (name, help, bytes) in [
            ("polc_datapath_packets", "Packets the datapath decided, by verdict reason and direction", false),
            ("polc_datapath_bytes", "Bytes the datapath decided, by verdict reason and direction", true),
        ] {
            let mut metric_encoder = encoder.encode_descriptor(name, help, None, ConstCounter::new(0u64).metric_type())?;
            for ((reason, direction), counter) in &counters {
                let labels = [("reason", reason.name()), ("direction", direction.name())];
                let family_encoder = metric_encoder.encode_family(&labels)?;
                ConstCounter::new(if bytes { counter.bytes } else { counter.packets }).encode(family_encoder)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_encode_applies_failures_latency_and_entries() {
        let directory = tempfile::tempdir().unwrap();
        let metrics = Metrics::new(NodeKernel::new(directory.path()));
        metrics.record_apply(0.012);
        metrics.record_failure("bundle");
        metrics.set_generation(4, &BTreeMap::from([("ipcache".to_owned(), 12u64)]));
        let text = metrics.encode();
        assert!(text.contains("polc_agent_applies_total 1"), "{text}");
        assert!(text.contains("polc_agent_apply_failures_total{kind=\"bundle\"} 1"), "{text}");
        assert!(text.contains("polc_agent_apply_latency_seconds_count 1"), "{text}");
        assert!(text.contains("polc_agent_generation 4"), "{text}");
        assert!(text.contains("polc_agent_map_entries{map=\"ipcache\"} 12"), "{text}");
        assert!(!text.contains("polc_datapath_packets"), "no datapath is pinned here: {text}");
    }
}
