//! Account rules: what a valid email, display name, password, bio and link
//! list look like, and how emails are normalised for uniqueness.

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

use super::DomainError;

pub const NAME_MAX: usize = 80;
pub const PASSWORD_MIN: usize = 8;
pub const PASSWORD_MAX: usize = 1024;
pub const BIO_MAX: usize = 500;
pub const LINKS_MAX: usize = 5;
pub const LINK_MAX: usize = 300;
pub const EMAIL_MAX: usize = 254;

/// Returns the email in the form used for uniqueness (trimmed, lowercased),
/// or why it is not a usable address.
pub fn normalize_email(raw: &str) -> Result<String, DomainError> {
    let bad = |why: &str| {
        DomainError::field(
            "invalid_email",
            "email",
            format!("That email address is not valid: {why}."),
        )
    };
    let email = raw.trim().to_lowercase();
    if email.is_empty() {
        return Err(bad("it is empty"));
    }
    if email.len() > EMAIL_MAX {
        return Err(bad("it is longer than 254 characters"));
    }
    let Some((local, domain)) = email.rsplit_once('@') else {
        return Err(bad("it has no @"));
    };
    if local.is_empty() || local.len() > 64 {
        return Err(bad("the part before @ must be 1 to 64 characters"));
    }
    if email
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';' | '"'))
    {
        return Err(bad(
            "it contains spaces or characters not allowed in addresses",
        ));
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2
        || labels.iter().any(|l| {
            l.is_empty()
                || l.len() > 63
                || l.starts_with('-')
                || l.ends_with('-')
                || !l.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
    {
        return Err(bad("the domain after @ is not a valid host name"));
    }
    Ok(email)
}

/// A display name: trimmed, 1..=80 characters, no control characters.
pub fn validate_name(raw: &str) -> Result<String, DomainError> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(DomainError::field(
            "invalid_name",
            "name",
            "Please enter your name.",
        ));
    }
    if name.chars().count() > NAME_MAX {
        return Err(DomainError::field(
            "invalid_name",
            "name",
            format!("Names can be at most {NAME_MAX} characters."),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(DomainError::field(
            "invalid_name",
            "name",
            "Names cannot contain control characters or line breaks.",
        ));
    }
    Ok(name.to_owned())
}

pub fn validate_password(password: &str) -> Result<(), DomainError> {
    let n = password.chars().count();
    if n < PASSWORD_MIN {
        return Err(DomainError::field(
            "weak_password",
            "password",
            format!("Passwords need at least {PASSWORD_MIN} characters."),
        ));
    }
    if password.len() > PASSWORD_MAX {
        return Err(DomainError::field(
            "weak_password",
            "password",
            format!("Passwords can be at most {PASSWORD_MAX} bytes."),
        ));
    }
    Ok(())
}

pub fn validate_bio(raw: &str) -> Result<String, DomainError> {
    let bio = raw.trim();
    if bio.chars().count() > BIO_MAX {
        return Err(DomainError::field(
            "invalid_bio",
            "bio",
            format!("The bio can be at most {BIO_MAX} characters."),
        ));
    }
    if bio
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err(DomainError::field(
            "invalid_bio",
            "bio",
            "The bio contains control characters.",
        ));
    }
    Ok(bio.replace("\r\n", "\n"))
}

/// Profile links: at most five http(s) URLs, blanks dropped.
pub fn validate_links(raw: &[String]) -> Result<Vec<String>, DomainError> {
    let links: Vec<String> = raw
        .iter()
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty())
        .collect();
    if links.len() > LINKS_MAX {
        return Err(DomainError::field(
            "invalid_links",
            "links",
            format!("At most {LINKS_MAX} links."),
        ));
    }
    for l in &links {
        let rest = l
            .strip_prefix("https://")
            .or_else(|| l.strip_prefix("http://"));
        let ok = l.len() <= LINK_MAX
            && rest.is_some_and(|r| {
                let host = r.split(['/', '?', '#']).next().unwrap_or("");
                !host.is_empty() && host.contains('.')
            })
            && !l.chars().any(|c| c.is_whitespace() || c.is_control());
        if !ok {
            return Err(DomainError::field(
                "invalid_links",
                "links",
                format!("`{l}` is not a web address starting with https:// (or http://)."),
            ));
        }
    }
    Ok(links)
}

/// Hashes a password with argon2id (the crate's recommended parameters).
/// CPU-heavy: call it off the async threads.
pub fn hash_password(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 hashing with default parameters cannot fail")
        .to_string()
}

/// Checks a password against a stored PHC string. CPU-heavy, like hashing.
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// A hash to verify against when the account does not exist, so that a wrong
/// email costs as much time as a wrong password.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password("not a real password"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn password_hashes_verify() {
        let h = hash_password("correct horse battery");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("wrong horse battery", &h));
        assert!(!verify_password("x", "not a phc string"));
        assert!(!verify_password("not a real password2", dummy_hash()));
    }

    use super::*;

    #[test]
    fn emails() {
        let good = [
            ("Ada@Example.org", "ada@example.org"),
            ("  x.y+tag@sub.example.co.uk ", "x.y+tag@sub.example.co.uk"),
        ];
        for (raw, want) in good {
            assert_eq!(normalize_email(raw).unwrap(), want);
        }
        let bad = [
            "",
            "plain",
            "@example.org",
            "a@",
            "a@localhost",
            "a b@example.org",
            "a@exa mple.org",
            "a@-x.org",
            "a@x..org",
            "<a@x.org>",
        ];
        for raw in bad {
            let e = normalize_email(raw).expect_err(raw);
            assert_eq!(e.code, "invalid_email");
            assert_eq!(e.field, Some("email"));
        }
        let long = format!("{}@example.org", "a".repeat(250));
        assert!(normalize_email(&long).is_err());
    }

    #[test]
    fn names() {
        assert_eq!(validate_name("  Grace Hopper ").unwrap(), "Grace Hopper");
        assert_eq!(validate_name(&"é".repeat(80)).unwrap().chars().count(), 80);
        for bad in ["", "   ", "a\nb", &"x".repeat(81), &"x".repeat(300)] {
            assert_eq!(validate_name(bad).unwrap_err().code, "invalid_name");
        }
    }

    #[test]
    fn passwords() {
        assert!(validate_password("correct horse").is_ok());
        assert!(validate_password("short").is_err());
        assert!(validate_password(&"x".repeat(1025)).is_err());
    }

    #[test]
    fn bios_and_links() {
        assert_eq!(validate_bio(" hi\r\nthere ").unwrap(), "hi\nthere");
        assert!(validate_bio(&"b".repeat(501)).is_err());
        let ok = validate_links(&["https://example.org/me".into(), " ".into()]).unwrap();
        assert_eq!(ok, vec!["https://example.org/me".to_owned()]);
        for bad in [
            "javascript:alert(1)",
            "https://",
            "ftp://x.org",
            "https://x y.org",
        ] {
            assert!(validate_links(&[bad.into()]).is_err(), "{bad}");
        }
        let six: Vec<String> = (0..6).map(|i| format!("https://e{i}.org")).collect();
        assert!(validate_links(&six).is_err());
    }
}
