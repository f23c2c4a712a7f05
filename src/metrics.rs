//! `pgha status --prometheus`: what `pgha status` shows, as Prometheus
//! metrics (text exposition format 0.0.4), for node_exporter's textfile
//! collector or any scraper that runs a command.
//!
//! Every node's metrics come from the attributes its agent publishes
//! (`pgha status` reads them, [`crate::status::collect`]); they are as
//! fresh as those are: a monitor rewrites a position at most once a minute
//! unless it changes otherwise. This node's own last monitor (its answer,
//! how long its health probe took, when it ran) comes from the agent's
//! memory, which the monitor writes at no query of its own; it is readable
//! by root only, so that part is missing when another user runs the
//! command. Nothing here connects to PostgreSQL.
//!
//! The primary's slots come from two attributes: the slots attribute
//! (names, and whether each is in use: [`SLOT_ACTIVE`]) and the WAL each
//! retains with its `wal_status` ([`SLOT_RETAINED`], [`SLOT_WAL_STATUS`]),
//! which the primary rewrites when it changed by a WAL segment and a tenth,
//! or every 5 minutes: the gauge is that coarse.
//!
//! Every sample has the labels `resource` and `node`; values that come from
//! other nodes (node names, receiver states, slot names) are escaped as the
//! format requires, and a value that does not parse as a number is left
//! out instead of being reported as 0.

use std::collections::BTreeMap;

use crate::deadline::{Deadline, unix_seconds};
use crate::ocf::env::OcfEnv;
use crate::pcmk::node;
use crate::runstate::RunState;
use crate::vocab::{Attr, Key, Lsn, NO_VALUE, NodeRole, SlotWalList, SyncState};

/// One node's published attributes and its promotion score.
#[derive(Clone, Copy, Debug)]
pub struct NodeFacts<'a> {
    pub node: &'a str,
    pub fields: &'a BTreeMap<Attr, String>,
    pub score: Option<i64>,
}

/// What this node's memory says of its last monitor.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LastMonitor {
    /// The node the memory is on (`crm_node -n`).
    pub node: String,
    /// Its answer (an OCF exit code) and since when (Unix seconds) it
    /// answers so.
    pub answer: Option<(i32, u64)>,
    /// How long its health probe took (seconds) and when (Unix seconds).
    pub probe: Option<(f64, u64)>,
}

impl LastMonitor {
    /// Reads it from `memory` at `now` (Unix seconds); None when no monitor
    /// noted anything there.
    pub fn from_memory(memory: &RunState, node: &str, now: u64) -> Option<LastMonitor> {
        let at = |key: &Key| memory.age(key).map(|age| now.saturating_sub(age));
        let answer = memory
            .get(&Key::MonitorAnswer)
            .and_then(|v| v.parse::<i32>().ok())
            .zip(at(&Key::MonitorAnswer));
        let probe = memory
            .get(&Key::MonitorProbeUs)
            .and_then(|v| v.parse::<u64>().ok())
            .map(|us| us as f64 / 1e6)
            .zip(at(&Key::MonitorProbeUs));
        (answer.is_some() || probe.is_some()).then(|| LastMonitor {
            node: node.to_string(),
            answer,
            probe,
        })
    }
}

/// This node's last monitor of resource `rsc`, when its memory can be read
/// and holds one; the node's name is asked only then.
pub fn last_monitor(rsc: &str, deadline: Deadline) -> Option<LastMonitor> {
    let memory = RunState::load(rsc);
    memory
        .get(&Key::MonitorAnswer)
        .or(memory.get(&Key::MonitorProbeUs))?;
    let me = node::local_node_name(&OcfEnv::default(), deadline);
    LastMonitor::from_memory(&memory, &me, unix_seconds())
}

/// A metric family: its name and its HELP text. Every one is a gauge.
type Family = (&'static str, &'static str);

