//! pgha: the `ocf:pgha:postgresql` resource agent.
//!
//! Pacemaker runs `<OCF_ROOT>/resource.d/pgha/postgresql <action>` with its
//! parameters in the environment. `main` reads the action, runs it, and turns
//! the outcome into the one exit status and, on failure, the one
//! `ocf-exit-reason:` line Pacemaker shows in `crm_mon`. Nothing else exits
//! the process.

use std::io::Write;
use std::process::ExitCode;

use clap::{Arg, ArgAction, FromArgMatches};

use pgha::alert::AlertArgs;
use pgha::context::Context;
use pgha::deadline::Deadline;
use pgha::doc::{DocArgs, OPERATOR_COMMANDS};
use pgha::ocf::code::{OcfCode, OcfError};
use pgha::ocf::env::OcfEnv;
use pgha::ocf::metadata::normalize_spaces;
use pgha::status::StatusArgs;
use pgha::{actions, alert, answer, doc, log_error, log_warn, ocf, status};

/// The OCF provider directory the agent is installed under (ocf/resource.d/pgha).
const OCF_PROVIDER: &str = "pgha";

/// Pacemaker cuts exit reasons at 128 bytes (EXIT_REASON_MAX_LEN).
const EXIT_REASON_MAX: usize = 127;

/// The command line: one subcommand per OCF action of
/// [`actions::ACTION_TABLE`], then the binary's own commands of
/// [`OPERATOR_COMMANDS`] with the arguments they declare to clap; pgha(8)
/// documents the same two tables. An action name not in the table still
/// parses (an external subcommand), so that dispatch answers it with
/// OCF_ERR_UNIMPLEMENTED as OCF 1.1 asks, and any further argument of an
/// action is accepted and ignored, as OCF 1.1 also asks.
fn cli() -> clap::Command {
    let actions = actions::ACTION_TABLE
        .iter()
        .map(|a| clap::Command::new(a.name).about(a.purpose).arg(ignored_args()));
    let commands = OPERATOR_COMMANDS
        .iter()
        .filter(|c| !c.name.starts_with('-'))
        .map(|c| {
            let command = clap::Command::new(c.name);
            let command = match c.arguments {
                Some(add) => add(command),
                // usage (alias help): the OCF 1.1 words for this help.
                None => command.visible_alias("help").arg(ignored_args()),
            };
            // After the arguments: a derived Args would set its own about.
            command.about(normalize_spaces(c.purpose))
        });
    clap::Command::new("pgha")
        .version(env!("CARGO_PKG_VERSION"))
        .about("PostgreSQL resource agent for Pacemaker (ocf:pgha:postgresql)")
        .after_help(
            "Parameters are read from OCF_RESKEY_<name> environment variables; run `pgha meta-data` to list them.",
        )
        .subcommand_value_name("ACTION")
        .subcommand_help_heading("Actions (OCF 1.1) and commands for operators")
        .disable_help_subcommand(true)
        .allow_external_subcommands(true)
        .arg_required_else_help(true)
        .subcommands(actions)
        .subcommands(commands)
}

/// What OCF 1.1 tells an agent to ignore: any argument after the action.
fn ignored_args() -> Arg {
    Arg::new("ignored")
        .num_args(0..)
        .action(ArgAction::Append)
        .trailing_var_arg(true)
        .allow_hyphen_values(true)
        .hide(true)
}

fn main() -> ExitCode {
    // No path of the agent panics on purpose; should one still, Pacemaker
    // gets an exit reason and OCF_ERR_GENERIC instead of Rust's 101.
    std::panic::set_hook(Box::new(|info| {
        let _ = writeln!(std::io::stderr(), "ocf-exit-reason:internal error: {info}");
        answer::give(OcfCode::ErrGeneric);
        std::process::exit(OcfCode::ErrGeneric.as_i32());
    }));
    let matches = match cli().try_get_matches() {
        Ok(matches) => matches,
        Err(e) => return clap_exit(&e),
    };
    let Some((name, args)) = matches.subcommand() else {
        // arg_required_else_help answers a bare `pgha`; nothing else gets here.
        return clap_exit(&cli().error(clap::error::ErrorKind::MissingSubcommand, "no action given"));
    };
    match name {
        "status" => StatusArgs::from_arg_matches(args).map_or_else(|e| clap_exit(&e), |a| print_status(&a)),
        "alert" => AlertArgs::from_arg_matches(args).map_or_else(|e| clap_exit(&e), |_| run_alert()),
        "doc" => DocArgs::from_arg_matches(args).map_or_else(|e| clap_exit(&e), |a| print_doc(&a.topic)),
        "usage" => print_out(&cli().render_help().to_string()),
        action => run_action(action),
    }
}

/// clap's answer to `--help`, `--version` or a wrong argument: the help
/// and the version on stdout with success, an error on stderr with
/// OCF_ERR_ARGS (clap's own exit status for it, 2, is the same number).
fn clap_exit(e: &clap::Error) -> ExitCode {
    let text = e.render().to_string();
    if e.use_stderr() {
        print_err(text.trim_end());
        exit(OcfCode::ErrArgs)
    } else {
        print_out(&text)
    }
}

