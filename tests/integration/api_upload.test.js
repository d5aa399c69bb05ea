// SPDX-License-Identifier: MIT
// api_upload.test.js - contract tests of uploads: PUT with encoded names, chunked bodies,
// Expect: 100-continue, multipart POST, Content-Type ignored, limits, wait before PUT (C7-C9, F).
'use strict';
const { expect } = require('chai');
const crypto = require('crypto');
const fs = require('fs');
const { startServer } = require('../lib/server');
const images = require('../lib/images');
const H = require('../lib/http');

const MAX_UPLOAD = 200000;

describe('uploads: PUT/POST //HOST/upload/TOKEN (C7-C9, F)', function () {
    this.timeout(20000);
    let server;
    let api;
    let dir;
    let pngBytes;
    let bigPng;

    before(async function () {
        this.timeout(30000);
        dir = images.tmpDir();
        pngBytes = fs.readFileSync(images.png(dir, 'small.png', 64, 40, 100));
        bigPng = fs.readFileSync(images.noisy(dir, 'noisy.png', 300, 200));
        server = await startServer({ args: ['--max-upload-bytes', String(MAX_UPLOAD)] });
        api = H.api(server);
    });

    after(async function () {
        fs.rmSync(dir, { recursive: true, force: true });
        await H.stopServer(server);
    });

    // create png → jpg and start with input=upload; returns {proc, st}
    async function started() {
        const proc = await api.process({ inputformat: 'png', outputformat: 'jpg' });
        const st = H.expectJson(await api.start(proc, { input: 'upload' }));
        expect(st.step).to.equal('input');
        return { proc, st };
    }

    async function finished(proc) {
        const fin = H.expectJson(await api.status(proc, { wait: 'true' }));
        expect(fin.step).to.equal('finished');
        return fin;
    }

    async function outputImage(fin) {
        const dl = await api.download(fin);
        expect(dl.status).to.equal(200);
        return images.decodeBuffer(dl.body, 'out.jpg');
    }

    describe('PUT with a percent-encoded name (F1, F3)', function () {
        const name = 'my photo ü.png';
        let proc;
        let res;

        before(async function () {
            const s = await started();
            proc = s.proc;
            res = await H.request({ method: 'PUT',
                url: H.abs(s.st.upload.url) + '/' + encodeURIComponent(name), body: pngBytes });
        });

        it('answers 200 {"file", "size", "message": "File saved."} as JSON', function () {
            const body = H.expectJson(res, 200);
            expect(body).to.deep.equal({ file: name, size: pngBytes.length, message: 'File saved.' });
        });

        it('the decoded name becomes input.filename, name and ext', async function () {
            const st = H.expectJson(await api.status(proc, { wait: 'true' }));
            expect(st.input.filename).to.equal(name);
            expect(st.input.name).to.equal('my photo ü');
            expect(st.input.ext).to.equal('png');
            expect(st.input.size).to.equal(pngBytes.length);
        });

        it('the output is named after it and decodes', async function () {
            const fin = await finished(proc);
            expect(fin.output.filename).to.equal('my photo ü.jpg');
            const img = await outputImage(fin);
            expect(img.loader).to.equal('jpegload');
            expect([img.width, img.height]).to.deep.equal([64, 40]);
        });
    });

    describe('body framing (C7)', function () {
        it('chunked PUT without Content-Length is stored whole', async function () {
            const { proc, st } = await started();
            const res = await H.putChunked(H.abs(st.upload.url) + '/chunked.png', bigPng, 7000);
            const body = H.expectJson(res);
            expect(body).to.deep.equal({ file: 'chunked.png', size: bigPng.length,
                message: 'File saved.' });
            const fin = await finished(proc);
            expect(fin.input.size).to.equal(bigPng.length);
            const img = await outputImage(fin);
            expect([img.width, img.height]).to.deep.equal([300, 200]);
        });

        it('Expect: 100-continue gets 100 Continue, then the upload is stored', async function () {
            const { proc, st } = await started();
            const res = await H.request({ method: 'PUT', url: H.abs(st.upload.url) + '/cont.png',
                body: bigPng, expectContinue: true });
            expect(res.gotContinue, '100 Continue was not sent').to.equal(true);
            expect(H.expectJson(res)).to.deep.equal({ file: 'cont.png', size: bigPng.length,
                message: 'File saved.' });
            const img = await outputImage(await finished(proc));
            expect([img.width, img.height]).to.deep.equal([300, 200]);
        });

        it('Expect: 100-Continue (capitalised, libcurl style) works too', async function () {
            const { proc, st } = await started();
            const res = await H.request({ method: 'PUT', url: H.abs(st.upload.url) + '/cap.png',
                body: pngBytes, headers: { Expect: '100-Continue' } });
            H.expectJson(res);
            await finished(proc);
        });
    });

    describe('multipart POST to the upload URL (F2, C8)', function () {
        const name = 'résumé café.png';
        let proc;
        let res;

        before(async function () {
            const s = await started();
            proc = s.proc;
            // swift 1.0.x: the body starts with "\r\n--boundary"; no part Content-Type
            const mp = H.multipart([{ name: 'file', filename: name, data: pngBytes }],
                { preamble: '\r\n' });
            res = await H.request({ method: 'POST', url: H.abs(s.st.upload.url), multipart: mp });
        });

        it('answers 200 JSON with the UTF-8 name and size', function () {
            expect(H.expectJson(res)).to.deep.equal({ file: name, size: pngBytes.length,
                message: 'File saved.' });
        });

        it('converts the posted file under its name', async function () {
            const fin = await finished(proc);
            expect(fin.input.filename).to.equal(name);
            expect(fin.output.filename).to.equal('résumé café.jpg');
            const img = await outputImage(fin);
            expect([img.width, img.height]).to.deep.equal([64, 40]);
        });

        it('tolerates a text preamble, other fields first and a part Content-Type', async function () {
            const s = await started();
            const mp = H.multipart([{ name: 'note', value: 'hello' },
                { name: 'file', filename: 'form.png', contentType: 'application/octet-stream',
                    data: pngBytes }], { preamble: 'This is a preamble.\r\n' });
            const r = await H.request({ method: 'POST', url: H.abs(s.st.upload.url), multipart: mp });
            expect(H.expectJson(r)).to.deep.equal({ file: 'form.png', size: pngBytes.length,
                message: 'File saved.' });
            const fin = await finished(s.proc);
            expect(fin.input.filename).to.equal('form.png');
        });
    });

    describe('the upload Content-Type means nothing (C9)', function () {
        const types = [undefined, 'image/png', 'application/octet-stream', 'application/json',
            'application/x-www-form-urlencoded', 'text/plain'];
        for (const t of types) {
            it('PUT with Content-Type ' + (t || '(none)') + ' is stored as is', async function () {
                const { proc, st } = await started();
                const res = await H.request({ method: 'PUT', url: H.abs(st.upload.url) + '/ct.png',
                    body: pngBytes, headers: t ? { 'Content-Type': t } : {} });
                expect(H.expectJson(res)).to.deep.equal({ file: 'ct.png', size: pngBytes.length,
                    message: 'File saved.' });
                const fin = await finished(proc);
                expect(fin.input.size).to.equal(pngBytes.length);
            });
        }
    });

    describe('rules', function () {
        it('a second upload to the same token → 400 JSON; the first file stays', async function () {
            const { proc, st } = await started();
            H.expectJson(await api.put(st, 'first.png', pngBytes));
            const second = await api.put(st, 'second.png', bigPng);
            H.expectError(second, 400);
            const fin = await finished(proc);
            expect(fin.input.filename).to.equal('first.png');
            const img = await outputImage(fin);
            expect([img.width, img.height]).to.deep.equal([64, 40]);
        });

        it('a Bearer header on the upload is ignored (B2)', async function () {
            const { proc, st } = await started();
            const res = await api.put(st, 'bearer.png', pngBytes,
                { headers: { Authorization: 'Bearer not-a-valid-key-at-all' } });
            H.expectJson(res);
            await finished(proc);
        });

        it('an unknown token → 404 JSON (PUT and POST)', async function () {
            const put = await H.request({ method: 'PUT',
                url: server.base + '/upload/AAAAAAAAAAAAAAAAAAAAAAAAAA/x.png', body: pngBytes });
            H.expectError(put, 404);
            const mp = H.multipart([{ name: 'file', filename: 'x.png', data: pngBytes }]);
            const post = await H.request({ method: 'POST',
                url: server.base + '/upload/AAAAAAAAAAAAAAAAAAAAAAAAAA', multipart: mp });
            H.expectError(post, 404);
        });
    });

    describe('a wait sent before the PUT (F4, G2)', function () {
        it('keeps blocking while the upload is missing, then answers finished', async function () {
            const { proc, st } = await started();
            const wait = api.status(proc, { wait: 'true' });
            const early = await H.settlesWithin(wait, 800);
            expect(early, 'wait answered while step was input').to.equal(false);
            const put = await api.put(st, 'f4.png', pngBytes);
            expect(H.expectJson(put).size).to.equal(pngBytes.length);
            const fin = H.expectJson(await wait);
            expect(fin.step).to.equal('finished');
            expect(fin.percent).to.equal(100);
            expect(fin.output.url).to.equal(st.output.url);
        });
    });

    describe('--max-upload-bytes (413)', function () {
        const tooBig = crypto.randomBytes(MAX_UPLOAD + 50000);

        it('a PUT over the limit → 413 JSON', async function () {
            const { st } = await started();
            H.expectError(await api.put(st, 'big.png', tooBig), 413);
        });

        it('a chunked PUT over the limit → 413 JSON', async function () {
            const { st } = await started();
            const res = await H.putChunked(H.abs(st.upload.url) + '/bigc.png', tooBig, 16384);
            H.expectError(res, 413);
        });

        it('a multipart POST over the limit → 413 JSON', async function () {
            const { st } = await started();
            const mp = H.multipart([{ name: 'file', filename: 'bigm.png', data: tooBig }]);
            H.expectError(await H.request({ method: 'POST', url: H.abs(st.upload.url),
                multipart: mp }), 413);
        });

        it('an upload just under the limit is accepted', async function () {
            const { st } = await started();
            const body = Buffer.concat([pngBytes, Buffer.alloc(MAX_UPLOAD - pngBytes.length - 10)]);
            const res = await api.put(st, 'under.png', body);
            expect(H.expectJson(res).size).to.equal(body.length);
        });
    });
});
