//! Who may do what: one rule per operation, each a list of roles (any one
//! suffices), with Watcher's defaults and an oslo.policy-style YAML file to
//! override them.
//!
//! The file maps rule names to `role:` alternatives, e.g.
//! `"action_plan:rollback": "role:admin or role:member"`; `"!"` allows
//! nobody. Nothing else of oslo.policy's language is accepted, and a rule
//! name the service does not know is refused, so a typo cannot leave a
//! default in force unnoticed. The rules that hand out control over what
//! the service does to the cloud ([`FIXED_ADMIN`]) are admin-only and
//! cannot be overridden.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Roles that may read.
const READ: &[&str] = &["reader", "member", "admin"];
/// Roles that may change plans (Watcher's `rule:admin_api`).
const ADMIN: &[&str] = &["admin"];

/// Every rule a route can be guarded by. A route names one of these (see
/// `api::routes`), so it cannot name a rule without a default: each has
/// its oslo.policy name ([`Rule::name`]) and Watcher's default roles
/// ([`Rule::default_roles`]), both by exhaustive match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rule {
    /// `action_plan:get`
    ActionPlanGet,
    /// `action_plan:get_all`
    ActionPlanGetAll,
    /// `action_plan:detail`
    ActionPlanDetail,
    /// `action_plan:create`
    ActionPlanCreate,
    /// `action_plan:update`
    ActionPlanUpdate,
    /// `action_plan:delete`
    ActionPlanDelete,
    /// `action_plan:start`
    ActionPlanStart,
    /// `action_plan:rollback`
    ActionPlanRollback,
    /// `action_plan:import` (this service's: take a plan from Watcher)
    ActionPlanImport,
    /// `action:get`
    ActionGet,
    /// `action:get_all`
    ActionGetAll,
    /// `action:detail`
    ActionDetail,
    /// `action:update`
    ActionUpdate,
    /// `plugin:get`
    PluginGet,
    /// `plugin:get_all`
    PluginGetAll,
    /// `plugin:create`
    PluginCreate,
    /// `plugin:delete`
    PluginDelete,
    /// `cloud:get`
    CloudGet,
    /// `cloud:update`
    CloudUpdate,
}

impl Rule {
    /// Every rule.
    pub const ALL: &'static [Rule] = &[
        Rule::ActionPlanGet,
        Rule::ActionPlanGetAll,
        Rule::ActionPlanDetail,
        Rule::ActionPlanCreate,
        Rule::ActionPlanUpdate,
        Rule::ActionPlanDelete,
        Rule::ActionPlanStart,
        Rule::ActionPlanRollback,
        Rule::ActionPlanImport,
        Rule::ActionGet,
        Rule::ActionGetAll,
        Rule::ActionDetail,
        Rule::ActionUpdate,
        Rule::PluginGet,
        Rule::PluginGetAll,
        Rule::PluginCreate,
        Rule::PluginDelete,
        Rule::CloudGet,
        Rule::CloudUpdate,
    ];

    /// Its name in a policy file (Watcher's).
    pub fn name(self) -> &'static str {
        match self {
            Rule::ActionPlanGet => "action_plan:get",
            Rule::ActionPlanGetAll => "action_plan:get_all",
            Rule::ActionPlanDetail => "action_plan:detail",
            Rule::ActionPlanCreate => "action_plan:create",
            Rule::ActionPlanUpdate => "action_plan:update",
            Rule::ActionPlanDelete => "action_plan:delete",
            Rule::ActionPlanStart => "action_plan:start",
            Rule::ActionPlanRollback => "action_plan:rollback",
            Rule::ActionPlanImport => "action_plan:import",
            Rule::ActionGet => "action:get",
            Rule::ActionGetAll => "action:get_all",
            Rule::ActionDetail => "action:detail",
            Rule::ActionUpdate => "action:update",
            Rule::PluginGet => "plugin:get",
            Rule::PluginGetAll => "plugin:get_all",
            Rule::PluginCreate => "plugin:create",
            Rule::PluginDelete => "plugin:delete",
            Rule::CloudGet => "cloud:get",
            Rule::CloudUpdate => "cloud:update",
        }
    }

    /// Watcher's default: reads for readers, members and admins; changes
    /// for admins.
    pub fn default_roles(self) -> &'static [&'static str] {
        match self {
            Rule::ActionPlanGet
            | Rule::ActionPlanGetAll
            | Rule::ActionPlanDetail
            | Rule::ActionGet
            | Rule::ActionGetAll
            | Rule::ActionDetail
            | Rule::PluginGet
            | Rule::PluginGetAll
            | Rule::CloudGet => READ,
            Rule::ActionPlanCreate
            | Rule::ActionPlanUpdate
            | Rule::ActionPlanDelete
            | Rule::ActionPlanStart
            | Rule::ActionPlanRollback
            | Rule::ActionPlanImport
            | Rule::ActionUpdate
            | Rule::PluginCreate
            | Rule::PluginDelete
            | Rule::CloudUpdate => ADMIN,
        }
    }
}

