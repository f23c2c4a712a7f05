//! The words that cross a process or node boundary (conventions, habit 11).
//!
//! Each type here alone owns the spelling, the parse and (for attributes)
//! the visibility of one kind of string that another node, a later call of
//! the agent, `pgha status` or the lab scripts read back:
//!
//! - [`Attr`]: the node attributes `pgha-<rsc>-<field>` and the promotion
//!   score `master-<rsc>`, each public (`crm_mon -A`) or private (attrd);
//! - [`NodeRole`]: the value of `pgha-<rsc>-role`;
//! - [`SyncState`]: `pg_stat_replication.sync_state` as published in
//!   `pgha-<rsc>-sync`, with its ranking;
//! - [`Key`]: the keys of the agent's memory (`/run/pgha/<rsc>.state`, see
//!   [`crate::runstate`]), with the spelling of its flags.
//!
//! Election positions (`<timeline>:<LSN>`) are
//! `crate::policy::promotion::Position`, which has its own Display/FromStr.
//!
//! A typo in any of these is a silent wrong failover on another node: every
//! spelling below is pinned by a table in the tests, and every type
//! round-trips. Nothing here runs anything; every other module depends on
//! this one, and it on none.

use std::fmt;

/// Who sees an attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Visibility {
    /// Shown by `crm_mon -A` (written to the CIB status section).
    Public,
    /// Kept in pacemaker-attrd only (`attrd_updater --private`).
    Private,
}

/// A node attribute of one resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Attr {
    /// [`NodeRole`] of the instance on that node (public).
    Role,
    /// Its timeline (public).
    Timeline,
    /// Its WAL position (public).
    Lsn,
    /// Its WAL receiver's state, `-` on a primary (public).
    Receiver,
    /// Its replay lag in bytes (public).
    Lag,
    /// Its [`SyncState`], written by the primary (public).
    Sync,
    /// The replication slots the primary keeps (public).
    Slots,
    /// A base backup under way on that node, and its progress (public).
    Build,
    /// Its election position during a promotion (private).
    Election,
    /// A cleanly demoted primary's shutdown checkpoint (private).
    Shutdown,
    /// The promotion score, `master-<rsc>` (`crm_attribute --promotion`).
    Promotion,
}

impl Attr {
    pub const ALL: [Attr; 11] = [
        Attr::Role,
        Attr::Timeline,
        Attr::Lsn,
        Attr::Receiver,
        Attr::Lag,
        Attr::Sync,
        Attr::Slots,
        Attr::Build,
        Attr::Election,
        Attr::Shutdown,
        Attr::Promotion,
    ];

    /// What `pgha status` shows, in its column order.
    pub const STATUS: [Attr; 8] = [
        Attr::Role,
        Attr::Timeline,
        Attr::Lsn,
        Attr::Lag,
        Attr::Receiver,
        Attr::Sync,
        Attr::Slots,
        Attr::Build,
    ];

    /// The short name: the last part of `pgha-<rsc>-<field>` (also the
    /// memory key `attr.<field>` and the `pgha status` column); `master`
    /// for the promotion score.
    pub fn field(self) -> &'static str {
        match self {
            Attr::Role => "role",
            Attr::Timeline => "timeline",
            Attr::Lsn => "lsn",
            Attr::Receiver => "receiver",
            Attr::Lag => "lag",
            Attr::Sync => "sync",
            Attr::Slots => "slots",
            Attr::Build => "build",
            Attr::Election => "election",
            Attr::Shutdown => "shutdown",
            Attr::Promotion => "master",
        }
    }

    /// The attribute of short name `field`.
    pub fn from_field(field: &str) -> Option<Attr> {
        Attr::ALL.into_iter().find(|a| a.field() == field)
    }

    /// The attribute's name for resource `rsc`.
    pub fn name(self, rsc: &str) -> String {
        match self {
            Attr::Promotion => format!("master-{rsc}"),
            other => format!("pgha-{rsc}-{}", other.field()),
        }
    }

    /// The attribute of resource `rsc` called `name`. The agent only ever
    /// asks attrd for a name it spelled, so only the round-trip test reads
    /// one back.
    #[cfg(test)]
    pub fn parse(rsc: &str, name: &str) -> Option<Attr> {
        Attr::ALL.into_iter().find(|a| a.name(rsc) == name)
    }

    pub fn visibility(self) -> Visibility {
        match self {
            Attr::Election | Attr::Shutdown => Visibility::Private,
            _ => Visibility::Public,
        }
    }
}

/// The value of an attribute that has none on this node (`receiver` on a
/// primary, `lag` and `receiver` once stopped, `slots` on a standby).
pub const NO_VALUE: &str = "-";

/// What a node's monitor says its instance is ([`Attr::Role`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeRole {
    Primary,
    Standby,
    /// Written by stop.
    Stopped,
}

