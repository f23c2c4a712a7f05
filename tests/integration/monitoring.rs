//! What pgha gives monitoring: `pgha status --prometheus` over a real
//! primary and standby whose monitors published their attributes into a
//! fake attribute store ([`FakeCluster`]), checked by Prometheus's own
//! parser (`promtool check metrics`); and `pgha alert` run as Pacemaker
//! runs an alert agent, with a crafted `CRM_alert_*` environment.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use pgha::runstate::{AgentFile, agent_file};

use crate::quorum::FakeCluster;
use crate::util::*;

/// `promtool check metrics` of `text`: Prometheus's parser of the text
/// format, and its linter (HELP, naming, units). Panics with what it said
/// when it rejects the text.
#[track_caller]
pub fn assert_promtool_accepts(text: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("promtool (Debian package prometheus, tests/setup installs it): {e}"));
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics rejects the output:\n{}{}\n--- the output\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The value of the one sample of `text` whose line starts with
/// `series` (`name{labels}`).
#[track_caller]
fn sample(text: &str, series: &str) -> String {
    let found: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .collect();
    match found.as_slice() {
        [value] => value.to_string(),
        _ => panic!("{} samples of {series}:\n{text}", found.len()),
    }
}

/// Runs a recurring monitor of `agent`, from an empty memory: the nodes of
/// a test share this node's memory, where each node would have its own,
/// so that a value the other node wrote (the same timeline, the same
/// position) would look already published.
#[track_caller]
fn monitor_afresh(agent: &Agent, code: OcfCode) {
    if let Some(path) = agent_file(&agent.rsc(), AgentFile::State) {
        let _ = std::fs::remove_file(path);
    }
    agent.run("monitor").expect(code);
}

/// `pgha status --prometheus` as `agent`'s node runs it.
fn prometheus(agent: &Agent) -> String {
    let rsc = agent.rsc();
    let out = outcome_of(agent.command(&["status", "--prometheus", "--resource", &rsc]));
    out.expect_success();
    out.stdout
}

