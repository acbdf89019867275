//! `keygate-server policy …`: IAM policies, as WEKA's `weka s3 policy
//! list|show|add|remove|attach|detach` (SPEC P1–P7). The admin's keys sign every call.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use http::Method;
use serde_json::json;

use super::client::{segment, Result};
use super::output::{self, str_field, table};
use super::{read_policy_file, Conn, RootKeys};

#[derive(Debug, Args)]
pub struct PolicyArgs {
    #[command(flatten)]
    pub conn: Conn,
    #[command(flatten)]
    pub root: RootKeys,
    #[command(subcommand)]
    pub command: PolicyCommand,
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// List the policies: the pre-defined readonly, writeonly, readwrite and the custom ones
    ///
    /// Example:
    ///   keygate-server policy list
    #[command(verbatim_doc_comment)]
    List,
    /// Print a policy's JSON document
    ///
    /// Example:
    ///   keygate-server policy show readonly
    #[command(verbatim_doc_comment)]
    Show {
        /// The policy name.
        name: String,
    },
    /// Add a custom policy from a JSON file, or replace the one of that name
    ///
    /// The document is validated (Version 2012-10-17, Effect Allow/Deny, supported s3:
    /// actions, arn:aws:s3::: resources, no Principal) and may be at most 2048 bytes.
    /// Replacing a policy changes what its users may do from their next request on.
    ///
    /// Example:
    ///   cat > photos-ro.json <<'EOF'
    ///   {"Version":"2012-10-17","Statement":[{"Effect":"Allow",
    ///    "Action":["s3:GetObject","s3:ListBucket"],
    ///    "Resource":["arn:aws:s3:::photos","arn:aws:s3:::photos/*"]}]}
    ///   EOF
    ///   keygate-server policy add photos-ro photos-ro.json
    #[command(verbatim_doc_comment)]
    Add {
        /// The policy name.
        name: String,
        /// The JSON document (`-` reads standard input).
        file: PathBuf,
    },
    /// Remove a custom policy (refused while a user holds it, and for pre-defined ones)
    ///
    /// Example:
    ///   keygate-server policy remove photos-ro
    #[command(verbatim_doc_comment)]
    Remove {
        /// The policy name.
        name: String,
    },
    /// Attach a policy to an S3 user, replacing the one it has (one policy per user)
    ///
    /// Example:
    ///   keygate-server policy attach readwrite alice
    #[command(verbatim_doc_comment)]
    Attach {
        /// The policy name.
        policy: String,
        /// The user name.
        user: String,
    },
    /// Detach the policy of an S3 user: it can do nothing until another is attached
    ///
    /// Example:
    ///   keygate-server policy detach alice
    #[command(verbatim_doc_comment)]
    Detach {
        /// The user name.
        user: String,
    },
}

pub async fn run(args: PolicyArgs) -> Result<()> {
    let client = args.conn.client(args.root.credentials()?)?;
    let (answer, human) = match args.command {
        PolicyCommand::List => {
            let a = client.get("policies").await?;
            let v = output::json(&a)?;
            let rows: Vec<Vec<String>> = output::rows(&v, "policies", |p| {
                let kind = if p["predefined"].as_bool() == Some(true) {
                    "pre-defined"
                } else {
                    "custom"
                };
                vec![str_field(p, "name"), kind.to_owned()]
            });
            let human = table(&["NAME", "TYPE"], &rows);
            (a, human)
        }
        PolicyCommand::Show { name } => {
            let a = client.get(&format!("policies/{}", segment(&name))).await?;
            let doc = String::from_utf8_lossy(&a.body).into_owned();
            let human = format!("{}\n", output::pretty_document(&doc));
            (a, human)
        }
        PolicyCommand::Add { name, file } => {
            let doc = read_policy_file(&file)?;
            let path = format!("policies/{}", segment(&name));
            let a = client.send_json(Method::PUT, &path, doc).await?;
            (a, format!("Added policy {name}.\n"))
        }
        PolicyCommand::Remove { name } => {
            let a = client
                .delete(&format!("policies/{}", segment(&name)))
                .await?;
            (a, format!("Removed policy {name}.\n"))
        }
        PolicyCommand::Attach { policy, user } => {
            let path = format!("users/{}/policy", segment(&user));
            let body = json!({ "policy": policy }).to_string();
            let a = client.send_json(Method::PUT, &path, body).await?;
            (a, format!("Attached policy {policy} to user {user}.\n"))
        }
        PolicyCommand::Detach { user } => {
            let a = client
                .delete(&format!("users/{}/policy", segment(&user)))
                .await?;
            (a, format!("Detached the policy of user {user}.\n"))
        }
    };
    output::emit(args.conn.json, &answer, &human);
    Ok(())
}
