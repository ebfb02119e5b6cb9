"""The Python service of the polyglot example: a quote on GET /, and the
users the platform welcomed, from the user.created events it receives
(CloudEvents, POST /events)."""
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

QUOTES = ["Simple is better than complex.", "Readability counts.", "Errors should never pass silently."]
welcomed = []


class Handler(BaseHTTPRequestHandler):
    def reply(self, status, body, kind="text/plain"):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/health":
            self.reply(200, "ok\n")
        elif self.path == "/welcomed":
            self.reply(200, json.dumps(welcomed), "application/json")
        else:
            self.reply(200, QUOTES[len(welcomed) % len(QUOTES)] + " (from Python)\n")

    def do_POST(self):
        if self.path != "/events":
            self.reply(404, "not found\n")
            return
        event = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        if event.get("type") == "user.created":
            welcomed.append(event["data"]["username"])
        self.reply(204, "")

    def log_message(self, fmt, *args):
        print(fmt % args, flush=True)


port = int(os.environ["PORT"])
print(f"quotes listening on 127.0.0.1:{port}", flush=True)
sys.stdout.flush()
ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