#[test]
fn status_prometheus_reports_a_real_primary_and_standby_in_a_format_prometheus_parses() {
    let (a, a_agent, b, b_agent) = pair_with("metrics", &[("replication_slots", "true")]);
    let cluster = FakeCluster::new();
    cluster.crm_node(&[("node-a", "member"), ("node-b", "member")], "node-a node-b");
    let rsc = a_agent.rsc();
    // Sync mode: the primary publishes its standbys' sync states.
    let a_on = cluster
        .agent_on(&a_agent.clone().param("replication_mode", "sync"), "node-a")
        .recurring();
    let b_on = cluster.agent_on(&b_agent, "node-b").recurring();
    // The standby's lag is published once it knows the primary's end of
    // WAL, which the primary sends with WAL.
    replicated_table(&a, &b);
    b.wait_for_row("select latest_end_lsn is not null from pg_stat_wal_receiver", "t");
    monitor_afresh(&a_on, OcfCode::RunningPromoted);
    // The first monitor made node-b synchronous; a later one publishes it.
    let sync_attr = format!("pgha-{rsc}-sync");
    let sync_state = wait_until(
        || {
            a_on.run("monitor").expect(OcfCode::RunningPromoted);
            let seen = a.psql("select sync_state from pg_stat_replication where application_name = 'node-b'");
            let published = cluster.get(&sync_attr, "node-b").unwrap_or_default();
            if seen.trim() != "async" && seen.trim() == published {
                Ok(published)
            } else {
                Err((seen, published))
            }
        },
        Duration::from_secs(20),
        "node-b synchronous, as the primary publishes",
    );
    monitor_afresh(&b_on, OcfCode::Success);
    // Scores go through crm_attribute, which this fake only records.
    cluster.set(&format!("master-{rsc}"), "node-a", "1001");
    cluster.set(&format!("master-{rsc}"), "node-b", "1000");

    let text = prometheus(&b_on);
    assert_promtool_accepts(&text);
    let series = |name: &str, labels: &str| format!("{name}{{resource=\"{rsc}\",{labels}}}");
    let on = |name: &str, node: &str| series(name, &format!("node=\"{node}\""));
    for (node, role) in [("node-a", "primary"), ("node-b", "standby")] {
        let labels = format!("node=\"{node}\",role=\"{role}\"");
        assert_eq!(sample(&text, &series("pgha_node_role", &labels)), "1", "{node}");
        let stopped = format!("node=\"{node}\",role=\"stopped\"");
        assert_eq!(sample(&text, &series("pgha_node_role", &stopped)), "0", "{node}");
    }
    let timeline = a.psql("select timeline_id from pg_control_checkpoint()");
    assert_eq!(sample(&text, &on("pgha_timeline", "node-a")), timeline.trim());
    assert_eq!(sample(&text, &on("pgha_wal_receiver_streaming", "node-b")), "1");
    let lag: u64 = sample(&text, &on("pgha_replication_lag_bytes", "node-b"))
        .parse()
        .expect("the lag is a number of bytes");
    assert!(
        lag < 16 << 20,
        "a standby streaming an idle primary: {lag} bytes behind"
    );
    let position: u64 = sample(&text, &on("pgha_wal_position_bytes", "node-b"))
        .parse()
        .unwrap();
    assert!(position > 0, "{text}");
    let state = format!("node=\"node-b\",state=\"{sync_state}\"");
    assert_eq!(
        sample(&text, &series("pgha_sync_state", &state)),
        "1",
        "the state the primary sees, which it published for its standby"
    );
    let async_state = series("pgha_sync_state", "node=\"node-b\",state=\"async\"");
    assert_eq!(sample(&text, &async_state), "0");
    let slot = a.psql("select slot_name from pg_replication_slots where active");
    let slot = format!("node=\"node-a\",slot=\"{}\"", slot.trim());
    assert_eq!(sample(&text, &series("pgha_replication_slot_active", &slot)), "1");
    assert_eq!(sample(&text, &on("pgha_promotion_score", "node-a")), "1001");
    assert_eq!(sample(&text, &on("pgha_would_be_promoted", "node-b")), "1");
    // The memory is this node's, which both nodes of the test share: the
    // last monitor was node-b's.
    assert_eq!(sample(&text, &on("pgha_monitor_last_answer", "node-b")), "0");
    let probe: f64 = sample(&text, &on("pgha_monitor_probe_duration_seconds", "node-b"))
        .parse()
        .unwrap();
    assert!(probe > 0.0 && probe < 20.0, "{probe}");
    assert!(
        !text.contains(&on("pgha_monitor_last_answer", "node-a")),
        "{text}"
    );

    // The primary's monitor runs next, on its node: the answer follows.
    monitor_afresh(&a_on, OcfCode::RunningPromoted);
    let text = prometheus(&a_on);
    assert_promtool_accepts(&text);
    assert_eq!(sample(&text, &on("pgha_monitor_last_answer", "node-a")), "8");

    // The standby stops: its node says so, and the metrics follow.
    b_on.run("stop").expect(OcfCode::Success);
    let text = prometheus(&a_on);
    assert_promtool_accepts(&text);
    let stopped = series("pgha_node_role", "node=\"node-b\",role=\"stopped\"");
    assert_eq!(sample(&text, &stopped), "1", "{}", cluster.calls());
    drop(b);
    a_agent.run("stop").expect(OcfCode::Success);
}

/// `pgha alert` as Pacemaker runs an alert agent: no argument, the event
/// in `CRM_alert_*` (a resource event of `rsc` on node-b), as `postgres`
/// (standing in for `hacluster`, which alert agents run as).
fn alert(event: &[(&str, &str)], path: Option<&str>) -> Outcome {
    let mut agent = Agent::bare()
        .env("CRM_alert_kind", "resource")
        .env("CRM_alert_node", "node-b")
        .env("CRM_alert_rsc", "pgsqld")
        .env("CRM_alert_interval", "0")
        .env("CRM_alert_timestamp", "2026-12-03 19:00:00.123456");
    for (name, value) in event {
        agent = agent.env(&format!("CRM_alert_{name}"), value);
    }
    if let Some(path) = path {
        agent = agent.env("PATH", path);
    }
    let mut cmd = agent.command(&["alert"]);
    let user = postgres_user();
    std::os::unix::process::CommandExt::uid(&mut cmd, user.uid.as_raw());
    std::os::unix::process::CommandExt::gid(&mut cmd, user.gid.as_raw());
    outcome_of(cmd)
}

