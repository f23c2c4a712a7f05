//! The only reader of the process environment.
//!
//! Pacemaker passes everything an agent needs in environment variables:
//! instance parameters as `OCF_RESKEY_<name>`, meta attributes as
//! `OCF_RESKEY_CRM_meta_<attr>` (with `-` turned into `_`), and logging
//! settings as `HA_*`. They are read once, here, into [`OcfEnv`]; the rest of
//! the agent works on typed values and can be tested with a plain map.

use std::collections::BTreeMap;
use std::time::Duration;

const RESKEY_PREFIX: &str = "OCF_RESKEY_";
const META_PREFIX: &str = "CRM_meta_";
const ALERT_PREFIX: &str = "CRM_alert_";

/// Everything the agent reads from its environment.
#[derive(Clone, Debug, Default)]
pub struct OcfEnv {
    /// Instance parameters, by parameter name (`OCF_RESKEY_pgdata` -> `pgdata`).
    pub params: BTreeMap<String, String>,
    /// Meta attributes, by name (`OCF_RESKEY_CRM_meta_timeout` -> `timeout`).
    pub meta: BTreeMap<String, String>,
    /// `OCF_RESOURCE_INSTANCE`: the resource's name in the CIB.
    pub instance: Option<String>,
    /// `OCF_CHECK_LEVEL`: 0 (default), 10 or 20.
    pub check_level: Option<String>,
    /// `OCF_EXIT_REASON_PREFIX`, the marker Pacemaker looks for on stderr.
    pub exit_reason_prefix: Option<String>,
    /// `HA_LOGFACILITY`: syslog facility, or empty / `none` for no syslog.
    pub log_facility: Option<String>,
    /// `HA_LOGFILE`: a file every message is appended to.
    pub log_file: Option<String>,
    /// `HA_DEBUGLOG`: a file debug messages (and others) are appended to.
    pub debug_log: Option<String>,
    /// `HA_debug`: debug messages are logged unless this is absent or `0`.
    pub debug: Option<String>,
    /// `PATH`, to find PostgreSQL binaries when `bindir` is not set.
    pub path: Option<String>,
    /// What Pacemaker tells an alert agent (`pgha alert`), by name
    /// (`CRM_alert_kind` -> `kind`).
    pub alert: BTreeMap<String, String>,
    /// `PGHA_TEST_ROOT`, for the integration tests only: the directory the
    /// distribution's service files are read under instead of `/`
    /// ([`crate::pg::services`]), so that a test crafts a fake `/etc`
    /// instead of writing the real one. Nothing is written there.
    pub test_root: Option<String>,
}

impl OcfEnv {
    /// Reads the real process environment.
    pub fn from_process() -> Self {
        // A parameter that is not UTF-8 is kept, with U+FFFD in its place,
        // so that its check names it instead of calling it missing.
        Self::from_vars(std::env::vars_os().filter_map(|(k, v)| {
            let k = k.into_string().ok()?;
            let v = match v.into_string() {
                Ok(v) => v,
                Err(v) if k.starts_with(RESKEY_PREFIX) => v.to_string_lossy().into_owned(),
                Err(_) => return None,
            };
            Some((k, v))
        }))
    }

