// SPDX-License-Identifier: MIT
// cloud.js - the Dropbox and Google Drive stand-in (tests/lib/cloudstub.py) for the tests.
'use strict';
const S = require('./storage');

async function startCloud(root, token) {
    const f = await S.startFixture('cloudstub.py', [root, token], 20000);
    return Object.assign(f, { port: f.info.port, url: 'http://127.0.0.1:' + f.info.port });
}

module.exports = { startCloud };
