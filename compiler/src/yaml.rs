//! YAML streams to span-carrying node trees.
//!
//! Built on `saphyr-parser`'s event stream. Every node keeps its span; mapping keys keep theirs,
//! so a finding can underline either the key or the value. Hostile input is bounded here:
//! nesting depth, nodes per document and alias expansion all have limits ([`Limits`]), and
//! duplicate keys are reported instead of silently overwritten.

use std::borrow::Cow;
use std::collections::HashMap;
use std::collections::HashSet;

use saphyr_parser::{Event, Marker, Parser, ScalarStyle};

use crate::codes;
use crate::diag::{Diagnostic, Location};
use crate::path::{Path, Segment};
use crate::source::{Pos, SourceId, Span};

/// Bounds applied while building node trees.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Deepest nesting of sequences and mappings.
    pub max_depth: usize,
    /// Nodes in one document, aliases expanded.
    pub max_nodes_per_document: usize,
    /// Nodes created by expanding aliases, in one document.
    pub max_alias_nodes: usize,
    /// Largest source text, in bytes.
    pub max_source_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_depth: 100, max_nodes_per_document: 2_000_000, max_alias_nodes: 100_000, max_source_bytes: 16 * 1024 * 1024 }
    }
}

/// How a scalar was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    Plain,
    Quoted,
    Block,
}

/// A scalar as written, before any typing.
#[derive(Clone, Debug, PartialEq)]
pub struct Scalar {
    pub text: String,
    pub style: Style,
    /// Set when the scalar was tagged `!!str` (or any tag that forces a string).
    pub forced_string: bool,
}

/// A scalar typed by the YAML 1.2 core schema.
#[derive(Clone, Debug, PartialEq)]
pub enum Resolved<'a> {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(&'a str),
}

impl Resolved<'_> {
    /// The word used in messages: `string`, `integer`, ...
    pub fn type_name(&self) -> &'static str {
        match self {
            Resolved::Null => "null",
            Resolved::Bool(_) => "boolean",
            Resolved::Int(_) => "integer",
            Resolved::Float(_) => "number",
            Resolved::Str(_) => "string",
        }
    }
}

impl Scalar {
    /// Types the scalar with the YAML 1.2 core schema. Quoted and block scalars are strings;
    /// so `NO` and `yes` stay strings, and `0755` is the integer 755 only when written plain.
    pub fn resolve(&self) -> Resolved<'_> {
        if self.style != Style::Plain || self.forced_string {
            return Resolved::Str(&self.text);
        }
        let t = self.text.as_str();
        match t {
            "" | "~" | "null" | "Null" | "NULL" => return Resolved::Null,
            "true" | "True" | "TRUE" => return Resolved::Bool(true),
            "false" | "False" | "FALSE" => return Resolved::Bool(false),
            ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return Resolved::Float(f64::INFINITY),
            "-.inf" | "-.Inf" | "-.INF" => return Resolved::Float(f64::NEG_INFINITY),
            ".nan" | ".NaN" | ".NAN" => return Resolved::Float(f64::NAN),
            _ => {}
        }
        if let Some(hex) = t.strip_prefix("0x")
            && !hex.is_empty()
            && hex.bytes().all(|b| b.is_ascii_hexdigit())
            && let Ok(value) = i128::from_str_radix(hex, 16)
        {
            return Resolved::Int(value);
        }
        if let Some(oct) = t.strip_prefix("0o")
            && !oct.is_empty()
            && oct.bytes().all(|b| (b'0'..=b'7').contains(&b))
            && let Ok(value) = i128::from_str_radix(oct, 8)
        {
            return Resolved::Int(value);
        }
        let digits = t.strip_prefix(['-', '+']).unwrap_or(t);
        if !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
            && let Ok(value) = t.parse::<i128>()
        {
            return Resolved::Int(value);
        }
        if is_core_float(t)
            && let Ok(value) = t.parse::<f64>()
        {
            return Resolved::Float(value);
        }
        Resolved::Str(t)
    }
}

