// SPDX-License-Identifier: MIT
// office.js - office documents for the office tests, written here without LibreOffice: a
// small stored-zip writer and minimal .odt, .docx (pages split by page breaks), .xlsx
// (inline strings), .pptx-free text inputs (.csv, .rtf, .txt), and a zip that is no document.
'use strict';
const fs = require('fs');
const path = require('path');
const { crc32 } = require('./bytes');

// A zip of [{name, data}] with every member stored (ODF wants its mimetype first and
// stored; the others may be either).
function zip(members) {
    const locals = [];
    const centrals = [];
    let offset = 0;
    for (const m of members) {
        const name = Buffer.from(m.name, 'utf8');
        const data = Buffer.isBuffer(m.data) ? m.data : Buffer.from(m.data, 'utf8');
        const crc = crc32(data) >>> 0;
        const local = Buffer.alloc(30);
        local.writeUInt32LE(0x04034b50, 0);
        local.writeUInt16LE(20, 4); // version needed
        local.writeUInt16LE(0x0800, 6); // UTF-8 names
        local.writeUInt16LE(0, 8); // stored
        local.writeUInt32LE(0, 10); // time, date
        local.writeUInt32LE(crc, 14);
        local.writeUInt32LE(data.length, 18);
        local.writeUInt32LE(data.length, 22);
        local.writeUInt16LE(name.length, 26);
        local.writeUInt16LE(0, 28);
        locals.push(local, name, data);
        const central = Buffer.alloc(46);
        central.writeUInt32LE(0x02014b50, 0);
        central.writeUInt16LE(20, 4);
        central.writeUInt16LE(20, 6);
        central.writeUInt16LE(0x0800, 8);
        central.writeUInt16LE(0, 10);
        central.writeUInt32LE(0, 12);
        central.writeUInt32LE(crc, 16);
        central.writeUInt32LE(data.length, 20);
        central.writeUInt32LE(data.length, 24);
        central.writeUInt16LE(name.length, 28);
        central.writeUInt32LE(offset, 42);
        centrals.push(central, name);
        offset += local.length + name.length + data.length;
    }
    const cd = Buffer.concat(centrals);
    const end = Buffer.alloc(22);
    end.writeUInt32LE(0x06054b50, 0);
    end.writeUInt16LE(members.length, 8);
    end.writeUInt16LE(members.length, 10);
    end.writeUInt32LE(cd.length, 12);
    end.writeUInt32LE(offset, 16);
    return Buffer.concat([...locals, cd, end]);
}

