//! polc-compiler: source text in, typed objects, IR and diagnostics out.
//!
//! The front end ([`frontend::parse`]) reads YAML streams into span-carrying node trees
//! ([`yaml`]), validates each object against its kind's schema ([`schema_check`], schemas from
//! [`model`] via schemars), decodes it, and runs the checks ([`checks`]). This crate never
//! touches the filesystem: the caller hands it source texts ([`source::SourceMap`]).

pub mod checks;
pub mod codes;
pub mod diag;
pub mod diff;
pub mod frontend;
pub mod identity;
pub mod inventory;
pub mod kinds;
pub mod lower;
pub mod model;
pub mod path;
pub mod schema_check;
pub mod semantics;
pub mod source;
pub mod yaml;

pub use diag::{Code, Diagnostic, Severity};
pub use frontend::{Object, Options, Parsed, parse};
pub use source::{SourceId, SourceMap};
