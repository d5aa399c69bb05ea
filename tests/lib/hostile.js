// SPDX-License-Identifier: MIT
// hostile.js - generators and probes of the hostile-input suite: raw sockets, crafted images
// (wrong type, truncated, header bombs, many frames/pages, SVG XXE), hostile names, and
// checks of the server process (alive, open files, memory, leftover temp files).
'use strict';
const { crc32, pngChunk, PNG_SIG } = require('./bytes');
const http = require('http');
const net = require('net');
const fs = require('fs');
const os = require('os');
const path = require('path');
const zlib = require('zlib');
const crypto = require('crypto');
const { execFileSync } = require('child_process');

function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
}

// '//HOST/p' (protocol-relative, as the server returns) → 'http://HOST/p'.
function abs(url) {
    if (typeof url !== 'string')
        throw new Error('not a URL: ' + JSON.stringify(url));
    return url.startsWith('//') ? 'http:' + url : url;
}

// --- HTTP ---------------------------------------------------------------------------------

// Percent-encode a query/form key but keep brackets literal (what most clients send).
function encKey(k) {
    return encodeURIComponent(k).replace(/%5B/gi, '[').replace(/%5D/gi, ']');
}

// {a: 1, b: {c: 2}, d: [1, 2]} → 'a=1&b[c]=2&d[]=1&d[]=2'; a value `true` of a key listed in
// flags becomes a bare flag. Strings are sent as they are (no extra encoding) when the
// object is replaced by a ready string.
function urlencode(obj) {
    if (typeof obj === 'string')
        return obj;
    const out = [];
    const walk = (key, v) => {
        if (v === undefined)
            return;
        if (Array.isArray(v))
            v.forEach((item) => walk(key + '[]', item));
        else if (v !== null && typeof v === 'object')
            Object.entries(v).forEach(([k, vv]) => walk(key + '[' + k + ']', vv));
        else
            out.push(encKey(key) + '=' + encodeURIComponent(v === null ? '' : String(v)));
    };
    Object.entries(obj).forEach(([k, v]) => walk(k, v));
    return out.join('&');
}

// parts: [{name, value}] or [{name, filename, data}] → {body, contentType}.
function multipart(parts) {
    const boundary = '----hostile' + crypto.randomBytes(8).toString('hex');
    const chunks = [];
    for (const p of parts) {
        let head = '--' + boundary + '\r\nContent-Disposition: form-data; name="' + p.name + '"';
        if (p.filename !== undefined)
            head += '; filename="' + p.filename + '"';
        head += '\r\n\r\n';
        chunks.push(Buffer.from(head, 'utf8'));
        const data = p.data !== undefined ? p.data : p.value;
        chunks.push(Buffer.isBuffer(data) ? data : Buffer.from(String(data), 'utf8'));
        chunks.push(Buffer.from('\r\n'));
    }
    chunks.push(Buffer.from('--' + boundary + '--\r\n'));
    return { body: Buffer.concat(chunks), contentType: 'multipart/form-data; boundary=' + boundary };
}

