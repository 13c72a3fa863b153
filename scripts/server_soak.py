"""Mixed soak of a running `ore serve` (loopback; stops by itself; Python stdlib only).

    ore serve --listen 127.0.0.1:7075 --max-array-bytes 100000000 &
    python3 scripts/server_soak.py 300 7075

Six clients call `sum` (which uses an inlined copy of `step`) in three namespaces
while another thread replaces their module every 50 ms, and a third runs into
timeouts, the array memory limit, bad modules and namespace create/delete. Every
30 s it prints the server's RSS and the counts; any unexpected status is an error.
"""
import http.client, json, threading, time, sys
DUR = float(sys.argv[1])
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 7075
stop = time.time() + DUR
errors = []
counts = {"call": 0, "reload": 0, "timeout": 0, "ns": 0, "bad": 0}
lock = threading.Lock()
def conn(): return http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
def req(c, m, p, b=None):
    c.request(m, p, json.dumps(b) if b is not None else None, {"Content-Type": "application/json"})
    r = c.getresponse(); return r.status, r.read()
def bump(k):
    with lock: counts[k] += 1
SRC = "fn step(i: i64) -> i64 {{ i * {k} }}\nfn sum(n: i64) -> i64 {{ var s = 0; var i = 0; while i < n {{ s = s + step(i); i = i + 1; }} print(s); s }}\nfn spin() {{ while true {{}} }}\nfn arr(n: i64) -> i64 {{ let a = [1; n]; len(a) }}"
def caller(idx):
    c = conn(); ns = f"s{idx % 3}"
    while time.time() < stop:
        try:
            s, b = req(c, "POST", f"/v1/namespaces/{ns}/call", {"function": "sum", "args": [100]})
            if s == 200:
                r = json.loads(b)["result"]
                if r % 4950 != 0: errors.append(("bad result", r))
                bump("call")
            elif s not in (404, 422): errors.append(("call", s, b[:200]))
        except Exception as e:
            errors.append(("call-exc", repr(e))); c = conn()
def reloader():
    c = conn(); k = 1
    while time.time() < stop:
        for i in range(3):
            s, b = req(c, "POST", f"/v1/namespaces/s{i}/modules", {"name": "m", "source": SRC.format(k=k)})
            if s != 201: errors.append(("reload", s, b[:200]))
            bump("reload")
        k = k % 7 + 1
        time.sleep(0.05)
def chaos():
    c = conn()
    while time.time() < stop:
        s, b = req(c, "POST", "/v1/namespaces/s0/call", {"function": "spin", "timeout_ms": 20})
        if s not in (408, 404, 422): errors.append(("spin", s, b[:200]))
        bump("timeout")
        s, b = req(c, "POST", "/v1/namespaces/s1/call", {"function": "arr", "args": [10**12]})
        if s not in (422, 404): errors.append(("arr", s, b[:200]))
        s, b = req(c, "POST", "/v1/namespaces/tmp/modules", {"name": "x", "source": "fn f() -> i64 { 1 }"})
        s, b = req(c, "POST", "/v1/namespaces/tmp/call", {"function": "f"})
        s, b = req(c, "DELETE", "/v1/namespaces/tmp")
        bump("ns")
        s, b = req(c, "POST", "/v1/namespaces/s2/modules", {"name": "bad", "source": "fn ( {"})
        if s != 400: errors.append(("bad", s))
        bump("bad")
def rss():
    c = conn(); s, b = req(c, "GET", "/metrics")
    for l in b.decode().splitlines():
        if l.startswith("ore_resident_memory_bytes"): return float(l.split()[1]) / 2**20
threads = [threading.Thread(target=caller, args=(i,)) for i in range(6)] + [threading.Thread(target=reloader), threading.Thread(target=chaos)]
for t in threads: t.start()
t0 = time.time()
while time.time() < stop:
    time.sleep(min(30, max(0.1, stop - time.time())))
    print(f"t={time.time()-t0:5.0f}s rss={rss():.1f} MiB counts={counts} errors={len(errors)}", flush=True)
for t in threads: t.join()
print("errors:", errors[:10])
