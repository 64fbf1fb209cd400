//! The configuration file (`--config FILE` / `ROLLBACK_CONFIG`): one flat
//! TOML table whose keys are `serve`'s long flag names (`listen`,
//! `data-dir`, `plugin-deadline-ms`, …) plus `log-format`.
//!
//! Precedence is file < environment < flag: each key of the file becomes
//! the default of its clap argument, which an environment variable or a
//! flag then overrides as usual. Every key is checked at start by the same
//! value parser the flag uses, and an error names the file and the key.

use clap::Command;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The environment variable naming the configuration file.
pub const ENV: &str = "ROLLBACK_CONFIG";

/// What can be wrong with a configuration file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration file {file}: {source}")]
    Read { file: PathBuf, source: std::io::Error },
    #[error("{file}: not valid TOML: {message}")]
    Syntax { file: PathBuf, message: String },
    #[error(
        "{file}: unknown key `{key}` (keys are `serve`'s long flag names, such as `listen` or `data-dir`)"
    )]
    UnknownKey { file: PathBuf, key: String },
    #[error("{file}: key `{key}`: {message}")]
    BadValue { file: PathBuf, key: String, message: String },
}

/// The file named by `--config`/`--config=` in `argv`, else by
/// [`ENV`]. Scanned before clap parses, since the file supplies defaults.
pub fn path_from(argv: &[OsString]) -> Option<PathBuf> {
    let mut args = argv.iter().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--" {
            break;
        }
        if arg == "--config" {
            return args.next().map(PathBuf::from);
        }
        if let Some(v) = arg.to_str().and_then(|s| s.strip_prefix("--config=")) {
            return Some(PathBuf::from(v));
        }
    }
    std::env::var_os(ENV).filter(|v| !v.is_empty()).map(PathBuf::from)
}

/// `cmd` with the file's values as the defaults of the arguments they name.
pub fn apply(cmd: Command, file: &Path) -> Result<Command, ConfigError> {
    let text = std::fs::read_to_string(file)
        .map_err(|source| ConfigError::Read { file: file.to_path_buf(), source })?;
    apply_text(cmd, file, &text)
}

/// [`apply`] on the file's text.
pub fn apply_text(mut cmd: Command, file: &Path, text: &str) -> Result<Command, ConfigError> {
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| ConfigError::Syntax {
        file: file.into(),
        message: e.message().into(),
    })?;
    let bad =
        |key: &str, message: String| ConfigError::BadValue { file: file.into(), key: key.into(), message };
    for (key, value) in &table {
        let values = strings(value).map_err(|m| bad(key, m))?;
        // `log-format` belongs to the top-level command; the rest to `serve`.
        let in_root = key == "log-format";
        let owner = if in_root { &cmd } else { cmd.find_subcommand("serve").expect("serve is a subcommand") };
        let Some(arg) = owner.get_arguments().find(|a| a.get_long() == Some(key.as_str()) && key != "config")
        else {
            return Err(ConfigError::UnknownKey { file: file.into(), key: key.clone() });
        };
        let multiple = arg.get_num_args().is_some_and(|n| n.max_values() > 1)
            || matches!(arg.get_action(), clap::ArgAction::Append);
        if values.len() != 1 && !multiple {
            return Err(bad(key, "takes one value, not a list".into()));
        }
        // The flag's own parser judges each value.
        let flag = format!("--{key}");
        for v in &values {
            let argv: Vec<&str> = if in_root {
                vec!["rollback-host", &flag, v, "serve"]
            } else {
                vec!["rollback-host", "serve", &flag, v]
            };
            if let Err(e) = cmd.clone().try_get_matches_from(argv) {
                return Err(bad(key, first_line(&e)));
            }
        }
        let id = arg.get_id().clone();
        let defaults: Vec<clap::builder::OsStr> =
            values.into_iter().map(|v| clap::builder::OsStr::from(clap::builder::Str::from(v))).collect();
        let set = move |a: clap::Arg| a.default_values(defaults);
        cmd =
            if in_root { cmd.mut_arg(id, set) } else { cmd.mut_subcommand("serve", |s| s.mut_arg(id, set)) };
    }
    Ok(cmd)
}

/// A TOML value as the strings a command line would carry.
fn strings(value: &toml::Value) -> Result<Vec<String>, String> {
    use toml::Value;
    match value {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Integer(i) => Ok(vec![i.to_string()]),
        Value::Float(f) => Ok(vec![f.to_string()]),
        Value::Boolean(b) => Ok(vec![b.to_string()]),
        Value::Array(items) => items
            .iter()
            .map(|v| match v {
                Value::Array(_) | Value::Table(_) => Err("lists hold plain values only".to_string()),
                v => strings(v).map(|mut s| s.remove(0)),
            })
            .collect(),
        Value::Datetime(_) => Err("a date is not a valid value here".into()),
        Value::Table(_) => Err("the file is one flat table; sections are not used".into()),
    }
}

/// A clap error's message without the `error: ` prefix and the usage lines.
fn first_line(err: &clap::Error) -> String {
    let text = err.to_string();
    let line = text.lines().next().unwrap_or_default();
    line.strip_prefix("error: ").unwrap_or(line).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, FromArgMatches};

    fn parse(file: &str, argv: &[&str]) -> Result<super::super::Cli, String> {
        let cmd = apply_text(super::super::Cli::command(), Path::new("test.toml"), file)
            .map_err(|e| e.to_string())?;
        let m = cmd.try_get_matches_from(argv).map_err(|e| e.to_string())?;
        super::super::Cli::from_arg_matches(&m).map_err(|e| e.to_string())
    }

    #[test]
    fn file_value_is_the_default_and_a_flag_overrides_it() {
        let cli = parse("listen = \"127.0.0.1:9999\"\n", &["rollback-host", "serve"]).unwrap();
        assert!(format!("{cli:?}").contains("127.0.0.1:9999"));
        let cli =
            parse("listen = \"127.0.0.1:9999\"\n", &["rollback-host", "serve", "--listen", "127.0.0.1:1"])
                .unwrap();
        assert!(format!("{cli:?}").contains("127.0.0.1:1,"), "{cli:?}");
    }

    #[test]
    fn bad_value_names_file_and_key() {
        let err = parse("plugin-deadline-ms = \"soon\"\n", &["rollback-host", "serve"]).unwrap_err();
        assert!(err.starts_with("test.toml: key `plugin-deadline-ms`: invalid value 'soon'"), "{err}");
    }

    #[test]
    fn unknown_key_and_sections_are_refused() {
        let err = parse("listn = \"x\"\n", &["rollback-host", "serve"]).unwrap_err();
        assert!(err.contains("unknown key `listn`"), "{err}");
        let err = parse("[serve]\nlisten = \"x\"\n", &["rollback-host", "serve"]).unwrap_err();
        assert!(err.contains("key `serve`"), "{err}");
    }

    #[test]
    fn lists_fill_repeatable_flags_only() {
        let cli =
            parse("allowed-host = [\"a.example\", \"b.example\"]\n", &["rollback-host", "serve"]).unwrap();
        assert!(format!("{cli:?}").contains("b.example"));
        let err =
            parse("listen = [\"127.0.0.1:1\", \"127.0.0.1:2\"]\n", &["rollback-host", "serve"]).unwrap_err();
        assert!(err.contains("takes one value"), "{err}");
    }
}