/// `[-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?`
fn is_core_float(t: &str) -> bool {
    let b = t.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
        i += 1;
    }
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let int_digits = i - int_start;
    let mut frac_digits = 0;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let frac_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        frac_digits = i - frac_start;
    } else if int_digits == 0 {
        return false;
    }
    if int_digits == 0 && frac_digits == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
            i += 1;
        }
        let exp_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == exp_start {
            return false;
        }
    }
    i == b.len()
}

/// One node of a document.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub value: Value,
    pub span: Span,
}

/// What a node holds.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Scalar(Scalar),
    Sequence(Vec<Node>),
    Mapping(Vec<Entry>),
}

/// One key/value pair of a mapping. Keys are always scalars (others are reported and dropped).
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub key: String,
    pub key_span: Span,
    pub value: Node,
}

impl Node {
    /// The word used in messages for this node's type.
    pub fn type_name(&self) -> &'static str {
        match &self.value {
            Value::Scalar(scalar) => scalar.resolve().type_name(),
            Value::Sequence(_) => "list",
            Value::Mapping(_) => "mapping",
        }
    }

    pub fn as_mapping(&self) -> Option<&[Entry]> {
        match &self.value {
            Value::Mapping(entries) => Some(entries),
            _ => None,
        }
    }

    pub fn as_sequence(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Sequence(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_scalar(&self) -> Option<&Scalar> {
        match &self.value {
            Value::Scalar(scalar) => Some(scalar),
            _ => None,
        }
    }

    /// The text of a scalar that resolves to a string (or any plain scalar's text).
    pub fn as_str(&self) -> Option<&str> {
        self.as_scalar().map(|scalar| scalar.text.as_str())
    }

    pub fn is_null(&self) -> bool {
        matches!(&self.value, Value::Scalar(scalar) if scalar.resolve() == Resolved::Null)
    }

    /// The entry of a mapping with this key.
    pub fn entry(&self, key: &str) -> Option<&Entry> {
        self.as_mapping()?.iter().find(|entry| entry.key == key)
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|entry| &entry.value)
    }

    /// Follows `path` as far as it goes. Returns the deepest node reached, the span to point
    /// at (the key span when the path ends on a key, for `key_span_preferred`), and whether
    /// the whole path was found.
    pub fn locate(&self, path: &Path, key_span_preferred: bool) -> Located<'_> {
        let mut node = self;
        let mut span = self.span;
        let mut key_span = None;
        for segment in path.segments() {
            let next = match (segment, &node.value) {
                (Segment::Key(key), Value::Mapping(entries)) => entries.iter().find(|entry| &entry.key == key).map(|entry| {
                    key_span = Some(entry.key_span);
                    &entry.value
                }),
                (Segment::Index(index), Value::Sequence(items)) => {
                    key_span = None;
                    items.get(*index)
                }
                _ => None,
            };
            match next {
                Some(next) => {
                    node = next;
                    span = next.span;
                }
                None => {
                    // Point at the key of the deepest node that exists (the parent of the
                    // missing field), falling back to the node itself.
                    return Located { node, span: key_span.unwrap_or(span), found: false };
                }
            }
        }
        let span = if key_span_preferred { key_span.unwrap_or(span) } else { span };
        Located { node, span, found: true }
    }

    /// Number of nodes in this subtree, this one included.
    pub fn count(&self) -> usize {
        match &self.value {
            Value::Scalar(_) => 1,
            Value::Sequence(items) => 1 + items.iter().map(Node::count).sum::<usize>(),
            Value::Mapping(entries) => 1 + entries.iter().map(|entry| 1 + entry.value.count()).sum::<usize>(),
        }
    }
}

/// The answer of [`Node::locate`].
#[derive(Clone, Copy, Debug)]
pub struct Located<'a> {
    pub node: &'a Node,
    pub span: Span,
    pub found: bool,
}

/// One document of a stream.
#[derive(Clone, Debug)]
pub struct Document {
    /// 0-based position in the stream, counting empty documents too.
    pub index: usize,
    pub root: Node,
}

