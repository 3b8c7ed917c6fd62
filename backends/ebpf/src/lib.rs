//! polc-ebpf: IR to eBPF map images and generated datapath objects; the bundle format.
