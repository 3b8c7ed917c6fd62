//! `polc`: the command line of the polc toolchain.
//!
//! This is the only crate that reads files, picks output formats and sets exit codes. Each
//! subcommand is one variant of [`Command`] and one module `cmd_<name>.rs` with an `Args`
//! struct and a `run(&Args) -> Result<Exit, Failure>` function.

mod cmd_agent;
mod cmd_apply;
mod cmd_compile;
mod cmd_diff;
mod cmd_explain;
mod cmd_inspect;
mod cmd_lint;
mod cmd_render;
mod cmd_schema;
mod cmd_status;
mod cmd_test;
mod cmd_trace;
mod exit;
mod inputs;
mod output;
mod render;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::exit::{Exit, Failure};

/// polc: a compiler toolchain for Kubernetes network configuration (Cilium policies, Gateway
/// API, Cilium BGP, L2 announcements and LB-IPAM)
#[derive(Debug, Parser)]
#[command(name = "polc", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check YAML inputs and report every problem with its file, line and column
    Lint(cmd_lint::Args),
    /// Print the JSON Schema of one kind, or of every kind
    Schema(cmd_schema::Args),
    /// Explain a diagnostic code, or list every code
    Explain(cmd_explain::Args),
    /// Show the verdict on one flow and the rules that decided it
    Trace(cmd_trace::Args),
    /// Run every FlowTest among the inputs and report the flows that fail
    Test(cmd_test::Args),
    /// Show the flows whose verdict changes and the policy-map entries that change between
    /// two sets of inputs
    Diff(cmd_diff::Args),
    /// Compile policies and inventory to a bundle of eBPF map images and datapath objects
    Compile(cmd_compile::Args),
    /// Dump every map and object of a bundle, with the rules behind each policy entry
    Inspect(cmd_inspect::Args),
    /// Run the runtime agent: load bundles into this node and swap generations atomically
    Agent(cmd_agent::Args),
    /// Ask the agent to make a bundle live
    Apply(cmd_apply::Args),
    /// Show the agent's live generation, maps, endpoints and last error
    Status(cmd_status::Args),
    /// Print the iptables reference rendering (ipset and iptables-restore input) per node
    Render(cmd_render::Args),
}

fn run(command: &Command) -> Result<Exit, Failure> {
    match command {
        Command::Lint(args) => cmd_lint::run(args),
        Command::Schema(args) => cmd_schema::run(args),
        Command::Explain(args) => cmd_explain::run(args),
        Command::Trace(args) => cmd_trace::run(args),
        Command::Test(args) => cmd_test::run(args),
        Command::Diff(args) => cmd_diff::run(args),
        Command::Compile(args) => cmd_compile::run(args),
        Command::Inspect(args) => cmd_inspect::run(args),
        Command::Agent(args) => cmd_agent::run(args),
        Command::Apply(args) => cmd_apply::run(args),
        Command::Status(args) => cmd_status::run(args),
        Command::Render(args) => cmd_render::run(args),
    }
}

fn main() -> ExitCode {
    // clap prints usage errors itself and exits with 2, the contract's usage-failure code.
    let cli = Cli::parse();
    match run(&cli.command) {
        Ok(exit) => exit.into(),
        Err(failure) => {
            for line in &failure.lines {
                eprintln!("polc: {line}");
            }
            Exit::Failure.into()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
