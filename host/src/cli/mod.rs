//! Command-line interface: `serve`, `plugin check` and `token-hash`.

mod access;
mod plugin;
mod serve;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Undo OpenStack Watcher action plans with sandboxed Wasm inverters.
#[derive(Debug, Parser)]
#[command(name = "rollback-host", version, about)]
pub struct Cli {
    /// Log lines as text (for people) or one JSON object per line (for log
    /// collectors). Either way every line of a request carries its id.
    #[arg(long, global = true, env = "ROLLBACK_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,

    #[command(subcommand)]
    command: Command,
}

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
    /// Work with plugin components offline.
    #[command(subcommand)]
    Plugin(plugin::PluginCommand),
    /// Print the sha256 of a token read from standard input, for the
    /// `--auth tokens` file (the file never holds the token itself).
    TokenHash,
}

/// The binaries' `main`: parse the command line, set up logging, run the
/// command; an error becomes one `error: …` line and a failure exit.
pub fn main() -> ExitCode {
    let args = Cli::parse();
    init_tracing(&args);
    match run(args) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
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
