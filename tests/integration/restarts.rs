//! Issue 23, the second hardening round, around start and stop: a start
//! checks the role it started, the memory of a demote outlives restarts and
//! reboots until a comparison happened, a restart starts the bootstrap wait
//! over, a crash recovery that outlasts the start says so, and concurrent
//! runs of the agent on one instance wait for each other.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::time::Duration;

use pgha::runstate::{AgentFile, RunState, agent_file};
use pgha::vocab::Key;

use crate::util::*;

/// What a reboot does to the agent's memory: /run is a tmpfs.
fn reboot(rsc: &str) {
    for file in [AgentFile::State, AgentFile::Election] {
        let _ = fs::remove_file(agent_file(rsc, file).unwrap());
    }
}

/// A primary demoted alone while cut off is restarted while still cut off:
/// that start finds no primary to compare with and starts it as a standby.
/// The memory of the demote used to go with that start, and the next one,
/// back in the cluster, took it for a plain standby: no pg_rewind, stuck
/// in "startup" on a timeline it forked from (issue 23).
#[test]
fn a_demote_stays_remembered_through_a_start_that_found_no_primary() {
    let (a, a_agent, b, b_agent) = demoted_alone_while_cut_off("cutagain");
    let still_cut = a_agent.clone().param("primary_conninfo", NO_PRIMARY_YET);
    still_cut
        .run("start")
        .expect(OcfCode::Success)
        .expect_logged("compared at a later start", "the demote is kept");
    still_cut.run("stop").expect(OcfCode::Success);
    a_agent
        .run("start")
        .expect(OcfCode::Success)
        .expect_logged("pg_rewind done", "the start compared and rewound it");
    assert_follows_the_new_primary(&a, &b);
    stop_all(&[&a_agent, &b_agent]);
}

/// The same demoted primary, its node rebooted before it starts again: the
/// memory of the demote lived in /run and was lost, so the start followed
/// without comparing (issue 23). It is kept outside /run now.
#[test]
fn a_demote_stays_remembered_across_a_reboot() {
    let (a, a_agent, b, b_agent) = demoted_alone_while_cut_off("rebootdemoted");
    reboot(&a_agent.rsc());
    a_agent
        .run("start")
        .expect(OcfCode::Success)
        .expect_logged("pg_rewind done", "the start compared and rewound it");
    assert_follows_the_new_primary(&a, &b);
    stop_all(&[&a_agent, &b_agent]);
    let kept = agent_file(&a_agent.rsc(), AgentFile::Durable).unwrap();
    let dir = fs::metadata(kept.parent().unwrap()).unwrap();
    assert_eq!(
        (dir.permissions().mode() & 0o777, dir.uid()),
        (0o700, 0),
        "{} is root's alone",
        kept.display()
    );
}

/// A standby whose receiver had not streamed for ten minutes is stopped and
/// started again (Pacemaker restarted, no reboot): the bootstrap wait counts
/// from the new start, not from ten minutes ago, or it would take the
/// bootstrap score while a more advanced node is still starting (issue 23).
#[test]
fn a_restart_starts_the_bootstrap_wait_over() {
    let pg = PgCluster::init("waitover");
    let rsc = resource_name("waitover");
    let agent = pg.clone_agent(&rsc, "node-a", NO_PRIMARY_YET);
    agent.run("start").expect(OcfCode::Success);
    agent.recurring_monitor().expect(OcfCode::Success);
    let mut memory = RunState::load(&rsc);
    assert!(memory.flag(&Key::ReceiverDown), "{}", memory_text(&rsc));
    memory.backdate(&Key::ReceiverDown, 600);
    memory.save();
    agent.run("stop").expect(OcfCode::Success);
    assert_eq!(
        RunState::load(&rsc).get(&Key::ReceiverDown),
        None,
        "the stop forgets the receiver: {}",
        memory_text(&rsc)
    );
    // A memory written before the stop forgot it (an older agent's) is
    // forgotten by the start.
    let mut memory = RunState::load(&rsc);
    memory.set_flag(&Key::ReceiverDown, true);
    memory.backdate(&Key::ReceiverDown, 600);
    memory.save();
    agent.run("start").expect(OcfCode::Success);
    agent.recurring_monitor().expect(OcfCode::Success);
    let waited = RunState::load(&rsc).flag_age(&Key::ReceiverDown);
    assert!(
        waited.is_some_and(|s| s < 600),
        "the wait counts from the start: {waited:?}"
    );
    agent.run("stop").expect(OcfCode::Success);
}

