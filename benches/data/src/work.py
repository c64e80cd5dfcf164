import json, re, collections, hashlib, itertools, random, math, statistics, textwrap, datetime, decimal
random.seed(1)
data = [{"id": i, "name": "item%d" % i, "vals": [random.random() for _ in range(20)]} for i in range(20000)]
s = json.dumps(data)
back = json.loads(s)
c = collections.Counter(re.findall(r"item(\d)", s))
h = hashlib.sha256(s.encode()).hexdigest()
big = [list(range(i % 500)) for i in range(5000)]
del big
m = statistics.mean(v for d in back for v in d["vals"])
d = sum(decimal.Decimal(i) / 7 for i in range(2000))
print(len(s), h[:16], c.most_common(2), round(m, 4), str(d)[:10], datetime.date(2024, 1, 1).isoformat())
# allocator churn: many medium/large objects created and dropped
keep = []
for r in range(200):
    blob = bytearray(random.randrange(1, 64) * 65536)
    objs = [(i, str(i) * 3) for i in range(random.randrange(1000, 30000))]
    if r % 7 == 0:
        keep.append((blob, objs))
    if len(keep) > 5:
        keep.pop(0)
print(sum(len(b) for b, _ in keep))
