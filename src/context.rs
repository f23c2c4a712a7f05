//! What one run of the agent works with: its OCF environment, its time
//! budget, and what every action derives from them (the parameters, the
//! instance on this node, the resource and node names, primitive or
//! promotable clone).

use crate::deadline::Deadline;
use crate::log_warn;
use crate::ocf::code::{OcfCode, OcfError, OcfResult};
use crate::ocf::env::OcfEnv;
use crate::params::{self, Config};
use crate::pg::instance::Instance;

/// How the resource is configured in Pacemaker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// A plain primitive: one instance, whatever its configuration makes it.
    Primitive,
    /// A promotable clone: instances start as standbys, one is promoted.
    Promotable,
}

/// Everything an action works with.
pub struct Context {
    pub env: OcfEnv,
    pub deadline: Deadline,
}

impl Context {
    pub fn new(env: OcfEnv) -> Context {
        let deadline = Deadline::for_action(env.timeout());
        Context { env, deadline }
    }

    /// The parameters, checked for syntax (OCF_CHECK_LEVEL 0).
    pub fn config(&self) -> OcfResult<Config> {
        let unknown = params::unknown_names(&self.env.params);
        if !unknown.is_empty() {
            log_warn!("unknown parameter(s) ignored: {}", unknown.join(", "));
        }
        Config::parse(&self.env.params, self.env.resource_name())
    }

    /// Only what finds the instance (pgdata, datadir), whatever else is
    /// wrong: what stop, and a monitor after it, work from.
    pub fn location(&self) -> OcfResult<params::Location> {
        params::Location::parse(&self.env.params)
    }

    /// The instance on this node: the host checks of level 10.
    pub fn instance(&self, config: &Config) -> OcfResult<Instance> {
        Instance::resolve(
            &config.instance_settings(),
            self.env.path.as_deref(),
            self.deadline,
        )
    }

    /// A monitor with interval 0: Pacemaker asking whether the resource is
    /// active here, on nodes where it may never have been installed.
    pub fn is_probe(&self) -> bool {
        self.env.interval_ms() == 0
    }

    /// Primitive or promotable clone, from the meta attributes Pacemaker
    /// adds to every action of a promotable clone (`promoted_max`, or the
    /// legacy `master_max`); no query of a live cluster is needed.
    pub fn mode(&self) -> Mode {
        if self.promoted_max().is_some() {
            Mode::Promotable
        } else {
            Mode::Primitive
        }
    }

    /// The clone's `clone-max` (how many instances it runs, by default the
    /// number of nodes); None outside a clone, or when Pacemaker did not
    /// say.
    pub fn clone_max(&self) -> Option<u32> {
        self.env.meta("clone_max").and_then(|v| v.trim().parse().ok())
    }

    /// The clone's `promoted-max`: present exactly in a promotable clone's
    /// actions.
    fn promoted_max(&self) -> Option<&str> {
        self.env.meta("promoted_max").or(self.env.meta("master_max"))
    }

    /// In a promotable clone, the settings it cannot work without, from the
    /// environment alone (ERR_CONFIGURED: the same everywhere).
    pub fn check_clone_settings(&self, config: &Config) -> OcfResult<()> {
        if self.mode() != Mode::Promotable {
            // A primitive has no primary to copy from.
            if config.bootstrap || config.rebuild {
                return Err(OcfError::configured(
                    "bootstrap and rebuild copy the primary: they need a promotable clone",
                ));
            }
            return Ok(());
        }
        let promoted_max = self.promoted_max().unwrap_or("1");
        if promoted_max.trim() != "1" {
            return Err(OcfError::configured(format!(
                "promoted-max={promoted_max}: PostgreSQL has one primary; set promoted-max=1"
            )));
        }
        if !self
            .env
            .meta("notify")
            .is_some_and(|n| params::parse_bool("notify", n).unwrap_or(false))
        {
            return Err(OcfError::configured(
                "the clone needs notify=true: the election of the new primary runs in notifications",
            ));
        }
        if config.primary_conninfo.trim().is_empty() {
            return Err(OcfError::configured(
                "primary_conninfo is required in a promotable clone, e.g. 'host=<VIP> user=replicator'",
            ));
        }
        Ok(())
    }

    /// The parameters, checked for syntax and, in a clone, for the clone's
    /// own requirements.
    pub fn checked_config(&self) -> OcfResult<Config> {
        let config = self.config()?;
        self.check_clone_settings(&config)?;
        Ok(config)
    }

    /// The checked parameters of an action that only a promotable clone has
    /// (a primitive has no roles: ERR_UNIMPLEMENTED).
    pub fn promotable_config(&self, action: &str) -> OcfResult<Config> {
        if self.mode() != Mode::Promotable {
            return Err(OcfError::new(
                OcfCode::ErrUnimplemented,
                format!("{action} needs a promotable clone (pcs resource create ... promotable)"),
            ));
        }
        self.checked_config()
    }

    /// The Pacemaker node name of this node.
    pub fn node_name(&self) -> String {
        crate::pcmk::node::local_node_name(&self.env, self.deadline)
    }

    /// The resource name, without a clone suffix. Every action that uses it
    /// passed [`Context::require_resource`] in [`crate::actions::dispatch`]; elsewhere (stop
    /// without `OCF_RESOURCE_INSTANCE`) it is empty, which no attribute or
    /// file name accepts.
    pub fn resource(&self) -> &str {
        self.env.resource_name().unwrap_or("")
    }

    /// The resource name, or ERR_CONFIGURED when Pacemaker's
    /// `OCF_RESOURCE_INSTANCE` is missing or not a resource id.
    pub fn require_resource(&self) -> OcfResult<&str> {
        self.env.resource_name().ok_or_else(|| {
            OcfError::configured(format!(
                "OCF_RESOURCE_INSTANCE {:?} is missing or not a resource id: run the agent through Pacemaker",
                self.env.instance.as_deref().unwrap_or("")
            ))
        })
    }
}
