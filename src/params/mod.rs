//! The parameters: their table ([`table`], re-exported as [`PARAMS`]) and
//! the typed configuration read from it.
//!
//! [`PARAMS`] declares every parameter once: the metadata XML, the man page,
//! the table in docs/reference.md and the syntax checks are all generated from it, so they
//! cannot disagree (PAF's POD and metadata drifted apart). [`Config::parse`]
//! turns `OCF_RESKEY_*` values into types with syntax checks only: no file
//! system, no user database, no cluster. That is OCF_CHECK_LEVEL 0, which
//! `pcs --agent-validation` and `crm_resource --validate` run on any node.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::ocf::code::{OcfError, OcfResult};
use crate::pg::conninfo;
use crate::pg::instance::Settings;
pub use crate::pg::session::PgHost;

mod table;
pub use table::{Kind, PARAMS, ParamSpec, ocf_parameters, spec};

/// The agent's configuration, checked for syntax only.
#[derive(Clone, Debug)]
pub struct Config {
    pub pgdata: PathBuf,
    pub datadir: PathBuf,
    pub bindir: Option<PathBuf>,
    pub system_user: String,
    pub pghost: PgHost,
    pub pgport: u16,
    pub pgdatabase: String,
    pub probe_timeout: Duration,
    pub start_opts: Vec<String>,
    pub logfile: PathBuf,
    /// The connection base standbys stream from (empty: none given).
    pub primary_conninfo: String,
    pub rewind: bool,
    /// bootstrap=basebackup: a missing or empty data directory is copied
    /// from the primary.
    pub bootstrap: bool,
    /// A node that cannot follow the primary is copied again.
    pub rebuild: bool,
    /// The mount point the data directory must be on before a copy.
    pub data_mount: Option<PathBuf>,
    /// Bytes of lag beyond which a standby is not promotable; 0 = no limit.
    pub maxlag: u64,
    pub replication_mode: ReplicationMode,
    pub sync_standbys: u32,
    pub replication_slots: bool,
    pub slot_grace_s: u64,
    pub sync_grace_s: u64,
}

impl Config {
    /// What PostgreSQL needs to know of the instance, before the host is
    /// checked ([`crate::pg::instance::Instance::resolve`]).
    pub fn instance_settings(&self) -> Settings {
        Settings {
            pgdata: self.pgdata.clone(),
            datadir: self.datadir.clone(),
            bindir: self.bindir.clone(),
            system_user: self.system_user.clone(),
            host: self.pghost.clone(),
            port: self.pgport,
            dbname: self.pgdatabase.clone(),
            probe_timeout: self.probe_timeout,
            start_opts: self.start_opts.clone(),
            logfile: self.logfile.clone(),
        }
    }
}

/// How commits wait for standbys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplicationMode {
    Async,
    Sync,
    StrictSync,
}

impl ReplicationMode {
    /// Every mode, in the order the metadata lists them.
    pub const ALL: [ReplicationMode; 3] = [
        ReplicationMode::Async,
        ReplicationMode::Sync,
        ReplicationMode::StrictSync,
    ];
    /// The values of `replication_mode`: the table's select options, which
    /// [`Self::parse`] accepts (a test checks they are [`Self::ALL`]).
    pub const NAMES: &'static [&'static str] = &[
        ReplicationMode::Async.name(),
        ReplicationMode::Sync.name(),
        ReplicationMode::StrictSync.name(),
    ];

    /// The value's one spelling.
    pub const fn name(self) -> &'static str {
        match self {
            ReplicationMode::Async => "async",
            ReplicationMode::Sync => "sync",
            ReplicationMode::StrictSync => "strict-sync",
        }
    }

    fn parse(v: &str) -> OcfResult<ReplicationMode> {
        choice("replication_mode", v, &Self::ALL, Self::name)
    }
}

/// What start does with a missing or empty data directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bootstrap {
    /// Fails the start: a disk that failed to mount is never filled over.
    None,
    /// Copies the primary with pg_basebackup.
    Basebackup,
}