const ROLE: Family = (
    "pgha_node_role",
    "Role the node's agent last published (primary, standby, stopped): 1 for its role, 0 for the others.",
);
const TIMELINE: Family = ("pgha_timeline", "Timeline of the node's instance.");
const POSITION: Family = (
    "pgha_wal_position_bytes",
    "WAL position (LSN) the node last published, in bytes.",
);
const LAG: Family = (
    "pgha_replication_lag_bytes",
    "Bytes of WAL the standby is behind its primary, as last published.",
);
const STREAMING: Family = (
    "pgha_wal_receiver_streaming",
    "1 when the standby's WAL receiver streams, 0 when it does not.",
);
const RECEIVER: Family = (
    "pgha_wal_receiver_info",
    "State of the standby's WAL receiver, in label status (PostgreSQL's word).",
);
const SYNC: Family = (
    "pgha_sync_state",
    "The standby's sync state as its primary sees it: 1 for its state, 0 for the others.",
);
const SCORE: Family = ("pgha_promotion_score", "The node's promotion score.");
const WOULD_PROMOTE: Family = (
    "pgha_would_be_promoted",
    "1 for the standby Pacemaker would promote now, 0 for the other nodes.",
);
/// The slots attribute's content, one sample per slot.
pub const SLOT_ACTIVE: Family = (
    "pgha_replication_slot_active",
    "1 when a standby uses the primary's replication slot, 0 when nobody does (the primary keeps WAL for it).",
);
/// The slot-wal attribute's content, one sample per slot.
pub const SLOT_RETAINED: Family = (
    "pgha_slot_retained_wal_bytes",
    "Bytes of WAL the primary's replication slot holds back (pg_current_wal_lsn minus its restart_lsn), as last \
     published: what a standby that is down makes the primary keep.",
);
/// The wal_status of each slot, one sample per slot (PostgreSQL 13+).
pub const SLOT_WAL_STATUS: Family = (
    "pgha_slot_wal_status_info",
    "PostgreSQL's wal_status of the primary's replication slot, in label status (reserved, extended, unreserved: \
     removed at the next checkpoint, lost).",
);
const BUILD: Family = (
    "pgha_base_backup_running",
    "1 while a base backup (bootstrap or rebuild) copies the primary to the node.",
);
const WARNINGS: Family = (
    "pgha_configuration_warnings",
    "Number of warnings pgha status gives about the cluster's configuration.",
);
const ANSWER: Family = (
    "pgha_monitor_last_answer",
    "OCF exit code of the last monitor on this node (0 running, 7 stopped, 8 primary, 190/191 degraded).",
);
const ANSWER_SINCE: Family = (
    "pgha_monitor_last_answer_change_timestamp_seconds",
    "When the monitor on this node started giving its last answer, in Unix seconds.",
);
const PROBE: Family = (
    "pgha_monitor_probe_duration_seconds",
    "How long the last monitor's health probe of PostgreSQL took on this node.",
);
const LAST_RUN: Family = (
    "pgha_monitor_last_run_timestamp_seconds",
    "When the last monitor ran on this node, in Unix seconds.",
);

/// The samples of one family, in the order written.
#[derive(Default)]
struct Samples {
    /// Label pairs after `resource`, and the value.
    rows: Vec<(Vec<(&'static str, String)>, String)>,
}

/// The exposition being written: families in the order first used.
struct Exposition<'a> {
    resource: &'a str,
    families: Vec<(Family, Samples)>,
}

impl<'a> Exposition<'a> {
    fn new(resource: &'a str) -> Self {
        Exposition {
            resource,
            families: Vec::new(),
        }
    }

