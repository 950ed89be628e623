//! RTAS event sources: the EPOW (environmental and power warning) and
//! hot-plug event logs that the guest fetches with `check-exception`.
//!
//! A powerdown request queues an EPOW event and pulses the EPOW interrupt;
//! the guest's handler calls `check-exception` with the event-class mask,
//! gets the log (PAPR's RTAS error log, version 6, with Main-A, Main-B and
//! EPOW sections, as QEMU writes it) and, if more events are queued, the
//! interrupt is pulsed again.

use std::collections::VecDeque;

use crate::rtc::CivilTime;

/// Event classes and their `check-exception` mask bits (`1 << (31 - class)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventClass {
    /// Internal errors.
    InternalErrors = 0,
    /// Environmental and power warnings.
    Epow = 1,
    /// Dedicated hot-plug events (when the guest negotiated them).
    HotPlug = 3,
    /// I/O events.
    Io = 4,
}

impl EventClass {
    /// The class's bit in a `check-exception` event mask.
    pub fn mask(self) -> u32 {
        1 << (31 - self as u32)
    }

    /// Node name under `/event-sources`.
    pub fn node_name(self) -> &'static str {
        match self {
            Self::InternalErrors => "internal-errors",
            Self::Epow => "epow-events",
            Self::HotPlug => "hot-plug-events",
            Self::Io => "ibm,io-events",
        }
    }
}

/// Summary word bits.
const LOG_VERSION_6: u32 = 0x0600_0000;
const LOG_SEVERITY_EVENT: u32 = 0x0020_0000;
const LOG_DISPOSITION_NOT_RECOVERED: u32 = 0x0010_0000;
const LOG_OPTIONAL_PART_PRESENT: u32 = 0x0004_0000;
/// Log type of an EPOW event.
pub const LOG_TYPE_EPOW: u32 = 0x40;

/// EPOW sensor value for "system shutdown" (what a powerdown request sends).
pub const EPOW_ACTION_SYSTEM_SHUTDOWN: u8 = 3;

/// One queued event: the summary word and the extended log bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventLogEntry {
    /// First word of the RTAS error log.
    pub summary: u32,
    /// Extended log (big-endian bytes).
    pub extended: Vec<u8>,
}

impl EventLogEntry {
    /// The event's class.
    pub fn class(&self) -> EventClass {
        // Only EPOW events are produced; hot-plug would map to HotPlug.
        EventClass::Epow
    }

    /// The whole log as the guest receives it: summary, extended length,
    /// extended log.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + self.extended.len());
        out.extend_from_slice(&self.summary.to_be_bytes());
        out.extend_from_slice(&(self.extended.len() as u32).to_be_bytes());
        out.extend_from_slice(&self.extended);
        out
    }
}

fn bcd(v: u32) -> u32 {
    ((v / 10) << 4) | (v % 10)
}

fn section_header(out: &mut Vec<u8>, id: &[u8; 2], len: u16, version: u8) {
    out.extend_from_slice(id);
    out.extend_from_slice(&len.to_be_bytes());
    out.push(version);
    out.push(0); // subtype
    out.extend_from_slice(&0u16.to_be_bytes()); // creator component
}

/// Builds the EPOW "system shutdown" event a powerdown request queues.
pub fn epow_shutdown(now: &CivilTime, plid: u32) -> EventLogEntry {
    let mut x = Vec::with_capacity(16 + 48 + 24 + 20);
    // Version 6 header: valid, new log, big-endian; PowerPC platform event;
    // company "IBM\0".
    x.extend_from_slice(&[0x80 | 0x04 | 0x02, 0, 0x80 | 0x0e]);
    x.extend_from_slice(&[0; 9]);
    x.extend_from_slice(b"IBM\0");
    // Main-A ("PH"), 48 bytes.
    section_header(&mut x, b"PH", 48, 0);
    let year = now.year.max(0) as u32;
    let date =
        (bcd(year / 100) << 24) | (bcd(year % 100) << 16) | (bcd(now.month) << 8) | bcd(now.day);
    let time = (bcd(now.hour) << 24) | (bcd(now.minute) << 16) | (bcd(now.second) << 8);
    x.extend_from_slice(&date.to_be_bytes());
    x.extend_from_slice(&time.to_be_bytes());
    x.extend_from_slice(&[0; 8]);
    x.push(b'H'); // created by the hypervisor
    x.extend_from_slice(&[0; 2]);
    x.push(3); // sections: Main-A, Main-B, EPOW
    x.extend_from_slice(&[0; 4]);
    x.extend_from_slice(&[0; 8]);
    x.extend_from_slice(&plid.to_be_bytes());
    x.extend_from_slice(&[0; 4]);
    // Main-B ("UH"), 24 bytes: external environment, informational,
    // normal shutdown.
    section_header(&mut x, b"UH", 24, 0);
    x.extend_from_slice(&[0xa0, 0, 0x00, 0xd0]);
    x.extend_from_slice(&[0; 4 + 2 + 2 + 4]);
    // EPOW ("EP"), 20 bytes, version 2 (with extended modifier).
    section_header(&mut x, b"EP", 20, 2);
    x.push(EPOW_ACTION_SYSTEM_SHUTDOWN);
    x.push(1); // modifier: normal
    x.push(1); // extended modifier: partition specific
    x.push(0);
    x.extend_from_slice(&0u64.to_be_bytes());
    EventLogEntry {
        summary: LOG_VERSION_6
            | LOG_SEVERITY_EVENT
            | LOG_DISPOSITION_NOT_RECOVERED
            | LOG_OPTIONAL_PART_PRESENT
            | LOG_TYPE_EPOW,
        extended: x,
    }
}

