# SPDX-License-Identifier: MIT
# doc_client.py - the API side of bench/documents.sh in one process (keep-alive HTTP):
# create, start with the input file(s) as `file` parts of one multipart request and
# wait=true, download the result (the ZIP when there are several pages).
#   python3 doc_client.py PORT KEY MODE INFORMAT OUTFORMAT OPTIONS_JSON SAVE FILE...
# MODE: convert or combine (combine sends every FILE, in order, as its own `file` part).
# OPTIONS_JSON: converteroptions sent on start ('{"text_antialiasing":false}'), or ''.
# SAVE: path for the last downloaded file (to check what the server made).
# After one warm-up round trip it prints "ready", then does one round trip per line read on
# stdin, printing its milliseconds, until EOF (the caller alternates with its CLI runs).
# BENCH_TIMEOUT (seconds, default 600): a reply that takes longer fails the run instead of
# hanging it. Any failure: exit status 1 and one line on stderr saying where it failed.
import http.client, json, os, sys, time, uuid

port, key, mode, informat, outformat, options, save = sys.argv[1:8]
paths = sys.argv[8:]
options = json.loads(options) if options else {}
options = [(k, v if isinstance(v, str) else json.dumps(v)) for k, v in options.items()]
inputs = [(os.path.basename(p), open(p, 'rb').read()) for p in paths]
conn = http.client.HTTPConnection('127.0.0.1', int(port),
                                  timeout=float(os.environ.get('BENCH_TIMEOUT', '600')))


def call(what, method, url, body=None, headers=None):
    try:
        conn.request(method, url, body=body, headers=headers or {})
        r = conn.getresponse()
        payload = r.read()
    except (OSError, http.client.HTTPException) as e:
        sys.exit('%s: %s' % (what, str(e) or type(e).__name__))
    if r.status >= 400:
        try:
            reply = json.loads(payload)
            message = reply.get('error') or reply.get('message')
        except (ValueError, AttributeError):
            message = None
        message = message or payload[:200].decode(errors='replace')
        sys.exit('%s: HTTP %d: %s' % (what, r.status, message))
    return payload


def field(boundary, name, value):
    return ('--%s\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n'
            % (boundary, name, value)).encode()


def once():
    created = json.loads(call('create', 'POST', '/process',
                              'mode=%s&inputformat=%s&outputformat=%s' % (
                                  mode, informat, outformat),
                              {'Authorization': 'Bearer ' + key,
                               'Content-Type': 'application/x-www-form-urlencoded'}))
    path_of = lambda url: url[url.index('/', 2):]
    boundary = uuid.uuid4().hex
    # start parameters (mode, converteroptions) come before the file parts
    body = field(boundary, 'mode', mode)
    body += b''.join(field(boundary, 'converteroptions[%s]' % k, v) for k, v in options)
    for name, data in inputs:
        body += ('--%s\r\nContent-Disposition: form-data; name="file"; filename="%s"\r\n\r\n'
                 % (boundary, name)).encode() + data + b'\r\n'
    body += ('--%s--\r\n' % boundary).encode()
    status = json.loads(call('upload+wait', 'POST', path_of(created['url']) + '?wait=true',
                             body, {'Content-Type': 'multipart/form-data; boundary=' + boundary}))
    if status['step'] != 'finished':
        sys.exit('conversion ended in step %s: %s' % (status['step'], status.get('message', '')))
    return call('download', 'GET', path_of(status['output']['url']))


once()  # warm up
# Interleaved: the caller times its own baseline between our runs, so that a load that
# changes during the benchmark (a shared machine) hits both sides alike.
print('ready', flush=True)
out = None
while sys.stdin.readline():
    # the server may have closed the idle keep-alive connection meanwhile
    conn.close()
    conn.connect()
    t = time.perf_counter()
    out = once()
    print('%.0f' % ((time.perf_counter() - t) * 1000), flush=True)
if out is not None:
    with open(save, 'wb') as f:
        f.write(out)
