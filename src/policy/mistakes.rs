//! What only an operator's mistake explains, as pure rules over what
//! validate-all (level 10) and start gathered: the distribution's service
//! files ([`crate::pg::services`]) and the settings the server would start
//! with (`postgres -C`, [`crate::pg::settings::configured`]).
//!
//! A refusal is only for what is certainly wrong, and says the fix:
//! - [`distribution_service`]: the distribution would start this data
//!   directory too, at boot or at a package upgrade, outside Pacemaker (a
//!   former primary comes up writable beside the new one). ERR_INSTALLED:
//!   how PostgreSQL is installed on this node, which bars this node only;
//!   ERR_CONFIGURED would stop the resource on every node for one node's
//!   files.
//! - [`unreachable_listen_addresses`]: the standbys reach the primary over
//!   the network, and this node listens on the loopback only (PostgreSQL's
//!   default): once promoted, no standby follows it and no client reaches
//!   it through the VIP. ERR_ARGS: this node's postgresql.conf is wrong for
//!   the cluster, the class of "a path missing on this node"; again not
//!   ERR_CONFIGURED, which would stop a healthy primary elsewhere because a
//!   new node was set up wrong.
//!
//! Warnings, for what is a trade-off or only costs a feature:
//! - [`blind_log_checks`]: `rebuild=true` while the server's messages do
//!   not reach `logfile` in English. The monitor then never sees that a
//!   standby cannot follow, and reports it not replicating instead of
//!   rebuilding it; rebuild still repairs former primaries that pg_rewind
//!   cannot, which needs no log. Nothing is lost by starting.
//! - [`unbounded_slots`]: slots on with `max_slot_wal_keep_size = -1`. A
//!   standby that is down but configured keeps its slot and the WAL it
//!   holds grows until the primary's disk is full. But a bound is a choice
//!   between two failures (past it, the standby needs a rebuild), and an
//!   operator who watches the disk may rightly prefer none, as PostgreSQL's
//!   default does: an experienced DBA is told, not stopped. The primary
//!   publishes what each slot retains (`pgha-<rsc>-slot-wal`,
//!   `pgha_slot_retained_wal_bytes`) for the alert that goes with either
//!   choice.

use std::net::IpAddr;

use crate::ocf::code::OcfError;
use crate::pg::conninfo;
use crate::pg::services::Services;

/// The refusal when a service of the distribution runs this instance's
/// directories (its configuration directory or its data directory).
pub fn distribution_service(services: &Services) -> Option<OcfError> {
    let ours = |dirs: &[std::path::PathBuf]| dirs.iter().any(|d| services.ours.contains(d));
    if let Some(c) = services
        .debian
        .iter()
        .find(|c| c.start == "auto" && ours(&c.dirs))
    {
        return Some(OcfError::installed(format!(
            "{} starts at boot (start.conf: auto): echo disabled > {}",
            c.unit(),
            c.conf_dir.join("start.conf").display()
        )));
    }
    services.enabled.iter().find(|u| ours(&u.dirs)).map(|u| {
        OcfError::installed(format!(
            "{} is enabled for this data directory: systemctl disable {}",
            u.unit,
            u.unit.trim_end_matches(".service")
        ))
    })
}

/// The host (or address) a libpq connection string reaches over TCP
/// outside this host, if any: `hostaddr` when given (libpq connects there),
/// else `host`; a comma list of several. A path (or `@` abstract socket),
/// an empty host (libpq's default socket) and a loopback address stay on
/// this host.
fn remote_target(primary_conninfo: &str) -> Option<String> {
    let info = conninfo::parse(primary_conninfo).ok()?;
    let hosts = info.get("hostaddr").or(info.get("host")).unwrap_or("");
    hosts
        .split(',')
        .map(str::trim)
        .find(|h| !h.is_empty() && !h.starts_with('/') && !h.starts_with('@') && !is_loopback(h))
        .map(str::to_string)
}

