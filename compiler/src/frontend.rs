//! The front end: source texts in, decoded objects and diagnostics out.
//!
//! Per source: YAML stream → documents → (`List` items) → header (`apiVersion`, `kind`) →
//! schema validation → typed decode → single-object checks. Then cross-object checks over
//! everything. An object with any schema error is not decoded, so no later stage sees a
//! half-understood object; its findings are all reported.

use crate::checks::{self, CheckCx};
use crate::codes;
use crate::diag::{Diagnostic, Location, sort_diagnostics};
use crate::kinds::{KindInfo, Resource};
use crate::path::Path;
use crate::schema_check::{self, Context};
use crate::source::{Pos, SourceId, SourceMap, Span};
use crate::yaml::{self, Limits, Node, Value};

/// Options of a front-end run.
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub limits: Limits,
}

/// One decoded object and where it came from.
#[derive(Clone, Debug)]
pub struct Object {
    pub source: SourceId,
    /// Index of the YAML document inside its source.
    pub document: usize,
    /// Path of the object inside its document (`items[2]` in a `List`, else the root).
    pub base: Path,
    /// The object's node tree (spans for later checks).
    pub node: Node,
    pub api_version: String,
    pub resource: Resource,
}

impl Object {
    pub fn kind(&self) -> &'static str {
        self.resource.kind()
    }

    pub fn name(&self) -> &str {
        self.resource.metadata().name()
    }

    pub fn namespace(&self) -> Option<&str> {
        self.resource.metadata().namespace.as_deref()
    }
}

/// The output of the front end.
#[derive(Clone, Debug, Default)]
pub struct Parsed {
    /// Every object that decoded, in source order.
    pub objects: Vec<Object>,
    /// Every finding, in canonical order.
    pub diagnostics: Vec<Diagnostic>,
    /// Documents of kinds polc does not model, as `(kind, count)`, sorted.
    pub skipped: Vec<(String, usize)>,
}

impl Parsed {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Reads every source of `sources`.
pub fn parse(sources: &SourceMap, options: &Options) -> Parsed {
    let per_source: Vec<SourceOutput> = run_per_source(sources, options);
    let mut parsed = Parsed::default();
    let mut skipped = std::collections::BTreeMap::<String, usize>::new();
    for output in per_source {
        parsed.objects.extend(output.objects);
        parsed.diagnostics.extend(output.diagnostics);
        for kind in output.skipped {
            *skipped.entry(kind).or_default() += 1;
        }
    }
    checks::check_set(&parsed.objects, &mut parsed.diagnostics);
    sort_diagnostics(&mut parsed.diagnostics);
    parsed.skipped = skipped.into_iter().collect();
    parsed
}

#[derive(Default)]
struct SourceOutput {
    objects: Vec<Object>,
    diagnostics: Vec<Diagnostic>,
    skipped: Vec<String>,
}

/// Parses sources on up to `available_parallelism` threads; the result keeps source order.
fn run_per_source(sources: &SourceMap, options: &Options) -> Vec<SourceOutput> {
    let ids: Vec<SourceId> = sources.ids().collect();
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).min(ids.len().max(1));
    if threads <= 1 || ids.len() < 4 {
        return ids.iter().map(|id| parse_source(sources, *id, options)).collect();
    }
    let chunk = ids.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> =
            ids.chunks(chunk).map(|chunk| scope.spawn(move || chunk.iter().map(|id| parse_source(sources, *id, options)).collect::<Vec<_>>())).collect();
        handles.into_iter().flat_map(|handle| handle.join().unwrap_or_default()).collect()
    })
}

fn parse_source(sources: &SourceMap, source: SourceId, options: &Options) -> SourceOutput {
    let text = &sources.get(source).text;
    let mut output = SourceOutput::default();
    if let Some(offset) = text.find('\u{0}') {
        let diagnostic = Diagnostic::new(&codes::NOT_UTF8, "the file contains NUL bytes: it is not a text file")
            .at(Location { source, span: Span::new(Pos::at(text, offset), Pos::at(text, offset + 1)), path: None, document: None })
            .with_help(format!("first NUL byte at offset {offset}"));
        output.diagnostics.push(diagnostic);
        return output;
    }
    let stream = yaml::parse_stream(source, text, &options.limits);
    output.diagnostics.extend(stream.diagnostics);
    for document in stream.documents {
        read_object(source, document.index, Path::root(), document.root, &mut output);
    }
    output
}

fn header_field<'n>(node: &'n Node, key: &str) -> Option<&'n str> {
    node.get(key).and_then(|value| match &value.value {
        Value::Scalar(scalar) => Some(scalar.text.as_str()),
        _ => None,
    })
}

