//! The cases of resource-agents' ocft config for pgsqlms
//! (/usr/share/resource-agents/ocft/configs/pgsqlms) that apply to a single
//! instance: stopped monitor, start, double start, stop, double stop,
//! monitor after start, unimplemented action.

use crate::util::*;

#[test]
fn ocft_pgsqlms_sequences() {
    let pg = PgCluster::init("ocft");
    let agent = pg.agent();
    agent.run("stop").expect(rc::SUCCESS);
    agent.run("validate-all").expect(rc::SUCCESS);
    agent.run("monitor").expect(rc::NOT_RUNNING);
    agent.clone().recurring().run("monitor").expect(rc::NOT_RUNNING);
    agent.run("start").expect(rc::SUCCESS);
    agent.run("start").expect(rc::SUCCESS);
    agent.run("monitor").expect(rc::SUCCESS);
    agent.clone().recurring().run("monitor").expect(rc::SUCCESS);
    assert_eq!(
        pg.psql("select relname from pg_class where relname = 'pg_class'")
            .trim(),
        "pg_class"
    );
    agent.run("stop").expect(rc::SUCCESS);
    assert!(pg.processes().is_empty(), "stop left processes behind");
    agent.run("stop").expect(rc::SUCCESS);
    agent.run("monitor").expect(rc::NOT_RUNNING);
    agent.run("bogus-action").expect(rc::ERR_UNIMPLEMENTED);
}

#[test]
fn usage_and_help_exit_0() {
    let out = Agent::bare().run("usage");
    out.expect(rc::SUCCESS);
    assert!(out.stdout.contains("meta-data"), "{out}");
}

#[test]
fn start_opts_reach_the_server_as_separate_arguments() {
    let pg = PgCluster::init("opts");
    let agent = pg
        .agent()
        .param("start_opts", "-c application_name='pgha test' -c work_mem=3MB");
    agent.run("start").expect(rc::SUCCESS);
    assert_eq!(pg.psql("show work_mem").trim(), "3MB");
    agent.run("stop").expect(rc::SUCCESS);
}

#[test]
fn the_probe_authenticates_as_system_user_by_peer() {
    // Pacemaker runs the agent as root; Debian's default pg_hba.conf allows
    // local connections by peer only. The probe must connect as postgres.
    let pg = PgCluster::init_with_auth("peer", "peer");
    let agent = pg.agent();
    agent.run("start").expect(rc::SUCCESS);
    agent.clone().recurring().run("monitor").expect(rc::SUCCESS);
    agent.run("stop").expect(rc::SUCCESS);
}
