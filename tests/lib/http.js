// SPDX-License-Identifier: MIT
// http.js - raw HTTP client for the contract tests: full control of method, headers, chunked
// bodies and Expect: 100-continue; multipart/urlencoded builders; a raw-socket request.
'use strict';
const { zipNames: zipEntries } = require('./bytes');
const http = require('http');
const net = require('net');
const crypto = require('crypto');

// '//HOST/p' (protocol-relative, as the server returns) → 'http://HOST/p'.
function abs(url) {
    if (url.startsWith('//'))
        return 'http:' + url;
    return url;
}

// Flatten {a: {b: 1}, c: [1, 2]} into [['a[b]', '1'], ['c[]', '1'], ['c[]', '2']].
function flatten(obj, prefix, out) {
    out = out || [];
    for (const [k, v] of Object.entries(obj)) {
        const key = prefix ? prefix + '[' + k + ']' : k;
        if (v === undefined)
            continue;
        if (Array.isArray(v)) {
            for (const item of v) {
                if (item !== null && typeof item === 'object')
                    flatten(item, key + '[]', out);
                else
                    out.push([key + '[]', String(item)]);
            }
        } else if (v !== null && typeof v === 'object') {
            flatten(v, key, out);
        } else {
            out.push([key, v === null ? '' : String(v)]);
        }
    }
    return out;
}

// Percent-encode a key but keep brackets literal (what most clients send).
function encKey(k) {
    return encodeURIComponent(k).replace(/%5B/gi, '[').replace(/%5D/gi, ']');
}

// Object → 'a=1&b[c]=2'. true → bare flag only when the value is the symbol FLAG.
const FLAG = Symbol('flag');
function urlencode(obj) {
    const parts = [];
    for (const [k, v] of Object.entries(obj)) {
        if (v === FLAG) {
            parts.push(encKey(k));
            continue;
        }
        for (const [kk, vv] of flatten({ [k]: v }))
            parts.push(encKey(kk) + '=' + encodeURIComponent(vv));
    }
    return parts.join('&');
}

// parts: [{name, value}] fields or [{name, filename, data (Buffer|string), contentType}].
// opts.preamble: text before the first boundary (swift 1.0.x starts with "\r\n--b");
// opts.boundary. Returns {body, contentType}.
function multipart(parts, opts) {
    opts = opts || {};
    const boundary = opts.boundary || '----convertdtest' + crypto.randomBytes(8).toString('hex');
    const chunks = [];
    if (opts.preamble !== undefined)
        chunks.push(Buffer.from(opts.preamble));
    for (const p of parts) {
        let head = '--' + boundary + '\r\nContent-Disposition: form-data; name="' + p.name + '"';
        if (p.filename !== undefined)
            head += '; filename="' + p.filename + '"';
        head += '\r\n';
        if (p.contentType)
            head += 'Content-Type: ' + p.contentType + '\r\n';
        head += '\r\n';
        chunks.push(Buffer.from(head, 'utf8'));
        const data = p.data !== undefined ? p.data : p.value;
        chunks.push(Buffer.isBuffer(data) ? data : Buffer.from(String(data), 'utf8'));
        chunks.push(Buffer.from('\r\n'));
    }
    chunks.push(Buffer.from('--' + boundary + '--\r\n'));
    return { body: Buffer.concat(chunks), contentType: 'multipart/form-data; boundary=' + boundary };
}

function wrapResponse(status, statusMessage, headers, rawHeaders, body, extra) {
    return Object.assign({
        status, statusMessage, headers, rawHeaders, body,
        text() {
            return body.toString('utf8');
        },
        json() {
            try {
                return JSON.parse(body.toString('utf8'));
            } catch (e) {
                throw new Error('response ' + status + ' is not JSON: ' +
                    JSON.stringify(body.toString('utf8').slice(0, 300)));
            }
        },
    }, extra || {});
}

