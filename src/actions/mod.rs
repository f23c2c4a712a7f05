//! The agent's actions, one file each, composed from `ocf`, `pg` and `exec`.
//!
//! [`dispatch`] maps the action name Pacemaker passes to its function. Every
//! action returns the OCF code to exit with, or an [`OcfError`] whose reason
//! `main` prints as the exit reason.

mod demote;
mod meta_data;
mod monitor;
mod notify;
mod promote;
mod start;
mod stop;
mod validate;

use std::time::Duration;

use crate::context::Context;
use crate::deadline::Deadline;
use crate::ocf::code::{OcfCode, OcfError, OcfResult};
use crate::ocf::metadata::{ActionSpec, AgentInfo};
use crate::runstate::{self, LockRefused, ResourceLock};
use crate::{log_debug, log_warn};

pub const AGENT: AgentInfo = AgentInfo {
    name: "postgresql",
    version: env!("CARGO_PKG_VERSION"),
    shortdesc: "PostgreSQL server with a bounded health probe",
    longdesc: concat!(
        "Manages a PostgreSQL server, alone as a primitive or with streaming replication as a \
        promotable clone (promotable notify=true promoted-max=1): instances start as hot standbys following \
        primary_conninfo, the most advanced standby (timeline, then WAL position) is promoted, and a former \
        primary rejoins as a standby, with pg_rewind when rewind=true. Its monitor runs the query ",
        crate::probe_query!(),
        " within probe_timeout, so a frozen or \
        overloaded server is reported as failed instead of hanging the monitor; a crash is told from a \
        clean shutdown by pg_control. Start and stop run the server directly as system_user (no shell, \
        no pg_ctl) and escalate stop from fast to immediate to SIGKILL within the operation timeout."
    ),
};

/// One action of the agent: the only place its name is written. Dispatch,
/// the metadata's `<actions>`, the help text of `pgha usage` and the man
/// page's SYNOPSIS and SUPPORTED ACTIONS are all derived from [`ACTION_TABLE`],
/// so no list of action names can fall behind (issue 11: four did).
pub struct Action {
    /// The OCF 1.1 action name Pacemaker passes as the first argument.
    pub name: &'static str,
    /// What carries it out.
    pub run: fn(&Context) -> OcfResult,
    /// It keeps memory or attributes under the resource's name, so it
    /// refuses to run without `OCF_RESOURCE_INSTANCE`. stop is not one: it
    /// stops without a name, and only skips the bookkeeping.
    pub needs_resource: bool,
    /// How it takes the resource's lock ([`Locking`]).
    pub locking: Locking,
    /// One sentence for the man page.
    pub purpose: &'static str,
    /// Its `<action>` elements in the metadata, with the defaults pcs copies
    /// into the CIB (pcs copies each one but meta-data and validate-all, so
    /// only actions that do something are listed).
    pub advertised: &'static [ActionSpec],
}

/// Every action, in the order the metadata, the help and the man page show
/// them. `usage`, `help`, `doc` and `status` are commands of the binary, not
/// OCF actions: `main` handles them before dispatch.
pub const ACTION_TABLE: &[Action] = &[
    Action {
        name: "start",
        run: start::run,
        needs_resource: true,
        locking: Locking::Exclusive,
        purpose: "Starts PostgreSQL as system_user and returns once the health probe answers.",
        advertised: &[action("start", 60, None, None)],
    },
    Action {
        name: "stop",
        run: stop::run,
        needs_resource: false,
        locking: Locking::StopAnyway,
        purpose: "Stops PostgreSQL: fast shutdown, then immediate, then SIGKILL of every process of the instance, within the timeout.",
        advertised: &[action("stop", 60, None, None)],
    },
    Action {
        name: "monitor",
        run: monitor::run,
        needs_resource: true,
        locking: Locking::SharedIfFree,
        purpose: "Runs the bounded health probe and reports the state of the instance.",
        // Pacemaker tells recurring operations apart by interval only, so the
        // two roles need two intervals; a monitor without a role runs for a
        // primitive, and for the unpromoted instances of a clone.
        // 3 s / 4 s, where PAF ships 15 s / 16 s: one monitor costs a few
        // milliseconds of CPU (PAF's: hundreds), so a kill -9 or a frozen
        // postmaster is seen several times sooner for less CPU than PAF's
        // defaults (README "Detection at the shipped defaults", issue 12).
        advertised: &[
            action("monitor", 10, Some(3), Some("Promoted")),
            action("monitor", 10, Some(4), None),
        ],
    },
    Action {
        name: "promote",
        run: promote::run,
        needs_resource: true,
        locking: Locking::Exclusive,
        purpose: "Promotes the local standby to primary.",
        advertised: &[action("promote", 60, None, None)],
    },
    Action {
        name: "demote",
        run: demote::run,
        needs_resource: true,
        locking: Locking::Exclusive,
        purpose: "Turns the local primary back into a standby.",
        advertised: &[action("demote", 120, None, None)],
    },
    Action {
        name: "notify",
        run: notify::run,
        needs_resource: true,
        locking: Locking::None,
        purpose: "Receives the pre and post notifications of a promotable clone.",
        advertised: &[action("notify", 60, None, None)],
    },
    Action {
        name: "reload-agent",
        run: validate::reload_agent,
        needs_resource: false,
        locking: Locking::None,
        purpose: "Applies the parameters marked reloadable without restarting PostgreSQL.",
        advertised: &[action("reload-agent", 10, None, None)],
    },
    Action {
        name: "validate-all",
        run: validate::run,
        needs_resource: false,
        locking: Locking::None,
        purpose: "Checks the parameters; OCF_CHECK_LEVEL=10 also checks this node (user, directories, binaries).",
        advertised: &[action("validate-all", 10, None, None)],
    },
    Action {
        name: "meta-data",
        run: meta_data,
        needs_resource: false,
        locking: Locking::None,
        purpose: "Prints the OCF 1.1 metadata.",
        advertised: &[action("meta-data", 5, None, None)],
    },
];

