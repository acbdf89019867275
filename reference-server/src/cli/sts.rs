//! `keygate-server sts assume-role`: temporary credentials for an S3 user, as WEKA's
//! `weka s3 sts assume-role` (SPEC S1–S4). Sends the AWS STS query protocol (`POST /`,
//! `Action=AssumeRole&Version=2011-06-15&DurationSeconds=N[&Policy=…]`, signed for service
//! `sts`) and prints the `AssumeRoleResponse` credentials.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::Deserialize;
use serde_json::json;

use super::client::{Error, Result};
use super::output::fields;
use super::{read_policy_file, Conn, UserKeys};

#[derive(Debug, Args)]
pub struct StsArgs {
    #[command(flatten)]
    pub conn: Conn,
    #[command(subcommand)]
    pub command: StsCommand,
}

#[derive(Debug, Subcommand)]
pub enum StsCommand {
    /// Get temporary credentials (access key, secret key, session token) for an S3 user
    ///
    /// They carry the user's policy, narrowed by --policy-file if given (a session policy
    /// never adds a right), expire after --duration (15 minutes to 1 week), and die with the
    /// user. Sign with the user's own keys; the secret comes from --secret-key or
    /// AWS_SECRET_ACCESS_KEY. --json prints {"Credentials":{...}} as `aws sts assume-role` does.
    ///
    /// Example:
    ///   AWS_SECRET_ACCESS_KEY='Alice-secret1' keygate-server sts assume-role --access-key alice --duration 1h
    ///   keygate-server sts assume-role --access-key alice --secret-key 'Alice-secret1' \
    ///       --duration 2d --policy-file read-only-photos.json
    #[command(verbatim_doc_comment)]
    AssumeRole {
        #[command(flatten)]
        keys: UserKeys,
        /// Lifetime: a number with a unit, s, m, h, d or w (900s, 15m, 2d, 1w).
        #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
        duration: u64,
        /// A session policy (JSON, at most 2048 bytes) narrowing the user's own.
        #[arg(long, value_name = "FILE")]
        policy_file: Option<PathBuf>,
    },
}

/// Seconds in a WEKA-style duration: `900s`, `15m`, `1h`, `2d`, `1w` (a bare number is seconds).
pub fn parse_duration(s: &str) -> std::result::Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let bad = || {
        format!("{s:?} is not a duration: expected a number and a unit s, m, h, d or w (900s, 15m, 2d, 1w)")
    };
    let n: u64 = number.parse().map_err(|_| bad())?;
    let unit = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return Err(bad()),
    };
    n.checked_mul(unit).ok_or_else(bad)
}

/// Form values: everything but unreserved characters escaped.
const FORM: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// The AssumeRole form body.
fn form(duration: u64, policy: Option<&str>) -> String {
    let mut body = format!("Action=AssumeRole&Version=2011-06-15&DurationSeconds={duration}");
    if let Some(p) = policy {
        body.push_str("&Policy=");
        body.extend(utf8_percent_encode(p, FORM));
    }
    body
}

/// No `Debug` on the answer types: they hold the new secret and session token.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AssumeRoleResponse {
    assume_role_result: AssumeRoleResult,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AssumeRoleResult {
    credentials: StsCredentials,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StsCredentials {
    access_key_id: String,
    secret_access_key: String,
    session_token: String,
    expiration: String,
}

fn parse_response(xml: &[u8]) -> Result<StsCredentials> {
    let text = std::str::from_utf8(xml)
        .map_err(|_| Error::Protocol("the AssumeRole answer is not UTF-8".into()))?;
    quick_xml::de::from_str::<AssumeRoleResponse>(text)
        .map(|r| r.assume_role_result.credentials)
        .map_err(|e| Error::Protocol(format!("cannot read the AssumeRole answer: {e}")))
}

pub async fn run(args: StsArgs) -> Result<()> {
    let StsCommand::AssumeRole {
        keys,
        duration,
        policy_file,
    } = args.command;
    let policy = policy_file.as_deref().map(read_policy_file).transpose()?;
    let client = args.conn.client(keys.credentials()?)?;
    let xml = client.sts(form(duration, policy.as_deref())).await?;
    let c = parse_response(&xml)?;
    if args.conn.json {
        let v = json!({"Credentials": {
            "AccessKeyId": c.access_key_id,
            "SecretAccessKey": c.secret_access_key,
            "SessionToken": c.session_token,
            "Expiration": c.expiration,
        }});
        println!("{v}");
    } else {
        print!(
            "{}",
            fields(&[
                ("Access-Key", c.access_key_id),
                ("Secret-Key", c.secret_access_key),
                ("Session-Token", c.session_token),
                ("Expiration", c.expiration),
            ])
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_weka_units() {
        for (s, want) in [
            ("900s", 900),
            ("900", 900),
            ("15m", 900),
            ("1h", 3600),
            ("2d", 172_800),
            ("1w", 604_800),
        ] {
            assert_eq!(parse_duration(s), Ok(want), "{s}");
        }
        for s in [
            "",
            "m",
            "15 m",
            "1.5h",
            "-1s",
            "3y",
            "99999999999999999999w",
        ] {
            assert!(parse_duration(s).is_err(), "{s}");
        }
    }

    #[test]
    fn session_policy_is_form_encoded() {
        assert_eq!(
            form(900, Some(r#"{"A": "b+c/*"}"#)),
            "Action=AssumeRole&Version=2011-06-15&DurationSeconds=900&Policy=%7B%22A%22%3A%20%22b%2Bc%2F%2A%22%7D"
        );
    }

    #[test]
    fn reads_the_aws_response_shape() {
        let xml = r#"<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
          <AssumeRoleResult><AssumedRoleUser><Arn/><AssumedRoleId/></AssumedRoleUser>
            <Credentials><AccessKeyId>AK</AccessKeyId><SecretAccessKey>S/K+</SecretAccessKey>
              <SessionToken>t.o.k</SessionToken><Expiration>2025-01-01T00:00:00Z</Expiration>
            </Credentials></AssumeRoleResult>
          <ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></AssumeRoleResponse>"#;
        let c = parse_response(xml.as_bytes()).unwrap();
        assert_eq!(
            (c.access_key_id.as_str(), c.secret_access_key.as_str()),
            ("AK", "S/K+")
        );
        assert_eq!(
            (c.session_token.as_str(), c.expiration.as_str()),
            ("t.o.k", "2025-01-01T00:00:00Z")
        );
    }
}