impl Bootstrap {
    pub const ALL: [Bootstrap; 2] = [Bootstrap::None, Bootstrap::Basebackup];
    /// The values of `bootstrap`, as [`ReplicationMode::NAMES`].
    pub const NAMES: &'static [&'static str] = &[Bootstrap::None.name(), Bootstrap::Basebackup.name()];

    pub const fn name(self) -> &'static str {
        match self {
            Bootstrap::None => "none",
            Bootstrap::Basebackup => "basebackup",
        }
    }

    fn parse(v: &str) -> OcfResult<Bootstrap> {
        choice("bootstrap", v, &Self::ALL, Self::name)
    }
}

/// The one of `all` that `value` names, ignoring case and reading `_` as
/// `-` (`strict_sync` has always been accepted); otherwise ERR_CONFIGURED
/// with the list: `replication_mode='semi': use async, sync or strict-sync`.
fn choice<T: Copy>(param: &str, value: &str, all: &[T], name: fn(T) -> &'static str) -> OcfResult<T> {
    let word = value.trim().to_ascii_lowercase();
    if let Some(found) = all.iter().copied().find(|v| name(*v) == word.replace('_', "-")) {
        return Ok(found);
    }
    let names: Vec<&str> = all.iter().map(|v| name(*v)).collect();
    let list = match names.split_last() {
        Some((last, [])) => last.to_string(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    };
    Err(OcfError::configured(format!("{param}='{word}': use {list}")))
}

/// Where the instance is: the only parameters stop needs. Parsed apart
/// from everything else so that a mistake in an unrelated parameter
/// (`probe_timeout=0`, an unbalanced quote in `start_opts`) can never keep
/// stop from stopping: a failed stop gets the node fenced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    pub pgdata: PathBuf,
    pub datadir: PathBuf,
}

impl Location {
    pub fn parse(values: &BTreeMap<String, String>) -> OcfResult<Location> {
        let get = |name: &str| values.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
        let pgdata = match get("pgdata") {
            Some(v) => instance_path("pgdata", v)?,
            None => {
                return Err(OcfError::configured(
                    "pgdata is required: set it to the directory holding postgresql.conf",
                ));
            }
        };
        let datadir = match get("datadir") {
            Some(v) => instance_path("datadir", v)?,
            None => pgdata.clone(),
        };
        Ok(Location { pgdata, datadir })
    }
}

