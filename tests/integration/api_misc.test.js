// SPDX-License-Identifier: MIT
// api_misc.test.js - contract tests of delete/cancel, /processes, /conversiontypes, /user,
// error bodies (404, 405, 413, bad JSON) and presets (I, J, K, L4).
'use strict';
const { expect } = require('chai');
const crypto = require('crypto');
const fs = require('fs');
const { startServer } = require('../lib/server');
const images = require('../lib/images');
const H = require('../lib/http');

const DELETED = { message: 'Process was deleted' };
const NOT_FOUND = { error: 'Process not found', code: 404 };
const TIME_RE = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/;

describe('delete, lists, errors, presets (I, J, K, L4)', function () {
    this.timeout(20000);
    let server;
    let api;
    let dir;
    let pngBytes;
    let noisyBytes;

    before(async function () {
        this.timeout(30000);
        dir = images.tmpDir();
        pngBytes = fs.readFileSync(images.png(dir, 'in.png', 64, 40, 100));
        noisyBytes = fs.readFileSync(images.noisy(dir, 'noisy.png', 600, 400));
        server = await startServer();
        api = H.api(server);
    });

    after(async function () {
        fs.rmSync(dir, { recursive: true, force: true });
        await H.stopServer(server);
    });

    function expectNotFound(res) {
        expect(res.status).to.equal(404);
        expect(res.headers['content-type']).to.equal(H.JSON_TYPE);
        expect(res.json()).to.deep.equal(NOT_FOUND);
    }

    async function startedUpload() {
        const proc = await api.process({ inputformat: 'png', outputformat: 'jpg' });
        const st = H.expectJson(await api.start(proc, { input: 'upload' }));
        return { proc, st };
    }

    describe('DELETE /process/ID (I1-I3)', function () {
        let fin;
        let first;
        let second;

        before(async function () {
            fin = (await api.convertOk('png', 'jpg', pngBytes, 'del.png', { save: true })).status;
            first = await H.request({ method: 'DELETE', url: H.abs(fin.url) });
            second = await H.request({ method: 'DELETE', url: H.abs(fin.url) });
        });

        it('answers 200 {"message":"Process was deleted"} (JSON)', function () {
            expect(H.expectJson(first)).to.deep.equal(DELETED);
        });

        it('again → 200 with the same body', function () {
            expect(H.expectJson(second)).to.deep.equal(DELETED);
        });

        it('afterwards the process URL → 404 Process not found', async function () {
            expectNotFound(await H.request({ url: H.abs(fin.url) }));
        });

        it('afterwards the download URL → 404 JSON', async function () {
            H.expectError(await api.download(fin), 404);
        });

        it('afterwards the upload URL → 404 JSON', async function () {
            const { proc, st } = await startedUpload();
            H.expectJson(await H.request({ method: 'DELETE', url: H.abs(proc.url) }));
            H.expectError(await api.put(st, 'late.png', pngBytes), 404);
        });

        it('an unstarted process can be deleted', async function () {
            const proc = await api.process({ inputformat: 'png', outputformat: 'jpg' });
            expect(H.expectJson(await H.request({ method: 'DELETE', url: H.abs(proc.url) })))
                .to.deep.equal(DELETED);
            expectNotFound(await H.request({ url: H.abs(proc.url) }));
        });

        it('a process whose one-time output was downloaded can be deleted (I3, H7)', async function () {
            const st = (await api.convertOk('png', 'jpg', pngBytes, 'dl.png')).status;
            expect((await api.download(st)).status).to.equal(200);
            expect(H.expectJson(await H.request({ method: 'DELETE', url: H.abs(st.url) })))
                .to.deep.equal(DELETED);
        });

        it('needs no key and ignores a Bearer header (B2)', async function () {
            const proc = await api.process({ inputformat: 'png', outputformat: 'jpg' });
            const res = await H.request({ method: 'DELETE', url: H.abs(proc.url),
                headers: { Authorization: 'Bearer not-a-key-0123456789' } });
            expect(H.expectJson(res)).to.deep.equal(DELETED);
        });

        it('GET /process/ID/delete deletes (I2)', async function () {
            const proc = await api.process({ inputformat: 'png', outputformat: 'jpg' });
            const res = await H.request({ url: H.abs(proc.url) + '/delete' });
            expect(H.expectJson(res)).to.deep.equal(DELETED);
            expectNotFound(await H.request({ url: H.abs(proc.url) }));
        });

        it('GET /process/ID/cancel deletes (I2)', async function () {
            const { proc } = await startedUpload();
            const res = await H.request({ url: H.abs(proc.url) + '/cancel' });
            expect(H.expectJson(res)).to.deep.equal(DELETED);
            expectNotFound(await H.request({ url: H.abs(proc.url) }));
        });

        it('a pending ?wait on the deleted process answers 404', async function () {
            const { proc } = await startedUpload();
            const wait = api.status(proc, { wait: 'true' });
            expect(await H.settlesWithin(wait, 500)).to.equal(false);
            H.expectJson(await H.request({ method: 'DELETE', url: H.abs(proc.url) }));
            expectNotFound(await wait);
        });

        it('a blocked download of the deleted process answers 404', async function () {
            const { proc, st } = await startedUpload();
            const dl = api.download(st);
            expect(await H.settlesWithin(dl, 500)).to.equal(false);
            H.expectJson(await H.request({ method: 'DELETE', url: H.abs(proc.url) }));
            H.expectError(await dl, 404);
        });
    });

    describe('/processes (J1)', function () {
        let older;
        let newer;
        let done;
        let list;

        before(async function () {
            older = (await startedUpload()).proc;
            await H.sleep(1100);
            newer = (await startedUpload()).proc;
            await H.sleep(1100);
            done = (await api.convertOk('png', 'jpg', pngBytes, 'list.png')).status;
            list = H.expectJson(await H.request({ url: server.base + '/processes',
                query: { apikey: server.apikey } }));
        });

        function item(id) {
            const found = list.filter((p) => p.id === id);
            expect(found.length, 'process ' + id + ' listed once').to.equal(1);
            return found[0];
        }

        it('GET /processes?apikey= lists the key\'s processes as an array', function () {
            expect(list).to.be.an('array');
            item(older.id);
            item(newer.id);
            item(done.id);
        });

        it('items have id, host, step, starttime, endtime, url', function () {
            for (const p of list) {
                expect(p).to.contain.all.keys(['id', 'host', 'step', 'starttime', 'endtime', 'url']);
                expect(H.STEPS).to.include(p.step);
            }
            const p = item(older.id);
            expect(p.url).to.equal(older.url);
            expect(p.host).to.equal(server.host);
        });

        it('times are strings; endtime 0000-00-00 00:00:00 while running', function () {
            const p = item(newer.id);
            expect(p.step).to.equal('input');
            expect(p.starttime).to.match(TIME_RE);
            expect(p.endtime).to.equal('0000-00-00 00:00:00');
        });

        it('a finished process has a real endtime ≥ starttime', function () {
            const p = item(done.id);
            expect(p.step).to.equal('finished');
            expect(p.starttime).to.match(TIME_RE);
            expect(p.endtime).to.match(TIME_RE);
            expect(p.endtime >= p.starttime).to.equal(true);
            expect(p.endtime).to.not.equal('0000-00-00 00:00:00');
        });

        it('newest first', function () {
            const ids = list.map((p) => p.id);
            expect(ids.indexOf(newer.id)).to.be.below(ids.indexOf(older.id));
            expect(ids.indexOf(done.id)).to.be.below(ids.indexOf(newer.id));
        });

        it('POST /processes with a Bearer key gives the same list', async function () {
            const res = await H.request({ method: 'POST', url: server.base + '/processes',
                headers: { Authorization: 'Bearer ' + server.apikey } });
            const other = H.expectJson(res);
            expect(other.map((p) => p.id)).to.deep.equal(list.map((p) => p.id));
        });

        it('no key → 401 No API Key provided!', async function () {
            const res = await H.request({ url: server.base + '/processes' });
            expect(res.status).to.equal(401);
            expect(res.json()).to.deep.equal({ error: 'No API Key provided!', code: 401 });
        });

        it('another key sees none of these processes', async function () {
            const key2 = 'test-' + crypto.randomBytes(16).toString('hex');
            server.cli(['keys', 'add', '--key', key2, '--email', 'other@example.com']);
            const other = H.expectJson(await H.request({ url: server.base + '/processes',
                query: { apikey: key2 } }));
            expect(other).to.be.an('array');
            const ids = other.map((p) => p.id);
            expect(ids).to.not.include(older.id);
            expect(ids).to.not.include(done.id);
        });
    });

    describe('/conversiontypes (B3, J2)', function () {
        let all;

        before(async function () {
            all = H.expectJson(await H.request({ url: server.base + '/conversiontypes' }));
        });

        it('answers without a key: a non-empty array', function () {
            expect(all).to.be.an('array');
            expect(all.length).to.be.above(0);
        });

        it('items have the six fields; converteroptions defaults are strings or null', function () {
            for (const t of all) {
                expect(t).to.contain.all.keys(['inputformat', 'outputformat', 'converter', 'group',
                    'note', 'converteroptions']);
                expect(t.inputformat).to.be.a('string');
                expect(t.outputformat).to.be.a('string');
                expect(t.converter).to.be.a('string');
                expect(t.group).to.be.a('string');
                expect(t.note === null || typeof t.note === 'string').to.equal(true);
                expect(t.converteroptions).to.be.an('object');
                for (const [k, v] of Object.entries(t.converteroptions))
                    expect(v === null || typeof v === 'string', k + ' = ' + JSON.stringify(v)).to.equal(true);
            }
        });

        it('inputformat=png lists only png inputs, jpg among the outputs', async function () {
            const r = H.expectJson(await H.request({ url: server.base + '/conversiontypes',
                query: { inputformat: 'png' } }));
            expect(r.length).to.be.above(0);
            for (const t of r)
                expect(t.inputformat).to.equal('png');
            expect(r.map((t) => t.outputformat)).to.include('jpg');
        });

        it('both filters give the one pair, group image, with the image options', async function () {
            const r = H.expectJson(await H.request({ url: server.base + '/conversiontypes',
                query: { inputformat: 'png', outputformat: 'jpg' } }));
            expect(r.length).to.equal(1);
            expect(r[0].inputformat).to.equal('png');
            expect(r[0].outputformat).to.equal('jpg');
            expect(r[0].group).to.equal('image');
            expect(r[0].converteroptions).to.include.keys(['quality', 'resize']);
        });

        it('empty filters mean no filter (lar)', async function () {
            const r = H.expectJson(await H.request({ url: server.base + '/conversiontypes',
                query: 'inputformat=&outputformat=' }));
            expect(r).to.deep.equal(all);
        });

        it('an unknown format gives an empty array', async function () {
            const r = H.expectJson(await H.request({ url: server.base + '/conversiontypes',
                query: { inputformat: 'xyzfoo' } }));
            expect(r).to.deep.equal([]);
        });

        it('svg → png is offered (the product requirement)', function () {
            expect(all.some((t) => t.inputformat === 'svg' && t.outputformat === 'png')).to.equal(true);
        });
    });

    describe('/user (J3)', function () {
        it('Bearer key → 200 {"minutes": integer}', async function () {
            const u = H.expectJson(await H.request({ url: server.base + '/user',
                headers: { Authorization: 'Bearer ' + server.apikey } }));
            expect(Number.isInteger(u.minutes)).to.equal(true);
            expect(u.minutes).to.be.at.least(0);
        });

        it('?apikey= → the same minutes', async function () {
            const a = H.expectJson(await H.request({ url: server.base + '/user',
                query: { apikey: server.apikey } }));
            expect(Number.isInteger(a.minutes)).to.equal(true);
        });

        it('no key → 401', async function () {
            const res = await H.request({ url: server.base + '/user' });
            expect(res.status).to.equal(401);
            expect(res.json()).to.deep.equal({ error: 'No API Key provided!', code: 401 });
        });
    });

    describe('error bodies (K1, K4)', function () {
        it('unknown route → 404 JSON', async function () {
            H.expectError(await H.request({ url: server.base + '/no/such/route' }), 404);
        });

        it('unknown sub-route of a process → 404 JSON', async function () {
            const proc = await api.process({ inputformat: 'png', outputformat: 'jpg' });
            H.expectError(await H.request({ url: H.abs(proc.url) + '/frobnicate' }), 404);
        });

        it('wrong method → 405 JSON (PUT /process, PATCH /process/ID, DELETE /conversiontypes)',
            async function () {
                H.expectError(await H.request({ method: 'PUT', url: server.base + '/process',
                    json: { apikey: server.apikey } }), 405);
                const proc = await api.process({ inputformat: 'png', outputformat: 'jpg' });
                H.expectError(await H.request({ method: 'PATCH', url: H.abs(proc.url), json: {} }), 405);
                H.expectError(await H.request({ method: 'DELETE',
                    url: server.base + '/conversiontypes' }), 405);
            });

        // The key travels in a header here: a body that cannot be parsed cannot carry it.
        const auth = () => ({ Authorization: 'Bearer ' + server.apikey });

        it('a duplicate key in one JSON document → 400', async function () {
            const res = await H.request({ method: 'POST', url: server.base + '/process',
                headers: auth(),
                json: '{"inputformat":"png","inputformat":"gif","outputformat":"jpg"}' });
            H.expectError(res, 400, /duplicate/i);
        });

        it('JSON nested 100 levels → 400', async function () {
            const deep = '['.repeat(100) + ']'.repeat(100);
            const res = await H.request({ method: 'POST', url: server.base + '/process',
                headers: auth(),
                json: '{"inputformat":"png","outputformat":"jpg","tag":' + deep + '}' });
            H.expectError(res, 400);
        });

        it('JSON nested 10 levels is fine', async function () {
            const deep = '['.repeat(10) + ']'.repeat(10);
            const res = await H.request({ method: 'POST', url: server.base + '/process',
                headers: auth(),
                json: '{"inputformat":"png","outputformat":"jpg","tag":' + deep + '}' });
            H.expectJson(res, 200);
        });

        it('malformed JSON → 400 JSON', async function () {
            H.expectError(await H.request({ method: 'POST', url: server.base + '/process',
                headers: auth(), json: '{"inputformat": "png", "outputformat": ' }), 400);
        });

        it('a JSON body that is not an object → 400', async function () {
            H.expectError(await H.request({ method: 'POST', url: server.base + '/process',
                query: { apikey: server.apikey }, json: '["png","jpg"]' }), 400);
        });

        it('headers of 12 KiB reach the handler', async function () {
            const res = await H.request({ method: 'POST', url: server.base + '/process',
                headers: { 'X-Padding': 'p'.repeat(12 * 1024) },
                json: { apikey: server.apikey, inputformat: 'png', outputformat: 'jpg' } });
            H.expectJson(res, 200);
        });

        describe('--max-body-bytes 4096 (413)', function () {
            let small;

            before(async function () {
                this.timeout(30000);
                small = await startServer({ args: ['--max-body-bytes', '4096'] });
            });

            after(async function () {
                await H.stopServer(small);
            });

            function body(extra) {
                return JSON.stringify({ apikey: small.apikey, inputformat: 'png', outputformat: 'jpg',
                    tag: 'x'.repeat(extra) });
            }

            it('a JSON body under the limit → 200', async function () {
                H.expectJson(await H.request({ method: 'POST', url: small.base + '/process',
                    json: body(100) }), 200);
            });

            it('a JSON body over the limit → 413 JSON', async function () {
                H.expectError(await H.request({ method: 'POST', url: small.base + '/process',
                    json: body(8000) }), 413);
            });

            it('a chunked JSON body over the limit → 413 JSON', async function () {
                const b = Buffer.from(body(8000));
                const chunks = [];
                for (let i = 0; i < b.length; i += 1000)
                    chunks.push(b.subarray(i, i + 1000));
                H.expectError(await H.request({ method: 'POST', url: small.base + '/process',
                    headers: { 'Content-Type': 'application/json' }, chunks }), 413);
            });

            it('an urlencoded body over the limit → 413 JSON', async function () {
                H.expectError(await H.request({ method: 'POST', url: small.base + '/process',
                    form: { apikey: small.apikey, inputformat: 'png', outputformat: 'jpg',
                        tag: 'y'.repeat(8000) } }), 413);
            });

            it('a base64 input over the limit → 413 JSON', async function () {
                const proc = H.expectJson(await H.request({ method: 'POST',
                    url: small.base + '/process', json: body(0) }));
                H.expectError(await H.request({ method: 'POST', url: H.abs(proc.url),
                    json: { input: 'base64', filename: 'big.png',
                        file: crypto.randomBytes(6000).toString('base64') } }), 413);
            });
        });
    });

    describe('presets (L4)', function () {
        let key2;

        before(function () {
            server.cli(['presets', 'add', '--key', server.apikey, '--id', 'p1',
                '--options', '{"quality":10,"resize":"300x"}']);
            key2 = 'test-' + crypto.randomBytes(16).toString('hex');
            server.cli(['keys', 'add', '--key', key2, '--email', 'k2@example.com']);
            server.cli(['presets', 'add', '--key', key2, '--id', 'p2', '--options', '{"quality":10}']);
        });

        async function convert(params) {
            const { status } = await api.convertOk('png', 'jpg', noisyBytes, 'preset.png', params);
            const dl = await api.download(status);
            expect(dl.status).to.equal(200);
            return { status, img: images.decodeBuffer(dl.body, 'p.jpg'), size: dl.body.length };
        }

        it('preset=p1 applies its options (resize and quality)', async function () {
            const plain = await convert({ converteroptions: { resize: '300x' } });
            const preset = await convert({ preset: 'p1' });
            expect([preset.img.width, preset.img.height]).to.deep.equal([300, 200]);
            expect(preset.size * 2, 'quality 10 from the preset had no effect').to.be.below(plain.size);
        });

        it('given options win over the preset; the rest of the preset still applies', async function () {
            const low = await convert({ preset: 'p1' });
            const high = await convert({ preset: 'p1', converteroptions: { quality: 95 } });
            expect([high.img.width, high.img.height]).to.deep.equal([300, 200]);
            expect(low.size * 2).to.be.below(high.size);
            expect(high.status.converter.options.quality).to.equal(95);
        });

        it('an unknown preset → 400 "preset ID not found"', async function () {
            const { proc, res } = await api.convertBase64('png', 'jpg', pngBytes, 'np.png',
                { preset: 'p-missing' });
            H.expectFailedStatus(res, 400, proc, 'preset p-missing not found');
        });

        it('a preset of another key is not found', async function () {
            const { proc, res } = await api.convertBase64('png', 'jpg', pngBytes, 'np2.png',
                { preset: 'p2' });
            H.expectFailedStatus(res, 400, proc, 'preset p2 not found');
        });
    });
});
