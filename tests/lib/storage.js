// SPDX-License-Identifier: MIT
// storage.js - the real storage servers of the remote-storage tests, on 127.0.0.1:
// OpenStack Swift with s3api (tests/lib/swift_s3.py; checks Signature V4) and pyftpdlib
// (tests/lib/ftpserver.py). A small Signature V4 signer of its own gives the tests an
// independent way to create buckets and read objects.
'use strict';
const { spawn } = require('child_process');
const fs = require('fs');
const path = require('path');
const readline = require('readline');

const PYTHON = process.env.CONVERTD_PYTHON || (fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' :
    'python3');

// Run a fixture script; resolves {proc, info} with its first JSON line.
function startFixture(script, args, ms) {
    return new Promise((resolve, reject) => {
        const proc = spawn(PYTHON, [path.join(__dirname, script), ...args],
            { stdio: ['pipe', 'pipe', 'pipe'] });
        let err = '';
        proc.stderr.on('data', (d) => { err += d; });
        const timer = setTimeout(() => {
            proc.kill('SIGKILL');
            reject(new Error(script + ' did not start in ' + ms + ' ms: ' + err.slice(-500)));
        }, ms);
        const rl = readline.createInterface({ input: proc.stdout });
        rl.once('line', (line) => {
            clearTimeout(timer);
            resolve({ proc, info: JSON.parse(line) });
        });
        proc.on('exit', (code) => {
            clearTimeout(timer);
            reject(new Error(script + ' exited with ' + code + ': ' + err.slice(-500)));
        });
    });
}

function stopFixture(f) {
    if (!f || !f.proc || f.proc.exitCode !== null)
        return Promise.resolve();
    return new Promise((resolve) => {
        f.proc.removeAllListeners('exit');
        f.proc.on('exit', () => resolve());
        f.proc.stdin.end();
        setTimeout(() => f.proc.kill('SIGKILL'), 8000).unref();
    });
}

// An S3 request signed with Signature V4 (path-style), written here so the tests check the
// server's S3 client against an independent one. → fetch Response.
function s3Request(s, method, bucket, key, body) {
    const crypto = require('crypto');
    const sha = (d) => crypto.createHash('sha256').update(d).digest('hex');
    const hmac = (k, d) => crypto.createHmac('sha256', k).update(d).digest();
    const enc = (seg) => encodeURIComponent(seg).replace(/[!'()*]/g,
        (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
    const uri = '/' + bucket + (key === undefined ? '' : '/' + key.split('/').map(enc).join('/'));
    const url = new URL(s.endpoint);
    const now = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
    const day = now.slice(0, 8);
    const payload = sha(body || '');
    const headers = { host: url.host, 'x-amz-content-sha256': payload, 'x-amz-date': now };
    const signed = 'host;x-amz-content-sha256;x-amz-date';
    const canonical = [method, uri, '', 'host:' + url.host, 'x-amz-content-sha256:' + payload,
        'x-amz-date:' + now, '', signed, payload].join('\n');
    const scope = day + '/' + s.region + '/s3/aws4_request';
    const toSign = ['AWS4-HMAC-SHA256', now, scope, sha(canonical)].join('\n');
    let k = hmac('AWS4' + s.secret_key, day);
    k = hmac(hmac(hmac(k, s.region), 's3'), 'aws4_request');
    headers.authorization = 'AWS4-HMAC-SHA256 Credential=' + s.access_key + '/' + scope +
        ', SignedHeaders=' + signed + ', Signature=' + hmac(k, toSign).toString('hex');
    delete headers.host;
    return fetch(s.endpoint + uri, { method, headers, body: body || undefined });
}

async function startSwift(dir) {
    const f = await startFixture('swift_s3.py', [dir], 60000);
    const s = f.info;
    return Object.assign(f, {
        endpoint: s.endpoint, accessKey: s.access_key, secretKey: s.secret_key, region: s.region,
        // Swift's account and container servers may still be settling right after start
        // (503 "Please reduce your request rate"): try again for a while.
        async createBucket(name) {
            const until = Date.now() + 20000;
            for (;;) {
                const res = await s3Request(s, 'PUT', name);
                if (res.status < 300)
                    return;
                const text = await res.text();
                if (res.status !== 503 || Date.now() > until)
                    throw new Error('create bucket ' + name + ': ' + res.status + ' ' + text);
                await new Promise((r) => setTimeout(r, 250));
            }
        },
        async putObject(bucket, key, data) {
            const res = await s3Request(s, 'PUT', bucket, key, data);
            if (res.status >= 300)
                throw new Error('put ' + key + ': ' + res.status + ' ' + await res.text());
        },
        // → the object's size from a HEAD, or null when there is none
        async objectSize(bucket, key) {
            const res = await s3Request(s, 'HEAD', bucket, key);
            if (res.status === 404)
                return null;
            if (res.status >= 300)
                throw new Error('head ' + key + ': ' + res.status);
            return Number(res.headers.get('content-length'));
        },
        // → Buffer, or null when there is no such object
        async getObject(bucket, key) {
            const res = await s3Request(s, 'GET', bucket, key);
            if (res.status === 404)
                return null;
            if (res.status >= 300)
                throw new Error('get ' + key + ': ' + res.status + ' ' + await res.text());
            return Buffer.from(await res.arrayBuffer());
        },
    });
}

async function startFtp(root, user, password) {
    const f = await startFixture('ftpserver.py', [root, user, password], 20000);
    return Object.assign(f, { port: f.info.port });
}

// An SMTP sink keeping every message as FOLDER/N.eml + N.json; auth: [user, password].
async function startSmtp(folder, auth) {
    const f = await startFixture('smtpsink.py', [folder, ...(auth ? ['--auth', ...auth] : [])],
        20000);
    return Object.assign(f, {
        port: f.info.port,
        // [{envelope, raw}] of the messages so far, in order
        messages() {
            return fs.readdirSync(folder).filter((n) => n.endsWith('.eml'))
                .sort((a, b) => parseInt(a, 10) - parseInt(b, 10))
                .map((n) => ({
                    envelope: JSON.parse(fs.readFileSync(path.join(folder, n.replace(/eml$/, 'json')),
                        'utf8')),
                    raw: fs.readFileSync(path.join(folder, n), 'utf8'),
                }));
        },
    });
}

function havePython(module) {
    try {
        require('child_process').execFileSync(PYTHON, ['-c', 'import ' + module],
            { stdio: 'ignore' });
        return true;
    } catch (e) {
        return false;
    }
}

module.exports = { startFixture, startSwift, startFtp, startSmtp, stopFixture, havePython };
