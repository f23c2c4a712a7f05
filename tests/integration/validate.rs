use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use crate::util::*;

fn syntax_only() -> Agent {
    Agent::bare().param("pgdata", "/nonexistent/on/this/host")
}

/// validate-all at level 0 with parameter `name` set to `value`, pgdata
/// absent from this node.
fn syntax_with(name: &str, value: &str) -> Outcome {
    syntax_only().param(name, value).validate()
}

/// validate-all at level 10 of a new cluster (`cluster`) with parameter
/// `name` set to `value`.
fn level_10_with(cluster: &str, name: &str, value: &str) -> Outcome {
    PgCluster::init(cluster)
        .agent()
        .param(name, value)
        .validate_level_10()
}

#[test]
fn level_0_checks_syntax_without_touching_the_host() {
    // pgdata does not exist here: at level 0 that is not our business.
    syntax_only().validate().expect(OcfCode::Success);
}

#[test]
fn missing_or_relative_pgdata_is_err_configured() {
    Agent::bare()
        .validate()
        .expect_reason(OcfCode::ErrConfigured, "pgdata");
    Agent::bare()
        .param("pgdata", "data")
        .validate()
        .expect_reason(OcfCode::ErrConfigured, "absolute");
}

#[test]
fn bad_ports_are_err_configured() {
    for port in ["abc", "0", "70000", "-5"] {
        syntax_with("pgport", port).expect_reason(OcfCode::ErrConfigured, "pgport");
    }
}

#[test]
fn root_as_system_user_is_err_configured() {
    syntax_with("system_user", "root").expect_reason(OcfCode::ErrConfigured, "root");
}

#[test]
fn unbalanced_start_opts_is_err_configured() {
    syntax_with("start_opts", "-c 'work_mem=4MB").expect_reason(OcfCode::ErrConfigured, "start_opts");
}

