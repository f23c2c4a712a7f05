//! Test harness: real PostgreSQL servers in temporary directories, and the
//! built agent run through its OCF environment. The one set of helpers of
//! the integration tests: a test file keeps only what no other file needs.
//!
//! Each [`PgCluster`] is an `initdb` in a fresh directory under /tmp, owned
//! by the `postgres` user, listening on a Unix socket in that directory (so
//! tests never collide on a port) and dropped with every process it started.
//! [`Agent::run`] runs the binary as Pacemaker would; every process a test
//! runs ([`outcome_of`]) gives an [`Outcome`] whose assertions compare
//! named [`OcfCode`]s and print the command, environment, stdout and
//! stderr when they fail.
//!
//! What the agent spells (exit codes, attribute names, memory keys, the
//! files under /run/pgha) comes from the crate itself, never spelt again
//! here: [`OcfCode`], `pgha::vocab`, [`pgha::runstate`].
//!
//! The harness checks the host once, at first use ([`require_host`]): the
//! tests need root, PostgreSQL and Pacemaker's tools, and say so instead
//! of failing obscurely. The PostgreSQL binaries are Debian 12's 15 unless
//! `PGHA_TEST_PG_BIN` names another bin directory ([`pg_bin`]; `tests/pg/`
//! fetches 17 and 18). The /run/pgha files of every resource name a test
//! ran the agent with are removed when the test ends ([`RunFiles`]). Tests
//! wait for states with [`wait_until`] or [`Agent::run_until`], never with a
//! fixed sleep.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::{Pid, User};
use pgha::runstate::{AgentFile, agent_file};

pub use pgha::ocf::code::OcfCode;

pub const AGENT: &str = env!("CARGO_BIN_EXE_pgha");

/// The exit status of a Rust program that panicked: never an answer the
/// agent may give.
pub const PANIC_EXIT: i32 = 101;

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
        let version = run_tool(pg_bin().join("postgres"), &["--version"]);
        // "postgres (PostgreSQL) 18.1" or "... 17.6 (Debian 17.6-0+deb13u1)"
        version
            .expect_success()
            .stdout
            .split("(PostgreSQL)")
            .nth(1)
            .and_then(|v| v.trim().split(['.', ' ']).next()?.parse().ok())
            .unwrap_or_else(|| panic!("a major version in postgres --version\n{version}"))
    })
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

// ---------------------------------------------------------------- waiting

/// Calls `probe` every `every` until it returns `Ok`, or until `within` has
/// passed: then its last `Err`. The one polling loop of the tests.
pub fn poll<T, S>(
    within: Duration,
    every: Duration,
    mut probe: impl FnMut() -> Result<T, S>,
) -> Result<T, S> {
    let end = Instant::now() + within;
    loop {
        match probe() {
            Ok(value) => return Ok(value),
            Err(last) if Instant::now() >= end => return Err(last),
            Err(_) => std::thread::sleep(every),
        }
    }
}

/// Polls `cond` every 50 ms until it returns `Ok`, or panics after `within`
/// naming `what` and the state `cond` last reported as `Err`: a test waits
/// for the state it needs, never for a fixed time.
#[track_caller]
pub fn wait_until<T, S: std::fmt::Debug>(
    cond: impl FnMut() -> Result<T, S>,
    within: Duration,
    what: &str,
) -> T {
    poll(within, Duration::from_millis(50), cond)
        .unwrap_or_else(|last| panic!("waited {within:?} for {what}; last observed: {last:?}"))
}

/// Waits (20 s at most) until `pid`, killed, is gone and reaped: what a
/// monitor then sees is a crash, not a process still dying, and the pid
/// is free.
#[track_caller]
pub fn wait_gone(pid: Pid) {
    wait_until(
        || match kill(pid, None) {
            Err(_) => Ok(()),
            Ok(()) => Err(format!("process {pid} still exists")),
        },
        Duration::from_secs(20),
        "the killed process to be reaped",
    );
}

// ---------------------------------------------------------------- /run/pgha

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
/// passed or panicked), each name no other running test uses loses every
/// [`AgentFile`] the agent keeps for it.
#[derive(Default)]
pub struct RunFiles {
    names: Mutex<BTreeSet<String>>,
}

impl RunFiles {
    /// Records that the agent runs as resource `rsc`. Names the agent keeps
    /// no file for (the tests of bad OCF_RESOURCE_INSTANCE values) are never
    /// recorded, so nothing outside /run/pgha is ever removed.
    fn note(&self, rsc: &str) {
        let kept = agent_file(rsc, AgentFile::State).is_some();
        if kept && lock(&self.names).insert(rsc.to_string()) {
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
                for path in AgentFile::ALL.iter().filter_map(|&file| agent_file(name, file)) {
                    let _ = fs::remove_file(path);
                }
            }
        }
    }
}

