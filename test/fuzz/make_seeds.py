#!/usr/bin/env python3
"""Writes the seed corpora of the text and HTTP fuzz targets (test/fuzz/corpus/<name>/):
HTTP/1.1 responses captured from sb-target, HTTP/2 frames captured from nghttpd (h2c, prior
knowledge) plus a few written frame by frame, and durations, thresholds, module paths and
options as scripts write them. frame and snapshot seeds come from seeds.c (the project's own
encoders); archive seeds are real `speedboat archive` outputs. Run from the repository root
after `make`:  python3 test/fuzz/make_seeds.py build
Only loopback servers that this script starts are contacted."""
import gzip, os, socket, struct, subprocess, sys, tempfile, time, shutil

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
OUT = "test/fuzz/corpus"


def put(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def read_all(s, idle=0.3):
    s.settimeout(idle)
    buf = b""
    while True:
        try:
            b = s.recv(65536)
        except socket.timeout:
            return buf
        if not b:
            return buf
        buf += b


# --- HTTP/1.1: real responses of sb-target ------------------------------------------------
def h1_seeds():
    p = subprocess.Popen([f"{BUILD}/sb-target", "--listen", "127.0.0.1:0"], stdout=subprocess.PIPE,
                         text=True)
    port = int(p.stdout.readline().split(":")[-1])
    reqs = [("get", "GET", "/"), ("gzip", "GET", "/gzip?size=40"),
            ("deflate", "GET", "/deflate?size=40"), ("br", "GET", "/br?size=40"),
            ("zstd", "GET", "/zstd?size=40"), ("chunked", "GET", "/chunked?size=90&chunk=30"),
            ("headers", "GET", "/headers?n=6"), ("status204", "GET", "/status/204"),
            ("status304", "GET", "/status/304"), ("continue", "GET", "/continue?ms=1"),
            ("early_hints", "GET", "/continue?ms=1&early=1"), ("http10", "GET", "/http10?nolen=1"),
            ("http10_len", "GET", "/http10"), ("cookies", "GET", "/cookies/set?a=1&b=2"),
            ("redirect", "GET", "/redirect?n=1"), ("basic401", "GET", "/basic-auth/u/p"),
            ("close", "GET", "/?close=1&size=20"), ("head", "HEAD", "/?size=20"),
            ("garbage", "GET", "/garbage"), ("short_body", "GET", "/close-after-headers")]
    try:
        for name, method, path in reqs:
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                      f"Accept-Encoding: gzip, deflate, br, zstd\r\n\r\n".encode())
            resp = read_all(s)
            s.close()
            flags = 1 if method == "HEAD" else 0
            put("h1", name, bytes([flags]) + resp)
            if name in ("chunked", "gzip"):  # the same, arriving 8 bytes a read
                put("h1", name + "_split8", bytes([flags | 0x30]) + resp)
    finally:
        p.terminate()
        p.wait()


