//! Owner, invite and transfer tokens: long random values, kept only as
//! hashes, and never logged whole.

use rand::RngCore;

/// 32 random bytes as 64 hex digits.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex(&bytes)
}

/// What the database keeps: the token's SHA-256. A token is random and
/// long, so a plain hash is enough (no salt or slow hash needed).
pub fn hash(token: &str) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, token.as_bytes()).as_ref())
}

/// Shape check before any lookup: 64 lowercase hex digits.
pub fn well_formed(token: &str) -> bool {
    token.len() == 64
        && token
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Enough of a token to tell two apart in a log line, not to use one.
pub fn shown(token: &str) -> String {
    format!("{}…", token.get(..6).unwrap_or(""))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_stored_as_hashes() {
        let a = new_token();
        let b = new_token();
        assert_ne!(a, b);
        assert!(well_formed(&a) && well_formed(&b));
        let h = hash(&a);
        assert_eq!(h.len(), 64);
        assert_ne!(h, a, "the hash is not the token");
        assert_eq!(h, hash(&a), "the same token always hashes the same");
        assert_ne!(h, hash(&b));
        // A known value: SHA-256 of "abc".
        assert_eq!(
            hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn malformed_tokens_are_refused_before_any_lookup() {
        assert!(!well_formed(""));
        assert!(!well_formed(&"g".repeat(64)));
        assert!(
            !well_formed(&"A".repeat(64)),
            "uppercase is not what we hand out"
        );
        assert!(!well_formed(&"a".repeat(63)));
        assert!(!well_formed("../../etc/passwd"));
    }

    #[test]
    fn logs_show_only_the_start() {
        let t = new_token();
        let s = shown(&t);
        assert!(s.chars().count() <= 7);
        assert!(!s.contains(&t[6..]));
    }
}
