//! The identity database: SQLite (bundled) under the data dir, WAL mode, versioned schema.
//!
//! Migrations are an append-only list applied at open inside one transaction each, with
//! `PRAGMA user_version` recording how far the file has come. Secrets are stored sealed
//! (see `seal`). Every change the server makes is one transaction (see `Identities`).

use std::path::Path;

use anyhow::{bail, Context};
use rusqlite::{params, Connection, OptionalExtension, Transaction};

/// Schema migrations, in order. Never edit one that has shipped: append a new one.
const MIGRATIONS: &[&str] = &[
    // 1: users, custom policies, STS credentials, service accounts.
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
     CREATE TABLE policies (name TEXT PRIMARY KEY, document TEXT NOT NULL, created INTEGER NOT NULL);
     CREATE TABLE users (
        name TEXT PRIMARY KEY, secret BLOB NOT NULL,
        posix_uid INTEGER NOT NULL, posix_gid INTEGER NOT NULL,
        policy TEXT, created INTEGER NOT NULL);
     CREATE TABLE service_accounts (
        access_key TEXT PRIMARY KEY, secret BLOB NOT NULL, parent TEXT NOT NULL,
        policy TEXT, created INTEGER NOT NULL);
     CREATE INDEX service_accounts_parent ON service_accounts(parent);
     CREATE TABLE sts_credentials (
        access_key TEXT PRIMARY KEY, secret BLOB NOT NULL, parent TEXT NOT NULL,
        session_policy TEXT, expires INTEGER NOT NULL, created INTEGER NOT NULL);
     CREATE INDEX sts_credentials_parent ON sts_credentials(parent);",
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Opens (creating and migrating) the database at `path`.
pub fn open(path: &Path) -> anyhow::Result<Connection> {
    let mut conn = Connection::open(path).with_context(|| format!("opening {}", path.display()))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version > SCHEMA_VERSION {
        bail!(
            "{} has schema version {version}, newer than this server's {SCHEMA_VERSION}; use a newer keygate-server",
            path.display()
        );
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)
            .with_context(|| format!("schema migration {}", i + 1))?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(conn)
}

pub fn meta_get(conn: &Connection, key: &str) -> rusqlite::Result<Option<Vec<u8>>> {
    conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()
}

pub fn meta_put(tx: &Transaction<'_>, key: &str, value: &[u8]) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
        params![key, value],
    )?;
    Ok(())
}

/// A user row as stored.
#[derive(Debug)]
pub struct UserRow {
    pub name: String,
    pub secret: Vec<u8>,
    pub posix_uid: u32,
    pub posix_gid: u32,
    pub policy: Option<String>,
}

pub fn users(conn: &Connection) -> rusqlite::Result<Vec<UserRow>> {
    let mut stmt =
        conn.prepare("SELECT name, secret, posix_uid, posix_gid, policy FROM users ORDER BY name")?;
    let rows = stmt.query_map([], |r| {
        Ok(UserRow {
            name: r.get(0)?,
            secret: r.get(1)?,
            posix_uid: r.get(2)?,
            posix_gid: r.get(3)?,
            policy: r.get(4)?,
        })
    })?;
    rows.collect()
}

pub fn policies(conn: &Connection) -> rusqlite::Result<Vec<(String, String)>> {
    let mut stmt = conn.prepare("SELECT name, document FROM policies ORDER BY name")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

/// A derived credential row: an STS credential (with `expires`) or a service account.
#[derive(Debug)]
pub struct DerivedRow {
    pub access_key: String,
    pub secret: Vec<u8>,
    pub parent: String,
    pub policy: Option<String>,
    pub expires: Option<i64>,
}

pub fn derived(conn: &Connection) -> rusqlite::Result<Vec<DerivedRow>> {
    let mut out = Vec::new();
    let mut stmt =
        conn.prepare("SELECT access_key, secret, parent, policy FROM service_accounts")?;
    for row in stmt.query_map([], |r| {
        Ok(DerivedRow {
            access_key: r.get(0)?,
            secret: r.get(1)?,
            parent: r.get(2)?,
            policy: r.get(3)?,
            expires: None,
        })
    })? {
        out.push(row?);
    }
    let mut stmt = conn.prepare(
        "SELECT access_key, secret, parent, session_policy, expires FROM sts_credentials",
    )?;
    for row in stmt.query_map([], |r| {
        Ok(DerivedRow {
            access_key: r.get(0)?,
            secret: r.get(1)?,
            parent: r.get(2)?,
            policy: r.get(3)?,
            expires: Some(r.get(4)?),
        })
    })? {
        out.push(row?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_apply_once_and_a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("iam.db");
        let conn = open(&path).unwrap();
        let v: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION);
        drop(conn);
        open(&path).unwrap();
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        drop(conn);
        let err = open(&path).unwrap_err().to_string();
        assert!(err.contains("newer"), "{err}");
    }
}
