//! `keygate-server`: run Keygate's reference S3 + IAM + STS server.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use keygate_server::{Server, ServerConfig};

#[derive(Debug, Parser)]
#[command(
    name = "keygate-server",
    version,
    about = "Keygate's reference S3 + IAM + STS server (WEKA/MinIO semantics)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve S3 (and STS, and the admin API) over HTTP/1.1 until SIGINT or SIGTERM.
    ///
    /// Root keys come from KEYGATE_ROOT_ACCESS_KEY / KEYGATE_ROOT_SECRET_KEY; when both are
    /// unset they are generated on first start, stored in DATA_DIR/.keygate/root-credentials
    /// (mode 0600) and printed once.
    Serve {
        /// Directory for objects (as files), metadata and the identity database.
        #[arg(long, value_name = "DIR")]
        data_dir: PathBuf,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:9000")]
        listen: SocketAddr,
        /// The region clients must sign for.
        #[arg(long, default_value = "us-east-1")]
        region: String,
        /// Serve virtual-host-style requests for BUCKET.DOMAIN too.
        #[arg(long)]
        domain: Option<String>,
        /// Do not chown written files to the writer's uid/gid (needed when not running as root).
        #[arg(long)]
        no_posix_ownership: bool,
        /// Let the admin API move the server clock forward (for conformance runs; loopback only).
        #[arg(long)]
        test_clock: bool,
        #[arg(
            long,
            env = "KEYGATE_ROOT_ACCESS_KEY",
            hide_env_values = true,
            hide = true
        )]
        root_access_key: Option<String>,
        #[arg(
            long,
            env = "KEYGATE_ROOT_SECRET_KEY",
            hide_env_values = true,
            hide = true
        )]
        root_secret_key: Option<String>,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("KEYGATE_LOG")
                .unwrap_or_else(|_| "keygate_server=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve {
            data_dir,
            listen,
            region,
            domain,
            no_posix_ownership,
            test_clock,
            root_access_key,
            root_secret_key,
        } => {
            let cfg = ServerConfig {
                listen,
                region,
                domain,
                posix_ownership: !no_posix_ownership,
                test_clock,
                root_access_key,
                root_secret_key,
                ..ServerConfig::new(data_dir)
            };
            let server = Server::start(cfg).await?;
            println!(
                "Keygate reference server listening on {}",
                server.endpoint()
            );
            if server.root_generated() {
                println!(
                    "Generated root credentials (stored in {}/.keygate/root-credentials):",
                    server.data_dir().display()
                );
                println!("  Access-Key: {}", server.root_access_key());
                println!("  Secret-Key: {}", server.root_secret_key());
            }
            wait_for_signal().await?;
            println!("Shutting down: draining in-flight requests");
            server.shutdown().await;
            Ok(())
        }
    }
}

async fn wait_for_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r?,
        _ = term.recv() => {}
    }
    Ok(())
}
