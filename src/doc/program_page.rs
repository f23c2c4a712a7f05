//! The manual page pgha(8) (`pgha doc man8`): the program an operator types,
//! where ocf_pgha_postgresql(7) is the resource agent Pacemaker runs. It is
//! written from the same tables: the commands from
//! [`super::commands::OPERATOR_COMMANDS`] and the `doc` topics from
//! [`super::TOPICS`], the OCF actions from [`crate::actions::ACTION_TABLE`],
//! the environment from [`crate::params::PARAMS`], the exit status from
//! [`crate::ocf::code::OcfCode::ALL`]. Parameter details and cluster examples
//! stay on the agent's page, which this one points to.
//!
//! Sections in the order of man-pages(7) for section 8: NAME, SYNOPSIS,
//! DESCRIPTION, COMMANDS, OCF ACTIONS, ENVIRONMENT, EXIT STATUS, FILES,
//! SEE ALSO.

use super::TOPICS;
use super::commands::OPERATOR_COMMANDS;
use super::roff::{bold, entry, escape, italic, name_section, prose, title};
use super::sections::{default_phrase, files, ocf_path, return_code_entries};
use crate::actions::Action;
use crate::deadline::DEFAULT_TIMEOUT;
use crate::ocf::metadata::{AgentInfo, normalize_spaces};
use crate::params::ParamSpec;

/// The actions Pacemaker's tools can run by hand, outside the cluster: the
/// action, its `pcs resource debug-*` word and its `crm_resource --force-*`
/// word.
const BY_HAND: &[(&str, &str, &str)] = &[
    ("start", "debug-start", "--force-start"),
    ("stop", "debug-stop", "--force-stop"),
    ("monitor", "debug-monitor", "--force-check"),
    ("promote", "debug-promote", "--force-promote"),
    ("demote", "debug-demote", "--force-demote"),
];

