"""A webhook receiver for idbridge's tests: verifies every delivery with the
`standardwebhooks` package (an implementation independent of idbridge's),
answers 500 to the first FAIL_FIRST requests, and reports what it got at
GET /received."""

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook

PORT = int(os.environ["PORT"])
SECRET = os.environ["SECRET"]
FAIL_FIRST = int(os.environ.get("FAIL_FIRST", "0"))
STATE = {"calls": 0, "received": []}
LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, status, body=b""):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with LOCK:
            STATE["calls"] += 1
            if STATE["calls"] <= FAIL_FIRST:
                return self.answer(500, b"not yet")
        headers = {k: self.headers[k] for k in ("webhook-id", "webhook-timestamp", "webhook-signature")}
        try:
            Webhook(SECRET).verify(body, headers)
            verified = True
        except Exception:  # a bad signature is what the test looks for
            verified = False
        event = json.loads(body)
        with LOCK:
            STATE["received"].append({"id": event["id"], "seq": event["seq"], "type": event["type"],
                                      "webhook_id": headers["webhook-id"], "verified": verified})
        self.answer(204 if verified else 400)

    def do_GET(self):
        with LOCK:
            data = json.dumps(STATE).encode()
        self.answer(200, data)


ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
