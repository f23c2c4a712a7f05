//! OCF exit codes and the error type that carries one.
//!
//! Every failure in pgha is classified where its meaning is known (a missing
//! binary is `ErrInstalled`, a value that can never work is `ErrConfigured`)
//! and travels up as an [`OcfError`] to `main`, which prints its reason as the
//! single `ocf-exit-reason:` line and exits with its code. Codes and their
//! Pacemaker recovery types: OCF resource-agent API 1.1, "Exit codes".

use std::fmt;

/// The exit codes of the OCF resource-agent API 1.1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OcfCode {
    /// 0: success; for monitor, running (unpromoted).
    Success,
    /// 1: unspecified error; Pacemaker bans the resource from this node.
    ErrGeneric,
    /// 2: parameters invalid on this node (a path missing here).
    ErrArgs,
    /// 3: action not implemented by this agent.
    ErrUnimplemented,
    /// 4: insufficient privileges.
    ErrPerm,
    /// 5: required software missing on this node.
    ErrInstalled,
    /// 6: parameters inherently invalid: the resource is stopped everywhere.
    ErrConfigured,
    /// 7: cleanly stopped (monitor only).
    NotRunning,
    /// 8: running in the promoted role.
    RunningPromoted,
    /// 9: promoted but failed: Pacemaker demotes, stops and starts it.
    FailedPromoted,
    /// 190: running but at risk; treated as success and shown degraded.
    Degraded,
    /// 191: promoted but at risk.
    DegradedPromoted,
}

impl OcfCode {
    /// The numeric exit status of this code.
    pub fn as_i32(self) -> i32 {
        match self {
            OcfCode::Success => 0,
            OcfCode::ErrGeneric => 1,
            OcfCode::ErrArgs => 2,
            OcfCode::ErrUnimplemented => 3,
            OcfCode::ErrPerm => 4,
            OcfCode::ErrInstalled => 5,
            OcfCode::ErrConfigured => 6,
            OcfCode::NotRunning => 7,
            OcfCode::RunningPromoted => 8,
            OcfCode::FailedPromoted => 9,
            OcfCode::Degraded => 190,
            OcfCode::DegradedPromoted => 191,
        }
    }

    /// The code whose exit status is `status` ([`OcfCode::as_i32`]), if any:
    /// how an action's child process tells its answer ([`crate::answer`]).
    pub fn from_status(status: i32) -> Option<OcfCode> {
        OcfCode::ALL.into_iter().find(|c| c.as_i32() == status)
    }

    /// Every code, in the order of the OCF 1.1 API ("Exit codes"): the order
    /// the man page and docs/reference.md list them in.
    pub const ALL: [OcfCode; 12] = [
        OcfCode::Success,
        OcfCode::ErrGeneric,
        OcfCode::ErrArgs,
        OcfCode::ErrUnimplemented,
        OcfCode::ErrPerm,
        OcfCode::ErrInstalled,
        OcfCode::ErrConfigured,
        OcfCode::NotRunning,
        OcfCode::RunningPromoted,
        OcfCode::FailedPromoted,
        OcfCode::Degraded,
        OcfCode::DegradedPromoted,
    ];

    /// What this code means when pgha returns it: the one place it is
    /// written. The man page's RETURN CODES and the return-code table of
    /// docs/reference.md are generated from it (`pgha doc man`, `pgha doc
    /// codes`), so they cannot claim a code is never returned while monitor
    /// returns it (issue 11: the man page said so of 190 and 191).
    pub fn meaning(self) -> &'static str {
        match self {
            OcfCode::Success => {
                "The action succeeded; for monitor, the instance runs and answers the probe (as a standby when the resource is a promotable clone)."
            }
            OcfCode::ErrGeneric => {
                "The action failed, or monitor found the instance crashed, not answering within probe_timeout, refusing the probe's connection while pg_control tells no role, or a standby that can never follow the primary and may be rebuilt (rebuild=true: the restart rebuilds it). The exit reason says which."
            }
            OcfCode::ErrArgs => {
                "A parameter names something missing on this node (a directory, a socket directory), or, in a clone whose standbys connect over the network, this node's postgresql.conf listens on the loopback only (listen_addresses)."
            }
            OcfCode::ErrUnimplemented => {
                "The action is not implemented by this agent, or needs a promotable clone (promote and demote of a primitive)."
            }
            OcfCode::ErrPerm => "Ownership or mode of the data directory is wrong for system_user.",
            OcfCode::ErrInstalled => {
                "PostgreSQL binaries or system_user are missing on this node, or the distribution's own service would start this data directory too (Debian's start.conf saying auto, an enabled postgresql-<version> or postgresql unit)."
            }
            OcfCode::ErrConfigured => {
                "A parameter value can never work, on any node (bad syntax, out of range, system_user=root)."
            }
            OcfCode::NotRunning => {
                "Monitor: the instance is cleanly stopped, or was stopped by the agent's own forced stop (the next start replays its WAL)."
            }
            OcfCode::RunningPromoted => "Monitor, promotable clone: the instance runs as the primary.",
            OcfCode::FailedPromoted => "Monitor, promotable clone: the primary failed.",
            OcfCode::Degraded => {
                "Monitor: the instance runs and answers but is at risk, and the exit reason says why: a clone's standby that has not streamed for 30 seconds or that can never follow the primary (WAL removed, timeline forked) with rebuild=false, a host check (binaries, user, data directory mode) that a start here would fail, found while the server runs, or a server that refuses the probe's connection (pg_hba.conf, system_user, pgdatabase: left running, unchecked, as a standby when pg_control says so). Pacemaker counts it as running."
            }
            OcfCode::DegradedPromoted => {
                "Monitor, promotable clone: the primary runs but is at risk: SPLIT BRAIN (another node also reports itself primary), two nodes whose names map to one replication slot, a host check that a start here would fail, or a primary (pg_control: in production) that refuses the probe's connection. Pacemaker counts it as running promoted."
            }
        }
    }

    /// Codes only a promotable clone returns: a primitive has no roles, so
    /// its documentation leaves them out.
    pub fn promotable_only(self) -> bool {
        matches!(
            self,
            OcfCode::RunningPromoted | OcfCode::FailedPromoted | OcfCode::DegradedPromoted
        )
    }

    /// The OCF 1.1 name, as logs and the man page spell it.
    pub fn name(self) -> &'static str {
        match self {
            OcfCode::Success => "OCF_SUCCESS",
            OcfCode::ErrGeneric => "OCF_ERR_GENERIC",
            OcfCode::ErrArgs => "OCF_ERR_ARGS",
            OcfCode::ErrUnimplemented => "OCF_ERR_UNIMPLEMENTED",
            OcfCode::ErrPerm => "OCF_ERR_PERM",
            OcfCode::ErrInstalled => "OCF_ERR_INSTALLED",
            OcfCode::ErrConfigured => "OCF_ERR_CONFIGURED",
            OcfCode::NotRunning => "OCF_NOT_RUNNING",
            OcfCode::RunningPromoted => "OCF_RUNNING_PROMOTED",
            OcfCode::FailedPromoted => "OCF_FAILED_PROMOTED",
            OcfCode::Degraded => "OCF_DEGRADED",
            OcfCode::DegradedPromoted => "OCF_DEGRADED_PROMOTED",
        }
    }
}

