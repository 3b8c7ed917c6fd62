//! Reading the inputs of a command: paths to files, directories or stdin, into a [`SourceMap`].
//!
//! This is the only place polc reads input files. Directories are searched recursively for
//! `.yaml` and `.yml` files, in sorted order, skipping hidden entries (names starting with
//! `.`); a file named explicitly is read whatever its extension. `-` reads stdin. A file that
//! is too large or not UTF-8 becomes a diagnostic (the run goes on with the other files); a
//! path that does not exist or cannot be read, or a directory without YAML files, is a
//! [`Failure`] (exit code 2).

use std::collections::BTreeSet;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use polc_compiler::codes;
use polc_compiler::diag::{Diagnostic, Location, sort_diagnostics};
use polc_compiler::source::{Pos, SourceId, Span};
use polc_compiler::yaml::Limits;
use polc_compiler::{Options, Parsed, SourceMap};

use crate::exit::{Failure, describe_io};

/// The name stdin is shown under.
pub const STDIN_NAME: &str = "<stdin>";

/// Input options shared by every command that reads policy files.
#[derive(Clone, Debug, clap::Args)]
pub struct InputArgs {
    /// Files or directories (searched recursively for .yaml/.yml); `-` reads stdin
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Largest input file polc reads, in bytes; larger files are reported (PLC1005)
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().max_source_bytes)]
    pub max_file_size: usize,
}

impl InputArgs {
    /// The front-end options these arguments ask for.
    pub fn options(&self) -> Options {
        Options { limits: Limits { max_source_bytes: self.max_file_size, ..Limits::default() } }
    }
}

/// The input texts of one run, plus the findings about the files themselves.
#[derive(Debug, Default)]
pub struct Inputs {
    pub sources: SourceMap,
    /// Files that are too large or not UTF-8 (their text in `sources` is empty).
    pub diagnostics: Vec<Diagnostic>,
}

/// The inputs of a run after the front end: every source and everything the compiler said.
#[derive(Debug)]
pub struct Loaded {
    pub sources: SourceMap,
    /// The front end's output, with the findings about the files merged in, in canonical order.
    pub parsed: Parsed,
}

/// Reads `args.paths` and runs the front end over them.
pub fn load_and_parse(args: &InputArgs) -> Result<Loaded, Failure> {
    let inputs = load(&args.paths, args.max_file_size, &mut std::io::stdin().lock())?;
    let mut parsed = polc_compiler::parse(&inputs.sources, &args.options());
    parsed.diagnostics.extend(inputs.diagnostics);
    sort_diagnostics(&mut parsed.diagnostics);
    Ok(Loaded { sources: inputs.sources, parsed })
}

/// One file to read, and the name it is shown under.
enum Entry {
    File { path: PathBuf, name: String },
    Stdin,
}

/// Reads every input named by `paths`. `stdin` is read when a path is `-`.
pub fn load(paths: &[PathBuf], max_file_size: usize, stdin: &mut dyn Read) -> Result<Inputs, Failure> {
    let entries = collect(paths)?;
    let mut inputs = Inputs::default();
    let mut failures = Vec::new();
    for entry in entries {
        match entry {
            Entry::File { path, name } => {
                let read = fs::File::open(&path).and_then(|file| {
                    let size = file.metadata().map(|metadata| metadata.len()).ok();
                    read_limited(file, max_file_size).map(|bytes| (bytes, size))
                });
                match read {
                    Ok((bytes, size)) => add_source(&mut inputs, name, bytes, size, max_file_size),
                    Err(error) => failures.push(format!("cannot read `{name}`: {}", describe_io(&error))),
                }
            }
            Entry::Stdin => match read_limited(&mut *stdin, max_file_size) {
                Ok(bytes) => add_source(&mut inputs, STDIN_NAME.to_owned(), bytes, None, max_file_size),
                Err(error) => failures.push(format!("cannot read stdin: {}", describe_io(&error))),
            },
        }
    }
    if failures.is_empty() { Ok(inputs) } else { Err(Failure { lines: failures }) }
}

/// Reads at most `limit + 1` bytes, enough to tell whether the input is over the limit.
fn read_limited(reader: impl Read, limit: usize) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    reader.take((limit as u64).saturating_add(1)).read_to_end(&mut bytes)?;
    Ok(bytes)
}

fn file_start() -> Span {
    let start = Pos { byte: 0, line: 1, col: 1 };
    Span::new(start, start)
}

