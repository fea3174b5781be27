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
            if let Some(hint) = args.iter().find_map(|a| pinger::cli::fping_letter_hint(a)) {
                eprintln!("{hint}");
            }
            eprintln!("Run {} --help for more information.", command.join(" "));
            ExitCode::from(2)
        }
    })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let name =
        args.first().and_then(|a| std::path::Path::new(a).file_name()).and_then(|n| n.to_str()).unwrap_or("pinger");
    // `-h` is `--help` everywhere (no flag of pinger's is -h).
    let rest: Vec<&str> = args.iter().skip(1).map(|a| if a == "-h" { "--help" } else { a.as_str() }).collect();
    match rest.first() {
        Some(&"report") => return subcommand(name, "report", &rest[1..], |c, e, o| pinger::report::run(c, e, o)),
        Some(&"migrate") => return subcommand(name, "migrate", &rest[1..], |c, e, o| pinger::migrate::run(c, e, o)),
        Some(&"serve") => return subcommand(name, "serve", &rest[1..], |c, e, o| pinger::serve::run(c, e, o)),
        Some(word) => {
            if let Some(meant) = pinger::cli::typo_of_subcommand(word) {
                eprintln!("pinger: {word:?} is not a command, an address or a block; did you mean `{name} {meant}`?");
                return ExitCode::from(2);
            }
        }
        None => {}
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

/// `pinger report ...`, `pinger migrate ...` and `pinger serve ...`: exit 0, or the code of [`pinger::report::ReportError`] (2 usage
/// or configuration, 3 nothing to report, 6 refused by Postgres, 1 Postgres could not answer: run it again).
fn subcommand<T: argh::FromArgs>(
    name: &str,
    sub: &str,
    args: &[&str],
    run: fn(T, &Env, &mut std::io::StdoutLock) -> Result<(), pinger::report::ReportError>,
) -> ExitCode {
    let cli: T = match parse(&[name, sub], args) {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    let _ = dotenvy::from_path(std::path::Path::new(".env"));
    match run(cli, &Env::from_process(), &mut std::io::stdout().lock()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pinger {sub}: error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
