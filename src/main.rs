//! The `pinger` binary: parse arguments, run one sweep, map the outcome to an exit code.

use std::process::ExitCode;

use pinger::cli::Cli;
use pinger::config::{Config, Env};

/// Parses arguments; `--help` prints to stdout and ends with 0, a usage error goes to stderr and ends with 2.
fn parse<T: argh::FromArgs>(command: &[&str], args: &[&str]) -> Result<T, ExitCode> {
    T::from_args(command, args).map_err(|early| {
        if early.status.is_ok() {
            println!("{}", early.output);
            ExitCode::SUCCESS
        } else {
            eprintln!("{}", early.output.trim_end());
            eprintln!("Run {} --help for more information.", command.join(" "));
            ExitCode::from(2)
        }
    })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let name =
        args.first().and_then(|a| std::path::Path::new(a).file_name()).and_then(|n| n.to_str()).unwrap_or("pinger");
    let rest: Vec<&str> = args.iter().skip(1).map(String::as_str).collect();
    if rest.first() == Some(&"report") {
        return report(name, &rest[1..]);
    }
    if rest.first() == Some(&"migrate") {
        return migrate(name, &rest[1..]);
    }
    let cli: Cli = match parse(&[name], &rest) {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    if cli.version {
        println!("pinger {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    // The original tool's deployments keep their settings in .env in the working directory (only there: a
    // parent directory's .env is not this run's business); a missing file is fine.
    let _ = dotenvy::from_path(std::path::Path::new(".env"));
    if let Err(e) = pinger::install_signal_handlers() {
        eprintln!("pinger: warning: cannot catch SIGINT/SIGTERM ({e}); a signal will end pinger at once");
    }
    let result = Config::new(cli, &Env::from_process()).map_err(pinger::Error::from).and_then(|cfg| {
        if cfg.every.is_some() {
            pinger::run_every(cfg)
        } else {
            pinger::run(cfg)
        }
    });
    match result {
        Ok(summary) if !summary.all_stored() => ExitCode::from(5),
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pinger: error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// `pinger migrate ...`: exit 0, 2 for usage, 1 when Postgres cannot answer (run it again: it resumes).
fn migrate(name: &str, args: &[&str]) -> ExitCode {
    let cli: pinger::migrate::MigrateCli = match parse(&[name, "migrate"], args) {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    let _ = dotenvy::from_path(std::path::Path::new(".env"));
    match pinger::migrate::run(cli, &Env::from_process(), &mut std::io::stdout().lock()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pinger migrate: error: {e}");
            ExitCode::from(match e {
                pinger::report::ReportError::Config(_) => 2,
                pinger::report::ReportError::Postgres(_) => 1,
            })
        }
    }
}

/// `pinger report ...`: exit 0, 2 for usage, 1 when Postgres cannot answer.
fn report(name: &str, args: &[&str]) -> ExitCode {
    let cli: pinger::report::ReportCli = match parse(&[name, "report"], args) {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    let _ = dotenvy::from_path(std::path::Path::new(".env"));
    match pinger::report::run(cli, &Env::from_process(), &mut std::io::stdout().lock()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pinger report: error: {e}");
            ExitCode::from(match e {
                pinger::report::ReportError::Config(_) => 2,
                pinger::report::ReportError::Postgres(_) => 1,
            })
        }
    }
}
