//! Parse/print round trips of every capability value, and robustness of the
//! parsers and the migration comparison against arbitrary input.

mod common;

use proptest::prelude::*;
use spapr_caps::value::{format_size, format_value, parse_size, parse_value};
use spapr_caps::*;

/// Every (cap, valid value).
fn cap_values() -> Vec<(CapId, u8)> {
    CapId::ALL
        .into_iter()
        .flat_map(|c| (0..=c.entry().kind.max_value()).map(move |v| (c, v)))
        .collect()
}

#[test]
fn every_value_of_every_cap_prints_and_parses_back() {
    let all = cap_values();
    assert_eq!(all.len(), 2 * 13 + 3 + 3 + 5 + 64);
    for (cap, v) in all {
        let text = format_value(cap, v);
        assert_eq!(parse_value(cap, &text), Ok(v), "{cap}={text}");
    }
}

fn mixed_case(s: &str, mask: u64) -> String {
    s.chars()
        .enumerate()
        .map(|(i, c)| {
            if mask >> (i % 64) & 1 == 1 {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect()
}

/// Ways to write a page size of 2^shift bytes that QEMU accepts.
fn size_spellings(shift: u8) -> Vec<String> {
    let bytes = 1u64 << shift;
    let mut v = vec![
        bytes.to_string(),
        format!("{bytes:#x}"),
        format!("+{bytes}"),
        format!(" {bytes}"),
    ];
    for (i, s) in ["k", "m", "g", "t", "p", "e"].iter().enumerate() {
        let sh = 10 * (i as u8 + 1);
        if shift >= sh {
            v.push(format!("{}{s}", bytes >> sh));
            v.push(format!("{}{}", bytes >> sh, s.to_uppercase()));
        } else if shift + 4 >= sh {
            // A fraction with a suffix: 2^shift = 0.5^(sh-shift) units.
            let frac = 1.0 / f64::from(1u32 << (sh - shift));
            v.push(format!("{frac}{s}"));
        }
    }
    v
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_value_round_trips(idx in 0usize..(2 * 13 + 3 + 3 + 5 + 64)) {
        let (cap, v) = cap_values()[idx];
        let text = format_value(cap, v);
        prop_assert_eq!(parse_value(cap, &text), Ok(v));
        // Printing is canonical: parse(print(v)) prints the same.
        prop_assert_eq!(format_value(cap, parse_value(cap, &text).unwrap()), text);
    }

    #[test]
    fn levels_parse_in_any_case(cap in prop::sample::select(vec![CapId::Cfpc, CapId::Sbbc, CapId::Ibs]), mask: u64, i: prop::sample::Index) {
        let CapKind::Levels(levels) = cap.entry().kind else { unreachable!() };
        let idx = i.index(levels.names.len());
        let text = mixed_case(levels.names[idx], mask);
        prop_assert_eq!(parse_value(cap, &text), Ok(idx as u8));
    }

    #[test]
    fn page_sizes_parse_in_every_spelling(shift in 0u8..=63, pick: prop::sample::Index) {
        let spellings = size_spellings(shift);
        let text = &spellings[pick.index(spellings.len())];
        prop_assert_eq!(parse_value(CapId::HptMaxPageSize, text), Ok(shift), "{}", text);
        prop_assert_eq!(parse_size(&format_size(1u64 << shift)), Some(1u64 << shift));
    }

    #[test]
    fn non_powers_of_two_are_refused(bytes in 1u64..) {
        prop_assume!(!bytes.is_power_of_two());
        let e = parse_value(CapId::HptMaxPageSize, &bytes.to_string()).unwrap_err();
        prop_assert_eq!(e.to_string(), "cap-hpt-max-page-size must be a power of 2");
    }

    #[test]
    fn bool_words(cap in prop::sample::select(CapId::ALL.into_iter().filter(|c| c.entry().kind == CapKind::Bool).collect::<Vec<_>>()),
                  word in prop::sample::select(vec!["on", "yes", "true", "y", "off", "no", "false", "n"])) {
        let v = parse_value(cap, word).unwrap();
        prop_assert_eq!(v == 1, matches!(word, "on" | "yes" | "true" | "y"));
        prop_assert_eq!(parse_value(cap, &format_value(cap, v)), Ok(v));
    }

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,40}", cap_idx in 0usize..CAP_COUNT) {
        let cap = CapId::ALL[cap_idx];
        if let Ok(v) = parse_value(cap, &text) {
            prop_assert!(cap.entry().is_valid(v));
        }
        let _ = parse_size(&text);
        if let Ok(o) = MachineOptions::parse(&text) {
            let _ = o.machine_type();
        }
    }

    #[test]
    fn arbitrary_streams_are_judged_without_panicking(
        entries in prop::collection::vec((0usize..CAP_COUNT + 2, any::<u8>()), 0..6),
        xics: bool, xive: bool, version in 0usize..40, src_cpu in 0usize..4,
    ) {
        let names: Vec<(String, u8)> = entries
            .into_iter()
            .map(|(i, v)| (CapId::ALL.get(i).map_or_else(|| format!("junk{i}"), |c| c.name().to_string()), v))
            .collect();
        let versions = machine_types();
        let machine = versions.get(version).map_or(MachineVersion::new(1, 0), |m| m.version);
        let cpu = [CpuInfo::power7(), CpuInfo::power8(), CpuInfo::power9(), CpuInfo::power10()][src_cpu].clone();
        let dst = common::eff("pseries-7.2", &CpuInfo::power9());
        let r = check_incoming(&IncomingCaps { machine, cpu: &cpu, caps: &names, controllers: ControllerSections { xics, xive } }, &dst);
        if let Ok(a) = r {
            for cap in CapId::ALL {
                prop_assert!(a.source[cap] <= dst.get(cap), "{} accepted above destination", cap);
            }
        }
    }
}
