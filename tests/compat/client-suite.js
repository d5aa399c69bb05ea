// SPDX-License-Identifier: MIT
// client-suite.js - loads cloudconvert@1.1.2's own integration suite into mocha, aimed at convertd.
//
// The suite (node_modules/cloudconvert/tests/integration/api.js and process.js) is run from the
// installed package, never copied into this repository. Three things differ from running it
// against api.cloudconvert.com, and nothing else is changed:
//   1. every `new cloudconvert(key)` of the suite gets endpoint HOST:PORT and protocol http
//      (its `require('../../lib/api')` is answered, while the suite loads, by a subclass);
//   2. the one remote input URL (REMOTE_INPUT_URL) becomes the URL in
//      process.env[INPUT_URL_ENV] (a local file server serving the client's input.png);
//   3. the tests that need converters this server lacks are skipped at run time, with the
//      reason printed, when /conversiontypes does not list their pair.
// The suite's source is compiled with its original filename, so __dirname (input.png,
// input.pdf, its out.jpg) and its relative requires work as in the package.
'use strict';
const fs = require('fs');
const path = require('path');
const Module = require('module');

const CLIENT_DIR = path.dirname(require.resolve('cloudconvert/package.json'));
const SUITE_DIR = path.join(CLIENT_DIR, 'tests', 'integration');
const API_PATH = require.resolve('cloudconvert/lib/api.js');
const SUITE_FILES = ['api.js', 'process.js'];
const SUITE_TEST_COUNT = 14;

const REMOTE_INPUT_URL =
    'https://cloudconvert.com/blog/wp-content/themes/cloudconvert/img/logo_96x60.png';
const LOCAL_INPUT_PATH = '/logo_96x60.png';
const LOCAL_INPUT_FILE = path.join(SUITE_DIR, 'input.png');
const INPUT_URL_ENV = 'CONVERTD_COMPAT_INPUT_URL';

const SKIP_REASON = 'needs the pdf/html converters (documents issue)';

// Suite tests by title → the conversion pair they need beyond png → jpg.
const NEEDS = {
    'POST /process returns process (authentication required)': ['pdf', 'jpg'],
    'creates a process object': ['png', 'pdf'],
    'it downloads all output files': ['pdf', 'jpg'],
    'a non file stream can be piped': ['html', 'pdf'],
};

// Files the suite writes next to its own sources (it removes them when its tests pass).
const SUITE_OUTPUTS = ['out.jpg', 'out.pdf', 'input-1.jpg', 'input-2.jpg'];

function pairKey(pair) {
    return pair[0] + '→' + pair[1];
}

// Distinct pairs of NEEDS.
function neededPairs() {
    const seen = new Map();
    for (const pair of Object.values(NEEDS))
        seen.set(pairKey(pair), pair);
    return [...seen.values()];
}

// Compile one suite file from its source text with the remote URL replaced. The replacement is
// an expression read when the test runs (the local file server's port is not known at load
// time); `globalThis.process` because the suite names its callback argument `process`.
function compileSuiteFile(name) {
    const filename = fs.realpathSync(path.join(SUITE_DIR, name));
    const original = fs.readFileSync(filename, 'utf8');
    const quoted = "'" + REMOTE_INPUT_URL + "'";
    const source = original.split(quoted).join('globalThis.process.env.' + INPUT_URL_ENV);
    if (source.includes('cloudconvert.com/'))
        throw new Error(filename + ': a remote URL is left after the replacement');
    const mod = new Module(filename, module);
    mod.filename = filename;
    mod.paths = Module._nodeModulePaths(path.dirname(filename));
    mod._compile(source, filename);
    mod.loaded = true;
    return original.split(quoted).length - 1;
}

// Register the suite's describe/it blocks in the current mocha describe. target.host is read
// when each Api instance is created (target.guard, a ClientGuard, then tracks its requests);
// target.supports(pair) decides the skips at run time.
function loadClientSuite(target) {
    const RealApi = require(API_PATH);
    class LocalApi extends RealApi {
        constructor(apiKey) {
            super(apiKey);
            if (!target.host)
                throw new Error('client-suite: the server was not started');
            this.endpoint = target.host;
            this.protocol = 'http';
            if (target.guard)
                target.guard.track(this);
        }
    }
    const wrapper = new Module(API_PATH, module);
    wrapper.filename = API_PATH;
    wrapper.loaded = true;
    wrapper.exports = LocalApi;

    const realEntry = require.cache[API_PATH];
    const realIt = global.it;
    let tests = 0;
    const gated = new Set();
    global.it = function (title, fn) {
        tests++;
        const pair = NEEDS[title];
        if (!pair || typeof fn !== 'function')
            return realIt(title, fn);
        gated.add(title);
        const gate = function (ctx) {
            if (target.supports(pair))
                return;
            // the reporter prints the title of a pending test: the reason goes there
            ctx.test.title += ' [skipped: ' + SKIP_REASON + '; ' + pairKey(pair) +
                ' is not in /conversiontypes]';
            ctx.skip();
        };
        // keep the arity: mocha treats a test with a parameter as callback-style
        return realIt(title, fn.length ? function (done) {
            gate(this);
            return fn.call(this, done);
        } : function () {
            gate(this);
            return fn.call(this);
        });
    };
    require.cache[API_PATH] = wrapper;
    let urls = 0;
    try {
        for (const name of SUITE_FILES)
            urls += compileSuiteFile(name);
    } finally {
        global.it = realIt;
        if (realEntry)
            require.cache[API_PATH] = realEntry;
        else
            delete require.cache[API_PATH];
    }
    // A different client version would silently run a different suite: refuse.
    if (tests !== SUITE_TEST_COUNT)
        throw new Error('client-suite: expected ' + SUITE_TEST_COUNT + ' tests, found ' + tests);
    if (gated.size !== Object.keys(NEEDS).length)
        throw new Error('client-suite: gated titles not found: ' +
            Object.keys(NEEDS).filter((t) => !gated.has(t)).join(', '));
    if (urls === 0)
        throw new Error('client-suite: the remote input URL was not found in the suite');
}

// Remove what a failed suite test left next to the suite's sources.
function removeSuiteOutputs() {
    for (const name of SUITE_OUTPUTS)
        fs.rmSync(path.join(SUITE_DIR, name), { force: true });
}

module.exports = {
    CLIENT_DIR, SUITE_DIR, API_PATH, REMOTE_INPUT_URL, LOCAL_INPUT_PATH, LOCAL_INPUT_FILE,
    INPUT_URL_ENV, SKIP_REASON, NEEDS, neededPairs, pairKey, loadClientSuite, removeSuiteOutputs,
};
