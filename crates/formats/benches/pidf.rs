//! PIDF parse (RFC 3863) beside its anchors, in one criterion group: a bare
//! quick-xml event loop over the same bytes (the floor: no decoding, no
//! model) and roxmltree building its tree (what a caller would otherwise
//! use). Run: `cargo bench -p cpim-formats --bench pidf`.

use cpim_formats::pidf::Presence;
use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use quick_xml::events::Event;
use quick_xml::{NsReader, Reader};
use std::hint::black_box;

/// RFC 3863 section 4.2.2, default namespace form: one tuple.
const ONE_TUPLE: &str = include_str!("../../../testdata/pidf/rfc3863_4.2.2_default_ns.xml");

/// An RPID document (RFC 4480 section 4 style) with 50 tuples, each with
/// data-model and RPID extensions, notes and a timestamp, and a person.
fn rpid_50() -> String {
    let mut xml = String::from(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf"
  xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model"
  xmlns:lt="urn:ietf:params:xml:ns:location-type"
  xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid"
  entity="pres:someone@example.com">
"#,
    );
    for i in 0..50 {
        xml.push_str(&format!(
            r#" <tuple id="t{i}">
  <status>
   <basic>{basic}</basic>
  </status>
  <dm:deviceID>urn:device:0003ba4811e{i}</dm:deviceID>
  <rpid:relationship><rpid:self/></rpid:relationship>
  <rpid:service-class><rpid:electronic/></rpid:service-class>
  <rpid:status-icon>http://example.com/icon{i}.png</rpid:status-icon>
  <contact priority="0.{p}">im:someone{i}@mobile.example.net</contact>
  <note xml:lang="en">Don't Disturb Please!</note>
  <note xml:lang="fr">Ne derangez pas, s'il vous pla&#238;t</note>
  <timestamp>2005-10-27T16:49:{s:02}Z</timestamp>
 </tuple>
"#,
            basic = if i % 3 == 0 { "closed" } else { "open" },
            p = i % 10,
            s = i % 60,
        ));
    }
    xml.push_str(
        r#" <note>I'll be in Tokyo next week</note>
 <dm:person id="p1">
  <rpid:activities from="2005-05-30T12:00:00+05:00" until="2005-05-30T17:00:00+05:00">
   <rpid:note>Far away</rpid:note>
   <rpid:away/>
  </rpid:activities>
  <rpid:mood><rpid:angry/><rpid:other>brooding</rpid:other></rpid:mood>
  <rpid:place-type><lt:residence/></rpid:place-type>
  <dm:timestamp>2005-05-30T16:09:44+05:00</dm:timestamp>
 </dm:person>
</presence>
"#,
    );
    xml
}

/// Every event of the document, nothing decoded: the least any XML parser
/// of these bytes does.
fn bare_loop(xml: &[u8]) -> usize {
    let mut reader = Reader::from_reader(xml);
    let mut events = 0;
    loop {
        match reader.read_event() {
            Ok(Event::Eof) | Err(_) => return events,
            Ok(event) => {
                black_box(&event);
                events += 1;
            }
        }
    }
}

/// The same loop with namespace resolution of every element, which any
/// namespace-aware parser pays.
fn ns_loop(xml: &[u8]) -> usize {
    let mut reader = NsReader::from_reader(xml);
    let mut events = 0;
    loop {
        match reader.read_resolved_event() {
            Ok((_, Event::Eof)) | Err(_) => return events,
            Ok(event) => {
                black_box(&event);
                events += 1;
            }
        }
    }
}

fn pidf_parse(c: &mut Criterion) {
    let rpid = rpid_50();
    // The inputs are what they claim to be.
    let parsed = Presence::parse(rpid.as_bytes()).map(|p| p.tuples.len());
    assert_eq!(parsed, Ok(50));
    assert!(Presence::parse(ONE_TUPLE.as_bytes()).is_ok());

    let mut group = c.benchmark_group("PIDF parse");
    for (name, xml) in [("1-tuple", ONE_TUPLE), ("50-tuple RPID", rpid.as_str())] {
        group.throughput(Throughput::Bytes(xml.len() as u64));
        group.bench_with_input(
            BenchmarkId::new("quick-xml bare loop", name),
            xml,
            |b, xml| b.iter(|| bare_loop(black_box(xml.as_bytes()))),
        );
        group.bench_with_input(
            BenchmarkId::new("quick-xml namespace loop", name),
            xml,
            |b, xml| b.iter(|| ns_loop(black_box(xml.as_bytes()))),
        );
        group.bench_with_input(
            BenchmarkId::new("cpim Presence::parse", name),
            xml,
            |b, xml| b.iter(|| Presence::parse(black_box(xml.as_bytes()))),
        );
        group.bench_with_input(BenchmarkId::new("roxmltree tree", name), xml, |b, xml| {
            b.iter(|| roxmltree::Document::parse(black_box(xml)).map(|d| d.descendants().count()))
        });
    }
    group.finish();
}

criterion_group!(benches, pidf_parse);

/// With `PIDF_LOOPS=N` (and `PIDF_ROW=cpim|roxmltree|floor|ns`,
/// `PIDF_INPUT=1|50`), parses one input N times and exits, for counting
/// instructions under callgrind: (Ir(N=101) - Ir(N=1)) / 100 is the cost
/// of one parse, the model's drop included.
fn main() {
    if let Ok(loops) = std::env::var("PIDF_LOOPS") {
        let loops: usize = loops.parse().unwrap_or(1);
        let rpid = rpid_50();
        let input = std::env::var("PIDF_INPUT").unwrap_or_default();
        let xml = if input == "1" {
            ONE_TUPLE
        } else {
            rpid.as_str()
        };
        let row = std::env::var("PIDF_ROW").unwrap_or_default();
        for _ in 0..loops {
            match row.as_str() {
                "roxmltree" => {
                    let doc = roxmltree::Document::parse(black_box(xml));
                    black_box(doc.map(|d| d.descendants().count()).ok());
                }
                "floor" => drop(black_box(bare_loop(black_box(xml.as_bytes())))),
                "ns" => drop(black_box(ns_loop(black_box(xml.as_bytes())))),
                _ => drop(black_box(Presence::parse(black_box(xml.as_bytes())))),
            }
        }
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