impl NodeRole {
    pub const ALL: [NodeRole; 3] = [NodeRole::Primary, NodeRole::Standby, NodeRole::Stopped];

    pub fn as_str(self) -> &'static str {
        match self {
            NodeRole::Primary => "primary",
            NodeRole::Standby => "standby",
            NodeRole::Stopped => "stopped",
        }
    }

    /// None for anything else (an older agent, a hand-written value).
    pub fn parse(s: &str) -> Option<NodeRole> {
        NodeRole::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl fmt::Display for NodeRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A standby's `sync_state` as the primary sees it (`pg_stat_replication`),
/// or that it no longer connects ([`Attr::Sync`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SyncState {
    Sync,
    Quorum,
    Potential,
    Async,
    /// Known to the primary, but not in `pg_stat_replication` any more.
    Disconnected,
    /// Anything else PostgreSQL may say (an empty `sync_state` while a
    /// walsender starts), kept as it was spelled.
    Other(String),
}

impl SyncState {
    /// Every named state (not [`SyncState::Other`]).
    pub const NAMED: [SyncState; 5] = [
        SyncState::Sync,
        SyncState::Quorum,
        SyncState::Potential,
        SyncState::Async,
        SyncState::Disconnected,
    ];

    pub fn as_str(&self) -> &str {
        match self {
            SyncState::Sync => "sync",
            SyncState::Quorum => "quorum",
            SyncState::Potential => "potential",
            SyncState::Async => "async",
            SyncState::Disconnected => "disconnected",
            SyncState::Other(s) => s,
        }
    }

    pub fn parse(s: &str) -> SyncState {
        SyncState::NAMED
            .into_iter()
            .find(|n| n.as_str() == s)
            .unwrap_or_else(|| SyncState::Other(s.to_string()))
    }

    /// A standby that confirms commits (synchronous or in the quorum).
    pub fn is_synchronous(&self) -> bool {
        matches!(self, SyncState::Sync | SyncState::Quorum)
    }

    /// Which of two walsenders of one standby tells its state: the higher.
    pub fn rank(&self) -> u8 {
        match self {
            SyncState::Sync | SyncState::Quorum => 3,
            SyncState::Potential => 2,
            SyncState::Async => 1,
            SyncState::Disconnected | SyncState::Other(_) => 0,
        }
    }
}

impl fmt::Display for SyncState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A key of the agent's memory ([`crate::runstate::RunState`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Key {
    /// The value last written to attribute `attr` of `node` (None: here):
    /// `attr.<field>` or `attr.<field>@<node>`.
    Attr(Attr, Option<String>),
    /// The promotion score last written for `node` (None: here, `_self`).
    Score(Option<String>),
    /// Flag: this standby is missing from `pg_stat_replication` (since the
    /// key's age), within the primary's grace period.
    Missing(String),
    /// Flag: a standby this primary has seen (strict-sync waits for it).
    Standby(String),
    /// "gone" while the node of this slot has left the cluster.
    SlotGone(String),
    /// When a standby last looked for a promotable node.
    BootstrapChecked,
    /// Flag: this instance was a primary when it last started.
    BootstrapPreferred,
    /// Flag: demote made this primary a standby where it stood, and no
    /// start has compared it with a primary since. A primary cut off from
    /// the others is demoted alone: its shutdown checkpoint is WAL the next
    /// primary never received, so it cannot follow as it is (issue 15's
    /// Debian 13 lab: stuck in "startup" after the network came back).
    DemotedPrimary,
    /// Flag: this standby's WAL receiver does not stream (since the age).
    ReceiverDown,
    /// Why the monitor found that this standby cannot follow the primary
    /// ("" once it streams again): the next start rebuilds it when
    /// `rebuild` is on.
    RebuildNeeded,
    /// When the primary last looked for another primary.
    SplitbrainChecked,
    /// The other primary it found ("" for none).
    SplitbrainOther,
    /// Flag: `synchronous_standby_names` is the agent's doing.
    SyncManaged,
    /// Flag: no standby streams to this primary (since the age: how long
    /// `sync_grace` has run).
    SyncNoneStreaming,
    /// pg_control's modification time when a stop of ours killed the server.
    StopForced,
    /// The nodes `crm_node -l` last listed, space-separated.
    MembersCrmNode,
    /// The nodes of the last clone notification.
    MembersNotify,
    /// "ok" or "failed": whether `crm_node -l` answered, last time asked.
    MembersAsked,
    /// Flag: no membership is known (logged once).
    MembersUnknown,
}

/// The spelling of [`Key::Score`]'s `None`.
const SELF: &str = "_self";

