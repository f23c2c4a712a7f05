//! The manual page `ocf_pgha_postgresql(7)` (`pgha doc man`), generated from
//! the parameter table [`crate::params::PARAMS`], the action table
//! [`crate::actions::ACTION_TABLE`] and the code table [`crate::ocf::code::OcfCode`]. Like the
//! metadata, it cannot disagree with what the agent really reads, runs and
//! returns; tests check that it names every parameter, action and return code.
//!
//! The page follows the layout of the resource-agents pages (NAME, SYNOPSIS,
//! DESCRIPTION, SUPPORTED PARAMETERS, SUPPORTED ACTIONS, EXAMPLE CRM SHELL,
//! EXAMPLE PCS) so operators find things where they expect them, plus RETURN
//! CODES and OPERATIONAL NOTES. Sections about replication appear only when
//! the action table has `promote`, and sentences about a parameter only when
//! the parameter table has it: the page describes the agent it ships with.

use super::roff::{bold, entry, escape, example_block, name_section, prose, title};
use super::sections::{default_phrase, files, ocf_path, return_code_entries};
use crate::actions::Action;
use crate::ocf::metadata::{ActionSpec, AgentInfo, normalize_spaces};
use crate::params::ParamSpec;
use crate::pg::layout;

/// Example values the man page shows for a few well-known parameters; any
/// other required parameter is shown as `name=string`, as resource-agents does.
fn example_value(name: &str) -> Option<&'static str> {
    match name {
        "pgdata" => Some("/etc/postgresql/15/main"),
        "datadir" => Some("/var/lib/postgresql/15/main"),
        "primary_conninfo" => Some("'host=<VIP> user=replicator'"),
        _ => None,
    }
}

/// The `op` words of the actions that run on an interval (the monitors), as
/// `op monitor interval=15s timeout=10s role=Promoted`. A primitive has no
/// roles: `with_roles` false leaves out the role-specific monitors.
fn interval_ops(actions: &[ActionSpec], depth_word: &str, with_roles: bool) -> Vec<String> {
    actions
        .iter()
        .filter(|a| with_roles || a.role.is_none())
        .filter_map(|a| {
            let interval = a.interval_s?;
            let mut op = format!("op {} interval={interval}s timeout={}s", a.name, a.timeout_s);
            if let Some(role) = a.role {
                op.push_str(&format!(" role={role}"));
            }
            if let Some(depth) = a.depth.filter(|d| *d != 0) {
                op.push_str(&format!(" {depth_word}={depth}"));
            }
            Some(op)
        })
        .collect()
}

/// `name=value` for every required parameter, then for the well-known
/// parameters an operator sets in practice (when the agent has them).
fn example_params(params: &[ParamSpec], also: &[&str]) -> Vec<String> {
    params
        .iter()
        .filter(|p| p.required || also.contains(&p.name))
        .map(|p| match example_value(p.name) {
            Some(v) => format!("{}={v}", p.name),
            None => format!("{}={}", p.name, p.kind.ocf_name()),
        })
        .collect()
}

