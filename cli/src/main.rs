//! `huxley`: simulate neurons from the command line.
//!
//! - `huxley simulate [FILE.swc]` — a current step into a morphology (built in, or read from
//!   SWC), traces written as CSV and plotted as PNG.
//! - `huxley info FILE.swc` — branches, compartments, length and area per group.
//! - `huxley bench` — single-cell step speed on this machine.
//!
//! Errors are one line on stderr and exit code 2.

mod bench;
mod info;
mod location;
mod morphology;
mod plot;
mod simulate;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Fast simulation of morphologically detailed neurons (a Rust take on Jaxley).
#[derive(Parser, Debug)]
#[command(name = "huxley", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Simulate a current step into a neuron; write the voltage traces as CSV (and PNG).
    Simulate(Box<simulate::Args>),
    /// Describe an SWC file: branches, compartments, total length and area per group.
    Info(info::Args),
    /// Measure simulation speed on this machine (ns per compartment and time step).
    Bench(bench::Args),
}

/// An error for the user: printed as one line, exit code 2.
#[derive(Debug)]
pub struct CliError(pub String);

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<huxley::Error> for CliError {
    fn from(e: huxley::Error) -> Self {
        CliError(e.to_string())
    }
}

impl From<huxley::swc::SwcError> for CliError {
    fn from(e: huxley::swc::SwcError) -> Self {
        CliError(e.to_string())
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        CliError(e.to_string())
    }
}

/// Shorthand for the commands' results.
pub type CliResult<T> = Result<T, CliError>;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e)
            if matches!(
                e.kind(),
                clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
                    | clap::error::ErrorKind::MissingSubcommand
            ) =>
        {
            return fail("a command is required: simulate, info or bench (see `huxley --help`)");
        }
        Err(e) => {
            // clap's first paragraph is the message; usage and tips follow.
            let text = e.to_string();
            let first: Vec<&str> = text
                .lines()
                .take_while(|l| !l.trim().is_empty())
                .map(str::trim)
                .collect();
            let first = first.join(" ");
            let first = first.strip_prefix("error: ").unwrap_or(&first);
            return fail(&format!("{first} (see `huxley --help`)"));
        }
    };
    let result = match cli.command {
        Command::Simulate(args) => simulate::run(&args),
        Command::Info(args) => info::run(&args),
        Command::Bench(args) => bench::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e.0),
    }
}

/// Prints `error: <message>` as a single line and returns exit code 2.
fn fail(message: &str) -> ExitCode {
    let one_line: String = message.lines().map(str::trim).collect::<Vec<_>>().join(" ");
    eprintln!("error: {one_line}");
    ExitCode::from(2)
}
