//! Command-line interface. `serve` runs the service (`serve`, `config`,
//! `access`); `plan`, `action`, `plugin`, `cloud` are the client (`client`
//! talks HTTP to a running service; `plugin check|invert` work offline);
//! `completions` and `man` are generated from these definitions.

/// `println!` that does not panic when stdout is closed (`... | head`).
macro_rules! out {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($t)*);
    }};
}

mod access;
mod action;
mod client;
mod config;
mod openstack;
mod plan;
mod plugin;
mod plugin_new;
mod serve;
mod store;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Undo OpenStack Watcher action plans with sandboxed Wasm inverters.
#[derive(Debug, Parser)]
#[command(name = "rollback-host", version, about, after_long_help = EXIT_CODES)]
pub struct Cli {
    /// Log lines as text (for people) or one JSON object per line (for log
    /// collectors). Either way every line of a request carries its id.
    #[arg(long, global = true, env = "ROLLBACK_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,

    #[command(subcommand)]
    command: Command,
}

/// The client commands' exit codes (also in docs/user-guide.md).
const EXIT_CODES: &str = "Exit codes of the client commands:
  0  done (with --wait: the plan SUCCEEDED)
  1  the service refused or failed the request (its faultstring is printed)
  2  usage: a bad flag or argument, an unreadable or non-JSON input file
  3  --wait: the plan ended FAILED or CANCELLED
  4  the service or Keystone could not be reached, or refused the credentials";

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable text.
    Text,
    /// One JSON object per line.
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start the HTTP service.
    Serve(Box<serve::ServeArgs>),
    /// Action plans: list, show, create, start, cancel, delete, roll back, draw.
    Plan(plan::PlanArgs),
    /// The actions of a plan.
    Action(action::ActionArgs),
    /// Plugins: check and try them offline; list, add, remove on the service.
    #[command(subcommand)]
    Plugin(plugin::PluginCommand),
    /// The simulated cloud the service acts on.
    Cloud(action::CloudArgs),
    /// The store itself: copy it between a data directory and MySQL.
    #[command(subcommand)]
    Store(store::StoreCommand),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) of rollback-host and its commands.
    Man,
    /// Print the sha256 of a token read from standard input, for the
    /// `--auth tokens` file (the file never holds the token itself).
    TokenHash,
}

/// The binaries' `main`: parse the command line, set up logging, run the
/// command; an error becomes one `error: …` line and a failure exit.
pub fn main() -> ExitCode {
    let args = match parse() {
        Ok(args) => args,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::from(2);
        }
    };
    init_tracing(&args);
    match run(args) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {}", one_line(&err));
            ExitCode::FAILURE
        }
    }
}

/// `err` and its causes on one line, as anyhow's `{:#}` joins them, less
/// any cause whose text the line already holds: an error whose message
/// names its source (`"the store in {dir}: {source}"`) would print the
/// reason twice.
fn one_line(err: &anyhow::Error) -> String {
    let mut line = err.to_string();
    for cause in err.chain().skip(1) {
        let text = cause.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
    }
    line
}

/// The command line, over the configuration file's defaults when `serve`
/// is given one. Usage errors exit as clap's do (status 2).
fn parse() -> Result<Cli, config::ConfigError> {
    use clap::{CommandFactory, FromArgMatches};
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let mut cmd = Cli::command();
    if argv.iter().any(|a| a == "serve") {
        if let Some(file) = config::path_from(&argv) {
            cmd = config::apply(cmd, &file)?;
        }
    }
    let matches = cmd.get_matches_from(argv);
    Ok(Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit()))
}

/// Logs go to stderr; `RUST_LOG` filters them (default `info`).
pub fn init_tracing(cli: &Cli) {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => builder.json().with_current_span(true).with_span_list(false).init(),
    }
}

/// Runs the chosen command.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(args) => serve::run(*args).map(|()| ExitCode::SUCCESS),
        Command::Plugin(cmd) => plugin::run(cmd),
        Command::Store(cmd) => store::run(cmd),
        Command::Plan(args) => Ok(remote(plan::run(args))),
        Command::Action(args) => Ok(remote(action::run(args))),
        Command::Cloud(args) => Ok(remote(action::run_cloud(args))),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(shell, &mut Cli::command(), "rollback-host", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        Command::Man => {
            use clap::CommandFactory;
            man(Cli::command())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::TokenHash => {
            let mut token = String::new();
            std::io::stdin().read_line(&mut token)?;
            let token = token.trim_end_matches(['\r', '\n']);
            anyhow::ensure!(!token.is_empty(), "no token on standard input");
            println!("{}", rollback_host::auth::hash_token(token));
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// A remote command's outcome: its error as one `error: …` line (the
/// service's faultstring) and the documented exit code.
fn remote(result: Result<ExitCode, client::ClientError>) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_code()
        }
    }
}

/// The man page of the command and, after it, of every subcommand.
fn man(cmd: clap::Command) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    clap_mangen::Man::new(cmd.clone()).render(&mut out)?;
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        let name = format!("rollback-host-{}", sub.get_name());
        let sub = sub.clone().name(name.clone()).bin_name(name);
        clap_mangen::Man::new(sub).render(&mut out)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::one_line;

    #[derive(Debug, thiserror::Error)]
    #[error("the store in /d: {source}")]
    struct Named {
        source: std::io::Error,
    }

    /// Regression: a refused store printed its reason twice ("… newer than
    /// this build's 2; upgrade rollback-host: the data directory holds …").
    #[test]
    fn an_error_whose_message_names_its_source_prints_it_once() {
        let err = anyhow::Error::new(Named { source: std::io::Error::other("too new") });
        assert_eq!(one_line(&err), "the store in /d: too new");
        let err = err.context("starting");
        assert_eq!(one_line(&err), "starting: the store in /d: too new");
        let plain = anyhow::Error::new(std::io::Error::other("inner")).context("outer");
        assert_eq!(one_line(&plain), "outer: inner", "a cause not in the message is kept");
    }
}
