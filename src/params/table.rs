//! The parameter table: every parameter of the agent once, with its type,
//! default, range, reloadability and documentation. The metadata XML, the
//! man pages, the parameter table of docs/reference.md and
//! [`super::Config::parse`] read it, and nothing else restates a default or
//! a range.

use super::{Bootstrap, ReplicationMode};
use crate::ocf::metadata::{Content, Parameter};

/// The value type of a parameter, as OCF 1.1 `content@type` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    String,
    Integer,
    Boolean,
    /// One of these words (OCF 1.1 `select`, whose `<option>`s pcs and
    /// crmsh show): the list the parameter's enum spells and parses.
    Select(&'static [&'static str]),
}

impl Kind {
    pub fn ocf_name(self) -> &'static str {
        match self {
            Kind::String => "string",
            Kind::Integer => "integer",
            Kind::Boolean => "boolean",
            Kind::Select(_) => "select",
        }
    }

    /// The allowed values of a select; empty for the other types.
    pub fn options(self) -> &'static [&'static str] {
        match self {
            Kind::Select(options) => options,
            _ => &[],
        }
    }
}

/// One parameter of the agent.
#[derive(Debug)]
pub struct ParamSpec {
    pub name: &'static str,
    pub kind: Kind,
    /// The literal default, shown in the metadata; None when there is none or
    /// when it is computed (the long description then says how).
    pub default: Option<&'static str>,
    pub required: bool,
    /// For an integer, the smallest and largest value accepted: the one
    /// place the range is written. [`super::Config::parse`] checks it, and a test
    /// checks that the long description states it (`min-max`).
    pub range: Option<(u64, u64)>,
    /// A change takes effect without restarting PostgreSQL (`reload-agent`).
    pub reloadable: bool,
    /// Parameters in the same group must not be equal across resources.
    pub unique_group: Option<&'static str>,
    pub shortdesc: &'static str,
    pub longdesc: &'static str,
}

