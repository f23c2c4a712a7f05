//! The distributions' own PostgreSQL services, as their files configure
//! them: which of them would start a server at boot, and on which
//! directory. Read from the files only (no `systemctl`, which may not
//! answer while systemd is busy, and knows nothing of `start.conf`):
//!
//! - Debian and Ubuntu (postgresql-common): a cluster is a directory
//!   `/etc/postgresql/<version>/<cluster>` holding `postgresql.conf`; its
//!   `start.conf` says `auto` (the default when the file is missing),
//!   `manual` or `disabled`, and `postgresql.service` starts every `auto`
//!   cluster at boot and at package upgrades (its systemd generator makes
//!   `postgresql@<version>-<cluster>` units of them). The cluster's data
//!   directory is `data_directory` of its `postgresql.conf`, else the
//!   `pgdata` symlink beside it.
//! - systemd units enabled in `/etc/systemd/system/*.wants/`: PGDG's
//!   `postgresql-<version>`, RHEL's `postgresql`, Debian's
//!   `postgresql@<version>-<cluster>` enabled by hand. A unit's PGDATA is
//!   its last `Environment=PGDATA=` (drop-ins `<unit>.d/*.conf` read after
//!   the unit, in name order; an empty `Environment=` resets), else the
//!   packages' default (`/var/lib/pgsql/<version>/data`,
//!   `/var/lib/pgsql/data`). A unit masked in `/etc` (a symlink to
//!   `/dev/null`) never starts; Debian's own `postgresql.service`
//!   (`ExecStart=/bin/true`) starts no server itself.
//!
//! Everything is read as the system user ([`userfs::as_user`]): Debian's
//! `/etc/postgresql` belongs to it, so a symlink there must give it no
//! file it could not read itself; no file is followed at its last
//! component, none blocks (a FIFO), none is larger than [`FILE_CAP`].
//! `root` is `/` except in the integration tests, which craft a fake tree
//! ([`crate::ocf::env::OcfEnv::test_root`]); the paths the files name
//! (`data_directory`, PGDATA) are paths of the real system and are never
//! put under it.
//!
//! The rule that compares them with this instance is
//! [`crate::policy::mistakes::distribution_service`].

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use crate::deadline::Deadline;
use crate::exec::SystemUser;
use crate::ocf::code::{OcfError, OcfResult};
use crate::userfs;

/// The largest service file read: Debian's postgresql.conf is 30 KB.
const FILE_CAP: u64 = 1 << 20;

/// A Debian cluster (`/etc/postgresql/<version>/<name>`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DebianCluster {
    pub version: String,
    pub name: String,
    /// Its configuration directory (under the root read).
    pub conf_dir: PathBuf,
    /// The first word of `start.conf`: `auto`, `manual`, `disabled`.
    pub start: String,
    /// The directories it runs on: its configuration directory and its
    /// data directory, each as written and resolved.
    pub dirs: Vec<PathBuf>,
}

impl DebianCluster {
    /// The systemd instance that runs it.
    pub fn unit(&self) -> String {
        format!("postgresql@{}-{}", self.version, self.name)
    }
}

/// A PostgreSQL unit enabled in some `*.wants` directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnabledUnit {
    /// `postgresql-15.service`, `postgresql@15-main.service`...
    pub unit: String,
    /// The directories the server it starts runs on (PGDATA, or a Debian
    /// cluster's directories), as written and resolved.
    pub dirs: Vec<PathBuf>,
}

/// What the distribution's files say, and this instance's directories
/// (pgdata and datadir, as given and resolved) to compare them with.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Services {
    pub debian: Vec<DebianCluster>,
    pub enabled: Vec<EnabledUnit>,
    pub ours: Vec<PathBuf>,
}

/// Reads the service files under `root`, as `user`, within `deadline`;
/// `ours` are the instance's pgdata and datadir.
pub fn gather(root: &Path, ours: &[PathBuf], user: &SystemUser, deadline: Deadline) -> OcfResult<Services> {
    let (root, ours) = (root.to_path_buf(), ours.to_vec());
    userfs::as_user(user, deadline, &root.clone(), move || Ok(scan(&root, &ours)))?.map_err(|e| {
        OcfError::generic(format!("cannot read the distribution's service files: {e}")).with_source(e)
    })
}

/// Everything [`gather`] reads, on the calling thread.
fn scan(root: &Path, ours: &[PathBuf]) -> Services {
    let debian = debian_clusters(root);
    let enabled = enabled_units(root, &debian);
    Services {
        debian,
        enabled,
        ours: ours.iter().flat_map(|p| as_written_and_resolved(p)).collect(),
    }
}

