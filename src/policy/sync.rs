//! Synchronous replication as a rule: the `synchronous_standby_names` a
//! primary should have for the mode, the standbys that stream and those it
//! knew.

use std::collections::BTreeMap;

use crate::params::ReplicationMode;
use crate::pg::names::quote_standby_name;
use crate::pg::replication::Replica;
use crate::vocab::{Lsn, SyncStandbyNames, SyncState, WalSenderState};

/// The `synchronous_standby_names` a primary should have, or None when the
/// agent does not manage it (async). `streaming` and `known` hold cluster
/// members only; `members` are the other nodes of the cluster (empty when
/// no membership is known).
///
/// - sync: `ANY n (streaming standbys)`, n capped by how many stream; when
///   none streams, `ANY n (known standbys)` while `within_grace` (no standby
///   has streamed for less than `sync_grace`: right after a promotion, or
///   after the last synchronous standby went away), so that no commit is
///   acknowledged that only this node has while another could still take
///   it; empty (asynchronous) once the grace is over or when none is known;
/// - strict-sync: `ANY n (streaming and formerly seen standbys)`; before any
///   was seen, `ANY n (the other members)`, and `ANY n (*)` only when no
///   membership is known at all: never empty, so a commit no standby
///   confirmed is never acknowledged.
pub fn synchronous_names(
    mode: ReplicationMode,
    n: u32,
    streaming: &[String],
    known: &[String],
    members: &[String],
    within_grace: bool,
) -> Option<String> {
    fn list<'a>(names: impl Iterator<Item = &'a String>) -> Vec<&'a str> {
        let mut names: Vec<&str> = names.map(String::as_str).filter(|n| !n.is_empty()).collect();
        names.sort_unstable();
        names.dedup();
        names
    }
    let quoted = |names: &[&str]| {
        names
            .iter()
            .map(|n| quote_standby_name(n))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match mode {
        ReplicationMode::Async => None,
        ReplicationMode::Sync => {
            let mut names = list(streaming.iter());
            if names.is_empty() && within_grace {
                names = list(known.iter());
            }
            if names.is_empty() {
                return Some(String::new());
            }
            let k = (n as usize).min(names.len());
            Some(format!("ANY {k} ({})", quoted(&names)))
        }
        ReplicationMode::StrictSync => {
            let mut names = list(streaming.iter().chain(known));
            if names.is_empty() {
                names = list(members.iter());
            }
            if names.is_empty() {
                return Some(format!("ANY {n} (*)"));
            }
            Some(format!("ANY {n} ({})", quoted(&names)))
        }
    }
}

/// Whether `sync_grace` still runs: no standby has streamed for
/// `none_streaming_for` seconds (None: one streams now).
pub fn within_grace(none_streaming_for: Option<u64>, grace_s: u64) -> bool {
    none_streaming_for.is_none_or(|age| age < grace_s)
}

/// How long a primary in a sync mode may wait for its standbys before its
/// monitor reports it: they reconnect within a second or two of a
/// promotion (`wal_retrieve_retry_interval=1s`, the VIP move), and after a
/// full-cluster restart they are still starting when the new primary's
/// first monitor runs. A DEGRADED_PROMOTED then would stay in crm_mon's
/// "Failed Resource Actions" for a wait that was normal (issue 12).
pub const RECONNECT_ALLOWANCE_S: u64 = 10;

/// Why a primary in a sync mode is at risk, for its monitor's
/// DEGRADED_PROMOTED (None: a synchronous standby streams, or async, or the
/// commits have waited for less than [`RECONNECT_ALLOWANCE_S`]).
/// `none_streaming_for`: seconds since no standby streams (None: one does).
pub fn degraded_reason(
    mode: ReplicationMode,
    wanted: Option<&str>,
    streaming: usize,
    none_streaming_for: Option<u64>,
    grace_s: u64,
) -> Option<String> {
    if streaming > 0 {
        return None;
    }
    let still_reconnecting = none_streaming_for.is_none_or(|age| age < RECONNECT_ALLOWANCE_S);
    match (mode, wanted) {
        (ReplicationMode::Async, _) | (_, None) => None,
        // Commits are acknowledged by this node alone: at once.
        (ReplicationMode::Sync, Some("")) => Some(
            "replication_mode=sync: no standby streams: commits are acknowledged without one".to_string(),
        ),
        // Commits wait: nothing is lost, the standbys are expected back.
        (_, Some(_)) if still_reconnecting => None,
        (ReplicationMode::Sync, Some(_)) => Some(format!(
            "replication_mode=sync: no standby streams: commits wait for one, at most sync_grace={grace_s}s"
        )),
        (ReplicationMode::StrictSync, Some(_)) => {
            Some("replication_mode=strict-sync: no standby streams: commits wait for one".to_string())
        }
    }
}