/// Every parameter, in the order the metadata and the docs show them.
pub const PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "pgdata",
        kind: Kind::String,
        default: None,
        required: true,
        range: None,
        reloadable: false,
        unique_group: Some("pgdata"),
        shortdesc: "Configuration directory (pg_ctl -D)",
        longdesc: "Absolute path of the directory holding postgresql.conf, given to the server as -D. \
                   On Debian this is /etc/postgresql/<major>/<cluster>; elsewhere it is usually the data directory itself.",
    },
    ParamSpec {
        name: "datadir",
        kind: Kind::String,
        default: None,
        required: false,
        range: None,
        reloadable: false,
        unique_group: Some("datadir"),
        shortdesc: "Data directory, when it differs from pgdata",
        longdesc: "Absolute path of the data directory (data_directory), where PG_VERSION, global/pg_control and \
                   postmaster.pid live. Defaults to pgdata; set it when postgresql.conf sets data_directory elsewhere.",
    },
    ParamSpec {
        name: "bindir",
        kind: Kind::String,
        default: None,
        required: false,
        range: None,
        reloadable: false,
        unique_group: None,
        shortdesc: "Directory of the PostgreSQL server binaries",
        longdesc: "Absolute path of the directory holding postgres and pg_controldata. Detected by default from \
                   the major version in PG_VERSION: /usr/lib/postgresql/<major>/bin (Debian), then \
                   /usr/pgsql-<major>/bin (RHEL), then PATH.",
    },
    ParamSpec {
        name: "system_user",
        kind: Kind::String,
        default: Some("postgres"),
        required: false,
        range: None,
        reloadable: false,
        unique_group: None,
        shortdesc: "Operating system user that owns and runs PostgreSQL",
        longdesc: "Every PostgreSQL program runs as this user, with its supplementary groups. It must own the data \
                   directory and must not be root. The health probe connects as the database role of the same name.",
    },
    ParamSpec {
        name: "pghost",
        kind: Kind::String,
        default: Some("/var/run/postgresql"),
        required: false,
        range: None,
        reloadable: true,
        unique_group: None,
        shortdesc: "Socket directory or address the probe connects to",
        longdesc: "An absolute path is a Unix socket directory (peer authentication as system_user works there); \
                   anything else is a host name or IP address reached over TCP.",
    },
    ParamSpec {
        name: "pgport",
        kind: Kind::Integer,
        default: Some("5432"),
        required: false,
        range: Some((1, 65535)),
        reloadable: false,
        unique_group: None,
        shortdesc: "Port PostgreSQL listens on",
        longdesc: "The server's port (1-65535), used by the probe and passed to the server at start as -p \
                   so that the probe and the server agree.",
    },
    ParamSpec {
        name: "pgdatabase",
        kind: Kind::String,
        default: Some("postgres"),
        required: false,
        range: None,
        reloadable: true,
        unique_group: None,
        shortdesc: "Database the probe connects to",
        longdesc: "The database the health probe connects to. It must exist and accept connections from system_user.",
    },
    ParamSpec {
        name: "probe_timeout",
        kind: Kind::Integer,
        default: Some("3"),
        required: false,
        range: Some((1, 3600)),
        reloadable: true,
        unique_group: None,
        shortdesc: "Seconds the health probe may take",
        longdesc: concat!(
            "Upper bound, in seconds (1-3600), of one health probe: connect and the query ",
            crate::probe_query!(),
            ". A server that does not answer in time \
                   (frozen or overloaded) is reported as failed. Never longer than what is left of the action's timeout. \
                   With the default monitor interval (3 s on the primary), a frozen primary is reported within \
                   6 s; raise it on a host where connecting can take seconds under load."
        ),
    },
    ParamSpec {
        name: "start_opts",
        kind: Kind::String,
        default: Some(""),
        required: false,
        range: None,
        reloadable: false,
        unique_group: None,
        shortdesc: "Extra arguments for the postgres server",
        longdesc: "Extra arguments given to postgres at start, e.g. -c config_file=/etc/pg/postgresql.conf. \
                   Split into words on spaces; single or double quotes group words. No shell ever sees them.",
    },
    ParamSpec {
        name: "logfile",
        kind: Kind::String,
        default: None,
        required: false,
        range: None,
        reloadable: false,
        unique_group: None,
        shortdesc: "File for the server's own output",
        longdesc: concat!(
            "Absolute path of the file the server's stdout and stderr are appended to (what it prints before \
             or without a logging collector); start quotes startup errors from it. Default: ",
            crate::default_logfile_dir!(),
            "/<resource>.log."
        ),
    },
    ParamSpec {
        name: "primary_conninfo",
        kind: Kind::String,
        default: Some(""),
        required: false,
        range: None,
        reloadable: false,
        unique_group: None,
        shortdesc: "How standbys reach the primary (promotable clone)",
        longdesc: "libpq connection string a standby uses to stream from the primary, typically \
                   host=<VIP> port=5432 user=replicator, in libpq's keyword=value form (a URI is refused: the agent \
                   appends to it). A password= or sslpassword= is refused (command lines are world-readable): put the password in \
                   system_user's ~/.pgpass, and use a key only system_user can read. \
                   The agent adds application_name=<node name> and passes it to the server at start with \
                   recovery_target_timeline=latest; postgresql.conf is never rewritten. Required in a promotable clone.",
    },
    ParamSpec {
        name: "rewind",
        kind: Kind::Boolean,
        default: Some("false"),
        required: false,
        range: None,
        reloadable: true,
        unique_group: None,
        shortdesc: "Rewind a diverged former primary with pg_rewind",
        longdesc: "When a former primary comes back after a failover and its history diverged from the new \
                   primary's timeline, run pg_rewind against the primary (primary_conninfo with dbname=postgres; \
                   needs wal_log_hints or data checksums, and a role allowed to run pg_rewind) and start it as a \
                   standby. When false, such a node refuses to start and says it needs pg_rewind or a rebuild.",
    },
    ParamSpec {
        name: "bootstrap",
        kind: Kind::Select(Bootstrap::NAMES),
        default: Some("none"),
        required: false,
        range: None,
        reloadable: true,
        unique_group: None,
        shortdesc: "none, or basebackup: build a missing or empty data directory (promotable clone)",
        longdesc: "basebackup: when a clone instance starts on a node whose data directory is missing or empty, \
                   the agent copies the current primary with pg_basebackup (as system_user, over primary_conninfo, \
                   -X stream, through the node's slot when replication_slots is on) and starts the copy as a standby. \
                   The copy is taken only from the node whose monitor reports the primary, and is discarded unless \
                   its backup_label says it came from a primary. Refused when the directory is not empty, not owned \
                   by system_user, is itself a mount point, or is not on data_mount, and when the primary has \
                   tablespaces other than pg_default and pg_global (pg_basebackup would write them at their absolute \
                   paths, outside the copy's directory). The copy must fit with a tenth to spare, plus the primary's \
                   max_wal_size for the WAL streamed while it runs (1 GB when the primary cannot be asked), and stops \
                   when the free space falls below what is left to copy. It runs inside start: size \
                   op start timeout= for the copy (docs/administration.md: sizing the start timeout for copies). none (the default): a missing data directory \
                   fails the start, so that a disk that failed to mount is never filled over; without data_mount, \
                   validate-all warns of that.",
    },
    ParamSpec {
        name: "rebuild",
        kind: Kind::Boolean,
        default: Some("false"),
        required: false,
        range: None,
        reloadable: true,
        unique_group: None,
        shortdesc: "Rebuild a node that cannot follow the primary (promotable clone)",
        longdesc: "When a former primary diverged and pg_rewind cannot repair it (or rewind is false), or when the \
                   monitor found that a standby cannot follow the primary (the WAL it needs was removed, its \
                   timeline forked), start moves the old data directory aside (renamed <datadir>.pgha-old-<time> \
                   in the same directory, never deleted; the log says where) and builds a new copy as bootstrap=basebackup \
                   does. The copy must fit next to the old data, which is checked before it is written. A standby is \
                   rebuilt only when the primary confirms what its log said: pg_rewind --dry-run finds its history \
                   diverged, or the primary's oldest WAL segment (pg_ls_dir of pg_wal, through primary_conninfo with \
                   dbname=postgres, so the role needs what pg_rewind needs) starts after the end of the WAL the \
                   standby holds; without that answer it starts as a standby and the log says why. The server log is \
                   read as PostgreSQL writes it to logfile in English: lc_messages in another language, a \
                   log_destination other than stderr, a logging collector writing elsewhere, or a log_line_prefix \
                   holding a text such as 'LOG:  ' keep the cause from being seen (the standby is then reported as \
                   not replicating, never rebuilt). A node with tablespaces is never rebuilt.",
    },
    ParamSpec {
        name: "data_mount",
        kind: Kind::String,
        default: Some(""),
        required: false,
        range: None,
        reloadable: true,
        unique_group: None,
        shortdesc: "Mount point the data directory must be on before a copy is made",
        longdesc: "Absolute path of the mount point that holds the data directory, e.g. /var/lib/postgresql. \
                   When set, bootstrap and rebuild copy nothing unless a file system is mounted there and the data \
                   directory is on it: a disk that failed to appear leaves the start failed instead of filling the \
                   root file system. Empty: not checked.",
    },
    ParamSpec {
        name: "maxlag",
        kind: Kind::Integer,
        default: Some("0"),
        required: false,
        range: Some((0, u64::MAX)),
        reloadable: true,
        unique_group: None,
        shortdesc: "Replication lag, in bytes, beyond which a standby may not be promoted",
        longdesc: "A standby whose flushed WAL is more than this many bytes behind the primary gets a negative \
                   promotion score, so it is never promoted while a closer standby exists. 0 disables the check. \
                   Also the bound of the node attribute pgha-<resource>-readable: 1 while a standby streams and \
                   its replay is within maxlag bytes of the primary (one WAL segment when 0), for a read-only VIP.",
    },
    ParamSpec {
        name: "replication_mode",
        kind: Kind::Select(ReplicationMode::NAMES),
        default: Some("async"),
        required: false,
        range: None,
        reloadable: true,
        unique_group: None,
        shortdesc: "async, sync or strict-sync",
        longdesc: "async: the primary does not wait for standbys. sync: the primary keeps \
                   synchronous_standby_names (ALTER SYSTEM, visible in postgresql.auto.conf) equal to \
                   ANY sync_standbys of the standbys that really stream (a new primary: of the standbys expected to \
                   follow it), and falls back to async only when none has streamed for sync_grace seconds. strict-sync: never falls back: with no standby, commits wait. In both sync modes \
                   a standby is promoted only when enough of the standbys the primary listed take part in the \
                   election that one of them has every acknowledged commit (N-k+1 of N for ANY k) and none of them \
                   is ahead: otherwise strict-sync waits for them, with no node promotable, and sync waits up to \
                   sync_grace, then promotes with a warning.",
    },
    ParamSpec {
        name: "sync_standbys",
        kind: Kind::Integer,
        default: Some("1"),
        required: false,
        range: Some((1, 100)),
        reloadable: true,
        unique_group: None,
        shortdesc: "How many standbys confirm each commit in sync modes",
        longdesc: "The number of standbys (1-100) that must confirm a commit in sync and strict-sync modes \
                   (ANY n in synchronous_standby_names); fewer when fewer stream, in sync mode.",
    },
    ParamSpec {
        name: "replication_slots",
        kind: Kind::Boolean,
        default: Some("true"),
        required: false,
        range: None,
        reloadable: false,
        unique_group: None,
        shortdesc: "Keep one physical replication slot per cluster node (promotable clone)",
        longdesc: "The primary keeps a physical slot pgha_<node> for every other cluster node (a node name \
                   that is not already lower-case letters, digits and _ is folded to them, with a short hash of the \
                   exact name appended so that no two nodes share a slot), created before \
                   the standby needs it (and right after a promotion), and each standby streams through its slot \
                   (primary_slot_name), so a standby that falls behind does not lose the WAL it needs. Slots of \
                   nodes that left the cluster (no longer in crm_node -l and the CIB) are dropped after slot_grace seconds; \
                   only slots named pgha_* are touched. The primary lists its slots in the node attribute \
                   pgha-<resource>-slots.",
    },
    ParamSpec {
        name: "sync_grace",
        kind: Kind::Integer,
        default: Some("30"),
        required: false,
        range: Some((0, 86_400)),
        reloadable: true,
        unique_group: None,
        shortdesc: "Seconds sync mode waits for a standby before it degrades to asynchronous",
        longdesc: "With replication_mode=sync, when no standby streams (right after a promotion, or when the last \
                   synchronous standby went away), commits wait for the standbys the primary expects for up to \
                   sync_grace seconds (0-86400) before the primary acknowledges them alone; its monitor is \
                   DEGRADED_PROMOTED once the wait has lasted 10 s, and while commits are acknowledged alone. Longer: a second failure soon after the first loses no \
                   acknowledged commit, but writes stall that long when no standby can follow. strict-sync never \
                   degrades. In every mode but strict-sync, also how long a candidate waits for a more advanced \
                   node marked pgha-<resource>-nopromote before it is promoted without that node's WAL.",
    },
    ParamSpec {
        name: "slot_grace",
        kind: Kind::Integer,
        default: Some("600"),
        required: false,
        range: Some((0, 31_536_000)),
        reloadable: true,
        unique_group: None,
        shortdesc: "Seconds before the slot of a departed node is dropped",
        longdesc: "How long (0-31536000 seconds) the primary keeps the inactive slot of a node that is no longer \
                   in the cluster before dropping it, so that its retained WAL cannot fill the primary's disk.",
    },
];

impl ParamSpec {
    /// The parameter as the OCF metadata describes it.
    pub fn ocf(&self) -> Parameter {
        Parameter {
            name: self.name,
            unique_group: self.unique_group,
            required: self.required,
            reloadable: self.reloadable,
            shortdesc: self.shortdesc,
            longdesc: self.longdesc,
            content: Content {
                type_name: self.kind.ocf_name(),
                default: self.default,
                options: self.kind.options(),
            },
        }
    }
}

/// Every parameter of [`PARAMS`] as the OCF metadata describes it.
pub fn ocf_parameters() -> Vec<Parameter> {
    PARAMS.iter().map(ParamSpec::ocf).collect()
}

/// Looks a parameter up by name.
pub fn spec(name: &str) -> Option<&'static ParamSpec> {
    PARAMS.iter().find(|p| p.name == name)
}
