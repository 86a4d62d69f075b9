//! QR codes for links: SVG for the page, text art for the terminal.

/// `url` as an SVG QR code. The SVG only holds squares drawn by the
/// `qrcode` crate; no user text ends up in it.
pub fn qr_svg(url: &str) -> Result<String, qrcode::types::QrError> {
    let code = qrcode::QrCode::new(url.as_bytes())?;
    Ok(code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(220, 220)
        .quiet_zone(true)
        .build())
}

/// `url` as text art for the terminal.
pub fn qr_text(url: &str) -> Option<String> {
    let code = qrcode::QrCode::new(url.as_bytes()).ok()?;
    Some(
        code.render::<qrcode::render::unicode::Dense1x2>()
            // Terminals draw blocks in the (light) text colour on a dark
            // background: swap so the code keeps dark-on-light polarity.
            .dark_color(qrcode::render::unicode::Dense1x2::Light)
            .light_color(qrcode::render::unicode::Dense1x2::Dark)
            .quiet_zone(true)
            .build(),
    )
}