/// The `synchronous_standby_names` to set, given the wanted one (None:
/// async) and whether the agent set the one in force: back in async mode,
/// only a value the agent itself had set is undone.
pub fn target(wanted: Option<&str>, managed_by_us: bool) -> Option<String> {
    match (wanted, managed_by_us) {
        (Some(w), _) => Some(w.to_string()),
        (None, true) => Some(String::new()),
        (None, false) => None,
    }
}

/// The names of the replicas that stream now.
pub fn streaming(replicas: &[Replica]) -> Vec<String> {
    replicas
        .iter()
        .filter(|r| r.state == WalSenderState::Streaming)
        .map(|r| r.name.clone())
        .collect()
}

/// The `sync` attribute of each standby this primary knows: its
/// `sync_state` (the better one while it has two walsenders, during a
/// reconnect), or "disconnected" for a standby seen before that no longer
/// connects, so that neither `pgha status` nor promote takes a stale
/// "quorum" for the truth.
pub fn standby_sync_states(replicas: &[Replica], known: &[String], me: &str) -> BTreeMap<String, SyncState> {
    let mut states: BTreeMap<String, SyncState> = known
        .iter()
        .map(|n| (n.clone(), SyncState::Disconnected))
        .collect();
    for r in replicas {
        let seen = r.sync_state.clone();
        // A walsender first seen with an unranked state (an empty one while
        // it starts) is published empty, as it always was.
        let entry = states
            .entry(r.name.clone())
            .or_insert_with(|| SyncState::Other(String::new()));
        if *entry == SyncState::Disconnected || seen.rank() > entry.rank() {
            *entry = seen;
        }
    }
    states.remove(me);
    states
}

/// The standbys that can confirm a commit under `in_force`: PostgreSQL
/// counts only walsenders in state `streaming` with a flush position
/// (`SyncRepGetCandidateStandbys`), so a listed standby that is down or
/// catching up confirms nothing. The list in effect is `in_force` cut to
/// them, when at least `num_sync` of them stream; with fewer, commits wait
/// and the list as written is kept (nothing new is acknowledged, and the
/// older acknowledgements may be anywhere in it). A `*` list is cut to the
/// streaming walsenders too. `replicas` are cluster members only.
pub fn effective_list(in_force: &SyncStandbyNames, replicas: &[Replica]) -> SyncStandbyNames {
    let SyncStandbyNames::List {
        method,
        num_sync,
        names: _,
    } = in_force
    else {
        return SyncStandbyNames::Empty;
    };
    let mut confirming: Vec<String> = replicas
        .iter()
        .filter(|r| r.state == WalSenderState::Streaming && r.flush.is_some())
        .filter(|r| in_force.lists(&r.name))
        .map(|r| r.name.clone())
        .collect();
    confirming.sort_unstable();
    confirming.dedup();
    if confirming.len() < *num_sync as usize {
        return in_force.clone();
    }
    SyncStandbyNames::List {
        method: *method,
        num_sync: *num_sync,
        names: confirming,
    }
}

/// At most this many replaced lists are kept (a flapping standby changes
/// the list at each monitor; the standbys confirm past a change within a
/// second under any load, so more would only mean none streams).
pub const PUBLISHED_LISTS_MAX: usize = 8;

