use crate::util::*;

fn metadata_xml() -> String {
    let out = Agent::bare().run("meta-data");
    out.expect(rc::SUCCESS);
    out.stdout.clone()
}

#[test]
fn metadata_validates_against_the_pcs_ocf_1_1_schema() {
    let dir = TempDir::new("md");
    let file = dir.path.join("metadata.xml");
    std::fs::write(&file, metadata_xml()).unwrap();
    let (code, out, err) = run_tool(
        "xmllint",
        &[
            "--noout",
            "--relaxng",
            "/usr/share/pcs/data/ocf-1.1.rng",
            file.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "xmllint rejected the metadata:\n{out}\n{err}");
}

#[test]
fn metadata_declares_ocf_1_1_and_the_crate_version() {
    let xml = metadata_xml();
    assert!(xml.contains("<version>1.1</version>"), "{xml}");
    assert!(
        xml.contains(&format!(
            r#"<resource-agent name="postgresql" version="{}">"#,
            env!("CARGO_PKG_VERSION")
        )),
        "{xml}"
    );
    assert!(xml.contains(r#"<action name="reload-agent""#), "{xml}");
    assert!(
        !xml.contains(r#"name="methods""#),
        "advertise only actions that do something"
    );
}

#[test]
fn crm_resource_and_pcs_read_the_metadata() {
    install_into_ocf_root();
    let (code, out, err) = run_tool("crm_resource", &["--show-metadata", "ocf:pgha:postgresql"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("probe_timeout"), "{out}");
    let (code, out, err) = run_tool("pcs", &["resource", "describe", "ocf:pgha:postgresql"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("pgdata (required)"), "{out}");
    assert!(
        !err.to_lowercase().contains("warning") && !out.to_lowercase().contains("warning"),
        "{out}{err}"
    );
}

#[test]
fn readme_parameter_table_is_the_generated_one() {
    let out = std::process::Command::new(AGENT)
        .args(["doc", "markdown"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let table = String::from_utf8(out.stdout).unwrap();
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    assert!(
        readme.contains(&table),
        "README.md's parameter table is stale: paste the output of `pgha doc markdown`"
    );
}
