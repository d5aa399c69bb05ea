// SPDX-License-Identifier: MIT
// docs_extract.test.js - mode extract of a PDF's embedded images (converteroptions extract
// "images"): a PDF made by the server itself from two PNGs (png → pdf, merged by qpdf) gives
// NAME-1.png and NAME-2.png of the images' own sizes and colours; jpg too; tiff refused.
'use strict';
const { expect } = require('chai');
const fs = require('fs');
const path = require('path');
const { startServer } = require('../lib/server');
const H = require('../lib/http');
const M = require('../lib/media');
const D = require('../lib/docs');

describe('documents: mode extract of embedded images (ghostscript converter, libqpdf)', function () {
    this.timeout(30000);
    let server;
    let m;
    let dir;
    let two; // two pages: a 64x48 image (200, 30, 40), then a 30x20 one (20, 60, 220)

    before(async function () {
        dir = D.tmpDir();
        server = await startServer();
        m = M.mediaApi(server);
        const parts = [];
        for (const [name, w, h, rgb] of [['red.png', 64, 48, [200, 30, 40]],
            ['blue.png', 30, 20, [20, 60, 220]]]) {
            const png = D.colorPng(dir, name, w, h, rgb, 72);
            const fin = (await m.convertOk({ inputformat: 'png', outputformat: 'pdf', file: png })).fin;
            const pdf = path.join(dir, name.replace('.png', '.pdf'));
            fs.writeFileSync(pdf, await m.download(fin));
            parts.push(pdf);
        }
        two = path.join(dir, 'two.pdf');
        D.run('qpdf', ['--empty', '--pages', parts[0], parts[1], '--', two]);
    });

    after(async function () {
        if (dir)
            fs.rmSync(dir, { recursive: true, force: true });
        await H.stopServer(server);
    });

    afterEach(function () {
        const died = H.serverDied(server);
        if (died)
            throw new Error(died);
    });

    it('/conversiontypes: the pdf → png ghostscript row offers extract, default "pages"', async function () {
        const rows = H.expectJson(await H.request({ url: server.base + '/conversiontypes' }), 200);
        const r = rows.filter((x) => x.inputformat === 'pdf' && x.outputformat === 'png' &&
            x.converter === 'ghostscript');
        expect(r).to.have.lengthOf(1);
        expect(r[0].converteroptions.extract).to.equal('pages');
    });

    describe('extract "images" → png', function () {
        let fin;

        before(async function () {
            fin = (await m.convertOk({ inputformat: 'pdf', outputformat: 'png', mode: 'extract',
                file: two, options: { extract: 'images' } })).fin;
        });

        it('converter ghostscript, output.files two-1.png and two-2.png', function () {
            expect(fin.converter.type).to.equal('ghostscript');
            expect(fin.output.files).to.deep.equal(['two-1.png', 'two-2.png']);
        });

        it('two-1.png is the 64x48 image in (200, 30, 40), pixel for pixel', async function () {
            const buf = await m.download(fin, 'two-1.png');
            const h = D.imageHeader(buf, 'two-1.png');
            expect([h.width, h.height, h.bands, h.loader]).to.deep.equal([64, 48, 3, 'pngload']);
            expect(D.pixelOf(buf, 'two-1.png', 0, 0)).to.deep.equal([200, 30, 40]);
            expect(D.pixelOf(buf, 'two-1.png', 63, 47)).to.deep.equal([200, 30, 40]);
        });

        it('two-2.png is the 30x20 image in (20, 60, 220)', async function () {
            const buf = await m.download(fin, 'two-2.png');
            const h = D.imageHeader(buf, 'two-2.png');
            expect([h.width, h.height, h.bands]).to.deep.equal([30, 20, 3]);
            expect(D.pixelOf(buf, 'two-2.png', 15, 10)).to.deep.equal([20, 60, 220]);
        });
    });

    it('extract "images" → jpg: two-1.jpg 64x48 and two-2.jpg 30x20, JPEG files', async function () {
        const fin = (await m.convertOk({ inputformat: 'pdf', outputformat: 'jpg', mode: 'extract',
            file: two, options: { extract: 'images' } })).fin;
        expect(fin.output.files).to.deep.equal(['two-1.jpg', 'two-2.jpg']);
        for (const [name, w, h] of [['two-1.jpg', 64, 48], ['two-2.jpg', 30, 20]]) {
            const buf = await m.download(fin, name);
            expect(D.isJpeg(buf), name + ' is a JPEG').to.equal(true);
            const hd = D.imageHeader(buf, name);
            expect([hd.width, hd.height], name).to.deep.equal([w, h]);
        }
    });

    it('extract "pages" (the default) still renders the pages: two 150 dpi PNGs', async function () {
        const fin = (await m.convertOk({ inputformat: 'pdf', outputformat: 'png', mode: 'extract',
            file: two })).fin;
        expect(fin.output.files).to.deep.equal(['two-1.png', 'two-2.png']);
        const h = D.imageHeader(await m.download(fin, 'two-1.png'), 'two-1.png');
        expect([h.width, h.height]).to.deep.equal([133, 100]); // 64x48 pt at 150 dpi
    });

    it('extract "images" → tiff is refused with 400 naming the option', async function () {
        const proc = await m.api.process({ inputformat: 'pdf', outputformat: 'tiff', mode: 'extract' });
        const res = await m.api.start(proc, { input: 'upload', outputformat: 'tiff', mode: 'extract',
            converteroptions: { extract: 'images' } });
        H.expectFailedStatus(res, 400, proc, /extract/);
    });

    it('extract "everything" → 400 naming the option', async function () {
        const proc = await m.api.process({ inputformat: 'pdf', outputformat: 'png', mode: 'extract' });
        const res = await m.api.start(proc, { input: 'upload', outputformat: 'png', mode: 'extract',
            converteroptions: { extract: 'everything' } });
        H.expectFailedStatus(res, 400, proc, /extract/);
    });

    it('a PDF without images → 422 "the PDF has no images that can be extracted"', async function () {
        const text = D.makePdf(dir, 'text.pdf', 1, {});
        const r = await m.convert({ inputformat: 'pdf', outputformat: 'png', mode: 'extract',
            file: text, options: { extract: 'images' } });
        H.expectFailedStatus(r.res, 422, r.proc, /the PDF has no images that can be extracted/);
    });
});
