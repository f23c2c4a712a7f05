use std::os::unix::fs::PermissionsExt;

use crate::util::*;

fn syntax_only() -> Agent {
    Agent::bare().param("pgdata", "/nonexistent/on/this/host")
}

#[test]
fn level_0_checks_syntax_without_touching_the_host() {
    // pgdata does not exist here: at level 0 that is not our business.
    syntax_only().run("validate-all").expect(rc::SUCCESS);
}

#[test]
fn missing_or_relative_pgdata_is_err_configured() {
    Agent::bare()
        .run("validate-all")
        .expect_reason(rc::ERR_CONFIGURED, "pgdata");
    Agent::bare()
        .param("pgdata", "data")
        .run("validate-all")
        .expect_reason(rc::ERR_CONFIGURED, "absolute");
}

#[test]
fn bad_ports_are_err_configured() {
    for port in ["abc", "0", "70000", "-5"] {
        syntax_only()
            .param("pgport", port)
            .run("validate-all")
            .expect_reason(rc::ERR_CONFIGURED, "pgport");
    }
}

#[test]
fn root_as_system_user_is_err_configured() {
    syntax_only()
        .param("system_user", "root")
        .run("validate-all")
        .expect_reason(rc::ERR_CONFIGURED, "root");
}

#[test]
fn unbalanced_start_opts_is_err_configured() {
    syntax_only()
        .param("start_opts", "-c 'work_mem=4MB")
        .run("validate-all")
        .expect_reason(rc::ERR_CONFIGURED, "start_opts");
}

#[test]
fn level_10_accepts_a_real_cluster() {
    let pg = PgCluster::init("v10ok");
    pg.agent()
        .env("OCF_CHECK_LEVEL", "10")
        .run("validate-all")
        .expect(rc::SUCCESS);
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
        .env("OCF_CHECK_LEVEL", "10")
        .run("validate-all")
        .expect(rc::SUCCESS);
}

#[test]
fn level_10_unknown_user_is_err_installed() {
    let pg = PgCluster::init("v10user");
    pg.agent()
        .param("system_user", "pgha-no-such-user")
        .env("OCF_CHECK_LEVEL", "10")
        .run("validate-all")
        .expect_reason(rc::ERR_INSTALLED, "does not exist");
}

#[test]
fn level_10_missing_pgdata_is_err_args() {
    Agent::bare()
        .param("pgdata", "/nonexistent/pgdata")
        .param("system_user", "postgres")
        .env("OCF_CHECK_LEVEL", "10")
        .run("validate-all")
        .expect_reason(rc::ERR_ARGS, "does not exist");
}

#[test]
fn level_10_bindir_without_binaries_is_err_installed() {
    let pg = PgCluster::init("v10bin");
    pg.agent()
        .param("bindir", "/usr/bin")
        .env("OCF_CHECK_LEVEL", "10")
        .run("validate-all")
        .expect_reason(rc::ERR_INSTALLED, "bindir");
}

#[test]
fn level_10_wrong_owner_or_mode_is_err_perm() {
    let pg = PgCluster::init("v10perm");
    std::fs::set_permissions(&pg.datadir, std::fs::Permissions::from_mode(0o755)).unwrap();
    pg.agent()
        .env("OCF_CHECK_LEVEL", "10")
        .run("validate-all")
        .expect_reason(rc::ERR_PERM, "0755");
    std::fs::set_permissions(&pg.datadir, std::fs::Permissions::from_mode(0o700)).unwrap();
    nix::unistd::chown(&pg.datadir, Some(nix::unistd::Uid::from_raw(0)), None).unwrap();
    pg.agent()
        .env("OCF_CHECK_LEVEL", "10")
        .run("validate-all")
        .expect_reason(rc::ERR_PERM, "owned by");
    let user = postgres_user();
    nix::unistd::chown(&pg.datadir, Some(user.uid), None).unwrap();
}

#[test]
fn level_10_unsupported_version_is_err_installed() {
    let pg = PgCluster::init("v10ver");
    std::fs::write(pg.datadir.join("PG_VERSION"), "9.6\n").unwrap();
    pg.agent()
        .env("OCF_CHECK_LEVEL", "10")
        .run("validate-all")
        .expect_reason(rc::ERR_INSTALLED, "not supported");
}

#[test]
fn probes_report_not_running_where_postgresql_is_not_installed() {
    let agent = Agent::bare()
        .param("pgdata", "/nonexistent/pgdata")
        .meta("interval", "0");
    agent.run("monitor").expect(rc::NOT_RUNNING);
    agent
        .clone()
        .param("system_user", "pgha-no-such-user")
        .run("monitor")
        .expect(rc::NOT_RUNNING);
    // A recurring monitor, however, reports the fault.
    agent.recurring().run("monitor").expect(rc::ERR_ARGS);
}

/// `crm_resource --validate` of the installed agent with one option.
fn crm_validate(option: &str) -> (i32, String, String) {
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
    let (code, out, err) = crm_validate("pgdata=/srv/pg");
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = crm_validate("pgport=x");
    assert_ne!(code, 0, "{out}{err}");
    assert!(format!("{out}{err}").contains("pgdata is required"), "{out}{err}");
}

#[test]
fn reload_agent_checks_the_new_values() {
    syntax_only()
        .param("probe_timeout", "3")
        .run("reload-agent")
        .expect(rc::SUCCESS);
    syntax_only()
        .param("probe_timeout", "0")
        .run("reload-agent")
        .expect_reason(rc::ERR_CONFIGURED, "probe_timeout");
}

/// A CIB file (`CIB_file`, which every Pacemaker tool reads instead of the
/// live CIB) with these cluster options, `nodes` nodes and `fence_devices`
/// fence devices; its path.
fn cib_file(dir: &TempDir, options: &[(&str, &str)], nodes: usize, fence_devices: usize) -> String {
    let path = dir.path.join("cib.xml");
    let (code, xml, err) = run_tool("cibadmin", &["--empty"]);
    assert_eq!(code, 0, "cibadmin --empty: {err}");
    std::fs::write(&path, xml).unwrap();
    let file = path.to_str().unwrap().to_string();
    let tool = |args: &[&str]| {
        let out = std::process::Command::new(args[0])
            .args(&args[1..])
            .env("CIB_file", &file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
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
    let level_10 = |file: &str| {
        pg.agent()
            .env("OCF_CHECK_LEVEL", "10")
            .env("CIB_file", file)
            .run("validate-all")
    };
    let dir = TempDir::new("cib-unsafe");
    let unsafe_cib = cib_file(&dir, &[("stonith-enabled", "false")], 2, 0);
    let out = level_10(&unsafe_cib);
    out.expect(rc::SUCCESS);
    assert!(
        out.stderr.contains("fencing is disabled (stonith-enabled=false)"),
        "{out}"
    );
    assert!(
        out.stderr
            .contains("two-node cluster without priority-fencing-delay"),
        "{out}"
    );

    let dir = TempDir::new("cib-safe");
    let safe_cib = cib_file(&dir, &[("stonith-enabled", "true")], 3, 1);
    let out = level_10(&safe_cib);
    out.expect(rc::SUCCESS);
    assert!(!out.stderr.contains("WARNING"), "{out}");
}
