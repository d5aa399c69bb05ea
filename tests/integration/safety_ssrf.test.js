// SPDX-License-Identifier: MIT
// safety_ssrf.test.js - SSRF guards (SEC-01..04): loopback downloads in every spelling,
// redirects out of an allowed host, non-HTTP schemes, operator allow-list, loopback callbacks.
'use strict';
const { expect } = require('chai');
const fs = require('fs');
const path = require('path');
const { startServer } = require('../lib/server');
const U = require('../lib/safety_util');

const INPUT = Buffer.from('fake input bytes for the download tests\n');
const BLOCKED = 'input URL not allowed';
const MAX_INPUT = 100000;

describe('SSRF: input downloads and callbacks to private addresses (SEC-01..04)', function () {
    this.timeout(20000);
    let blocked;    // the file server nobody may reach: 127.0.0.1 and ::1, port B
    let redirector; // allowed by --allow-url on server 1: 302 to the blocked server
    let cbServer;   // callback receiver on 127.0.0.1 (not allowed)
    let server;     // default policy plus --allow-url 127.0.0.1:A
    let allowB;     // --allow-url 127.0.0.1:B, proxy variables and a .netrc in its environment
    let proxy;      // what http_proxy & co. point at: must never be used
    let homeDir;
    let api;

    before(async function () {
        this.timeout(30000);
        const serveInput = (req, res) => {
            res.writeHead(200, { 'Content-Type': 'application/octet-stream',
                'Content-Length': INPUT.length });
            res.end(INPUT);
        };
        const big = (withLength) => (req, res) => {
            const chunk = Buffer.alloc(10000, 0x41);
            res.writeHead(200, Object.assign({ 'Content-Type': 'application/octet-stream' },
                withLength ? { 'Content-Length': 30 * chunk.length } : {}));
            let n = 0;
            const more = () => {
                while (n < 30) {
                    n++;
                    if (!res.write(chunk))
                        return res.once('drain', more);
                }
                res.end();
            };
            res.on('error', () => {});
            more();
        };
        blocked = await U.startLoopbackRecorder({ fallback: serveInput,
            routes: { '/big.fake': big(false), '/big-cl.fake': big(true) } });
        const redirect = (to) => (req, res) => {
            res.writeHead(302, { Location: to() });
            res.end();
        };
        redirector = await U.startRecorder({
            fallback: redirect(() => 'http://127.0.0.1:' + blocked.port + '/secret.fake'),
            routes: {
                '/loop': redirect(() => '/loop'),
                '/to-file': redirect(() => 'file:///etc/passwd'),
                '/to-gopher': redirect(() => 'gopher://127.0.0.1:' + blocked.port + '/_x'),
            },
        });
        cbServer = await U.startLoopbackRecorder({});
        proxy = await U.startLoopbackRecorder({});
        homeDir = U.tmpDir('convertd-home-');
        fs.writeFileSync(path.join(homeDir, '.netrc'),
            'machine 127.0.0.1 login netrcuser password netrcpass\ndefault login netrcuser password netrcpass\n',
            { mode: 0o600 });
        const proxyUrl = 'http://127.0.0.1:' + proxy.port;
        [server, allowB] = await Promise.all([
            startServer({ args: ['--test-converters', '--allow-url', '127.0.0.1:' + redirector.port] }),
            startServer({ args: ['--test-converters', '--allow-url', '127.0.0.1:' + blocked.port,
                '--max-upload-bytes', String(MAX_INPUT)],
            env: { http_proxy: proxyUrl, HTTP_PROXY: proxyUrl, https_proxy: proxyUrl,
                HTTPS_PROXY: proxyUrl, ALL_PROXY: proxyUrl, all_proxy: proxyUrl, NO_PROXY: '',
                no_proxy: '', HOME: homeDir } }),
        ]);
        api = new U.Api(server);
    });

    after(async function () {
        for (const s of [server, allowB]) {
            if (s) {
                await s.stop();
                s.cleanup();
            }
        }
        for (const r of [blocked, redirector, cbServer, proxy])
            if (r)
                await r.close();
        if (homeDir)
            fs.rmSync(homeDir, { recursive: true, force: true });
    });

    // create fake → txt, start input=download with `url`, then GET ?wait.
    async function download(url, srv) {
        const a = srv ? new U.Api(srv) : api;
        const proc = await a.create({ inputformat: 'fake', outputformat: 'txt' });
        const start = await a.start(proc, { input: 'download', file: url, filename: 'in.fake' });
        const fin = await a.status(proc, true, 8000);
        return { proc, start, fin };
    }

    function expectBlocked(r) {
        // the start may already see the refusal (422 + error status) or answer 200 first
        expect([200, 422], 'start: ' + U.describeRes(r.start)).to.include(r.start.status);
        expect(r.fin.status, 'GET ?wait: ' + U.describeRes(r.fin)).to.equal(422);
        expect(r.fin.json.step).to.equal('error');
        expect(r.fin.json.code).to.equal(422);
        expect(r.fin.json.message).to.be.a('string');
        expect(r.fin.json.message).to.contain(BLOCKED);
        expect(r.fin.json.message).to.not.contain('127.0.0.1');
        expect(r.fin.json.message).to.not.contain(INPUT.toString().trim());
    }

    describe('input=download of a loopback address', function () {
        const spellings = [
            ['127.0.0.1', (p) => 'http://127.0.0.1:' + p + '/a.fake'],
            ['localhost', (p) => 'http://localhost:' + p + '/a.fake'],
            ['[::1]', (p) => 'http://[::1]:' + p + '/a.fake'],
            ['0.0.0.0', (p) => 'http://0.0.0.0:' + p + '/a.fake'],
            ['127.1 (short form)', (p) => 'http://127.1:' + p + '/a.fake'],
            ['2130706433 (decimal)', (p) => 'http://2130706433:' + p + '/a.fake'],
            ['0x7f000001 (hex)', (p) => 'http://0x7f000001:' + p + '/a.fake'],
            ['[::ffff:127.0.0.1] (v4-mapped)', (p) => 'http://[::ffff:127.0.0.1]:' + p + '/a.fake'],
        ];
        for (const [label, make] of spellings) {
            it(label + ' → 422 "' + BLOCKED + '", no IP in the message, nothing fetched', async function () {
                const n0 = blocked.requests.length;
                const r = await download(make(blocked.port));
                expectBlocked(r);
                expect(blocked.requests.length, 'requests that reached the blocked server')
                    .to.equal(n0);
            });
        }
    });

    describe('a redirect from an allowed host to a blocked one', function () {
        let r;
        let blockedBefore;
        let redirBefore;

        before(async function () {
            blockedBefore = blocked.requests.length;
            redirBefore = redirector.requests.length;
            r = await download(redirector.url('/start.fake'));
        });

        it('the allowed redirector was asked (the allow-list lets the first hop through)', function () {
            expect(redirector.requests.length - redirBefore).to.equal(1);
        });

        it('the process ends in error 422 "' + BLOCKED + '" without the IP', function () {
            expectBlocked(r);
        });

        it('the blocked file server received no request', function () {
            expect(blocked.requests.length - blockedBefore).to.equal(0);
        });
    });

    describe('--allow-url 127.0.0.1:PORT lets that address through', function () {
        let r;
        let asked0;

        before(async function () {
            asked0 = blocked.requests.length;
            r = await download(blocked.url('/ok.fake'), allowB).catch((e) => ({ error: e }));
        });

        it('the download works: finished, the file server was asked once', function () {
            expect(blocked.requests.length - asked0).to.equal(1);
            expect(r.error, r.error && r.error.message).to.equal(undefined);
            expect(r.fin.status, U.describeRes(r.fin)).to.equal(200);
            expect(r.fin.json.step).to.equal('finished');
        });

        it('the output is the downloaded file', async function () {
            expect(r.error, r.error && r.error.message).to.equal(undefined);
            const dl = await U.request({ url: U.abs(r.fin.json.output.url) });
            expect(dl.status).to.equal(200);
            expect(dl.body.equals(INPUT)).to.equal(true);
        });

        it('40 downloads in a row all finish (no job lost between download and queue)', async function () {
            const a = new U.Api(allowB);
            for (let i = 0; i < 40; i++) {
                const proc = await a.create({ inputformat: 'fake', outputformat: 'txt' });
                U.expectStatus(await a.start(proc, { input: 'download', file: blocked.url('/n' + i + '.fake'),
                    filename: 'n.fake' }), 200);
                const fin = await a.status(proc, true, 5000).catch(async (e) => {
                    const now = await a.status(proc);
                    throw new Error('download ' + i + ': no final answer in 5 s (' + e.message +
                        '); status now: ' + U.describeRes(now));
                });
                expect(fin.json.step, 'download ' + i + ': ' + U.describeRes(fin)).to.equal('finished');
            }
        });

        it('another port on the same address stays blocked', async function () {
            const b = redirector.requests.length;
            const r2 = await download(redirector.url('/x.fake'), allowB);
            expectBlocked(r2);
            expect(redirector.requests.length - b).to.equal(0);
        });
    });

    describe('the fetcher (SEC-01)', function () {
        before(async function () {
            // only the fetch matters here, not how the process ends
            await download(blocked.url('/direct.fake'), allowB).catch(() => {});
        });

        it('ignores http_proxy, HTTPS_PROXY and ALL_PROXY from its environment', function () {
            expect(blocked.requests.some((q) => q.url === '/direct.fake'), 'the direct download happened')
                .to.equal(true);
            expect(proxy.requests.map((q) => q.method + ' ' + q.url)).to.deep.equal([]);
        });

        it('sends no .netrc credentials', function () {
            const q = blocked.requests.find((x) => x.url === '/direct.fake');
            expect(q.headers).to.not.have.property('authorization');
        });

        it('a chunked input over --max-upload-bytes → 422 "too large"', async function () {
            const r = await download(blocked.url('/big.fake'), allowB);
            expect(r.fin.status, U.describeRes(r.fin)).to.equal(422);
            expect(r.fin.json.step).to.equal('error');
            expect(r.fin.json.message).to.match(/too large/i);
        });

        it('an input whose Content-Length is over --max-upload-bytes → 422 "too large"', async function () {
            const r = await download(blocked.url('/big-cl.fake'), allowB);
            expect(r.fin.status, U.describeRes(r.fin)).to.equal(422);
            expect(r.fin.json.message).to.match(/too large/i);
        });

        it('a redirect loop on an allowed host ends in error 422 after at most 6 requests', async function () {
            const n0 = redirector.requests.filter((q) => q.url === '/loop').length;
            const r = await download(redirector.url('/loop'));
            expect(r.fin.status, U.describeRes(r.fin)).to.equal(422);
            expect(r.fin.json.step).to.equal('error');
            const n = redirector.requests.filter((q) => q.url === '/loop').length - n0;
            expect(n).to.be.within(1, 6);
        });

        it('a redirect to file:///etc/passwd → 422, nothing of the file anywhere', async function () {
            const r = await download(redirector.url('/to-file'));
            expect(r.fin.status, U.describeRes(r.fin)).to.equal(422);
            expect(r.fin.json.step).to.equal('error');
            expect(r.fin.text).to.not.contain('root:');
            const dl = await U.request({ url: U.abs(r.fin.json.output.url) });
            expect(dl.status).to.not.equal(200);
            expect(dl.text).to.not.contain('root:');
        });

        it('a redirect to gopher:// → 422 and the target is not contacted', async function () {
            const n0 = blocked.requests.length;
            const r = await download(redirector.url('/to-gopher'));
            expect(r.fin.status, U.describeRes(r.fin)).to.equal(422);
            expect(blocked.requests.length - n0).to.equal(0);
        });
    });

    describe('non-HTTP schemes as file → 400 at start', function () {
        const urls = ['file:///etc/passwd', 'ftp://127.0.0.1:21/x.fake', 'gopher://127.0.0.1:70/_x',
            'dict://127.0.0.1:11211/stat', 'FILE:///etc/passwd'];
        for (const url of urls) {
            it(url, async function () {
                const proc = await api.create({ inputformat: 'fake', outputformat: 'txt' });
                const res = await api.start(proc, { input: 'download', file: url, filename: 'a.fake' });
                expect(res.status, U.describeRes(res)).to.equal(400);
                expect(res.json.step).to.equal('error');
                expect(res.json.code).to.equal(400);
                expect(res.json.message).to.not.contain('root:');
            });
        }
    });

    describe('callbacks to loopback addresses are never delivered (SEC-03)', function () {
        const targets = [
            ['127.0.0.1', (p) => 'http://127.0.0.1:' + p + '/cb-v4'],
            ['localhost', (p) => 'http://localhost:' + p + '/cb-name'],
            ['[::1]', (p) => 'http://[::1]:' + p + '/cb-v6'],
        ];
        const results = {};

        before(async function () {
            this.timeout(30000);
            await Promise.all(targets.map(async ([label, make]) => {
                const proc = await api.create({ inputformat: 'fake', outputformat: 'txt' });
                const start = await api.start(proc, { input: 'raw', file: 'hello', filename: 'a.fake',
                    callback: make(cbServer.port) });
                const fin = start.status === 200 ? await api.status(proc, true) : start;
                results[label] = { start, fin };
            }));
            await U.sleep(3000);
        });

        for (const [label] of targets) {
            it(label + ': refused at start (400) or finished, and the receiver got nothing within 3 s', function () {
                const r = results[label];
                if (r.start.status === 400) {
                    expect(r.start.json.step).to.equal('error');
                } else {
                    expect(r.start.status, U.describeRes(r.start)).to.equal(200);
                    expect(r.fin.status, U.describeRes(r.fin)).to.equal(200);
                    expect(r.fin.json.step).to.equal('finished');
                }
                const hits = cbServer.requests.filter((q) => q.url.startsWith('/cb-'));
                expect(hits.map((q) => q.url)).to.deep.equal([]);
            });
        }
    });
});