// One HTTP request on a fresh connection.
// opts: method, url ('http://...' or '//...'), query (object → appended, or a raw string),
// headers, and at most one body: json (object → JSON), form (object → urlencoded),
// multipart ({body, contentType} from multipart()), body (Buffer|string),
// chunks (array of Buffers sent with Transfer-Encoding: chunked and no Content-Length).
// expectContinue: send 'Expect: 100-continue' and hold the body until 100 arrives (or 3 s).
// Resolves {status, headers, body (Buffer), json(), text(), gotContinue}.
function request(opts) {
    return new Promise((resolve, reject) => {
        const u = new URL(abs(opts.url));
        if (opts.query !== undefined) {
            const q = typeof opts.query === 'string' ? opts.query : urlencode(opts.query);
            if (q)
                u.search = (u.search ? u.search.slice(1) + '&' : '') + q;
        }
        const headers = Object.assign({}, opts.headers || {});
        let body = null;
        if (opts.json !== undefined) {
            body = Buffer.from(typeof opts.json === 'string' ? opts.json : JSON.stringify(opts.json));
            if (!hasHeader(headers, 'content-type'))
                headers['Content-Type'] = 'application/json';
        } else if (opts.form !== undefined) {
            body = Buffer.from(typeof opts.form === 'string' ? opts.form : urlencode(opts.form));
            if (!hasHeader(headers, 'content-type'))
                headers['Content-Type'] = 'application/x-www-form-urlencoded';
        } else if (opts.multipart !== undefined) {
            body = opts.multipart.body;
            if (!hasHeader(headers, 'content-type'))
                headers['Content-Type'] = opts.multipart.contentType;
        } else if (opts.body !== undefined) {
            body = Buffer.isBuffer(opts.body) ? opts.body : Buffer.from(opts.body);
        }
        const chunked = Array.isArray(opts.chunks);
        if (chunked)
            headers['Transfer-Encoding'] = 'chunked';
        else if (body !== null)
            headers['Content-Length'] = body.length;
        if (opts.expectContinue)
            headers.Expect = '100-continue';
        const req = http.request({
            method: opts.method || 'GET',
            host: u.hostname,
            port: u.port || 80,
            path: opts.rawPath || (u.pathname + u.search),
            headers,
            agent: false,
            setHost: !hasHeader(headers, 'host'),
        });
        let done = false;
        let gotContinue = false;
        const timer = setTimeout(() => {
            if (!done) {
                done = true;
                req.destroy();
                reject(new Error('no response in ' + (opts.timeout || 60000) + ' ms: ' +
                    (opts.method || 'GET') + ' ' + u.href));
            }
        }, opts.timeout || 60000);
        req.on('response', (res) => {
            const parts = [];
            res.on('data', (d) => parts.push(d));
            res.on('end', () => {
                if (done)
                    return;
                done = true;
                clearTimeout(timer);
                resolve(wrapResponse(res.statusCode, res.statusMessage, res.headers,
                    res.rawHeaders, Buffer.concat(parts), { gotContinue }));
            });
            res.on('error', (e) => {
                if (!done) {
                    done = true;
                    clearTimeout(timer);
                    reject(e);
                }
            });
        });
        req.on('error', (e) => {
            // A server that answers early (413) and closes while we still send: the
            // response may already be complete; only fail when there is none.
            setTimeout(() => {
                if (!done) {
                    done = true;
                    clearTimeout(timer);
                    reject(e);
                }
            }, 200);
        });
        const sendBody = async () => {
            try {
                if (chunked) {
                    for (const c of opts.chunks) {
                        if (req.destroyed)
                            return;
                        req.write(c);
                        await new Promise((r) => setTimeout(r, opts.chunkDelay || 5));
                    }
                } else if (body !== null) {
                    req.write(body);
                }
                req.end();
            } catch (e) {
                /* the request errored; handled above */
            }
        };
        if (opts.expectContinue) {
            req.flushHeaders();
            let sent = false;
            const go = () => {
                if (!sent) {
                    sent = true;
                    sendBody();
                }
            };
            req.on('continue', () => {
                gotContinue = true;
                go();
            });
            setTimeout(() => {
                if (!done)
                    go();
            }, opts.continueTimeout || 3000);
        } else {
            sendBody();
        }
    });
}

function hasHeader(headers, name) {
    return Object.keys(headers).some((k) => k.toLowerCase() === name);
}

// PUT body as several chunks with Transfer-Encoding: chunked (no Content-Length).
function putChunked(url, data, chunkSize, headers) {
    const chunks = [];
    const size = chunkSize || 4096;
    for (let i = 0; i < data.length; i += size)
        chunks.push(data.subarray(i, i + size));
    return request({ method: 'PUT', url, chunks, headers });
}