// One HTTP request on a fresh connection.
// opts: {method, url, query (object|string appended), headers, and one body of: json (object,
// or a string/Buffer sent as is with Content-Type application/json), form (object|string),
// multipart ({body, contentType}), body (Buffer|string); timeout ms (default 15000);
// rawPath: send this path as is (no dot-segment normalisation by URL)}.
// Resolves {status, headers, body, text, json (undefined when not JSON), ms}.
function request(opts) {
    return new Promise((resolve, reject) => {
        const u = new URL(abs(opts.url));
        if (opts.query !== undefined) {
            const q = urlencode(opts.query);
            if (q)
                u.search = (u.search ? u.search.slice(1) + '&' : '') + q;
        }
        const headers = Object.assign({}, opts.headers || {});
        const setType = (t) => {
            if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type'))
                headers['Content-Type'] = t;
        };
        let body = null;
        if (opts.json !== undefined) {
            body = Buffer.isBuffer(opts.json) ? opts.json
                : Buffer.from(typeof opts.json === 'string' ? opts.json : JSON.stringify(opts.json));
            setType('application/json');
        } else if (opts.form !== undefined) {
            body = Buffer.from(urlencode(opts.form));
            setType('application/x-www-form-urlencoded');
        } else if (opts.multipart !== undefined) {
            body = opts.multipart.body;
            setType(opts.multipart.contentType);
        } else if (opts.body !== undefined) {
            body = Buffer.isBuffer(opts.body) ? opts.body : Buffer.from(opts.body);
        }
        if (body !== null)
            headers['Content-Length'] = body.length;
        const t0 = Date.now();
        const timeout = opts.timeout || 15000;
        let done = false;
        const req = http.request({
            method: opts.method || 'GET', host: u.hostname, port: u.port,
            path: opts.rawPath || u.pathname + u.search, headers, agent: false,
        }, (res) => {
            const chunks = [];
            res.on('data', (c) => chunks.push(c));
            res.on('error', fail);
            res.on('end', () => {
                if (done)
                    return;
                done = true;
                clearTimeout(timer);
                const buf = Buffer.concat(chunks);
                const out = { status: res.statusCode, headers: res.headers, body: buf,
                    text: buf.toString('utf8'), ms: Date.now() - t0 };
                try {
                    out.json = JSON.parse(out.text);
                } catch (e) { /* not JSON */ }
                resolve(out);
            });
        });
        function fail(e) {
            if (done)
                return;
            done = true;
            clearTimeout(timer);
            reject(e);
        }
        const timer = setTimeout(() => {
            fail(new Error('no answer in ' + timeout + ' ms: ' + (opts.method || 'GET') + ' ' +
                u.pathname + u.search.slice(0, 200)));
            req.destroy();
        }, timeout);
        // A server that answers early (413) and closes while the body is still being sent:
        // the response usually arrives anyway; fail only when none does.
        req.on('error', (e) => setTimeout(() => fail(e), 300));
        req.end(body || undefined);
    });
}

// Split a byte stream into HTTP/1.1 responses. Returns [{status, headers, body, json}],
// 1xx interim responses included (body empty). `noBody` statuses and HEAD are not known
// here: a response without Content-Length or chunked coding takes the rest of the stream.
function parseResponses(buf) {
    const out = [];
    let off = 0;
    while (off < buf.length) {
        const sep = buf.indexOf('\r\n\r\n', off);
        if (sep < 0)
            break;
        const lines = buf.slice(off, sep).toString('latin1').split('\r\n');
        const m = /^HTTP\/\d\.\d (\d{3})/.exec(lines[0]);
        const r = { status: m ? Number(m[1]) : 0, statusLine: lines[0], headers: {},
            body: Buffer.alloc(0) };
        for (const l of lines.slice(1)) {
            const i = l.indexOf(':');
            if (i > 0)
                r.headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
        }
        let p = sep + 4;
        if (r.status >= 100 && r.status < 200) {
            // interim: no body
        } else if (r.headers['content-length'] !== undefined) {
            const n = Number(r.headers['content-length']);
            r.body = buf.slice(p, p + n);
            r.incomplete = p + n > buf.length;
            r.end = p + n;
            p += n;
        } else if (/chunked/i.test(r.headers['transfer-encoding'] || '')) {
            const parts = [];
            for (;;) {
                const eol = buf.indexOf('\r\n', p);
                if (eol < 0) {
                    r.incomplete = true;
                    p = buf.length;
                    break;
                }
                const n = parseInt(buf.slice(p, eol).toString('latin1'), 16);
                p = eol + 2;
                if (!(n > 0)) {
                    const end = buf.indexOf('\r\n\r\n', p - 2);
                    p = end < 0 ? buf.length : end + 4;
                    break;
                }
                parts.push(buf.slice(p, p + n));
                p += n + 2;
            }
            r.body = Buffer.concat(parts);
        } else {
            r.body = buf.slice(p);
            p = buf.length;
        }
        try {
            r.json = JSON.parse(r.body.toString('utf8'));
        } catch (e) { /* not JSON */ }
        out.push(r);
        off = p;
    }
    return out;
}

