//! Documentation generated from the agent's tables, so that none of it can
//! disagree with what the binary reads, runs and returns: `pgha doc <topic>`
//! prints each of [`TOPICS`]. docs/reference.md holds the two Markdown
//! tables (the integration tests check they are current); the packages
//! install the two manual pages, which `packaging/common.sh` generates with
//! the very binary it packages.
//!
//! One file per output (`markdown`, `agent_page`, `program_page`), the roff
//! syntax they share in `roff`, the words both pages share in `sections`, and
//! the table of the binary's own commands in `commands`.

mod agent_page;
mod commands;
mod markdown;
mod program_page;
mod roff;
mod sections;

pub use commands::OPERATOR_COMMANDS;

use crate::actions::{ACTION_TABLE, AGENT};
use crate::params::PARAMS;

/// One output of `pgha doc`.
pub struct Topic {
    /// The word after `pgha doc`.
    pub name: &'static str,
    /// What it prints, for pgha(8).
    pub what: &'static str,
    /// Renders it for an agent installed under OCF provider `provider`.
    render: fn(provider: &str) -> String,
}

/// Every output of `pgha doc`, in the order pgha(8) lists them.
pub const TOPICS: &[Topic] = &[
    Topic {
        name: "markdown",
        what: "The parameter table of the reference manual (docs/reference.md), in Markdown.",
        render: |_| markdown::parameter_table(PARAMS),
    },
    Topic {
        name: "codes",
        what: "The return-code table of the reference manual (docs/reference.md), in Markdown.",
        render: |_| markdown::return_code_table(),
    },
    Topic {
        name: "man",
        what: "The manual page of the resource agent, ocf_pgha_postgresql(7), in roff.",
        render: |provider| agent_page::render(provider, &AGENT, PARAMS, ACTION_TABLE),
    },
    Topic {
        name: "man8",
        what: "This manual page, pgha(8), in roff.",
        render: |provider| program_page::render(provider, &AGENT, PARAMS, ACTION_TABLE),
    },
];

/// The arguments of `pgha doc`: one topic of [`TOPICS`], which clap checks
/// and lists in its help and errors.
#[derive(clap::Args, Debug)]
pub struct DocArgs {
    #[arg(
        value_name = "TOPIC",
        value_parser = clap::builder::PossibleValuesParser::new(TOPICS.iter().map(|t| t.name)),
        help = "What to print."
    )]
    pub topic: String,
}

/// The text of topic `name`, or None when there is no such topic.
pub fn render(name: &str, provider: &str) -> Option<String> {
    TOPICS
        .iter()
        .find(|t| t.name == name)
        .map(|t| (t.render)(provider))
}

/// `markdown|codes|man|man8`, for the usage line of `pgha doc`.
pub fn topic_names() -> String {
    TOPICS.iter().map(|t| t.name).collect::<Vec<_>>().join("|")
}
