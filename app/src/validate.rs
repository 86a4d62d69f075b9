//! Validation rules shared by the browser (instant feedback) and the server
//! (the authority). A `UserName` or `MessageText` can only be built through
//! its validator, so holding one proves the rule was applied.

use thiserror::Error;

pub const NAME_MAX_CHARS: usize = 32;
pub const MESSAGE_MAX_CHARS: usize = 2000;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NameError {
    #[error("Please enter a name.")]
    Empty,
    #[error("A name can be at most {NAME_MAX_CHARS} characters.")]
    TooLong,
    #[error("A name cannot contain control characters.")]
    ControlCharacter,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MessageError {
    #[error("The message is empty.")]
    Empty,
    #[error("A message can be at most {MESSAGE_MAX_CHARS} characters.")]
    TooLong,
}

/// A display name: 1–32 characters after trimming, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserName(String);

impl UserName {
    pub fn parse(raw: &str) -> Result<Self, NameError> {
        let name = raw.trim();
        if name.is_empty() {
            return Err(NameError::Empty);
        }
        if name.chars().count() > NAME_MAX_CHARS {
            return Err(NameError::TooLong);
        }
        if name.chars().any(char::is_control) {
            return Err(NameError::ControlCharacter);
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Message text: not blank, at most 2,000 characters. Inner whitespace and
/// newlines are kept as typed; only the ends are trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageText(String);

impl MessageText {
    pub fn parse(raw: &str) -> Result<Self, MessageError> {
        let text = raw.trim();
        if text.is_empty() {
            return Err(MessageError::Empty);
        }
        if text.chars().count() > MESSAGE_MAX_CHARS {
            return Err(MessageError::TooLong);
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A light colour as the seed chose it: red 200–255, green and blue 100–255,
/// so dark text stays readable on it.
#[cfg(feature = "ssr")]
pub fn random_color(rng: &mut impl rand::Rng) -> String {
    let r: u8 = rng.random_range(200..=255);
    let g: u8 = rng.random_range(100..=255);
    let b: u8 = rng.random_range(100..=255);
    format!("rgb({r},{g},{b})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_is_trimmed() {
        assert_eq!(
            UserName::parse("  Ann  ").map(|n| n.as_str().to_owned()),
            Ok("Ann".into())
        );
    }

    #[test]
    fn blank_name_is_rejected() {
        assert_eq!(UserName::parse(" \t "), Err(NameError::Empty));
    }

    #[test]
    fn name_length_counts_characters_not_bytes() {
        assert!(UserName::parse(&"é".repeat(32)).is_ok());
        assert_eq!(UserName::parse(&"a".repeat(33)), Err(NameError::TooLong));
    }

    #[test]
    fn name_with_control_character_is_rejected() {
        assert_eq!(UserName::parse("a\u{7}b"), Err(NameError::ControlCharacter));
        assert_eq!(UserName::parse("a\nb"), Err(NameError::ControlCharacter));
    }

    #[test]
    fn message_limits() {
        assert_eq!(MessageText::parse("   "), Err(MessageError::Empty));
        assert!(MessageText::parse(&"x".repeat(2000)).is_ok());
        assert_eq!(
            MessageText::parse(&"x".repeat(2001)),
            Err(MessageError::TooLong)
        );
        assert_eq!(
            MessageText::parse(" a\nb ").map(|m| m.as_str().to_owned()),
            Ok("a\nb".into())
        );
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn colours_stay_in_the_light_range() {
        let mut rng = rand::rng();
        for _ in 0..2000 {
            let c = random_color(&mut rng);
            let inner = c
                .strip_prefix("rgb(")
                .and_then(|s| s.strip_suffix(')'))
                .expect("rgb() form");
            let parts: Vec<u16> = inner
                .split(',')
                .map(|p| p.parse().expect("number"))
                .collect();
            assert_eq!(parts.len(), 3);
            assert!((200..=255).contains(&parts[0]), "{c}");
            assert!((100..=255).contains(&parts[1]), "{c}");
            assert!((100..=255).contains(&parts[2]), "{c}");
        }
    }
}