#[test]
fn the_alert_agent_appends_role_changes_and_failures_to_a_file_recipient() {
    let dir = TempDir::new("alert");
    let log = dir.path.join("alerts.log");
    let recipient = log.display().to_string();
    let promoted = [
        ("task", "promote"),
        ("rc", "0"),
        ("target_rc", "0"),
        ("desc", "ok"),
    ];
    let out = alert(&[&promoted[..], &[("recipient", &recipient)]].concat(), None);
    out.expect_success();
    // The agent's log is HA_LOGFILE=/dev/stderr here, syslog under Pacemaker.
    out.expect_logged(
        "alert: pgsqld promoted (now the primary) on node-b",
        "the syslog line",
    );
    let failed = [
        ("task", "monitor"),
        ("interval", "15000"),
        ("rc", "7"),
        ("target_rc", "8"),
        ("desc", "not running"),
        ("recipient", &recipient),
    ];
    alert(&failed, None).expect_success();
    let quiet = [
        ("task", "monitor"),
        ("interval", "15000"),
        ("rc", "8"),
        ("target_rc", "8"),
    ];
    alert(&[&quiet[..], &[("recipient", &recipient)]].concat(), None).expect_success();
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "2026-12-03 19:00:00.123456 pgsqld promoted (now the primary) on node-b\n\
         2026-12-03 19:00:00.123456 pgsqld monitor failed on node-b: rc 7 (OCF_NOT_RUNNING), \
         expected 8 (OCF_RUNNING_PROMOTED): not running\n",
        "a line per role change or failure, none for a monitor that found what it expected"
    );

    // A recipient that is a symlink is not followed.
    let target = dir.path.join("target");
    std::fs::write(&target, "").unwrap();
    let link = dir.path.join("link");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let link = link.display().to_string();
    let out = alert(&[&promoted[..], &[("recipient", &link)]].concat(), None);
    assert!(!out.is(OcfCode::Success), "{out}");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "", "{out}");

    // A FIFO with no reader neither blocks the agent nor gets the line.
    let fifo = dir.path.join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o666)).unwrap();
    let fifo = fifo.display().to_string();
    let started = std::time::Instant::now();
    let out = alert(&[&promoted[..], &[("recipient", &fifo)]].concat(), None);
    assert!(!out.is(OcfCode::Success), "{out}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "the open blocked\n{out}"
    );

    // An alert agent has no exit reason line: Pacemaker logs its status
    // and what it printed.
    let out = alert(&[&promoted[..], &[("recipient", "-oQ/tmp/x")]].concat(), None);
    assert!(out.is(OcfCode::ErrConfigured), "{out}");
    assert!(
        out.stderr
            .contains("neither an absolute file path nor a mail address"),
        "{out}"
    );
}

/// A fake `sendmail` that keeps its arguments and the mail it reads.
const SENDMAIL: &str = r#"#!/bin/sh
dir=$(dirname "$0")
printf '%s\n' "$*" > "$dir/argv"
cat > "$dir/mail"
"#;

