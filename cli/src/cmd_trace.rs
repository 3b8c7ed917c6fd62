//! `polc trace PATH... --from SRC --to DST --port N[/PROTO]`: the verdict on one flow in the
//! reference evaluator, and the rules that decided it, by policy, namespace, rule path and
//! source location.
//!
//! SRC and DST are `NAMESPACE/POD`, an IP address or `node:NAME`. Exit code 0 whatever the
//! verdict (tracing is not testing), 1 when the inputs have errors, 2 for usage problems (an
//! unknown pod, a bad port) and IO failures.

use std::fmt::Write;

use polc_compiler::diag::Location;
use polc_compiler::lower::{LowerOptions, Lowered, lower};
use polc_compiler::model::flowtest::{DnsRequest, FlowEndpoint, FlowProtocol, HttpRequest};
use polc_compiler::semantics::{self, ResolvedEnd};
use polc_compiler::{Diagnostic, Severity, SourceMap};
use polc_ir::{DecidingRule, DirectionVerdict, EnforcementMode, Flow, RuleOrigin, Settings, Verdict, evaluate};
use serde_json::{Value as Json, json};

use crate::exit::{Exit, Failure};
use crate::inputs::{InputArgs, load_and_parse};
use crate::output::print;
use crate::render::{self, Report};

/// Cilium's `policy-enforcement` modes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Enforcement {
    /// a direction is enforced once a policy selects the endpoint for it
    Default,
    /// every endpoint is enforced and default-deny
    Always,
    /// nothing is enforced
    Never,
}

/// The agent settings the semantics depend on (shared by `trace` and `test`).
#[derive(Clone, Debug, clap::Args)]
pub struct SemanticsArgs {
    /// Cilium's `policy-enforcement` mode
    #[arg(long, value_enum, value_name = "MODE", default_value_t = Enforcement::Default)]
    pub policy_enforcement: Enforcement,
    /// Whether host policies (`nodeSelector`) are enforced (Cilium's `enable-host-firewall`);
    /// polc assumes they are
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set)]
    pub host_firewall: bool,
    /// Whether a default-deny pod ingress still admits its own node (Cilium's `allow-localhost`)
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set)]
    pub allow_localhost: bool,
    /// The cluster name pods are labelled with (`io.cilium.k8s.policy.cluster`)
    #[arg(long, value_name = "NAME", default_value = "default")]
    pub cluster_name: String,
    /// The cluster runs IPv4 and IPv6: the world splits by family, and a /0 prefix stands for
    /// its own family only
    #[arg(long)]
    pub dual_stack: bool,
    /// The agent's `bpf-policy-map-max`: the most policy map entries an endpoint may need
    /// (256 to 65536); more is an error (PLC7015)
    #[arg(long, value_name = "N", default_value_t = polc_compiler::checks::analysis::policy_map_limit::DEFAULT_POLICY_MAP_MAX as u32, value_parser = clap::value_parser!(u32).range(256..=65536))]
    pub policy_map_max: u32,
}

impl SemanticsArgs {
    pub fn options(&self) -> LowerOptions {
        let enforcement = match self.policy_enforcement {
            Enforcement::Default => EnforcementMode::Default,
            Enforcement::Always => EnforcementMode::Always,
            Enforcement::Never => EnforcementMode::Never,
        };
        LowerOptions {
            settings: Settings {
                enforcement,
                allow_localhost: self.allow_localhost,
                host_firewall: self.host_firewall,
                cluster_name: self.cluster_name.clone(),
                dual_stack: self.dual_stack,
            },
            policy_map_max: self.policy_map_max as usize,
        }
    }
}

/// Output formats of `trace`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum TraceFormat {
    /// the verdict and the deciding rules, as text
    Human,
    /// one JSON document
    Json,
}

#[derive(Clone, Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub inputs: InputArgs,
    /// The source: NAMESPACE/POD, an IP address, or node:NAME
    #[arg(long, value_name = "SRC")]
    pub from: String,
    /// The destination: NAMESPACE/POD, an IP address, or node:NAME
    #[arg(long, value_name = "DST")]
    pub to: String,
    /// The destination port and protocol (TCP by default), such as 8080, 53/UDP or 8/ICMP
    /// (for ICMP, the type)
    #[arg(long, value_name = "N[/PROTO]")]
    pub port: String,
    /// An HTTP request on the flow: its method (the L7 rules decide it)
    #[arg(long, value_name = "METHOD")]
    pub http_method: Option<String>,
    /// An HTTP request on the flow: its path
    #[arg(long, value_name = "PATH")]
    pub http_path: Option<String>,
    /// An HTTP request on the flow: its host
    #[arg(long, value_name = "HOST")]
    pub http_host: Option<String>,
    /// An HTTP request header, `Name: value` (repeatable)
    #[arg(long = "http-header", value_name = "NAME: VALUE")]
    pub http_headers: Vec<String>,
    /// A DNS query on the flow: the name looked up (the DNS rules decide it)
    #[arg(long, value_name = "NAME")]
    pub dns_query: Option<String>,
    /// Output format
    #[arg(long, value_enum, default_value_t = TraceFormat::Human)]
    pub format: TraceFormat,
    #[command(flatten)]
    pub semantics: SemanticsArgs,
}

