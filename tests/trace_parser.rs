//! Every bundled trace parses with the test kit's parser (whose own unit
//! tests run with the test kit's).

use range_action_map_testkit::trace;

#[test]
fn every_bundled_trace_parses() {
    for name in trace::PROGRAMS {
        let spaces = trace::load(trace::program_trace(name)).expect(name);
        assert!(
            !spaces.is_empty() && spaces.iter().any(|s| !s.ops.is_empty()),
            "{name}"
        );
        assert_eq!(trace::summarize(&spaces).len(), spaces.len(), "{name}");
    }
}
