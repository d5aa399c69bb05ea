// SPDX-License-Identifier: MIT
// docs_combine.test.js - mode combine merging PDFs through qpdf (inputs by download URLs,
// {file, filename} objects as lar sends them (compat L2), `file` as an array, an upload list
// with one PUT per name, a multipart start with several parts) and mode info of a PDF.
'use strict';
const { expect } = require('chai');
const fs = require('fs');
const path = require('path');
const { startServer } = require('../lib/server');
const { startFileServer } = require('../lib/fileserver');
const H = require('../lib/http');
const D = require('../lib/docs');

describe('documents: mode combine (merge PDFs) and mode info', function () {
    this.timeout(30000);
    let server;
    let files;
    let api;
    let dir;
    let alpha; // 3 pages "Alpha page i"
    let bravo; // 2 pages "Bravo page i"

    before(async function () {
        dir = D.tmpDir();
        alpha = D.makePdf(dir, 'alpha.pdf', 3, { label: 'Alpha', title: 'Alpha Doc', author: 'Ann Author',
            bookmarks: true });
        bravo = D.makePdf(dir, 'bravo.pdf', 2, { label: 'Bravo', landscape: [2], bookmarks: true });
        fs.writeFileSync(path.join(dir, 'notpdf.pdf'), 'this is plain text, not a PDF\n'.repeat(20));
        fs.writeFileSync(path.join(dir, 'broken.pdf'), '%PDF-1.4\n' + 'no objects here at all\n'.repeat(20));
        files = await startFileServer(dir);
        server = await startServer({ args: ['--allow-private-urls'] });
        api = H.api(server);
    });

    after(async function () {
        await H.stopServer(server);
        if (files)
            await files.close();
        if (dir)
            fs.rmSync(dir, { recursive: true, force: true });
    });

    afterEach(function () {
        const died = H.serverDied(server);
        if (died)
            throw new Error(died);
    });

    async function finished(proc) {
        const res = await api.status(proc, { wait: 'true' }, { timeout: 25000 });
        const st = H.expectJson(res, 200);
        expect(st.step, st.message).to.equal('finished');
        return st;
    }

    // The merged PDF of a finished status: {buf, pages, texts (one per page)}.
    async function merged(st) {
        const dl = await api.download(st);
        expect(dl.status, dl.text().slice(0, 200)).to.equal(200);
        expect(D.isPdf(dl.body), 'PDF signature').to.equal(true);
        return D.withFile(dl.body, 'merged.pdf', (f) => {
            const pages = D.qpdfPages(f);
            const texts = [];
            for (let i = 1; i <= pages; i++)
                texts.push(D.pdfText(f, i).trim());
            return { buf: dl.body, pages, texts, sizes: D.pageSizes(f) };
        });
    }

    const ALPHA_BRAVO = ['Alpha page 1', 'Alpha page 2', 'Alpha page 3', 'Bravo page 1', 'Bravo page 2'];
    const BRAVO_ALPHA = ['Bravo page 1', 'Bravo page 2', 'Alpha page 1', 'Alpha page 2', 'Alpha page 3'];

    async function combineProcess() {
        return api.process({ inputformat: 'pdf', outputformat: 'pdf', mode: 'combine' });
    }

    describe('two PDFs (3 + 2 pages) by download URLs', function () {
        let st;
        let out;

        before(async function () {
            const proc = await combineProcess();
            H.expectJson(await api.start(proc, { input: 'download',
                files: [files.url('/alpha.pdf'), files.url('/bravo.pdf')] }), 200);
            st = await finished(proc);
            out = await merged(st);
        });

        it('finishes by converter qpdf with one PDF output (no files list)', function () {
            expect(st.converter.type).to.equal('qpdf');
            expect(st.output.ext).to.equal('pdf');
            expect(st.output.filename).to.match(/\.pdf$/);
            expect(st.output.files).to.equal(undefined);
            expect(st.input.files).to.equal(2);
        });

        it('one PDF of 5 pages', function () {
            expect(out.pages).to.equal(5);
        });

        it('pages in order: Alpha 1-3, then Bravo 1-2 (pdftotext per page)', function () {
            expect(out.texts).to.deep.equal(ALPHA_BRAVO);
        });

        it('page sizes kept: Bravo page 2 stays landscape', function () {
            expect(out.sizes).to.deep.equal([[595, 842], [595, 842], [595, 842], [595, 842], [842, 595]]);
        });

        it('bookmarks of both inputs kept, pointing at their pages in the merged file', function () {
            const got = D.withFile(out.buf, 'merged.pdf', D.outlines);
            expect(got).to.deep.equal(ALPHA_BRAVO.map((title, i) => ({ title, page: i + 1 })));
        });
    });

    it('the listed order rules: bravo, alpha → Bravo pages first', async function () {
        const proc = await combineProcess();
        H.expectJson(await api.start(proc, { input: 'download',
            files: [files.url('/bravo.pdf'), files.url('/alpha.pdf')] }), 200);
        expect((await merged(await finished(proc))).texts).to.deep.equal(BRAVO_ALPHA);
    });

    it('`file` as an array of URLs means the same', async function () {
        const proc = await combineProcess();
        H.expectJson(await api.start(proc, { input: 'download',
            file: [files.url('/alpha.pdf'), files.url('/bravo.pdf')] }), 200);
        expect((await merged(await finished(proc))).texts).to.deep.equal(ALPHA_BRAVO);
    });

    describe('lar-style request (compat L2): files = [{file, filename}], filename, wait, save', function () {
        let res;
        let st;

        before(async function () {
            const proc = await combineProcess();
            res = await api.start(proc, {
                input: 'download',
                files: [{ file: files.url('/alpha.pdf'), filename: 'one.pdf' },
                    { file: files.url('/bravo.pdf'), filename: 'two.pdf' }],
                filename: 'merged.pdf',
                wait: true,
                save: true,
            }, { timeout: 25000 });
            st = res.json();
        });

        it('the start answers 200 once finished (wait)', function () {
            H.expectJson(res, 200);
            expect(st.step, st.message).to.equal('finished');
            expect(st.output.url).to.be.a('string');
        });

        it('the output is the 5 pages in order', async function () {
            expect((await merged(st)).texts).to.deep.equal(ALPHA_BRAVO);
        });

        it('save: a second download works and gives the same bytes', async function () {
            const a = await api.download(st);
            const b = await api.download(st);
            expect([a.status, b.status]).to.deep.equal([200, 200]);
            expect(a.body.equals(b.body)).to.equal(true);
        });
    });

    it('uploads: files lists two names, one PUT each (second first) → merged in the listed order', async function () {
        const proc = await combineProcess();
        const started = H.expectJson(await api.start(proc, { input: 'upload',
            files: ['first.pdf', 'second.pdf'] }), 200);
        H.expectJson(await api.put(started, 'second.pdf', fs.readFileSync(bravo)), 200);
        H.expectJson(await api.put(started, 'first.pdf', fs.readFileSync(alpha)), 200);
        expect((await merged(await finished(proc))).texts).to.deep.equal(ALPHA_BRAVO);
    });

    it('a multipart start with two file parts → one PDF of 5 pages in part order', async function () {
        const proc = await combineProcess();
        const mp = H.multipart([
            { name: 'input', value: 'upload' },
            { name: 'wait', value: 'true' },
            { name: 'file', filename: 'b.pdf', data: fs.readFileSync(bravo), contentType: 'application/pdf' },
            { name: 'file', filename: 'a.pdf', data: fs.readFileSync(alpha), contentType: 'application/pdf' },
        ]);
        const res = await H.request({ method: 'POST', url: H.abs(proc.url), multipart: mp, timeout: 25000 });
        const st = H.expectJson(res, 200);
        expect(st.step, st.message).to.equal('finished');
        const out = await merged(st);
        expect(out.pages).to.equal(5);
        expect(out.texts).to.deep.equal(BRAVO_ALPHA);
    });

    it('three inputs (the same URL twice) → 8 pages', async function () {
        const proc = await combineProcess();
        H.expectJson(await api.start(proc, { input: 'download', files: [files.url('/alpha.pdf'),
            files.url('/bravo.pdf'), files.url('/alpha.pdf')] }), 200);
        const out = await merged(await finished(proc));
        expect(out.texts).to.deep.equal(ALPHA_BRAVO.concat(ALPHA_BRAVO.slice(0, 3)));
    });

    it('an input that is not a PDF → 422 naming that input', async function () {
        const proc = await combineProcess();
        H.expectJson(await api.start(proc, { input: 'download',
            files: [files.url('/alpha.pdf'), files.url('/notpdf.pdf')] }), 200);
        const res = await api.status(proc, { wait: 'true' }, { timeout: 25000 });
        H.expectFailedStatus(res, 422, proc, /2|notpdf|PDF/);
        const body = res.json();
        expect(body.message, 'names the second input').to.match(/(input|file) 2|notpdf\.pdf/i);
    });

    it('an input that looks like a PDF but cannot be read → 422 naming input 2', async function () {
        const proc = await combineProcess();
        H.expectJson(await api.start(proc, { input: 'download',
            files: [files.url('/alpha.pdf'), files.url('/broken.pdf')] }), 200);
        const res = await api.status(proc, { wait: 'true' }, { timeout: 25000 });
        H.expectFailedStatus(res, 422, proc, /(input|file) 2|broken\.pdf/i);
    });

    it('mode combine pdf → png (nothing merges into images) → 400 not supported', async function () {
        const res = await api.create({ inputformat: 'pdf', outputformat: 'png', mode: 'combine' });
        H.expectError(res, 400, /This conversiontype is not supported!/);
    });

    describe('mode info of a PDF (3 A4 pages, title, author)', function () {
        let st;

        before(async function () {
            const proc = await api.process({ inputformat: 'pdf', mode: 'info' });
            const started = H.expectJson(await api.start(proc, { input: 'upload' }), 200);
            H.expectJson(await api.put(started, 'alpha.pdf', fs.readFileSync(alpha)), 200);
            st = await finished(proc);
        });

        it('info.format "pdf", info.pages 3, info.size the file size', function () {
            expect(st.info, JSON.stringify(st)).to.be.an('object');
            expect(st.info.format).to.equal('pdf');
            expect(st.info.pages).to.equal(3);
            expect(st.info.size).to.equal(fs.statSync(alpha).size);
        });

        it('info.page_sizes: three {width_pt 595, height_pt 842}', function () {
            expect(st.info.page_sizes).to.deep.equal([
                { width_pt: 595, height_pt: 842 }, { width_pt: 595, height_pt: 842 },
                { width_pt: 595, height_pt: 842 }]);
        });

        it('info.title, info.author, info.pdf_version from the file', function () {
            expect(st.info.title).to.equal('Alpha Doc');
            expect(st.info.author).to.equal('Ann Author');
            expect(st.info.pdf_version).to.equal(D.pdfInfo(alpha).version);
        });

        it('no converted file', function () {
            const out = st.output || {};
            expect(out.url).to.equal(undefined);
            expect(out.filename).to.equal(undefined);
        });
    });

    it('mode info of a PDF with a landscape page: page_sizes per page; no title key when none', async function () {
        const proc = await api.process({ inputformat: 'pdf', mode: 'info' });
        H.expectJson(await api.start(proc, { input: 'download', file: files.url('/bravo.pdf') }), 200);
        const st = await finished(proc);
        expect(st.info.pages).to.equal(2);
        expect(st.info.page_sizes).to.deep.equal([{ width_pt: 595, height_pt: 842 },
            { width_pt: 842, height_pt: 595 }]);
        expect(st.info).to.not.have.property('author');
    });

    it('mode info of the client fixture input.pdf: 31 pages, author "Doug", version 1.4', async function () {
        const fixture = path.join(__dirname, '..', 'compat', 'node_modules', 'cloudconvert', 'tests',
            'integration', 'input.pdf');
        const proc = await api.process({ inputformat: 'pdf', mode: 'info' });
        const started = H.expectJson(await api.start(proc, { input: 'upload' }), 200);
        H.expectJson(await api.put(started, 'input.pdf', fs.readFileSync(fixture)), 200);
        const st = await finished(proc);
        expect([st.info.pages, st.info.author, st.info.pdf_version]).to.deep.equal([31, 'Doug', '1.4']);
        expect(st.info.page_sizes).to.have.lengthOf(31);
    });
});
