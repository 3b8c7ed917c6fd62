//! polc-iptables: IR to deterministic `iptables-restore` and `ipset` text, a second and
//! independent rendering of the L3/L4 policy semantics.
//!
//! - [`render`]: the rendering of one node's endpoints (pure, no IO).
//! - [`sets`]: identity address sets as `hash:net` entries with `nomatch` exceptions.
//! - `engine` (feature `netns`, on by default; PRIVILEGED: needs root): builds network
//!   namespaces and veth pairs that model the nodes, loads the rendering with the real
//!   `iptables-legacy-restore` / `iptables-nft-restore` and `ipset`, sends each flow as real
//!   packets and reports whether it arrived.

pub mod render;
pub mod sets;

pub use render::{RenderStats, Rendering, chain_name, node_names, render_all, render_node, set_name};
pub use sets::Family;

#[cfg(feature = "netns")]
pub mod engine;