    /// Builds the environment from name/value pairs (tests use this).
    pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut env = OcfEnv::default();
        for (name, value) in vars {
            if let Some(key) = name.strip_prefix(ALERT_PREFIX) {
                env.alert.insert(key.to_string(), value);
                continue;
            }
            if let Some(key) = name.strip_prefix(RESKEY_PREFIX) {
                match key.strip_prefix(META_PREFIX) {
                    Some(meta) => {
                        env.meta.insert(meta.to_string(), value);
                    }
                    None => {
                        env.params.insert(key.to_string(), value);
                    }
                }
                continue;
            }
            let slot = match name.as_str() {
                "OCF_RESOURCE_INSTANCE" => &mut env.instance,
                "OCF_CHECK_LEVEL" => &mut env.check_level,
                "OCF_EXIT_REASON_PREFIX" => &mut env.exit_reason_prefix,
                "HA_LOGFACILITY" => &mut env.log_facility,
                "HA_LOGFILE" => &mut env.log_file,
                "HA_DEBUGLOG" => &mut env.debug_log,
                "HA_debug" => &mut env.debug,
                "PATH" => &mut env.path,
                "PGHA_TEST_ROOT" => &mut env.test_root,
                _ => continue,
            };
            *slot = Some(value);
        }
        env
    }

    /// A meta attribute, with empty values treated as absent.
    pub fn meta(&self, name: &str) -> Option<&str> {
        self.meta
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
    }

    /// The action's timeout (`CRM_meta_timeout`, milliseconds), if given.
    pub fn timeout(&self) -> Option<Duration> {
        self.meta("timeout")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|ms| *ms > 0)
            .map(Duration::from_millis)
    }

    /// The operation's interval (`CRM_meta_interval`, milliseconds); 0 if absent.
    pub fn interval_ms(&self) -> u64 {
        self.meta("interval")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(0)
    }

    /// The resource name without a clone suffix (`pgsqld:1` -> `pgsqld`), used
    /// in log tags, attribute names and the agent's file names under
    /// `/run/pgha`. None when `OCF_RESOURCE_INSTANCE` is missing or is not a
    /// Pacemaker resource id: such a name must never become a path
    /// (`../../tmp/x` would write outside `/run/pgha`) or an attribute name.
    pub fn resource_name(&self) -> Option<&str> {
        let instance = self.instance.as_deref()?.trim();
        let name = instance.split(':').next().unwrap_or(instance);
        is_resource_id(name).then_some(name)
    }
}

/// Longest resource name accepted: far above any real one, and short enough
/// that `pgha-<rsc>-<what>` and `/run/pgha/<rsc>.state` stay valid names.
const RESOURCE_ID_MAX: usize = 200;

/// An XML ID as Pacemaker requires of resource ids (ASCII subset): a letter
/// or `_`, then letters, digits, `_`, `.`, `-`. Never `/`, never `..` alone.
pub fn is_resource_id(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        && name.len() <= RESOURCE_ID_MAX
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> OcfEnv {
        OcfEnv::from_vars(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    #[test]
    fn splits_parameters_from_meta_attributes() {
        let e = env(&[
            ("OCF_RESKEY_pgdata", "/srv/pg"),
            ("OCF_RESKEY_CRM_meta_timeout", "20000"),
            ("OCF_RESKEY_CRM_meta_interval", "15000"),
            ("UNRELATED", "x"),
        ]);
        assert_eq!(e.params.get("pgdata").unwrap(), "/srv/pg");
        assert!(!e.params.contains_key("CRM_meta_timeout"));
        assert_eq!(e.timeout(), Some(Duration::from_secs(20)));
        assert_eq!(e.interval_ms(), 15000);
    }

    #[test]
    fn missing_or_bad_timeout_is_none() {
        assert_eq!(env(&[]).timeout(), None);
        assert_eq!(env(&[("OCF_RESKEY_CRM_meta_timeout", "abc")]).timeout(), None);
        assert_eq!(env(&[("OCF_RESKEY_CRM_meta_timeout", "0")]).timeout(), None);
    }

    #[test]
    fn resource_name_drops_the_clone_suffix() {
        let e = env(&[("OCF_RESOURCE_INSTANCE", "pgsqld:2")]);
        assert_eq!(e.resource_name(), Some("pgsqld"));
    }

    #[test]
    fn a_resource_name_that_could_leave_run_pgha_is_refused() {
        assert_eq!(env(&[]).resource_name(), None, "no shared default");
        for bad in ["../../tmp/x", "/etc/x", "..", "a/b", "", "-x", "a b", "1abc"] {
            let e = env(&[("OCF_RESOURCE_INSTANCE", bad)]);
            assert_eq!(e.resource_name(), None, "{bad}");
        }
        for good in ["pgsqld", "_p", "pg-sql.d_1"] {
            assert!(is_resource_id(good), "{good}");
        }
    }
}
