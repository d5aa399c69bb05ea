// SPDX-License-Identifier: MIT
// docs.js - documents for the document tests: PDFs and PostScript made with the gs program
// from small PostScript programs (A4 pages with "LABEL page i" text and a page-specific
// coloured block), hand-built PDFs for hostile inputs, and facts of returned files read with
// pdfinfo, pdftotext, qpdf, pdfimages and vips.
'use strict';
const { execFileSync } = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const os = require('os');
const path = require('path');

function tmpDir(prefix) {
    return fs.mkdtempSync(path.join(os.tmpdir(), prefix || 'convertd-docs-'));
}

function run(cmd, args, opts) {
    try {
        return execFileSync(cmd, args, Object.assign({ encoding: 'utf8',
            stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 28 }, opts || {}));
    } catch (e) {
        throw new Error(cmd + ' ' + args.join(' ') + ' failed: ' + (e.stderr || e.message));
    }
}

// ---- inputs ---------------------------------------------------------------------------

const A4 = [595, 842];

// The block of every generated page: x 100..300 pt, y 300..500 pt from the bottom.
const BLOCK = { x0: 100, y0: 300, x1: 300, y1: 500 };

// Fill colour of page i (1-based) as [r, g, b] 0..255: well apart from each other.
const PAGE_COLORS = [[255, 0, 0], [0, 160, 0], [0, 0, 255], [255, 200, 0], [160, 0, 160],
    [0, 200, 200], [128, 64, 0], [0, 0, 0]];
function pageColor(i) {
    return PAGE_COLORS[(i - 1) % PAGE_COLORS.length];
}

// The pixel in the middle of the block of a page of height heightPt, rendered at dpi:
// {x, y} with y from the top.
function blockPixel(dpi, heightPt) {
    const s = dpi / 72;
    const cx = (BLOCK.x0 + BLOCK.x1) / 2;
    const cy = (BLOCK.y0 + BLOCK.y1) / 2;
    return { x: Math.round(cx * s), y: Math.round(((heightPt || A4[1]) - cy) * s) };
}

// Escape text for a PostScript string literal.
function psString(s) {
    return '(' + String(s).replace(/[\\()]/g, '\\$&') + ')';
}

// A PostScript program of n pages. opts: label ('Doc'), title, author, landscape (list of
// 1-based page numbers drawn 842 x 595), bookmarks (true: one outline entry "LABEL page i"
// per page). Page i shows "LABEL page i" and a block of pageColor(i).
function pagesPs(n, opts) {
    opts = opts || {};
    const label = opts.label || 'Doc';
    const landscape = new Set(opts.landscape || []);
    const lines = ['%!PS-Adobe-3.0', '%%Pages: ' + n, '%%EndComments'];
    if (opts.title !== undefined || opts.author !== undefined) {
        let mark = '[';
        if (opts.title !== undefined)
            mark += ' /Title ' + psString(opts.title);
        if (opts.author !== undefined)
            mark += ' /Author ' + psString(opts.author);
        lines.push(mark + ' /DOCINFO pdfmark');
    }
    if (opts.bookmarks) {
        for (let i = 1; i <= n; i++)
            lines.push('[ /Title ' + psString(label + ' page ' + i) + ' /Page ' + i + ' /OUT pdfmark');
    }
    for (let i = 1; i <= n; i++) {
        const size = landscape.has(i) ? [A4[1], A4[0]] : A4;
        const [r, g, b] = pageColor(i).map((v) => (v / 255).toFixed(3));
        lines.push('%%Page: ' + i + ' ' + i,
            '<< /PageSize [' + size.join(' ') + '] >> setpagedevice',
            r + ' ' + g + ' ' + b + ' setrgbcolor',
            BLOCK.x0 + ' ' + BLOCK.y0 + ' ' + (BLOCK.x1 - BLOCK.x0) + ' ' + (BLOCK.y1 - BLOCK.y0) +
                ' rectfill',
            '0 setgray /Helvetica findfont 28 scalefont setfont',
            '72 ' + (size[1] - 100) + ' moveto ' + psString(label + ' page ' + i) + ' show',
            'showpage');
    }
    lines.push('%%EOF', '');
    return lines.join('\n');
}

