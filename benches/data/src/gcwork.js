// allocation-heavy: many short-lived and some long-lived objects, typed arrays, strings
let keep = [];
let total = 0;
for (let round = 0; round < 40; round++) {
  const m = new Map();
  for (let i = 0; i < 50000; i++) m.set('k' + round + '_' + i, { i, s: String(i).repeat(4), a: [i, i + 1, i + 2] });
  const buf = new Float64Array(200000 + round * 5000).map((_, j) => Math.sin(j + round));
  total += buf.reduce((x, y) => x + y, 0) + m.size;
  if (round % 5 === 0) keep.push(m); else m.clear();
  if (keep.length > 3) keep.shift();
}
console.log(Math.round(total), keep.length);
