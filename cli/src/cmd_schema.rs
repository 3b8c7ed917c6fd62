//! `polc schema [KIND]`: the JSON Schema of one kind, or of every kind keyed by kind.
//!
//! The schemas are generated from polc's own model types, so they are exactly what `polc lint`
//! enforces. An unknown kind is a usage failure (exit 2) that lists the known ones.

use polc_compiler::kinds::{KINDS, KindInfo};
use serde_json::{Map, Value as Json};

use crate::exit::{Exit, Failure};
use crate::output::print;

#[derive(Clone, Debug, clap::Args)]
pub struct Args {
    /// The kind (case-insensitive), for example `CiliumNetworkPolicy`; every kind when omitted
    #[arg(value_name = "KIND")]
    pub kind: Option<String>,
}

/// Every kind's name, in table order.
pub fn kind_names() -> Vec<&'static str> {
    KINDS.iter().map(|info| info.kind).collect()
}

/// The schema text for `kind` (or every kind), or why there is none.
pub fn schema_text(kind: Option<&str>) -> Result<String, Failure> {
    let value = match kind {
        Some(kind) => match KindInfo::find_ignore_case(kind) {
            Some(info) => info.schema().json().clone(),
            None => return Err(Failure::new(format!("unknown kind `{kind}`; polc models: {}", kind_names().join(", ")))),
        },
        None => {
            let mut all = Map::new();
            for info in KINDS {
                all.insert(info.kind.to_owned(), info.schema().json().clone());
            }
            Json::Object(all)
        }
    };
    let mut text = serde_json::to_string_pretty(&value).map_err(|error| Failure::new(format!("cannot write the schema: {error}")))?;
    text.push('\n');
    Ok(text)
}

pub fn run(args: &Args) -> Result<Exit, Failure> {
    print(&schema_text(args.kind.as_deref())?);
    Ok(Exit::Clean)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_kind_is_found_ignoring_case() {
        let text = schema_text(Some("ciliumnetworkpolicy")).unwrap();
        let schema: Json = serde_json::from_str(&text).unwrap();
        assert!(schema.get("properties").and_then(|p| p.get("spec")).is_some(), "{text}");
    }

    #[test]
    fn every_kind_is_keyed_by_its_name() {
        let schema: Json = serde_json::from_str(&schema_text(None).unwrap()).unwrap();
        let keys: Vec<&str> = schema.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, kind_names());
    }

    #[test]
    fn an_unknown_kind_lists_the_known_ones() {
        let failure = schema_text(Some("Deployment")).unwrap_err();
        assert!(failure.lines[0].starts_with("unknown kind `Deployment`; polc models: CiliumNetworkPolicy, "), "{failure:?}");
    }
}
