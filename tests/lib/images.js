// SPDX-License-Identifier: MIT
// images.js - test images made with the vips CLI in temp folders, and decoding of files the
// server returns (vipsheader / vips), so tests check pixels and sizes, not existence.
'use strict';
const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

function vips(args) {
    return execFileSync('vips', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function tmpDir(prefix) {
    return fs.mkdtempSync(path.join(os.tmpdir(), prefix || 'convertd-img-'));
}

// A flat 3-band image of w x h with every channel = value.
function flat(dir, name, w, h, value) {
    const black = path.join(dir, '.' + name + '.black.v');
    const lin = path.join(dir, '.' + name + '.lin.v');
    const out = path.join(dir, name);
    vips(['black', black, String(w), String(h), '--bands', '3']);
    vips(['linear', black, lin, '1', String(value || 0)]);
    vips(['cast', lin, out, 'uchar']);
    fs.unlinkSync(black);
    fs.unlinkSync(lin);
    return out;
}

// A PNG of w x h (flat grey 100 unless value is given).
function png(dir, name, w, h, value) {
    return flat(dir, name || 'image.png', w, h, value === undefined ? 100 : value);
}

// A JPEG of w x h.
function jpg(dir, name, w, h, value) {
    return flat(dir, name || 'image.jpg', w, h, value === undefined ? 100 : value);
}

// Gaussian noise (one band), so that JPEG quality makes a clear size difference.
function noisy(dir, name, w, h) {
    const n = path.join(dir, '.' + name + '.noise.v');
    const out = path.join(dir, name);
    vips(['gaussnoise', n, String(w), String(h), '--mean', '128', '--sigma', '50']);
    vips(['cast', n, out, 'uchar']);
    fs.unlinkSync(n);
    return out;
}

// Value of page/frame i (1-based) in pages() images: distinct per page.
function pageValue(i) {
    return Math.min(i * 60, 240);
}

// A multi-page image (ext 'gif' → animated GIF, 'tif'/'tiff' → multipage TIFF) of n pages,
// each w x h, page i flat at pageValue(i).
function pages(dir, name, w, h, n) {
    const files = [];
    for (let i = 1; i <= n; i++)
        files.push(flat(dir, '.' + name + '.p' + i + '.png', w, h, pageValue(i)));
    const tall = path.join(dir, '.' + name + '.tall.png');
    vips(['arrayjoin', files.join(' '), tall, '--across', '1']);
    const out = path.join(dir, name);
    const saver = /\.gif$/i.test(name) ? 'gifsave' : 'tiffsave';
    vips([saver, tall, out, '--page-height', String(h)]);
    for (const f of files.concat([tall]))
        fs.unlinkSync(f);
    return out;
}

function gif(dir, name, w, h, frames) {
    return pages(dir, name || 'anim.gif', w, h, frames || 3);
}

function tiff(dir, name, w, h, n) {
    return pages(dir, name || 'pages.tif', w, h, n || 3);
}

// SVG source text of w x h with a text element (blue background #3366cc).
function svgText(w, h, text) {
    return '<svg xmlns="http://www.w3.org/2000/svg" width="' + w + '" height="' + h + '">' +
        '<rect width="' + w + '" height="' + h + '" fill="#3366cc"/>' +
        '<text x="4" y="' + Math.round(h * 0.7) + '" font-size="' + Math.round(h / 2) +
        '" fill="white">' + (text || 'convertd') + '</text></svg>\n';
}

function svg(dir, name, w, h, text) {
    const out = path.join(dir, name || 'text.svg');
    fs.writeFileSync(out, svgText(w, h, text));
    return out;
}

// PNG signature followed by garbage: sniffs as PNG, fails to decode at the header.
function corruptPng(dir, name) {
    const out = path.join(dir, name || 'corrupt.png');
    const garbage = Buffer.alloc(400);
    for (let i = 0; i < garbage.length; i++)
        garbage[i] = (i * 37 + 11) & 0xff;
    fs.writeFileSync(out, Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), garbage]));
    return out;
}

// Header facts of a file; throws when vips cannot read it.
function header(file) {
    const f = (field) => execFileSync('vipsheader', ['-f', field, file],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
    let nPages = 1;
    try {
        nPages = Number(f('n-pages'));
    } catch (e) {
        /* single-page formats have no n-pages field */
    }
    return {
        width: Number(f('width')),
        height: Number(f('height')),
        bands: Number(f('bands')),
        loader: f('vips-loader'),
        pages: nPages,
    };
}

// Decode every pixel (vips avg reads the whole image) and return header facts + mean.
function decode(file) {
    const h = header(file);
    h.mean = Number(vips(['avg', file]).trim());
    return h;
}

// Pixel values at x, y (first page, or file may carry [page=N]).
function pixel(file, x, y) {
    return vips(['getpoint', file, String(x), String(y)]).trim().split(/\s+/).map(Number);
}

// Write a downloaded buffer to a temp file named name (extension matters to some loaders).
function save(buf, name) {
    const dir = tmpDir('convertd-dl-');
    const file = path.join(dir, name || 'file.bin');
    fs.writeFileSync(file, buf);
    return file;
}

// decode() of a buffer; the loader is found from the bytes.
function decodeBuffer(buf, name) {
    const file = save(buf, name);
    try {
        return decode(file);
    } finally {
        fs.rmSync(path.dirname(file), { recursive: true, force: true });
    }
}

function pixelOfBuffer(buf, name, x, y) {
    const file = save(buf, name);
    try {
        return pixel(file, x, y);
    } finally {
        fs.rmSync(path.dirname(file), { recursive: true, force: true });
    }
}

module.exports = {
    tmpDir, png, jpg, noisy, gif, tiff, pages, pageValue, svg, svgText, corruptPng,
    header, decode, pixel, save, decodeBuffer, pixelOfBuffer,
};
