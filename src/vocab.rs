//! The words that cross a process or node boundary (conventions, habit 11).
//!
//! Each type here alone owns the spelling, the parse and (for attributes)
//! the visibility of one kind of string that another node, a later call of
//! the agent, `pgha status` or the lab scripts read back, or that
//! PostgreSQL or Pacemaker hand to the agent:
//!
//! - [`Attr`]: the node attributes `pgha-<rsc>-<field>` and the promotion
//!   score `master-<rsc>`, each public (`crm_mon -A`) or private (attrd);
//! - [`NodeRole`]: the value of `pgha-<rsc>-role`;
//! - [`SyncState`]: `pg_stat_replication.sync_state` as published in
//!   `pgha-<rsc>-sync`, with its ranking;
//! - [`WalSenderState`]: a walsender's `pg_stat_replication.state`;
//! - [`ReceiverStatus`]: `pg_stat_wal_receiver.status`, published in
//!   `pgha-<rsc>-receiver`;
//! - [`Lsn`] and [`Position`]: a WAL location (`X/Y`, `pgha-<rsc>-lsn`) and
//!   an election position (`<timeline>:<LSN>`, `pgha-<rsc>-election` and
//!   `pgha-<rsc>-shutdown`);
//! - [`Key`]: the keys of the agent's memory (`/run/pgha/<rsc>.state`, and
//!   `/var/lib/pgha/<rsc>.state` for the [durable](Key::is_durable) ones, see
//!   [`crate::runstate`]), with the spelling of its flags ([`Key::flag`]);
//! - [`parse_bool`]: the boolean spellings of OCF parameters and of
//!   Pacemaker's options;
//! - [`SyncStandbyNames`]: a value of `synchronous_standby_names` in
//!   PostgreSQL's own grammar, as a primary publishes the list in force;
//! - [`RoundId`] and [`RoundPosition`]: an election position tagged with
//!   the round it was published for (`<timeline>:<LSN>@<round>`).
//!
//! A typo in any of these is a silent wrong failover on another node: every
//! spelling below is pinned by a table in the tests, and every type
//! round-trips. Nothing here runs anything; every other module depends on
//! this one, and it on none.

use std::fmt;
use std::str::FromStr;

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
    /// The WAL each of those slots retains, with PostgreSQL's `wal_status`
    /// ([`SlotWalList`], public).
    SlotWal,
    /// A base backup under way on that node, and its progress (public).
    Build,
    /// Its election position during a promotion (private).
    Election,
    /// A cleanly demoted primary's shutdown checkpoint (private).
    Shutdown,
    /// The promotion score, `master-<rsc>` (`crm_attribute --promotion`).
    Promotion,
    /// The `synchronous_standby_names` in force at the primary, written by
    /// the primary on every member's node so that it outlives the primary
    /// ([`SyncListInForce`], public).
    SyncList,
    /// Why this standby may not be promoted now: the quorum gate's reason
    /// while it waits (public, shown by `crm_mon -A` and `pgha status`).
    Gate,
    /// The timeline history of a primary's timeline ([`History`]), written
    /// by that primary at its promotion on every member's node, so that it
    /// outlives the primary: a later promotion must not make a timeline of
    /// the same number (public).
    History,
    /// Whether this standby may serve reads now: [`READABLE`] while its
    /// receiver streams and its replay is within the lag bound, else
    /// [`NOT_READABLE`] (primary and stopped too); written only when it
    /// changes, for the location rule of a read-only VIP (public).
    Readable,
    /// The history of the timeline a standby's WAL is on ([`History`]),
    /// beside its [`Attr::Timeline`] and [`Attr::Lsn`], written by its
    /// monitor while no primary streams to it, [`NO_VALUE`] otherwise: the
    /// bootstrap compares positions by history, not timeline number
    /// (private: for the agents, as the election's positions are).
    WalHistory,
}

/// The value of [`Attr::Readable`] on a standby that may serve reads.
pub const READABLE: &str = "1";
/// The value of [`Attr::Readable`] everywhere else.
pub const NOT_READABLE: &str = "0";

impl Attr {
    pub const ALL: [Attr; 17] = [
        Attr::Role,
        Attr::Timeline,
        Attr::Lsn,
        Attr::Receiver,
        Attr::Lag,
        Attr::Sync,
        Attr::Slots,
        Attr::SlotWal,
        Attr::Build,
        Attr::Election,
        Attr::Shutdown,
        Attr::Promotion,
        Attr::SyncList,
        Attr::Gate,
        Attr::History,
        Attr::Readable,
        Attr::WalHistory,
    ];

    /// What `pgha status` shows, in its column order (the JSON keys'
    /// order: a new one goes last, so that scripts keep their order).
    pub const STATUS: [Attr; 10] = [
        Attr::Role,
        Attr::Timeline,
        Attr::Lsn,
        Attr::Lag,
        Attr::Receiver,
        Attr::Sync,
        Attr::Slots,
        Attr::Build,
        Attr::SlotWal,
        Attr::Readable,
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
            Attr::SlotWal => "slot-wal",
            Attr::Build => "build",
            Attr::Election => "election",
            Attr::Shutdown => "shutdown",
            Attr::Promotion => "master",
            Attr::SyncList => "sync-list",
            Attr::Gate => "gate",
            Attr::History => "history",
            Attr::Readable => "readable",
            Attr::WalHistory => "wal-history",
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
            Attr::Election | Attr::Shutdown | Attr::WalHistory => Visibility::Private,
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

/// A node attribute the operator sets to give a node a role, permanent
/// (`crm_attribute --node <node> --name pgha-<rsc>-<field> --update <value>
/// --lifetime forever`: the CIB's nodes section, read with the members).
/// The agent never writes one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoleAttr {
    /// `true`: never promote this node. The location rule that makes
    /// Pacemaker refuse it tests this very attribute, so that the agent and
    /// the scheduler cannot disagree about which node it is.
    NoPromote,
    /// `true`: never list this node in `synchronous_standby_names`.
    NoSync,
    /// An integer, 0 by default: among equally advanced candidates, the
    /// higher is preferred.
    Priority,
}

impl RoleAttr {
    pub const ALL: [RoleAttr; 3] = [RoleAttr::NoPromote, RoleAttr::NoSync, RoleAttr::Priority];

    pub fn field(self) -> &'static str {
        match self {
            RoleAttr::NoPromote => "nopromote",
            RoleAttr::NoSync => "nosync",
            RoleAttr::Priority => "priority",
        }
    }

    /// The attribute's name for resource `rsc`.
    pub fn name(self, rsc: &str) -> String {
        format!("pgha-{rsc}-{}", self.field())
    }
}

/// The value that turns a role flag on: exactly what the documented
/// location rule compares with (`eq true`), in any case, as Pacemaker's
/// string comparison does (`strcasecmp`, blanks kept); anything else is
/// off, so that the agent never bars a node that Pacemaker would promote,
/// nor the reverse.
pub const ROLE_ON: &str = "true";

/// What the operator's [`RoleAttr`]s say of one node.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RoleFlags {
    pub no_promote: bool,
    pub no_sync: bool,
    pub priority: i64,
}

impl RoleFlags {
    /// The flags of resource `rsc` among a node's permanent attributes
    /// (name -> value); a priority that is not an integer counts as 0.
    pub fn from_attributes<'a>(
        rsc: &str,
        attributes: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> RoleFlags {
        let mut flags = RoleFlags::default();
        for (name, value) in attributes {
            let on = value.eq_ignore_ascii_case(ROLE_ON);
            match RoleAttr::ALL.into_iter().find(|a| a.name(rsc) == name) {
                Some(RoleAttr::NoPromote) => flags.no_promote = on,
                Some(RoleAttr::NoSync) => flags.no_sync = on,
                Some(RoleAttr::Priority) => flags.priority = value.trim().parse().unwrap_or(0),
                None => {}
            }
        }
        flags
    }

