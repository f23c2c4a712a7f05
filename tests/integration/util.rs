//! Test harness: real PostgreSQL servers in temporary directories, and the
//! built agent run through its OCF environment.
//!
//! Each [`PgCluster`] is an `initdb` in a fresh directory under /tmp, owned
//! by the `postgres` user, listening on a Unix socket in that directory (so
//! tests never collide on a port) and dropped with every process it started.
//! [`Agent::run`] runs the binary as Pacemaker would and returns an
//! [`Outcome`] whose assertions print the command, environment, stdout and
//! stderr when they fail.
//!
//! The harness checks the host once, at first use ([`require_host`]): the
//! tests need root, PostgreSQL and Pacemaker's tools, and say so instead
//! of failing obscurely. The PostgreSQL binaries are Debian 12's 15 unless
//! `PGHA_TEST_PG_BIN` names another bin directory ([`pg_bin`]; `tests/pg/`
//! fetches 17 and 18). The `/run/pgha` files of every resource name a test
//! ran the agent with are removed when the test ends ([`RunFiles`]). Tests
//! wait for states with [`wait_until`] or [`Agent::run_until`], never with a
//! fixed sleep.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::{Pid, User};

pub const AGENT: &str = env!("CARGO_BIN_EXE_pgha");

/// The PostgreSQL the tests run when `PGHA_TEST_PG_BIN` is unset: Debian 12's.
pub const DEFAULT_PG_BIN: &str = "/usr/lib/postgresql/15/bin";

/// The bin directory of the PostgreSQL under test: `PGHA_TEST_PG_BIN`, or
/// [`DEFAULT_PG_BIN`]. The one place that chooses the server binaries:
/// every cluster is made, copied and queried with them, and every agent is
/// given them as `bindir`.
pub fn pg_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        std::env::var_os("PGHA_TEST_PG_BIN")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_PG_BIN))
    })
}

/// The major version of [`pg_bin`]'s server, from `postgres --version`.
pub fn pg_major() -> u32 {
    static MAJOR: OnceLock<u32> = OnceLock::new();
    *MAJOR.get_or_init(|| {
        let program = pg_bin().join("postgres");
        let out = Command::new(&program)
            .arg("--version")
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("run {}: {e}", program.display()));
        let text = String::from_utf8_lossy(&out.stdout);
        // "postgres (PostgreSQL) 18.1" or "... 17.6 (Debian 17.6-0+deb13u1)"
        text.split("(PostgreSQL)")
            .nth(1)
            .and_then(|v| v.trim().split(['.', ' ']).next()?.parse().ok())
            .unwrap_or_else(|| panic!("{} --version answered {text:?}", program.display()))
    })
}

/// Named OCF exit codes, so assertions read as the spec does.
pub mod rc {
    pub const SUCCESS: i32 = 0;
    pub const ERR_GENERIC: i32 = 1;
    pub const ERR_ARGS: i32 = 2;
    pub const ERR_UNIMPLEMENTED: i32 = 3;
    pub const ERR_PERM: i32 = 4;
    pub const ERR_INSTALLED: i32 = 5;
    pub const ERR_CONFIGURED: i32 = 6;
    pub const NOT_RUNNING: i32 = 7;
    pub const RUNNING_PROMOTED: i32 = 8;
    pub const FAILED_PROMOTED: i32 = 9;
    pub const DEGRADED: i32 = 190;
    pub const DEGRADED_PROMOTED: i32 = 191;
}