/// Rules fixed to `role:admin`: an inverter runs on every later rollback,
/// and the cloud document is what every action acts on.
pub const FIXED_ADMIN: &[&str] = &["plugin:create", "plugin:delete", "cloud:update"];

#[cfg(test)]
#[test]
fn rule_names_are_unique() {
    let names: std::collections::BTreeSet<_> = Rule::ALL.iter().map(|r| r.name()).collect();
    assert_eq!(names.len(), Rule::ALL.len());
}

/// A policy file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// Unreadable file.
    #[error("cannot read the policy file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not a YAML map of strings.
    #[error("policy file {path}: not a YAML map of rule names to strings: {reason}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        reason: String,
    },
    /// A rule the service does not have.
    #[error("policy file {path}: unknown rule {rule:?} (known rules: {known})")]
    UnknownRule {
        /// The file.
        path: PathBuf,
        /// The name.
        rule: String,
        /// The names it could have meant.
        known: String,
    },
    /// A value outside the accepted language.
    #[error("policy file {path}: rule {rule:?}: {reason}")]
    BadRule {
        /// The file.
        path: PathBuf,
        /// The rule.
        rule: String,
        /// What is wrong.
        reason: String,
    },
}

/// The roles allowed per rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    rules: BTreeMap<&'static str, Vec<String>>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            rules: Rule::ALL
                .iter()
                .map(|rule| (rule.name(), rule.default_roles().iter().map(|r| r.to_string()).collect()))
                .collect(),
        }
    }
}

impl Policy {
    /// The defaults overridden by the YAML file at `path`.
    pub fn load(path: &Path) -> Result<Policy, PolicyError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| PolicyError::Read { path: path.into(), source })?;
        Policy::parse(&text, path)
    }

    /// The defaults overridden by `text` (YAML; `path` names it in errors).
    pub fn parse(text: &str, path: &Path) -> Result<Policy, PolicyError> {
        let map: Vec<(String, String)> = if text.trim().is_empty() {
            Vec::new()
        } else {
            serde_yaml_ng::from_str::<Entries>(text)
                .map_err(|e| PolicyError::Syntax { path: path.into(), reason: e.to_string() })?
                .0
        };
        let mut policy = Policy::default();
        for (rule, value) in map {
            let bad = |reason: String| PolicyError::BadRule { path: path.into(), rule: rule.clone(), reason };
            let Some((&name, _)) = policy.rules.get_key_value(rule.as_str()) else {
                return Err(PolicyError::UnknownRule {
                    path: path.into(),
                    rule,
                    known: Rule::ALL.iter().map(|r| r.name()).collect::<Vec<_>>().join(", "),
                });
            };
            let roles = parse_roles(&value).map_err(bad)?;
            if FIXED_ADMIN.contains(&name) && roles != ["admin"] {
                return Err(bad(format!(
                    "{name} is fixed to \"role:admin\" (it controls what every later rollback does to the cloud)"
                )));
            }
            policy.rules.insert(name, roles);
        }
        Ok(policy)
    }

    /// Whether someone with `roles` may do what `rule` guards. Role names
    /// compare case-insensitively, as in oslo.policy. An unknown rule
    /// allows nobody.
    pub fn allows(&self, rule: &str, roles: &[String]) -> bool {
        self.rules
            .get(rule)
            .is_some_and(|allowed| allowed.iter().any(|a| roles.iter().any(|r| r.eq_ignore_ascii_case(a))))
    }

    /// The roles a rule allows (for the start-up log and the docs).
    pub fn roles(&self, rule: &str) -> Option<&[String]> {
        self.rules.get(rule).map(Vec::as_slice)
    }
}