impl Config {
    /// Parses the parameters Pacemaker passed. `resource` names the default
    /// log file (with none, as in a validate-all run by hand, the agent's
    /// own name stands in; start always has one). Every error is
    /// ERR_CONFIGURED: such a value can never work.
    pub fn parse(values: &BTreeMap<String, String>, resource: Option<&str>) -> OcfResult<Config> {
        // Every default and range below comes from PARAMS: the value given,
        // else the table's default; nothing here restates either.
        let get = |name: &str| -> Option<&str> {
            debug_assert!(spec(name).is_some(), "{name} is not in PARAMS");
            values
                .get(name)
                .map(|v| v.trim())
                .filter(|v| !v.is_empty())
                .or_else(|| spec(name).and_then(|s| s.default).filter(|d| !d.is_empty()))
        };
        // A parameter with a literal default (or an empty one) always has a value.
        let value = |name: &str| -> &str { get(name).unwrap_or("") };
        let int = |name: &str| -> OcfResult<u64> {
            let (min, max) = spec(name).and_then(|s| s.range).unwrap_or((0, u64::MAX));
            integer(name, value(name), min, max)
        };
        let Location { pgdata, datadir } = Location::parse(values)?;
        let bindir = get("bindir").map(|v| absolute_path("bindir", v)).transpose()?;
        let system_user = value("system_user").to_string();
        if system_user == "root" || system_user == "0" {
            return Err(OcfError::configured(
                "system_user=root: PostgreSQL refuses to run as root; use the owner of the data directory",
            ));
        }
        if !system_user
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        {
            return Err(OcfError::configured(format!(
                "system_user '{system_user}' is not a valid user name"
            )));
        }
        let pghost = match value("pghost") {
            h if h.starts_with('/') => PgHost::Socket(PathBuf::from(h)),
            h if h.chars().any(|c| c.is_whitespace() || "'\\/".contains(c)) => {
                return Err(OcfError::configured(format!(
                    "pghost '{h}' is neither an absolute socket directory nor a host name"
                )));
            }
            h => PgHost::Tcp(h.to_string()),
        };
        let pgport = int("pgport")? as u16;
        let pgdatabase = value("pgdatabase").to_string();
        let probe_timeout = Duration::from_secs(int("probe_timeout")?);
        let start_opts =
            split_words(value("start_opts")).map_err(|e| OcfError::configured(format!("start_opts: {e}")))?;
        check_start_opts(&start_opts)?;
        let logfile = match get("logfile") {
            Some(v) => absolute_path("logfile", v)?,
            None => PathBuf::from(format!(
                concat!(crate::default_logfile_dir!(), "/{}.log"),
                resource.unwrap_or("postgresql")
            )),
        };
        let primary_conninfo = value("primary_conninfo").to_string();
        if primary_conninfo.contains('\n') {
            return Err(OcfError::configured("primary_conninfo must be a single line"));
        }
        check_primary_conninfo(&primary_conninfo)?;
        let rewind = parse_bool("rewind", value("rewind"))?;
        let bootstrap = Bootstrap::parse(value("bootstrap"))? == Bootstrap::Basebackup;
        let rebuild = parse_bool("rebuild", value("rebuild"))?;
        let data_mount = get("data_mount")
            .map(|v| absolute_path("data_mount", v))
            .transpose()?;
        let maxlag = int("maxlag")?;
        let replication_mode = ReplicationMode::parse(value("replication_mode"))?;
        let sync_standbys = int("sync_standbys")? as u32;
        let replication_slots = parse_bool("replication_slots", value("replication_slots"))?;
        let slot_grace_s = int("slot_grace")?;
        let sync_grace_s = int("sync_grace")?;
        Ok(Config {
            pgdata,
            datadir,
            bindir,
            system_user,
            pghost,
            pgport,
            pgdatabase,
            probe_timeout,
            start_opts,
            logfile,
            primary_conninfo,
            rewind,
            bootstrap,
            rebuild,
            data_mount,
            maxlag,
            replication_mode,
            sync_standbys,
            replication_slots,
            slot_grace_s,
            sync_grace_s,
        })
    }
}

/// The server options the agent itself sets from pgdata and pgport: given
/// again in start_opts, the server would run elsewhere than the probe and
/// stop look (the last -p wins), so they are refused.
fn check_start_opts(words: &[String]) -> OcfResult<()> {
    let mut words = words.iter().map(String::as_str).peekable();
    while let Some(word) = words.next() {
        let setting = match word {
            "-c" | "--" => words.peek().copied().unwrap_or(""),
            w => w
                .strip_prefix("-c")
                .or_else(|| w.strip_prefix("--"))
                .unwrap_or(""),
        };
        let name = setting.split('=').next().unwrap_or("").replace('-', "_");
        let overrides = word.starts_with("-D")
            || word.starts_with("-p")
            || (setting.contains('=') && (name == "port" || name == "data_directory"));
        if overrides {
            return Err(OcfError::configured(format!(
                "start_opts '{word}' overrides the port or data directory: use pgport, pgdata and datadir"
            )));
        }
    }
    Ok(())
}

/// The libpq keywords whose value is a secret, with where it goes instead:
/// `password` (the server's) and `sslpassword` (the passphrase of `sslkey`,
/// issue 23).
const SECRET_CONNINFO_KEYWORDS: &[(&str, &str)] = &[
    ("password", "put it in system_user's ~/.pgpass"),
    (
        "sslpassword",
        "use an unencrypted sslkey only system_user can read",
    ),
];

