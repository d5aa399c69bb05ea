# SPDX-License-Identifier: MIT
# office_bridge.py - the warm LibreOffice of one convertd worker, driven over UNO.
#
# Run by converters/office.c as `/usr/bin/python3 -I -c <this text> PROFILE`: starts
# soffice.bin as its own child (killed with us through PR_SET_PDEATHSIG), connects over a
# private UNO pipe, prints {"ready":true,"soffice_pid":N} and then answers one JSON request
# line on stdin with one JSON reply line on stdout ({"ping":true} only checks the office):
#   {"in": ABS, "out": ABS, "filter": EXPORT_FILTER, "options": {"in_filter": NAME,
#    "in_filter_options": TEXT, "out_filter_options": TEXT}}  ->  {"ok":true}
#                                                           or {"ok":false,"error":TEXT}
# A document that LibreOffice cannot read is a reply, never an exit; a dead office (crash,
# kill) ends the bridge with status 3 so the worker starts a fresh one. EOF on stdin ends it
# quietly. The text is embedded into office.c at build time (office_bridge.h).

import ctypes
import json
import os
import signal
import subprocess
import sys
import time

SOFFICE = "/usr/lib/libreoffice/program/soffice.bin"
CONNECT_SECONDS = 30
PR_SET_PDEATHSIG = 1

# Written into the new profile before the first start: no macros at all, links to other
# files and URLs never followed (security.md: "never reads local files outside the job
# folder"), no update checks, no recovery data kept between jobs.
PROFILE_XCU = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry"
 xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop oor:name="MacroSecurityLevel" oor:op="fuse"><value>3</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop oor:name="DisableMacrosExecution" oor:op="fuse"><value>true</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop oor:name="BlockUntrustedRefererLinks" oor:op="fuse"><value>true</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Misc"><prop oor:name="UseDocumentSystemFileLocking" oor:op="fuse"><value>false</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Save/Document"><prop oor:name="CreateBackup" oor:op="fuse"><value>false</value></prop></item>
