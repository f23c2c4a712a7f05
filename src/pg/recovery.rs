//! What makes a server start as a standby.
//!
//! Recovery settings are never written into the operator's configuration:
//! the agent creates `standby.signal` and passes `primary_conninfo` (with
//! `application_name` = the Pacemaker node name) and
//! `recovery_target_timeline=latest` on the server's command line, where
//! they take precedence over postgresql.conf and postgresql.auto.conf (so a
//! `primary_conninfo` left there by `pg_basebackup -R` cannot point the
//! standby elsewhere).

use crate::deadline::Deadline;
use crate::ocf::code::{OcfError, OcfResult};
use crate::pg::conninfo;
use crate::pg::instance::Instance;
use crate::userfs;

/// How soon a standby's startup process tries streaming again after a
/// failure. PostgreSQL's default is 5 s: after a failover a standby found
/// the new primary up to 5 s after it was there; one attempt a second,
/// while there is no primary, costs a fork and a connect.
const RETRY_INTERVAL: &str = "wal_retrieve_retry_interval=1s";

/// What bounds a WAL receiver's wait on a primary that is gone, unless the
/// operator's `primary_conninfo` sets it: in the lab, after the primary's
/// node lost power, the standbys' receivers sat up to 35 s in a connect to
/// the VIP (the kernel's SYN retries) before one reached its new holder.
/// `connect_timeout=2` (libpq's minimum) ends such a connect; with
/// `tcp_user_timeout` an established stream whose peer died fails once
/// data stays unacknowledged for 5 s instead of waiting for
/// `wal_receiver_timeout`.
const DEAD_PEER_BOUNDS: [(&str, &str); 2] = [("connect_timeout", "2"), ("tcp_user_timeout", "5000")];

/// The server arguments that make a standby follow the primary, through
/// slot `slot` when given. The operator's `start_opts` may set
/// `wal_retrieve_retry_interval` themselves; otherwise it is [`RETRY_INTERVAL`].
pub fn standby_args(
    primary_conninfo: &str,
    node_name: &str,
    slot: Option<&str>,
    start_opts: &[String],
) -> Vec<String> {
    let mut args = vec![
        "-c".into(),
        format!(
            "primary_conninfo={}{} application_name={}",
            primary_conninfo.trim(),
            conninfo::missing_defaults(primary_conninfo, &DEAD_PEER_BOUNDS),
            conninfo::quote_value(node_name)
        ),
        "-c".into(),
        "recovery_target_timeline=latest".into(),
    ];
    if let Some(slot) = slot {
        args.extend(["-c".to_string(), format!("primary_slot_name={slot}")]);
    }
    if !start_opts
        .iter()
        .any(|w| w.contains("wal_retrieve_retry_interval"))
    {
        args.extend(["-c".to_string(), RETRY_INTERVAL.to_string()]);
    }
    args
}

/// Creates `standby.signal` (empty, mode 0600) if missing.
///
/// The data directory is the system user's: the file is created by that
/// user, exclusively and without following symlinks ([`userfs::create_empty`]),
/// so a symlink planted there (`standby.signal -> /etc/ld.so.preload`) makes
/// the start fail with a reason instead of making root create its target.
pub fn write_standby_signal(inst: &Instance, deadline: Deadline) -> OcfResult<()> {
    let path = inst.datadir.join("standby.signal");
    userfs::create_empty(&inst.user, deadline, &path)?
        .map(|_| ())
        .map_err(|e| OcfError::generic(format!("cannot create standby.signal: {e}")).with_source(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standby_args_name_the_node() {
        assert_eq!(
            standby_args("host=10.0.0.9 user=replicator", "node-1", None, &[]),
            vec![
                "-c",
                "primary_conninfo=host=10.0.0.9 user=replicator connect_timeout=2 tcp_user_timeout=5000 \
                 application_name=node-1",
                "-c",
                "recovery_target_timeline=latest",
                "-c",
                "wal_retrieve_retry_interval=1s"
            ]
        );
        assert!(
            standby_args("host=x", "odd name", None, &[])
                .get(1)
                .unwrap()
                .ends_with("application_name='odd name'")
        );
        assert_eq!(
            standby_args("host=x", "n", Some("pgha_n"), &[])[5],
            "primary_slot_name=pgha_n"
        );
        // The operator's own bounds win.
        assert!(
            standby_args("host=x connect_timeout=10", "n", None, &[])[1].starts_with(
                "primary_conninfo=host=x connect_timeout=10 tcp_user_timeout=5000 application_name"
            )
        );
        // The operator's own retry interval wins.
        let own = ["-c".to_string(), "wal_retrieve_retry_interval=200ms".to_string()];
        assert!(
            !standby_args("host=x", "n", None, &own)
                .iter()
                .any(|a| a.contains("retry"))
        );
    }
}
