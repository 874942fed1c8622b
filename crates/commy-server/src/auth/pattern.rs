//! Service-name patterns that limit a credential's `read` and `write` rights.
//!
//! A pattern is a service name in which `*` and `**` are wildcards:
//!
//! - `*` matches any run of characters, empty included, inside one segment: it never matches `/`;
//! - `**` matches any run of characters, `/` included;
//! - every other character matches itself.
//!
//! So `sensors/*` matches `sensors/a` but not `sensors/a/b` nor `sensors`; `sensors/**` matches both `sensors/a` and
//! `sensors/a/b`; `**` matches every service. Three or more stars in a row are refused, as are characters that no
//! service name can hold.

use commy_proto::MAX_NAME_LEN;
use std::fmt;

/// One element of a compiled pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Byte(u8),
    Star,
    DoubleStar,
}

/// A compiled service-name pattern (see the module documentation for the syntax).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServicePattern {
    source: String,
    tokens: Vec<Token>,
}

/// Why a pattern was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PatternError {
    /// The pattern is empty.
    #[error("service pattern is empty")]
    Empty,
    /// The pattern is longer than a service name can be.
    #[error("service pattern is {0} characters long; the limit is {MAX_NAME_LEN}")]
    TooLong(usize),
    /// The pattern holds a character that no service name holds.
    #[error("service pattern '{pattern}' contains {found:?}; allowed are A-Z a-z 0-9 _ . - / and *")]
    BadCharacter {
        /// The pattern as given.
        pattern: String,
        /// The first character refused.
        found: char,
    },
    /// The pattern has three or more `*` in a row.
    #[error("service pattern '{0}' has three or more '*' in a row; use '*' within a segment or '**' across segments")]
    TooManyStars(String),
}

impl ServicePattern {
    /// Compiles `pattern`.
    pub fn parse(pattern: &str) -> Result<ServicePattern, PatternError> {
        if pattern.is_empty() {
            return Err(PatternError::Empty);
        }
        if let Some(found) = pattern
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '/' | '*')))
        {
            return Err(PatternError::BadCharacter {
                pattern: pattern.to_owned(),
                found,
            });
        }
        if pattern.len() > MAX_NAME_LEN {
            return Err(PatternError::TooLong(pattern.len()));
        }
        let bytes = pattern.as_bytes();
        let mut tokens = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            let stars = bytes[i..].iter().take_while(|&&b| b == b'*').count();
            match stars {
                0 => tokens.push(Token::Byte(bytes[i])),
                1 => tokens.push(Token::Star),
                2 => tokens.push(Token::DoubleStar),
                _ => return Err(PatternError::TooManyStars(pattern.to_owned())),
            }
            i += stars.max(1);
        }
        Ok(ServicePattern {
            source: pattern.to_owned(),
            tokens,
        })
    }

    /// The pattern as written.
    #[cfg(test)]
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether `service_name` matches. Runs in time proportional to the product of the two lengths, whatever the
    /// pattern, so a hostile pattern cannot make it backtrack exponentially.
    pub fn matches(&self, service_name: &str) -> bool {
        let name = service_name.as_bytes();
        // reach[j]: the tokens seen so far can consume exactly name[..j].
        let mut reach = vec![false; name.len() + 1];
        reach[0] = true;
        let mut next = vec![false; name.len() + 1];
        for token in &self.tokens {
            match *token {
                Token::Byte(b) => {
                    next[0] = false;
                    for j in 0..name.len() {
                        next[j + 1] = reach[j] && name[j] == b;
                    }
                }
                Token::Star | Token::DoubleStar => {
                    let crosses_slash = *token == Token::DoubleStar;
                    let mut open = false;
                    for j in 0..=name.len() {
                        open |= reach[j];
                        next[j] = open;
                        if !crosses_slash && name.get(j) == Some(&b'/') {
                            open = false;
                        }
                    }
                }
            }
            std::mem::swap(&mut reach, &mut next);
        }
        reach[name.len()]
    }

    /// Whether every service name `narrower` matches is matched by this pattern too, so that a credential limited to
    /// this pattern may hand out `narrower`. Sound, and exact for the usual shapes (`a/b`, `a/*`, `a/**`, `room-*`): this
    /// pattern's `*` may stand for `narrower`'s characters other than `/` and its `*`, its `**` for anything; a literal
    /// character only for itself. So `sensors/**` covers `sensors/*` and `sensors/a/**`, `sensors/*` does not cover
    /// `sensors/**`.
    pub fn covers(&self, narrower: &ServicePattern) -> bool {
        let other = &narrower.tokens;
        let mut reach = vec![false; other.len() + 1];
        reach[0] = true;
        let mut next = vec![false; other.len() + 1];
        for token in &self.tokens {
            match *token {
                Token::Byte(b) => {
                    next[0] = false;
                    for j in 0..other.len() {
                        next[j + 1] = reach[j] && other[j] == Token::Byte(b);
                    }
                }
                Token::Star | Token::DoubleStar => {
                    let mut open = false;
                    for j in 0..=other.len() {
                        open |= reach[j];
                        next[j] = open;
                        let absorbable = match other.get(j) {
                            Some(Token::DoubleStar) | Some(Token::Byte(b'/')) => *token == Token::DoubleStar,
                            _ => true,
                        };
                        if !absorbable {
                            open = false;
                        }
                    }
                }
            }
            std::mem::swap(&mut reach, &mut next);
        }
        reach[other.len()]
    }
}