fn add_source(inputs: &mut Inputs, name: String, bytes: Vec<u8>, size: Option<u64>, limit: usize) {
    if bytes.len() > limit {
        let id = inputs.sources.add(name, String::new());
        let size = match size {
            Some(size) if size > limit as u64 => format!("{size} bytes"),
            _ => String::from("larger"),
        };
        inputs.diagnostics.push(
            Diagnostic::new(&codes::FILE_TOO_LARGE, format!("file is {size}, more than the limit of {limit} bytes"))
                .at(file_location(id, file_start()))
                .with_help("policy files are small; raise the limit with `--max-file-size` if this one is meant to be this large"),
        );
        return;
    }
    match String::from_utf8(bytes) {
        Ok(text) => {
            inputs.sources.add(name, text);
        }
        Err(error) => {
            let bytes = error.as_bytes();
            let valid_up_to = error.utf8_error().valid_up_to();
            let id = inputs.sources.add(name, String::new());
            let help = if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
                String::from("the file starts with a UTF-16 byte-order mark; save it as UTF-8")
            } else {
                format!("the first byte that is not UTF-8 is at offset {valid_up_to}; save the file as UTF-8, or check that it is text")
            };
            // The valid prefix is UTF-8 by definition; its end is the position of the bad byte.
            let prefix = std::str::from_utf8(&bytes[..valid_up_to]).unwrap_or("");
            let pos = position_at_end(prefix);
            inputs.diagnostics.push(
                Diagnostic::new(&codes::NOT_UTF8, "the file is not UTF-8 text")
                    .at(file_location(id, Span::new(pos, pos)))
                    .with_label("not UTF-8")
                    .with_help(help),
            );
        }
    }
}

/// The position just after `text`: 1-based line and column (in characters).
fn position_at_end(text: &str) -> Pos {
    let line = text.bytes().filter(|b| *b == b'\n').count() as u32 + 1;
    let last_line = text.rsplit('\n').next().unwrap_or("");
    Pos { byte: text.len(), line, col: last_line.chars().count() as u32 + 1 }
}

fn file_location(source: SourceId, span: Span) -> Location {
    Location { source, span, path: None, document: None }
}

fn is_yaml(path: &Path) -> bool {
    path.extension()
        .and_then(|extension| extension.to_str())
        .is_some_and(|extension| extension.eq_ignore_ascii_case("yaml") || extension.eq_ignore_ascii_case("yml"))
}

fn is_hidden(name: &std::ffi::OsStr) -> bool {
    name.as_encoded_bytes().first() == Some(&b'.')
}

/// The name a path is shown under: relative to the working directory when it is inside it,
/// with `/` separators and no leading `./`.
pub fn display_name(path: &Path, cwd: Option<&Path>) -> String {
    let shown = match cwd {
        Some(cwd) if path.is_absolute() => path.strip_prefix(cwd).unwrap_or(path),
        _ => path,
    };
    let mut text = shown.to_string_lossy().replace('\\', "/");
    while let Some(rest) = text.strip_prefix("./") {
        text = rest.trim_start_matches('/').to_owned();
    }
    if text.is_empty() { String::from(".") } else { text }
}

/// Expands the paths into the files to read, in order, without repeats.
fn collect(paths: &[PathBuf]) -> Result<Vec<Entry>, Failure> {
    let cwd = std::env::current_dir().ok();
    let mut entries = Vec::new();
    let mut failures = Vec::new();
    let mut seen_files = BTreeSet::new();
    let mut seen_stdin = false;
    for path in paths {
        if path.as_os_str() == "-" {
            if seen_stdin {
                failures.push(String::from("`-` (stdin) is given more than once"));
            }
            seen_stdin = true;
            entries.push(Entry::Stdin);
            continue;
        }
        let shown = display_name(path, cwd.as_deref());
        let metadata = match fs::metadata(path) {
            Ok(metadata) => metadata,
            Err(error) => {
                failures.push(format!("cannot read `{shown}`: {}", describe_io(&error)));
                continue;
            }
        };
        let mut files = Vec::new();
        if metadata.is_dir() {
            let mut visited = BTreeSet::new();
            walk(path, &mut files, &mut visited, &mut failures, cwd.as_deref());
            if files.is_empty() {
                failures.push(format!("no `.yaml` or `.yml` files under `{shown}`"));
            }
        } else {
            files.push(path.clone());
        }
        for file in files {
            let identity = fs::canonicalize(&file).unwrap_or_else(|_| file.clone());
            if seen_files.insert(identity) {
                entries.push(Entry::File { name: display_name(&file, cwd.as_deref()), path: file });
            }
        }
    }
    if failures.is_empty() { Ok(entries) } else { Err(Failure { lines: failures }) }
}

