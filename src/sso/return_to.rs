//! Where a sign-in may send the browser afterwards: a path on this site.

/// A `return_to` that is not a path on this site.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("return_to must be a path on this site")]
pub struct OffSite;

/// A same-origin path, or nothing.
pub fn safe_return_to(r: Option<&str>) -> Result<Option<String>, OffSite> {
    match r {
        None | Some("") => Ok(None),
        Some(p)
            if p.starts_with('/')
                && !p.starts_with("//")
                && !p.contains('\\')
                && !p.chars().any(char::is_control) =>
        {
            Ok(Some(p.to_string()))
        }
        Some(_) => Err(OffSite),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn return_to_stays_on_site() {
        use super::safe_return_to as f;
        assert_eq!(f(Some("/home?x=1")), Ok(Some("/home?x=1".into())));
        assert_eq!(f(None), Ok(None));
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "https://evil.example",
            "evil",
            "/a\nb",
        ] {
            assert!(f(Some(bad)).is_err(), "{bad}");
        }
    }
}