/// Prints the errors among `diagnostics` (human form, to stderr) and says whether there were any.
pub fn report_errors(sources: &SourceMap, diagnostics: &[Diagnostic]) -> bool {
    let errors: Vec<Diagnostic> = diagnostics.iter().filter(|diagnostic| diagnostic.severity == Severity::Error).cloned().collect();
    if errors.is_empty() {
        return false;
    }
    let report = Report { sources, diagnostics: &errors, skipped: &[] };
    eprint!("{}", render::human::render(&report, false, false));
    true
}

/// Prints the warnings among `diagnostics` (human form, to stderr); notes stay quiet.
pub fn report_warnings(sources: &SourceMap, diagnostics: &[Diagnostic]) {
    let warnings: Vec<Diagnostic> = diagnostics.iter().filter(|diagnostic| diagnostic.severity == Severity::Warning).cloned().collect();
    if warnings.is_empty() {
        return;
    }
    let report = Report { sources, diagnostics: &warnings, skipped: &[] };
    eprint!("{}", render::human::render(&report, false, false));
}

/// `file:line:column` of a location.
pub fn shown_location(sources: &SourceMap, location: &Location) -> String {
    format!("{}:{}:{}", sources.get(location.source).name, location.span.start.line, location.span.start.col)
}

fn http_request(args: &Args) -> Result<Option<HttpRequest>, Failure> {
    if args.http_method.is_none() && args.http_path.is_none() && args.http_host.is_none() && args.http_headers.is_empty() {
        return Ok(None);
    }
    let mut headers = std::collections::BTreeMap::new();
    for header in &args.http_headers {
        let Some((name, value)) = header.split_once(':') else {
            return Err(Failure::new(format!("`{header}` is not a header: write `Name: value`")));
        };
        headers.insert(name.trim().to_owned(), value.trim().to_owned());
    }
    Ok(Some(HttpRequest { method: args.http_method.clone(), path: args.http_path.clone(), host: args.http_host.clone(), headers }))
}

fn resolve(lowered: &Lowered, text: &str, flag: &str) -> Result<ResolvedEnd, Failure> {
    let parsed = FlowEndpoint::parse(text).map_err(|message| Failure::new(format!("{flag}: {message}")))?;
    semantics::resolve_end(lowered, &parsed).map_err(|message| Failure::new(format!("{flag}: {message}")))
}

pub fn run(args: &Args) -> Result<Exit, Failure> {
    let (port, protocol) = semantics::parse_port_protocol(&args.port).map_err(|message| Failure::new(format!("--port: {message}")))?;
    let http = http_request(args)?;
    if http.is_some() && args.dns_query.is_some() {
        return Err(Failure::new("a flow carries an HTTP request or a DNS query, not both"));
    }
    if http.is_some() && protocol != FlowProtocol::Tcp {
        return Err(Failure::new(format!("an HTTP request cannot travel over {}", protocol.as_str())));
    }
    if args.dns_query.is_some() && !matches!(protocol, FlowProtocol::Udp | FlowProtocol::Tcp) {
        return Err(Failure::new(format!("a DNS query cannot travel over {}", protocol.as_str())));
    }
    let dns = args.dns_query.clone().map(|query| DnsRequest { query });
    let loaded = load_and_parse(&args.inputs)?;
    if report_errors(&loaded.sources, &loaded.parsed.diagnostics) {
        eprintln!("polc: the inputs have errors; fix them before tracing");
        return Ok(Exit::Findings);
    }
    let lowered = lower(&loaded.parsed.objects, &args.semantics.options());
    if report_errors(&loaded.sources, &lowered.diagnostics) {
        return Ok(Exit::Findings);
    }
    report_warnings(&loaded.sources, &lowered.diagnostics);
    let from = resolve(&lowered, &args.from, "--from")?;
    let to = resolve(&lowered, &args.to, "--to")?;
    let flow =
        Flow { source: from.end, destination: to.end, protocol: semantics::protocol_of(protocol), port, l7: semantics::l7_of(http.as_ref(), dns.as_ref()) };
    let verdict = evaluate(&lowered.ir, &flow);
    let shown_port = format!("{port}/{}", protocol.as_str());
    let text = match args.format {
        TraceFormat::Human => render_human(&loaded.sources, &lowered, &from, &to, &shown_port, &flow, &verdict),
        TraceFormat::Json => {
            let document = json!({
                "allowed": verdict.allowed,
                "verdict": if verdict.allowed { "allow" } else { "deny" },
                "reason": verdict.reason,
                "flow": {
                    "from": from.shown,
                    "to": to.shown,
                    "port": port,
                    "protocol": protocol.as_str(),
                    "l7": flow.l7.as_ref().map(|request| request.to_string()),
                },
                "egress": verdict.egress.as_ref().map(|direction| direction_json(&loaded.sources, &lowered, direction)),
                "ingress": verdict.ingress.as_ref().map(|direction| direction_json(&loaded.sources, &lowered, direction)),
                "notes": from.notes.iter().chain(to.notes.iter()).chain(verdict.notes.iter()).collect::<Vec<_>>(),
            });
            let mut text = serde_json::to_string_pretty(&document).unwrap_or_default();
            text.push('\n');
            text
        }
    };
    print(&text);
    Ok(Exit::Clean)
}