fn read_object(source: SourceId, document: usize, base: Path, node: Node, output: &mut SourceOutput) {
    let location = |span: Span, path: &Path| Location { source, span, path: Some(path.clone()), document: Some(document) };
    if node.is_null() {
        return;
    }
    if node.as_mapping().is_none() {
        output.diagnostics.push(
            Diagnostic::new(&codes::NOT_A_MAPPING, format!("expected a Kubernetes object (a mapping), found a {}", node.type_name()))
                .at(location(node.span, &base))
                .with_help("an object starts with `apiVersion:` and `kind:` at the left margin; check the indentation"),
        );
        return;
    }
    let api_version = header_field(&node, "apiVersion");
    let kind = header_field(&node, "kind");
    let (Some(api_version), Some(kind)) = (api_version, kind) else {
        let missing = match (api_version, kind) {
            (None, None) => "`apiVersion` and `kind`",
            (None, Some(_)) => "`apiVersion`",
            _ => "`kind`",
        };
        let span = Span::new(node.span.start, node.span.start);
        let mut diagnostic = Diagnostic::new(&codes::MISSING_HEADER, format!("this document has no {missing}")).at(location(span, &base));
        if let Some(kind) = kind
            && let Some(info) = KindInfo::find(kind)
        {
            diagnostic = diagnostic.with_help(format!("add `apiVersion: {}`", info.api_versions[0]));
        }
        output.diagnostics.push(diagnostic);
        return;
    };
    // `List` (and `FooList`) objects as `kubectl get -o yaml` writes them.
    if (kind == "List" || kind.ends_with("List")) && node.get("items").is_some() {
        let items = node.get("items").and_then(Node::as_sequence).map(<[Node]>::to_vec);
        match items {
            Some(items) => {
                for (index, item) in items.into_iter().enumerate() {
                    read_object(source, document, base.key("items").index(index), item, output);
                }
            }
            None => {
                let items = node.get("items").expect("checked above");
                if !items.is_null() {
                    output.diagnostics.push(
                        Diagnostic::new(&codes::WRONG_TYPE, format!("expected a list at `{}`, found {}", base.key("items"), items.type_name()))
                            .at(location(items.span, &base.key("items"))),
                    );
                }
            }
        }
        return;
    }
    let Some(info) = KindInfo::find(kind) else {
        let span = node.get("kind").map(|k| k.span).unwrap_or(node.span);
        let mut diagnostic = Diagnostic::new(&codes::UNMODELED_KIND, format!("skipped `{kind}` (`{api_version}`): polc does not model this kind"))
            .at(location(span, &base.key("kind")));
        if let Some(info) = crate::kinds::KINDS.iter().find(|info| info.kind.eq_ignore_ascii_case(kind)) {
            diagnostic = diagnostic.with_severity(crate::diag::Severity::Error).with_help(format!("kinds are case-sensitive: did you mean `{}`?", info.kind));
        }
        output.diagnostics.push(diagnostic);
        output.skipped.push(kind.to_owned());
        return;
    };
    // A known kind at a version polc does not accept is an error, but the rest of the object is
    // still checked against the current schema so that every finding is reported at once.
    let version_accepted = info.api_versions.contains(&api_version);
    if !version_accepted {
        let span = node.get("apiVersion").map(|k| k.span).unwrap_or(node.span);
        let versions = info.api_versions.iter().map(|v| format!("`{v}`")).collect::<Vec<_>>().join(", ");
        output.diagnostics.push(
            Diagnostic::new(&codes::UNSUPPORTED_API_VERSION, format!("`{kind}` is not served at `{api_version}`"))
                .at(location(span, &base.key("apiVersion")))
                .with_label("not served")
                .with_help(format!("use one of {versions}")),
        );
    }
    let context = Context { source, document, base: base.clone() };
    let checked = schema_check::check(info.schema(), &node, &context);
    let schema_errors = checked.diagnostics.iter().any(Diagnostic::is_error);
    output.diagnostics.extend(checked.diagnostics);
    if schema_errors || !version_accepted {
        return;
    }
    let resource = match info.decode(checked.value) {
        Ok(resource) => resource,
        Err(error) => {
            output.diagnostics.push(
                Diagnostic::new(&codes::DECODE_FAILED, format!("`{kind}` passed the schema but could not be decoded: {error}")).at(location(node.span, &base)),
            );
            return;
        }
    };
    let api_version = api_version.to_owned();
    let mut cx = CheckCx { source, document, base: &base, node: &node, api_version: &api_version, diagnostics: &mut output.diagnostics };
    info.check(&resource, &mut cx);
    output.objects.push(Object { source, document, base, node, api_version, resource });
}
