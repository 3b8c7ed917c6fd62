//! PRIVILEGED: sending flows as real packets and seeing whether they arrive.
//!
//! - TCP: a listener at the destination, a non-blocking `connect` from the source; the
//!   handshake completing (or a reset from the destination) means the flow got through.
//! - UDP: a responder at the destination echoes each datagram; the echo coming back means the
//!   flow got through.
//! - ICMP, ICMPv6, SCTP and protocols without ports: a raw socket at the source sends a hand-made
//!   packet carrying the flow's token (ICMP of the flow's type, an SCTP INIT), and a raw socket
//!   at the destination watches for that token.
//!
//! All flows of a batch are set up first (sockets are created on threads inside their
//! namespaces), then started together and watched from one `poll` loop until each arrived or
//! the deadline passed; a flow that has not arrived by then was dropped. A send that the local
//! OUTPUT hook drops fails with `EPERM` at once, which also means dropped.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use polc_ir::Protocol;
use rustix::event::{PollFd, PollFlags, Timespec, poll};
use rustix::io::Errno;
use rustix::net::{AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType};

use super::EngineError;
use super::netns::NamespaceGroup;
use super::packet;
use crate::sets::Family;

/// One flow, placed: from an address in one namespace to an address in another (or the same).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Probe {
    pub source_namespace: usize,
    pub source: IpAddr,
    pub destination_namespace: usize,
    pub destination: IpAddr,
    pub protocol: Protocol,
    pub port: u16,
}

/// What happened to one probe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Arrival {
    Arrived,
    Dropped,
    Failed(String),
}

static NEXT_PORT: AtomicU32 = AtomicU32::new(0);
static NEXT_TOKEN: AtomicU64 = AtomicU64::new(1);

/// Source ports (and ICMP identifiers) rotate through 20000–59999, so that a new flow never
/// reuses the conntrack entry of an earlier one with the same addresses.
fn next_port() -> u16 {
    20000 + (NEXT_PORT.fetch_add(1, Ordering::Relaxed) % 40000) as u16
}

/// A token unique in this process and unlikely to repeat across processes; its low 32 bits are
/// never 0 (an SCTP initiate tag must not be).
fn next_token() -> u64 {
    let counter = NEXT_TOKEN.fetch_add(1, Ordering::Relaxed) & 0xFFFF_FFFF;
    (u64::from(std::process::id()) << 40) | counter.max(1)
}

fn address_family(address: IpAddr) -> AddressFamily {
    if address.is_ipv4() { AddressFamily::INET } else { AddressFamily::INET6 }
}

fn raw_protocol(protocol: u8) -> Option<rustix::net::Protocol> {
    std::num::NonZeroU32::new(u32::from(protocol)).map(rustix::net::Protocol::from_raw)
}

enum Kind {
    Tcp,
    Udp,
    Raw,
}

fn kind(protocol: Protocol) -> Kind {
    match protocol {
        Protocol::TCP => Kind::Tcp,
        Protocol::UDP => Kind::Udp,
        _ => Kind::Raw,
    }
}

/// Whether a probe of `protocol` to `port` can be sent at all; the reason when not.
pub(crate) fn check_sendable(protocol: Protocol, port: u16, family: Family) -> Result<(), String> {
    match protocol {
        Protocol::TCP | Protocol::UDP | Protocol::SCTP if port == 0 => Err(format!("a {} flow needs a port from 1 to 65535", protocol.name())),
        Protocol::TCP | Protocol::UDP | Protocol::SCTP => Ok(()),
        Protocol::ICMP if family != Family::V4 => Err("ICMP runs over IPv4; use ICMPv6 for IPv6 addresses".to_owned()),
        Protocol::ICMPV6 if family != Family::V6 => Err("ICMPv6 runs over IPv6; use ICMP for IPv4 addresses".to_owned()),
        Protocol::ICMP | Protocol::ICMPV6 if port > 255 => Err(format!("ICMP type {port} does not exist (types are 0 to 255)")),
        Protocol::ICMP | Protocol::ICMPV6 => Ok(()),
        Protocol(0) | Protocol(255) => Err(format!("protocol number {} cannot be sent", protocol.0)),
        _ if port != 0 => Err(format!("protocol {} has no ports; its flows must have port 0", protocol.name())),
        _ => Ok(()),
    }
}