// Send bytes as they are on a fresh socket (request line with raw UTF-8 or spaces, which
// node's http refuses) and parse the answer (Content-Length, chunked or until close).
function rawRequest(base, raw, timeout) {
    return new Promise((resolve, reject) => {
        const u = new URL(abs(base));
        const sock = net.connect(Number(u.port || 80), u.hostname);
        const parts = [];
        const timer = setTimeout(() => {
            sock.destroy();
            reject(new Error('raw request: no complete answer in time'));
        }, timeout || 30000);
        sock.on('connect', () => sock.write(Buffer.isBuffer(raw) ? raw : Buffer.from(raw, 'utf8')));
        sock.on('data', (d) => {
            parts.push(d);
            const r = parseRaw(Buffer.concat(parts), false);
            if (r) {
                clearTimeout(timer);
                sock.destroy();
                resolve(r);
            }
        });
        sock.on('error', (e) => {
            clearTimeout(timer);
            reject(e);
        });
        sock.on('end', () => {
            clearTimeout(timer);
            const r = parseRaw(Buffer.concat(parts), true);
            if (r)
                resolve(r);
            else
                reject(new Error('raw request: connection closed before a complete answer'));
        });
    });
}

// A complete HTTP/1.x response in buf (skipping 1xx), or null when more bytes are needed.
function parseRaw(buf, closed) {
    let off = 0;
    for (;;) {
        const end = buf.indexOf('\r\n\r\n', off);
        if (end < 0)
            return null;
        const head = buf.subarray(off, end).toString('latin1').split('\r\n');
        const m = /^HTTP\/1\.[01] (\d{3}) ?(.*)$/.exec(head[0]);
        if (!m)
            throw new Error('raw request: bad status line ' + JSON.stringify(head[0]));
        const status = Number(m[1]);
        const headers = {};
        for (const line of head.slice(1)) {
            const i = line.indexOf(':');
            const k = line.slice(0, i).trim().toLowerCase();
            const v = line.slice(i + 1).trim();
            headers[k] = headers[k] !== undefined ? headers[k] + ', ' + v : v;
        }
        const bodyStart = end + 4;
        if (status >= 100 && status < 200) {
            off = bodyStart;
            continue;
        }
        let body;
        if (headers['content-length'] !== undefined) {
            const len = Number(headers['content-length']);
            if (buf.length - bodyStart < len)
                return null;
            body = buf.subarray(bodyStart, bodyStart + len);
        } else if (/chunked/i.test(headers['transfer-encoding'] || '')) {
            const out = [];
            let p = bodyStart;
            for (;;) {
                const le = buf.indexOf('\r\n', p);
                if (le < 0)
                    return null;
                const n = parseInt(buf.subarray(p, le).toString('latin1'), 16);
                if (n === 0)
                    break;
                if (buf.length < le + 2 + n + 2)
                    return null;
                out.push(buf.subarray(le + 2, le + 2 + n));
                p = le + 2 + n + 2;
            }
            body = Buffer.concat(out);
        } else {
            if (!closed)
                return null;
            body = buf.subarray(bodyStart);
        }
        return wrapResponse(status, m[2], headers, null, Buffer.from(body));
    }
}

// Does a promise settle within ms? Resolves true/false without consuming its result.
function settlesWithin(promise, ms) {
    return Promise.race([
        promise.then(() => true, () => true),
        new Promise((r) => setTimeout(() => r(false), ms)),
    ]);
}

