use crate::util::*;

fn metadata_xml() -> String {
    pgha_output(&["meta-data"])
}

#[test]
fn metadata_validates_against_the_pcs_ocf_1_1_schema() {
    let dir = TempDir::new("md");
    let file = dir.path.join("metadata.xml");
    std::fs::write(&file, metadata_xml()).unwrap();
    run_tool(
        "xmllint",
        &[
            "--noout",
            "--relaxng",
            "/usr/share/pcs/data/ocf-1.1.rng",
            file.to_str().unwrap(),
        ],
    )
    .expect_success();
}

#[test]
fn metadata_declares_ocf_1_1_and_the_crate_version() {
    let xml = metadata_xml();
    let agent = format!(
        r#"<resource-agent name="postgresql" version="{}">"#,
        env!("CARGO_PKG_VERSION")
    );
    for expected in ["<version>1.1</version>", &agent, r#"<action name="reload-agent""#] {
        assert!(
            xml.contains(expected),
            "expected {expected} in the metadata:\n{xml}"
        );
    }
    assert!(
        !xml.contains(r#"name="methods""#),
        "advertise only actions that do something"
    );
}

#[test]
fn crm_resource_and_pcs_read_the_metadata() {
    install_into_ocf_root();
    run_tool("crm_resource", &["--show-metadata", "ocf:pgha:postgresql"])
        .expect_success()
        .expect_stdout("probe_timeout", "crm_resource shows the parameters");
    let pcs = run_tool("pcs", &["resource", "describe", "ocf:pgha:postgresql"]);
    pcs.expect_success()
        .expect_stdout("pgdata (required)", "pcs shows the required parameter");
    // pcs prints its warnings as "Warning: ..." lines; the descriptions it
    // shows may use the word themselves ("promotes with a warning").
    let warned = format!("{}\n{}", pcs.stdout, pcs.stderr)
        .lines()
        .any(|l| l.trim_start().to_lowercase().starts_with("warning"));
    assert!(!warned, "pcs reads the metadata without a warning\n{pcs}");
}

/// Asserts that docs/reference.md holds the output of `pgha doc <topic>`,
/// the table it generates, verbatim and once.
#[track_caller]
fn assert_reference_has(topic: &str, table: &str) {
    let generated = pgha_output(&["doc", topic]);
    assert!(
        generated.lines().count() > 2,
        "`pgha doc {topic}` printed no table:\n{generated}"
    );
    let reference = reference();
    assert_eq!(
        reference.matches(&generated).count(),
        1,
        "docs/reference.md's {table} is stale or repeated: paste the output of `pgha doc {topic}` there once"
    );
}

#[test]
fn reference_parameter_table_is_the_generated_one() {
    assert_reference_has("markdown", "parameter table");
}

/// `pgha <args>`, which must succeed; its stdout.
#[track_caller]
fn pgha_output(args: &[&str]) -> String {
    pgha(args).expect(OcfCode::Success).stdout.clone()
}

fn reference() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/reference.md")).unwrap()
}

/// The numbers of the return-code table `pgha doc codes` prints.
fn table_codes() -> Vec<String> {
    pgha_output(&["doc", "codes"])
        .lines()
        .skip(2)
        .map(|row| {
            row.trim_start_matches("| ")
                .split(' ')
                .next()
                .unwrap()
                .to_string()
        })
        .collect()
}