#[test]
fn the_alert_agent_mails_a_mail_recipient_through_sendmail_when_there_is_one() {
    let dir = TempDir::new("sendmail");
    let tool = dir.path.join("sendmail");
    std::fs::write(&tool, SENDMAIL).unwrap();
    std::fs::set_permissions(&tool, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = format!("{}:/usr/bin:/bin", dir.path.display());
    let demoted = [
        ("task", "demote"),
        ("rc", "0"),
        ("target_rc", "0"),
        ("recipient", "dba@example.org"),
    ];
    alert(&demoted, Some(&path)).expect_success();
    assert_eq!(
        std::fs::read_to_string(dir.path.join("argv")).unwrap(),
        "-oi dba@example.org\n"
    );
    let mail = std::fs::read_to_string(dir.path.join("mail")).unwrap();
    assert!(
        mail.starts_with("To: dba@example.org\nSubject: pgha: pgsqld demoted (now a standby) on node-b\n"),
        "{mail}"
    );
    assert!(
        mail.contains("\n\npgsqld demoted (now a standby) on node-b\n"),
        "{mail}"
    );

    // With no sendmail anywhere, the line is logged and no mail is sent.
    if !["/usr/sbin/sendmail", "/usr/lib/sendmail"]
        .iter()
        .any(|p| std::path::Path::new(p).exists())
    {
        std::fs::remove_file(&tool).unwrap();
        let out = alert(&demoted, Some("/usr/bin:/bin"));
        out.expect_success();
        out.expect_logged(
            "no sendmail here: no mail to dba@example.org",
            "the mail not sent",
        );
    }
}

/// The WAL retained by `slot` in the primary's published `slot-wal` value,
/// and that slot's wal_status.
fn retained(published: &str, slot: &str) -> (u64, String) {
    let entry = published
        .split(", ")
        .find_map(|e| e.strip_prefix(&format!("{slot}=")))
        .unwrap_or_else(|| panic!("no {slot} in {published:?}"));
    let mut words = entry.split_whitespace();
    let bytes = words
        .next()
        .and_then(|b| b.parse().ok())
        .unwrap_or_else(|| panic!("{published:?}"));
    (bytes, words.next().unwrap_or_default().to_string())
}

/// A standby that is down but still configured keeps its slot, which holds
/// back every WAL segment the primary writes meanwhile. The primary's
/// monitor publishes what each slot retains (`pgha-<rsc>-slot-wal`, with
/// PostgreSQL's wal_status) when it changed noticeably, not at every
/// monitor; `pgha status` shows it and `--prometheus` exports it as
/// `pgha_slot_retained_wal_bytes`.
#[test]
fn the_wal_each_slot_retains_is_published_shown_and_exported() {
    let (a, a_agent, b, b_agent) = pair_with("slotwal", &[("replication_slots", "true")]);
    let cluster = FakeCluster::new();
    cluster.crm_node(&[("node-a", "member"), ("node-b", "member")], "node-a node-b");
    let rsc = a_agent.rsc();
    let a_on = cluster.agent_on(&a_agent, "node-a").recurring();
    let b_on = cluster.agent_on(&b_agent, "node-b").recurring();
    let slot = a.psql("select slot_name from pg_replication_slots");
    let slot = slot.trim();
    monitor_afresh(&a_on, OcfCode::RunningPromoted);
    let attr = format!("pgha-{rsc}-slot-wal");
    let published = cluster
        .get(&attr, "node-a")
        .expect("the primary publishes its slots' WAL");
    let (streaming, status) = retained(&published, slot);
    assert!(
        streaming < 16 << 20,
        "a streaming standby's slot holds little: {published}"
    );
    assert_eq!(status, "reserved", "{published}");

    // The standby goes away; the primary writes about 64 MB of WAL.
    b_on.run("stop").expect(OcfCode::Success);
    drop(b);
    a.psql("create table filler as select g, repeat('x', 1000) as pad from generate_series(1, 60000) g");
    a.psql("select pg_switch_wal()");
    a_on.run("monitor").expect(OcfCode::RunningPromoted);
    let published = cluster.get(&attr, "node-a").unwrap();
    let (held, _) = retained(&published, slot);
    assert!(
        held > 48 << 20,
        "the down standby's slot holds what was written: {published}"
    );
    let in_server: u64 = a
        .psql(&format!(
            "select pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint from pg_replication_slots \
             where slot_name = '{slot}'"
        ))
        .trim()
        .parse()
        .unwrap();
    assert!(
        held <= in_server && in_server - held < 1 << 20,
        "{held} vs {in_server}"
    );

    // A little more WAL is no news: the attribute is not written again.
    let writes = |calls: &str| {
        calls
            .lines()
            .filter(|l| l.contains(&format!("--name={attr}")))
            .count()
    };
    let before = writes(&cluster.calls());
    a.psql("insert into filler values (0, 'y')");
    a_on.run("monitor").expect(OcfCode::RunningPromoted);
    assert_eq!(writes(&cluster.calls()), before, "{}", cluster.calls());

    let out = outcome_of(a_on.command(&["status", "--resource", &rsc]));
    out.expect_success();
    out.expect_stdout(
        &format!("WAL retained by the slots on node-a: {slot} "),
        "the slots' WAL in pgha status",
    );
    let text = prometheus(&a_on);
    assert_promtool_accepts(&text);
    let series =
        format!("pgha_slot_retained_wal_bytes{{resource=\"{rsc}\",node=\"node-a\",slot=\"{slot}\"}}");
    assert_eq!(sample(&text, &series), held.to_string(), "{text}");
    a_agent.run("stop").expect(OcfCode::Success);
}
