//! The cluster's members as the upkeep sees them: Pacemaker's answer
//! ([`node::cluster_nodes`]), cached in the agent's memory so that a steady
//! monitor asks at most once a minute, and the last membership remembered
//! when the controller cannot be asked. The cache is the gathering's own
//! bookkeeping: it records what was read, it decides nothing.

use crate::deadline::Deadline;
use crate::log_warn;
use crate::pcmk::node;
use crate::runstate::RunState;
use crate::vocab::Key;

/// Ask the controller at most this often.
const MEMBERS_MAX_AGE_S: u64 = 60;

/// The cluster's members, as well as this node can know them:
/// - `crm_node -l`, asked at most once a minute, while it answers;
/// - when the controller cannot be asked, the last membership remembered:
///   the newer of what `crm_node -l` last listed and what the last clone
///   notification listed ([`remember_notified_members`]);
/// - None when neither was ever seen (logged once): no replica may then be
///   taken for a cluster node.
///
/// Only members are standbys: a `pg_receivewal` or a backup tool in
/// `pg_stat_replication` gets no score, no attribute and no place in
/// `synchronous_standby_names`.
pub fn members(deadline: Deadline, memory: &mut RunState) -> Option<Vec<String>> {
    if memory
        .age(&Key::MembersAsked)
        .is_none_or(|a| a >= MEMBERS_MAX_AGE_S)
    {
        match node::cluster_nodes(deadline) {
            Some(nodes) => {
                memory.set(&Key::MembersCrmNode, &nodes.join(" "));
                memory.set(&Key::MembersAsked, "ok");
            }
            None => memory.set(&Key::MembersAsked, "failed"),
        }
    }
    let source = if memory.get(&Key::MembersAsked) == Some("ok") {
        Some(&Key::MembersCrmNode)
    } else {
        [&Key::MembersCrmNode, &Key::MembersNotify]
            .into_iter()
            .filter(|k| memory.get(k).is_some_and(|v| !v.trim().is_empty()))
            .min_by_key(|k| memory.age(k).unwrap_or(u64::MAX))
    };
    let nodes: Option<Vec<String>> = source
        .and_then(|k| memory.get(k))
        .map(|v| v.split_whitespace().map(str::to_string).collect())
        .filter(|n: &Vec<String>| !n.is_empty());
    match &nodes {
        Some(_) => memory.set_flag(&Key::MembersUnknown, false),
        None if !memory.flag(&Key::MembersUnknown) => {
            log_warn!(
                "cluster membership unknown (crm_node -l failed, no notification seen yet): \
                 no replica is taken for a standby"
            );
            memory.set_flag(&Key::MembersUnknown, true);
        }
        None => {}
    }
    nodes
}

/// Remembers the node list of a clone notification (`notify_all_uname`),
/// the membership used when the controller cannot be asked.
pub fn remember_notified_members(memory: &mut RunState, nodes: &[String]) {
    if !nodes.is_empty() {
        // Written even when unchanged: its age says how recent it is.
        memory.set(&Key::MembersNotify, &nodes.join(" "));
    }
}
