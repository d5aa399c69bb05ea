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
"""ftpserver.py - a real FTP server on 127.0.0.1 for the FTP tests (pyftpdlib).

    ftpserver.py ROOT USER PASSWORD [--tls] [--log FILE]

Serves ROOT (read/write) to one user on a free port, with passive ports on 127.0.0.1.
--tls: explicit FTPS (AUTH TLS) with a self-signed certificate made with the openssl program
at start; plain logins and plain data connections are then refused, so a client that
succeeds has negotiated TLS. Prints one JSON line {"port": N} once listening and runs until
stdin closes or SIGTERM. --log FILE receives every command the server sees.
"""
import argparse
import json
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import threading

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer


def make_cert(folder):
    """A throw-away self-signed certificate and key in one PEM file."""
    key = os.path.join(folder, "key.pem")
    cert = os.path.join(folder, "cert.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-keyout", key, "-out", cert],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return cert, key


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("root")
    ap.add_argument("user")
    ap.add_argument("password")
    ap.add_argument("--tls", action="store_true")
    ap.add_argument("--log")
    args = ap.parse_args()

    if args.log:
        logging.basicConfig(filename=args.log, level=logging.DEBUG)
    else:
        logging.basicConfig(level=logging.CRITICAL)

    authorizer = DummyAuthorizer()
    authorizer.add_user(args.user, args.password, args.root, perm="elradfmwMT")
    tmp = None
    if args.tls:
        from pyftpdlib.handlers import TLS_DTPHandler, TLS_FTPHandler

        class TLSDataHandler(TLS_DTPHandler):
            # pyftpdlib 1.5.7 closes a data connection whose TLS handshake starts before
            # the transfer command, as curl's does (pyftpdlib issue #604, fixed upstream by
            # PR #612 in 1.5.8): it must stay readable while the handshake runs.
            def readable(self):
                return self._ssl_accepting or super().readable()

        tmp = tempfile.mkdtemp(prefix="ftpserver.")
        cert, key = make_cert(tmp)

        class Handler(TLS_FTPHandler):
            pass
        Handler.certfile = cert
        Handler.keyfile = key
        Handler.tls_control_required = True
        Handler.tls_data_required = True
        Handler.dtp_handler = TLSDataHandler
    else:
        class Handler(FTPHandler):
            pass
    Handler.authorizer = authorizer
    Handler.masquerade_address = "127.0.0.1"
    Handler.permit_foreign_addresses = False
    Handler.banner = "convertd test server ready"

    server = FTPServer(("127.0.0.1", 0), Handler)
    server.max_cons = 64
    port = server.socket.getsockname()[1]

    def stop(*_):
        # serve_forever(handle_exit=True) closes every connection on SystemExit.
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
    print(json.dumps({"port": port}), flush=True)
    try:
        server.serve_forever(timeout=0.2, blocking=True, handle_exit=True)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