/// `primary_conninfo` must be a keyword/value string the agent can extend
/// (not a URI) and must hold no secret ([`SECRET_CONNINFO_KEYWORDS`]): the
/// agent passes it on the command lines of postgres (`-c primary_conninfo=`)
/// and pg_rewind (`--source-server=`), which `/proc/<pid>/cmdline` shows to
/// every user. libpq expands a `dbname` that is itself a connection string
/// or a URI, so such a dbname is refused too (it could hide a password).
fn check_primary_conninfo(value: &str) -> OcfResult<()> {
    let info = conninfo::parse(value).map_err(|e| OcfError::configured(format!("primary_conninfo: {e}")))?;
    if let Some((keyword, instead)) = SECRET_CONNINFO_KEYWORDS.iter().find(|(k, _)| info.has(k)) {
        return Err(OcfError::configured(format!(
            "primary_conninfo: no {keyword}= (it shows in ps); {instead}"
        )));
    }
    if info
        .pairs
        .iter()
        .any(|(k, v)| k == "dbname" && (v.contains('=') || conninfo::is_uri(v)))
    {
        return Err(OcfError::configured(
            "primary_conninfo: dbname must be a database name, not a connection string",
        ));
    }
    Ok(())
}

/// Names of the given parameters this agent does not know (likely typos).
pub fn unknown_names(values: &BTreeMap<String, String>) -> Vec<&str> {
    values
        .keys()
        .map(String::as_str)
        .filter(|k| spec(k).is_none() && *k != "crm_feature_set" && !k.starts_with("trace_"))
        .collect()
}

/// An absolute path, without its trailing `/` and `.` components (`/` stays
/// `/`: a mount point may be the root).
///
/// The environment holds text, and a value that is not UTF-8 reaches the
/// parameters with U+FFFD in its place ([`crate::ocf::env`]): no such path
/// exists, so it is refused by name rather than looked for (issue 23).
fn absolute_path(name: &str, value: &str) -> OcfResult<PathBuf> {
    if value.contains(char::REPLACEMENT_CHARACTER) {
        return Err(OcfError::configured(format!(
            "{name} is not valid UTF-8: the agent takes paths as text; rename the directory or link to it"
        )));
    }
    if !value.starts_with('/') {
        return Err(OcfError::configured(format!(
            "{name} '{value}' must be an absolute path"
        )));
    }
    Ok(PathBuf::from(value).components().collect())
}

/// The path of the instance's directory (`pgdata`, `datadir`): absolute,
/// and not the root, which no instance can be (it was trimmed to an empty
/// path, "pgdata does not exist on this node").
fn instance_path(name: &str, value: &str) -> OcfResult<PathBuf> {
    let path = absolute_path(name, value)?;
    if path.parent().is_none() {
        return Err(OcfError::configured(format!(
            "{name} '/' is the root directory: set it to the instance's directory"
        )));
    }
    Ok(path)
}

fn integer(name: &str, value: &str, min: u64, max: u64) -> OcfResult<u64> {
    match value.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        Ok(_) => Err(OcfError::configured(format!(
            "{name}={value} is out of range {min}-{max}"
        ))),
        Err(_) => Err(OcfError::configured(format!(
            "{name}='{value}' is not a whole number ({min}-{max})"
        ))),
    }
}

/// The directory of the default `logfile` (`<dir>/<resource>.log`), as a
/// literal: the parameter table and the man page `concat!` it, so that the
/// default they state is the one applied.
#[macro_export]
macro_rules! default_logfile_dir {
    () => {
        "/var/log/pgha"
    };
}

/// Parses a boolean the way `ocf_is_true` does (yes, true, 1, on...,
/// [`crate::vocab::parse_bool`]); empty is false, anything else an error.
pub fn parse_bool(name: &str, value: &str) -> OcfResult<bool> {
    match crate::vocab::parse_bool(value) {
        Some(b) => Ok(b),
        None if value.trim().is_empty() => Ok(false),
        None => Err(OcfError::configured(format!(
            "{name}='{value}' is not a boolean (true or false)"
        ))),
    }
}

