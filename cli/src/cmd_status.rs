//! `polc status --socket PATH [--format json]`: the agent's live generation, its bundle,
//! when it was applied, entries per map, endpoints and interfaces, and the last error.

use std::path::PathBuf;
use std::time::Duration;

use crate::cmd_apply::AgentFormat;
use crate::exit::{Exit, Failure};
use crate::output::print;

#[derive(Clone, Debug, clap::Args)]
pub struct Args {
    /// The agent's control socket
    #[arg(long, value_name = "PATH")]
    pub socket: PathBuf,
    /// Output format
    #[arg(long, value_enum, default_value_t = AgentFormat::Human)]
    pub format: AgentFormat,
}

pub fn run(args: &Args) -> Result<Exit, Failure> {
    let status = polc_agent::client::status(&args.socket, Some(Duration::from_secs(30))).map_err(|error| Failure::new(polc_agent::describe_error(&error)))?;
    let text = match args.format {
        AgentFormat::Json => {
            let mut text = serde_json::to_string_pretty(&status).map_err(|error| Failure::new(format!("cannot write the status: {error}")))?;
            text.push('\n');
            text
        }
        AgentFormat::Human => status.human(),
    };
    print(&text);
    Ok(Exit::Clean)
}
