//! Checks that run on decoded objects, beyond what the schema enforces.
//!
//! One directory per area; inside it, one module per check, each with a `//!` header saying
//! what it finds and how to fix it, and its own codes. A check reports paths; [`CheckCx`]
//! turns them into spans. Checks of one object run in `check_*`; checks across objects
//! (conflicts, references) run in each area's `check_set`.

use crate::diag::{Code, Diagnostic, Location};
use crate::frontend::Object;
use crate::path::Path;
use crate::source::SourceId;
use crate::yaml::Node;

pub mod analysis;
pub mod cilium_net;
pub mod cilium_policy;
pub mod flowtest;
pub mod gateway;
pub mod inventory;
pub mod k8s_policy;

/// Every area's codes, for the code registry.
pub static CODES: &[&[&Code]] =
    &[cilium_policy::CODES, k8s_policy::CODES, gateway::CODES, cilium_net::CODES, inventory::CODES, flowtest::CODES, analysis::CODES];

/// Runs every cross-object check.
pub fn check_set(objects: &[Object], diagnostics: &mut Vec<Diagnostic>) {
    cilium_policy::check_set(objects, diagnostics);
    k8s_policy::check_set(objects, diagnostics);
    gateway::check_set(objects, diagnostics);
    cilium_net::check_set(objects, diagnostics);
    inventory::check_set(objects, diagnostics);
    flowtest::check_set(objects, diagnostics);
}

/// What a single-object check sees: where the object is, and where findings go.
pub struct CheckCx<'a> {
    pub source: SourceId,
    pub document: usize,
    /// Path of the object inside its document (`items[2]` in a `List`).
    pub base: &'a Path,
    /// The object's node tree, for turning paths into spans.
    pub node: &'a Node,
    pub api_version: &'a str,
    pub diagnostics: &'a mut Vec<Diagnostic>,
}

impl CheckCx<'_> {
    /// The location of `path` (relative to the object). Missing nodes point at their nearest
    /// existing ancestor.
    pub fn location(&self, path: &Path) -> Location {
        location_in(self.source, self.document, self.base, self.node, path, false)
    }

    /// Like [`CheckCx::location`] but underlines the key rather than the value.
    pub fn key_location(&self, path: &Path) -> Location {
        location_in(self.source, self.document, self.base, self.node, path, true)
    }

    /// Reports a finding at the value of `path`, and returns it to add help or a label.
    pub fn report(&mut self, code: &'static Code, path: &Path, message: impl Into<String>) -> &mut Diagnostic {
        let location = self.location(path);
        self.diagnostics.push(Diagnostic::new(code, message).at(location));
        self.diagnostics.last_mut().expect("just pushed")
    }

    /// Reports a finding at the key of `path` (for a field that should not be there).
    pub fn report_key(&mut self, code: &'static Code, path: &Path, message: impl Into<String>) -> &mut Diagnostic {
        let location = self.key_location(path);
        self.diagnostics.push(Diagnostic::new(code, message).at(location));
        self.diagnostics.last_mut().expect("just pushed")
    }
}

/// The location of `path` inside an object.
pub fn location_in(source: SourceId, document: usize, base: &Path, node: &Node, path: &Path, key: bool) -> Location {
    let located = node.locate(path, key);
    Location { source, span: located.span, path: Some(base.join(path)), document: Some(document) }
}

impl Object {
    /// The location of `path` inside this object, for cross-object checks.
    pub fn location(&self, path: &Path) -> Location {
        location_in(self.source, self.document, &self.base, &self.node, path, false)
    }

    /// A finding at `path` of this object.
    pub fn diagnostic(&self, code: &'static Code, path: &Path, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(code, message).at(self.location(path))
    }
}
