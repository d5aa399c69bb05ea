// SPDX-License-Identifier: MIT
// client-docs.test.js - documents through the official CloudConvert v1 Node.js client
// cloudconvert@1.1.2: pdf → jpg of a page range with downloadAll, and combining two PDFs
// (files given as URLs, and as two uploads of the client's upload()).
'use strict';
const fs = require('fs');
const path = require('path');
const { expect } = require('chai');
const { startServer } = require('../../lib/server');
const { startFileServer } = require('../../lib/fileserver');
const { ClientGuard, clientCall: ok } = require('../../lib/compat-client');
const D = require('../../lib/docs');

const INPUT_PDF = path.join(path.dirname(require.resolve('cloudconvert/package.json')),
    'tests', 'integration', 'input.pdf');

let srv;
let files;
let tmp;
const guard = new ClientGuard();

function keyedApi() {
    return guard.api(srv, srv.apikey);
}

// Pages of a PDF file and the text of each.
function pdfPages(file) {
    const n = D.qpdfPages(file);
    const texts = [];
    for (let i = 1; i <= n; i++)
        texts.push(D.pdfText(file, i).trim());
    return texts;
}

describe('official client cloudconvert@1.1.2 with documents', function () {
    this.timeout(60000);

    before(async function () {
        guard.install();
        tmp = D.tmpDir('convertd-client-docs-');
        D.makePdf(tmp, 'alpha.pdf', 3, { label: 'Alpha' });
        D.makePdf(tmp, 'bravo.pdf', 2, { label: 'Bravo' });
        files = await startFileServer(tmp);
        srv = await startServer({ args: ['--allow-private-urls'] });
    });

    after(async function () {
        await guard.release(5000);
        if (srv) {
            await srv.stop();
            srv.cleanup();
        }
        if (files)
            await files.close();
        if (tmp)
            fs.rmSync(tmp, { recursive: true, force: true });
    });

    describe("convert() input.pdf (31 pages) → jpg with page_range '1-2', then downloadAll()", function () {
        let proc;
        let out;

        before(async function () {
            proc = await ok((cb) => keyedApi().convert({ inputformat: 'pdf', outputformat: 'jpg',
                input: 'upload', file: fs.createReadStream(INPUT_PDF),
                converteroptions: { page_range: '1-2' } }, cb));
            out = path.join(tmp, 'jpgs');
            fs.mkdirSync(out);
            if (proc.data.step === 'finished')
                await ok((cb) => proc.downloadAll(out, cb));
        });

        it("finishes by converter ghostscript with output.files input-1.jpg, input-2.jpg", function () {
            expect(proc.data.step, proc.data.message).to.equal('finished');
            expect(proc.data.converter.type).to.equal('ghostscript');
            expect(proc.data.converter.options.page_range).to.equal('1-2');
            expect(proc.data.output.files).to.deep.equal(['input-1.jpg', 'input-2.jpg']);
        });

        it('downloadAll() wrote exactly input-1.jpg and input-2.jpg', function () {
            expect(fs.readdirSync(out).sort()).to.deep.equal(['input-1.jpg', 'input-2.jpg']);
        });

        it('both are A4 JPEGs at 150 dpi (1240x1754 ± 2)', function () {
            for (const name of ['input-1.jpg', 'input-2.jpg']) {
                const buf = fs.readFileSync(path.join(out, name));
                expect(D.isJpeg(buf), name + ' JPEG signature').to.equal(true);
                const h = D.imageHeader(buf, name);
                expect(h.loader).to.equal('jpegload');
                expect(h.width, name + ' width').to.be.within(1238, 1242);
                expect(h.height, name + ' height').to.be.within(1752, 1756);
            }
        });

        it('the two pages differ (page 1 and page 2, not one page twice)', function () {
            const a = fs.readFileSync(path.join(out, 'input-1.jpg'));
            const b = fs.readFileSync(path.join(out, 'input-2.jpg'));
            expect(a.equals(b)).to.equal(false);
        });
    });

    describe("mode 'combine' with files as URLs (input 'download')", function () {
        let proc;
        let dest;

        before(async function () {
            proc = await ok((cb) => keyedApi().convert({ inputformat: 'pdf', outputformat: 'pdf',
                mode: 'combine', input: 'download',
                files: [files.url('/alpha.pdf'), files.url('/bravo.pdf')] }, cb));
            if (proc.data.step === 'finished') {
                dest = path.join(tmp, 'combined-download.pdf');
                await ok((cb) => proc.download(fs.createWriteStream(dest), null, cb));
            }
        });

        it('finishes by converter qpdf', function () {
            expect(proc.data.step, proc.data.message).to.equal('finished');
            expect(proc.data.converter.type).to.equal('qpdf');
        });

        it('download() writes one PDF of 5 pages: Alpha 1-3, Bravo 1-2', function () {
            expect(pdfPages(dest)).to.deep.equal(['Alpha page 1', 'Alpha page 2', 'Alpha page 3',
                'Bravo page 1', 'Bravo page 2']);
        });
    });

    describe("mode 'combine' with two uploads (start with files, then upload() per name)", function () {
        let proc;
        let dest;

        before(async function () {
            proc = await ok((cb) => keyedApi().createProcess({ inputformat: 'pdf', outputformat: 'pdf',
                mode: 'combine' }, cb));
            await ok((cb) => proc.start({ outputformat: 'pdf', mode: 'combine', input: 'upload',
                files: ['bravo.pdf', 'alpha.pdf'] }, cb));
            await ok((cb) => proc.upload(fs.createReadStream(path.join(tmp, 'alpha.pdf')), 'alpha.pdf', cb));
            await ok((cb) => proc.upload(fs.createReadStream(path.join(tmp, 'bravo.pdf')), 'bravo.pdf', cb));
            await ok((cb) => proc.wait(cb));
            if (proc.data.step === 'finished') {
                dest = path.join(tmp, 'combined-upload.pdf');
                await ok((cb) => proc.download(fs.createWriteStream(dest), null, cb));
            }
        });

        it('finishes', function () {
            expect(proc.data.step, proc.data.message).to.equal('finished');
        });

        it('the PDF has the 5 pages in the listed order: Bravo first', function () {
            expect(pdfPages(dest)).to.deep.equal(['Bravo page 1', 'Bravo page 2', 'Alpha page 1',
                'Alpha page 2', 'Alpha page 3']);
        });
    });
});