/// The result of reading one stream: the documents understood, and what went wrong.
#[derive(Clone, Debug, Default)]
pub struct Stream {
    pub documents: Vec<Document>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Converts saphyr's character offsets to byte offsets, lines and columns, moving a cursor
/// (offsets arrive almost in order, so this is linear over the stream). Lines and columns are
/// counted here from the text rather than taken from saphyr's markers, which disagree with the
/// byte offset at the end of the input (a virtual final line break) and after a lone `\r`.
struct Offsets<'a> {
    text: &'a str,
    char_index: usize,
    byte_index: usize,
    /// 1-based line of `byte_index`, and 0-based column in characters.
    line: u32,
    column: u32,
}

impl Offsets<'_> {
    fn new(text: &str) -> Offsets<'_> {
        Offsets { text, char_index: 0, byte_index: 0, line: 1, column: 0 }
    }

    fn byte_of(&mut self, char_index: usize) -> usize {
        while self.char_index < char_index {
            match self.text[self.byte_index..].chars().next() {
                Some(c) => {
                    self.byte_index += c.len_utf8();
                    self.char_index += 1;
                    if c == '\n' {
                        self.line += 1;
                        self.column = 0;
                    } else {
                        self.column += 1;
                    }
                }
                None => return self.byte_index,
            }
        }
        while self.char_index > char_index {
            match self.text[..self.byte_index].chars().next_back() {
                Some(c) => {
                    self.byte_index -= c.len_utf8();
                    self.char_index -= 1;
                    if c == '\n' {
                        self.line -= 1;
                        let line_start = self.text[..self.byte_index].rfind('\n').map(|i| i + 1).unwrap_or(0);
                        self.column = self.text[line_start..self.byte_index].chars().count() as u32;
                    } else {
                        self.column -= 1;
                    }
                }
                None => return 0,
            }
        }
        self.byte_index
    }

    fn pos(&mut self, marker: &Marker) -> Pos {
        let byte = self.byte_of(marker.index());
        Pos { byte, line: self.line, col: self.column + 1 }
    }
}

enum Frame {
    Sequence { start: Pos, anchor: usize, items: Vec<Node> },
    Mapping { start: Pos, anchor: usize, entries: Vec<Entry>, pending_key: Option<(String, Span)>, seen: HashSet<String> },
}

struct Builder<'a> {
    source: SourceId,
    limits: &'a Limits,
    document_index: usize,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    nodes: usize,
    alias_nodes: usize,
    root: Option<Node>,
    /// Set once the document is over a limit: the rest of its events are ignored.
    abandoned: bool,
    diagnostics: Vec<Diagnostic>,
}