/// What a primary publishes of its synchronous standbys
/// ([`crate::vocab::SyncListInForce`]) and remembers
/// ([`crate::vocab::Key::SyncPublished`]): the list in effect, and each list
/// it replaced with the WAL position at the replacement. A commit
/// acknowledged under a replaced list may be on none of the new list's
/// standbys, until `num_sync` of them confirmed past that position: the
/// old list is published beside the new one until then, and a promotion
/// passes the quorum gate of every list published.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncPublished {
    pub effective: Option<SyncStandbyNames>,
    pub replaced: Vec<(Lsn, SyncStandbyNames)>,
}

impl SyncPublished {
    /// The lists a promotion must pass: the one in effect first.
    pub fn lists(&self) -> Vec<SyncStandbyNames> {
        self.effective
            .iter()
            .chain(self.replaced.iter().map(|(_, l)| l))
            .cloned()
            .collect()
    }

    /// The memory's spelling: a JSON array, the list in effect first with
    /// no position, then `[LSN, list]` per replaced list.
    pub fn to_memory(&self) -> String {
        let mut entries = vec![serde_json::json!([
            "",
            self.effective.as_ref().map(|l| l.to_string())
        ])];
        for (lsn, list) in &self.replaced {
            entries.push(serde_json::json!([lsn.to_string(), list.to_string()]));
        }
        serde_json::Value::Array(entries).to_string()
    }

    /// Reads [`SyncPublished::to_memory`]; anything else is nothing
    /// remembered (the next monitor publishes the list in effect anew).
    pub fn from_memory(text: &str) -> SyncPublished {
        let parse = || -> Option<SyncPublished> {
            let entries: Vec<(String, Option<String>)> = serde_json::from_str(text).ok()?;
            let mut entries = entries.into_iter();
            let (_, effective) = entries.next()?;
            let effective = match effective {
                Some(l) => Some(l.parse().ok()?),
                None => None,
            };
            let replaced = entries
                .map(|(lsn, list)| Some((lsn.parse().ok()?, list?.parse().ok()?)))
                .collect::<Option<Vec<_>>>()?;
            Some(SyncPublished { effective, replaced })
        };
        parse().unwrap_or_default()
    }
}

/// Whether `num_sync` of the standbys of `list` confirmed (flushed) past
/// `lsn`: every commit acknowledged before is then on one of them.
fn confirmed_past(list: &SyncStandbyNames, lsn: Lsn, replicas: &[Replica]) -> bool {
    let SyncStandbyNames::List { num_sync, .. } = list else {
        return false;
    };
    let mut past: Vec<&str> = replicas
        .iter()
        .filter(|r| r.state == WalSenderState::Streaming && r.flush.is_some_and(|f| f >= lsn))
        .filter(|r| list.lists(&r.name))
        .map(|r| r.name.as_str())
        .collect();
    past.sort_unstable();
    past.dedup();
    past.len() >= *num_sync as usize
}

