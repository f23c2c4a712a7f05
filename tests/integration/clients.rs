//! Replication clients that are not cluster nodes (a `pg_receivewal`),
//! node names that need quoting, colliding slot names, and passwords in
//! primary_conninfo. No cluster runs here: the membership is given the way
//! Pacemaker gives it in every clone notification, `notify_all_uname`.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::*;

/// A primary on "node-a", started as a standby then promoted, as in a cluster.
fn primary(name: &str, extra: &[(&str, &str)]) -> (PgCluster, Agent, String) {
    let a = PgCluster::init(&format!("{name}-a"));
    let rsc = format!("t{}{name}", std::process::id());
    let mut agent = a.clone_agent(&rsc, "node-a", "host=/nonexistent port=1 user=postgres");
    for (k, v) in extra {
        agent = agent.param(k, v);
    }
    agent.run("start").expect(rc::SUCCESS);
    agent.run("promote").expect(rc::SUCCESS);
    (a, agent, rsc)
}

/// A streaming standby of `a` on node `node`.
fn standby(a: &PgCluster, rsc: &str, node: &str, extra: &[(&str, &str)]) -> (PgCluster, Agent) {
    let b = PgCluster::basebackup_of(a, &format!("{rsc}-b"));
    let mut agent = b.clone_agent(rsc, node, &a.conninfo());
    for (k, v) in extra {
        agent = agent.param(k, v);
    }
    agent.run("start").expect(rc::SUCCESS);
    wait_for_row(
        a,
        &format!(
            "select count(*) from pg_stat_replication where application_name = '{}' and state = 'streaming'",
            node.replace('\'', "''")
        ),
        "1",
    );
    (b, agent)
}

/// A `pg_receivewal` streaming from a primary without a slot, under
/// application_name "backup"; killed when dropped.
struct Receiver {
    child: Child,
    _dir: TempDir,
}

impl Receiver {
    fn start(primary: &PgCluster) -> Receiver {
        let dir = TempDir::new("receivewal");
        let user = postgres_user();
        let conninfo = format!("{} application_name=backup", primary.conninfo());
        let child = Command::new(pg_bin().join("pg_receivewal"))
            .args([
                "--no-loop",
                "--no-sync",
                "-D",
                dir.path.to_str().unwrap(),
                "-d",
                &conninfo,
            ])
            .uid(user.uid.as_raw())
            .gid(user.gid.as_raw())
            .current_dir("/tmp")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn pg_receivewal");
        wait_for_row(
            primary,
            "select count(*) from pg_stat_replication where application_name = 'backup' and state = 'streaming'",
            "1",
        );
        Receiver { child, _dir: dir }
    }

    fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn memory(rsc: &str) -> String {
    std::fs::read_to_string(format!("/run/pgha/{rsc}.state")).unwrap_or_default()
}

fn synchronous_names(pg: &PgCluster) -> String {
    pg.psql("show synchronous_standby_names").trim().to_string()
}

/// Runs `sql` on `pg` as postgres and says whether it finished within `within`.
fn finishes_within(pg: &PgCluster, sql: &str, within: Duration) -> bool {
    let user = postgres_user();
    let mut child = Command::new(pg_bin().join("psql"))
        .args([
            "-XAtq",
            "-h",
            pg.dir.path.to_str().unwrap(),
            "-p",
            &pg.port.to_string(),
        ])
        .args(["-d", "postgres", "-c", sql])
        .uid(user.uid.as_raw())
        .gid(user.gid.as_raw())
        .current_dir("/tmp")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let end = Instant::now() + within;
    while Instant::now() < end {
        if let Some(status) = child.try_wait().unwrap() {
            return status.success();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    false
}

/// The failure: any `application_name` in pg_stat_replication was taken
/// for a node: scored (`crm_attribute -N <name>`), given a sync attribute,
/// remembered for ever, and listed in synchronous_standby_names.
fn a_foreign_pg_receivewal_is_not_a_standby(mode: &str, expected_names: &str) {
    let (a, a_agent, rsc) = primary(
        &format!("recv{}", mode.replace('-', "")),
        &[("replication_mode", mode)],
    );
    let (_b, b_agent) = standby(&a, &rsc, "node-b", &[("replication_mode", mode)]);
    let receiver = Receiver::start(&a);
    post_start_notify(&a_agent, "node-a node-b");
    let monitor = a_agent.clone().recurring();
    let out = monitor.run("monitor");
    out.expect(rc::RUNNING_PROMOTED);
    assert!(
        !out.stderr.contains("backup"),
        "the pg_receivewal was handled as a node\n{out}"
    );
    assert!(
        out.stderr.contains("--node=node-b"),
        "the standby's score is set, its name as --node=\n{out}"
    );
    let mem = memory(&rsc);
    assert!(!mem.contains("backup"), "the pg_receivewal is remembered:\n{mem}");
    assert!(mem.lines().any(|l| l.starts_with("standby.node-b\t")), "{mem}");
    assert_eq!(synchronous_names(&a), expected_names);
    if mode != "async" {
        assert_eq!(
            a.psql("select sync_state from pg_stat_replication where application_name = 'node-b'")
                .trim(),
            "quorum"
        );
    }
    // The pg_receivewal leaves: commits do not wait for it.
    receiver.stop();
    monitor.run("monitor").expect(rc::RUNNING_PROMOTED);
    assert_eq!(synchronous_names(&a), expected_names);
    assert!(
        finishes_within(
            &a,
            "create table after_backup_left(i int)",
            Duration::from_secs(10)
        ),
        "a commit waits after the pg_receivewal left, while node-b streams"
    );
    b_agent.run("stop").expect(rc::SUCCESS);
    a_agent.run("stop").expect(rc::SUCCESS);
    let _ = std::fs::remove_file(format!("/run/pgha/{rsc}.state"));
}

#[test]
fn a_foreign_pg_receivewal_gets_no_score_attribute_or_memory_in_async_mode() {
    a_foreign_pg_receivewal_is_not_a_standby("async", "");
}

#[test]
fn a_foreign_pg_receivewal_is_not_a_synchronous_standby_in_sync_mode() {
    a_foreign_pg_receivewal_is_not_a_standby("sync", "ANY 1 (\"node-b\")");
}

#[test]
fn a_departed_pg_receivewal_does_not_block_commits_in_strict_sync_mode() {
    a_foreign_pg_receivewal_is_not_a_standby("strict-sync", "ANY 1 (\"node-b\")");
}

/// The failure: synchronous_names dropped any name outside
/// `[A-Za-z0-9._-]`, so sync mode was silently asynchronous for such a node.
#[test]
fn a_node_name_with_quotes_is_named_in_synchronous_standby_names_and_counted_synchronous() {
    let node = "node\"1'x";
    let mode = [("replication_mode", "sync")];
    let (a, a_agent, rsc) = primary("quoted", &mode);
    let (_b, b_agent) = standby(&a, &rsc, node, &mode);
    post_start_notify(&a_agent, &format!("node-a {node}"));
    a_agent
        .clone()
        .recurring()
        .run("monitor")
        .expect(rc::RUNNING_PROMOTED);
    assert_eq!(synchronous_names(&a), r#"ANY 1 ("node""1'x")"#);
    assert_eq!(
        a.psql("select sync_state from pg_stat_replication where application_name = 'node\"1''x'")
            .trim(),
        "quorum"
    );
    assert!(finishes_within(
        &a,
        "create table t(i int)",
        Duration::from_secs(10)
    ));
    b_agent.run("stop").expect(rc::SUCCESS);
    a_agent.run("stop").expect(rc::SUCCESS);
    let _ = std::fs::remove_file(format!("/run/pgha/{rsc}.state"));
}

/// FNV-1a (32 bits) of `s`, as the agent computes slot suffixes.
fn fnv1a32(s: &str) -> u32 {
    s.bytes()
        .fold(0x811c_9dc5, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193))
}

/// The failure: `db-1`, `db_1` and `DB.1` all had slot `pgha_db_1`, so two
/// standbys fought over one slot. Now lossy names get a hash suffix, and a
/// collision that remains (here a plain name equal to another's folded
/// slot) is reported instead of shared.
#[test]
fn colliding_slot_names_get_no_slot_and_a_degraded_primary_naming_both() {
    let (a, a_agent, rsc) = primary("collide", &[("replication_slots", "true")]);
    let twin = format!("db_1_{:08x}", fnv1a32("db-1"));
    post_start_notify(&a_agent, &format!("node-a node-b db-1 {twin} DB.1"));
    a_agent
        .clone()
        .recurring()
        .run("monitor")
        .expect_reason(191, "'db-1' and '")
        .expect_reason(191, &twin)
        .expect_reason(191, "replication_slots=false");
    let slots = a.psql("select slot_name from pg_replication_slots order by 1");
    let slots: Vec<&str> = slots.lines().collect();
    assert_eq!(
        slots,
        vec![
            format!("pgha_db_1_{:08x}", fnv1a32("DB.1")),
            format!("pgha_node_b_{:08x}", fnv1a32("node-b")),
        ],
        "the other nodes get their slots, the colliding pair none"
    );
    a_agent.run("stop").expect(rc::SUCCESS);
    let _ = std::fs::remove_file(format!("/run/pgha/{rsc}.state"));
}

/// The failure: a password in primary_conninfo reached the command lines of
/// postgres and pg_rewind, which /proc/<pid>/cmdline shows to every user.
#[test]
fn a_password_in_primary_conninfo_is_err_configured_with_the_pgpass_hint() {
    let pg = PgCluster::init("password");
    let agent = pg.clone_agent("tpassword", "node-a", "host=/x user=postgres password=secret");
    agent
        .run("validate-all")
        .expect_reason(rc::ERR_CONFIGURED, ".pgpass");
    agent.run("start").expect_reason(rc::ERR_CONFIGURED, ".pgpass");
    assert!(pg.processes().is_empty());
    agent
        .clone()
        .param("primary_conninfo", "postgresql://postgres@localhost/postgres")
        .run("validate-all")
        .expect_reason(rc::ERR_CONFIGURED, "URI");
    agent
        .clone()
        .param("primary_conninfo", "host='/x user=postgres")
        .run("validate-all")
        .expect_reason(rc::ERR_CONFIGURED, "unterminated");
}

/// The failure: PostgreSQL cuts application_name at 63 bytes and rewrites
/// non-ASCII bytes, so such a node was never found among the standbys.
#[test]
fn a_node_name_postgresql_would_rewrite_is_refused_at_start_and_validate_level_10() {
    let pg = PgCluster::init("nodename");
    for node in ["nœud", &"n".repeat(64)] {
        let agent = pg.clone_agent("tnodename", node, "host=/x user=postgres");
        agent.run("validate-all").expect(rc::SUCCESS); // level 0: syntax only
        agent
            .clone()
            .env("OCF_CHECK_LEVEL", "10")
            .run("validate-all")
            .expect_reason(rc::ERR_CONFIGURED, "rename the node");
        agent
            .run("start")
            .expect_reason(rc::ERR_CONFIGURED, "rename the node");
        assert!(pg.processes().is_empty(), "nothing was started");
    }
}