// The text a client library shows for an error body (node/php read error, then message).
function errorText(body) {
    return body.error !== undefined ? body.error : body.message;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A free TCP port on 127.0.0.1 (for servers whose URL must be known before they start).
function freePort() {
    return new Promise((resolve, reject) => {
        const s = net.createServer();
        s.on('error', reject);
        s.listen(0, '127.0.0.1', () => {
            const port = s.address().port;
            s.close(() => resolve(port));
        });
    });
}

// Minimal ZIP reader (fallback when unzip is absent): [{name, data}] in central-directory
// order; data inflated for methods 0 (stored) and 8 (deflate).
function zipRead(buf) {
    const zlib = require('zlib');
    let eocd = -1;
    for (let i = buf.length - 22; i >= Math.max(0, buf.length - 65557); i--) {
        if (buf.readUInt32LE(i) === 0x06054b50) {
            eocd = i;
            break;
        }
    }
    if (eocd < 0)
        throw new Error('not a ZIP: no end of central directory');
    const count = buf.readUInt16LE(eocd + 10);
    let p = buf.readUInt32LE(eocd + 16);
    const out = [];
    for (let i = 0; i < count; i++) {
        if (buf.readUInt32LE(p) !== 0x02014b50)
            throw new Error('bad central directory entry ' + i);
        const method = buf.readUInt16LE(p + 10);
        const csize = buf.readUInt32LE(p + 20);
        const nlen = buf.readUInt16LE(p + 28);
        const xlen = buf.readUInt16LE(p + 30);
        const clen = buf.readUInt16LE(p + 32);
        const local = buf.readUInt32LE(p + 42);
        const name = buf.subarray(p + 46, p + 46 + nlen).toString('utf8');
        if (buf.readUInt32LE(local) !== 0x04034b50)
            throw new Error('bad local header for ' + name);
        const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
        const raw = buf.subarray(start, start + csize);
        let data;
        if (method === 0)
            data = Buffer.from(raw);
        else if (method === 8)
            data = zlib.inflateRawSync(raw);
        else
            throw new Error('unsupported ZIP method ' + method + ' for ' + name);
        out.push({ name, data });
        p += 46 + nlen + xlen + clen;
    }
    return out;
}

// Entry names and contents of a ZIP buffer: with unzip (integrity test, listing, extraction)
// when installed, else with zipRead().
function unzipBuffer(buf) {
    const { execFileSync } = require('child_process');
    const fs = require('fs');
    const os = require('os');
    const path = require('path');
    let haveUnzip = true;
    try {
        execFileSync('unzip', ['-v'], { stdio: 'ignore' });
    } catch (e) {
        haveUnzip = false;
    }
    if (!haveUnzip)
        return zipRead(buf);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'convertd-zip-'));
    try {
        const file = path.join(dir, 'a.zip');
        fs.writeFileSync(file, buf);
        execFileSync('unzip', ['-tq', file], { stdio: ['ignore', 'pipe', 'pipe'] });
        const names = execFileSync('unzip', ['-Z1', file], { encoding: 'utf8' })
            .split('\n').filter((l) => l.length > 0);
        return names.map((name) => ({ name,
            data: execFileSync('unzip', ['-p', file, name.replace(/([[\]*?\\])/g, '\\$1')],
                { maxBuffer: 1 << 28 }) }));
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}


const assert = require('assert');

const JSON_TYPE = 'application/json; charset=utf-8';
const STEPS = ['input', 'wait', 'convert', 'output', 'finished', 'error'];

function show(res) {
    return res.status + ' ' + JSON.stringify(res.body.toString('utf8').slice(0, 400));
}

// An error answer: status, JSON type with charset, {"error": text, "code": status}; when a
// "message" key is also present it carries the same text (K2). Returns the parsed body.
function expectError(res, status, pattern) {
    assert.strictEqual(res.status, status, 'expected ' + status + ', got ' + show(res));
    assert.strictEqual(res.headers['content-type'], JSON_TYPE, 'error content type');
    const body = res.json();
    assert.strictEqual(body.code, status, 'code field: ' + show(res));
    const text = errorText(body);
    assert.strictEqual(typeof text, 'string', 'error text: ' + show(res));
    if (body.error !== undefined && body.message !== undefined && body.step === undefined)
        assert.strictEqual(body.message, body.error, 'error and message differ');
    if (pattern !== undefined) {
        if (pattern instanceof RegExp)
            assert.ok(pattern.test(text), 'message ' + JSON.stringify(text) + ' !~ ' + pattern);
        else
            assert.ok(text.includes(pattern),
                'message ' + JSON.stringify(text) + ' lacks ' + JSON.stringify(pattern));
    }
    return body;
}

