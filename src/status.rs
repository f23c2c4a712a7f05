//! `pgha status [--resource NAME] [--json] [--prometheus]`: the replication
//! view of the cluster from any node, for operators (and, with
//! `--prometheus`, for a metrics scraper: [`crate::metrics`]).
//!
//! It reads what the agents publish (node attributes `pgha-<rsc>-*` and the
//! promotion scores) from pacemaker-attrd, one query per attribute, each
//! bounded, and the operator's role flags from the CIB's nodes section (one
//! `cibadmin` call); it never connects to PostgreSQL. "Would be promoted"
//! is the standby Pacemaker would pick now: the highest positive score,
//! then the most advanced position, never a node marked `nopromote`; the
//! election at promote time has the last word.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::deadline::Deadline;
use crate::metrics::{self, NodeFacts};
use crate::ocf::code::{OcfError, OcfResult};
use crate::pcmk::{attrs, cib, node};
use crate::policy::safety;
use crate::vocab::{Attr, NO_VALUE, NodeRole, NodeRoles, RoleFlags, SlotWalList};

/// One node's row.
#[derive(Debug, Default)]
pub struct NodeView {
    /// The value of each of [`Attr::STATUS`] this node has.
    pub fields: BTreeMap<Attr, String>,
    pub score: Option<i64>,
    /// The operator's role flags (`nopromote`, `nosync`, `priority`).
    pub roles: RoleFlags,
}

impl NodeView {
    fn role(&self) -> Option<NodeRole> {
        self.fields.get(&Attr::Role).and_then(|r| NodeRole::parse(r))
    }
}

/// The view of resource `rsc`.
pub fn collect(rsc: &str, deadline: Deadline) -> OcfResult<BTreeMap<String, NodeView>> {
    let mut nodes: BTreeMap<String, NodeView> = BTreeMap::new();
    for attr in Attr::STATUS {
        for (node, value) in attrs::query_all(rsc, attr, deadline)? {
            nodes.entry(node).or_default().fields.insert(attr, value);
        }
    }
    // Not a column: a wait of the quorum gate is rare, and a sentence.
    for (node, value) in attrs::query_all(rsc, Attr::Gate, deadline)? {
        nodes.entry(node).or_default().fields.insert(Attr::Gate, value);
    }
    for (node, score) in attrs::promotion_scores(rsc, deadline)? {
        nodes.entry(node).or_default().score = Some(score);
    }
    // Permanent attributes: in the CIB, not in attrd. Without a CIB to
    // read, the column says nothing.
    let roles = node::configured_nodes(deadline)
        .map(|attributes| NodeRoles::from_node_attributes(rsc, &attributes))
        .unwrap_or_default();
    for (node, flags) in roles.0 {
        nodes.entry(node).or_default().roles = flags;
    }
    Ok(nodes)
}

/// The standby Pacemaker would promote now, if any.
pub fn would_promote(nodes: &BTreeMap<String, NodeView>) -> Option<&str> {
    let position = |v: &NodeView| {
        let tl: u32 = v
            .fields
            .get(&Attr::Timeline)
            .and_then(|t| t.parse().ok())
            .unwrap_or(0);
        let lsn = v
            .fields
            .get(&Attr::Lsn)
            .and_then(|l| l.parse::<crate::vocab::Lsn>().ok())
            .unwrap_or_default();
        (tl, lsn)
    };
    nodes
        .iter()
        .filter(|(_, v)| v.role() == Some(NodeRole::Standby) && !v.roles.no_promote)
        .filter(|(_, v)| v.score.is_some_and(|s| s > 0))
        .max_by_key(|(_, v)| (v.score, position(v)))
        .map(|(n, _)| n.as_str())
}

/// Finds the pgha resource in the CIB when there is exactly one.
fn find_resource(deadline: Deadline) -> OcfResult<String> {
    let ids = cib::primitives_of_agent("pgha", "postgresql", deadline)?;
    match ids.as_slice() {
        [one] => Ok(one.to_string()),
        [] => Err(OcfError::generic("no pgha resource in the CIB")),
        many => Err(OcfError::generic(format!(
            "several pgha resources ({}): use --resource",
            many.join(", ")
        ))),
    }
}

