//! `keygate`: see `keygate --help` and the exit codes in `cli`.

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    keygate::cli::main(keygate::cli::Cli::parse()).await
}