impl fmt::Display for ServicePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching_table() {
        let table: &[(&str, &str, bool)] = &[
            ("sensors/a", "sensors/a", true),
            ("sensors/a", "sensors/ab", false),
            ("sensors/*", "sensors/a", true),
            ("sensors/*", "sensors/", true),
            ("sensors/*", "sensors/a/b", false),
            ("sensors/*", "sensors", false),
            ("sensors/*", "other/a", false),
            ("sensors/**", "sensors/a", true),
            ("sensors/**", "sensors/a/b/c", true),
            ("sensors/**", "sensors", false),
            ("**", "anything/at/all", true),
            ("*", "top", true),
            ("*", "top/level", false),
            ("room-*.temp", "room-12.temp", true),
            ("room-*.temp", "room-12.hum", false),
            ("*/temp", "room/temp", true),
            ("*/temp", "a/room/temp", false),
            ("**/temp", "a/room/temp", true),
            ("a*b*c", "aXbYc", true),
            ("a*b*c", "abc", true),
            ("a*b*c", "acb", false),
            ("a/**/z", "a/b/c/z", true),
            ("a/**/z", "a/z", false),
        ];
        for &(pattern, name, expected) in table {
            let p = ServicePattern::parse(pattern).unwrap();
            assert_eq!(p.matches(name), expected, "{pattern:?} vs {name:?}");
        }
    }

    #[test]
    fn covering_table() {
        let table: &[(&str, &str, bool)] = &[
            ("sensors/a", "sensors/a", true),
            ("sensors/*", "sensors/a", true),
            ("sensors/*", "sensors/*", true),
            ("sensors/*", "sensors/room-*", true),
            ("sensors/*", "sensors/**", false),
            ("sensors/*", "sensors/a/b", false),
            ("sensors/**", "sensors/*", true),
            ("sensors/**", "sensors/a/**", true),
            ("sensors/**", "sensors/**", true),
            ("sensors/**", "sensors", false),
            ("sensors/**", "**", false),
            ("**", "**", true),
            ("**", "anything/*", true),
            ("*", "top", true),
            ("*", "*/x", false),
            ("room-*", "room-1*", true),
            ("room-1*", "room-*", false),
            ("a/b", "a/*", false),
            ("sensors/a", "sensors/b", false),
        ];
        for &(wider, narrower, expected) in table {
            let (w, n) = (
                ServicePattern::parse(wider).unwrap(),
                ServicePattern::parse(narrower).unwrap(),
            );
            assert_eq!(w.covers(&n), expected, "{wider:?} covers {narrower:?}");
        }
    }

    #[test]
    fn hostile_patterns_stay_fast_and_correct() {
        let pattern = format!("{}b", "*a".repeat(40));
        let p = ServicePattern::parse(&pattern).unwrap();
        assert!(!p.matches(&"a".repeat(80)));
        assert!(p.matches(&format!("{}b", "a".repeat(80))));
    }

    #[test]
    fn refuses_bad_patterns() {
        assert_eq!(ServicePattern::parse(""), Err(PatternError::Empty));
        assert!(matches!(
            ServicePattern::parse("a b"),
            Err(PatternError::BadCharacter { found: ' ', .. })
        ));
        assert!(matches!(
            ServicePattern::parse("a/***"),
            Err(PatternError::TooManyStars(_))
        ));
        assert!(matches!(
            ServicePattern::parse(&"x".repeat(129)),
            Err(PatternError::TooLong(129))
        ));
        assert_eq!(ServicePattern::parse("s/*").unwrap().to_string(), "s/*");
    }
}