// Send raw bytes on one TCP connection and collect everything until the peer closes, `want`
// final (non-1xx) responses arrived, or `timeout` ms. parts: Buffers/strings written in
// order, `gap` ms apart; a function part is called with the bytes received so far and may
// return bytes to write (or null to stop writing). opts.waitFor100: before each part after
// the first, wait up to 3 s for an interim response.
// Resolves {raw, responses, final (first non-1xx response or undefined), closed, ms}.
function raw(port, parts, opts) {
    opts = opts || {};
    const want = opts.want || 1;
    return new Promise((resolve) => {
        const t0 = Date.now();
        const sock = net.connect(port, '127.0.0.1');
        const chunks = [];
        let received = 0;
        let done = false;
        let closed = false;
        let parseAt = 0; // re-parse only once this many bytes arrived (big bodies stay linear)
        const finals = () => {
            const all = parseResponses(Buffer.concat(chunks));
            const last = all[all.length - 1];
            parseAt = last && last.incomplete && last.end ? last.end : received + 1;
            return all.filter((r) => r.status >= 200 && !r.incomplete);
        };
        const finish = () => {
            if (done)
                return;
            done = true;
            clearTimeout(timer);
            const rawBuf = Buffer.concat(chunks);
            const responses = parseResponses(rawBuf);
            sock.destroy();
            resolve({ raw: rawBuf, responses, final: responses.find((r) => r.status >= 200),
                closed, ms: Date.now() - t0 });
        };
        const timer = setTimeout(finish, opts.timeout || 10000);
        sock.on('data', (d) => {
            chunks.push(d);
            received += d.length;
            if (received >= parseAt && finals().length >= want)
                finish();
        });
        sock.on('error', () => { closed = true; finish(); });
        sock.on('close', () => { closed = true; finish(); });
        sock.on('connect', async () => {
            for (let i = 0; i < parts.length; i++) {
                if (done || finals().length >= want)
                    break;
                let p = parts[i];
                if (typeof p === 'function')
                    p = p(Buffer.concat(chunks));
                if (p === null)
                    break;
                if (i > 0 && opts.waitFor100) {
                    const until = Date.now() + 3000;
                    while (Date.now() < until && !done &&
                        !parseResponses(Buffer.concat(chunks)).length)
                        await sleep(10);
                }
                if (done || sock.destroyed)
                    break;
                sock.write(p);
                if (opts.gap)
                    await sleep(opts.gap);
            }
            if (opts.endWrite && !done)
                sock.end();
        });
    });
}

// Open a connection, write `head` and keep it open (a slow or vanished client). Resolves
// the socket once connected; the caller destroys it.
function openHanging(port, head) {
    return new Promise((resolve, reject) => {
        const sock = net.connect(port, '127.0.0.1', () => {
            if (head)
                sock.write(head);
            resolve(sock);
        });
        sock.on('error', () => { /* the server may close it: that is allowed */ });
        sock.once('error', reject);
    });
}

// --- the server process -------------------------------------------------------------------

function procStatus(pid) {
    const text = fs.readFileSync('/proc/' + pid + '/status', 'utf8');
    const kb = (name) => {
        const m = new RegExp('^' + name + ':\\s+(\\d+) kB', 'm').exec(text);
        return m ? Number(m[1]) : 0;
    };
    return { rssKb: kb('VmRSS'), threads: Number((/^Threads:\s+(\d+)/m.exec(text) || [])[1]) };
}

// Open file descriptors of pid: {count, files (paths of regular files), sockets, db (SQLite
// database, WAL and shm handles: one set per thread that touched the database), other
// (count - db: what a leak of connections, uploads, outputs or pipes would grow)}.
function openFds(pid) {
    const dir = '/proc/' + pid + '/fd';
    const files = [];
    let sockets = 0;
    let count = 0;
    let db = 0;
    for (const fd of fs.readdirSync(dir)) {
        let target;
        try {
            target = fs.readlinkSync(path.join(dir, fd));
        } catch (e) {
            continue;
        }
        count++;
        if (target.startsWith('socket:'))
            sockets++;
        else if (/\/convertd\.db(-wal|-shm|-journal)?$/.test(target))
            db++;
        else if (target.startsWith('/'))
            files.push(target);
    }
    return { count, files, sockets, db, other: count - db };
}