/// The manual page `ocf_<provider>_<agent>(7)` in roff, laid out like the
/// resource-agents man pages: every parameter with its type and default,
/// every advertised action with its timeout and interval, the return codes,
/// crm shell and pcs examples, and the operational notes.
pub fn render(provider: &str, agent: &AgentInfo, params: &[ParamSpec], table: &[Action]) -> String {
    let page_name = format!("ocf_{provider}_{}", agent.name);
    let actions: Vec<ActionSpec> = table.iter().flat_map(|a| a.advertised.iter().copied()).collect();
    let actions = actions.as_slice();
    let has_action = |name: &str| table.iter().any(|a| a.name == name);
    let has_param = |name: &str| params.iter().any(|p| p.name == name);
    let promotable = has_action("promote");
    let mut out = String::new();
    title(&mut out, &page_name, 7, agent.version, "OCF resource agents");

    name_section(&mut out, &page_name, &normalize_spaces(agent.shortdesc));

    let names: Vec<&str> = table.iter().map(|a| a.name).collect();
    out.push_str(&format!(
        ".SH \"SYNOPSIS\"\n\\fB{}\\fR [{}]\n",
        escape(agent.name),
        escape(&names.join(" | "))
    ));

    out.push_str(&format!(
        ".SH \"DESCRIPTION\"\n.PP\n{}\n",
        escape(&normalize_spaces(agent.longdesc))
    ));
    out.push_str(&format!(
        ".PP\nPacemaker runs the agent as \\fB{}\\fR with the parameters below in OCF_RESKEY_<name> \
         environment variables. One binary, \\fB/usr/sbin/pgha\\fR, carries out every action; the OCF \
         path is a symbolic link to it.\n",
        escape(&ocf_path(provider, agent.name))
    ));
    out.push_str(&format!(".PP\n{}\n", escape(&versions_sentence())));

    out.push_str(".SH \"SUPPORTED PARAMETERS\"\n");
    for p in params {
        let mut attrs = vec![if p.required { "required" } else { "optional" }.to_string()];
        if p.unique_group.is_some() {
            attrs.insert(0, "unique".to_string());
        }
        attrs.push(match p.kind.options() {
            [] => p.kind.ocf_name().to_string(),
            options => format!("one of {}", options.join("|")),
        });
        attrs.push(default_phrase(p).unwrap_or_else(|| "no default".to_string()));
        if p.reloadable {
            attrs.push("reloadable".to_string());
        }
        entry(
            &mut out,
            &bold(p.name),
            &format!(
                "{}\n.sp\n{}\n.sp\n({})",
                escape(&normalize_spaces(p.shortdesc)),
                escape(&normalize_spaces(p.longdesc)),
                escape(&attrs.join(", "))
            ),
        );
    }

    out.push_str(
        ".SH \"SUPPORTED ACTIONS\"\n.PP\nThis resource agent supports the following actions (operations):\n",
    );
    for (a, purpose) in table
        .iter()
        .flat_map(|t| t.advertised.iter().map(move |a| (a, t.purpose)))
    {
        let mut text = purpose.to_string();
        text.push_str(&format!(" Suggested minimum timeout: {}s.", a.timeout_s));
        if let Some(interval) = a.interval_s {
            text.push_str(&format!(" Suggested interval: {interval}s."));
        }
        if let Some(depth) = a.depth {
            text.push_str(&format!(" Depth (OCF_CHECK_LEVEL): {depth}."));
        }
        let heading = match a.role {
            Some(role) => format!("{} (role {role})", bold(a.name), role = escape(role)),
            None => bold(a.name),
        };
        entry(&mut out, &heading, &escape(&text));
    }
    out.push_str(&format!(
        ".PP\n{}\n",
        prose(
            "Any other action returns 3 (OCF_ERR_UNIMPLEMENTED); {} prints a short help. Every failure prints \
             one {} line of under 128 characters, which {}(8) shows.",
            &[bold("usage"), bold("ocf-exit-reason:"), bold("crm_mon")]
        )
    ));

    out.push_str(".SH \"RETURN CODES\"\n");
    return_code_entries(&mut out, promotable);

    let example = Example {
        agent_id: format!("ocf:{provider}:{}", agent.name),
        single: example_params(params, &["datadir"]),
        replicated: example_params(params, &["datadir", "primary_conninfo"]),
        actions,
    };
    crm_examples(&mut out, &example, promotable);
    pcs_examples(&mut out, &example, promotable);
    out.push_str(&format!(
        ".PP\n{}\n",
        prose(
            "{} and {} run validate-all and work on any node, even with no cluster running.",
            &[
                bold("pcs resource create ... --agent-validation"),
                bold("crm_resource --validate")
            ]
        )
    ));

    out.push_str(".SH \"OPERATIONAL NOTES\"\n");
    what_the_agent_writes(&mut out, promotable, has_param);
    if promotable {
        switchover(&mut out);
        rejoin(&mut out, has_param);
    }

    files(&mut out, provider, agent.name);
    out.push_str(
        ".SH \"SEE ALSO\"\n.PP\n\\fBpgha\\fR(8), \\fBpcs\\fR(8), \\fBcrm\\fR(8), \\fBcrm_resource\\fR(8), \\fBcrm_mon\\fR(8), \
         \\fBpostgres\\fR(1), \\fBpg_rewind\\fR(1), \\fBocf_heartbeat_IPaddr2\\fR(7)\n",
    );
    out
}

