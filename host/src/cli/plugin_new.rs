//! `rollback-host plugin new` and `plugin wit`: a standalone inverter
//! project outside this repository, and the contract it builds against.
//!
//! The files come from `sdk/<language>/`, `wit/` and (Rust) the guest SDK
//! and template under `plugins/`, compiled into the binary, so a user with only the released binary and the language's
//! toolchain can start. `__NAME__` in a template is the action type;
//! `__CPY__` / `__CJS__` / `__TS__` the componentize-py / componentize-js /
//! TypeScript versions the SDK is tested with.

use anyhow::{bail, Context};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The contract, as this binary speaks it.
pub const WIT: &str = include_str!("../../../wit/rollback.wit");

/// componentize-py's version the Python SDK is built and tested with.
pub const COMPONENTIZE_PY: &str = "0.25.1";

/// componentize-js's version the JavaScript SDK is built and tested with.
pub const COMPONENTIZE_JS: &str = "0.23.0";

/// TypeScript's version the JavaScript SDK's declarations are checked with.
pub const TYPESCRIPT: &str = "5.9.3";

/// Languages `plugin new` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    /// Python, built with componentize-py.
    Python,
    /// JavaScript, built with componentize-js.
    Javascript,
    /// Rust, built with cargo for wasm32-unknown-unknown (the SDK the
    /// built-ins use, copied into the project).
    Rust,
}

/// One file of a project: its path and text (templates still to fill).
struct File {
    path: &'static str,
    text: &'static str,
    /// Part of the SDK: rewritten by `--force`; the others are the user's.
    sdk: bool,
    executable: bool,
}

const PYTHON: &[File] = &[
    File { path: "app.py", text: include_str!("../../../sdk/python/app.py"), sdk: true, executable: false },
    File {
        path: "rollback_sdk.py",
        text: include_str!("../../../sdk/python/rollback_sdk.py"),
        sdk: true,
        executable: false,
    },
    File {
        path: "rollback_component.py",
        text: include_str!("../../../sdk/python/rollback_component.py"),
        sdk: true,
        executable: false,
    },
    File { path: "wit/rollback.wit", text: WIT, sdk: true, executable: false },
    File {
        path: "inverter.py",
        text: include_str!("../../../sdk/python/inverter.py.tmpl"),
        sdk: false,
        executable: false,
    },
    File {
        path: "test_inverter.py",
        text: include_str!("../../../sdk/python/test_inverter.py.tmpl"),
        sdk: false,
        executable: false,
    },
    File {
        path: "build.sh",
        text: include_str!("../../../sdk/python/build.sh.tmpl"),
        sdk: false,
        executable: true,
    },
    File {
        path: "README.md",
        text: include_str!("../../../sdk/python/README.md.tmpl"),
        sdk: false,
        executable: false,
    },
];

const JAVASCRIPT: &[File] = &[
    File {
        path: "app.js",
        text: include_str!("../../../sdk/javascript/app.js"),
        sdk: true,
        executable: false,
    },
    File {
        path: "rollback_sdk.js",
        text: include_str!("../../../sdk/javascript/rollback_sdk.js"),
        sdk: true,
        executable: false,
    },
    File {
        path: "rollback_sdk.d.ts",
        text: include_str!("../../../sdk/javascript/rollback_sdk.d.ts"),
        sdk: true,
        executable: false,
    },
    File {
        path: "tsconfig.json",
        text: include_str!("../../../sdk/javascript/tsconfig.json.tmpl"),
        sdk: false,
        executable: false,
    },
    File {
        path: "rollback_component.js",
        text: include_str!("../../../sdk/javascript/rollback_component.js"),
        sdk: true,
        executable: false,
    },
    File { path: "wit/rollback.wit", text: WIT, sdk: true, executable: false },
    File {
        path: "inverter.js",
        text: include_str!("../../../sdk/javascript/inverter.js.tmpl"),
        sdk: false,
        executable: false,
    },
    File {
        path: "inverter.test.js",
        text: include_str!("../../../sdk/javascript/inverter.test.js.tmpl"),
        sdk: false,
        executable: false,
    },
    File {
        path: "package.json",
        text: include_str!("../../../sdk/javascript/package.json.tmpl"),
        sdk: false,
        executable: false,
    },
    File {
        path: "README.md",
        text: include_str!("../../../sdk/javascript/README.md.tmpl"),
        sdk: false,
        executable: false,
    },
];

const RUST: &[File] = &[
    File {
        path: "rollback-plugin-sdk/Cargo.toml",
        text: include_str!("../../../sdk/rust/sdk-Cargo.toml.tmpl"),
        sdk: true,
        executable: false,
    },
    File {
        path: "rollback-plugin-sdk/src/lib.rs",
        text: include_str!("../../../plugins/sdk/src/lib.rs"),
        sdk: true,
        executable: false,
    },
    File {
        path: "rollback-plugin-sdk/src/action.rs",
        text: include_str!("../../../plugins/sdk/src/action.rs"),
        sdk: true,
        executable: false,
    },
    File {
        path: "rollback-plugin-sdk/src/error.rs",
        text: include_str!("../../../plugins/sdk/src/error.rs"),
        sdk: true,
        executable: false,
    },
    File {
        path: "rollback-plugin-sdk/src/log.rs",
        text: include_str!("../../../plugins/sdk/src/log.rs"),
        sdk: true,
        executable: false,
    },
    File { path: "rollback-plugin-sdk/wit/rollback.wit", text: WIT, sdk: true, executable: false },
    File {
        path: "Cargo.toml",
        text: include_str!("../../../sdk/rust/Cargo.toml.tmpl"),
        sdk: false,
        executable: false,
    },
    File {
        path: "src/lib.rs",
        text: include_str!("../../../plugins/template/src/lib.rs.tmpl"),
        sdk: false,
        executable: false,
    },
    File {
        path: "build.sh",
        text: include_str!("../../../sdk/rust/build.sh.tmpl"),
        sdk: false,
        executable: true,
    },
    File {
        path: "README.md",
        text: include_str!("../../../sdk/rust/README.md.tmpl"),
        sdk: false,
        executable: false,
    },
];

