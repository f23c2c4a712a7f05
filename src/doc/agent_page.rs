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

    let resource = "pgsqld";
    let agent_id = format!("ocf:{provider}:{}", agent.name);
    let single = example_params(params, &["datadir"]);
    let replicated = example_params(params, &["datadir", "primary_conninfo"]);
    let indented = |words: Vec<String>| words.into_iter().map(|w| format!("  {w}"));

    out.push_str(
        ".SH \"EXAMPLE CRM SHELL\"\n.PP\nA single instance (one primitive) with the \\fBcrm\\fR(8) shell:\n",
    );
    let mut crm = vec![format!("primitive {resource} {agent_id}")];
    if !single.is_empty() {
        crm.push(format!("  params {}", single.join(" ")));
    }
    crm.extend(indented(interval_ops(actions, "depth", false)));
    example_block(&mut out, &crm);
    if promotable {
        out.push_str(".PP\nStreaming replication, as a promotable clone (one monitor per role):\n");
        let mut crm = vec![format!("primitive {resource} {agent_id}")];
        crm.push(format!("  params {}", replicated.join(" ")));
        crm.extend(indented(interval_ops(actions, "depth", true)));
        example_block(&mut out, &crm);
        example_block(
            &mut out,
            &[format!(
                "clone {resource}-clone {resource} meta promotable=true notify=true promoted-max=1"
            )],
        );
    }

    out.push_str(".SH \"EXAMPLE PCS\"\n.PP\nA single instance with \\fBpcs\\fR(8):\n");
    let mut pcs = vec![format!("pcs resource create {resource} {agent_id}")];
    pcs.extend(indented(single.clone()));
    pcs.extend(indented(interval_ops(actions, "OCF_CHECK_LEVEL", false)));
    example_block(&mut out, &pcs);
    if promotable {
        out.push_str(
            ".PP\nStreaming replication, as a promotable clone with one primary. pcs copies the default \
             operations of the metadata (one monitor per role) into the CIB. The virtual IP follows the \
             primary:\n",
        );
        let mut pcs = vec![format!("pcs resource create {resource} {agent_id}")];
        pcs.extend(indented(replicated));
        pcs.push("  promotable notify=true promoted-max=1".to_string());
        example_block(&mut out, &pcs);
        example_block(
            &mut out,
            &[
                "pcs resource create pgsql-vip ocf:heartbeat:IPaddr2".to_string(),
                "  ip=<VIP> cidr_netmask=24".to_string(),
            ],
        );
        example_block(
            &mut out,
            &[format!(
                "pcs constraint colocation add pgsql-vip with Promoted {resource}-clone INFINITY"
            )],
        );
        example_block(
            &mut out,
            &[format!(
                "pcs constraint order promote {resource}-clone then start pgsql-vip symmetrical=false"
            )],
        );
    }
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
        "The agent never rewrites postgresql.conf, pg_hba.conf or any other configuration file.{logfile}\n"
    ));
    if promotable {
        out.push_str(&format!(
            ".PP\n{}\n",
            prose(
                "To start an instance as a standby it creates {} in the data directory and passes the recovery \
                 settings (primary_conninfo and the like) to the server on its command line as {} options, so \
                 they never land in a configuration file and nothing is left behind to disagree with the \
                 cluster's state. Promotion removes the standby state through PostgreSQL itself.",
                &[bold("standby.signal"), bold("-c")]
            )
        ));
        out.push_str(
            ".SS \"Switchover\"\n.PP\nTo move the primary role to another node, let Pacemaker do it:\n",
        );
        example_block(
            &mut out,
            &[format!("pcs resource move --promoted {resource}-clone <node>")],
        );
        out.push_str(&format!(
            ".PP\n{}\n",
            prose(
                "pcs 0.11 removes the location constraint it needs once the primary runs on the new node. With \
                 pcs 0.10, add {}, or remove the constraint afterwards:",
                &[bold("--autodelete")]
            )
        ));
        example_block(&mut out, &[format!("pcs resource clear {resource}-clone")]);
        out.push_str(
            ".PP\nNever promote or stop PostgreSQL by hand (pg_ctl, systemctl) while Pacemaker manages it.\n",
        );
        out.push_str(".SS \"A failed primary rejoins\"\n.PP\n");
        if has_param("rewind") {
            out.push_str(
                "After a failover, the former primary may hold WAL the new primary never received. With \
                 \\fBrewind=true\\fR the agent runs \\fBpg_rewind\\fR(1) against the new primary before starting \
                 the old one as a standby, so it rejoins without a new base backup (this needs wal_log_hints=on or \
                 data checksums). With rewind=false it refuses to start a diverged instance; rebuild it with \
                 \\fBpg_basebackup\\fR(1) and run \\fBpcs resource cleanup\\fR.\n",
            );
        } else {
            out.push_str(
                "After a failover, the former primary may hold WAL the new primary never received; rebuild it \
                 from the new primary with \\fBpg_basebackup\\fR(1), then run \\fBpcs resource cleanup\\fR.\n",
            );
        }
    }

    files(&mut out, provider, agent.name);
    out.push_str(
        ".SH \"SEE ALSO\"\n.PP\n\\fBpgha\\fR(8), \\fBpcs\\fR(8), \\fBcrm\\fR(8), \\fBcrm_resource\\fR(8), \\fBcrm_mon\\fR(8), \
         \\fBpostgres\\fR(1), \\fBpg_rewind\\fR(1), \\fBocf_heartbeat_IPaddr2\\fR(7)\n",
    );
    out
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
        assert!(clone.contains("pcs resource move \\-\\-promoted"), "{clone}");
        let (primitive, promotable) = clone.split_once("Streaming replication").unwrap();
        assert!(!primitive.contains("role=Promoted"), "{clone}");
        assert!(
            promotable.contains("op monitor interval=16s timeout=10s role=Promoted"),
            "{clone}"
        );
    }
}