/// The resource, clone and VIP names of the examples, the ones the quick
/// starts in docs/ use, so that a command copied from either fits the other.
const RESOURCE: &str = "pgsqld";
const CLONE: &str = "pgsqld-clone";
const VIP: &str = "pgsql-vip";

/// The operations Pacemaker runs without an interval, whose timeouts crmsh
/// does not copy from the metadata (pcs does): a primitive's, then the ones
/// only a promotable clone runs.
const PRIMITIVE_OPS: &[&str] = &["start", "stop"];
const CLONE_OPS: &[&str] = &["promote", "demote", "notify"];

/// What the crm and pcs examples are made of.
struct Example<'a> {
    agent_id: String,
    /// `name=value` of a single instance, then of a replicated one.
    single: Vec<String>,
    replicated: Vec<String>,
    actions: &'a [ActionSpec],
}

/// `op start timeout=60s interval=0s` for each action of `names` the agent
/// advertises, with its advertised timeout.
fn timeout_ops(actions: &[ActionSpec], names: &[&str]) -> Vec<String> {
    actions
        .iter()
        .filter(|a| a.interval_s.is_none() && names.contains(&a.name))
        .map(|a| format!("op {} timeout={}s interval=0s", a.name, a.timeout_s))
        .collect()
}

/// The supported majors as the page states them: the tested ones, the
/// accepted but untested ones (from [`layout::MIN_MAJOR`] up to the newest
/// tested), and the refused ones.
fn versions_sentence() -> String {
    let newest = layout::TESTED_MAJORS
        .iter()
        .copied()
        .max()
        .unwrap_or(layout::MIN_MAJOR);
    let untested: Vec<u32> = (layout::MIN_MAJOR..newest)
        .filter(|m| !layout::TESTED_MAJORS.contains(m))
        .collect();
    let mut text = format!(
        "PostgreSQL {} {} tested",
        and_list(layout::TESTED_MAJORS),
        if layout::TESTED_MAJORS.len() == 1 {
            "is"
        } else {
            "are"
        }
    );
    let mut untested: Vec<String> = untested.iter().map(u32::to_string).collect();
    untested.push(format!("any after {newest}"));
    text.push_str(&format!("; {} are accepted but untested", and_words(&untested)));
    text.push_str(&format!(
        "; {} and older are refused (start, and validate-all at OCF_CHECK_LEVEL=10, return 5, \
         OCF_ERR_INSTALLED).",
        layout::MIN_MAJOR - 1
    ));
    text
}

/// `12, 13 and 14`.
fn and_list(majors: &[u32]) -> String {
    and_words(&majors.iter().map(u32::to_string).collect::<Vec<_>>())
}

/// `a, b and c`.
fn and_words(words: &[String]) -> String {
    match words.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        None => String::new(),
    }
}

/// EXAMPLE CRM SHELL: a primitive, then a promotable clone with its VIP.
fn crm_examples(out: &mut String, ex: &Example, promotable: bool) {
    let indented = |words: Vec<String>| words.into_iter().map(|w| format!("  {w}"));
    out.push_str(
        ".SH \"EXAMPLE CRM SHELL\"\n.PP\nA single instance (one primitive) with the \\fBcrm\\fR(8) shell. crmsh \
         copies no operation from the metadata: each is written with the agent's timeout.\n",
    );
    let mut crm = vec![format!("primitive {RESOURCE} {}", ex.agent_id)];
    if !ex.single.is_empty() {
        crm.push(format!("  params {}", ex.single.join(" ")));
    }
    crm.extend(indented(timeout_ops(ex.actions, PRIMITIVE_OPS)));
    crm.extend(indented(interval_ops(ex.actions, "depth", false)));
    example_block(out, &crm);
    if !promotable {
        return;
    }
    out.push_str(".PP\nStreaming replication, as a promotable clone (one monitor per role):\n");
    let mut crm = vec![format!("primitive {RESOURCE} {}", ex.agent_id)];
    crm.push(format!("  params {}", ex.replicated.join(" ")));
    crm.extend(indented(timeout_ops(
        ex.actions,
        &[PRIMITIVE_OPS, CLONE_OPS].concat(),
    )));
    crm.extend(indented(interval_ops(ex.actions, "depth", true)));
    example_block(out, &crm);
    example_block(
        out,
        &[format!(
            "clone {CLONE} {RESOURCE} meta promotable=true notify=true promoted-max=1"
        )],
    );
    out.push_str(&vip_sentence());
    example_block(
        out,
        &[
            format!("primitive {VIP} ocf:heartbeat:IPaddr2"),
            "  params ip=<VIP> cidr_netmask=24".to_string(),
            "  op monitor interval=10s timeout=10s".to_string(),
        ],
    );
    for line in [
        format!("colocation vip-with-primary inf: {VIP} {CLONE}:Promoted"),
        format!("order promote-then-vip Mandatory: {CLONE}:promote {VIP}:start symmetrical=false"),
        format!("order demote-then-stop-vip Mandatory: {CLONE}:demote {VIP}:stop symmetrical=false"),
    ] {
        example_block(out, &[line]);
    }
}

