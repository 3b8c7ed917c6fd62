//! Layer 7: the HTTP and DNS rules of allow entries, the requests a flow may carry, and how a
//! rule matches a request.
//!
//! HTTP `method`, `path` and `host` are regular expressions matched against the whole value
//! (Envoy's safe-regex full match). A request is permitted when at least one rule matches it.
//! DNS `matchName` is an exact name, `matchPattern` a name with `*` wildcards; both ignore case
//! and a trailing dot.

use std::collections::BTreeMap;
use std::fmt;

use regex::Regex;
use serde::{Deserialize, Serialize};

/// The L7 rules of one allow entry. Only one kind per entry.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum L7Rules {
    Http(Vec<HttpRule>),
    Dns(Vec<DnsRule>),
}

impl L7Rules {
    pub fn kind_name(&self) -> &'static str {
        match self {
            L7Rules::Http(_) => "HTTP",
            L7Rules::Dns(_) => "DNS",
        }
    }

    /// The index of the first rule that permits `request`, if any.
    pub fn permitting_rule(&self, request: &L7Request) -> Option<usize> {
        match (self, request) {
            (L7Rules::Http(rules), L7Request::Http(request)) => rules.iter().position(|rule| rule.matches(request)),
            (L7Rules::Dns(rules), L7Request::Dns(query)) => rules.iter().position(|rule| rule.matches(&query.name)),
            _ => None,
        }
    }
}

/// What an HTTP header rule does when the header does not match.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum MismatchAction {
    Log,
    Add,
    Delete,
    Replace,
}

/// One header condition of an HTTP rule.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct HeaderMatch {
    pub name: String,
    /// `None`: the header must be present, with any value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// The value comes from a Kubernetes secret that polc cannot read; such a condition never
    /// matches in the reference evaluator.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub value_from_secret: bool,
    /// With an action, a mismatch does not deny the request (it is logged or fixed up).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mismatch: Option<MismatchAction>,
}

impl HeaderMatch {
    fn matches(&self, headers: &BTreeMap<String, String>) -> bool {
        if self.mismatch.is_some() {
            return true;
        }
        if self.value_from_secret {
            return false;
        }
        let found = headers.iter().find(|(name, _)| name.eq_ignore_ascii_case(&self.name)).map(|(_, value)| value);
        match (&self.value, found) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(wanted), Some(value)) => wanted == value,
        }
    }
}

/// One HTTP rule: every given part must match.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct HttpRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<HeaderMatch>,
}

/// Whether `pattern` matches all of `text`. A pattern that is not a valid regular expression
/// matches nothing.
pub fn regex_full_match(pattern: &str, text: &str) -> bool {
    Regex::new(&format!("^(?:{pattern})$")).is_ok_and(|regex| regex.is_match(text))
}

/// Whether `pattern` is a regular expression polc (and Envoy's RE2) accepts.
pub fn regex_is_valid(pattern: &str) -> bool {
    Regex::new(&format!("^(?:{pattern})$")).is_ok()
}

impl HttpRule {
    pub fn matches(&self, request: &HttpRequest) -> bool {
        self.method.as_deref().is_none_or(|method| regex_full_match(method, &request.method))
            && self.path.as_deref().is_none_or(|path| regex_full_match(path, &request.path))
            && self.host.as_deref().is_none_or(|host| request.host.as_deref().is_some_and(|value| regex_full_match(host, value)))
            && self.headers.iter().all(|header| header.matches(&request.headers))
    }
}

impl fmt::Display for HttpRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(method) = &self.method {
            parts.push(format!("method `{method}`"));
        }
        if let Some(path) = &self.path {
            parts.push(format!("path `{path}`"));
        }
        if let Some(host) = &self.host {
            parts.push(format!("host `{host}`"));
        }
        for header in &self.headers {
            match &header.value {
                Some(value) => parts.push(format!("header `{}: {value}`", header.name)),
                None => parts.push(format!("header `{}`", header.name)),
            }
        }
        if parts.is_empty() { f.write_str("any request") } else { f.write_str(&parts.join(", ")) }
    }
}

/// One DNS rule.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum DnsRule {
    MatchName(String),
    MatchPattern(String),
}

impl DnsRule {
    pub fn matches(&self, name: &str) -> bool {
        match self {
            DnsRule::MatchName(wanted) => normalize_dns(wanted) == normalize_dns(name),
            DnsRule::MatchPattern(pattern) => dns_pattern_matches(pattern, name),
        }
    }
}

impl fmt::Display for DnsRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DnsRule::MatchName(name) => write!(f, "matchName `{name}`"),
            DnsRule::MatchPattern(pattern) => write!(f, "matchPattern `{pattern}`"),
        }
    }
}

/// A DNS name in lower case with exactly one trailing dot.
pub fn normalize_dns(name: &str) -> String {
    let mut name = name.trim().to_ascii_lowercase();
    while name.ends_with('.') {
        name.pop();
    }
    name.push('.');
    name
}

