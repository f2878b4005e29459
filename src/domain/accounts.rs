//! Account rules: what a valid email, display name, password, bio and link
//! list look like, and how emails are normalised for uniqueness.

use std::cell::RefCell;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};

use super::DomainError;

pub const NAME_MAX: usize = 80;
pub const PASSWORD_MIN: usize = 8;
pub const PASSWORD_MAX: usize = 1024;
pub const BIO_MAX: usize = 500;
pub const LINKS_MAX: usize = 5;
pub const LINK_MAX: usize = 300;
pub const EMAIL_MAX: usize = 254;
/// What a deleted account is called wherever its name was stored or shown.
pub const DELETED_NAME: &str = "Deleted member";
/// How long a password-reset link works (once).
pub const RESET_LIFETIME: jiff::SignedDuration = jiff::SignedDuration::from_hours(1);

/// The one answer for a reset token that does not exist, has expired or was
/// used: the three are not told apart.
pub fn invalid_reset_token() -> DomainError {
    DomainError::field(
        "invalid_token",
        "token",
        "This reset link is not valid: it may have expired (links work for one hour) or been used already. Ask for a new one.",
    )
}

/// How long an email-confirmation link works (once).
pub const VERIFY_LIFETIME: jiff::SignedDuration = jiff::SignedDuration::from_hours(24);
/// How long an admin's invitation works (once).
pub const INVITATION_LIFETIME: jiff::SignedDuration = jiff::SignedDuration::from_hours(24 * 7);

/// The one answer for a confirmation token that does not exist, has expired
/// or was used.
pub fn invalid_verify_token() -> DomainError {
    DomainError::field(
        "invalid_token",
        "token",
        "This confirmation link is not valid: it may have expired (links work for 24 hours) or been used already. Sign in and ask for a new one.",
    )
}

/// The one answer for an invitation that does not exist, has expired, was
/// used or was revoked.
pub fn invalid_invitation() -> DomainError {
    DomainError::field(
        "invalid_invitation",
        "invitation",
        "This invitation is not valid: it may have expired (invitations work for 7 days), been used already or been withdrawn. Ask an admin for a new one.",
    )
}

/// Sign-up without an invitation while the community is invite-only.
pub fn signup_closed() -> DomainError {
    DomainError::forbidden(
        "signup_closed",
        "This community is invite-only: new accounts need an invitation from an admin.",
    )
}

/// Whether someone may register for sessions as far as their email goes:
/// with `verify_email` on, only once they confirmed their address.
pub fn email_block(verify_email: bool, verified: bool) -> Option<DomainError> {
    (verify_email && !verified).then(|| {
        DomainError::forbidden(
            "email_unverified",
            "Confirm your email address to register: follow the link we mailed you, or ask for a new one here.",
        )
    })
}

/// A wrong password where the current one is asked for again (in `field`).
pub fn wrong_password(field: &'static str) -> DomainError {
    DomainError::forbidden("wrong_password", "That is not your current password.").on(field)
}

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
    if name
        .chars()
        .any(|c| c.is_control() || super::is_bidi_control(c))
    {
        return Err(DomainError::field(
            "invalid_name",
            "name",
            "Names cannot contain control characters (line breaks, direction overrides).",
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

/// A member's video background in the live room (seeds 001/002: blur,
/// semi-blur or one of a few preset pictures; no uploads). Applied by the
/// browser before encoding (web/media/background.js); the server keeps the
/// choice so it follows the member to every device. Stored as its id; an id a
/// later version no longer knows reads back as `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(from = "String", into = "&'static str")]
pub enum Background {
    #[default]
    None,
    SemiBlur,
    Blur,
    Dusk,
    Aurora,
    Studio,
    Shapes,
}

impl From<String> for Background {
    fn from(id: String) -> Self {
        parse_background(&id).unwrap_or_default()
    }
}

impl From<Background> for &'static str {
    fn from(b: Background) -> Self {
        b.id()
    }
}

/// One choice the page offers: its id (what is stored and sent) and label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct BackgroundChoice {
    pub id: &'static str,
    pub label: &'static str,
    /// `blur` (the picture's own background, blurred) or `image` (a preset).
    pub kind: &'static str,
}

impl Background {
    /// Every background, in the order the page shows them.
    pub const ALL: [Background; 7] = [
        Background::None,
        Background::SemiBlur,
        Background::Blur,
        Background::Dusk,
        Background::Aurora,
        Background::Studio,
        Background::Shapes,
    ];

    pub fn choice(self) -> BackgroundChoice {
        let (id, label, kind) = match self {
            Background::None => ("none", "None", "none"),
            Background::SemiBlur => ("semi-blur", "Slight blur", "blur"),
            Background::Blur => ("blur", "Blur", "blur"),
            Background::Dusk => ("dusk", "Dusk", "image"),
            Background::Aurora => ("aurora", "Aurora", "image"),
            Background::Studio => ("studio", "Studio", "image"),
            Background::Shapes => ("shapes", "Shapes", "image"),
        };
        BackgroundChoice { id, label, kind }
    }

    pub fn id(self) -> &'static str {
        self.choice().id
    }
}