/// A YAML map's entries in file order; a key given twice is an error
/// (YAML parsers keep the last one silently, so `"!"` then a wider rule
/// under the same name would widen it unnoticed).
struct Entries(Vec<(String, String)>);

impl<'de> serde::Deserialize<'de> for Entries {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Entries;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a map of rule names to strings")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Entries, A::Error> {
                let mut out: Vec<(String, String)> = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, String>()? {
                    if out.iter().any(|(seen, _)| *seen == k) {
                        return Err(serde::de::Error::custom(format!("rule {k:?} is given twice")));
                    }
                    out.push((k, v));
                }
                Ok(Entries(out))
            }
        }
        d.deserialize_map(Visit)
    }
}

/// `role:a or role:b` → `[a, b]`; `!` → nobody.
fn parse_roles(value: &str) -> Result<Vec<String>, String> {
    let value = value.trim();
    if value == "!" {
        return Ok(Vec::new());
    }
    if value.is_empty() || value == "@" {
        return Err(
            "an empty or \"@\" rule would allow everyone; write the roles (role:NAME or role:NAME)".into()
        );
    }
    value
        .split(" or ")
        .map(|alt| {
            let alt = alt.trim();
            match alt.strip_prefix("role:") {
                Some(role) if !role.is_empty() && role.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c)) => {
                    Ok(role.to_ascii_lowercase())
                }
                _ => Err(format!("{alt:?} is not a role check; only \"role:NAME\" alternatives joined by \" or \" (or \"!\") are accepted")),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Policy, PolicyError> {
        Policy::parse(text, Path::new("policy.yaml"))
    }

    #[test]
    fn defaults_follow_watcher() {
        let p = Policy::default();
        let roles = |r: &[&str]| r.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(p.allows("action_plan:get_all", &roles(&["reader"])));
        assert!(!p.allows("action_plan:rollback", &roles(&["member", "reader"])));
        assert!(p.allows("action_plan:rollback", &roles(&["Admin"])));
        assert!(!p.allows("no:such", &roles(&["admin"])));
    }

    #[test]
    fn a_file_overrides_one_rule() {
        let p = parse("\"action_plan:rollback\": \"role:admin or role:member\"\n").unwrap();
        assert!(p.allows("action_plan:rollback", &["member".into()]));
        assert!(!p.allows("action_plan:start", &["member".into()]));
        let p = parse("action_plan:get_all: \"!\"").unwrap();
        assert!(!p.allows("action_plan:get_all", &["admin".into()]));
    }

    #[test]
    fn unknown_rules_and_other_languages_are_refused() {
        let e = parse("action_plan:rolback: role:admin").unwrap_err().to_string();
        assert!(e.contains("unknown rule \"action_plan:rolback\""), "{e}");
        let e = parse("action_plan:start: rule:admin_api").unwrap_err().to_string();
        assert!(e.contains("not a role check"), "{e}");
        let e = parse("action_plan:start: \"\"").unwrap_err().to_string();
        assert!(e.contains("allow everyone"), "{e}");
        let e = parse("- a list").unwrap_err().to_string();
        assert!(e.contains("not a YAML map"), "{e}");
    }

    /// Regression: a rule given twice was accepted, the last one winning
    /// (`"!"` then `"role:admin or role:member"` let a member roll back).
    #[test]
    fn a_rule_given_twice_is_refused() {
        let text =
            "\"action_plan:rollback\": \"!\"\n\"action_plan:rollback\": \"role:admin or role:member\"\n";
        let e = parse(text).unwrap_err().to_string();
        assert!(e.contains("given twice") && e.contains("action_plan:rollback"), "{e}");
        assert!(parse("\"action_plan:rollback\": \"!\"\n").is_ok());
    }

    #[test]
    fn plugin_and_cloud_writes_stay_admin_only() {
        let e = parse("plugin:create: role:member or role:admin").unwrap_err().to_string();
        assert!(e.contains("fixed to \"role:admin\""), "{e}");
        assert!(parse("cloud:update: role:admin").is_ok());
    }
}
