//! Paths into a YAML document (`spec.ingress[0].toPorts[1].ports[0].port`).
//!
//! Checks that run on typed models report a [`Path`]; the front end turns it back into a span
//! with the document's node tree, so the IR and the models never carry spans.

use std::fmt;

/// One step of a [`Path`].
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Segment {
    Key(String),
    Index(usize),
}

/// A path from a document root to one node.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Path(Vec<Segment>);

impl Path {
    pub fn root() -> Self {
        Path(Vec::new())
    }

    pub fn segments(&self) -> &[Segment] {
        &self.0
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// This path with a mapping key appended.
    pub fn key(&self, key: impl Into<String>) -> Self {
        let mut next = self.clone();
        next.0.push(Segment::Key(key.into()));
        next
    }

    /// This path with a sequence index appended.
    pub fn index(&self, index: usize) -> Self {
        let mut next = self.clone();
        next.0.push(Segment::Index(index));
        next
    }

    pub fn push(&mut self, segment: Segment) {
        self.0.push(segment);
    }

    pub fn pop(&mut self) -> Option<Segment> {
        self.0.pop()
    }

    /// `other` appended after `self`.
    pub fn join(&self, other: &Path) -> Self {
        let mut next = self.clone();
        next.0.extend(other.0.iter().cloned());
        next
    }

    pub fn parent(&self) -> Option<Path> {
        if self.0.is_empty() { None } else { Some(Path(self.0[..self.0.len() - 1].to_vec())) }
    }

    pub fn last_key(&self) -> Option<&str> {
        match self.0.last() {
            Some(Segment::Key(key)) => Some(key),
            _ => None,
        }
    }

    /// Parses `spec.ingress[0].toPorts["odd.key"]`. Keys containing `.`, `[` or `"` are written
    /// in brackets and quotes. Parsing never fails: an unterminated bracket ends the path.
    pub fn parse(text: &str) -> Self {
        let mut segments = Vec::new();
        let mut chars = text.chars().peekable();
        let mut current = String::new();
        while let Some(c) = chars.next() {
            match c {
                '.' => {
                    if !current.is_empty() {
                        segments.push(Segment::Key(std::mem::take(&mut current)));
                    }
                }
                '[' => {
                    if !current.is_empty() {
                        segments.push(Segment::Key(std::mem::take(&mut current)));
                    }
                    if chars.peek() == Some(&'"') {
                        chars.next();
                        let mut key = String::new();
                        while let Some(k) = chars.next() {
                            if k == '"' {
                                break;
                            }
                            if k == '\\' {
                                if let Some(escaped) = chars.next() {
                                    key.push(escaped);
                                }
                                continue;
                            }
                            key.push(k);
                        }
                        for k in chars.by_ref() {
                            if k == ']' {
                                break;
                            }
                        }
                        segments.push(Segment::Key(key));
                    } else {
                        let mut digits = String::new();
                        for k in chars.by_ref() {
                            if k == ']' {
                                break;
                            }
                            digits.push(k);
                        }
                        match digits.trim().parse::<usize>() {
                            Ok(index) => segments.push(Segment::Index(index)),
                            Err(_) => segments.push(Segment::Key(digits)),
                        }
                    }
                }
                _ => current.push(c),
            }
        }
        if !current.is_empty() {
            segments.push(Segment::Key(current));
        }
        Path(segments)
    }

    /// The path with every index replaced by `[]`: the shape a schema describes.
    pub fn pattern(&self) -> String {
        let mut out = String::new();
        for segment in &self.0 {
            match segment {
                Segment::Key(key) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    write_key(&mut out, key);
                }
                Segment::Index(_) => out.push_str("[]"),
            }
        }
        out
    }
}

fn needs_quotes(key: &str) -> bool {
    key.is_empty() || key.contains(['.', '[', ']', '"', ' '])
}

fn write_key(out: &mut String, key: &str) {
    if needs_quotes(key) {
        out.push_str("[\"");
        out.push_str(&key.replace('\\', "\\\\").replace('"', "\\\""));
        out.push_str("\"]");
    } else {
        out.push_str(key);
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        for segment in &self.0 {
            match segment {
                Segment::Key(key) => {
                    if !out.is_empty() && !needs_quotes(key) {
                        out.push('.');
                    }
                    write_key(&mut out, key);
                }
                Segment::Index(index) => {
                    out.push('[');
                    out.push_str(&index.to_string());
                    out.push(']');
                }
            }
        }
        if out.is_empty() {
            out.push_str("(document)");
        }
        f.write_str(&out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display_round_trip() {
        for text in ["spec.ingress[0].toPorts[1].ports[0].port", "metadata.labels[\"app.kubernetes.io/name\"]", "items[3].spec"] {
            assert_eq!(Path::parse(text).to_string(), text);
        }
    }

    #[test]
    fn pattern_drops_indices() {
        assert_eq!(Path::parse("spec.rules[2].matches[0]").pattern(), "spec.rules[].matches[]");
    }
}
