//! Whether the cluster is configured safely for a database: fencing on, a
//! fence device to carry it out, and, with two nodes, a fencing delay that
//! lets the primary win a fence race. A pure rule over what the CIB says,
//! as plain data ([`ClusterFacts`], which the callers fill from
//! `pcmk::cib::configuration`); `validate-all` (at OCF_CHECK_LEVEL 10) and
//! `pgha status` print its warnings, and nothing fails because of them: the
//! cluster is the operator's to configure.
//!
//! Without fencing, a promote waits until a primary cut off from this
//! partition can be expected to have stopped taking writes: at most
//! [`ISOLATED_PRIMARY_STOP`] after this partition saw its node leave
//! ([`departure`], [`isolation_wait`]), a best effort that fencing makes
//! unneeded.

use std::collections::BTreeMap;
use std::time::Duration;

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

/// How long after the membership change a promotion waits, without
/// fencing, before the standby takes writes: a primary cut off from this
/// partition loses quorum when this partition sees it leave (both sides
/// see the same token loss), and Pacemaker there stops it
/// (`no-quorum-policy=stop`) about 1.2 s later in the lab (its own
/// controller election, the scheduler, demote's fast shutdown); this
/// partition's promote came 0.6 s after the membership change, so for
/// 0.6 s two primaries acknowledged commits (issue 13). Three seconds
/// from the change keep the isolated side's last commit before the new
/// primary's first.
pub const ISOLATED_PRIMARY_STOP: Duration = Duration::from_secs(3);

/// Where the nodes that could still run a primary unseen stand, as this
/// partition sees them ([`departure`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Departure {
    /// Every other cluster node is in this partition (or was stopped or
    /// demoted in this round): any primary among them is Pacemaker's to
    /// demote before this promote, none writes unseen.
    NoneAway,
    /// The last of the nodes outside this partition to leave has been away
    /// at least this long: this node's first sight of it outside, which
    /// came no sooner than the membership change (zero: seen away only
    /// now).
    AwayFor(Duration),
    /// This partition's members could not be asked.
    Unknown,
}

/// The [`Departure`] of the cluster's `members` other than `me`, from the
/// nodes of this `partition` (None: not known), the nodes `stopped` or
/// demoted in this round, and `away_for`: how long this node has seen each
/// node outside its partition (a node away with no entry: seen only now).
pub fn departure(
    me: &str,
    members: &[String],
    partition: Option<&[String]>,
    stopped: &[String],
    away_for: &BTreeMap<String, Duration>,
) -> Departure {
    let Some(partition) = partition else {
        return Departure::Unknown;
    };
    members
        .iter()
        .filter(|n| *n != me && !partition.contains(n) && !stopped.contains(n))
        .map(|n| away_for.get(n).copied().unwrap_or(Duration::ZERO))
        .min()
        .map_or(Departure::NoneAway, Departure::AwayFor)
}