/// `localhost`, or an address of the loopback network (127/8, ::1).
fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost") || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The refusal when, in a clone of more than one instance (`clone_max`)
/// whose standbys reach the primary over the network (`primary_conninfo`),
/// `listen_addresses` holds the loopback only, or nothing.
pub fn unreachable_listen_addresses(
    listen_addresses: &str,
    primary_conninfo: &str,
    clone_max: Option<u32>,
) -> Option<OcfError> {
    if clone_max.is_none_or(|n| n < 2) {
        return None;
    }
    let target = remote_target(primary_conninfo)?;
    let loopback_only = listen_addresses
        .split(',')
        .map(|a| a.trim())
        .filter(|a| !a.is_empty())
        .all(is_loopback);
    loopback_only.then(|| {
        OcfError::args(format!(
            "listen_addresses '{}' is loopback only, standbys connect to {target}: set listen_addresses = '*'",
            listen_addresses.trim()
        ))
    })
}

/// How the server writes its messages, as `postgres -C` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogSettings {
    pub logging_collector: String,
    pub log_destination: String,
    pub lc_messages: String,
}

/// Whether `lc_messages` gives messages in English: C, POSIX and their
/// variants (`C.UTF-8`), an `en` locale (`en_US.UTF-8`), or empty (the
/// environment's, which cannot be told here: no warning).
fn english(lc_messages: &str) -> bool {
    let language = lc_messages.trim().split(['.', '@', '_']).next().unwrap_or("");
    matches!(language, "" | "C" | "POSIX" | "en")
}

/// PostgreSQL's spellings of a true boolean.
fn is_on(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "on" | "true" | "yes" | "1"
    )
}

/// The warnings for `rebuild` while the monitor cannot read in `logfile`
/// why a standby cannot follow ([`crate::pg::follow`]): a logging collector
/// takes the server's messages elsewhere, a `log_destination` without
/// `stderr` too, and translated messages match none of the shapes read.
pub fn blind_log_checks(rebuild: bool, log: &LogSettings) -> Vec<String> {
    if !rebuild {
        return Vec::new();
    }
    let blind = "so a standby that cannot follow is reported not replicating, never rebuilt";
    let mut warnings = Vec::new();
    if is_on(&log.logging_collector) {
        warnings.push(format!(
            "rebuild=true with logging_collector=on: the server's messages go to its log_directory, not logfile, \
             {blind}; set logging_collector = off"
        ));
    }
    if !log.log_destination.split(',').any(|d| d.trim() == "stderr") {
        warnings.push(format!(
            "rebuild=true with log_destination={}: the server's messages do not reach logfile, {blind}; \
             include stderr",
            log.log_destination.trim()
        ));
    }
    if !english(&log.lc_messages) {
        warnings.push(format!(
            "rebuild=true with lc_messages={}: the agent reads the server's messages in English, {blind}; \
             set lc_messages = 'C'",
            log.lc_messages.trim()
        ));
    }
    warnings
}

