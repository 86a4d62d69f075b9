//! Validation rules shared by the browser (instant feedback) and the server
//! (the authority). A `UserName` or `MessageText` can only be built through
//! its validator, so holding one proves the rule was applied.
//!
//! One definition of "character" on both sides: a Unicode scalar value
//! (`char`), counted by [`char_count`]. Browsers' `maxlength` counts UTF-16
//! units instead (an emoji counts twice), so the page never uses it.

use thiserror::Error;

pub const NAME_MAX_CHARS: usize = 32;
pub const MESSAGE_MAX_CHARS: usize = 2000;
pub const ROOM_NAME_MAX_CHARS: usize = 48;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NameError {
    #[error("Please enter a name.")]
    Empty,
    #[error("A name can be at most {NAME_MAX_CHARS} characters (this one has {0}).")]
    TooLong(usize),
    #[error("A name cannot contain control characters.")]
    ControlCharacter,
    #[error("A name needs at least one visible character.")]
    Invisible,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MessageError {
    #[error("The message is empty.")]
    Empty,
    #[error("A message can be at most {MESSAGE_MAX_CHARS} characters (this one has {0}).")]
    TooLong(usize),
    #[error("The message has no visible character.")]
    Invisible,
}

/// Characters as both sides count them.
pub fn char_count(s: &str) -> usize {
    s.chars().count()
}

/// True for characters that draw nothing on their own: Unicode's
/// default-ignorable code points (zero-width spaces and joiners, bidi
/// controls, variation selectors, tags), plus the fillers and blanks that
/// are not marked ignorable but render empty. Joiners inside real text stay
/// allowed; only text made of nothing but these is refused.
pub fn is_invisible(c: char) -> bool {
    matches!(c as u32,
        0x00AD | 0x034F | 0x061C | 0x115F..=0x1160 | 0x17B4..=0x17B5
        | 0x180B..=0x180F | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x206F
        | 0x2800 | 0x3164 | 0xFE00..=0xFE0F | 0xFEFF | 0xFFA0 | 0xFFF0..=0xFFF8
        | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A | 0xE0000..=0xE0FFF)
}

fn has_visible(s: &str) -> bool {
    s.chars().any(|c| !c.is_whitespace() && !is_invisible(c))
}

/// A display name: 1–32 characters after trimming, no control characters,
/// at least one visible character.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserName(String);

impl UserName {
    pub fn parse(raw: &str) -> Result<Self, NameError> {
        let name = raw.trim();
        if name.is_empty() {
            return Err(NameError::Empty);
        }
        let count = char_count(name);
        if count > NAME_MAX_CHARS {
            return Err(NameError::TooLong(count));
        }
        if name.chars().any(char::is_control) {
            return Err(NameError::ControlCharacter);
        }
        if !has_visible(name) {
            return Err(NameError::Invisible);
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Message text: at most 2,000 characters with at least one visible one.
/// Inner whitespace and newlines are kept as typed; only the ends are
/// trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageText(String);

impl MessageText {
    /// The text of a message with an attachment: the same rules, but it
    /// may be empty.
    pub fn caption(raw: &str) -> Result<Self, MessageError> {
        if raw.trim().is_empty() {
            return Ok(Self(String::new()));
        }
        Self::parse(raw)
    }

    pub fn parse(raw: &str) -> Result<Self, MessageError> {
        let text = raw.trim();
        if text.is_empty() {
            return Err(MessageError::Empty);
        }
        let count = char_count(text);
        if count > MESSAGE_MAX_CHARS {
            return Err(MessageError::TooLong(count));
        }
        if !has_visible(text) {
            return Err(MessageError::Invisible);
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RoomNameError {
    #[error("Please enter a room name.")]
    Empty,
    #[error("A room name can be at most {ROOM_NAME_MAX_CHARS} characters (this one has {0}).")]
    TooLong(usize),
    #[error("A room name cannot contain control characters.")]
    ControlCharacter,
    #[error("A room name needs at least one visible character.")]
    Invisible,
}

/// A room's name: 1–48 characters after trimming, no control characters,
/// at least one visible one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomName(String);

impl RoomName {
    pub fn parse(raw: &str) -> Result<Self, RoomNameError> {
        let name = raw.trim();
        if name.is_empty() {
            return Err(RoomNameError::Empty);
        }
        let count = char_count(name);
        if count > ROOM_NAME_MAX_CHARS {
            return Err(RoomNameError::TooLong(count));
        }
        if name.chars().any(char::is_control) {
            return Err(RoomNameError::ControlCharacter);
        }
        if !has_visible(name) {
            return Err(RoomNameError::Invisible);
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What makes two names the same room: case and outer space ignored.
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }

    /// The URL form: lowercase ASCII letters and digits joined by dashes
    /// (`Book club!` → `book-club`); `room` when nothing of that is left.
    pub fn slug(&self) -> String {
        let mut slug = String::new();
        for c in self.0.chars() {
            if c.is_ascii_alphanumeric() {
                slug.push(c.to_ascii_lowercase());
            } else if !slug.is_empty() && !slug.ends_with('-') {
                slug.push('-');
            }
        }
        let slug = slug.trim_end_matches('-');
        if slug.is_empty() {
            "room".to_owned()
        } else {
            slug.chars()
                .take(40)
                .collect::<String>()
                .trim_end_matches('-')
                .to_owned()
        }
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

/// A colour picked by hand (`#rrggbb`, as a colour input gives it), kept
/// within the range random colours come from so a name on it stays
/// readable; `None` when it is not such a colour.
pub fn chosen_color(hex: &str) -> Option<String> {
    let hex = hex.trim().strip_prefix('#')?;
    if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let channel = |i: usize| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok();
    let (r, g, b) = (channel(0)?, channel(2)?, channel(4)?);
    Some(format!("rgb({},{},{})", r.max(200), g.max(100), b.max(100)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chosen_colour_stays_light_enough_to_read_a_name_on() {
        assert_eq!(chosen_color("#ff8040").as_deref(), Some("rgb(255,128,100)"));
        assert_eq!(chosen_color("#000000").as_deref(), Some("rgb(200,100,100)"));
        assert_eq!(chosen_color("ff8040"), None);
        assert_eq!(chosen_color("#ff80"), None);
        assert_eq!(chosen_color("#gg0000"), None);
        assert_eq!(chosen_color("red"), None);
    }

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
        assert!(UserName::parse(&"😀".repeat(32)).is_ok());
        assert_eq!(
            UserName::parse(&"a".repeat(33)),
            Err(NameError::TooLong(33))
        );
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
            Err(MessageError::TooLong(2001))
        );
        assert_eq!(
            MessageText::parse(" a\nb ").map(|m| m.as_str().to_owned()),
            Ok("a\nb".into())
        );
    }

    #[test]
    fn two_thousand_emoji_fit_in_a_message() {
        // Each is one character but two UTF-16 units.
        assert!(MessageText::parse(&"😀".repeat(2000)).is_ok());
        assert_eq!(char_count(&"😀".repeat(3)), 3);
    }

    #[test]
    fn text_made_only_of_invisible_characters_is_refused() {
        for blank in [
            "\u{200B}",
            "\u{2060}\u{2060}",
            "\u{FEFF}",
            "\u{202E}\u{202C}",
            "\u{200D}",
            "\u{3164}",
            "\u{2800}",
            " \u{200B} \u{FE0F} ",
        ] {
            assert_eq!(
                MessageText::parse(blank),
                Err(MessageError::Invisible),
                "{blank:?}"
            );
            assert_eq!(
                UserName::parse(blank),
                Err(NameError::Invisible),
                "{blank:?}"
            );
        }
    }

    #[test]
    fn joiners_inside_real_text_are_kept() {
        for text in [
            "👩\u{200D}👩\u{200D}👧",
            "🏳\u{FE0F}\u{200D}🌈",
            "क्\u{200D}ष",
            "می\u{200C}خواهم",
            "\u{202E}evil\u{202C} name",
        ] {
            assert_eq!(
                MessageText::parse(text).map(|t| t.as_str().to_owned()),
                Ok(text.to_owned())
            );
            assert!(UserName::parse(text).is_ok(), "{text:?}");
        }
    }

    #[test]
    fn room_names_have_rules_and_slugs() {
        let r = RoomName::parse("  Book Club! ").expect("valid");
        assert_eq!(r.as_str(), "Book Club!");
        assert_eq!(r.slug(), "book-club");
        assert_eq!(r.key(), "book club!");
        assert_eq!(RoomName::parse("🎲🎲").expect("valid").slug(), "room");
        assert_eq!(
            RoomName::parse("Ünïcode—chat").expect("valid").slug(),
            "n-code-chat"
        );
        assert_eq!(RoomName::parse(""), Err(RoomNameError::Empty));
        assert_eq!(
            RoomName::parse(&"r".repeat(49)),
            Err(RoomNameError::TooLong(49))
        );
        assert_eq!(RoomName::parse("\u{200B}"), Err(RoomNameError::Invisible));
        assert_eq!(
            RoomName::parse("a\nb"),
            Err(RoomNameError::ControlCharacter)
        );
        assert!(RoomName::parse(&"é".repeat(48)).is_ok());
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
