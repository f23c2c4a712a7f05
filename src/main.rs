//! pgha: the `ocf:pgha:postgresql` resource agent.
//!
//! Pacemaker runs `<OCF_ROOT>/resource.d/pgha/postgresql <action>` with its
//! parameters in the environment. `main` reads the action, runs it, and turns
//! the outcome into the one exit status and, on failure, the one
//! `ocf-exit-reason:` line Pacemaker shows in `crm_mon`. Nothing else exits
//! the process.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use pgha::context::Context;
use pgha::ocf::code::{OcfCode, OcfError};
use pgha::ocf::env::OcfEnv;
use pgha::{actions, doc, log_error, log_warn, ocf, status};

/// The OCF provider directory the agent is installed under (ocf/resource.d/pgha).
const OCF_PROVIDER: &str = "pgha";

/// Pacemaker cuts exit reasons at 128 bytes (EXIT_REASON_MAX_LEN).
const EXIT_REASON_MAX: usize = 127;

/// The help after the usage line: the OCF actions from the action table,
/// then the binary's own commands from [`doc::help_line`] (status, doc,
/// usage, --version), which are not OCF actions and are handled here before
/// dispatch; pgha(8) documents the same two tables.
fn actions_help() -> String {
    format!(
        "Actions (OCF 1.1): {}, usage.
{}
Parameters are read from OCF_RESKEY_<name> environment variables; run `pgha meta-data` to list them.",
        actions::names().join(", "),
        doc::help_line()
    )
}

#[derive(Parser, Debug)]
#[command(name = "pgha", version, about = "PostgreSQL resource agent for Pacemaker (ocf:pgha:postgresql)", after_help = actions_help())]
struct Cli {
    /// The OCF action to run.
    action: Option<String>,
    /// Ignored, as OCF 1.1 asks of any further argument.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    rest: Vec<String>,
}

fn main() -> ExitCode {
    // No path of the agent panics on purpose; should one still, Pacemaker
    // gets an exit reason and OCF_ERR_GENERIC instead of Rust's 101.
    std::panic::set_hook(Box::new(|info| {
        let _ = writeln!(std::io::stderr(), "ocf-exit-reason:internal error: {info}");
        std::process::exit(OcfCode::ErrGeneric.as_i32());
    }));
    let cli = Cli::parse();
    let action = match cli.action.as_deref() {
        Some("doc") => return print_doc(cli.rest.first().map(String::as_str)),
        Some("status") => return print_status(&cli.rest),
        Some("usage" | "help") => {
            return print_out(&format!("usage: pgha <action>\n{}\n", actions_help()));
        }
        Some(action) => action.to_string(),
        None => {
            print_err(&format!("usage: pgha <action>\n{}", actions_help()));
            return exit(OcfCode::ErrArgs);
        }
    };
    let env = OcfEnv::from_process();
    ocf::log::init(&env);
    let prefix = env
        .exit_reason_prefix
        .clone()
        .unwrap_or_else(|| "ocf-exit-reason:".to_string());
    let ctx = Context::new(env);
    match actions::dispatch(&action, &ctx) {
        Ok(code) => exit(code),
        Err(error) => {
            report(&action, &prefix, ctx.env.resource_name(), &error);
            exit(error.code)
        }
    }
}

/// `pgha doc <topic>`: documentation generated from the tables (the
/// README's parameter and return-code tables, the man pages
/// ocf_pgha_postgresql(7) and pgha(8)); the topics are [`doc::TOPICS`].
fn print_doc(topic: Option<&str>) -> ExitCode {
    match topic.and_then(|t| doc::render(t, OCF_PROVIDER)) {
        Some(text) => print_out(&text),
        None => {
            print_err(&format!("usage: pgha doc {}", doc::topic_names()));
            exit(OcfCode::ErrArgs)
        }
    }
}

/// `pgha status [--resource NAME] [--json]`: the replication view.
fn print_status(args: &[String]) -> ExitCode {
    match status::run(args) {
        Ok(text) => print_out(&text),
        Err(e) => {
            print_err(&format!("pgha status: {e}"));
            exit(e.code)
        }
    }
}

/// Logs the whole error chain and prints the exit reason line.
/// The reason names the instance (`crm_mon` lists failures of every
/// resource together, and `pcs resource debug-*` output loses the context);
/// a degraded answer is an outcome, logged as a warning, not an error.
fn report(action: &str, prefix: &str, resource: Option<&str>, error: &OcfError) {
    if matches!(error.code, OcfCode::Degraded | OcfCode::DegradedPromoted) {
        log_warn!("{action}: {}: {error}", error.code);
    } else {
        log_error!("{action} failed with {}: {error}", error.code);
    }
    let reason = match resource {
        Some(rsc) => format!("{rsc}: {}", error.reason),
        None => error.reason.clone(),
    };
    print_err(&format!("{prefix}{}", exit_reason(&reason)));
}

/// Writes `text` to stdout. A closed or broken stdout (`pgha usage | true`)
/// is an error exit, never a panic: `print!` panics on EPIPE.
fn print_out(text: &str) -> ExitCode {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => exit(OcfCode::ErrGeneric),
    }
}

/// Writes one line to stderr; a closed stderr loses it, nothing more.
fn print_err(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// One line, within Pacemaker's limit, cut on a character boundary.
fn exit_reason(reason: &str) -> String {
    let line: String = reason.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.len() <= EXIT_REASON_MAX {
        return line;
    }
    let mut end = EXIT_REASON_MAX - '…'.len_utf8();
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &line[..end])
}

fn exit(code: OcfCode) -> ExitCode {
    ExitCode::from(code.as_i32() as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_names_every_action_of_the_table() {
        let help = actions_help();
        let listed = help
            .strip_prefix("Actions (OCF 1.1): ")
            .and_then(|h| h.split_once(".\n"))
            .map(|(list, _)| list.split(", ").collect::<Vec<_>>())
            .unwrap_or_default();
        for a in actions::ACTION_TABLE {
            assert!(
                listed.contains(&a.name),
                "{} missing from the help:\n{help}",
                a.name
            );
        }
        assert!(listed.contains(&"usage"), "{help}");
    }

    /// `pgha --version` prints Cargo's version: the one place it is written,
    /// which the packages and the metadata also carry.
    #[test]
    fn version_is_the_crate_version() {
        use clap::CommandFactory;
        assert_eq!(Cli::command().get_version(), Some(env!("CARGO_PKG_VERSION")));
    }

    #[test]
    fn exit_reasons_are_one_line_within_the_limit() {
        assert_eq!(exit_reason("a\nb  c"), "a b c");
        let long = "é".repeat(200);
        let cut = exit_reason(&long);
        assert!(cut.len() <= EXIT_REASON_MAX, "{}", cut.len());
        assert!(cut.ends_with('…'));
    }
}