/// An OCF action: the parameters from the environment, the action from
/// [`actions::dispatch`] in a child process whose answer is the one exit
/// even when the child cannot end ([`answer::from_child`]: a thread stuck
/// on a hung file system).
fn run_action(action: &str) -> ExitCode {
    let env = OcfEnv::from_process();
    ocf::log::init(&env);
    let prefix = env
        .exit_reason_prefix
        .clone()
        .unwrap_or_else(|| "ocf-exit-reason:".to_string());
    let resource = env.resource_name().map(str::to_string);
    let answer_by = Deadline::for_answer(env.timeout());
    let answered = answer::from_child(answer_by, || {
        let ctx = Context::new(env);
        match actions::dispatch(action, &ctx) {
            Ok(code) => code,
            Err(error) => {
                report(action, &prefix, ctx.env.resource_name(), &error);
                error.code
            }
        }
    });
    match answered {
        Ok(code) => exit(code),
        Err(error) => {
            report(action, &prefix, resource.as_deref(), &error);
            exit(error.code)
        }
    }
}

/// `pgha doc <topic>`: documentation generated from the tables (the
/// parameter and return-code tables of docs/reference.md, the man pages
/// ocf_pgha_postgresql(7) and pgha(8)); clap has checked that the topic is
/// one of [`doc::TOPICS`].
fn print_doc(topic: &str) -> ExitCode {
    match doc::render(topic, OCF_PROVIDER) {
        Some(text) => print_out(&text),
        None => {
            print_err(&format!("usage: pgha doc {}", doc::topic_names()));
            exit(OcfCode::ErrArgs)
        }
    }
}

/// `pgha status [--resource NAME] [--json]`: the replication view.
fn print_status(args: &StatusArgs) -> ExitCode {
    match status::run(args) {
        Ok(text) => print_out(&text),
        Err(e) => {
            print_err(&format!("pgha status: {e}"));
            exit(e.code)
        }
    }
}

/// `pgha alert`: Pacemaker's alert agent, the event in the environment.
fn run_alert() -> ExitCode {
    match alert::run(&OcfEnv::from_process()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            print_err(&format!("pgha alert: {e}"));
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

    fn parse(args: &[&str]) -> Result<clap::ArgMatches, clap::Error> {
        cli().try_get_matches_from(std::iter::once("pgha").chain(args.iter().copied()))
    }

    #[test]
    fn help_names_every_action_of_the_table_and_every_command() {
        cli().debug_assert();
        let help = cli().render_help().to_string();
        for a in actions::ACTION_TABLE {
            assert!(
                help.lines()
                    .any(|l| l.trim_start().starts_with(&format!("{} ", a.name))),
                "{} missing from the help:\n{help}",
                a.name
            );
        }
        for c in OPERATOR_COMMANDS.iter().filter(|c| !c.name.starts_with('-')) {
            assert!(
                help.contains(&format!("  {} ", c.name)),
                "{} missing:\n{help}",
                c.name
            );
        }
    }

    /// Pacemaker passes one action and nothing else, but OCF 1.1 asks that
    /// an unknown action reach the agent (it answers UNIMPLEMENTED) and
    /// that further arguments be ignored.
    #[test]
    fn every_action_parses_with_anything_after_it_and_so_does_an_unknown_one() {
        for a in actions::ACTION_TABLE {
            let m = parse(&[a.name, "extra", "--bogus", "-x"]).unwrap();
            assert_eq!(m.subcommand_name(), Some(a.name));
        }
        let m = parse(&["bogus-action", "--x"]).unwrap();
        assert_eq!(m.subcommand_name(), Some("bogus-action"));
        for words in [&["usage", "x"][..], &["help"]] {
            assert_eq!(parse(words).unwrap().subcommand_name(), Some("usage"));
        }
    }

    #[test]
    fn status_and_doc_arguments_are_checked_by_clap() {
        let m = parse(&["status", "--resource", "pgsqld", "--json"]).unwrap();
        let (_, sub) = m.subcommand().unwrap();
        let args = StatusArgs::from_arg_matches(sub).unwrap();
        assert_eq!(args.resource.as_deref(), Some("pgsqld"));
        assert!(args.json);
        for wrong in [
            &["status", "--resource"][..],
            &["status", "--bogus"],
            &["doc"],
            &["doc", "nope"],
            &[],
        ] {
            let e = parse(wrong).unwrap_err();
            assert!(e.use_stderr(), "{wrong:?}");
            assert_eq!(e.exit_code(), OcfCode::ErrArgs.as_i32(), "{wrong:?}");
        }
        for topic in doc::TOPICS {
            assert!(parse(&["doc", topic.name]).is_ok(), "{}", topic.name);
        }
    }

    /// `pgha --version` prints Cargo's version: the one place it is written,
    /// which the packages and the metadata also carry.
    #[test]
    fn version_is_the_crate_version() {
        assert_eq!(cli().get_version(), Some(env!("CARGO_PKG_VERSION")));
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