/// Why the VIP has its colocation and its two orders.
fn vip_sentence() -> String {
    ".PP\nThe virtual IP follows the primary: it starts after the promotion and stops before the demotion, \
     so that clients never write through it to a server being demoted.\n"
        .to_string()
}

/// EXAMPLE PCS: a primitive, then a promotable clone (in the spelling of
/// pcs 0.11.5 and older, and in that of 0.11.6 and later) with its VIP.
fn pcs_examples(out: &mut String, ex: &Example, promotable: bool) {
    let indented = |words: Vec<String>| words.into_iter().map(|w| format!("  {w}"));
    out.push_str(".SH \"EXAMPLE PCS\"\n.PP\nA single instance with \\fBpcs\\fR(8):\n");
    let mut pcs = vec![format!("pcs resource create {RESOURCE} {}", ex.agent_id)];
    pcs.extend(indented(ex.single.clone()));
    pcs.extend(indented(interval_ops(ex.actions, "OCF_CHECK_LEVEL", false)));
    example_block(out, &pcs);
    if !promotable {
        return;
    }
    let clone = |options: &str| {
        let mut pcs = vec![format!("pcs resource create {RESOURCE} {}", ex.agent_id)];
        pcs.extend(indented(ex.replicated.clone()));
        pcs.push(format!("  {options}"));
        pcs
    };
    out.push_str(&format!(
        ".PP\n{}\n",
        prose(
            "Streaming replication, as a promotable clone with one primary. pcs copies the default operations of \
             the metadata (one monitor per role) into the CIB. pcs 0.11.5 and older take the clone's options \
             right after {}:",
            &[bold("promotable")]
        )
    ));
    example_block(out, &clone("promotable notify=true promoted-max=1"));
    out.push_str(&format!(
        ".PP\n{}\n",
        prose(
            "pcs 0.11.6 and later (0.12) take them after {}, with {}; without {}, pcs puts them on the primitive, \
             where the clone never sees them, and the clone sends no notifications:",
            &[bold("meta"), bold("--future"), bold("--future")]
        )
    ));
    example_block(out, &clone("promotable meta notify=true promoted-max=1 --future"));
    out.push_str(&format!(
        ".PP\n{}\n",
        prose(
            "{} lists them under the clone's meta attributes when they are where they belong.",
            &[bold(&format!("pcs resource config {CLONE}"))]
        )
    ));
    out.push_str(&vip_sentence());
    example_block(
        out,
        &[
            format!("pcs resource create {VIP} ocf:heartbeat:IPaddr2"),
            "  ip=<VIP> cidr_netmask=24".to_string(),
        ],
    );
    example_block(
        out,
        &[format!(
            "pcs constraint colocation add {VIP} with Promoted {CLONE} score=INFINITY"
        )],
    );
    example_block(
        out,
        &[format!(
            "pcs constraint order promote {CLONE} then start {VIP} symmetrical=false"
        )],
    );
    example_block(
        out,
        &[format!(
            "pcs constraint order demote {CLONE} then stop {VIP} symmetrical=false"
        )],
    );
    out.push_str(&format!(
        ".PP\n{}\n",
        prose(
            "The score is written {} (pcs 0.11 accepts it, and pcs 0.12 deprecates a score standing alone).",
            &[bold("score=INFINITY")]
        )
    ));
}

