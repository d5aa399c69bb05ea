// SPDX-License-Identifier: MIT
// fileserver.js - a small HTTP server on 127.0.0.1 for tests: serves files from a folder,
// and records every request (for callbacks). Special routes can be added per test.
'use strict';
const http = require('http');
const fs = require('fs');
const path = require('path');

function startFileServer(dir, routes) {
    const requests = [];
    const server = http.createServer((req, res) => {
        requests.push({ method: req.method, url: req.url, headers: req.headers, time: Date.now() });
        const u = new URL(req.url, 'http://localhost');
        if (routes && routes[u.pathname])
            return routes[u.pathname](req, res, u);
        const file = path.join(dir || '.', decodeURIComponent(u.pathname));
        if (!dir || !file.startsWith(path.resolve(dir)) || !fs.existsSync(file) ||
            !fs.statSync(file).isFile()) {
            res.writeHead(404, { 'Content-Type': 'text/plain' });
            return res.end('not found');
        }
        res.writeHead(200, { 'Content-Length': fs.statSync(file).size,
            'Content-Type': 'application/octet-stream' });
        fs.createReadStream(file).pipe(res);
    });
    return new Promise((resolve) => {
        server.listen(0, '127.0.0.1', () => {
            const port = server.address().port;
            resolve({
                server, port, requests,
                url: (p) => 'http://127.0.0.1:' + port + p,
                close: () => new Promise((r) => server.close(r)),
            });
        });
    });
}

module.exports = { startFileServer };
