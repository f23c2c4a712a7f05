//! The binary's own commands, for operators: what `main` handles besides the
//! OCF actions. Their arguments are declared once, as clap parses them
//! ([`crate::status::StatusArgs`], [`super::DocArgs`]); `main` builds its
//! parser from [`OPERATOR_COMMANDS`], and the help line and the manual page
//! pgha(8) are written from the same table and the same clap definitions,
//! so none of them can offer a command or an option the others lack.

use clap::Args;

use super::DocArgs;
use crate::alert::AlertArgs;
use crate::status::StatusArgs;

/// One command of the binary.
pub struct Command {
    /// What the operator types after `pgha`.
    pub name: &'static str,
    /// What it does, for the help and the man page.
    pub purpose: &'static str,
    /// Adds its arguments to a clap command; None: it takes none.
    pub arguments: Option<fn(clap::Command) -> clap::Command>,
}

impl Command {
    /// Its arguments as clap declares them (none for `usage`, `--version`).
    pub fn clap_args(&self) -> Vec<clap::Arg> {
        let cmd = clap::Command::new(self.name);
        let cmd = match self.arguments {
            Some(add) => add(cmd),
            None => cmd,
        };
        cmd.get_arguments().cloned().collect()
    }

    /// Its arguments in synopsis notation: `[--resource NAME] [--json]`,
    /// `markdown|codes|man|man8`.
    pub fn args(&self) -> String {
        self.clap_args()
            .iter()
            .map(|a| match a.get_long() {
                Some(_) if a.is_required_set() => option_spelling(a),
                Some(_) => format!("[{}]", option_spelling(a)),
                None => a
                    .get_possible_values()
                    .iter()
                    .map(|v| v.get_name().to_string())
                    .collect::<Vec<_>>()
                    .join("|"),
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Each option with its meaning, for the man page: `("--resource NAME",
    /// "The resource to show; ...")`.
    pub fn options(&self) -> Vec<(String, String)> {
        self.clap_args()
            .iter()
            .filter(|a| a.get_long().is_some())
            .map(|a| {
                let help = a.get_help().map(|h| h.to_string()).unwrap_or_default();
                (option_spelling(a), help)
            })
            .collect()
    }

    /// `status [--resource NAME] [--json]`.
    pub fn synopsis(&self) -> String {
        let args = self.args();
        if args.is_empty() {
            self.name.to_string()
        } else {
            format!("{} {args}", self.name)
        }
    }
}

/// `--resource NAME` or `--json`.
fn option_spelling(arg: &clap::Arg) -> String {
    let long = format!("--{}", arg.get_long().unwrap_or_default());
    match arg.get_value_names() {
        Some(names) if arg.get_action().takes_values() => {
            let names: Vec<&str> = names.iter().map(|n| n.as_str()).collect();
            format!("{long} {}", names.join(" "))
        }
        _ => long,
    }
}

/// Every command, in the order the help and the man page list them.
pub const OPERATOR_COMMANDS: &[Command] = &[
    Command {
        name: "status",
        purpose: "Prints the replication view of the cluster, from any node: each node's role, timeline, WAL \
            position, lag, WAL receiver, sync state and promotion score, the replication slots the primary keeps \
            and the WAL each retains, and the standby Pacemaker would promote now. It reads what the agents publish (node attributes \
            pgha-<resource>-* and the promotion scores, from pacemaker-attrd) and never connects to PostgreSQL.",
        arguments: Some(StatusArgs::augment_args),
    },
    Command {
        name: "alert",
        purpose: "Runs as a Pacemaker alert agent (installed as /usr/share/pgha/alert_pgha): logs each start, \
            stop, promote and demote, each failed operation, node and fencing event to syslog, and appends it to \
            the recipient's file or mails it to the recipient's address (through sendmail, when installed). \
            It reads the event from the CRM_alert_* variables Pacemaker sets.",
        arguments: Some(AlertArgs::augment_args),
    },
    Command {
        name: "doc",
        purpose: "Prints documentation generated from the agent's own tables, so that it cannot disagree with \
            the binary that prints it.",
        arguments: Some(DocArgs::augment_args),
    },
    Command {
        name: "usage",
        purpose: "Prints the OCF actions and these commands (also help and --help).",
        arguments: None,
    },
    Command {
        name: "--version",
        purpose: "Prints the version of the agent, which is the version of its package and of its metadata.",
        arguments: None,
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc::topic_names;

    #[test]
    fn doc_arguments_are_the_topics() {
        let doc = OPERATOR_COMMANDS.iter().find(|c| c.name == "doc").unwrap();
        assert_eq!(doc.args(), topic_names());
    }

    #[test]
    fn every_command_has_a_sentence_and_a_unique_name() {
        for c in OPERATOR_COMMANDS {
            assert!(c.purpose.ends_with('.'), "{}", c.name);
            assert_eq!(OPERATOR_COMMANDS.iter().filter(|d| d.name == c.name).count(), 1);
            assert!(
                crate::actions::find(c.name).is_none(),
                "{} is an OCF action",
                c.name
            );
            for (option, meaning) in c.options() {
                assert!(meaning.ends_with('.'), "{option} of {} has no sentence", c.name);
                assert!(
                    c.args().contains(&option),
                    "{option} is not in the synopsis of {}",
                    c.name
                );
            }
        }
        let status = OPERATOR_COMMANDS.iter().find(|c| c.name == "status").unwrap();
        assert_eq!(
            status.synopsis(),
            "status [--resource NAME] [--json] [--prometheus]"
        );
    }
}
