//! `polc agent --bpffs DIR --state DIR --socket PATH`: the runtime agent.
//!
//! It mounts a bpffs at `--bpffs` unless one is there, adopts a generation left live by a
//! previous agent, and then serves `polc apply` and `polc status` on the socket (mode
//! 0600) until SIGINT or SIGTERM. The datapath stays live when the agent stops.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use polc_agent::{AgentConfig, Limits};

use crate::exit::{Exit, Failure};

#[derive(Clone, Debug, clap::Args)]
pub struct Args {
    /// The bpffs directory the agent owns (a bpffs is mounted there when it is not one)
    #[arg(long, value_name = "DIR")]
    pub bpffs: PathBuf,
    /// The state directory (state file; optional `interfaces.json` mapping endpoints to interfaces)
    #[arg(long, value_name = "DIR")]
    pub state: PathBuf,
    /// The control socket `polc apply` and `polc status` talk to
    #[arg(long, value_name = "PATH")]
    pub socket: PathBuf,
    /// Apply every bundle dropped (renamed) into this directory
    #[arg(long, value_name = "DIR")]
    pub watch: Option<PathBuf>,
    /// Serve Prometheus metrics at http://ADDR/metrics (a loopback address, such as 127.0.0.1:9464)
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<SocketAddr>,
    /// The node section of the bundles to use (default: the bundle's only node)
    #[arg(long, value_name = "NAME")]
    pub node: Option<String>,
    /// The largest max entries one map may ask for
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_entries_per_map)]
    pub max_map_entries: u32,
    /// Milliseconds between looks for the interfaces of endpoints that have none yet
    #[arg(long, value_name = "MS", default_value_t = 2000)]
    pub rescan_ms: u64,
}

pub fn run(args: &Args) -> Result<Exit, Failure> {
    let mut config = AgentConfig::new(&args.bpffs, &args.state, &args.socket);
    config.watch = args.watch.clone();
    config.metrics = args.metrics;
    config.node = args.node.clone();
    config.limits.max_entries_per_map = args.max_map_entries;
    config.rescan_interval = Duration::from_millis(args.rescan_ms.max(50));
    polc_agent::run(config).map_err(|error| Failure::new(polc_agent::describe_error(&error)))?;
    Ok(Exit::Clean)
}