// A failed process answer: status (400/422), the whole status object with step "error",
// a message, id/url of the process and "code"; no 2xx. Returns the body.
function expectFailedStatus(res, status, proc, pattern) {
    assert.strictEqual(res.status, status, 'expected ' + status + ', got ' + show(res));
    assert.strictEqual(res.headers['content-type'], JSON_TYPE, 'content type');
    const body = res.json();
    assert.strictEqual(body.step, 'error', 'step: ' + show(res));
    assert.strictEqual(body.code, status, 'code: ' + show(res));
    assert.strictEqual(typeof body.message, 'string');
    assert.ok(body.message.length > 0, 'empty message');
    if (body.error !== undefined)
        assert.strictEqual(body.error, body.message, 'error and message differ (K2)');
    if (proc) {
        assert.strictEqual(body.id, proc.id, 'id');
        assert.strictEqual(body.url, proc.url, 'url');
    }
    if (pattern !== undefined) {
        const ok = pattern instanceof RegExp ? pattern.test(body.message)
            : body.message.includes(pattern);
        assert.ok(ok, 'message ' + JSON.stringify(body.message) + ' does not match ' + pattern);
    }
    return body;
}

// A 2xx JSON answer: status, JSON type, no "error" key. Returns the body.
function expectJson(res, status) {
    assert.strictEqual(res.status, status || 200, 'expected ' + (status || 200) + ', got ' + show(res));
    assert.strictEqual(res.headers['content-type'], JSON_TYPE, 'content type');
    const body = res.json();
    if (body && typeof body === 'object' && !Array.isArray(body))
        assert.ok(!('error' in body), '2xx body has an error key: ' + show(res));
    return body;
}

// When the server process ended on its own (crash), a message with its log tail; else null.
function serverDied(server) {
    if (!server || !server.proc)
        return null;
    const { exitCode, signalCode } = server.proc;
    if (exitCode === null && !signalCode)
        return null;
    return 'convertd exited during the tests (code ' + exitCode + ', signal ' + signalCode +
        '); data kept in ' + server.dataDir + '; log tail:\n' +
        server.log().split('\n').slice(-30).join('\n');
}

// Stop a server started by a test file; a crash during the tests fails the after() hook
// and keeps the data folder for inspection.
async function stopServer(server) {
    if (!server)
        return;
    const died = serverDied(server);
    await server.stop();
    if (died)
        throw new Error(died);
    server.cleanup();
}

// Client for one server: create/start/status/upload with the server's key.
function api(server) {
    const base = server.base;
    const key = server.apikey;
    const c = {
        base,
        key,
        create(params, extra) {
            return request(Object.assign({ method: 'POST', url: base + '/process',
                json: Object.assign({ apikey: key }, params) }, extra || {}));
        },
        // create → body, asserting 200
        async process(params) {
            return expectJson(await c.create(params), 200);
        },
        start(proc, params, extra) {
            return request(Object.assign({ method: 'POST', url: abs(proc.url), json: params || {} },
                extra || {}));
        },
        status(proc, query, extra) {
            return request(Object.assign({ url: abs(proc.url), query }, extra || {}));
        },
        // PUT data to the started process's upload URL under name.
        put(started, name, data, extra) {
            return request(Object.assign({ method: 'PUT',
                url: abs(started.upload.url) + '/' + encodeURIComponent(name), body: data },
            extra || {}));
        },
        // create + start with base64 input and wait=true → {proc, res} (res not checked).
        async convertBase64(inputformat, outputformat, data, filename, params) {
            const proc = await c.process({ inputformat, outputformat });
            const res = await c.start(proc, Object.assign({ input: 'base64',
                file: data.toString('base64'), filename, wait: true }, params || {}));
            return { proc, res };
        },
        // The same, asserting 200 finished; returns {proc, status}.
        async convertOk(inputformat, outputformat, data, filename, params) {
            const { proc, res } = await c.convertBase64(inputformat, outputformat, data, filename,
                params);
            const status = expectJson(res, 200);
            assert.strictEqual(status.step, 'finished', 'step: ' + show(res));
            return { proc, status };
        },
        download(status, name, extra) {
            const url = abs(status.output.url) + (name ? '/' + encodeURIComponent(name) : '');
            return request(Object.assign({ url }, extra || {}));
        },
    };
    return c;
}

module.exports = {
    request, multipart, putChunked, rawRequest, urlencode, flatten, abs, FLAG,
    settlesWithin, errorText, sleep, freePort, zipEntries, zipRead, unzipBuffer,
    JSON_TYPE, STEPS, expectError, expectFailedStatus, expectJson, api, serverDied, stopServer,
};