// Every file below dir (relative paths), directories not listed.
function listFiles(dir) {
    const out = [];
    const walk = (d, rel) => {
        let ents;
        try {
            ents = fs.readdirSync(d, { withFileTypes: true });
        } catch (e) {
            return;
        }
        for (const e of ents) {
            const r = rel ? rel + '/' + e.name : e.name;
            if (e.isDirectory())
                walk(path.join(d, e.name), r);
            else
                out.push(r);
        }
    };
    walk(dir, '');
    return out;
}

// --- images -------------------------------------------------------------------------------

function tmpDir(prefix) {
    return fs.mkdtempSync(path.join(os.tmpdir(), prefix || 'convertd-hostile-'));
}

function vips(args) {
    return execFileSync('vips', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function vipsheader(file) {
    const f = (field) => execFileSync('vipsheader', ['-f', field, file],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
    return { width: Number(f('width')), height: Number(f('height')), bands: Number(f('bands')) };
}

// Header facts + min and max over all bands of an image given as a Buffer.
function imageFacts(buf, ext) {
    const dir = tmpDir('convertd-hostile-dl-');
    const file = path.join(dir, 'out.' + (ext || 'bin'));
    try {
        fs.writeFileSync(file, buf);
        const h = vipsheader(file);
        h.min = Number(vips(['min', file]).trim());
        h.max = Number(vips(['max', file]).trim());
        return h;
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}


// A PNG with IHDR width × height, bit depth `depth`, colour type `ctype`, and IDAT = the
// zlib-compressed `raw` scanlines (filter bytes included).
function pngFrom(width, height, depth, ctype, raw) {
    const ihdr = Buffer.alloc(13);
    ihdr.writeUInt32BE(width, 0);
    ihdr.writeUInt32BE(height, 4);
    ihdr[8] = depth;
    ihdr[9] = ctype;
    return Buffer.concat([PNG_SIG, pngChunk('IHDR', ihdr),
        pngChunk('IDAT', zlib.deflateSync(raw, { level: 9 })), pngChunk('IEND', Buffer.alloc(0))]);
}

// Header bomb: IHDR claims width × height RGB, IDAT holds one short scanline.
function pngHeaderBomb(width, height) {
    return pngFrom(width, height, 8, 2, Buffer.alloc(1 + 3 * Math.min(width, 256)));
}

// A complete, valid 1-bit greyscale PNG of width × height (all black): a few KB on disk,
// width × height pixels when decoded.
function pngValidHuge(width, height) {
    const stride = 1 + Math.ceil(width / 8);
    return pngFrom(width, height, 1, 0, Buffer.alloc(stride * height));
}

// Decompression bomb: IHDR says width × height greyscale (small), the IDAT inflates to
// `inflated` bytes (far more than the image needs).
function pngInflateBomb(width, height, inflated) {
    return pngFrom(width, height, 8, 0, Buffer.alloc(inflated));
}

// A minimal valid w × h GIF (palette of 2, every pixel index 0) with `frames` frames.
// Each frame: graphic control extension + image descriptor + a tiny LZW stream; the LZW
// stream only covers the first pixel, so frames larger than 1×1 are short of data (the
// decoders fill with the background) - good enough for header-level caps.
function gifFrames(w, h, frames) {
    const head = Buffer.alloc(13);
    head.write('GIF89a', 0, 'latin1');
    head.writeUInt16LE(w, 6);
    head.writeUInt16LE(h, 8);
    head[10] = 0x80; // global colour table, 2 entries
    const gct = Buffer.from([0, 0, 0, 255, 255, 255]);
    const frame = Buffer.alloc(8 + 10 + 5);
    frame.set([0x21, 0xf9, 0x04, 0x00, 0x01, 0x00, 0x00, 0x00], 0); // GCE, delay 1
    frame[8] = 0x2c;
    frame.writeUInt16LE(w, 13);
    frame.writeUInt16LE(h, 15);
    frame.set([0x02, 0x02, 0x44, 0x01, 0x00], 18); // LZW min 2, one sub-block, end
    const parts = [head, gct];
    if (frames > 1) // NETSCAPE2.0 loop extension
        parts.push(Buffer.from('21ff0b4e45545343415045322e300301000000', 'hex'));
    for (let i = 0; i < frames; i++)
        parts.push(frame);
    parts.push(Buffer.from([0x3b]));
    return Buffer.concat(parts);
}

// A baseline TIFF (little-endian, 8-bit grey, uncompressed, one strip) of `pages` pages,
// each w × h, every page pointing at the same strip of w*h bytes.
function tiffPages(w, h, pages) {
    const data = Buffer.alloc(w * h, 0x80);
    const tags = (stripOff) => [
        [256, 4, w], [257, 4, h], [258, 3, 8], [259, 3, 1], [262, 3, 1],
        [273, 4, stripOff], [277, 3, 1], [278, 4, h], [279, 4, data.length],
    ];
    const ifdSize = 2 + 9 * 12 + 4;
    const dataOff = 8;
    const firstIfd = dataOff + data.length + (data.length & 1);
    const buf = Buffer.alloc(firstIfd + ifdSize * pages);
    buf.write('II', 0, 'latin1');
    buf.writeUInt16LE(42, 2);
    buf.writeUInt32LE(firstIfd, 4);
    data.copy(buf, dataOff);
    for (let p = 0; p < pages; p++) {
        let o = firstIfd + p * ifdSize;
        buf.writeUInt16LE(9, o);
        o += 2;
        for (const [tag, type, value] of tags(dataOff)) {
            buf.writeUInt16LE(tag, o);
            buf.writeUInt16LE(type, o + 2);
            buf.writeUInt32LE(1, o + 4);
            if (type === 3)
                buf.writeUInt16LE(value, o + 8);
            else
                buf.writeUInt32LE(value, o + 8);
            o += 12;
        }
        buf.writeUInt32LE(p + 1 < pages ? firstIfd + (p + 1) * ifdSize : 0, o);
    }
    return buf;
}

// TIFF header bomb: one IFD claiming w × h, one tiny strip (the rest is missing).
function tiffHeaderBomb(w, h) {
    const buf = tiffPages(1, 1, 1);
    // patch ImageWidth / ImageLength / RowsPerStrip of the single IFD
    const ifd = buf.readUInt32LE(4);
    buf.writeUInt32LE(w, ifd + 2 + 0 * 12 + 8);
    buf.writeUInt32LE(h, ifd + 2 + 1 * 12 + 8);
    buf.writeUInt32LE(h, ifd + 2 + 7 * 12 + 8);
    return buf;
}

// Windows BMP, 8-bit palette, RLE8-compressed: the header claims w × h, the pixel data is a
// single end-of-bitmap marker (valid RLE: the rest is background).
function bmpHeaderBomb(w, h) {
    const palette = Buffer.alloc(2 * 4);
    palette.set([255, 255, 255, 0], 4);
    const pixels = Buffer.from([0x00, 0x01]);
    const off = 14 + 40 + palette.length;
    const buf = Buffer.alloc(off + pixels.length);
    buf.write('BM', 0, 'latin1');
    buf.writeUInt32LE(buf.length, 2);
    buf.writeUInt32LE(off, 10);
    buf.writeUInt32LE(40, 14);
    buf.writeInt32LE(w, 18);
    buf.writeInt32LE(h, 22);
    buf.writeUInt16LE(1, 26);
    buf.writeUInt16LE(8, 28);
    buf.writeUInt32LE(1, 30); // BI_RLE8
    buf.writeUInt32LE(pixels.length, 34);
    buf.writeUInt32LE(2, 46); // colours used
    palette.copy(buf, 54);
    pixels.copy(buf, off);
    return buf;
}

// GIF header bomb: logical screen and the one frame claim w × h.
function gifHeaderBomb(w, h) {
    return gifFrames(w, h, 1);
}

// WebP lossless (VP8L) whose bitstream header claims w × h (each ≤ 16384); the image data
// after the header is zeros (invalid once decoding starts).
function webpHeaderBomb(w, h) {
    const vp8l = Buffer.alloc(5 + 63); // chunk sizes are even
    vp8l[0] = 0x2f;
    // 14 bits width-1, 14 bits height-1, 1 bit alpha, 3 bits version (0), little-endian bits
    const bits = ((w - 1) & 0x3fff) | (((h - 1) & 0x3fff) << 14);
    vp8l.writeUInt32LE(bits >>> 0, 1);
    const chunk = Buffer.alloc(8);
    chunk.write('VP8L', 0, 'latin1');
    chunk.writeUInt32LE(vp8l.length, 4);
    const riff = Buffer.alloc(12);
    riff.write('RIFF', 0, 'latin1');
    riff.writeUInt32LE(4 + 8 + vp8l.length, 4);
    riff.write('WEBP', 8, 'latin1');
    return Buffer.concat([riff, chunk, vp8l]);
}

// JPEG header bomb: a real small baseline JPEG whose SOF0 frame header is patched to w × h
// (each ≤ 65535).
function jpgHeaderBomb(small, w, h) {
    const buf = Buffer.from(small);
    for (let i = 2; i + 9 < buf.length;) {
        if (buf[i] !== 0xff)
            throw new Error('jpgHeaderBomb: lost marker sync at ' + i);
        const marker = buf[i + 1];
        const len = buf.readUInt16BE(i + 2);
        if (marker >= 0xc0 && marker <= 0xc2) {
            buf.writeUInt16BE(h, i + 5);
            buf.writeUInt16BE(w, i + 7);
            return buf;
        }
        i += 2 + len;
    }
    throw new Error('jpgHeaderBomb: no SOF marker');
}

// ICO container (one entry) around the image bytes `inner` (PNG or BMP DIB), entry size
// w × h (0 = 256).
function icoWrap(inner, w, h) {
    const head = Buffer.alloc(6 + 16);
    head.writeUInt16LE(0, 0);
    head.writeUInt16LE(1, 2);
    head.writeUInt16LE(1, 4);
    head[6] = w & 0xff;
    head[7] = h & 0xff;
    head.writeUInt16LE(1, 10); // planes
    head.writeUInt16LE(32, 12); // bpp
    head.writeUInt32LE(inner.length, 14);
    head.writeUInt32LE(22, 18);
    return Buffer.concat([head, inner]);
}

function svgSized(w, h) {
    return Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="' + w + '" height="' + h +
        '"><rect width="10" height="10" fill="red"/></svg>\n');
}

// Small valid images, one per format, made once per folder with the vips CLI (ico and svg
// are built here). sampleSet(dir) → {png, jpg, gif, webp, tiff, bmp, ico, svg} Buffers of
// w × h images filled with a mid grey.
function sampleSet(dir, w, h) {
    w = w || 16;
    h = h || 12;
    const base = path.join(dir, 'sample-base.v');
    const black = path.join(dir, 'sample-black.v');
    const lin = path.join(dir, 'sample-lin.v');
    vips(['black', black, String(w), String(h), '--bands', '3']);
    vips(['linear', black, lin, '1', '128']);
    vips(['cast', lin, base, 'uchar']);
    const out = {};
    for (const ext of ['png', 'jpg', 'gif', 'webp', 'tiff', 'bmp']) {
        const f = path.join(dir, 'sample.' + ext);
        vips(['copy', base, f]);
        out[ext] = fs.readFileSync(f);
    }
    const png32 = path.join(dir, 'sample-ico.png');
    vips(['copy', base, png32]);
    out.ico = icoWrap(fs.readFileSync(png32), w, h);
    out.svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="' + w + '" height="' +
        h + '"><rect width="' + w + '" height="' + h + '" fill="#808080"/></svg>\n');
    return out;
}

// A 1 × 1 image of each format (same shape as sampleSet).
function onePixelSet(dir) {
    const sub = fs.mkdtempSync(path.join(dir, 'one-'));
    return sampleSet(sub, 1, 1);
}

// --- SVG attacks --------------------------------------------------------------------------

// XXE: an external entity naming a local file, used as the text of a <text> element.
function svgXxe(fileUrl) {
    return Buffer.from('<?xml version="1.0"?>\n<!DOCTYPE svg [<!ENTITY xxe SYSTEM "' + fileUrl +
        '">]>\n<svg xmlns="http://www.w3.org/2000/svg" width="400" height="100">' +
        '<rect width="400" height="100" fill="#ffffff"/>' +
        '<text x="2" y="60" font-size="40" fill="#000000">&xxe;</text></svg>\n');
}

// <image> elements pointing at `hrefs` (file:// or http:// URLs) over a white background:
// rendering any of them changes pixels.
function svgExternalImages(hrefs) {
    let body = '<rect width="200" height="200" fill="#ffffff"/>';
    hrefs.forEach((href, i) => {
        body += '<image x="0" y="' + (i * 20) + '" width="200" height="200" xlink:href="' + href +
            '" href="' + href + '"/>';
    });
    return Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" ' +
        'xmlns:xlink="http://www.w3.org/1999/xlink" width="200" height="200">' + body + '</svg>\n');
}

// Other ways to make a renderer fetch: <use> of an external document, CSS @import and url().
function svgExternalOther(base) {
    return Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" ' +
        'xmlns:xlink="http://www.w3.org/1999/xlink" width="200" height="200">' +
        '<style>@import url("' + base + '/import.css"); ' +
        'rect.r { fill: url("' + base + '/fill.svg#p"); }</style>' +
        '<rect width="200" height="200" fill="#ffffff"/>' +
        '<rect class="r" width="50" height="50"/>' +
        '<use xlink:href="' + base + '/use.svg#a" href="' + base + '/use.svg#a"/>' +
        '<image width="10" height="10" href="' + base + '/image.png"/>' +
        '</svg>\n');
}

