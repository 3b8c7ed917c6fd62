//! `polc-agent`: the runtime agent as a standalone binary (the same as `polc agent`), so
//! that the agent crate's own tests can run it as a separate process and kill it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use polc_agent::{AgentConfig, Limits};

/// polc runtime agent: verifies bundles, loads them and swaps generations atomically
#[derive(Debug, Parser)]
#[command(name = "polc-agent", version)]
struct Args {
    /// bpffs directory the agent owns (mounted there when it is not a bpffs)
    #[arg(long)]
    bpffs: PathBuf,
    /// State directory
    #[arg(long)]
    state: PathBuf,
    /// Control socket
    #[arg(long)]
    socket: PathBuf,
    /// Apply bundles dropped into this directory
    #[arg(long)]
    watch: Option<PathBuf>,
    /// Serve Prometheus metrics on this loopback address
    #[arg(long)]
    metrics: Option<SocketAddr>,
    /// Node section of the bundles to use (default: the only one)
    #[arg(long)]
    node: Option<String>,
    /// Largest max entries of one map
    #[arg(long, default_value_t = Limits::default().max_entries_per_map)]
    max_map_entries: u32,
    /// Milliseconds between looks for endpoint interfaces
    #[arg(long, default_value_t = 2000)]
    rescan_ms: u64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut config = AgentConfig::new(&args.bpffs, &args.state, &args.socket);
    config.watch = args.watch;
    config.metrics = args.metrics;
    config.node = args.node;
    config.limits.max_entries_per_map = args.max_map_entries;
    config.rescan_interval = Duration::from_millis(args.rescan_ms.max(50));
    match polc_agent::run(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("polc-agent: {}", polc_agent::describe_error(&error));
            ExitCode::from(2)
        }
    }
}