/// Renders the view as one JSON object: `resource`, `primary`,
/// `would_promote`, `nodes` (one object per node: `node`, each field of
/// [`Attr::STATUS`] in that order, `score`; null where a node has none;
/// `roles`: `nopromote`, `nosync`, `priority`) and `warnings`.
pub fn to_json(rsc: &str, nodes: &BTreeMap<String, NodeView>, warnings: &[String]) -> String {
    let rows: Vec<Value> = nodes
        .iter()
        .map(|(node, v)| {
            let mut row = Map::new();
            row.insert("node".into(), json!(node));
            for attr in Attr::STATUS {
                row.insert(attr.field().into(), json!(v.fields.get(&attr)));
            }
            row.insert("score".into(), json!(v.score));
            row.insert(
                "roles".into(),
                json!({
                    "nopromote": v.roles.no_promote,
                    "nosync": v.roles.no_sync,
                    "priority": v.roles.priority,
                }),
            );
            Value::Object(row)
        })
        .collect();
    let primary = nodes
        .iter()
        .find(|(_, v)| v.role() == Some(NodeRole::Primary))
        .map(|(n, _)| n);
    json!({
        "resource": rsc,
        "primary": primary,
        "would_promote": would_promote(nodes),
        "nodes": rows,
        "warnings": warnings,
    })
    .to_string()
}

/// A node name or a value for a terminal: they come from other nodes'
/// attributes, which anyone allowed to run attrd_updater can set, so a
/// control character (an ANSI escape sequence, a carriage return that
/// overwrites the line, a line break that adds a forged line to the table)
/// is shown as `\u{1b}` instead of reaching the terminal (issue 23). Only
/// the table's own text breaks lines.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Renders the view as a table.
pub fn to_text(rsc: &str, nodes: &BTreeMap<String, NodeView>, warnings: &[String]) -> String {
    let mut out = format!("resource {rsc}\n");
    out.push_str(&format!(
        "{:<16} {:<8} {:>8} {:<14} {:>12} {:<10} {:<12} {:>7} {:<4} {}\n",
        "node", "role", "timeline", "lsn", "lag (bytes)", "receiver", "sync", "score", "read", "roles"
    ));
    for (node, v) in nodes {
        let f = |a: Attr| printable(v.fields.get(&a).map_or(NO_VALUE, String::as_str));
        out.push_str(&format!(
            "{:<16} {:<8} {:>8} {:<14} {:>12} {:<10} {:<12} {:>7} {:<4} {}\n",
            printable(node),
            f(Attr::Role),
            f(Attr::Timeline),
            f(Attr::Lsn),
            f(Attr::Lag),
            f(Attr::Receiver),
            f(Attr::Sync),
            v.score.map(|s| s.to_string()).unwrap_or_else(|| "-".into()),
            f(Attr::Readable),
            v.roles,
        ));
    }
    // The slots are the primary's alone; a column would be "-" everywhere else.
    for (node, v) in nodes {
        if let Some(slots) = v
            .fields
            .get(&Attr::Slots)
            .filter(|_| v.role() == Some(NodeRole::Primary))
        {
            out.push_str(&format!(
                "replication slots on {}: {}\n",
                printable(node),
                printable(slots)
            ));
        }
    }
    // What each of them holds back: the primary's disk is what it fills.
    for (node, v) in nodes {
        if let Some(held) = v
            .fields
            .get(&Attr::SlotWal)
            .filter(|_| v.role() == Some(NodeRole::Primary))
            .and_then(|value| value.parse::<SlotWalList>().ok())
            .filter(|list| !list.0.is_empty())
        {
            out.push_str(&format!(
                "WAL retained by the slots on {node}: {}\n",
                retained_text(&held)
            ));
        }
    }
    // A copy under way (bootstrap, rebuild) is rare and long: a line of its
    // own, like the slots.
    for (node, v) in nodes {
        if let Some(build) = v.fields.get(&Attr::Build).filter(|b| *b != NO_VALUE) {
            out.push_str(&format!(
                "base backup on {}: {}\n",
                printable(node),
                printable(build)
            ));
        }
    }
    for (node, v) in nodes {
        if let Some(reason) = v.fields.get(&Attr::Gate).filter(|g| *g != NO_VALUE) {
            out.push_str(&format!(
                "promotion held on {}: {}\n",
                printable(node),
                printable(reason)
            ));
        }
    }
    out.push_str(&format!(
        "would be promoted now: {}\n",
        printable(would_promote(nodes).unwrap_or("nobody"))
    ));
    for warning in warnings {
        out.push_str(&format!("warning: {}\n", printable(warning)));
    }
    out
}

