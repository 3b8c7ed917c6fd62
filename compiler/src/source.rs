//! Source texts handed to the compiler by its caller, and line/column lookup.
//!
//! The compiler never reads files: the CLI reads them and passes their text here.

/// Index of a source inside a [`SourceMap`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SourceId(pub u32);

/// One input text, named the way the user should see it (usually a path).
#[derive(Clone, Debug)]
pub struct Source {
    pub name: String,
    pub text: String,
}

/// Every input of one compiler run, in the order the caller gave them.
#[derive(Clone, Debug, Default)]
pub struct SourceMap {
    sources: Vec<Source>,
}

impl SourceMap {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, name: impl Into<String>, text: impl Into<String>) -> SourceId {
        let id = SourceId(self.sources.len() as u32);
        self.sources.push(Source { name: name.into(), text: text.into() });
        id
    }

    pub fn get(&self, id: SourceId) -> &Source {
        &self.sources[id.0 as usize]
    }

    pub fn ids(&self) -> impl Iterator<Item = SourceId> + '_ {
        (0..self.sources.len() as u32).map(SourceId)
    }

    pub fn len(&self) -> usize {
        self.sources.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }
}

/// A position in a source: byte offset, 1-based line and 1-based column (in characters).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    pub byte: usize,
    pub line: u32,
    pub col: u32,
}

impl Pos {
    /// The position of byte offset `byte` of `text` (clamped to the text, moved back to a
    /// character boundary): 1-based line and column, counting `\n` as the line break.
    pub fn at(text: &str, byte: usize) -> Pos {
        let mut byte = byte.min(text.len());
        while !text.is_char_boundary(byte) {
            byte -= 1;
        }
        let before = &text[..byte];
        let line = before.bytes().filter(|b| *b == b'\n').count() as u32 + 1;
        let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
        Pos { byte, line, col: before[line_start..].chars().count() as u32 + 1 }
    }
}

/// A half-open range `[start, end)` in one source.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span {
    pub start: Pos,
    pub end: Pos,
}

impl Span {
    pub fn new(start: Pos, end: Pos) -> Self {
        // INVARIANT: end is never before start.
        let end = if end.byte < start.byte { start } else { end };
        Span { start, end }
    }

    /// A span that covers the first line of this span only (for underlining).
    pub fn is_empty(&self) -> bool {
        self.start.byte == self.end.byte
    }
}

/// The text of line `line` (1-based) of `text`, without its line terminator.
pub fn line_text(text: &str, line: u32) -> &str {
    text.split('\n').nth(line.saturating_sub(1) as usize).map(|l| l.strip_suffix('\r').unwrap_or(l)).unwrap_or("")
}
