//! `polc apply BUNDLE --socket PATH`: asks the agent to make a bundle live.
//!
//! Exit 0 once the bundle's generation is live; 1 when the agent refused it (the reason is
//! printed, and the previous generation stays live); 2 when the agent cannot be reached.

use std::path::PathBuf;
use std::time::Duration;

use polc_agent::client::{self, ClientError};

use crate::exit::{Exit, Failure};
use crate::output::print;

/// Output formats of `apply` and `status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum AgentFormat {
    /// a few lines of text
    Human,
    /// one JSON document
    Json,
}

#[derive(Clone, Debug, clap::Args)]
pub struct Args {
    /// The bundle directory (as written by `polc compile`)
    #[arg(value_name = "BUNDLE")]
    pub bundle: PathBuf,
    /// The agent's control socket
    #[arg(long, value_name = "PATH")]
    pub socket: PathBuf,
    /// Give up after this many seconds (default: wait until the agent answers)
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<u64>,
    /// Output format
    #[arg(long, value_enum, default_value_t = AgentFormat::Human)]
    pub format: AgentFormat,
}

pub fn run(args: &Args) -> Result<Exit, Failure> {
    let timeout = args.timeout.map(Duration::from_secs);
    match client::apply(&args.socket, &args.bundle, timeout) {
        Ok(report) => {
            let text = match args.format {
                AgentFormat::Json => {
                    let mut text = serde_json::to_string_pretty(&report).map_err(|error| Failure::new(format!("cannot write the report: {error}")))?;
                    text.push('\n');
                    text
                }
                AgentFormat::Human if report.unchanged => {
                    format!("generation {} is already live (bundle {})\n", report.generation, report.bundle_digest)
                }
                AgentFormat::Human => format!(
                    "generation {} is live (bundle {}, {} entries, flipped {:.1} ms after the request)\n",
                    report.generation,
                    report.bundle_digest,
                    report.entries,
                    report.request_to_flip_us as f64 / 1000.0
                ),
            };
            print(&text);
            Ok(Exit::Clean)
        }
        Err(ClientError::Refused { kind, message }) => {
            match args.format {
                AgentFormat::Json => print(&format!("{}\n", serde_json::json!({"ok": false, "kind": kind, "message": message}))),
                AgentFormat::Human => {}
            }
            eprintln!("polc: the agent refused `{}` ({kind}): {message}", args.bundle.display());
            Ok(Exit::Findings)
        }
        Err(error) => Err(Failure::new(polc_agent::describe_error(&error))),
    }
}