/// A TCP or UDP socket bound to `address` and a fresh source port.
fn bound_socket(address: IpAddr, socket_type: SocketType) -> Result<(OwnedFd, u16), EngineError> {
    let socket = rustix::net::socket_with(address_family(address), socket_type, SocketFlags::NONBLOCK | SocketFlags::CLOEXEC, None)
        .map_err(|error| EngineError::new(format!("cannot create a socket: {error}")))?;
    for _ in 0..64 {
        let port = next_port();
        match rustix::net::bind(&socket, &SocketAddr::new(address, port)) {
            Ok(()) => return Ok((socket, port)),
            Err(Errno::ADDRINUSE) => continue,
            Err(error) => return Err(EngineError::new(format!("cannot bind a socket to `{address}`: {error}"))),
        }
    }
    Err(EngineError::new(format!("no free source port on `{address}`")))
}

fn listener(address: IpAddr, port: u16, socket_type: SocketType) -> Result<OwnedFd, EngineError> {
    let socket = rustix::net::socket_with(address_family(address), socket_type, SocketFlags::NONBLOCK | SocketFlags::CLOEXEC, None)
        .map_err(|error| EngineError::new(format!("cannot create a socket: {error}")))?;
    if socket_type == SocketType::STREAM {
        rustix::net::sockopt::set_socket_reuseaddr(&socket, true).map_err(|error| EngineError::new(format!("cannot set SO_REUSEADDR: {error}")))?;
    }
    rustix::net::bind(&socket, &SocketAddr::new(address, port))
        .map_err(|error| EngineError::new(format!("cannot listen on `{address}` port {port}: {error}")))?;
    if socket_type == SocketType::STREAM {
        rustix::net::listen(&socket, 1024).map_err(|error| EngineError::new(format!("cannot listen on `{address}` port {port}: {error}")))?;
    }
    Ok(socket)
}

fn raw_socket(family: Family, protocol: u8) -> Result<OwnedFd, EngineError> {
    let address_family = if family == Family::V4 { AddressFamily::INET } else { AddressFamily::INET6 };
    rustix::net::socket_with(address_family, SocketType::RAW, SocketFlags::NONBLOCK | SocketFlags::CLOEXEC, raw_protocol(protocol))
        .map_err(|error| EngineError::new(format!("cannot create a raw socket for protocol {protocol}: {error}")))
}

/// The receiving ends, by namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum ReceiverKey {
    Tcp(IpAddr, u16),
    Udp(IpAddr, u16),
    Raw(Family, u8),
}

/// The sending end of one probe, before it starts.
struct Sender {
    socket: OwnedFd,
    source_port: u16,
}