    pub fn is_default(&self) -> bool {
        *self == RoleFlags::default()
    }
}

/// Its one spelling, `pgha status`'s and the memory's: the flags that are
/// on, `nopromote`, `nosync`, `priority=<n>`, comma-separated; `-` for none.
impl fmt::Display for RoleFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut words = Vec::new();
        if self.no_promote {
            words.push(RoleAttr::NoPromote.field().to_string());
        }
        if self.no_sync {
            words.push(RoleAttr::NoSync.field().to_string());
        }
        if self.priority != 0 {
            words.push(format!("{}={}", RoleAttr::Priority.field(), self.priority));
        }
        if words.is_empty() {
            return f.write_str(NO_VALUE);
        }
        f.write_str(&words.join(","))
    }
}

impl FromStr for RoleFlags {
    type Err = String;

    fn from_str(s: &str) -> Result<RoleFlags, String> {
        let mut flags = RoleFlags::default();
        if s == NO_VALUE {
            return Ok(flags);
        }
        for word in s.split(',') {
            match word.split_once('=') {
                None if word == RoleAttr::NoPromote.field() => flags.no_promote = true,
                None if word == RoleAttr::NoSync.field() => flags.no_sync = true,
                Some((field, n)) if field == RoleAttr::Priority.field() => {
                    flags.priority = n.parse().map_err(|_| format!("'{s}': bad priority"))?
                }
                _ => return Err(format!("'{s}' is not a node's roles")),
            }
        }
        Ok(flags)
    }
}

/// Every node's [`RoleFlags`] (a node not in it has none): what the
/// members' query of the CIB found, remembered as [`Key::MembersRoles`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeRoles(pub std::collections::BTreeMap<String, RoleFlags>);

impl NodeRoles {
    /// The flags of `node` (none when it has no entry).
    pub fn of(&self, node: &str) -> RoleFlags {
        self.0.get(node).copied().unwrap_or_default()
    }

    pub fn may_promote(&self, node: &str) -> bool {
        !self.of(node).no_promote
    }

    pub fn may_be_sync(&self, node: &str) -> bool {
        !self.of(node).no_sync
    }

    /// The roles of resource `rsc` in every node's permanent attributes
    /// (node -> name -> value); only nodes with a flag on are kept.
    pub fn from_node_attributes(
        rsc: &str,
        nodes: &std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>,
    ) -> NodeRoles {
        NodeRoles(
            nodes
                .iter()
                .map(|(node, attrs)| {
                    let flags =
                        RoleFlags::from_attributes(rsc, attrs.iter().map(|(n, v)| (n.as_str(), v.as_str())));
                    (node.clone(), flags)
                })
                .filter(|(_, flags)| !flags.is_default())
                .collect(),
        )
    }
}

/// The memory's spelling: `<node>:<flags>` per node, space-separated, the
/// node percent-encoded as in [`SyncListInForce`]; empty for none.
impl fmt::Display for NodeRoles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let entries: Vec<String> = self
            .0
            .iter()
            .filter(|(_, flags)| !flags.is_default())
            .map(|(node, flags)| format!("{}:{flags}", percent_encode(node)))
            .collect();
        f.write_str(&entries.join(" "))
    }
}

impl FromStr for NodeRoles {
    type Err = String;

    fn from_str(s: &str) -> Result<NodeRoles, String> {
        s.split_whitespace()
            .map(|entry| {
                let (node, flags) = entry
                    .rsplit_once(':')
                    .ok_or_else(|| format!("'{entry}' is not <node>:<roles>"))?;
                let node = percent_decode(node).ok_or_else(|| format!("'{entry}': bad node name"))?;
                Ok((node, flags.parse()?))
            })
            .collect::<Result<_, String>>()
            .map(NodeRoles)
    }
}

/// One PostgreSQL column's words: each named variant has one spelling,
/// anything else PostgreSQL may say is kept as it was spelled (`Other`), so
/// that what is published or logged is what the server said.
macro_rules! column_words {
    (
        $(#[$meta:meta])*
        $name:ident {
            $($(#[$vmeta:meta])* $variant:ident = $spelling:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
            /// Anything else, kept as it was spelled.
            Other(String),
        }

        impl $name {
            /// Every named word (not `Other`).
            pub const NAMED: [$name; [$($spelling),+].len()] = [$($name::$variant),+];

            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $spelling,)+
                    $name::Other(s) => s,
                }
            }

            pub fn parse(s: &str) -> $name {
                match s {
                    $($spelling => $name::$variant,)+
                    other => $name::Other(other.to_string()),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

column_words! {
    /// A standby's `sync_state` as the primary sees it (`pg_stat_replication`),
    /// or that it no longer connects ([`Attr::Sync`]). `Other` is mostly an
    /// empty `sync_state` while a walsender starts.
    SyncState {
        Sync = "sync",
        Quorum = "quorum",
        Potential = "potential",
        Async = "async",
        /// Known to the primary, but not in `pg_stat_replication` any more.
        Disconnected = "disconnected",
    }
}

impl SyncState {
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

column_words! {
    /// A walsender's `pg_stat_replication.state` (PostgreSQL's
    /// `WalSndGetStateString`). `Other` holds an empty string when the
    /// column is NULL.
    WalSenderState {
        Startup = "startup",
        Catchup = "catchup",
        /// Sending WAL as it is written: the only state that counts as a
        /// standby following its primary.
        Streaming = "streaming",
        Backup = "backup",
        Stopping = "stopping",
    }
}

column_words! {
    /// A standby's WAL receiver, `pg_stat_wal_receiver.status`
    /// (PostgreSQL's `WalRcvGetStateString`), as published in
    /// [`Attr::Receiver`]. The view has no row while no receiver runs: that
    /// is published with PostgreSQL's own word for it, [`ReceiverStatus::Stopped`].
    ReceiverStatus {
        Stopped = "stopped",
        Starting = "starting",
        /// Receiving WAL from the primary.
        Streaming = "streaming",
        Waiting = "waiting",
        Restarting = "restarting",
        Stopping = "stopping",
    }
}

/// A WAL location (PostgreSQL's `pg_lsn`): `X/Y` text, compared as a 64-bit
/// number. Published in [`Attr::Lsn`] and inside every [`Position`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Lsn(pub u64);

impl FromStr for Lsn {
    type Err = String;

    fn from_str(s: &str) -> Result<Lsn, String> {
        let (hi, lo) = s
            .trim()
            .split_once('/')
            .ok_or_else(|| format!("'{s}' is not an LSN"))?;
        let hi = u32::from_str_radix(hi, 16).map_err(|_| format!("'{s}' is not an LSN"))?;
        let lo = u32::from_str_radix(lo, 16).map_err(|_| format!("'{s}' is not an LSN"))?;
        Ok(Lsn((u64::from(hi) << 32) | u64::from(lo)))
    }
}

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:X}/{:X}", self.0 >> 32, self.0 & 0xFFFF_FFFF)
    }
}

column_words! {
    /// `pg_replication_slots.wal_status` (PostgreSQL 13 and later): whether
    /// the WAL a slot needs is still kept, and by what.
    WalStatus {
        /// Within `max_wal_size`.
        Reserved = "reserved",
        /// Past `max_wal_size`, kept for the slot (or by `wal_keep_size`).
        Extended = "extended",
        /// Past `max_slot_wal_keep_size`: removed at the next checkpoint.
        Unreserved = "unreserved",
        /// Removed: the slot is invalidated.
        Lost = "lost",
    }
}

/// The WAL one of the primary's slots retains: `pg_wal_lsn_diff(
/// pg_current_wal_lsn(), restart_lsn)` in bytes (None: no restart_lsn, a
/// slot that reserves nothing or was invalidated) and its `wal_status`
/// (None before PostgreSQL 13).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SlotWal {
    pub slot: String,
    pub retained: Option<u64>,
    pub status: Option<WalStatus>,
}

impl PartialOrd for WalStatus {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for WalStatus {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

/// The value of [`Attr::SlotWal`]: every slot of the primary with what it
/// retains, in slot order, `<slot>=<bytes> <wal_status>` joined by `, `
/// (`pgha_node2=16777216 reserved, pgha_node3=5368709120 extended`); `-`
/// for bytes unknown, no word when PostgreSQL has no `wal_status`;
/// [`NO_VALUE`] for no slot. Slot names are `[a-z0-9_]`
/// ([`crate::pg::names::slot_name`]), so neither `=`, `,` nor a space is in
/// one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SlotWalList(pub Vec<SlotWal>);

impl SlotWalList {
    /// The list in slot order, as it is published.
    pub fn sorted(mut slots: Vec<SlotWal>) -> SlotWalList {
        slots.sort();
        SlotWalList(slots)
    }
}

impl fmt::Display for SlotWalList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str(NO_VALUE);
        }
        for (i, s) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{}=", s.slot)?;
            match s.retained {
                Some(bytes) => write!(f, "{bytes}")?,
                None => f.write_str(NO_VALUE)?,
            }
            if let Some(status) = &s.status {
                write!(f, " {status}")?;
            }
        }
        Ok(())
    }
}

