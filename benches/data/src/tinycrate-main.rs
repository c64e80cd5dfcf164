use std::collections::{BTreeMap, HashMap};

fn collatz(mut n: u64) -> u32 {
    let mut steps = 0;
    while n != 1 {
        n = if n % 2 == 0 { n / 2 } else { 3 * n + 1 };
        steps += 1;
    }
    steps
}

fn main() {
    let mut hist: BTreeMap<u32, u32> = BTreeMap::new();
    let mut words: HashMap<String, usize> = HashMap::new();
    for n in 1..10_000u64 {
        *hist.entry(collatz(n)).or_default() += 1;
        *words.entry(format!("w{}", n % 97)).or_default() += 1;
    }
    let best = hist.iter().max_by_key(|(_, c)| **c).unwrap();
    println!("{:?} {}", best, words.len());
}