// Billion laughs: `levels` entity levels, each `fan` references of the previous one.
function svgLaughs(levels, fan) {
    let dtd = '<!ENTITY lol0 "lollollollollollollollollollol">\n';
    for (let i = 1; i <= levels; i++)
        dtd += '<!ENTITY lol' + i + ' "' + ('&lol' + (i - 1) + ';').repeat(fan) + '">\n';
    return Buffer.from('<?xml version="1.0"?>\n<!DOCTYPE svg [\n' + dtd + ']>\n' +
        '<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100">' +
        '<text x="0" y="50">&lol' + levels + ';</text></svg>\n');
}

// --- names --------------------------------------------------------------------------------

// Hostile upload names (SEC-16). Each: {label, name}.
const HOSTILE_NAMES = [
    { label: '../ chain', name: '../../../../../../tmp/convertd-hostile-escape.png' },
    { label: '.. only', name: '..' },
    { label: 'absolute path', name: '/tmp/convertd-hostile-abs.png' },
    { label: 'backslashes', name: '..\\..\\..\\windows\\evil.png' },
    { label: 'NUL', name: 'nul\u0000byte.png' },
    { label: 'CR/LF', name: 'line\r\nSet-Cookie: x=1\r\n.png' },
    { label: 'double quotes', name: 'quo"te"; filename="evil.exe.png' },
    { label: 'single quote and semicolon', name: "it's; rm -rf.png" },
    { label: 'leading dash', name: '-rf --help.png' },
    { label: 'leading dot', name: '.htaccess.png' },
    { label: 'only dots', name: '....png' },
    { label: 'RTL override', name: 'photo\u202egnp.exe.png' },
    { label: '255-byte name', name: 'a'.repeat(251) + '.png' },
    { label: '1000-byte name', name: 'b'.repeat(996) + '.png' },
    { label: 'shell metacharacters', name: '$(touch x)`id`|&;<>*?.png' },
    { label: 'percent sequences', name: '%2e%2e%2f%00.png' },
    { label: 'control characters', name: 'ctl\u0001\u0007\u001b[31m\u007f.png' },
    { label: 'UTF-8 and emoji', name: 'résumé 😀 ファイル.png' },
    { label: 'no extension', name: 'noext' },
    { label: 'empty name', name: '' },
    { label: 'spaces only', name: '   ' },
    { label: 'dot slash', name: './.png' },
    { label: 'trailing slash', name: 'dir/' },
];

module.exports = {
    sleep, abs, urlencode, multipart, request, parseResponses, raw, openHanging,
    procStatus, openFds, listFiles, tmpDir, vips, vipsheader, imageFacts, crc32, pngChunk,
    pngFrom, pngHeaderBomb, pngValidHuge, pngInflateBomb, gifFrames, gifHeaderBomb, tiffPages,
    tiffHeaderBomb, bmpHeaderBomb, webpHeaderBomb, jpgHeaderBomb, icoWrap, svgSized, sampleSet,
    onePixelSet, svgXxe, svgExternalImages, svgExternalOther, svgLaughs, HOSTILE_NAMES,
};