impl FromStr for SlotWalList {
    type Err = String;

    fn from_str(s: &str) -> Result<SlotWalList, String> {
        let s = s.trim();
        if s.is_empty() || s == NO_VALUE {
            return Ok(SlotWalList::default());
        }
        s.split(", ")
            .map(|entry| {
                let (slot, rest) = entry
                    .split_once('=')
                    .filter(|(slot, _)| !slot.is_empty())
                    .ok_or_else(|| format!("'{entry}' is not <slot>=<bytes>"))?;
                let mut words = rest.split_whitespace();
                let retained = match words.next() {
                    Some(NO_VALUE) => None,
                    Some(bytes) => Some(
                        bytes
                            .parse()
                            .map_err(|_| format!("'{entry}': '{bytes}' is no byte count"))?,
                    ),
                    None => return Err(format!("'{entry}' has no byte count")),
                };
                let status = words.next().map(WalStatus::parse);
                if words.next().is_some() {
                    return Err(format!("'{entry}' has more than a byte count and a status"));
                }
                Ok(SlotWal {
                    slot: slot.to_string(),
                    retained,
                    status,
                })
            })
            .collect::<Result<Vec<_>, String>>()
            .map(SlotWalList)
    }
}

/// How far a node could go if promoted now. Its one spelling,
/// `<timeline>:<LSN>`, is [`Display`](fmt::Display) / [`FromStr`]: the
/// election attribute ([`Attr::Election`]) and the shutdown checkpoint
/// ([`Attr::Shutdown`]) carry it between nodes; the standbys' published
/// [`Attr::Timeline`] and [`Attr::Lsn`] are its two halves. Ordered by
/// timeline, then LSN. A standby's own position is
/// `Position::of_standby` (in [`crate::policy::promotion`], with the rule
/// that picks which of its LSNs counts).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    pub timeline: u32,
    pub lsn: Lsn,
}

impl Position {
    /// The position of a node that published its timeline and LSN as two
    /// attributes; None when either is not one.
    pub fn from_halves(timeline: &str, lsn: &str) -> Option<Position> {
        Some(Position {
            timeline: timeline.parse().ok()?,
            lsn: lsn.parse().ok()?,
        })
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.timeline, self.lsn)
    }
}

impl FromStr for Position {
    type Err = String;

    fn from_str(s: &str) -> Result<Position, String> {
        let (tl, lsn) = s
            .split_once(':')
            .ok_or_else(|| format!("'{s}' is not timeline:LSN"))?;
        Ok(Position {
            timeline: tl.parse().map_err(|_| format!("'{s}': bad timeline"))?,
            lsn: lsn.parse()?,
        })
    }
}

/// The boolean spellings that OCF parameters (`ocf_is_true`) and
/// Pacemaker's options (`crm_str_to_boolean`) share, in any case, blanks
/// around ignored; None for anything else (each caller says what that
/// means: an error, or Pacemaker's default).
pub fn parse_bool(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "yes" | "y" | "true" | "on" => Some(true),
        "0" | "no" | "n" | "false" | "off" => Some(false),
        _ => None,
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
    /// Flag (on: "gone"): the node of this slot has left the cluster
    /// (since the key's age).
    SlotGone(String),
    /// Stamp: when a standby last looked for a promotable node and found one.
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
    /// Stamp: when the primary last looked for another primary.
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
    /// Stamped flag (on: "ok", off: "failed"): whether `crm_node -l`
    /// answered, last time asked (the age: when).
    MembersAsked,
    /// Flag: no membership is known (logged once).
    MembersUnknown,
    /// The operator's role flags of every node ([`NodeRoles`]), read from
    /// the CIB with the members.
    MembersRoles,
    /// What a primary last published in [`SyncListInForce`]: the list in
    /// effect, and the lists it replaced with its WAL position at the
    /// change, until the new list's standbys confirmed past it
    /// (`policy::sync::SyncPublished`).
    SyncPublished,
    /// The last monitor's answer, its OCF exit code (the age: since when
    /// it answers so), for `pgha status --prometheus`.
    MonitorAnswer,
    /// How long the last monitor's health probe took, in microseconds
    /// (the age: when the monitor last ran).
    MonitorProbeUs,
    /// Flag: a promote here failed only to pass the promotion on (a
    /// hand-over) or to wait for the quorum gate, not for a fault of this
    /// node; the next standby monitor clears that failure from Pacemaker's
    /// fail count, so that such rounds never ban a healthy node.
    PromoteDeclined,
    /// Flag: the quorum gate has kept this standby from being promoted
    /// since the key's age (sync mode's `sync_grace` counts from then, not
    /// from the last start: the recovery of a failed promote restarts the
    /// instance). Off once it streams again.
    GateWaiting,
    /// Flag: a pg_rewind of this data directory started and has not
    /// finished (kept across reboots): pg_rewind cut by a timeout or a
    /// kill leaves files of both histories, and only a pg_rewind that
    /// finishes (or a copy of the primary) makes the data usable again.
    RewindStarted,
    /// Since when (the value: [`crate::deadline::boot_millis`] at the first
    /// sight) this node has seen `node` outside its partition; removed once
    /// it is seen back or takes part in a notification, and at every start.
    /// What the wait of a promote without fencing counts from
    /// ([`crate::policy::safety`]).
    Absent(String),
}

/// The spelling of [`Key::Score`]'s `None`.
const SELF: &str = "_self";

impl Key {
    /// The keys that have no parameter, with their spelling.
    const FIXED: [(Key, &'static str); 21] = [
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
        (Key::SyncPublished, "sync.published"),
        (Key::MonitorAnswer, "monitor.answer"),
        (Key::MonitorProbeUs, "monitor.probe_us"),
        (Key::PromoteDeclined, "promote.declined"),
        (Key::GateWaiting, "gate.waiting"),
        (Key::RewindStarted, "rewind.started"),
        (Key::MembersRoles, "members.roles"),
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
            "absent" => node().map(Key::Absent),
            _ => None,
        }
    }

