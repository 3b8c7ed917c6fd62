//! polc-ir: the typed intermediate representation of network policy and its reference evaluator. No IO.
