//! Validates a YAML node tree against a kind's JSON Schema and builds the JSON value the typed
//! model is decoded from.
//!
//! The schemas come from the models themselves (schemars), so the types, the published JSON
//! Schema and the validation never disagree. Unlike decoding with serde directly, the walk
//! here collects every finding of a document at once, each located at its node, and it knows
//! the whole schema, so an unknown field gets help naming the place it belongs.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};

use regex::Regex;
use serde_json::{Map, Number, Value as Json};

use crate::codes;
use crate::diag::{Code, Diagnostic, Location};
use crate::path::{Path, Segment};
use crate::source::{SourceId, Span};
use crate::yaml::{Node, Resolved, Style, Value};

/// A kind's schema, with the index of where each field name is valid (for misplaced fields).
pub struct KindSchema {
    root: Json,
    /// Field name → path patterns (relative to the object root) of the objects that have it.
    field_places: BTreeMap<String, Vec<String>>,
}

impl KindSchema {
    pub fn new(root: Json) -> Self {
        let mut field_places: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut visiting = HashSet::new();
        index_fields(&root, &root, &Path::root(), 0, &mut visiting, &mut field_places);
        for places in field_places.values_mut() {
            places.sort();
            places.dedup();
        }
        KindSchema { root, field_places }
    }

    pub fn json(&self) -> &Json {
        &self.root
    }

    fn resolve<'a>(&'a self, schema: &'a Json) -> &'a Json {
        let mut schema = schema;
        for _ in 0..32 {
            match schema.get("$ref").and_then(Json::as_str) {
                Some(reference) => {
                    let Some(name) = reference.strip_prefix("#/$defs/") else { return schema };
                    match self.root.get("$defs").and_then(|defs| defs.get(name)) {
                        Some(target) => schema = target,
                        None => return schema,
                    }
                }
                None => return schema,
            }
        }
        schema
    }
}

fn resolve_in<'a>(root: &'a Json, schema: &'a Json) -> &'a Json {
    let mut schema = schema;
    for _ in 0..32 {
        match schema.get("$ref").and_then(Json::as_str).and_then(|r| r.strip_prefix("#/$defs/")) {
            Some(name) => match root.get("$defs").and_then(|defs| defs.get(name)) {
                Some(target) => schema = target,
                None => return schema,
            },
            None => return schema,
        }
    }
    schema
}

fn index_fields(root: &Json, schema: &Json, at: &Path, depth: usize, visiting: &mut HashSet<String>, out: &mut BTreeMap<String, Vec<String>>) {
    if depth > 14 {
        return;
    }
    let reference = schema.get("$ref").and_then(Json::as_str).map(str::to_owned);
    if let Some(reference) = &reference
        && !visiting.insert(reference.clone())
    {
        return;
    }
    let resolved = resolve_in(root, schema);
    if let Some(properties) = resolved.get("properties").and_then(Json::as_object) {
        for (name, property) in properties {
            out.entry(name.clone()).or_default().push(at.pattern());
            index_fields(root, property, &at.key(name.clone()), depth + 1, visiting, out);
        }
    }
    if let Some(items) = resolved.get("items") {
        index_fields(root, items, &at.index(0), depth + 1, visiting, out);
    }
    for combinator in ["anyOf", "oneOf", "allOf"] {
        if let Some(branches) = resolved.get(combinator).and_then(Json::as_array) {
            for branch in branches {
                index_fields(root, branch, at, depth + 1, visiting, out);
            }
        }
    }
    if let Some(reference) = &reference {
        visiting.remove(reference);
    }
}

thread_local! {
    static REGEXES: RefCell<HashMap<String, Option<Regex>>> = RefCell::new(HashMap::new());
}

fn pattern_matches(pattern: &str, text: &str) -> bool {
    REGEXES.with(|cache| {
        let mut cache = cache.borrow_mut();
        let regex = cache.entry(pattern.to_owned()).or_insert_with(|| Regex::new(pattern).ok());
        // A pattern the regex engine cannot compile is not enforced.
        regex.as_ref().is_none_or(|regex| regex.is_match(text))
    })
}

/// Where the document being checked lives.
#[derive(Clone, Debug)]
pub struct Context {
    pub source: SourceId,
    pub document: usize,
    /// Path of the object inside its document (`items[3]` inside a `List`, else empty).
    pub base: Path,
}

/// The outcome of validating one object.
pub struct Checked {
    pub value: Json,
    pub diagnostics: Vec<Diagnostic>,
}

/// Validates `node` against `schema` and converts it to JSON.
pub fn check(schema: &KindSchema, node: &Node, context: &Context) -> Checked {
    let mut walker = Walker { schema, context, diagnostics: Vec::new(), root: node };
    let value = walker.check(node, &schema.root, &mut Path::root(), None);
    Checked { value, diagnostics: walker.diagnostics }
}

