// SPDX-License-Identifier: MIT
// safety_util.js - helpers of the safety/engine tests: HTTP client, raw-socket requests,
// recording servers on 127.0.0.1 and ::1, crafted PNGs, a ZIP lister, worker process lookup.
'use strict';
const { crc32, pngChunk, PNG_SIG, zipNames } = require('./bytes');
const http = require('http');
const net = require('net');
const fs = require('fs');
const os = require('os');
const path = require('path');
const zlib = require('zlib');
const { execFileSync } = require('child_process');

function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
}

// '//HOST/p' (protocol-relative, as the server returns) → 'http://HOST/p'.
function abs(url) {
    if (typeof url !== 'string')
        throw new Error('not a URL: ' + JSON.stringify(url));
    return url.startsWith('//') ? 'http:' + url : url;
}

// One HTTP request. opts: {method, url, headers, body (Buffer|string|object → JSON),
// timeout ms}. Resolves {status, headers, body (Buffer), text, json (or undefined)};
// rejects on a socket error or the timeout.
function request(opts) {
    return new Promise((resolve, reject) => {
        const u = new URL(opts.url);
        const headers = Object.assign({}, opts.headers || {});
        let body = opts.body;
        if (body !== undefined && body !== null && !Buffer.isBuffer(body) && typeof body !== 'string') {
            body = JSON.stringify(body);
            if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type'))
                headers['Content-Type'] = 'application/json';
        }
        if (typeof body === 'string')
            body = Buffer.from(body, 'utf8');
        if (body)
            headers['Content-Length'] = body.length;
        const req = http.request({
            method: opts.method || 'GET', hostname: u.hostname.replace(/^\[|\]$/g, ''),
            port: u.port, path: u.pathname + u.search, headers, agent: false,
        }, (res) => {
            const chunks = [];
            res.on('data', (c) => chunks.push(c));
            res.on('error', reject);
            res.on('end', () => {
                clearTimeout(timer);
                const buf = Buffer.concat(chunks);
                const out = { status: res.statusCode, headers: res.headers, body: buf,
                    text: buf.toString('utf8') };
                try {
                    out.json = JSON.parse(out.text);
                } catch (e) { /* not JSON */ }
                resolve(out);
            });
        });
        const timer = setTimeout(() => {
            req.destroy(new Error('request timed out after ' + (opts.timeout || 20000) + ' ms: ' +
                (opts.method || 'GET') + ' ' + opts.url));
        }, opts.timeout || 20000);
        req.on('error', (e) => {
            clearTimeout(timer);
            reject(e);
        });
        req.end(body || undefined);
    });
}

function describeRes(res) {
    return res.status + ' ' + res.text.slice(0, 600);
}

// A short description for assertion messages.
function expectStatus(res, status) {
    if (res.status !== status)
        throw new Error('expected HTTP ' + status + ', got ' + describeRes(res));
    return res;
}

// API calls against one started Server (tests/lib/server.js).
class Api {
    constructor(server) {
        this.server = server;
    }

    auth() {
        return { Authorization: 'Bearer ' + this.server.apikey };
    }

    createRaw(params, headers) {
        return request({ method: 'POST', url: this.server.base + '/process',
            headers: Object.assign(this.auth(), headers || {}), body: params || {} });
    }

    // create → the 200 body (throws otherwise)
    async create(params) {
        const res = await this.createRaw(params);
        expectStatus(res, 200);
        return res.json;
    }

    start(proc, params, timeout) {
        return request({ method: 'POST', url: abs(proc.url), body: params || {}, timeout });
    }

    status(proc, wait, timeout) {
        return request({ url: abs(proc.url) + (wait ? '?wait=true' : ''), timeout });
    }

    del(proc) {
        return request({ method: 'DELETE', url: abs(proc.url) });
    }

    upload(st, name, bytes, timeout) {
        return request({ method: 'PUT', url: abs(st.upload.url) + '/' + encodeURIComponent(name),
            body: bytes, timeout });
    }

