# SPDX-License-Identifier: MIT
# image_client.py - the API side of bench/image.sh in one process (keep-alive HTTP, no
# per-request process start-up, which would otherwise dominate small round trips):
# create, start with the file as a multipart upload and wait=true, download. Prints the
# median milliseconds of RUNS round trips.
#   python3 image_client.py PORT KEY FILE INFORMAT OUTFORMAT RUNS
import http.client, json, statistics, sys, time, uuid

port, key, path, informat, outformat, runs = sys.argv[1:7]
data = open(path, 'rb').read()
conn = http.client.HTTPConnection('127.0.0.1', int(port))


def call(method, url, body=None, headers=None):
    conn.request(method, url, body=body, headers=headers or {})
    r = conn.getresponse()
    payload = r.read()
    if r.status >= 400:
        sys.exit('HTTP %d: %s' % (r.status, payload[:200]))
    return payload


def once():
    created = json.loads(call('POST', '/process', 'inputformat=%s&outputformat=%s' % (
        informat, outformat), {'Authorization': 'Bearer ' + key,
                               'Content-Type': 'application/x-www-form-urlencoded'}))
    path_of = lambda url: url[url.index('/', 2):]
    boundary = uuid.uuid4().hex
    body = (('--%s\r\nContent-Disposition: form-data; name="file"; filename="in.%s"\r\n\r\n'
             % (boundary, informat)).encode() + data + ('\r\n--%s--\r\n' % boundary).encode())
    status = json.loads(call('POST', path_of(created['url']) + '?wait=true', body,
                             {'Content-Type': 'multipart/form-data; boundary=' + boundary}))
    if status['step'] != 'finished':
        sys.exit('conversion failed: ' + status.get('message', ''))
    return len(call('GET', path_of(status['output']['url'])))


once()  # warm up
times = []
for _ in range(int(runs)):
    t = time.perf_counter()
    once()
    times.append((time.perf_counter() - t) * 1000)
print('%.0f' % statistics.median(times))