/// `path`, and where its symlinks lead when that differs.
fn as_written_and_resolved(path: &Path) -> Vec<PathBuf> {
    let mut both = vec![path.to_path_buf()];
    if let Ok(resolved) = fs::canonicalize(path) {
        if resolved != path {
            both.push(resolved);
        }
    }
    both
}

/// A small file as text, or None (missing, a symlink, not a regular file,
/// unreadable to the user).
fn read_text(path: &Path) -> Option<String> {
    userfs::read_small_here(path, FILE_CAP)
        .ok()
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
}

/// The names in `dir`, sorted (none when it cannot be listed).
fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Every Debian cluster under `root`/etc/postgresql.
fn debian_clusters(root: &Path) -> Vec<DebianCluster> {
    let base = root.join("etc/postgresql");
    let mut found = Vec::new();
    for version in names_in(&base) {
        for name in names_in(&base.join(&version)) {
            let conf_dir = base.join(&version).join(&name);
            let Some(conf) = read_text(&conf_dir.join("postgresql.conf")) else {
                continue; // not a cluster
            };
            let start = match read_text(&conf_dir.join("start.conf")) {
                Some(text) => start_mode(&text),
                // postgresql-common: a missing start.conf is auto.
                None if !conf_dir.join("start.conf").exists() => "auto".to_string(),
                None => "unreadable".to_string(),
            };
            let data = conf_data_directory(&conf)
                .map(PathBuf::from)
                .or_else(|| fs::read_link(conf_dir.join("pgdata")).ok());
            let mut dirs = as_written_and_resolved(&conf_dir);
            if let Some(data) = data {
                dirs.extend(as_written_and_resolved(&data));
            }
            found.push(DebianCluster {
                version: version.clone(),
                name,
                conf_dir,
                start,
                dirs,
            });
        }
    }
    found
}

/// The PostgreSQL units enabled in `root`/etc/systemd/system/*.wants.
fn enabled_units(root: &Path, debian: &[DebianCluster]) -> Vec<EnabledUnit> {
    let system = root.join("etc/systemd/system");
    let mut seen: BTreeMap<String, EnabledUnit> = BTreeMap::new();
    for wants in names_in(&system).into_iter().filter(|n| n.ends_with(".wants")) {
        let wants = system.join(wants);
        for unit in names_in(&wants) {
            let Some(kind) = UnitKind::of(&unit) else { continue };
            if seen.contains_key(&unit) {
                continue;
            }
            let link = fs::read_link(wants.join(&unit))
                .ok()
                .map(|target| reroot(root, &wants, &target));
            let dirs = match kind {
                UnitKind::DebianInstance { version, name } => debian
                    .iter()
                    .filter(|c| c.version == version && c.name == name)
                    .flat_map(|c| c.dirs.clone())
                    .collect(),
                UnitKind::Server { default_pgdata } => match unit_texts(root, &unit, link.as_deref()) {
                    UnitFiles::Masked => continue,
                    UnitFiles::Read(texts) => match unit_pgdata(&texts) {
                        Some(pgdata) => as_written_and_resolved(Path::new(&pgdata)),
                        None if runs_no_server(&texts) => continue,
                        None => vec![PathBuf::from(default_pgdata)],
                    },
                },
            };
            seen.insert(unit.clone(), EnabledUnit { unit, dirs });
        }
    }
    seen.into_values().collect()
}

/// What a unit's name says it is.
#[derive(Debug, PartialEq, Eq)]
enum UnitKind {
    /// `postgresql@<version>-<cluster>.service`: a Debian cluster.
    DebianInstance { version: String, name: String },
    /// `postgresql-<version>.service` (PGDG) or `postgresql.service`
    /// (RHEL's, or Debian's umbrella), with the packages' default PGDATA.
    Server { default_pgdata: String },
}

impl UnitKind {
    fn of(unit: &str) -> Option<UnitKind> {
        let stem = unit.strip_suffix(".service")?;
        if stem == "postgresql" {
            return Some(UnitKind::Server {
                default_pgdata: "/var/lib/pgsql/data".into(),
            });
        }
        if let Some(instance) = stem.strip_prefix("postgresql@") {
            // %i is <version>-<cluster>, split at the first '-' as
            // pg_ctlcluster does.
            let (version, name) = instance.split_once('-')?;
            return Some(UnitKind::DebianInstance {
                version: version.into(),
                name: name.into(),
            });
        }
        let version = stem.strip_prefix("postgresql-")?;
        (!version.is_empty() && version.chars().all(|c| c.is_ascii_digit() || c == '.')).then(|| {
            UnitKind::Server {
                default_pgdata: format!("/var/lib/pgsql/{version}/data"),
            }
        })
    }
}

