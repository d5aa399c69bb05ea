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
"""smtpsink.py - an SMTP server on 127.0.0.1 that keeps every message (aiosmtpd).

    smtpsink.py FOLDER [--auth USER PASSWORD] [--starttls]

Message N is stored as FOLDER/N.eml (the raw DATA, dots already unstuffed) after
FOLDER/N.json, one JSON line {"from", "to": [...], "tls": bool, "login": str|null}; both are
written before the server answers the final 250, so they exist when the client returns.
--auth: AUTH (PLAIN, LOGIN) with one user is required before MAIL. --starttls: a
self-signed certificate is made with the openssl program and STARTTLS is required before
any other command. Prints one JSON line {"port": N} once listening and runs until stdin
closes or SIGTERM.
"""
import argparse
import asyncio
import json
import logging
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import warnings

from aiosmtpd.smtp import SMTP, AuthResult


class Sink:
    def __init__(self, folder):
        self.folder = folder
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        base = os.path.join(self.folder, str(self.count))
        meta = {"from": envelope.mail_from, "to": list(envelope.rcpt_tos),
                "tls": session.ssl is not None,
                "login": session.auth_data if session.authenticated else None}
        with open(base + ".json", "w") as f:
            f.write(json.dumps(meta) + "\n")
        with open(base + ".tmp", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        os.rename(base + ".tmp", base + ".eml")
        return "250 OK stored"


def make_context(folder):
    key = os.path.join(folder, "key.pem")
    cert = os.path.join(folder, "cert.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-keyout", key, "-out", cert],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    return ctx


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("folder")
    ap.add_argument("--auth", nargs=2, metavar=("USER", "PASSWORD"))
    ap.add_argument("--starttls", action="store_true")
    args = ap.parse_args()
    # aiosmtpd logs its own deprecations and every refused TLS handshake (which a test
    # provokes on purpose) on "mail.log": keep the test output clean.
    logging.getLogger("mail.log").setLevel(logging.CRITICAL + 1)
    warnings.simplefilter("ignore")

    tmp = tempfile.mkdtemp(prefix="smtpsink.")
    ctx = make_context(tmp) if args.starttls else None
    handler = Sink(args.folder)

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (args.auth is not None and auth_data.login == args.auth[0].encode()
              and auth_data.password == args.auth[1].encode())
        # handled=False: aiosmtpd then answers a failure with 535 itself.
        return AuthResult(success=ok, handled=False,
                          auth_data=auth_data.login.decode() if ok else None)

    def factory():
        return SMTP(handler, hostname="sink.test", tls_context=ctx,
                    require_starttls=args.starttls,
                    auth_required=args.auth is not None,
                    auth_require_tls=args.starttls,
                    authenticator=authenticator if args.auth else None)

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    server = loop.run_until_complete(loop.create_server(factory, "127.0.0.1", 0))
    port = server.sockets[0].getsockname()[1]

    def on_stdin():
        if not sys.stdin.buffer.read1(4096):
            loop.stop()

    loop.add_signal_handler(signal.SIGTERM, loop.stop)
    loop.add_reader(sys.stdin.fileno(), on_stdin)
    print(json.dumps({"port": port}), flush=True)
    try:
        loop.run_forever()
    finally:
        server.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