/// The page pgha(8) of the binary whose agent is `agent`, installed as
/// `provider`, with these parameters and actions.
pub fn render(provider: &str, agent: &AgentInfo, params: &[ParamSpec], table: &[Action]) -> String {
    let ocf = ocf_path(provider, agent.name);
    let agent_page = format!("\\fBocf_{provider}_{}\\fR(7)", escape(agent.name));
    let has_action = |name: &str| table.iter().any(|a| a.name == name);
    let mut out = String::new();
    title(&mut out, "pgha", 8, agent.version, "System Administration");

    name_section(
        &mut out,
        "pgha",
        &format!(
            "PostgreSQL resource agent for Pacemaker (ocf:{provider}:{}) and its commands for operators",
            agent.name
        ),
    );

    out.push_str(".SH \"SYNOPSIS\"\n");
    for c in OPERATOR_COMMANDS {
        out.push_str(&format!(
            "\\fBpgha {}\\fR {}\n.br\n",
            escape(c.name),
            escape(&c.args())
        ));
    }
    out.push_str(&format!(
        "\\fB{}\\fR \\fIaction\\fR\n.br\n\\fBpgha\\fR \\fIaction\\fR\n",
        escape(&ocf)
    ));

    out.push_str(&format!(
        ".SH \"DESCRIPTION\"\n.PP\npgha is the one binary of the OCF resource agent \\fBocf:{provider}:{}\\fR. \
         Pacemaker runs it through the OCF path \\fB{}\\fR, a symbolic link to /usr/sbin/pgha, with an action \
         as its argument (see OCF ACTIONS); operators run it as \\fBpgha\\fR with one of the commands below. \
         What the agent does, its parameters in full and examples for pcs and crm are in {agent_page}.\n",
        escape(agent.name),
        escape(&ocf)
    ));

    out.push_str(".SH \"COMMANDS\"\n");
    for c in OPERATOR_COMMANDS {
        let mut body = escape(&normalize_spaces(c.purpose));
        for (option, meaning) in c.options() {
            body.push_str(&format!(
                "\n.PP\n{}\n.RS 4\n{}\n.RE",
                option_heading(&option),
                escape(&normalize_spaces(&meaning))
            ));
        }
        if c.name == "doc" {
            for t in TOPICS {
                body.push_str(&format!(
                    "\n.PP\n{}\n.RS 4\n{}\n.RE",
                    bold(t.name),
                    escape(&normalize_spaces(t.what))
                ));
            }
        }
        entry(
            &mut out,
            &format!("{} {}", bold(c.name), escape(&c.args())),
            &body,
        );
    }

    out.push_str(&format!(
        ".SH \"OCF ACTIONS\"\n.PP\n{}\n",
        prose(
            "Pacemaker runs {} {} with the resource's parameters in the environment (see ENVIRONMENT), and reads \
             the exit status (see EXIT STATUS) and, on failure, the one {} line the agent prints on standard \
             error, which {}(8) shows. The actions:",
            &[bold(&ocf), italic("action"), bold("ocf-exit-reason:"), bold("crm_mon")]
        )
    ));
    for a in table {
        entry(&mut out, &bold(a.name), &escape(a.purpose));
    }
    out.push_str(".PP\nAny other action returns 3 (OCF_ERR_UNIMPLEMENTED).\n");
    let by_hand: Vec<_> = BY_HAND
        .iter()
        .filter(|(action, _, _)| has_action(action))
        .collect();
    if !by_hand.is_empty() {
        let pcs: Vec<String> = by_hand.iter().map(|(_, pcs, _)| bold(pcs)).collect();
        let crm: Vec<String> = by_hand.iter().map(|(_, _, crm)| bold(crm)).collect();
        out.push_str(&format!(
            ".PP\n{}\n",
            prose(
                "To run an action by hand with the resource's configured parameters, the way Pacemaker runs it: \
                 {} {} {}, or {} {} {} {}. Both bypass the cluster: use them while the cluster does not manage \
                 the resource ({}).",
                &[
                    bold("pcs resource"),
                    pcs.join(" | "),
                    italic("resource"),
                    bold("crm_resource"),
                    crm.join(" | "),
                    bold("--resource"),
                    italic("resource"),
                    bold("pcs resource unmanage"),
                ]
            )
        ));
    }

    out.push_str(
        ".SH \"ENVIRONMENT\"\n.PP\nThe OCF actions take their whole configuration from the environment, as \
         Pacemaker sets it; the commands for operators read none of it. Each parameter of the resource is one \
         variable (details in the agent's page):\n",
    );
    for p in params {
        let default = default_phrase(p).unwrap_or_else(|| "required".to_string());
        entry(
            &mut out,
            &bold(&format!("OCF_RESKEY_{}", p.name)),
            &escape(&format!("{}; {default}.", normalize_spaces(p.shortdesc))),
        );
    }
    let needing: Vec<&str> = table
        .iter()
        .filter(|a| a.needs_resource)
        .map(|a| a.name)
        .collect();
    let protocol = [
        (
            "OCF_RESOURCE_INSTANCE",
            format!(
                "The resource's name (a clone's instance number is dropped); the actions that keep state under \
                 it ({}) refuse to run without it.",
                needing.join(", ")
            ),
        ),
        (
            "OCF_RESKEY_CRM_meta_timeout",
            format!(
                "The operation's timeout in milliseconds; every child process and query of the action is \
                 bounded by it, so the agent answers in time ({} s when unset).",
                DEFAULT_TIMEOUT.as_secs()
            ),
        ),
        (
            "OCF_RESKEY_CRM_meta_interval",
            "The monitor's interval in milliseconds; 0 or unset is a probe.".to_string(),
        ),
        (
            "OCF_CHECK_LEVEL",
            "How much validate-all checks: 0 (the default) the parameters' syntax, with no cluster and no file \
             system; 10 also this node."
                .to_string(),
        ),
        (
            "OCF_EXIT_REASON_PREFIX",
            "The marker of the exit reason line (default ocf-exit-reason:).".to_string(),
        ),
        (
            "HA_LOGFACILITY",
            "The syslog facility of the agent's messages; empty or none for no syslog.".to_string(),
        ),
        ("HA_LOGFILE", "A file every message is appended to.".to_string()),
        ("HA_DEBUGLOG", "A file debug messages are appended to.".to_string()),
        ("HA_debug", "Debug messages are logged unless this is unset or 0.".to_string()),
    ];
    for (name, meaning) in protocol {
        entry(&mut out, &bold(name), &escape(&meaning));
    }

    out.push_str(
        ".SH \"EXIT STATUS\"\n.PP\nThe commands for operators exit 0 on success; on failure they print the reason \
         on standard error and exit 2 (a wrong argument), 1 (the cluster could not be read) or 5 (a Pacemaker \
         tool is missing). The OCF actions exit with the codes of the OCF resource agent API 1.1:\n",
    );
    return_code_entries(&mut out, has_action("promote"));

    files(&mut out, provider, agent.name);
    out.push_str(&format!(
        ".SH \"SEE ALSO\"\n.PP\n{agent_page}, \\fBpcs\\fR(8), \\fBcrm_mon\\fR(8), \\fBcrm_resource\\fR(8), \
         \\fBcrm_attribute\\fR(8)\n"
    ));
    out
}

