//! Whether the cluster is configured safely for a database: fencing on, a
//! fence device to carry it out, and, with two nodes, a fencing delay that
//! lets the primary win a fence race. A pure rule over what the CIB says
//! ([`crate::pcmk::cib::ClusterFacts`]); `validate-all` (at
//! OCF_CHECK_LEVEL 10) and `pgha status` print its warnings, and nothing
//! fails because of them: the cluster is the operator's to configure.

use crate::pcmk::cib::ClusterFacts;

/// The option that switches fencing on or off: Pacemaker 3.0.2 renamed
/// `stonith-enabled` to `fencing-enabled` and reads both, the new name
/// first.
const FENCING_ENABLED: [&str; 2] = ["fencing-enabled", "stonith-enabled"];

/// Pacemaker's boolean spellings of false (`crm_is_true` is their negation).
fn is_false(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "false" | "no" | "off" | "n" | "0"
    )
}

/// Whether a Pacemaker duration (`10s`, `500ms`, `1min`, `0`) is zero.
fn is_zero_duration(value: &str) -> bool {
    let digits: String = value.trim().chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse::<u64>().map_or(true, |n| n == 0)
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
