// SPDX-License-Identifier: MIT
// docs_hostile.test.js - hostile documents (security.md SEC-10..13): PostScript that reads
// /etc/passwd or opens a %pipe%, huge pages, 100000 pages (real, or a /Count lie), more pages
// than --max-pages 10, garbage and truncated PDFs, an encrypted PDF. Each fails alone with a
// 422 that says why, reads and writes nothing outside its job, and the server keeps converting.
'use strict';
const { expect } = require('chai');
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const { startServer } = require('../lib/server');
const H = require('../lib/http');
const M = require('../lib/media');
const D = require('../lib/docs');

// Every file under dir (recursively) whose bytes contain needle: [path].
function filesContaining(dir, needle) {
    const hits = [];
    const walk = (d) => {
        let entries;
        try {
            entries = fs.readdirSync(d, { withFileTypes: true });
        } catch (e) {
            return;
        }
        for (const e of entries) {
            const p = path.join(d, e.name);
            if (e.isDirectory())
                walk(p);
            else if (e.isFile() && fs.readFileSync(p).includes(needle))
                hits.push(p);
        }
    };
    walk(dir);
    return hits;
}

// The gs processes whose working folder is under root: [{pid, argv, cwd, env}]; null when
// /proc does not show other processes' working folders (probed on the server's pid).
function gsProcessesUnder(root, serverPid) {
    try {
        fs.readlinkSync('/proc/' + serverPid + '/cwd');
    } catch (e) {
        return null;
    }
    const out = [];
    for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
        let argv;
        let cwd;
        let env;
        try {
            argv = fs.readFileSync('/proc/' + pid + '/cmdline', 'latin1').split('\0').filter((a) => a);
            if (argv.length === 0 || path.basename(argv[0]) !== 'gs')
                continue;
            cwd = fs.readlinkSync('/proc/' + pid + '/cwd');
            env = {};
            for (const kv of fs.readFileSync('/proc/' + pid + '/environ', 'latin1').split('\0')) {
                const i = kv.indexOf('=');
                if (i > 0)
                    env[kv.slice(0, i)] = kv.slice(i + 1);
            }
        } catch (e) {
            continue; // gone meanwhile
        }
        if (cwd.startsWith(root + '/'))
            out.push({ pid, argv, cwd, env });
    }
    return out;
}

