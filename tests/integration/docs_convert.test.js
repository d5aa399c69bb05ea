// SPDX-License-Identifier: MIT
// docs_convert.test.js - documents through the real server: /conversiontypes rows of
// ghostscript, vips and qpdf; pdf → png/jpg/tiff (one file per page, ZIP and per-file URLs,
// page_range, density, quality, grayscale), pdf → pdf with a preset, ps/eps inputs, and
// images → pdf (one page per image page, JPEG kept).
'use strict';
const { expect } = require('chai');
const fs = require('fs');
const { startServer } = require('../lib/server');
const H = require('../lib/http');
const M = require('../lib/media');
const D = require('../lib/docs');
const images = require('../lib/images');

function within(actual, expected, tol, what) {
    expect(actual, what + ' = ' + actual + ', expected ' + expected + ' ± ' + tol)
        .to.be.within(expected - tol, expected + tol);
}

describe('documents: conversions (ghostscript, vips → pdf)', function () {
    this.timeout(30000);
    let server;
    let m;
    let dir;
    let three; // 3 A4 pages "Doc page i", page-specific block colours, title and author
    let mixed; // 2 pages, page 2 landscape
    let imagePdf; // one A4 page holding a 900x900 RGB noise image, stored losslessly

    before(async function () {
        dir = D.tmpDir();
        three = D.makePdf(dir, 'three.pdf', 3, { title: 'Three Pages', author: 'Docs Tester' });
        mixed = D.makePdf(dir, 'mixed.pdf', 2, { landscape: [2] });
        imagePdf = D.makeImagePdf(dir, 'photo.pdf', 900);
        server = await startServer();
        m = M.mediaApi(server);
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

    // GET output.url/NAME (or the whole output) → Buffer, asserting 200.
    function get(fin, name) {
        return m.download(fin, name);
    }

    describe('/conversiontypes', function () {
        let rows;

        before(async function () {
            const res = await H.request({ url: server.base + '/conversiontypes' });
            rows = H.expectJson(res, 200);
        });

        function row(i, o, conv) {
            return rows.filter((r) => r.inputformat === i && r.outputformat === o &&
                (!conv || r.converter === conv));
        }

        it('ghostscript lists pdf, ps, eps, ai → png, jpg, tiff, pdf in group "document"', function () {
            const missing = [];
            for (const i of ['pdf', 'ps', 'eps', 'ai']) {
                for (const o of ['png', 'jpg', 'tiff', 'pdf']) {
                    const r = row(i, o, 'ghostscript');
                    if (r.length !== 1 || r[0].group !== 'document')
                        missing.push(i + ' → ' + o);
                }
            }
            expect(missing, 'ghostscript rows missing or not in group document').to.deep.equal([]);
        });

        it('ghostscript rows offer the document options, density defaulting to "150"', function () {
            const r = row('pdf', 'png', 'ghostscript')[0];
            expect(r, 'pdf → png ghostscript row').to.be.an('object');
            expect(Object.keys(r.converteroptions)).to.include.members(['page_range', 'density',
                'quality', 'grayscale', 'text_antialiasing', 'graphics_antialiasing', 'pdf_preset',
                'pdfa']);
            expect(r.converteroptions.density).to.equal('150');
            expect(r.converteroptions.page_range).to.equal(null);
            for (const v of Object.values(r.converteroptions))
                expect(v === null || typeof v === 'string', 'default ' + v).to.equal(true);
        });

        it('vips lists png, jpg, webp, gif, tiff → pdf', function () {
            for (const i of ['png', 'jpg', 'webp', 'gif', 'tiff'])
                expect(row(i, 'pdf', 'vips'), i + ' → pdf by vips').to.have.lengthOf(1);
        });

        it('pdf → pdf is listed once, by ghostscript (mode convert) with pdf_preset and pdfa', function () {
            // qpdf merges and inspects (modes combine, info): docs_combine.test.js checks it
            // through converter.type; a pair is listed once, by its converter of mode convert.
            const r = row('pdf', 'pdf');
            expect(r.map((x) => x.converter)).to.deep.equal(['ghostscript']);
            expect(Object.keys(r[0].converteroptions)).to.include.members(['pdf_preset', 'pdfa']);
        });

        it('?inputformat=pdf&outputformat=png answers the ghostscript row alone', async function () {
            const res = await H.request({ url: server.base +
                '/conversiontypes?inputformat=pdf&outputformat=png' });
            const list = H.expectJson(res, 200);
            expect(list.map((r) => r.converter)).to.deep.equal(['ghostscript']);
        });
    });

    describe('pdf (3 pages A4) → png at density 72', function () {
        let fin;
        const names = ['three-1.png', 'three-2.png', 'three-3.png'];

        before(async function () {
            fin = (await m.convertOk({ inputformat: 'pdf', outputformat: 'png', file: three,
                start: { save: true }, options: { density: 72 } })).fin;
        });

        it('converter ghostscript, options echoed (density 72 as sent)', function () {
            expect(fin.converter.type).to.equal('ghostscript');
            expect(fin.converter.format).to.equal('png');
            expect(fin.converter.options.density).to.equal(72);
        });

        it('output.files = three-1.png, three-2.png, three-3.png; filename three.zip, ext zip', function () {
            expect(fin.output.files).to.deep.equal(names);
            expect(fin.output.filename).to.equal('three.zip');
            expect(fin.output.ext).to.equal('zip');
        });

        it('output.url serves a ZIP listing exactly those files', async function () {
            const zip = await get(fin);
            expect(H.zipEntries(zip).slice().sort()).to.deep.equal(names);
        });

        it('the ZIP members are the pages: PNGs of 595x842, in page order', async function () {
            const zip = await get(fin);
            const entries = H.unzipBuffer(zip);
            for (const e of entries) {
                const s = D.pngSize(e.data);
                within(s.width, 595, 1, e.name + ' width');
                within(s.height, 842, 1, e.name + ' height');
                const i = Number(/-(\d)\.png$/.exec(e.name)[1]);
                const p = D.blockPixel(72);
                const px = D.pixelOf(e.data, e.name, p.x, p.y);
                expect(D.near(px, D.pageColor(i)), e.name + ' block ' + px).to.equal(true);
            }
        });

        it('each output.url/NAME serves its page: 595x842 (±1) with that page\'s colour', async function () {
            for (let i = 1; i <= 3; i++) {
                const buf = await get(fin, names[i - 1]);
                const s = D.pngSize(buf);
                within(s.width, 595, 1, names[i - 1] + ' width');
                within(s.height, 842, 1, names[i - 1] + ' height');
                const p = D.blockPixel(72);
                const px = D.pixelOf(buf, names[i - 1], p.x, p.y);
                expect(D.near(px, D.pageColor(i)), names[i - 1] + ' pixel ' + px + ' vs ' +
                    D.pageColor(i)).to.equal(true);
            }
        });

        it('each ZIP member has the same bytes as its output.url/NAME', async function () {
            const entries = H.unzipBuffer(await get(fin));
            for (const e of entries)
                expect(e.data.equals(await get(fin, e.name)), e.name).to.equal(true);
        });

        it('the page outside the block is white (the page is rendered, not flat)', async function () {
            const buf = await get(fin, 'three-1.png');
            expect(D.pixelOf(buf, 'three-1.png', 500, 800).slice(0, 3)).to.deep.equal([255, 255, 255]);
        });

        it('finished with percent 100; output.size is the ZIP\'s length', async function () {
            expect(fin.percent).to.equal(100);
            expect(fin.output.size).to.equal((await get(fin)).length);
        });

        it('a member is served as an attachment named after it, as image/png', async function () {
            const res = await m.api.download(fin, 'three-2.png');
            expect(res.status).to.equal(200);
            expect(res.headers['content-disposition']).to.match(/^attachment; filename="three-2\.png"/);
            expect(res.headers['content-type']).to.match(/^image\/png/);
            expect(Number(res.headers['content-length'])).to.equal(res.body.length);
        });

        it('the ZIP answers a Range request: bytes=0-3 → 206 "PK\\3\\4"', async function () {
            const res = await m.api.download(fin, undefined, { headers: { Range: 'bytes=0-3' } });
            expect(res.status).to.equal(206);
            expect(res.body.toString('latin1')).to.equal('PK\x03\x04');
        });

        it('output.url/NAME of a name not in files → 404', async function () {
            const res = await m.api.download(fin, 'three-4.png');
            expect(res.status).to.equal(404);
        });
    });

    describe('pdf → png at the default density (150 dpi), page_range "2"', function () {
        let fin;

        before(async function () {
            fin = (await m.convertOk({ inputformat: 'pdf', outputformat: 'png', file: three,
                options: { page_range: '2' } })).fin;
        });

        it('one file three.png: no files list, not a ZIP', function () {
            expect(fin.output.filename).to.equal('three.png');
            expect(fin.output.ext).to.equal('png');
            expect(fin.output.files).to.equal(undefined);
        });

        it('a PNG of 1240x1754 (±2) showing page 2\'s colour', async function () {
            const buf = await get(fin);
            const s = D.pngSize(buf);
            within(s.width, 1240, 2, 'width');
            within(s.height, 1754, 2, 'height');
            const p = D.blockPixel(150);
            const px = D.pixelOf(buf, 'three.png', p.x, p.y);
            expect(D.near(px, D.pageColor(2)), 'pixel ' + px).to.equal(true);
        });
    });

    describe('pdf → png with page_range "2-3"', function () {
        let fin;

        before(async function () {
            fin = (await m.convertOk({ inputformat: 'pdf', outputformat: 'png', file: three,
                start: { save: true }, options: { page_range: '2-3', density: 36 } })).fin;
        });

        it('output.files = three-2.png, three-3.png (named by page number)', function () {
            expect(fin.output.files).to.deep.equal(['three-2.png', 'three-3.png']);
        });

        it('the ZIP lists exactly those two', async function () {
            expect(H.zipEntries(await get(fin)).slice().sort()).to.deep.equal(['three-2.png', 'three-3.png']);
        });

        it('three-3.png is page 3 (its colour) at 36 dpi (298x421 ±1)', async function () {
            const buf = await get(fin, 'three-3.png');
            const s = D.pngSize(buf);
            within(s.width, 297.5, 1, 'width');
            within(s.height, 421, 1, 'height');
            const p = D.blockPixel(36);
            expect(D.near(D.pixelOf(buf, 'p3.png', p.x, p.y), D.pageColor(3))).to.equal(true);
        });
    });

    it('an input named "my doc.pdf" → files "my doc-1.png", "my doc-2.png"; each served by its URL', async function () {
        const fin = (await m.convertOk({ inputformat: 'pdf', outputformat: 'png', file: mixed,
            filename: 'my doc.pdf', start: { save: true }, options: { density: 36 } })).fin;
        expect(fin.output.files).to.deep.equal(['my doc-1.png', 'my doc-2.png']);
        expect(fin.output.filename).to.equal('my doc.zip');
        const s = D.pngSize(await get(fin, 'my doc-2.png'));
        expect([s.width, s.height]).to.deep.equal([421, 298]);
    });

    it('without save: the ZIP and each member are one-time downloads, claimed independently', async function () {
        const fin = (await m.convertOk({ inputformat: 'pdf', outputformat: 'png', file: mixed,
            options: { density: 20 } })).fin;
        expect(fin.output.files).to.deep.equal(['mixed-1.png', 'mixed-2.png']);
        const statuses = [];
        for (const name of [undefined, undefined, 'mixed-2.png', 'mixed-2.png', 'mixed-1.png'])
            statuses.push((await m.api.download(fin, name)).status);
        expect(statuses).to.deep.equal([200, 404, 200, 404, 200]);
    });

    it('page_range "2-99" is clamped at the last page: three-2.png, three-3.png', async function () {
        const fin = (await m.convertOk({ inputformat: 'pdf', outputformat: 'png', file: three,
            options: { page_range: '2-99', density: 20 } })).fin;
        expect(fin.output.files).to.deep.equal(['three-2.png', 'three-3.png']);
    });

    it('density as a string "72" (form clients) → 595 px wide, echoed as "72"', async function () {
        const fin = (await m.convertOk({ inputformat: 'pdf', outputformat: 'png', file: three,
            options: { density: '72', page_range: '1' } })).fin;
        expect(fin.converter.options.density).to.equal('72');
        within(D.pngSize(await get(fin)).width, 595, 1, 'width');
    });

    it('a landscape page renders landscape: page 2 of mixed.pdf at 72 dpi is 842x595 (±1)', async function () {
        const fin = (await m.convertOk({ inputformat: 'pdf', outputformat: 'png', file: mixed,
            options: { page_range: '2', density: 72 } })).fin;
        const s = D.pngSize(await get(fin));
        within(s.width, 842, 1, 'width');
        within(s.height, 595, 1, 'height');
    });

    it('density 1200 on A4 (9921x14031 px, over the pixel limit) → 422 naming the pixels, at once', async function () {
        const t0 = Date.now();
        const r = await m.convert({ inputformat: 'pdf', outputformat: 'png', file: three,
            options: { density: 1200, page_range: '1' } });
        H.expectFailedStatus(r.res, 422, r.proc, /9921x14031|pixels/);
        expect(Date.now() - t0, 'refused before rendering').to.be.below(5000);
    });

    it('page_range past the last page → 422 saying so', async function () {
        const r = await m.convert({ inputformat: 'pdf', outputformat: 'png', file: three,
            options: { page_range: '7' } });
        H.expectFailedStatus(r.res, 422, r.proc, /page/i);
    });

    describe('bad option values → 400 naming the option', function () {
        for (const [name, value] of [['density', 0], ['density', 5000], ['density', 'abc'],
            ['page_range', 'abc'], ['page_range', '3-1'], ['page_range', '0'], ['page_range', '1-2-3'],
            ['pdf_preset', 'bogus'], ['quality', 101], ['grayscale', 'maybe'], ['pdfa', 'perhaps']]) {
            it(name + ' ' + JSON.stringify(value), async function () {
                const proc = await m.api.process({ inputformat: 'pdf', outputformat: 'png' });
                const res = await m.api.start(proc, { input: 'upload', outputformat: 'png',
                    converteroptions: { [name]: value } });
                H.expectFailedStatus(res, 400, proc, new RegExp(name));
            });
        }
    });

    describe('pdf → jpg', function () {
        async function jpgOf(quality) {
            const fin = (await m.convertOk({ inputformat: 'pdf', outputformat: 'jpg', file: imagePdf,
                options: { density: 72, quality } })).fin;
            expect(fin.output.filename).to.equal('photo.jpg');
            return get(fin);
        }

        it('quality 50 makes a smaller JPEG than quality 95; both 595x842 JPEGs', async function () {
            const q50 = await jpgOf(50);
            const q95 = await jpgOf(95);
            for (const buf of [q50, q95]) {
                expect(D.isJpeg(buf), 'JPEG signature').to.equal(true);
                const h = D.imageHeader(buf, 'p.jpg');
                expect([h.loader, h.width, h.height]).to.deep.equal(['jpegload', 595, 842]);
            }
            expect(q50.length, 'q50 ' + q50.length + ' vs q95 ' + q95.length).to.be.below(q95.length * 0.8);
        });

        it('all pages of three.pdf → three-1.jpg … three-3.jpg, each a JPEG', async function () {
            const fin = (await m.convertOk({ inputformat: 'pdf', outputformat: 'jpg', file: three,
                start: { save: true }, options: { density: 30 } })).fin;
            expect(fin.output.files).to.deep.equal(['three-1.jpg', 'three-2.jpg', 'three-3.jpg']);
            const buf = await get(fin, 'three-2.jpg');
            expect(D.isJpeg(buf)).to.equal(true);
        });
    });

    it('grayscale true → a one-band PNG', async function () {
        const fin = (await m.convertOk({ inputformat: 'pdf', outputformat: 'png', file: three,
            options: { page_range: '1', density: 36, grayscale: true } })).fin;
        const h = D.imageHeader(await get(fin), 'g.png');
        expect(h.bands).to.equal(1);
        expect(fin.converter.options.grayscale).to.equal(true);
    });

    it('without grayscale the PNG has 3 bands (the control)', async function () {
        const fin = (await m.convertOk({ inputformat: 'pdf', outputformat: 'png', file: three,
            options: { page_range: '1', density: 36 } })).fin;
        expect(D.imageHeader(await get(fin), 'c.png').bands).to.equal(3);
    });

    describe('antialiasing options (grey page 1 at 72 dpi, the area of its text line)', function () {
        // "Doc page 1" in 28 pt Helvetica, baseline 742 pt from the bottom: top-origin y about 100.
        async function textArea(aa) {
            const fin = (await m.convertOk({ inputformat: 'pdf', outputformat: 'png', file: three,
                options: { page_range: '1', density: 72, grayscale: true, text_antialiasing: aa,
                    graphics_antialiasing: aa } })).fin;
            return D.grayArea(await get(fin), 'g.png', 60, 70, 220, 40);
        }
        const greys = (area) => area.filter((v) => v > 20 && v < 235).length;

        it('text_antialiasing false: the text has only black and white pixels', async function () {
            const area = await textArea(false);
            expect(area.filter((v) => v < 20).length, 'black text pixels').to.be.above(100);
            expect(greys(area), 'grey pixels').to.equal(0);
        });

        it('text_antialiasing true (the default): grey edge pixels', async function () {
            expect(greys(await textArea(true)), 'grey pixels').to.be.above(50);
        });
    });

    it('pdf_preset "EBook" (any case) is accepted and echoed as sent', async function () {
        const fin = (await m.convertOk({ inputformat: 'pdf', outputformat: 'pdf', file: three,
            options: { pdf_preset: 'EBook' } })).fin;
        expect(fin.converter.options.pdf_preset).to.equal('EBook');
        D.withFile(await get(fin), 'e.pdf', (f) => expect(D.pdfInfo(f).pages).to.equal(3));
    });

    it('pdf → pdf with pdfa true: the output declares PDF/A (pdfaid:part in its XMP)', async function () {
        const fin = (await m.convertOk({ inputformat: 'pdf', outputformat: 'pdf', file: three,
            options: { pdfa: true } })).fin;
        expect(fin.converter.type).to.equal('ghostscript');
        D.withFile(await get(fin), 'a.pdf', (f) => {
            expect(D.run('pdfinfo', ['-meta', f])).to.match(/pdfaid:part(>|=['"])\s*2/);
            expect(D.pdfInfo(f).pages).to.equal(3);
            expect(D.pdfText(f, 2)).to.match(/Doc page 2/);
        });
    });

    it('ai (a PDF inside) → png at 36 dpi: one file per page, named from the .ai', async function () {
        const ai = require('path').join(dir, 'art.ai');
        fs.copyFileSync(mixed, ai);
        const fin = (await m.convertOk({ inputformat: 'ai', outputformat: 'png', file: ai,
            start: { save: true }, options: { density: 36 } })).fin;
        expect(fin.output.files).to.deep.equal(['art-1.png', 'art-2.png']);
        const s = D.pngSize(await get(fin, 'art-2.png'));
        expect([s.width, s.height]).to.deep.equal([421, 298]);
    });

    it('pdf → tiff: page_range "1" at 72 dpi → three.tiff, a 595x842 TIFF', async function () {
        const fin = (await m.convertOk({ inputformat: 'pdf', outputformat: 'tiff', file: three,
            options: { page_range: '1', density: 72 } })).fin;
        expect(fin.output.filename).to.equal('three.tiff');
        const buf = await get(fin);
        expect(D.isTiff(buf), 'TIFF signature').to.equal(true);
        const h = D.imageHeader(buf, 't.tiff');
        expect([h.loader, h.width, h.height]).to.deep.equal(['tiffload', 595, 842]);
        const p = D.blockPixel(72);
        expect(D.near(D.pixelOf(buf, 't.tiff', p.x, p.y), D.pageColor(1))).to.equal(true);
    });

    describe('pdf → pdf with pdf_preset "screen" on an image-heavy PDF', function () {
        let fin;
        let out;

        before(async function () {
            fin = (await m.convertOk({ inputformat: 'pdf', outputformat: 'pdf', file: imagePdf,
                options: { pdf_preset: 'screen' } })).fin;
            out = await get(fin);
        });

        it('converted by ghostscript, pdf_preset echoed', function () {
            expect(fin.converter.type).to.equal('ghostscript');
            expect(fin.converter.options.pdf_preset).to.equal('screen');
        });

        it('the output is a smaller PDF (under half the input) of 1 A4 page', function () {
            const inSize = fs.statSync(imagePdf).size;
            expect(D.isPdf(out), 'PDF signature').to.equal(true);
            expect(out.length, 'output ' + out.length + ' vs input ' + inSize).to.be.below(inSize / 2);
            D.withFile(out, 'o.pdf', (f) => {
                const info = D.pdfInfo(f);
                expect(info.pages).to.equal(1);
                expect(info.pageSize).to.deep.equal([595, 842]);
            });
        });

        it('its image was downsampled (fewer than 900 pixels across)', function () {
            const imgs = D.withFile(out, 'o.pdf', D.pdfImages);
            expect(imgs).to.have.lengthOf(1);
            expect(imgs[0].width).to.be.below(900);
        });
    });

    describe('PostScript and EPS', function () {
        it('ps (2 pages) → pdf: 2 A4 pages whose text pdftotext reads', async function () {
            const ps = D.makePs(dir, 'letter.ps', 2, { label: 'Postscript' });
            const fin = (await m.convertOk({ inputformat: 'ps', outputformat: 'pdf', file: ps })).fin;
            expect(fin.output.filename).to.equal('letter.pdf');
            expect(fin.converter.type).to.equal('ghostscript');
            D.withFile(await get(fin), 'letter.pdf', (f) => {
                expect(D.pdfInfo(f).pages).to.equal(2);
                expect(D.pageSizes(f)).to.deep.equal([[595, 842], [595, 842]]);
                expect(D.pdfText(f, 1)).to.match(/Postscript page 1/);
                expect(D.pdfText(f, 2)).to.match(/Postscript page 2/);
            });
        });

        it('ps (2 pages) → png at 72 dpi: letter-1.png, letter-2.png with their colours', async function () {
            const ps = D.makePs(dir, 'letter.ps', 2, { label: 'Postscript' });
            const fin = (await m.convertOk({ inputformat: 'ps', outputformat: 'png', file: ps,
                start: { save: true }, options: { density: 72 } })).fin;
            expect(fin.output.files).to.deep.equal(['letter-1.png', 'letter-2.png']);
            const buf = await get(fin, 'letter-2.png');
            const p = D.blockPixel(72);
            expect(D.near(D.pixelOf(buf, 'l2.png', p.x, p.y), D.pageColor(2))).to.equal(true);
        });

        it('eps (200x100 pt, red) → png at 72 dpi: one 200x100 red PNG (cropped to its box)', async function () {
            const eps = D.makeEps(dir, 'figure.eps', 200, 100, [255, 0, 0], 'Figure');
            const fin = (await m.convertOk({ inputformat: 'eps', outputformat: 'png', file: eps,
                options: { density: 72 } })).fin;
            expect(fin.output.filename).to.equal('figure.png');
            const buf = await get(fin);
            expect(D.pngSize(buf)).to.deep.equal({ width: 200, height: 100 });
            expect(D.near(D.pixelOf(buf, 'f.png', 150, 30), [255, 0, 0], 10)).to.equal(true);
        });

        it('eps (200x100 pt) → pdf: one page of 200x100 pt with its text', async function () {
            const eps = D.makeEps(dir, 'badge.eps', 200, 100, [0, 0, 255], 'Badge text');
            const fin = (await m.convertOk({ inputformat: 'eps', outputformat: 'pdf', file: eps })).fin;
            expect(fin.output.filename).to.equal('badge.pdf');
            D.withFile(await get(fin), 'badge.pdf', (f) => {
                expect(D.pageSizes(f)).to.deep.equal([[200, 100]]);
                expect(D.pdfText(f, 1)).to.match(/Badge text/);
            });
        });
    });

    describe('images → pdf (vips)', function () {
        describe('png 96x60 at 72 dpi, colour (200, 50, 10) → pdf', function () {
            let fin;
            let pdf;

            before(async function () {
                const png = D.colorPng(dir, 'logo.png', 96, 60, [200, 50, 10], 72);
                fin = (await m.convertOk({ inputformat: 'png', outputformat: 'pdf', file: png })).fin;
                pdf = await get(fin);
            });

            it('converter vips, output logo.pdf', function () {
                expect(fin.converter.type).to.equal('vips');
                expect(fin.output.filename).to.equal('logo.pdf');
                expect(D.isPdf(pdf), 'PDF signature').to.equal(true);
            });

            it('one page of 96x60 pt (±0.1: the PNG stores 2835 px/m)', function () {
                D.withFile(pdf, 'logo.pdf', (f) => {
                    const info = D.pdfInfo(f);
                    expect(info.pages).to.equal(1);
                    within(info.pageSize[0], 96, 0.1, 'page width (pt)');
                    within(info.pageSize[1], 60, 0.1, 'page height (pt)');
                });
            });

            it('the page shows the image: rendered at 72 dpi, the middle pixel is (200, 50, 10)', function () {
                const page = D.withFile(pdf, 'logo.pdf', (f) => D.renderPage(f, 1, 72));
                const px = D.pixelOf(page, 'p.png', 48, 30);
                expect(D.near(px, [200, 50, 10], 6), 'pixel ' + px).to.equal(true);
            });
        });

        it('webp → pdf and gif → pdf: one page each', async function () {
            const png = D.colorPng(dir, '.src.png', 40, 30, [0, 120, 200], 72);
            for (const ext of ['webp', 'gif']) {
                const file = require('path').join(dir, 'pic.' + ext);
                D.run('vips', ['copy', png, file]);
                const fin = (await m.convertOk({ inputformat: ext, outputformat: 'pdf', file })).fin;
                expect(fin.output.filename, ext).to.equal('pic.pdf');
                D.withFile(await get(fin), 'pic.pdf', (f) => expect(D.pdfInfo(f).pages, ext).to.equal(1));
            }
        });

        it('an animated gif of 3 frames → a pdf of 3 pages', async function () {
            const gif = images.gif(dir, 'anim.gif', 40, 30, 3);
            const fin = (await m.convertOk({ inputformat: 'gif', outputformat: 'pdf', file: gif })).fin;
            D.withFile(await get(fin), 'anim.pdf', (f) => expect(D.pdfInfo(f).pages).to.equal(3));
        });

        it('a 3-page tiff → a pdf of 3 pages, one image each', async function () {
            const tif = images.tiff(dir, 'scan.tiff', 80, 50, 3);
            const fin = (await m.convertOk({ inputformat: 'tiff', outputformat: 'pdf', file: tif })).fin;
            D.withFile(await get(fin), 'scan.pdf', (f) => {
                expect(D.pdfInfo(f).pages).to.equal(3);
                const imgs = D.pdfImages(f);
                expect(imgs.map((i) => [i.page, i.width, i.height])).to.deep.equal(
                    [[1, 80, 50], [2, 80, 50], [3, 80, 50]]);
                // page 2 is flat grey images.pageValue(2)
                const v = images.pageValue(2);
                const px = D.pixelOf(D.renderPage(f, 2, 72), 'p2.png', 40, 25);
                expect(D.near(px, [v, v, v], 6), 'page 2 pixel ' + px + ' vs ' + v).to.equal(true);
            });
        });

        it('jpg → pdf keeps the JPEG (pdfimages lists a "jpeg" image of the same size)', async function () {
            const noisy = images.noisy(dir, '.noise.png', 120, 90);
            const jpg = require('path').join(dir, 'photo.jpg');
            D.run('vips', ['copy', noisy, jpg + '[Q=80]']);
            const fin = (await m.convertOk({ inputformat: 'jpg', outputformat: 'pdf', file: jpg })).fin;
            D.withFile(await get(fin), 'photo.pdf', (f) => {
                const imgs = D.pdfImages(f);
                expect(imgs).to.have.lengthOf(1);
                expect([imgs[0].enc, imgs[0].width, imgs[0].height]).to.deep.equal(['jpeg', 120, 90]);
            });
        });
    });
});
