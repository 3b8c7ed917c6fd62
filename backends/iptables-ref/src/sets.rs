//! Identity address sets: which addresses of one address family have a given identity, as
//! `hash:net` entries with `nomatch` exceptions.
//!
//! The identity of an address is the identity of the longest ipcache prefix that holds it, or
//! `world` when no prefix does (see [`polc_ir::PolicyIr::ipcache`]). A `hash:net` set answers a
//! lookup with its most specific entry holding the address, and a `nomatch` entry turns that
//! answer into "not in the set". So the set of identity X holds every ipcache prefix owned by X,
//! plus, as `nomatch`, every prefix owned by another identity that lies inside a prefix of X.
//! The most specific entry holding an address is then exactly its longest ipcache prefix
//! whenever an X prefix holds the address, and no entry holds it otherwise.
//!
//! `world` owns an implicit `/0` root. `hash:net` refuses `/0`, so a `/0` is written as its two
//! `/1` halves (each unless the ipcache already names that half).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::IpAddr;

use polc_ir::{IpPrefix, NumericIdentity};

/// An IP address family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    pub const BOTH: [Family; 2] = [Family::V4, Family::V6];

    pub fn of(address: IpAddr) -> Family {
        if address.is_ipv4() { Family::V4 } else { Family::V6 }
    }

    pub fn of_prefix(prefix: &IpPrefix) -> Family {
        Family::of(prefix.address())
    }

    /// `inet` or `inet6`, as ipset names the family.
    pub fn ipset_name(self) -> &'static str {
        match self {
            Family::V4 => "inet",
            Family::V6 => "inet6",
        }
    }

    /// `IPv4` or `IPv6`.
    pub fn as_str(self) -> &'static str {
        match self {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        }
    }

    fn bits(self) -> u8 {
        match self {
            Family::V4 => 32,
            Family::V6 => 128,
        }
    }

    /// The family's whole address space (`0.0.0.0/0` or `::/0`).
    pub fn root(self) -> IpPrefix {
        match self {
            Family::V4 => IpPrefix::new(IpAddr::from([0u8; 4]), 0),
            Family::V6 => IpPrefix::new(IpAddr::from([0u8; 16]), 0),
        }
    }

    /// The two `/1` halves of the family's address space.
    fn halves(self) -> [IpPrefix; 2] {
        match self {
            Family::V4 => [IpPrefix::new(IpAddr::from([0u8, 0, 0, 0]), 1), IpPrefix::new(IpAddr::from([128u8, 0, 0, 0]), 1)],
            Family::V6 => {
                let mut high = [0u8; 16];
                high[0] = 0x80;
                [IpPrefix::new(IpAddr::from([0u8; 16]), 1), IpPrefix::new(IpAddr::from(high), 1)]
            }
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry of a `hash:net` set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SetEntry {
    pub prefix: IpPrefix,
    /// A `nomatch` exception: addresses whose most specific entry this is are not in the set.
    pub nomatch: bool,
}

impl SetEntry {
    /// The entry as `ipset save` writes it: a host prefix without its length.
    pub fn to_ipset_text(&self) -> String {
        let prefix = if self.prefix.is_host() { self.prefix.address().to_string() } else { self.prefix.to_string() };
        if self.nomatch { format!("{prefix} nomatch") } else { prefix }
    }
}

/// The address-to-identity table of one family, with the world identity owning the root unless
/// the table names a `/0` itself.
#[derive(Clone, Debug)]
pub struct FamilyTable {
    family: Family,
    owners: BTreeMap<IpPrefix, NumericIdentity>,
}

impl FamilyTable {
    /// The part of `ipcache` in `family`; addresses it does not hold have identity `world`
    /// (`world`, or `world-ipv4` / `world-ipv6` in a dual-stack cluster).
    pub fn new(family: Family, ipcache: &[(IpPrefix, NumericIdentity)], world: NumericIdentity) -> Self {
        let mut owners: BTreeMap<IpPrefix, NumericIdentity> =
            ipcache.iter().filter(|(prefix, _)| Family::of_prefix(prefix) == family).map(|(prefix, identity)| (*prefix, *identity)).collect();
        owners.entry(family.root()).or_insert(world);
        FamilyTable { family, owners }
    }

    pub fn family(&self) -> Family {
        self.family
    }

    /// The identity of `address` (longest prefix match); `None` for the other family.
    pub fn identity_of(&self, address: IpAddr) -> Option<NumericIdentity> {
        if Family::of(address) != self.family {
            return None;
        }
        (0..=self.family.bits()).rev().find_map(|length| self.owners.get(&IpPrefix::new(address, length)).copied())
    }

    /// The `hash:net` entries of every identity in `wanted`, sorted; identities that own no
    /// address of this family get no entry.
    pub fn set_entries(&self, wanted: &BTreeSet<NumericIdentity>) -> BTreeMap<NumericIdentity, Vec<SetEntry>> {
        let mut entries: BTreeMap<NumericIdentity, BTreeMap<IpPrefix, bool>> = BTreeMap::new();
        for (prefix, owner) in &self.owners {
            if wanted.contains(owner) {
                entries.entry(*owner).or_default().insert(*prefix, false);
            }
            // Every enclosing prefix with another owner gets this prefix as an exception.
            let mut excepted_for: BTreeSet<NumericIdentity> = BTreeSet::new();
            for length in 0..prefix.length() {
                if let Some(ancestor_owner) = self.owners.get(&IpPrefix::new(prefix.address(), length))
                    && ancestor_owner != owner
                    && wanted.contains(ancestor_owner)
                {
                    excepted_for.insert(*ancestor_owner);
                }
            }
            for identity in excepted_for {
                entries.entry(identity).or_default().insert(*prefix, true);
            }
        }
        let root = self.family.root();
        entries
            .into_iter()
            .map(|(identity, mut prefixes)| {
                if prefixes.remove(&root) == Some(false) {
                    for half in self.family.halves() {
                        prefixes.entry(half).or_insert(false);
                    }
                }
                let list = prefixes.into_iter().map(|(prefix, nomatch)| SetEntry { prefix, nomatch }).collect();
                (identity, list)
            })
            .collect()
    }
}

/// Answers a `hash:net` lookup the way the kernel does: the most specific entry holding the
/// address decides, and a `nomatch` entry means "not in the set".
pub fn set_contains(entries: &[SetEntry], address: IpAddr) -> bool {
    entries.iter().filter(|entry| entry.prefix.contains(address)).max_by_key(|entry| entry.prefix.length()).is_some_and(|entry| !entry.nomatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefix(text: &str) -> IpPrefix {
        IpPrefix::parse(text).unwrap()
    }

    fn id(number: u32) -> NumericIdentity {
        NumericIdentity(number)
    }

    #[test]
    fn nested_prefixes_become_nomatch_exceptions_of_the_enclosing_identity() {
        let ipcache = vec![
            (prefix("10.0.0.0/8"), id(16777217)),
            (prefix("10.1.0.0/16"), id(16777218)),
            (prefix("10.1.2.0/24"), id(16777217)),
            (prefix("10.1.2.3/32"), id(256)),
        ];
        let table = FamilyTable::new(Family::V4, &ipcache, NumericIdentity::WORLD);
        let wanted: BTreeSet<NumericIdentity> = [id(16777217), id(16777218), id(256), NumericIdentity::WORLD].into_iter().collect();
        let sets = table.set_entries(&wanted);
        let text = |identity: u32| sets[&id(identity)].iter().map(SetEntry::to_ipset_text).collect::<Vec<_>>();
        assert_eq!(text(16777217), ["10.0.0.0/8", "10.1.0.0/16 nomatch", "10.1.2.0/24", "10.1.2.3 nomatch"]);
        assert_eq!(text(16777218), ["10.1.0.0/16", "10.1.2.0/24 nomatch", "10.1.2.3 nomatch"]);
        assert_eq!(text(256), ["10.1.2.3"]);
        assert_eq!(text(2), ["0.0.0.0/1", "10.0.0.0/8 nomatch", "10.1.0.0/16 nomatch", "10.1.2.0/24 nomatch", "10.1.2.3 nomatch", "128.0.0.0/1"]);
    }

    #[test]
    fn every_set_agrees_with_the_longest_prefix_match() {
        let ipcache = vec![
            (prefix("0.0.0.0/1"), id(16777219)),
            (prefix("10.0.0.0/8"), id(16777217)),
            (prefix("10.1.0.0/16"), id(16777218)),
            (prefix("10.1.2.0/24"), id(16777217)),
            (prefix("10.1.2.3/32"), id(256)),
            (prefix("192.168.1.1/32"), NumericIdentity::HOST),
        ];
        let table = FamilyTable::new(Family::V4, &ipcache, NumericIdentity::WORLD);
        let wanted: BTreeSet<NumericIdentity> = ipcache.iter().map(|(_, identity)| *identity).chain([NumericIdentity::WORLD]).collect();
        let sets = table.set_entries(&wanted);
        let probes =
            ["10.1.2.3", "10.1.2.4", "10.1.3.1", "10.2.0.1", "1.1.1.1", "130.0.0.1", "192.168.1.1", "192.168.1.2", "127.0.0.1", "0.0.0.0", "255.255.255.255"];
        for probe in probes {
            let address: IpAddr = probe.parse().unwrap();
            let owner = table.identity_of(address).unwrap();
            for (identity, entries) in &sets {
                assert_eq!(set_contains(entries, address), *identity == owner, "{probe} in set of {identity}");
            }
        }
        // The ipcache names the low half itself, so world holds only the high half.
        assert!(!sets[&NumericIdentity::WORLD].iter().any(|entry| entry.prefix == prefix("0.0.0.0/1") && !entry.nomatch));
    }

    #[test]
    fn ipv6_world_is_written_as_two_halves() {
        let ipcache = vec![(prefix("2001:db8::/32"), id(16777217)), (prefix("10.0.0.1/32"), id(256))];
        let table = FamilyTable::new(Family::V6, &ipcache, NumericIdentity::WORLD);
        let wanted: BTreeSet<NumericIdentity> = [NumericIdentity::WORLD, id(256)].into_iter().collect();
        let sets = table.set_entries(&wanted);
        let text: Vec<String> = sets[&NumericIdentity::WORLD].iter().map(SetEntry::to_ipset_text).collect();
        assert_eq!(text, ["::/1", "2001:db8::/32 nomatch", "8000::/1"]);
        assert!(!sets.contains_key(&id(256)), "identity 256 has no IPv6 address");
        assert_eq!(table.identity_of("2001:db8::5".parse().unwrap()), Some(id(16777217)));
        assert_eq!(table.identity_of("10.0.0.1".parse().unwrap()), None);
    }

    #[test]
    fn a_dual_stack_world_is_the_family_world() {
        let ipcache = vec![(prefix("203.0.113.0/24"), id(16777217))];
        let table = FamilyTable::new(Family::V4, &ipcache, NumericIdentity::WORLD_IPV4);
        assert_eq!(table.identity_of("198.51.100.1".parse().unwrap()), Some(NumericIdentity::WORLD_IPV4));
        let sets = table.set_entries(&[NumericIdentity::WORLD, NumericIdentity::WORLD_IPV4].into_iter().collect());
        assert!(!sets.contains_key(&NumericIdentity::WORLD), "plain world owns nothing in a dual-stack cluster");
        assert_eq!(sets[&NumericIdentity::WORLD_IPV4].len(), 3);
    }
}