    /// Kept across reboots (in `/var/lib/pgha`, [`crate::runstate`]): what
    /// the data directory alone cannot tell once the node restarts. A
    /// demoted primary shut down as a standby looks like any standby on
    /// disk; forgotten at a reboot, its next start would follow without
    /// comparing its history with the primary's. A pg_rewind that did not
    /// finish leaves a data directory whose pg_control still says cleanly
    /// shut down: forgotten, the next start would follow it as it is.
    /// Everything else lives in /run and is lost with Pacemaker's transient
    /// attributes.
    pub fn is_durable(&self) -> bool {
        matches!(self, Key::DemotedPrimary | Key::RewindStarted)
    }

    /// Membership is what the node learnt of the cluster, not bookkeeping
    /// of its role: a role change keeps it.
    pub fn is_membership(&self) -> bool {
        matches!(
            self,
            Key::MembersCrmNode
                | Key::MembersNotify
                | Key::MembersAsked
                | Key::MembersUnknown
                | Key::MembersRoles
        )
    }

    /// The value of a flag key, on or off: what every key whose value is
    /// one of two words holds, and what a stamp (a key whose age alone
    /// counts) holds on. On is "1" but for the two keys that have always
    /// had words of their own; off is "0" for the keys that have always
    /// been written that way, "" for the others.
    pub fn flag(&self, on: bool) -> &'static str {
        match (self, on) {
            (Key::SlotGone(_), true) => "gone",
            (Key::MembersAsked, true) => "ok",
            (Key::MembersAsked, false) => "failed",
            (_, true) => "1",
            (Key::BootstrapPreferred | Key::SyncManaged, false) => "0",
            (_, false) => "",
        }
    }

    /// Reads a value of flag key `self` as [`Key::flag`] spells it; None
    /// for anything else (a key that is not a flag, a hand-edited value).
    pub fn parse_flag(&self, value: &str) -> Option<bool> {
        [true, false].into_iter().find(|on| self.flag(*on) == value)
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
            Key::Absent(node) => write!(f, "absent.{node}"),
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

/// How `synchronous_standby_names` counts the standbys that confirm a
/// commit (PostgreSQL's `syncrep_gram.y`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncMethod {
    /// `FIRST k (...)`, also spelled `k (...)`, and a plain list (`FIRST
    /// 1`): the first k connected standbys in list order confirm.
    First,
    /// `ANY k (...)`: any k of the listed standbys confirm (every listed
    /// one is reported `quorum`).
    Any,
}

impl SyncMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            SyncMethod::First => "FIRST",
            SyncMethod::Any => "ANY",
        }
    }
}

/// A value of `synchronous_standby_names`, as PostgreSQL's grammar reads
/// it (`syncrep_scanner.l`, `syncrep_gram.y`, the check hook in
/// `syncrep.c`):
///
/// - `""`: no synchronous standby, commits are acknowledged by the primary
///   alone ([`SyncStandbyNames::Empty`]);
/// - `FIRST k (a, b)`, `k (a, b)` (= FIRST), `ANY k (a, b)`, and a plain
///   list `a, b` (= `FIRST 1 (a, b)`); keywords in any case, blanks
///   anywhere between tokens; k > 0 (PostgreSQL refuses 0), k may exceed
///   the number of names (commits then wait forever);
/// - a name is an identifier (`[A-Za-z_\x80-\xff][A-Za-z_\x80-\xff0-9$]*`,
///   kept as written), a number, `*` (any standby), or a double-quoted
///   identifier with `""` for a quote; unquoted `any` and `first` are
///   keywords, not names. A quoted `"*"` is the wildcard too (`syncrep.c`
///   compares the name with `*` after parsing).
///
/// PostgreSQL matches a name with a walsender's `application_name` without
/// regard to ASCII case (`pg_strcasecmp`): [`SyncStandbyNames::lists`]
/// does the same.
///
/// Its one spelling is [`Display`](fmt::Display): `ANY 2 ("a", "b")`,
/// every name quoted but `*`, which is exactly what
/// `policy::sync::synchronous_names` writes; [`FromStr`] reads every value
/// PostgreSQL accepts, so what a primary reads back from
/// `current_setting` and publishes can be parsed on every node after it
/// is gone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SyncStandbyNames {
    /// The empty value: nothing waits for a standby.
    Empty,
    List {
        method: SyncMethod,
        num_sync: u32,
        names: Vec<String>,
    },
}

/// The wildcard name of `synchronous_standby_names`.
pub const ANY_STANDBY: &str = "*";

impl SyncStandbyNames {
    /// Whether node `name` is one of the listed standbys, as PostgreSQL
    /// matches it (ASCII case ignored; `*` lists everyone).
    pub fn lists(&self, name: &str) -> bool {
        match self {
            SyncStandbyNames::Empty => false,
            SyncStandbyNames::List { names, .. } => names
                .iter()
                .any(|n| n == ANY_STANDBY || n.eq_ignore_ascii_case(name)),
        }
    }

    /// Whether the list names `*`: any standby may confirm, so nobody can
    /// tell from the list which ones did.
    pub fn has_wildcard(&self) -> bool {
        matches!(self, SyncStandbyNames::List { names, .. } if names.iter().any(|n| n == ANY_STANDBY))
    }
}

impl fmt::Display for SyncStandbyNames {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let SyncStandbyNames::List {
            method,
            num_sync,
            names,
        } = self
        else {
            return Ok(());
        };
        write!(f, "{} {num_sync} (", method.as_str())?;
        for (i, name) in names.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            if name == ANY_STANDBY {
                f.write_str(ANY_STANDBY)?;
            } else {
                write!(f, "\"{}\"", name.replace('"', "\"\""))?;
            }
        }
        f.write_str(")")
    }
}

/// A token of `syncrep_scanner.l`.
#[derive(Clone, Debug, PartialEq, Eq)]
enum SyncToken {
    Any,
    First,
    /// `[0-9]+`: a count, or a name when no `(` follows.
    Num(String),
    Name(String),
    Comma,
    Open,
    Close,
}

fn sync_tokens(s: &str) -> Result<Vec<SyncToken>, String> {
    let is_first = |c: char| c == '_' || c.is_ascii_alphabetic() || !c.is_ascii();
    let is_next = |c: char| is_first(c) || c.is_ascii_digit() || c == '$';
    let mut tokens = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        let token = match c {
            // flex's {space}: [ \t\n\r\f\v]
            ' ' | '\t' | '\n' | '\r' | '\x0c' | '\x0b' => continue,
            ',' => SyncToken::Comma,
            '(' => SyncToken::Open,
            ')' => SyncToken::Close,
            '*' => SyncToken::Name(ANY_STANDBY.to_string()),
            '"' => {
                let mut name = String::new();
                loop {
                    match chars.next() {
                        None => return Err(format!("'{s}': unterminated quoted identifier")),
                        Some('"') if chars.peek() == Some(&'"') => {
                            chars.next();
                            name.push('"');
                        }
                        Some('"') => break,
                        Some(c) => name.push(c),
                    }
                }
                SyncToken::Name(name)
            }
            c if c.is_ascii_digit() => {
                let mut num = c.to_string();
                while let Some(d) = chars.next_if(|d| d.is_ascii_digit()) {
                    num.push(d);
                }
                SyncToken::Num(num)
            }
            c if is_first(c) => {
                let mut word = c.to_string();
                while let Some(d) = chars.next_if(|d| is_next(*d)) {
                    word.push(d);
                }
                if word.eq_ignore_ascii_case("any") {
                    SyncToken::Any
                } else if word.eq_ignore_ascii_case("first") {
                    SyncToken::First
                } else {
                    SyncToken::Name(word)
                }
            }
            other => return Err(format!("'{s}': unexpected '{other}'")),
        };
        tokens.push(token);
    }
    Ok(tokens)
}

