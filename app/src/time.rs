//! Times and days as the reader sees them: in their own zone and language
//! once the page is live; in UTC, identically on the server and during
//! hydration, before that.

const DAY_MS: i64 = 86_400_000;

/// Minutes east of UTC in the reader's zone at `ts` (0 before hydration).
fn offset_ms(ts: i64, local: bool) -> i64 {
    #[cfg(feature = "hydrate")]
    if local {
        let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ts as f64));
        return -(d.get_timezone_offset() as i64) * 60_000;
    }
    let _ = (ts, local);
    0
}

/// The day `ts` falls on, as a number of days since 1970-01-01.
pub fn day(ts: i64, local: bool) -> i64 {
    (ts + offset_ms(ts, local)).div_euclid(DAY_MS)
}

/// "Today", "Yesterday", or the date in the reader's language; an ISO date
/// before hydration.
pub fn day_label(ts: i64, local: bool) -> String {
    #[cfg(feature = "hydrate")]
    if local {
        let now = js_sys::Date::now() as i64;
        let (that, today) = (day(ts, true), day(now, true));
        if that == today {
            return "Today".to_owned();
        }
        if that == today - 1 {
            return "Yesterday".to_owned();
        }
        let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ts as f64));
        let options = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&options, &"weekday".into(), &"long".into());
        let _ = js_sys::Reflect::set(&options, &"day".into(), &"numeric".into());
        let _ = js_sys::Reflect::set(&options, &"month".into(), &"long".into());
        if that / 365 != today / 365 {
            let _ = js_sys::Reflect::set(&options, &"year".into(), &"numeric".into());
        }
        return String::from(d.to_locale_date_string(&language(), &options));
    }
    let _ = local;
    let (y, m, d) = civil(ts.div_euclid(DAY_MS));
    format!("{y:04}-{m:02}-{d:02}")
}

/// The time of day, "14:05" or "2:05 PM" as the reader's language has it.
pub fn clock(ts: i64, local: bool) -> String {
    #[cfg(feature = "hydrate")]
    if local {
        let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ts as f64));
        let options = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&options, &"hour".into(), &"numeric".into());
        let _ = js_sys::Reflect::set(&options, &"minute".into(), &"2-digit".into());
        return String::from(d.to_locale_time_string_with_options(&language(), &options));
    }
    let _ = local;
    let minutes = ts.div_euclid(60_000);
    format!(
        "{:02}:{:02}",
        minutes.div_euclid(60).rem_euclid(24),
        minutes.rem_euclid(60)
    )
}

/// The reader's language, as the browser reports it, if it is a well-
/// formed language tag; else English. Some browsers report what is not
/// one (WebKitGTK under `LANG=C` says "C"), and `Intl` throws on it.
#[cfg(feature = "hydrate")]
fn language() -> String {
    leptos::prelude::window()
        .navigator()
        .language()
        .filter(|tag| well_formed_tag(tag))
        .unwrap_or_else(|| "en".to_owned())
}

/// The shape of a BCP 47 tag as `Intl` checks it: a language of 2–3 or
/// 5–8 letters, then subtags of 1–8 letters or digits.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
fn well_formed_tag(tag: &str) -> bool {
    let mut parts = tag.split('-');
    let language = parts.next().unwrap_or_default();
    let language_ok = matches!(language.len(), 2 | 3 | 5..=8)
        && language.bytes().all(|b| b.is_ascii_alphabetic());
    language_ok
        && parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// Year, month, day of a day number (days since 1970-01-01), proleptic
/// Gregorian (Howard Hinnant's algorithm).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_days_and_dates() {
        assert_eq!(day_label(0, false), "1970-01-01");
        assert_eq!(day_label(1_795_723_537_358, false), "2026-11-26");
        assert_eq!(day_label(951_782_400_000, false), "2000-02-29");
        assert_eq!(day(DAY_MS - 1, false), 0);
        assert_eq!(day(DAY_MS, false), 1);
        assert_eq!(clock(1_795_723_537_358, false), "20:05");
    }

    #[test]
    fn only_well_formed_language_tags_reach_intl() {
        for ok in ["en", "en-US", "de-CH-1996", "zh-Hant-TW", "gsw", "es-419"] {
            assert!(well_formed_tag(ok), "{ok}");
        }
        for bad in ["C", "C.UTF-8", "", "en_US", "en-", "e", "toolonglanguage"] {
            assert!(!well_formed_tag(bad), "{bad}");
        }
    }
}
