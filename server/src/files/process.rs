//! Photos are decoded and encoded again before they are stored: that
//! turns them the right way up (the EXIF orientation is applied first)
//! and leaves every piece of metadata behind, above all GPS locations.

use super::sniff::Sniffed;
use image::codecs::jpeg::JpegEncoder;
use image::{DynamicImage, ImageDecoder, ImageReader};
use std::io::Cursor;

/// The long side of a thumbnail.
pub const THUMB_PX: u32 = 480;
/// Images larger than this many pixels in either direction are refused
/// (a decompression bomb fits in a small file).
const MAX_SIDE: u32 = 16_384;
/// Photos of more pixels than this are refused before they are decoded:
/// a 12000×12000 PNG of 410 KiB decodes to ~875 MB. 50 megapixels takes
/// the largest phone photos (48 MP).
pub const MAX_PIXELS: u64 = 50_000_000;

/// What a photo's header says, read before anything is decoded.
#[derive(Debug, Clone, Copy)]
pub struct Measured {
    pub width: u32,
    pub height: u32,
    /// Bytes per decoded pixel (3 for a JPEG, 8 for a 16-bit RGBA PNG).
    pub bytes_per_pixel: u64,
}

impl Measured {
    pub fn pixels(&self) -> u64 {
        u64::from(self.width) * u64::from(self.height)
    }

    /// Memory the whole processing may take at its peak: the decoded
    /// image, a turned copy, and the 8-bit copy the encoder works on
    /// (measured ~11 bytes a pixel for an RGBA PNG, ~9 for a JPEG).
    pub fn cost_bytes(&self) -> u64 {
        self.pixels() * (2 * self.bytes_per_pixel + 4)
    }
}

fn format_of(kind: Sniffed) -> image::ImageFormat {
    match kind {
        Sniffed::Png => image::ImageFormat::Png,
        Sniffed::Gif => image::ImageFormat::Gif,
        Sniffed::WebP => image::ImageFormat::WebP,
        _ => image::ImageFormat::Jpeg,
    }
}

/// Reads a photo's size and pixel format from its header alone.
pub fn measure(bytes: &[u8], kind: Sniffed) -> Result<Measured, ImageError> {
    let decoder = ImageReader::with_format(Cursor::new(bytes), format_of(kind)).into_decoder()?;
    let (width, height) = decoder.dimensions();
    Ok(Measured {
        width,
        height,
        bytes_per_pixel: u64::from(decoder.color_type().bytes_per_pixel()),
    })
}

/// Memory all photo processing may take at once. Each decode takes its
/// share before it starts and waits while others hold the rest, so four
/// large photos from four devices at once cannot add up past it.
pub struct Budget {
    mebibytes: std::sync::Arc<tokio::sync::Semaphore>,
    total: u32,
}

/// Why a photo was not processed now.
#[derive(Debug, thiserror::Error)]
pub enum BudgetError {
    #[error("the photo needs more memory than the server allows for one photo")]
    TooLarge,
    #[error("the server is busy with other photos")]
    Busy,
}

impl Budget {
    pub fn new(total_mib: u32) -> Self {
        let total = total_mib.max(1);
        Self {
            mebibytes: std::sync::Arc::new(tokio::sync::Semaphore::new(total as usize)),
            total,
        }
    }

    /// Waits (at most `patience`) until `bytes` of the budget are free.
    pub async fn take(
        &self,
        bytes: u64,
        patience: std::time::Duration,
    ) -> Result<tokio::sync::OwnedSemaphorePermit, BudgetError> {
        let mib = bytes.div_ceil(1024 * 1024).max(1);
        if mib > u64::from(self.total) {
            return Err(BudgetError::TooLarge);
        }
        let wait = self.mebibytes.clone().acquire_many_owned(mib as u32);
        match tokio::time::timeout(patience, wait).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(BudgetError::Busy),
        }
    }
}

