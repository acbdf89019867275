//! Input rules for identities (SPEC U1, P2, P3).

use super::error::{IamCode, IamError, IamResult};

/// U1: 3..=64 characters, no `=` or `,` (they cannot work as access keys). Also printable
/// ASCII without spaces (chosen: a space cannot appear in an `Authorization` header's
/// credential). A `/` is fine: the credential scope's last four parts are fixed.
pub fn user_name(name: &str) -> IamResult<()> {
    let ok = (3..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'=' | b','));
    if ok {
        Ok(())
    } else {
        Err(IamError::new(
            IamCode::InvalidArgument,
            "User names must be 3 to 64 printable characters without '=', ',' or spaces.",
        ))
    }
}

/// U1: at least 8 characters with an upper-case letter, a lower-case letter, and a digit or
/// special character; at most 128 bytes (chosen).
pub fn password(pw: &str) -> IamResult<()> {
    let upper = pw.chars().any(|c| c.is_uppercase());
    let lower = pw.chars().any(|c| c.is_lowercase());
    let digit_or_special = pw.chars().any(|c| !c.is_alphabetic());
    if pw.len() > 128 {
        return Err(IamError::new(
            IamCode::InvalidArgument,
            format!(
                "Passwords are at most 128 bytes; this one has {}.",
                pw.len()
            ),
        ));
    }
    if pw.chars().count() >= 8 && upper && lower && digit_or_special {
        Ok(())
    } else {
        Err(IamError::new(
            IamCode::InvalidArgument,
            "Passwords need at least 8 characters with an upper-case letter, a lower-case letter and a digit or special character.",
        ))
    }
}

/// X1: a POSIX id files can be owned by. 4294967295 is `(uid_t)-1`, which `chown` reads as
/// "leave unchanged": files would keep the server's own owner (root) instead.
pub fn posix_id(what: &str, id: u32) -> IamResult<()> {
    if id == u32::MAX {
        return Err(IamError::new(
            IamCode::InvalidArgument,
            format!("{what} 4294967295 is not a usable owner (chown reads it as \"unchanged\")."),
        ));
    }
    Ok(())
}

/// Custom policy names: 1..=128 characters of letters, digits and `+=,.@-_`.
pub fn policy_name(name: &str) -> IamResult<()> {
    let ok = (1..=128).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=.@-_".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(IamError::new(
            IamCode::InvalidArgument,
            "Policy names must be 1 to 128 letters, digits or '+=.@-_'.",
        ))
    }
}

/// P2/P3: size as submitted, then the policy engine's validation.
pub fn policy_document(doc: &str) -> IamResult<keygate_policy::PolicyDocument> {
    if doc.len() > keygate_policy::MAX_POLICY_BYTES {
        return Err(IamError::new(
            IamCode::PolicyTooLarge,
            format!(
                "Policy documents are limited to {} bytes; this one has {}.",
                keygate_policy::MAX_POLICY_BYTES,
                doc.len()
            ),
        ));
    }
    keygate_policy::PolicyDocument::parse(doc)
        .map_err(|e| IamError::new(IamCode::MalformedPolicy, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn u1_names_and_passwords() {
        for ok in [
            "abc",
            "alice",
            "svc.reader-1",
            "team/alice",
            &"a".repeat(64),
        ] {
            assert!(user_name(ok).is_ok(), "{ok}");
        }
        for bad in ["ab", "a=b", "a,b", "a b", &"a".repeat(65), "ünï"] {
            assert_eq!(
                user_name(bad).unwrap_err().code,
                IamCode::InvalidArgument,
                "{bad}"
            );
        }
        for ok in ["Password1", "Passw0rd", "Pass-word", "pASSWORD!"] {
            assert!(password(ok).is_ok(), "{ok}");
        }
        for bad in ["Pass1", "password1", "PASSWORD1", "Password", ""] {
            assert_eq!(
                password(bad).unwrap_err().code,
                IamCode::InvalidArgument,
                "{bad}"
            );
        }
    }

    #[test]
    fn p2_size_limit_counts_the_document_as_submitted() {
        let base = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}"#;
        let pad = |n: usize| {
            format!(
                "{}{}",
                &base[..base.len() - 1],
                " ".repeat(n - base.len()) + "}"
            )
        };
        assert!(policy_document(&pad(2048)).is_ok());
        assert_eq!(pad(2049).len(), 2049);
        assert_eq!(
            policy_document(&pad(2049)).unwrap_err().code,
            IamCode::PolicyTooLarge
        );
        assert_eq!(
            policy_document("{").unwrap_err().code,
            IamCode::MalformedPolicy
        );
    }
}
