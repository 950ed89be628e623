//! The partition's real-time clock: an offset from the host clock, set by
//! `-rtc base=` or the guest's `set-time-of-day`, read by `get-time-of-day`.

use std::time::{SystemTime, UNIX_EPOCH};

/// A calendar date and time (proleptic Gregorian, UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CivilTime {
    /// Year, e.g. 2026.
    pub year: i64,
    /// Month 1..=12.
    pub month: u32,
    /// Day 1..=31.
    pub day: u32,
    /// Hour 0..=23.
    pub hour: u32,
    /// Minute 0..=59.
    pub minute: u32,
    /// Second 0..=59.
    pub second: u32,
    /// Nanoseconds.
    pub nanos: u32,
}

/// Days since 1970-01-01 of a civil date (the usual era-based algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Civil date of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

impl CivilTime {
    /// Seconds since the Unix epoch (ignoring `nanos`).
    pub fn to_unix(&self) -> i64 {
        days_from_civil(self.year, self.month, self.day) * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
    }

    /// The civil time of `secs` seconds since the Unix epoch.
    pub fn from_unix(secs: i64, nanos: u32) -> Self {
        let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
        let s = secs.rem_euclid(86_400) as u32;
        Self {
            year,
            month,
            day,
            hour: s / 3600,
            minute: s / 60 % 60,
            second: s % 60,
            nanos,
        }
    }

    /// Whether each field is in its range (guest input to `set-time-of-day`).
    pub fn is_valid(&self) -> bool {
        (1..=12).contains(&self.month)
            && (1..=31).contains(&self.day)
            && self.hour < 24
            && self.minute < 60
            && self.second < 60
            && self.nanos < 1_000_000_000
    }

    /// Parses `-rtc base=` values: `utc`, `localtime` (treated as UTC: the
    /// guest clock has no time zone), `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM:SS`.
    pub fn parse_base(s: &str) -> Option<Option<Self>> {
        if s == "utc" || s == "localtime" {
            return Some(None);
        }
        let (date, time) = match s.split_once('T') {
            Some((d, t)) => (d, Some(t)),
            None => (s, None),
        };
        let mut d = date.splitn(3, '-');
        let year = d.next()?.parse().ok()?;
        let month = d.next()?.parse().ok()?;
        let day = d.next()?.parse().ok()?;
        let (hour, minute, second) = match time {
            Some(t) => {
                let mut p = t.splitn(3, ':');
                (
                    p.next()?.parse().ok()?,
                    p.next()?.parse().ok()?,
                    p.next()?.parse().ok()?,
                )
            }
            None => (0, 0, 0),
        };
        let t = Self {
            year,
            month,
            day,
            hour,
            minute,
            second,
            nanos: 0,
        };
        t.is_valid().then_some(Some(t))
    }
}

/// The guest's clock: host time plus an offset in seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rtc {
    /// Guest time minus host time, in seconds (migrated).
    pub offset: i64,
}

fn host_now() -> (i64, u32) {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    (d.as_secs() as i64, d.subsec_nanos())
}

impl Rtc {
    /// A clock starting at `base` (or at host time).
    pub fn new(base: Option<CivilTime>) -> Self {
        let offset = base.map_or(0, |b| b.to_unix() - host_now().0);
        Self { offset }
    }

    /// The guest's current time.
    pub fn now(&self) -> CivilTime {
        let (s, ns) = host_now();
        CivilTime::from_unix(s.saturating_add(self.offset), ns)
    }

    /// Sets the guest's current time.
    pub fn set(&mut self, t: &CivilTime) {
        self.offset = t.to_unix() - host_now().0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip() {
        for secs in [0i64, 951_782_400, 1_164_326_400, 4_102_444_800, -86_400] {
            let t = CivilTime::from_unix(secs, 0);
            assert!(t.is_valid());
            assert_eq!(t.to_unix(), secs);
        }
        let t = CivilTime::from_unix(1_150_502_400, 0);
        assert_eq!((t.year, t.month, t.day), (2006, 6, 17));
        let leap = CivilTime::from_unix(951_782_400, 0);
        assert_eq!((leap.year, leap.month, leap.day), (2000, 2, 29));
    }

    #[test]
    fn rtc_base_parsing() {
        let b = CivilTime::parse_base("2006-06-17").unwrap().unwrap();
        assert_eq!(b.to_unix(), 1_150_502_400);
        let b = CivilTime::parse_base("2006-06-17T01:02:03")
            .unwrap()
            .unwrap();
        assert_eq!(b.to_unix(), 1_150_502_400 + 3723);
        assert_eq!(CivilTime::parse_base("utc"), Some(None));
        assert_eq!(CivilTime::parse_base("2006-13-01"), None);
        assert_eq!(CivilTime::parse_base("bogus"), None);
        let rtc = Rtc::new(Some(CivilTime::parse_base("2006-06-17").unwrap().unwrap()));
        assert_eq!(rtc.now().year, 2006);
    }
}
