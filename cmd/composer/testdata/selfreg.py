"""A service that registers itself with the composer's registry, as a
Consul client would: a TTL check on start, a heartbeat every half second
while the control file says "beat", and a new registration when a
heartbeat answers 404 (the composer no longer knows it). Standard library
only. Environment: ADMIN (host:port), PORT, CONTROL (a file path)."""
import http.server
import json
import os
import threading
import time
import urllib.error
import urllib.request

ADMIN, PORT, CONTROL = os.environ["ADMIN"], int(os.environ["PORT"]), os.environ["CONTROL"]
ID = "quotes-%d" % PORT


def put(path, body=None):
    req = urllib.request.Request("http://%s%s" % (ADMIN, path), method="PUT",
                                 data=json.dumps(body).encode() if body is not None else b"")
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return 0


def register():
    return put("/v1/agent/service/register", {"ID": ID, "Name": "quotes", "Address": "127.0.0.1", "Port": PORT,
                                               "Tags": ["py"], "Meta": {"version": "1.0.0"},
                                               "Check": {"TTL": "2s", "Status": "passing"}})


def beat():
    while True:
        time.sleep(0.5)
        with open(CONTROL) as f:
            if f.read().strip() != "beat":
                continue
        if put("/v1/agent/check/pass/service:" + ID) == 404:
            register()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"a quote"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
while register() != 200:
    time.sleep(0.2)
threading.Thread(target=beat, daemon=True).start()
server.serve_forever()