/// Whether a `matchPattern` matches `name`. `*` alone matches every name; `*` inside a label
/// matches any run of DNS characters (letters, digits, `-`, `_`) within that label; a leading
/// `**.` matches one or more whole labels.
pub fn dns_pattern_matches(pattern: &str, name: &str) -> bool {
    let pattern = normalize_dns(pattern);
    let name = normalize_dns(name);
    if pattern == "*." {
        return true;
    }
    const DNS_CHARS: &str = "[-a-z0-9_]";
    let mut regex = String::from("^");
    let rest = match pattern.strip_prefix("**.") {
        Some(rest) => {
            regex.push_str(&format!("(?:{DNS_CHARS}+[.])+"));
            rest
        }
        None => pattern.as_str(),
    };
    for c in rest.chars() {
        match c {
            '*' => regex.push_str(&format!("{DNS_CHARS}*")),
            '.' => regex.push_str("[.]"),
            c if c.is_ascii_alphanumeric() || c == '-' || c == '_' => regex.push(c),
            // Anything else cannot be in a DNS pattern; it matches only itself.
            c => regex.push_str(&regex::escape(&c.to_string())),
        }
    }
    regex.push('$');
    Regex::new(&regex).is_ok_and(|compiled| compiled.is_match(&name))
}

/// An HTTP request carried by a flow.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct HttpRequest {
    pub method: String,
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
}

impl Default for HttpRequest {
    fn default() -> Self {
        HttpRequest { method: "GET".to_owned(), path: "/".to_owned(), host: None, headers: BTreeMap::new() }
    }
}

/// A DNS query carried by a flow.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct DnsQuery {
    pub name: String,
}

/// The L7 request a flow carries.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum L7Request {
    Http(HttpRequest),
    Dns(DnsQuery),
}

impl fmt::Display for L7Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            L7Request::Http(request) => {
                write!(f, "HTTP {} {}", request.method, request.path)?;
                if let Some(host) = &request.host {
                    write!(f, " (host {host})")?;
                }
                Ok(())
            }
            L7Request::Dns(query) => write!(f, "DNS query {}", query.name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str, path: &str) -> HttpRequest {
        HttpRequest { method: method.to_owned(), path: path.to_owned(), ..HttpRequest::default() }
    }

    #[test]
    fn http_parts_are_full_regex_matches() {
        let rule = HttpRule { method: Some("GET".to_owned()), path: Some("/public/.*".to_owned()), ..HttpRule::default() };
        assert!(rule.matches(&request("GET", "/public/index.html")));
        assert!(!rule.matches(&request("GET", "/private/public/x")), "the path regex is anchored at the start");
        assert!(!rule.matches(&request("GETX", "/public/a")), "the method regex is anchored at the end");
        assert!(!rule.matches(&request("POST", "/public/a")));
        assert!(HttpRule::default().matches(&request("DELETE", "/anything")), "an empty rule matches every request");
    }

    #[test]
    fn host_and_headers_must_be_present() {
        let rule = HttpRule {
            host: Some("api\\.example\\.com".to_owned()),
            headers: vec![HeaderMatch { name: "X-Team".to_owned(), value: Some("a".to_owned()), value_from_secret: false, mismatch: None }],
            ..HttpRule::default()
        };
        let mut good = request("GET", "/");
        good.host = Some("api.example.com".to_owned());
        good.headers.insert("x-team".to_owned(), "a".to_owned());
        assert!(rule.matches(&good), "header names ignore case");
        let mut wrong_value = good.clone();
        wrong_value.headers.insert("x-team".to_owned(), "b".to_owned());
        assert!(!rule.matches(&wrong_value));
        let mut no_host = good.clone();
        no_host.host = None;
        assert!(!rule.matches(&no_host));
    }

    #[test]
    fn a_header_with_a_mismatch_action_never_denies() {
        let header = HeaderMatch { name: "x-token".to_owned(), value: Some("s".to_owned()), value_from_secret: false, mismatch: Some(MismatchAction::Log) };
        let rule = HttpRule { headers: vec![header], ..HttpRule::default() };
        assert!(rule.matches(&request("GET", "/")));
    }

    #[test]
    fn an_invalid_regex_matches_nothing() {
        let rule = HttpRule { path: Some("/a(".to_owned()), ..HttpRule::default() };
        assert!(!rule.matches(&request("GET", "/a(")));
        assert!(!regex_is_valid("/a("));
    }

    #[test]
    fn dns_patterns() {
        assert!(dns_pattern_matches("*", "anything.example.com"));
        assert!(dns_pattern_matches("*.cilium.io", "docs.cilium.io"));
        assert!(!dns_pattern_matches("*.cilium.io", "cilium.io"));
        assert!(!dns_pattern_matches("*.cilium.io", "a.b.cilium.io"), "one `*` stays within one label");
        assert!(dns_pattern_matches("*cilium.io", "cilium.io"), "a leading `*` without a dot also matches the bare name");
        assert!(dns_pattern_matches("**.cilium.io", "a.b.cilium.io"));
        assert!(!dns_pattern_matches("**.cilium.io", "cilium.io"));
        assert!(dns_pattern_matches("API.Example.com.", "api.example.com"));
        assert!(DnsRule::MatchName("api.example.com".to_owned()).matches("API.example.com."));
        assert!(!DnsRule::MatchName("example.com".to_owned()).matches("api.example.com"));
    }
}
