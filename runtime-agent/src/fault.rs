//! Fault injection, a testing hook: `POLC_AGENT_FAULT=kill-at:<stage>[:<apply>]` makes the
//! agent send itself SIGKILL when the `<apply>`th apply request of this process (default: the
//! first) reaches `<stage>`. Nothing is cleaned up and no answer is sent, exactly as when the
//! agent is killed from outside at that moment; the tests use it to show that a restarted
//! agent adopts whatever generation is live and removes what the interrupted apply left.
//!
//! The variable is read once, when the agent starts. Never set it on a production node.

use std::fmt;

/// The environment variable the agent reads at start.
pub const FAULT_VARIABLE: &str = "POLC_AGENT_FAULT";

/// A point an apply passes, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ApplyStage {
    /// The bundle is read and verified and fits the datapath contract; nothing is loaded.
    Verified,
    /// The instances of new or changed objects are loaded (programs verified and pinned).
    Loaded,
    /// Some records of the new generation's maps are written, not all.
    Building,
    /// Every map of the new generation is built and in the spare slots.
    Staged,
    /// The state file records the new generation as pending; the flip has not happened.
    Recorded,
    /// The selector is flipped; the state file does not know yet.
    Flipped,
    /// The state file records the new generation; links run the new programs and new
    /// endpoints are attached; the old generation is not released yet.
    Upgraded,
    /// Some of the old generation's maps are released, not all.
    Releasing,
}

impl ApplyStage {
    /// Every stage, in the order an apply passes them.
    pub const ALL: [ApplyStage; 8] = [
        ApplyStage::Verified,
        ApplyStage::Loaded,
        ApplyStage::Building,
        ApplyStage::Staged,
        ApplyStage::Recorded,
        ApplyStage::Flipped,
        ApplyStage::Upgraded,
        ApplyStage::Releasing,
    ];

    /// The stage's name in `POLC_AGENT_FAULT`, the apply journal and messages.
    pub fn name(self) -> &'static str {
        match self {
            ApplyStage::Verified => "verified",
            ApplyStage::Loaded => "loaded",
            ApplyStage::Building => "building",
            ApplyStage::Staged => "staged",
            ApplyStage::Recorded => "recorded",
            ApplyStage::Flipped => "flipped",
            ApplyStage::Upgraded => "upgraded",
            ApplyStage::Releasing => "releasing",
        }
    }

    pub fn from_name(name: &str) -> Option<ApplyStage> {
        ApplyStage::ALL.into_iter().find(|stage| stage.name() == name)
    }

    /// Whether an apply at this stage has flipped the selector.
    pub fn after_flip(self) -> bool {
        self >= ApplyStage::Flipped
    }
}

impl fmt::Display for ApplyStage {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

/// Where the agent kills itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FaultPlan {
    pub stage: ApplyStage,
    /// Which apply request of this process, from 1.
    pub apply: u64,
}

impl FaultPlan {
    /// Parses `kill-at:<stage>[:<apply>]`.
    pub fn parse(text: &str) -> Result<FaultPlan, String> {
        let stages = || ApplyStage::ALL.iter().map(|stage| format!("`{stage}`")).collect::<Vec<_>>().join(", ");
        let Some(rest) = text.strip_prefix("kill-at:") else {
            return Err(format!("`{FAULT_VARIABLE}` is `{text}`; expected `kill-at:<stage>[:<apply>]`"));
        };
        let (stage_name, apply) = match rest.split_once(':') {
            Some((stage, apply)) => (stage, Some(apply)),
            None => (rest, None),
        };
        let stage = ApplyStage::from_name(stage_name).ok_or_else(|| format!("`{FAULT_VARIABLE}` names stage `{stage_name}`; the stages are {}", stages()))?;
        let apply = match apply {
            None => 1,
            Some(number) => match number.parse::<u64>() {
                Ok(number) if number >= 1 => number,
                _ => return Err(format!("`{FAULT_VARIABLE}` names apply `{number}`; expected a number from 1")),
            },
        };
        Ok(FaultPlan { stage, apply })
    }

    /// The plan in `POLC_AGENT_FAULT`, if the variable is set.
    pub fn from_environment() -> Result<Option<FaultPlan>, String> {
        match std::env::var(FAULT_VARIABLE) {
            Ok(text) => FaultPlan::parse(&text).map(Some),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => Err(format!("`{FAULT_VARIABLE}` is not valid UTF-8")),
        }
    }
}

/// Sends SIGKILL to this process: no destructor, no answer, no state written.
pub fn kill_this_process() -> ! {
    let _ = rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::KILL);
    // SIGKILL cannot be caught; the process ends before this point is reached.
    loop {
        std::thread::park();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_plans_parse_and_bad_ones_say_why() {
        assert_eq!(FaultPlan::parse("kill-at:staged"), Ok(FaultPlan { stage: ApplyStage::Staged, apply: 1 }));
        assert_eq!(FaultPlan::parse("kill-at:releasing:2"), Ok(FaultPlan { stage: ApplyStage::Releasing, apply: 2 }));
        for stage in ApplyStage::ALL {
            assert_eq!(ApplyStage::from_name(stage.name()), Some(stage));
        }
        assert!(ApplyStage::Flipped.after_flip() && !ApplyStage::Recorded.after_flip());
        assert_eq!(FaultPlan::parse("crash").unwrap_err(), "`POLC_AGENT_FAULT` is `crash`; expected `kill-at:<stage>[:<apply>]`");
        assert!(FaultPlan::parse("kill-at:nowhere").unwrap_err().starts_with("`POLC_AGENT_FAULT` names stage `nowhere`; the stages are `verified`, `loaded`"));
        assert_eq!(FaultPlan::parse("kill-at:flipped:0").unwrap_err(), "`POLC_AGENT_FAULT` names apply `0`; expected a number from 1");
    }
}