impl Builder<'_> {
    fn location(&self, span: Span) -> Location {
        Location { source: self.source, span, path: None, document: Some(self.document_index) }
    }

    fn abandon(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
        self.abandoned = true;
        self.stack.clear();
        self.anchors.clear();
        self.root = None;
    }

    fn count_node(&mut self, span: Span) -> bool {
        self.nodes += 1;
        if self.nodes > self.limits.max_nodes_per_document {
            let diagnostic = Diagnostic::new(&codes::YAML_TOO_LARGE, format!("document has more than {} nodes", self.limits.max_nodes_per_document))
                .at(self.location(span))
                .with_help("split the document, or check that the file is what you meant to lint");
            self.abandon(diagnostic);
            return false;
        }
        true
    }

    fn open(&mut self, frame: Frame, span: Span) {
        if self.stack.len() >= self.limits.max_depth {
            let diagnostic = Diagnostic::new(&codes::YAML_TOO_DEEP, format!("nesting is deeper than {} levels", self.limits.max_depth))
                .at(self.location(span))
                .with_label("too deep")
                .with_help("no Kubernetes resource nests this deep; check the file is not generated garbage");
            self.abandon(diagnostic);
            return;
        }
        if self.count_node(span) {
            self.stack.push(frame);
        }
    }

    /// Places a finished node into its parent, or makes it the root.
    fn place(&mut self, node: Node, anchor: usize) {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        let source = self.source;
        let document = self.document_index;
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::Sequence { items, .. }) => items.push(node),
            Some(Frame::Mapping { entries, pending_key, seen, .. }) => match pending_key.take() {
                None => {
                    // A key.
                    match &node.value {
                        Value::Scalar(scalar) => *pending_key = Some((scalar.text.clone(), node.span)),
                        _ => {
                            self.diagnostics.push(
                                Diagnostic::new(&codes::YAML_COMPLEX_KEY, format!("a {} cannot be a mapping key", node.type_name()))
                                    .at(Location { source, span: node.span, path: None, document: Some(document) })
                                    .with_help("Kubernetes objects only use strings as keys"),
                            );
                            // Keep the pairing of keys and values: the value that follows is dropped.
                            *pending_key = Some((String::from("\u{0}complex-key"), node.span));
                        }
                    }
                }
                Some((key, key_span)) => {
                    if key == "\u{0}complex-key" {
                        return;
                    }
                    if !seen.insert(key.clone()) {
                        let first = entries.iter().find(|entry| entry.key == key).map(|entry| entry.key_span);
                        let mut diagnostic = Diagnostic::new(&codes::YAML_DUPLICATE_KEY, format!("duplicate key `{key}`"))
                            .at(Location { source, span: key_span, path: None, document: Some(document) })
                            .with_label("repeated here")
                            .with_help("a mapping may name each key once; the Kubernetes API server would keep only one of them");
                        if let Some(first) = first {
                            diagnostic = diagnostic.with_related(Location { source, span: first, path: None, document: Some(document) }, "first given here");
                        }
                        self.diagnostics.push(diagnostic);
                        return;
                    }
                    entries.push(Entry { key, key_span, value: node });
                }
            },
        }
    }

    fn scalar(&mut self, text: Cow<'_, str>, style: ScalarStyle, anchor: usize, forced_string: bool, span: Span) {
        if !self.count_node(span) {
            return;
        }
        let style = match style {
            ScalarStyle::Plain => Style::Plain,
            ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted => Style::Quoted,
            ScalarStyle::Literal | ScalarStyle::Folded => Style::Block,
        };
        let node = Node { value: Value::Scalar(Scalar { text: text.into_owned(), style, forced_string }), span };
        self.place(node, anchor);
    }

    fn alias(&mut self, anchor: usize, span: Span) {
        let Some(target) = self.anchors.get(&anchor) else {
            self.diagnostics.push(Diagnostic::new(&codes::YAML_SYNTAX, "alias refers to an unknown anchor").at(self.location(span)));
            return;
        };
        let count = target.count();
        self.alias_nodes += count;
        self.nodes += count;
        if self.alias_nodes > self.limits.max_alias_nodes || self.nodes > self.limits.max_nodes_per_document {
            let diagnostic = Diagnostic::new(
                &codes::YAML_ALIAS_BUDGET,
                format!("aliases expand to more than {} nodes", self.limits.max_alias_nodes.min(self.limits.max_nodes_per_document)),
            )
            .at(self.location(span))
            .with_label("expansion stops here")
            .with_help("this looks like an alias bomb (\"billion laughs\"); write the values out instead of nesting aliases");
            self.abandon(diagnostic);
            return;
        }
        let mut node = target.clone();
        node.span = span;
        self.place(node, 0);
    }
}

/// When the parser trips over a line because the line before it is not a `key: value` pair
/// (an elided `[...]` or `...` copied from a slide, a stray word), the cause is that line.
fn previous_line_help(text: &str, error_line: u32, info: &str) -> Option<String> {
    if !info.contains("expect ':'") && !info.contains("expected key") {
        return None;
    }
    let lines: Vec<&str> = text.lines().collect();
    let before = (1..error_line as usize)
        .rev()
        .map(|n| (n, lines.get(n - 1).copied().unwrap_or("").trim()))
        .find(|(_, line)| !line.is_empty() && !line.starts_with('#'))?;
    let (number, line) = before;
    if line.contains(':') || line.starts_with('-') || line == "---" {
        return None;
    }
    if matches!(line, "[...]" | "..." | "…" | "[…]") {
        return Some(format!(
            "line {number} (`{line}`) is an elision left from a slide or a document: replace it with the fields it stands for (here probably `metadata:` with a `name:`), or delete it"
        ));
    }
    Some(format!("line {number} (`{line}`) is not a `key: value` pair, so YAML reads it as the start of a key; complete it or delete it"))
}

