//! L2 announcement `interfaces[]` that are not valid Go regular expressions, or that look like
//! shell globs.
//!
//! Cilium compiles each entry with Go's `regexp` package and matches it, unanchored, against
//! the names of the node's network devices. When one entry does not compile, the agent sets the
//! condition `io.cilium/bad-interface-regex` on the policy and the policy announces nothing.
//! An entry such as `eth*` compiles, but as a regex it means "`et` followed by any number of
//! `h`", anywhere in the name. Fix: write a valid regex, anchored with `^`, such as
//! `^eth[0-9]+`.

use crate::checks::CheckCx;
use crate::codes::code;
use crate::diag::{Code, Severity};
use crate::model::cilium_net::CiliumL2AnnouncementPolicy;
use crate::path::Path;

use super::go_regex;

code!(BAD_INTERFACE_REGEX, "PLC5101", "l2-bad-interface-regex", Error, "an L2 announcement interface pattern is not a valid regular expression",
"`spec.interfaces` of a CiliumL2AnnouncementPolicy lists Go (RE2) regular expressions. When one does not compile, the Cilium agent sets the status condition `io.cilium/bad-interface-regex` on the policy and does not announce its services at all.

Example:
  interfaces:
  - *eth0          # `*` needs something to repeat

Fix: write a valid regular expression, for example `^eth[0-9]+` or `^(eth|ens)[0-9]+$`.");

code!(INTERFACE_GLOB, "PLC5103", "l2-interface-glob", Warning, "an L2 announcement interface pattern looks like a shell glob",
"`spec.interfaces` entries are regular expressions matched anywhere in the device name, not shell globs. `eth*` means `et` followed by zero or more `h`, so it matches every device whose name contains `et` (`veth12ab`, `net0`...), not just the `eth` devices.

Fix: anchor the pattern and use `.*` or a character class: `^eth` or `^eth[0-9]+$`.");

/// Whether `pattern` is a name followed by a single `*`, as a shell glob would be written.
fn glob_prefix(pattern: &str) -> Option<&str> {
    let prefix = pattern.strip_suffix('*')?;
    let name_like = !prefix.is_empty() && prefix.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    name_like.then_some(prefix)
}

/// Reports invalid and glob-like interface patterns.
pub fn check(policy: &CiliumL2AnnouncementPolicy, cx: &mut CheckCx<'_>) {
    let Some(spec) = &policy.spec else { return };
    for (index, pattern) in spec.interfaces.iter().enumerate() {
        let path = Path::root().key("spec").key("interfaces").index(index);
        if let Err(reason) = go_regex::check(pattern) {
            let diagnostic = cx.report(&BAD_INTERFACE_REGEX, &path, format!("`{pattern}` is not a valid regular expression: {reason}"));
            diagnostic.label = Some("io.cilium/bad-interface-regex".to_owned());
            diagnostic.help = Some(if pattern.starts_with('*') {
                format!(
                    "interface patterns are regular expressions, not globs: write `{}` for names containing `{}`",
                    pattern.trim_matches('*'),
                    pattern.trim_matches('*')
                )
            } else {
                "write a Go regular expression, for example `^eth[0-9]+`; the policy announces nothing until every entry compiles".to_owned()
            });
            continue;
        }
        if let Some(prefix) = glob_prefix(pattern) {
            let shortened: String = prefix.chars().take(prefix.chars().count() - 1).collect();
            let matches = if shortened.is_empty() { "every device name".to_owned() } else { format!("every device whose name contains `{shortened}`") };
            cx.report(&INTERFACE_GLOB, &path, format!("`{pattern}` is a regular expression, not a glob: it matches {matches}")).help =
                Some(format!("write `^{prefix}` for names starting with `{prefix}`, or `^{prefix}[0-9]+$` for `{prefix}0`, `{prefix}1`, ..."));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::frontend::{Options, parse};
    use crate::source::SourceMap;

    fn lint(interfaces: &str) -> Vec<(&'static str, u32, String)> {
        let text = format!(
            "apiVersion: cilium.io/v2alpha1\nkind: CiliumL2AnnouncementPolicy\nmetadata:\n  name: l2\nspec:\n  loadBalancerIPs: true\n  interfaces:\n{interfaces}"
        );
        let mut sources = SourceMap::default();
        sources.add("l2.yaml", text);
        parse(&sources, &Options::default())
            .diagnostics
            .iter()
            .map(|d| (d.code.id, d.location.as_ref().map_or(0, |l| l.span.start.line), d.message.clone()))
            .collect()
    }

    #[test]
    fn valid_patterns_are_clean() {
        assert!(lint("  - ^eth[0-9]+\n  - ^(ens|enp)[0-9a-z]+$\n  - bond0\n").is_empty());
    }

    #[test]
    fn invalid_patterns_are_errors() {
        let found = lint("  - ^eth[0-9]+\n  - \"*eth\"\n  - ^eth[0-9\n");
        assert_eq!(found.iter().map(|f| (f.0, f.1)).collect::<Vec<_>>(), vec![("PLC5101", 9), ("PLC5101", 10)]);
        assert_eq!(found[1].2, "`^eth[0-9` is not a valid regular expression: unclosed character class");
    }

    #[test]
    fn globs_warn() {
        let found = lint("  - eth*\n  - ^eth.*\n");
        assert_eq!(found.iter().map(|f| (f.0, f.1)).collect::<Vec<_>>(), vec![("PLC5103", 8)]);
        assert_eq!(found[0].2, "`eth*` is a regular expression, not a glob: it matches every device whose name contains `et`");
    }
}
