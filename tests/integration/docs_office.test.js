// SPDX-License-Identifier: MIT
// docs_office.test.js - office documents through the real server and its warm LibreOffice:
// /conversiontypes rows of the office converter, .odt/.docx/.xlsx/.csv/.rtf → pdf with their
// text (pdftotext), a two-page .docx → png (NAME-1.png, NAME-2.png, a ZIP of exactly those),
// office → office, a garbage .docx → 422 (the next job still works), and an .odt linking
// /etc/passwd that must not pull it in.
'use strict';
const { expect } = require('chai');
const fs = require('fs');
const { startServer } = require('../lib/server');
const H = require('../lib/http');
const M = require('../lib/media');
const D = require('../lib/docs');
const O = require('../lib/office');

describe('documents: office (LibreOffice)', function () {
    // The first office job of a worker starts LibreOffice.
    this.timeout(60000);
    let server;
    let m;
    let dir;

    before(async function () {
        dir = D.tmpDir('convertd-office-');
        server = await startServer({ workers: 1 });
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

    // Convert a buffer; asserts it finished and returns {fin, buf} (buf: output.url).
    async function convert(inputformat, outputformat, data, filename, options) {
        const r = await m.convertOk({ inputformat, outputformat, data, filename, options,
            timeout: 55000 });
        return { fin: r.fin, buf: await m.download(r.fin) };
    }

    function pdfText(buf) {
        return D.withFile(buf, 'out.pdf', (f) => D.pdfText(f));
    }

    describe('/conversiontypes', function () {
        let rows;

        before(async function () {
            const res = await H.request({ url: server.base + '/conversiontypes' });
            rows = H.expectJson(res, 200);
        });

        function row(i, o) {
            return rows.filter((r) => r.inputformat === i && r.outputformat === o &&
                r.converter === 'office');
        }

        it('lists every office input → pdf, png, jpg in group "document"', function () {
            const missing = [];
            for (const i of ['doc', 'docx', 'odt', 'rtf', 'txt', 'xls', 'xlsx', 'ods', 'csv',
                'ppt', 'pptx', 'odp']) {
                for (const o of ['pdf', 'png', 'jpg']) {
                    const r = row(i, o);
                    if (r.length !== 1 || r[0].group !== 'document')
                        missing.push(i + ' → ' + o);
                }
            }
            expect(missing, 'office rows missing or not in group document').to.deep.equal([]);
        });

        it('lists office → office within one application (docx → odt, csv → xlsx, pptx → odp)', function () {
            for (const [i, o] of [['docx', 'odt'], ['odt', 'docx'], ['doc', 'docx'], ['rtf', 'docx'],
                ['odt', 'txt'], ['csv', 'xlsx'], ['xlsx', 'csv'], ['xls', 'ods'], ['pptx', 'odp'],
                ['odp', 'pptx'], ['ppt', 'pptx']])
                expect(row(i, o), i + ' → ' + o).to.have.lengthOf(1);
        });

        it('does not list conversions across applications (docx → xlsx, xlsx → pptx)', function () {
            expect(row('docx', 'xlsx')).to.have.lengthOf(0);
            expect(row('xlsx', 'pptx')).to.have.lengthOf(0);
        });

        it('the rows offer the page options of ghostscript with its defaults', function () {
            const r = row('docx', 'png')[0];
            expect(r, 'docx → png row').to.be.an('object');
            expect(Object.keys(r.converteroptions)).to.include.members(['page_range', 'density',
                'quality', 'grayscale', 'text_antialiasing', 'graphics_antialiasing']);
            expect(r.converteroptions.density).to.equal('150');
            expect(r.converteroptions.quality).to.equal('90');
            expect(r.converteroptions.page_range).to.equal(null);
        });
    });

    describe('→ pdf keeps the text', function () {
        it('odt → pdf: converter office, pdftotext has the paragraph', async function () {
            const { fin, buf } = await convert('odt', 'pdf',
                O.odt({ pages: ['Hello from an ODT of convertd'] }), 'letter.odt');
            expect(fin.converter.type).to.equal('office');
            expect(fin.output.filename).to.equal('letter.pdf');
            expect(D.isPdf(buf), 'is a PDF').to.equal(true);
            expect(pdfText(buf)).to.contain('Hello from an ODT of convertd');
        });

        it('docx → pdf: pdftotext has the paragraph', async function () {
            const { buf } = await convert('docx', 'pdf',
                O.docx(['Hello from a DOCX of convertd']), 'memo.docx');
            expect(pdfText(buf)).to.contain('Hello from a DOCX of convertd');
        });

        it('xlsx → pdf: pdftotext has the cells', async function () {
            const { buf } = await convert('xlsx', 'pdf',
                O.xlsx([['product', 'amount'], ['widget', 4242]]), 'sheet.xlsx');
            const text = pdfText(buf);
            expect(text).to.contain('widget');
            expect(text).to.contain('4242');
        });

        it('csv → pdf: pdftotext has the cells', async function () {
            const { buf } = await convert('csv', 'pdf',
                O.csv([['city', 'people'], ['Lisbon', 545923]]), 'table.csv');
            const text = pdfText(buf);
            expect(text).to.contain('Lisbon');
            expect(text).to.contain('545923');
        });

        it('rtf → pdf: pdftotext has the paragraph', async function () {
            const { buf } = await convert('rtf', 'pdf', O.rtf('Hello from an RTF of convertd'), 'note.rtf');
            expect(pdfText(buf)).to.contain('Hello from an RTF of convertd');
        });
    });

    describe('docx of two pages → png', function () {
        let fin;
        const names = ['pages-1.png', 'pages-2.png'];

        before(async function () {
            fin = (await m.convertOk({ inputformat: 'docx', outputformat: 'png',
                data: O.docx(['Page one text', 'Page two text']), filename: 'pages.docx',
                options: { density: 72 }, timeout: 55000 })).fin;
        });

        it('output.files = pages-1.png, pages-2.png; filename pages.zip', function () {
            expect(fin.converter.type).to.equal('office');
            expect(fin.output.files).to.deep.equal(names);
            expect(fin.output.filename).to.equal('pages.zip');
        });

        it('output.url serves a ZIP of exactly those files', async function () {
            const zip = await m.download(fin);
            expect(H.zipEntries(zip).slice().sort()).to.deep.equal(names);
        });

        it('each page is a PNG of a Letter or A4 page at 72 dpi', async function () {
            for (const name of names) {
                const s = D.pngSize(await m.download(fin, name));
                const letter = Math.abs(s.width - 612) <= 1 && Math.abs(s.height - 792) <= 1;
                const a4 = Math.abs(s.width - 595) <= 1 && Math.abs(s.height - 842) <= 1;
                expect(letter || a4, name + ' is ' + s.width + 'x' + s.height).to.equal(true);
            }
        });
    });

    it('odt of 10 x 5 cm pages → jpg with page_range "2", density 254: one 1000x500 JPEG', async function () {
        const { fin, buf } = await convert('odt', 'jpg',
            O.odt({ pages: ['first', 'second'], pageCm: [10, 5] }), 'card.odt',
            { page_range: '2', density: 254 });
        expect(fin.output.filename).to.equal('card.jpg');
        const h = D.imageHeader(buf, 'card.jpg');
        expect(h.width).to.be.within(999, 1001);
        expect(h.height).to.be.within(499, 501);
    });

    it('odt → docx → pdf keeps the text (office → office)', async function () {
        const { fin, buf } = await convert('odt', 'docx',
            O.odt({ pages: ['Round trip through DOCX'] }), 'trip.odt');
        expect(fin.output.filename).to.equal('trip.docx');
        expect(buf.toString('latin1', 0, 2)).to.equal('PK');
        const back = await convert('docx', 'pdf', buf, 'trip.docx');
        expect(pdfText(back.buf)).to.contain('Round trip through DOCX');
    });

    describe('a garbage .docx (a zip holding no document)', function () {
        let body;

        before(async function () {
            const r = await m.convert({ inputformat: 'docx', outputformat: 'pdf',
                data: O.notADocx(), filename: 'broken.docx', timeout: 55000 });
            body = H.expectFailedStatus(r.res, 422, r.proc);
        });

        it('→ 422 saying LibreOffice could not read the input', function () {
            expect(body.message).to.match(/LibreOffice could not read the input/);
        });

        it('lists no output', function () {
            expect((body.output || {}).files).to.equal(undefined);
        });

        it('the next document converts', async function () {
            const { buf } = await convert('docx', 'pdf', O.docx(['After the garbage']), 'next.docx');
            expect(pdfText(buf)).to.contain('After the garbage');
        });
    });

    describe('an .odt linking /etc/passwd (section) and /etc/hostname (image)', function () {
        let text;

        before(async function () {
            const { buf } = await convert('odt', 'pdf', O.linkedFilesOdt(), 'linked.odt');
            text = pdfText(buf);
        });

        it('converts the document\'s own text', function () {
            expect(text).to.contain('Before the link');
            expect(text).to.contain('After the link');
        });

        it('does not pull /etc/passwd into the PDF', function () {
            expect(text).to.not.match(/root:[^\n]*:0:0:/);
            const first = fs.readFileSync('/etc/passwd', 'utf8').split('\n')[0];
            expect(text.includes(first), 'passwd line in the PDF').to.equal(false);
        });
    });
});