/// The JSON of one rule origin, with its file and line.
pub fn origin_json(sources: &SourceMap, lowered: &Lowered, origin: &RuleOrigin) -> Json {
    let location = lowered.origin_location(origin);
    match origin {
        RuleOrigin::Policy { kind, namespace, name, rule_path, .. } => json!({
            "kind": kind,
            "namespace": namespace,
            "name": name,
            "rulePath": rule_path,
            "file": location.map(|location| sources.get(location.source).name.clone()),
            "line": location.map(|location| location.span.start.line),
            "column": location.map(|location| location.span.start.col),
        }),
        RuleOrigin::Implicit(rule) => json!({"kind": "implicit", "name": rule.as_str()}),
    }
}

fn rule_json(sources: &SourceMap, lowered: &Lowered, rule: &DecidingRule) -> Json {
    let mut value = origin_json(sources, lowered, &rule.origin);
    if let Json::Object(map) = &mut value {
        map.insert(
            "verdict".to_owned(),
            json!(match rule.verdict {
                polc_ir::RuleVerdict::Allow => "allow",
                polc_ir::RuleVerdict::Deny => "deny",
            }),
        );
        map.insert("l4".to_owned(), json!(rule.l4.to_string()));
        if let Some(l7) = &rule.l7 {
            map.insert("l7".to_owned(), json!(l7));
        }
    }
    value
}

fn direction_json(sources: &SourceMap, lowered: &Lowered, direction: &DirectionVerdict) -> Json {
    let identity = lowered.ir.identity(direction.remote_identity);
    json!({
        "endpoint": direction.endpoint_name,
        "allowed": direction.allowed,
        "decision": direction.decision,
        "reason": direction.decision.describe(),
        "remoteIdentity": direction.remote_identity.0,
        "remoteIdentityLabels": identity.map(|info| info.labels.iter().map(ToString::to_string).collect::<Vec<_>>()).unwrap_or_default(),
        "proxy": direction.proxy,
        "auth": direction.auth.map(|mode| mode.as_str()),
        "rules": direction.deciding.iter().map(|rule| rule_json(sources, lowered, rule)).collect::<Vec<_>>(),
        "enforcedBy": direction.enforced_by.iter().map(|origin| origin_json(sources, lowered, origin)).collect::<Vec<_>>(),
        "notes": direction.notes,
    })
}

/// `CiliumNetworkPolicy prod/allow-web spec.ingress[0] (policies/web.yaml:12:5)`.
pub fn describe_origin(sources: &SourceMap, lowered: &Lowered, origin: &RuleOrigin) -> String {
    match lowered.origin_location(origin) {
        Some(location) => format!("{} ({})", origin.describe(), shown_location(sources, location)),
        None => origin.describe(),
    }
}