/// What the primary publishes at this monitor, given what it published
/// last (`before`), the list now in effect (`effective`, from
/// [`effective_list`], or the value about to be set when a change is
/// planned), its WAL position `current` and its walsenders. The list in
/// effect before, when another, joins the replaced ones at `current`
/// (later than the change itself: safe, it only waits longer); a replaced
/// list is dropped once the list in effect confirmed past its position,
/// or when it is the list in effect again. An empty list replaced is not
/// kept: commits under it waited for nobody, there is nothing to protect.
pub fn published_lists(
    before: &SyncPublished,
    effective: &SyncStandbyNames,
    current: Lsn,
    replicas: &[Replica],
) -> SyncPublished {
    let mut replaced = before.replaced.clone();
    if let Some(old) = before.effective.as_ref().filter(|old| *old != effective) {
        if *old != SyncStandbyNames::Empty {
            replaced.push((current, old.clone()));
        }
    }
    replaced.retain(|(lsn, list)| list != effective && !confirmed_past(effective, *lsn, replicas));
    // A list replaced twice waits for the later position, which covers both.
    let mut later: Vec<(Lsn, SyncStandbyNames)> = Vec::new();
    for (lsn, list) in replaced.into_iter().rev() {
        if !later.iter().any(|(_, l)| *l == list) {
            later.push((lsn, list));
        }
    }
    later.reverse();
    let mut replaced = later;
    if replaced.len() > PUBLISHED_LISTS_MAX {
        replaced.drain(..replaced.len() - PUBLISHED_LISTS_MAX);
    }
    SyncPublished {
        effective: Some(effective.clone()),
        replaced,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_quoted_for_synchronous_standby_names() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            synchronous_names(
                ReplicationMode::Sync,
                1,
                &s(&["node\"1", "it's", "Upper"]),
                &[],
                &[],
                true
            )
            .unwrap(),
            r#"ANY 1 ("Upper", "it's", "node""1")"#
        );
    }

    #[test]
    fn synchronous_names_follow_the_mode() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let none: &[String] = &[];
        assert_eq!(
            synchronous_names(ReplicationMode::Async, 1, &s(&["b"]), none, none, false),
            None
        );
        assert_eq!(
            synchronous_names(ReplicationMode::Sync, 2, &s(&["c", "b", "b"]), none, none, false).unwrap(),
            "ANY 2 (\"b\", \"c\")"
        );
        assert_eq!(
            synchronous_names(ReplicationMode::Sync, 2, &s(&["b"]), none, none, false).unwrap(),
            "ANY 1 (\"b\")"
        );
        assert_eq!(
            synchronous_names(ReplicationMode::Sync, 1, none, &s(&["b"]), &s(&["b"]), false).unwrap(),
            "",
            "sync degrades"
        );
        assert_eq!(
            synchronous_names(
                ReplicationMode::StrictSync,
                1,
                none,
                &s(&["b"]),
                &s(&["b", "c"]),
                false
            )
            .unwrap(),
            "ANY 1 (\"b\")",
            "strict keeps waiting for the standbys it knew"
        );
        assert_eq!(
            synchronous_names(ReplicationMode::StrictSync, 1, none, none, &s(&["c", "b"]), false).unwrap(),
            "ANY 1 (\"b\", \"c\")",
            "before any standby was seen, the other members"
        );
        assert_eq!(
            synchronous_names(ReplicationMode::StrictSync, 1, none, none, none, false).unwrap(),
            "ANY 1 (*)",
            "no membership known at all"
        );
    }

    fn replica(name: &str, sync_state: &str) -> Replica {
        Replica {
            name: name.into(),
            state: WalSenderState::Streaming,
            sync_state: SyncState::parse(sync_state),
            flush: None,
            lag: None,
            pid: None,
        }
    }

    #[test]
    fn a_known_standby_that_no_longer_connects_is_not_left_synchronous() {
        let replicas = [
            replica("b", "quorum"),
            replica("c", "async"),
            replica("c", "quorum"),
        ];
        let known = ["b".to_string(), "d".to_string(), "me".to_string()];
        let states = standby_sync_states(&replicas, &known, "me");
        let expected: BTreeMap<String, SyncState> = [
            ("b".to_string(), SyncState::Quorum),
            ("c".to_string(), SyncState::Quorum),
            ("d".to_string(), SyncState::Disconnected),
        ]
        .into();
        assert_eq!(states, expected);
    }

    #[test]
    fn async_mode_undoes_only_what_the_agent_set() {
        assert_eq!(
            target(Some("ANY 1 (\"b\")"), false).as_deref(),
            Some("ANY 1 (\"b\")")
        );
        assert_eq!(target(None, true).as_deref(), Some(""));
        assert_eq!(target(None, false), None);
    }

    #[test]
    fn sync_mode_waits_for_the_known_standbys_during_the_grace_only() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let none: &[String] = &[];
        let sync = |streaming: &[String], known: &[String], grace| {
            synchronous_names(ReplicationMode::Sync, 1, streaming, known, none, grace).unwrap()
        };
        // Right after a promotion: the expected followers, before one streams.
        assert_eq!(sync(none, &s(&["c", "b"]), true), "ANY 1 (\"b\", \"c\")");
        assert_eq!(sync(none, &s(&["b"]), false), "", "grace over: asynchronous");
        assert_eq!(sync(none, none, true), "", "nobody to wait for");
        assert_eq!(
            sync(&s(&["c"]), &s(&["b", "c"]), true),
            "ANY 1 (\"c\")",
            "the streaming ones"
        );

        assert!(within_grace(None, 30));
        assert!(within_grace(Some(29), 30));
        assert!(!within_grace(Some(30), 30));
        assert!(!within_grace(Some(0), 0), "sync_grace=0: degrade at once");

        use ReplicationMode::*;
        let waited = Some(RECONNECT_ALLOWANCE_S);
        assert_eq!(degraded_reason(Sync, Some("ANY 1 (\"b\")"), 1, None, 30), None);
        assert_eq!(degraded_reason(Async, None, 0, waited, 30), None);
        assert!(
            degraded_reason(Sync, Some(""), 0, Some(0), 30)
                .unwrap()
                .contains("without one"),
            "acknowledged alone: reported at once"
        );
        assert!(
            degraded_reason(Sync, Some("ANY 1 (\"b\")"), 0, waited, 30)
                .unwrap()
                .contains("commits wait")
        );
        assert!(
            degraded_reason(StrictSync, Some("ANY 1 (*)"), 0, waited, 30)
                .unwrap()
                .contains("strict-sync")
        );
        for reason in [
            degraded_reason(Sync, Some(""), 0, waited, 3600),
            degraded_reason(Sync, Some("x"), 0, waited, 1),
        ] {
            assert!(
                reason.unwrap().len() < 100,
                "room for the resource name under 128 bytes"
            );
        }
    }

    /// After a full-cluster restart the new primary's first monitor ran
    /// while its standbys were still starting, answered 191, and left a
    /// failed action on crm_mon for a normal wait (issue 12).
    #[test]
    fn a_primary_waiting_for_reconnecting_standbys_is_not_degraded_at_once() {
        use ReplicationMode::*;
        let names = Some("ANY 1 (\"b\")");
        for mode in [Sync, StrictSync] {
            assert_eq!(degraded_reason(mode, names, 0, Some(0), 30), None, "{mode:?}");
            assert_eq!(
                degraded_reason(mode, names, 0, Some(RECONNECT_ALLOWANCE_S - 1), 30),
                None,
                "{mode:?}"
            );
            assert!(
                degraded_reason(mode, names, 0, Some(RECONNECT_ALLOWANCE_S), 30).is_some(),
                "{mode:?}: a wait that lasts is reported"
            );
        }
    }

    fn walsender(name: &str, state: WalSenderState, flush: Option<&str>) -> Replica {
        Replica {
            name: name.into(),
            state,
            sync_state: SyncState::Quorum,
            flush: flush.map(|f| f.parse().unwrap()),
            lag: Some(0),
            pid: None,
        }
    }

    fn list(s: &str) -> SyncStandbyNames {
        s.parse().unwrap()
    }

    #[test]
    fn the_list_in_effect_names_only_the_standbys_that_can_confirm() {
        use WalSenderState::{Catchup, Streaming};
        let streaming = |n| walsender(n, Streaming, Some("0/5000000"));
        // (in force, walsenders, in effect)
        let table: Vec<(&str, Vec<Replica>, &str)> = vec![
            ("", vec![streaming("b")], ""),
            (
                "ANY 1 (b, c, d)",
                vec![streaming("b"), streaming("d")],
                "ANY 1 (b, d)",
            ),
            // Catching up, or no flush yet: confirms nothing.
            (
                "ANY 1 (b, c, d)",
                vec![
                    streaming("b"),
                    walsender("c", Catchup, Some("0/1")),
                    walsender("d", Streaming, None),
                ],
                "ANY 1 (b)",
            ),
            // Not a listed name: not a confirmer.
            ("ANY 1 (b)", vec![streaming("b"), streaming("x")], "ANY 1 (b)"),
            // Fewer stream than commits wait for: the list as written.
            ("ANY 2 (b, c, d)", vec![streaming("c")], "ANY 2 (b, c, d)"),
            ("FIRST 1 (c, b)", vec![streaming("b")], "FIRST 1 (b)"),
            ("ANY 1 (*)", vec![streaming("b"), streaming("c")], "ANY 1 (b, c)"),
            // ASCII case is ignored, as PostgreSQL does.
            ("ANY 1 (B, c)", vec![streaming("b")], "ANY 1 (b)"),
        ];
        for (in_force, replicas, want) in table {
            assert_eq!(
                effective_list(&list(in_force), &replicas),
                list(want),
                "{in_force}"
            );
        }
    }

    #[test]
    fn a_replaced_list_is_published_until_the_new_one_confirmed_past_the_change() {
        use WalSenderState::Streaming;
        let at = |n, f| walsender(n, Streaming, Some(f));
        let lsn = |s: &str| -> Lsn { s.parse().unwrap() };
        let old = list("ANY 1 (b, c)");
        let new = list("ANY 1 (b, d)");
        let before = SyncPublished {
            effective: Some(old.clone()),
            replaced: vec![],
        };
        // c stopped streaming at 0/5000000; b has not confirmed past it yet.
        let now = published_lists(
            &before,
            &new,
            lsn("0/5000000"),
            &[at("b", "0/4000000"), at("d", "0/3000000")],
        );
        assert_eq!(now.lists(), vec![new.clone(), old.clone()]);
        assert_eq!(now.replaced, vec![(lsn("0/5000000"), old.clone())]);
        // Still not past: kept, at the position of the change.
        let later = published_lists(&now, &new, lsn("0/6000000"), &[at("b", "0/4FFFFFF")]);
        assert_eq!(later, now);
        // d confirmed past it: one of the new list has every earlier commit.
        let confirmed = published_lists(&later, &new, lsn("0/6000000"), &[at("d", "0/5000000")]);
        assert_eq!(confirmed.lists(), vec![new.clone()]);
        // Back to the old list: nothing older to protect.
        let back = published_lists(&now, &old, lsn("0/6000000"), &[]);
        assert_eq!(back.lists(), vec![old.clone(), new.clone()]);
        // A replaced empty list is not kept; nothing published before: just the list.
        let from_empty = SyncPublished {
            effective: Some(SyncStandbyNames::Empty),
            replaced: vec![],
        };
        assert_eq!(
            published_lists(&from_empty, &new, lsn("0/1"), &[]).lists(),
            vec![new.clone()]
        );
        assert_eq!(
            published_lists(&SyncPublished::default(), &new, lsn("0/1"), &[]).lists(),
            vec![new.clone()]
        );
        // Under an empty list nothing confirms: the replaced ones stay.
        let degraded = published_lists(
            &now,
            &SyncStandbyNames::Empty,
            lsn("0/7000000"),
            &[at("b", "0/7000000")],
        );
        assert_eq!(
            degraded.lists(),
            vec![SyncStandbyNames::Empty, old.clone(), new.clone()]
        );
        // A list replaced twice waits for the later position.
        let twice = SyncPublished {
            effective: Some(old.clone()),
            replaced: vec![(lsn("0/1000000"), old.clone()), (lsn("0/2000000"), new.clone())],
        };
        let third = list("ANY 1 (e)");
        assert_eq!(
            published_lists(&twice, &third, lsn("0/3000000"), &[]).replaced,
            vec![(lsn("0/2000000"), new.clone()), (lsn("0/3000000"), old.clone())]
        );
    }

    #[test]
    fn the_published_lists_are_bounded_and_round_trip_through_the_memory() {
        let lsn = |n: u64| Lsn(n << 24);
        let mut published = SyncPublished::default();
        for i in 0..20u64 {
            let effective = list(&format!("ANY 1 (n{i})"));
            published = published_lists(&published, &effective, lsn(i + 1), &[]);
        }
        assert_eq!(published.replaced.len(), PUBLISHED_LISTS_MAX);
        assert_eq!(published.replaced.last().unwrap().1, list("ANY 1 (n18)"));
        assert_eq!(SyncPublished::from_memory(&published.to_memory()), published);
        for junk in [
            "",
            "[]",
            "{}",
            "[[\"\", \"ANY 0 (x)\"]]",
            "[[\"\", null], [\"zz\", \"a\"]]",
        ] {
            assert_eq!(
                SyncPublished::from_memory(junk),
                SyncPublished::default(),
                "{junk}"
            );
        }
        assert_eq!(
            SyncPublished::from_memory("[[\"\", null]]"),
            SyncPublished {
                effective: None,
                replaced: vec![]
            }
        );
    }
}
