//! What a file is, judged by its first bytes, never by its name or the
//! type the browser claimed.

/// The kinds of file the chat accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sniffed {
    Jpeg,
    Png,
    Gif,
    WebP,
    Pdf,
    /// Anything else that is not markup: offered as a download.
    Other,
    /// HTML, SVG, XML: refused, since a browser could run them.
    Markup,
}

impl Sniffed {
    pub fn of(bytes: &[u8]) -> Self {
        match bytes {
            [0xFF, 0xD8, 0xFF, ..] => Sniffed::Jpeg,
            [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, ..] => Sniffed::Png,
            [b'G', b'I', b'F', b'8', b'7' | b'9', b'a', ..] => Sniffed::Gif,
            [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'E', b'B', b'P', ..] => Sniffed::WebP,
            [b'%', b'P', b'D', b'F', b'-', ..] => Sniffed::Pdf,
            _ if looks_like_markup(bytes) => Sniffed::Markup,
            _ => Sniffed::Other,
        }
    }

    pub fn is_image(self) -> bool {
        matches!(
            self,
            Sniffed::Jpeg | Sniffed::Png | Sniffed::Gif | Sniffed::WebP
        )
    }

    /// The type a download is served with.
    pub fn download_mime(self) -> &'static str {
        match self {
            Sniffed::Pdf => "application/pdf",
            _ => "application/octet-stream",
        }
    }
}

/// Text that starts (after whitespace, a byte-order mark or comments) with
/// a tag: HTML, SVG, XML and their kin.
fn looks_like_markup(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(1024)];
    let text = String::from_utf8_lossy(head).to_ascii_lowercase();
    let text = text.trim_start_matches('\u{feff}').trim_start();
    text.starts_with('<')
        || text.contains("<svg")
        || text.contains("<html")
        || text.contains("<script")
        || text.contains("<!doctype")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_decides_not_the_name() {
        assert_eq!(Sniffed::of(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0]), Sniffed::Jpeg);
        assert_eq!(Sniffed::of(b"\x89PNG\r\n\x1a\n...."), Sniffed::Png);
        assert_eq!(Sniffed::of(b"GIF89a...."), Sniffed::Gif);
        assert_eq!(Sniffed::of(b"RIFF\0\0\0\0WEBPVP8 "), Sniffed::WebP);
        assert_eq!(Sniffed::of(b"%PDF-1.7\n"), Sniffed::Pdf);
        assert_eq!(Sniffed::of(b"PK\x03\x04zip"), Sniffed::Other);
    }

    #[test]
    fn markup_is_recognised_however_it_starts() {
        for markup in [
            &b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>"[..],
            b"  \n<!DOCTYPE html><html>",
            b"\xef\xbb\xbf<?xml version='1.0'?><svg/>",
            b"hello <script>alert(1)</script>",
            b"<html><body>hi",
        ] {
            assert_eq!(
                Sniffed::of(markup),
                Sniffed::Markup,
                "{:?}",
                String::from_utf8_lossy(markup)
            );
        }
    }
}
