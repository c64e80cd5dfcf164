//! Runs the unit tests of the benchmark trace parser (`benches/trace`),
//! which no bench target executes, and checks every bundled trace parses.

#[path = "../benches/trace/mod.rs"]
mod trace;

#[test]
fn every_bundled_trace_parses() {
    for name in ["python", "gcc", "java", "node", "node-gc", "cargo"] {
        let spaces = trace::load(format!("benches/data/{name}.txt")).expect(name);
        assert!(
            !spaces.is_empty() && spaces.iter().any(|s| !s.ops.is_empty()),
            "{name}"
        );
        assert_eq!(trace::summarize(&spaces).len(), spaces.len(), "{name}");
    }
}