impl FromStr for SyncStandbyNames {
    type Err = String;

    fn from_str(s: &str) -> Result<SyncStandbyNames, String> {
        // The check hook parses only a non-empty value.
        if s.is_empty() {
            return Ok(SyncStandbyNames::Empty);
        }
        let tokens = sync_tokens(s)?;
        let syntax = || format!("'{s}': not a synchronous_standby_names");
        let (method, num_sync, list) = match tokens.as_slice() {
            [
                SyncToken::Any,
                SyncToken::Num(k),
                SyncToken::Open,
                list @ ..,
                SyncToken::Close,
            ] => (SyncMethod::Any, k.as_str(), list),
            [
                SyncToken::First,
                SyncToken::Num(k),
                SyncToken::Open,
                list @ ..,
                SyncToken::Close,
            ]
            | [SyncToken::Num(k), SyncToken::Open, list @ .., SyncToken::Close] => {
                (SyncMethod::First, k.as_str(), list)
            }
            list => (SyncMethod::First, "1", list),
        };
        let num_sync: u32 = num_sync.parse().map_err(|_| syntax())?;
        if num_sync == 0 {
            return Err(format!(
                "'{s}': the number of synchronous standbys must be greater than zero"
            ));
        }
        // standby_list: standby_name (',' standby_name)*, a name being a
        // NAME or a NUM.
        let mut names = Vec::new();
        for (i, token) in list.iter().enumerate() {
            match (i % 2, token) {
                (0, SyncToken::Name(n) | SyncToken::Num(n)) => names.push(n.clone()),
                (1, SyncToken::Comma) => {}
                _ => return Err(syntax()),
            }
        }
        if list.len() % 2 == 0 {
            return Err(syntax()); // empty, or a trailing comma
        }
        Ok(SyncStandbyNames::List {
            method,
            num_sync,
            names,
        })
    }
}

/// What the primary publishes of its `synchronous_standby_names`
/// ([`Attr::SyncList`]): who the primary is, and the lists a commit it
/// acknowledged may have waited for. Normally one, the list in effect;
/// right after a change also the replaced ones, until the standbys of the
/// new list have confirmed past the change (a commit acknowledged under
/// the old list may be on none of the new list's standbys before that).
/// A promotion must pass the quorum gate of every list
/// (`policy::quorum::gate_all`).
///
/// Its one spelling has no double quote, which `attrd_updater --query`
/// prints unescaped inside `value="..."`:
/// `<primary>: <list> | <list>`, a list being `ANY 1 (n2, n3)`,
/// `FIRST 2 (a, b, c)` or `none` (the empty value), each name (and the
/// primary) with `%XX` for a byte that is not a letter, digit, `.`, `_` or
/// `-`: `n1: ANY 1 (n2, n3) | ANY 1 (n2, db%201)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncListInForce {
    pub primary: String,
    pub lists: Vec<SyncStandbyNames>,
}

/// The spelling of the empty list in [`SyncListInForce`].
const NO_LIST: &str = "none";

fn percent_encode(name: &str) -> String {
    let mut out = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"._-".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = text.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b if b.is_ascii_alphanumeric() || b"._-".contains(&b) => {
                out.push(b);
                i += 1;
            }
            _ => return None,
        }
    }
    String::from_utf8(out).ok().filter(|s| !s.is_empty())
}

impl fmt::Display for SyncListInForce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", percent_encode(&self.primary))?;
        for (i, list) in self.lists.iter().enumerate() {
            f.write_str(if i == 0 { " " } else { " | " })?;
            match list {
                SyncStandbyNames::Empty => f.write_str(NO_LIST)?,
                SyncStandbyNames::List {
                    method,
                    num_sync,
                    names,
                } => {
                    let names: Vec<String> = names
                        .iter()
                        .map(|n| {
                            if n == ANY_STANDBY {
                                n.clone()
                            } else {
                                percent_encode(n)
                            }
                        })
                        .collect();
                    write!(f, "{} {num_sync} ({})", method.as_str(), names.join(", "))?;
                }
            }
        }
        Ok(())
    }
}

impl FromStr for SyncListInForce {
    type Err = String;

    fn from_str(s: &str) -> Result<SyncListInForce, String> {
        let bad = || format!("'{s}' is not a published synchronous_standby_names");
        let (primary, lists) = s.split_once(':').ok_or_else(bad)?;
        let primary = percent_decode(primary).ok_or_else(bad)?;
        let lists = lists.trim_start();
        if lists.is_empty() {
            return Ok(SyncListInForce {
                primary,
                lists: Vec::new(),
            });
        }
        let list = |text: &str| -> Option<SyncStandbyNames> {
            if text == NO_LIST {
                return Some(SyncStandbyNames::Empty);
            }
            let (head, names) = text.strip_suffix(')')?.split_once(" (")?;
            let (method, num_sync) = head.split_once(' ')?;
            let method = [SyncMethod::Any, SyncMethod::First]
                .into_iter()
                .find(|m| m.as_str() == method)?;
            let num_sync: u32 = num_sync.parse().ok().filter(|k| *k > 0)?;
            let names = names
                .split(", ")
                .map(|n| {
                    if n == ANY_STANDBY {
                        Some(n.to_string())
                    } else {
                        percent_decode(n)
                    }
                })
                .collect::<Option<Vec<String>>>()?;
            Some(SyncStandbyNames::List {
                method,
                num_sync,
                names,
            })
        };
        let lists = lists
            .split(" | ")
            .map(list)
            .collect::<Option<Vec<_>>>()
            .ok_or_else(bad)?;
        Ok(SyncListInForce { primary, lists })
    }
}

/// Which election round a position was published for: the same 8 hex
/// digits on every node of the round, computed from what the pre-promote
/// notification tells each of them alike
/// (`policy::promotion::round_id`). A position from another round (a
/// failed earlier one, whose post-promote never came) does not vote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct RoundId(pub u32);

impl fmt::Display for RoundId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08x}", self.0)
    }
}

impl FromStr for RoundId {
    type Err = String;

    fn from_str(s: &str) -> Result<RoundId, String> {
        let one_spelling = s.len() == 8
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !one_spelling {
            return Err(format!("'{s}' is not a round id"));
        }
        u32::from_str_radix(s, 16)
            .map(RoundId)
            .map_err(|_| format!("'{s}' is not a round id"))
    }
}

/// The history of a node's current timeline: every ancestor with the LSN
/// at which it was left, oldest first, and the current timeline. Timeline
/// ids increase along it, all below `current`. Published in election
/// positions ([`RoundPosition`]); read from PostgreSQL's history files and
/// compared in `pg::history`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct History {
    pub ancestors: Vec<(u32, Lsn)>,
    pub current: u32,
}

impl History {
    /// A timeline with no ancestor: timeline 1 after `initdb`.
    pub fn root(timeline: u32) -> History {
        History {
            ancestors: Vec::new(),
            current: timeline,
        }
    }

    /// `ancestors` and `current` as a history, if the ids increase.
    pub(crate) fn checked(ancestors: Vec<(u32, Lsn)>, current: u32) -> Result<History, String> {
        let mut ids = ancestors.iter().map(|(t, _)| *t).chain([current]);
        let mut last = ids.next().unwrap_or(current);
        for id in ids {
            if id <= last {
                return Err(format!(
                    "invalid history of timeline {current}: timeline IDs must increase ({last} then {id})"
                ));
            }
            last = id;
        }
        Ok(History { ancestors, current })
    }