/// How long promote waits before `pg_promote`, so that a primary cut off
/// from this partition has stopped taking writes first: the rest of
/// [`ISOLATED_PRIMARY_STOP`] counted from the membership change (none when
/// its node left long ago). Nothing with fencing (Pacemaker promotes only
/// once the lost node is shot), nothing when `observed_stop` (the old
/// primary was demoted in this round: a switchover, a failed primary
/// recovered, its node shut down cleanly, which demotes it first), nothing
/// when no node is away. `facts`: None when the CIB cannot be read; a
/// partition that cannot be asked waits the whole time, to be safe.
pub fn isolation_wait(facts: Option<&ClusterFacts>, observed_stop: bool, departure: Departure) -> Duration {
    if facts.is_some_and(fencing_on) || observed_stop {
        return Duration::ZERO;
    }
    match departure {
        Departure::NoneAway => Duration::ZERO,
        Departure::AwayFor(away) => ISOLATED_PRIMARY_STOP.saturating_sub(away),
        Departure::Unknown => ISOLATED_PRIMARY_STOP,
    }
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
    /// except where no other primary can be writing. Issue 23: the wait was
    /// a fixed 3 s from the promote, not from the membership change, and
    /// was skipped on a memory flag that could be stale.
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
        let ms = Duration::from_millis;
        let full = ISOLATED_PRIMARY_STOP;
        let just_left = Departure::AwayFor(Duration::ZERO);
        // (facts, old primary seen stopped, departure, wait, why)
        let table: Vec<(Option<&ClusterFacts>, bool, Departure, Duration, &str)> = vec![
            (
                Some(&fenced),
                false,
                just_left,
                ms(0),
                "fencing: the lost node is shot first",
            ),
            (
                Some(&default_on),
                false,
                Departure::Unknown,
                ms(0),
                "fencing on by default",
            ),
            (
                Some(&off),
                false,
                just_left,
                full,
                "cut off just now, may still write",
            ),
            (
                Some(&no_device),
                false,
                just_left,
                full,
                "no device fences nothing",
            ),
            (
                Some(&renamed_off),
                false,
                just_left,
                full,
                "fencing-enabled read first",
            ),
            (None, false, just_left, full, "no CIB: wait, to be safe"),
            (
                Some(&off),
                false,
                Departure::Unknown,
                full,
                "no partition known: the whole wait",
            ),
            (
                Some(&off),
                false,
                Departure::AwayFor(ms(600)),
                ms(2400),
                "the lab's promote, 0.6 s after the change",
            ),
            (
                Some(&off),
                false,
                Departure::AwayFor(ms(2999)),
                ms(1),
                "only the rest of the 3 s",
            ),
            (
                Some(&off),
                false,
                Departure::AwayFor(ms(3000)),
                ms(0),
                "3 s after the change",
            ),
            (
                Some(&off),
                false,
                Departure::AwayFor(Duration::from_secs(3600)),
                ms(0),
                "left an hour ago: stopped long since",
            ),
            (
                Some(&off),
                false,
                Departure::NoneAway,
                ms(0),
                "every node in this partition",
            ),
            (
                Some(&off),
                true,
                just_left,
                ms(0),
                "old primary demoted in this round",
            ),
            (
                None,
                true,
                Departure::Unknown,
                ms(0),
                "a switchover needs no wait",
            ),
        ];
        for (facts, stopped, departure, wait, why) in table {
            assert_eq!(isolation_wait(facts, stopped, departure), wait, "{why}");
        }
    }

    #[test]
    fn the_wait_counts_from_the_last_departure_this_partition_saw() {
        let names = |v: &[&str]| v.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        let away = |v: &[(&str, u64)]| {
            v.iter()
                .map(|(n, ms)| (n.to_string(), Duration::from_millis(*ms)))
                .collect::<BTreeMap<_, _>>()
        };
        let members = names(&["n1", "n2", "n3", "n4"]);
        let at = |ms| Departure::AwayFor(Duration::from_millis(ms));
        // (partition, stopped in this round, away for, departure)
        type Row<'a> = (
            Option<&'a [&'a str]>,
            &'a [&'a str],
            &'a [(&'a str, u64)],
            Departure,
        );
        let table: &[Row] = &[
            (Some(&["n1", "n2", "n3", "n4"]), &[], &[], Departure::NoneAway),
            (Some(&["n2", "n3", "n4"]), &[], &[], at(0)),
            (Some(&["n2", "n3", "n4"]), &[], &[("n1", 700)], at(700)),
            // The latest departure counts: n4 left long ago, n1 just now.
            (Some(&["n2", "n3"]), &[], &[("n1", 700), ("n4", 90_000)], at(700)),
            (Some(&["n2", "n3"]), &[], &[("n4", 90_000)], at(0)),
            // Stopped in this round: its instance cannot write.
            (Some(&["n2", "n3", "n4"]), &["n1"], &[], Departure::NoneAway),
            (Some(&["n2", "n3"]), &["n1"], &[("n4", 90_000)], at(90_000)),
            // An entry of a node that is back does not count.
            (
                Some(&["n1", "n2", "n3", "n4"]),
                &[],
                &[("n1", 5)],
                Departure::NoneAway,
            ),
            (None, &[], &[("n1", 90_000)], Departure::Unknown),
        ];
        for (partition, stopped, away_for, expected) in table {
            let partition = partition.map(names);
            let got = departure(
                "n2",
                &members,
                partition.as_deref(),
                &names(stopped),
                &away(away_for),
            );
            assert_eq!(got, *expected, "{partition:?} {stopped:?} {away_for:?}");
        }
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