/// How an action serializes with the other runs of the agent on the same
/// resource (a `pcs resource debug-start`, an operator's `crm_resource
/// --force-*`, beside what Pacemaker runs): the lock is
/// [`runstate::lock`], a `flock` on a file of root's in `/run/pgha`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Locking {
    /// Changes nothing another run depends on: no lock.
    None,
    /// Changes the instance: waits for the lock, within the action's
    /// deadline, and fails with a reason naming the holder if it cannot be
    /// had by then.
    Exclusive,
    /// stop: waits for the lock for half its budget, then stops without
    /// it. Stop stops whatever else is wrong: a failed stop gets the node
    /// fenced, and a start that holds the lock for minutes (a copy, a long
    /// crash recovery) must not keep the server running past its stop.
    StopAnyway,
    /// monitor: never waits. Its answer is read from the process table and
    /// the server, true whoever else runs; only its memory could undo what
    /// the holder just wrote (saved over it from an older read). So it
    /// takes the lock shared if it is free (an exclusive taker then waits
    /// the few milliseconds of a monitor), and otherwise answers without
    /// writing its memory ([`runstate::write_nothing`]). Waiting instead
    /// would time the monitor out behind a start that copies a primary for
    /// minutes, and Pacemaker would count a failure.
    SharedIfFree,
}

/// Takes the lock the way `entry` does, for resource `rsc`; the guard, to
/// hold while it runs (None: nothing held).
fn take_lock(entry: &Action, rsc: &str, deadline: Deadline) -> OcfResult<Option<ResourceLock>> {
    let (exclusive, until) = match entry.locking {
        Locking::None => return Ok(None),
        Locking::Exclusive => (true, deadline),
        Locking::StopAnyway => (true, deadline.fraction(0.5)),
        Locking::SharedIfFree => (false, Deadline::after(Duration::ZERO)),
    };
    let Some(taken) = runstate::lock(rsc, exclusive, entry.name, until) else {
        return Ok(None);
    };
    let why = match taken {
        Ok(held) => return Ok(Some(held)),
        Err(LockRefused::Held(holder)) => format!("another run of the agent ({holder}) holds the lock"),
        Err(LockRefused::Io(e)) => format!("cannot open its lock: {e}"),
    };
    match entry.locking {
        Locking::Exclusive => Err(OcfError::generic(format!(
            "{why}: not running {} beside it; retry when it is done",
            entry.name
        ))),
        Locking::StopAnyway => {
            log_warn!("{why}: stopping without it");
            Ok(None)
        }
        Locking::SharedIfFree | Locking::None => {
            log_debug!("{why}: answering without writing the memory");
            runstate::write_nothing();
            Ok(None)
        }
    }
}

const fn action(
    name: &'static str,
    timeout_s: u32,
    interval_s: Option<u32>,
    role: Option<&'static str>,
) -> ActionSpec {
    ActionSpec {
        name,
        timeout_s,
        interval_s,
        depth: if interval_s.is_some() { Some(0) } else { None },
        role,
    }
}