struct Walker<'a> {
    schema: &'a KindSchema,
    context: &'a Context,
    diagnostics: Vec<Diagnostic>,
    /// The object being checked, to prefer places that exist in it when a misplaced field
    /// could belong in several.
    root: &'a Node,
}

/// How many leading segments of a place pattern (`spec.ingress[]`, from
/// [`Path::pattern`]) exist in `node`; `[]` matches any item.
fn existing_depth(node: &Node, segments: &[Segment]) -> usize {
    let Some((first, rest)) = segments.split_first() else { return 0 };
    match (first, &node.value) {
        (Segment::Key(key), Value::Mapping(entries)) if !key.is_empty() => {
            entries.iter().find(|entry| &entry.key == key).map_or(0, |entry| 1 + existing_depth(&entry.value, rest))
        }
        (Segment::Key(key), Value::Sequence(items)) if key.is_empty() => items.iter().map(|item| 1 + existing_depth(item, rest)).max().unwrap_or(0),
        _ => 0,
    }
}

/// How to move a misplaced field from the object at pattern `here` to the object at `place`,
/// in the words of YAML indentation: outdent it beside the key it sits under, or indent it
/// into the field (or each item of the list) where it belongs, beside a key that is there.
fn placement_advice(root: &Node, here: &str, place: &str, key: &str) -> String {
    let first_key = |rest: &str| rest.trim_start_matches('.').split(['.', '[']).next().unwrap_or("").to_owned();
    if place.is_empty() || (here.starts_with(place) && here.len() > place.len()) {
        let beside = first_key(&here[place.len()..]);
        if beside.is_empty() {
            return String::new();
        }
        let target = if place.is_empty() { "the top level of the object".to_owned() } else { format!("`{place}`") };
        return format!(": outdent it to {target}, beside `{beside}`");
    }
    if place.starts_with(here) && place.len() > here.len() {
        let target = place.strip_suffix("[]").map(|list| format!("each item of `{list}`")).unwrap_or_else(|| format!("`{place}`"));
        let place_path = Path::parse(place);
        let siblings = first_mapping_keys(root, place_path.segments());
        return match siblings.iter().find(|sibling| sibling.as_str() != key) {
            Some(sibling) => format!(": indent it into {target}, beside `{sibling}`"),
            None => format!(": indent it into {target}"),
        };
    }
    String::new()
}

/// The keys of the first mapping in the document at `segments` (`Key("")` is any list item).
fn first_mapping_keys(node: &Node, segments: &[Segment]) -> Vec<String> {
    let Some((first, rest)) = segments.split_first() else {
        return node.as_mapping().map(|entries| entries.iter().map(|entry| entry.key.clone()).collect()).unwrap_or_default();
    };
    match (first, &node.value) {
        (Segment::Key(key), Value::Mapping(entries)) if !key.is_empty() => {
            entries.iter().find(|entry| &entry.key == key).map(|entry| first_mapping_keys(&entry.value, rest)).unwrap_or_default()
        }
        (Segment::Key(key), Value::Sequence(items)) if key.is_empty() => {
            items.iter().map(|item| first_mapping_keys(item, rest)).find(|keys| !keys.is_empty()).unwrap_or_default()
        }
        _ => Vec::new(),
    }
}

fn types_of(schema: &Json) -> Vec<&str> {
    match schema.get("type") {
        Some(Json::String(single)) => vec![single.as_str()],
        Some(Json::Array(many)) => many.iter().filter_map(Json::as_str).collect(),
        _ => Vec::new(),
    }
}

fn describe_types(types: &[&str]) -> String {
    let words: Vec<&str> = types
        .iter()
        .filter(|t| **t != "null")
        .map(|t| match *t {
            "object" => "a mapping",
            "array" => "a list",
            "string" => "a string",
            "integer" => "an integer",
            "number" => "a number",
            "boolean" => "a boolean",
            other => other,
        })
        .collect();
    match words.len() {
        0 => "null".to_owned(),
        1 => words[0].to_owned(),
        _ => format!("{} or {}", words[..words.len() - 1].join(", "), words[words.len() - 1]),
    }
}

fn node_kind(node: &Node) -> &'static str {
    match &node.value {
        Value::Mapping(_) => "object",
        Value::Sequence(_) => "array",
        Value::Scalar(scalar) => match scalar.resolve() {
            Resolved::Null => "null",
            Resolved::Bool(_) => "boolean",
            Resolved::Int(_) => "integer",
            Resolved::Float(_) => "number",
            Resolved::Str(_) => "string",
        },
    }
}

/// Help for a value that is an unrendered template placeholder (`{{ .Values.cidr }}`).
pub const TEMPLATE_HELP: &str = "this value contains `{{`: it looks like a Go or Helm template placeholder; render the template before linting";