fn render_human(sources: &SourceMap, lowered: &Lowered, from: &ResolvedEnd, to: &ResolvedEnd, port: &str, flow: &Flow, verdict: &Verdict) -> String {
    let mut out = String::new();
    let word = if verdict.allowed { "ALLOWED" } else { "DENIED" };
    let _ = write!(out, "{word}: {} -> {} {port}", from.shown, to.shown);
    if let Some(request) = &flow.l7 {
        let _ = write!(out, " ({request})");
    }
    out.push('\n');
    for direction in [&verdict.egress, &verdict.ingress].into_iter().flatten() {
        let remote = lowered.ir.identity(direction.remote_identity).map(|info| info.describe()).unwrap_or_default();
        let peer =
            if remote.is_empty() { format!("identity {}", direction.remote_identity.0) } else { format!("identity {}: {remote}", direction.remote_identity.0) };
        let side = match direction.direction {
            polc_ir::Direction::Egress => "to",
            polc_ir::Direction::Ingress => "from",
        };
        let _ = writeln!(out, "  {} of {}, {side} {peer}", direction.direction, direction.endpoint_name);
        let _ = writeln!(out, "    {}", direction.decision.describe());
        for rule in &direction.deciding {
            let verb = match rule.verdict {
                polc_ir::RuleVerdict::Allow => "allowed by",
                polc_ir::RuleVerdict::Deny => "denied by",
            };
            let _ = writeln!(out, "    {verb} {} [{}]", describe_origin(sources, lowered, &rule.origin), rule.l4);
            if let Some(l7) = &rule.l7 {
                let _ = writeln!(out, "      {l7}");
            }
        }
        for origin in &direction.enforced_by {
            let _ = writeln!(out, "    enforced by {}", describe_origin(sources, lowered, origin));
        }
        if let Some(mode) = direction.auth {
            let _ = writeln!(out, "    authentication: {}", mode.as_str());
        }
        for note in &direction.notes {
            let _ = writeln!(out, "    note: {note}");
        }
    }
    for note in from.notes.iter().chain(to.notes.iter()).chain(verdict.notes.iter()) {
        let _ = writeln!(out, "  note: {note}");
    }
    let _ = writeln!(out, "  reason: {}", verdict.reason);
    out
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use clap::Parser;

    use super::*;

    #[derive(Debug, clap::Parser)]
    struct Command {
        #[command(flatten)]
        args: Args,
    }

    fn args(words: &[&str]) -> Args {
        Command::try_parse_from(std::iter::once("polc-trace").chain(words.iter().copied())).expect("valid arguments").args
    }

    fn example(path: &str) -> String {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../policies/examples").join(path).display().to_string()
    }

    #[test]
    fn a_trace_runs_whatever_the_verdict() {
        let inventory = example("inventory");
        let policy = example("cilium-policy/l3-frontend-to-backend.yaml");
        for from in ["prod/frontend", "default/frontend", "203.0.113.7", "node:node-a"] {
            let traced = run(&args(&[&inventory, &policy, "--from", from, "--to", "prod/backend", "--port", "8080"]));
            assert_eq!(traced.expect("traced"), Exit::Clean);
        }
        let json = run(&args(&[&inventory, &policy, "--from", "prod/frontend", "--to", "prod/backend", "--port", "8080/tcp", "--format", "json"]));
        assert_eq!(json.expect("traced"), Exit::Clean);
    }

    #[test]
    fn unknown_ends_and_bad_ports_are_usage_failures() {
        let inventory = example("inventory");
        let failure = run(&args(&[&inventory, "--from", "prod/nope", "--to", "prod/backend", "--port", "80"])).expect_err("unknown pod");
        assert!(failure.lines[0].starts_with("--from: pod `prod/nope` is not in the inventory"), "{:?}", failure.lines);
        let failure = run(&args(&[&inventory, "--from", "prod/frontend", "--to", "prod/backend", "--port", "80/QUIC"])).expect_err("bad protocol");
        assert!(failure.lines[0].contains("`QUIC`"), "{:?}", failure.lines);
        let failure = run(&args(&[&inventory, "--from", "prod/frontend", "--to", "prod/backend", "--port", "53/UDP", "--http-method", "GET"]))
            .expect_err("http over udp");
        assert!(failure.lines[0].contains("HTTP"), "{:?}", failure.lines);
    }

    #[test]
    fn semantics_options_reach_the_lowering() {
        let parsed =
            args(&["x.yaml", "--from", "a/b", "--to", "c/d", "--port", "1", "--policy-enforcement", "always", "--host-firewall", "false", "--dual-stack"]);
        let settings = parsed.semantics.options().settings;
        assert_eq!(settings.enforcement, EnforcementMode::Always);
        assert!(!settings.host_firewall && settings.allow_localhost && settings.dual_stack);
        assert_eq!(settings.cluster_name, "default");
    }
}