/// The queue of events waiting for `check-exception`.
#[derive(Debug, Default, Clone)]
pub struct EventQueue {
    pending: VecDeque<EventLogEntry>,
    next_plid: u32,
}

/// Most events kept; a guest that never fetches them cannot grow the queue
/// without bound (QEMU has no limit).
pub const MAX_PENDING_EVENTS: usize = 64;

impl EventQueue {
    /// Queues a powerdown (EPOW shutdown) event; false if the queue is full.
    pub fn push_powerdown(&mut self, now: &CivilTime) -> bool {
        if self.pending.len() >= MAX_PENDING_EVENTS {
            return false;
        }
        let plid = self.next_plid;
        self.next_plid = self.next_plid.wrapping_add(1);
        self.pending.push_back(epow_shutdown(now, plid));
        true
    }

    /// Removes the first event whose class is in `mask`.
    pub fn take(&mut self, mask: u32) -> Option<EventLogEntry> {
        let i = self
            .pending
            .iter()
            .position(|e| e.class().mask() & mask != 0)?;
        self.pending.remove(i)
    }

    /// Whether an event of a class in `mask` is queued.
    pub fn contains(&self, mask: u32) -> bool {
        self.pending.iter().any(|e| e.class().mask() & mask != 0)
    }

    /// Drops every event (machine reset).
    pub fn clear(&mut self) {
        self.pending.clear();
    }

    /// Number of queued events.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// The queued events (migration).
    pub fn entries(&self) -> impl Iterator<Item = &EventLogEntry> {
        self.pending.iter()
    }

    /// Replaces the queue (incoming migration).
    pub fn restore(&mut self, entries: Vec<EventLogEntry>, next_plid: u32) {
        self.pending = entries.into();
        self.next_plid = next_plid;
    }

    /// The next platform log id.
    pub fn next_plid(&self) -> u32 {
        self.next_plid
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> CivilTime {
        CivilTime {
            year: 2026,
            month: 11,
            day: 25,
            hour: 18,
            minute: 7,
            second: 9,
            nanos: 0,
        }
    }

    #[test]
    fn epow_log_layout() {
        let e = epow_shutdown(&now(), 5);
        assert_eq!(e.summary, 0x0634_0040);
        assert_eq!(e.extended.len(), 16 + 48 + 24 + 20);
        let b = e.to_bytes();
        assert_eq!(&b[4..8], &(108u32).to_be_bytes());
        assert_eq!(&b[8 + 12..8 + 16], b"IBM\0");
        // Main-A at 16: id, length, BCD date 2026-11-25.
        assert_eq!(&b[8 + 16..8 + 18], b"PH");
        assert_eq!(&b[8 + 24..8 + 28], &[0x20, 0x26, 0x11, 0x25]);
        assert_eq!(&b[8 + 28..8 + 32], &[0x18, 0x07, 0x09, 0x00]);
        // EPOW section: sensor value "system shutdown".
        assert_eq!(&b[8 + 88..8 + 90], b"EP");
        assert_eq!(b[8 + 96], EPOW_ACTION_SYSTEM_SHUTDOWN);
    }

    #[test]
    fn queue_filters_by_class_and_is_bounded() {
        let mut q = EventQueue::default();
        assert!(q.push_powerdown(&now()));
        assert!(!q.contains(EventClass::HotPlug.mask()));
        assert!(q.take(EventClass::HotPlug.mask()).is_none());
        assert!(q.contains(EventClass::Epow.mask()));
        assert!(q.take(0xffff_ffff).is_some());
        assert!(q.is_empty());
        for _ in 0..MAX_PENDING_EVENTS {
            assert!(q.push_powerdown(&now()));
        }
        assert!(!q.push_powerdown(&now()));
    }
}