    // create + start in one go; returns {proc, res} with the start response.
    async run(createParams, startParams, timeout) {
        const proc = await this.create(createParams);
        const res = await this.start(proc, startParams, timeout);
        return { proc, res };
    }

    // Poll GET until pred(status json) or the deadline; returns the last status response.
    async pollUntil(proc, pred, ms, every) {
        const deadline = Date.now() + ms;
        let res;
        for (;;) {
            res = await this.status(proc);
            if (res.json && pred(res.json, res))
                return res;
            if (Date.now() > deadline)
                return res;
            await sleep(every || 100);
        }
    }
}

// A recording HTTP server. opts: {host ('127.0.0.1' | '::1'), port (0), routes:
// {pathname: (req, res, url) => ...}, fallback (req, res)}. Every request is recorded
// (method, url, headers, time) before the route runs; default answer 200 "ok".
function startRecorder(opts) {
    opts = opts || {};
    const requests = [];
    const server = http.createServer((req, res) => {
        requests.push({ method: req.method, url: req.url, headers: req.headers, time: Date.now() });
        const u = new URL(req.url, 'http://x');
        const route = (opts.routes || {})[u.pathname] || opts.fallback;
        if (route)
            return route(req, res, u);
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        res.end('ok');
    });
    server.keepAliveTimeout = 100;
    return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(opts.port || 0, opts.host || '127.0.0.1', () => {
            const port = server.address().port;
            const h = (opts.host || '127.0.0.1').includes(':') ? '[' + opts.host + ']' : opts.host || '127.0.0.1';
            resolve({
                server, port, requests,
                url: (p) => 'http://' + h + ':' + port + p,
                close: () => new Promise((r) => {
                    server.close(() => r());
                    if (server.closeAllConnections)
                        server.closeAllConnections();
                }),
            });
        });
    });
}

// The same recorder on 127.0.0.1 and on ::1 with one port (so 'localhost', '0.0.0.0',
// '127.1' and '[::1]' all reach it); requests of both land in one list.
async function startLoopbackRecorder(opts) {
    for (let attempt = 0; attempt < 20; attempt++) {
        const v4 = await startRecorder(Object.assign({}, opts, { host: '127.0.0.1' }));
        try {
            const v6 = await startRecorder(Object.assign({}, opts, { host: '::1', port: v4.port }));
            const requests = v4.requests;
            v6.requests.push = (...items) => requests.push(...items);
            return {
                port: v4.port, requests, v4, v6,
                url: v4.url,
                close: async () => {
                    await v4.close();
                    await v6.close();
                },
            };
        } catch (e) {
            await v4.close();
        }
    }
    throw new Error('no port free on both 127.0.0.1 and ::1');
}

// Send raw bytes on a fresh TCP connection and collect the answer. parts: array of Buffers
// or strings written in order, `gap` ms apart; writing stops at the first byte received.
// Resolves {raw (Buffer), status, headers (lower-case names), body (Buffer), closed} as soon
// as one complete response (by Content-Length) arrived, the peer closed, or `timeout` ms.
function rawRequest(port, parts, opts) {
    opts = opts || {};
    return new Promise((resolve) => {
        const sock = net.connect(port, opts.host || '127.0.0.1');
        const chunks = [];
        let done = false;
        let got = false;
        let closed = false;
        const finish = () => {
            if (done)
                return;
            done = true;
            clearTimeout(timer);
            const raw = Buffer.concat(chunks);
            const out = { raw, closed, status: 0, headers: {}, body: Buffer.alloc(0) };
            const sep = raw.indexOf('\r\n\r\n');
            if (sep >= 0) {
                const lines = raw.slice(0, sep).toString('latin1').split('\r\n');
                const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]);
                out.status = m ? Number(m[1]) : 0;
                for (const l of lines.slice(1)) {
                    const i = l.indexOf(':');
                    if (i > 0)
                        out.headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
                }
                out.body = raw.slice(sep + 4);
                try {
                    out.json = JSON.parse(out.body.toString('utf8'));
                } catch (e) { /* not JSON */ }
            }
            sock.destroy();
            resolve(out);
        };
        const complete = () => {
            const raw = Buffer.concat(chunks);
            const sep = raw.indexOf('\r\n\r\n');
            if (sep < 0)
                return false;
            const head = raw.slice(0, sep).toString('latin1');
            if (/^HTTP\/1\.[01] 100/.test(head)) {
                chunks.length = 0;
                chunks.push(raw.slice(sep + 4));
                return complete();
            }
            const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
            return m ? raw.length - sep - 4 >= Number(m[1]) : false;
        };
        const timer = setTimeout(finish, opts.timeout || 10000);
        sock.on('data', (d) => {
            got = true;
            chunks.push(d);
            if (complete())
                finish();
        });
        sock.on('error', () => { closed = true; finish(); });
        sock.on('close', () => { closed = true; finish(); });
        sock.on('connect', async () => {
            for (const p of parts) {
                if (got || done)
                    break;
                sock.write(p, () => {});
                if (opts.gap)
                    await sleep(opts.gap);
            }
        });
    });
}

