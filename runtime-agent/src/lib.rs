//! polc-agent: loads compiled bundles into a live node and swaps generations atomically.
//!
//! - [`contract`]: checks a verified bundle against what the datapath object and this node
//!   accept (outer maps, layouts, constants, size limits) and turns it into a plan. Pure.
//! - [`kernel`]: the node's datapath on the agent's bpffs: instances of the object per
//!   endpoint, the shared generation selector, inner maps, tcx links, counters.
//! - [`engine`]: apply (verify → load → build the new generation to the side → one flip →
//!   release), restart adoption, endpoint attachment; runs on one OS thread.
//! - [`server`]: the tokio service: the control socket, the watch directory, periodic
//!   rescans and the metrics endpoint.
//! - [`protocol`], [`client`], [`status`]: the line-delimited JSON control protocol.
//! - [`fault`]: the `POLC_AGENT_FAULT` testing hook (SIGKILL at a named apply stage).
//! - [`state`]: the state file and the apply journal, written atomically; [`interfaces`]: finding an endpoint's
//!   interface; [`metrics`]: the Prometheus registry; [`time`]: timestamps.

pub mod client;
pub mod contract;
pub mod engine;
pub mod fault;
pub mod interfaces;
pub mod kernel;
pub mod metrics;
pub mod protocol;
pub mod server;
pub mod state;
pub mod status;
pub mod time;

pub use contract::Limits;
pub use engine::AgentConfig;
pub use server::{run, run_until};
pub use status::Status;

/// Describes an error and its sources on one line, in the style of polc messages: lower
/// case, no final period, no OS error numbers.
pub fn describe_error(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(error) = current {
        let mut text = error.to_string();
        if let Some(start) = text.find(" (os error")
            && let Some(length) = text[start..].find(')')
        {
            text.replace_range(start..start + length + 1, "");
        }
        let text = text.trim().trim_end_matches('.');
        let mut chars = text.chars();
        let text: String = match chars.next() {
            Some(first) => first.to_lowercase().chain(chars).collect(),
            None => String::new(),
        };
        let seen = parts.iter().any(|part| part.to_lowercase().contains(&text.to_lowercase()));
        if !text.is_empty() && !seen {
            parts.push(text);
        }
        current = error.source();
    }
    let lowered = if parts.is_empty() { String::from("unknown error") } else { parts.join(": ") };
    const LIMIT: usize = 4000;
    if lowered.len() > LIMIT {
        let mut end = LIMIT;
        while !lowered.is_char_boundary(end) {
            end -= 1;
        }
        format!("{} …", &lowered[..end])
    } else {
        lowered
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot open `x`: {0}")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn errors_are_described_on_one_lower_case_line_with_their_sources() {
        let error = Outer(std::io::Error::from_raw_os_error(2));
        assert_eq!(describe_error(&error), "cannot open `x`: No such file or directory");
        #[derive(Debug, thiserror::Error)]
        #[error("Failed. Verifier output: R0 !read_ok.")]
        struct Loud;
        assert_eq!(describe_error(&Loud), "failed. Verifier output: R0 !read_ok");
    }
}