/// `pgha_b 40 MB (reserved), pgha_c 1 MB (extended)`: a slot's retained
/// WAL in MB (2^20 bytes, as the base backup's progress counts), `-` when
/// the server tells none, and PostgreSQL's wal_status when it has one.
fn retained_text(list: &SlotWalList) -> String {
    list.0
        .iter()
        .map(|s| {
            let held = s
                .retained
                .map_or_else(|| NO_VALUE.to_string(), |bytes| format!("{} MB", bytes >> 20));
            match &s.status {
                Some(status) => format!("{} {held} ({status})", s.slot),
                None => format!("{} {held}", s.slot),
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The arguments of `pgha status`; clap parses them, and pgha(8) lists
/// them from here ([`crate::doc`]).
#[derive(clap::Args, Debug, Default)]
pub struct StatusArgs {
    #[arg(
        long,
        value_name = "NAME",
        help = "The resource to show; by default the one ocf:pgha:postgresql primitive of the CIB."
    )]
    pub resource: Option<String>,
    #[arg(
        long,
        help = "One JSON object (resource, primary, would_promote, nodes) instead of the table, for scripts \
                and monitoring."
    )]
    pub json: bool,
    #[arg(
        long,
        conflicts_with = "json",
        help = "Prometheus metrics (text format 0.0.4) instead of the table: each node's role, timeline, position, \
                lag, receiver, sync state, score, slots and the WAL each slot retains, and this node's last monitor."
    )]
    pub prometheus: bool,
}