// --- images -----------------------------------------------------------------------------


// A structurally valid PNG whose IHDR claims width × height (8-bit RGB) with a tiny IDAT:
// only the header is large (a "pixel bomb").
function pngBomb(width, height) {
    const ihdr = Buffer.alloc(13);
    ihdr.writeUInt32BE(width, 0);
    ihdr.writeUInt32BE(height, 4);
    ihdr[8] = 8;  // bit depth
    ihdr[9] = 2;  // colour type RGB
    ihdr[10] = 0; // compression
    ihdr[11] = 0; // filter
    ihdr[12] = 0; // interlace
    // the first scanline (filter byte + zeros) and nothing more
    const idat = zlib.deflateSync(Buffer.alloc(1 + 3 * Math.min(width, 1024)));
    return Buffer.concat([PNG_SIG, pngChunk('IHDR', ihdr), pngChunk('IDAT', idat),
        pngChunk('IEND', Buffer.alloc(0))]);
}

// A small valid w×h RGB PNG (solid grey), built in JS.
function pngSmall(width, height) {
    const ihdr = Buffer.alloc(13);
    ihdr.writeUInt32BE(width, 0);
    ihdr.writeUInt32BE(height, 4);
    ihdr[8] = 8;
    ihdr[9] = 2;
    const raw = Buffer.alloc((1 + 3 * width) * height, 0x80);
    for (let y = 0; y < height; y++)
        raw[y * (1 + 3 * width)] = 0;
    return Buffer.concat([PNG_SIG, pngChunk('IHDR', ihdr), pngChunk('IDAT', zlib.deflateSync(raw)),
        pngChunk('IEND', Buffer.alloc(0))]);
}

function tmpDir(prefix) {
    return fs.mkdtempSync(path.join(os.tmpdir(), prefix || 'convertd-safety-'));
}

function vips(args) {
    return execFileSync('vips', args, { encoding: 'utf8' });
}

function vipsheader(field, file) {
    return execFileSync('vipsheader', ['-f', field, file], { encoding: 'utf8' }).trim();
}

// --- ZIP ----------------------------------------------------------------------------------


// --- worker processes ---------------------------------------------------------------------

// PIDs of live `convertd worker` processes that belong to server pid `serverPid` (its
// children, or started with `--parent-pid serverPid`); zombies do not count.
function workerPids(serverPid) {
    const out = [];
    for (const ent of fs.readdirSync('/proc')) {
        if (!/^\d+$/.test(ent))
            continue;
        let argv;
        let stat;
        try {
            argv = fs.readFileSync('/proc/' + ent + '/cmdline', 'latin1').split('\0');
            stat = fs.readFileSync('/proc/' + ent + '/stat', 'latin1');
        } catch (e) {
            continue;
        }
        if (argv.length < 2 || !/convertd$/.test(argv[0]) || argv[1] !== 'worker')
            continue;
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        const state = fields[0];
        const ppid = Number(fields[1]);
        if (state === 'Z' || state === 'X')
            continue;
        const pp = argv.indexOf('--parent-pid');
        const claimed = pp >= 0 ? Number(argv[pp + 1]) : -1;
        if (ppid === serverPid || claimed === serverPid)
            out.push(Number(ent));
    }
    return out;
}

