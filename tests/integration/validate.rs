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
