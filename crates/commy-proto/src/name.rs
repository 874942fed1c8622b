//! Names of tenants, services and variables.

/// The longest name accepted, in bytes (names are ASCII, so also in characters).
pub const MAX_NAME_LEN: usize = 128;

/// Why a name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    /// The name is empty.
    #[error("name is empty")]
    Empty,
    /// The name is longer than [`MAX_NAME_LEN`].
    #[error("name is {0} characters long; the limit is {MAX_NAME_LEN}")]
    TooLong(usize),
    /// The name holds a character outside `[A-Za-z0-9_.-/]`.
    #[error("name contains {0:?}; allowed are A-Z a-z 0-9 _ . - /")]
    BadCharacter(char),
    /// The name starts with `/`.
    #[error("name starts with '/'")]
    LeadingSlash,
    /// The name has an empty segment, as in `a//b` or a trailing `/`.
    #[error("name has an empty segment")]
    EmptySegment,
    /// The name has a `..` segment.
    #[error("name has a '..' segment")]
    DotDotSegment,
}

/// Checks a tenant, service or variable name: 1-128 characters from `[A-Za-z0-9_.-/]`, no leading `/`, no empty or
/// `..` segment.
///
/// ```
/// assert!(commy_proto::validate_name("sensors/room-1.temp").is_ok());
/// assert!(commy_proto::validate_name("../etc").is_err());
/// ```
pub fn validate_name(name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '/')))
    {
        return Err(NameError::BadCharacter(bad));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(NameError::TooLong(name.len()));
    }
    if name.starts_with('/') {
        return Err(NameError::LeadingSlash);
    }
    for segment in name.split('/') {
        match segment {
            "" => return Err(NameError::EmptySegment),
            ".." => return Err(NameError::DotDotSegment),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_refuses() {
        assert_eq!(validate_name("a"), Ok(()));
        assert_eq!(validate_name("sensors/a_b.c-d"), Ok(()));
        assert_eq!(validate_name(&"x".repeat(128)), Ok(()));
        assert_eq!(validate_name(""), Err(NameError::Empty));
        assert_eq!(validate_name(&"x".repeat(129)), Err(NameError::TooLong(129)));
        assert_eq!(validate_name("/a"), Err(NameError::LeadingSlash));
        assert_eq!(validate_name("a//b"), Err(NameError::EmptySegment));
        assert_eq!(validate_name("a/"), Err(NameError::EmptySegment));
        assert_eq!(validate_name("a/../b"), Err(NameError::DotDotSegment));
        assert_eq!(validate_name("a b"), Err(NameError::BadCharacter(' ')));
        assert_eq!(validate_name("é"), Err(NameError::BadCharacter('é')));
    }
}
