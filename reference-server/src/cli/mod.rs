//! The `keygate-server` client commands: `user`, `policy`, `sts`, `service-account`.
//!
//! They talk to a *running* server in the shape of WEKA's `weka user …` / `weka s3 policy …` /
//! `weka s3 sts assume-role` / `weka s3 service-account …` CLI (SPEC "Identities", U*, P*, S*,
//! A*): the admin API under `/_keygate/admin/v1/` (JSON, SigV4 service `s3`) for users,
//! policies and service accounts, and the STS query protocol on `POST /` for AssumeRole.
//!
//! Conventions every command keeps:
//! * `--endpoint` / `KEYGATE_ENDPOINT` (default `http://127.0.0.1:9000`), `--region`
//!   (default `us-east-1`); user and policy commands sign with the root keys
//!   (`KEYGATE_ROOT_ACCESS_KEY`/`KEYGATE_ROOT_SECRET_KEY` or `--root-access-key`/
//!   `--root-secret-key`), `sts` and `service-account` with the S3 user's own keys
//!   (`--access-key`/`--secret-key` or `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`).
//! * Human output by default (aligned tables for lists), `--json` prints the server's JSON.
//! * On failure: exit status 1 and one line `error: <Code>: <Message>` on stderr.
//!
//! The signing is this folder's own ([`sign`], over the pure `keygate-sigv4` crate): the
//! server must not depend on the AWS SDK.

pub mod client;
mod output;
pub mod policies;
pub mod service_accounts;
mod sign;
pub mod sts;
pub mod users;

use clap::Args;

use client::{Client, Endpoint, Error, Result};
use sign::Credentials;

/// Where the server is and how to print; shared by every client command.
#[derive(Debug, Args)]
#[command(next_help_heading = "Connection")]
pub struct Conn {
    /// The server's S3 endpoint: http://HOST[:PORT], or https:// with --ca-file.
    #[arg(
        long,
        env = "KEYGATE_ENDPOINT",
        default_value = "http://127.0.0.1:9000",
        global = true,
        value_name = "URL"
    )]
    pub endpoint: String,
    /// The region the server was started with (part of every signature).
    #[arg(long, default_value = "us-east-1", global = true)]
    pub region: String,
    /// Print the server's JSON answer instead of text (nothing for calls that answer 204).
    #[arg(long, global = true)]
    pub json: bool,
    /// For an https:// endpoint: the CA certificate (PEM) that signed the server's
    /// certificate, the only one trusted.
    #[arg(long, env = "KEYGATE_CA_FILE", global = true, value_name = "PEM")]
    pub ca_file: Option<std::path::PathBuf>,
}

/// The admin's (root) keys, for user and policy commands. `Debug` never prints the secret.
#[derive(Args)]
#[command(next_help_heading = "Admin keys")]
pub struct RootKeys {
    /// The admin's access key.
    #[arg(
        long,
        env = "KEYGATE_ROOT_ACCESS_KEY",
        hide_env_values = true,
        global = true,
        value_name = "KEY"
    )]
    pub root_access_key: Option<String>,
    /// The admin's secret key.
    #[arg(
        long,
        env = "KEYGATE_ROOT_SECRET_KEY",
        hide_env_values = true,
        global = true,
        value_name = "SECRET"
    )]
    pub root_secret_key: Option<String>,
}

/// An S3 user's own keys, for `sts` and `service-account`. `Debug` never prints the secret.
#[derive(Args)]
#[command(next_help_heading = "S3 user keys")]
pub struct UserKeys {
    /// The S3 user's access key (its user name).
    #[arg(
        long,
        env = "AWS_ACCESS_KEY_ID",
        hide_env_values = true,
        global = true,
        value_name = "KEY"
    )]
    pub access_key: Option<String>,
    /// The S3 user's secret key (its password).
    #[arg(
        long,
        env = "AWS_SECRET_ACCESS_KEY",
        hide_env_values = true,
        global = true,
        value_name = "SECRET"
    )]
    pub secret_key: Option<String>,
}

fn redacted(secret: &Option<String>) -> &'static str {
    if secret.is_some() {
        "Some(<redacted>)"
    } else {
        "None"
    }
}

impl std::fmt::Debug for RootKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RootKeys")
            .field("root_access_key", &self.root_access_key)
            .field("root_secret_key", &redacted(&self.root_secret_key))
            .finish()
    }
}

impl std::fmt::Debug for UserKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserKeys")
            .field("access_key", &self.access_key)
            .field("secret_key", &redacted(&self.secret_key))
            .finish()
    }
}

impl Conn {
    fn client(&self, creds: Credentials) -> Result<Client> {
        Client::new(
            Endpoint::parse(&self.endpoint)?,
            self.region.clone(),
            creds,
            self.ca_file.as_deref(),
        )
    }
}

impl RootKeys {
    fn credentials(&self) -> Result<Credentials> {
        match (&self.root_access_key, &self.root_secret_key) {
            (Some(ak), Some(sk)) => Ok(Credentials::new(ak.clone(), sk.clone())),
            _ => Err(Error::Local(
                "no admin keys: set KEYGATE_ROOT_ACCESS_KEY and KEYGATE_ROOT_SECRET_KEY, \
                 or pass --root-access-key and --root-secret-key"
                    .into(),
            )),
        }
    }
}

impl UserKeys {
    fn credentials(&self) -> Result<Credentials> {
        let ak = self.access_key.clone().ok_or_else(|| {
            Error::Local("no access key: pass --access-key or set AWS_ACCESS_KEY_ID".into())
        })?;
        let sk = self.secret_key.clone().ok_or_else(|| {
            Error::Local("no secret key: pass --secret-key or set AWS_SECRET_ACCESS_KEY".into())
        })?;
        Ok(Credentials::new(ak, sk))
    }
}

/// Reads a policy file (`-` is standard input).
fn read_policy_file(path: &std::path::Path) -> Result<String> {
    let read = if path.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin())
    } else {
        std::fs::read_to_string(path)
    };
    read.map_err(|e| Error::Local(format!("cannot read policy file {}: {e}", path.display())))
}