fn meta_data(_: &Context) -> OcfResult {
    meta_data::run()
}

/// Looks an action up by the name Pacemaker passed.
pub fn find(name: &str) -> Option<&'static Action> {
    ACTION_TABLE.iter().find(|a| a.name == name)
}

/// The `<action>` elements of the metadata, in table order.
pub fn advertised() -> Vec<ActionSpec> {
    ACTION_TABLE
        .iter()
        .flat_map(|a| a.advertised.iter().copied())
        .collect()
}

/// Runs `action`; the names are those of the OCF 1.1 API, from
/// [`ACTION_TABLE`].
pub fn dispatch(action: &str, ctx: &Context) -> OcfResult {
    log_debug!("action {action}, timeout {:?}", ctx.env.timeout());
    let Some(entry) = find(action) else {
        return Err(OcfError::new(
            OcfCode::ErrUnimplemented,
            format!("action '{action}' is not implemented by this agent"),
        ));
    };
    if entry.needs_resource {
        ctx.require_resource()?;
    }
    let _lock = match ctx.env.resource_name() {
        Some(rsc) => take_lock(entry, rsc, ctx.deadline)?,
        None => None,
    };
    (entry.run)(ctx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ocf::metadata;
    use crate::params::ocf_parameters;

    #[test]
    fn action_names_are_unique_and_their_specs_carry_them() {
        for a in ACTION_TABLE {
            assert_eq!(
                ACTION_TABLE.iter().filter(|b| b.name == a.name).count(),
                1,
                "{}",
                a.name
            );
            assert!(!a.advertised.is_empty(), "{} is not advertised", a.name);
            assert!(a.advertised.iter().all(|s| s.name == a.name), "{}", a.name);
            assert!(a.purpose.ends_with('.'), "{}", a.name);
            assert!(find(a.name).is_some_and(|f| f.purpose == a.purpose), "{}", a.name);
        }
        for own in ["usage", "help", "doc", "status"] {
            assert!(
                find(own).is_none(),
                "{own} is a command of the binary, not an OCF action"
            );
        }
    }

    /// The metadata's `<actions>` is the table, flattened, in its order:
    /// monitor twice (Promoted at 15 s, the other role at 16 s).
    #[test]
    fn metadata_advertises_every_action_of_the_table() {
        let mut out = Vec::new();
        metadata::write(&mut out, &AGENT, &ocf_parameters(), &advertised()).unwrap();
        let xml = String::from_utf8(out).unwrap();
        for a in ACTION_TABLE {
            assert!(
                xml.contains(&format!("<action name=\"{}\"", a.name)),
                "{} missing from the metadata:\n{xml}",
                a.name
            );
        }
        let order: Vec<(&str, Option<u32>, Option<&str>)> = advertised()
            .iter()
            .map(|s| (s.name, s.interval_s, s.role))
            .collect();
        assert_eq!(
            order,
            [
                ("start", None, None),
                ("stop", None, None),
                ("monitor", Some(3), Some("Promoted")),
                ("monitor", Some(4), None),
                ("promote", None, None),
                ("demote", None, None),
                ("notify", None, None),
                ("reload-agent", None, None),
                ("validate-all", None, None),
                ("meta-data", None, None),
            ]
        );
    }

    /// Every action that changes the instance is serialized; monitor never
    /// waits; stop stops even when it cannot have the lock.
    #[test]
    fn actions_that_change_the_instance_take_the_lock() {
        let locking: Vec<(&str, Locking)> = ACTION_TABLE.iter().map(|a| (a.name, a.locking)).collect();
        assert_eq!(
            locking,
            [
                ("start", Locking::Exclusive),
                ("stop", Locking::StopAnyway),
                ("monitor", Locking::SharedIfFree),
                ("promote", Locking::Exclusive),
                ("demote", Locking::Exclusive),
                ("notify", Locking::None),
                ("reload-agent", Locking::None),
                ("validate-all", Locking::None),
                ("meta-data", Locking::None),
            ]
        );
    }

    #[test]
    fn actions_that_keep_state_under_the_resource_name_require_it() {
        let needing: Vec<&str> = ACTION_TABLE
            .iter()
            .filter(|a| a.needs_resource)
            .map(|a| a.name)
            .collect();
        assert_eq!(needing, ["start", "monitor", "promote", "demote", "notify"]);
    }
}