/// Splits `s` into words on whitespace; single or double quotes group words
/// and a backslash escapes the next character outside single quotes. There is
/// no expansion of any kind: this is what lets start_opts reach the server as
/// separate arguments without a shell.
pub fn split_words(s: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err("unbalanced single quote".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c) => word.push(c),
                            None => return Err("trailing backslash".into()),
                        },
                        Some(c) => word.push(c),
                        None => return Err("unbalanced double quote".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(c) => word.push(c),
                    None => return Err("trailing backslash".into()),
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ocf::code::OcfCode;

    fn parse(pairs: &[(&str, &str)]) -> OcfResult<Config> {
        let map = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::parse(&map, Some("pgsqld"))
    }

    fn code_of(pairs: &[(&str, &str)]) -> OcfCode {
        parse(pairs).unwrap_err().code
    }

    /// A description sends the operator to a page of docs/ that exists, and
    /// to a heading it has: `(docs/administration.md: sizing the start
    /// timeout for copies)`. The README, cut down, holds no manual any more.
    #[test]
    fn descriptions_point_to_pages_and_headings_that_exist() {
        let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        for p in PARAMS {
            let text = crate::ocf::metadata::normalize_spaces(p.longdesc);
            assert!(
                !text.contains("README"),
                "{} sends the reader to the README",
                p.name
            );
            for mention in text.split("docs/").skip(1) {
                let (page, rest) = mention.split_once(".md").expect("a page of docs/");
                let path = repo.join(format!("docs/{page}.md"));
                let body = std::fs::read_to_string(&path)
                    .unwrap_or_else(|e| panic!("{} names {}: {e}", p.name, path.display()));
                if let Some(heading) = rest.strip_prefix(": ") {
                    let heading = heading.split(')').next().unwrap().to_lowercase();
                    assert!(
                        body.lines()
                            .any(|l| l.starts_with('#') && l.to_lowercase().ends_with(&heading)),
                        "{} names the heading {heading:?}, which docs/{page}.md lacks",
                        p.name
                    );
                }
            }
        }
    }

    #[test]
    fn boolean_parameters_read_as_ocf_is_true_and_empty_is_false() {
        let table = [
            ("yes", Some(true)),
            ("ON", Some(true)),
            ("1", Some(true)),
            ("off", Some(false)),
            ("N", Some(false)),
            ("", Some(false)),
            ("  ", Some(false)),
            ("maybe", None),
        ];
        for (value, expected) in table {
            assert_eq!(parse_bool("rewind", value).ok(), expected, "{value:?}");
        }
        assert_eq!(
            parse_bool("rewind", "maybe").unwrap_err().reason,
            "rewind='maybe' is not a boolean (true or false)"
        );
    }

    #[test]
    fn defaults_apply() {
        let c = parse(&[("pgdata", "/var/lib/pg/data/")]).unwrap();
        assert_eq!(c.pgdata, PathBuf::from("/var/lib/pg/data"));
        assert_eq!(c.datadir, c.pgdata);
        assert_eq!(c.system_user, "postgres");
        assert_eq!(c.pgport, 5432);
        assert_eq!(c.pghost, PgHost::Socket("/var/run/postgresql".into()));
        assert_eq!(c.probe_timeout, Duration::from_secs(3));
        assert_eq!(c.logfile, PathBuf::from("/var/log/pgha/pgsqld.log"));
        assert!(c.start_opts.is_empty());
    }

    #[test]
    fn pgdata_is_required_and_absolute() {
        assert_eq!(code_of(&[]), OcfCode::ErrConfigured);
        assert_eq!(code_of(&[("pgdata", "data")]), OcfCode::ErrConfigured);
        assert_eq!(
            code_of(&[("pgdata", "/d"), ("datadir", "rel")]),
            OcfCode::ErrConfigured
        );
    }

    #[test]
    fn port_must_be_a_number_in_range() {
        for bad in ["abc", "0", "65536", "-1", "54.3"] {
            let e = parse(&[("pgdata", "/d"), ("pgport", bad)]).unwrap_err();
            assert_eq!(e.code, OcfCode::ErrConfigured, "{bad}");
            assert!(e.reason.contains("pgport"), "{}", e.reason);
        }
        assert_eq!(
            parse(&[("pgdata", "/d"), ("pgport", "6543")]).unwrap().pgport,
            6543
        );
    }

    #[test]
    fn root_is_refused_as_system_user() {
        let e = parse(&[("pgdata", "/d"), ("system_user", "root")]).unwrap_err();
        assert_eq!(e.code, OcfCode::ErrConfigured);
        assert!(e.reason.contains("root"));
    }

    #[test]
    fn start_opts_that_move_the_port_or_data_directory_are_refused() {
        for bad in [
            "-D /elsewhere",
            "-p 5433",
            "-p5433",
            "-c port=5433",
            "-cport=5433",
            "--port=5433",
            "-c data_directory=/x",
            "--data-directory=/x",
        ] {
            let e = parse(&[("pgdata", "/d"), ("start_opts", bad)]).unwrap_err();
            assert_eq!(e.code, OcfCode::ErrConfigured, "{bad}");
        }
        for good in [
            "-c config_file=/etc/pg.conf",
            "-c shared_buffers=1GB",
            "-c portal=x",
        ] {
            assert!(parse(&[("pgdata", "/d"), ("start_opts", good)]).is_ok(), "{good}");
        }
    }

    #[test]
    fn a_relative_socket_directory_is_not_a_host_name() {
        assert_eq!(
            code_of(&[("pgdata", "/d"), ("pghost", "var/run/postgresql")]),
            OcfCode::ErrConfigured
        );
    }

    #[test]
    fn tcp_host_and_socket_dir_are_told_apart() {
        let c = parse(&[("pgdata", "/d"), ("pghost", "10.0.0.5")]).unwrap();
        assert_eq!(c.pghost, PgHost::Tcp("10.0.0.5".into()));
    }

    #[test]
    fn words_split_like_a_shell_without_expansion() {
        assert_eq!(
            split_words(r#" -c  config_file='/etc/a b.conf' -c "x=\"y\"" $HOME `id` "#).unwrap(),
            vec![
                "-c",
                "config_file=/etc/a b.conf",
                "-c",
                "x=\"y\"",
                "$HOME",
                "`id`"
            ]
        );
        assert!(split_words("-c 'oops").is_err());
        assert_eq!(split_words("''").unwrap(), vec![""]);
    }

    #[test]
    fn replication_parameters_parse() {
        let c = parse(&[("pgdata", "/d"), ("rewind", "yes"), ("maxlag", "1048576")]).unwrap();
        assert!(c.rewind);
        assert_eq!(c.maxlag, 1 << 20);
        let c = parse(&[
            ("pgdata", "/d"),
            ("replication_mode", "strict-sync"),
            ("sync_standbys", "2"),
        ])
        .unwrap();
        assert_eq!(c.replication_mode, ReplicationMode::StrictSync);
        assert_eq!(c.sync_standbys, 2);
        assert_eq!(
            parse(&[("pgdata", "/d")]).unwrap().replication_mode,
            ReplicationMode::Async
        );
        for bad in [
            ("rewind", "maybe"),
            ("maxlag", "-1"),
            ("replication_mode", "semi"),
            ("sync_standbys", "0"),
        ] {
            assert_eq!(
                code_of(&[("pgdata", "/d"), bad]),
                OcfCode::ErrConfigured,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn building_parameters_parse() {
        let c = parse(&[("pgdata", "/d")]).unwrap();
        assert!(!c.bootstrap && !c.rebuild && c.data_mount.is_none());
        let c = parse(&[
            ("pgdata", "/d"),
            ("bootstrap", "BaseBackup"),
            ("rebuild", "yes"),
            ("data_mount", "/srv/pg/"),
        ])
        .unwrap();
        assert!(c.bootstrap && c.rebuild);
        assert_eq!(c.data_mount, Some(PathBuf::from("/srv/pg")));
        for bad in [
            ("bootstrap", "initdb"),
            ("rebuild", "sometimes"),
            ("data_mount", "srv"),
        ] {
            assert_eq!(
                code_of(&[("pgdata", "/d"), bad]),
                OcfCode::ErrConfigured,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn instance_paths_name_the_parameter_when_they_cannot_be_one() {
        let refused: &[(&[(&str, &str)], &str)] = &[
            (&[("pgdata", "/")], "pgdata '/' is the root directory"),
            (&[("pgdata", "///")], "pgdata '/' is the root directory"),
            (
                &[("pgdata", "/d"), ("datadir", "/")],
                "datadir '/' is the root directory",
            ),
            (&[("pgdata", "/d/\u{FFFD}")], "pgdata is not valid UTF-8"),
            (
                &[("pgdata", "/d"), ("bindir", "/b\u{FFFD}")],
                "bindir is not valid UTF-8",
            ),
        ];
        for (values, needle) in refused {
            let e = parse(values).unwrap_err();
            assert_eq!(e.code, OcfCode::ErrConfigured, "{values:?}");
            assert!(e.reason.contains(needle), "{values:?}: {}", e.reason);
        }
        let config = parse(&[("pgdata", "/d/"), ("data_mount", "/")]).unwrap();
        assert_eq!(config.pgdata, PathBuf::from("/d"));
        assert_eq!(
            config.data_mount,
            Some(PathBuf::from("/")),
            "the root is a mount point"
        );
    }

    #[test]
    fn primary_conninfo_holds_no_password_and_no_uri() {
        let table: &[(&str, Option<&str>)] = &[
            ("host=10.0.0.9 user=replicator", None),
            ("host='/run/pg sock' user=r connect_timeout=3", None),
            ("host=x user=r password=secret", Some(".pgpass")),
            ("host=x user=r password = ''", Some(".pgpass")),
            ("host=x user=r sslkey=/k sslpassword=s", Some("no sslpassword=")),
            ("host=x user=r sslkey=/k", None),
            ("host=x dbname='host=y password=s'", Some("dbname")),
            ("dbname=postgresql://u:pw@h/db", Some("dbname")),
            ("postgresql://replicator@10.0.0.9/postgres", Some("URI")),
            ("postgres://replicator:pw@10.0.0.9", Some("URI")),
            ("host=x user", Some("missing \"=\"")),
            ("host='x", Some("unterminated")),
        ];
        for (value, refused) in table {
            let result = parse(&[("pgdata", "/d"), ("primary_conninfo", value)]);
            match refused {
                None => assert!(result.is_ok(), "{value}: {:?}", result.err()),
                Some(needle) => {
                    let e = result.unwrap_err();
                    assert_eq!(e.code, OcfCode::ErrConfigured, "{value}");
                    assert!(e.reason.contains(needle), "{value}: {}", e.reason);
                    assert!(e.reason.len() < 128, "{}", e.reason);
                }
            }
        }
    }

    #[test]
    fn unknown_parameters_are_listed() {
        let map: BTreeMap<_, _> = [("pgdata", "/d"), ("pgprot", "1"), ("crm_feature_set", "3")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(unknown_names(&map), vec!["pgprot"]);
    }

    /// The range lives in the table alone; the prose that states it must
    /// follow, and the default must lie inside it.
    #[test]
    fn integer_ranges_are_in_the_table_and_in_the_docs() {
        for p in PARAMS {
            match (p.kind, p.range) {
                (Kind::Integer, Some((min, max))) => {
                    assert!(min <= max, "{}", p.name);
                    if let Some(d) = p.default {
                        let d: u64 = d.parse().unwrap_or_else(|_| panic!("{} default", p.name));
                        assert!((min..=max).contains(&d), "default of {} out of its range", p.name);
                    }
                    // Only a bound that means something is stated: maxlag takes
                    // any byte count.
                    if max != u64::MAX {
                        let stated = format!("{min}-{max}");
                        assert!(
                            normalize(p.longdesc).contains(&stated),
                            "the longdesc of {} does not state its range {stated}",
                            p.name
                        );
                    }
                }
                (Kind::Integer, None) => panic!("integer {} has no range", p.name),
                (_, Some(_)) => panic!("{} has a range but is not an integer", p.name),
                (_, None) => {}
            }
        }
    }

    /// The select options of the table are the values the parse accepts,
    /// each its own spelling; anything else is refused with the list.
    #[test]
    fn select_options_are_the_values_validation_accepts() {
        assert_eq!(
            ReplicationMode::NAMES,
            ReplicationMode::ALL.map(ReplicationMode::name)
        );
        assert_eq!(Bootstrap::NAMES, Bootstrap::ALL.map(Bootstrap::name));
        let mut selects = 0;
        for p in PARAMS {
            let Kind::Select(options) = p.kind else { continue };
            selects += 1;
            assert!(
                p.default.is_some_and(|d| options.contains(&d)),
                "the default of {} is not one of its options",
                p.name
            );
            for option in options {
                assert!(
                    parse(&[("pgdata", "/d"), (p.name, option)]).is_ok(),
                    "{}={option}",
                    p.name
                );
                let upper = option.to_ascii_uppercase();
                assert!(
                    parse(&[("pgdata", "/d"), (p.name, &upper)]).is_ok(),
                    "{}={upper}",
                    p.name
                );
            }
            let e = parse(&[("pgdata", "/d"), (p.name, "bogus")]).unwrap_err();
            assert_eq!(e.code, OcfCode::ErrConfigured);
            for option in options {
                assert!(e.reason.contains(option), "{}", e.reason);
            }
        }
        assert_eq!(selects, 2, "bootstrap and replication_mode");
        for mode in ReplicationMode::ALL {
            assert_eq!(ReplicationMode::parse(mode.name()).unwrap(), mode);
        }
        assert_eq!(
            ReplicationMode::parse(" Strict_Sync ").unwrap(),
            ReplicationMode::StrictSync
        );
        assert_eq!(
            ReplicationMode::parse("semi").unwrap_err().reason,
            "replication_mode='semi': use async, sync or strict-sync"
        );
        assert_eq!(
            Bootstrap::parse("InitDB").unwrap_err().reason,
            "bootstrap='initdb': use none or basebackup"
        );
    }

    fn normalize(text: &str) -> String {
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn out_of_range_values_name_the_tables_range() {
        for p in PARAMS {
            let Some((min, max)) = p.range else { continue };
            let mut cases = vec![];
            if min > 0 {
                cases.push((min - 1).to_string());
            }
            if max < u64::MAX {
                cases.push((max + 1).to_string());
            }
            for bad in cases {
                let e = parse(&[("pgdata", "/d"), (p.name, &bad)]).unwrap_err();
                assert_eq!(e.code, OcfCode::ErrConfigured, "{}={bad}", p.name);
                assert!(e.reason.contains(&format!("{min}-{max}")), "{}", e.reason);
            }
            for good in [min, max] {
                assert!(
                    parse(&[("pgdata", "/d"), (p.name, &good.to_string())]).is_ok(),
                    "{}={good}",
                    p.name
                );
            }
        }
    }

    /// Every literal default is what an unset parameter parses to: the
    /// defaults of the metadata are the ones the agent applies.
    #[test]
    fn unset_parameters_take_the_tables_default() {
        let unset = parse(&[("pgdata", "/d")]).unwrap();
        let mut explicit: Vec<(&str, &str)> = vec![("pgdata", "/d")];
        explicit.extend(PARAMS.iter().filter_map(|p| p.default.map(|d| (p.name, d))));
        let given = parse(&explicit).unwrap();
        assert_eq!(format!("{unset:?}"), format!("{given:?}"));
    }

    #[test]
    fn every_parameter_is_documented() {
        for p in PARAMS {
            assert!(
                !p.shortdesc.is_empty() && p.longdesc.len() > p.shortdesc.len(),
                "{}",
                p.name
            );
        }
    }
}