pub struct Processed {
    pub full: Vec<u8>,
    pub thumb: Vec<u8>,
    pub mime: &'static str,
    pub width: u32,
    pub height: u32,
    /// The thumbnail's width and height.
    pub thumb_size: (u32, u32),
}

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("the image could not be read: {0}")]
    Decode(#[from] image::ImageError),
    #[error("the image could not be read: {0}")]
    Io(#[from] std::io::Error),
}

/// Decodes (the first frame of a GIF), applies the orientation, and
/// encodes a clean copy and a thumbnail: JPEG for photos, PNG for images
/// with transparency.
/// `max_alloc`: the most the decoder may allocate (the share of the
/// budget this photo took).
pub fn process(bytes: &[u8], kind: Sniffed, max_alloc: u64) -> Result<Processed, ImageError> {
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format_of(kind));
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(max_alloc);
    reader.limits(limits);
    let mut decoder = reader.into_decoder()?;
    let orientation = decoder.orientation()?;
    let mut img = DynamicImage::from_decoder(decoder)?;
    img.apply_orientation(orientation);
    let alpha = img.color().has_alpha();
    let thumb = if img.width().max(img.height()) > THUMB_PX {
        img.thumbnail(THUMB_PX, THUMB_PX)
    } else {
        img.clone()
    };
    let (width, height) = (img.width(), img.height());
    let thumb_size = (thumb.width(), thumb.height());
    let (full, thumb, mime) = if alpha {
        (encode_png(&img)?, encode_png(&thumb)?, "image/png")
    } else {
        (
            encode_jpeg(&img, 88)?,
            encode_jpeg(&thumb, 80)?,
            "image/jpeg",
        )
    };
    Ok(Processed {
        full,
        thumb,
        mime,
        width,
        height,
        thumb_size,
    })
}

fn encode_png(img: &DynamicImage) -> Result<Vec<u8>, ImageError> {
    let mut out = Vec::new();
    img.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)?;
    Ok(out)
}