/// A link's `target` as a path under `root`: absolute targets are paths of
/// the system the root stands for, relative ones are relative to `dir`.
fn reroot(root: &Path, dir: &Path, target: &Path) -> PathBuf {
    match target.strip_prefix("/") {
        Ok(relative) => root.join(relative),
        Err(_) => dir.join(target),
    }
}

/// A unit's files as systemd would read them.
enum UnitFiles {
    /// Masked in /etc: never started.
    Masked,
    /// The unit file (when found), then its drop-ins in name order.
    Read(Vec<String>),
}

/// The unit file of `unit` (the one in /etc first, then where the wants
/// link points, then the packages' directories) and its drop-ins.
fn unit_texts(root: &Path, unit: &str, link: Option<&Path>) -> UnitFiles {
    let dirs = [
        "etc/systemd/system",
        "run/systemd/system",
        "usr/lib/systemd/system",
        "lib/systemd/system",
    ]
    .map(|d| root.join(d));
    let in_etc = dirs[0].join(unit);
    let main = match fs::read_link(&in_etc) {
        Ok(target) if target == Path::new("/dev/null") => return UnitFiles::Masked,
        Ok(target) => Some(reroot(root, &dirs[0], &target)),
        Err(_) if in_etc.is_file() => Some(in_etc),
        Err(_) => link
            .map(Path::to_path_buf)
            .into_iter()
            .chain(dirs[1..].iter().map(|d| d.join(unit)))
            .find(|p| p.is_file()),
    };
    let mut texts: Vec<String> = main.and_then(|p| read_text(&p)).into_iter().collect();
    // Drop-ins by file name, the first directory's winning.
    let mut drop_ins: BTreeMap<String, PathBuf> = BTreeMap::new();
    for dir in &dirs {
        let d = dir.join(format!("{unit}.d"));
        for name in names_in(&d).into_iter().filter(|n| n.ends_with(".conf")) {
            drop_ins.entry(name.clone()).or_insert_with(|| d.join(name));
        }
    }
    texts.extend(drop_ins.values().filter_map(|p| read_text(p)));
    UnitFiles::Read(texts)
}

/// The first word of the first line of `start.conf` that is not blank or a
/// comment (postgresql-common reads it so).
pub fn start_mode(text: &str) -> String {
    text.lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .find(|l| !l.is_empty())
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or("auto")
        .to_string()
}

/// `data_directory` in a postgresql.conf text (the last setting wins):
/// `name [=] value`, the value quoted (`''` for a quote) or a bare word,
/// `#` starting a comment outside quotes.
pub fn conf_data_directory(text: &str) -> Option<String> {
    text.lines()
        .rev()
        .find_map(|line| conf_setting(line, "data_directory"))
}

/// The value of setting `name` on one line of a configuration file.
fn conf_setting(line: &str, name: &str) -> Option<String> {
    let rest = line.trim_start().strip_prefix(name)?;
    if rest.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
        return None; // a longer name
    }
    let rest = rest.trim_start();
    let rest = rest.strip_prefix('=').unwrap_or(rest).trim_start();
    match rest.strip_prefix('\'') {
        Some(quoted) => {
            let mut value = String::new();
            let mut chars = quoted.chars().peekable();
            while let Some(c) = chars.next() {
                match c {
                    '\'' if chars.peek() == Some(&'\'') => {
                        chars.next();
                        value.push('\'');
                    }
                    '\'' => return Some(value),
                    '\\' => value.extend(chars.next()),
                    c => value.push(c),
                }
            }
            None // unterminated
        }
        None => {
            let word = rest.split(|c: char| c.is_whitespace() || c == '#').next()?;
            (!word.is_empty()).then(|| word.to_string())
        }
    }
}

/// The PGDATA a unit's texts (the unit, then its drop-ins) set last in an
/// `Environment=` line; an empty `Environment=` resets what came before.
pub fn unit_pgdata(texts: &[String]) -> Option<String> {
    let mut pgdata = None;
    for line in texts.iter().flat_map(|t| t.lines()) {
        let Some(value) = unit_directive(line, "Environment") else {
            continue;
        };
        if value.is_empty() {
            pgdata = None;
            continue;
        }
        for assignment in unit_words(value) {
            if let Some(dir) = assignment.strip_prefix("PGDATA=") {
                pgdata = Some(dir.to_string());
            }
        }
    }
    pgdata
}

