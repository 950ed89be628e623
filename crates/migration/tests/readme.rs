//! The README's byte-for-byte example is what the writer produces (its code
//! example runs as a doctest of the library).

use migration::{BulkDecl, SectionState, StreamHeader, StreamWriter};

const README: &str = include_str!("../README.md");

#[derive(serde::Serialize)]
struct Icp {
    xirr: u32,
    pending_priority: u8,
    mfrr: u8,
}

/// Bytes of the annotated dump, with each line's offset checked.
fn documented_bytes() -> Vec<u8> {
    let block = README
        .split("<!-- example-stream:begin -->")
        .nth(1)
        .and_then(|s| s.split("<!-- example-stream:end -->").next())
        .expect("README has the example block");
    let mut bytes = Vec::new();
    for line in block.lines().filter(|l| l.contains('|')) {
        let (hex, _) = line.split_once('|').unwrap();
        let mut tokens = hex.split_whitespace();
        let offset = usize::from_str_radix(tokens.next().unwrap(), 16).unwrap();
        assert_eq!(offset, bytes.len(), "offset column of {line:?}");
        bytes.extend(tokens.map(|t| u8::from_str_radix(t, 16).unwrap()));
    }
    bytes
}

#[test]
fn readme_example_stream_is_byte_exact() {
    let mut h = StreamHeader::new("pseries-7.2", "7.2", "POWER9", "xics");
    h.producer = "example".into();
    h.caps.insert("cfpc".into(), 1);
    let mut w = StreamWriter::new(Vec::new(), &h).unwrap();
    let mut s = SectionState::encode(
        "icp/server",
        &Icp {
            xirr: 0x0500_0002,
            pending_priority: 5,
            mfrr: 0xff,
        },
    )
    .unwrap();
    s.push_subsection("icp/server/x", 1, &true).unwrap();
    w.write_section("icp/server", 3, 1, &s).unwrap();
    w.begin_bulk(&[BulkDecl {
        name: "ram".into(),
        instance_id: 0,
        version_id: 1,
        len: 8,
    }])
    .unwrap();
    w.bulk_data(&[0xde, 0xad, 0xbe, 0xef]).unwrap();
    w.bulk_zero(4).unwrap();
    let stream = w.finish().unwrap();
    assert_eq!(documented_bytes(), stream);
    assert_eq!(crc32fast::hash(&stream[..0x116]), 0xd1d3_2cfc);
    assert_eq!(crc32fast::hash(&stream[..0x17f]), 0x9204_9e87);
}
