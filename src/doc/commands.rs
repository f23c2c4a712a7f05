//! The binary's own commands, for operators: what `main` handles before OCF
//! dispatch. The help text (`pgha usage`, `pgha --help`) and the manual page
//! pgha(8) are both written from [`OPERATOR_COMMANDS`], so neither can offer
//! a command or an option the other lacks. The options themselves are parsed
//! where each command runs (`status` in `src/status.rs`).

/// One command of the binary.
pub struct Command {
    /// What the operator types after `pgha`.
    pub name: &'static str,
    /// Its arguments, in synopsis notation.
    pub args: &'static str,
    /// What it does, for the man page.
    pub purpose: &'static str,
    /// Each option with its meaning, for the man page.
    pub options: &'static [(&'static str, &'static str)],
}

impl Command {
    /// `status [--resource NAME] [--json]`.
    pub fn synopsis(&self) -> String {
        if self.args.is_empty() {
            self.name.to_string()
        } else {
            format!("{} {}", self.name, self.args)
        }
    }
}

/// Every command, in the order the help and the man page list them. The
/// `doc` topics are those of [`super::TOPICS`] (a test checks they agree).
pub const OPERATOR_COMMANDS: &[Command] = &[
    Command {
        name: "status",
        args: "[--resource NAME] [--json]",
        purpose: "Prints the replication view of the cluster, from any node: each node's role, timeline, WAL \
            position, lag, WAL receiver, sync state and promotion score, the replication slots the primary keeps, \
            and the standby Pacemaker would promote now. It reads what the agents publish (node attributes \
            pgha-<resource>-* and the promotion scores, from pacemaker-attrd) and never connects to PostgreSQL.",
        options: &[
            (
                "--resource NAME",
                "The resource to show; by default the one ocf:pgha:postgresql primitive of the CIB.",
            ),
            (
                "--json",
                "One JSON object (resource, primary, would_promote, nodes) instead of the table, for scripts \
                 and monitoring.",
            ),
        ],
    },
    Command {
        name: "doc",
        args: "markdown|codes|man|man8",
        purpose: "Prints documentation generated from the agent's own tables, so that it cannot disagree with \
            the binary that prints it.",
        options: &[],
    },
    Command {
        name: "usage",
        args: "",
        purpose: "Prints the OCF actions and these commands (also help and --help).",
        options: &[],
    },
    Command {
        name: "--version",
        args: "",
        purpose: "Prints the version of the agent, which is the version of its package and of its metadata.",
        options: &[],
    },
];

/// The help's line for operators: `pgha status [--resource NAME] [--json];
/// pgha doc markdown|codes|man|man8; ...`.
pub fn help_line() -> String {
    let commands: Vec<String> = OPERATOR_COMMANDS
        .iter()
        .map(|c| format!("pgha {}", c.synopsis()))
        .collect();
    format!("For operators: {}.", commands.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc::topic_names;

    #[test]
    fn doc_arguments_are_the_topics() {
        let doc = OPERATOR_COMMANDS.iter().find(|c| c.name == "doc").unwrap();
        assert_eq!(doc.args, topic_names());
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
            for (option, _) in c.options {
                assert!(
                    c.args.contains(option),
                    "{option} is not in the synopsis of {}",
                    c.name
                );
            }
        }
        assert!(help_line().contains("pgha status [--resource NAME] [--json]"));
    }
}
