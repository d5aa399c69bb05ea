// SPDX-License-Identifier: MIT
// api_download.test.js - contract tests of downloads: headers, Range, one-time claims, save,
// HEAD, early (blocking) downloads, multi-file outputs with ZIP and members (G8, H).
'use strict';
const { expect } = require('chai');
const fs = require('fs');
const { startServer } = require('../lib/server');
const images = require('../lib/images');
const H = require('../lib/http');

describe('downloads: GET //HOST/download/TOKEN (G8, H)', function () {
    this.timeout(20000);
    let server;
    let api;
    let dir;
    let pngBytes;
    let tiffBytes;
    let gifBytes;
    let corruptBytes;

    before(async function () {
        this.timeout(30000);
        dir = images.tmpDir();
        pngBytes = fs.readFileSync(images.png(dir, 'in.png', 72, 48, 100));
        tiffBytes = fs.readFileSync(images.tiff(dir, 'pages.tif', 40, 30, 3));
        gifBytes = fs.readFileSync(images.gif(dir, 'anim.gif', 40, 30, 3));
        corruptBytes = fs.readFileSync(images.corruptPng(dir, 'corrupt.png'));
        server = await startServer();
        api = H.api(server);
    });

    after(async function () {
        fs.rmSync(dir, { recursive: true, force: true });
        await H.stopServer(server);
    });

    async function converted(filename, params, inputformat, outputformat, bytes) {
        const { status } = await api.convertOk(inputformat || 'png', outputformat || 'jpg',
            bytes || pngBytes, filename, params);
        return status;
    }

    function expectJpeg(buf) {
        const img = images.decodeBuffer(buf, 'x.jpg');
        expect([img.loader, img.width, img.height]).to.deep.equal(['jpegload', 72, 48]);
    }

    describe('headers (H1-H4)', function () {
        let st;
        let dl;

        before(async function () {
            st = await converted('plain.png', { save: true });
            dl = await api.download(st);
        });

        it('answers 200 with the converted file', function () {
            expect(dl.status).to.equal(200);
            expectJpeg(dl.body);
        });

        it('Content-Disposition: attachment; filename="NAME"; filename*=UTF-8\'\'NAME (H3)', function () {
            expect(dl.headers['content-disposition']).to.equal(
                'attachment; filename="plain.jpg"; filename*=UTF-8\'\'plain.jpg');
        });

        it('exact Content-Length equal to output.size (H4)', function () {
            expect(Number(dl.headers['content-length'])).to.equal(dl.body.length);
            expect(dl.body.length).to.equal(st.output.size);
        });

        it('Content-Type is the file type, never application/json (H2)', function () {
            expect(dl.headers['content-type']).to.match(/^image\/jpeg(;|$)/);
        });

        it('X-Content-Type-Options: nosniff', function () {
            expect(dl.headers['x-content-type-options']).to.equal('nosniff');
        });

        it('a PNG output is served as image/png', async function () {
            const s = await converted('topng.png', {}, 'jpg', 'png',
                fs.readFileSync(images.jpg(dir, 'src.jpg', 20, 10)));
            const r = await api.download(s);
            expect(r.status).to.equal(200);
            expect(r.headers['content-type']).to.match(/^image\/png(;|$)/);
            expect(r.headers['content-type']).to.not.match(/json/);
            expect(images.decodeBuffer(r.body, 'x.png').loader).to.equal('pngload');
        });

        it('?inline → Content-Disposition inline with the same names', async function () {
            const r = await api.download(st, undefined, { query: 'inline' });
            expect(r.status).to.equal(200);
            expect(r.headers['content-disposition']).to.equal(
                'inline; filename="plain.jpg"; filename*=UTF-8\'\'plain.jpg');
        });

        it('Accept: application/json and a Bearer header are ignored (H1, B2)', async function () {
            const r = await api.download(st, undefined, { headers: { Accept: 'application/json',
                Authorization: 'Bearer not-the-key-0123456789' } });
            expect(r.status).to.equal(200);
            expect(r.headers['content-type']).to.not.match(/json/);
            expect(r.body.equals(dl.body)).to.equal(true);
        });

        it('If-Modified-Since is ignored: 200 with the whole file (H4)', async function () {
            const r = await api.download(st, undefined, { headers: {
                'If-Modified-Since': new Date(Date.now() + 86400000).toUTCString() } });
            expect(r.status).to.equal(200);
            expect(r.body.equals(dl.body)).to.equal(true);
        });

        it('a UTF-8 name: ASCII fallback plus filename*=UTF-8\'\' percent-encoded', async function () {
            const s = await converted('Grüße photo.png', {});
            expect(s.output.filename).to.equal('Grüße photo.jpg');
            const r = await api.download(s);
            expect(r.status).to.equal(200);
            const m = /^attachment; filename="([^"]*)"; filename\*=UTF-8''(\S+)$/.exec(
                r.headers['content-disposition']);
            expect(m, r.headers['content-disposition']).to.not.equal(null);
            expect(m[1]).to.match(/^[A-Za-z0-9._-]+$/);
            expect(m[1]).to.match(/\.jpg$/);
            expect(m[2]).to.match(/^(?:[A-Za-z0-9._~-]|%[0-9A-Fa-f]{2})+$/);
            expect(decodeURIComponent(m[2])).to.equal('Grüße photo.jpg');
        });
    });

    describe('Range (206)', function () {
        let st;
        let full;

        before(async function () {
            st = await converted('range.png', { save: true });
            full = (await api.download(st)).body;
        });

        it('bytes=0-99 → 206 with Content-Range and those bytes', async function () {
            const r = await api.download(st, undefined, { headers: { Range: 'bytes=0-99' } });
            expect(r.status).to.equal(206);
            expect(r.headers['content-range']).to.equal('bytes 0-99/' + full.length);
            expect(Number(r.headers['content-length'])).to.equal(100);
            expect(r.body.equals(full.subarray(0, 100))).to.equal(true);
        });

        it('bytes=100- → 206 with the rest of the file', async function () {
            const r = await api.download(st, undefined, { headers: { Range: 'bytes=100-' } });
            expect(r.status).to.equal(206);
            expect(r.headers['content-range']).to.equal('bytes 100-' + (full.length - 1) + '/' +
                full.length);
            expect(r.body.equals(full.subarray(100))).to.equal(true);
        });
    });

    describe('one-time downloads (H7, SEC-28)', function () {
        it('without save the second GET → 404 JSON', async function () {
            const st = await converted('once.png', {});
            const first = await api.download(st);
            expect(first.status).to.equal(200);
            expectJpeg(first.body);
            H.expectError(await api.download(st), 404);
        });

        it('the process record stays: status 200 finished, then DELETE 200', async function () {
            const st = await converted('record.png', {});
            expect((await api.download(st)).status).to.equal(200);
            const again = H.expectJson(await api.status({ url: st.url }));
            expect(again.step).to.equal('finished');
            expect(again.id).to.equal(st.id);
            const del = await H.request({ method: 'DELETE', url: H.abs(st.url) });
            expect(H.expectJson(del)).to.deep.equal({ message: 'Process was deleted' });
        });

        it('HEAD does not count: headers with Content-Length, then GET works once', async function () {
            const st = await converted('head.png', {});
            const head = await api.download(st, undefined, { method: 'HEAD' });
            expect(head.status).to.equal(200);
            expect(Number(head.headers['content-length'])).to.equal(st.output.size);
            expect(head.body.length).to.equal(0);
            const get = await api.download(st);
            expect(get.status).to.equal(200);
            expect(get.body.length).to.equal(st.output.size);
            expect((await api.download(st)).status).to.equal(404);
        });

        it('a Range that does not reach the last byte does not claim', async function () {
            const st = await converted('part.png', {});
            const part = await api.download(st, undefined, { headers: { Range: 'bytes=0-9' } });
            expect(part.status).to.equal(206);
            const get = await api.download(st);
            expect(get.status).to.equal(200);
            expect(get.body.subarray(0, 10).equals(part.body)).to.equal(true);
            expect((await api.download(st)).status).to.equal(404);
        });

        it('a Range that ends at the last byte claims', async function () {
            const st = await converted('tail.png', {});
            const part = await api.download(st, undefined, { headers: { Range: 'bytes=10-' } });
            expect(part.status).to.equal(206);
            expect(part.body.length).to.equal(st.output.size - 10);
            expect((await api.download(st)).status).to.equal(404);
        });

        it('save=true allows repeated downloads of the same bytes', async function () {
            const st = await converted('saved.png', { save: true });
            const a = await api.download(st);
            const b = await api.download(st);
            const c = await api.download(st);
            expect([a.status, b.status, c.status]).to.deep.equal([200, 200, 200]);
            expect(b.body.equals(a.body) && c.body.equals(a.body)).to.equal(true);
            expectJpeg(a.body);
        });

        it('save="1" (string form) also keeps the file', async function () {
            const st = await converted('saved1.png', { save: '1' });
            expect((await api.download(st)).status).to.equal(200);
            expect((await api.download(st)).status).to.equal(200);
        });
    });

    describe('download before the output exists (H5)', function () {
        it('blocks until the conversion finishes, then serves the file', async function () {
            const proc = await api.process({ inputformat: 'png', outputformat: 'jpg' });
            const st = H.expectJson(await api.start(proc, { input: 'upload' }));
            const pending = api.download(st);
            const early = await H.settlesWithin(pending, 700);
            expect(early, 'download answered before the output existed').to.equal(false);
            H.expectJson(await api.put(st, 'early.png', pngBytes));
            const dl = await pending;
            expect(dl.status).to.equal(200);
            expect(dl.headers['content-disposition']).to.contain('filename="early.jpg"');
            expectJpeg(dl.body);
        });

        it('answers the failed process 4xx when the conversion fails', async function () {
            const proc = await api.process({ inputformat: 'png', outputformat: 'jpg' });
            const st = H.expectJson(await api.start(proc, { input: 'upload' }));
            const pending = api.download(st);
            expect(await H.settlesWithin(pending, 500)).to.equal(false);
            H.expectJson(await api.put(st, 'bad.png', corruptBytes));
            const dl = await pending;
            expect(dl.status).to.equal(422);
            expect(dl.headers['content-type']).to.equal(H.JSON_TYPE);
            expect(dl.json().step).to.equal('error');
        });
    });

    describe('several output files: multipage TIFF → PNG (G8, H6)', function () {
        let st;
        const names = ['pages-1.png', 'pages-2.png', 'pages-3.png'];

        before(async function () {
            st = await converted('pages.tif', { save: true }, 'tiff', 'png', tiffBytes);
        });

        it('output.files lists NAME-1.png … NAME-3.png (1-based)', function () {
            expect(st.output.files).to.deep.equal(names);
        });

        it('output.filename is NAME.zip and output.ext zip', function () {
            expect(st.output.filename).to.equal('pages.zip');
            expect(st.output.ext).to.equal('zip');
        });

        it('output.url serves a ZIP with exactly those entries, each the right page', async function () {
            const dl = await api.download(st);
            expect(dl.status).to.equal(200);
            expect(dl.headers['content-type']).to.match(/^application\/zip(;|$)/);
            expect(Number(dl.headers['content-length'])).to.equal(dl.body.length);
            expect(dl.headers['content-disposition']).to.match(/^attachment; filename="pages\.zip"/);
            const entries = H.unzipBuffer(dl.body);
            expect(entries.map((e) => e.name)).to.deep.equal(names);
            entries.forEach((e, i) => {
                const img = images.decodeBuffer(e.data, e.name);
                expect([img.loader, img.width, img.height], e.name).to.deep.equal(['pngload', 40, 30]);
                const px = images.pixelOfBuffer(e.data, e.name, 5, 5);
                expect(px[0], e.name).to.be.closeTo(images.pageValue(i + 1), 3);
            });
        });

        it('output.size is the ZIP size', async function () {
            const dl = await api.download(st);
            expect(dl.body.length).to.equal(st.output.size);
        });

        it('the ZIP answers Range requests', async function () {
            const full = (await api.download(st)).body;
            const r = await api.download(st, undefined, { headers: { Range: 'bytes=0-3' } });
            expect(r.status).to.equal(206);
            expect(r.body.equals(full.subarray(0, 4))).to.equal(true);
            expect(r.body.readUInt32LE(0)).to.equal(0x04034b50);
        });

        it('output.url/NAME-2.png serves page 2', async function () {
            const dl = await api.download(st, 'pages-2.png');
            expect(dl.status).to.equal(200);
            expect(dl.headers['content-type']).to.match(/^image\/png(;|$)/);
            expect(dl.headers['content-disposition']).to.equal(
                'attachment; filename="pages-2.png"; filename*=UTF-8\'\'pages-2.png');
            const img = images.decodeBuffer(dl.body, 'p2.png');
            expect([img.width, img.height]).to.deep.equal([40, 30]);
            expect(images.pixelOfBuffer(dl.body, 'p2.png', 5, 5)[0]).to.be.closeTo(images.pageValue(2), 3);
        });

        it('an unknown member name → 404', async function () {
            H.expectError(await api.download(st, 'pages-4.png'), 404);
        });
    });

    describe('several output files: animated GIF → PNG', function () {
        it('frames become NAME-1.png … NAME-3.png with their pixels', async function () {
            const st = await converted('anim.gif', { save: true }, 'gif', 'png', gifBytes);
            expect(st.output.files).to.deep.equal(['anim-1.png', 'anim-2.png', 'anim-3.png']);
            expect(st.output.filename).to.equal('anim.zip');
            const dl = await api.download(st, 'anim-3.png');
            expect(dl.status).to.equal(200);
            const img = images.decodeBuffer(dl.body, 'a3.png');
            expect([img.loader, img.width, img.height]).to.deep.equal(['pngload', 40, 30]);
            expect(images.pixelOfBuffer(dl.body, 'a3.png', 5, 5)[0]).to.be.closeTo(images.pageValue(3), 3);
        });
    });

    describe('one-time claims per file (H7)', function () {
        it('each member and the ZIP are claimed independently', async function () {
            const st = await converted('claims.tif', {}, 'tiff', 'png', tiffBytes);
            expect(st.output.files).to.deep.equal(['claims-1.png', 'claims-2.png', 'claims-3.png']);
            expect((await api.download(st, 'claims-2.png')).status).to.equal(200);
            H.expectError(await api.download(st, 'claims-2.png'), 404);
            const one = await api.download(st, 'claims-1.png');
            expect(one.status).to.equal(200);
            expect(images.decodeBuffer(one.body, 'c1.png').width).to.equal(40);
            const zip = await api.download(st);
            expect(zip.status).to.equal(200);
            expect(H.unzipBuffer(zip.body).map((e) => e.name)).to.deep.equal(st.output.files);
            H.expectError(await api.download(st), 404);
            expect((await api.download(st, 'claims-3.png')).status).to.equal(200);
            H.expectError(await api.download(st, 'claims-3.png'), 404);
        });
    });

    describe('member names are percent-decoded (H8)', function () {
        let st;

        before(async function () {
            st = await converted('Übersicht 2.tif', { save: true }, 'tiff', 'png', tiffBytes);
        });

        it('files use the UTF-8 input name', function () {
            expect(st.output.files).to.deep.equal(['Übersicht 2-1.png', 'Übersicht 2-2.png',
                'Übersicht 2-3.png']);
            expect(st.output.filename).to.equal('Übersicht 2.zip');
        });

        it('a percent-encoded member name is served (node, php)', async function () {
            const dl = await api.download(st, 'Übersicht 2-2.png');
            expect(dl.status).to.equal(200);
            expect(images.pixelOfBuffer(dl.body, 'x.png', 5, 5)[0]).to.be.closeTo(images.pageValue(2), 3);
        });

        it('a raw UTF-8 member name is served (py, lar, rb-e)', async function () {
            const path = new URL(H.abs(st.output.url)).pathname + '/Übersicht%202-3.png';
            const dl = await H.rawRequest(server.base, 'GET ' + path + ' HTTP/1.1\r\nHost: ' +
                server.host + '\r\nConnection: close\r\n\r\n');
            expect(dl.status).to.equal(200);
            expect(images.pixelOfBuffer(dl.body, 'x.png', 5, 5)[0]).to.be.closeTo(images.pageValue(3), 3);
        });
    });
});