// Run gs (not the server's): PostScript file → PDF.
function gsToPdf(psFile, pdfFile, extra) {
    run('gs', ['-q', '-dSAFER', '-dBATCH', '-dNOPAUSE', '-sDEVICE=pdfwrite',
        '-dAutoRotatePages=/None', ...(extra || []), '-sOutputFile=' + pdfFile, psFile]);
    return pdfFile;
}

// A PDF of n A4 pages made by gs from pagesPs(n, opts); returns its path.
function makePdf(dir, name, n, opts) {
    const ps = path.join(dir, '.' + name + '.ps');
    fs.writeFileSync(ps, pagesPs(n, opts));
    const out = gsToPdf(ps, path.join(dir, name));
    fs.unlinkSync(ps);
    return out;
}

// A PostScript file of n pages (same pages as makePdf).
function makePs(dir, name, n, opts) {
    const out = path.join(dir, name);
    fs.writeFileSync(out, pagesPs(n, opts));
    return out;
}

// An EPS of w x h pt: a full block of colour rgb (0..255) and a text line.
function makeEps(dir, name, w, h, rgb, text) {
    const [r, g, b] = (rgb || [255, 0, 0]).map((v) => (v / 255).toFixed(3));
    const out = path.join(dir, name);
    fs.writeFileSync(out, ['%!PS-Adobe-3.0 EPSF-3.0', '%%BoundingBox: 0 0 ' + w + ' ' + h,
        '%%EndComments',
        r + ' ' + g + ' ' + b + ' setrgbcolor 0 0 ' + w + ' ' + h + ' rectfill',
        '1 setgray /Helvetica findfont 14 scalefont setfont 8 8 moveto ' +
            psString(text || 'EPS') + ' show',
        'showpage', '%%EOF', ''].join('\n'));
    return out;
}

// A flat w x h PNG of colour rgb (0..255) at dpi (stored as pixels per metre in pHYs).
function colorPng(dir, name, w, h, rgb, dpi) {
    const black = path.join(dir, '.' + name + '.black.v');
    const lin = path.join(dir, '.' + name + '.lin.v');
    const out = path.join(dir, name);
    const ppmm = String((dpi || 72) / 25.4);
    run('vips', ['black', black, String(w), String(h), '--bands', '3']);
    run('vips', ['linear', black, lin, '1 1 1', rgb.join(' '), '--uchar']);
    run('vips', ['copy', lin, out, '--xres', ppmm, '--yres', ppmm, '--interpretation', 'srgb']);
    fs.unlinkSync(black);
    fs.unlinkSync(lin);
    return out;
}

// Render page `page` of a PDF file with gs (not the server's) at dpi → PNG buffer.
function renderPage(pdfFile, page, dpi) {
    const out = path.join(path.dirname(pdfFile), '.render-' + page + '.png');
    run('gs', ['-q', '-dSAFER', '-dBATCH', '-dNOPAUSE', '-sDEVICE=png16m', '-r' + (dpi || 72),
        '-dFirstPage=' + page, '-dLastPage=' + page, '-sOutputFile=' + out, pdfFile]);
    const buf = fs.readFileSync(out);
    fs.unlinkSync(out);
    return buf;
}

// A one-page A4 PDF filled by an RGB noise image of px x px pixels (kept lossless by
// gs), so a screen preset (72 dpi images) makes it much smaller.
function makeImagePdf(dir, name, px) {
    const n = px || 900;
    const data = crypto.randomBytes(n * n * 3);
    const ps = path.join(dir, '.' + name + '.ps');
    const head = ['%!PS', '<< /PageSize [595 842] >> setpagedevice',
        'gsave 20 100 translate 555 555 scale',
        n + ' ' + n + ' 8 [' + n + ' 0 0 -' + n + ' 0 ' + n + '] currentfile /ASCIIHexDecode filter',
        'false 3 colorimage', ''].join('\n');
    fs.writeFileSync(ps, head + data.toString('hex').replace(/(.{4000})/g, '$1\n') +
        '>\ngrestore showpage\n');
    const out = gsToPdf(ps, path.join(dir, name), ['-dAutoFilterColorImages=false',
        '-dColorImageFilter=/FlateEncode', '-dDownsampleColorImages=false']);
    fs.unlinkSync(ps);
    return out;
}

