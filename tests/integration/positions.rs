//! The position a standby publishes after a full restart (issue 22,
//! "Positions are replay positions"): the end of the WAL it holds, not how
//! far a delayed replay got. No cluster runs here, so a fake
//! `attrd_updater` first on the agent's PATH records every attribute the
//! monitor writes.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::Duration;

use pgha::vocab::Lsn;

use crate::util::*;

/// A directory with an `attrd_updater` that appends its arguments, one
/// call a line, to `calls` and answers every query with no value.
struct FakeAttrd {
    dir: TempDir,
}

impl FakeAttrd {
    fn new() -> FakeAttrd {
        let dir = TempDir::root_only("fake-attrd");
        let tool = dir.path.join("attrd_updater");
        let calls = dir.path.join("calls");
        fs::write(
            &tool,
            format!("#!/bin/sh\necho \"$*\" >> '{}'\nexit 0\n", calls.display()),
        )
        .unwrap();
        fs::set_permissions(&tool, fs::Permissions::from_mode(0o755)).unwrap();
        FakeAttrd { dir }
    }

    fn path_var(&self) -> String {
        format!(
            "{}:{}",
            self.dir.path.display(),
            std::env::var("PATH").unwrap_or_default()
        )
    }

    fn calls_path(&self) -> PathBuf {
        self.dir.path.join("calls")
    }

    /// The last value written to attribute `name` here.
    fn last_update(&self, name: &str) -> Option<String> {
        let calls = fs::read_to_string(self.calls_path()).unwrap_or_default();
        let named = format!("--name={name}");
        calls
            .lines()
            .rev()
            .filter(|line| line.split(' ').any(|a| a == named))
            .filter_map(|line| line.split(' ').find_map(|a| a.strip_prefix("--update=")))
            .next()
            .map(str::to_string)
    }
}

fn lsn(text: &str) -> Lsn {
    text.trim()
        .parse()
        .unwrap_or_else(|e| panic!("'{text}' is not an LSN: {e}"))
}

#[test]
fn a_restarted_standby_whose_replay_is_delayed_publishes_the_end_of_the_wal_it_received() {
    let (a, a_agent, b, b_agent) = pair("positions-delay");
    replicated_table(&a, &b);
    b.append_conf("recovery_min_apply_delay = '1h'\n");
    b.psql("select pg_reload_conf()");
    // Two transactions: replay stops at the first commit it must delay, so
    // everything the second one wrote is received but not replayed.
    a.psql("insert into t values (2)");
    a.psql("insert into t select generate_series(3, 50000)");
    let flushed = lsn(&a.psql("select pg_current_wal_flush_lsn()"));
    let received = poll(Duration::from_secs(20), Duration::from_millis(200), || {
        let received = lsn(&b.psql("select pg_last_wal_receive_lsn()"));
        if received >= flushed {
            Ok(received)
        } else {
            Err(received)
        }
    })
    .unwrap_or_else(|r| panic!("the standby received {r} of the primary's {flushed}"));
    b.assert_query(
        "select count(*) from t",
        "1",
        "the delayed replay holds the rows back",
    );

    stop_all(&[&b_agent, &a_agent]);
    b_agent.run("start").expect(OcfCode::Success);
    let replayed = lsn(&b.psql("select pg_last_wal_replay_lsn()"));
    b.assert_query(
        "select pg_last_wal_receive_lsn() is null",
        "t",
        "no receiver ran: its primary is down",
    );
    assert!(
        replayed < flushed,
        "the replay must be held back for this test: replayed {replayed}, flushed {flushed}"
    );

    let attrd = FakeAttrd::new();
    let monitored = b_agent.clone().env("PATH", &attrd.path_var());
    let out = monitored.run("monitor");
    out.expect(OcfCode::Success);
    let name = format!("pgha-{}-lsn", b_agent.rsc());
    let published = attrd
        .last_update(&name)
        .unwrap_or_else(|| panic!("the monitor published no {name}\n{out}"));
    let published = lsn(&published);
    assert!(
        published >= flushed,
        "published {published}, but the standby holds the primary's WAL up to {flushed} \
         (received {received}, replayed {replayed})\n{out}"
    );
    b_agent.run("stop").expect(OcfCode::Success);
}

/// The same, on a standby that followed a promotion since its last
/// restartpoint and then crashed: the server reports its checkpoint's
/// timeline (no receiver has run since the restart), and the WAL past the
/// replay is in the new timeline's file of that segment. Read on the old
/// timeline's file (which ends at the switch), pg_waldump found no record,
/// and the position fell back to the replay: the lab's full restart with
/// one standby's replay delayed promoted a node that had received less and
/// lost 2009 acknowledged commits.
#[test]
fn a_crashed_standby_past_a_timeline_switch_publishes_the_end_of_the_wal_it_received() {
    let (a, a_agent, b, b_agent) = pair("positions-switch");
    let rsc = a_agent.rsc();
    replicated_table(&a, &b);
    // node-c streams from node-b (a cascade, as every standby streams from
    // the node promoted at a bootstrap), so that it follows node-b's
    // promotion without a restart, and so without a restartpoint since.
    let (c, c_agent) = standby_started(
        &b,
        &rsc,
        "node-c",
        "positions-switch-c",
        &[("replication_slots", "false")],
    );
    c.wait_for_row("select count(*) from t", "1");
    a_agent.run("stop").expect(OcfCode::Success);
    b_agent.run("promote").expect(OcfCode::Success);
    b.psql("insert into t values (2)");
    c.wait_for_row("select count(*) from t", "2");
    c.append_conf("recovery_min_apply_delay = '1h'\n");
    c.psql("select pg_reload_conf()");
    b.psql("insert into t values (3)");
    b.psql("insert into t select generate_series(4, 50000)");
    let flushed = lsn(&b.psql("select pg_current_wal_flush_lsn()"));
    poll(Duration::from_secs(20), Duration::from_millis(200), || {
        let received = lsn(&c.psql("select pg_last_wal_receive_lsn()"));
        if received >= flushed {
            Ok(())
        } else {
            Err(received)
        }
    })
    .unwrap_or_else(|r| panic!("the standby received {r} of the primary's {flushed}"));
    c.crash();
    b_agent.run("stop").expect(OcfCode::Success);
    let c_alone = c_agent.clone().param("primary_conninfo", NO_PRIMARY_YET);
    c_alone.run("start").expect(OcfCode::Success);
    let replayed = lsn(&c.psql("select pg_last_wal_replay_lsn()"));
    assert!(
        replayed < flushed,
        "the replay must be held back: replayed {replayed}, flushed {flushed}"
    );

    let attrd = FakeAttrd::new();
    let out = c_alone.clone().env("PATH", &attrd.path_var()).run("monitor");
    out.expect(OcfCode::Success);
    let name = format!("pgha-{rsc}-lsn");
    let published = lsn(&attrd
        .last_update(&name)
        .unwrap_or_else(|| panic!("the monitor published no {name}\n{out}")));
    assert!(
        published >= flushed,
        "published {published}, but the standby holds the primary's WAL up to {flushed} (replayed {replayed})\n{out}"
    );
    c_alone.run("stop").expect(OcfCode::Success);
}