// --- a server whose data folder is a small tmpfs ---------------------------------------------

// Start convertd inside `unshare -rm` with a tmpfs of `size` (e.g. '8m') mounted on its data
// folder (the key is added inside the namespace). Returns an object shaped like a Server of
// tests/lib/server.js: {proc, port, host, base, apikey, dataDir, log(), stop(), cleanup()}.
// Resolves null when user+mount namespaces are not available here.
async function startTmpfsServer(opts) {
    const { spawn, spawnSync } = require('child_process');
    const crypto = require('crypto');
    const { BIN } = require('./server');
    const probe = spawnSync('unshare', ['-rm', 'sh', '-c', 'd=$(mktemp -d) && mount -t tmpfs -o size=1m tmpfs "$d" && umount "$d"; r=$?; rmdir "$d"; exit $r']);
    if (probe.status !== 0)
        return null;
    const root = tmpDir('convertd-tmpfs-');
    const dataDir = path.join(root, 'data');
    fs.mkdirSync(dataDir);
    const portFile = path.join(root, 'port');
    const logFile = path.join(root, 'server.log');
    const apikey = 'test-' + crypto.randomBytes(16).toString('hex');
    const script = 'mount -t tmpfs -o size=' + opts.size + ' tmpfs "$1" && ' +
        '"$0" keys add --key "$2" --email test@example.com --data-dir "$1" >/dev/null && ' +
        'shift 2 && exec "$0" "$@"';
    const log = fs.openSync(logFile, 'a');
    const proc = spawn('unshare', ['-rm', 'sh', '-c', script, BIN, dataDir, apikey, 'serve',
        '--listen', '127.0.0.1:0', '--port-file', portFile, '--data-dir', dataDir,
        '--workers', String(opts.workers || 1), ...(opts.args || [])], { stdio: ['ignore', log, log] });
    fs.closeSync(log);
    const exited = new Promise((resolve) => proc.on('exit', resolve));
    const readLog = () => {
        try {
            return fs.readFileSync(logFile, 'utf8');
        } catch (e) {
            return '';
        }
    };
    let port = 0;
    const deadline = Date.now() + 10000;
    while (!port && Date.now() < deadline) {
        if (proc.exitCode !== null)
            throw new Error('convertd (tmpfs) exited at start: ' + readLog());
        try {
            port = Number(fs.readFileSync(portFile, 'utf8').trim()) || 0;
        } catch (e) { /* not yet */ }
        if (!port)
            await sleep(20);
    }
    if (!port) {
        proc.kill('SIGKILL');
        throw new Error('convertd (tmpfs) wrote no port file in 10 s: ' + readLog());
    }
    return {
        proc, port, apikey, dataDir, host: '127.0.0.1:' + port, base: 'http://127.0.0.1:' + port,
        log: readLog,
        stop: async () => {
            if (proc.exitCode !== null || proc.signalCode)
                return;
            proc.kill('SIGTERM');
            const t = setTimeout(() => proc.kill('SIGKILL'), 10000);
            await exited;
            clearTimeout(t);
        },
        cleanup: () => {
            if (!process.env.CONVERTD_KEEP_DATA)
                fs.rmSync(root, { recursive: true, force: true });
        },
    };
}

module.exports = {
    startTmpfsServer,
    sleep, abs, request, expectStatus, describeRes, Api, startRecorder, startLoopbackRecorder,
    rawRequest, crc32, pngChunk, pngBomb, pngSmall, tmpDir, vips, vipsheader, zipNames, workerPids,
};
