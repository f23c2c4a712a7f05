//! OCF 1.1 metadata XML, written from the agent's description, its
//! parameters and its actions. The parameters come as OCF describes them
//! ([`Parameter`]): the parameter table converts itself
//! (`crate::params::ocf_parameters`), so the protocol layer knows nothing of
//! the agent's own parameters.
//!
//! quick-xml's writer escapes every text and attribute, so descriptions can
//! hold `<`, `&` or quotes safely: the XML is never assembled with format!.
//! The layout follows the OCF 1.1 schema (`ra-api.rng`): `version`,
//! `longdesc`, `shortdesc`, `parameters`, `actions`.

use std::io::{self, Write};

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesText, Event};

/// Who the agent is.
pub struct AgentInfo {
    pub name: &'static str,
    pub version: &'static str,
    pub shortdesc: &'static str,
    pub longdesc: &'static str,
}

/// One advertised action, with the defaults pcs copies into the CIB.
#[derive(Clone, Copy, Debug)]
pub struct ActionSpec {
    pub name: &'static str,
    pub timeout_s: u32,
    pub interval_s: Option<u32>,
    pub depth: Option<u32>,
    /// `Promoted` / `Unpromoted`, as pcs 0.11 and Pacemaker 2.1 spell roles.
    pub role: Option<&'static str>,
}

/// One `<parameter>`.
#[derive(Clone, Copy, Debug)]
pub struct Parameter {
    pub name: &'static str,
    /// Parameters in the same group must not be equal across resources.
    pub unique_group: Option<&'static str>,
    pub required: bool,
    pub reloadable: bool,
    pub shortdesc: &'static str,
    pub longdesc: &'static str,
    pub content: Content,
}

/// Its `<content>`: the type and default, and for `select` the values.
#[derive(Clone, Copy, Debug)]
pub struct Content {
    /// `string`, `integer`, `boolean` or `select`.
    pub type_name: &'static str,
    pub default: Option<&'static str>,
    /// The `<option value>`s of a select, in order; empty otherwise.
    pub options: &'static [&'static str],
}

/// Writes the metadata document to `out`.
pub fn write(
    out: impl Write,
    agent: &AgentInfo,
    params: &[Parameter],
    actions: &[ActionSpec],
) -> io::Result<()> {
    let mut w = Writer::new_with_indent(out, b' ', 2);
    w.write_event(Event::Decl(BytesDecl::new("1.0", None, None)))?;
    w.create_element("resource-agent")
        .with_attribute(("name", agent.name))
        .with_attribute(("version", agent.version))
        .write_inner_content(|w| {
            w.create_element("version")
                .write_text_content(BytesText::new("1.1"))?;
            description(w, "longdesc", agent.longdesc)?;
            description(w, "shortdesc", agent.shortdesc)?;
            w.create_element("parameters").write_inner_content(|w| {
                for p in params {
                    parameter(w, p)?;
                }
                Ok(())
            })?;
            w.create_element("actions").write_inner_content(|w| {
                for a in actions {
                    action(w, a)?;
                }
                Ok(())
            })?;
            Ok(())
        })?;
    w.get_mut().write_all(b"\n")
}

fn description<W: Write>(w: &mut Writer<W>, tag: &str, text: &str) -> io::Result<()> {
    w.create_element(tag)
        .with_attribute(("lang", "en"))
        .write_text_content(BytesText::new(&normalize_spaces(text)))?;
    Ok(())
}

fn parameter<W: Write>(w: &mut Writer<W>, p: &Parameter) -> io::Result<()> {
    let mut el = w.create_element("parameter").with_attribute(("name", p.name));
    if let Some(group) = p.unique_group {
        el = el.with_attribute(("unique-group", group));
    }
    el.with_attribute(("required", bool01(p.required)))
        .with_attribute(("reloadable", bool01(p.reloadable)))
        .write_inner_content(|w| {
            description(w, "longdesc", p.longdesc)?;
            description(w, "shortdesc", p.shortdesc)?;
            let mut content = w
                .create_element("content")
                .with_attribute(("type", p.content.type_name));
            if let Some(default) = p.content.default {
                content = content.with_attribute(("default", default));
            }
            if p.content.options.is_empty() {
                content.write_empty()?;
            } else {
                content.write_inner_content(|w| {
                    for option in p.content.options {
                        w.create_element("option")
                            .with_attribute(("value", *option))
                            .write_empty()?;
                    }
                    Ok(())
                })?;
            }
            Ok(())
        })?;
    Ok(())
}

fn action<W: Write>(w: &mut Writer<W>, a: &ActionSpec) -> io::Result<()> {
    let timeout = format!("{}s", a.timeout_s);
    let interval = a.interval_s.map(|i| format!("{i}s"));
    let depth = a.depth.map(|d| d.to_string());
    let mut el = w
        .create_element("action")
        .with_attribute(("name", a.name))
        .with_attribute(("timeout", timeout.as_str()));
    if let Some(interval) = &interval {
        el = el.with_attribute(("interval", interval.as_str()));
    }
    if let Some(depth) = &depth {
        el = el.with_attribute(("depth", depth.as_str()));
    }
    if let Some(role) = a.role {
        el = el.with_attribute(("role", role));
    }
    el.write_empty()?;
    Ok(())
}

fn bool01(b: bool) -> &'static str {
    if b { "1" } else { "0" }
}

/// Descriptions are written in source with line continuations; collapse runs
/// of spaces so the XML and pcs show clean sentences.
pub fn normalize_spaces(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_text_and_writes_attributes() {
        let agent = AgentInfo {
            name: "a",
            version: "1",
            shortdesc: "s",
            longdesc: "x < y & \"z\"",
        };
        let p = Parameter {
            name: "p",
            unique_group: None,
            required: false,
            reloadable: true,
            shortdesc: "short",
            longdesc: "long   text",
            content: Content {
                type_name: "integer",
                default: Some("5"),
                options: &[],
            },
        };
        let mode = Parameter {
            name: "mode",
            content: Content {
                type_name: "select",
                default: Some("b"),
                options: &["a", "b"],
            },
            ..p
        };
        let params = [p, mode];
        let actions = [ActionSpec {
            name: "monitor",
            timeout_s: 10,
            interval_s: Some(15),
            depth: None,
            role: Some("Promoted"),
        }];
        let mut out = Vec::new();
        write(&mut out, &agent, &params, &actions).unwrap();
        let xml = String::from_utf8(out).unwrap();
        assert!(xml.contains("x &lt; y &amp; &quot;z&quot;"), "{xml}");
        assert!(
            xml.contains(r#"<parameter name="p" required="0" reloadable="1">"#),
            "{xml}"
        );
        assert!(xml.contains(r#"<content type="integer" default="5"/>"#), "{xml}");
        assert!(
            xml.contains(
                "<content type=\"select\" default=\"b\">\n        <option value=\"a\"/>\n        \
                 <option value=\"b\"/>\n      </content>"
            ),
            "{xml}"
        );
        assert!(
            xml.contains(r#"<action name="monitor" timeout="10s" interval="15s" role="Promoted"/>"#),
            "{xml}"
        );
        assert!(
            xml.contains("<longdesc lang=\"en\">long text</longdesc>"),
            "{xml}"
        );
    }
}
