//! `keygate-server service-account …`: an S3 user's own long-lived child keys, as WEKA's
//! `weka s3 service-account add|list|show|remove` (SPEC A1–A7). Signed with the S3 user's
//! keys; the admin cannot manage them.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use http::Method;
use serde_json::{json, Value};

use super::client::{segment, Result};
use super::output::{self, fields, pretty_document, str_field, table};
use super::{read_policy_file, Conn, UserKeys};

#[derive(Debug, Args)]
pub struct ServiceAccountArgs {
    #[command(flatten)]
    pub conn: Conn,
    #[command(flatten)]
    pub keys: UserKeys,
    #[command(subcommand)]
    pub command: ServiceAccountCommand,
}

#[derive(Debug, Subcommand)]
pub enum ServiceAccountCommand {
    /// Create a service account: new keys that never expire, with the user's rights or fewer
    ///
    /// Without --policy-file the account inherits the user's policy as it is at each request;
    /// with one it gets the intersection. The secret key is shown only now. At most 100 per
    /// user; they go away with the user.
    ///
    /// Example:
    ///   export AWS_ACCESS_KEY_ID=alice AWS_SECRET_ACCESS_KEY='Alice-secret1'
    ///   keygate-server service-account add
    ///   keygate-server service-account add --policy-file backup-only.json
    #[command(verbatim_doc_comment)]
    Add {
        /// An embedded policy (JSON, at most 2048 bytes) narrowing the user's own.
        #[arg(long, value_name = "FILE")]
        policy_file: Option<PathBuf>,
    },
    /// List the calling user's service accounts (never their secrets)
    ///
    /// Example:
    ///   keygate-server service-account list --access-key alice --secret-key 'Alice-secret1'
    #[command(verbatim_doc_comment)]
    List,
    /// Show one of the calling user's service accounts and its embedded policy
    ///
    /// Example:
    ///   keygate-server service-account show 8ZK1Q7ALW3M0XD4E9B2C
    #[command(verbatim_doc_comment)]
    Show {
        /// The service account's access key.
        key: String,
    },
    /// Remove one of the calling user's service accounts; its keys stop working at once
    ///
    /// Example:
    ///   keygate-server service-account remove 8ZK1Q7ALW3M0XD4E9B2C
    #[command(verbatim_doc_comment)]
    Remove {
        /// The service account's access key.
        key: String,
    },
}

fn policy_text(account: &Value) -> String {
    match account["policy"].as_str() {
        Some(doc) => format!("\n{}", pretty_document(doc)),
        None => "inherited from the parent user".into(),
    }
}

pub async fn run(args: ServiceAccountArgs) -> Result<()> {
    let client = args.conn.client(args.keys.credentials()?)?;
    let (answer, human) = match args.command {
        ServiceAccountCommand::Add { policy_file } => {
            let policy = policy_file.as_deref().map(read_policy_file).transpose()?;
            let body = json!({ "policy": policy }).to_string();
            let a = client
                .send_json(Method::POST, "service-accounts", body)
                .await?;
            let v = output::json(&a)?;
            let human = format!(
                "{}The secret key is shown only once: keep it now.\n",
                fields(&[
                    ("Access-Key", str_field(&v, "access_key")),
                    ("Secret-Key", str_field(&v, "secret_key")),
                    ("Parent", str_field(&v, "parent")),
                    ("Policy", policy_text(&v)),
                ])
            );
            (a, human)
        }
        ServiceAccountCommand::List => {
            let a = client.get("service-accounts").await?;
            let v = output::json(&a)?;
            let rows: Vec<Vec<String>> = output::rows(&v, "service_accounts", |s| {
                let policy = if s["policy"].is_string() {
                    "embedded"
                } else {
                    "inherited"
                };
                vec![str_field(s, "access_key"), policy.to_owned()]
            });
            let human = table(&["ACCESS-KEY", "POLICY"], &rows);
            (a, human)
        }
        ServiceAccountCommand::Show { key } => {
            let a = client
                .get(&format!("service-accounts/{}", segment(&key)))
                .await?;
            let v = output::json(&a)?;
            let human = fields(&[
                ("Access-Key", str_field(&v, "access_key")),
                ("Parent", str_field(&v, "parent")),
                ("Policy", policy_text(&v)),
            ]);
            (a, human)
        }
        ServiceAccountCommand::Remove { key } => {
            let a = client
                .delete(&format!("service-accounts/{}", segment(&key)))
                .await?;
            (a, format!("Removed service account {key}.\n"))
        }
    };
    output::emit(args.conn.json, &answer, &human);
    Ok(())
}
