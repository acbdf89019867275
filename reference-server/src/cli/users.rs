//! `keygate-server user …`: S3 users, as WEKA's `weka user add|list|show|update|passwd|delete`
//! for users of role `s3` (SPEC U1–U8). The admin's keys sign every call.

use clap::{Args, Subcommand};
use http::Method;
use serde_json::{json, Value};

use super::client::{segment, Error, Result};
use super::output::{self, fields, str_field, table};
use super::{Conn, RootKeys};

#[derive(Args)]
#[allow(
    missing_debug_implementations,
    reason = "holds passwords; never printed"
)]
pub struct UserArgs {
    #[command(flatten)]
    pub conn: Conn,
    #[command(flatten)]
    pub root: RootKeys,
    #[command(subcommand)]
    pub command: UserCommand,
}

#[derive(Subcommand)]
#[allow(
    missing_debug_implementations,
    reason = "holds passwords; never printed"
)]
pub enum UserCommand {
    /// Create an S3 user: its name is its access key, its password its secret key
    ///
    /// The user can do nothing until a policy is attached (`keygate-server policy attach`).
    /// Names are 3..64 printable ASCII characters without spaces, `=` or `,`; passwords at
    /// least 8 characters (at most 128 bytes) with an upper-case letter, a lower-case letter
    /// and a digit or special character. Objects the user writes are owned by its POSIX
    /// uid/gid (default 0:0).
    ///
    /// Example:
    ///   keygate-server user add alice --password 'Alice-secret1' --posix-uid 1000 --posix-gid 1000
    #[command(verbatim_doc_comment)]
    Add {
        /// The user name (= its S3 access key).
        name: String,
        /// The password (= its S3 secret key).
        #[arg(long)]
        password: String,
        /// Owner uid of the files this user writes.
        #[arg(long, value_name = "UID")]
        posix_uid: Option<u32>,
        /// Owner gid of the files this user writes.
        #[arg(long, value_name = "GID")]
        posix_gid: Option<u32>,
    },
    /// List the S3 users with their POSIX ids and policy
    ///
    /// Example:
    ///   keygate-server user list
    ///   keygate-server user list --json | jq -r '.users[].name'
    #[command(verbatim_doc_comment)]
    List,
    /// Show one S3 user
    ///
    /// Example:
    ///   keygate-server user show alice
    #[command(verbatim_doc_comment)]
    Show {
        /// The user name.
        name: String,
    },
    /// Change an S3 user's POSIX uid and/or gid (later writes only; existing files keep theirs)
    ///
    /// Example:
    ///   keygate-server user update alice --posix-uid 2000
    #[command(verbatim_doc_comment)]
    Update {
        /// The user name.
        name: String,
        /// New owner uid of the files this user writes.
        #[arg(long, value_name = "UID")]
        posix_uid: Option<u32>,
        /// New owner gid of the files this user writes.
        #[arg(long, value_name = "GID")]
        posix_gid: Option<u32>,
    },
    /// Set an S3 user's password (its secret key); the old one stops working at once
    ///
    /// STS credentials and service accounts of the user keep working (they have their own
    /// secrets); delete the user to revoke them.
    ///
    /// Example:
    ///   keygate-server user passwd alice --password 'Alice-secret2'
    #[command(verbatim_doc_comment)]
    Passwd {
        /// The user name.
        name: String,
        /// The new password.
        #[arg(long)]
        password: String,
    },
    /// Delete an S3 user, its STS credentials and its service accounts
    ///
    /// Example:
    ///   keygate-server user delete alice
    #[command(verbatim_doc_comment)]
    Delete {
        /// The user name.
        name: String,
    },
}

/// `user` in `Key: value` lines.
fn show_user(u: &Value) -> String {
    let policy = str_field(u, "policy");
    fields(&[
        ("Name", str_field(u, "name")),
        ("POSIX-UID", str_field(u, "posix_uid")),
        ("POSIX-GID", str_field(u, "posix_gid")),
        (
            "Policy",
            if policy.is_empty() {
                "(none)".into()
            } else {
                policy
            },
        ),
    ])
}

pub async fn run(args: UserArgs) -> Result<()> {
    let client = args.conn.client(args.root.credentials()?)?;
    let as_json = args.conn.json;
    let (answer, human) = match args.command {
        UserCommand::Add {
            name,
            password,
            posix_uid,
            posix_gid,
        } => {
            let mut body = json!({"name": name, "password": password});
            if let Some(uid) = posix_uid {
                body["posix_uid"] = uid.into();
            }
            if let Some(gid) = posix_gid {
                body["posix_gid"] = gid.into();
            }
            let a = client
                .send_json(Method::POST, "users", body.to_string())
                .await?;
            let human = format!("Created user {name}.\n{}", show_user(&output::json(&a)?));
            (a, human)
        }
        UserCommand::List => {
            let a = client.get("users").await?;
            let v = output::json(&a)?;
            let rows: Vec<Vec<String>> = output::rows(&v, "users", |u| {
                let policy = str_field(u, "policy");
                vec![
                    str_field(u, "name"),
                    str_field(u, "posix_uid"),
                    str_field(u, "posix_gid"),
                    if policy.is_empty() {
                        "-".into()
                    } else {
                        policy
                    },
                ]
            });
            let human = table(&["NAME", "POSIX-UID", "POSIX-GID", "POLICY"], &rows);
            (a, human)
        }
        UserCommand::Show { name } => {
            let a = client.get(&format!("users/{}", segment(&name))).await?;
            let human = show_user(&output::json(&a)?);
            (a, human)
        }
        UserCommand::Update {
            name,
            posix_uid,
            posix_gid,
        } => {
            if posix_uid.is_none() && posix_gid.is_none() {
                return Err(Error::Local(
                    "nothing to update: pass --posix-uid and/or --posix-gid (passwords: user passwd)"
                        .into(),
                ));
            }
            let mut body = json!({});
            if let Some(uid) = posix_uid {
                body["posix_uid"] = uid.into();
            }
            if let Some(gid) = posix_gid {
                body["posix_gid"] = gid.into();
            }
            let a = patch(&client, &name, &body).await?;
            let human = format!("Updated user {name}.\n{}", show_user(&output::json(&a)?));
            (a, human)
        }
        UserCommand::Passwd { name, password } => {
            let a = patch(&client, &name, &json!({"password": password})).await?;
            (a, format!("Changed the password of user {name}.\n"))
        }
        UserCommand::Delete { name } => {
            let a = client.delete(&format!("users/{}", segment(&name))).await?;
            (a, format!("Deleted user {name}.\n"))
        }
    };
    output::emit(as_json, &answer, &human);
    Ok(())
}

async fn patch(client: &super::Client, name: &str, body: &Value) -> Result<super::client::Answer> {
    let path = format!("users/{}", segment(name));
    client
        .send_json(Method::PATCH, &path, body.to_string())
        .await
}
