# A service in Python for the mesh's end-to-end test: it answers /x (500
# while the file $FAIL_FILE exists) and publishes an event through the
# composer at POST /publish?type=T.
import json, os, sys, urllib.parse, urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, status, body=b""):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/health":
            return self.answer(200, b"ok")
        if os.path.exists(os.environ["FAIL_FILE"]):
            return self.answer(500, b"b is failing")
        self.answer(200, b"b")

    def do_POST(self):
        query = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
        event = {"specversion": "1.0", "type": query["type"][0], "subject": "7",
                 "source": "/services/someone-else", "data": {"amount": 3}}
        req = urllib.request.Request(os.environ["COMPOSER_EVENTS_URL"], data=json.dumps(event).encode(),
                                     headers={"Content-Type": "application/cloudevents+json"}, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:
                self.answer(resp.status, resp.read())
        except urllib.error.HTTPError as e:
            self.answer(e.code, e.read())

ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