/// The text of the agent's memory file of resource `rsc` ("" when none):
/// for what no key names (a string that must appear nowhere in it).
pub fn memory_text(rsc: &str) -> String {
    agent_file(rsc, AgentFile::State)
        .and_then(|path| fs::read_to_string(path).ok())
        .unwrap_or_default()
}

// ---------------------------------------------------------------- processes

/// What one process run by a test did: the agent, a PostgreSQL or Pacemaker
/// tool. Its `Display` is everything needed to see why an assertion failed.
pub struct Outcome {
    /// The program and its arguments.
    pub argv: Vec<String>,
    /// The environment set for it (all of it when the command cleared it).
    pub vars: Vec<(String, String)>,
    /// The exit status; None when a signal ended it.
    pub status: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

/// Runs `cmd` (stdin from /dev/null, stdout and stderr captured unless set)
/// and waits for it.
pub fn outcome_of(mut cmd: Command) -> Outcome {
    let (argv, vars) = described(&cmd);
    let started = Instant::now();
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run {argv:?}: {e}"));
    Outcome {
        argv,
        vars,
        status: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed: started.elapsed(),
    }
}

/// [`outcome_of`] for a process that may never exit: its output goes to
/// files, not pipes (a descendant stuck with them open must not hang the
/// reader), and it is waited for `bound` at most. One still running then
/// gets SIGKILL and is left behind unreaped (it may be stuck in the kernel
/// for good); its outcome has no status and says so in `stderr`.
pub fn outcome_within(mut cmd: Command, bound: Duration) -> Outcome {
    use wait_timeout::ChildExt;
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let (argv, vars) = described(&cmd);
    let base = format!(
        "/tmp/pgha-test-out-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    );
    let (out_path, err_path) = (format!("{base}.stdout"), format!("{base}.stderr"));
    let started = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(fs::File::create(&out_path).unwrap())
        .stderr(fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("run {argv:?}: {e}"));
    let status = child.wait_timeout(bound).expect("wait for the child");
    let elapsed = started.elapsed();
    if status.is_none() {
        let _ = child.kill();
    }
    let read = |path: &str| {
        let text = fs::read_to_string(path).unwrap_or_default();
        let _ = fs::remove_file(path);
        text
    };
    let mut stderr = read(&err_path);
    if status.is_none() {
        stderr.push_str(&format!(
            "\n[the test: no exit within {bound:?}; killed, not reaped]\n"
        ));
    }
    Outcome {
        argv,
        vars,
        status: status.and_then(|s| s.code()),
        stdout: read(&out_path),
        stderr,
        elapsed,
    }
}

/// The argv and the environment set of `cmd`, for its [`Outcome`].
fn described(cmd: &Command) -> (Vec<String>, Vec<(String, String)>) {
    let argv = std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let vars = cmd
        .get_envs()
        .filter_map(|(k, v)| {
            Some((
                k.to_string_lossy().into_owned(),
                v?.to_string_lossy().into_owned(),
            ))
        })
        .collect();
    (argv, vars)
}

/// Runs a program with `args` and waits for it.
pub fn run_tool(program: impl AsRef<Path>, args: &[&str]) -> Outcome {
    require_host();
    let mut cmd = Command::new(program.as_ref());
    cmd.args(args);
    outcome_of(cmd)
}

/// A command for `program` as the postgres user (with its group), from /tmp,
/// its stdin /dev/null.
pub fn postgres_command(program: impl AsRef<Path>) -> Command {
    let user = postgres_user();
    let mut cmd = Command::new(program.as_ref());
    cmd.uid(user.uid.as_raw())
        .gid(user.gid.as_raw())
        .current_dir("/tmp")
        .stdin(Stdio::null());
    cmd
}

/// Runs a program as postgres and panics with its output if it fails; its
/// stdout.
#[track_caller]
pub fn run_as_postgres(program: impl AsRef<Path>, args: &[&str]) -> String {
    let mut cmd = postgres_command(program);
    cmd.args(args);
    outcome_of(cmd).expect_success().stdout.clone()
}

/// Runs `command`, a `pcs ...` line as a page tells an operator to type it,
/// on CIB file `cib` (`pcs -f`), in a shell as the operator's (pages quote
/// values); it must succeed without a warning or a deprecation.
#[track_caller]
pub fn pcs_on_file(cib: &Path, command: &str) {
    let rest = command.trim_start_matches("pcs ");
    let script = format!("exec pcs -f {} {rest}", cib.display());
    let out = run_tool("sh", &["-c", &script]);
    out.expect_success();
    let said = format!("{}{}", out.stdout, out.stderr).to_lowercase();
    assert!(
        !said.contains("warning") && !said.contains("deprecat"),
        "the page's command made pcs warn\n{out}"
    );
}

/// `pgha <args>` outside any OCF action (`doc man`, `usage`), with the
/// environment of [`Agent::bare`].
pub fn pgha(args: &[&str]) -> Outcome {
    outcome_of(Agent::bare().command(args))
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "command: {}", self.argv.join(" "))?;
        for (k, v) in &self.vars {
            writeln!(f, "  {k}={v}")?;
        }
        match self.code() {
            Some(code) => writeln!(f, "exit code: {code} after {:?}", self.elapsed)?,
            None => writeln!(f, "exit status: {:?} after {:?}", self.status, self.elapsed)?,
        }
        writeln!(f, "--- stdout\n{}", self.stdout)?;
        writeln!(f, "--- stderr\n{}", self.stderr)
    }
}

