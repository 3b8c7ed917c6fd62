//! polc-ir: the typed intermediate representation of network policy and its reference evaluator. No IO.
//!
//! The IR ([`PolicyIr`]) is Cilium's flat policy-entry form with every selector already resolved
//! to numeric identities: per endpoint and direction, whether policy is enforced, whether it
//! denies by default, and the entries (remote identities, L4, allow or deny, L7, auth, origin).
//! [`evaluate`] is the oracle: given the IR and a [`Flow`], the [`Verdict`] and the rules that
//! decided it. Byte layouts of datapath maps are deliberately absent; backends own them.

pub mod evaluate;
pub mod identity;
pub mod l4;
pub mod l7;
pub mod net;
pub mod policy;

pub use evaluate::{DecidingRule, Decision, DirectionVerdict, Flow, FlowEnd, Verdict, direction_auth, evaluate, evaluate_direction};
pub use identity::{IdentityInfo, IdentityKind, Label, NumericIdentity};
pub use l4::{L4Match, PortRange, Protocol};
pub use l7::{DnsQuery, DnsRule, HeaderMatch, HttpRequest, HttpRule, L7Request, L7Rules, MismatchAction};
pub use net::IpPrefix;
pub use policy::{
    AuthMode, Direction, DirectionPolicy, Endpoint, EndpointId, EndpointKind, EnforcementMode, ImplicitRule, LocationId, NodeInfo, Peers, PolicyEntry,
    PolicyIr, ReservedAddress, RuleOrigin, RuleVerdict, Settings,
};