    /// Adds a sample of `family` with `labels` (after `resource`).
    fn add(&mut self, family: Family, labels: Vec<(&'static str, String)>, value: impl ToString) {
        let i = match self.families.iter().position(|(f, _)| f.0 == family.0) {
            Some(i) => i,
            None => {
                self.families.push((family, Samples::default()));
                self.families.len() - 1
            }
        };
        self.families[i].1.rows.push((labels, value.to_string()));
    }

    /// Adds a sample of `family` for `node` with more labels.
    fn node(&mut self, family: Family, node: &str, more: Vec<(&'static str, String)>, value: impl ToString) {
        let mut labels = vec![("node", node.to_string())];
        labels.extend(more);
        self.add(family, labels, value);
    }

    fn render(&self) -> String {
        let mut out = String::new();
        for ((name, help), samples) in &self.families {
            out.push_str(&format!(
                "# HELP {name} {}\n# TYPE {name} gauge\n",
                escape_help(help)
            ));
            for (labels, value) in &samples.rows {
                let labels: Vec<String> = std::iter::once(("resource", self.resource.to_string()))
                    .chain(labels.iter().cloned())
                    .map(|(k, v)| format!("{k}=\"{}\"", escape_label(&v)))
                    .collect();
                out.push_str(&format!("{name}{{{}}} {value}\n", labels.join(",")));
            }
        }
        out
    }
}

/// A label value as the format requires: backslash, double quote and line
/// feed escaped (`\\`, `\"`, `\n`). Any other control character (an
/// ANSI sequence in a node name someone published) would reach the
/// terminal of an operator who reads the text with curl, and the format
/// has no escape for it: it is spelled as `pgha status` shows it
/// (`\u{1b}`, its backslash escaped), the rest is UTF-8 as it is.
fn escape_label(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {
                out.push('\\');
                out.push_str(&c.escape_unicode().to_string());
            }
            c => out.push(c),
        }
    }
    out
}

/// HELP text: backslash and line feed escaped.
fn escape_help(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\n', "\\n")
}

/// 1 or 0.
fn one_if(on: bool) -> u8 {
    u8::from(on)
}

/// The slots of a value `policy::slots::describe` wrote (`pgha_b, pgha_c
/// (inactive)`), each with whether it is in use.
fn described_slots(value: &str) -> Vec<(String, bool)> {
    value
        .split(", ")
        .map(str::trim)
        .filter(|s| !s.is_empty() && *s != NO_VALUE)
        .map(|s| match s.strip_suffix(" (inactive)") {
            Some(name) => (name.to_string(), false),
            None => (s.to_string(), true),
        })
        .collect()
}

/// The metrics of one node's attributes.
fn node_metrics(out: &mut Exposition, n: &NodeFacts, would_promote: Option<&str>) {
    let field = |a: Attr| n.fields.get(&a).map(String::as_str).filter(|v| *v != NO_VALUE);
    let role = field(Attr::Role).and_then(NodeRole::parse);
    if let Some(role) = role {
        for r in NodeRole::ALL {
            out.node(ROLE, n.node, vec![("role", r.to_string())], one_if(r == role));
        }
    }
    if let Some(tl) = field(Attr::Timeline).and_then(|t| t.parse::<u32>().ok()) {
        out.node(TIMELINE, n.node, vec![], tl);
    }
    if let Some(lsn) = field(Attr::Lsn).and_then(|l| l.parse::<Lsn>().ok()) {
        out.node(POSITION, n.node, vec![], lsn.0);
    }
    if let Some(lag) = field(Attr::Lag).and_then(|l| l.parse::<u64>().ok()) {
        out.node(LAG, n.node, vec![], lag);
    }
    if let Some(receiver) = field(Attr::Receiver) {
        out.node(STREAMING, n.node, vec![], one_if(receiver == "streaming"));
        out.node(RECEIVER, n.node, vec![("status", receiver.to_string())], 1);
    }
    if let Some(sync) = field(Attr::Sync).map(SyncState::parse) {
        for s in SyncState::NAMED {
            out.node(SYNC, n.node, vec![("state", s.to_string())], one_if(s == sync));
        }
        if let SyncState::Other(word) = &sync {
            out.node(SYNC, n.node, vec![("state", word.clone())], 1);
        }
    }
    if let Some(score) = n.score {
        out.node(SCORE, n.node, vec![], score);
    }
    out.node(
        WOULD_PROMOTE,
        n.node,
        vec![],
        one_if(would_promote == Some(n.node)),
    );
    if role == Some(NodeRole::Primary) {
        for (slot, active) in field(Attr::Slots).map(described_slots).unwrap_or_default() {
            out.node(SLOT_ACTIVE, n.node, vec![("slot", slot)], one_if(active));
        }
        let held = field(Attr::SlotWal).and_then(|v| v.parse::<SlotWalList>().ok());
        for slot in held.map(|list| list.0).unwrap_or_default() {
            if let Some(bytes) = slot.retained {
                out.node(SLOT_RETAINED, n.node, vec![("slot", slot.slot.clone())], bytes);
            }
            if let Some(status) = &slot.status {
                let labels = vec![("slot", slot.slot.clone()), ("status", status.to_string())];
                out.node(SLOT_WAL_STATUS, n.node, labels, 1);
            }
        }
    }
    if let Some(build) = n.fields.get(&Attr::Build) {
        out.node(BUILD, n.node, vec![], one_if(build != NO_VALUE));
    }
}

/// The metrics of this node's last monitor.
fn monitor_metrics(out: &mut Exposition, last: &LastMonitor) {
    if let Some((code, since)) = last.answer {
        out.node(ANSWER, &last.node, vec![], code);
        out.node(ANSWER_SINCE, &last.node, vec![], since);
    }
    if let Some((seconds, at)) = last.probe {
        out.node(PROBE, &last.node, vec![], seconds);
        out.node(LAST_RUN, &last.node, vec![], at);
    }
}

/// The exposition of resource `rsc`: every node's metrics, then this
/// node's last monitor (when known), then the count of configuration
/// warnings. Families with no sample are left out.
pub fn render(
    rsc: &str,
    nodes: &[NodeFacts],
    would_promote: Option<&str>,
    last: Option<&LastMonitor>,
    warnings: usize,
) -> String {
    let mut out = Exposition::new(rsc);
    for n in nodes {
        node_metrics(&mut out, n, would_promote);
    }
    if let Some(last) = last {
        monitor_metrics(&mut out, last);
    }
    out.add(WARNINGS, vec![], warnings);
    out.render()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::slots::describe;

    fn fields(pairs: &[(Attr, &str)]) -> BTreeMap<Attr, String> {
        pairs.iter().map(|(a, v)| (*a, v.to_string())).collect()
    }

    /// The lines of `text` that are samples of `name` (`name{` ...).
    fn samples<'t>(text: &'t str, name: &str) -> Vec<&'t str> {
        text.lines()
            .filter(|l| l.starts_with(&format!("{name}{{")))
            .collect()
    }

    #[test]
    fn a_primary_and_a_standby_as_metrics() {
        let primary = fields(&[
            (Attr::Role, "primary"),
            (Attr::Timeline, "3"),
            (Attr::Lsn, "1/2"),
            (Attr::Receiver, "-"),
            (Attr::Slots, "pgha_n2, pgha_n3 (inactive)"),
            (Attr::SlotWal, "pgha_n2=0 reserved, pgha_n3=5368709120 extended"),
            (Attr::Build, "-"),
        ]);
        let standby = fields(&[
            (Attr::Role, "standby"),
            (Attr::Timeline, "3"),
            (Attr::Lsn, "1/0"),
            (Attr::Lag, "2"),
            (Attr::Receiver, "streaming"),
            (Attr::Sync, "quorum"),
            (Attr::Slots, "pgha_old"),
            (Attr::SlotWal, "pgha_old=7 reserved"),
        ]);
        let nodes = [
            NodeFacts {
                node: "n1",
                fields: &primary,
                score: Some(1001),
            },
            NodeFacts {
                node: "n2",
                fields: &standby,
                score: Some(1000),
            },
        ];
        let last = LastMonitor {
            node: "n1".into(),
            answer: Some((8, 1_764_720_000)),
            probe: Some((0.0042, 1_764_720_010)),
        };
        let text = render("pgsqld", &nodes, Some("n2"), Some(&last), 1);
        assert_eq!(
            samples(&text, "pgha_node_role"),
            [
                "pgha_node_role{resource=\"pgsqld\",node=\"n1\",role=\"primary\"} 1",
                "pgha_node_role{resource=\"pgsqld\",node=\"n1\",role=\"standby\"} 0",
                "pgha_node_role{resource=\"pgsqld\",node=\"n1\",role=\"stopped\"} 0",
                "pgha_node_role{resource=\"pgsqld\",node=\"n2\",role=\"primary\"} 0",
                "pgha_node_role{resource=\"pgsqld\",node=\"n2\",role=\"standby\"} 1",
                "pgha_node_role{resource=\"pgsqld\",node=\"n2\",role=\"stopped\"} 0",
            ]
        );
        assert!(text.contains("pgha_wal_position_bytes{resource=\"pgsqld\",node=\"n1\"} 4294967298\n"));
        assert!(text.contains("pgha_replication_lag_bytes{resource=\"pgsqld\",node=\"n2\"} 2\n"));
        assert_eq!(
            samples(&text, "pgha_wal_receiver_streaming"),
            ["pgha_wal_receiver_streaming{resource=\"pgsqld\",node=\"n2\"} 1"],
            "a primary has no receiver"
        );
        assert!(text.contains("pgha_sync_state{resource=\"pgsqld\",node=\"n2\",state=\"quorum\"} 1\n"));
        assert!(text.contains("pgha_sync_state{resource=\"pgsqld\",node=\"n2\",state=\"sync\"} 0\n"));
        assert_eq!(
            samples(&text, "pgha_replication_slot_active"),
            [
                "pgha_replication_slot_active{resource=\"pgsqld\",node=\"n1\",slot=\"pgha_n2\"} 1",
                "pgha_replication_slot_active{resource=\"pgsqld\",node=\"n1\",slot=\"pgha_n3\"} 0",
            ],
            "the primary's slots only"
        );
        assert_eq!(
            samples(&text, "pgha_slot_retained_wal_bytes"),
            [
                "pgha_slot_retained_wal_bytes{resource=\"pgsqld\",node=\"n1\",slot=\"pgha_n2\"} 0",
                "pgha_slot_retained_wal_bytes{resource=\"pgsqld\",node=\"n1\",slot=\"pgha_n3\"} 5368709120",
            ],
            "the primary's slots only"
        );
        assert_eq!(
            samples(&text, "pgha_slot_wal_status_info"),
            [
                "pgha_slot_wal_status_info{resource=\"pgsqld\",node=\"n1\",slot=\"pgha_n2\",status=\"reserved\"} 1",
                "pgha_slot_wal_status_info{resource=\"pgsqld\",node=\"n1\",slot=\"pgha_n3\",status=\"extended\"} 1",
            ]
        );
        assert!(text.contains("pgha_would_be_promoted{resource=\"pgsqld\",node=\"n2\"} 1\n"));
        assert!(text.contains("pgha_would_be_promoted{resource=\"pgsqld\",node=\"n1\"} 0\n"));
        assert!(text.contains("pgha_promotion_score{resource=\"pgsqld\",node=\"n1\"} 1001\n"));
        assert!(text.contains("pgha_base_backup_running{resource=\"pgsqld\",node=\"n1\"} 0\n"));
        assert!(text.contains("pgha_monitor_last_answer{resource=\"pgsqld\",node=\"n1\"} 8\n"));
        assert!(text.contains(
            "pgha_monitor_last_answer_change_timestamp_seconds{resource=\"pgsqld\",node=\"n1\"} 1764720000\n"
        ));
        assert!(
            text.contains("pgha_monitor_probe_duration_seconds{resource=\"pgsqld\",node=\"n1\"} 0.0042\n")
        );
        assert!(text.contains(
            "pgha_monitor_last_run_timestamp_seconds{resource=\"pgsqld\",node=\"n1\"} 1764720010\n"
        ));
        assert!(
            text.ends_with("pgha_configuration_warnings{resource=\"pgsqld\"} 1\n"),
            "{text}"
        );
    }

    /// Each family once, HELP then TYPE gauge, its samples together right
    /// after: what the format requires of a family.
    #[test]
    fn every_family_has_its_help_and_type_before_all_its_samples() {
        let a = fields(&[(Attr::Role, "standby"), (Attr::Timeline, "1"), (Attr::Lag, "0")]);
        let b = fields(&[(Attr::Role, "primary"), (Attr::Timeline, "1")]);
        let nodes = [
            NodeFacts {
                node: "a",
                fields: &a,
                score: None,
            },
            NodeFacts {
                node: "b",
                fields: &b,
                score: None,
            },
        ];
        let text = render("r", &nodes, None, None, 0);
        let mut seen: Vec<String> = Vec::new();
        let mut current = String::new();
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let name = rest.split(' ').next().unwrap().to_string();
                assert!(!seen.contains(&name), "{name} twice:\n{text}");
                assert_eq!(lines[i + 1], format!("# TYPE {name} gauge"));
                seen.push(name.clone());
                current = name;
            } else if !line.starts_with("# TYPE ") {
                assert!(
                    line.starts_with(&format!("{current}{{")),
                    "{line} outside its family:\n{text}"
                );
            }
        }
        assert!(
            !text.contains("pgha_monitor"),
            "no memory, no monitor metrics:\n{text}"
        );
        assert!(!text.contains("pgha_replication_lag_bytes{resource=\"r\",node=\"b\""));
    }

    /// Node names and states come from other nodes' attributes: whatever
    /// they hold stays inside its label, and a value that is no number is
    /// left out rather than reported as 0.
    #[test]
    fn values_from_other_nodes_are_escaped_or_left_out() {
        let odd = fields(&[
            (Attr::Role, "standby"),
            (Attr::Timeline, "x"),
            (Attr::Lag, "-3"),
            (Attr::Receiver, "str\"e\\am\ning"),
            (Attr::Sync, "odd"),
        ]);
        let nodes = [NodeFacts {
            node: "n\"1\\\n",
            fields: &odd,
            score: None,
        }];
        let text = render("r", &nodes, None, None, 0);
        assert!(
            text.contains(
                "pgha_wal_receiver_info{resource=\"r\",node=\"n\\\"1\\\\\\n\",status=\"str\\\"e\\\\am\\ning\"} 1\n"
            ),
            "{text}"
        );
        assert!(text.contains("pgha_wal_receiver_streaming{resource=\"r\",node=\"n\\\"1\\\\\\n\"} 0\n"));
        assert!(text.contains("state=\"odd\"} 1\n"), "{text}");
        assert!(!text.contains("pgha_timeline"), "{text}");
        assert!(!text.contains("pgha_replication_lag_bytes"), "{text}");
        assert!(
            text.lines().all(|l| l.starts_with('#') || l.starts_with("pgha_")),
            "{text}"
        );
        assert_eq!(escape_help("a\\b\nc"), "a\\\\b\\nc");
        // Issue 23: the format escapes only three characters; an ANSI
        // sequence in a node name would reach the terminal of whoever
        // reads the text.
        assert_eq!(
            escape_label("n\u{1b}]0;x\u{7}\r"),
            "n\\\\u{1b}]0;x\\\\u{7}\\\\u{d}"
        );
    }

    /// The slots attribute is written by `describe`: read back, each slot
    /// keeps its name and whether it is in use.
    #[test]
    fn slots_read_back_as_describe_wrote_them() {
        let mut slots = vec![
            ("pgha_b".to_string(), false),
            ("pgha_a".to_string(), true),
            ("pgha_c".to_string(), true),
        ];
        let value = describe(&mut slots);
        assert_eq!(described_slots(&value), slots);
        assert_eq!(described_slots(&describe(&mut [])), []);
    }

    #[test]
    fn the_last_monitor_is_read_from_the_memory() {
        let mut memory = RunState::load("../not-saved");
        assert_eq!(LastMonitor::from_memory(&memory, "n1", 1000), None);
        memory.set(&Key::MonitorAnswer, "8");
        memory.set(&Key::MonitorProbeUs, "1500");
        memory.backdate(&Key::MonitorAnswer, 3600);
        let now = unix_seconds();
        let last = LastMonitor::from_memory(&memory, "n1", now).unwrap();
        assert_eq!(last.node, "n1");
        let (code, since) = last.answer.unwrap();
        assert_eq!(code, 8);
        assert!(since <= now - 3600 && since + 5 > now - 3600, "{since} vs {now}");
        let (seconds, at) = last.probe.unwrap();
        assert_eq!(seconds, 0.0015);
        assert!(at + 5 > now, "{at} vs {now}");
        memory.set(&Key::MonitorAnswer, "not a code");
        memory.remove(&Key::MonitorProbeUs);
        assert_eq!(LastMonitor::from_memory(&memory, "n1", now), None);
    }
}