/// `standby.signal` removed between the agent writing it and the postmaster
/// reading it (a wrapper around postgres does it here; an operator's
/// clean-up script, a restore, could): PostgreSQL came up as a second
/// primary and start returned success. A clone's start now stops it again
/// and fails with a reason (issue 23).
#[test]
fn a_start_that_brings_up_a_primary_stops_it_and_fails() {
    let pg = PgCluster::init("cameupprimary");
    let bindir = TempDir::new("cameupprimary-bin");
    wrap_postgres(
        &bindir.path,
        "prev=; for a in \"$@\"; do [ \"$prev\" = -D ] && rm -f \"$a/standby.signal\"; prev=$a; done",
    );
    let agent = pg
        .clone_agent(&resource_name("cameupprimary"), "node-a", NO_PRIMARY_YET)
        .param("bindir", bindir.path.to_str().unwrap());
    agent
        .run("start")
        .expect_reason(OcfCode::ErrGeneric, "came up as a primary");
    pg.assert_no_processes("the primary it started is stopped");
    agent.run("monitor").expect(OcfCode::NotRunning);
}

/// A cluster whose postmaster, once started, waits in the data directory
/// before it writes `postmaster.pid`, until [`HeldStart::release`]: its
/// configuration includes a FIFO, which the postmaster reads before it
/// takes the data directory (what a slow disk or a stalled network mount
/// under the configuration does for real).
struct HeldStart {
    pg: PgCluster,
    fifo: std::path::PathBuf,
}

impl HeldStart {
    fn new(name: &str) -> HeldStart {
        let pg = PgCluster::init(name);
        let fifo = pg.dir.path.join("held.conf");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
        pg.append_conf(&format!("include '{}'\n", fifo.display()));
        HeldStart { pg, fifo }
    }

    /// Lets every postmaster waiting on the FIFO go on (an empty include),
    /// until `done` holds (at most 30 s).
    fn release_until(&self, done: impl Fn() -> bool) {
        use std::os::unix::fs::OpenOptionsExt;
        let _ = poll(Duration::from_secs(30), Duration::from_millis(50), || {
            // Opening for writing wakes a reader; closing ends its read.
            let _ = fs::OpenOptions::new()
                .write(true)
                .custom_flags(nix::libc::O_NONBLOCK)
                .open(&self.fifo);
            if done() { Ok(()) } else { Err(()) }
        });
    }

    /// The postmaster the agent started, waiting on the FIFO.
    fn waiting_postmaster(&self) -> nix::unistd::Pid {
        wait_until(
            || self.pg.processes().first().copied().ok_or(()),
            Duration::from_secs(20),
            "the start's postmaster",
        )
    }
}

/// Runs `action` of `agent` on a thread of its own.
fn in_background(agent: &Agent, action: &'static str) -> std::thread::JoinHandle<Outcome> {
    let agent = agent.clone();
    std::thread::spawn(move || agent.run(action))
}

/// Two starts at once (a `pcs resource debug-start` beside Pacemaker's):
/// the second found no `postmaster.pid` yet, took the first one's new
/// postmaster for a leftover of a crash and killed it, and the first start
/// failed (issue 23). The second now waits for the first, and finds the
/// server running.
#[test]
fn two_concurrent_starts_do_not_kill_each_others_postmaster() {
    let held = HeldStart::new("twostarts");
    let agent = held.pg.agent();
    let first = in_background(&agent, "start");
    let postmaster = held.waiting_postmaster();
    let log = held.pg.dir.path.join("second.log");
    let second = in_background(&agent.clone().env("HA_LOGFILE", log.to_str().unwrap()), "start");
    // The second start waits for the lock (or, unserialized, has killed
    // the first one's postmaster).
    let said = || fs::read_to_string(&log).unwrap_or_default();
    wait_until(
        || {
            let text = said();
            (text.contains("waiting for it") || text.contains("leftover"))
                .then_some(())
                .ok_or(text)
        },
        Duration::from_secs(20),
        "the second start to wait, or to kill",
    );
    held.release_until(|| first.is_finished() && second.is_finished());
    let (first, second) = (first.join().unwrap(), second.join().unwrap());
    first.expect(OcfCode::Success);
    second.expect(OcfCode::Success);
    assert_eq!(
        held.pg.postmaster_pid(),
        Some(postmaster),
        "the first start's postmaster runs\n{}",
        said()
    );
    agent.run("monitor").expect(OcfCode::Success);
    agent.run("stop").expect(OcfCode::Success);
}