function xmlText(s) {
    return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

const ODF_NS = 'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" ' +
    'xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0" ' +
    'xmlns:fo="urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0" ' +
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" ' +
    'xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" ' +
    'xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0" ' +
    'xmlns:xlink="http://www.w3.org/1999/xlink" office:version="1.2"';

// An .odt whose body is raw ODF text XML (bodyXml), or one paragraph per entry of
// opts.pages, each on its own page. opts.pageCm: [w, h] of the pages (default A4).
function odt(opts) {
    const [w, h] = opts.pageCm || [21, 29.7];
    const body = opts.bodyXml !== undefined ? opts.bodyXml : opts.pages.map((t, i) =>
        '<text:p' + (i > 0 ? ' text:style-name="PB"' : '') + '>' + xmlText(t) + '</text:p>').join('');
    const content = '<?xml version="1.0" encoding="UTF-8"?><office:document-content ' + ODF_NS + '>' +
        '<office:automatic-styles><style:style style:name="PB" style:family="paragraph">' +
        '<style:paragraph-properties fo:break-before="page"/></style:style></office:automatic-styles>' +
        '<office:body><office:text>' + body + '</office:text></office:body></office:document-content>';
    const styles = '<?xml version="1.0" encoding="UTF-8"?><office:document-styles ' + ODF_NS + '>' +
        '<office:automatic-styles><style:page-layout style:name="pm1"><style:page-layout-properties ' +
        'fo:page-width="' + w + 'cm" fo:page-height="' + h + 'cm" fo:margin-top="1cm" ' +
        'fo:margin-bottom="1cm" fo:margin-left="1cm" fo:margin-right="1cm"/></style:page-layout>' +
        '</office:automatic-styles><office:master-styles><style:master-page style:name="Standard" ' +
        'style:page-layout-name="pm1"/></office:master-styles></office:document-styles>';
    const manifest = '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest ' +
        'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">' +
        '<manifest:file-entry manifest:full-path="/" ' +
        'manifest:media-type="application/vnd.oasis.opendocument.text"/>' +
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>' +
        '<manifest:file-entry manifest:full-path="styles.xml" manifest:media-type="text/xml"/>' +
        '</manifest:manifest>';
    return zip([
        { name: 'mimetype', data: 'application/vnd.oasis.opendocument.text' },
        { name: 'META-INF/manifest.xml', data: manifest },
        { name: 'styles.xml', data: styles },
        { name: 'content.xml', data: content },
    ]);
}

// A .docx with one paragraph per entry of pages, a page break between them.
function docx(pages) {
    const W = 'http://schemas.openxmlformats.org/wordprocessingml/2006/main';
    const paras = pages.map((t, i) => (i > 0 ? '<w:p><w:r><w:br w:type="page"/></w:r></w:p>' : '') +
        '<w:p><w:r><w:t>' + xmlText(t) + '</w:t></w:r></w:p>').join('');
    return zip([
        { name: '[Content_Types].xml', data: '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>' +
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">' +
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>' +
            '<Default Extension="xml" ContentType="application/xml"/>' +
            '<Override PartName="/word/document.xml" ContentType="application/' +
            'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>' },
        { name: '_rels/.rels', data: '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>' +
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">' +
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/' +
            'relationships/officeDocument" Target="word/document.xml"/></Relationships>' },
        { name: 'word/document.xml', data: '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>' +
            '<w:document xmlns:w="' + W + '"><w:body>' + paras + '</w:body></w:document>' },
    ]);
}

// An .xlsx of one sheet; rows is [[cell, ...], ...], strings inline, numbers as numbers.
function xlsx(rows) {
    const col = (i) => String.fromCharCode(65 + i);
    const sheetRows = rows.map((r, y) => '<row r="' + (y + 1) + '">' + r.map((v, x) => {
        const ref = col(x) + (y + 1);
        return typeof v === 'number' ? '<c r="' + ref + '"><v>' + v + '</v></c>'
            : '<c r="' + ref + '" t="inlineStr"><is><t>' + xmlText(v) + '</t></is></c>';
    }).join('') + '</row>').join('');
    const R = 'http://schemas.openxmlformats.org/officeDocument/2006/relationships';
    return zip([
        { name: '[Content_Types].xml', data: '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>' +
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">' +
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>' +
            '<Default Extension="xml" ContentType="application/xml"/>' +
            '<Override PartName="/xl/workbook.xml" ContentType="application/' +
            'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>' +
            '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/' +
            'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>' },
        { name: '_rels/.rels', data: '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>' +
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">' +
            '<Relationship Id="rId1" Type="' + R + '/officeDocument" Target="xl/workbook.xml"/>' +
            '</Relationships>' },
        { name: 'xl/workbook.xml', data: '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>' +
            '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" ' +
            'xmlns:r="' + R + '"><sheets><sheet name="Data" sheetId="1" r:id="rId1"/></sheets></workbook>' },
        { name: 'xl/_rels/workbook.xml.rels', data: '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>' +
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">' +
            '<Relationship Id="rId1" Type="' + R + '/worksheet" Target="worksheets/sheet1.xml"/>' +
            '</Relationships>' },
        { name: 'xl/worksheets/sheet1.xml', data: '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>' +
            '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">' +
            '<sheetData>' + sheetRows + '</sheetData></worksheet>' },
    ]);
}

function csv(rows) {
    return Buffer.from(rows.map((r) => r.join(',')).join('\n') + '\n', 'utf8');
}

function rtf(text) {
    return Buffer.from('{\\rtf1\\ansi{\\fonttbl\\f0\\fswiss Helvetica;}\\f0\\pard ' + text +
        '\\par}\n', 'latin1');
}

// A zip (it passes the zip sniff of docx) that holds no Word document.
function notADocx() {
    return zip([{ name: 'junk.bin', data: 'this is not a word document' }]);
}

// An .odt with a section linked to /etc/passwd and an image linked to /etc/hostname; the
// stored text of the section is "stored section text".
function linkedFilesOdt() {
    return odt({ bodyXml: '<text:p>Before the link</text:p>' +
        '<text:section text:name="S1"><text:section-source xlink:href="file:///etc/passwd" ' +
        'xlink:type="simple"/><text:p>stored section text</text:p></text:section>' +
        '<text:p><draw:frame draw:name="i1" svg:width="3cm" svg:height="1cm">' +
        '<draw:image xlink:href="file:///etc/hostname" xlink:type="simple"/></draw:frame></text:p>' +
        '<text:p>After the link</text:p>' });
}

function write(dir, name, buf) {
    const file = path.join(dir, name);
    fs.writeFileSync(file, buf);
    return file;
}

module.exports = { zip, odt, docx, xlsx, csv, rtf, notADocx, linkedFilesOdt, write };
