// SPDX-License-Identifier: MIT
// safety_limits.test.js - request limits (SEC-18, SEC-19, SEC-26): body and upload size, JSON
// duplicates and depth, big header blocks, the bounded queue (503) and the key rate limit (429).
'use strict';
const { expect } = require('chai');
const net = require('net');
const { startServer } = require('../lib/server');
const U = require('../lib/safety_util');

const MAX_BODY = 100000;
const MAX_UPLOAD = 50000;

function expectJsonError(res, code) {
    expect(res.status, 'status; body: ' + (res.text || res.body.toString()).slice(0, 300)).to.equal(code);
    expect(res.headers['content-type']).to.match(/^application\/json/);
    expect(res.json, 'JSON body').to.be.an('object');
    expect(res.json.code).to.equal(code);
    expect(res.json.error).to.be.a('string');
    expect(res.json.error.length).to.be.above(0);
}

// "HEAD\r\nName: value\r\n...\r\n\r\n" for a raw-socket request.
function head(lines) {
    return lines.join('\r\n') + '\r\n\r\n';
}

describe('request limits (SEC-18, SEC-19)', function () {
    this.timeout(20000);
    let server;
    let api;

    before(async function () {
        this.timeout(30000);
        server = await startServer({ workers: 1, args: ['--test-converters',
            '--max-body-bytes', String(MAX_BODY), '--max-upload-bytes', String(MAX_UPLOAD),
            '--max-queue', '1'] });
        api = new U.Api(server);
    });

    after(async function () {
        if (server) {
            await server.stop();
            server.cleanup();
        }
    });

    describe('JSON bodies over --max-body-bytes', function () {
        it('Content-Length of 10 MB with only a few bytes sent → 413 JSON, answered at once', async function () {
            const t0 = Date.now();
            const res = await U.rawRequest(server.port, [head([
                'POST /process HTTP/1.1', 'Host: ' + server.host,
                'Authorization: Bearer ' + server.apikey, 'Content-Type: application/json',
                'Content-Length: 10000000']) + '{"inputformat":"png",'], { timeout: 5000 });
            expect(res.status, 'no answer within 5 s while the body was still "coming": ' +
                res.raw.toString().slice(0, 200)).to.equal(413);
            expectJsonError(res, 413);
            expect(Date.now() - t0).to.be.below(5000);
        });

        it('a chunked JSON body that grows over the limit → 413 JSON', async function () {
            const parts = [head(['POST /process HTTP/1.1', 'Host: ' + server.host,
                'Authorization: Bearer ' + server.apikey, 'Content-Type: application/json',
                'Transfer-Encoding: chunked'])];
            const chunk = (s) => s.length.toString(16) + '\r\n' + s + '\r\n';
            parts.push(chunk('{"inputformat":"fake","outputformat":"txt","tag":"'));
            for (let i = 0; i < 40; i++) // 40 × 10000 bytes = 4 × the limit
                parts.push(chunk('x'.repeat(10000)));
            parts.push(chunk('"}'));
            parts.push('0\r\n\r\n');
            const res = await U.rawRequest(server.port, parts, { gap: 5, timeout: 8000 });
            expectJsonError(res, 413);
        });

        it('a body just under the limit is accepted (the limit is not set too low)', async function () {
            const body = { inputformat: 'fake', outputformat: 'txt', tag: 'y'.repeat(MAX_BODY - 200) };
            const res = await api.createRaw(body);
            expect(res.status, U.describeRes(res)).to.equal(200);
        });
    });

    describe('uploads over --max-upload-bytes', function () {
        async function uploadUrl() {
            const proc = await api.create({ inputformat: 'fake', outputformat: 'txt' });
            const st = U.expectStatus(await api.start(proc, { input: 'upload' }), 200).json;
            return new URL(U.abs(st.upload.url) + '/big.fake');
        }

        it('PUT with a Content-Length over the limit → 413 JSON', async function () {
            const u = await uploadUrl();
            const parts = [head(['PUT ' + u.pathname + ' HTTP/1.1', 'Host: ' + server.host,
                'Content-Length: ' + (MAX_UPLOAD + 1)])];
            for (let i = 0; i <= MAX_UPLOAD; i += 10000)
                parts.push(Buffer.alloc(Math.min(10000, MAX_UPLOAD + 1 - i), 0x61));
            const res = await U.rawRequest(server.port, parts, { gap: 5, timeout: 8000 });
            expectJsonError(res, 413);
        });

        it('a chunked PUT that grows over the limit → 413 JSON', async function () {
            const u = await uploadUrl();
            const parts = [head(['PUT ' + u.pathname + ' HTTP/1.1', 'Host: ' + server.host,
                'Transfer-Encoding: chunked'])];
            for (let i = 0; i < 10; i++)
                parts.push('2710\r\n' + 'b'.repeat(10000) + '\r\n');
            parts.push('0\r\n\r\n');
            const res = await U.rawRequest(server.port, parts, { gap: 5, timeout: 8000 });
            expectJsonError(res, 413);
        });

        it('an upload of exactly the limit is accepted', async function () {
            const u = await uploadUrl();
            const res = await U.request({ method: 'PUT', url: u.href, body: Buffer.alloc(MAX_UPLOAD, 0x62) });
            expect(res.status, U.describeRes(res)).to.equal(200);
            expect(res.json.size).to.equal(MAX_UPLOAD);
        });
    });

    describe('JSON documents', function () {
        function postRaw(text) {
            return U.request({ method: 'POST', url: server.base + '/process', body: text,
                headers: { Authorization: 'Bearer ' + server.apikey, 'Content-Type': 'application/json' } });
        }

        it('a duplicate key inside one document → 400', async function () {
            const res = await postRaw('{"inputformat":"fake","outputformat":"txt","outputformat":"fake"}');
            expectJsonError(res, 400);
        });

        it('a NUL inside a JSON string used as a name → 400', async function () {
            const res = await postRaw('{"inputformat":"fake","outputformat":"txt","input":"raw",' +
                '"file":"x","filename":"evil.sh\\u0000.fake"}');
            expectJsonError(res, 400);
        });

        it('invalid UTF-8 in a JSON document → 400', async function () {
            const res = await U.request({ method: 'POST', url: server.base + '/process',
                body: Buffer.concat([Buffer.from('{"inputformat":"fake","outputformat":"txt","tag":"'),
                    Buffer.from([0xff, 0xfe, 0xc0, 0x80]), Buffer.from('"}')]),
                headers: { Authorization: 'Bearer ' + server.apikey, 'Content-Type': 'application/json' } });
            expectJsonError(res, 400);
        });

        it('nesting 100 deep → 400', async function () {
            const deep = '['.repeat(100) + ']'.repeat(100);
            const res = await postRaw('{"inputformat":"fake","outputformat":"txt","tag":' + deep + '}');
            expectJsonError(res, 400);
        });

        it('nesting 90 000 deep (under the body limit) → 400 and the server lives on', async function () {
            const deep = '['.repeat(90000);
            const res = await postRaw('{"inputformat":"fake","outputformat":"txt","tag":' + deep);
            expectJsonError(res, 400);
            const ok = await api.createRaw({ inputformat: 'fake', outputformat: 'txt' });
            expect(ok.status).to.equal(200);
        });
    });

    describe('a 12 KiB header block', function () {
        it('still reaches the handler: a status GET answers 200 JSON', async function () {
            const proc = await api.create({ inputformat: 'fake', outputformat: 'txt' });
            const res = await U.request({ url: U.abs(proc.url),
                headers: { 'X-Filler': 'f'.repeat(12 * 1024) } });
            expect(res.status, U.describeRes(res)).to.equal(200);
            expect(res.headers['content-type']).to.match(/^application\/json/);
            expect(res.json.id).to.equal(proc.id);
        });
    });

    describe('--max-queue 1 with --workers 1', function () {
        const sleepJob = { input: 'raw', file: 'x', filename: 'x.fake',
            converteroptions: { action: 'sleep', seconds: 2, percent_steps: 2 } };
        let procs;
        let third;
        let thirdBefore;
        let thirdAfter;

        before(async function () {
            this.timeout(20000);
            procs = [];
            for (let i = 0; i < 3; i++)
                procs.push(await api.create({ inputformat: 'fake', outputformat: 'txt' }));
            const s1 = await api.start(procs[0], sleepJob);
            expect(s1.status, U.describeRes(s1)).to.equal(200);
            await api.pollUntil(procs[0], (st) => st.step === 'convert', 5000, 50);
            const s2 = await api.start(procs[1], sleepJob);
            expect(s2.status, U.describeRes(s2)).to.equal(200);
            thirdBefore = await api.status(procs[2]);
            third = await api.start(procs[2], sleepJob);
            thirdAfter = await api.status(procs[2]);
        });

        it('the third start → 503 with Retry-After and a JSON error body', function () {
            expectJsonError(third, 503);
            expect(third.headers['retry-after'], 'Retry-After').to.match(/^\d+$/);
            expect(Number(third.headers['retry-after'])).to.be.above(0);
        });

        it('the refused process is unchanged: its status is the same as before the start', function () {
            expect(thirdAfter.status, U.describeRes(thirdAfter)).to.equal(200);
            expect(thirdAfter.json).to.deep.equal(thirdBefore.json);
        });

        it('retrying the same start once there is room succeeds and the process finishes', async function () {
            let res;
            const deadline = Date.now() + 12000;
            do {
                await U.sleep(300);
                res = await api.start(procs[2], sleepJob);
            } while (res.status === 503 && Date.now() < deadline);
            expect(res.status, U.describeRes(res)).to.equal(200);
            const fin = await api.status(procs[2], true, 15000);
            expect(fin.status, U.describeRes(fin)).to.equal(200);
            expect(fin.json.step).to.equal('finished');
        });
    });
});