/// What the integration tests need of the host, checked once at first use so
/// that a missing piece is named instead of surfacing as an obscure failure
/// (a chown refused, an initdb not found, an agent exit code 5).
pub fn require_host() {
    static CHECK: OnceLock<Result<(), String>> = OnceLock::new();
    let check = CHECK.get_or_init(|| {
        let mut missing = Vec::new();
        if !nix::unistd::geteuid().is_root() {
            missing.push("root (the agent switches to the postgres user)".to_string());
        }
        for tool in ["initdb", "pg_ctl", "postgres", "pg_basebackup", "psql"] {
            let path = pg_bin().join(tool);
            if !path.is_file() {
                missing.push(path.display().to_string());
            }
        }
        if !matches!(User::from_name("postgres"), Ok(Some(_))) {
            missing.push("the postgres user".to_string());
        }
        for tool in ["crm_attribute", "crm_node", "crm_resource", "pcs"] {
            if !on_path(tool) {
                missing.push(format!("{tool} (Pacemaker tools) on PATH"));
            }
        }
        if missing.is_empty() {
            Ok(())
        } else {
            Err(missing.join(", "))
        }
    });
    if let Err(missing) = check {
        panic!(
            "integration tests need root, PostgreSQL at {} (PGHA_TEST_PG_BIN) and Pacemaker's \
             tools; missing: {missing}. Run `bash tests/setup` as root (and `tests/pg/fetch-pg18` \
             for PGHA_TEST_PG_BIN=$(...)), then `cargo test`",
            pg_bin().display()
        );
    }
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// Polls `cond` every 50 ms until it returns `Ok`, or panics after `within`
/// naming `what` and the state `cond` last reported as `Err`: a test waits
/// for the state it needs, never for a fixed time.
#[track_caller]
pub fn wait_until<S: std::fmt::Debug>(mut cond: impl FnMut() -> Result<(), S>, within: Duration, what: &str) {
    let end = Instant::now() + within;
    loop {
        match cond() {
            Ok(()) => return,
            Err(last) if Instant::now() >= end => {
                panic!("waited {within:?} for {what}; last observed: {last:?}")
            }
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// Waits (10 s at most) until `pid`, killed, is gone and reaped: what a
/// monitor then sees is a crash, not a process still dying.
#[track_caller]
pub fn wait_gone(pid: Pid) {
    wait_until(
        || match kill(pid, None) {
            Err(_) => Ok(()),
            Ok(()) => Err(format!("process {pid} still exists")),
        },
        Duration::from_secs(10),
        "the killed process to be reaped",
    );
}

/// Resource names in use by the tests running now, with how many
/// [`RunFiles`] hold each: the default `pgsqld` of agents made without a
/// cluster is shared by parallel tests, and its files must outlive the last
/// of them, not the first.
static IN_USE: Mutex<BTreeMap<String, usize>> = Mutex::new(BTreeMap::new());

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The resource names a test ran the agent with. A cluster and every agent
/// made from it share one; when the last of them drops (the test ended,
/// passed or panicked), each name no other running test uses loses its
/// `/run/pgha/<rsc>.state` and `/run/pgha/<rsc>.election`.
#[derive(Default)]
pub struct RunFiles {
    names: Mutex<BTreeSet<String>>,
}

impl RunFiles {
    /// Records that the agent runs as resource `rsc`. Names that are not a
    /// plain file name (the tests of bad OCF_RESOURCE_INSTANCE values) are
    /// never recorded, so nothing outside /run/pgha is ever removed.
    fn note(&self, rsc: &str) {
        let plain = !rsc.is_empty()
            && !rsc.starts_with('.')
            && rsc
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if plain && lock(&self.names).insert(rsc.to_string()) {
            *lock(&IN_USE).entry(rsc.to_string()).or_insert(0) += 1;
        }
    }
}

impl Drop for RunFiles {
    fn drop(&mut self) {
        let mut in_use = lock(&IN_USE);
        for name in lock(&self.names).iter() {
            let Some(count) = in_use.get_mut(name) else {
                continue;
            };
            *count -= 1;
            if *count == 0 {
                in_use.remove(name);
                for ext in ["state", "election"] {
                    let _ = fs::remove_file(format!("/run/pgha/{name}.{ext}"));
                }
            }
        }
    }
}

/// The `postgres` system user, which owns test clusters.
pub fn postgres_user() -> User {
    require_host();
    User::from_name("postgres")
        .unwrap()
        .expect("the postgres user exists (postgresql package)")
}

/// A temporary directory owned by postgres, removed on drop.
pub struct TempDir {
    pub path: PathBuf,
}

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        require_host();
        let template = format!("/tmp/pgha-test-{name}-XXXXXX");
        let path = nix::unistd::mkdtemp(template.as_str()).expect("mkdtemp");
        let user = postgres_user();
        nix::unistd::chown(&path, Some(user.uid), Some(user.gid)).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        TempDir { path }
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// Runs a program as postgres and panics with its output if it fails.
pub fn run_as_postgres(program: impl AsRef<Path>, args: &[&str]) -> String {
    let user = postgres_user();
    let out = Command::new(program.as_ref())
        .args(args)
        .uid(user.uid.as_raw())
        .gid(user.gid.as_raw())
        .current_dir("/tmp")
        .stdin(Stdio::null())
        .output()
        .expect("spawn");
    assert!(
        out.status.success(),
        "{} {:?} failed: {}\n{}",
        program.as_ref().display(),
        args,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A port no other test of this process uses (sockets are per directory, so
/// this only matters where a test listens on TCP).
pub fn unique_port() -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let base = 20000 + (std::process::id() % 20000) as u16;
    base + NEXT.fetch_add(1, Ordering::SeqCst)
}

/// A PostgreSQL cluster made by initdb in a temporary directory.
pub struct PgCluster {
    pub dir: TempDir,
    pub datadir: PathBuf,
    pub port: u16,
    /// The resource name its agents run as unless a test names another:
    /// its own, so that parallel tests (and other checkouts' test runs) never
    /// share an agent's memory in /run/pgha.
    pub rsc: String,
    /// Shared with every agent of this cluster.
    pub files: Arc<RunFiles>,
}

impl PgCluster {
    /// `initdb` a new cluster that trusts local connections; nothing is started.
    pub fn init(name: &str) -> PgCluster {
        Self::init_with_auth(name, "trust")
    }

    /// `initdb` a new cluster whose local (socket) connections use `auth`.
    pub fn init_with_auth(name: &str, auth: &str) -> PgCluster {
        let dir = TempDir::new(name);
        let datadir = dir.path.join("data");
        let datadir_s = datadir.to_str().unwrap().to_string();
        run_as_postgres(
            pg_bin().join("initdb"),
            &[
                "--no-sync",
                "--auth-local",
                auth,
                "--auth-host",
                "trust",
                "-U",
                "postgres",
                "-D",
                &datadir_s,
            ],
        );
        Self::with_own_socket(
            name,
            dir,
            datadir,
            "listen_addresses = ''\nfsync = off\nshared_buffers = 16MB\n",
        )
    }

    /// A copy of running `primary` made with pg_basebackup, with its own
    /// socket directory; nothing is started.
    pub fn basebackup_of(primary: &PgCluster, name: &str) -> PgCluster {
        let dir = TempDir::new(name);
        let datadir = dir.path.join("data");
        run_as_postgres(
            pg_bin().join("pg_basebackup"),
            &[
                "-h",
                primary.dir.path.to_str().unwrap(),
                "-p",
                &primary.port.to_string(),
                "-U",
                "postgres",
                "-X",
                "stream",
                "-c",
                "fast",
                "-D",
                datadir.to_str().unwrap(),
            ],
        );
        Self::with_own_socket(name, dir, datadir, "")
    }

    /// A node's cluster that does not exist yet: its temporary directory,
    /// no data directory (what a new node or a replaced disk has). Its
    /// agents must put the socket directory on the command line, as
    /// [`PgCluster::clone_agent`] does: the copy it gets carries its
    /// source's postgresql.conf.
    pub fn not_made(name: &str) -> PgCluster {
        let dir = TempDir::new(name);
        let port = unique_port();
        PgCluster {
            rsc: format!("t{}-{name}-{port}", std::process::id()),
            files: Arc::default(),
            port,
            datadir: dir.path.join("data"),
            dir,
        }
    }

    /// A cluster in `dir` listening on a socket there (so tests never
    /// collide on a port), with `extra` appended to its configuration.
    fn with_own_socket(name: &str, dir: TempDir, datadir: PathBuf, extra: &str) -> PgCluster {
        let port = unique_port();
        let cluster = PgCluster {
            rsc: format!("t{}-{name}-{port}", std::process::id()),
            files: Arc::default(),
            port,
            datadir,
            dir,
        };
        cluster.append_conf(&format!(
            "unix_socket_directories = '{}'\n{extra}",
            cluster.dir.path.display()
        ));
        cluster
    }

    /// The libpq string a standby of this cluster streams with.
    pub fn conninfo(&self) -> String {
        format!(
            "host={} port={} user=postgres",
            self.dir.path.display(),
            self.port
        )
    }

    /// This cluster's agent as a promotable clone instance on node `node`.
    /// The socket directory, a per-node setting, goes on the command line:
    /// pg_basebackup and pg_rewind copy postgresql.conf between nodes.
    ///
    /// Replication slots are off: with no cluster there is no node list
    /// (`crm_node -l`) for the primary to create them from; tests that need
    /// them turn them on.
    pub fn clone_agent(&self, rsc: &str, node: &str, primary_conninfo: &str) -> Agent {
        self.agent()
            .param("replication_slots", "false")
            .param(
                "start_opts",
                &format!("-c unix_socket_directories={}", self.dir.path.display()),
            )
            .param("primary_conninfo", primary_conninfo)
            .meta("promoted_max", "1")
            .meta("promoted_node_max", "1")
            .meta("clone_max", "2")
            .meta("notify", "true")
            .meta("on_node", node)
            .env("OCF_RESOURCE_INSTANCE", rsc)
    }

    pub fn append_conf(&self, text: &str) {
        use std::io::Write;
        let mut f = fs::OpenOptions::new()
            .append(true)
            .open(self.datadir.join("postgresql.conf"))
            .unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }

    /// The OCF parameters that manage this cluster.
    pub fn params(&self) -> BTreeMap<String, String> {
        [
            ("pgdata", self.datadir.to_str().unwrap().to_string()),
            ("pghost", self.dir.path.to_str().unwrap().to_string()),
            ("pgport", self.port.to_string()),
            ("bindir", pg_bin().to_str().unwrap().to_string()),
            (
                "logfile",
                self.dir.path.join("server.log").to_str().unwrap().to_string(),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// An agent for this cluster.
    pub fn agent(&self) -> Agent {
        Agent {
            params: self.params(),
            meta: BTreeMap::new(),
            env: BTreeMap::from([("OCF_RESOURCE_INSTANCE".to_string(), self.rsc.clone())]),
            files: Arc::clone(&self.files),
        }
    }

    pub fn postmaster_pid(&self) -> Option<Pid> {
        let text = fs::read_to_string(self.datadir.join("postmaster.pid")).ok()?;
        text.lines().next()?.trim().parse().ok().map(Pid::from_raw)
    }

    /// Every process whose working directory is the data directory.
    pub fn processes(&self) -> Vec<Pid> {
        let canonical = fs::canonicalize(&self.datadir).unwrap_or(self.datadir.clone());
        fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
            .filter(|pid| fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|c| c == canonical))
            .map(Pid::from_raw)
            .collect()
    }

    /// Runs SQL through psql as postgres, returning unaligned tuples.
    pub fn psql(&self, sql: &str) -> String {
        run_as_postgres(
            pg_bin().join("psql"),
            &[
                "-XAtq",
                "-h",
                self.dir.path.to_str().unwrap(),
                "-p",
                &self.port.to_string(),
                "-d",
                "postgres",
                "-c",
                sql,
            ],
        )
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        for pid in self.processes() {
            let _ = kill(pid, Signal::SIGKILL);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while !self.processes().is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// The agent with an OCF environment.
#[derive(Clone)]
pub struct Agent {
    pub params: BTreeMap<String, String>,
    pub meta: BTreeMap<String, String>,
    pub env: BTreeMap<String, String>,
    /// The resource names this agent (and its cluster) ran as.
    pub files: Arc<RunFiles>,
}

impl Agent {
    pub fn bare() -> Agent {
        Agent {
            params: BTreeMap::new(),
            meta: BTreeMap::new(),
            env: BTreeMap::new(),
            files: Arc::default(),
        }
    }

    pub fn param(mut self, name: &str, value: &str) -> Agent {
        self.params.insert(name.into(), value.into());
        self
    }

    pub fn without(mut self, name: &str) -> Agent {
        self.params.remove(name);
        self
    }

    pub fn meta(mut self, name: &str, value: &str) -> Agent {
        self.meta.insert(name.into(), value.into());
        self
    }

    pub fn env(mut self, name: &str, value: &str) -> Agent {
        self.env.insert(name.into(), value.into());
        self
    }

    /// As a recurring monitor (interval > 0) rather than a probe.
    pub fn recurring(self) -> Agent {
        self.meta("interval", "15000")
    }

    fn vars(&self) -> Vec<(String, String)> {
        let mut vars = vec![
            ("OCF_ROOT".to_string(), "/usr/lib/ocf".to_string()),
            ("OCF_RA_VERSION_MAJOR".into(), "1".into()),
            ("OCF_RA_VERSION_MINOR".into(), "1".into()),
            ("OCF_RESKEY_CRM_meta_timeout".into(), "20000".into()),
            // The agent's log goes with its output, shown when a test fails.
            ("HA_LOGFILE".into(), "/dev/stderr".into()),
        ];
        if !self.env.contains_key("OCF_RESOURCE_INSTANCE") {
            vars.push(("OCF_RESOURCE_INSTANCE".into(), "pgsqld".into()));
        }
        vars.extend(
            self.params
                .iter()
                .map(|(k, v)| (format!("OCF_RESKEY_{k}"), v.clone())),
        );
        vars.extend(
            self.meta
                .iter()
                .map(|(k, v)| (format!("OCF_RESKEY_CRM_meta_{k}"), v.clone())),
        );
        vars.extend(self.env.iter().map(|(k, v)| (k.clone(), v.clone())));
        vars
    }

    /// Runs `action` and waits for it.
    pub fn run(&self, action: &str) -> Outcome {
        let vars = self.vars();
        let rsc = vars.iter().rev().find(|(k, _)| k == "OCF_RESOURCE_INSTANCE");
        if let Some((_, rsc)) = rsc {
            self.files.note(rsc);
        }
        let started = Instant::now();
        let out = Command::new(AGENT)
            .arg(action)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(vars.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .output()
            .expect("run the agent");
        Outcome {
            action: action.to_string(),
            vars,
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            elapsed: started.elapsed(),
        }
    }

    /// Runs `action` until it returns `code` or `within` passes.
    pub fn run_until(&self, action: &str, code: i32, within: Duration) -> Outcome {
        let end = Instant::now() + within;
        loop {
            let out = self.run(action);
            if out.code == code || Instant::now() >= end {
                return out;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Runs `action` until it exits with `code` and an exit reason holding
    /// `needle`, or `within` has passed; the last outcome.
    pub fn run_until_reason(&self, action: &str, code: i32, needle: &str, within: Duration) -> Outcome {
        let end = Instant::now() + within;
        loop {
            let out = self.run(action);
            let found = out.code == code && out.exit_reason().is_some_and(|r| r.contains(needle));
            if found || Instant::now() >= end {
                return out;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// What one run of the agent did.
pub struct Outcome {
    pub action: String,
    pub vars: Vec<(String, String)>,
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "command: {AGENT} {}", self.action)?;
        for (k, v) in &self.vars {
            writeln!(f, "  {k}={v}")?;
        }
        writeln!(f, "exit code: {} after {:?}", self.code, self.elapsed)?;
        writeln!(f, "--- stdout\n{}", self.stdout)?;
        writeln!(f, "--- stderr\n{}", self.stderr)
    }
}

impl Outcome {
    /// The exit reason line, without its prefix.
    pub fn exit_reason(&self) -> Option<&str> {
        self.stderr
            .lines()
            .find_map(|l| l.strip_prefix("ocf-exit-reason:"))
    }

    #[track_caller]
    pub fn expect(&self, code: i32) -> &Outcome {
        assert_eq!(self.code, code, "unexpected exit code\n{self}");
        let reasons = self
            .stderr
            .lines()
            .filter(|l| l.starts_with("ocf-exit-reason:"))
            .count();
        if code == rc::SUCCESS || code == rc::NOT_RUNNING || code == rc::RUNNING_PROMOTED {
            assert_eq!(reasons, 0, "a success printed an exit reason\n{self}");
        } else {
            assert_eq!(reasons, 1, "a failure must print exactly one exit reason\n{self}");
            let reason = self.exit_reason().unwrap();
            assert!(
                reason.len() < 128,
                "exit reason of {} bytes\n{self}",
                reason.len()
            );
        }
        self
    }

    /// Asserts the code and that the exit reason mentions `needle`.
    #[track_caller]
    pub fn expect_reason(&self, code: i32, needle: &str) -> &Outcome {
        self.expect(code);
        let reason = self.exit_reason().unwrap_or("");
        assert!(
            reason.contains(needle),
            "exit reason {reason:?} lacks {needle:?}\n{self}"
        );
        self
    }
}

/// Installs the agent under test where Pacemaker tools look for it.
pub fn install_into_ocf_root() {
    require_host();
    let dir = Path::new("/usr/lib/ocf/resource.d/pgha");
    fs::create_dir_all(dir).expect("create the OCF provider directory (run the tests as root)");
    let link = dir.join("postgresql");
    if fs::read_link(&link).is_ok_and(|target| target == Path::new(AGENT)) {
        return;
    }
    let tmp = dir.join(format!(".postgresql.{}", std::process::id()));
    let _ = fs::remove_file(&tmp);
    std::os::unix::fs::symlink(AGENT, &tmp).unwrap();
    fs::rename(&tmp, &link).unwrap();
}

/// Runs a program and returns (exit code, stdout, stderr).
pub fn run_tool(program: &str, args: &[&str]) -> (i32, String, String) {
    require_host();
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run {program}: {e}"));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A post-start clone notification listing `all` as `notify_all_uname`.
pub fn post_start_notify(agent: &Agent, all: &str) {
    agent
        .clone()
        .meta("notify_type", "post")
        .meta("notify_operation", "start")
        .meta("notify_all_uname", all)
        .run("notify")
        .expect(rc::SUCCESS);
}

/// Waits (15 s at most) until `sql` on `pg` answers `expected`.
pub fn wait_for_row(pg: &PgCluster, sql: &str, expected: &str) {
    let end = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let got = std::panic::catch_unwind(|| pg.psql(sql)).unwrap_or_default();
        if got.trim() == expected {
            return;
        }
        assert!(
            std::time::Instant::now() < end,
            "{sql} gave {got:?}, not {expected:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