fn is_string_tag(handle: &str, suffix: &str) -> bool {
    suffix == "str" && (handle == "!!" || handle == "tag:yaml.org,2002:")
}

/// Reads every document of `text`. Never fails: what cannot be read becomes a diagnostic.
pub fn parse_stream(source: SourceId, text: &str, limits: &Limits) -> Stream {
    let mut stream = Stream::default();
    if text.len() > limits.max_source_bytes {
        stream.diagnostics.push(
            Diagnostic::new(&codes::FILE_TOO_LARGE, format!("file is {} bytes, more than the limit of {} bytes", text.len(), limits.max_source_bytes))
                .at(Location { source, span: Span::new(Pos::at(text, 0), Pos::at(text, 0)), path: None, document: None })
                .with_help("policy files are small; raise the limit with `--max-file-size` if this one is meant to be this large"),
        );
        return stream;
    }
    let mut offsets = Offsets::new(text);
    let mut document_index = 0usize;
    let mut builder: Option<Builder<'_>> = None;
    for event in Parser::new_from_str(text) {
        let (event, span) = match event {
            Ok(ok) => ok,
            Err(error) => {
                let pos = offsets.pos(error.marker());
                let code = if error.info().contains("recursion limit") { &codes::YAML_TOO_DEEP } else { &codes::YAML_SYNTAX };
                let mut diagnostic = Diagnostic::new(code, format!("invalid YAML: {}", error.info())).at(Location {
                    source,
                    span: Span::new(pos, pos),
                    path: None,
                    document: Some(document_index),
                });
                if let Some(help) = previous_line_help(text, pos.line, error.info()) {
                    diagnostic = diagnostic.with_help(help);
                } else if text.contains("{{") {
                    diagnostic = diagnostic.with_help("this file contains `{{`: it looks like a Go or Helm template; render it before linting");
                } else if text.contains('\t') && error.info().contains("tab") {
                    diagnostic = diagnostic.with_help("YAML does not allow tabs for indentation; use spaces");
                }
                stream.diagnostics.push(diagnostic);
                if let Some(builder) = builder.take() {
                    stream.diagnostics.extend(builder.diagnostics);
                }
                break;
            }
        };
        let span = Span::new(offsets.pos(&span.start), offsets.pos(&span.end));
        match event {
            Event::StreamStart | Event::StreamEnd | Event::Nothing => {}
            Event::DocumentStart(_) => {
                builder = Some(Builder {
                    source,
                    limits,
                    document_index,
                    stack: Vec::new(),
                    anchors: HashMap::new(),
                    nodes: 0,
                    alias_nodes: 0,
                    root: None,
                    abandoned: false,
                    diagnostics: Vec::new(),
                });
            }
            Event::DocumentEnd => {
                if let Some(done) = builder.take() {
                    stream.diagnostics.extend(done.diagnostics);
                    if let Some(root) = done.root.filter(|root| !root.is_null()) {
                        stream.documents.push(Document { index: document_index, root });
                    }
                }
                document_index += 1;
            }
            event => {
                let Some(b) = builder.as_mut() else { continue };
                if b.abandoned {
                    continue;
                }
                match event {
                    Event::Scalar(text, style, anchor, tag) => {
                        let forced = tag.as_ref().is_some_and(|tag| is_string_tag(&tag.handle, &tag.suffix));
                        b.scalar(text, style, anchor, forced, span);
                    }
                    Event::Alias(anchor) => b.alias(anchor, span),
                    Event::SequenceStart(anchor, _) => b.open(Frame::Sequence { start: span.start, anchor, items: Vec::new() }, span),
                    Event::MappingStart(anchor, _) => {
                        b.open(Frame::Mapping { start: span.start, anchor, entries: Vec::new(), pending_key: None, seen: HashSet::new() }, span)
                    }
                    Event::SequenceEnd | Event::MappingEnd => {
                        if let Some(frame) = b.stack.pop() {
                            let (node, anchor) = match frame {
                                Frame::Sequence { start, anchor, items } => (Node { value: Value::Sequence(items), span: Span::new(start, span.end) }, anchor),
                                Frame::Mapping { start, anchor, entries, .. } => {
                                    (Node { value: Value::Mapping(entries), span: Span::new(start, span.end) }, anchor)
                                }
                            };
                            b.place(node, anchor);
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    stream
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Stream {
        parse_stream(SourceId(0), text, &Limits::default())
    }

    #[test]
    fn spans_are_bytes_lines_and_columns() {
        let stream = parse("a: é1\nb:\n  c: [1, 2]\n");
        let root = &stream.documents[0].root;
        let c = root.locate(&Path::parse("b.c[1]"), false);
        assert!(c.found);
        assert_eq!((c.span.start.line, c.span.start.col), (3, 10));
        assert_eq!(&"a: é1\nb:\n  c: [1, 2]\n"[c.span.start.byte..c.span.end.byte], "2");
        let a = root.locate(&Path::parse("a"), false);
        assert_eq!(a.span.start.byte, 3);
        assert_eq!(a.span.end.byte, 3 + "é1".len());
    }

    #[test]
    fn quoted_scalars_stay_strings() {
        let stream = parse("a: 'NO'\nb: NO\nc: 0755\nd: \"80\"\ne: 80\nf: !!str 80\n");
        let root = &stream.documents[0].root;
        let resolved: Vec<_> = ["a", "b", "c", "d", "e", "f"].iter().map(|k| root.get(k).unwrap().as_scalar().unwrap().resolve().type_name()).collect();
        assert_eq!(resolved, ["string", "string", "integer", "string", "integer", "string"]);
    }

    #[test]
    fn duplicate_keys_are_reported() {
        let stream = parse("a: 1\nb: 2\na: 3\n");
        assert_eq!(stream.diagnostics.len(), 1);
        assert_eq!(stream.diagnostics[0].code.id, codes::YAML_DUPLICATE_KEY.id);
        assert_eq!(stream.diagnostics[0].location.as_ref().unwrap().span.start.line, 3);
    }

    #[test]
    fn alias_bomb_is_stopped() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for level in 1..10 {
            let refs = vec![format!("*a{}", level - 1); 10].join(", ");
            text.push_str(&format!("a{level}: &a{level} [{refs}]\n"));
        }
        let stream = parse(&text);
        assert!(stream.diagnostics.iter().any(|d| d.code.id == codes::YAML_ALIAS_BUDGET.id));
        assert!(stream.documents.is_empty());
    }

    #[test]
    fn deep_nesting_is_stopped() {
        let text = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        let stream = parse(&text);
        assert!(stream.diagnostics.iter().any(|d| d.code.id == codes::YAML_TOO_DEEP.id), "{:?}", stream.diagnostics);
    }

    #[test]
    fn syntax_errors_are_located() {
        let stream = parse("a: 1\nb: [1, 2\nc: 3\n");
        let diagnostic = &stream.diagnostics[0];
        assert_eq!(diagnostic.code.id, codes::YAML_SYNTAX.id);
        assert!(diagnostic.location.as_ref().unwrap().span.start.line >= 2);
    }

    #[test]
    fn multiple_documents_keep_their_index() {
        let stream = parse("a: 1\n---\n---\nb: 2\n");
        let indices: Vec<_> = stream.documents.iter().map(|d| d.index).collect();
        assert_eq!(indices, [0, 2]);
    }
}

#[cfg(test)]
mod elision_tests {
    use super::*;

    #[test]
    fn an_elided_line_is_named_as_the_cause_of_the_syntax_error() {
        let stream = parse_stream(SourceId(0), "apiVersion: v1\nkind: X\n[...]\nspecs:\n- a: 1\n", &Limits::default());
        let diagnostic = &stream.diagnostics[0];
        assert_eq!(diagnostic.code.id, codes::YAML_SYNTAX.id);
        assert!(diagnostic.help.as_deref().unwrap_or("").starts_with("line 3 (`[...]`) is an elision"), "{:?}", diagnostic.help);
    }
}