/// A start holds the lock for longer than a stop's timeout (its postmaster
/// does not come up): the stop waits for half its budget, then stops
/// without the lock, within its timeout. Stop stops whatever else. A
/// monitor meanwhile never waits.
#[test]
fn a_stop_while_a_start_holds_the_lock_still_stops() {
    let held = HeldStart::new("stopanyway");
    let agent = held.pg.agent();
    let start = in_background(&agent, "start");
    held.waiting_postmaster();
    // A monitor does not wait behind the start: it answers at once,
    // writing no memory.
    let before = memory_text(&agent.rsc());
    agent
        .run("monitor")
        .expect_within(Duration::from_secs(2))
        .expect_not_logged("waiting for it", "the monitor does not wait");
    assert_eq!(memory_text(&agent.rsc()), before, "the monitor wrote its memory");
    let stop = agent
        .clone()
        .env("OCF_RESKEY_CRM_meta_timeout", "4000")
        .run("stop");
    stop.expect(OcfCode::Success)
        .expect_within(Duration::from_secs(4))
        .expect_logged("holds the lock: stopping without it", "it waited, then stopped");
    held.pg
        .assert_no_processes("the stop stopped the starting server");
    held.release_until(|| start.is_finished());
    start
        .join()
        .unwrap()
        .expect_reason(OcfCode::ErrGeneric, "failed to start");
    agent.run("monitor").expect(OcfCode::NotRunning);
}

/// What a crash leaves to replay: about 1 GB of WAL since the last
/// checkpoint (none is taken meanwhile): seconds of replay even on a fast
/// machine (a quarter of it replayed in 0.6 s, inside the 1.5 s timeout).
fn crash_with_a_long_replay(pg: &PgCluster) {
    pg.psql(
        "create table big(i int, pad text); \
         insert into big select g, repeat('x', 100) from generate_series(1, 6000000) g",
    );
    pg.crash();
}

/// The WAL settings that keep that WAL unreplayed, and progress logged
/// every 100 ms (the default is every 10 s, longer than these starts).
const LONG_REPLAY: &str = "max_wal_size = '4GB'\ncheckpoint_timeout = '1h'\n";
const PROGRESS: &str = "log_startup_progress_interval = '100ms'";

/// A start whose crash recovery the start timeout cuts: the reason said
/// only "not ready", and the next start replayed from the start again
/// (crash recovery keeps no progress). It now says to raise the timeout,
/// with how far the replay got and where the WAL ends (issue 23).
#[test]
fn a_crash_recovery_cut_by_the_start_timeout_says_to_raise_it() {
    let pg = PgCluster::init("longreplay");
    pg.append_conf(&format!("{LONG_REPLAY}{PROGRESS}\n"));
    let agent = pg.agent();
    agent.run("start").expect(OcfCode::Success);
    crash_with_a_long_replay(&pg);
    let short = agent.clone().env("OCF_RESKEY_CRM_meta_timeout", "1500");
    let start = short.run("start");
    start.expect_reason(
        OcfCode::ErrGeneric,
        "raise op start timeout: WAL replay unfinished, at ",
    );
    assert!(
        start.exit_reason().unwrap().contains(" of at most "),
        "where the WAL ends\n{start}"
    );
    agent.run("stop").expect(OcfCode::Success);
    given_time_for_the_replay(&agent)
        .run("start")
        .expect(OcfCode::Success);
    pg.assert_query("select count(*) from big", "6000000", "every row replayed");
    agent.run("stop").expect(OcfCode::Success);
}

