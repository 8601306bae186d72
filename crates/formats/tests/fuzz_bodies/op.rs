//! Fuzz body for the CPIM operations' XML notation (draft sections 6-9):
//! parse; when that succeeds, serialise, parse again and require the same
//! operation; the JSON shape must round-trip too. Nothing may panic.

use cpim_formats::op::Operation;

pub fn run(data: &[u8]) {
    let Ok(op) = Operation::from_xml(data) else {
        return;
    };
    let xml = op.to_xml();
    match Operation::from_xml(xml.as_bytes()) {
        Ok(again) => assert_eq!(again, op, "XML round trip changed the operation: {xml}"),
        Err(e) => panic!("own XML output refused: {e}\n{xml}"),
    }
    let json = op.to_json().to_string();
    match Operation::from_json(json.as_bytes()) {
        Ok(again) => assert_eq!(again, op, "JSON round trip changed the operation: {json}"),
        Err(e) => panic!("own JSON output refused: {e}\n{json}"),
    }
}