impl fmt::Display for OcfCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.as_i32())
    }
}

/// A failure with the OCF code it maps to and the reason the operator reads.
///
/// `reason` is what `crm_mon` shows (one line, cut to fit Pacemaker's 128
/// characters by `main`); `source` keeps the underlying error for the log.
#[derive(Debug)]
pub struct OcfError {
    pub code: OcfCode,
    pub reason: String,
    pub source: Option<anyhow::Error>,
}

impl OcfError {
    pub fn new(code: OcfCode, reason: impl Into<String>) -> Self {
        OcfError {
            code,
            reason: reason.into(),
            source: None,
        }
    }

    /// Attaches the underlying error, kept for the log only.
    pub fn with_source(mut self, source: impl Into<anyhow::Error>) -> Self {
        self.source = Some(source.into());
        self
    }

    pub fn generic(reason: impl Into<String>) -> Self {
        Self::new(OcfCode::ErrGeneric, reason)
    }

    pub fn configured(reason: impl Into<String>) -> Self {
        Self::new(OcfCode::ErrConfigured, reason)
    }

    pub fn args(reason: impl Into<String>) -> Self {
        Self::new(OcfCode::ErrArgs, reason)
    }

    pub fn installed(reason: impl Into<String>) -> Self {
        Self::new(OcfCode::ErrInstalled, reason)
    }

    pub fn perm(reason: impl Into<String>) -> Self {
        Self::new(OcfCode::ErrPerm, reason)
    }
}

impl fmt::Display for OcfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.reason)?;
        if let Some(source) = &self.source {
            write!(f, ": {source:#}")?;
        }
        Ok(())
    }
}

impl std::error::Error for OcfError {}

/// Result of an action: the code to exit with when it did not fail.
pub type OcfResult<T = OcfCode> = Result<T, OcfError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_the_ocf_numbers() {
        assert_eq!(OcfCode::NotRunning.as_i32(), 7);
        assert_eq!(OcfCode::FailedPromoted.as_i32(), 9);
        assert_eq!(OcfCode::DegradedPromoted.as_i32(), 191);
    }

    #[test]
    fn every_code_is_listed_once_with_its_meaning() {
        for code in OcfCode::ALL {
            assert!(code.meaning().ends_with('.'), "{code}");
            assert_eq!(OcfCode::ALL.iter().filter(|c| **c == code).count(), 1, "{code}");
        }
        // as_i32 matches every variant and no two share a number: twelve
        // distinct numbers are all twelve variants.
        let numbers: Vec<i32> = OcfCode::ALL.iter().map(|c| c.as_i32()).collect();
        assert_eq!(numbers, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 190, 191]);
    }

    #[test]
    fn every_code_round_trips_through_its_exit_status() {
        for code in OcfCode::ALL {
            assert_eq!(OcfCode::from_status(code.as_i32()), Some(code));
        }
        assert_eq!(OcfCode::from_status(10), None);
        assert_eq!(OcfCode::from_status(101), None, "a Rust panic is no answer");
    }

    #[test]
    fn display_keeps_the_source_chain() {
        let e = OcfError::generic("start failed").with_source(anyhow::anyhow!("inner").context("outer"));
        assert_eq!(e.to_string(), "start failed: outer: inner");
    }
}