impl Outcome {
    /// The OCF code it exited with; None for a status that is none (a
    /// signal, a panic).
    pub fn code(&self) -> Option<OcfCode> {
        OcfCode::ALL.into_iter().find(|c| Some(c.as_i32()) == self.status)
    }

    /// Whether it exited with `code`.
    pub fn is(&self, code: OcfCode) -> bool {
        self.status == Some(code.as_i32())
    }

    /// The exit reason line, without its prefix.
    pub fn exit_reason(&self) -> Option<&str> {
        self.exit_reasons().next()
    }

    fn exit_reasons(&self) -> impl Iterator<Item = &str> {
        self.stderr
            .lines()
            .filter_map(|l| l.strip_prefix("ocf-exit-reason:"))
    }

    /// Asserts that a tool (not the agent) exited 0.
    #[track_caller]
    pub fn expect_success(&self) -> &Outcome {
        assert_eq!(self.status, Some(0), "expected exit status 0\n{self}");
        self
    }

    /// Asserts the agent's exit code, and what goes with it: no exit reason
    /// after a success, exactly one, under Pacemaker's 128 characters, after
    /// a failure.
    #[track_caller]
    pub fn expect(&self, code: OcfCode) -> &Outcome {
        assert!(self.is(code), "expected exit code {code}\n{self}");
        let reasons = self.exit_reasons().count();
        if matches!(
            code,
            OcfCode::Success | OcfCode::NotRunning | OcfCode::RunningPromoted
        ) {
            assert_eq!(reasons, 0, "a success ({code}) printed an exit reason\n{self}");
        } else {
            assert_eq!(
                reasons, 1,
                "a failure ({code}) must print exactly one exit reason\n{self}"
            );
            let reason = self.exit_reason().unwrap_or_default();
            assert!(
                reason.len() < 128,
                "an exit reason under 128 bytes, not {}\n{self}",
                reason.len()
            );
        }
        self
    }

    /// Asserts the code and that the exit reason mentions `needle`.
    #[track_caller]
    pub fn expect_reason(&self, code: OcfCode, needle: &str) -> &Outcome {
        self.expect(code);
        let reason = self.exit_reason().unwrap_or("");
        assert!(
            reason.contains(needle),
            "expected an exit reason with {needle:?}, not {reason:?}\n{self}"
        );
        self
    }

    /// Asserts that `text` (its `stream`) has `needle`, or lacks it when
    /// not `present`; `what` says what that means.
    #[track_caller]
    fn expect_text(&self, stream: &str, text: &str, needle: &str, present: bool, what: &str) -> &Outcome {
        let expected = if present { "in" } else { "not in" };
        assert_eq!(
            text.contains(needle),
            present,
            "{what}: expected {needle:?} {expected} {stream}\n{self}"
        );
        self
    }

    /// Asserts that the agent's log (stderr) has `needle`; `what` says
    /// what that line means.
    #[track_caller]
    pub fn expect_logged(&self, needle: &str, what: &str) -> &Outcome {
        self.expect_text("the log", &self.stderr, needle, true, what)
    }

    /// Asserts that the agent's log (stderr) lacks `needle`.
    #[track_caller]
    pub fn expect_not_logged(&self, needle: &str, what: &str) -> &Outcome {
        self.expect_text("the log", &self.stderr, needle, false, what)
    }

    /// Asserts that its stdout has `needle`; `what` says what that means.
    #[track_caller]
    pub fn expect_stdout(&self, needle: &str, what: &str) -> &Outcome {
        self.expect_text("stdout", &self.stdout, needle, true, what)
    }

    /// Asserts that it took less than `bound`.
    #[track_caller]
    pub fn expect_within(&self, bound: Duration) -> &Outcome {
        assert!(
            self.elapsed < bound,
            "expected an answer within {bound:?}, took {:?}\n{self}",
            self.elapsed
        );
        self
    }
}

/// A process started in the background (a commit that may wait for a
/// standby), killed and reaped when dropped.
pub struct Background {
    child: Child,
}

impl Background {
    /// Starts `cmd`.
    pub fn spawn(mut cmd: Command) -> Background {
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {:?}: {e}", cmd.get_program()));
        Background { child }
    }

    /// Its process id.
    pub fn pid(&self) -> Pid {
        Pid::from_raw(self.child.id() as i32)
    }

    /// Whether it still runs.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }

    /// Its exit status, if it exits within `within`.
    pub fn exit_within(&mut self, within: Duration) -> Option<ExitStatus> {
        poll(within, Duration::from_millis(100), || {
            self.child.try_wait().expect("try_wait").ok_or(())
        })
        .ok()
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------- files

/// Makes `dir` a bin directory for the agent's `bindir`: the programs of
/// [`pg_bin`] linked, but `postgres`, a script that runs `shell` (as the
/// user the agent runs postgres as, with postgres' arguments in `$@`) and
/// then the real one: what a test puts between the agent and the server.
pub fn wrap_postgres(dir: &Path, shell: &str) {
    wrap_program(dir, "postgres", shell);
}

/// [`wrap_postgres`] for any program of [`pg_bin`]: `program` runs `shell`
/// first, the others are linked.
pub fn wrap_program(dir: &Path, program: &str, shell: &str) {
    for entry in fs::read_dir(pg_bin()).unwrap() {
        let entry = entry.unwrap();
        if entry.file_name() != program {
            std::os::unix::fs::symlink(entry.path(), dir.join(entry.file_name())).unwrap();
        }
    }
    let script = format!(
        "#!/bin/sh\n{shell}\nexec '{}' \"$@\"\n",
        pg_bin().join(program).display()
    );
    let wrapper = dir.join(program);
    fs::write(&wrapper, script).unwrap();
    fs::set_permissions(&wrapper, fs::Permissions::from_mode(0o755)).unwrap();
}

/// The `postgres` system user, which owns test clusters.
pub fn postgres_user() -> User {
    require_host();
    User::from_name("postgres")
        .unwrap()
        .expect("the postgres user exists (postgresql package)")
}

/// A temporary directory under /tmp, mode 0755, removed on drop.
pub struct TempDir {
    pub path: PathBuf,
}

impl TempDir {
    /// Owned by postgres.
    pub fn new(name: &str) -> TempDir {
        let dir = TempDir::made(name);
        let user = postgres_user();
        nix::unistd::chown(&dir.path, Some(user.uid), Some(user.gid)).unwrap();
        dir
    }

    /// Owned by root: postgres can read it but create nothing in it, like
    /// /etc or /var/log.
    pub fn root_only(name: &str) -> TempDir {
        TempDir::made(&format!("root-{name}"))
    }

    fn made(name: &str) -> TempDir {
        require_host();
        let template = format!("/tmp/pgha-test-{name}-XXXXXX");
        let path = nix::unistd::mkdtemp(template.as_str()).expect("mkdtemp");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        TempDir { path }
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// The entries of `dir` whose names start with `prefix`, sorted.
pub fn entries_starting_with(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
        .map(|e| e.path())
        .collect();
    found.sort();
    found
}

// ---------------------------------------------------------------- clusters

/// A port no other test of this process uses (sockets are per directory, so
/// this only matters where a test listens on TCP).
pub fn unique_port() -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let base = 20000 + (std::process::id() % 20000) as u16;
    base + NEXT.fetch_add(1, Ordering::SeqCst)
}

/// The resource name of this test process for `name`: its own, so that
/// parallel tests (and other checkouts' test runs) never share an agent's
/// memory in /run/pgha.
pub fn resource_name(name: &str) -> String {
    format!("t{}-{name}", std::process::id())
}

/// The `primary_conninfo` of a node that follows nobody yet (the first
/// primary): it names no server that exists.
pub const NO_PRIMARY_YET: &str = "host=/nonexistent port=1 user=postgres";

/// What pg_rewind needs of a primary: hint bits logged, and the WAL since
/// the last common checkpoint kept on the former primary.
pub const REWINDABLE: &str = "wal_log_hints = on\nwal_keep_size = '256MB'\n";

/// A PostgreSQL cluster made by initdb in a temporary directory.
pub struct PgCluster {
    pub dir: TempDir,
    pub datadir: PathBuf,
    pub port: u16,
    /// The resource name its agents run as unless a test names another
    /// ([`resource_name`]).
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
        Self::made_by(
            name,
            "initdb",
            &["--no-sync", "--auth-local", auth, "--auth-host", "trust"],
            "listen_addresses = ''\nfsync = off\nshared_buffers = 16MB\n",
        )
    }

    /// A copy of running `primary` made with pg_basebackup, with its own
    /// socket directory; nothing is started.
    pub fn basebackup_of(primary: &PgCluster, name: &str) -> PgCluster {
        let host = primary.dir.path.to_str().unwrap();
        let port = primary.port.to_string();
        Self::made_by(
            name,
            "pg_basebackup",
            &["-h", host, "-p", &port, "-X", "stream", "-c", "fast"],
            "",
        )
    }

    /// A cluster whose data directory `tool` (initdb, pg_basebackup) makes,
    /// run as postgres with `args` and the superuser and data directory;
    /// `conf` appended to its configuration.
    fn made_by(name: &str, tool: &str, args: &[&str], conf: &str) -> PgCluster {
        let dir = TempDir::new(name);
        let datadir = dir.path.join("data");
        let mut argv = args.to_vec();
        argv.extend(["-U", "postgres", "-D", datadir.to_str().unwrap()]);
        run_as_postgres(pg_bin().join(tool), &argv);
        Self::with_own_socket(name, dir, datadir, conf)
    }

    /// A node's cluster that does not exist yet: its temporary directory,
    /// no data directory (what a new node or a replaced disk has). Its
    /// agents must put the socket directory on the command line, as
    /// [`PgCluster::clone_agent`] does: the copy it gets carries its
    /// source's postgresql.conf.
    pub fn not_made(name: &str) -> PgCluster {
        let dir = TempDir::new(name);
        Self::in_dir(name, dir.path.join("data"), dir)
    }

    fn in_dir(name: &str, datadir: PathBuf, dir: TempDir) -> PgCluster {
        let port = unique_port();
        PgCluster {
            rsc: resource_name(&format!("{name}-{port}")),
            files: Arc::default(),
            port,
            datadir,
            dir,
        }
    }

    /// A cluster in `dir` listening on a socket there (so tests never
    /// collide on a port), with `extra` appended to its configuration.
    fn with_own_socket(name: &str, dir: TempDir, datadir: PathBuf, extra: &str) -> PgCluster {
        let cluster = Self::in_dir(name, datadir, dir);
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
            ("logfile", self.server_log_path().to_str().unwrap().to_string()),
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

    /// Where the agent's `logfile` sends the server's output.
    pub fn server_log_path(&self) -> PathBuf {
        self.dir.path.join("server.log")
    }

    /// The server's log ("" when there is none yet).
    pub fn server_log(&self) -> String {
        fs::read_to_string(self.server_log_path()).unwrap_or_default()
    }

    pub fn postmaster_pid(&self) -> Option<Pid> {
        let text = fs::read_to_string(self.datadir.join("postmaster.pid")).ok()?;
        text.lines().next()?.trim().parse().ok().map(Pid::from_raw)
    }

    /// Sends `signal` to the postmaster; its pid.
    pub fn signal_postmaster(&self, signal: Signal) -> Pid {
        let pid = self.postmaster_pid().expect("a postmaster.pid");
        kill(pid, signal).unwrap_or_else(|e| panic!("{signal} to the postmaster {pid}: {e}"));
        pid
    }

    /// Crashes the server: SIGKILL to the postmaster, which is then gone.
    pub fn crash(&self) {
        wait_gone(self.signal_postmaster(Signal::SIGKILL));
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

    /// Asserts that no process works in the data directory; `what` says
    /// why none should.
    #[track_caller]
    pub fn assert_no_processes(&self, what: &str) {
        let left = self.processes();
        assert!(
            left.is_empty(),
            "{what}: expected no process in {}, found {left:?}",
            self.datadir.display()
        );
    }

    /// psql as postgres on this cluster's socket, running `sql`, tuples
    /// unaligned.
    fn psql_command(&self, sql: &str) -> Command {
        let mut cmd = postgres_command(pg_bin().join("psql"));
        cmd.args([
            "-XAtq",
            "-h",
            self.dir.path.to_str().unwrap(),
            "-p",
            &self.port.to_string(),
            "-d",
            "postgres",
            "-c",
            sql,
        ]);
        cmd
    }

    /// Runs SQL through psql as postgres: its output, or the whole outcome
    /// when psql fails.
    pub fn try_psql(&self, sql: &str) -> Result<String, Outcome> {
        let out = outcome_of(self.psql_command(sql));
        if out.status == Some(0) {
            Ok(out.stdout)
        } else {
            Err(out)
        }
    }

    /// Runs SQL through psql as postgres, returning unaligned tuples; panics
    /// with psql's output when it fails.
    #[track_caller]
    pub fn psql(&self, sql: &str) -> String {
        self.try_psql(sql)
            .unwrap_or_else(|out| panic!("expected psql to succeed\n{out}"))
    }

    /// Asserts that `sql` answers `expected` (trimmed); `what` says what
    /// the answer means.
    #[track_caller]
    pub fn assert_query(&self, sql: &str, expected: &str, what: &str) {
        assert_eq!(self.psql(sql).trim(), expected, "{what} (`{sql}`)");
    }

    /// Waits (15 s at most) until `sql` answers `expected`.
    #[track_caller]
    pub fn wait_for_row(&self, sql: &str, expected: &str) {
        wait_until(
            || match self.try_psql(sql) {
                Ok(got) if got.trim() == expected => Ok(()),
                Ok(got) => Err(got),
                Err(failed) => Err(failed.to_string()),
            },
            Duration::from_secs(15),
            &format!("`{sql}` to answer {expected:?}"),
        );
    }

    /// `sql` through psql as postgres, in the background (its output
    /// discarded): a commit that may wait for a standby.
    pub fn psql_in_background(&self, sql: &str) -> Background {
        let mut cmd = self.psql_command(sql);
        cmd.stdout(Stdio::null());
        Background::spawn(cmd)
    }

    /// Asserts that `sql` completes, successfully, within 10 s: a commit
    /// that waits for no standby that is gone.
    #[track_caller]
    pub fn assert_commits(&self, sql: &str, what: &str) {
        let within = Duration::from_secs(10);
        let status = self.psql_in_background(sql).exit_within(within);
        assert!(
            status.is_some_and(|s| s.success()),
            "{what}: expected `{sql}` to complete within {within:?}, got {status:?}"
        );
    }

    /// Asserts that the server applies `expected` as
    /// synchronous_standby_names; `what` says why.
    #[track_caller]
    pub fn assert_sync_names(&self, expected: &str, what: &str) {
        self.assert_query("show synchronous_standby_names", expected, what);
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        for pid in self.processes() {
            let _ = kill(pid, Signal::SIGKILL);
        }
        let _ = poll(Duration::from_secs(5), Duration::from_millis(20), || {
            self.processes().is_empty().then_some(()).ok_or(())
        });
    }
}

// ---------------------------------------------------------------- the agent

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

    /// With every parameter of `params` set.
    pub fn params(self, params: &[(&str, &str)]) -> Agent {
        params.iter().fold(self, |agent, (k, v)| agent.param(k, v))
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

    /// A recurring monitor's run (a probe is `run("monitor")`).
    pub fn recurring_monitor(&self) -> Outcome {
        self.clone().recurring().run("monitor")
    }

    /// Asserts that a probe and a recurring monitor both answer `code`.
    #[track_caller]
    pub fn expect_monitors(&self, code: OcfCode) {
        self.run("monitor").expect(code);
        self.recurring_monitor().expect(code);
    }

    /// validate-all at the level of its environment (0 unless set).
    pub fn validate(&self) -> Outcome {
        self.run("validate-all")
    }

    /// validate-all at level 10 ([`Agent::check_level_10`]).
    pub fn validate_level_10(&self) -> Outcome {
        self.clone().check_level_10().validate()
    }

    /// Asserts that validate-all at level 10 and start both refuse, with
    /// `code` and the same exit reason, holding `needle`: what a start would
    /// find, validation finds first.
    #[track_caller]
    pub fn expect_refused(&self, code: OcfCode, needle: &str) {
        let validate = self.validate_level_10();
        validate.expect_reason(code, needle);
        let start = self.run("start");
        start.expect_reason(code, needle);
        assert_eq!(
            start.exit_reason(),
            validate.exit_reason(),
            "start and validate-all give the same reason\n{validate}\n{start}"
        );
    }

    /// With `OCF_CHECK_LEVEL=10`: validate-all checks the host too.
    pub fn check_level_10(self) -> Agent {
        self.env("OCF_CHECK_LEVEL", "10")
    }

    /// The resource name it runs as.
    pub fn rsc(&self) -> String {
        self.env
            .get("OCF_RESOURCE_INSTANCE")
            .cloned()
            .unwrap_or_else(|| "pgsqld".to_string())
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
            vars.push(("OCF_RESOURCE_INSTANCE".into(), self.rsc()));
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

    /// The agent with `args` in this environment (and PATH, nothing else),
    /// for a test that must adjust the command before [`outcome_of`].
    pub fn command(&self, args: &[&str]) -> Command {
        self.files.note(&self.rsc());
        let mut cmd = Command::new(AGENT);
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(self.vars());
        cmd
    }

    /// Runs `action` and waits for it.
    pub fn run(&self, action: &str) -> Outcome {
        outcome_of(self.command(&[action]))
    }

    /// Runs `action` until `done` holds of its outcome or `within` passes;
    /// the last outcome.
    fn run_until_done(&self, action: &str, within: Duration, done: impl Fn(&Outcome) -> bool) -> Outcome {
        let until = poll(within, Duration::from_millis(200), || {
            let out = self.run(action);
            if done(&out) { Ok(out) } else { Err(out) }
        });
        until.unwrap_or_else(|last| last)
    }

    /// Runs `action` until it returns `code` or `within` passes; the last
    /// outcome.
    pub fn run_until(&self, action: &str, code: OcfCode, within: Duration) -> Outcome {
        self.run_until_done(action, within, |out| out.is(code))
    }

    /// Runs `action` until it exits with `code` and an exit reason holding
    /// `needle`, or `within` has passed; the last outcome.
    pub fn run_until_reason(&self, action: &str, code: OcfCode, needle: &str, within: Duration) -> Outcome {
        self.run_until_done(action, within, |out| {
            out.is(code) && out.exit_reason().is_some_and(|r| r.contains(needle))
        })
    }

    /// Asserts that `action` returns `code` within `within`.
    #[track_caller]
    pub fn expect_within(&self, action: &str, code: OcfCode, within: Duration) -> Outcome {
        let out = self.run_until(action, code, within);
        out.expect(code);
        out
    }

    /// Asserts that `action` returns `code` with an exit reason holding
    /// `needle` within `within`.
    #[track_caller]
    pub fn expect_reason_within(
        &self,
        action: &str,
        code: OcfCode,
        needle: &str,
        within: Duration,
    ) -> Outcome {
        let out = self.run_until_reason(action, code, needle, within);
        out.expect_reason(code, needle);
        out
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

// ---------------------------------------------------------------- clones

/// A clone notification of `kind` ("pre", "post") for `operation`, with the
/// node lists `lists` (`("all", "node-a node-b")` is `notify_all_uname`);
/// it must succeed.
#[track_caller]
pub fn notify(agent: &Agent, kind: &str, operation: &str, lists: &[(&str, &str)]) {
    lists
        .iter()
        .fold(
            agent
                .clone()
                .meta("notify_type", kind)
                .meta("notify_operation", operation),
            |n, (list, nodes)| n.meta(&format!("notify_{list}_uname"), nodes),
        )
        .run("notify")
        .expect(OcfCode::Success);
}

/// A post-start clone notification listing `all` as `notify_all_uname`.
#[track_caller]
pub fn post_start_notify(agent: &Agent, all: &str) {
    notify(agent, "post", "start", &[("all", all)]);
}

/// A post-stop clone notification listing `stopped` as `notify_stop_uname`.
#[track_caller]
pub fn post_stop_notify(agent: &Agent, stopped: &str) {
    notify(agent, "post", "stop", &[("stop", stopped)]);
}

/// Stops each agent, in this order; each stop must succeed.
#[track_caller]
pub fn stop_all(agents: &[&Agent]) {
    for agent in agents {
        agent.run("stop").expect(OcfCode::Success);
    }
}

/// Creates table `t` with one row (1) on primary `a` and waits until its
/// standby `b` has it.
#[track_caller]
pub fn replicated_table(a: &PgCluster, b: &PgCluster) {
    a.psql("create table t(i int); insert into t values (1)");
    b.wait_for_row("select count(*) from t", "1");
}

/// After [`diverge`]: `a` has `b`'s history, not its own (2 rows, the least
/// -1), and follows `b`'s new commits.
#[track_caller]
pub fn assert_follows_the_new_primary(a: &PgCluster, b: &PgCluster) {
    a.wait_for_row("select count(*) from t", "2");
    a.assert_query(
        "select min(i) from t",
        "-1",
        "the new primary's history, not its own",
    );
    b.psql("insert into t values (-2)");
    a.wait_for_row("select count(*) from t", "3");
}

/// A cluster of its own, started by its agent as a primitive.
#[track_caller]
pub fn started(name: &str) -> (PgCluster, Agent) {
    let pg = PgCluster::init(name);
    let agent = pg.agent();
    agent.run("start").expect(OcfCode::Success);
    (pg, agent)
}

/// A primary on "node-a" (cluster `<name>-a` with `conf` appended, agent
/// parameters `params`, resource [`resource_name`]`(name)`), started as a
/// standby and promoted, as in a cluster, and its agent.
#[track_caller]
pub fn primary(name: &str, conf: &str, params: &[(&str, &str)]) -> (PgCluster, Agent) {
    let a = PgCluster::init(&format!("{name}-a"));
    a.append_conf(conf);
    let agent = a
        .clone_agent(&resource_name(name), "node-a", NO_PRIMARY_YET)
        .params(params);
    agent.run("start").expect(OcfCode::Success);
    // Not streaming (no primary yet) is not worth a report in the first 30 s.
    agent.run("monitor").expect(OcfCode::Success);
    agent.run("promote").expect(OcfCode::Success);
    // A primary alone in sync mode says so at once: its commits are
    // acknowledged with no standby. In strict-sync they wait, which is
    // reported only once the wait has lasted (a test of its own).
    let sync_mode = params.contains(&("replication_mode", "sync"));
    let alone = if sync_mode {
        OcfCode::DegradedPromoted
    } else {
        OcfCode::RunningPromoted
    };
    agent.run("monitor").expect(alone);
    (a, agent)
}

/// Asserts (within 20 s) that `agent`'s standby on `pg` is healthy, its
/// monitor a success; else panics with the server's log.
#[track_caller]
pub fn assert_streams(agent: &Agent, pg: &PgCluster) {
    let out = agent.run_until("monitor", OcfCode::Success, Duration::from_secs(20));
    if !out.is(OcfCode::Success) {
        panic!(
            "expected the standby to stream\n{out}\n--- its server log\n{}",
            pg.server_log()
        );
    }
}

/// A standby of running primary `a` on node `node` (a base backup, cluster
/// `name`), its agent with `params`; started, and streaming under its node
/// name.
#[track_caller]
pub fn standby(
    a: &PgCluster,
    rsc: &str,
    node: &str,
    name: &str,
    params: &[(&str, &str)],
) -> (PgCluster, Agent) {
    let (b, agent) = standby_started(a, rsc, node, name, params);
    assert_streams_to(a, &b, &agent, node);
    (b, agent)
}

/// [`standby`] started, before it is checked to stream: with slots on it
/// streams only once the primary knows its node and made its slot.
#[track_caller]
pub fn standby_started(
    a: &PgCluster,
    rsc: &str,
    node: &str,
    name: &str,
    params: &[(&str, &str)],
) -> (PgCluster, Agent) {
    let b = PgCluster::basebackup_of(a, name);
    let agent = b.clone_agent(rsc, node, &a.conninfo()).params(params);
    // A base backup never started is stopped, not a crashed primary, even
    // though it carries its source's pg_control ("in production").
    agent.run("monitor").expect(OcfCode::NotRunning);
    agent.run("start").expect(OcfCode::Success);
    (b, agent)
}

/// Standby `b` (its agent `agent`, on `node`) streams, and primary `a`
/// sees it streaming under its node name.
#[track_caller]
fn assert_streams_to(a: &PgCluster, b: &PgCluster, agent: &Agent, node: &str) {
    assert_streams(agent, b);
    a.wait_for_row(
        &format!(
            "select count(*) from pg_stat_replication where application_name = '{}' and state = 'streaming'",
            node.replace('\'', "''")
        ),
        "1",
    );
}

/// A primary on "node-a" and a standby made from it on "node-b", both
/// agents with `params`, the primary told of both nodes.
#[track_caller]
pub fn pair_with(name: &str, params: &[(&str, &str)]) -> (PgCluster, Agent, PgCluster, Agent) {
    let (a, a_agent) = primary(name, REWINDABLE, params);
    let (b, b_agent) = standby_started(&a, &a_agent.rsc(), "node-b", &format!("{name}-b"), params);
    // Pacemaker's post-start notification: its node list is the membership
    // the agent falls back on with no cluster to ask (only members are standbys).
    post_start_notify(&a_agent, "node-a node-b");
    if params.contains(&("replication_slots", "true")) {
        // The standby streams through its slot, which the primary's monitor
        // makes once it knows the node.
        a_agent
            .clone()
            .recurring()
            .run("monitor")
            .expect(OcfCode::RunningPromoted);
    }
    assert_streams_to(&a, &b, &b_agent, "node-b");
    (a, a_agent, b, b_agent)
}

/// [`pair_with`] no extra parameters.
#[track_caller]
pub fn pair(name: &str) -> (PgCluster, Agent, PgCluster, Agent) {
    pair_with(name, &[])
}

/// A [`pair`] whose standby has the [`replicated_table`] and is stopped:
/// what the primary writes now, it lacks.
#[track_caller]
pub fn standby_stopped_behind(name: &str) -> (PgCluster, Agent, PgCluster, Agent) {
    let (a, a_agent, b, b_agent) = pair(name);
    replicated_table(&a, &b);
    b_agent.run("stop").expect(OcfCode::Success);
    (a, a_agent, b, b_agent)
}

/// Issue 15's Debian 13 lab: a primary cut off from the others is demoted
/// alone (it lost quorum) and stopped, while another node is promoted. Its
/// shutdown checkpoint is WAL the new primary never had, and pg_control
/// says "shut down in recovery", as a plain standby's would. `a` is that
/// primary, stopped, its agent following `b` with rewind=true; `b` the new
/// primary.
#[track_caller]
pub fn demoted_alone_while_cut_off(name: &str) -> (PgCluster, Agent, PgCluster, Agent) {
    // The cut: neither hears from the other (a primary_conninfo that
    // reaches nothing); b is promoted, while a goes on alone.
    let cut = "host=127.0.0.1 port=1";
    let (a, a_agent, b, b_agent) = standby_stopped_behind(name);
    a.psql("insert into t select generate_series(2, 1000)"); // never reaches b
    let b_cut = b_agent.clone().param("primary_conninfo", cut);
    b_cut.run("start").expect(OcfCode::Success);
    b_cut.run("promote").expect(OcfCode::Success);
    b.psql("insert into t values (-1)");
    // a, cut off, is demoted where it stands and then stopped.
    let a_agent = a_agent.param("rewind", "true");
    let a_cut = a_agent.clone().param("primary_conninfo", cut);
    a_cut.run("demote").expect(OcfCode::Success);
    a_cut.run("stop").expect(OcfCode::Success);
    (a, a_agent.param("primary_conninfo", &b.conninfo()), b, b_agent)
}

/// A failover that leaves the old primary with WAL the new one never got:
/// b promoted, a stopped, its agent following b.
#[track_caller]
pub fn diverge(name: &str) -> (PgCluster, Agent, PgCluster, Agent) {
    let (a, a_agent, b, b_agent) = standby_stopped_behind(name);
    a.psql("insert into t select generate_series(2, 1000)"); // never reaches b
    a_agent.run("stop").expect(OcfCode::Success);
    b_agent.run("start").expect(OcfCode::Success);
    b_agent.run("promote").expect(OcfCode::Success);
    b.psql("insert into t values (-1)");
    let a_agent = a_agent.param("primary_conninfo", &b.conninfo());
    (a, a_agent, b, b_agent)
}