/// Words that YAML 1.1 (and so `kubectl`) reads as booleans when unquoted.
fn is_yaml11_bool(text: &str) -> bool {
    matches!(text, "y" | "Y" | "yes" | "Yes" | "YES" | "n" | "N" | "no" | "No" | "NO" | "on" | "On" | "ON" | "off" | "Off" | "OFF")
}

fn shown(text: &str) -> String {
    let mut out: String = text.chars().take(80).collect();
    if text.chars().count() > 80 {
        out.push('…');
    }
    out.replace('`', "'").replace('\n', "\\n")
}

/// Edit distance, for did-you-mean suggestions.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(!ca.eq_ignore_ascii_case(cb));
            current[j + 1] = (previous[j] + cost).min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

/// The closest of `candidates` to `word`, if close enough to be a likely typo.
pub fn did_you_mean<'c>(word: &str, candidates: impl IntoIterator<Item = &'c str>) -> Option<&'c str> {
    let length = word.chars().count();
    let limit = (length / 3).clamp(1, 3);
    candidates
        .into_iter()
        // The distance is at least the difference in length: skip the quadratic work for a
        // candidate that cannot be close (a hostile 4 MB key against every field name).
        .filter(|candidate| candidate.chars().count().abs_diff(length) <= limit)
        .map(|candidate| (edit_distance(word, candidate), candidate))
        .filter(|(distance, _)| *distance <= limit)
        .min()
        .map(|(_, candidate)| candidate)
}

fn format_ok(format: &str, text: &str) -> Option<bool> {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    let ok = match format {
        "ipv4" => text.parse::<Ipv4Addr>().is_ok(),
        "ipv6" => text.parse::<Ipv6Addr>().is_ok(),
        "ip" => text.parse::<IpAddr>().is_ok(),
        "cidr" => parse_cidr(text).is_some(),
        "ip-or-cidr" => text.parse::<IpAddr>().is_ok() || parse_cidr(text).is_some(),
        _ => return None,
    };
    Some(ok)
}

/// Parses `a.b.c.d/n` or `x::y/n`.
pub fn parse_cidr(text: &str) -> Option<(std::net::IpAddr, u8)> {
    let (address, length) = text.split_once('/')?;
    let address: std::net::IpAddr = address.parse().ok()?;
    if length.is_empty() || length.len() > 3 || !length.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let length: u8 = length.parse().ok()?;
    let max = if address.is_ipv4() { 32 } else { 128 };
    (length <= max).then_some((address, length))
}

fn format_name(format: &str) -> &str {
    match format {
        "ipv4" => "an IPv4 address",
        "ipv6" => "an IPv6 address",
        "ip" => "an IP address",
        "cidr" => "a CIDR such as `10.0.0.0/8`",
        "ip-or-cidr" => "an IP address or a CIDR",
        other => other,
    }
}

/// The inclusive integer bounds implied by a schemars `format`.
fn format_bounds(format: &str) -> Option<(i128, i128)> {
    Some(match format {
        "uint8" => (0, u8::MAX as i128),
        "uint16" => (0, u16::MAX as i128),
        "uint32" | "uint" => (0, u32::MAX as i128),
        "uint64" => (0, u64::MAX as i128),
        "int8" => (i8::MIN as i128, i8::MAX as i128),
        "int16" => (i16::MIN as i128, i16::MAX as i128),
        "int32" | "int" => (i32::MIN as i128, i32::MAX as i128),
        "int64" => (i64::MIN as i128, i64::MAX as i128),
        _ => return None,
    })
}

