// SPDX-License-Identifier: MIT
// safety_ids.test.js - keys, capability ids and downloads (SEC-17, SEC-26..28): random ids,
// uniform 404s, no-store headers, ids kept out of logs, hashed keys, atomic one-time download.
'use strict';
const { expect } = require('chai');
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const { startServer } = require('../lib/server');
const U = require('../lib/safety_util');

const ID_RE = /^[A-Za-z0-9_-]{22,26}$/;

function lastSegment(url) {
    return new URL(U.abs(url)).pathname.split('/').pop();
}

describe('keys, ids and download headers (SEC-17, SEC-26..28)', function () {
    this.timeout(20000);
    let server;
    let api;

    before(async function () {
        this.timeout(30000);
        server = await startServer({ args: ['--test-converters', '--log-level', 'debug'] });
        api = new U.Api(server);
    });

    after(async function () {
        if (server) {
            await server.stop();
            server.cleanup();
        }
    });

    function job(extra) {
        return Object.assign({ input: 'raw', file: 'content', filename: 'a.fake',
            converteroptions: { percent_steps: 1 } }, extra || {});
    }

    describe('process, upload and download ids (SEC-27)', function () {
        const ids = [];

        before(async function () {
            for (let i = 0; i < 12; i++) {
                const proc = await api.create({ inputformat: 'fake', outputformat: 'txt' });
                const st = U.expectStatus(await api.start(proc, { input: 'upload' }), 200).json;
                ids.push({ id: proc.id, path: lastSegment(proc.url), upload: lastSegment(st.upload.url),
                    download: lastSegment(st.output.url) });
            }
        });

        it('are URL-safe base64 of 22..26 characters (≥ 128 bits)', function () {
            for (const x of ids) {
                expect(x.id).to.match(ID_RE);
                expect(x.path).to.equal(x.id);
                expect(x.upload).to.match(ID_RE);
                expect(x.download).to.match(ID_RE);
            }
        });

        it('are all different, and upload/download tokens do not contain the process id', function () {
            const all = ids.flatMap((x) => [x.id, x.upload, x.download]);
            expect(new Set(all).size).to.equal(all.length);
            for (const x of ids) {
                expect(x.upload).to.not.contain(x.id.slice(0, 8));
                expect(x.download).to.not.contain(x.id.slice(0, 8));
            }
        });

        it('are not sequential: no two share their first 6 characters', function () {
            const all = ids.flatMap((x) => [x.id, x.upload, x.download]);
            const prefixes = all.map((s) => s.slice(0, 6));
            expect(new Set(prefixes).size).to.equal(all.length);
        });
    });

    describe('unknown ids answer like deleted ones (SEC-27)', function () {
        let deleted;
        let unknown;

        before(async function () {
            const proc = await api.create({ inputformat: 'fake', outputformat: 'txt' });
            U.expectStatus(await api.del(proc), 200);
            deleted = await api.status(proc);
            unknown = await U.request({ url: server.base + '/process/' +
                crypto.randomBytes(18).toString('base64url') });
        });

        it('GET of an unknown and of a deleted process: the same 404 body', function () {
            expect(unknown.status).to.equal(404);
            expect(deleted.status).to.equal(404);
            expect(unknown.json).to.deep.equal({ error: 'Process not found', code: 404 });
            expect(deleted.json).to.deep.equal(unknown.json);
        });

        it('an unknown upload token → 404 JSON', async function () {
            const res = await U.request({ method: 'PUT', body: 'x', url: server.base + '/upload/' +
                crypto.randomBytes(18).toString('base64url') + '/a.fake' });
            expect(res.status).to.equal(404);
            expect(res.json.code).to.equal(404);
        });

        it('an unknown download token → 404 JSON', async function () {
            const res = await U.request({ url: server.base + '/download/' +
                crypto.randomBytes(18).toString('base64url') });
            expect(res.status).to.equal(404);
            expect(res.json.code).to.equal(404);
        });
    });

    describe('response headers (SEC-17, SEC-27)', function () {
        let create;
        let status;
        let upload;
        let download;

        before(async function () {
            create = await api.createRaw({ inputformat: 'fake', outputformat: 'txt' });
            const proc = create.json;
            const st = U.expectStatus(await api.start(proc, { input: 'upload' }), 200).json;
            upload = await api.upload(st, 'page.fake', Buffer.from('<html><script>alert(1)</script>'));
            status = await api.status(proc, true);
            download = await U.request({ url: U.abs(status.json.output.url) + '?inline' });
        });

        for (const [label, get] of [['create', () => create], ['status', () => status],
            ['upload', () => upload], ['download', () => download]]) {
            it(label + ': Cache-Control: no-store and Referrer-Policy: no-referrer', function () {
                const res = get();
                expect(res.status, U.describeRes(res)).to.equal(200);
                expect(res.headers['cache-control']).to.match(/no-store/);
                expect(res.headers['referrer-policy']).to.equal('no-referrer');
            });
        }

        it('download: X-Content-Type-Options: nosniff and Content-Security-Policy: sandbox', function () {
            expect(download.headers['x-content-type-options']).to.equal('nosniff');
            expect(download.headers['content-security-policy']).to.match(/(^|;\s*)sandbox\b/);
        });
    });

    describe('capability ids stay out of the log (SEC-27)', function () {
        it('after create, start, upload, status, download and delete at debug level, no full id or token is logged', async function () {
            const proc = await api.create({ inputformat: 'fake', outputformat: 'txt' });
            const st = U.expectStatus(await api.start(proc, { input: 'upload' }), 200).json;
            U.expectStatus(await api.upload(st, 'a.fake', Buffer.from('data')), 200);
            const fin = await api.status(proc, true);
            expect(fin.json.step).to.equal('finished');
            await U.request({ url: U.abs(fin.json.output.url) });
            await api.del(proc);
            await U.sleep(300);
            const log = server.log();
            expect(log.length, 'the log has lines').to.be.above(0);
            for (const secret of [proc.id, lastSegment(st.upload.url), lastSegment(st.output.url)])
                expect(log.includes(secret), 'log contains ' + secret).to.equal(false);
        });

        it('the API key is not logged', function () {
            expect(server.log().includes(server.apikey)).to.equal(false);
        });
    });

    describe('API keys (SEC-26)', function () {
        let generated;

        before(function () {
            generated = [server.cli(['keys', 'add', '--email', 'gen@example.com']).trim(),
                server.cli(['keys', 'add']).trim()];
        });

        it('a generated key holds ≥ 32 random bytes (≥ 43 base64url or 64 hex characters)', function () {
            for (const k of generated) {
                expect(k).to.match(/^[A-Za-z0-9_-]+$/);
                expect(k.length).to.be.at.least(/^[0-9a-f]+$/.test(k) ? 64 : 43);
            }
            expect(generated[0]).to.not.equal(generated[1]);
        });

        it('a generated key works at once for create', async function () {
            const res = await U.request({ method: 'POST', url: server.base + '/process',
                headers: { Authorization: 'Bearer ' + generated[0] },
                body: { inputformat: 'fake', outputformat: 'txt' } });
            expect(res.status, U.describeRes(res)).to.equal(200);
        });

        it('the database files never hold a key in plain text', function () {
            const files = fs.readdirSync(server.dataDir).filter((n) => n.startsWith('convertd.db'));
            expect(files).to.include('convertd.db');
            for (const n of files) {
                const bytes = fs.readFileSync(path.join(server.dataDir, n));
                for (const k of [server.apikey, ...generated])
                    expect(bytes.includes(Buffer.from(k)), n + ' contains a key').to.equal(false);
            }
        });

        it('a wrong key that shares the stored prefix is refused 401 "Invalid API Key provided!"', async function () {
            const k = generated[0];
            const wrong = k.slice(0, -1) + (k.endsWith('A') ? 'B' : 'A');
            const res = await U.request({ method: 'POST', url: server.base + '/process',
                headers: { Authorization: 'Bearer ' + wrong }, body: { inputformat: 'fake', outputformat: 'txt' } });
            expect(res.status).to.equal(401);
            expect(res.json).to.deep.equal({ error: 'Invalid API Key provided!', code: 401 });
        });
    });

    describe('one-time download claimed atomically (SEC-28)', function () {
        const SIZE = 3 * 1024 * 1024;
        let fin;
        let head;
        let results;
        let content;

        before(async function () {
            this.timeout(30000);
            content = crypto.randomBytes(SIZE / 4 * 3).toString('base64');
            const proc = await api.create({ inputformat: 'fake', outputformat: 'txt' });
            const st = U.expectStatus(await api.start(proc, { input: 'upload' }), 200).json;
            U.expectStatus(await api.upload(st, 'big.fake', Buffer.from(content)), 200);
            fin = await api.status(proc, true);
            expect(fin.json.step).to.equal('finished');
            const url = U.abs(fin.json.output.url);
            head = await U.request({ method: 'HEAD', url }).catch((e) => ({ status: 0, error: e.message }));
            results = await Promise.all([0, 1, 2, 3, 4, 5].map(() => U.request({ url, timeout: 20000 })));
        });

        it('HEAD answers 200 with the exact Content-Length and no body', function () {
            expect(head.status, 'HEAD: ' + (head.error || '')).to.equal(200);
            expect(head.headers['content-length']).to.equal(String(content.length));
            expect(head.body.length).to.equal(0);
        });

        it('HEAD does not claim it: a later GET still gets the file', function () {
            expect(results.some((r) => r.status === 200)).to.equal(true);
        });

        it('of 6 concurrent GETs exactly one gets 200 with the whole file, the others 404', function () {
            const codes = results.map((r) => r.status).sort();
            expect(codes).to.deep.equal([200, 404, 404, 404, 404, 404]);
            const ok = results.find((r) => r.status === 200);
            expect(ok.body.length).to.equal(content.length);
            expect(ok.body.toString() === content).to.equal(true);
        });

        it('afterwards the download is 404 and the process record stays', async function () {
            const again = await U.request({ url: U.abs(fin.json.output.url) });
            expect(again.status).to.equal(404);
            const st = await U.request({ url: U.abs(fin.json.url) });
            expect(st.status).to.equal(200);
            expect(st.json.step).to.equal('finished');
        });
    });
});