// A PDF written byte by byte: objs[i] is the body of object i + 1 (a string, or a
// {dict, stream} pair); object 1 must be the catalog. The xref table is exact.
function rawPdf(objs, opts) {
    opts = opts || {};
    const parts = [Buffer.from('%PDF-' + (opts.version || '1.4') + '\n%\xe2\xe3\xcf\xd3\n', 'latin1')];
    let off = parts[0].length;
    const offsets = [];
    objs.forEach((o, i) => {
        offsets.push(off);
        let body;
        if (typeof o === 'string') {
            body = Buffer.from((i + 1) + ' 0 obj\n' + o + '\nendobj\n', 'latin1');
        } else {
            const s = Buffer.from(o.stream, 'latin1');
            body = Buffer.concat([Buffer.from((i + 1) + ' 0 obj\n' +
                o.dict.replace(/>>\s*$/, '/Length ' + s.length + '>>') + '\nstream\n', 'latin1'), s,
            Buffer.from('\nendstream\nendobj\n', 'latin1')]);
        }
        parts.push(body);
        off += body.length;
    });
    const xref = ['xref', '0 ' + (objs.length + 1), '0000000000 65535 f '];
    for (const o of offsets)
        xref.push(String(o).padStart(10, '0') + ' 00000 n ');
    parts.push(Buffer.from(xref.join('\r\n') + '\r\ntrailer\n<</Size ' + (objs.length + 1) +
        ' /Root 1 0 R>>\nstartxref\n' + off + '\n%%EOF\n', 'latin1'));
    return Buffer.concat(parts);
}

// One page of w x h pt (with a little content); userUnit (PDF 1.6) multiplies both.
function bigPagePdf(w, h, userUnit) {
    const unit = userUnit ? '/UserUnit ' + userUnit : '';
    return rawPdf(['<</Type/Catalog/Pages 2 0 R>>',
        '<</Type/Pages/Kids[3 0 R]/Count 1>>',
        '<</Type/Page/Parent 2 0 R/MediaBox[0 0 ' + w + ' ' + h + ']' + unit + '/Contents 4 0 R>>',
        { dict: '<<>>', stream: '1 0 0 rg 0 0 100 100 re f' }]);
}

// n real (empty) A4 pages in one flat page tree.
function manyPagesPdf(n) {
    const kids = [];
    const objs = ['<</Type/Catalog/Pages 2 0 R>>', null];
    for (let i = 0; i < n; i++) {
        kids.push((i + 3) + ' 0 R');
        objs.push('<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>');
    }
    objs[1] = '<</Type/Pages/Count ' + n + '/Kids[' + kids.join(' ') + ']>>';
    return rawPdf(objs);
}

// One real page whose page tree claims `claimed` pages.
function countLiePdf(claimed) {
    return rawPdf(['<</Type/Catalog/Pages 2 0 R>>',
        '<</Type/Pages/Kids[3 0 R]/Count ' + claimed + '>>',
        '<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]/Contents 4 0 R>>',
        { dict: '<<>>', stream: '0 0 1 rg 100 300 200 200 re f' }]);
}

// A copy of a PDF encrypted with AES-256, user password "u", owner password "o".
function encryptPdf(src, dest) {
    run('qpdf', ['--encrypt', 'u', 'o', '256', '--', src, dest]);
    return dest;
}

// ---- facts of files --------------------------------------------------------------------

// pdfinfo of a file: {pages, title, author, pageSize: [w, h] (first page), version, raw}.
function pdfInfo(file) {
    const raw = run('pdfinfo', [file]);
    const field = (k) => {
        const m = new RegExp('^' + k + ':\\s*(.*)$', 'm').exec(raw);
        return m ? m[1].trim() : undefined;
    };
    const size = /^Page size:\s*([\d.]+) x ([\d.]+) pts/m.exec(raw);
    return {
        pages: Number(field('Pages')),
        title: field('Title'),
        author: field('Author'),
        pageSize: size ? [Number(size[1]), Number(size[2])] : null,
        version: field('PDF version'),
        raw,
    };
}

// [w, h] in pt of every page (pdfinfo -f 1 -l N).
function pageSizes(file) {
    const n = pdfInfo(file).pages;
    const raw = run('pdfinfo', ['-f', '1', '-l', String(n), file]);
    const out = [];
    const re = /^Page\s+\d+ size:\s*([\d.]+) x ([\d.]+) pts/gm;
    let m;
    while ((m = re.exec(raw)) !== null)
        out.push([Number(m[1]), Number(m[2])]);
    return out;
}