/// True when the unit's last `ExecStart=` is `/bin/true` (Debian's
/// `postgresql.service`, which only pulls in its clusters' units).
fn runs_no_server(texts: &[String]) -> bool {
    texts
        .iter()
        .flat_map(|t| t.lines())
        .filter_map(|l| unit_directive(l, "ExecStart"))
        .rfind(|v| !v.is_empty())
        .is_some_and(|v| v == "/bin/true")
}

/// The value of directive `name` on a unit file's line, trimmed.
fn unit_directive<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let (key, value) = line.trim().split_once('=')?;
    (key.trim() == name).then(|| value.trim())
}

/// A unit's space-separated words, double quotes grouping.
fn unit_words(value: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    for c in value.chars() {
        match c {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            c => word.push(c),
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_conf_says_its_first_word() {
        let debian = "# Automatic startup configuration\n#   auto: automatically start the cluster\n\nauto\n";
        assert_eq!(start_mode(debian), "auto");
        assert_eq!(start_mode("  disabled  # by the admin\n"), "disabled");
        assert_eq!(start_mode("manual\nauto\n"), "manual");
        assert_eq!(start_mode("# nothing\n"), "auto");
    }

    #[test]
    fn data_directory_is_read_as_postgresql_reads_it() {
        let table = [
            (
                "data_directory = '/var/lib/postgresql/15/main'\t\t# use data in another directory\n",
                Some("/var/lib/postgresql/15/main"),
            ),
            ("data_directory='/srv/it''s'\n", Some("/srv/it's")),
            ("data_directory /srv/bare # comment\n", Some("/srv/bare")),
            ("#data_directory = '/nope'\n", None),
            ("data_directory_x = '/nope'\n", None),
            ("data_directory = '/a'\ndata_directory = '/b'\n", Some("/b")),
            ("data_directory = '/unterminated\n", None),
            ("port = 5432\n", None),
        ];
        for (text, expected) in table {
            assert_eq!(conf_data_directory(text).as_deref(), expected, "{text:?}");
        }
    }

    #[test]
    fn a_units_pgdata_is_its_last_environment_setting() {
        let s = |v: &[&str]| v.iter().map(|t| t.to_string()).collect::<Vec<_>>();
        let pgdg = "[Service]\nEnvironment=PGDATA=/var/lib/pgsql/15/data/\nExecStart=/usr/pgsql-15/bin/postmaster -D ${PGDATA}\n";
        let table = [
            (s(&[pgdg]), Some("/var/lib/pgsql/15/data/")),
            (
                s(&[pgdg, "[Service]\nEnvironment=PGDATA=/srv/pg\n"]),
                Some("/srv/pg"),
            ),
            (s(&[pgdg, "[Service]\nEnvironment=\n"]), None),
            (
                s(&["Environment=\"PGDATA=/srv/a b\" PGPORT=5433\n"]),
                Some("/srv/a b"),
            ),
            (s(&["Environment=PGPORT=5433\n"]), None),
        ];
        for (texts, expected) in table {
            assert_eq!(unit_pgdata(&texts).as_deref(), expected, "{texts:?}");
        }
        assert!(runs_no_server(&s(&[
            "[Service]\nType=oneshot\nExecStart=/bin/true\n"
        ])));
        assert!(!runs_no_server(&s(&[pgdg])));
    }

    #[test]
    fn the_units_that_start_postgresql_are_known_by_name() {
        let server = |d: &str| {
            Some(UnitKind::Server {
                default_pgdata: d.to_string(),
            })
        };
        assert_eq!(
            UnitKind::of("postgresql-15.service"),
            server("/var/lib/pgsql/15/data")
        );
        assert_eq!(
            UnitKind::of("postgresql-9.6.service"),
            server("/var/lib/pgsql/9.6/data")
        );
        assert_eq!(UnitKind::of("postgresql.service"), server("/var/lib/pgsql/data"));
        assert_eq!(
            UnitKind::of("postgresql@15-main-2.service"),
            Some(UnitKind::DebianInstance {
                version: "15".into(),
                name: "main-2".into()
            })
        );
        for other in [
            "postgresql-15.timer",
            "postgresql-common.service",
            "pgbouncer.service",
            "postgresql@.service",
        ] {
            assert_eq!(UnitKind::of(other), None, "{other}");
        }
    }
}