/// `--resource NAME` as roff: the option in bold, its argument in italics.
fn option_heading(option: &str) -> String {
    match option.split_once(' ') {
        Some((flag, arg)) => format!("{} \\fI{}\\fR", bold(flag), escape(arg)),
        None => bold(option),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::{ACTION_TABLE, AGENT};
    use crate::doc::roff::section;
    use crate::ocf::code::OcfCode;
    use crate::params::PARAMS;

    fn page() -> String {
        render("pgha", &AGENT, PARAMS, ACTION_TABLE)
    }

    #[test]
    fn page_has_the_sections_of_a_section_8_page() {
        let page = page();
        assert!(page.starts_with(".TH \"PGHA\" \"8\""), "{page}");
        for name in [
            "NAME",
            "SYNOPSIS",
            "DESCRIPTION",
            "COMMANDS",
            "OCF ACTIONS",
            "ENVIRONMENT",
            "EXIT STATUS",
            "FILES",
            "SEE ALSO",
        ] {
            section(&page, name);
        }
        assert!(section(&page, "NAME").contains("pgha \\- "));
        assert!(section(&page, "SEE ALSO").contains("\\fBocf_pgha_postgresql\\fR(7)"));
    }

    #[test]
    fn every_command_option_and_doc_topic_is_documented() {
        let page = page();
        let synopsis = section(&page, "SYNOPSIS");
        let commands = section(&page, "COMMANDS");
        for c in OPERATOR_COMMANDS {
            assert!(
                synopsis.contains(&format!("\\fBpgha {}\\fR", escape(c.name))),
                "{}",
                c.name
            );
            assert!(
                commands.contains(&format!(".PP\n{} ", bold(c.name))),
                "{}",
                c.name
            );
            for (option, _) in c.options() {
                assert!(commands.contains(&option_heading(&option)), "{option}");
            }
        }
        for t in TOPICS {
            assert!(
                commands.contains(&format!(".PP\n{}\n", bold(t.name))),
                "{}",
                t.name
            );
        }
    }

    #[test]
    fn every_action_parameter_and_code_of_the_tables_is_on_the_page() {
        let page = page();
        let actions = section(&page, "OCF ACTIONS");
        for a in ACTION_TABLE {
            assert!(actions.contains(&format!(".PP\n{}\n.RS 4\n{}\n", bold(a.name), escape(a.purpose))));
        }
        assert!(actions.contains("\\fBdebug\\-promote\\fR"), "{actions}");
        let environment = section(&page, "ENVIRONMENT");
        for p in PARAMS {
            assert!(
                environment.contains(&bold(&format!("OCF_RESKEY_{}", p.name))),
                "{}",
                p.name
            );
        }
        let status = section(&page, "EXIT STATUS");
        for code in OcfCode::ALL {
            assert!(
                status.contains(&format!(
                    ".PP\n\\fB{}\\fR ({})\n",
                    code.as_i32(),
                    escape(code.name())
                )),
                "{code}"
            );
        }
    }
}
