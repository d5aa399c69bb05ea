#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Copyright (c) convertd contributors
#
# Permission is hereby granted, free of charge, to any person obtaining a copy of this
# software and associated documentation files (the "Software"), to deal in the Software
# without restriction, including without limitation the rights to use, copy, modify, merge,
# publish, distribute, sublicense, and/or sell copies of the Software, and to permit persons
# to whom the Software is furnished to do so, subject to the following conditions: the above
# copyright notice and this permission notice shall be included in all copies or substantial
# portions of the Software. THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND.
"""cloudstub.py - a stand-in for the Dropbox and Google Drive upload APIs on 127.0.0.1.

    cloudstub.py ROOT TOKEN

One HTTP server on a free port answers both:
- Dropbox: POST /2/files/upload and /2/files/upload_session/{start,append_v2,finish}, mode
  "overwrite" only, files stored as ROOT/dropbox/<path>; a path under /conflict/ answers 409
  {"error_summary": "path/conflict/file/.."}.
- Google Drive: POST /upload/drive/v3/files?uploadType=resumable returns a session URI on
  this server in Location (on http://other.invalid:PORT for a file named
  "foreign-location.bin"); the PUT to it stores ROOT/gdrive/<id> and ROOT/gdrive/<id>.json
  (the metadata, the X-Upload-Content-Type as "mimeType").
A bearer token other than TOKEN gets 401 in each service's error format. Every request is
appended to ROOT/requests.log as a JSON line {"method", "path", "headers", "ascii_headers"}.
Prints one JSON line {"port": N} once listening and runs until stdin closes or SIGTERM.
"""
import argparse
import json
import os
import signal
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

FOREIGN_NAME = "foreign-location.bin"


class Stub:
    def __init__(self, root, token):
        self.root = root
        self.token = token
        self.lock = threading.Lock()
        self.dropbox_sessions = {}  # session_id -> bytearray
        self.drive_sessions = {}  # upload_id -> metadata dict
        self.port = 0


def safe_join(base, path):
    """base + an absolute slash path, refusing anything that would leave base."""
    parts = [p for p in path.split("/") if p]
    if not parts or any(p in (".", "..") for p in parts):
        return None
    return os.path.join(base, *parts)