<item oor:path="/org.openoffice.Office.Recovery/RecoveryInfo"><prop oor:name="Enabled" oor:op="fuse"><value>false</value></prop></item>
<item oor:path="/org.openoffice.Office.Recovery/AutoSave"><prop oor:name="Enabled" oor:op="fuse"><value>false</value></prop></item>
<item oor:path="/org.openoffice.Office.Writer/Content/Update"><prop oor:name="Link" oor:op="fuse"><value>2</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Content/Update"><prop oor:name="Link" oor:op="fuse"><value>1</value></prop></item>
<item oor:path="/org.openoffice.Office.Jobs/Jobs/org.openoffice.Office.Jobs:Job['UpdateCheck']/Arguments"><prop oor:name="AutoCheckEnabled" oor:op="fuse"><value>false</value></prop></item>
</oor:items>
"""


def pdeathsig():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def start_office(profile, pipe):
    return subprocess.Popen(
        [SOFFICE, "--headless", "--invisible", "--nologo", "--norestore", "--nodefault",
         "--nolockcheck", "--nofirststartwizard",
         "-env:UserInstallation=file://" + profile,
         "--accept=pipe,name=%s;urp;StarOffice.ComponentContext" % pipe],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        close_fds=True, preexec_fn=pdeathsig)


def connect(profile):
    import uno
    from com.sun.star.connection import NoConnectException

    pipe = "convertd_office_%d_%s" % (os.getpid(), os.urandom(6).hex())
    local = uno.getComponentContext()
    resolver = local.ServiceManager.createInstanceWithContext(
        "com.sun.star.bridge.UnoUrlResolver", local)
    url = "uno:pipe,name=%s;urp;StarOffice.ComponentContext" % pipe
    proc = start_office(profile, pipe)
    deadline = time.monotonic() + CONNECT_SECONDS
    while time.monotonic() < deadline:
        status = proc.poll()
        if status == 81:
            # The first start only lays out the new profile, then asks to be restarted.
            proc = start_office(profile, pipe)
            continue
        if status is not None:
            raise RuntimeError("soffice.bin exited with status %d at start" % status)
        try:
            ctx = resolver.resolve(url)
        except NoConnectException:
            time.sleep(0.1)
            continue
        desktop = ctx.ServiceManager.createInstanceWithContext("com.sun.star.frame.Desktop", ctx)
        return proc, desktop
    proc.kill()
    raise RuntimeError("LibreOffice did not answer within %d s" % CONNECT_SECONDS)


def props(**kw):
    import uno
    out = []
    for k, v in kw.items():
        p = uno.createUnoStruct("com.sun.star.beans.PropertyValue")
        p.Name = k
        p.Value = v
        out.append(p)
    return tuple(out)


def short(e):
    text = getattr(e, "Message", None) or str(e) or type(e).__name__
    text = " ".join(text.split())
    return text[:300]


def convert(desktop, req):
    import uno
    opts = req.get("options") or {}
    load = dict(Hidden=True, ReadOnly=True, UpdateDocMode=0, MacroExecutionMode=0)
    if opts.get("in_filter"):
        load["FilterName"] = opts["in_filter"]
    if opts.get("in_filter_options"):
        load["FilterOptions"] = opts["in_filter_options"]
    doc = None
    try:
        try:
            doc = desktop.loadComponentFromURL(uno.systemPathToFileUrl(req["in"]), "_blank", 0,
                                               props(**load))
        except Exception as e:
            if alive_error(e):
                raise
            return {"ok": False, "error": "LibreOffice could not read the input: " + short(e)}
        if doc is None:
            return {"ok": False, "error": "LibreOffice could not read the input"}
        store = dict(FilterName=req["filter"], Overwrite=True)
        if opts.get("out_filter_options"):
            store["FilterOptions"] = opts["out_filter_options"]
        try:
            doc.storeToURL(uno.systemPathToFileUrl(req["out"]), props(**store))
        except Exception as e:
            if alive_error(e):
                raise
            return {"ok": False, "error": "LibreOffice could not write the output: " + short(e)}
        return {"ok": True}
    finally:
        if doc is not None:
            try:
                doc.close(True)
            except Exception:
                try:
                    doc.dispose()
                except Exception:
                    pass


def alive_error(e):
    """True for the exceptions that mean the office connection itself is gone."""
    name = type(e).__name__
    return name in ("DisposedException",) or "URP bridge" in short(e)


def main():
    if len(sys.argv) < 2 or not sys.argv[1].startswith("/"):
        sys.stderr.write("usage: office_bridge PROFILE\n")
        return 2
    profile = sys.argv[1]
    user = os.path.join(profile, "user")
    os.makedirs(user, exist_ok=True)
    xcu = os.path.join(user, "registrymodifications.xcu")
    if not os.path.exists(xcu):
        with open(xcu, "w", encoding="utf-8") as f:
            f.write(PROFILE_XCU)
    try:
        proc, desktop = connect(profile)
    except Exception as e:
        sys.stdout.write(json.dumps({"ready": False, "error": short(e)}) + "\n")
        sys.stdout.flush()
        return 3
    sys.stdout.write(json.dumps({"ready": True, "soffice_pid": proc.pid}) + "\n")
    sys.stdout.flush()
    for line in sys.stdin:
        try:
            req = json.loads(line)
            if req.get("ping"):
                # The office must still answer: a killed soffice.bin is noticed here, between
                # jobs, and the worker then starts a fresh bridge before the next document.
                desktop.getFrames().getCount()
                reply = {"ok": True}
            else:
                reply = convert(desktop, req)
        except Exception as e:
            if proc.poll() is not None or alive_error(e):
                sys.stdout.write(json.dumps({"ok": False, "error": "LibreOffice crashed on "
                                             "this document"}) + "\n")
                sys.stdout.flush()
                return 3
            reply = {"ok": False, "error": "LibreOffice failed: " + short(e)}
        if proc.poll() is not None:
            sys.stdout.write(json.dumps({"ok": False, "error": "LibreOffice crashed on this "
                                         "document"}) + "\n")
            sys.stdout.flush()
            return 3
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()
    try:
        desktop.terminate()
    except Exception:
        pass
    try:
        proc.wait(timeout=5)
    except Exception:
        proc.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