fn files(lang: Lang) -> &'static [File] {
    match lang {
        Lang::Python => PYTHON,
        Lang::Javascript => JAVASCRIPT,
        Lang::Rust => RUST,
    }
}

/// `set_metadata` → `SetMetadata` (the Rust template's type name).
fn camel(name: &str) -> String {
    name.split('_')
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
        })
        .collect()
}

fn fill(text: &str, name: &str) -> String {
    // In a project the SDK's contract is beside it (in this repository it
    // is the workspace's `wit/`), and the inverter is `src/lib.rs`.
    text.replace("path: \"../../wit\"", "path: \"wit\"")
        .replace("write plugins/__NAME__/src/lib.rs", "write src/lib.rs")
        .replace("`make plugin NAME=__NAME__`", "`rollback-host plugin new __NAME__ --lang rust`")
        .replace("__NAME__", name)
        .replace("__TYPE__", &camel(name))
        .replace("__CPY__", COMPONENTIZE_PY)
        .replace("__CJS__", COMPONENTIZE_JS)
        .replace("__TS__", TYPESCRIPT)
}

/// Writes a new project for `name` in `dir` (default `./NAME`). An existing
/// file is never overwritten, except the SDK's own files with `force`.
pub fn new(name: &str, lang: Lang, dir: Option<PathBuf>, force: bool) -> anyhow::Result<ExitCode> {
    if !rollback_host::plugins::valid_action_type(name) {
        bail!("{name:?} is not a valid action type (1-64 of a-z, 0-9 and _, starting with a letter)");
    }
    let dir = dir.unwrap_or_else(|| PathBuf::from(name));
    let mut written = Vec::new();
    for f in files(lang) {
        let path = dir.join(f.path);
        if path.exists() && !(force && f.sdk) {
            if f.sdk {
                eprintln!("kept {} (use --force to write the SDK's files again)", path.display());
            }
            continue;
        }
        write(&path, &fill(f.text, name), f.executable)?;
        written.push(path);
    }
    for p in &written {
        println!("wrote {}", p.display());
    }
    match lang {
        Lang::Python => println!(
            "next: pip install componentize-py=={COMPONENTIZE_PY}; edit {}; run {}",
            dir.join("inverter.py").display(),
            dir.join("build.sh").display()
        ),
        Lang::Javascript => {
            println!("next: cd {}; npm install; edit inverter.js; npm test; npm run build", dir.display())
        }
        Lang::Rust => println!(
            "next: edit {}; run {} (cargo test, then the component)",
            dir.join("src/lib.rs").display(),
            dir.join("build.sh").display()
        ),
    }
    Ok(ExitCode::SUCCESS)
}

fn write(path: &Path, text: &str, executable: bool) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    #[cfg(unix)]
    if executable {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
            .with_context(|| format!("making {} executable", path.display()))?;
    }
    Ok(())
}

/// Prints the contract, or writes it to `out` (a directory gets
/// `rollback.wit`).
pub fn wit(out: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    match out {
        None => print!("{WIT}"),
        Some(p) => {
            let path = if p.is_dir() { p.join("rollback.wit") } else { p };
            write(&path, WIT, false)?;
            eprintln!("wrote {}", path.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_the_templates_rust_type() {
        assert_eq!(camel("set_metadata"), "SetMetadata");
        assert_eq!(camel("nop"), "Nop");
        assert_eq!(camel("a__b1"), "AB1");
    }

    #[test]
    fn the_toolchains_installed_for_the_tests_are_the_versions_projects_name() {
        let npm = include_str!("../../../scripts/plugin-node/package.json");
        assert!(
            npm.contains(&format!("\"@bytecodealliance/componentize-js\": \"{COMPONENTIZE_JS}\"")),
            "{npm}"
        );
        assert!(npm.contains(&format!("\"typescript\": \"{TYPESCRIPT}\"")), "{npm}");
        let script = include_str!("../../../scripts/plugin-toolchains.sh");
        assert!(
            script.contains(&format!("CPY={COMPONENTIZE_PY}\n")),
            "plugin-toolchains.sh installs another componentize-py"
        );
    }

    #[test]
    fn every_language_fills_every_placeholder() {
        for lang in [Lang::Python, Lang::Javascript, Lang::Rust] {
            for f in files(lang) {
                let text = fill(f.text, "set_metadata");
                for p in [
                    "__NAME__",
                    "__TYPE__",
                    "__CPY__",
                    "__CJS__",
                    "__TS__",
                    "../../wit",
                    "plugins/set_metadata",
                ] {
                    assert!(!text.contains(p), "{}: {p}", f.path);
                }
            }
        }
    }
}
