#!/usr/bin/env python3
"""A tiny per-tenant notes app: Python stdlib only, one SQLite file per tenant.

tenement starts one copy of this per tenant with:
  PORT      listen on 127.0.0.1:$PORT
  DATA_DIR  this tenant's own directory; the database lives at $DATA_DIR/notes.db
  TENANT    (optional) the tenant id; defaults to the last component of DATA_DIR

Routes:
  GET  /health  -> 200 {"status": "ok"}
  GET  /notes   -> 200 {"tenant": ..., "pid": ..., "notes": [{"id", "text", "created_at"}, ...]}
  POST /notes   -> 201 the created note; body is JSON {"text": "..."}, a form (text=...) or plain text
  GET  /        -> an HTML page listing the notes, with a form (the form posts to / and redirects back)
"""

import html
import json
import os
import signal
import sqlite3
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

MAX_BODY = 64 * 1024  # bytes; a note is text, not a file upload
STORE = None  # set in main()
TENANT = ""


def fail(message):
    print(f"notes: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


class Store:
    """One SQLite connection shared by the request threads, serialized by a lock."""

    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()
        self.db = sqlite3.connect(path, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS notes ("
            " id INTEGER PRIMARY KEY AUTOINCREMENT,"
            " text TEXT NOT NULL,"
            " created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')))"
        )
        self.db.commit()

    def list(self):
        with self.lock:
            rows = self.db.execute("SELECT id, text, created_at FROM notes ORDER BY id").fetchall()
        return [{"id": r[0], "text": r[1], "created_at": r[2]} for r in rows]

    def add(self, text):
        with self.lock:
            cur = self.db.execute("INSERT INTO notes (text) VALUES (?)", (text,))
            self.db.commit()
            row = self.db.execute(
                "SELECT id, text, created_at FROM notes WHERE id = ?", (cur.lastrowid,)
            ).fetchone()
        return {"id": row[0], "text": row[1], "created_at": row[2]}

    def close(self):
        with self.lock:
            self.db.close()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every response sets Content-Length
    # Head and body go out in separate writes; without TCP_NODELAY, Nagle holds the
    # body until the (delayed) ACK of the head arrives: ~40 ms per keep-alive response.
    disable_nagle_algorithm = True
    server_version = "notes-py"

    # --- helpers -----------------------------------------------------------------------------

    def send(self, status, body, content_type="application/json", headers=()):
        if not isinstance(body, bytes):
            body = (json.dumps(body) + "\n").encode() if content_type == "application/json" else body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type + ("; charset=utf-8" if "json" not in content_type else ""))
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def read_text(self):
        """The note text from the request body, or None if there is none."""
        length = self.headers.get("Content-Length") or "0"
        if not length.isdigit() or int(length) > MAX_BODY:
            return None
        length = int(length)
        raw = self.rfile.read(length).decode("utf-8", errors="replace")
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype == "application/json":
            try:
                data = json.loads(raw or "null")
            except ValueError:
                return None
            text = data.get("text") if isinstance(data, dict) else None
            text = text if isinstance(text, str) else None
        elif ctype == "application/x-www-form-urlencoded":
            text = parse_qs(raw).get("text", [""])[0]
        else:
            text = raw
        text = (text or "").strip()
        return text or None

    def log_request(self, code="-", size="-"):
        print(f"{self.command} {self.path} {code}", flush=True)

    def log_message(self, format, *args):  # errors only; requests go through log_request
        print(f"notes: {format % args}", file=sys.stderr, flush=True)

    # --- routes ------------------------------------------------------------------------------

    def do_GET(self):
        path = self.path.split("?")[0]
        if path == "/health":
            self.send(200, {"status": "ok"})
        elif path == "/notes":
            self.send(200, {"tenant": TENANT, "pid": os.getpid(), "notes": STORE.list()})
        elif path == "/":
            self.send(200, render_page(STORE.list()), "text/html")
        else:
            self.send(404, {"error": "not found"})

    do_HEAD = do_GET

    def do_POST(self):
        path = self.path.split("?")[0]
        if path not in ("/notes", "/"):
            self.send(404, {"error": "not found"})
            return
        text = self.read_text()
        if text is None:
            self.close_connection = True  # the body may not have been read
            self.send(400, {"error": 'send a non-empty note: JSON {"text": "..."}, a form or plain text'})
            return
        note = STORE.add(text)
        if path == "/":  # the HTML form: back to the page
            self.send(303, b"", "text/plain", [("Location", "/")])
        else:
            self.send(201, note)


def render_page(notes):
    items = "\n".join(
        f"<li>{html.escape(n['text'])} <small>{html.escape(n['created_at'])}</small></li>" for n in notes
    )
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>notes: {html.escape(TENANT)}</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 2em auto">
<h1>notes for {html.escape(TENANT)}</h1>
<p><small>pid {os.getpid()}</small></p>
<form method="post" action="/"><input name="text" autofocus size="40"> <button>add</button></form>
<ul>
{items or "<li><em>no notes yet</em></li>"}
</ul>
</body></html>
"""


def main():
    global STORE, TENANT
    port = os.environ.get("PORT")
    data_dir = os.environ.get("DATA_DIR")
    if not port or not port.isdigit():
        fail("PORT must be set to the TCP port to listen on (tenement sets it)")
    if not data_dir:
        fail('DATA_DIR must be set, e.g. env DATA_DIR = "{data_dir}/{name}/{id}" in tenement.toml')
    os.makedirs(data_dir, exist_ok=True)
    TENANT = os.environ.get("TENANT") or os.path.basename(os.path.normpath(data_dir))
    STORE = Store(os.path.join(data_dir, "notes.db"))

    server = ThreadingHTTPServer(("127.0.0.1", int(port)), Handler)

    def stop(signum, frame):
        # shutdown() waits for serve_forever() to return, so it must run on another thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"notes listening on 127.0.0.1:{port} (db {STORE.path})", flush=True)
    server.serve_forever(poll_interval=0.1)  # how quickly a shutdown() is noticed
    server.server_close()
    STORE.close()
    print("notes stopped", flush=True)


if __name__ == "__main__":
    main()
