//! `keygate-server`: run Keygate's reference S3 + IAM + STS server, and manage a running one
//! (users, policies, STS, service accounts) in the shape of WEKA's CLI (see `cli/`).

mod cli;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use keygate_server::store::Owner;
use keygate_server::{ConnLimits, Server, ServerConfig, TlsConfig};

/// No `Debug`: the arguments hold the root secret and passwords.
#[derive(Parser)]
#[command(
    name = "keygate-server",
    version,
    about = "Keygate's reference S3 + IAM + STS server (WEKA/MinIO semantics)",
    long_about = "Keygate's reference S3 + IAM + STS server (WEKA/MinIO semantics).\n\n\
        `serve` runs the server; `user`, `policy`, `sts` and `service-account` manage a running \
        one over its admin API and STS (--endpoint or KEYGATE_ENDPOINT, default \
        http://127.0.0.1:9000). On failure they exit 1 and print one line: error: <Code>: \
        <Message>; a usage error (an argument missing or malformed) exits 2 with the usage.\n\n\
        Example:\n  \
        export KEYGATE_ROOT_ACCESS_KEY=admin KEYGATE_ROOT_SECRET_KEY='Admin-secret1'\n  \
        keygate-server user add alice --password 'Alice-secret1'\n  \
        keygate-server policy attach readwrite alice"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve S3 (and STS, and the admin API) over HTTP/1.1 (or HTTPS) until SIGINT or SIGTERM.
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
        /// Owner of the files anonymous requests (allowed by a bucket policy) write.
        #[arg(long, value_name = "UID:GID", default_value = "65534:65534")]
        anonymous_owner: Owner,
        /// Let the admin API move the server clock forward (for conformance runs; loopback only).
        #[arg(long)]
        test_clock: bool,
        /// Serve HTTPS with this PEM certificate chain (needs --tls-key).
        #[arg(long, value_name = "FILE", requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// The PEM private key of --tls-cert.
        #[arg(long, value_name = "FILE", requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// Most open connections at once; further ones wait to be accepted.
        #[arg(long, value_name = "N", default_value_t = 1024)]
        max_connections: usize,
        /// Seconds a client has to send a request head (and a keep-alive connection may idle).
        #[arg(long, value_name = "SECS", default_value_t = 30)]
        header_read_timeout: u64,
        /// Seconds to wait for the next piece of a request body (then 400 RequestTimeout).
        #[arg(long, value_name = "SECS", default_value_t = 30)]
        body_read_timeout: u64,
        /// Seconds a whole request body may take from its request head on (then 400
        /// RequestTimeout), however steadily it trickles in.
        #[arg(long, value_name = "SECS", default_value_t = 3600)]
        body_total_timeout: u64,
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
    /// Manage S3 users (as the admin): add, list, show, update, passwd, delete
    ///
    /// An S3 user's name is its access key and its password its secret key.
    ///
    /// Example:
    ///   export KEYGATE_ROOT_ACCESS_KEY=admin KEYGATE_ROOT_SECRET_KEY='Admin-secret1'
    ///   keygate-server user add alice --password 'Alice-secret1' --posix-uid 1000
    ///   keygate-server user list
    #[command(verbatim_doc_comment)]
    User(cli::users::UserArgs),
    /// Manage IAM policies (as the admin): list, show, add, remove, attach, detach
    ///
    /// Pre-defined: readonly, writeonly, readwrite. One policy per user; a user without one
    /// can do nothing.
    ///
    /// Example:
    ///   keygate-server policy add photos-ro photos-ro.json
    ///   keygate-server policy attach photos-ro alice
    #[command(verbatim_doc_comment)]
    Policy(cli::policies::PolicyArgs),
    /// Get temporary credentials for an S3 user (AssumeRole)
    ///
    /// Example:
    ///   keygate-server sts assume-role --access-key alice --secret-key 'Alice-secret1' --duration 1h
    #[command(verbatim_doc_comment)]
    Sts(cli::sts::StsArgs),
    /// Manage the calling S3 user's service accounts: add, list, show, remove
    ///
    /// Example:
    ///   export AWS_ACCESS_KEY_ID=alice AWS_SECRET_ACCESS_KEY='Alice-secret1'
    ///   keygate-server service-account add
    #[command(verbatim_doc_comment)]
    ServiceAccount(cli::service_accounts::ServiceAccountArgs),
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
            // One line, whatever the cause says (scripts read the first line of stderr).
            let message = format!("{e:#}").replace(['\n', '\r'], " ");
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::User(args) => Ok(cli::users::run(args).await?),
        Command::Policy(args) => Ok(cli::policies::run(args).await?),
        Command::Sts(args) => Ok(cli::sts::run(args).await?),
        Command::ServiceAccount(args) => Ok(cli::service_accounts::run(args).await?),
        Command::Serve {
            data_dir,
            listen,
            region,
            domain,
            no_posix_ownership,
            anonymous_owner,
            test_clock,
            tls_cert,
            tls_key,
            max_connections,
            header_read_timeout,
            body_read_timeout,
            body_total_timeout,
            root_access_key,
            root_secret_key,
        } => {
            let tls = match (tls_cert, tls_key) {
                (Some(cert), Some(key)) => Some(TlsConfig::from_files(cert, key)),
                _ => None,
            };
            let connection_limits = ConnLimits {
                max_connections,
                header_read_timeout: Duration::from_secs(header_read_timeout.max(1)),
                body_read_timeout: Duration::from_secs(body_read_timeout.max(1)),
                body_total_timeout: Duration::from_secs(body_total_timeout.max(1)),
                ..ConnLimits::default()
            };
            let cfg = ServerConfig {
                listen,
                region,
                domain,
                posix_ownership: !no_posix_ownership,
                anonymous_owner,
                test_clock,
                root_access_key,
                root_secret_key,
                tls,
                connection_limits,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn client_options_go_anywhere_after_the_group() {
        let cli = Cli::try_parse_from([
            "keygate-server",
            "user",
            "--json",
            "show",
            "alice",
            "--endpoint",
            "http://127.0.0.1:1",
        ])
        .unwrap();
        let Command::User(args) = cli.command else {
            panic!("not user")
        };
        assert!(args.conn.json);
        assert_eq!(args.conn.endpoint, "http://127.0.0.1:1");
    }
}
