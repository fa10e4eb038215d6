//! Kubernetes object-name rules (apimachinery's `IsDNS1123Subdomain` and `IsDNS1123Label`),
//! checked before any request is made.

/// Why a name is not a valid object name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("must be 1 to {0} characters long")]
    Length(usize),
    #[error(
        "must consist of lowercase letters, digits, '-' and '.', and start and end with a letter or digit"
    )]
    SubdomainCharacters,
    #[error(
        "must consist of lowercase letters, digits and '-', and start and end with a letter or digit"
    )]
    LabelCharacters,
}

/// DNS-1123 subdomain: what Secret names must be (at most 253 characters of lowercase
/// alphanumerics, '-' and '.', starting and ending alphanumeric).
pub fn check_subdomain(name: &str) -> Result<(), NameError> {
    if name.is_empty() || name.len() > 253 {
        return Err(NameError::Length(253));
    }
    if name.split('.').all(is_label) {
        Ok(())
    } else {
        Err(NameError::SubdomainCharacters)
    }
}

/// DNS-1123 label: what namespace names must be (at most 63 characters of lowercase
/// alphanumerics and '-', starting and ending alphanumeric).
pub fn check_label(name: &str) -> Result<(), NameError> {
    if name.is_empty() || name.len() > 63 {
        return Err(NameError::Length(63));
    }
    if is_label(name) {
        Ok(())
    } else {
        Err(NameError::LabelCharacters)
    }
}

fn is_label(label: &str) -> bool {
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    !label.is_empty()
        && label.chars().all(|c| alnum(c) || c == '-')
        && label.starts_with(alnum)
        && label.ends_with(alnum)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subdomains() {
        for ok in ["regcred", "a", "quay-io.pull", "0abc", &"a".repeat(253)] {
            assert!(check_subdomain(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "Regcred",
            "-a",
            "a-",
            "a..b",
            "a_b",
            "a/b",
            &"a".repeat(254),
        ] {
            assert!(check_subdomain(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn labels() {
        for ok in ["team-a", "default", "x1"] {
            assert!(check_label(ok).is_ok(), "{ok}");
        }
        for bad in ["", "Team", "a.b", "-x", "x-", &"a".repeat(64)] {
            assert!(check_label(bad).is_err(), "{bad}");
        }
    }
}
