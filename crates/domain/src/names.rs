//! Validated names and secrets that come from outside: user names, tenant
//! names, e-mail addresses, passwords.

use serde::{Deserialize, Serialize};

/// A refused input: which field, and a message key the web and API translate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema, thiserror::Error)]
#[error("{field}: {code}")]
pub struct FieldError {
    pub field: &'static str,
    /// Message key in the catalogues, e.g. `error-username-chars`.
    pub code: &'static str,
}

impl FieldError {
    pub fn new(field: &'static str, code: &'static str) -> Self {
        Self { field, code }
    }
}

macro_rules! string_type {
    ($name:ident, $field:literal) => {
        impl TryFrom<String> for $name {
            type Error = FieldError;
            fn try_from(s: String) -> Result<Self, FieldError> {
                Self::parse($field, &s)
            }
        }

        impl From<$name> for String {
            fn from(n: $name) -> String {
                n.0
            }
        }

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

/// A sign-in name: 3 to 64 characters of `a-z 0-9 . _ - @`, stored lower case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UserName(String);
string_type!(UserName, "username");

impl UserName {
    pub fn parse(field: &'static str, s: &str) -> Result<Self, FieldError> {
        let s = s.trim().to_lowercase();
        if s.chars().count() < 3 || s.chars().count() > 64 {
            return Err(FieldError::new(field, "error-username-length"));
        }
        if !s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-' | '@')) {
            return Err(FieldError::new(field, "error-username-chars"));
        }
        Ok(Self(s))
    }
}

/// A tenant's display name: 2 to 100 printable characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TenantName(String);
string_type!(TenantName, "name");

impl TenantName {
    pub fn parse(field: &'static str, s: &str) -> Result<Self, FieldError> {
        let s = s.trim();
        let n = s.chars().count();
        if !(2..=100).contains(&n) {
            return Err(FieldError::new(field, "error-tenant-name-length"));
        }
        if s.chars().any(char::is_control) {
            return Err(FieldError::new(field, "error-control-chars"));
        }
        Ok(Self(s.to_owned()))
    }
}

/// An e-mail address, checked for shape only (one `@`, a dotted domain).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);
string_type!(Email, "email");

impl Email {
    pub fn parse(field: &'static str, s: &str) -> Result<Self, FieldError> {
        let s = s.trim();
        let bad = || FieldError::new(field, "error-email");
        let (local, domain) = s.split_once('@').ok_or_else(bad)?;
        if local.is_empty()
            || domain.contains('@')
            || !domain.contains('.')
            || domain.starts_with('.')
            || domain.ends_with('.')
            || s.len() > 254
            || s.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(bad());
        }
        Ok(Self(s.to_owned()))
    }
}

/// A new password that meets the policy: 12 to 256 characters and not the
/// user name. Its `Debug` never shows it.
#[derive(Clone)]
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

impl Password {
    pub const MIN_CHARS: usize = 12;

    pub fn parse(field: &'static str, s: &str, user: &UserName) -> Result<Self, FieldError> {
        let n = s.chars().count();
        if n < Self::MIN_CHARS {
            return Err(FieldError::new(field, "error-password-short"));
        }
        if n > 256 {
            return Err(FieldError::new(field, "error-password-long"));
        }
        if s.eq_ignore_ascii_case(user.as_str()) {
            return Err(FieldError::new(field, "error-password-is-username"));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_are_lower_case_and_restricted() {
        assert_eq!(UserName::parse("u", " Anna.Schmidt ").map(|u| u.0), Ok("anna.schmidt".into()));
        assert_eq!(UserName::parse("u", "ab").unwrap_err().code, "error-username-length");
        assert_eq!(UserName::parse("u", "anna schmidt").unwrap_err().code, "error-username-chars");
        assert!(UserName::parse("u", "anna@example.de").is_ok());
    }

    #[test]
    fn emails_need_a_dotted_domain() {
        assert!(Email::parse("e", "ops@example.de").is_ok());
        for bad in ["ops", "ops@", "@example.de", "ops@example", "o ps@example.de", "a@b@c.de"] {
            assert!(Email::parse("e", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn password_policy() {
        let u = UserName::parse("u", "anna").unwrap();
        assert_eq!(Password::parse("p", "short", &u).unwrap_err().code, "error-password-short");
        assert!(Password::parse("p", "correct horse battery", &u).is_ok());
        let long = UserName::parse("u", "administrator").unwrap();
        assert_eq!(Password::parse("p", "ADMINISTRATOR", &long).unwrap_err().code, "error-password-is-username");
        assert!(!format!("{:?}", Password::parse("p", "correct horse battery", &u).unwrap()).contains("horse"));
    }
}
