//! Reading the CIB (`cibadmin --query`): the resources of this agent, and
//! the facts about the cluster that decide whether it is safe (fencing).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::deadline::Deadline;
use crate::exec;
use crate::ocf::code::{OcfError, OcfResult};

/// The ids of every primitive of agent `ocf:<provider>:<kind>` in the CIB.
pub fn primitives_of_agent(provider: &str, kind: &str, deadline: Deadline) -> OcfResult<Vec<String>> {
    // Both names are the agent's own constants, never operator input.
    let xpath = format!("//primitive[@provider='{provider}'][@type='{kind}']");
    let out = exec::run(
        "cibadmin",
        &["--query", "--xpath", xpath.as_str()],
        None,
        deadline.within(Duration::from_secs(10)),
    )?;
    if !out.success() {
        // cibadmin fails (ENXIO, "No such device or address") when the
        // XPath matches nothing, as when the CIB cannot be read.
        return Err(OcfError::generic(format!(
            "no ocf:{provider}:{kind} resource in the CIB: {}",
            out.last_message()
        )));
    }
    Ok(parse_primitive_ids(&out.stdout))
}

/// Clears the failure of the promote of `rsc` on `node` from Pacemaker's
/// history and fail count (`crm_resource --cleanup` of that one
/// operation): a promote that failed only to pass the promotion on, or to
/// wait for the quorum gate, is not a fault of the node, and a few of them
/// must not reach `migration-threshold`.
pub fn clear_promote_failure(rsc: &str, node: &str, deadline: Deadline) -> OcfResult<()> {
    let resource = format!("--resource={rsc}");
    let node = format!("--node={node}");
    let args = [
        "--cleanup",
        resource.as_str(),
        node.as_str(),
        "--operation=promote",
        "--interval=0",
    ];
    super::attrs::run("crm_resource", &args, deadline).map(|_| ())
}

/// The `id` of every `<primitive>` element of `xml` (unescaped); what is not
/// XML ends the list where it starts.
fn parse_primitive_ids(xml: &str) -> Vec<String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut ids = Vec::new();
    loop {
        match reader.read_event() {
            Ok(Event::Start(e) | Event::Empty(e)) if e.name().as_ref() == b"primitive" => {
                let id = e
                    .attributes()
                    .flatten()
                    .find(|a| a.key.as_ref() == b"id")
                    .and_then(|a| {
                        a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                            .ok()
                            .map(|v| v.into_owned())
                    });
                ids.extend(id);
            }
            Ok(Event::Eof) | Err(_) => return ids,
            Ok(_) => {}
        }
    }
}

/// What the CIB's configuration says that bears on the cluster's safety
/// (the callers hand it to `policy::safety` as its plain `ClusterFacts`).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Configuration {
    /// The cluster options (`crm_config` name/value pairs; the last one of
    /// a name wins, as with Pacemaker's own property sets in order).
    pub options: BTreeMap<String, String>,
    /// The nodes the CIB configures.
    pub nodes: usize,
    /// The fence devices (`class="stonith"` primitives, anywhere in the
    /// resources section).
    pub fence_devices: usize,
}

/// The cluster's configuration, or None when no CIB can be read (no
/// cluster here: the callers then say nothing). `CIB_file` is honoured, as
/// by every Pacemaker tool.
pub fn configuration(deadline: Deadline) -> Option<Configuration> {
    let out = exec::run(
        "cibadmin",
        &["--query", "--scope", "configuration"],
        None,
        deadline.within(Duration::from_secs(5)),
    )
    .ok()?;
    out.success().then(|| parse_configuration(&out.stdout)).flatten()
}

/// Reads a [`Configuration`] from a `<configuration>`; None when it is not one.
fn parse_configuration(xml: &str) -> Option<Configuration> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut facts = Configuration::default();
    let mut section = String::new();
    let mut seen_configuration = false;
    loop {
        let (e, empty) = match reader.read_event().ok()? {
            Event::Start(e) => (e, false),
            Event::Empty(e) => (e, true),
            Event::End(e) => {
                if e.name().as_ref() == section.as_bytes() {
                    section.clear();
                }
                continue;
            }
            Event::Eof => return seen_configuration.then_some(facts),
            _ => continue,
        };
        let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
        let attr = |key: &str| {
            e.attributes()
                .flatten()
                .find(|a| a.key.as_ref() == key.as_bytes())
                .and_then(|a| {
                    a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .ok()
                        .map(|v| v.into_owned())
                })
        };
        match (section.as_str(), name.as_str()) {
            (_, "configuration") => seen_configuration = true,
            ("", "crm_config" | "nodes" | "resources") if !empty => section = name.clone(),
            ("crm_config", "nvpair") => {
                if let (Some(n), Some(v)) = (attr("name"), attr("value")) {
                    facts.options.insert(n, v);
                }
            }
            ("nodes", "node") => facts.nodes += 1,
            ("resources", "primitive") if attr("class").as_deref() == Some("stonith") => {
                facts.fence_devices += 1
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primitive_ids_are_read_from_the_xpath_answer() {
        let xml = r#"<xpath-query>
  <primitive class="ocf" id="pgsqld" provider="pgha" type="postgresql">
    <instance_attributes id="pgsqld-instance_attributes"/>
  </primitive>
  <primitive class="ocf" id="db&amp;2" provider="pgha" type="postgresql"/>
</xpath-query>"#;
        assert_eq!(parse_primitive_ids(xml), vec!["pgsqld", "db&2"]);
        assert_eq!(parse_primitive_ids(""), Vec::<String>::new());
    }

    #[test]
    fn safety_settings_are_read_from_the_configuration() {
        let xml = r#"<configuration>
  <crm_config>
    <cluster_property_set id="cib-bootstrap-options">
      <nvpair id="o1" name="stonith-enabled" value="true"/>
      <nvpair id="o2" name="priority-fencing-delay" value="10s"/>
    </cluster_property_set>
  </crm_config>
  <nodes>
    <node id="1" uname="node1"/>
    <node id="2" uname="node2"><instance_attributes id="i"><nvpair id="x" name="stonith-enabled" value="no"/></instance_attributes></node>
  </nodes>
  <resources>
    <primitive class="stonith" id="fence1" type="fence_ipmilan"/>
    <group id="g"><primitive class="stonith" id="fence2" type="fence_xvm"><meta_attributes id="m"/></primitive></group>
    <clone id="pgsqld-clone"><primitive class="ocf" id="pgsqld" provider="pgha" type="postgresql"/></clone>
  </resources>
  <constraints/>
</configuration>"#;
        let facts = parse_configuration(xml).unwrap();
        assert_eq!(facts.nodes, 2);
        assert_eq!(facts.fence_devices, 2);
        assert_eq!(
            facts.options.get("stonith-enabled").map(String::as_str),
            Some("true"),
            "a node's nvpair is no cluster option"
        );
        assert_eq!(
            facts.options.get("priority-fencing-delay").map(String::as_str),
            Some("10s")
        );
        assert_eq!(parse_configuration("Call cib_query failed"), None);
        assert_eq!(
            parse_configuration("<configuration/>").unwrap(),
            Configuration::default()
        );
    }
}