/// Reads a background id sent by a member (`background` field).
pub fn parse_background(raw: &str) -> Result<Background, DomainError> {
    Background::ALL
        .into_iter()
        .find(|b| b.id() == raw)
        .ok_or_else(|| {
            let ids: Vec<&str> = Background::ALL.iter().map(|b| b.id()).collect();
            DomainError::field(
                "invalid_background",
                "background",
                format!("Unknown background. Choose one of: {}.", ids.join(", ")),
            )
        })
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

/// Runs argon2 in this thread's own working memory (~19 MiB with the
/// default parameters), allocated on first use and reused: hashing then
/// never allocates, so a thread that hashes holds one buffer for its
/// lifetime instead of leaving freed 19 MiB blocks to the allocator (which
/// kept them, and the process grew with every extra thread). Hashing runs on
/// a fixed set of threads (`hashing::HashPool`), so this bounds memory.
fn argon2_into(argon: &Argon2, password: &[u8], salt: &[u8], out: &mut [u8]) -> argon2::Result<()> {
    thread_local! {
        static MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
    }
    let blocks = argon.params().block_count();
    MEMORY.with_borrow_mut(|memory| {
        if memory.len() < blocks {
            memory.resize(blocks, Block::new());
        }
        argon.hash_password_into_with_memory(password, salt, out, &mut memory[..blocks])
    })
}

/// Hashes a password with argon2id (the crate's recommended parameters)
/// into a PHC string. CPU-heavy: call it off the async threads.
pub fn hash_password(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    let argon = Argon2::default();
    let mut salt_buf = [0u8; 64];
    let salt_bytes = salt
        .decode_b64(&mut salt_buf)
        .expect("a fresh salt decodes");
    let output = Output::init_with(Params::DEFAULT_OUTPUT_LEN, |out| {
        argon2_into(&argon, password.as_bytes(), salt_bytes, out).map_err(Into::into)
    })
    .expect("argon2 hashing with default parameters cannot fail");
    PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(argon.params()).expect("default parameters encode"),
        salt: Some(salt.as_salt()),
        hash: Some(output),
    }
    .to_string()
}

/// Checks a password against a stored PHC string (its own algorithm,
/// version and parameters). CPU-heavy, like hashing.
pub fn verify_password(password: &str, phc: &str) -> bool {
    let Ok(h) = PasswordHash::new(phc) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (h.salt, h.hash) else {
        return false;
    };
    let (Ok(algorithm), Ok(version), Ok(params)) = (
        Algorithm::try_from(h.algorithm),
        h.version.map_or(Ok(Version::default()), Version::try_from),
        Params::try_from(&h),
    ) else {
        return false;
    };
    let argon = Argon2::new(algorithm, version, params);
    let mut salt_buf = [0u8; 64];
    let Ok(salt_bytes) = salt.decode_b64(&mut salt_buf) else {
        return false;
    };
    Output::init_with(expected.len(), |out| {
        argon2_into(&argon, password.as_bytes(), salt_bytes, out).map_err(Into::into)
    })
    // `Output`'s equality is constant-time.
    .is_ok_and(|got| got == expected)
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
    fn hashes_from_the_argon2_crate_still_verify() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        // Hashes stored before hashing reused its memory.
        let salt = SaltString::generate(&mut OsRng);
        let old = Argon2::default()
            .hash_password(b"correct horse battery", &salt)
            .unwrap()
            .to_string();
        assert!(verify_password("correct horse battery", &old));
        assert!(!verify_password("wrong horse battery", &old));
        // And the crate accepts ours.
        let ours = hash_password("correct horse battery");
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"correct horse battery", &parsed)
                .is_ok()
        );
    }

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
            assert_eq!(e.field.as_deref(), Some("email"));
        }
        let long = format!("{}@example.org", "a".repeat(250));
        assert!(normalize_email(&long).is_err());
    }

    #[test]
    fn names() {
        assert_eq!(validate_name("  Grace Hopper ").unwrap(), "Grace Hopper");
        assert_eq!(validate_name(&"é".repeat(80)).unwrap().chars().count(), 80);
        assert_eq!(validate_name("שלום Ada").unwrap(), "שלום Ada");
        for bad in [
            "",
            "   ",
            "a\nb",
            &"x".repeat(81),
            &"x".repeat(300),
            "Ada\u{202E}nimda",
            "\u{2067}Ada",
        ] {
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

    #[test]
    fn backgrounds_parse_by_id_and_unknown_stored_ids_read_as_none() {
        for b in Background::ALL {
            assert_eq!(parse_background(b.id()).unwrap(), b);
            let json = serde_json::to_string(&b).unwrap();
            assert_eq!(json, format!("\"{}\"", b.id()));
            assert_eq!(serde_json::from_str::<Background>(&json).unwrap(), b);
        }
        let err = parse_background("beach").unwrap_err();
        assert_eq!(err.field.as_deref(), Some("background"));
        assert!(err.message.contains("semi-blur"), "{}", err.message);
        assert_eq!(
            serde_json::from_str::<Background>("\"retired-preset\"").unwrap(),
            Background::None
        );
    }
}
