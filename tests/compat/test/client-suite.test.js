// SPDX-License-Identifier: MIT
// client-suite.test.js - runs cloudconvert@1.1.2's own integration suite (14 tests) on convertd.
'use strict';
const fs = require('fs');
const { startServer } = require('../../lib/server');
const { startFileServer } = require('../../lib/fileserver');
const { ClientGuard } = require('../../lib/compat-client');
const suite = require('../client-suite');

describe('cloudconvert@1.1.2 own integration suite against convertd', function () {
    this.timeout(30000);

    const supported = new Map();
    const target = {
        host: null,
        guard: new ClientGuard(),
        supports: (pair) => supported.get(suite.pairKey(pair)) === true,
    };
    const savedEnv = {};
    let srv;
    let files;

    before(async function () {
        target.guard.install();
        // the suite's remote logo_96x60.png, served locally from the client's own input.png
        files = await startFileServer(null, {
            [suite.LOCAL_INPUT_PATH]: (req, res) => {
                res.writeHead(200, { 'Content-Type': 'image/png',
                    'Content-Length': fs.statSync(suite.LOCAL_INPUT_FILE).size });
                fs.createReadStream(suite.LOCAL_INPUT_FILE).pipe(res);
            },
        });
        srv = await startServer({ args: ['--allow-private-urls'] });
        target.host = srv.host;
        for (const name of ['API_KEY', suite.INPUT_URL_ENV])
            savedEnv[name] = process.env[name];
        process.env.API_KEY = srv.apikey;
        process.env[suite.INPUT_URL_ENV] = files.url(suite.LOCAL_INPUT_PATH);
        for (const pair of suite.neededPairs()) {
            const res = await fetch(srv.base + '/conversiontypes?inputformat=' + pair[0] +
                '&outputformat=' + pair[1]);
            let list = null;
            try {
                list = await res.json();
            } catch (e) { /* not JSON: reported below as unsupported */ }
            supported.set(suite.pairKey(pair), Array.isArray(list) && list.length > 0);
        }
    });

    after(async function () {
        // the suite does not wait for its cleanup requests: let them end before the server stops
        const aborted = await target.guard.release(5000);
        if (aborted > 0)
            console.log('      (aborted ' + aborted + ' client request(s) still open after the suite)');
        for (const [name, value] of Object.entries(savedEnv)) {
            if (value === undefined)
                delete process.env[name];
            else
                process.env[name] = value;
        }
        if (srv) {
            await srv.stop();
            srv.cleanup();
        }
        if (files)
            await files.close();
        suite.removeSuiteOutputs();
    });

    suite.loadClientSuite(target);
});