/// Sends every probe and reports, in order, whether each arrived. Setup failures (a socket
/// that cannot be made) are errors of the whole batch.
pub(crate) fn run_probes(namespaces: &NamespaceGroup, probes: &[Probe], timeout: Duration) -> Result<Vec<Arrival>, EngineError> {
    // 1. Receivers, grouped by namespace.
    let mut wanted: BTreeMap<usize, Vec<ReceiverKey>> = BTreeMap::new();
    for probe in probes {
        let key = match kind(probe.protocol) {
            Kind::Tcp => ReceiverKey::Tcp(probe.destination, probe.port),
            Kind::Udp => ReceiverKey::Udp(probe.destination, probe.port),
            Kind::Raw => ReceiverKey::Raw(Family::of(probe.destination), probe.protocol.0),
        };
        let keys = wanted.entry(probe.destination_namespace).or_default();
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    let mut receivers: BTreeMap<(usize, ReceiverKey), OwnedFd> = BTreeMap::new();
    for (namespace, keys) in &wanted {
        let sockets = namespaces.get(*namespace).enter(|| {
            keys.iter()
                .map(|key| match key {
                    ReceiverKey::Tcp(address, port) => listener(*address, *port, SocketType::STREAM),
                    ReceiverKey::Udp(address, port) => listener(*address, *port, SocketType::DGRAM),
                    ReceiverKey::Raw(family, protocol) => raw_socket(*family, *protocol),
                })
                .collect::<Result<Vec<OwnedFd>, EngineError>>()
        })?;
        for (key, socket) in keys.iter().zip(sockets) {
            receivers.insert((*namespace, *key), socket);
        }
    }

    // 2. Senders, grouped by namespace.
    let mut by_source: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (index, probe) in probes.iter().enumerate() {
        by_source.entry(probe.source_namespace).or_default().push(index);
    }
    let mut senders: BTreeMap<usize, Sender> = BTreeMap::new();
    for (namespace, indexes) in &by_source {
        let made = namespaces.get(*namespace).enter(|| {
            indexes
                .iter()
                .map(|index| {
                    let probe = &probes[*index];
                    match kind(probe.protocol) {
                        Kind::Tcp => bound_socket(probe.source, SocketType::STREAM).map(|(socket, source_port)| Sender { socket, source_port }),
                        Kind::Udp => bound_socket(probe.source, SocketType::DGRAM).map(|(socket, source_port)| Sender { socket, source_port }),
                        Kind::Raw => {
                            let socket = raw_socket(Family::of(probe.source), probe.protocol.0)?;
                            rustix::net::bind(&socket, &SocketAddr::new(probe.source, 0))
                                .map_err(|error| EngineError::new(format!("cannot bind a raw socket to `{}`: {error}", probe.source)))?;
                            Ok(Sender { socket, source_port: next_port() })
                        }
                    }
                })
                .collect::<Result<Vec<Sender>, EngineError>>()
        })?;
        for (index, sender) in indexes.iter().zip(made) {
            senders.insert(*index, sender);
        }
    }

    // 3. Start every probe.
    let tokens: Vec<u64> = probes.iter().map(|_| next_token()).collect();
    let mut outcome: Vec<Option<Arrival>> = vec![None; probes.len()];
    for (index, probe) in probes.iter().enumerate() {
        let Some(sender) = senders.get(&index) else { continue };
        let destination = SocketAddr::new(probe.destination, probe.port);
        let started = match kind(probe.protocol) {
            Kind::Tcp => match rustix::net::connect(&sender.socket, &destination) {
                Ok(()) => Ok(true),
                Err(Errno::INPROGRESS) => Ok(false),
                Err(error) => Err(error),
            },
            Kind::Udp => rustix::net::connect(&sender.socket, &destination)
                .and_then(|()| rustix::net::send(&sender.socket, &packet::udp_payload(tokens[index]), SendFlags::empty()))
                .map(|_| false),
            Kind::Raw => {
                let family = Family::of(probe.destination);
                let bytes = match probe.protocol {
                    Protocol::ICMP | Protocol::ICMPV6 => packet::icmp(family, probe.port as u8, sender.source_port, tokens[index]),
                    Protocol::SCTP => packet::sctp_init(sender.source_port, probe.port, tokens[index]),
                    _ => packet::plain(tokens[index]),
                };
                rustix::net::sendto(&sender.socket, &bytes, SendFlags::empty(), &SocketAddr::new(probe.destination, 0)).map(|_| false)
            }
        };
        outcome[index] = match started {
            Ok(true) => Some(Arrival::Arrived),
            Ok(false) => None,
            // The local OUTPUT hook dropped it.
            Err(Errno::PERM) | Err(Errno::ACCESS) => Some(Arrival::Dropped),
            Err(error) => Some(Arrival::Failed(format!("cannot send from `{}` to `{}`: {error}", probe.source, probe.destination))),
        };
    }

    // 4. Watch until everything arrived or the deadline passed.
    let by_token: BTreeMap<u64, usize> = tokens.iter().enumerate().map(|(index, token)| (*token, index)).collect();
    let deadline = Instant::now() + timeout;
    let mut buffer = vec![0u8; 65536];
    loop {
        let pending: Vec<usize> = (0..probes.len()).filter(|index| outcome[*index].is_none()).collect();
        let now = Instant::now();
        if pending.is_empty() || now >= deadline {
            break;
        }
        let remaining = deadline - now;
        // Which socket each poll slot is.
        enum Slot {
            Client(usize),
            Receiver(usize, ReceiverKey),
        }
        let mut slots: Vec<Slot> = Vec::new();
        let mut poll_fds: Vec<PollFd<'_>> = Vec::new();
        for index in &pending {
            let Some(sender) = senders.get(index) else { continue };
            match kind(probes[*index].protocol) {
                Kind::Tcp => {
                    poll_fds.push(PollFd::new(&sender.socket, PollFlags::OUT));
                    slots.push(Slot::Client(*index));
                }
                Kind::Udp => {
                    poll_fds.push(PollFd::new(&sender.socket, PollFlags::IN));
                    slots.push(Slot::Client(*index));
                }
                Kind::Raw => {}
            }
        }
        for ((namespace, key), socket) in &receivers {
            if !matches!(key, ReceiverKey::Tcp(..)) {
                poll_fds.push(PollFd::new(socket, PollFlags::IN));
                slots.push(Slot::Receiver(*namespace, *key));
            }
        }
        let wait = Timespec { tv_sec: remaining.as_secs() as i64, tv_nsec: i64::from(remaining.subsec_nanos()) };
        match poll(&mut poll_fds, Some(&wait)) {
            Ok(_) | Err(Errno::INTR) => {}
            Err(error) => return Err(EngineError::new(format!("poll failed: {error}"))),
        }
        let ready: Vec<usize> = poll_fds.iter().enumerate().filter(|(_, fd)| !fd.revents().is_empty()).map(|(slot, _)| slot).collect();
        drop(poll_fds);
        for slot in ready {
            match &slots[slot] {
                Slot::Client(index) => {
                    let socket = &senders[index].socket;
                    outcome[*index] = match kind(probes[*index].protocol) {
                        Kind::Tcp => match rustix::net::sockopt::socket_error(socket) {
                            Ok(Ok(())) | Ok(Err(Errno::CONNREFUSED)) => Some(Arrival::Arrived),
                            Ok(Err(error)) | Err(error) => Some(Arrival::Failed(format!("connecting failed: {error}"))),
                        },
                        _ => match rustix::net::recv(socket, &mut buffer[..], RecvFlags::empty()) {
                            Ok((length, _)) if packet::udp_token(&buffer[..length]) == Some(tokens[*index]) => Some(Arrival::Arrived),
                            Ok(_) | Err(Errno::AGAIN) => None,
                            // The destination itself said the port is closed: the datagram arrived.
                            Err(Errno::CONNREFUSED) => Some(Arrival::Arrived),
                            Err(error) => Some(Arrival::Failed(format!("receiving the echo failed: {error}"))),
                        },
                    };
                }
                Slot::Receiver(namespace, key) => {
                    let socket = &receivers[&(*namespace, *key)];
                    // Drain the socket: echo UDP datagrams back, note the tokens raw sockets see.
                    while let Ok((length, _, from)) = rustix::net::recvfrom(socket, &mut buffer[..], RecvFlags::empty()) {
                        match key {
                            ReceiverKey::Udp(..) => {
                                if let Some(from) = from {
                                    let _ = rustix::net::sendto(socket, &buffer[..length], SendFlags::empty(), &from);
                                }
                            }
                            ReceiverKey::Raw(family, protocol) => {
                                if let Some(index) = packet::received_token(*family, *protocol, &buffer[..length]).and_then(|token| by_token.get(&token))
                                    && probes[*index].destination_namespace == *namespace
                                    && outcome[*index].is_none()
                                {
                                    outcome[*index] = Some(Arrival::Arrived);
                                }
                            }
                            ReceiverKey::Tcp(..) => break,
                        }
                    }
                }
            }
        }
    }
    Ok(outcome.into_iter().map(|arrival| arrival.unwrap_or(Arrival::Dropped)).collect())
}