/// Collects the YAML files under `dir`, depth first, each directory's entries sorted by name.
fn walk(dir: &Path, files: &mut Vec<PathBuf>, visited: &mut BTreeSet<PathBuf>, failures: &mut Vec<String>, cwd: Option<&Path>) {
    // Symbolic links may loop back to a directory already searched.
    let identity = fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    if !visited.insert(identity) {
        return;
    }
    let read = match fs::read_dir(dir) {
        Ok(read) => read,
        Err(error) => {
            failures.push(format!("cannot read directory `{}`: {}", display_name(dir, cwd), describe_io(&error)));
            return;
        }
    };
    let mut children = Vec::new();
    for entry in read {
        match entry {
            Ok(entry) => children.push(entry.file_name()),
            Err(error) => failures.push(format!("cannot read directory `{}`: {}", display_name(dir, cwd), describe_io(&error))),
        }
    }
    children.sort();
    for name in children {
        if is_hidden(&name) {
            continue;
        }
        let child = dir.join(&name);
        match fs::metadata(&child) {
            Ok(metadata) if metadata.is_dir() => walk(&child, files, visited, failures, cwd),
            Ok(_) if is_yaml(&child) => files.push(child),
            Ok(_) => {}
            Err(error) if is_yaml(&child) => failures.push(format!("cannot read `{}`: {}", display_name(&child, cwd), describe_io(&error))),
            Err(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_are_relative_without_dot_slash() {
        let cwd = Path::new("/work/main");
        assert_eq!(display_name(Path::new("/work/main/policies/a.yaml"), Some(cwd)), "policies/a.yaml");
        assert_eq!(display_name(Path::new("./policies/a.yaml"), Some(cwd)), "policies/a.yaml");
        assert_eq!(display_name(Path::new("/elsewhere/a.yaml"), Some(cwd)), "/elsewhere/a.yaml");
        assert_eq!(display_name(Path::new("."), Some(cwd)), ".");
    }

    #[test]
    fn positions_count_lines_and_characters() {
        assert_eq!(position_at_end(""), Pos { byte: 0, line: 1, col: 1 });
        assert_eq!(position_at_end("a: é\nbc"), Pos { byte: 8, line: 2, col: 3 });
    }

    #[test]
    fn directories_are_searched_in_sorted_order_skipping_hidden_entries() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["b.yaml", "a.yml", "c.txt", "sub/z.YAML", ".hidden/x.yaml", ".dot.yaml"] {
            let path = dir.path().join(name);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, "a: 1\n").unwrap();
        }
        let inputs = load(&[dir.path().to_path_buf()], 1024, &mut std::io::empty()).unwrap();
        let names: Vec<String> = inputs.sources.ids().map(|id| inputs.sources.get(id).name.rsplit('/').next().unwrap().to_owned()).collect();
        assert_eq!(names, ["a.yml", "b.yaml", "z.YAML"]);
    }

    #[test]
    fn a_file_given_twice_is_read_once() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.yaml");
        fs::write(&file, "a: 1\n").unwrap();
        let inputs = load(&[file.clone(), dir.path().to_path_buf(), file], 1024, &mut std::io::empty()).unwrap();
        assert_eq!(inputs.sources.len(), 1);
    }

    #[test]
    fn missing_paths_and_empty_directories_are_failures() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.yaml");
        let failure = load(&[missing, dir.path().to_path_buf()], 1024, &mut std::io::empty()).err().unwrap();
        assert_eq!(failure.lines.len(), 2, "{failure:?}");
        assert!(failure.lines[0].contains("no such file or directory"), "{failure:?}");
        assert!(failure.lines[1].starts_with("no `.yaml` or `.yml` files under"), "{failure:?}");
    }

    #[test]
    fn oversized_and_non_utf8_inputs_become_diagnostics() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.yaml");
        fs::write(&big, "a: 1\n".repeat(100)).unwrap();
        let binary = dir.path().join("binary.yaml");
        fs::write(&binary, b"a: 1\nb: \xff\xfe\n").unwrap();
        let inputs = load(&[big, binary], 100, &mut std::io::empty()).unwrap();
        let found: Vec<_> = inputs.diagnostics.iter().map(|d| d.code.id).collect();
        assert_eq!(found, [codes::FILE_TOO_LARGE.id, codes::NOT_UTF8.id]);
        assert_eq!(inputs.diagnostics[0].message, "file is 500 bytes, more than the limit of 100 bytes");
        let span = inputs.diagnostics[1].location.as_ref().unwrap().span;
        assert_eq!((span.start.line, span.start.col), (2, 4));
    }

    #[test]
    fn stdin_is_read_once_under_its_own_name() {
        let inputs = load(&[PathBuf::from("-")], 1024, &mut "a: 1\n".as_bytes()).unwrap();
        assert_eq!(inputs.sources.get(SourceId(0)).name, STDIN_NAME);
        assert_eq!(inputs.sources.get(SourceId(0)).text, "a: 1\n");
        assert!(load(&[PathBuf::from("-"), PathBuf::from("-")], 1024, &mut std::io::empty()).is_err());
    }
}
