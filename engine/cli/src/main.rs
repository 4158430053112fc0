//! `intake`: the command line for clinical informaticists and for tests.

use intake_cli::args::Args;
use intake_cli::commands;

fn main() {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    let Some((cmd, rest)) = raw.split_first() else {
        eprint!("{}", commands::USAGE);
        std::process::exit(2);
    };
    let args = match Args::parse(rest) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}\n\n{}", commands::USAGE);
            std::process::exit(2);
        }
    };
    let code = match cmd.as_str() {
        "check" => commands::check(&args),
        "load" => commands::load(&args),
        "fill" => commands::fill(&args),
        "explain" => commands::explain(&args),
        "test" => commands::test(&args),
        "catalog" => commands::catalog(&args),
        "extract" => commands::extract_template(&args),
        "fhirpath" => commands::fhirpath_batch(),
        "serve" => {
            let dir = args.positional.first().map(String::as_str).unwrap_or("web/dist");
            let port = args.opt("--port").and_then(|p| p.parse().ok()).unwrap_or(8080);
            match intake_cli::serve::serve(std::path::Path::new(dir), port) {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("error: cannot serve on 127.0.0.1:{port}: {e}");
                    1
                }
            }
        }
        "preview" => intake_cli::preview::run(&args),
        "help" | "--help" | "-h" => {
            print!("{}", commands::USAGE);
            0
        }
        other => {
            eprintln!("unknown command '{other}'\n\n{}", commands::USAGE);
            2
        }
    };
    std::process::exit(code);
}
