//! polc-iptables: IR to deterministic `iptables-restore` and `ipset` text.
