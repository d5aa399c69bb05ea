# SPDX-License-Identifier: MIT
# image_client.py - the API side of bench/image.sh and bench/video.sh in one process
# (keep-alive HTTP, no per-request process start-up, which would otherwise dominate small
# round trips): create, start with the file as a multipart upload and wait=true, download.
# Prints the median milliseconds of RUNS round trips, after one warm-up.
#   python3 image_client.py PORT KEY FILE INFORMAT OUTFORMAT RUNS [OPTIONS_JSON [SAVE]]
# RUNS=0: after the warm-up print "ready", then one round trip per line read on stdin,
# printing its milliseconds, until EOF.
# OPTIONS_JSON: converteroptions sent on start ('{"video_preset":"veryfast"}');
# SAVE: path for the last downloaded file (to check what the server made).
# BENCH_TIMEOUT (seconds, default 600): a reply that takes longer fails the run instead of
# hanging it. Any failure: exit status 1 and one line on stderr saying where it failed.
import http.client, json, os, statistics, sys, time, uuid

port, key, path, informat, outformat, runs = sys.argv[1:7]
options = json.loads(sys.argv[7]) if len(sys.argv) > 7 and sys.argv[7] else {}
options = [(k, v if isinstance(v, str) else json.dumps(v)) for k, v in options.items()]
save = sys.argv[8] if len(sys.argv) > 8 else None
data = open(path, 'rb').read()
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


def once():
    created = json.loads(call('create', 'POST', '/process', 'inputformat=%s&outputformat=%s' % (
        informat, outformat), {'Authorization': 'Bearer ' + key,
                               'Content-Type': 'application/x-www-form-urlencoded'}))
    path_of = lambda url: url[url.index('/', 2):]
    boundary = uuid.uuid4().hex
    # converteroptions are start parameters (create ignores them): fields before the file
    body = b''.join(('--%s\r\nContent-Disposition: form-data; name="converteroptions[%s]"'
                     '\r\n\r\n%s\r\n' % (boundary, k, v)).encode() for k, v in options)
    body += (('--%s\r\nContent-Disposition: form-data; name="file"; filename="in.%s"\r\n\r\n'
              % (boundary, informat)).encode() + data + ('\r\n--%s--\r\n' % boundary).encode())
    status = json.loads(call('upload+wait', 'POST', path_of(created['url']) + '?wait=true',
                             body, {'Content-Type': 'multipart/form-data; boundary=' + boundary}))
    if status['step'] != 'finished':
        sys.exit('conversion ended in step %s: %s' % (status['step'], status.get('message', '')))
    return call('download', 'GET', path_of(status['output']['url']))


once()  # warm up
if int(runs) == 0:
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
    if save and out is not None:
        with open(save, 'wb') as f:
            f.write(out)
    sys.exit(0)
times = []
for _ in range(int(runs)):
    t = time.perf_counter()
    out = once()
    times.append((time.perf_counter() - t) * 1000)
if save:
    with open(save, 'wb') as f:
        f.write(out)
print('%.0f' % statistics.median(times))
