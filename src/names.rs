//! Kubernetes object-name rules, checked before any request is made.

/// DNS-1123 subdomain: what Secret names must be (at most 253 characters of lowercase
/// alphanumerics, '-' and '.', starting and ending alphanumeric).
pub fn check_subdomain(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 253 {
        return Err("must be 1 to 253 characters long".into());
    }
    for label in name.split('.') {
        check_label_chars(label)
            .map_err(|_| "must consist of lowercase letters, digits, '-' and '.', and start and end with a letter or digit".to_string())?;
    }
    Ok(())
}

/// DNS-1123 label: what namespace names must be (at most 63 characters of lowercase
/// alphanumerics and '-', starting and ending alphanumeric).
pub fn check_label(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 63 {
        return Err("must be 1 to 63 characters long".into());
    }
    check_label_chars(name)
        .map_err(|_| "must consist of lowercase letters, digits and '-', and start and end with a letter or digit".into())
}

fn check_label_chars(label: &str) -> Result<(), ()> {
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let ok = !label.is_empty()
        && label.chars().all(|c| alnum(c) || c == '-')
        && label.starts_with(alnum)
        && label.ends_with(alnum);
    if ok { Ok(()) } else { Err(()) }
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