#[test]
fn level_10_accepts_a_real_cluster() {
    let pg = PgCluster::init("v10ok");
    pg.agent().validate_level_10().expect(OcfCode::Success);
    // bindir detected from PG_VERSION when not given: Debian's
    // /usr/lib/postgresql/<major>/bin, else PATH, which is where binaries
    // of another origin (PGHA_TEST_PG_BIN) are found.
    let path = format!(
        "{}:{}",
        pg_bin().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    pg.agent()
        .without("bindir")
        .env("PATH", &path)
        .validate_level_10()
        .expect(OcfCode::Success);
}

#[test]
fn level_10_unknown_user_is_err_installed() {
    level_10_with("v10user", "system_user", "pgha-no-such-user")
        .expect_reason(OcfCode::ErrInstalled, "does not exist");
}

#[test]
fn level_10_missing_pgdata_is_err_args() {
    Agent::bare()
        .param("pgdata", "/nonexistent/pgdata")
        .param("system_user", "postgres")
        .validate_level_10()
        .expect_reason(OcfCode::ErrArgs, "does not exist");
}

#[test]
fn level_10_bindir_without_binaries_is_err_installed() {
    level_10_with("v10bin", "bindir", "/usr/bin").expect_reason(OcfCode::ErrInstalled, "bindir");
}

#[test]
fn level_10_wrong_owner_or_mode_is_err_perm() {
    let pg = PgCluster::init("v10perm");
    std::fs::set_permissions(&pg.datadir, std::fs::Permissions::from_mode(0o755)).unwrap();
    pg.agent()
        .validate_level_10()
        .expect_reason(OcfCode::ErrPerm, "0755");
    std::fs::set_permissions(&pg.datadir, std::fs::Permissions::from_mode(0o700)).unwrap();
    nix::unistd::chown(&pg.datadir, Some(nix::unistd::Uid::from_raw(0)), None).unwrap();
    pg.agent()
        .validate_level_10()
        .expect_reason(OcfCode::ErrPerm, "owned by");
    let user = postgres_user();
    nix::unistd::chown(&pg.datadir, Some(user.uid), None).unwrap();
}

#[test]
fn level_10_unsupported_version_is_err_installed() {
    let pg = PgCluster::init("v10ver");
    std::fs::write(pg.datadir.join("PG_VERSION"), "9.6\n").unwrap();
    pg.agent()
        .validate_level_10()
        .expect_reason(OcfCode::ErrInstalled, "not supported");
}

#[test]
fn probes_report_not_running_where_postgresql_is_not_installed() {
    let agent = Agent::bare()
        .param("pgdata", "/nonexistent/pgdata")
        .meta("interval", "0");
    agent.run("monitor").expect(OcfCode::NotRunning);
    agent
        .clone()
        .param("system_user", "pgha-no-such-user")
        .run("monitor")
        .expect(OcfCode::NotRunning);
    // A recurring monitor, however, reports the fault.
    agent.recurring().run("monitor").expect(OcfCode::ErrArgs);
}

/// `crm_resource --validate` of the installed agent with one option.
fn crm_validate(option: &str) -> Outcome {
    install_into_ocf_root();
    run_tool(
        "crm_resource",
        &[
            "--validate",
            "--class",
            "ocf",
            "--provider",
            "pgha",
            "--agent",
            "postgresql",
            "--option",
            option,
        ],
    )
}

#[test]
fn crm_resource_validate_works_without_a_cluster() {
    crm_validate("pgdata=/srv/pg").expect_success();
    let refused = crm_validate("pgport=x");
    assert_ne!(
        refused.status,
        Some(0),
        "crm_resource --validate accepts a missing pgdata\n{refused}"
    );
    assert!(
        format!("{}{}", refused.stdout, refused.stderr).contains("pgdata is required"),
        "crm_resource shows the agent's reason\n{refused}"
    );
}

#[test]
fn reload_agent_checks_the_new_values() {
    syntax_only()
        .param("probe_timeout", "3")
        .run("reload-agent")
        .expect(OcfCode::Success);
    syntax_only()
        .param("probe_timeout", "0")
        .run("reload-agent")
        .expect_reason(OcfCode::ErrConfigured, "probe_timeout");
}

/// A CIB file (`CIB_file`, which every Pacemaker tool reads instead of the
/// live CIB) with these cluster options, `nodes` nodes and `fence_devices`
/// fence devices; its path.
fn cib_file(dir: &TempDir, options: &[(&str, &str)], nodes: usize, fence_devices: usize) -> String {
    let path = dir.path.join("cib.xml");
    let empty = run_tool("cibadmin", &["--empty"]);
    std::fs::write(&path, &empty.expect_success().stdout).unwrap();
    let file = path.to_str().unwrap().to_string();
    let tool = |args: &[&str]| {
        let mut cmd = Command::new(args[0]);
        cmd.args(&args[1..]).env("CIB_file", &file);
        outcome_of(cmd).expect_success();
    };
    for (name, value) in options {
        tool(&[
            "crm_attribute",
            "--type",
            "crm_config",
            "--name",
            name,
            "--update",
            value,
        ]);
    }
    for i in 1..=nodes {
        let node = format!("<node id=\"{i}\" uname=\"n{i}\"/>");
        tool(&["cibadmin", "--create", "-o", "nodes", "--xml-text", &node]);
    }
    for i in 1..=fence_devices {
        let device = format!("<primitive id=\"fence{i}\" class=\"stonith\" type=\"fence_dummy\"/>");
        tool(&["cibadmin", "--create", "-o", "resources", "--xml-text", &device]);
    }
    file
}

/// Issue 13: with a cluster to read, validate-all at level 10 warns about
/// an unsafe one (fencing off, no fence device, two nodes without
/// priority-fencing-delay) and still succeeds; a safe one gets no warning.
#[test]
fn level_10_warns_about_an_unsafe_cluster_and_still_succeeds() {
    let pg = PgCluster::init("cibwarn");
    let level_10 = |file: &str| pg.agent().check_level_10().env("CIB_file", file).validate();
    let dir = TempDir::new("cib-unsafe");
    let unsafe_cib = cib_file(&dir, &[("stonith-enabled", "false")], 2, 0);
    level_10(&unsafe_cib)
        .expect(OcfCode::Success)
        .expect_logged(
            "fencing is disabled (stonith-enabled=false)",
            "a warning about fencing off",
        )
        .expect_logged(
            "two-node cluster without priority-fencing-delay",
            "a warning about a fence race of two nodes",
        );

    let dir = TempDir::new("cib-safe");
    let safe_cib = cib_file(&dir, &[("stonith-enabled", "true")], 3, 1);
    level_10(&safe_cib)
        .expect(OcfCode::Success)
        .expect_not_logged("WARNING", "a safe cluster gets no warning");
}

/// A fake system root for the distribution's own service files: what
/// `PGHA_TEST_ROOT` points the agent to instead of `/` (the real `/etc` is
/// never written by a test).
struct FakeRoot {
    dir: TempDir,
}

impl FakeRoot {
    fn new(name: &str) -> FakeRoot {
        FakeRoot {
            dir: TempDir::root_only(name),
        }
    }

    fn path(&self, relative: &str) -> std::path::PathBuf {
        self.dir.path.join(relative)
    }

    /// Writes `text` to `relative`, creating its directories.
    fn write(&self, relative: &str, text: &str) {
        let path = self.path(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// Makes `relative` a symlink to `target`, creating its directories.
    fn link(&self, relative: &str, target: &str) {
        let path = self.path(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let _ = std::fs::remove_file(&path);
        std::os::unix::fs::symlink(target, path).unwrap();
    }

    fn remove(&self, relative: &str) {
        std::fs::remove_file(self.path(relative)).unwrap();
    }

    /// `agent` reading this root instead of `/`.
    fn agent(&self, agent: Agent) -> Agent {
        agent.env("PGHA_TEST_ROOT", self.dir.path.to_str().unwrap())
    }
}

/// Debian's `postgresql@<version>-<cluster>` with `start.conf` saying auto,
/// and an enabled RHEL/PGDG `postgresql-<version>` unit, each for this data
/// directory, would start PostgreSQL at boot outside Pacemaker (a former
/// primary, writable): validate-all and start refuse with the fix; the same
/// services for another data directory, disabled or masked, pass.
#[test]
fn the_distributions_own_service_for_this_data_directory_is_refused() {
    let pg = PgCluster::init("distsvc");
    let root = FakeRoot::new("distsvc");
    let agent = root.agent(pg.agent());
    let ours = pg.datadir.display().to_string();
    // Nothing of the distribution's there: fine.
    agent.validate_level_10().expect(OcfCode::Success);

    // Debian: a cluster of this data directory that starts at boot.
    let conf = "etc/postgresql/15/main";
    root.write(
        &format!("{conf}/postgresql.conf"),
        &format!(
            "# Debian's file\ndata_directory = '{ours}'\t# use data in another directory\nport = 5432\n"
        ),
    );
    root.write(
        &format!("{conf}/start.conf"),
        "# Automatic startup configuration\nauto\n",
    );
    agent.expect_refused(
        OcfCode::ErrInstalled,
        "postgresql@15-main starts at boot (start.conf: auto)",
    );
    // Another cluster's data directory: not ours.
    root.write(
        "etc/postgresql/16/other/postgresql.conf",
        "data_directory = '/var/lib/postgresql/16/other'\n",
    );
    root.write("etc/postgresql/16/other/start.conf", "auto\n");
    root.write(&format!("{conf}/start.conf"), "manual\n");
    agent.validate_level_10().expect(OcfCode::Success);
    // manual, but its systemd instance enabled: started at boot all the same.
    let wants = "etc/systemd/system/multi-user.target.wants";
    root.link(
        &format!("{wants}/postgresql@15-main.service"),
        "/lib/systemd/system/postgresql@.service",
    );
    agent.expect_refused(OcfCode::ErrInstalled, "postgresql@15-main.service is enabled");
    root.remove(&format!("{wants}/postgresql@15-main.service"));
    // Debian's umbrella unit starts only the clusters that say auto.
    root.write(
        "usr/lib/systemd/system/postgresql.service",
        "[Unit]\nDescription=PostgreSQL RDBMS\n[Service]\nType=oneshot\nExecStart=/bin/true\nRemainAfterExit=on\n",
    );
    root.link(
        &format!("{wants}/postgresql.service"),
        "/lib/systemd/system/postgresql.service",
    );
    root.write(&format!("{conf}/start.conf"), "disabled\n");
    agent.validate_level_10().expect(OcfCode::Success);

    // PGDG: postgresql-15 enabled, its PGDATA the unit's default: not ours.
    root.write(
        "usr/lib/systemd/system/postgresql-15.service",
        "[Service]\nType=notify\nUser=postgres\nEnvironment=PGDATA=/var/lib/pgsql/15/data/\n\
         ExecStart=/usr/pgsql-15/bin/postmaster -D ${PGDATA}\n",
    );
    root.link(
        &format!("{wants}/postgresql-15.service"),
        "/usr/lib/systemd/system/postgresql-15.service",
    );
    agent.validate_level_10().expect(OcfCode::Success);
    // A drop-in that moves its PGDATA to ours (PGDG's documented way).
    root.write(
        "etc/systemd/system/postgresql-15.service.d/override.conf",
        &format!("[Service]\nEnvironment=PGDATA={ours}\n"),
    );
    agent.expect_refused(OcfCode::ErrInstalled, "postgresql-15.service is enabled");
    // Masked: systemd never starts it.
    root.link("etc/systemd/system/postgresql-15.service", "/dev/null");
    agent.validate_level_10().expect(OcfCode::Success);
    root.remove("etc/systemd/system/postgresql-15.service");
    // Disabled: no wants link.
    root.remove(&format!("{wants}/postgresql-15.service"));
    agent.validate_level_10().expect(OcfCode::Success);

    // RHEL's own package: postgresql.service, PGDATA in the unit itself.
    root.write(
        "usr/lib/systemd/system/postgresql.service",
        &format!(
            "[Service]\nType=notify\nEnvironment=PGDATA={ours}\nExecStart=/usr/bin/postmaster -D ${{PGDATA}}\n"
        ),
    );
    agent.expect_refused(OcfCode::ErrInstalled, "postgresql.service is enabled");
}

/// A promotable clone of `pg` on two nodes whose standbys reach the primary
/// over TCP at the VIP (nothing listens there: validate-all and a refused
/// start never connect).
fn clone_over_tcp(pg: &PgCluster) -> Agent {
    pg.clone_agent(&pg.rsc, "node-a", "host=10.0.0.100 port=5432 user=replicator")
}

/// `listen_addresses` on the loopback only (PostgreSQL's default,
/// `localhost`) while standbys connect to the VIP over the network: no
/// standby can follow this node once it is promoted. Refused; with a
/// reachable address, a clone of one node, or standbys that connect over a
/// socket (one host), it passes.
#[test]
fn listen_addresses_standbys_cannot_reach_is_refused_in_a_clone() {
    let pg = PgCluster::init("listen");
    // initdb's clusters of the tests listen on no TCP address at all.
    let agent = clone_over_tcp(&pg);
    agent.expect_refused(OcfCode::ErrArgs, "listen_addresses");
    for local in ["localhost", "127.0.0.1, ::1"] {
        pg.append_conf(&format!("listen_addresses = '{local}'\n"));
        agent
            .validate_level_10()
            .expect_reason(OcfCode::ErrArgs, "listen_addresses");
    }
    // A command-line setting wins over the file, as at start.
    agent
        .clone()
        .param(
            "start_opts",
            &format!(
                "-c unix_socket_directories={} -c listen_addresses=*",
                pg.dir.path.display()
            ),
        )
        .validate_level_10()
        .expect(OcfCode::Success);
    // One node: nobody to reach it.
    agent
        .clone()
        .meta("clone_max", "1")
        .validate_level_10()
        .expect(OcfCode::Success);
    // Standbys on a socket: they run on this host.
    pg.clone_agent(&pg.rsc, "node-a", NO_PRIMARY_YET)
        .validate_level_10()
        .expect(OcfCode::Success);
    pg.append_conf("listen_addresses = '*'\n");
    agent.validate_level_10().expect(OcfCode::Success);
}

/// What validate-all and start only warn of: rebuild=true whose log checks
/// a logging collector or translated messages make blind (rebuild still
/// repairs former primaries), and slots without max_slot_wal_keep_size (a
/// bound is a trade-off, not a mistake).
#[test]
fn blind_log_checks_and_unbounded_slots_are_warned_of() {
    let pg = PgCluster::init("warned");
    let agent = pg
        .clone_agent(&pg.rsc, "node-a", NO_PRIMARY_YET)
        .param("replication_slots", "true")
        .param("rebuild", "true");
    let out = agent.validate_level_10();
    out.expect(OcfCode::Success).expect_logged(
        "max_slot_wal_keep_size is -1",
        "a warning about slots without a bound",
    );
    out.expect_not_logged("logging_collector", "no warning about the log checks");
    pg.append_conf("logging_collector = on\nmax_slot_wal_keep_size = '1GB'\n");
    let out = agent.validate_level_10();
    out.expect(OcfCode::Success)
        .expect_logged("logging_collector=on", "a warning about the log checks");
    out.expect_not_logged("max_slot_wal_keep_size", "bounded slots: no warning");
    // Without rebuild, the log is only read for the degraded reason.
    agent
        .clone()
        .param("rebuild", "false")
        .validate_level_10()
        .expect(OcfCode::Success)
        .expect_not_logged("logging_collector", "no warning without rebuild");
    // Translated messages (lc_messages) are a unit test's: a locale other
    // than C and English may not be installed where the tests run.
    // Start warns alike, and starts.
    pg.append_conf("logging_collector = off\nlog_destination = 'syslog'\n");
    agent
        .run("start")
        .expect(OcfCode::Success)
        .expect_logged("log_destination=syslog", "the warning at start");
    agent.run("stop").expect(OcfCode::Success);
}
