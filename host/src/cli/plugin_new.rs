//! `rollback-host plugin new` and `plugin wit`: a standalone inverter
//! project outside this repository, and the contract it builds against.
//!
//! The files come from `sdk/<language>/` and `wit/`, compiled into the
//! binary, so a user with only the released binary and the language's
//! toolchain can start. `__NAME__` in a template is the action type;
//! `__CPY__` / `__CJS__` the componentize-py / componentize-js versions the
//! SDK is tested with.

use anyhow::{bail, Context};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The contract, as this binary speaks it.
pub const WIT: &str = include_str!("../../../wit/rollback.wit");

/// componentize-py's version the Python SDK is built and tested with.
pub const COMPONENTIZE_PY: &str = "0.25.1";

/// componentize-js's version the JavaScript SDK is built and tested with.
pub const COMPONENTIZE_JS: &str = "0.23.0";

/// Languages `plugin new` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    /// Python, built with componentize-py.
    Python,
    /// JavaScript, built with componentize-js.
    Javascript,
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

fn files(lang: Lang) -> &'static [File] {
    match lang {
        Lang::Python => PYTHON,
        Lang::Javascript => JAVASCRIPT,
    }
}

fn fill(text: &str, name: &str) -> String {
    text.replace("__NAME__", name).replace("__CPY__", COMPONENTIZE_PY).replace("__CJS__", COMPONENTIZE_JS)
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