describe('documents: hostile inputs', function () {
    this.timeout(30000);
    let server;
    let m;
    let dir;
    let three;
    let many; // 100000 real pages
    const marker = 'convertd-docs-pwned-' + crypto.randomBytes(6).toString('hex');
    const pwned = path.join('/tmp', marker);
    // The first line of /etc/passwd ("root:x:0:0:..."): what a leak would carry.
    const passwdLine = fs.readFileSync('/etc/passwd', 'utf8').split('\n')[0];

    before(async function () {
        dir = D.tmpDir();
        three = D.makePdf(dir, 'three.pdf', 3);
        many = D.manyPagesPdf(100000);
        server = await startServer({ args: ['--max-pages', '10'] });
        m = M.mediaApi(server);
    });

    after(async function () {
        try {
            fs.unlinkSync(pwned);
        } catch (e) { /* the expected case: it was never made */ }
        if (dir)
            fs.rmSync(dir, { recursive: true, force: true });
        await H.stopServer(server);
    });

    afterEach(function () {
        const died = H.serverDied(server);
        if (died)
            throw new Error(died);
    });

    // Convert data (named name) and expect a 422 failure; returns the failed status body.
    async function fails(inputformat, outputformat, data, name, pattern, extra) {
        const r = await m.convert(Object.assign({ inputformat, outputformat, data, filename: name,
            timeout: 25000 }, extra || {}));
        const body = H.expectFailedStatus(r.res, 422, r.proc, pattern);
        expect((body.output || {}).files, 'no output files listed').to.equal(undefined);
        expect((body.output || {}).size, 'no output size').to.equal(undefined);
        return { body, r };
    }

    describe('PostScript reading /etc/passwd ((/etc/passwd) (r) file)', function () {
        const ps = ['%!PS', '/f (/etc/passwd) (r) file def', '/s 4000 string def',
            'f s readstring pop /t exch def', '/Courier findfont 8 scalefont setfont',
            '20 800 moveto t show', 'showpage', ''].join('\n');
        let res;

        before(async function () {
            res = await fails('ps', 'pdf', Buffer.from(ps), 'evil.ps', /invalidfileaccess|access|permi/i);
        });

        it('→ 422 with a message', function () {
            expect(res.body.message.length).to.be.above(0);
        });

        it('the status carries nothing of /etc/passwd', function () {
            const text = res.r.res.text();
            expect(text.includes(passwdLine), 'passwd line in the status').to.equal(false);
            expect(text).to.not.match(/root:[^"]*:0:0:/);
        });

        it('the output URL serves no file', async function () {
            if (!res.body.output || !res.body.output.url)
                return; // no URL at all: nothing to fetch
            const dl = await m.api.download(res.body);
            expect(dl.status).to.be.within(400, 499);
            expect(dl.body.includes(passwdLine)).to.equal(false);
        });

        it('no file in the server\'s data folder holds a line of /etc/passwd', function () {
            expect(filesContaining(server.dataDir, passwdLine)).to.deep.equal([]);
        });

        it('ps → png of the same program also fails with 422', async function () {
            await fails('ps', 'png', Buffer.from(ps), 'evil.ps', /invalidfileaccess|access|permi/i);
        });
    });

    it('PostScript opening (%pipe%touch /tmp/X) (w) file → 422 and /tmp/X is not made', async function () {
        const ps = '%!PS\n/p (%pipe%touch ' + pwned + ') (w) file def\n' +
            'p (x) writestring p closefile\nshowpage\n';
        await fails('ps', 'pdf', Buffer.from(ps), 'pipe.ps', /invalidfileaccess|access|permi/i);
        await H.sleep(200);
        expect(fs.existsSync(pwned), pwned + ' exists').to.equal(false);
    });

    it('PostScript writing /tmp/X with (w) file → 422 and /tmp/X is not made', async function () {
        const ps = '%!PS\n/p (' + pwned + ') (w) file def\np (x) writestring p closefile\nshowpage\n';
        await fails('ps', 'png', Buffer.from(ps), 'write.ps', /invalidfileaccess|access|permi/i);
        expect(fs.existsSync(pwned), pwned + ' exists').to.equal(false);
    });

    it('PostScript deleting a file (deletefile) → 422; the file stays', async function () {
        const victim = path.join(dir, 'victim.txt');
        fs.writeFileSync(victim, 'keep me');
        fs.chmodSync(dir, 0o755);
        const ps = '%!PS\n(' + victim + ') deletefile\nshowpage\n';
        await fails('ps', 'pdf', Buffer.from(ps), 'del.ps', /deletefile|invalidfileaccess|access|permi/i);
        expect(fs.readFileSync(victim, 'utf8')).to.equal('keep me');
    });

    describe('PostScript that never ends ({} loop) with timeout 3', function () {
        let took;
        let gsSeen; // the gs processes of this server while the job ran: [{argv, cwd, env}]

        before(async function () {
            const t0 = Date.now();
            const job = fails('ps', 'pdf', Buffer.from('%!PS\n{} loop\n'), 'loop.ps', /time/i,
                { start: { timeout: 3 } });
            await H.sleep(1500);
            gsSeen = gsProcessesUnder(fs.realpathSync(server.dataDir), server.proc.pid);
            await job;
            took = Date.now() - t0;
        });

        it('→ 422 naming the time limit, within 15 s', function () {
            expect(took).to.be.below(15000);
        });

        it('gs ran with -dSAFER, never -dNOSAFER/-dDELAYSAFER, no %pipe% in its arguments', function () {
            if (gsSeen === null)
                this.skip(); // /proc of the worker is not readable here
            expect(gsSeen.length, 'a gs process of this server was running').to.be.above(0);
            for (const p of gsSeen) {
                expect(p.argv, p.argv.join(' ')).to.include('-dSAFER');
                expect(p.argv.filter((a) => /NOSAFER|DELAYSAFER|%pipe%/i.test(a))).to.deep.equal([]);
            }
        });

        it('gs ran in the job\'s folder with TMPDIR there, not in the shared /tmp (SEC-12)', function () {
            if (gsSeen === null)
                this.skip();
            const root = fs.realpathSync(server.dataDir);
            for (const p of gsSeen) {
                expect(p.cwd.startsWith(root + '/'), 'cwd ' + p.cwd).to.equal(true);
                const t = p.env.TMPDIR || '';
                expect(t.startsWith(root + '/') || t.startsWith(server.dataDir + '/'), 'TMPDIR ' + t)
                    .to.equal(true);
            }
        });

        it('no gs process outlives the job (1 s of grace after the 422)', async function () {
            if (gsSeen === null)
                this.skip();
            let left;
            for (let i = 0; i < 10; i++) {
                left = gsProcessesUnder(fs.realpathSync(server.dataDir), server.proc.pid);
                if (left.length === 0)
                    break;
                await H.sleep(100);
            }
            expect(left.map((p) => p.argv.join(' '))).to.deep.equal([]);
        });
    });

    it('a PDF with a 20000x20000 pt page → 422 in under 5 s naming the size', async function () {
        const t0 = Date.now();
        const { body } = await fails('pdf', 'png', D.bigPagePdf(20000, 20000), 'huge.pdf');
        const took = Date.now() - t0;
        expect(took, 'took ' + took + ' ms').to.be.below(5000);
        expect(body.message).to.match(/41667x41667|20000/);
    });

    it('a 200x200 pt page with /UserUnit 100 (20000 pt) → 422 naming the size', async function () {
        const { body } = await fails('pdf', 'png', D.bigPagePdf(200, 200, 100), 'unit.pdf');
        expect(body.message).to.match(/41667x41667|20000/);
    });

    it('a page of 0.06x0.08 pt (/UserUnit 0.0001, under one pixel) → 422, never an empty "finished" file', async function () {
        const r = await m.convert({ inputformat: 'pdf', outputformat: 'png',
            data: D.bigPagePdf(595, 842, 0.0001), filename: 'tiny.pdf' });
        if (r.res.status === 422) {
            H.expectFailedStatus(r.res, 422, r.proc);
            return;
        }
        const st = H.expectJson(r.res, 200);
        expect(st.output.size, 'output.size of a finished conversion').to.be.above(0);
        const buf = await m.download(st);
        expect(D.pngSize(buf).width).to.be.at.least(1);
    });

    it('a PDF of 100000 real pages → 422 naming the page count or the limit', async function () {
        const { body } = await fails('pdf', 'png', many, 'many.pdf', /pages/i);
        expect(body.message).to.match(/100000|1000/);
    });

    it('a real 12-page PDF with --max-pages 10 → 422 naming 12 pages and the limit 10', async function () {
        const pdf = D.makePdf(dir, 'twelve.pdf', 12);
        const { body } = await fails('pdf', 'png', fs.readFileSync(pdf), 'twelve.pdf', /pages/i);
        expect(body.message).to.match(/\b12\b/);
        expect(body.message).to.match(/\b10\b/);
    });

    it('a 12-page PostScript file with --max-pages 10 → 422 naming the limit 10', async function () {
        const ps = D.makePs(dir, 'twelve.ps', 12);
        const { body } = await fails('ps', 'png', fs.readFileSync(ps), 'twelve.ps', /pages/i);
        expect(body.message).to.match(/\b10\b/);
    });

    it('a 12-page PDF with page_range "1-2" and --max-pages 10 → converts pages 1 and 2', async function () {
        const pdf = D.makePdf(dir, 'twelve2.pdf', 12);
        const r = await m.convert({ inputformat: 'pdf', outputformat: 'png', file: pdf,
            options: { page_range: '1-2', density: 20 } });
        const st = r.fin;
        if (r.res.status === 422) {
            // Refusing the whole document is also safe; say so.
            console.log('      (12 pages, range 1-2, limit 10: 422 ' + JSON.stringify(st.message) + ')');
            H.expectFailedStatus(r.res, 422, r.proc, /pages/i);
            return;
        }
        expect(H.expectJson(r.res, 200).step).to.equal('finished');
        expect(st.output.files).to.deep.equal(['twelve2-1.png', 'twelve2-2.png']);
    });

    it('the same 100000-page PDF in mode info → 422 (nothing counted past the limit)', async function () {
        const r = await m.convert({ inputformat: 'pdf', mode: 'info', data: many, filename: 'many.pdf' });
        H.expectFailedStatus(r.res, 422, r.proc, /pages/i);
    });

    it('a page tree whose /Count claims 100000 pages (1 real) → 422, or one page rendered', async function () {
        const r = await m.convert({ inputformat: 'pdf', outputformat: 'png', data: D.countLiePdf(100000),
            filename: 'lie.pdf', options: { density: 36 } });
        if (r.res.status === 422) {
            console.log('      (/Count lie: 422 ' + JSON.stringify(r.fin.message) + ')');
            H.expectFailedStatus(r.res, 422, r.proc);
            return;
        }
        const st = H.expectJson(r.res, 200);
        expect(st.step).to.equal('finished');
        console.log('      (/Count lie: rendered the real pages: ' + st.output.filename + ')');
        expect(st.output.files, 'one page, not 100000').to.equal(undefined);
        const buf = await m.download(st);
        expect(D.pngSize(buf)).to.deep.equal({ width: 298, height: 421 });
    });

    it('combine of 4 x 3 pages with --max-pages 10 → 422 naming the limit', async function () {
        const proc = await m.api.process({ inputformat: 'pdf', outputformat: 'pdf', mode: 'combine' });
        const data = fs.readFileSync(three);
        const parts = [{ name: 'input', value: 'upload' }, { name: 'wait', value: 'true' }];
        for (const n of ['a', 'b', 'c', 'd'])
            parts.push({ name: 'file', filename: n + '.pdf', data });
        const res = await H.request({ method: 'POST', url: H.abs(proc.url), multipart: H.multipart(parts),
            timeout: 25000 });
        const body = H.expectFailedStatus(res, 422, proc, /pages/i);
        expect(body.message).to.match(/\b10\b/);
    });

    it('combine with a password-protected second input → 422 naming input 2 and the password', async function () {
        const enc = D.encryptPdf(three, path.join(dir, 'locked3.pdf'));
        const proc = await m.api.process({ inputformat: 'pdf', outputformat: 'pdf', mode: 'combine' });
        const parts = [{ name: 'input', value: 'upload' }, { name: 'wait', value: 'true' },
            { name: 'file', filename: 'open.pdf', data: fs.readFileSync(three) },
            { name: 'file', filename: 'locked.pdf', data: fs.readFileSync(enc) }];
        const res = await H.request({ method: 'POST', url: H.abs(proc.url), multipart: H.multipart(parts),
            timeout: 25000 });
        const body = H.expectFailedStatus(res, 422, proc, /password/i);
        expect(body.message).to.match(/(input|file) 2|locked\.pdf/i);
    });

    it('garbage named .pdf → 422', async function () {
        await fails('pdf', 'png', crypto.randomBytes(5000), 'garbage.pdf');
    });

    it('%PDF- followed by garbage → 422', async function () {
        await fails('pdf', 'png', Buffer.concat([Buffer.from('%PDF-1.7\n'), crypto.randomBytes(5000)]),
            'garbage2.pdf');
    });

    it('a PDF cut in half → 422 with a reason, or a repaired result (reported)', async function () {
        const whole = fs.readFileSync(three);
        const half = whole.subarray(0, Math.floor(whole.length / 2));
        const r = await m.convert({ inputformat: 'pdf', outputformat: 'png', data: half,
            filename: 'cut.pdf', options: { density: 36 }, timeout: 25000 });
        if (r.res.status === 422) {
            H.expectFailedStatus(r.res, 422, r.proc);
            console.log('      (truncated PDF: 422 ' + JSON.stringify(r.fin.message) + ')');
            return;
        }
        const st = H.expectJson(r.res, 200);
        expect(st.step).to.equal('finished');
        console.log('      (truncated PDF: repaired, output ' + st.output.filename +
            (st.output.files ? ' files ' + st.output.files.join(',') : '') + ')');
        const name = st.output.files ? st.output.files[0] : undefined;
        const buf = await m.download(st, name);
        expect(D.pngSize(buf).width).to.be.within(297, 299);
    });

    it('a password-protected PDF → 422 "password"', async function () {
        const enc = D.encryptPdf(three, path.join(dir, 'locked.pdf'));
        await fails('pdf', 'png', fs.readFileSync(enc), 'locked.pdf', /password/i);
    });

    it('a password-protected PDF in mode info → 422 "password"', async function () {
        const enc = D.encryptPdf(three, path.join(dir, 'locked2.pdf'));
        const r = await m.convert({ inputformat: 'pdf', mode: 'info', data: fs.readFileSync(enc),
            filename: 'locked.pdf' });
        H.expectFailedStatus(r.res, 422, r.proc, /password/i);
    });

    it('a PostScript file sent as inputformat pdf → 422 (never reaches gs as PDF)', async function () {
        const ps = '%!PS\n/Helvetica findfont 20 scalefont setfont 72 700 moveto (hi) show showpage\n';
        await fails('pdf', 'png', Buffer.from(ps), 'sneaky.pdf', /not a PDF/i);
    });

    describe('afterwards', function () {
        it('a normal pdf → png still converts (3 pages at 36 dpi)', async function () {
            const r = await m.convertOk({ inputformat: 'pdf', outputformat: 'png', file: three,
                options: { density: 36 } });
            expect(r.fin.output.files).to.deep.equal(['three-1.png', 'three-2.png', 'three-3.png']);
        });

        it('the server is up: /conversiontypes answers 200', async function () {
            const res = await H.request({ url: server.base + '/conversiontypes?inputformat=pdf' });
            expect(H.expectJson(res, 200).length).to.be.above(0);
        });

        it('/tmp/X of the pipe and write tests never appeared', function () {
            expect(fs.existsSync(pwned)).to.equal(false);
        });
    });
});