describe('slow and many clients (SEC-19; --connection-timeout 3)', function () {
    this.timeout(25000);
    let server;
    let api;

    before(async function () {
        this.timeout(30000);
        server = await startServer({ workers: 1, args: ['--test-converters', '--connection-timeout', '3'] });
        api = new U.Api(server);
    });

    after(async function () {
        if (server) {
            await server.stop();
            server.cleanup();
        }
    });

    describe('a slow header block and a long ?wait, side by side', function () {
        let slow;
        let wait;

        before(async function () {
            this.timeout(25000);
            // headers trickle in one line a second (never idle for 3 s, never complete)
            const slowP = new Promise((resolve) => {
                const t0 = Date.now();
                const sock = net.connect(server.port, '127.0.0.1');
                const got = [];
                let timer;
                const done = (how) => {
                    clearInterval(timer);
                    sock.destroy();
                    resolve({ how, ms: Date.now() - t0, data: Buffer.concat(got).toString('latin1') });
                };
                sock.on('connect', () => {
                    sock.write('GET /conversiontypes HTTP/1.1\r\nHost: ' + server.host + '\r\n');
                    let n = 0;
                    timer = setInterval(() => {
                        if (Date.now() - t0 > 17000)
                            return done('still open after 17 s');
                        sock.write('X-Slow-' + n++ + ': y\r\n', () => {});
                    }, 1000);
                });
                sock.on('data', (d) => got.push(d));
                sock.on('close', () => done('closed'));
                sock.on('error', () => done('closed'));
            });
            const waitP = (async () => {
                const proc = await api.create({ inputformat: 'fake', outputformat: 'txt' });
                U.expectStatus(await api.start(proc, { input: 'raw', file: 'x', filename: 'x.fake',
                    converteroptions: { action: 'sleep', seconds: 5, percent_steps: 5 } }), 200);
                const t0 = Date.now();
                const res = await api.status(proc, true, 15000).catch((e) => ({ status: 0, error: e.message }));
                return { res, ms: Date.now() - t0 };
            })();
            [slow, wait] = await Promise.all([slowP, waitP]);
        });

        it('headers still incomplete after 10 s: the connection is cut (closed or 408) by 16 s', function () {
            expect(slow.how).to.equal('closed');
            expect(slow.ms, 'ms until closed').to.be.within(8000, 16000);
            expect(slow.data, 'no 200 answer to a request that never completed').to.not.match(/^HTTP\/1\.1 200/);
        });

        it('a ?wait outlives --connection-timeout: the 5 s job answers finished', function () {
            expect(wait.res.status, wait.res.error || U.describeRes(wait.res)).to.equal(200);
            expect(wait.res.json.step).to.equal('finished');
            expect(wait.ms).to.be.above(3000);
        });
    });

    it('300 idle connections from one address do not lock out another request', async function () {
        const socks = await Promise.all(Array.from({ length: 300 }, () => new Promise((resolve) => {
            const s = net.connect(server.port, '127.0.0.1');
            s.on('connect', () => resolve(s));
            s.on('error', () => resolve(s));
        })));
        try {
            const res = await U.request({ url: server.base + '/conversiontypes?inputformat=fake', timeout: 5000 });
            expect(res.status, U.describeRes(res)).to.equal(200);
            expect(res.json).to.be.an('array');
        } finally {
            for (const s of socks)
                s.destroy();
        }
    });
});

describe('--rate-limit 5 per key (SEC-26)', function () {
    this.timeout(20000);
    let server;
    const results = [];

    before(async function () {
        this.timeout(30000);
        server = await startServer({ args: ['--rate-limit', '5'] });
        const api = new U.Api(server);
        for (let i = 0; i < 6; i++)
            results.push(await api.createRaw({ inputformat: 'png', outputformat: 'jpg' }));
    });

    after(async function () {
        if (server) {
            await server.stop();
            server.cleanup();
        }
    });

    it('the first 5 creates within a minute → 200', function () {
        expect(results.slice(0, 5).map((r) => r.status)).to.deep.equal([200, 200, 200, 200, 200]);
    });

    it('the 6th → 429 JSON with Retry-After', function () {
        expectJsonError(results[5], 429);
        expect(results[5].headers['retry-after'], 'Retry-After').to.match(/^\d+$/);
        expect(Number(results[5].headers['retry-after'])).to.be.within(1, 60);
    });
});