fn encode_jpeg(img: &DynamicImage, quality: u8) -> Result<Vec<u8>, ImageError> {
    let mut out = Vec::new();
    let rgb = DynamicImage::ImageRgb8(img.to_rgb8());
    rgb.write_with_encoder(JpegEncoder::new_with_quality(&mut out, quality))?;
    Ok(out)
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// A JPEG with an EXIF block holding orientation 6 (rotate 90° to
    /// show) and a GPS position, as a phone camera writes it.
    pub fn phone_photo(width: u32, height: u32) -> Vec<u8> {
        let img = DynamicImage::ImageRgb8(image::RgbImage::from_fn(width, height, |x, _| {
            // Left half red, right half blue: shows which way it turned.
            if x < width / 2 {
                image::Rgb([220, 20, 20])
            } else {
                image::Rgb([20, 20, 220])
            }
        }));
        let plain = encode_jpeg(&img, 95).expect("encodes");
        // Little-endian TIFF: IFD0 with Orientation and a GPS IFD pointer;
        // the GPS IFD with a latitude reference and value.
        let mut tiff: Vec<u8> = b"II*\0".to_vec();
        tiff.extend(8u32.to_le_bytes());
        let entry = |tag: u16, kind: u16, count: u32, value: u32| {
            let mut e = tag.to_le_bytes().to_vec();
            e.extend(kind.to_le_bytes());
            e.extend(count.to_le_bytes());
            e.extend(value.to_le_bytes());
            e
        };
        // IFD0 at 8: 2 entries (2 + 2*12 + 4 = 30 bytes) → GPS IFD at 38.
        tiff.extend(2u16.to_le_bytes());
        tiff.extend(entry(0x0112, 3, 1, 6)); // Orientation = 6
        tiff.extend(entry(0x8825, 4, 1, 38)); // GPSInfo IFD
        tiff.extend(0u32.to_le_bytes());
        // GPS IFD at 38: 2 entries → rational data at 38 + 30 = 68.
        tiff.extend(2u16.to_le_bytes());
        tiff.extend(entry(0x0001, 2, 2, u32::from_le_bytes(*b"N\0\0\0"))); // GPSLatitudeRef
        tiff.extend(entry(0x0002, 5, 3, 68)); // GPSLatitude
        tiff.extend(0u32.to_le_bytes());
        for (num, den) in [(52u32, 1u32), (31, 1), (1234, 100)] {
            tiff.extend(num.to_le_bytes());
            tiff.extend(den.to_le_bytes());
        }
        let mut app1 = b"Exif\0\0".to_vec();
        app1.extend(tiff);
        let mut out = vec![0xFF, 0xD8, 0xFF, 0xE1];
        out.extend(((app1.len() + 2) as u16).to_be_bytes());
        out.extend(app1);
        out.extend(&plain[2..]);
        out
    }

    #[test]
    fn a_phone_photo_is_turned_upright_and_loses_its_location() {
        let photo = phone_photo(64, 32);
        assert!(
            photo.windows(4).any(|w| w == b"Exif"),
            "the fixture carries EXIF"
        );
        let out = process(&photo, Sniffed::Jpeg, u64::MAX).expect("processed");
        // Orientation 6: the 64×32 sensor image shows as 32×64.
        assert_eq!((out.width, out.height), (32, 64));
        assert_eq!(out.mime, "image/jpeg");
        assert!(!out.full.windows(4).any(|w| w == b"Exif"), "no EXIF left");
        assert!(
            !out.full.windows(2).any(|w| w == [0xFF, 0xE1]),
            "no APP1 segment"
        );
        let decoded = image::load_from_memory(&out.full)
            .expect("decodes")
            .to_rgb8();
        // Rotated 90° clockwise: the left (red) half is now on top.
        let top = decoded.get_pixel(16, 4);
        let bottom = decoded.get_pixel(16, 60);
        assert!(top[0] > 150 && top[2] < 100, "top is red: {top:?}");
        assert!(
            bottom[2] > 150 && bottom[0] < 100,
            "bottom is blue: {bottom:?}"
        );
    }

    #[test]
    fn thumbnails_fit_the_box_and_transparency_stays_png() {
        let img = DynamicImage::ImageRgba8(image::RgbaImage::from_pixel(
            2000,
            1000,
            image::Rgba([0, 0, 0, 0]),
        ));
        let png = encode_png(&img).expect("encodes");
        let out = process(&png, Sniffed::Png, u64::MAX).expect("processed");
        assert_eq!(out.mime, "image/png");
        let thumb = image::load_from_memory(&out.thumb).expect("decodes");
        assert_eq!((thumb.width(), thumb.height()), (480, 240));
    }

    #[test]
    fn a_bomb_is_measured_from_its_header_without_decoding() {
        // The header of a 12000×12000 RGB PNG (which would decode to
        // 430 MB), and a first data chunk: all `measure` may read.
        let chunk = |kind: &[u8], data: &[u8]| {
            let mut c = (data.len() as u32).to_be_bytes().to_vec();
            c.extend(kind);
            c.extend(data);
            let mut crc = flate2::Crc::new();
            crc.update(kind);
            crc.update(data);
            c.extend(crc.sum().to_be_bytes());
            c
        };
        let mut ihdr = 12_000u32.to_be_bytes().to_vec();
        ihdr.extend(12_000u32.to_be_bytes());
        ihdr.extend([8, 2, 0, 0, 0]); // 8-bit RGB
        let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
        out.extend(chunk(b"IHDR", &ihdr));
        out.extend(chunk(b"IDAT", &[0x78, 0x9c]));
        let m = measure(&out, Sniffed::Png).expect("measured");
        assert_eq!((m.width, m.height, m.bytes_per_pixel), (12_000, 12_000, 3));
        assert!(m.pixels() > MAX_PIXELS);
    }

    #[tokio::test]
    async fn the_budget_holds_decodes_back_until_there_is_room() {
        let budget = Budget::new(100);
        let wait = std::time::Duration::from_millis(50);
        let first = budget.take(60 << 20, wait).await.expect("room");
        assert!(matches!(
            budget.take(60 << 20, wait).await,
            Err(BudgetError::Busy)
        ));
        assert!(matches!(
            budget.take(101 << 20, wait).await,
            Err(BudgetError::TooLarge)
        ));
        drop(first);
        assert!(budget.take(60 << 20, wait).await.is_ok());
    }

    #[test]
    fn garbage_that_claims_to_be_an_image_is_an_error() {
        assert!(process(b"\xFF\xD8\xFFnot really a jpeg", Sniffed::Jpeg, u64::MAX).is_err());
    }
}
