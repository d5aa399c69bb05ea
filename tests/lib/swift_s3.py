#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# swift_s3.py - a throwaway OpenStack Swift with its s3api middleware (a real AWS Signature V4
# check) on 127.0.0.1, for the S3 tests.
#
# Usage: swift_s3.py FOLDER  (a fresh, empty folder; the servers keep their data in it)
# Prints one JSON line {"endpoint","access_key","secret_key","region"} once the proxy answers
# /healthcheck, then runs until stdin closes or SIGTERM/SIGINT arrives, and stops its servers.
# Needs Debian 12's swift, swift-proxy, swift-account, swift-container and swift-object.
# It runs as the current user: no memcached, one replica, one process per server.
import getpass
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

ACCESS_KEY = 'test:tester'
SECRET_KEY = 'testing'
REGION = 'us-east-1'
BIN = '/usr/bin'


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def write(path, text):
    with open(path, 'w') as f:
        f.write(text)


def common_conf(folder, port):
    # swift_dir points the servers at our swift.conf and rings instead of /etc/swift.
    return ('[DEFAULT]\n'
            'bind_ip = 127.0.0.1\n'
            'bind_port = %d\n'
            'workers = 0\n'
            'user = %s\n'
            'swift_dir = %s\n'
            'devices = %s\n'
            'mount_check = false\n'
            'disable_fallocate = true\n'
            'log_name = swift-test\n'
            'log_level = WARNING\n'
            % (port, getpass.getuser(), folder, folder))


def write_confs(folder, ports):
    write(os.path.join(folder, 'swift.conf'),
          '[swift-hash]\n'
          'swift_hash_path_suffix = convertd-test-%d\n'
          'swift_hash_path_prefix = convertd\n'
          '[storage-policy:0]\n'
          'name = Policy-0\n'
          'default = yes\n' % os.getpid())
    for name in ('account', 'container', 'object'):
        write(os.path.join(folder, name + '-server.conf'),
              common_conf(folder, ports[name]) +
              '[pipeline:main]\n'
              'pipeline = %s-server\n'
              '[app:%s-server]\n'
              'use = egg:swift#%s\n' % (name, name, name))
    # Only what s3api needs: slo for multipart uploads, copy, tempauth for the keys. tempauth
    # insists on a cache middleware; the memcache it names listens nowhere (a refused connection
    # is a cache miss), so no memcached is needed.
    write(os.path.join(folder, 'proxy-server.conf'),
          common_conf(folder, ports['proxy']) +
          '[pipeline:main]\n'
          'pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats '
          's3api tempauth copy slo dlo proxy-logging proxy-server\n'
          '[app:proxy-server]\n'
          'use = egg:swift#proxy\n'
          'account_autocreate = true\n'
          '[filter:catch_errors]\n'
          'use = egg:swift#catch_errors\n'
          '[filter:gatekeeper]\n'
          'use = egg:swift#gatekeeper\n'
          '[filter:healthcheck]\n'
          'use = egg:swift#healthcheck\n'
          '[filter:proxy-logging]\n'
          'use = egg:swift#proxy_logging\n'
          '[filter:cache]\n'
          'use = egg:swift#memcache\n'
          'memcache_servers = 127.0.0.1:%d\n'
          '[filter:listing_formats]\n'
          'use = egg:swift#listing_formats\n'
          '[filter:s3api]\n'
          'use = egg:swift#s3api\n'
          'location = %s\n'
          's3_acl = false\n'
          '[filter:tempauth]\n'
          'use = egg:swift#tempauth\n'
          'user_test_tester = %s .admin\n'
          '[filter:copy]\n'
          'use = egg:swift#copy\n'
          '[filter:slo]\n'
          'use = egg:swift#slo\n'
          '[filter:dlo]\n'
          'use = egg:swift#dlo\n' % (ports['memcache'], REGION, SECRET_KEY))


def build_rings(folder, ports):
    for name in ('account', 'container', 'object'):
        builder = os.path.join(folder, name + '.builder')
        for args in (['create', '8', '1', '1'],
                     ['add', 'r1z1-127.0.0.1:%d/sdb1' % ports[name], '100'],
                     ['rebalance']):
            subprocess.run([os.path.join(BIN, 'swift-ring-builder'), builder] + args,
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def healthy(port):
    try:
        with urllib.request.urlopen('http://127.0.0.1:%d/healthcheck' % port, timeout=1) as r:
            return r.status == 200
    except OSError:
        return False


def answers(port):
    """A backend server answers HTTP at all (any status): it is listening and serving."""
    try:
        with urllib.request.urlopen('http://127.0.0.1:%d/' % port, timeout=1):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def main():
    if len(sys.argv) != 2:
        sys.stderr.write('usage: swift_s3.py FOLDER\n')
        return 2
    folder = os.path.abspath(sys.argv[1])
    os.makedirs(os.path.join(folder, 'sdb1'), exist_ok=True)
    ports = {name: free_port() for name in ('proxy', 'account', 'container', 'object',
                                             'memcache')}
    write_confs(folder, ports)
    build_rings(folder, ports)

    children = []
    stopping = False

    def stop(signum, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log = open(os.path.join(folder, 'servers.log'), 'w')
    try:
        for name in ('account', 'container', 'object', 'proxy'):
            conf = os.path.join(folder, name + '-server.conf')
            children.append(subprocess.Popen([os.path.join(BIN, 'swift-%s-server' % name), conf],
                                             stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                             start_new_session=True))
        deadline = time.monotonic() + 30
        # The proxy first, then every backend: a proxy that answers before the account,
        # container and object servers do turns the first requests into 503s.
        while not (healthy(ports['proxy']) and
                   all(answers(ports[n]) for n in ('account', 'container', 'object'))):
            if stopping or time.monotonic() > deadline or any(c.poll() is not None
                                                              for c in children):
                sys.stderr.write('swift_s3.py: servers did not start (see %s)\n'
                                 % os.path.join(folder, 'servers.log'))
                return 1
            time.sleep(0.1)
        print(json.dumps({'endpoint': 'http://127.0.0.1:%d' % ports['proxy'],
                          'access_key': ACCESS_KEY, 'secret_key': SECRET_KEY,
                          'region': REGION}), flush=True)
        # Until stdin closes (the test ended, even by a crash) or a signal arrives.
        while not stopping:
            try:
                ready, _, _ = select.select([sys.stdin], [], [], 0.5)
            except InterruptedError:
                continue
            if ready and not os.read(sys.stdin.fileno(), 4096):
                break
        return 0
    finally:
        for c in children:
            if c.poll() is None:
                c.terminate()
        for c in children:
            try:
                c.wait(timeout=5)
            except subprocess.TimeoutExpired:
                c.kill()
                c.wait()
        log.close()


if __name__ == '__main__':
    sys.exit(main())
