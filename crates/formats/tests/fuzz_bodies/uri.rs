//! Fuzz body for `im:`/`pres:` URIs: parse; if that succeeds, print, parse
//! again and require the same value and the same printed form.

use cpim_formats::uri::Uri;

pub fn run(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(uri) = Uri::parse(text) else {
        return;
    };
    let printed = uri.to_string();
    match Uri::parse(&printed) {
        Ok(again) => {
            assert_eq!(again, uri, "{text:?} printed as {printed:?}");
            assert_eq!(again.to_string(), printed, "printing is not stable");
        }
        Err(error) => panic!("{text:?} printed as {printed:?}, which fails: {error}"),
    }
}