impl Walker<'_> {
    fn location(&self, span: Span, path: &Path) -> Location {
        Location { source: self.context.source, span, path: Some(self.context.base.join(path)), document: Some(self.context.document) }
    }

    fn report(&mut self, code: &'static Code, span: Span, path: &Path, message: String) -> &mut Diagnostic {
        let location = self.location(span, path);
        self.diagnostics.push(Diagnostic::new(code, message).at(location));
        self.diagnostics.last_mut().expect("just pushed")
    }

    fn shown_path(&self, path: &Path) -> String {
        self.context.base.join(path).to_string()
    }

    /// Checks one node. `key_span` is the span of the key that holds it, when it has one.
    fn check(&mut self, node: &Node, schema: &Json, path: &mut Path, key_span: Option<Span>) -> Json {
        let schema = self.schema.resolve(schema);
        if schema == &Json::Bool(true) || schema.as_object().is_some_and(|object| object.is_empty()) {
            return generic_json(node);
        }
        if let Some(branches) = schema.get("anyOf").or_else(|| schema.get("oneOf")).and_then(Json::as_array) {
            return self.check_alternatives(node, schema, branches, path, key_span);
        }
        if let Some(all) = schema.get("allOf").and_then(Json::as_array) {
            let mut value = Json::Null;
            for part in all {
                value = self.check(node, part, path, key_span);
            }
            return value;
        }
        let types = types_of(schema);
        let kind = node_kind(node);
        if kind == "null" && (types.contains(&"null") || schema.get("nullable") == Some(&Json::Bool(true))) {
            return Json::Null;
        }
        match &node.value {
            Value::Mapping(_) if types.is_empty() || types.contains(&"object") => self.check_object(node, schema, path, key_span),
            Value::Sequence(_) if types.is_empty() || types.contains(&"array") => self.check_array(node, schema, path),
            Value::Scalar(_) if types.is_empty() && schema.get("properties").is_none() && schema.get("items").is_none() => {
                self.check_scalar(node, schema, &types, path)
            }
            Value::Scalar(_) if types.iter().any(|t| matches!(*t, "string" | "integer" | "number" | "boolean")) => {
                self.check_scalar(node, schema, &types, path)
            }
            _ => {
                let expected = if types.is_empty() { if schema.get("properties").is_some() { vec!["object"] } else { vec!["array"] } } else { types.clone() };
                let found = match &node.value {
                    Value::Scalar(scalar) if !scalar.text.is_empty() => format!("{} `{}`", node.type_name(), shown(&scalar.text)),
                    _ => node.type_name().to_owned(),
                };
                let message = format!("expected {} at `{}`, found {}", describe_types(&expected), self.shown_path(path), found);
                let diagnostic = self.report(&codes::WRONG_TYPE, node.span, path, message);
                if expected.contains(&"array") && matches!(node.value, Value::Mapping(_)) {
                    diagnostic.help = Some("this field is a list: start the item with `- `".to_owned());
                } else if expected.contains(&"object") && kind == "null" {
                    diagnostic.help = Some("give the fields of this mapping, or `{}` for an empty one".to_owned());
                }
                Json::Null
            }
        }
    }

    fn check_alternatives(&mut self, node: &Node, schema: &Json, branches: &[Json], path: &mut Path, key_span: Option<Span>) -> Json {
        let kind = node_kind(node);
        let non_null: Vec<&Json> = branches.iter().filter(|branch| types_of(self.schema.resolve(branch)) != ["null"]).collect();
        if kind == "null" && non_null.len() < branches.len() {
            return Json::Null;
        }
        // Unit enum variants with docs become `oneOf` of `const`s: treat them as an enum.
        let consts: Vec<&Json> = non_null.iter().filter_map(|branch| self.schema.resolve(branch).get("const")).collect();
        if !consts.is_empty() && consts.len() == non_null.len() {
            let mut as_enum = serde_json::Map::new();
            as_enum.insert("enum".to_owned(), Json::Array(consts.into_iter().cloned().collect()));
            if let Some(description) = schema.get("description") {
                as_enum.insert("description".to_owned(), description.clone());
            }
            let as_enum = Json::Object(as_enum);
            return self.check_scalar_or_wrong(node, &as_enum, path);
        }
        if non_null.len() == 1 {
            return self.check(node, non_null[0], path, key_span);
        }
        // Try every alternative; the first without errors wins.
        let mut attempts: Vec<(usize, bool, Vec<Diagnostic>, Json)> = Vec::new();
        for branch in &non_null {
            let saved = std::mem::take(&mut self.diagnostics);
            let value = self.check(node, branch, path, key_span);
            let found = std::mem::replace(&mut self.diagnostics, saved);
            let errors = found.iter().filter(|d| d.is_error()).count();
            if errors == 0 {
                self.diagnostics.extend(found);
                return value;
            }
            let resolved = self.schema.resolve(branch);
            let types = types_of(resolved);
            let kind_fits = types.contains(&kind)
                || (kind == "integer" && types.contains(&"number"))
                || (types.is_empty() && (resolved.get("properties").is_some() == (kind == "object")));
            let wrong_type_only = found.iter().all(|d| d.code.id == codes::WRONG_TYPE.id);
            attempts.push((errors, kind_fits && !wrong_type_only, found, value));
        }
        // Report the alternative that fits the node's type best.
        let best = attempts.iter().enumerate().filter(|(_, attempt)| attempt.1).min_by_key(|(_, attempt)| attempt.0).map(|(index, _)| index);
        match best {
            Some(index) => {
                let (_, _, found, value) = attempts.swap_remove(index);
                self.diagnostics.extend(found);
                value
            }
            None => {
                let mut forms: Vec<String> = non_null
                    .iter()
                    .map(|branch| {
                        let resolved = self.schema.resolve(branch);
                        let types = types_of(resolved);
                        if types.is_empty() {
                            if resolved.get("properties").is_some() { "a mapping".to_owned() } else { "a value".to_owned() }
                        } else {
                            describe_types(&types)
                        }
                    })
                    .collect();
                forms.dedup();
                let found = match &node.value {
                    Value::Scalar(scalar) => format!("{} `{}`", node.type_name(), shown(&scalar.text)),
                    _ => node.type_name().to_owned(),
                };
                let message = format!("expected {} at `{}`, found {}", forms.join(" or "), self.shown_path(path), found);
                self.report(&codes::WRONG_TYPE, node.span, path, message);
                Json::Null
            }
        }
    }

    fn check_scalar_or_wrong(&mut self, node: &Node, schema: &Json, path: &mut Path) -> Json {
        match &node.value {
            Value::Scalar(_) => self.check_scalar(node, schema, &types_of(schema), path),
            _ => {
                let message = format!("expected one of the allowed values at `{}`, found {}", self.shown_path(path), node.type_name());
                self.report(&codes::WRONG_TYPE, node.span, path, message);
                Json::Null
            }
        }
    }

    fn check_object(&mut self, node: &Node, schema: &Json, path: &mut Path, key_span: Option<Span>) -> Json {
        let entries = node.as_mapping().unwrap_or_default();
        let properties = schema.get("properties").and_then(Json::as_object);
        let additional = schema.get("additionalProperties");
        let mut out = Map::new();
        for entry in entries {
            path.push(Segment::Key(entry.key.clone()));
            let required = schema.get("required").and_then(Json::as_array).is_some_and(|names| names.iter().any(|name| name == entry.key.as_str()));
            match properties.and_then(|properties| properties.get(&entry.key)) {
                // `field:` with no value (null) is the same as no field: the API server prunes
                // it (CRDs) or decodes it as the zero value (built-in kinds).
                Some(_) if entry.value.is_null() && !required => {}
                Some(property) => {
                    let value = self.check(&entry.value, property, path, Some(entry.key_span));
                    out.insert(entry.key.clone(), value);
                }
                None => match additional {
                    Some(Json::Bool(false)) => self.unknown_field(entry.key.as_str(), entry.key_span, properties, schema.get("x-polc-field-help"), path),
                    Some(additional) if additional.is_object() => {
                        let value = self.check(&entry.value, additional, path, Some(entry.key_span));
                        out.insert(entry.key.clone(), value);
                    }
                    _ => {
                        out.insert(entry.key.clone(), generic_json(&entry.value));
                    }
                },
            }
            path.pop();
        }
        if let Some(required) = schema.get("required").and_then(Json::as_array) {
            for name in required.iter().filter_map(Json::as_str) {
                if !entries.iter().any(|entry| entry.key == name) {
                    let span = key_span.unwrap_or(Span::new(node.span.start, node.span.start));
                    let at = if path.is_root() && self.context.base.is_root() { "the document".to_owned() } else { format!("`{}`", self.shown_path(path)) };
                    let message = format!("missing required field `{name}` in {at}");
                    self.report(&codes::MISSING_FIELD, span, path, message).label = Some(format!("`{name}` missing"));
                }
            }
        }
        self.check_count(node.span, path, entries.len(), schema, "minProperties", "maxProperties", "fields");
        Json::Object(out)
    }

    /// `field_help` is the object schema's `x-polc-field-help`: help texts for fields known to be
    /// misused here (an obsolete name, a field of allow rules written in a deny rule...).
    fn unknown_field(&mut self, key: &str, key_span: Span, properties: Option<&Map<String, Json>>, field_help: Option<&Json>, path: &Path) {
        let parent = path.parent().unwrap_or_default();
        let here = parent.pattern();
        let shown_here = if here.is_empty() { "the top level".to_owned() } else { format!("`{here}`") };
        let message = format!("unknown field `{key}` in {shown_here}");
        // Where is this field valid? Prefer the place sharing the longest prefix with this one.
        let places = self.schema.field_places.get(key).cloned().unwrap_or_default();
        let here_segments: Vec<&str> = here.split(['.', '[']).collect();
        let best_place = places
            .iter()
            .filter(|place| **place != here)
            .max_by_key(|place| {
                let segments: Vec<&str> = place.split(['.', '[']).collect();
                let common = segments.iter().zip(&here_segments).take_while(|(a, b)| a == b).count();
                // Among equally close places, prefer one the document already has (the field
                // was probably meant to go into the `ingress` item that exists, not `egress`),
                // then the nearest, then the one the document has more of.
                let place_segments = Path::parse(place);
                let existing = existing_depth(self.root, place_segments.segments());
                let exists = existing == place_segments.segments().len();
                (common, exists, std::cmp::Reverse(segments.len().abs_diff(here_segments.len())), existing, std::cmp::Reverse((*place).clone()))
            })
            .cloned();
        let candidates: Vec<&str> = properties.map(|p| p.keys().map(String::as_str).collect()).unwrap_or_default();
        let case_twin = candidates.iter().find(|candidate| candidate.eq_ignore_ascii_case(key) && **candidate != key).copied();
        // `"*"` in `x-polc-field-help` is the help for any other unknown key (a label written
        // one level too high in a selector), unless the key looks like a typo of a field.
        let any_key_help = field_help.and_then(|help| help.get("*")).and_then(Json::as_str);
        let help = if let Some(text) = field_help.and_then(|help| help.get(key)).and_then(Json::as_str) {
            Some(text.to_owned())
        } else if let Some(twin) = case_twin {
            Some(format!("field names are case-sensitive: write `{twin}`"))
        } else if let Some(text) = any_key_help {
            Some(match did_you_mean(key, candidates.iter().copied()) {
                Some(guess) => format!("did you mean `{guess}`?"),
                None => text.to_owned(),
            })
        } else if let Some(place) = best_place {
            let shown_place = if place.is_empty() { "the top level of the object".to_owned() } else { format!("`{place}`") };
            let direction = placement_advice(self.root, &here, &place, key);
            Some(format!("`{key}` belongs in {shown_place}, not in {shown_here}{direction}"))
        } else if let Some(guess) = did_you_mean(key, candidates.iter().copied()) {
            Some(format!("did you mean `{guess}`?"))
        } else if !candidates.is_empty() && candidates.len() <= 12 {
            Some(format!("fields allowed here: {}", candidates.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", ")))
        } else {
            None
        };
        let diagnostic = self.report(&codes::UNKNOWN_FIELD, key_span, path, message);
        diagnostic.label = Some("not a field here".to_owned());
        diagnostic.help = help;
    }

    fn check_array(&mut self, node: &Node, schema: &Json, path: &mut Path) -> Json {
        let items = node.as_sequence().unwrap_or_default();
        let item_schema = schema.get("items");
        let mut out = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            path.push(Segment::Index(index));
            out.push(match item_schema {
                Some(item_schema) => self.check(item, item_schema, path, None),
                None => generic_json(item),
            });
            path.pop();
        }
        self.check_count(node.span, path, items.len(), schema, "minItems", "maxItems", "items");
        let list_type = schema.get("x-kubernetes-list-type").and_then(Json::as_str);
        let unique = schema.get("uniqueItems") == Some(&Json::Bool(true)) || list_type == Some("set");
        if let Some(keys) = schema.get("x-kubernetes-list-map-keys").and_then(Json::as_array) {
            let keys: Vec<&str> = keys.iter().filter_map(Json::as_str).collect();
            let mut seen: HashMap<Vec<String>, usize> = HashMap::new();
            for (index, value) in out.iter().enumerate() {
                let key: Vec<String> = keys.iter().map(|k| value.get(*k).map(Json::to_string).unwrap_or_default()).collect();
                if let Some(first) = seen.insert(key.clone(), index) {
                    let names = keys.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ");
                    let shown_key = key.iter().map(|k| k.trim_matches('"').to_owned()).collect::<Vec<_>>().join(", ");
                    let message = format!("items {first} and {index} of `{}` have the same {names} `{shown_key}`", self.shown_path(path));
                    let item_path = path.index(index);
                    let span = items[index].span;
                    let first_location = self.location(items[first].span, &path.index(first));
                    let diagnostic = self.report(&codes::DUPLICATE_LIST_KEY, span, &item_path, message);
                    diagnostic.help = Some(format!("each item of this list needs a distinct {names}"));
                    diagnostic.related.push(crate::diag::Related { location: first_location, message: "first used here".to_owned() });
                }
            }
        } else if unique {
            for index in 0..out.len() {
                if let Some(first) = out[..index].iter().position(|earlier| *earlier == out[index]) {
                    let message = format!("items {first} and {index} of `{}` are the same", self.shown_path(path));
                    let span = items[index].span;
                    self.report(&codes::DUPLICATE_LIST_KEY, span, &path.index(index), message).help = Some("list each value once".to_owned());
                }
            }
        }
        Json::Array(out)
    }

    #[allow(clippy::too_many_arguments)]
    fn check_count(&mut self, span: Span, path: &Path, count: usize, schema: &Json, min_key: &str, max_key: &str, noun: &str) {
        let min = schema.get(min_key).and_then(Json::as_u64);
        let max = schema.get(max_key).and_then(Json::as_u64);
        if let Some(min) = min
            && (count as u64) < min
        {
            let message = format!("`{}` has {count} {noun}, at least {min} required", self.shown_path(path));
            self.report(&codes::BAD_LENGTH, span, path, message);
        }
        if let Some(max) = max
            && (count as u64) > max
        {
            let message = format!("`{}` has {count} {noun}, at most {max} allowed", self.shown_path(path));
            self.report(&codes::BAD_LENGTH, span, path, message);
        }
    }

    fn check_scalar(&mut self, node: &Node, schema: &Json, types: &[&str], path: &mut Path) -> Json {
        let Some(scalar) = node.as_scalar() else { return Json::Null };
        let resolved = scalar.resolve();
        let wants = |t: &str| types.is_empty() || types.contains(&t);
        let value = match resolved {
            Resolved::Str(text) if wants("string") => Json::String(text.to_owned()),
            Resolved::Int(number) if wants("integer") || wants("number") => match i64::try_from(number) {
                Ok(small) => Json::Number(Number::from(small)),
                Err(_) => match u64::try_from(number) {
                    Ok(big) => Json::Number(Number::from(big)),
                    Err(_) => {
                        let message = format!("`{}` is too large a number for `{}`", scalar.text, self.shown_path(path));
                        self.report(&codes::OUT_OF_RANGE, node.span, path, message);
                        return Json::Null;
                    }
                },
            },
            Resolved::Float(number) if wants("number") && number.is_finite() => Number::from_f64(number).map(Json::Number).unwrap_or(Json::Null),
            Resolved::Bool(flag) if wants("boolean") => Json::Bool(flag),
            Resolved::Null if wants("null") => Json::Null,
            // A plain scalar that is not a string where a string is wanted: the API server
            // rejects it (it sees a number or a boolean), so it must be quoted.
            _ if wants("string") && scalar.style == Style::Plain && !matches!(resolved, Resolved::Null) => {
                let message = format!("expected a string at `{}`, found {} `{}`", self.shown_path(path), resolved.type_name(), shown(&scalar.text));
                // Quoting only helps when the quoted text is an allowed value (`allowFirstLastIPs: false`).
                let allowed = schema.get("enum").and_then(Json::as_array).filter(|allowed| !allowed.contains(&Json::String(scalar.text.clone())));
                let help = match allowed {
                    Some(allowed) => {
                        format!("allowed values: {}", allowed.iter().map(|v| format!("`{}`", v.as_str().unwrap_or_default())).collect::<Vec<_>>().join(", "))
                    }
                    None => format!("quote it: `\"{}\"`", shown(&scalar.text)),
                };
                let diagnostic = self.report(&codes::WRONG_TYPE, node.span, path, message);
                diagnostic.help = Some(help);
                return Json::Null;
            }
            _ => {
                let expected = if types.is_empty() { vec!["string"] } else { types.to_vec() };
                let mut message = format!("expected {} at `{}`, found {}", describe_types(&expected), self.shown_path(path), resolved.type_name());
                if !scalar.text.is_empty() {
                    message.push_str(&format!(" `{}`", shown(&scalar.text)));
                }
                let help = if scalar.style == Style::Quoted && (expected.contains(&"integer") || expected.contains(&"boolean") || expected.contains(&"number"))
                {
                    Some(format!("remove the quotes: `{}`", shown(&scalar.text)))
                } else if expected.contains(&"boolean") && is_yaml11_bool(&scalar.text) {
                    Some("write `true` or `false`".to_owned())
                } else {
                    None
                };
                let diagnostic = self.report(&codes::WRONG_TYPE, node.span, path, message);
                diagnostic.help = help;
                return Json::Null;
            }
        };
        // `yes`/`no`/`on`/`off` unquoted: YAML 1.2 reads a string, kubectl reads a boolean.
        if let (Json::String(text), Style::Plain) = (&value, scalar.style)
            && is_yaml11_bool(text)
        {
            let message = format!("`{text}` is read as a boolean by kubectl (YAML 1.1), not as the string this field needs");
            self.report(&codes::WRONG_TYPE, node.span, path, message).help = Some(format!("quote it: `\"{text}\"`"));
            return Json::Null;
        }
        self.check_constraints(node, schema, &value, path);
        value
    }

    fn check_constraints(&mut self, node: &Node, schema: &Json, value: &Json, path: &Path) {
        if let Some(allowed) = schema.get("enum").and_then(Json::as_array)
            && !allowed.contains(value)
        {
            let names: Vec<String> = allowed.iter().map(|v| v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string())).collect();
            let shown_value = value.as_str().map(str::to_owned).unwrap_or_else(|| value.to_string());
            let message = format!("`{}` is not an allowed value for `{}`", shown(&shown_value), self.shown_path(path));
            let case_twin = names.iter().find(|name| name.eq_ignore_ascii_case(&shown_value));
            let help = match case_twin {
                Some(twin) => format!("values are case-sensitive: write `{twin}`"),
                None => format!("allowed values: {}", names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")),
            };
            self.report(&codes::INVALID_ENUM, node.span, path, message).help = Some(help);
            return;
        }
        if let Some(expected) = schema.get("const")
            && expected != value
        {
            let message = format!("`{}` must be `{}`", self.shown_path(path), expected.as_str().map(str::to_owned).unwrap_or_else(|| expected.to_string()));
            self.report(&codes::INVALID_ENUM, node.span, path, message);
            return;
        }
        match value {
            Json::String(text) => {
                let length = text.chars().count() as u64;
                if let Some(min) = schema.get("minLength").and_then(Json::as_u64)
                    && length < min
                {
                    let message = if min == 1 {
                        format!("`{}` must not be empty", self.shown_path(path))
                    } else {
                        format!("`{}` is {length} characters long, at least {min} required", self.shown_path(path))
                    };
                    self.report(&codes::BAD_LENGTH, node.span, path, message);
                    return;
                }
                if let Some(max) = schema.get("maxLength").and_then(Json::as_u64)
                    && length > max
                {
                    let message = format!("`{}` is {length} characters long, at most {max} allowed", self.shown_path(path));
                    self.report(&codes::BAD_LENGTH, node.span, path, message);
                    return;
                }
                if let Some(pattern) = schema.get("pattern").and_then(Json::as_str)
                    && !pattern_matches(pattern, text)
                {
                    let message = format!("`{}` is not a valid value for `{}`", shown(text), self.shown_path(path));
                    let help = if text.contains("{{") {
                        TEMPLATE_HELP.to_owned()
                    } else {
                        schema
                            .get("x-polc-pattern-help")
                            .and_then(Json::as_str)
                            .map(str::to_owned)
                            .unwrap_or_else(|| format!("the value must match the pattern `{pattern}`"))
                    };
                    self.report(&codes::PATTERN_MISMATCH, node.span, path, message).help = Some(help);
                    return;
                }
                if let Some(format) = schema.get("format").and_then(Json::as_str)
                    && format_ok(format, text) == Some(false)
                {
                    let message = format!("`{}` is not {} (at `{}`)", shown(text), format_name(format), self.shown_path(path));
                    let diagnostic = self.report(&codes::INVALID_FORMAT, node.span, path, message);
                    if text.contains("{{") {
                        diagnostic.help = Some(TEMPLATE_HELP.to_owned());
                    }
                }
            }
            Json::Number(number) => {
                let as_i128 = number.as_i64().map(i128::from).or_else(|| number.as_u64().map(i128::from));
                let as_f64 = number.as_f64().unwrap_or(0.0);
                let (mut min, mut max) = (None::<f64>, None::<f64>);
                if let Some(format) = schema.get("format").and_then(Json::as_str)
                    && let Some((lo, hi)) = format_bounds(format)
                {
                    min = Some(lo as f64);
                    max = Some(hi as f64);
                }
                if let Some(lo) = schema.get("minimum").and_then(Json::as_f64) {
                    min = Some(min.map_or(lo, |m| m.max(lo)));
                }
                if let Some(hi) = schema.get("maximum").and_then(Json::as_f64) {
                    max = Some(max.map_or(hi, |m| m.min(hi)));
                }
                let below = min.is_some_and(|lo| as_f64 < lo);
                let above = max.is_some_and(|hi| as_f64 > hi);
                if below || above {
                    let range = match (min, max) {
                        (Some(lo), Some(hi)) => format!("from {} to {}", lo as i128, hi as i128),
                        (Some(lo), None) => format!("at least {}", lo as i128),
                        (None, Some(hi)) => format!("at most {}", hi as i128),
                        (None, None) => String::new(),
                    };
                    let shown_number = as_i128.map(|n| n.to_string()).unwrap_or_else(|| number.to_string());
                    let message = format!("`{shown_number}` is out of range for `{}`: must be {range}", self.shown_path(path));
                    self.report(&codes::OUT_OF_RANGE, node.span, path, message);
                }
            }
            _ => {}
        }
    }
}

/// A node as JSON with YAML 1.2 core typing, for fields whose schema accepts anything.
pub fn generic_json(node: &Node) -> Json {
    match &node.value {
        Value::Scalar(scalar) => match scalar.resolve() {
            Resolved::Null => Json::Null,
            Resolved::Bool(flag) => Json::Bool(flag),
            Resolved::Int(number) => i64::try_from(number)
                .map(|n| Json::Number(Number::from(n)))
                .or_else(|_| u64::try_from(number).map(|n| Json::Number(Number::from(n))))
                .unwrap_or_else(|_| Json::String(scalar.text.clone())),
            Resolved::Float(number) => Number::from_f64(number).map(Json::Number).unwrap_or_else(|| Json::String(scalar.text.clone())),
            Resolved::Str(text) => Json::String(text.to_owned()),
        },
        Value::Sequence(items) => Json::Array(items.iter().map(generic_json).collect()),
        Value::Mapping(entries) => Json::Object(entries.iter().map(|entry| (entry.key.clone(), generic_json(&entry.value))).collect()),
    }
}