class Handler(BaseHTTPRequestHandler):
    # HTTP/1.1: curl's "Expect: 100-continue" is answered (handle_expect_100) at once.
    protocol_version = "HTTP/1.1"
    stub = None

    def log_message(self, *args):
        pass

    def record(self):
        headers = {k: v for k, v in self.headers.items()}
        # http.server decodes header bytes as latin-1: a non-ASCII byte shows up here.
        ascii_ok = all(all(ord(c) < 128 for c in v) for v in headers.values())
        line = json.dumps({"method": self.command, "path": self.path, "headers": headers,
                           "ascii_headers": ascii_ok})
        with self.stub.lock:
            with open(os.path.join(self.stub.root, "requests.log"), "a") as f:
                f.write(line + "\n")

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        data = b""
        while len(data) < n:
            chunk = self.rfile.read(n - len(data))
            if not chunk:
                break
            data += chunk
        return data

    def reply(self, status, obj, extra=None):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def authorized(self):
        return self.headers.get("Authorization") == "Bearer " + self.stub.token

    # ---- Dropbox -------------------------------------------------------------------

    def dropbox_store(self, commit, data):
        path = commit.get("path", "")
        if commit.get("mode") != "overwrite" or commit.get("autorename") is not False:
            return self.reply(400, {"error_summary": "stub: mode must be overwrite/.."})
        if path.startswith("/conflict/"):
            return self.reply(409, {"error_summary": "path/conflict/file/..",
                                    "error": {".tag": "path"}})
        dest = safe_join(os.path.join(self.stub.root, "dropbox"), path)
        if dest is None:
            return self.reply(409, {"error_summary": "path/malformed_path/.."})
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        with open(dest, "wb") as f:
            f.write(data)
        return self.reply(200, {"path_display": path, "name": os.path.basename(path),
                                "id": "id:" + uuid.uuid4().hex, "size": len(data)})

    def dropbox(self, endpoint):
        data = self.body()
        if not self.authorized():
            return self.reply(401, {"error_summary": "invalid_access_token/..",
                                    "error": {".tag": "invalid_access_token"}})
        if self.headers.get("Content-Type") != "application/octet-stream":
            return self.reply(400, {"error_summary": "stub: bad content type/.."})
        try:
            arg = json.loads(self.headers.get("Dropbox-API-Arg", ""))
        except ValueError:
            return self.reply(400, {"error_summary": "stub: bad Dropbox-API-Arg/.."})
        if endpoint == "upload":
            return self.dropbox_store(arg, data)
        if endpoint == "upload_session/start":
            sid = uuid.uuid4().hex
            with self.stub.lock:
                self.stub.dropbox_sessions[sid] = bytearray(data)
            return self.reply(200, {"session_id": sid})
        cursor = arg.get("cursor", {})
        with self.stub.lock:
            buf = self.stub.dropbox_sessions.get(cursor.get("session_id"))
            if buf is None:
                return self.reply(409, {"error_summary": "lookup_failed/not_found/.."})
            if cursor.get("offset") != len(buf):
                return self.reply(409, {"error_summary": "lookup_failed/incorrect_offset/.."})
            buf += data
        if endpoint == "upload_session/append_v2":
            return self.reply(200, None)
        if endpoint == "upload_session/finish":
            with self.stub.lock:
                del self.stub.dropbox_sessions[cursor["session_id"]]
            return self.dropbox_store(arg.get("commit", {}), bytes(buf))
        return self.reply(404, {"error_summary": "stub: no such endpoint/.."})

    # ---- Google Drive ---------------------------------------------------------------

    def drive_error(self, code, message):
        return self.reply(code, {"error": {"code": code, "message": message,
                                           "errors": [{"message": message}]}})

    def drive_start(self):
        data = self.body()
        if not self.authorized():
            return self.drive_error(401, "Invalid Credentials")
        if not self.headers.get("Content-Type", "").startswith("application/json"):
            return self.drive_error(400, "stub: metadata must be JSON")
        try:
            meta = json.loads(data)
            length = int(self.headers["X-Upload-Content-Length"])
        except (ValueError, KeyError, TypeError):
            return self.drive_error(400, "stub: bad metadata")
        meta["mimeType"] = self.headers.get("X-Upload-Content-Type")
        uid = uuid.uuid4().hex
        with self.stub.lock:
            self.stub.drive_sessions[uid] = (meta, length)
        host = "other.invalid" if meta.get("name") == FOREIGN_NAME else "127.0.0.1"
        loc = "http://%s:%d/upload/drive/v3/files?uploadType=resumable&upload_id=%s" % (
            host, self.stub.port, uid)
        self.send_response(200)
        self.send_header("Location", loc)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def drive_put(self, uid):
        data = self.body()
        with self.stub.lock:
            sess = self.stub.drive_sessions.pop(uid, None)
        if sess is None:
            return self.drive_error(404, "stub: no such upload session")
        meta, length = sess
        if len(data) != length:
            return self.drive_error(400, "stub: length differs from X-Upload-Content-Length")
        fid = "f" + uuid.uuid4().hex[:16]
        folder = os.path.join(self.stub.root, "gdrive")
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, fid), "wb") as f:
            f.write(data)
        with open(os.path.join(folder, fid + ".json"), "w") as f:
            json.dump(meta, f)
        return self.reply(200, {"kind": "drive#file", "id": fid, "name": meta.get("name")})

    # ---- dispatch -------------------------------------------------------------------

    def do_POST(self):
        self.record()
        url = urlsplit(self.path)
        q = parse_qs(url.query)
        if url.path.startswith("/2/files/"):
            return self.dropbox(url.path[len("/2/files/"):])
        if url.path == "/upload/drive/v3/files" and q.get("uploadType") == ["resumable"] \
                and "upload_id" not in q:
            return self.drive_start()
        self.body()
        return self.reply(404, {"error": "not found"})

    def do_PUT(self):
        self.record()
        url = urlsplit(self.path)
        q = parse_qs(url.query)
        if url.path == "/upload/drive/v3/files" and "upload_id" in q:
            return self.drive_put(q["upload_id"][0])
        self.body()
        return self.reply(404, {"error": "not found"})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("root")
    ap.add_argument("token")
    args = ap.parse_args()

    stub = Stub(args.root, args.token)
    Handler.stub = stub
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    stub.port = server.server_address[1]

    def stop(*_):
        raise SystemExit(0)

    def watch_stdin():
        # os.read, not sys.stdin: a buffered reader's lock held by this daemon thread
        # makes the interpreter's shutdown abort.
        try:
            while os.read(0, 4096):
                pass
        except OSError:
            pass
        os.kill(os.getpid(), signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    threading.Thread(target=watch_stdin, daemon=True).start()
    print(json.dumps({"port": stub.port}), flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