    /// Every timeline number this history used: its ancestors and its
    /// current one.
    pub fn timelines(&self) -> impl Iterator<Item = u32> + '_ {
        self.ancestors.iter().map(|(t, _)| *t).chain([self.current])
    }

    /// Where this history left `timeline`: Some(Some(lsn)) for an
    /// ancestor, Some(None) for the current one (not left), None when the
    /// timeline is not in this history.
    pub(crate) fn left_at(&self, timeline: u32) -> Option<Option<Lsn>> {
        if timeline == self.current {
            return Some(None);
        }
        self.ancestors
            .iter()
            .find(|(t, _)| *t == timeline)
            .map(|(_, end)| Some(*end))
    }
}

impl fmt::Display for History {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (timeline, end) in &self.ancestors {
            write!(f, "{timeline}@{end},")?;
        }
        write!(f, "{}", self.current)
    }
}

impl FromStr for History {
    type Err = String;

    fn from_str(s: &str) -> Result<History, String> {
        let bad = || format!("'{s}' is not a timeline history");
        let (ancestors, current) = match s.rsplit_once(',') {
            Some((ancestors, current)) => (Some(ancestors), current),
            None => (None, s),
        };
        let current: u32 = current.parse().map_err(|_| bad())?;
        let ancestors = match ancestors {
            None => Vec::new(),
            Some(list) => list
                .split(',')
                .map(|entry| {
                    let (timeline, end) = entry.split_once('@')?;
                    Some((timeline.parse().ok()?, end.parse().ok()?))
                })
                .collect::<Option<Vec<(u32, Lsn)>>>()
                .ok_or_else(bad)?,
        };
        History::checked(ancestors, current)
    }
}

/// An election position with its round and, when the node could read it,
/// its timeline's history: `<timeline>:<LSN>@<round>` or
/// `<timeline>:<LSN>@<round> <history>` (the history in its published
/// form, `1@0/3000060,2@0/5000000,3`), the value of [`Attr::Election`]. A
/// bare `<timeline>:<LSN>` (an agent of an older version) is not one: it
/// names no round, so it cannot be told from a stale one. Without a
/// history the positions compare by timeline number, as before.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoundPosition {
    pub position: Position,
    pub round: RoundId,
    pub history: Option<History>,
}

impl fmt::Display for RoundPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.position, self.round)?;
        if let Some(history) = &self.history {
            write!(f, " {history}")?;
        }
        Ok(())
    }
}

impl FromStr for RoundPosition {
    type Err = String;

