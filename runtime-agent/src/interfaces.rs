//! Finding an endpoint's interface: an explicit mapping file in the state directory
//! (`interfaces.json`, endpoint name → interface name), or else the host route to one of the
//! endpoint's addresses (a /32 or /128 route in this thread's network namespace, as CNI
//! plugins install towards each pod's host-side veth).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::AsFd;
use std::path::Path;

/// The mapping file's name inside the state directory.
pub const MAPPING_FILE: &str = "interfaces.json";

/// Reads `STATE_DIR/interfaces.json`; a missing file is an empty mapping.
pub fn read_mapping(state_directory: &Path) -> Result<BTreeMap<String, String>, String> {
    let path = state_directory.join(MAPPING_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => {
            serde_json::from_slice(&bytes).map_err(|error| format!("`{}` is not a JSON object of endpoint to interface names: {error}", path.display()))
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
        Err(error) => Err(format!("cannot read `{}`: {error}", path.display())),
    }
}

/// One route of the kernel's table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    pub destination: IpAddr,
    pub prefix_len: u8,
    pub interface: String,
}

/// Parses `/proc/net/route` (IPv4; addresses and masks are hex in host byte order).
pub fn parse_ipv4_routes(text: &str) -> Vec<Route> {
    let mut routes = Vec::new();
    for line in text.lines().skip(1) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 8 {
            continue;
        }
        let (Ok(destination), Ok(mask)) = (u32::from_str_radix(fields[1], 16), u32::from_str_radix(fields[7], 16)) else {
            continue;
        };
        routes.push(Route {
            destination: IpAddr::V4(Ipv4Addr::from(destination.to_le_bytes())),
            prefix_len: mask.count_ones() as u8,
            interface: fields[0].to_owned(),
        });
    }
    routes
}

/// Parses `/proc/net/ipv6_route` (destination as 32 hex digits, prefix length in hex, …,
/// interface last).
pub fn parse_ipv6_routes(text: &str) -> Vec<Route> {
    let mut routes = Vec::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 10 || fields[0].len() != 32 {
            continue;
        }
        let (Ok(destination), Ok(prefix_len)) = (u128::from_str_radix(fields[0], 16), u8::from_str_radix(fields[1], 16)) else {
            continue;
        };
        routes.push(Route { destination: IpAddr::V6(Ipv6Addr::from(destination)), prefix_len, interface: fields[9].to_owned() });
    }
    routes
}

/// The interface of the host route to one of `addresses`, in `routes`.
pub fn host_route_interface(routes: &[Route], addresses: &[IpAddr]) -> Option<String> {
    addresses.iter().find_map(|address| {
        let host_len = if address.is_ipv4() { 32 } else { 128 };
        routes
            .iter()
            .find(|route| route.destination == *address && route.prefix_len == host_len && route.interface != "lo")
            .map(|route| route.interface.clone())
    })
}

/// The routes of this thread's network namespace.
pub fn current_routes() -> Vec<Route> {
    let mut routes = Vec::new();
    if let Ok(text) = std::fs::read_to_string("/proc/thread-self/net/route") {
        routes.extend(parse_ipv4_routes(&text));
    }
    if let Ok(text) = std::fs::read_to_string("/proc/thread-self/net/ipv6_route") {
        routes.extend(parse_ipv6_routes(&text));
    }
    routes
}

/// The index of interface `name` in this thread's network namespace.
pub fn interface_index(name: &str) -> Option<u32> {
    let socket = rustix::net::socket(rustix::net::AddressFamily::INET, rustix::net::SocketType::DGRAM, None).ok()?;
    rustix::net::netdevice::name_to_index(socket.as_fd(), name).ok()
}

/// Where `endpoint` should be attached: the mapping file's interface, or the host route's.
pub fn find_interface(mapping: &BTreeMap<String, String>, endpoint: &str, addresses: &[IpAddr], routes: &[Route]) -> Option<String> {
    mapping.get(endpoint).cloned().or_else(|| host_route_interface(routes, addresses))
}

#[cfg(test)]
mod tests {
    use super::*;

    const IPV4_ROUTES: &str = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
        eth0\t00000000\t0100A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
        lxc1\t02004D0A\t00000000\t0005\t0\t0\t0\tFFFFFFFF\t0\t0\t0\n\
        lxc1\t00004D0A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";

    const IPV6_ROUTES: &str = "fd770000000000000000000000000002 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000400 00000001 00000000 00000001   lxc2\n\
        fd770000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001   lxc2\n\
        00000000000000000000000000000001 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000002 00000000 80200001       lo\n";

    #[test]
    fn host_routes_are_found_and_broader_routes_ignored() {
        let mut routes = parse_ipv4_routes(IPV4_ROUTES);
        routes.extend(parse_ipv6_routes(IPV6_ROUTES));
        assert_eq!(routes.len(), 6);
        assert_eq!(host_route_interface(&routes, &["10.77.0.2".parse().unwrap()]), Some("lxc1".to_owned()));
        assert_eq!(host_route_interface(&routes, &["10.77.0.9".parse().unwrap()]), None, "a /24 route is not a host route");
        assert_eq!(host_route_interface(&routes, &["fd77::2".parse().unwrap()]), Some("lxc2".to_owned()));
        assert_eq!(host_route_interface(&routes, &["::1".parse().unwrap()]), None, "loopback is never an endpoint interface");
    }

    #[test]
    fn the_mapping_file_wins_over_routes() {
        let routes = parse_ipv4_routes(IPV4_ROUTES);
        let mapping = BTreeMap::from([("default/web".to_owned(), "veth9".to_owned())]);
        let addresses = ["10.77.0.2".parse().unwrap()];
        assert_eq!(find_interface(&mapping, "default/web", &addresses, &routes), Some("veth9".to_owned()));
        assert_eq!(find_interface(&mapping, "default/db", &addresses, &routes), Some("lxc1".to_owned()));
        let directory = tempfile::tempdir().unwrap();
        assert_eq!(read_mapping(directory.path()), Ok(BTreeMap::new()));
        std::fs::write(directory.path().join(MAPPING_FILE), "{\"default/web\": \"veth9\"}").unwrap();
        assert_eq!(read_mapping(directory.path()), Ok(mapping));
        std::fs::write(directory.path().join(MAPPING_FILE), "[1]").unwrap();
        assert!(read_mapping(directory.path()).is_err());
    }
}