# --- HTTP/2: nghttpd's frames, and hand-written ones ---------------------------------------
def frame(typ, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([typ, flags]) + struct.pack(">I", stream) + payload


def hpack_lit(name, value):  # literal without indexing, new name, no Huffman
    def s(b):
        assert len(b) < 127
        return bytes([len(b)]) + b
    return b"\x00" + s(name.encode()) + s(value.encode())


DATA, HEADERS, RST, SETTINGS, PUSH, PING, GOAWAY, WINDOW, CONT = 0, 1, 3, 4, 5, 6, 7, 8, 9
END_STREAM, END_HEADERS, ACK = 1, 4, 1


def h2_request(path, stream=1):
    block = (b"\x82\x87" + hpack_lit(":path", path) +  # :method GET, :scheme https
             hpack_lit(":authority", "example.com"))
    return frame(HEADERS, END_STREAM | END_HEADERS, stream, block)


def h2_seeds():
    srv = frame(SETTINGS, 0, 0, struct.pack(">HI", 3, 100))  # MAX_CONCURRENT_STREAMS 100
    ok = hpack_lit(":status", "200") + hpack_lit("content-type", "application/json")
    body = b'{"ok":true}'
    put("h2", "hand_ok", b"\x00" + srv + frame(HEADERS, END_HEADERS, 1, ok) +
        frame(DATA, END_STREAM, 1, body))
    put("h2", "hand_three_streams", b"\x02" + srv + b"".join(
        frame(HEADERS, END_HEADERS, i, ok) + frame(DATA, END_STREAM, i, body) for i in (1, 3, 5)))
    put("h2", "hand_interim_trailers", b"\x00" + srv +
        frame(HEADERS, END_HEADERS, 1, hpack_lit(":status", "103") + hpack_lit("link", "</a>")) +
        frame(HEADERS, END_HEADERS, 1, ok) + frame(DATA, 0, 1, body) +
        frame(HEADERS, END_STREAM | END_HEADERS, 1, hpack_lit("grpc-status", "0")))
    put("h2", "hand_continuation", b"\x00" + srv + frame(HEADERS, 0, 1, ok[:10]) +
        frame(CONT, END_HEADERS, 1, ok[10:]) + frame(DATA, END_STREAM, 1, body))
    put("h2", "hand_refused", b"\x01" + srv + frame(RST, 0, 1, struct.pack(">I", 7)) +
        frame(HEADERS, END_HEADERS | END_STREAM, 3, ok))
    put("h2", "hand_goaway", b"\x01" + srv + frame(HEADERS, END_HEADERS | END_STREAM, 1, ok) +
        frame(GOAWAY, 0, 0, struct.pack(">II", 1, 0) + b"bye"))
    put("h2", "hand_ping_window", b"\x00" + srv + frame(PING, 0, 0, b"12345678") +
        frame(WINDOW, 0, 0, struct.pack(">I", 1000)) + frame(SETTINGS, ACK, 0) +
        frame(HEADERS, END_HEADERS | END_STREAM, 1, ok))
    put("h2", "hand_gzip", b"\x00" + srv + frame(HEADERS, END_HEADERS, 1, hpack_lit(":status", "200") +
        hpack_lit("content-encoding", "gzip")) + frame(DATA, END_STREAM, 1, gzip.compress(body, mtime=0)))
    put("h2", "hand_post_split", b"\x38" + srv + frame(WINDOW, 0, 1, struct.pack(">I", 100)) +
        frame(HEADERS, END_HEADERS, 1, ok) + frame(DATA, END_STREAM, 1, body))
    if not shutil.which("nghttpd"):
        return
    d = tempfile.mkdtemp()
    with open(os.path.join(d, "index.html"), "w") as f:
        f.write("<html><body>hello</body></html>\n")
    s0 = socket.socket()
    s0.bind(("127.0.0.1", 0))
    port = s0.getsockname()[1]
    s0.close()
    p = subprocess.Popen(["nghttpd", "--no-tls", "-d", d, str(port)], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    try:
        for _ in range(50):
            try:
                s = socket.create_connection(("127.0.0.1", port))
                break
            except OSError:
                time.sleep(0.1)
        for name, paths in (("nghttpd_index", ["/index.html"]), ("nghttpd_404", ["/nope"]),
                            ("nghttpd_two", ["/index.html", "/nope"])):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(SETTINGS, 0, 0) +
                      b"".join(h2_request(pa, 1 + 2 * i) for i, pa in enumerate(paths)))
            resp = read_all(s)
            s.close()
            put("h2", name, bytes([len(paths) - 1]) + resp)
    finally:
        p.terminate()
        p.wait()
        shutil.rmtree(d)


# --- parsers of text -----------------------------------------------------------------------
def text_seeds():
    for i, d in enumerate(["30s", "1m30s", "500ms", "1.5h", "10us", "10\u00b5s", "2d", "100",
                           "0.5", "1h2m3.5s", "90m", "1.s", ".5s", "3ns"]):
        put("duration", f"d{i}", d)
    for i, t in enumerate(["http_req_duration\np(95)<200", "http_req_failed\nrate<0.01",
                           "checks{my_tag:a b}\nrate>0.9", "http_req_duration{status:200,x:y}\navg < 200",
                           "iterations\ncount>0", "vus\nvalue==3", "http_req_duration\nmed != 2",
                           "http_req_duration\np(99.9) <= 1500", "http_reqs{name:http://x/${}}\nrate>=10",
                           "my_trend\nmax===5", "'quoted'{ 'k' : \"v\" }\nmin>-1"]):
        put("threshold", f"t{i}", t)
    for i, m in enumerate(["file:///home/u/test.js\n./lib.js", "https://jslib.k6.io/a/b.js\n../c.js",
                           "file:///a/b.js\nk6/http", "\n/abs/x.js", "file:///a/b.js\nhttps://x.y/z.js?v=1#f",
                           "https://h.io/x/y/z.js\n/root.js", "file:///a/b/c.js\n../../../../up.js",
                           "file:///a/b.js\nhttp://h/./p/../q.js", "file:///a.js\nlodash"]):
        put("modpath", f"m{i}", m)
    opts = {
        "iterations": '{"vus": 2, "iterations": 4, "thresholds": {"checks": ["rate==1"], '
                      '"http_req_duration{name:?op=cart}": ["p(95)<2000"]}}',
        "stages": '{"stages": [{"duration": "5s", "target": 20}, {"duration": "10s", "target": 20}], '
                  '"thresholds": {"http_req_duration": ["p(95)<2000"]}}',
        "per_vu": '{"scenarios": {"logins": {"executor": "per-vu-iterations", "vus": 6, '
                  '"iterations": 2}}, "thresholds": {"checks": ["rate==1"]}}',
        "arrival": '{"scenarios": {"open": {"executor": "constant-arrival-rate", "rate": 200, '
                   '"timeUnit": "1s", "duration": "30s", "preAllocatedVUs": 20, "maxVUs": 60, '
                   '"gracefulStop": "5s", "tags": {"kind": "open"}, "env": {"WHO": "scenario"}}}, '
                   '"thresholds": {"http_reqs{kind:open}": ["count>5900"], "checks{kind:open}": ["rate==1"]}}',
        "ramping_arrival": '{"scenarios": {"r": {"executor": "ramping-arrival-rate", "startRate": 5, '
                           '"timeUnit": "1m", "preAllocatedVUs": 2, "stages": [{"target": 10, '
                           '"duration": "30s"}, {"target": 0, "duration": "10s"}]}}}',
        "ramping_vus": '{"scenarios": {"a": {"executor": "ramping-vus", "startVUs": 0, "stages": '
                       '[{"duration": "10s", "target": 5}], "gracefulRampDown": "0s", "exec": "fn", '
                       '"startTime": "5s"}, "b": {"executor": "shared-iterations", "vus": 3, '
                       '"iterations": 9, "maxDuration": "1m"}, "c": {"executor": "constant-vus", '
                       '"vus": 2, "duration": "3s"}}}',
        "http": '{"insecureSkipTLSVerify": true, "maxRedirects": 0, "noConnectionReuse": true, '
                '"noVUConnectionReuse": true, "userAgent": "", "batch": 5, "batchPerHost": 0, '
                '"throw": true, "hosts": {"test.k6.io": "127.0.0.1", "a.b:8080": "127.0.0.1:9090"}, '
                '"dns": {"ttl": "1m", "select": "first", "policy": "preferIPv4"}, '
                '"blockHostnames": ["*.example.com"], "tlsVersion": {"min": "tls1.2", "max": "tls1.3"}, '
                '"tlsCipherSuites": ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"]}',
        "misc": '{"vus": 10, "duration": "30s", "summaryTrendStats": ["avg", "p(99)", "max"], '
                '"summaryTimeUnit": "ms", "setupTimeout": "10s", "teardownTimeout": "5s", '
                '"noSummary": false, "discardResponseBodies": true, "minIterationDuration": "1s", '
                '"thresholds": {"http_req_duration": [{"threshold": "p(95)<300", '
                '"abortOnFail": true, "delayAbortEval": "10s"}]}, "tags": {"env": "staging"}}',
        "null": "null",
    }
    for k, v in opts.items():
        put("options", k, v)


if __name__ == "__main__":
    h1_seeds()
    h2_seeds()
    text_seeds()