    fn from_str(s: &str) -> Result<RoundPosition, String> {
        let (tagged, history) = match s.split_once(' ') {
            Some((tagged, history)) => (tagged, Some(history.parse::<History>()?)),
            None => (s, None),
        };
        let (position, round) = tagged
            .split_once('@')
            .ok_or_else(|| format!("'{s}' names no round"))?;
        let position: Position = position.parse()?;
        if history.as_ref().is_some_and(|h| h.current != position.timeline) {
            return Err(format!(
                "'{s}': the history is not that of the position's timeline"
            ));
        }
        Ok(RoundPosition {
            position,
            round: round.parse()?,
            history,
        })
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
            (Attr::SlotWal, "pgha-pgsqld-slot-wal", Visibility::Public),
            (Attr::Build, "pgha-pgsqld-build", Visibility::Public),
            (Attr::Election, "pgha-pgsqld-election", Visibility::Private),
            (Attr::Shutdown, "pgha-pgsqld-shutdown", Visibility::Private),
            (Attr::Promotion, "master-pgsqld", Visibility::Public),
            (Attr::SyncList, "pgha-pgsqld-sync-list", Visibility::Public),
            (Attr::Gate, "pgha-pgsqld-gate", Visibility::Public),
            (Attr::History, "pgha-pgsqld-history", Visibility::Public),
            (Attr::Readable, "pgha-pgsqld-readable", Visibility::Public),
            (Attr::WalHistory, "pgha-pgsqld-wal-history", Visibility::Private),
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
                "role", "timeline", "lsn", "lag", "receiver", "sync", "slots", "build", "slot-wal",
                "readable"
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
    fn the_wal_slots_retain_is_spelled_as_ever_and_round_trips() {
        let slot = |name: &str, retained: Option<u64>, status: Option<&str>| SlotWal {
            slot: name.to_string(),
            retained,
            status: status.map(WalStatus::parse),
        };
        // (list, spelling)
        let table = [
            (vec![], "-"),
            (
                vec![
                    slot("pgha_node2", Some(16 << 20), Some("reserved")),
                    slot("pgha_node3", Some(5 << 30), Some("extended")),
                ],
                "pgha_node2=16777216 reserved, pgha_node3=5368709120 extended",
            ),
            (vec![slot("pgha_n4", None, Some("lost"))], "pgha_n4=- lost"),
            // PostgreSQL 12: no wal_status.
            (vec![slot("pgha_n4", Some(0), None)], "pgha_n4=0"),
        ];
        for (slots, spelling) in table {
            let list = SlotWalList(slots);
            assert_eq!(list.to_string(), spelling);
            assert_eq!(spelling.parse::<SlotWalList>(), Ok(list), "{spelling}");
        }
        for bad in [
            "pgha_a",
            "=5 reserved",
            "pgha_a=x reserved",
            "pgha_a=",
            "pgha_a=1 reserved more",
        ] {
            assert!(bad.parse::<SlotWalList>().is_err(), "{bad}");
        }
        for status in WalStatus::NAMED {
            assert_eq!(WalStatus::parse(status.as_str()), status);
        }
        let sorted = SlotWalList::sorted(vec![slot("pgha_b", None, None), slot("pgha_a", Some(1), None)]);
        assert_eq!(sorted.to_string(), "pgha_a=1, pgha_b=-");
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
            (Key::Absent("node-b".into()), "absent.node-b"),
        ];
        // The keys without a parameter, pinned as one line: a key renamed
        // in FIXED would make an upgraded agent forget what it remembered.
        let fixed: Vec<String> = Key::FIXED.iter().map(|(k, _)| k.to_string()).collect();
        assert_eq!(
            fixed.join(" "),
            "bootstrap.checked bootstrap.preferred demoted.primary receiver.down rebuild.needed splitbrain.checked splitbrain.other \
             sync.managed sync.none_streaming stop.forced members.crm_node members.notify members.asked members.unknown sync.published \
             monitor.answer monitor.probe_us promote.declined gate.waiting rewind.started \
             members.roles"
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
                "members.unknown",
                "members.roles"
            ]
        );
    }

    #[test]
    fn flags_are_spelled_as_ever_and_round_trip() {
        let table = [
            (Key::ReceiverDown, "1", ""),
            (Key::Missing("n".into()), "1", ""),
            (Key::Standby("n".into()), "1", ""),
            (Key::MembersUnknown, "1", ""),
            (Key::DemotedPrimary, "1", ""),
            (Key::RewindStarted, "1", ""),
            (Key::SyncNoneStreaming, "1", ""),
            (Key::BootstrapChecked, "1", ""),
            (Key::SplitbrainChecked, "1", ""),
            (Key::BootstrapPreferred, "1", "0"),
            (Key::SyncManaged, "1", "0"),
            (Key::SlotGone("pgha_n".into()), "gone", ""),
            (Key::MembersAsked, "ok", "failed"),
        ];
        for (key, on, off) in table {
            assert_eq!((key.flag(true), key.flag(false)), (on, off), "{key}");
            assert_eq!(key.parse_flag(on), Some(true), "{key}");
            assert_eq!(key.parse_flag(off), Some(false), "{key}");
            assert_eq!(key.parse_flag("yes"), None, "{key}");
        }
        assert_eq!(Key::MembersAsked.parse_flag(""), None, "neither ok nor failed");
        assert_eq!(Key::SlotGone("s".into()).parse_flag("1"), None);
    }

    /// Pins the spelling of every named word of a [`column_words!`] type,
    /// checks that each round-trips, and that anything else is kept as it
    /// was spelled.
    macro_rules! assert_column_words {
        ($ty:ident { $($variant:ident = $spelling:literal,)+ }) => {{
            let table = [$(($ty::$variant, $spelling)),+];
            assert_eq!(table.len(), $ty::NAMED.len(), "every {} word is in the table", stringify!($ty));
            for (word, spelling) in table {
                assert_eq!(word.as_str(), spelling);
                assert_eq!($ty::parse(spelling), word);
                assert_eq!($ty::parse(&word.to_string()), word);
            }
            for other in ["", "Streaming", "odd "] {
                assert_eq!($ty::parse(other), $ty::Other(other.into()));
                assert_eq!($ty::parse(other).as_str(), other, "kept as spelled");
            }
        }};
    }

    #[test]
    fn postgresql_column_words_are_spelled_as_postgresql_does_and_round_trip() {
        // One call a column: the words as PostgreSQL's source spells them.
        assert_column_words!(WalSenderState { Startup = "startup", Catchup = "catchup",
            Streaming = "streaming", Backup = "backup", Stopping = "stopping", });
        assert_column_words!(ReceiverStatus { Stopped = "stopped", Starting = "starting",
            Streaming = "streaming", Waiting = "waiting", Restarting = "restarting", Stopping = "stopping", });
        assert_column_words!(SyncState { Sync = "sync", Quorum = "quorum", Potential = "potential",
            Async = "async", Disconnected = "disconnected", });
    }

    #[test]
    fn lsns_round_trip_and_order() {
        let a: Lsn = "0/16B3748".parse().unwrap();
        let b: Lsn = "1/0".parse().unwrap();
        assert!(a < b);
        assert_eq!(b.0, 1 << 32);
        assert_eq!(a.to_string(), "0/16B3748");
        assert_eq!(Lsn(u64::MAX).to_string(), "FFFFFFFF/FFFFFFFF");
        assert_eq!(Lsn(u64::MAX).to_string().parse::<Lsn>(), Ok(Lsn(u64::MAX)));
        assert!("16B3748".parse::<Lsn>().is_err());
        assert!("g/1".parse::<Lsn>().is_err());
    }

    #[test]
    fn positions_round_trip_and_order_by_timeline_first() {
        let table = [
            ("12:1/A0", 12, (1 << 32) | 0xA0),
            ("1:0/0", 1, 0),
            ("3:0/5000000", 3, 0x500_0000),
        ];
        for (spelling, timeline, lsn) in table {
            let position = Position {
                timeline,
                lsn: Lsn(lsn),
            };
            assert_eq!(position.to_string(), spelling);
            assert_eq!(spelling.parse::<Position>(), Ok(position));
            let (tl, lsn) = spelling.split_once(':').unwrap();
            assert_eq!(Position::from_halves(tl, lsn), Some(position), "{spelling}");
        }
        for bad in ["1-0/0", "x:0/0", "1:0", ":0/0", ""] {
            assert!(bad.parse::<Position>().is_err(), "{bad:?}");
        }
        assert_eq!(Position::from_halves("-", "0/0"), None);
        assert_eq!(Position::from_halves("2", "-"), None);
        let p = |s: &str| s.parse::<Position>().unwrap();
        assert!(p("2:0/1") > p("1:F/0"), "timeline first");
        assert!(p("2:0/2") > p("2:0/1"));
    }

    #[test]
    fn booleans_are_spelled_as_ocf_and_pacemaker_do() {
        for on in ["1", "yes", "y", "true", "on", "TRUE", " Yes "] {
            assert_eq!(parse_bool(on), Some(true), "{on:?}");
        }
        for off in ["0", "no", "n", "false", "off", "NO", "Off"] {
            assert_eq!(parse_bool(off), Some(false), "{off:?}");
        }
        for neither in ["", "2", "maybe", "t", "f"] {
            assert_eq!(parse_bool(neither), None, "{neither:?}");
        }
    }

    #[test]
    fn synchronous_standby_names_read_as_postgresql_grammar_does() {
        use SyncMethod::*;
        let list = |method, num_sync, names: &[&str]| SyncStandbyNames::List {
            method,
            num_sync,
            names: names.iter().map(|n| n.to_string()).collect(),
        };
        // (value, as read)
        let table = [
            ("", SyncStandbyNames::Empty),
            ("a", list(First, 1, &["a"])),
            ("a, b", list(First, 1, &["a", "b"])),
            ("a,b", list(First, 1, &["a", "b"])),
            ("2 (a, b)", list(First, 2, &["a", "b"])),
            ("FIRST 2 (a, b)", list(First, 2, &["a", "b"])),
            ("first 2(a,b)", list(First, 2, &["a", "b"])),
            ("FiRsT 1 (a)", list(First, 1, &["a"])),
            ("ANY 2 (a, \"b-c\")", list(Any, 2, &["a", "b-c"])),
            ("any 1 (a)", list(Any, 1, &["a"])),
            (" \tANY\n1 ( a ,\r b ) ", list(Any, 1, &["a", "b"])),
            ("ANY 1 (*)", list(Any, 1, &["*"])),
            ("*", list(First, 1, &["*"])),
            ("ANY 1 (\"*\")", list(Any, 1, &["*"])), // the wildcard, quoted
            (r#"ANY 1 ("node""1", "it's")"#, list(Any, 1, &["node\"1", "it's"])),
            ("ANY 1 (\"\")", list(Any, 1, &[""])),
            ("ANY 1 (\"any\", \"FIRST\")", list(Any, 1, &["any", "FIRST"])),
            ("Node_B$2", list(First, 1, &["Node_B$2"])), // kept as written
            ("1, 2", list(First, 1, &["1", "2"])),       // numbers are names
            ("2 (1, 2)", list(First, 2, &["1", "2"])),
            ("ANY 3 (a, b)", list(Any, 3, &["a", "b"])), // k > N is accepted
            ("anyone, firstly", list(First, 1, &["anyone", "firstly"])),
            ("ANY 1 (nœud)", list(Any, 1, &["nœud"])),
        ];
        for (value, expected) in table {
            assert_eq!(value.parse::<SyncStandbyNames>(), Ok(expected), "{value:?}");
        }
        for bad in [
            " ",
            "ANY (a)",
            "ANY 0 (a)",
            "0 (a)",
            "ANY 1 ()",
            "ANY 1 (a,)",
            "ANY 1 (a b)",
            "ANY 1 a",
            "ANY 1 (a))",
            "ANY 1 (\"a)",
            "a, any",
            "a (b)",
            "node-b",
            "ANY 99999999999 (a)",
            "a;b",
        ] {
            assert!(bad.parse::<SyncStandbyNames>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn synchronous_standby_names_have_one_spelling_and_round_trip() {
        // (value, its one spelling)
        let table = [
            ("", ""),
            ("ANY 2 (\"b\", \"c\")", "ANY 2 (\"b\", \"c\")"),
            ("ANY 1 (*)", "ANY 1 (*)"),
            ("any 1 (\"*\")", "ANY 1 (*)"),
            ("a, b", "FIRST 1 (\"a\", \"b\")"),
            ("2 (a, b)", "FIRST 2 (\"a\", \"b\")"),
            (
                r#"ANY 1 (Upper, "it's", "node""1")"#,
                r#"ANY 1 ("Upper", "it's", "node""1")"#,
            ),
        ];
        for (value, spelling) in table {
            let read: SyncStandbyNames = value.parse().unwrap();
            assert_eq!(read.to_string(), spelling, "{value:?}");
            assert_eq!(spelling.parse::<SyncStandbyNames>(), Ok(read), "{spelling:?}");
        }
    }

    #[test]
    fn listed_standbys_match_as_postgresql_matches_application_name() {
        let names: SyncStandbyNames = "ANY 1 (\"Node-B\", c)".parse().unwrap();
        // (application_name, listed)
        let table = [
            ("node-b", true),
            ("NODE-B", true),
            ("c", true),
            ("d", false),
            ("", false),
        ];
        for (name, listed) in table {
            assert_eq!(names.lists(name), listed, "{name:?}");
        }
        assert!(!names.has_wildcard());
        let wildcard: SyncStandbyNames = "ANY 1 (a, *)".parse().unwrap();
        assert!(wildcard.has_wildcard() && wildcard.lists("anyone"));
        assert!(!SyncStandbyNames::Empty.lists("a") && !SyncStandbyNames::Empty.has_wildcard());
    }

    #[test]
    fn round_positions_have_one_spelling_and_round_trip() {
        // (spelling, position, round)
        let table = [
            ("3:0/5000000@0000002a", "3:0/5000000", 0x2a),
            ("12:1/A0@ffffffff", "12:1/A0", u32::MAX),
        ];
        for (spelling, position, round) in table {
            let tagged = RoundPosition {
                position: position.parse().unwrap(),
                round: RoundId(round),
                history: None,
            };
            assert_eq!(tagged.to_string(), spelling);
            assert_eq!(spelling.parse::<RoundPosition>(), Ok(tagged.clone()));
            assert_eq!(tagged.round.to_string().parse::<RoundId>(), Ok(tagged.round));
        }
        let with_history = RoundPosition {
            position: "3:0/5000000".parse().unwrap(),
            round: RoundId(0x2a),
            history: Some("1@0/3000060,2@0/4000000,3".parse().unwrap()),
        };
        let spelling = "3:0/5000000@0000002a 1@0/3000060,2@0/4000000,3";
        assert_eq!(with_history.to_string(), spelling);
        assert_eq!(spelling.parse::<RoundPosition>(), Ok(with_history));
        for bad in [
            "3:0/5000000", // untagged: an older agent's, or stale
            "3:0/5000000@",
            "3:0/5000000@2a",
            "3:0/5000000@0000002A", // one spelling: lower case
            "3:0/5000000@0000002g",
            "x@0000002a",
            "3:0/5000000@0000002a@0000002a",
            "3:0/5000000@0000002a 1@0/3000060,2", // another timeline's history
            "3:0/5000000@0000002a nonsense",
        ] {
            assert!(bad.parse::<RoundPosition>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_published_sync_lists_round_trip_and_refuse_what_names_no_primary() {
        let one = SyncListInForce {
            primary: "n1".into(),
            lists: vec!["ANY 1 (\"n2\", \"n3\")".parse().unwrap()],
        };
        let text = one.to_string();
        assert_eq!(text, "n1: ANY 1 (n2, n3)");
        assert_eq!(text.parse::<SyncListInForce>(), Ok(one));
        let changing = SyncListInForce {
            primary: "a b".into(),
            lists: vec![
                SyncStandbyNames::Empty,
                "FIRST 2 (x, \"db 1\", \"q\"\"uote\", \"p%c|t, ,\")"
                    .parse()
                    .unwrap(),
                "ANY 1 (*)".parse().unwrap(),
            ],
        };
        let text = changing.to_string();
        assert_eq!(
            text,
            "a%20b: none | FIRST 2 (x, db%201, q%22uote, p%25c%7Ct%2C%20%2C) | ANY 1 (*)"
        );
        assert!(
            !text.contains('"'),
            "attrd_updater prints values unescaped in double quotes"
        );
        assert_eq!(text.parse::<SyncListInForce>(), Ok(changing));
        for bad in [
            "",
            "ANY 1 (n2)",
            ": ANY 1 (n2)",
            "n1: ANY 0 (n2)",
            "n1: SOME 1 (n2)",
            "n1: ANY 1 (n 2)",
            "n1: ANY 1 (n2) |",
            "n1: ANY 1 (%zz)",
        ] {
            assert!(bad.parse::<SyncListInForce>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn role_attributes_are_spelled_as_documented_and_read_as_the_location_rule_does() {
        let names: Vec<String> = RoleAttr::ALL.iter().map(|a| a.name("pgsqld")).collect();
        assert_eq!(
            names,
            [
                "pgha-pgsqld-nopromote",
                "pgha-pgsqld-nosync",
                "pgha-pgsqld-priority"
            ]
        );
        // (the node's permanent attributes, its flags)
        let on = |no_promote, no_sync, priority| RoleFlags {
            no_promote,
            no_sync,
            priority,
        };
        let table: &[(&[(&str, &str)], RoleFlags)] = &[
            (&[], on(false, false, 0)),
            (&[("pgha-pgsqld-nopromote", "true")], on(true, false, 0)),
            (&[("pgha-pgsqld-nopromote", "TRUE")], on(true, false, 0)),
            // Only what `eq true` matches: the rule would not bar "yes".
            (&[("pgha-pgsqld-nopromote", "yes")], on(false, false, 0)),
            (&[("pgha-pgsqld-nopromote", "false")], on(false, false, 0)),
            (&[("pgha-pgsqld-nopromote", " true")], on(false, false, 0)),
            (
                &[("pgha-pgsqld-nosync", "true"), ("pgha-pgsqld-priority", "-3")],
                on(false, true, -3),
            ),
            (&[("pgha-pgsqld-priority", "high")], on(false, false, 0)),
            // Another resource's, or another attribute: not ours.
            (
                &[("pgha-other-nopromote", "true"), ("nopromote", "true")],
                on(false, false, 0),
            ),
        ];
        for (attributes, flags) in table {
            assert_eq!(
                RoleFlags::from_attributes("pgsqld", attributes.iter().copied()),
                *flags,
                "{attributes:?}"
            );
        }
    }

    #[test]
    fn role_flags_have_one_spelling_and_round_trip() {
        // (flags, spelling)
        let table = [
            (RoleFlags::default(), "-"),
            (
                RoleFlags {
                    no_promote: true,
                    ..RoleFlags::default()
                },
                "nopromote",
            ),
            (
                RoleFlags {
                    no_promote: true,
                    no_sync: true,
                    priority: -5,
                },
                "nopromote,nosync,priority=-5",
            ),
            (
                RoleFlags {
                    priority: 7,
                    ..RoleFlags::default()
                },
                "priority=7",
            ),
        ];
        for (flags, spelling) in table {
            assert_eq!(flags.to_string(), spelling);
            assert_eq!(spelling.parse::<RoleFlags>(), Ok(flags));
        }
        for bad in ["", "nosync,", "priority=x", "sync"] {
            assert!(bad.parse::<RoleFlags>().is_err(), "{bad:?}");
        }
        let roles = NodeRoles(
            [
                ("node 3:x".to_string(), "nopromote,nosync".parse().unwrap()),
                ("n2".to_string(), "priority=2".parse().unwrap()),
            ]
            .into(),
        );
        let text = roles.to_string();
        assert_eq!(text, "n2:priority=2 node%203%3Ax:nopromote,nosync");
        assert_eq!(text.parse::<NodeRoles>(), Ok(roles.clone()));
        assert_eq!("".parse::<NodeRoles>(), Ok(NodeRoles::default()));
        assert!(roles.may_be_sync("n2") && !roles.may_be_sync("node 3:x"));
        assert!(!roles.may_promote("node 3:x") && roles.may_promote("elsewhere"));
        assert!("n2".parse::<NodeRoles>().is_err());
    }
}
