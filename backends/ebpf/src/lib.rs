//! polc-ebpf: IR to eBPF map images and generated datapath objects; the bundle format.
//!
//! - [`layout`]: byte layouts of the map keys and values (Cilium's, explicit byte order).
//! - [`image`]: policy map and ipcache images of one generation, built from this crate's own
//!   entry types ([`PolicyEntry`], [`IpcacheEntry`]).
//! - [`config`]: the `.rodata` constants of the datapath object.
//! - [`packet`]: crafted frames and the datapath's parser in Rust.
//! - [`model`]: a userspace model of the datapath's lookups, used to cross-check the kernel.
//! - [`object`]: the committed object `bpf/polc_policy.bpf.o`.
//! - [`kernel`]: loading the object with aya, installing generations, BPF_PROG_TEST_RUN,
//!   tcx attachment, counters and drop events (needs root).
//!
//! `MAPS.md` documents every map byte for byte.

pub mod bundle;
pub mod compile;
pub mod config;
pub mod engine;
pub mod from_ir;
pub mod image;
pub mod kernel;
pub mod layout;
pub mod model;
pub mod object;
pub mod packet;
pub mod verdict;

pub use config::DatapathConfig;
pub use image::{IpPrefix, IpcacheEntry, IpcacheImage, PolicyEntry, PolicyMapImage, PortBlock, port_range_blocks};
pub use layout::Direction;
pub use model::DatapathModel;
pub use verdict::{DropEvent, MatchKind, Reason, Verdict, VerdictEvent};
