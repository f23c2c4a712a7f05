//! The cases of resource-agents' ocft config for pgsqlms
//! (/usr/share/resource-agents/ocft/configs/pgsqlms) that apply to a single
//! instance: stopped monitor, start, double start, stop, double stop,
//! monitor after start, unimplemented action.

use crate::util::*;

#[test]
fn ocft_pgsqlms_sequences() {
    let pg = PgCluster::init("ocft");
    let agent = pg.agent();
    agent.run("stop").expect(OcfCode::Success);
    agent.validate().expect(OcfCode::Success);
    agent.expect_monitors(OcfCode::NotRunning);
    agent.run("start").expect(OcfCode::Success);
    agent.run("start").expect(OcfCode::Success);
    agent.expect_monitors(OcfCode::Success);
    pg.assert_query(
        "select relname from pg_class where relname = 'pg_class'",
        "pg_class",
        "the started server answers queries",
    );
    agent.run("stop").expect(OcfCode::Success);
    pg.assert_no_processes("stop left processes behind");
    agent.run("stop").expect(OcfCode::Success);
    agent.run("monitor").expect(OcfCode::NotRunning);
    agent.run("bogus-action").expect(OcfCode::ErrUnimplemented);
}

#[test]
fn usage_and_help_exit_0() {
    Agent::bare()
        .run("usage")
        .expect(OcfCode::Success)
        .expect_stdout("meta-data", "the help lists the actions");
}

#[test]
fn start_opts_reach_the_server_as_separate_arguments() {
    let pg = PgCluster::init("opts");
    let agent = pg
        .agent()
        .param("start_opts", "-c application_name='pgha test' -c work_mem=3MB");
    agent.run("start").expect(OcfCode::Success);
    pg.assert_query("show work_mem", "3MB", "the server got start_opts' -c work_mem");
    agent.run("stop").expect(OcfCode::Success);
}

#[test]
fn the_probe_authenticates_as_system_user_by_peer() {
    // Pacemaker runs the agent as root; Debian's default pg_hba.conf allows
    // local connections by peer only. The probe must connect as postgres.
    let pg = PgCluster::init_with_auth("peer", "peer");
    let agent = pg.agent();
    agent.run("start").expect(OcfCode::Success);
    agent.recurring_monitor().expect(OcfCode::Success);
    agent.run("stop").expect(OcfCode::Success);
}
