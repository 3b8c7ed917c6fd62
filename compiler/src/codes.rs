//! The registry of diagnostic codes.
//!
//! Codes are stable: once published, a code keeps its meaning. Ranges:
//! `PLC1xxx` YAML and documents, `PLC2xxx` schema, `PLC3xxx` Cilium and Kubernetes network
//! policy, `PLC4xxx` Gateway API, `PLC5xxx` LB-IPAM, L2 announcements and BGP, `PLC6xxx`
//! inventory and FlowTest, `PLC7xxx` policy analysis against the inventory.
//! Check modules declare their own codes; [`all`] gathers every one of them.

use crate::diag::{Code, Severity};

macro_rules! code {
    ($ident:ident, $id:literal, $name:literal, $severity:ident, $summary:literal, $explanation:expr) => {
        pub static $ident: Code = Code { id: $id, name: $name, severity: Severity::$severity, summary: $summary, explanation: $explanation };
    };
}
pub(crate) use code;

code!(YAML_SYNTAX, "PLC1001", "yaml-syntax", Error, "the file is not valid YAML",
"The YAML parser could not read the file past the point shown. Documents before the error are still checked.

Common causes: a tab used for indentation, an unclosed `[` or `{`, a `:` inside an unquoted value, or a Go/Helm template (`{{ .Values.x }}`) that has not been rendered.

Fix: correct the syntax at the location shown, or render templates before linting (`helm template ... | polc lint -`).");

code!(
    YAML_DUPLICATE_KEY,
    "PLC1002",
    "duplicate-key",
    Error,
    "a mapping names the same key twice",
    "YAML requires keys in one mapping to be unique. The Kubernetes API server silently keeps one of the values, so the other is lost without a word.

Example:
  spec:
    endpointSelector: {matchLabels: {app: a}}
    endpointSelector: {matchLabels: {app: b}}

Fix: keep one of the keys, or merge the two values."
);

code!(YAML_TOO_DEEP, "PLC1003", "nesting-too-deep", Error, "the document nests deeper than the limit",
"No Kubernetes resource nests more than a few dozen levels. polc stops reading a document that nests deeper than its limit (100 levels) so that hostile input cannot exhaust the stack.

Fix: check that the file is what you meant to lint.");

code!(YAML_ALIAS_BUDGET, "PLC1004", "alias-expansion-limit", Error, "aliases expand to too many nodes",
"YAML anchors (`&a`) and aliases (`*a`) can make a small file expand exponentially (the \"billion laughs\" attack). polc stops a document whose aliases expand to more than 100,000 nodes.

Fix: write the repeated values out, or use fewer nested aliases.");

code!(
    FILE_TOO_LARGE,
    "PLC1005",
    "file-too-large",
    Error,
    "the file is larger than the size limit",
    "polc refuses files over its size limit (16 MiB by default) before parsing them, so that memory stays bounded.

Fix: split the file, or raise the limit with `--max-file-size BYTES`."
);

code!(
    YAML_COMPLEX_KEY,
    "PLC1006",
    "non-scalar-key",
    Error,
    "a mapping key is a list or a mapping",
    "YAML allows complex keys (`? [a, b]: 1`), but Kubernetes objects only use strings as keys.

Fix: use a plain string key."
);

code!(
    YAML_TOO_LARGE,
    "PLC1007",
    "document-too-large",
    Error,
    "the document has too many nodes",
    "polc stops reading a document with more than 2,000,000 nodes so that memory stays bounded.

Fix: split the document."
);

code!(
    NOT_UTF8,
    "PLC1008",
    "not-utf8",
    Error,
    "the file is not UTF-8 text",
    "YAML files must be UTF-8. A file with invalid UTF-8 or NUL bytes is usually binary, or was saved in another encoding.

Fix: check the file is the one you meant, and save it as UTF-8."
);

code!(
    MISSING_HEADER,
    "PLC1101",
    "missing-api-version-or-kind",
    Error,
    "a document has no `apiVersion` or no `kind`",
    "Every Kubernetes object names its `apiVersion` and `kind`; polc uses them to pick the schema.

Example:
  kind: CiliumNetworkPolicy     # apiVersion missing

Fix: add the missing field, for example `apiVersion: cilium.io/v2`."
);

code!(UNSUPPORTED_API_VERSION, "PLC1102", "unsupported-api-version", Error, "a known kind is given with an apiVersion polc does not accept",
"polc models each kind at the API versions its upstream serves. A kind given at another version (for example `CiliumNetworkPolicy` at `cilium.io/v1`) is rejected.

Fix: use one of the versions listed in the help.");

code!(
    UNMODELED_KIND,
    "PLC1103",
    "kind-not-modeled",
    Note,
    "a document of a kind polc does not model was skipped",
    "Cluster dumps contain kinds polc does not need (Deployments, ConfigMaps, CRDs...). They are skipped with this note; they are never an error."
);

code!(NOT_A_MAPPING, "PLC1104", "document-not-a-mapping", Error, "a document is not a mapping",
"A Kubernetes object is a mapping with `apiVersion`, `kind`, `metadata` and usually `spec`. A document that is a list or a single value cannot be an object.

Fix: check indentation, and that the document starts with `apiVersion:`.");

code!(UNKNOWN_FIELD, "PLC2001", "unknown-field", Error, "a field is not part of the schema at this place",
"The upstream CRD schemas prune or reject unknown fields; a misspelt or misplaced field is silently dropped by the API server, so the policy does something else than it says.

Example (HTTPRoute, `backendRefs` one level too deep):
  rules:
  - matches:
    - path: {type: PathPrefix, value: /}
      backendRefs: [{name: web, port: 80}]

Fix: the help says where the field belongs, or which field was probably meant.");

code!(
    WRONG_TYPE,
    "PLC2002",
    "wrong-type",
    Error,
    "a value has the wrong type",
    "The schema wants another type here: a string where a number was given, a list where a mapping was given...

Example (CiliumNetworkPolicy ports are strings):
  ports: [{port: 80, protocol: TCP}]     # port must be \"80\"

Fix: write the value with the type the message names; quote numbers that are strings."
);

code!(
    MISSING_FIELD,
    "PLC2003",
    "missing-required-field",
    Error,
    "a required field is missing",
    "The schema requires this field.

Fix: add the field the message names."
);

code!(
    INVALID_ENUM,
    "PLC2004",
    "invalid-enum-value",
    Error,
    "a value is not one of the allowed values",
    "The field only takes the values listed in the help (case matters).

Fix: use one of the listed values."
);

code!(
    PATTERN_MISMATCH,
    "PLC2005",
    "pattern-mismatch",
    Error,
    "a string does not have the required form",
    "The schema constrains this string with a pattern (label names, DNS names, paths, durations...).

Fix: write the value in the form the help describes."
);

code!(
    OUT_OF_RANGE,
    "PLC2006",
    "out-of-range",
    Error,
    "a number is outside its allowed range",
    "Ports are 0-65535 (or 1-65535), ASNs 0-4294967295, timers and priorities have their own ranges.

Fix: use a value inside the range the message names."
);

code!(
    BAD_LENGTH,
    "PLC2007",
    "bad-length",
    Error,
    "a string or list is too short or too long",
    "The schema bounds the length of this string, or the number of items in this list.

Fix: shorten or lengthen it to fit the bounds the message names."
);

code!(DUPLICATE_LIST_KEY, "PLC2008", "duplicate-list-key", Error, "two list items share a key that must be unique",
"Some lists are maps keyed by a field (Gateway listeners by `name`, header matches by `name`...). Two items with the same key are rejected by the API server.

Fix: rename or merge the duplicated items.");

code!(
    NO_ALTERNATIVE,
    "PLC2009",
    "no-matching-alternative",
    Error,
    "a value matches none of the forms allowed here",
    "The field accepts several forms (for example a port number or a port name) and the value matches none of them.

Fix: use one of the forms the help lists."
);

code!(
    INVALID_FORMAT,
    "PLC2010",
    "invalid-format",
    Error,
    "a string is not a valid address, CIDR or other formatted value",
    "The field must be an IP address, a CIDR, a hostname or another value with a fixed format.

Fix: correct the value; the message says which format is expected."
);

code!(
    DECODE_FAILED,
    "PLC2099",
    "decode-failed",
    Error,
    "the document passed the schema but could not be decoded",
    "This is a bug in polc: its schema and its decoder disagree. Please report it with the document."
);

/// Codes of the YAML reader, the document layer and the schema validator.
pub static FRONT_END: &[&Code] = &[
    &YAML_SYNTAX,
    &YAML_DUPLICATE_KEY,
    &YAML_TOO_DEEP,
    &YAML_ALIAS_BUDGET,
    &FILE_TOO_LARGE,
    &YAML_COMPLEX_KEY,
    &YAML_TOO_LARGE,
    &NOT_UTF8,
    &MISSING_HEADER,
    &UNSUPPORTED_API_VERSION,
    &UNMODELED_KIND,
    &NOT_A_MAPPING,
    &UNKNOWN_FIELD,
    &WRONG_TYPE,
    &MISSING_FIELD,
    &INVALID_ENUM,
    &PATTERN_MISMATCH,
    &OUT_OF_RANGE,
    &BAD_LENGTH,
    &DUPLICATE_LIST_KEY,
    &NO_ALTERNATIVE,
    &INVALID_FORMAT,
    &DECODE_FAILED,
];

/// Every code polc can emit, sorted by id.
pub fn all() -> Vec<&'static Code> {
    let mut codes: Vec<&'static Code> = FRONT_END.iter().copied().chain(crate::checks::CODES.iter().flat_map(|area| area.iter().copied())).collect();
    codes.sort_by_key(|code| code.id);
    codes
}

/// Looks a code up by its id (`PLC2001`, case-insensitive) or its name (`unknown-field`).
pub fn find(query: &str) -> Option<&'static Code> {
    all().into_iter().find(|code| code.id.eq_ignore_ascii_case(query) || code.name == query)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_names_are_unique_and_well_formed() {
        let codes = all();
        for pair in codes.windows(2) {
            assert_ne!(pair[0].id, pair[1].id, "duplicate code id");
        }
        let mut names: Vec<_> = codes.iter().map(|c| c.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), codes.len(), "duplicate code name");
        for code in codes {
            assert!(code.id.len() == 7 && code.id.starts_with("PLC") && code.id[3..].bytes().all(|b| b.is_ascii_digit()), "{}", code.id);
            assert!(!code.summary.ends_with('.'), "{}: summaries end without a period", code.id);
        }
    }
}
