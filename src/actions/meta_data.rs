//! `meta-data`: the OCF 1.1 XML that Pacemaker and pcs read, on stdout,
//! from the parameter table and the action table.

use std::io::Write;

use super::AGENT;
use crate::ocf::code::{OcfCode, OcfError, OcfResult};
use crate::ocf::metadata;
use crate::params::ocf_parameters;

pub fn run() -> OcfResult {
    let mut out = Vec::new();
    metadata::write(&mut out, &AGENT, &ocf_parameters(), &super::advertised())
        .and_then(|()| std::io::stdout().lock().write_all(&out))
        .map_err(|e| OcfError::generic("cannot write the metadata").with_source(e))?;
    Ok(OcfCode::Success)
}
