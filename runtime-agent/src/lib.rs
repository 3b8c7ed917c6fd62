//! polc-agent: loads compiled bundles into a live node and swaps generations atomically.