/// OPERATIONAL NOTES, "What the agent writes": every file it writes or
/// has written outside its own directories, and how.
fn what_the_agent_writes(out: &mut String, promotable: bool, has_param: impl Fn(&str) -> bool) {
    out.push_str(".SS \"What the agent writes\"\n.PP\n");
    let logfile = if has_param("logfile") {
        concat!(
            " It appends the server's own output to the file named by \\fBlogfile\\fR (default ",
            crate::default_logfile_dir!(),
            "/<resource>.log)."
        )
    } else {
        ""
    };
    out.push_str(&format!(
        "The agent never writes postgresql.conf or pg_hba.conf.{logfile}\n"
    ));
    if !promotable {
        return;
    }
    out.push_str(&format!(
        ".PP\n{}\n",
        prose(
            "To start an instance as a standby it creates {} in the data directory and passes the recovery \
             settings (primary_conninfo with application_name set to the node's name, \
             recovery_target_timeline=latest, primary_slot_name with replication slots) to the server on its \
             command line as {} options, where they take precedence over postgresql.conf and \
             postgresql.auto.conf: none of them is written to a file. Promotion removes standby.signal through \
             PostgreSQL itself.",
            &[bold("standby.signal"), bold("-c")]
        )
    ));
    if has_param("replication_mode") {
        out.push_str(&format!(
            ".PP\n{}\n",
            prose(
                "With {} or {}, the primary keeps synchronous_standby_names with {} and a reload: PostgreSQL \
                 writes that one setting to {} in the data directory, where it survives a restart. Back in \
                 async, the agent empties it only if it set it itself.",
                &[
                    bold("replication_mode=sync"),
                    bold("strict-sync"),
                    bold("ALTER SYSTEM"),
                    bold("postgresql.auto.conf")
                ]
            )
        ));
    }
    let copies: Vec<&str> = [
        ("rewind", "pg_rewind (rewind=true)"),
        ("bootstrap", "pg_basebackup (bootstrap, rebuild)"),
    ]
    .into_iter()
    .filter(|(param, _)| has_param(param))
    .map(|(_, tool)| tool)
    .collect();
    if !copies.is_empty() {
        out.push_str(&format!(
            ".PP\n{}\n",
            escape(&format!(
                "{} make{} the data directory a copy of the primary's, its configuration files included: \
                 postgresql.auto.conf, and postgresql.conf and pg_hba.conf where they live in the data directory \
                 (the layout of the RPMs; Debian keeps them in /etc/postgresql), come from the primary. Keep them \
                 the same on every node.",
                copies.join(" and "),
                if copies.len() == 1 { "s" } else { "" }
            ))
        ));
    }
}

/// OPERATIONAL NOTES, "Switchover": with pcs and with Pacemaker's own tool
/// (crmsh has no role option for a move).
fn switchover(out: &mut String) {
    out.push_str(".SS \"Switchover\"\n.PP\nTo move the primary role to another node, let Pacemaker do it:\n");
    example_block(out, &[format!("pcs resource move {CLONE} <node> --promoted")]);
    out.push_str(&format!(
        ".PP\n{}\n",
        prose(
            "pcs 0.11 and later remove the location constraint the move needs once the primary runs on the new \
             node. A move that failed leaves a cli-prefer or cli-ban constraint that keeps pinning the role: \
             {} shows it, and this removes it:",
            &[bold("pcs constraint location config")]
        )
    ));
    example_block(out, &[format!("pcs resource clear {CLONE}")]);
    out.push_str(
        ".PP\nWith crmsh, whose move has no role option, use Pacemaker's tool, then clear its constraint once \
         crm_mon shows the new primary:\n",
    );
    example_block(
        out,
        &[format!(
            "crm_resource --move --promoted --resource {CLONE} --node <node>"
        )],
    );
    example_block(out, &[format!("crm_resource --clear --resource {CLONE}")]);
    out.push_str(
        ".PP\nNever promote or stop PostgreSQL by hand (pg_ctl, systemctl) while Pacemaker manages it.\n",
    );
}