/// Runs `pgha status`.
pub fn run(args: &StatusArgs) -> OcfResult<String> {
    let deadline = Deadline::after(Duration::from_secs(30));
    let rsc = match &args.resource {
        Some(name) => name.clone(),
        None => find_resource(deadline)?,
    };
    let nodes = collect(&rsc, deadline)?;
    let warnings = cib::configuration(deadline)
        .map(|c| safety::warnings(&safety::ClusterFacts::new(c.options, c.nodes, c.fence_devices)))
        .unwrap_or_default();
    Ok(if args.prometheus {
        let facts: Vec<NodeFacts> = nodes
            .iter()
            .map(|(node, v)| NodeFacts {
                node,
                fields: &v.fields,
                score: v.score,
            })
            .collect();
        let last = metrics::last_monitor(&rsc, deadline);
        metrics::render(&rsc, &facts, would_promote(&nodes), last.as_ref(), warnings.len())
    } else if args.json {
        to_json(&rsc, &nodes, &warnings) + "\n"
    } else {
        to_text(&rsc, &nodes, &warnings)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(role: &str, tl: &str, lsn: &str, score: Option<i64>) -> NodeView {
        let mut v = NodeView {
            score,
            ..Default::default()
        };
        v.fields.insert(Attr::Role, role.into());
        v.fields.insert(Attr::Timeline, tl.into());
        v.fields.insert(Attr::Lsn, lsn.into());
        v
    }

    #[test]
    fn would_promote_the_best_scored_most_advanced_standby() {
        let nodes: BTreeMap<String, NodeView> = [
            ("n1".to_string(), view("primary", "2", "0/9000000", Some(1001))),
            ("n2".to_string(), view("standby", "2", "0/8000000", Some(1000))),
            ("n3".to_string(), view("standby", "2", "0/8800000", Some(1000))),
            ("n4".to_string(), view("standby", "2", "0/9900000", Some(-1000))),
        ]
        .into();
        assert_eq!(would_promote(&nodes), Some("n3"));
        let json = to_json("pgsqld", &nodes, &[]);
        assert!(
            json.starts_with("{\"resource\":\"pgsqld\",\"primary\":\"n1\",\"would_promote\":\"n3\""),
            "{json}"
        );
        assert!(to_text("pgsqld", &nodes, &[]).contains("would be promoted now: n3"));
        assert!(json.ends_with("\"warnings\":[]}"), "{json}");
        let warned = ["fencing is disabled".to_string()];
        assert!(to_text("pgsqld", &nodes, &warned).ends_with("warning: fencing is disabled\n"));
        assert!(to_json("pgsqld", &nodes, &warned).ends_with("\"warnings\":[\"fencing is disabled\"]}"));
    }

    #[test]
    fn the_primarys_slots_get_a_line_of_their_own() {
        let mut primary = view("primary", "2", "0/9000000", Some(1001));
        primary
            .fields
            .insert(Attr::Slots, "pgha_n2, pgha_n3 (inactive)".into());
        let mut standby = view("standby", "2", "0/9000000", Some(1000));
        standby.fields.insert(Attr::Slots, "-".into());
        let nodes: BTreeMap<String, NodeView> =
            [("n1".to_string(), primary), ("n2".to_string(), standby)].into();
        let text = to_text("pgsqld", &nodes, &[]);
        assert!(
            text.contains("replication slots on n1: pgha_n2, pgha_n3 (inactive)\n"),
            "{text}"
        );
        assert!(!text.contains("replication slots on n2"), "{text}");
        assert!(to_json("pgsqld", &nodes, &[]).contains("\"slots\":\"pgha_n2, pgha_n3 (inactive)\""));
    }

    #[test]
    fn the_wal_the_primarys_slots_retain_gets_a_line_and_a_field() {
        let mut primary = view("primary", "2", "0/9000000", Some(1001));
        let value = "pgha_n2=1048576 reserved, pgha_n3=5368709120 extended, pgha_n4=- lost";
        primary.fields.insert(Attr::SlotWal, value.into());
        let mut standby = view("standby", "2", "0/9000000", Some(1000));
        standby.fields.insert(Attr::SlotWal, NO_VALUE.into());
        let mut stopped = view("stopped", "2", "0/9000000", None);
        stopped.fields.insert(Attr::SlotWal, "pgha_n1=0 reserved".into());
        let nodes: BTreeMap<String, NodeView> = [
            ("n1".to_string(), primary),
            ("n2".to_string(), standby),
            ("n3".to_string(), stopped),
        ]
        .into();
        let text = to_text("pgsqld", &nodes, &[]);
        assert!(
            text.contains(
                "WAL retained by the slots on n1: pgha_n2 1 MB (reserved), pgha_n3 5120 MB (extended), pgha_n4 - (lost)\n"
            ),
            "{text}"
        );
        assert_eq!(
            text.matches("WAL retained").count(),
            1,
            "the primary's only: {text}"
        );
        assert!(to_json("pgsqld", &nodes, &[]).contains(&format!("\"slot-wal\":\"{value}\"")));
    }

    #[test]
    fn a_base_backup_under_way_gets_a_line_and_a_field() {
        let mut building = view("stopped", "-", "-", None);
        building
            .fields
            .insert(Attr::Build, "copying 40% (12/30 MB) from n1".into());
        let mut done = view("standby", "2", "0/9000000", Some(1000));
        done.fields.insert(Attr::Build, NO_VALUE.into());
        let nodes: BTreeMap<String, NodeView> =
            [("n4".to_string(), building), ("n2".to_string(), done)].into();
        let text = to_text("pgsqld", &nodes, &[]);
        assert!(
            text.contains("base backup on n4: copying 40% (12/30 MB) from n1\n"),
            "{text}"
        );
        assert!(!text.contains("base backup on n2"), "{text}");
        let mut held = view("standby", "2", "0/9000000", None);
        held.fields.insert(
            Attr::Gate,
            "strict-sync: 2 of the 3 standbys needed (ANY 1 of 3) take part; waiting for n3 or the old primary".into(),
        );
        let mut passed = view("standby", "2", "0/9000000", None);
        passed.fields.insert(Attr::Gate, NO_VALUE.into());
        let gated: BTreeMap<String, NodeView> = [("n4".to_string(), held), ("n2".to_string(), passed)].into();
        let text = to_text("pgsqld", &gated, &[]);
        assert!(
            text.contains("promotion held on n4: strict-sync: 2 of the 3 standbys needed (ANY 1 of 3) take part; waiting for n3 or the old primary\n"),
            "{text}"
        );
        assert!(!text.contains("promotion held on n2"), "{text}");
        assert!(to_json("pgsqld", &nodes, &[]).contains("\"build\":\"copying 40% (12/30 MB) from n1\""));
    }

    #[test]
    fn each_nodes_roles_and_readable_show_and_a_nopromote_node_is_never_the_one() {
        let mut n2 = view("standby", "2", "0/9000000", Some(1000));
        n2.roles = "nopromote,nosync".parse().unwrap();
        n2.fields.insert(Attr::Readable, "1".into());
        let mut n3 = view("standby", "2", "0/8000000", Some(900));
        n3.roles = "priority=5".parse().unwrap();
        n3.fields.insert(Attr::Readable, "0".into());
        let nodes: BTreeMap<String, NodeView> = [("n2".to_string(), n2), ("n3".to_string(), n3)].into();
        assert_eq!(would_promote(&nodes), Some("n3"), "not n2, however it scored");
        let text = to_text("pgsqld", &nodes, &[]);
        let line = |node: &str| text.lines().find(|l| l.starts_with(node)).unwrap().to_string();
        assert!(
            text.lines().nth(1).unwrap().ends_with("score read roles"),
            "{text}"
        );
        assert!(line("n2").ends_with(" 1000 1    nopromote,nosync"), "{text}");
        assert!(line("n3").ends_with(" 900 0    priority=5"), "{text}");
        let json = to_json("pgsqld", &nodes, &[]);
        assert!(
            json.contains("\"readable\":\"1\",\"score\":1000,\"roles\":{\"nopromote\":true,\"nosync\":true,\"priority\":0}"),
            "{json}"
        );
    }

    /// The keys and their order are what scripts read: resource, primary,
    /// would_promote, nodes (node, the status fields, score), warnings.
    #[test]
    fn json_keeps_its_keys_in_order_with_nulls_for_what_a_node_lacks() {
        let nodes: BTreeMap<String, NodeView> =
            [("n1".to_string(), view("primary", "2", "0/9000000", Some(1001)))].into();
        let fields: String = Attr::STATUS
            .iter()
            .map(|a| {
                let value = match a {
                    Attr::Role => "\"primary\"",
                    Attr::Timeline => "\"2\"",
                    Attr::Lsn => "\"0/9000000\"",
                    _ => "null",
                };
                format!(",\"{}\":{value}", a.field())
            })
            .collect();
        assert_eq!(
            to_json("pgsqld", &nodes, &["a \"b\"\u{1b}".to_string()]),
            format!(
                "{{\"resource\":\"pgsqld\",\"primary\":\"n1\",\"would_promote\":null,\
                 \"nodes\":[{{\"node\":\"n1\"{fields},\"score\":1001,\
                 \"roles\":{{\"nopromote\":false,\"nosync\":false,\"priority\":0}}}}],\
                 \"warnings\":[\"a \\\"b\\\"\\u001b\"]}}"
            )
        );
    }

    /// Issue 23: a value set on another node with an ANSI sequence in it
    /// reached the operator's terminal as it was.
    #[test]
    fn control_characters_from_other_nodes_never_reach_the_terminal() {
        let mut v = view("standby\u{1b}[2J", "2", "0/9000000\r", Some(1000));
        v.fields.insert(Attr::Build, "copying\u{7}".into());
        // A line of its own, forged in a value.
        v.fields.insert(Attr::Gate, "x\nn9 primary 9 9/0".into());
        let nodes: BTreeMap<String, NodeView> = [("n\u{1b}]0;x\u{7}2".to_string(), v)].into();
        let text = to_text("pgsqld", &nodes, &["w\u{9b}".to_string()]);
        assert!(!text.chars().any(|c| c.is_control() && c != '\n'), "{text:?}");
        assert!(text.contains("standby\\u{1b}[2J"), "{text}");
        assert!(
            text.contains("base backup on n\\u{1b}]0;x\\u{7}2: copying\\u{7}\n"),
            "{text}"
        );
        assert!(text.ends_with("warning: w\\u{9b}\n"), "{text}");
        assert!(text.contains(": x\\u{a}n9 primary"), "{text}");
        assert_eq!(text.lines().count(), 7, "{text}");
    }
}