/// `agent` with a start timeout the whole replay of [`LONG_REPLAY`] fits
/// in: the shipped 20 s hold it on an idle machine, not beside a full
/// parallel test run (the single-user recovery was cut at 0/306F4600 of
/// 0/3B000000 there), and what these tests prove is the cut start's
/// reason and that a start given the time finishes, not a replay speed.
fn given_time_for_the_replay(agent: &Agent) -> Agent {
    agent.clone().env("OCF_RESKEY_CRM_meta_timeout", "180000")
}

/// The same cut in the single-user crash recovery a crashed former primary
/// of a clone gets before its comparison: the reason was that postgres was
/// killed, and with rebuild=true the start copied the primary over data
/// whose WAL was all there. It now fails, saying to raise the timeout, and
/// keeps the data.
#[test]
fn a_single_user_crash_recovery_cut_by_the_start_timeout_is_not_rebuilt() {
    let (pg, agent) = primary("longsingle", LONG_REPLAY, &[("rebuild", "true")]);
    crash_with_a_long_replay(&pg);
    let opts = agent.params["start_opts"].clone();
    let short = agent
        .clone()
        .param(
            "start_opts",
            &format!("{opts} -c {}", PROGRESS.replace(" = ", "=")),
        )
        .env("OCF_RESKEY_CRM_meta_timeout", "1500");
    let start = short.run("start");
    start
        .expect_reason(
            OcfCode::ErrGeneric,
            "raise op start timeout: crash recovery unfinished, at ",
        )
        .expect_not_logged("rebuild", "no copy replaces data whose WAL is there");
    given_time_for_the_replay(&agent)
        .run("start")
        .expect(OcfCode::Success);
    pg.assert_query("select count(*) from big", "6000000", "every row replayed");
    agent.run("stop").expect(OcfCode::Success);
}

/// A pg_rewind the start timeout cut was taken for one that failed: with
/// rebuild=true the start moved the data aside and copied the primary, and
/// without it the next start, finding no primary to compare with, started
/// the half-rewound data as it was. A cut pg_rewind now fails the start with
/// "raise op start timeout", is remembered across reboots, and the next
/// start runs it again; none starts the data before one has finished.
#[test]
fn a_pg_rewind_cut_by_the_start_timeout_is_run_again_never_rebuilt() {
    let (a, a_agent, b, b_agent) = diverge("rewindcut");
    let a_agent = a_agent.params(&[("rewind", "true"), ("rebuild", "true")]);
    // A pg_rewind slower than the start: the dry run answers, the rewind
    // itself does not finish in time.
    let slow = TempDir::new("rewindcut-bin");
    wrap_program(
        &slow.path,
        "pg_rewind",
        "case \"$*\" in *--dry-run*) ;; *) sleep 60 ;; esac",
    );
    let cut = a_agent
        .clone()
        .param("bindir", &slow.path.display().to_string())
        .env("OCF_RESKEY_CRM_meta_timeout", "6000");
    cut.run("start")
        .expect_reason(
            OcfCode::ErrGeneric,
            "pg_rewind did not finish within the start timeout; raise op start timeout",
        )
        .expect_not_logged("rebuild", "a cut pg_rewind is no reason to copy the primary");
    a.assert_no_processes("nothing runs on data pg_rewind may have half rewritten");
    assert_eq!(
        entries_starting_with(&a.dir.path, "data.pgha"),
        Vec::<std::path::PathBuf>::new(),
        "no data moved aside, no copy made"
    );
    reboot(&a_agent.rsc());
    // No primary to finish the rewind with: refused, not started as it is.
    a_agent
        .clone()
        .param("primary_conninfo", NO_PRIMARY_YET)
        .run("start")
        .expect_reason(OcfCode::ErrGeneric, "pg_rewind did not finish");
    a.assert_no_processes("an unfinished rewind is never started as it is");
    a_agent
        .run("start")
        .expect(OcfCode::Success)
        .expect_logged("pg_rewind done", "the next start ran pg_rewind again");
    assert_follows_the_new_primary(&a, &b);
    stop_all(&[&a_agent, &b_agent]);
}
