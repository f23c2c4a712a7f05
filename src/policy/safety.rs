//! Whether the cluster is configured safely for a database: fencing on, a
//! fence device to carry it out, and, with two nodes, a fencing delay that
//! lets the primary win a fence race. A pure rule over what the CIB says,
//! as plain data ([`ClusterFacts`], which the callers fill from
//! `pcmk::cib::configuration`); `validate-all` (at OCF_CHECK_LEVEL 10) and
//! `pgha status` print its warnings, and nothing fails because of them: the
//! cluster is the operator's to configure.

use std::collections::BTreeMap;

use crate::vocab::parse_bool;

/// What the cluster's configuration says about its safety.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ClusterFacts {
    /// The cluster options (`crm_config` name/value pairs; the last one of
    /// a name wins, as with Pacemaker's own property sets in order).
    pub options: BTreeMap<String, String>,
    /// The nodes the CIB configures.
    pub nodes: usize,
    /// The fence devices (`class="stonith"` primitives, anywhere in the
    /// resources section).
    pub fence_devices: usize,
}

impl ClusterFacts {
    pub fn new(options: BTreeMap<String, String>, nodes: usize, fence_devices: usize) -> ClusterFacts {
        ClusterFacts {
            options,
            nodes,
            fence_devices,
        }
    }
}

/// The option that switches fencing on or off: Pacemaker 3.0.2 renamed
/// `stonith-enabled` to `fencing-enabled` and reads both, the new name
/// first.
const FENCING_ENABLED: [&str; 2] = ["fencing-enabled", "stonith-enabled"];

/// Pacemaker's boolean spellings of false (`crm_is_true` is their negation).
fn is_false(value: &str) -> bool {
    parse_bool(value) == Some(false)
}

/// Whether a Pacemaker duration (`10s`, `500ms`, `1min`, `0`) is zero.
fn is_zero_duration(value: &str) -> bool {
    let digits: String = value.trim().chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse::<u64>().map_or(true, |n| n == 0)
}

/// Whether fencing is on and can be carried out: the first of
/// `fencing-enabled`/`stonith-enabled` that is set is not false (unset:
/// Pacemaker's default, on), and a fence device exists.
pub fn fencing_on(facts: &ClusterFacts) -> bool {
    let enabled = FENCING_ENABLED
        .iter()
        .find_map(|name| facts.options.get(*name))
        .is_none_or(|v| !is_false(v));
    enabled && facts.fence_devices > 0
}

/// How long a promotion waits, without fencing, before the standby takes
/// writes: a primary cut off from this partition loses quorum when this
/// partition sees it leave, and Pacemaker there stops it
/// (`no-quorum-policy=stop`) about 1.2 s later in the lab (its own
/// controller election, the scheduler, demote's fast shutdown); this
/// partition's promote came 0.6 s after the membership change, so for
/// 0.6 s two primaries acknowledged commits (issue 13). Three seconds
/// keep the isolated side's last commit before the new primary's first.
pub const ISOLATED_PRIMARY_STOP: std::time::Duration = std::time::Duration::from_secs(3);

/// Whether promote waits [`ISOLATED_PRIMARY_STOP`] before `pg_promote`:
/// not with fencing (Pacemaker promotes only once the lost node is shot),
/// not when this node was the primary (recovered in place: nobody else
/// can have written), not when a node is demoted in this round (a
/// switchover: the old primary stopped writes itself, before this promote).
/// `facts`: None when the CIB cannot be read: wait, to be safe.
pub fn isolation_wait(facts: Option<&ClusterFacts>, was_primary_here: bool, demoted: &[String]) -> bool {
    !facts.is_some_and(fencing_on) && !was_primary_here && demoted.is_empty()
}