// Text of one page (1-based) or of the whole file.
function pdfText(file, page) {
    const args = page ? ['-f', String(page), '-l', String(page)] : [];
    return run('pdftotext', [...args, '-layout', file, '-']);
}

function qpdfPages(file) {
    return Number(run('qpdf', ['--show-npages', file]).trim());
}

// The top-level outline (bookmarks) of a PDF: [{title, page}] (page 1-based, from qpdf).
function outlines(file) {
    const j = JSON.parse(run('qpdf', ['--json', '--json-key=outlines', file]));
    return (j.outlines || []).map((o) => ({ title: o.title, page: o.destpageposfrom1 }));
}

// pdfimages -list rows: [{page, width, height, enc, color}].
function pdfImages(file) {
    const lines = run('pdfimages', ['-list', file]).split('\n').slice(2).filter((l) => l.trim());
    return lines.map((l) => {
        const c = l.trim().split(/\s+/);
        return { page: Number(c[0]), type: c[2], width: Number(c[3]), height: Number(c[4]),
            color: c[5], enc: c[8] };
    });
}

function isPdf(buf) {
    return buf.length > 5 && buf.toString('latin1', 0, 5) === '%PDF-';
}

function isJpeg(buf) {
    return buf.length > 3 && buf[0] === 0xff && buf[1] === 0xd8 && buf[2] === 0xff;
}

function isTiff(buf) {
    const h = buf.toString('latin1', 0, 4);
    return h === 'II*\0' || h === 'MM\0*';
}

// Width, height of a PNG from its IHDR chunk (throws when buf is not a PNG).
function pngSize(buf) {
    const sig = Buffer.from('89504e470d0a1a0a', 'hex');
    if (buf.length < 24 || !buf.subarray(0, 8).equals(sig) || buf.toString('latin1', 12, 16) !== 'IHDR')
        throw new Error('not a PNG: ' + buf.subarray(0, 16).toString('hex'));
    return { width: buf.readUInt32BE(16), height: buf.readUInt32BE(20) };
}

// Run fn(path) on a temp copy of buf named name.
function withFile(buf, name, fn) {
    const dir = tmpDir('convertd-docs-dl-');
    const file = path.join(dir, name);
    fs.writeFileSync(file, buf);
    try {
        return fn(file);
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

// vipsheader facts of an image buffer: {width, height, bands, loader}.
function imageHeader(buf, name) {
    return withFile(buf, name || 'image.bin', (f) => {
        const h = (k) => run('vipsheader', ['-f', k, f]).trim();
        return { width: Number(h('width')), height: Number(h('height')), bands: Number(h('bands')),
            loader: h('vips-loader') };
    });
}

// Pixel at x, y of an image buffer (vips getpoint): array of band values.
function pixelOf(buf, name, x, y) {
    return withFile(buf, name || 'image.bin', (f) =>
        run('vips', ['getpoint', f, String(x), String(y)]).trim().split(/\s+/).map(Number));
}

// The bytes of a w x h area at x, y of a one-band 8-bit image buffer (row by row).
function grayArea(buf, name, x, y, w, h) {
    return withFile(buf, name || 'image.bin', (f) => {
        const raw = path.join(path.dirname(f), 'area.raw');
        run('vips', ['extract_area', f, raw, String(x), String(y), String(w), String(h)]);
        return fs.readFileSync(raw);
    });
}

// Does an [r, g, b] pixel match rgb within tol per channel?
function near(px, rgb, tol) {
    return rgb.every((v, i) => Math.abs(px[i] - v) <= (tol === undefined ? 40 : tol));
}

module.exports = {
    tmpDir, run, A4, BLOCK, pageColor, blockPixel, pagesPs, gsToPdf, makePdf, makePs, makeEps,
    colorPng, renderPage, makeImagePdf, rawPdf, bigPagePdf, manyPagesPdf, countLiePdf, encryptPdf,
    pdfInfo, pageSizes, pdfText, qpdfPages, outlines, pdfImages, isPdf, isJpeg, isTiff, pngSize,
    withFile, imageHeader, pixelOf, grayArea, near,
};