/// The warning for slots without a bound on the WAL they keep:
/// `max_slot_wal_keep_size` as `postgres -C` shows it, None on a server
/// that has no such setting (PostgreSQL 12).
pub fn unbounded_slots(replication_slots: bool, max_slot_wal_keep_size: Option<&str>) -> Option<String> {
    if !replication_slots {
        return None;
    }
    let keep = "a standby that is down keeps its slot, whose WAL grows on the primary until its disk is full";
    match max_slot_wal_keep_size.map(str::trim) {
        None => Some(format!(
            "replication_slots=true, and PostgreSQL before 13 has no max_slot_wal_keep_size: {keep}; watch \
             pgha_slot_retained_wal_bytes"
        )),
        Some("-1") => Some(format!(
            "replication_slots=true and max_slot_wal_keep_size is -1: {keep}; set max_slot_wal_keep_size, or \
             watch pgha_slot_retained_wal_bytes"
        )),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ocf::code::OcfCode;
    use crate::pg::services::{DebianCluster, EnabledUnit};
    use std::path::PathBuf;

    fn paths(v: &[&str]) -> Vec<PathBuf> {
        v.iter().map(PathBuf::from).collect()
    }

    fn cluster(start: &str, dirs: &[&str]) -> DebianCluster {
        DebianCluster {
            version: "15".into(),
            name: "main".into(),
            conf_dir: PathBuf::from("/etc/postgresql/15/main"),
            start: start.into(),
            dirs: paths(dirs),
        }
    }

    fn unit(name: &str, dirs: &[&str]) -> EnabledUnit {
        EnabledUnit {
            unit: name.into(),
            dirs: paths(dirs),
        }
    }

    #[test]
    fn a_distribution_service_of_this_data_directory_is_refused_with_the_fix() {
        let debian_dirs = ["/etc/postgresql/15/main", "/var/lib/postgresql/15/main"];
        let ours = |v: &[&str]| paths(v);
        // (Debian clusters, enabled units, our directories, reason)
        type Row = (
            Vec<DebianCluster>,
            Vec<EnabledUnit>,
            Vec<PathBuf>,
            Option<&'static str>,
        );
        let table: Vec<Row> = vec![
            (vec![], vec![], ours(&["/srv/pg"]), None),
            // Debian: pgdata is the configuration directory, or datadir
            // the data directory.
            (
                vec![cluster("auto", &debian_dirs)],
                vec![],
                ours(&["/etc/postgresql/15/main", "/var/lib/postgresql/15/main"]),
                Some(
                    "postgresql@15-main starts at boot (start.conf: auto): echo disabled > /etc/postgresql/15/main/start.conf",
                ),
            ),
            (
                vec![cluster("auto", &debian_dirs)],
                vec![],
                ours(&["/srv/x", "/var/lib/postgresql/15/main"]),
                Some(
                    "postgresql@15-main starts at boot (start.conf: auto): echo disabled > /etc/postgresql/15/main/start.conf",
                ),
            ),
            (
                vec![cluster("auto", &debian_dirs)],
                vec![],
                ours(&["/srv/pg"]),
                None,
            ),
            (
                vec![cluster("manual", &debian_dirs)],
                vec![],
                ours(&["/var/lib/postgresql/15/main"]),
                None,
            ),
            (
                vec![cluster("disabled", &debian_dirs)],
                vec![],
                ours(&["/var/lib/postgresql/15/main"]),
                None,
            ),
            (
                vec![cluster("manual", &debian_dirs)],
                vec![unit("postgresql@15-main.service", &debian_dirs)],
                ours(&["/var/lib/postgresql/15/main"]),
                Some(
                    "postgresql@15-main.service is enabled for this data directory: systemctl disable postgresql@15-main",
                ),
            ),
            // PGDG and RHEL.
            (
                vec![],
                vec![unit("postgresql-17.service", &["/var/lib/pgsql/17/data"])],
                ours(&["/var/lib/pgsql/17/data"]),
                Some(
                    "postgresql-17.service is enabled for this data directory: systemctl disable postgresql-17",
                ),
            ),
            (
                vec![],
                vec![unit("postgresql-17.service", &["/var/lib/pgsql/17/data"])],
                ours(&["/srv/pg17"]),
                None,
            ),
        ];
        for (debian, enabled, ours, reason) in table {
            let what = format!("{debian:?} {enabled:?} {ours:?}");
            let found = distribution_service(&Services {
                debian,
                enabled,
                ours,
            });
            assert_eq!(found.as_ref().map(|e| e.reason.as_str()), reason, "{what}");
            if let Some(e) = found {
                assert_eq!(e.code, OcfCode::ErrInstalled, "{what}");
            }
        }
    }

    #[test]
    fn listen_addresses_standbys_cannot_reach_is_refused_only_when_certain() {
        let vip = "host=10.0.0.100 port=5432 user=replicator";
        // (listen_addresses, primary_conninfo, clone_max, refused)
        let table = [
            ("localhost", vip, Some(3), true),
            ("", vip, Some(2), true),
            ("127.0.0.1, ::1", vip, Some(3), true),
            ("localhost,127.0.1.1", vip, Some(3), true),
            ("*", vip, Some(3), false),
            ("0.0.0.0", vip, Some(3), false),
            ("localhost, 10.0.0.11", vip, Some(3), false),
            // A name other than localhost may be any address: not certain.
            ("node1", vip, Some(3), false),
            // One instance: nobody to reach it.
            ("localhost", vip, Some(1), false),
            ("localhost", vip, None, false),
            // Standbys on this host: a socket, the loopback, libpq's default.
            (
                "localhost",
                "host=/var/run/postgresql user=replicator",
                Some(2),
                false,
            ),
            ("localhost", "host=127.0.0.1 port=6432", Some(2), false),
            ("localhost", "user=replicator", Some(2), false),
            // hostaddr is where libpq connects.
            ("localhost", "host=db.example hostaddr=10.0.0.100", Some(2), true),
            ("localhost", "host=10.0.0.100 hostaddr=127.0.0.1", Some(2), false),
            ("localhost", "host=/tmp,10.0.0.100", Some(2), true),
        ];
        for (listen, conninfo, clone_max, refused) in table {
            let found = unreachable_listen_addresses(listen, conninfo, clone_max);
            assert_eq!(found.is_some(), refused, "{listen:?} {conninfo:?} {clone_max:?}");
            if let Some(e) = found {
                assert_eq!(e.code, OcfCode::ErrArgs);
                assert!(e.reason.ends_with(": set listen_addresses = '*'"), "{}", e.reason);
            }
        }
        assert_eq!(
            unreachable_listen_addresses("localhost", vip, Some(2))
                .unwrap()
                .reason,
            "listen_addresses 'localhost' is loopback only, standbys connect to 10.0.0.100: set listen_addresses = '*'"
        );
    }

    #[test]
    fn log_checks_made_blind_are_warned_of_with_rebuild_only() {
        let log = |collector: &str, destination: &str, messages: &str| LogSettings {
            logging_collector: collector.into(),
            log_destination: destination.into(),
            lc_messages: messages.into(),
        };
        // (settings, the warnings' settings)
        let table = [
            (log("off", "stderr", "C.UTF-8"), vec![]),
            (log("off", "stderr,csvlog", "en_US.UTF-8"), vec![]),
            (log("off", "stderr", "POSIX"), vec![]),
            (log("off", "stderr", "C"), vec![]),
            (log("off", "stderr", ""), vec![]),
            (log("on", "stderr", "C"), vec!["logging_collector=on"]),
            (log("off", "syslog", "C"), vec!["log_destination=syslog"]),
            (log("off", "csvlog", "C"), vec!["log_destination=csvlog"]),
            (
                log("off", "stderr", "de_DE.UTF-8"),
                vec!["lc_messages=de_DE.UTF-8"],
            ),
            // Catalan is no C locale.
            (
                log("off", "stderr", "ca_ES.UTF-8"),
                vec!["lc_messages=ca_ES.UTF-8"],
            ),
            (
                log("on", "jsonlog", "fr_FR"),
                vec![
                    "logging_collector=on",
                    "log_destination=jsonlog",
                    "lc_messages=fr_FR",
                ],
            ),
        ];
        for (settings, expected) in table {
            let warnings = blind_log_checks(true, &settings);
            assert_eq!(warnings.len(), expected.len(), "{settings:?}: {warnings:?}");
            for (warning, setting) in warnings.iter().zip(&expected) {
                assert!(
                    warning.starts_with(&format!("rebuild=true with {setting}: ")),
                    "{warning}"
                );
            }
            assert!(blind_log_checks(false, &settings).is_empty(), "{settings:?}");
        }
    }

    #[test]
    fn slots_without_a_bound_are_warned_of() {
        assert!(
            unbounded_slots(true, Some("-1"))
                .unwrap()
                .starts_with("replication_slots=true and max_slot_wal_keep_size is -1: ")
        );
        assert!(unbounded_slots(true, None).unwrap().contains("before 13"));
        assert_eq!(unbounded_slots(true, Some("20480")), None);
        assert_eq!(unbounded_slots(false, Some("-1")), None);
    }
}
