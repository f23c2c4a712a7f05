//! Reading the CIB (`cibadmin --query`): the resources of this agent.

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

/// The `id` of every `<primitive>` element of `xml` (unescaped); what is not
/// XML ends the list where it starts.
fn parse_primitive_ids(xml: &str) -> Vec<String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut ids = Vec::new();
    loop {
        match reader.read_event() {
            Ok(Event::Start(e) | Event::Empty(e)) if e.name().into_inner() == "primitive" => {
                let id = e
                    .attributes()
                    .flatten()
                    .find(|a| a.key.into_inner() == "id")
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
}
