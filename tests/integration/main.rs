//! Integration tests: the built agent, driven through its OCF environment,
//! against real PostgreSQL servers and real Pacemaker tools. They need root
//! (the agent switches to the postgres user, as under Pacemaker).

mod util;

/// Standbys that build themselves: bootstrap=basebackup and rebuild (issue 14).
mod build;
/// Replication clients that are not nodes, names that need quoting or
/// collide as slot names, passwords in primary_conninfo.
mod clients;
/// The answers Pacemaker acts on, under broken configuration and at the edges.
mod contract;
/// Crashes, freezes, stale pid files and servers that refuse to start.
mod faults;
/// Issue 23: crash recovery's durability, the SQL session's credentials and
/// search_path, secrets on command lines, children outliving the agent.
mod hardening;
/// Issue 23: monitor and stop on a data directory whose file system stops
/// answering (a FUSE passthrough that hangs).
mod hung_fs;
/// The sequences of resource-agents' ocft config for pgsqlms.
mod lifecycle;
/// meta-data against the OCF 1.1 schema pcs uses, and through crm_resource/pcs.
mod metadata;
/// `pgha status --prometheus` checked by Prometheus's parser, and the
/// alert agent `pgha alert`.
mod monitoring;
/// The positions standbys publish for the election, after a full restart.
mod positions;
/// Root steered by nothing postgres plants: symlinks, FIFOs, garbage lock files.
mod privileges;
/// The quorum gate of a promotion in the sync modes, the election's
/// rounds, and timelines compared by history.
mod quorum;
/// Streaming replication: standby start, promote, demote, crash, rewind.
mod replication;
/// Issue 23 around start and stop: the role a start checks, the memory a
/// restart or a reboot keeps, long crash recovery, concurrent runs.
mod restarts;
/// Per-node roles (nopromote, nosync, priority) and the read VIP's flag.
mod roles;
/// validate-all at levels 0 and 10, good and bad values, with their codes.
mod validate;