/// What is unsafe about the cluster, one sentence each (none: safe).
pub fn warnings(facts: &ClusterFacts) -> Vec<String> {
    let mut out = Vec::new();
    let fencing = FENCING_ENABLED
        .iter()
        .find_map(|name| facts.options.get(*name).map(|v| (*name, v)));
    match fencing {
        Some((name, value)) if is_false(value) => out.push(format!(
            "fencing is disabled ({name}={value}): a node that stops answering is not shot, and a primary \
             cut off from the cluster may keep taking writes beside a new one"
        )),
        _ if facts.fence_devices == 0 => out.push(
            "fencing is enabled but no fence device is configured: a lost node or a failed stop blocks \
             recovery (pcs stonith create ...)"
                .to_string(),
        ),
        _ => {}
    }
    if let Some(policy) = facts
        .options
        .get("no-quorum-policy")
        .filter(|p| matches!(p.trim(), "ignore" | "freeze"))
    {
        out.push(format!(
            "no-quorum-policy={policy}: a primary cut off from the cluster keeps taking writes; use stop \
             (the default) or demote"
        ));
    }
    let delay = facts.options.get("priority-fencing-delay");
    if facts.nodes == 2 && delay.is_none_or(|d| is_zero_duration(d)) {
        out.push(
            "two-node cluster without priority-fencing-delay: in a fence race the primary's node may be \
             the one shot; set it (e.g. 15s) and a priority on the clone"
                .to_string(),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 13: without fencing, a cut-off primary took commits 0.6 s
    /// after the survivors' promote; promote now waits for it to stop,
    /// except where no other primary can be writing.
    #[test]
    fn promote_waits_for_an_isolated_primary_only_without_fencing() {
        let facts = |options: &[(&str, &str)], fence_devices| ClusterFacts {
            options: options
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            nodes: 3,
            fence_devices,
        };
        let fenced = facts(&[("stonith-enabled", "true")], 1);
        let default_on = facts(&[], 1);
        let off = facts(&[("stonith-enabled", "false")], 1);
        let renamed_off = facts(&[("fencing-enabled", "false"), ("stonith-enabled", "true")], 1);
        let no_device = facts(&[("stonith-enabled", "true")], 0);
        assert!(fencing_on(&fenced) && fencing_on(&default_on));
        assert!(!fencing_on(&off) && !fencing_on(&renamed_off) && !fencing_on(&no_device));
        let none: &[String] = &[];
        assert!(
            !isolation_wait(Some(&fenced), false, none),
            "fencing: the lost node is shot first"
        );
        assert!(
            isolation_wait(Some(&off), false, none),
            "a primary may be cut off, still writing"
        );
        assert!(isolation_wait(Some(&no_device), false, none));
        assert!(isolation_wait(None, false, none), "no CIB: wait, to be safe");
        assert!(!isolation_wait(Some(&off), true, none), "recovered in place");
        assert!(
            !isolation_wait(Some(&off), false, &["n1".to_string()]),
            "switchover"
        );
    }

    fn facts(options: &[(&str, &str)], nodes: usize, fence_devices: usize) -> ClusterFacts {
        ClusterFacts {
            options: options
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            nodes,
            fence_devices,
        }
    }

    #[test]
    fn unsafe_settings_are_named_and_safe_ones_are_quiet() {
        // (options, nodes, fence devices, the warnings' first words)
        type Row<'a> = (&'a [(&'a str, &'a str)], usize, usize, &'a [&'a str]);
        let table: &[Row] = &[
            (&[], 3, 1, &[]),
            (&[("stonith-enabled", "true")], 3, 2, &[]),
            (
                &[("stonith-enabled", "false")],
                3,
                1,
                &["fencing is disabled (stonith-enabled=false)"],
            ),
            (&[("stonith-enabled", "No")], 3, 0, &["fencing is disabled"]),
            // Pacemaker 3.0.2's name, read first.
            (
                &[("fencing-enabled", "false"), ("stonith-enabled", "true")],
                3,
                1,
                &["fencing is disabled (fencing-enabled=false)"],
            ),
            (
                &[("fencing-enabled", "true"), ("stonith-enabled", "false")],
                3,
                1,
                &[],
            ),
            (&[], 3, 0, &["fencing is enabled but no fence device"]),
            (&[], 2, 1, &["two-node cluster without priority-fencing-delay"]),
            (&[("priority-fencing-delay", "0s")], 2, 1, &["two-node cluster"]),
            (&[("priority-fencing-delay", "15s")], 2, 1, &[]),
            (
                &[("stonith-enabled", "false")],
                2,
                0,
                &["fencing is disabled", "two-node cluster"],
            ),
        ];
        for (options, nodes, devices, expected) in table {
            let got = warnings(&facts(options, *nodes, *devices));
            assert_eq!(
                got.len(),
                expected.len(),
                "{options:?} {nodes} {devices}: {got:?}"
            );
            for (w, start) in got.iter().zip(expected.iter()) {
                assert!(w.starts_with(start), "{w}");
            }
        }
    }

    #[test]
    fn durations_and_booleans_read_as_pacemaker_reads_them() {
        for zero in ["0", "0s", "0ms", "", "s"] {
            assert!(is_zero_duration(zero), "{zero:?}");
        }
        for not_zero in ["10s", "500ms", "1min", "15"] {
            assert!(!is_zero_duration(not_zero), "{not_zero:?}");
        }
        for f in ["false", "NO", "off", "0", "n"] {
            assert!(is_false(f));
        }
        for t in ["true", "yes", "1", "on"] {
            assert!(!is_false(t));
        }
    }
}