/// OPERATIONAL NOTES, "A failed primary rejoins": pg_rewind, and the copy
/// that replaces what pg_rewind cannot repair.
fn rejoin(out: &mut String, has_param: impl Fn(&str) -> bool) {
    out.push_str(".SS \"A failed primary rejoins\"\n.PP\n");
    if has_param("rewind") {
        out.push_str(
            "After a failover, the former primary may hold WAL the new primary never received. With \
             \\fBrewind=true\\fR the agent runs \\fBpg_rewind\\fR(1) against the new primary before starting \
             the old one as a standby, so it rejoins without a new base backup (this needs wal_log_hints=on or \
             data checksums). With rewind=false it refuses to start a diverged instance.\n",
        );
    } else {
        out.push_str(
            "After a failover, the former primary may hold WAL the new primary never received: it refuses to \
             start such an instance.\n",
        );
    }
    if has_param("rebuild") {
        out.push_str(&format!(
            ".PP\n{}\n",
            prose(
                "With {}, a former primary that pg_rewind cannot repair (or that diverged with rewind=false), and a \
                 standby that can never follow the primary (the WAL it needs was removed, its timeline forked), \
                 are copied again at their next start: start renames the old data directory to \
                 <datadir>.pgha-old-<time> beside it (never deleted: it holds any transactions only that node \
                 had; remove it once you no longer need it) and copies the primary with {}(1), as {} does for a \
                 new node. The copy runs inside start: size {} for it. A standby is rebuilt only when the primary \
                 confirms what its log says (see the parameter above). rebuild is reloadable: to rebuild a node that refused to \
                 start, set it and clean the resource up:",
                &[
                    bold("rebuild=true"),
                    bold("pg_basebackup"),
                    bold("bootstrap=basebackup"),
                    bold("op start timeout"),
                ]
            )
        ));
        example_block(out, &[format!("pcs resource update {RESOURCE} rebuild=true")]);
        example_block(out, &[format!("pcs resource cleanup {RESOURCE} node=<node>")]);
    } else {
        out.push_str(&format!(
            ".PP\n{}\n",
            prose(
                "Rebuild it from the new primary with {}(1), then run {}.",
                &[
                    bold("pg_basebackup"),
                    bold(&format!("pcs resource cleanup {RESOURCE}"))
                ]
            )
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::{ACTION_TABLE, AGENT};
    use crate::context::Context;
    use crate::doc::roff::section;
    use crate::ocf::code::{OcfCode, OcfResult};
    use crate::params::PARAMS;

    fn page() -> String {
        render("pgha", &AGENT, PARAMS, ACTION_TABLE)
    }

    #[test]
    fn man_page_documents_every_parameter_with_its_default() {
        let page = page();
        for p in PARAMS {
            let heading = format!(".PP\n{}\n.RS 4\n", bold(p.name));
            assert!(
                page.contains(&heading),
                "parameter {} missing from the man page",
                p.name
            );
            if let [_, ..] = p.kind.options() {
                let values = format!("one of {}, ", escape(&p.kind.options().join("|")));
                assert!(
                    page.contains(&values),
                    "the values of {} are not on the page",
                    p.name
                );
            }
            if let Some(d) = p.default.filter(|d| !d.is_empty()) {
                assert!(
                    page.contains(&format!("default {}", escape(d))),
                    "default of {} missing from the man page",
                    p.name
                );
            }
        }
    }

    #[test]
    fn man_page_documents_every_action_with_its_timeout() {
        let page = page();
        let supported = section(&page, "SUPPORTED ACTIONS");
        let synopsis = section(&page, "SYNOPSIS");
        for a in ACTION_TABLE {
            assert!(
                supported.contains(&format!(".PP\n{}", bold(a.name))),
                "action {} missing from SUPPORTED ACTIONS",
                a.name
            );
            assert!(supported.contains(&escape(a.purpose)), "purpose of {}", a.name);
            assert!(
                synopsis.contains(&escape(a.name)),
                "action {} missing from SYNOPSIS",
                a.name
            );
            for spec in a.advertised {
                assert!(supported.contains(&format!("Suggested minimum timeout: {}s.", spec.timeout_s)));
                if let Some(interval) = spec.interval_s {
                    assert!(supported.contains(&format!("Suggested interval: {interval}s.")));
                }
            }
        }
        for section in [
            "NAME",
            "SYNOPSIS",
            "DESCRIPTION",
            "SUPPORTED PARAMETERS",
            "SUPPORTED ACTIONS",
            "RETURN CODES",
            "EXAMPLE PCS",
        ] {
            assert!(
                page.contains(&format!(".SH \"{section}\"")),
                "section {section} missing"
            );
        }
        assert!(page.starts_with(".TH \"OCF_PGHA_POSTGRESQL\" \"7\""));
    }

    /// Issue 11: the page said 190 and 191 were never returned while
    /// monitor returned both. Every code of the table is on the page of a
    /// promotable agent, with the meaning the code table gives it.
    #[test]
    fn man_page_return_codes_are_the_code_table() {
        let page = page();
        let codes = section(&page, "RETURN CODES");
        for code in OcfCode::ALL {
            let entry = format!(
                ".PP\n\\fB{}\\fR ({})\n.RS 4\n{}\n.RE\n",
                code.as_i32(),
                escape(code.name()),
                escape(code.meaning())
            );
            assert!(
                codes.contains(&entry),
                "{code} missing or stale in RETURN CODES:\n{codes}"
            );
        }
        assert!(!codes.contains("never returned"), "{codes}");
    }

    #[test]
    fn promotable_examples_follow_the_action_table() {
        let params = std::slice::from_ref(crate::params::spec("pgdata").unwrap());
        let agent = AgentInfo {
            name: "postgresql",
            version: "0",
            shortdesc: "s",
            longdesc: "l",
        };
        fn nothing(_: &Context) -> OcfResult {
            Ok(OcfCode::Success)
        }
        const MONITOR: &[ActionSpec] = &[ActionSpec {
            name: "monitor",
            timeout_s: 10,
            interval_s: Some(15),
            depth: Some(0),
            role: None,
        }];
        const MONITORS: &[ActionSpec] = &[
            MONITOR[0],
            ActionSpec {
                name: "monitor",
                timeout_s: 10,
                interval_s: Some(16),
                depth: None,
                role: Some("Promoted"),
            },
        ];
        const PROMOTE: &[ActionSpec] = &[ActionSpec {
            name: "promote",
            timeout_s: 30,
            interval_s: None,
            depth: None,
            role: None,
        }];
        let entry = |name, advertised| Action {
            name,
            run: nothing,
            needs_resource: false,
            locking: crate::actions::Locking::None,
            purpose: "p",
            advertised,
        };
        let single = render("pgha", &agent, params, &[entry("monitor", MONITOR)]);
        assert!(!single.contains("promotable notify"), "{single}");
        assert!(!single.contains("OCF_RUNNING_PROMOTED"), "{single}");
        assert!(single.contains("op monitor interval=15s timeout=10s"), "{single}");
        let clone = render(
            "pgha",
            &agent,
            params,
            &[entry("monitor", MONITORS), entry("promote", PROMOTE)],
        );
        assert!(
            clone.contains("promotable notify=true promoted\\-max=1"),
            "{clone}"
        );
        assert!(
            clone.contains("pcs resource move pgsqld\\-clone <node> \\-\\-promoted"),
            "{clone}"
        );
        let (primitive, promotable) = clone.split_once("Streaming replication").unwrap();
        assert!(!primitive.contains("role=Promoted"), "{clone}");
        assert!(
            promotable.contains("op monitor interval=16s timeout=10s role=Promoted"),
            "{clone}"
        );
    }

    /// The text of subsection `name` of the page, up to the next heading.
    fn subsection<'a>(page: &'a str, name: &str) -> &'a str {
        let start = page
            .find(&format!(".SS \"{name}\"\n"))
            .unwrap_or_else(|| panic!("subsection {name} missing"));
        let rest = &page[start + 1..];
        &rest[..rest.find("\n.S").map_or(rest.len(), |i| i + 1)]
    }

    /// The page said no configuration file was ever written, while the sync
    /// modes write synchronous_standby_names to postgresql.auto.conf, and
    /// pg_rewind and copies bring the primary's configuration files.
    #[test]
    fn what_the_agent_writes_names_postgresql_auto_conf_and_the_copies() {
        let page = page();
        let writes = subsection(&page, "What the agent writes");
        assert!(!writes.contains("any other configuration file"), "{writes}");
        for expected in [
            "\\fBALTER SYSTEM\\fR",
            "\\fBpostgresql.auto.conf\\fR",
            "synchronous_standby_names",
            "\\fBstandby.signal\\fR",
            "pg_rewind (rewind=true) and pg_basebackup (bootstrap, rebuild)",
        ] {
            assert!(writes.contains(expected), "{expected} missing:\n{writes}");
        }
    }

    /// The VIP must be down before the primary is demoted, with crmsh as
    /// with pcs; the page showed only the promote-then-start order.
    #[test]
    fn both_examples_stop_the_vip_before_the_demotion() {
        let page = page();
        let crm = section(&page, "EXAMPLE CRM SHELL");
        assert!(
            crm.contains("pgsqld\\-clone:demote pgsql\\-vip:stop symmetrical=false"),
            "{crm}"
        );
        assert!(crm.contains("pgsqld\\-clone:promote pgsql\\-vip:start"), "{crm}");
        let pcs = section(&page, "EXAMPLE PCS");
        assert!(
            pcs.contains(
                "pcs constraint order demote pgsqld\\-clone then stop pgsql\\-vip symmetrical=false"
            ),
            "{pcs}"
        );
    }

    /// pcs 0.12 deprecates a score standing alone; pcs 0.10's move flags
    /// (--master, --autodelete) are no spelling of the pcs this page is for.
    #[test]
    fn commands_are_spelled_for_pcs_0_11_and_0_12() {
        let page = page();
        for line in page
            .lines()
            .filter(|l| l.starts_with("pcs constraint colocation"))
        {
            assert!(line.ends_with(" score=INFINITY"), "{line}");
        }
        assert!(
            page.contains("promotable notify=true promoted\\-max=1\n"),
            "the 0.11.5 form"
        );
        assert!(
            page.contains("promotable meta notify=true promoted\\-max=1 \\-\\-future\n"),
            "the 0.11.6 and later form"
        );
        assert!(!page.contains("autodelete") && !page.contains("\\-\\-master"));
    }

    /// crmsh copies no operation from the metadata: without them in the
    /// example, start, stop, promote and demote get Pacemaker's 20 s.
    #[test]
    fn crm_examples_carry_the_advertised_timeouts() {
        let page = page();
        let crm = section(&page, "EXAMPLE CRM SHELL");
        let (single, clone) = crm.split_once("Streaming replication").unwrap();
        for spec in ACTION_TABLE.iter().flat_map(|a| a.advertised) {
            let op = format!("op {} timeout={}s interval=0s", spec.name, spec.timeout_s);
            let wanted_in_clone = CLONE_OPS.contains(&spec.name) || PRIMITIVE_OPS.contains(&spec.name);
            assert_eq!(clone.contains(&escape(&op)), wanted_in_clone, "{op}:\n{clone}");
            assert_eq!(
                single.contains(&escape(&op)),
                PRIMITIVE_OPS.contains(&spec.name),
                "{op}:\n{single}"
            );
        }
    }

    #[test]
    fn rebuild_is_documented_with_where_the_old_data_goes() {
        let page = page();
        let rejoin = subsection(&page, "A failed primary rejoins");
        for expected in [
            "\\fBrebuild=true\\fR",
            "<datadir>.pgha\\-old\\-<time>",
            "pcs resource update pgsqld rebuild=true",
            "op start timeout",
        ] {
            assert!(rejoin.contains(expected), "{expected} missing:\n{rejoin}");
        }
    }

    #[test]
    fn the_page_says_which_postgresql_versions_are_tested() {
        let sentence = versions_sentence();
        assert_eq!(
            sentence,
            "PostgreSQL 15, 17 and 18 are tested; 12, 13, 14, 16 and any after 18 are accepted but untested; \
             11 and older are refused (start, and validate-all at OCF_CHECK_LEVEL=10, return 5, OCF_ERR_INSTALLED)."
        );
        assert!(section(&page(), "DESCRIPTION").contains(&escape(&sentence)));
    }
}