impl Key {
    /// The keys that have no parameter, with their spelling.
    const FIXED: [(Key, &'static str); 14] = [
        (Key::BootstrapChecked, "bootstrap.checked"),
        (Key::BootstrapPreferred, "bootstrap.preferred"),
        (Key::DemotedPrimary, "demoted.primary"),
        (Key::ReceiverDown, "receiver.down"),
        (Key::RebuildNeeded, "rebuild.needed"),
        (Key::SplitbrainChecked, "splitbrain.checked"),
        (Key::SplitbrainOther, "splitbrain.other"),
        (Key::SyncManaged, "sync.managed"),
        (Key::SyncNoneStreaming, "sync.none_streaming"),
        (Key::StopForced, "stop.forced"),
        (Key::MembersCrmNode, "members.crm_node"),
        (Key::MembersNotify, "members.notify"),
        (Key::MembersAsked, "members.asked"),
        (Key::MembersUnknown, "members.unknown"),
    ];

    /// Parses a key as [`Display`](fmt::Display) spells it; None for a key
    /// this version does not know (written by an older one).
    pub fn parse(s: &str) -> Option<Key> {
        if let Some((fixed, _)) = Key::FIXED.iter().find(|(_, spelling)| *spelling == s) {
            return Some(fixed.clone());
        }
        let (prefix, rest) = s.split_once('.')?;
        let node = || (!rest.is_empty()).then(|| rest.to_string());
        match prefix {
            "attr" => {
                let (field, node) = match rest.split_once('@') {
                    Some((field, node)) => (field, Some(node.to_string())),
                    None => (rest, None),
                };
                Some(Key::Attr(Attr::from_field(field)?, node))
            }
            "score" if rest == SELF => Some(Key::Score(None)),
            "score" => Some(Key::Score(Some(node()?))),
            "missing" => node().map(Key::Missing),
            "standby" => node().map(Key::Standby),
            "slotgone" => node().map(Key::SlotGone),
            _ => None,
        }
    }

    /// Membership is what the node learnt of the cluster, not bookkeeping
    /// of its role: a role change keeps it.
    pub fn is_membership(&self) -> bool {
        matches!(
            self,
            Key::MembersCrmNode | Key::MembersNotify | Key::MembersAsked | Key::MembersUnknown
        )
    }

    /// The value of a flag key, on or off. Off is "0" for the keys that
    /// have always been written that way, "" for the others.
    pub fn flag(&self, on: bool) -> &'static str {
        match (self, on) {
            (_, true) => "1",
            (Key::BootstrapPreferred | Key::SyncManaged, false) => "0",
            (_, false) => "",
        }
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Attr(attr, None) => write!(f, "attr.{}", attr.field()),
            Key::Attr(attr, Some(node)) => write!(f, "attr.{}@{node}", attr.field()),
            Key::Score(node) => write!(f, "score.{}", node.as_deref().unwrap_or(SELF)),
            Key::Missing(node) => write!(f, "missing.{node}"),
            Key::Standby(node) => write!(f, "standby.{node}"),
            Key::SlotGone(slot) => write!(f, "slotgone.{slot}"),
            fixed => {
                let (_, spelling) = Key::FIXED
                    .iter()
                    .find(|(k, _)| k == fixed)
                    .expect("every key without a parameter is in FIXED");
                f.write_str(spelling)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_names_are_spelled_as_ever() {
        let table: &[(Attr, &str, Visibility)] = &[
            (Attr::Role, "pgha-pgsqld-role", Visibility::Public),
            (Attr::Timeline, "pgha-pgsqld-timeline", Visibility::Public),
            (Attr::Lsn, "pgha-pgsqld-lsn", Visibility::Public),
            (Attr::Receiver, "pgha-pgsqld-receiver", Visibility::Public),
            (Attr::Lag, "pgha-pgsqld-lag", Visibility::Public),
            (Attr::Sync, "pgha-pgsqld-sync", Visibility::Public),
            (Attr::Slots, "pgha-pgsqld-slots", Visibility::Public),
            (Attr::Build, "pgha-pgsqld-build", Visibility::Public),
            (Attr::Election, "pgha-pgsqld-election", Visibility::Private),
            (Attr::Shutdown, "pgha-pgsqld-shutdown", Visibility::Private),
            (Attr::Promotion, "master-pgsqld", Visibility::Public),
        ];
        assert_eq!(table.len(), Attr::ALL.len(), "every attribute is in the table");
        for (attr, name, visibility) in table {
            assert_eq!(attr.name("pgsqld"), *name);
            assert_eq!(attr.visibility(), *visibility, "{name}");
        }
        let status: Vec<&str> = Attr::STATUS.iter().map(|a| a.field()).collect();
        assert_eq!(
            status,
            [
                "role", "timeline", "lsn", "lag", "receiver", "sync", "slots", "build"
            ]
        );
    }

    #[test]
    fn attribute_names_round_trip() {
        for attr in Attr::ALL {
            assert_eq!(Attr::parse("pgsqld", &attr.name("pgsqld")), Some(attr));
            assert_eq!(Attr::parse("other", &attr.name("pgsqld")), None);
            assert_eq!(Attr::from_field(attr.field()), Some(attr));
        }
        assert_eq!(Attr::parse("pgsqld", "pgha-pgsqld-rol"), None);
    }

    #[test]
    fn roles_are_spelled_as_ever_and_round_trip() {
        let table = [
            (NodeRole::Primary, "primary"),
            (NodeRole::Standby, "standby"),
            (NodeRole::Stopped, "stopped"),
        ];
        assert_eq!(table.len(), NodeRole::ALL.len());
        for (role, spelling) in table {
            assert_eq!(role.as_str(), spelling);
            assert_eq!(role.to_string(), spelling);
            assert_eq!(NodeRole::parse(spelling), Some(role));
        }
        assert_eq!(NodeRole::parse("Primary"), None);
        assert_eq!(NodeRole::parse("master"), None);
    }

    #[test]
    fn sync_states_are_spelled_as_ever_ranked_and_round_trip() {
        // (state, spelling, synchronous, rank)
        let table = [
            (SyncState::Sync, "sync", true, 3),
            (SyncState::Quorum, "quorum", true, 3),
            (SyncState::Potential, "potential", false, 2),
            (SyncState::Async, "async", false, 1),
            (SyncState::Disconnected, "disconnected", false, 0),
            (SyncState::Other(String::new()), "", false, 0),
            (SyncState::Other("Sync".into()), "Sync", false, 0),
        ];
        for (state, spelling, synchronous, rank) in table {
            assert_eq!(state.as_str(), spelling);
            assert_eq!(SyncState::parse(spelling), state);
            assert_eq!(state.is_synchronous(), synchronous, "{spelling:?}");
            assert_eq!(state.rank(), rank, "{spelling:?}");
        }
        for state in SyncState::NAMED {
            assert_eq!(SyncState::parse(&state.to_string()), state);
        }
    }

    #[test]
    fn memory_keys_are_spelled_as_ever_and_round_trip() {
        let n = |s: &str| Some(s.to_string());
        let table: Vec<(Key, &str)> = vec![
            (Key::Attr(Attr::Role, None), "attr.role"),
            (Key::Attr(Attr::Sync, n("node-b")), "attr.sync@node-b"),
            (Key::Attr(Attr::Sync, n("a@b")), "attr.sync@a@b"),
            (Key::Score(None), "score._self"),
            (Key::Score(n("node-b")), "score.node-b"),
            (Key::Missing("node-b".into()), "missing.node-b"),
            (Key::Standby("node.b".into()), "standby.node.b"),
            (Key::SlotGone("pgha_node_b".into()), "slotgone.pgha_node_b"),
        ];
        // The keys without a parameter, pinned as one line: a key renamed
        // in FIXED would make an upgraded agent forget what it remembered.
        let fixed: Vec<String> = Key::FIXED.iter().map(|(k, _)| k.to_string()).collect();
        assert_eq!(
            fixed.join(" "),
            "bootstrap.checked bootstrap.preferred demoted.primary receiver.down rebuild.needed splitbrain.checked splitbrain.other \
             sync.managed sync.none_streaming stop.forced members.crm_node members.notify members.asked members.unknown"
        );
        let table: Vec<(Key, &str)> = table
            .into_iter()
            .chain(Key::FIXED.iter().map(|(k, s)| (k.clone(), *s)))
            .collect();
        for (key, spelling) in &table {
            assert_eq!(key.to_string(), *spelling);
            assert_eq!(Key::parse(spelling).as_ref(), Some(key), "{spelling}");
        }
        for attr in Attr::ALL {
            let key = Key::Attr(attr, None);
            assert_eq!(Key::parse(&key.to_string()), Some(key));
        }
        for unknown in ["score.", "standby.", "attr.bogus", "nothing", "receiver.up"] {
            assert_eq!(Key::parse(unknown), None, "{unknown}");
        }
        let members: Vec<&str> = table
            .iter()
            .filter(|(k, _)| k.is_membership())
            .map(|(_, s)| *s)
            .collect();
        assert_eq!(
            members,
            [
                "members.crm_node",
                "members.notify",
                "members.asked",
                "members.unknown"
            ]
        );
    }

    #[test]
    fn flags_are_spelled_as_ever() {
        let table = [
            (Key::ReceiverDown, "1", ""),
            (Key::Missing("n".into()), "1", ""),
            (Key::MembersUnknown, "1", ""),
            (Key::BootstrapPreferred, "1", "0"),
            (Key::SyncManaged, "1", "0"),
        ];
        for (key, on, off) in table {
            assert_eq!((key.flag(true), key.flag(false)), (on, off), "{key}");
        }
    }
}