/// The distinct action names of the metadata, in order.
fn advertised_actions() -> Vec<String> {
    let xml = metadata_xml();
    let mut names: Vec<String> = Vec::new();
    for part in xml.split(r#"<action name=""#).skip(1) {
        let name = part.split('"').next().unwrap().to_string();
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

#[test]
fn reference_return_codes_are_the_generated_ones() {
    assert_reference_has("codes", "return-code table");
}

/// Issue 11: the man page said 190 and 191 were never returned, while
/// monitor returns both. Every code of the table has its entry.
#[test]
fn man_page_lists_every_return_code_of_the_table() {
    let page = pgha_output(&["doc", "man"]);
    let section = page
        .split(".SH \"RETURN CODES\"")
        .nth(1)
        .and_then(|rest| rest.split("\n.SH ").next())
        .expect("RETURN CODES section");
    let codes = table_codes();
    for promised in [OcfCode::Degraded, OcfCode::DegradedPromoted] {
        assert!(
            codes.contains(&promised.as_i32().to_string()),
            "the return-code table lists {promised}: {codes:?}"
        );
    }
    for code in codes {
        assert!(
            section.contains(&format!(".PP\n\\fB{code}\\fR (")),
            "return code {code} missing from the man page:\n{section}"
        );
    }
}

/// Every action the metadata advertises is in the help, in the man page and
/// dispatched (none reaches dispatch's "not implemented"; run bare, each
/// stops at its first configuration check, which touches nothing).
#[test]
fn every_advertised_action_is_in_the_help_the_man_page_and_dispatch() {
    let actions = advertised_actions();
    for expected in [
        "start",
        "stop",
        "monitor",
        "promote",
        "demote",
        "notify",
        "reload-agent",
        "validate-all",
        "meta-data",
    ] {
        assert!(
            actions.iter().any(|a| a == expected),
            "{expected} not advertised: {actions:?}"
        );
    }
    let usage = Agent::bare().run("usage");
    usage.expect(OcfCode::Success);
    let page = pgha_output(&["doc", "man"]);
    let synopsis = page
        .split(".SH \"SYNOPSIS\"")
        .nth(1)
        .unwrap()
        .split("\n.SH ")
        .next()
        .unwrap();
    for action in &actions {
        usage.expect_stdout(action, "every advertised action is in the help");
        let roff_name = action.replace('-', "\\-");
        assert!(
            page.contains(&format!(".PP\n\\fB{roff_name}\\fR")),
            "{action} missing from the man page's SUPPORTED ACTIONS"
        );
        assert!(
            synopsis.contains(&roff_name),
            "{action} missing from the SYNOPSIS"
        );
        // promote and demote of a primitive answer 3 too, with their own
        // reason; only dispatch's fallback says "not implemented".
        Agent::bare().run(action).expect_not_logged(
            "is not implemented by this agent",
            "an advertised action is dispatched",
        );
    }
}

/// The literal example blocks of section `name` of a man page, as an
/// operator would type them: roff escapes undone, each `\` continuation
/// joined to its next line.
fn example_commands(page: &str, name: &str) -> Vec<String> {
    let section = page
        .split(&format!(".SH \"{name}\"\n"))
        .nth(1)
        .and_then(|rest| rest.split("\n.SH ").next())
        .unwrap_or_else(|| panic!("section {name} missing"));
    section
        .split(".nf\n")
        .skip(1)
        .map(|block| {
            let text = block.split("\n.fi").next().unwrap();
            text.replace("\\-", "-")
                .replace("\\&", "")
                .replace("\\e", "\\")
                .replace(" \\\n", " ")
        })
        .collect()
}

/// `pcs --version` as numbers: 0.11.5 is [0, 11, 5].
fn pcs_version() -> Vec<u32> {
    let out = run_tool("pcs", &["--version"]);
    out.expect_success()
        .stdout
        .trim()
        .split('.')
        .map(|n| n.parse().unwrap_or(0))
        .collect()
}

/// The man page's pcs commands that build the promotable clone, its VIP and
/// their constraints run on this node's pcs, into an empty CIB file, without
/// an error or a warning: the clone's options land on the clone, the VIP's
/// score is one pcs 0.12 does not deprecate, and the VIP stops before the
/// primary is demoted (without that order, clients keep writing through the
/// VIP to a server being demoted). Of the two spellings of the clone's
/// options the page gives, the one for this pcs runs: `meta ... --future`
/// from 0.11.6 on, the bare options before.
#[test]
fn man_page_pcs_commands_build_the_clone_and_its_vip_on_this_pcs() {
    install_into_ocf_root();
    let future = pcs_version() >= vec![0, 11, 6];
    let page = pgha_output(&["doc", "man"]);
    let commands: Vec<String> = example_commands(&page, "EXAMPLE PCS")
        .into_iter()
        .filter(|c| c.starts_with("pcs resource create") || c.starts_with("pcs constraint"))
        .filter(|c| {
            let clone_options = c.contains(" promotable ");
            !clone_options || (c.contains("--future") && c.contains(" meta ")) == future
        })
        .collect();
    let dir = TempDir::root_only("man-pcs");
    let cib = dir.path.join("cib.xml");
    let mut clones = 0;
    for command in &commands {
        if command.starts_with("pcs resource create pgsqld ") {
            // Each example starts from an empty CIB: the primitive and the
            // clone share their id.
            let empty = run_tool("cibadmin", &["--empty"]);
            std::fs::write(&cib, &empty.expect_success().stdout).unwrap();
            clones += usize::from(command.contains(" promotable "));
        }
        pcs_on_file(&cib, &command.replace("<VIP>", "10.0.0.100"));
    }
    assert_eq!(clones, 1, "one clone example for this pcs: {commands:#?}");
    let pcs = |args: &[&str]| {
        let mut all = vec!["-f", cib.to_str().unwrap()];
        all.extend_from_slice(args);
        run_tool("pcs", &all).expect_success().stdout.clone()
    };
    let constraints = pcs(&["constraint", "config"]);
    for expected in [
        "promote pgsqld-clone then start pgsql-vip (kind:Mandatory) (non-symmetrical)",
        "demote pgsqld-clone then stop pgsql-vip (kind:Mandatory) (non-symmetrical)",
        "pgsql-vip with pgsqld-clone (score:INFINITY)",
    ] {
        assert!(
            constraints.contains(expected),
            "the man page's constraints lack {expected:?}:\n{constraints}"
        );
    }
    let config = pcs(&["resource", "config", "pgsqld-clone"]);
    let (clone_meta, primitive) = config
        .split_once("Resource: pgsqld ")
        .unwrap_or_else(|| panic!("no primitive in the clone:\n{config}"));
    for option in ["notify=true", "promoted-max=1"] {
        assert!(
            clone_meta.contains(option) && !primitive.contains(option),
            "{option} is not on the clone alone:\n{config}"
        );
    }
}
